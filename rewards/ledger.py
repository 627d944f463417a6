"""Writing to the points ledger: one entry and its mint request, in the caller's transaction."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.models import LedgerEntry, OutboxItem, OutboxStatus, Setting, Wallet

# The spine's only scoring rule: a task's points value, awarded on approval.
TASK_POINTS_RULE = ("task-points", 1)


def instance_id(session: Session) -> str:
    """A random id fixed when the database is first used; it salts every chain ref so that
    two Kopa databases (or a database re-created against an old chain) never share refs."""
    setting = session.get(Setting, "instance_id")
    if setting is None:
        setting = Setting(key="instance_id", value=uuid.uuid4().hex)
        session.add(setting)
        session.flush()
    return setting.value


def chain_ref(instance: str, source_key: str) -> str:
    """bytes32 ref for a ledger entry: SHA-256 over the instance id and the entry's cause."""
    digest = hashlib.sha256(f"kopa/{instance}/{source_key}".encode()).hexdigest()
    return "0x" + digest


def record_entry(
    session: Session,
    *,
    member_id: int,
    points: int,
    cause: str,
    source_key: str,
    rule: tuple[str, int],
    contribution_id: int | None = None,
    validator_id: int | None = None,
    dimension: str = "participation",
) -> LedgerEntry:
    """Append an entry and, for a positive amount, the outbox row that will mint it."""
    ref = chain_ref(instance_id(session), source_key)
    entry = LedgerEntry(
        member_id=member_id,
        points=points,
        dimension=dimension,
        cause=cause,
        source_key=source_key,
        contribution_id=contribution_id,
        validator_id=validator_id,
        rule_id=rule[0],
        rule_version=rule[1],
        ref=ref,
    )
    session.add(entry)
    session.flush()
    if points > 0:
        wallet = session.scalars(select(Wallet).where(Wallet.user_id == member_id)).one()
        session.add(
            OutboxItem(
                kind="mint",
                ledger_entry_id=entry.id,
                to_address=wallet.address,
                amount=points,
                ref=ref,
                status=OutboxStatus.PENDING.value,
            )
        )
    return entry


def points_total(session: Session, member_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.member_id == member_id
        )
    )
    return int(total or 0)


def pending_points(session: Session, member_id: int) -> int:
    """Points awarded but not yet confirmed on chain."""
    total = session.scalar(
        select(func.coalesce(func.sum(OutboxItem.amount), 0))
        .join(LedgerEntry, OutboxItem.ledger_entry_id == LedgerEntry.id)
        .where(LedgerEntry.member_id == member_id, OutboxItem.status != OutboxStatus.DONE.value)
    )
    return int(total or 0)
