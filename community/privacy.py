"""GDPR for members: everything Kopa holds about one member as one JSON document (access and
portability), and erasing an account while the pseudonymous ledger stays (see README,
Privacy).

Coverage is declared, not discovered at run time: ``PARTS`` names every (table, column) that
ties a row to a person and how it is exported, and ``NOT_EXPORTED`` the few left out on
purpose, with the reason. Like Decidim's ``data_portable_entities``, each package declares
its own parts (``booking.privacy``, ``rewards.privacy``; ``web.bootstrap`` registers them) and
this module only iterates them. tests/test_privacy.py compares them with every foreign key to
``users.id`` in the migrated schema, so a new table that stores something about a member
fails the test until it is covered.

Erasure keeps what other people and outsiders rely on: the user row as a shell (its id is
the pseudonym in ledger rows, Merkle leaves and the audit log), the wallet address, ledger
entries, outbox rows, badges, the audit log and everything on chain. It removes what names
or describes the person: name, e-mail, password, API tokens, notifications, the free text
they wrote (contribution texts and links, appeal reasons, application messages, written poll
answers), evidence files nobody else uses and story opt-ins; each package's registered
eraser does its part in the same transaction (bookings cancelled and refunded, waitlists
left, open redemptions cancelled and refunded, frozen boards scrubbed, the custodial key
wiped), all through the features' own code. ``MemberErased`` is published before the
person is wiped, so its handlers (the audit log) still see the actor's role.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from community import accounts
from community.db import UnitOfWork, as_utc, is_row_id, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from community.events import MemberErased
from community.evidence import evidence_path
from community.i18n import N_
from community.models import (
    ApiToken,
    Contribution,
    ContributionCoContributor,
    ContributionTransition,
    Erasure,
    Grant,
    LibraryRating,
    Notification,
    NotificationDigest,
    NotificationPreference,
    Poll,
    PollAnswer,
    PollOption,
    Process,
    ProcessApplication,
    Role,
    StoryOptIn,
    SuccessStory,
    Team,
    TeamMember,
    User,
)
from community.registry import Registry

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
    context (names of rooms, items, options) to each row. ``single``: at most one row,
    exported as an object (or null) rather than a list."""

    key: str
    model: type
    column: str
    fields: tuple[str, ...] | None = None
    omit: tuple[str, ...] = ()
    extra: Callable[[Session, object], dict] | None = None
    single: bool = False

    @property
    def table(self) -> str:
        return self.model.__tablename__


# Every package's parts, keyed by ``Part.key``; ``order`` is their place in the document:
# 100s points and rewards, 200s co-creation, 300s booking, 400s what the member did as staff.
PARTS: Registry[Part] = Registry("privacy export parts")
# What the export holds besides rows of one column (session, member id) -> keys and values,
# added after the parts (the audit log's rows of the member as actor).
Section = Callable[[Session, int], dict]
sections: Registry[Section] = Registry("privacy export sections")


def plain(value: object) -> object:
    """A column's value as plain JSON."""
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _contribution_extra(session: Session, contribution: Contribution) -> dict:
    return {
        "co_contributor_ids": [u.id for u in contribution.co_contributors],
        "transitions": [
            {"from": t.from_state, "to": t.to_state, "actor_id": t.actor_id, "comment": t.comment,
             "at": plain(t.at)}
            for t in contribution.transitions
        ],
    }


def _co_contribution_extra(session: Session, row: ContributionCoContributor) -> dict:
    c = session.get(Contribution, row.contribution_id)
    return {"task_id": c.task_id, "state": c.state, "created_at": plain(c.created_at)}


def _vote_extra(session: Session, answer: PollAnswer) -> dict:
    poll = session.get(Poll, answer.poll_id)
    options = select(PollOption.id, PollOption.label).where(PollOption.poll_id == poll.id)
    labels = dict(session.execute(options).all())
    return {"question": poll.question,
            "choices": [{"option_id": c.option_id, "label": labels.get(c.option_id)} for c in answer.choices]}


def _team_extra(session: Session, row: TeamMember) -> dict:
    team = session.get(Team, row.team_id)
    return {"team": team.name, "team_kind": team.kind}


_CONTRIBUTION_DECIDED = ("id", "task_id", "state", "decided_at", "decision_comment")

# The kernel's own parts, with their orders (see ``PARTS``).
COMMUNITY_PARTS: tuple[tuple[int, Part], ...] = (
    # Co-creation.
    (200, Part("contributions", Contribution, "member_id", extra=_contribution_extra)),
    (210, Part("co_contributions", ContributionCoContributor, "user_id", extra=_co_contribution_extra)),
    (220, Part("contribution_actions", ContributionTransition, "actor_id",
               fields=("id", "contribution_id", "from_state", "to_state", "comment", "at"))),
    (230, Part("team_memberships", TeamMember, "user_id", extra=_team_extra)),
    (240, Part("grants", Grant, "user_id")),
    (250, Part("process_applications", ProcessApplication, "user_id")),
    (260, Part("story_opt_ins", StoryOptIn, "user_id")),
    (270, Part("library_ratings", LibraryRating, "user_id")),
    (280, Part("poll_votes", PollAnswer, "member_id", omit=("kiosk_session",), extra=_vote_extra)),
    (290, Part("notifications", Notification, "user_id")),
    (291, Part("notification_preferences", NotificationPreference, "user_id")),
    (292, Part("notification_digests", NotificationDigest, "user_id")),
    (293, Part("api_tokens", ApiToken, "user_id", omit=("token_hash",))),
    # What the member did as staff or admin: their own decisions, never the other person's text.
    (400, Part("validations", Contribution, "decided_by_id", fields=_CONTRIBUTION_DECIDED)),
    (405, Part("first_approvals", Contribution, "first_approver_id", fields=("id", "task_id", "state"))),
    (415, Part("applications_decided", ProcessApplication, "decided_by_id",
               fields=("id", "process_id", "state", "decided_at"))),
    (420, Part("processes_created", Process, "created_by_id", fields=("id", "title", "created_at"))),
    (425, Part("stories_published", SuccessStory, "published_by_id",
               fields=("id", "process_id", "published_at"))),
    (430, Part("polls_created", Poll, "created_by_id", fields=("id", "question", "created_at"))),
    (435, Part("polls_closed", Poll, "closed_by_id", fields=("id", "question", "closed_at"))),
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
    """Every (table, column) referring to a user that the registered parts have decided about."""
    return {(p.table, p.column) for p in PARTS} | set(NOT_EXPORTED)


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
    return {name: plain(getattr(row, name)) for name in names}


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
        "exported_at": plain(utcnow()),
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
        data[part.key] = (rows[0] if rows else None) if part.single else rows
    for section in sections:
        data.update(section(session, user.id))
    data["notes"] = (
        "Evidence files are listed by hash, name, type and size; download them from your contributions. "
        "API tokens are listed without their secret. Your wallet's private key is never exported. "
        "Kiosk answers are anonymous and not linked to you."
    )
    return data


# --- erasure ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureStep:
    """What an eraser gets: the erasure's unit of work (write and publish in it), the member,
    who erases them, when, and ``policy``, handed through untouched from the caller (booking's
    ``BookingPolicy``; None for each feature's default)."""

    uow: UnitOfWork
    member: User
    actor: User
    now: dt.datetime
    policy: object = None

    @property
    def session(self) -> Session:
        return self.uow.session


# One package's part of an erasure, in the erasure's transaction, before the kernel's own
# steps; returns what it did as named id lists or counts (e.g. ``bookings_cancelled``).
Eraser = Callable[[ErasureStep], Mapping[str, list[int] | int]]
erasers: Registry[Eraser] = Registry("erasure steps")


@dataclass
class ErasureResult:
    """What an erasure did: the kernel's counts, and what each eraser returned (``steps``),
    also readable as attributes (``result.bookings_cancelled``)."""

    member_id: int
    tokens_revoked: int = 0
    notifications_deleted: int = 0
    contributions_redacted: int = 0
    evidence_removed: list[str] = field(default_factory=list)
    steps: dict[str, list[int] | int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> list[int] | int:
        steps = self.__dict__.get("steps", {})
        if name in steps:
            return steps[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def counts(self) -> tuple[tuple[str, int], ...]:
        """Each eraser's results counted, then the kernel's: what the audit log records."""
        return (
            *((name, len(done) if isinstance(done, list) else done) for name, done in self.steps.items()),
            ("tokens_revoked", self.tokens_revoked),
            ("contributions_redacted", self.contributions_redacted),
            ("evidence_files_removed", len(self.evidence_removed)),
        )


def erase_own_account(
    uow: UnitOfWork, *, member_id: int, password: object, now: dt.datetime | None = None,
    policy: object = None, evidence_root: Path | None = None,
) -> ErasureResult:
    """The member erases their own account; the password is asked again so a session left
    open is not enough. The last admin cannot leave the instance without one. ``policy`` goes
    to the erasers untouched (see ``ErasureStep``)."""
    if not isinstance(password, str) or not password:
        raise InvalidInput("enter your password to erase your account")
    with uow:
        session = uow.session
        member = _locked_member(session, member_id)
        try:
            accounts.authenticate(session, member.email, password)
        except (Unauthorized, InvalidInput):
            raise InvalidInput("the password is not correct; nothing was erased") from None
        if member.is_admin and _admins(session) <= 1:
            raise Conflict("the last admin cannot erase their account; make someone else admin first")
        result = _erase(ErasureStep(uow, member, member, now or utcnow(), policy))
        uow.commit()
    _remove_files(evidence_root, result.evidence_removed)
    return result


def erase_by_admin(
    uow: UnitOfWork, *, admin_id: int, member_id: object, now: dt.datetime | None = None,
    policy: object = None, evidence_root: Path | None = None,
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
        result = _erase(ErasureStep(uow, member, admin, now or utcnow(), policy))
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


def _erase(step: ErasureStep) -> ErasureResult:
    session, member, actor = step.session, step.member, step.actor
    result = ErasureResult(member_id=member.id)
    # Open business first, through the features' own code: refunds are ledger entries like any other.
    for eraser in erasers:
        result.steps.update(eraser(step))
    result.tokens_revoked, result.notifications_deleted = _close_account(session, member.id, step.now)
    hashes, redacted = _redact_texts(session, member.id)
    result.contributions_redacted = len(redacted)
    result.evidence_removed = _unused_evidence(session, member.id, hashes)
    # Before the role changes: the audit log keeps the role the actor acted in.
    step.uow.publish(MemberErased(member_id=member.id, actor_id=actor.id, counts=result.counts()))
    _wipe_person(member)
    session.add(Erasure(user_id=member.id, erased_by_id=actor.id))
    session.flush()
    return result


def _close_account(session: Session, member_id: int, now: dt.datetime) -> tuple[int, int]:
    """API tokens revoked, notifications and their settings and story opt-ins deleted;
    returns (tokens revoked, notifications deleted)."""
    tokens = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == member_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    notifications = session.execute(delete(Notification).where(Notification.user_id == member_id)).rowcount
    session.execute(delete(NotificationDigest).where(NotificationDigest.user_id == member_id))
    session.execute(delete(NotificationPreference).where(NotificationPreference.user_id == member_id))
    session.execute(delete(StoryOptIn).where(StoryOptIn.user_id == member_id))
    return tokens, notifications


def _redact_texts(session: Session, member_id: int) -> tuple[set[str], list[Contribution]]:
    """Free text the member wrote; the rows stay for the process's record and the ledger's
    links. Returns the evidence hashes of their contributions and the contributions."""
    hashes = set()
    own = list(session.scalars(select(Contribution).where(Contribution.member_id == member_id)))
    for contribution in own:
        contribution.text = ERASED_TEXT
        contribution.evidence_url = None
        contribution.evidence_filename = None
        if contribution.appeal_reason is not None:
            contribution.appeal_reason = ERASED_TEXT
        if contribution.evidence_sha256:
            hashes.add(contribution.evidence_sha256)
    session.execute(
        update(ContributionTransition)
        .where(
            ContributionTransition.actor_id == member_id,
            ContributionTransition.comment.is_not(None),
            ContributionTransition.contribution_id.in_(
                select(Contribution.id).where(Contribution.member_id == member_id)
            ),
        )
        .values(comment=ERASED_TEXT)
    )
    session.execute(
        update(ProcessApplication).where(ProcessApplication.user_id == member_id).values(message="")
    )
    session.execute(
        update(PollAnswer)
        .where(PollAnswer.member_id == member_id, PollAnswer.text.is_not(None))
        .values(text=None)
    )
    return hashes, own


def _unused_evidence(session: Session, member_id: int, hashes: set[str]) -> list[str]:
    """Evidence files that only this member's contributions (or other erased ones) use."""
    unused = []
    for digest in sorted(hashes):
        still_used = session.scalar(select(exists().where(
            Contribution.evidence_sha256 == digest,
            Contribution.member_id != member_id,
            Contribution.member_id.not_in(select(Erasure.user_id)),
        )))
        if not still_used:
            unused.append(digest)
    return unused


def _wipe_person(member: User) -> None:
    """The row stays as the pseudonym that ledger rows, leaves and the log refer to."""
    member.email = f"erased-{member.id}@erased.invalid"
    member.display_name = erased_name(member.id)
    member.password_hash = "!erased"  # not an argon2 hash: no password ever matches
    member.active = False
    member.role = Role.MEMBER.value
    member.board_pseudonym = None
    member.board_opt_out = True
    member.locale = None  # the chosen language goes with the rest of the profile


def _remove_files(root: Path | None, digests: list[str]) -> None:
    """After the commit: a file is removed only once nothing in the database needs it."""
    if root is None:
        return
    for digest in digests:
        evidence_path(root, digest).unlink(missing_ok=True)
