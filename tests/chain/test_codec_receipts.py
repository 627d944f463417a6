"""rewards/chain/codec.py on a real anvil: the relay's calldata and its decoding of a receipt's
logs agree with web3's contract layer."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3.logs import DISCARD

from rewards.chain.client import connect, credits_contract, rpc
from rewards.chain.codec import decode_args, encode_call, event_codec
from rewards.chain.deploy import deploy_credits
from rewards.chain.transactions import fee_fields, wait_raw
from web.config import ANVIL_DEV_DEPLOYER_KEY


@pytest.mark.chain
def test_mint_batch_call_and_receipt_logs_agree_with_web3(anvil):
    """The relay's calldata is web3's, and its decoding of a real receipt is web3's
    ``process_receipt``, for the event the relay reads and for one it does not."""
    w3 = connect(anvil.url)
    minter = Account.create()
    contract = credits_contract(w3, deploy_credits(w3, Account.from_key(ANVIL_DEV_DEPLOYER_KEY),
                                                   minter.address).address)
    holders = [Account.create().address for _ in range(3)]
    to = [holders[0], holders[1], holders[0], holders[2]]
    amounts = [5, 7, 11, 2**200]
    refs = [i.to_bytes(32, "big") for i in (1, 2, 3, 2**255)]
    data = encode_call("mintBatch", ["address[]", "uint256[]", "bytes32[]"], [to, amounts, refs])
    assert "0x" + data.hex() == contract.encode_abi("mintBatch", args=[to, amounts, refs])

    tx = {"type": 2, "chainId": w3.eth.chain_id, "to": contract.address, "value": 0, "data": data,
          "gas": 600_000, "nonce": w3.eth.get_transaction_count(minter.address), **fee_fields(w3)}
    sent = w3.eth.send_raw_transaction(minter.sign_transaction(tx).raw_transaction)
    tx_hash = "0x" + bytes(sent).hex()
    receipt = wait_raw(w3, tx_hash, timeout=10)
    assert int(receipt["status"], 16) == 1
    formatted = w3.eth.get_transaction_receipt(tx_hash)
    for name in ("RewardMinted", "Transfer"):
        ours = event_codec(contract.abi, name).decode_all(receipt["logs"], contract.address)
        theirs = getattr(contract.events, name)().process_receipt(formatted, errors=DISCARD)
        assert len(ours) == len(theirs) == 4
        for mine, web3s in zip(ours, theirs, strict=True):
            expected = {k: v.lower() if isinstance(v, str) else v for k, v in web3s["args"].items()}
            assert mine.args == expected
            assert mine.tx_hash == tx_hash and mine.block_number == web3s["blockNumber"]
            assert mine.log_index == web3s["logIndex"]
    assert event_codec(contract.abi, "RewardMinted").decode_all(receipt["logs"], holders[0]) == [], \
        "logs of another address are not the contract's"

    check = encode_call("isMintedBatch", ["bytes32[]"], [[refs[0], bytes(32), refs[3]]])
    answer = rpc(w3, "eth_call", [{"to": contract.address, "data": "0x" + check.hex()}, "latest"])
    assert decode_args(["bool[]"], answer) == (tuple(contract.functions.isMintedBatch(
        [refs[0], bytes(32), refs[3]]).call()),) == ((True, False, True),)
