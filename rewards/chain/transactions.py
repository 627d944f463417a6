"""Signing locally and sending: no node-side accounts, explicit gas, bounded waits."""

from __future__ import annotations

import time

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TimeExhausted
from web3.types import TxReceipt

from rewards.chain.client import rpc


def _fees(base_fee: int) -> dict:
    priority = 1_000_000_000 if base_fee else 0
    return {"maxFeePerGas": base_fee * 2 + priority, "maxPriorityFeePerGas": priority}


def fee_fields(w3: Web3) -> dict:
    """EIP-1559 fees: twice the current base fee plus a 1 gwei tip; zero on a chain without
    a base fee (Kopa's anvil runs with --block-base-fee-per-gas 0)."""
    return _fees(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)


def fee_fields_of(block: dict) -> dict:
    """``fee_fields`` from a raw JSON-RPC block (``eth_getBlockByNumber``), one the caller
    fetched anyway."""
    return _fees(int(block.get("baseFeePerGas") or "0x0", 16))


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


def wait_raw(w3: Web3, tx_hash: str, timeout: float = 60.0) -> dict:
    """The receipt as the node sends it (hex strings, raw logs): what the relay reads, without
    web3's formatting of every log. Polls at 2 ms first, slowing to 50 ms: a node that has
    not mined yet mostly has a moment later, and a missed first poll then costs 2 ms, not 50."""
    deadline = time.monotonic() + timeout
    pause = 0.002
    while True:
        receipt = rpc(w3, "eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            return receipt
        if time.monotonic() >= deadline:
            raise TimeExhausted(f"transaction {tx_hash} is not in the chain after {timeout} seconds")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.05)
