"""GDPR for members: everything Kopa holds about one member as one JSON document (access and
portability), and erasing an account while the pseudonymous ledger stays (see README,
Privacy).

Coverage is declared, not discovered at run time: ``PARTS`` names every (table, column) that
ties a row to a person and how it is exported, and ``NOT_EXPORTED`` the few left out on
purpose, with the reason. tests/test_privacy.py compares them with every foreign key to
``users.id`` in the migrated schema, so a new table that stores something about a member
fails the test until it is covered here.

Erasure keeps what other people and outsiders rely on: the user row as a shell (its id is
the pseudonym in ledger rows, Merkle leaves and the audit log), the wallet address, ledger
entries, outbox rows, badges, the audit log and everything on chain. It removes what names
or describes the person: name, e-mail, password, the custodial key, API tokens,
notifications, the free text they wrote (contribution texts and links, appeal reasons,
application messages, written poll answers), evidence files nobody else uses, the board
pseudonym and story opt-ins. Future bookings are cancelled and refunded, waitlists left and
open redemptions cancelled and refunded, all through the features' own code.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from booking import services as booking_services
from booking.models import Booking, BookingSeries, FeedKey, Suspension, WaitlistEntry
from booking.policy import DEFAULT_POLICY, BookingPolicy
from community import services
from community.db import UnitOfWork, as_utc, is_row_id, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from community.evidence import evidence_path
from community.i18n import N_
from community.models import (
    ApiToken,
    Contribution,
    ContributionCoContributor,
    ContributionTransition,
    Grant,
    LibraryRating,
    Process,
    ProcessApplication,
    Role,
    StoryOptIn,
    SuccessStory,
    Team,
    TeamMember,
    User,
)
from community.notifications import Notification, NotificationDigest, NotificationPreference
from community.poll_models import Poll, PollAnswer, PollOption
from rewards import catalogue
from rewards.audit.actions import append_action
from rewards.audit_models import AuditEpoch, AuditLogRow, Erasure
from rewards.board_models import BoardFreeze, BoardTotal, ProcessBoardTotal
from rewards.boards import BoardsChanged
from rewards.loyalty_models import BadgeAward, BadgeLevel, CatalogueItem, Redemption
from rewards.models import LedgerEntry, OutboxItem, Wallet
from rewards.rule_models import RuleVersion, ScoringEvent, ScoringRule

EXPORT_KIND = "kopa-member-data"
EXPORT_VERSION = 1
CONFIRMATION_PHRASE = "erase my account"
ERASED_TEXT = "[erased at the member's request]"
ERASED_REASON = "account erased"


# --- what is exported -------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """Rows of ``model`` whose ``column`` is the member, exported under ``key``.

    ``fields`` None exports every column but ``omit`` (secrets, hashes, other people's
    session ids); rows the member only acted on (as staff) list ``fields`` explicitly, so
    another person's text is never part of someone else's export. ``extra`` adds readable
    context (names of rooms, items, options) to each row."""

    key: str
    model: type
    column: str
    fields: tuple[str, ...] | None = None
    omit: tuple[str, ...] = ()
    extra: Callable[[Session, object], dict] | None = None

    @property
    def table(self) -> str:
        return self.model.__tablename__


def _ledger_extra(session: Session, entry: LedgerEntry) -> dict:
    outbox = session.scalars(select(OutboxItem).where(OutboxItem.ledger_entry_id == entry.id)).one_or_none()
    if outbox is None:
        return {"chain": None}
    return {"chain": {"kind": outbox.kind, "status": outbox.status, "to_address": outbox.to_address,
                      "tx_hash": outbox.tx_hash, "block": outbox.block_number}}


def _contribution_extra(session: Session, contribution: Contribution) -> dict:
    return {
        "co_contributor_ids": [u.id for u in contribution.co_contributors],
        "transitions": [
            {"from": t.from_state, "to": t.to_state, "actor_id": t.actor_id, "comment": t.comment,
             "at": _plain(t.at)}
            for t in contribution.transitions
        ],
    }


def _co_contribution_extra(session: Session, row: ContributionCoContributor) -> dict:
    c = session.get(Contribution, row.contribution_id)
    return {"task_id": c.task_id, "state": c.state, "created_at": _plain(c.created_at)}


def _vote_extra(session: Session, answer: PollAnswer) -> dict:
    poll = session.get(Poll, answer.poll_id)
    options = select(PollOption.id, PollOption.label).where(PollOption.poll_id == poll.id)
    labels = dict(session.execute(options).all())
    return {"question": poll.question,
            "choices": [{"option_id": c.option_id, "label": labels.get(c.option_id)} for c in answer.choices]}


def _resource_extra(session: Session, row) -> dict:
    return {"resource": row.resource.name}


def _redemption_extra(session: Session, row: Redemption) -> dict:
    return {"item": session.get(CatalogueItem, row.item_id).name}


def _team_extra(session: Session, row: TeamMember) -> dict:
    team = session.get(Team, row.team_id)
    return {"team": team.name, "team_kind": team.kind}


def _badge_extra(session: Session, row: BadgeAward) -> dict:
    return {"badge_level": session.get(BadgeLevel, row.badge_level_id).name}


_CONTRIBUTION_DECIDED = ("id", "task_id", "state", "decided_at", "decision_comment")

PARTS: tuple[Part, ...] = (
    # Points, chain and rewards.
    Part("wallet", Wallet, "user_id", omit=("encrypted_key",)),
    Part("ledger_entries", LedgerEntry, "member_id", extra=_ledger_extra),
    Part("badges", BadgeAward, "member_id", extra=_badge_extra),
    Part("board_totals", BoardTotal, "member_id"),
    Part("process_board_totals", ProcessBoardTotal, "member_id"),
    Part("scoring_events", ScoringEvent, "member_id"),
    Part("redemptions", Redemption, "member_id", extra=_redemption_extra),
    # Co-creation.
    Part("contributions", Contribution, "member_id", extra=_contribution_extra),
    Part("co_contributions", ContributionCoContributor, "user_id", extra=_co_contribution_extra),
    Part("contribution_actions", ContributionTransition, "actor_id",
         fields=("id", "contribution_id", "from_state", "to_state", "comment", "at")),
    Part("team_memberships", TeamMember, "user_id", extra=_team_extra),
    Part("grants", Grant, "user_id"),
    Part("process_applications", ProcessApplication, "user_id"),
    Part("story_opt_ins", StoryOptIn, "user_id"),
    Part("library_ratings", LibraryRating, "user_id"),
    Part("poll_votes", PollAnswer, "member_id", omit=("kiosk_session",), extra=_vote_extra),
    Part("notifications", Notification, "user_id"),
    Part("notification_preferences", NotificationPreference, "user_id"),
    Part("notification_digests", NotificationDigest, "user_id"),
    Part("api_tokens", ApiToken, "user_id", omit=("token_hash",)),
    # Booking.
    Part("bookings", Booking, "member_id", extra=_resource_extra),
    Part("booking_series", BookingSeries, "member_id"),
    Part("waitlists", WaitlistEntry, "member_id", extra=_resource_extra),
    Part("booking_suspensions", Suspension, "member_id"),
    Part("calendar_feed", FeedKey, "user_id"),  # its version only: the URL's secret is an HMAC
    # What the member did as staff or admin: their own decisions, never the other person's text.
    Part("validations", Contribution, "decided_by_id", fields=_CONTRIBUTION_DECIDED),
    Part("first_approvals", Contribution, "first_approver_id", fields=("id", "task_id", "state")),
    Part("ledger_entries_validated", LedgerEntry, "validator_id",
         fields=("id", "member_id", "points", "cause", "contribution_id", "created_at")),
    Part("applications_decided", ProcessApplication, "decided_by_id",
         fields=("id", "process_id", "state", "decided_at")),
    Part("processes_created", Process, "created_by_id", fields=("id", "title", "created_at")),
    Part("stories_published", SuccessStory, "published_by_id", fields=("id", "process_id", "published_at")),
    Part("polls_created", Poll, "created_by_id", fields=("id", "question", "created_at")),
    Part("polls_closed", Poll, "closed_by_id", fields=("id", "question", "closed_at")),
    Part("bookings_decided", Booking, "decided_by_id",
         fields=("id", "resource_id", "state", "decided_at", "decision_comment")),
    Part("bookings_cancelled", Booking, "cancelled_by_id",
         fields=("id", "resource_id", "cancelled_at", "cancel_reason")),
    Part("redemptions_decided", Redemption, "decided_by_id",
         fields=("id", "item_id", "state", "decided_at", "note")),
    Part("scoring_rules_created", ScoringRule, "created_by_id", fields=("id", "created_at")),
    Part("scoring_rule_versions_created", RuleVersion, "created_by_id",
         fields=("id", "rule_id", "version", "created_at")),
    Part("scoring_rule_versions_published", RuleVersion, "published_by_id",
         fields=("id", "rule_id", "version", "published_at")),
    Part("board_freezes", BoardFreeze, "frozen_by_id",
         fields=("id", "scope", "period", "dimension", "frozen_at")),
    Part("ledger_epochs_closed", AuditEpoch, "closed_by_id",
         fields=("id", "closed_at", "entry_count", "root")),
)

# Columns that point at a user but are deliberately not exported.
NOT_EXPORTED: dict[tuple[str, str], str] = {
    ("erasures", "user_id"): "the record that an account was erased; an erased account cannot sign in",
}

# Columns that hold a user id without a foreign key (they must survive erasure untouched).
UNLINKED: dict[tuple[str, str], str] = {
    ("audit_log", "actor_id"): "exported as admin_actions",
    ("erasures", "erased_by_id"): "who erased an account; part of that account's record, not the actor's",
}


def covered_columns() -> set[tuple[str, str]]:
    """Every (table, column) referring to a user that this module has decided about."""
    return {(p.table, p.column) for p in PARTS} | set(NOT_EXPORTED)


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _columns(model: type, fields: tuple[str, ...] | None, omit: tuple[str, ...]) -> list[str]:
    names = [c.key for c in model.__mapper__.column_attrs]
    if fields is not None:
        unknown = set(fields) - set(names)
        if unknown:
            raise ValueError(f"{model.__name__} has no column(s) {sorted(unknown)}")
        return list(fields)
    return [n for n in names if n not in omit and not _binary(model, n)]


def _binary(model: type, name: str) -> bool:
    """Binary columns (keys, blobs) are never exported."""
    try:
        return model.__table__.columns[name].type.python_type is bytes
    except (KeyError, NotImplementedError):
        return False


def _row(row: object, names: list[str]) -> dict:
    return {name: _plain(getattr(row, name)) for name in names}


def _part_rows(session: Session, part: Part, member_id: int) -> list[dict]:
    names = _columns(part.model, part.fields, part.omit)
    column = getattr(part.model, part.column)
    primary = list(part.model.__mapper__.primary_key)
    out = []
    for row in session.scalars(select(part.model).where(column == member_id).order_by(*primary)):
        data = _row(row, names)
        if part.extra is not None:
            data.update(part.extra(session, row))
        out.append(data)
    return out


def export_member_data(session: Session, *, viewer_id: int, member_id: object = None) -> dict:
    """Everything Kopa holds about the member, for the member themselves: profile, role,
    board profile, wallet address (never the key), and every row in ``PARTS``; API tokens
    as metadata (never a secret or its hash); evidence as metadata (never the file)."""
    member_id = viewer_id if member_id is None else member_id
    if not is_row_id(member_id) or member_id != viewer_id:
        raise Forbidden("you can only download your own data")
    user = session.get(User, member_id)
    if user is None or not user.active:
        raise NotFound("account not found")
    profile = _row(user, _columns(User, None, ("password_hash",)))
    data: dict = {
        "kind": EXPORT_KIND,
        "version": EXPORT_VERSION,
        "exported_at": _plain(utcnow()),
        "member_id": user.id,
        "profile": profile,
        "roles": {
            "role": user.role,
            "team_admin_of": list(session.scalars(
                select(TeamMember.team_id).where(TeamMember.user_id == user.id, TeamMember.is_admin.is_(True))
                .order_by(TeamMember.team_id))),
        },
        "board_profile": {"opt_out": bool(user.board_opt_out), "pseudonym": user.board_pseudonym},
    }
    for part in PARTS:
        rows = _part_rows(session, part, user.id)
        data[part.key] = (rows[0] if rows else None) if part.key == "wallet" else rows
    data["admin_actions"] = [
        {"seq": r.seq, "at": _plain(r.at), "role": r.actor_role, "action": r.action, "subject": r.subject}
        for r in session.scalars(
            select(AuditLogRow).where(AuditLogRow.actor_id == user.id).order_by(AuditLogRow.id)
        )
    ]
    data["notes"] = (
        "Evidence files are listed by hash, name, type and size; download them from your contributions. "
        "API tokens are listed without their secret. Your wallet's private key is never exported. "
        "Kiosk answers are anonymous and not linked to you."
    )
    return data


# --- erasure ---------------------------------------------------------------------------------


@dataclass
class ErasureResult:
    member_id: int
    bookings_cancelled: list[int] = field(default_factory=list)
    waitlists_left: list[int] = field(default_factory=list)
    redemptions_cancelled: list[int] = field(default_factory=list)
    tokens_revoked: int = 0
    notifications_deleted: int = 0
    contributions_redacted: int = 0
    evidence_removed: list[str] = field(default_factory=list)


def erase_own_account(
    uow: UnitOfWork, *, member_id: int, password: object, now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY, evidence_root: Path | None = None,
) -> ErasureResult:
    """The member erases their own account; the password is asked again so a session left
    open is not enough. The last admin cannot leave the instance without one."""
    if not isinstance(password, str) or not password:
        raise InvalidInput("enter your password to erase your account")
    with uow:
        session = uow.session
        member = _locked_member(session, member_id)
        try:
            services.authenticate(session, member.email, password)
        except (Unauthorized, InvalidInput):
            raise InvalidInput("the password is not correct; nothing was erased") from None
        if member.is_admin and _admins(session) <= 1:
            raise Conflict("the last admin cannot erase their account; make someone else admin first")
        result = _erase(uow, member, member, now or utcnow(), policy)
        uow.commit()
    _remove_files(evidence_root, result.evidence_removed)
    return result


def erase_by_admin(
    uow: UnitOfWork, *, admin_id: int, member_id: object, now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY, evidence_root: Path | None = None,
) -> ErasureResult:
    """An admin erases someone else's account (a request received outside Kopa); the audit
    log records which admin did it."""
    with uow:
        session = uow.session
        admin = session.get(User, admin_id) if is_row_id(admin_id) else None
        if admin is None or not admin.active or not admin.is_admin:
            raise Forbidden("only admins erase members")
        if not is_row_id(member_id) or session.get(User, member_id) is None:
            raise NotFound(N_("member %(member_id)s not found", member_id=member_id))
        if member_id == admin.id:
            raise Conflict("an admin cannot erase their own account here; use the account page")
        member = _locked_member(session, member_id)
        result = _erase(uow, member, admin, now or utcnow(), policy)
        uow.commit()
    _remove_files(evidence_root, result.evidence_removed)
    return result


def erased_name(member_id: int) -> str:
    return f"Member {member_id} (erased)"


def is_erased(session: Session, member_id: int) -> bool:
    return session.get(Erasure, member_id) is not None


def _admins(session: Session) -> int:
    return int(session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN.value, User.active.is_(True))
    ) or 0)


def _locked_member(session: Session, member_id: object) -> User:
    if not is_row_id(member_id):
        raise NotFound("account not found")
    member = session.scalars(
        select(User).where(User.id == member_id).with_for_update().execution_options(populate_existing=True)
    ).one_or_none()
    if member is None:
        raise NotFound(N_("account %(member_id)s not found", member_id=member_id))
    if session.get(Erasure, member.id) is not None:
        raise Conflict(N_("member %(member)s is already erased", member=member.id))
    return member


def _erase(
    uow: UnitOfWork, member: User, actor: User, now: dt.datetime, policy: BookingPolicy
) -> ErasureResult:
    session = uow.session
    result = ErasureResult(member_id=member.id)
    # Reasons the member gave when cancelling their own bookings and redemptions.
    session.execute(
        update(Booking).where(Booking.member_id == member.id, Booking.cancelled_by_id == member.id)
        .values(cancel_reason=None)
    )
    session.execute(
        update(Redemption).where(Redemption.member_id == member.id, Redemption.decided_by_id == member.id)
        .values(note=None)
    )
    # Open business, through the features' own code: refunds are ledger entries like any other.
    result.bookings_cancelled, result.waitlists_left = booking_services.release_member(
        session, member_id=member.id, actor_id=actor.id, reason=ERASED_REASON, now=now, policy=policy
    )
    result.redemptions_cancelled = catalogue.cancel_open_redemptions(
        session, member_id=member.id, actor_id=actor.id, note=ERASED_REASON
    )
    result.tokens_revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == member.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    result.notifications_deleted = session.execute(
        delete(Notification).where(Notification.user_id == member.id)
    ).rowcount
    session.execute(delete(NotificationDigest).where(NotificationDigest.user_id == member.id))
    session.execute(delete(NotificationPreference).where(NotificationPreference.user_id == member.id))
    session.execute(delete(StoryOptIn).where(StoryOptIn.user_id == member.id))
    # Free text the member wrote; the rows stay for the process's record and the ledger's links.
    hashes = set()
    own = session.scalars(select(Contribution).where(Contribution.member_id == member.id)).all()
    for contribution in own:
        contribution.text = ERASED_TEXT
        contribution.evidence_url = None
        contribution.evidence_filename = None
        if contribution.appeal_reason is not None:
            contribution.appeal_reason = ERASED_TEXT
        if contribution.evidence_sha256:
            hashes.add(contribution.evidence_sha256)
    result.contributions_redacted = len(own)
    session.execute(
        update(ContributionTransition)
        .where(
            ContributionTransition.actor_id == member.id,
            ContributionTransition.comment.is_not(None),
            ContributionTransition.contribution_id.in_(
                select(Contribution.id).where(Contribution.member_id == member.id)
            ),
        )
        .values(comment=ERASED_TEXT)
    )
    session.execute(
        update(ProcessApplication).where(ProcessApplication.user_id == member.id).values(message="")
    )
    session.execute(
        update(PollAnswer)
        .where(PollAnswer.member_id == member.id, PollAnswer.text.is_not(None))
        .values(text=None)
    )
    _scrub_frozen_boards(session, member)
    # Evidence files that only this member's contributions (or other erased ones) use.
    for digest in sorted(hashes):
        still_used = session.scalar(select(exists().where(
            Contribution.evidence_sha256 == digest,
            Contribution.member_id != member.id,
            Contribution.member_id.not_in(select(Erasure.user_id)),
        )))
        if not still_used:
            result.evidence_removed.append(digest)
    append_action(  # before the role changes: the log keeps the role the actor acted in
        session, actor, "member.erase", f"user {member.id}",
        {"by": "self" if actor.id == member.id else "admin",
         "bookings_cancelled": len(result.bookings_cancelled), "waitlists_left": len(result.waitlists_left),
         "redemptions_cancelled": len(result.redemptions_cancelled), "tokens_revoked": result.tokens_revoked,
         "contributions_redacted": result.contributions_redacted,
         "evidence_files_removed": len(result.evidence_removed)},
    )
    # The person: the row stays as the pseudonym that ledger rows, leaves and the log refer to.
    member.email = f"erased-{member.id}@erased.invalid"
    member.display_name = erased_name(member.id)
    member.password_hash = "!erased"  # not an argon2 hash: no password ever matches
    member.active = False
    member.role = Role.MEMBER.value
    member.board_pseudonym = None
    member.board_opt_out = True
    member.locale = None  # the chosen language goes with the rest of the profile
    wallet = session.scalars(select(Wallet).where(Wallet.user_id == member.id)).one_or_none()
    if wallet is not None:
        wallet.encrypted_key = b""  # the address stays: it is what the chain knows
    session.add(Erasure(user_id=member.id, erased_by_id=actor.id))
    session.flush()
    uow.publish(BoardsChanged())
    return result


def _scrub_frozen_boards(session: Session, member: User) -> None:
    """A frozen board keeps its rows (member id, name, points, hidden) as they stood; the
    name shown is read again at display time, but the stored one must go too."""
    for freeze in session.scalars(select(BoardFreeze).where(BoardFreeze.scope != "teams")):
        rows = json.loads(freeze.snapshot)
        if any(row[0] == member.id for row in rows):
            freeze.snapshot = json.dumps(
                [[row[0], erased_name(member.id), *row[2:]] if row[0] == member.id else row
                 for row in rows]
            )


def _remove_files(root: Path | None, digests: list[str]) -> None:
    """After the commit: a file is removed only once nothing in the database needs it."""
    if root is None:
        return
    for digest in digests:
        evidence_path(root, digest).unlink(missing_ok=True)
