"""Accounts: registering (what other packages keep per member, e.g. the custodial wallet, is
made by their handlers of ``MemberRegistered``), signing in with the same work for unknown
accounts, API tokens stored as hashes, roles and the chosen language."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.db import UnitOfWork, as_utc, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from community.events import (
    MemberRegistered,
)
from community.i18n import LANGUAGES, N_
from community.models import (
    ApiToken,
    Role,
    User,
)
from community.validation import get_row
from community.validation import text as checked_text

# argon2id at the OWASP minimum (19 MiB, t=2, p=1): ~34 ms here, a quarter of scrypt's.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = _hasher.hash("kopa-timing-equaliser")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MIN_PASSWORD = 10
TOKEN_TTL = dt.timedelta(days=30)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def register_member(
    uow: UnitOfWork,
    *,
    email: object,
    display_name: object,
    password: object,
    role: Role = Role.MEMBER,
) -> int:
    """A new account; what other packages keep per member (the custodial wallet) is made by
    their handlers of ``MemberRegistered``, in the same transaction."""
    email = checked_text(email, "email", 254).lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput("email is not a valid address")
    name = checked_text(display_name, "display name", 80)
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(N_("password must have at least %(min_password)s characters",
                              min_password=MIN_PASSWORD))
    if len(password) > 256:
        raise InvalidInput("password is longer than 256 characters")
    with uow:
        session = uow.session
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict("an account with this email already exists")
        user = User(email=email, display_name=name, password_hash=hash_password(password), role=role)
        session.add(user)
        session.flush()
        uow.publish(MemberRegistered(user.id))
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


def end_sessions(uow: UnitOfWork, user_id: int) -> None:
    """Logout: every page session of the member ends, on every device, including copies of
    the session cookie (they are signed, not stored, so the epoch in them is what expires)."""
    with uow:
        user = get_row(uow.session, User, user_id, "user")
        user.session_epoch += 1
        uow.commit()


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
        raise InvalidInput(N_("role must be one of %(values)s", values=', '.join(r.value for r in Role)))
    with uow:
        session = uow.session
        actor = get_row(session, User, actor_id, "user")
        if not actor.is_admin:
            raise Forbidden("only admins assign roles")
        user = get_row(session, User, user_id, "user")
        if user.id == actor.id and role != Role.ADMIN:
            admins = session.scalar(select(func.count()).where(User.role == Role.ADMIN.value))
            if admins <= 1:
                raise Conflict("the last admin cannot give up the admin role")
        user.role = str(role)
        uow.commit()


def set_locale(uow: UnitOfWork, *, user_id: int, locale: object) -> None:
    """The language a member reads pages and e-mail in; None leaves it to their browser."""
    if locale is not None and locale not in LANGUAGES:
        raise InvalidInput(N_("language must be one of %(languages)s", languages=", ".join(LANGUAGES)))
    with uow:
        user = get_row(uow.session, User, user_id, "user")
        user.locale = locale
        uow.commit()
