"""Reminders of upcoming bookings: one in-app notification per confirmed booking shortly before
it starts, and an e-mail of it when mail is configured (the `kopa reminders` command)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select

from booking.loading import resolve_now
from booking.models import Booking, State
from booking.notices import duration, link
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.timeutil import span_text, utc
from community.db import UnitOfWork
from community.i18n import N_, translated
from community.notifications import notify

log = logging.getLogger(__name__)


def send_due_reminders(
    uow: UnitOfWork,
    now: dt.datetime | None = None,
    *,
    policy: BookingPolicy = DEFAULT_POLICY,
    send_mail: Callable[[str, str, str], None] | None = None,
    site_url: str = "",
) -> int:
    """One in-app reminder per upcoming booking (and an e-mail when ``send_mail`` is given,
    i.e. SMTP is configured). Mails go out after the commit: at most once, never twice."""
    now = resolve_now(now)
    mails = []
    with uow:
        session = uow.session
        due = session.scalars(
            select(Booking)
            .where(
                Booking.state == State.CONFIRMED.value,
                Booking.reminded_at.is_(None),
                Booking.starts_at > now,
                Booking.starts_at <= now + policy.reminder_before,
            )
            .order_by(Booking.starts_at)
            .with_for_update(skip_locked=True)
        ).all()
        for booking in due:
            when = span_text(utc(booking.starts_at), utc(booking.ends_at), policy.tz)
            text = N_(
                "Reminder: %(name)s, %(when)s. Check in with code %(code)s from %(before)s before the start.",
                name=booking.resource.name, when=when, code=booking.code,
                before=duration(int(policy.checkin_before.total_seconds() // 60)),
            )
            note = notify(session, booking.member_id, "booking_reminder", text, link(booking))
            booking.reminded_at = now
            subject = N_("Kopa: %(name)s %(when)s", name=booking.resource.name, when=when)
            mails.append(
                (
                    booking.member.email,
                    translated(subject, booking.member.locale),  # the member's language, as the note
                    f"{note.text}\n\n{site_url}{link(booking)}\n",
                )
            )
        uow.commit()
    if send_mail is not None:
        for to, subject, body in mails:
            try:
                send_mail(to, subject, body)
            except Exception:  # one bad address or a down server must not stop the rest
                log.exception("reminder e-mail to booking member failed")
    return len(mails)
