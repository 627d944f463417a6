"""rewards/chain/codec.py: the relay's own ABI encoding and log decoding agree with eth_abi
and with web3's contract layer, on generated values and on a real anvil's receipts."""

from __future__ import annotations

import eth_abi
import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from rewards.chain.client import connect, credits_contract, rpc
from rewards.chain.codec import decode_args, encode_args, encode_call, event_codec, selector
from rewards.chain.deploy import deploy_credits
from rewards.chain.transactions import fee_fields, wait_raw
from web.config import ANVIL_DEV_DEPLOYER_KEY

WORDS = {
    "address": st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
    "uint256": st.integers(min_value=0, max_value=2**256 - 1),
    "bytes32": st.binary(min_size=32, max_size=32),
    "bool": st.booleans(),
}


@st.composite
def typed_values(draw):
    """A list of (type, value) with word types and dynamic arrays of them."""
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(sorted(WORDS)))
        if draw(st.booleans()):
            out.append((kind + "[]", draw(st.lists(WORDS[kind], max_size=6))))
        else:
            out.append((kind, draw(WORDS[kind])))
    return out


@settings(max_examples=300, deadline=None)
@given(typed_values())
def test_encode_and_decode_agree_with_eth_abi(values):
    types = [t for t, _ in values]
    args = [v for _, v in values]
    encoded = encode_args(types, args)
    assert encoded == eth_abi.encode(types, args)
    assert decode_args(types, encoded) == eth_abi.decode(types, encoded)


def test_other_types_fall_back_to_eth_abi_and_bad_values_are_refused():
    mixed = ["string", "uint256"]
    assert encode_args(mixed, ["kopa", 7]) == eth_abi.encode(mixed, ["kopa", 7])
    assert decode_args(["string"], eth_abi.encode(["string"], ["kopa"])) == ("kopa",)
    for kind, bad in (("uint256", -1), ("uint256", 2**256), ("uint256", True), ("address", "0x1234"),
                      ("bytes32", bytes(33)), ("bool", 1)):
        with pytest.raises(ValueError):
            encode_args([kind], [bad])
    with pytest.raises(ValueError):
        decode_args(["uint256[]"], bytes(31))
    with pytest.raises(ValueError):  # an array claiming more elements than the data has
        decode_args(["uint256[]"], (32).to_bytes(32, "big") + (5).to_bytes(32, "big"))
    assert selector("transfer(address,uint256)").hex() == "a9059cbb"


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
