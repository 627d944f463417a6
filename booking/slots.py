"""A slot of a resource: the rules its time must meet (length, grid, lead time, horizon,
opening hours), blackouts, the booking that already blocks it, and claiming it with an insert
that turns a lost race (PostgreSQL's exclusion constraint) into SlotTaken."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.errors import SlotTaken
from booking.models import BLOCKING, Blackout, Booking, Resource
from booking.notices import duration
from booking.opening import clock
from booking.policy import BookingPolicy
from booking.timeutil import moment, span_text, utc
from community.errors import Conflict, InvalidInput
from community.i18n import N_

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud at a desk
CODE_LENGTH = 6
BLOCKING_VALUES = tuple(s.value for s in BLOCKING)
EXCLUSION_VIOLATION = "23P01"


def check_slot_rules(
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    policy: BookingPolicy,
) -> None:
    """Length, grid, lead time, horizon and opening hours (400 with the rule broken)."""
    if start >= end:
        raise InvalidInput("a booking must end after it starts")
    minutes = (end - start) / dt.timedelta(minutes=1)
    if minutes < resource.min_minutes:
        raise InvalidInput(N_("%(name)s is booked for at least %(min_minutes)s minutes",
                              name=resource.name, min_minutes=resource.min_minutes))
    if minutes > resource.max_minutes:
        raise InvalidInput(N_("%(name)s is booked for at most %(max_minutes)s minutes",
                              name=resource.name, max_minutes=resource.max_minutes))
    s, e = start.astimezone(policy.tz), end.astimezone(policy.tz)
    for t in (s, e):
        if t.second or t.microsecond or (t.hour * 60 + t.minute) % resource.slot_minutes:
            raise InvalidInput(
                N_("%(name)s is booked in %(slot)s-minute slots: start and end on the grid "
                   "(e.g. %(example)s)", name=resource.name, slot=resource.slot_minutes,
                   example=moment(s.replace(minute=0, second=0, microsecond=0), policy.tz, "time"))
            )
    if start < now + dt.timedelta(minutes=resource.lead_minutes):
        raise InvalidInput(
            N_("%(name)s must be booked at least %(lead_minutes)s ahead",
               name=resource.name, lead_minutes=duration(resource.lead_minutes))
        )
    if start > now + dt.timedelta(days=resource.horizon_days):
        raise InvalidInput(N_("%(name)s can be booked at most %(horizon_days)s days ahead",
                              name=resource.name, horizon_days=resource.horizon_days))
    _check_opening_hours(resource, s, e, policy)


def _check_opening_hours(resource: Resource, s: dt.datetime, e: dt.datetime, policy: BookingPolicy) -> None:
    """The slot (local start ``s`` and end ``e``) lies on one day inside one opening interval."""
    if s.date() != e.date() and not (e.time() == dt.time(0) and e.date() == s.date() + dt.timedelta(days=1)):
        raise InvalidInput("a booking must start and end on the same day")
    intervals = [(h.opens, h.closes) for h in resource.hours if h.weekday == s.weekday()]
    if not intervals:
        raise InvalidInput(N_("%(name)s is closed on %(day)ss", name=resource.name,
                              day=moment(s, policy.tz, "weekday")))
    end_time = e.time() if e.date() == s.date() else dt.time.max
    if not any(o <= s.time() and end_time <= c for o, c in intervals):
        hours = ", ".join(f"{clock(o)}–{clock(c)}" for o, c in intervals)
        raise InvalidInput(N_("%(name)s is open %(hours)s on %(day)ss", name=resource.name, hours=hours,
                              day=moment(s, policy.tz, "weekday")))


def _blackout_in(
    session: Session, resource: Resource, start: dt.datetime, end: dt.datetime
) -> Blackout | None:
    return session.scalars(
        select(Blackout)
        .where(Blackout.resource_id == resource.id, Blackout.starts_at < end, Blackout.ends_at > start)
        .order_by(Blackout.starts_at)
        .limit(1)
    ).first()


def check_blackouts(
    session: Session, resource: Resource, start: dt.datetime, end: dt.datetime, policy: BookingPolicy
) -> None:
    blackout = _blackout_in(session, resource, start, end)
    if blackout is not None:
        why = f" ({blackout.reason})" if blackout.reason else ""
        when = span_text(utc(blackout.starts_at), utc(blackout.ends_at), policy.tz)
        raise Conflict(N_("%(name)s is closed %(when)s%(why)s", name=resource.name, when=when, why=why))


def blocking_overlap(
    session: Session, resource_id: int, start: dt.datetime, end: dt.datetime, *, exclude: int | None = None
) -> Booking | None:
    query = select(Booking).where(
        Booking.resource_id == resource_id,
        Booking.state.in_(BLOCKING_VALUES),
        Booking.starts_at < end,
        Booking.ends_at > start,
    )
    if exclude is not None:
        query = query.where(Booking.id != exclude)
    return session.scalars(query.order_by(Booking.starts_at).limit(1)).first()


def slot_taken(
    resource: Resource, other: Booking | None, start: dt.datetime, end: dt.datetime, policy: BookingPolicy
) -> SlotTaken:
    if other is not None:
        start, end = utc(other.starts_at), utc(other.ends_at)
    return SlotTaken(N_("%(name)s is already booked %(start)s",
                        name=resource.name, start=span_text(start, end, policy.tz)))


def new_code(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalar(select(Booking.id).where(Booking.code == code)) is None:
            return code


def insert_booking(session: Session, booking: Booking, resource: Resource, policy: BookingPolicy) -> None:
    """Insert inside a savepoint; PostgreSQL's exclusion constraint turns a lost race into
    SlotTaken naming the winner's time (read after the winner committed)."""
    try:
        with session.begin_nested():
            session.add(booking)
            session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
            raise
        start, end = utc(booking.starts_at), utc(booking.ends_at)
        other = blocking_overlap(session, resource.id, start, end)
        raise slot_taken(resource, other, start, end, policy) from None
