"""Notifications in the app and by e-mail, the digests that gather them, and members'
choices per category."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from community.db import Base, utcnow


class NotificationDigest(Base):
    """One digest e-mail: claimed (``created_at``), then sent or failed (``error``)."""

    __tablename__ = "notification_digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # How it is mailed, fixed when it is made: immediate, digest or NULL (in-app only).
    email: Mapped[str | None] = mapped_column(String(10))
    emailed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # claimed for sending
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("notification_digests.id"))

    __table_args__ = (
        CheckConstraint("email IN ('immediate', 'digest')", name="email_known"),
        Index("ix_notifications_mail_pending", "email", "emailed_at"),
    )


class NotificationPreference(Base):
    """A member's choice for one category; absent rows mean the category's defaults."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean)
    mode: Mapped[str] = mapped_column(String(10))

    __table_args__ = (CheckConstraint("mode IN ('immediate', 'digest')", name="mode_known"),)
