"""In-app notifications and their e-mail (booking #5 introduced them; #9 made them general).

Any feature calls ``notify`` inside its own transaction, so a notification exists only if the
work commits. In-app is always on; whether it is also e-mailed, at once or in the daily
digest, is decided there from the member's preferences (per category, with defaults). No
e-mail is ever sent inside a transaction: the web app hands committed notifications to
``send_immediate`` afterwards (``after_commit`` of its sessions) and ``kopa digest`` calls
``send_digests``. Both claim the rows they mail in a transaction of their own first, so a
notification is mailed at most once; a failing SMTP server leaves the in-app notification
alone and puts the claim back, to be retried (``retry_immediate``) or sent with the next digest.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from community.db import Database, UnitOfWork, as_utc, is_row_id, utcnow
from community.errors import InvalidInput, NotFound
from community.i18n import N_, NP_, Moment, translated
from community.models import User
from community.models.notifications import Notification, NotificationDigest, NotificationPreference

log = logging.getLogger(__name__)

IMMEDIATE, DIGEST = "immediate", "digest"
MODES = (IMMEDIATE, DIGEST)
# Notifications added in a session and not yet committed (read by the web app's after_commit).
PENDING_KEY = "kopa.notifications"
Send = Callable[[str, str, str], None]  # send(to, subject, body)


@dataclass(frozen=True)
class Category:
    """What a member sets preferences for; several notification kinds may share one."""

    key: str
    label: str
    email: bool  # default: also by e-mail
    mode: str  # default: immediately or in the daily digest


CATEGORIES = {
    c.key: c
    for c in (
        Category("contribution_decided", N_("A contribution of mine was decided (approved, rejected, "
                                            "changes asked for, revoked)"), True, IMMEDIATE),
        Category("points_minted", N_("My points were minted on chain"), True, DIGEST),
        Category("booking_reminder", N_("Booking reminders"), True, IMMEDIATE),
        Category("waitlist_offer", N_("A waitlist slot is offered to me"), True, IMMEDIATE),
        Category("redemption_fulfilled", N_("A redemption of mine was fulfilled"), True, IMMEDIATE),
        Category("booking_update", N_("Other booking news (approved, declined, cancelled, expired, "
                                      "no-show)"), True, IMMEDIATE),
    )
}


def category_of(kind: str) -> str | None:
    """The preference category of a notification kind (None: in-app only, never mailed)."""
    if kind in CATEGORIES:
        return kind
    if kind.startswith("contribution_"):
        return "contribution_decided"
    if kind.startswith("booking_"):
        return "booking_update"
    return None








# --- writing -----------------------------------------------------------------------------------


def notify(session: Session, user_id: int, kind: str, text: str, link: str | None = None) -> Notification:
    """Add a notification in the caller's transaction (it exists only if the work commits);
    the member's preference for its category says whether and when it is also e-mailed."""
    category = category_of(kind)
    email = None
    if category is not None:
        choice = session.get(NotificationPreference, (user_id, category))
        default = CATEGORIES[category]
        on, mode = (choice.email, choice.mode) if choice is not None else (default.email, default.mode)
        email = mode if on else None
    # Written in the recipient's chosen language (English when they chose none): the
    # notification centre and the e-mail show it as stored.
    recipient = session.get(User, user_id)
    text = translated(text, recipient.locale if recipient is not None else None)
    note = Notification(user_id=user_id, kind=kind[:40], text=text, link=link, email=email)
    session.add(note)
    session.info.setdefault(PENDING_KEY, []).append(note)
    return note


def committed_notifications(session: Session) -> list[Notification]:
    """What ``notify`` added since the last commit or rollback (and forget it)."""
    return [n for n in session.info.pop(PENDING_KEY, ()) if n.id is not None]


def forget_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def mark_read(uow: UnitOfWork, *, user_id: int, notification_id: object) -> Notification:
    """Mark one of the member's own notifications read; anyone else's is not found."""
    if not is_row_id(notification_id):
        raise NotFound("notification not found")
    with uow:
        note = uow.session.get(Notification, notification_id)
        if note is None or note.user_id != user_id:
            raise NotFound(N_("notification %(notification_id)s not found", notification_id=notification_id))
        if note.read_at is None:
            note.read_at = utcnow()
        uow.commit()
        return note


def mark_all_read(session: Session, user_id: int) -> int:
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return result.rowcount


# --- reading -----------------------------------------------------------------------------------


def unread_count(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def unread_counts(session: Session, user_ids: Iterable[int]) -> dict[int, int]:
    """Unread counts of several members in one query (members with none get 0)."""
    ids = sorted(set(user_ids))
    counts = dict.fromkeys(ids, 0)
    if ids:
        counts.update(
            session.execute(
                select(Notification.user_id, func.count())
                .where(Notification.user_id.in_(ids), Notification.read_at.is_(None))
                .group_by(Notification.user_id)
            ).all()
        )
    return counts


def recent(
    session: Session, user_id: int, limit: int = 50, *, unread_only: bool = False, before: int | None = None
) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before is not None:
        query = query.where(Notification.id < before)
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


# --- preferences -------------------------------------------------------------------------------


def preferences(session: Session, user_id: int) -> dict[str, dict]:
    """Every category with the member's choice or the default: {category: {label, in_app,
    email, mode}}."""
    chosen = {
        p.category: p
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user_id)
        )
    }
    result = {}
    for key, category in CATEGORIES.items():
        choice = chosen.get(key)
        result[key] = {
            "label": category.label,
            "in_app": True,
            "email": choice.email if choice else category.email,
            "mode": choice.mode if choice else category.mode,
        }
    return result


def set_preferences(uow: UnitOfWork, *, user_id: int, changes: object) -> dict[str, dict]:
    """Change some categories: ``{category: {email?: bool, mode?: "immediate"|"digest"}}``.
    All or nothing; in-app cannot be switched off. Turning e-mail off for a category also
    drops its notifications still waiting to be mailed (so the next digest leaves them out)."""
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("send an object of categories, e.g. {\"points_minted\": {\"mode\": \"digest\"}}")
    parsed: dict[str, tuple[bool | None, str | None]] = {}
    for key, change in changes.items():
        if key not in CATEGORIES:
            raise InvalidInput(N_("unknown category %(key)r; one of %(categories)s",
                                  key=key, categories=', '.join(CATEGORIES)))
        if not isinstance(change, dict):
            raise InvalidInput(N_("%(key)s: must be an object with email and/or mode", key=key))
        unknown = set(change) - {"email", "mode", "in_app", "label"}
        if unknown:
            raise InvalidInput(N_("%(key)s: unknown field %(unknown)r", key=key, unknown=sorted(unknown)[0]))
        if "in_app" in change and change["in_app"] is not True:
            raise InvalidInput(N_("%(key)s: in-app notifications are always on", key=key))
        email, mode = change.get("email"), change.get("mode")
        if email is not None and not isinstance(email, bool):
            raise InvalidInput(N_("%(key)s.email must be true or false", key=key))
        if mode is not None and mode not in MODES:
            raise InvalidInput(N_("%(key)s.mode must be one of %(modes)s", key=key, modes=', '.join(MODES)))
        parsed[key] = (email, mode)
    with uow:
        session = uow.session
        current = preferences(session, user_id)
        for key, (email, mode) in parsed.items():
            row = session.get(NotificationPreference, (user_id, key))
            if row is None:
                row = NotificationPreference(user_id=user_id, category=key)
                session.add(row)
            row.email = current[key]["email"] if email is None else email
            row.mode = current[key]["mode"] if mode is None else mode
            if not row.email:
                kinds = [k for k in _pending_kinds(session, user_id) if category_of(k) == key]
                if kinds:
                    session.execute(
                        update(Notification)
                        .where(
                            Notification.user_id == user_id,
                            Notification.kind.in_(kinds),
                            Notification.email.is_not(None),
                            Notification.emailed_at.is_(None),
                        )
                        .values(email=None)
                    )
        session.flush()
        result = preferences(session, user_id)
        uow.commit()
        return result


def _pending_kinds(session: Session, user_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Notification.kind)
            .where(
                Notification.user_id == user_id,
                Notification.email.is_not(None),
                Notification.emailed_at.is_(None),
            )
            .distinct()
        )
    )


# --- e-mail ------------------------------------------------------------------------------------


UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class MailSettings:
    site_url: str = ""
    tz: ZoneInfo = UTC


def _address(user) -> str | None:
    """Where to mail a member: nobody erased or deactivated."""
    if user is None or not user.active or not user.email or "@" not in user.email:
        return None
    return user.email


def local_text(value: dt.datetime, tz: ZoneInfo) -> Moment:
    local = as_utc(value).astimezone(tz)
    return Moment(local.strftime("%a %d %b %Y %H:%M"), local, "datetime", tz=tz)


def _footer(settings: MailSettings, locale: str | None = None) -> str:
    url = settings.site_url
    centre = N_("Your notifications: %(url)s", url=f"{url}/notifications")
    choices = N_("Choose what Kopa e-mails you: %(url)s", url=f"{url}/notifications/preferences")
    return f"\n--\n{translated(centre, locale)}\n{translated(choices, locale)}\n"


def compose(
    notes: list[Notification], settings: MailSettings, *, digest: bool = False, locale: str | None = None
) -> tuple[str, str]:
    """Subject and plain-text body for one member's notifications, in ``locale`` (the member's
    chosen language; the notifications themselves were written in it)."""
    if digest:
        subject = translated(NP_("Kopa: your daily digest (%(num)s notification)",
                                 "Kopa: your daily digest (%(num)s notifications)", len(notes)), locale)
        lines = [translated(N_("What happened on Kopa since your last digest:"), locale), ""]
    elif len(notes) == 1:
        first = notes[0].text.split(". ")[0].rstrip(".")
        subject = "Kopa: " + (first if len(first) <= 70 else first[:69] + "…")
        lines = []
    else:
        subject = translated(N_("Kopa: %(count)s new notifications", count=len(notes)), locale)
        lines = []
    for note in notes:
        stamped = digest or len(notes) > 1
        stamp = f"{translated(local_text(note.created_at, settings.tz), locale)}  " if stamped else ""
        lines.append(f"{stamp}{note.text}")
        if note.link:
            lines.append(f"    {settings.site_url}{note.link}")
        lines.append("")
    return subject, "\n".join(lines) + _footer(settings, locale)


def _claim(session: Session, query) -> list[Notification]:
    """Lock and return rows to mail (rows another sender holds are skipped)."""
    return list(session.scalars(query.order_by(Notification.id).with_for_update(skip_locked=True)))


def _release_claim(
    db: Database, ids: list[int], error: str | None = None, digest_id: int | None = None
) -> None:
    with db.write_sessions() as session, session.begin():
        session.execute(
            update(Notification).where(Notification.id.in_(ids)).values(emailed_at=None, digest_id=None)
        )
        if digest_id is not None:
            digest = session.get(NotificationDigest, digest_id)
            digest.error = (error or "failed")[:500]


def send_immediate(db: Database, ids: Iterable[int], send: Send, settings: MailSettings) -> int:
    """Mail the given committed notifications that are to be mailed at once, one e-mail per
    member. Each is claimed first (``emailed_at``), so a second sender skips it; a failure
    puts the claim back. Returns how many e-mails the server accepted."""
    ids = sorted(set(ids))
    if not ids:
        return 0
    now = utcnow()
    with db.write_sessions() as session, session.begin():
        notes = _claim(
            session,
            select(Notification).where(
                Notification.id.in_(ids), Notification.email == IMMEDIATE, Notification.emailed_at.is_(None)
            ),
        )
        by_user: dict[int, list[Notification]] = defaultdict(list)
        for note in notes:
            note.emailed_at = now
            note.mail_attempts += 1
            by_user[note.user_id].append(note)
        members = list(session.scalars(select(User).where(User.id.in_(by_user))))
        addresses = {u.id: _address(u) for u in members}
        locales = {u.id: u.locale for u in members}
    sent = 0
    for user_id, mine in by_user.items():
        to = addresses.get(user_id)
        if to is None:
            continue  # erased or deactivated: stays claimed, never mailed
        subject, body = compose(mine, settings, locale=locales.get(user_id))
        try:
            send(to, subject, body)
            sent += 1
        except Exception as exc:  # the in-app notification stays; the mail is tried again later
            log.warning("notification e-mail to member %s failed (%s); will retry", user_id, exc)
            _release_claim(db, [n.id for n in mine])
    return sent


def retry_immediate(
    db: Database,
    send: Send,
    settings: MailSettings,
    *,
    now: dt.datetime | None = None,
    max_attempts: int = 3,
    within: dt.timedelta = dt.timedelta(days=1),
) -> int:
    """Send again immediate e-mails whose sending failed (up to ``max_attempts``, only for
    notifications of the last day: an old notice is better left to the notification centre)."""
    now = now or utcnow()
    with db.read_sessions() as session:
        ids = list(
            session.scalars(
                select(Notification.id).where(
                    Notification.email == IMMEDIATE,
                    Notification.emailed_at.is_(None),
                    Notification.mail_attempts >= 1,
                    Notification.mail_attempts < max_attempts,
                    Notification.created_at >= now - within,
                )
            )
        )
    return send_immediate(db, ids, send, settings) if ids else 0


def digest_moment(now: dt.datetime, hour: int, tz: ZoneInfo) -> dt.datetime:
    """The latest daily digest time (``hour`` o'clock local) at or before ``now``."""
    local = as_utc(now).astimezone(tz)
    moment = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if moment > local:
        moment = (local - dt.timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment.astimezone(dt.UTC)


def send_digests(
    db: Database,
    send: Send,
    settings: MailSettings,
    *,
    now: dt.datetime | None = None,
    due_since: dt.datetime | None = None,
) -> int:
    """One digest e-mail per member with notifications waiting for it, never an empty one.
    With ``due_since`` (the daily run) a member who already had a digest since then is left
    for the next day. The rows a digest carries are claimed with it before it is sent, so
    two runs never send them twice; a failed send puts them back for the next digest."""
    now = now or utcnow()
    with db.read_sessions() as session:
        members = list(
            session.scalars(
                select(Notification.user_id)
                .where(Notification.email == DIGEST, Notification.emailed_at.is_(None))
                .distinct()
                .order_by(Notification.user_id)
            )
        )
    sent = 0
    for user_id in members:
        with db.write_sessions() as session, session.begin():
            if due_since is not None and session.scalar(
                select(func.count()).where(
                    NotificationDigest.user_id == user_id,
                    NotificationDigest.created_at >= due_since,
                    NotificationDigest.error.is_(None),
                )
            ):
                continue
            notes = _claim(
                session,
                select(Notification).where(
                    Notification.user_id == user_id,
                    Notification.email == DIGEST,
                    Notification.emailed_at.is_(None),
                ),
            )
            if not notes:
                continue  # another run took them: never an empty digest
            member = session.get(User, user_id)
            to = _address(member)
            if to is None:  # erased or deactivated: nothing is mailed to them any more
                for note in notes:
                    note.email = None
                continue
            digest = NotificationDigest(user_id=user_id, count=len(notes), created_at=now)
            session.add(digest)
            session.flush()
            for note in notes:
                note.emailed_at = now
                note.digest_id = digest.id
                note.mail_attempts += 1
            digest_id = digest.id
            subject, body = compose(notes, settings, digest=True, locale=member.locale)
        try:
            send(to, subject, body)
        except Exception as exc:
            log.warning("digest e-mail to member %s failed (%s); kept for the next digest", user_id, exc)
            _release_claim(db, [n.id for n in notes], str(exc), digest_id)
            continue
        with db.write_sessions() as session, session.begin():
            session.get(NotificationDigest, digest_id).sent_at = utcnow()
        sent += 1
    return sent


def smtp_sender(url: str, sender: str = "kopa@localhost") -> Send:
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
