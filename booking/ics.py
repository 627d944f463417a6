"""Calendar feeds: a member's own bookings behind a secret URL, and a public feed per resource
that carries times only (no names, no codes, no notes)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import BLOCKING, Booking, FeedKey, Resource, State
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.timeutil import utc
from community.db import UnitOfWork, utcnow
from community.models import User

PAST = dt.timedelta(days=30)
AHEAD = dt.timedelta(days=180)
BLOCKING_VALUES = tuple(s.value for s in BLOCKING)


def _signature(secret: str, user_id: int, version: int) -> str:
    return hmac.new(secret.encode(), f"kopa-ics/{user_id}/{version}".encode(), hashlib.sha256).hexdigest()[
        :40
    ]


def feed_token(session: Session, secret: str, user_id: int) -> str:
    key = session.get(FeedKey, user_id)
    version = key.version if key is not None else 1
    return f"{user_id}-{version}-{_signature(secret, user_id, version)}"


def rotate_feed(uow: UnitOfWork, *, secret: str, user_id: int) -> str:
    """A new secret URL; the old one stops working."""
    with uow:
        key = uow.session.get(FeedKey, user_id)
        if key is None:
            key = FeedKey(user_id=user_id, version=2)
            uow.session.add(key)
        else:
            key.version += 1
        uow.session.flush()
        token = f"{user_id}-{key.version}-{_signature(secret, user_id, key.version)}"
        uow.commit()
        return token


def user_for_feed(session: Session, secret: str, token: object) -> User | None:
    if not isinstance(token, str) or len(token) > 100:
        return None
    parts = token.split("-")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(parts[0]) > 18:
        return None
    user_id, version = int(parts[0]), int(parts[1])
    key = session.get(FeedKey, user_id)
    if version != (key.version if key is not None else 1):
        return None
    if not hmac.compare_digest(parts[2], _signature(secret, user_id, version)):
        return None
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Kopa//Booking//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    return cal


def member_feed(
    session: Session,
    user: User,
    *,
    site_url: str = "",
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> bytes:
    now = now or utcnow()
    rows = session.scalars(
        select(Booking)
        .where(
            Booking.member_id == user.id,
            Booking.ends_at > now - PAST,
            Booking.starts_at < now + AHEAD,
            Booking.state.in_(BLOCKING_VALUES),
        )
        .order_by(Booking.starts_at)
    ).all()
    cal = _calendar("Kopa bookings")
    stamp = now
    for b in rows:
        event = Event()
        event.add("uid", f"booking-{b.id}@kopa")
        event.add("dtstamp", stamp)
        event.add("dtstart", utc(b.starts_at))
        event.add("dtend", utc(b.ends_at))
        event.add(
            "summary", f"{b.resource.name}" + (" (awaiting approval)" if b.state == State.PENDING else "")
        )
        if b.resource.location:
            event.add("location", b.resource.location)
        event.add("status", "TENTATIVE" if b.state in (State.PENDING, State.OFFERED) else "CONFIRMED")
        event.add("description", f"Check-in code: {b.code}")
        if site_url:
            event.add("url", f"{site_url}/booking/bookings/{b.id}")
        cal.add_component(event)
    return cal.to_ical()


def resource_feed(session: Session, resource: Resource, *, now: dt.datetime | None = None) -> bytes:
    """Busy times of one resource: no member, no code, no booking id in the UID."""
    now = now or utcnow()
    rows = session.execute(
        select(Booking.starts_at, Booking.ends_at)
        .where(
            Booking.resource_id == resource.id,
            Booking.ends_at > now - PAST,
            Booking.starts_at < now + AHEAD,
            Booking.state.in_(BLOCKING_VALUES),
        )
        .order_by(Booking.starts_at)
    ).all()
    cal = _calendar(f"{resource.name} (busy times)")
    for starts_at, ends_at in rows:
        start, end = utc(starts_at), utc(ends_at)
        event = Event()
        digest = hashlib.sha256(f"{resource.id}/{start.isoformat()}/{end.isoformat()}".encode()).hexdigest()[
            :24
        ]
        event.add("uid", f"busy-{digest}@kopa")
        event.add("dtstamp", now)
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", "Busy")
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    return cal.to_ical()
