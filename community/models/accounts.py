"""Accounts and roles, API tokens, organisations, and the record of erased accounts."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.db import Base, utcnow


class Role(enum.StrEnum):
    MEMBER = "member"
    STAFF = "staff"
    AUDITOR = "auditor"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER.value)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    board_opt_out: Mapped[bool | None] = mapped_column()  # leaderboards (#6): hidden from others
    board_pseudonym: Mapped[str | None] = mapped_column(String(40))  # shown instead of display_name
    locale: Mapped[str | None] = mapped_column(String(8))  # chosen language; NULL: the browser decides
    # Part of every signed-in session's id: raising it ends every session signed with the old
    # value (a cookie copied before logout stops working; sessions are cookies, not rows).
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (
        CheckConstraint("role IN ('member', 'staff', 'auditor', 'admin')", name="role_known"),
    )

    # The session-user protocol Flask-Login expects, without importing Flask here.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.STAFF, Role.ADMIN)

    @property
    def is_auditor(self) -> bool:
        return self.role in (Role.AUDITOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class ApiToken(Base):
    """Bearer tokens for the JSON API and Socket.IO; only their SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class Erasure(Base):
    """A member erased under GDPR: personal data gone, the pseudonymous id and ledger kept."""

    __tablename__ = "erasures"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    erased_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    erased_by_id: Mapped[int | None] = mapped_column(Integer)
