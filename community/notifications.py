"""In-app notifications: a short text and a link for one user, read on the site (and mailed
when a feature asks for it and SMTP is configured). Booking (#5) introduced it; any feature
may call ``notify`` inside its own transaction."""

from __future__ import annotations

import datetime as dt
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

from sqlalchemy import DateTime, ForeignKey, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from community.db import Base, utcnow


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


def notify(session: Session, user_id: int, kind: str, text: str, link: str | None = None) -> Notification:
    """Add a notification in the caller's transaction (it exists only if the work commits)."""
    note = Notification(user_id=user_id, kind=kind[:40], text=text, link=link)
    session.add(note)
    return note


def unread_count(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def recent(session: Session, user_id: int, limit: int = 50) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


def mark_all_read(session: Session, user_id: int) -> None:
    session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )


def smtp_sender(url: str, sender: str = "kopa@localhost"):
    """A ``send(to, subject, body)`` for ``smtp://user:password@host:port`` (``smtps://`` for
    TLS from the start; ``smtp`` upgrades with STARTTLS when the server offers it)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("smtp", "smtps") or not parsed.hostname:
        raise ValueError("KOPA_SMTP_URL must look like smtp://user:password@host:port")

    def send(to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        smtp_class = smtplib.SMTP_SSL if parsed.scheme == "smtps" else smtplib.SMTP
        with smtp_class(
            parsed.hostname, parsed.port or (465 if parsed.scheme == "smtps" else 25), timeout=20
        ) as smtp:
            smtp.ehlo()
            if parsed.scheme == "smtp" and smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            if parsed.username:
                smtp.login(unquote(parsed.username), unquote(parsed.password or ""))
            smtp.send_message(message)

    return send
