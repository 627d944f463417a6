"""The ledger explorer: one entry as JSON and the filtered, paged ledger (auditors and
staff see every entry, a member their own)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from community.db import as_utc, is_row_id
from community.errors import Forbidden, InvalidInput, NotFound
from community.i18n import N_
from community.models import Contribution, Task, User
from rewards.models import AuditEpochEntry, LedgerEntry, OutboxItem, OutboxStatus, Wallet


def entry_for(session: Session, viewer: User, entry_id: object) -> LedgerEntry:
    if not is_row_id(entry_id):
        raise NotFound("ledger entry not found")
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound(N_("ledger entry %(entry_id)s not found", entry_id=entry_id))
    if entry.member_id != viewer.id and not (viewer.is_auditor or viewer.is_staff):
        raise Forbidden("only auditors, staff or the member themselves read this entry")
    return entry


def entry_json(session: Session, entry: LedgerEntry, wallets: dict[int, str] | None = None) -> dict:
    outbox = entry.outbox
    contribution = entry.contribution
    if wallets is not None:
        address = wallets.get(entry.member_id)
    else:
        address = session.scalar(select(Wallet.address).where(Wallet.user_id == entry.member_id))
    place = session.get(AuditEpochEntry, entry.id)
    return {
        "id": entry.id,
        "member_id": entry.member_id,
        "address": address,
        "points": entry.points,
        "dimension": entry.dimension,
        "cause": entry.cause,
        "source_key": entry.source_key,
        "contribution_id": entry.contribution_id,
        "process_id": contribution.task.process_id if contribution is not None else None,
        "validator_id": entry.validator_id,
        "first_approver_id": contribution.first_approver_id if contribution is not None else None,
        "evidence_sha256": contribution.evidence_sha256 if contribution is not None else None,
        "rule": {"id": entry.rule_id, "version": entry.rule_version},
        "ref": entry.ref,
        "created_at": as_utc(entry.created_at).isoformat(),
        "kind": outbox.kind if outbox else None,
        "mint_status": outbox.status if outbox else None,
        "tx_hash": outbox.tx_hash if outbox and outbox.status == OutboxStatus.DONE.value else None,
        "block": outbox.block_number if outbox else None,
        "epoch": place.epoch_id if place else None,
    }


STATES = ("pending", "sent", "done")


def ledger_page(
    session: Session,
    viewer: User,
    *,
    member: object = None,
    process: object = None,
    validator: object = None,
    state: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    search: str | None = None,
    tx_hash: str | None = None,
    before: object = None,
    limit: int = 50,
) -> dict:
    """Newest first, ``{items, next}``; ``next`` is the ``before`` cursor of the next page.
    A member may read their own entries (``member`` = themselves) and nothing else."""
    if member is not None and not is_row_id(member):
        raise InvalidInput("member must be a member id")
    if member is not None and member != viewer.id and not (viewer.is_auditor or viewer.is_staff):
        raise Forbidden("only auditors, staff or the member themselves read a member's ledger")
    if member is None and not (viewer.is_auditor or viewer.is_staff):
        member = viewer.id
    if member is not None and session.get(User, member) is None:
        raise NotFound(N_("member %(member)s not found", member=member))
    if not isinstance(limit, int) or not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500")
    query = _ledger_query(member=member, process=process, validator=validator, state=state, since=since,
                          until=until, search=search, tx_hash=tx_hash, before=before)
    rows = session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit + 1)).all()
    wallets = dict(session.execute(select(Wallet.user_id, Wallet.address)).all())
    items = [entry_json(session, e, wallets) for e in rows[:limit]]
    return {"items": items, "next": rows[limit - 1].id if len(rows) > limit else None}


def _ledger_query(
    *, member: object, process: object, validator: object, state: str | None, since: dt.datetime | None,
    until: dt.datetime | None, search: str | None, tx_hash: str | None, before: object,
):
    """The explorer's filters as one query over entries and their outbox rows."""
    query = select(LedgerEntry).outerjoin(OutboxItem, OutboxItem.ledger_entry_id == LedgerEntry.id)
    if member is not None:
        query = query.where(LedgerEntry.member_id == member)
    if validator is not None:
        if not is_row_id(validator):
            raise InvalidInput("validator must be a user id")
        query = query.where(LedgerEntry.validator_id == validator)
    if process is not None:
        if not is_row_id(process):
            raise InvalidInput("process must be a process id")
        query = query.join(Contribution, Contribution.id == LedgerEntry.contribution_id).join(
            Task, Task.id == Contribution.task_id
        ).where(Task.process_id == process)
    if state:
        if state not in STATES:
            raise InvalidInput(N_("state must be one of %(states)s", states=', '.join(STATES)))
        query = query.where(OutboxItem.status == state)
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    if tx_hash:
        query = query.where(func.lower(OutboxItem.tx_hash) == tx_hash.lower())
    if search:
        like = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(LedgerEntry.cause).like(like),
                func.lower(LedgerEntry.source_key).like(like),
                func.lower(LedgerEntry.ref).like(like),
                func.lower(LedgerEntry.rule_id).like(like),
                func.lower(OutboxItem.tx_hash).like(like),
                func.lower(OutboxItem.to_address).like(like),
            )
        )
    if before is not None:
        if not is_row_id(before):
            raise InvalidInput("before must be an entry id")
        query = query.where(LedgerEntry.id < before)
    return query


def parse_day(raw: str | None, what: str) -> dt.datetime | None:
    """``YYYY-MM-DD`` (or a full ISO timestamp) as an aware UTC datetime."""
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(N_("%(what)s must be a date like 2026-01-31", what=what)) from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
