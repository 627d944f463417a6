"""Points for contributions: what an approval is worth, and the ledger entries that approving
and revoking write. These run as in-transaction handlers of the kernel's contribution events
(wired in ``web.bootstrap``), so the decision, its entries and their outbox rows commit
together or not at all; a replayed decision writes nothing (source keys are unique)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.contributions import tell_decision
from community.db import UnitOfWork, utcnow
from community.events import ContributionApproved, ContributionRevoked
from community.i18n import N_, NP_
from community.models import Contribution, Process, Task
from rewards.events import LedgerChanged
from rewards.ledger import record_entry
from rewards.models import LedgerEntry
from rewards.scoring import Award, contribution_awards, record_awards
from rewards.streaks import record_streak


def proposed_points(session: Session, contribution: Contribution, level: str) -> int:
    """What approving at ``level`` would award the submitter (a what-if: not scoring history)."""
    return sum(a.points for a in _awards(session, contribution, level, contribution.member_id, record=False))


def award_approved(uow: UnitOfWork, event: ContributionApproved) -> list[int]:
    """Each contributor's capped awards, their streak and their notification; returns the
    ids of the ledger entries written."""
    session = uow.session
    contribution = session.get(Contribution, event.contribution_id)
    entry_ids = []
    for member_id in contribution.member_ids:
        awards = _capped(
            session,
            contribution.task.process,
            member_id,
            _awards(session, contribution, event.level, member_id),
        )
        entries = record_awards(
            session,
            [a for a in awards if a.points],
            member_id=member_id,
            cause="contribution",
            source_key=f"contribution:{contribution.id}:approved:{member_id}",
            contribution_id=contribution.id,
            validator_id=event.validator_id,
        )
        entry_ids.extend(e.id for e in entries)
        record_streak(session, member_id)
        points = sum(e.points for e in entries)
        what = (
            NP_("was approved: %(num)s point (minted on chain shortly).",
                "was approved: %(num)s points (minted on chain shortly).", points)
            if entries else NP_("was approved: %(num)s point.", "was approved: %(num)s points.", points)
        )
        tell_decision(session, member_id, contribution, "contribution_approved", what, event.comment)
    uow.publish(LedgerChanged(tuple(contribution.member_ids)))
    return entry_ids


def take_back_revoked(uow: UnitOfWork, event: ContributionRevoked) -> list[int]:
    """Never deletes: each entry the approval wrote gets a compensating negative entry, whose
    burn request goes through the same outbox as the mint did. Only this contribution's
    points move. Returns the ids of the entries written."""
    session = uow.session
    contribution = session.get(Contribution, event.contribution_id)
    originals = session.scalars(
        select(LedgerEntry)
        .where(
            LedgerEntry.contribution_id == contribution.id,
            LedgerEntry.points > 0,
            LedgerEntry.cause == "contribution",
        )
        .order_by(LedgerEntry.id)
    ).all()
    entry_ids = []
    for original in originals:
        entry = record_entry(
            session,
            member_id=original.member_id,
            points=-original.points,
            cause="revocation",
            source_key=f"{original.source_key}:revoked",
            rule=(original.rule_id, original.rule_version),
            dimension=original.dimension,
            contribution_id=contribution.id,
            validator_id=event.validator_id,
        )
        entry_ids.append(entry.id)
    for member_id in sorted({e.member_id for e in originals} | {contribution.member_id}):
        taken = sum(e.points for e in originals if e.member_id == member_id)
        tell_decision(
            session, member_id, contribution, "contribution_revoked",
            NP_("was revoked: its %(num)s point are taken back.",
                "was revoked: its %(num)s points are taken back.", taken)
            if taken else N_("was revoked."),
            event.comment,
        )
    uow.publish(LedgerChanged(tuple(sorted({e.member_id for e in originals}))))
    return entry_ids


def _awards(
    session: Session, contribution: Contribution, level: str, member_id: int, record: bool = True
) -> list[Award]:
    task = contribution.task
    return contribution_awards(
        session,
        member_id=member_id,
        complexity=task.complexity,
        level=level,
        process_id=task.process_id,
        task_id=task.id,
        record=record,  # False for the proposal: only awards given are scoring history
    )


def _period_start(period: str) -> dt.datetime:
    now = utcnow()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return start - dt.timedelta(days=start.weekday())
    return start.replace(day=1)


def _capped(session: Session, process: Process, member_id: int, awards: list[Award]) -> list[Award]:
    """Apply the process's per-member points cap for the period (off unless configured)."""
    if process.points_cap is None:
        return awards
    earned = (
        session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0))
            .join(Contribution, LedgerEntry.contribution_id == Contribution.id)
            .join(Task, Contribution.task_id == Task.id)
            .where(
                Task.process_id == process.id,
                LedgerEntry.member_id == member_id,
                LedgerEntry.created_at >= _period_start(process.cap_period),
            )
        )
        or 0
    )
    room = max(process.points_cap - int(earned), 0)
    capped = []
    for award in awards:
        points = min(award.points, room)
        room -= points
        capped.append(Award(points, award.dimension, award.rule_id, award.rule_version))
    return capped


