"""Signing locally and sending: no node-side accounts, explicit gas, bounded waits."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt


def fee_fields(w3: Web3) -> dict:
    """EIP-1559 fees: twice the current base fee plus a 1 gwei tip; zero on a chain without
    a base fee (Kopa's anvil runs with --block-base-fee-per-gas 0)."""
    base_fee = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
    priority = 1_000_000_000 if base_fee else 0
    return {"maxFeePerGas": base_fee * 2 + priority, "maxPriorityFeePerGas": priority}


def send_signed(
    w3: Web3, account: LocalAccount, tx: dict, *, gas: int, nonce: int | None = None
) -> str:
    """Sign ``tx`` with ``account`` and broadcast it; returns the tx hash (0x hex)."""
    tx = dict(tx)
    tx.setdefault("from", account.address)
    tx["gas"] = gas
    tx["chainId"] = w3.eth.chain_id
    tx["nonce"] = w3.eth.get_transaction_count(account.address, "pending") if nonce is None else nonce
    if "maxFeePerGas" not in tx and "gasPrice" not in tx:
        tx.update(fee_fields(w3))
    signed = account.sign_transaction(tx)
    return "0x" + w3.eth.send_raw_transaction(signed.raw_transaction).hex().removeprefix("0x")


def wait(w3: Web3, tx_hash: str, timeout: float = 60.0) -> TxReceipt:
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
