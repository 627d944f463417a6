"""Use cases of the community side. Each takes a unit of work, checks roles and
ownership itself (never trusting the caller to have done it), and commits once."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from urllib.parse import urlparse

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.db import UnitOfWork, as_utc, is_row_id, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from community.events import (
    ContributionApproved,
    ContributionRejected,
    ContributionSubmitted,
    LedgerChanged,
)
from community.models import (
    ApiToken,
    Contribution,
    ContributionState,
    ContributionTransition,
    Process,
    Role,
    Task,
    User,
)
from rewards.ledger import TASK_POINTS_RULE, record_entry
from rewards.vault import KeyVault
from rewards.wallets import NewAccount, create_wallet

# argon2id at the OWASP minimum (19 MiB, t=2, p=1): ~34 ms here, a quarter of scrypt's.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = _hasher.hash("kopa-timing-equaliser")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MIN_PASSWORD = 10
MAX_TEXT = 10_000
TOKEN_TTL = dt.timedelta(days=30)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _required_text(value: object, field: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must not be empty")
    value = value.strip()
    if len(value) > max_len:
        raise InvalidInput(f"{field} is longer than {max_len} characters")
    return value


def _get(session: Session, model: type, id_: object, what: str):
    if not is_row_id(id_):
        raise NotFound(f"{what} not found")
    obj = session.get(model, id_)
    if obj is None:
        raise NotFound(f"{what} {id_} not found")
    return obj


# --- accounts -------------------------------------------------------------------------


def register_member(
    uow: UnitOfWork,
    *,
    email: object,
    display_name: object,
    password: object,
    new_account: NewAccount,
    vault: KeyVault,
    role: Role = Role.MEMBER,
) -> int:
    email = _required_text(email, "email", 254).lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput("email is not a valid address")
    name = _required_text(display_name, "display name", 80)
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters")
    if len(password) > 256:
        raise InvalidInput("password is longer than 256 characters")
    with uow:
        session = uow.session
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict("an account with this email already exists")
        user = User(email=email, display_name=name, password_hash=hash_password(password), role=role)
        session.add(user)
        session.flush()
        create_wallet(session, user.id, new_account, vault)
        uow.commit()
        return user.id


def authenticate(session: Session, email: object, password: object) -> User:
    """The same work is done for unknown accounts so timing does not reveal them."""
    if not isinstance(email, str) or not isinstance(password, str):
        raise InvalidInput("email and password are required")
    user = session.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("wrong email or password") from None
    if user is None or not user.active:
        raise Unauthorized("wrong email or password")
    return user


def issue_api_token(uow: UnitOfWork, user_id: int) -> str:
    token = secrets.token_urlsafe(32)
    with uow:
        uow.session.add(
            ApiToken(
                user_id=user_id,
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                expires_at=utcnow() + TOKEN_TTL,
            )
        )
        uow.commit()
    return token


def user_for_token(session: Session, token: object) -> User | None:
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hashlib.sha256(token.encode()).hexdigest())
    ).one_or_none()
    if row is None or row.revoked_at is not None or as_utc(row.expires_at) < utcnow():
        return None
    return row.user if row.user.active else None


def set_role(uow: UnitOfWork, *, actor_id: int, user_id: object, role: object) -> None:
    if role not in {r.value for r in Role}:
        raise InvalidInput(f"role must be one of {', '.join(r.value for r in Role)}")
    with uow:
        session = uow.session
        actor = _get(session, User, actor_id, "user")
        if not actor.is_admin:
            raise Forbidden("only admins assign roles")
        user = _get(session, User, user_id, "user")
        if user.id == actor.id and role != Role.ADMIN:
            admins = session.scalar(select(func.count()).where(User.role == Role.ADMIN.value))
            if admins <= 1:
                raise Conflict("the last admin cannot give up the admin role")
        user.role = str(role)
        uow.commit()


# --- processes and tasks --------------------------------------------------------------


def create_process(uow: UnitOfWork, *, actor_id: int, title: object, description: object = "") -> int:
    with uow:
        actor = _get(uow.session, User, actor_id, "user")
        if not actor.is_staff:
            raise Forbidden("only staff create processes")
        process = Process(
            title=_required_text(title, "title", 200),
            description=description.strip() if isinstance(description, str) else "",
        )
        uow.session.add(process)
        uow.session.flush()
        uow.commit()
        return process.id


def create_task(
    uow: UnitOfWork,
    *,
    actor_id: int,
    process_id: object,
    title: object,
    points: object,
    description: object = "",
) -> int:
    if not isinstance(points, int) or isinstance(points, bool) or not 1 <= points <= 1_000_000:
        raise InvalidInput("points must be a whole number from 1 to 1000000")
    with uow:
        actor = _get(uow.session, User, actor_id, "user")
        if not actor.is_staff:
            raise Forbidden("only staff create tasks")
        process = _get(uow.session, Process, process_id, "process")
        task = Task(
            process_id=process.id,
            title=_required_text(title, "title", 200),
            description=description.strip() if isinstance(description, str) else "",
            points=points,
        )
        uow.session.add(task)
        uow.session.flush()
        uow.commit()
        return task.id


# --- contributions --------------------------------------------------------------------


def _evidence_url(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 2000:
        raise InvalidInput("evidence_url must be a URL of at most 2000 characters")
    parsed = urlparse(value.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput("evidence_url must be an http or https URL")
    return value.strip()


def submit_contribution(
    uow: UnitOfWork, *, member_id: int, task_id: object, text: object, evidence_url: object = None
) -> int:
    text = _required_text(text, "text", MAX_TEXT)
    url = _evidence_url(evidence_url)
    with uow:
        session = uow.session
        task = _get(session, Task, task_id, "task")
        if not task.open:
            raise Conflict(f"task {task.id} is closed for contributions")
        contribution = Contribution(task_id=task.id, member_id=member_id, text=text, evidence_url=url)
        session.add(contribution)
        session.flush()
        session.add(
            ContributionTransition(
                contribution_id=contribution.id,
                from_state=None,
                to_state=ContributionState.PENDING.value,
                actor_id=member_id,
            )
        )
        uow.publish(ContributionSubmitted(contribution.id, member_id))
        uow.commit()
        return contribution.id


def _load_for_decision(session: Session, validator_id: int, contribution_id: object) -> Contribution:
    validator = _get(session, User, validator_id, "user")
    if not validator.is_staff:
        raise Forbidden("only staff validate contributions")
    _get(session, Contribution, contribution_id, "contribution")
    # Lock the row (PostgreSQL; SQLite already holds the write lock) before reading state.
    contribution = session.scalars(
        select(Contribution)
        .where(Contribution.id == contribution_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if contribution.member_id == validator.id:
        raise Forbidden("nobody validates their own contribution")
    if contribution.state != ContributionState.PENDING:
        raise Conflict(f"contribution {contribution.id} is {contribution.state}, not pending")
    return contribution


def _decide(
    session: Session,
    contribution: Contribution,
    validator_id: int,
    state: ContributionState,
    comment: str | None,
) -> None:
    session.add(
        ContributionTransition(
            contribution_id=contribution.id,
            from_state=contribution.state,
            to_state=state.value,
            actor_id=validator_id,
            comment=comment,
        )
    )
    contribution.state = state.value
    contribution.decided_by_id = validator_id
    contribution.decided_at = utcnow()
    contribution.decision_comment = comment


def approve_contribution(
    uow: UnitOfWork, *, validator_id: int, contribution_id: object, comment: object = None
) -> int:
    """Approval, its ledger entry and its mint request commit together or not at all."""
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput("comment must be text")
    comment = (comment or "").strip()[:MAX_TEXT] or None
    with uow:
        session = uow.session
        contribution = _load_for_decision(session, validator_id, contribution_id)
        _decide(session, contribution, validator_id, ContributionState.APPROVED, comment)
        entry = record_entry(
            session,
            member_id=contribution.member_id,
            points=contribution.task.points,
            cause="contribution",
            source_key=f"contribution:{contribution.id}:approved",
            rule=TASK_POINTS_RULE,
            contribution_id=contribution.id,
            validator_id=validator_id,
        )
        uow.publish(
            ContributionApproved(contribution.id, contribution.member_id, validator_id, entry.id)
        )
        uow.publish(LedgerChanged((contribution.member_id,)))
        uow.commit()
        return entry.id


def reject_contribution(
    uow: UnitOfWork, *, validator_id: int, contribution_id: object, comment: object
) -> None:
    comment = _required_text(comment, "comment", MAX_TEXT)
    with uow:
        contribution = _load_for_decision(uow.session, validator_id, contribution_id)
        _decide(uow.session, contribution, validator_id, ContributionState.REJECTED, comment)
        uow.publish(ContributionRejected(contribution.id, contribution.member_id, validator_id))
        uow.commit()
