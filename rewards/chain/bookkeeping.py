"""The relay's bookkeeping in the outbox: rows marked sent, delivered at their log, waiting,
re-queued or re-recorded. A batch's bookkeeping is one UPDATE, not one per row; a row is only
ever recorded done from a successful receipt's log or from the chain's logs, and rows changed
by someone else since they were read are left alone."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from community.db import utcnow
from rewards.chain.codec import Log
from rewards.chain.host import RelayHost
from rewards.chain.lanes import Lane
from rewards.models import OutboxItem, OutboxStatus

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Recorded:
    """A delivery this relay recorded (what ``watch`` re-checks in the next pass)."""

    id: int
    ref: str
    tx_hash: str
    block_number: int


class Bookkeeper:
    """Writes what the relay learnt about its rows; remembers what it recorded since the last
    ``watch`` and tells ``relay.on_delivered`` after each recorded delivery."""

    def __init__(self, relay: RelayHost) -> None:
        self.relay = relay
        self.recorded: list[tuple[Lane, Recorded]] = []

    @staticmethod
    def reload(session: Session, rows: Sequence[OutboxItem | Recorded]) -> list[OutboxItem]:
        """The same rows, attached to ``session``, in one query."""
        return session.scalars(
            select(OutboxItem).where(OutboxItem.id.in_([r.id for r in rows])).order_by(OutboxItem.id)
        ).all()

    @staticmethod
    def set_values(session: Session, ids: Sequence[int], **values) -> None:
        """One UPDATE for all of ``ids`` (the batch's bookkeeping, not one per row)."""
        session.execute(
            update(OutboxItem).where(OutboxItem.id.in_(ids)).values(**values),
            execution_options={"synchronize_session": False},
        )

    def mark_done(self, lane: Lane, rows: Sequence[OutboxItem], found: dict[str, Log]) -> None:
        """Record ``rows`` as delivered: at their log in ``found``, or (no log found) as
        delivered without one."""
        by_place: dict[tuple[str, int] | None, list[int]] = {}
        recorded = []
        for row in rows:
            ev = found.get(row.ref)
            place = (ev.tx_hash, ev.block_number) if ev is not None else None
            by_place.setdefault(place, []).append(row.id)
            if ev is not None:
                recorded.append(Recorded(row.id, row.ref, ev.tx_hash, ev.block_number))
        if by_place:
            now = utcnow()
            with self.relay.db.write_sessions() as session, session.begin():
                done = {"status": OutboxStatus.DONE.value, "contract_address": lane.contract.address,
                        "done_at": now}
                for place, ids in by_place.items():
                    if place is None:
                        missing = f"delivered on chain; its {lane.event_name} log was not found"
                        self.set_values(session, ids, **done, last_error=missing)
                    else:
                        tx_hash, block_number = place
                        self.set_values(session, ids, **done, tx_hash=tx_hash, block_number=block_number,
                                        last_error=None)
        self.recorded.extend((lane, item) for item in recorded)  # checked by the next ``watch``
        on_delivered = self.relay.on_delivered
        if on_delivered is not None and rows:
            try:
                on_delivered(lane.kind.value, list(rows))
            except Exception:  # a push must never undo or stall a delivery
                log.exception("relay: on_delivered failed")

    def mark_done_without_log(self, lane: Lane, rows: Sequence[OutboxItem], reason: str) -> None:
        self.mark_done(lane, rows, {})
        self.note_waiting(rows, reason)

    def note_waiting(self, rows: Sequence[OutboxItem], reason: str) -> None:
        with self.relay.db.write_sessions() as session, session.begin():
            for item in self.reload(session, rows):
                if item.last_error != reason:
                    item.last_error = reason

    def update(
        self,
        rows: Sequence[OutboxItem],
        *,
        status: OutboxStatus,
        tx_hash: str | None = None,
        sent: bool = False,
        error: str | None = None,
    ) -> None:
        values: dict = {"status": status.value, "last_error": error}
        if tx_hash is not None:
            values["tx_hash"] = tx_hash
        if sent:
            values["attempts"] = OutboxItem.attempts + 1
            values["sent_at"] = utcnow()
        with self.relay.db.write_sessions() as session, session.begin():
            self.set_values(session, [r.id for r in rows], **values)

    def delivered_rows(self, lane: Lane, lowest_block: int | None = None) -> list[OutboxItem]:
        """The lane's most recent ``verify_window`` deliveries to its current contract (in
        blocks from ``lowest_block`` on, when given). Deliveries to an older deployment stay
        as they are: a replaced chain is the auditor's finding, never a reason to deliver again."""
        query = select(OutboxItem).where(
            OutboxItem.status == OutboxStatus.DONE.value,
            OutboxItem.kind == lane.kind.value,
            OutboxItem.contract_address == lane.contract.address,
        )
        if lowest_block is not None:
            query = query.where(OutboxItem.block_number >= lowest_block)
        with self.relay.db.read_sessions() as session:
            return session.scalars(query.order_by(OutboxItem.id.desc()).limit(self.relay.verify_window)).all()

    def requeue(self, lane: Lane, lost: Sequence[OutboxItem | Recorded]) -> None:
        """Back to pending, unless someone changed the row since it was read as delivered."""
        if not lost:
            return
        log.warning("relay: %d recorded %ss are not on chain any more; re-queuing", len(lost), lane.kind)
        checked = {r.id: r.tx_hash for r in lost}
        with self.relay.db.write_sessions() as session, session.begin():
            for item in self.reload(session, lost):
                if item.status != OutboxStatus.DONE.value or item.tx_hash != checked[item.id]:
                    continue
                item.status = OutboxStatus.PENDING.value
                item.last_error = f"lost from chain (was {item.tx_hash}); re-queued"
                item.tx_hash = None
                item.block_number = None
                item.done_at = None

    def rerecord(self, lane: Lane, rows: Sequence[OutboxItem | Recorded]) -> None:
        """Point rows at the transaction that holds their event on the chain as it is now."""
        lowest = min(r.block_number for r in rows)
        found = lane.find_logs([r.ref for r in rows], max(lane.from_block, lowest - self.relay.reorg_window))
        checked = {r.id: r.tx_hash for r in rows}
        log.warning("relay: %d %s deliveries are in another transaction now; re-recorded",
                    len(found), lane.kind)
        with self.relay.db.write_sessions() as session, session.begin():
            for item in self.reload(session, rows):
                ev = found.get(item.ref)
                if ev is None or item.status != OutboxStatus.DONE.value or item.tx_hash != checked[item.id]:
                    continue
                item.tx_hash = ev.tx_hash
                item.block_number = ev.block_number
