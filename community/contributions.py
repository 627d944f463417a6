"""Contributions and their validation: submitting, approving (with the four-eyes rule),
rejecting, asking for changes, resubmitting, appealing and revoking. Each use case takes a
unit of work, checks roles and ownership itself and commits once; points are the business
of the handlers of ``ContributionApproved`` and ``ContributionRevoked`` (rewards)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from community import access
from community.db import UnitOfWork, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from community.events import (
    ContributionApproved,
    ContributionRejected,
    ContributionRevoked,
    ContributionSubmitted,
)
from community.evidence import StoredEvidence
from community.i18n import N_, Msg
from community.models import (
    LEVELS,
    Contribution,
    ContributionState,
    ContributionTransition,
    Permission,
    Task,
    User,
)
from community.notifications import notify
from community.processes import progress
from community.registry import Registry
from community.validation import get_row, web_url
from community.validation import text as checked_text

MAX_TEXT = 10_000

# pending ─approve─▶ approved ─revoke─▶ revoked
#    │  └approve (above the four-eyes threshold)▶ awaiting_second_approval ─approve (another)─▶ approved
#    ├─reject─▶ rejected ─appeal (once)─▶ appealed ─approve/reject (not the first rejecter)─▶ …
#    └─request changes─▶ changes_requested ─resubmit─▶ pending

S = ContributionState
DECIDABLE = (S.PENDING, S.AWAITING_SECOND, S.APPEALED)


@dataclass(frozen=True)
class ContributionPolicy:
    """Instance-wide anti-farming and four-eyes settings (from configuration)."""

    submissions_per_hour: int = 20
    four_eyes_threshold: int = 150


def _co_contributors(session: Session, member_id: int, emails: object) -> list[User]:
    if emails in (None, "", []):
        return []
    if isinstance(emails, str):
        emails = [e for e in re.split(r"[,\s]+", emails) if e]
    if not isinstance(emails, list) or len(emails) > 20 or not all(isinstance(e, str) for e in emails):
        raise InvalidInput("co_contributors must be a list of at most 20 e-mail addresses")
    users = []
    for email in emails:
        user = session.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()
        if user is None:
            raise InvalidInput(N_("no member has the e-mail address %(email)r", email=email.strip()[:254]))
        if user.id == member_id:
            raise InvalidInput("you are already the contributor; do not list yourself as co-contributor")
        if user not in users:
            users.append(user)
    return users


def _duplicate_of(
    session: Session, process_id: int, sha256: str | None, url: str | None, exclude_id: int | None = None
) -> int | None:
    """An earlier contribution in the same process with the same file or URL."""
    clauses = []
    if sha256:
        clauses.append(Contribution.evidence_sha256 == sha256)
    if url:
        clauses.append(Contribution.evidence_url == url)
    if not clauses:
        return None
    query = select(Contribution.id).join(Task).where(Task.process_id == process_id, or_(*clauses))
    if exclude_id is not None:
        query = query.where(Contribution.id != exclude_id)
    return session.scalar(query.order_by(Contribution.id).limit(1))


def _transition(
    session: Session, contribution: Contribution, actor_id: int, to: S, comment: str | None
) -> None:
    session.add(
        ContributionTransition(
            contribution_id=contribution.id,
            from_state=contribution.state,
            to_state=to.value,
            actor_id=actor_id,
            comment=comment,
        )
    )
    contribution.state = to.value


def _require_open_to(session: Session, member: User, task: Task) -> None:
    """The member sees the task, may contribute to it, and it is open with its prerequisites done."""
    path = access.path_of_task(session, task)
    if not access.can(session, member, Permission.VIEW, path):
        raise NotFound(N_("task %(task)s not found", task=task.id))
    access.require(
        session,
        member,
        Permission.CONTRIBUTE,
        path,
        "you may not contribute to this task: join the process or ask its team for access",
    )
    if not task.open or task.status == "done":
        raise Conflict(N_("task %(task)s is closed for contributions", task=task.id))
    blocked = progress.task_blocked_by(session, task)
    if blocked:
        raise Conflict(N_("task %(task)s opens when %(blocked)s is done",
                          task=task.id, blocked=', '.join(blocked)))


def _within_rate(session: Session, member: User, policy: ContributionPolicy) -> None:
    """Anti-farming: at most ``policy.submissions_per_hour`` contributions an hour."""
    hour_ago = utcnow() - dt.timedelta(hours=1)
    recent = session.scalar(
        select(func.count())
        .select_from(Contribution)
        .where(Contribution.member_id == member.id, Contribution.created_at >= hour_ago)
    )
    if recent >= policy.submissions_per_hour:
        raise RateLimited(
            N_(
                "you have submitted %(recent)s contributions in the last hour; the limit is "
                "%(submissions_per_hour)s per hour, please try again later",
                recent=recent, submissions_per_hour=policy.submissions_per_hour,
            )
        )


def submit_contribution(
    uow: UnitOfWork,
    *,
    member_id: int,
    task_id: object,
    text: object,
    evidence_url: object = None,
    evidence: StoredEvidence | None = None,
    co_contributors: object = None,
    policy: ContributionPolicy = ContributionPolicy(),
) -> int:
    """A member's contribution to a task they may contribute to; it scores nothing until
    validated. Re-using a file or URL already used in the process is allowed but flagged."""
    text = checked_text(text, "text", MAX_TEXT)
    url = web_url(evidence_url, "evidence_url")
    with uow:
        session = uow.session
        member = get_row(session, User, member_id, "user")
        task = get_row(session, Task, task_id, "task")
        _require_open_to(session, member, task)
        _within_rate(session, member, policy)
        contribution = Contribution(
            task_id=task.id,
            member_id=member.id,
            text=text,
            evidence_url=url,
            duplicate_of_id=_duplicate_of(
                session, task.process_id, evidence.sha256 if evidence else None, url
            ),
        )
        if evidence is not None:
            contribution.evidence_sha256 = evidence.sha256
            contribution.evidence_filename = evidence.filename
            contribution.evidence_content_type = evidence.content_type
            contribution.evidence_size = evidence.size
        contribution.co_contributors = _co_contributors(session, member.id, co_contributors)
        session.add(contribution)
        session.flush()
        session.add(
            ContributionTransition(
                contribution_id=contribution.id, from_state=None, to_state=S.PENDING.value, actor_id=member.id
            )
        )
        uow.publish(ContributionSubmitted(contribution.id, member.id))
        uow.commit()
        return contribution.id


def _load_for_decision(
    session: Session, validator_id: int, contribution_id: object
) -> tuple[User, Contribution]:
    validator = get_row(session, User, validator_id, "user")
    if not validator.is_staff:
        raise Forbidden("only staff validate contributions")
    get_row(session, Contribution, contribution_id, "contribution")
    # Lock the row (PostgreSQL; SQLite already holds the write lock) before reading state.
    contribution = session.scalars(
        select(Contribution)
        .where(Contribution.id == contribution_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    access.require(
        session,
        validator,
        Permission.MANAGE,
        access.path_of_task(session, contribution.task),
        "only staff who manage this process validate its contributions",
    )
    if validator.id in contribution.member_ids:
        raise Forbidden("nobody validates a contribution they are a contributor or co-contributor of")
    return validator, contribution


def _require_state(contribution: Contribution, allowed: tuple[S, ...], action: str) -> None:
    if contribution.state not in allowed:
        names = " or ".join(s.value for s in allowed)
        raise Conflict(N_("contribution %(contribution)s is %(state)s; %(action)s needs it %(names)s",
                          contribution=contribution.id, state=contribution.state, action=Msg(action),
                          names=names))  # action: the _require_state:3 keyword (scripts/i18n.py)


def default_level(session: Session, contribution: Contribution) -> str:
    """From the member's share of the task's approved contributions, this one included:
    at least half → high, at least a quarter → average, otherwise low."""
    approved = session.execute(
        select(Contribution.member_id, func.count())
        .where(
            Contribution.task_id == contribution.task_id,
            Contribution.state == S.APPROVED.value,
            Contribution.id != contribution.id,
        )
        .group_by(Contribution.member_id)
    ).all()
    total = sum(n for _, n in approved) + 1
    mine = sum(n for member, n in approved if member == contribution.member_id) + 1
    share = mine / total
    return "high" if share >= 0.5 else "average" if share >= 0.25 else "low"


def _level(value: object, session: Session, contribution: Contribution) -> str:
    if value in (None, ""):
        return contribution.level or default_level(session, contribution)
    if value not in LEVELS:
        raise InvalidInput("level must be low, average or high")
    return value


# What approving a contribution at a level would award its submitter, in points: the rewards
# package registers its scoring here (web.bootstrap); the four-eyes rule compares it.
valuers: Registry[Callable[[Session, Contribution, str], int]] = Registry("contribution valuers")


def proposed_points(session: Session, contribution: Contribution, level: str) -> int:
    return sum(value(session, contribution, level) for value in valuers)


def approve_contribution(
    uow: UnitOfWork,
    *,
    validator_id: int,
    contribution_id: object,
    comment: object = None,
    level: object = None,
    policy: ContributionPolicy = ContributionPolicy(),
) -> list[int]:
    """Approval, its ledger entries and their mint requests commit together or not at all.
    Above the four-eyes threshold the first approval only records itself; a second, different
    member of staff completes it. The points are written by the handlers of
    ``ContributionApproved`` (rewards); returns the ids of the ledger entries they wrote."""
    comment = _optional_comment(comment)
    with uow:
        session = uow.session
        validator, contribution = _load_for_decision(session, validator_id, contribution_id)
        _require_state(contribution, DECIDABLE, "approval")
        if contribution.state == S.APPEALED and contribution.decided_by_id == validator.id:
            raise Forbidden(
                "an appeal is decided by a different member of staff than the one who rejected it"
            )
        if contribution.state == S.AWAITING_SECOND:
            if contribution.first_approver_id == validator.id:
                raise Forbidden(
                    "four-eyes rule: the second approval must come from a different member of staff"
                )
            chosen = contribution.level
        else:
            chosen = _level(level, session, contribution)
        proposed = proposed_points(session, contribution, chosen)
        threshold = contribution.task.process.four_eyes_threshold or policy.four_eyes_threshold
        if contribution.state != S.AWAITING_SECOND and proposed > threshold:
            contribution.level = chosen
            contribution.proposed_points = proposed
            contribution.first_approver_id = validator.id
            _transition(session, contribution, validator.id, S.AWAITING_SECOND, comment)
            uow.commit()
            return []
        contribution.level = chosen
        contribution.proposed_points = proposed
        _transition(session, contribution, validator.id, S.APPROVED, comment)
        contribution.decided_by_id = validator.id
        contribution.decided_at = utcnow()
        contribution.decision_comment = comment
        written = uow.publish(
            ContributionApproved(contribution.id, contribution.member_id, validator.id, chosen, comment)
        )
        uow.commit()
        return [entry_id for ids in written for entry_id in ids]


def tell_decision(
    session: Session, member_id: int, contribution: Contribution, kind: str, what: Msg, comment: str | None
) -> None:
    """A contribution-decided notification for one member, in the decision's transaction."""
    text = N_("Your contribution to “%(task)s” %(what)s", task=contribution.task.title, what=what)
    if comment:
        comment = comment if len(comment) <= 500 else comment[:499] + "…"
        text = N_("%(text)s Comment: %(comment)s", text=text, comment=comment)
    notify(session, member_id, kind, text, f"/contributions/{contribution.id}")


def _optional_comment(comment: object) -> str | None:
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput("comment must be text")
    if comment and len(comment) > MAX_TEXT:
        raise InvalidInput(N_("comment is longer than %(max_text)s characters", max_text=MAX_TEXT))
    return (comment or "").strip() or None


def reject_contribution(
    uow: UnitOfWork, *, validator_id: int, contribution_id: object, comment: object
) -> None:
    comment = checked_text(comment, "comment", MAX_TEXT)
    with uow:
        session = uow.session
        validator, contribution = _load_for_decision(session, validator_id, contribution_id)
        _require_state(contribution, DECIDABLE, "rejection")
        if contribution.state == S.APPEALED and contribution.decided_by_id == validator.id:
            raise Forbidden(
                "an appeal is decided by a different member of staff than the one who rejected it"
            )
        _transition(session, contribution, validator.id, S.REJECTED, comment)
        contribution.decided_by_id = validator.id
        contribution.decided_at = utcnow()
        contribution.decision_comment = comment
        tell_decision(
            session, contribution.member_id, contribution, "contribution_rejected",
            N_("was rejected again on appeal.") if contribution.appealed_at
            else N_("was rejected; you may appeal once."),
            comment,
        )
        uow.publish(ContributionRejected(contribution.id, contribution.member_id, validator.id))
        uow.commit()


def request_changes(uow: UnitOfWork, *, validator_id: int, contribution_id: object, comment: object) -> None:
    comment = checked_text(comment, "comment", MAX_TEXT)
    with uow:
        session = uow.session
        validator, contribution = _load_for_decision(session, validator_id, contribution_id)
        _require_state(contribution, (S.PENDING, S.AWAITING_SECOND), "asking for changes")
        _transition(session, contribution, validator.id, S.CHANGES_REQUESTED, comment)
        contribution.first_approver_id = None
        contribution.decision_comment = comment
        tell_decision(
            session, contribution.member_id, contribution, "contribution_changes_requested",
            N_("needs changes: edit and resubmit it."), comment,
        )
        uow.commit()


def _own_contribution(session: Session, member_id: int, contribution_id: object) -> Contribution:
    contribution = get_row(session, Contribution, contribution_id, "contribution")
    if contribution.member_id != member_id:
        raise Forbidden("only the contributor can do this")
    return contribution


def resubmit_contribution(
    uow: UnitOfWork, *, member_id: int, contribution_id: object, text: object, evidence_url: object = None
) -> None:
    text = checked_text(text, "text", MAX_TEXT)
    url = web_url(evidence_url, "evidence_url")
    with uow:
        session = uow.session
        contribution = _own_contribution(session, member_id, contribution_id)
        _require_state(contribution, (S.CHANGES_REQUESTED,), "resubmitting")
        contribution.text = text
        if url is not None:
            contribution.evidence_url = url
            contribution.duplicate_of_id = _duplicate_of(
                session, contribution.task.process_id, contribution.evidence_sha256, url, contribution.id
            )
        _transition(session, contribution, member_id, S.PENDING, "resubmitted")
        uow.publish(ContributionSubmitted(contribution.id, member_id))
        uow.commit()


def appeal_contribution(uow: UnitOfWork, *, member_id: int, contribution_id: object, reason: object) -> None:
    reason = checked_text(reason, "reason", MAX_TEXT)
    with uow:
        session = uow.session
        contribution = _own_contribution(session, member_id, contribution_id)
        if contribution.appealed_at is not None:
            raise Conflict(N_("contribution %(contribution)s was already appealed once",
                              contribution=contribution.id))
        _require_state(contribution, (S.REJECTED,), "an appeal")
        contribution.appeal_reason = reason
        contribution.appealed_at = utcnow()
        _transition(session, contribution, member_id, S.APPEALED, reason)
        uow.commit()


def revoke_contribution(
    uow: UnitOfWork, *, validator_id: int, contribution_id: object, comment: object
) -> list[int]:
    """The contribution becomes revoked; the handlers of ``ContributionRevoked`` (rewards)
    take its points back with compensating entries (never a deletion) and tell the members.
    Returns the ids of the ledger entries they wrote."""
    comment = checked_text(comment, "comment", MAX_TEXT)
    with uow:
        session = uow.session
        validator, contribution = _load_for_decision(session, validator_id, contribution_id)
        _require_state(contribution, (S.APPROVED,), "revocation")
        _transition(session, contribution, validator.id, S.REVOKED, comment)
        written = uow.publish(
            ContributionRevoked(contribution.id, contribution.member_id, validator.id, comment)
        )
        uow.commit()
        return [entry_id for ids in written for entry_id in ids]
