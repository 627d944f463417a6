"""Ledger epochs: closing the open epoch into a Merkle tree whose root is queued for
anchoring, the epochs' states, and an entry's inclusion proof against its anchored root."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from community.db import UnitOfWork, as_utc, utcnow
from community.errors import Conflict, Forbidden
from community.i18n import N_
from community.models import User
from rewards import merkle
from rewards.audit.access import check_auditor
from rewards.audit.actions import append_action
from rewards.audit.canonical import LEAF_COLUMNS, LEAF_CREATED, LEAF_ID, canonical_leaf, ts
from rewards.audit.explorer import entry_for, entry_json
from rewards.models import AuditEpoch, AuditEpochEntry, LedgerEntry, OutboxItem, OutboxKind, OutboxStatus

DEFAULT_EPOCH_SECONDS = 86_400
ZERO_ADDRESS = "0x" + "00" * 20


def epoch_ref(epoch: int) -> str:
    """The outbox ref of an epoch's anchor: the epoch number as a bytes32."""
    return "0x" + epoch.to_bytes(32, "big").hex()


def epoch_seconds() -> int:
    """Epoch length, ``KOPA_EPOCH_SECONDS`` (daily by default)."""
    raw = os.environ.get("KOPA_EPOCH_SECONDS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_EPOCH_SECONDS


def core_rows(session: Session, query) -> list:
    """Plain Core row tuples on the session's connection and transaction: for 100k ledger or
    log rows, ORM objects (identity map, instrumented attributes) cost more than the rows."""
    return session.connection().execute(query).all()


def _open_rows(session: Session) -> list:
    return core_rows(session, select(*LEAF_COLUMNS)
                 .outerjoin(AuditEpochEntry, AuditEpochEntry.entry_id == LedgerEntry.id)
                 .where(AuditEpochEntry.entry_id.is_(None))
                 .order_by(LedgerEntry.id))


def epoch_rows(session: Session, epoch_id: int) -> Iterable:
    """The epoch's entries as ``LEAF_COLUMNS`` tuples in leaf order (ledger order), streamed
    in chunks: holding 100k rows at once costs more (the garbage collector walks them)."""
    query = (select(*LEAF_COLUMNS)
             .join(AuditEpochEntry, AuditEpochEntry.entry_id == LedgerEntry.id)
             .where(AuditEpochEntry.epoch_id == epoch_id)
             .order_by(AuditEpochEntry.position))
    return session.connection().execute(query.execution_options(yield_per=5000))


def epoch_leaves(session: Session, epoch_id: int) -> list[bytes]:
    """The epoch's leaves, in order, as today's rows give them."""
    return list(map(canonical_leaf, epoch_rows(session, epoch_id)))


def epoch_root(leaves: Sequence[bytes]) -> str:
    return "0x" + merkle.tree_head(leaves).hex()


def _last_close(session: Session) -> dt.datetime | None:
    return as_utc(session.scalar(select(func.max(AuditEpoch.closed_at))))


def close_epoch(
    uow: UnitOfWork, *, actor_id: int | None, only_if_due: bool = False, now: dt.datetime | None = None
) -> dict | None:
    """Close the open epoch: its entries (every ledger entry not in an epoch yet, in ledger
    order) become a tree whose root is queued for anchoring. ``actor_id`` None is the
    scheduler (CLI); a person must be an admin. ``only_if_due`` closes only once the epoch
    is ``epoch_seconds()`` old. Returns the epoch, or None when nothing was due."""
    now = now or utcnow()
    with uow:
        session = uow.session
        actor = None
        if actor_id is not None:
            actor = session.get(User, actor_id)
            if actor is None or not actor.is_admin:
                raise Forbidden("only admins close ledger epochs")
        if session.bind.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(70071)"))
        last_close = _last_close(session)
        if only_if_due and last_close is not None and (now - last_close).total_seconds() < epoch_seconds():
            return None
        entries = _open_rows(session)
        if not entries:
            if only_if_due:
                return None
            raise Conflict("the open epoch has no ledger entries; there is nothing to anchor")
        opened = last_close or as_utc(entries[0][LEAF_CREATED])
        if only_if_due and (now - opened).total_seconds() < epoch_seconds():
            return None
        number = int(session.scalar(select(func.coalesce(func.max(AuditEpoch.id), 0)))) + 1
        root = epoch_root([canonical_leaf(row) for row in entries])
        outbox = OutboxItem(
            kind=OutboxKind.ANCHOR.value, token_id=number, to_address=ZERO_ADDRESS,
            amount=len(entries), ref=epoch_ref(number), status=OutboxStatus.PENDING.value,
        )
        session.add(outbox)
        session.flush()
        session.add(
            AuditEpoch(
                id=number, opened_at=opened, closed_at=now, entry_count=len(entries), root=root,
                outbox_id=outbox.id, closed_by_id=actor_id,
            )
        )
        session.flush()
        session.execute(insert(AuditEpochEntry.__table__), [
            {"entry_id": row[LEAF_ID], "epoch_id": number, "position": i} for i, row in enumerate(entries)
        ])
        result = {"epoch": number, "entry_count": len(entries), "root": root, "outbox_id": outbox.id}
        append_action(
            session, actor, "epoch.close", f"epoch {number}",
            {"entry_count": len(entries), "root": root},
        )
        uow.commit()
        return result


def epoch_state(session: Session, epoch: AuditEpoch) -> dict:
    outbox = session.get(OutboxItem, epoch.outbox_id) if epoch.outbox_id else None
    return {
        "epoch": epoch.id,
        "opened_at": ts(epoch.opened_at),
        "closed_at": ts(epoch.closed_at),
        "entry_count": epoch.entry_count,
        "root": epoch.root,
        "anchored": bool(outbox and outbox.status == OutboxStatus.DONE.value),
        "tx_hash": outbox.tx_hash if outbox else None,
        "block": outbox.block_number if outbox else None,
        "contract": outbox.contract_address if outbox else None,
    }


def list_epochs(session: Session, viewer: User) -> list[dict]:
    check_auditor(viewer)
    return [epoch_state(session, e) for e in session.scalars(select(AuditEpoch).order_by(AuditEpoch.id))]


def entry_proof(session: Session, viewer: User, entry_id: object) -> dict:
    """The entry, its canonical serialisation and its inclusion proof against the anchored root."""
    entry = entry_for(session, viewer, entry_id)
    place = session.get(AuditEpochEntry, entry.id)
    if place is None:
        raise Conflict(
            N_(
                "ledger entry %(entry)s is in the open epoch; it is anchored after the epoch closes",
                entry=entry.id,
            )
        )
    epoch = session.get(AuditEpoch, place.epoch_id)
    state = epoch_state(session, epoch)
    if not state["anchored"]:
        raise Conflict(N_("epoch %(epoch)s of ledger entry %(entry)s is not anchored on chain yet",
                          epoch=epoch.id, entry=entry.id))
    leaves = epoch_leaves(session, epoch.id)
    return {
        "entry": entry_json(session, entry),
        "epoch": epoch.id,
        "index": place.position,
        "tree_size": epoch.entry_count,
        "leaf": "0x" + leaves[place.position].hex(),
        "proof": ["0x" + h.hex() for h in merkle.inclusion_proof(place.position, leaves)],
        "root": epoch.root,
        "contract": state["contract"],
        "anchor_tx": state["tx_hash"],
    }
