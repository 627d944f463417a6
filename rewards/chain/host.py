"""What the relay's collaborators (lanes, pipeline, bookkeeping, reorg re-checks) use of the
relay that owns them, so that they need not import ``rewards.chain.relay``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from community.db import Database
from rewards.models import Deployment, OutboxItem


class RelayHost(Protocol):
    db: Database
    w3: Web3
    minter: LocalAccount
    contract: Contract | None  # KopaCredits, once ``prepare`` attached it
    deployment: Deployment | None
    on_delivered: Callable[[str, list[OutboxItem]], None] | None
    batch_size: int
    in_flight: int
    receipt_timeout: float
    verify_window: int
    reorg_window: int
    lanes: list[Any]  # its Lanes
    book: Any  # its Bookkeeper
    reorgs: Any  # its ReorgWatch

    def rpc(self, method: str, params: list) -> Any: ...

    def call(self, to: str, data: bytes) -> bytes: ...

    def call_many(self, calls: Sequence[tuple[str, bytes]]) -> list[bytes]: ...
