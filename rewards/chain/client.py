"""Connecting to the chain and loading Kopa's compiled contracts."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import BadFunctionCallOutput, Web3RPCError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ChainError(Exception):
    """The chain cannot be used as configured (missing artifacts, reset chain, ...)."""


def build_dir() -> Path:
    return Path(os.environ.get("KOPA_BUILD_DIR", PROJECT_ROOT / "build"))


@cache
def artifact(name: str) -> dict:
    path = build_dir() / "contracts" / f"{name}.json"
    if not path.exists():
        raise ChainError(f"{path} is missing: compile the contracts first (make build)")
    data = json.loads(path.read_text())
    return {"abi": data["abi"], "bytecode": data["bytecode"]}


def connect(rpc_url: str, timeout: float = 10.0) -> Web3:
    return Web3(
        Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, cache_allowed_requests=True)
    )


def rpc(w3: Web3, method: str, params: list):
    """One JSON-RPC call straight to the provider: the node's raw result (hex strings, plain
    dicts), without web3's middleware and result formatters (a receipt with 200 logs costs
    ~100 ms to format). A node error raises ``Web3RPCError`` as web3's own calls do."""
    response = w3.provider.make_request(method, params)
    if "error" in response:
        raise Web3RPCError(str(response["error"]), rpc_response=response)
    return response.get("result")


def rpc_batch(w3: Web3, calls: list[tuple[str, list]]) -> list:
    """Several JSON-RPC calls in one request (one HTTP round trip); raw results in order."""
    if not calls:
        return []
    responses = w3.provider.make_batch_request(calls)
    if not isinstance(responses, list):  # the node refused the whole batch
        raise Web3RPCError(str(responses.get("error", responses)), rpc_response=responses)
    for response in responses:
        if "error" in response:
            raise Web3RPCError(str(response["error"]), rpc_response=response)
    return [response.get("result") for response in responses]


CALL_BATCH = 100  # eth_calls per JSON-RPC request


def calls_at(w3: Web3, calls: Sequence[tuple[str, bytes]], *, block: int | str = "latest",
             batch: int = CALL_BATCH) -> list[bytes]:
    """Raw ``eth_call``s ``(to, calldata)`` at one block, ``batch`` to a JSON-RPC request (a
    single call as a plain request); the raw answers in order. An empty answer (no contract
    there: a node that lost or never had it) raises ``BadFunctionCallOutput``, as web3's
    ``call`` does."""
    tag = hex(block) if isinstance(block, int) else block
    request = [("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag]) for to, data in calls]
    answers = []
    for i in range(0, len(request), batch):
        chunk = request[i:i + batch]
        for answer in [rpc(w3, *chunk[0])] if len(chunk) == 1 else rpc_batch(w3, chunk):
            if answer in (None, "0x"):
                raise BadFunctionCallOutput(f"empty eth_call answer from {calls[i][0]}: no contract there?")
            answers.append(bytes.fromhex(answer.removeprefix("0x")))
    return answers


def credits_contract(w3: Web3, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact("KopaCredits")["abi"])


def badges_contract(w3: Web3, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact("KopaBadges")["abi"])


def anchor_contract(w3: Web3, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact("KopaLedgerAnchor")["abi"])


def has_code(w3: Web3, address: str) -> bool:
    return len(w3.eth.get_code(Web3.to_checksum_address(address))) > 0
