"""The relay: delivers pending outbox rows to the chain, exactly once per ledger entry.

Exactly-once does not depend on the relay being careful; it rests on the contracts:
``mintBatch``, ``redeemBatch`` and ``mintBadgeBatch`` skip refs already used. The relay
therefore may crash anywhere, run twice, or resend a batch: before sending it asks the chain
which refs are used and records those from their logs instead of sending them again.

Speed (#8): calls are encoded and logs decoded by ``rewards.chain.codec`` and receipts read
raw (web3's generic formatters took most of a batch's time), the bookkeeping is one UPDATE
per batch, and a pass pipelines its batches: batch k+1 is signed and sent (with a local
nonce) before batch k's receipt is read, so the node mines one while the relay records the
other. A row is only ever recorded from a successful receipt's log or from the chain's logs.

This module runs passes; its collaborators each own one part: ``lanes`` (one per outbox
kind: the contract calls), ``pipeline`` (batches in flight), ``bookkeeping`` (the outbox
rows), ``reorgs`` (re-checks of recorded deliveries) and ``guards`` (when to stop).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import requests
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from web3 import Web3
from web3.exceptions import TimeExhausted, Web3Exception

from community.db import Database
from rewards.chain.bookkeeping import Bookkeeper
from rewards.chain.client import ChainError, calls_at, credits_contract, rpc
from rewards.chain.deploy import current_deployment
from rewards.chain.guards import refuse_foreign_refs
from rewards.chain.lanes import AnchorLane, BadgeLane, BurnLane, Lane, MintLane, chunks
from rewards.chain.pipeline import BatchPipeline, MintReverted
from rewards.chain.reorgs import REORG_WINDOW, ReorgWatch
from rewards.models import OutboxItem, OutboxStatus

log = logging.getLogger(__name__)

TRANSIENT = (requests.exceptions.RequestException, TimeExhausted, Web3Exception, OSError)


class Relay:
    lane_types: tuple[type[Lane], ...] = (MintLane, BurnLane, BadgeLane, AnchorLane)

    def __init__(
        self,
        db: Database,
        w3: Web3,
        minter: LocalAccount,
        *,
        batch_size: int = 100,
        batches_per_pass: int = 5,
        in_flight: int = 2,
        receipt_timeout: float = 30.0,
        idle_seconds: float = 0.5,
        verify_window: int = 1000,
        reorg_window: int = REORG_WINDOW,
        on_delivered: Callable[[str, list[OutboxItem]], None] | None = None,
    ) -> None:
        self.db = db
        # Told after each recorded delivery (kind, rows), e.g. to push wallets to members;
        # it runs after the commit and its failure never stops the relay.
        self.on_delivered = on_delivered
        self.w3 = w3
        self.minter = minter
        self.batch_size = batch_size
        # A pass takes up to ``batches_per_pass`` batches per lane and keeps up to
        # ``in_flight`` of them sent and not yet recorded (1: send, wait, record, next).
        self.batches_per_pass = max(1, batches_per_pass)
        self.in_flight = max(1, in_flight)
        self.receipt_timeout = receipt_timeout
        self.idle_seconds = idle_seconds
        self.verify_window = verify_window
        self.reorg_window = reorg_window
        self.contract = None
        self.deployment = None
        self.error: str | None = None
        self.book = Bookkeeper(self)
        self.pipeline = BatchPipeline(self)
        self.reorgs = ReorgWatch(self)
        self.lanes = [lane(self) for lane in self.lane_types]

    # --- the node, raw ----------------------------------------------------------------------

    def rpc(self, method: str, params: list):
        return rpc(self.w3, method, params)

    def call(self, to: str, data: bytes) -> bytes:
        """``eth_call`` of ready-made calldata at the latest block; the raw answer."""
        return self.call_many([(to, data)])[0]

    def call_many(self, calls: Sequence[tuple[str, bytes]]) -> list[bytes]:
        """``eth_call``s at the latest block (``calls_at``); an empty answer raises
        ``BadFunctionCallOutput`` and ``prepare`` then tells a reset chain from a passing fault."""
        return calls_at(self.w3, calls)

    # --- lifecycle --------------------------------------------------------------------

    def prepare(self) -> None:
        """(Re)attach to the chain: check the contract is still there, then re-verify the
        most recent deliveries in case the node lost blocks (restart without a dump)."""
        with self.db.read_sessions() as session:
            self.deployment = current_deployment(session, self.w3)
        self.contract = credits_contract(self.w3, self.deployment.address)
        self.pipeline.chain_id = int(self.rpc("eth_chainId", []), 16)
        for lane in self.lanes:
            lane.attach()
        # The head before verifying (a reorg after this shows in ``watch``); a relay that
        # reconnects keeps the head it saw last, so ``watch`` also sees what happened meanwhile.
        if self.reorgs.head is None:
            self.reorgs.look_at_head()
        self.reorgs.verify_recent()

    def run_forever(self, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                if self.contract is None:
                    self.prepare()
                delivered = self.run_once()
                backoff = 0.5
                self.error = None
                if delivered == 0:
                    stop.wait(self.idle_seconds)
            except ChainError as exc:
                self.error = str(exc)
                log.error("relay stopped: %s", exc)
                raise
            except MintReverted as exc:
                self.error = str(exc)
                log.error("relay: %s; retrying in %.1fs", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            except TRANSIENT as exc:
                log.warning("relay: chain unavailable (%s); retrying in %.1fs", exc, backoff)
                self.contract = None
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    # --- one pass -------------------------------------------------------------------------

    def run_once(self) -> int:
        """Handle up to ``batches_per_pass`` batches of undelivered rows per lane; returns how
        many rows were sent or recorded (rows left waiting do not count, so an idle relay
        sleeps)."""
        if self.contract is None:
            self.prepare()
        # Nonces are counted locally within a pass only: a reorg or another sender may have
        # changed the next one since (the node's pending count is asked again).
        self.pipeline.nonce = None
        self.reorgs.watch()
        return sum(self._run_lane(lane) for lane in self.lanes)

    def _run_lane(self, lane: Lane) -> int:
        if not lane.ready:
            return 0
        with self.db.read_sessions() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(OutboxItem.status != OutboxStatus.DONE.value, OutboxItem.kind == lane.kind.value)
                .order_by(OutboxItem.id)
                .limit(self.batch_size * self.batches_per_pass)
            ).all()
        if not rows:
            return 0
        delivered = lane.delivered([r.ref for r in rows], self.batch_size)
        already = [r for r in rows if delivered[r.ref]]
        todo = lane.deliverable([r for r in rows if not delivered[r.ref]])
        for chunk in chunks(already, self.batch_size):
            self._record_from_logs(lane, chunk)
        self.pipeline.deliver(lane, list(chunks(todo, self.batch_size)))
        return len(already) + len(todo)

    def _record_from_logs(self, lane: Lane, rows: Sequence[OutboxItem]) -> None:
        """Rows delivered earlier (a crash between send and record, or another relay),
        recorded at their logs unless a guard refuses."""
        found = lane.find_logs([r.ref for r in rows], lane.from_block)
        refuse_foreign_refs(lane, rows, found)
        self.book.mark_done(lane, rows, found)
