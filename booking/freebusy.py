"""Free and busy times of a resource: its open hours in a range, the busy times (never whose),
blackouts and the free intervals one can book, and the day or week grid of the calendar page."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.loading import get_resource, resolve_now
from booking.models import Blackout, Booking, Resource, State
from booking.opening import opening_intervals, subtract
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.slots import BLOCKING_VALUES
from booking.timeutil import overlaps, parse_instant, utc
from community.errors import InvalidInput
from community.i18n import N_


def _effective_blocking(booking: Booking, now: dt.datetime, policy: BookingPolicy) -> bool:
    """Whether a row holds its slot now, counting holds and no-shows the sweep has not reached."""
    if booking.state in (State.PENDING, State.OFFERED):
        return booking.expires_at is None or utc(booking.expires_at) > now
    if booking.state == State.CONFIRMED:
        return utc(booking.starts_at) + policy.checkin_after > now
    return booking.state == State.CHECKED_IN


def _earliest(resource: Resource, now: dt.datetime, policy: BookingPolicy) -> dt.datetime:
    """The first grid point that satisfies the lead time."""
    t = (now + dt.timedelta(minutes=resource.lead_minutes)).astimezone(policy.tz)
    midnight = dt.datetime.combine(t.date(), dt.time(0), tzinfo=policy.tz)
    minutes = (
        math.ceil((t - midnight) / dt.timedelta(minutes=1) / resource.slot_minutes) * resource.slot_minutes
    )
    return (midnight + dt.timedelta(minutes=minutes)).astimezone(dt.UTC)


@dataclass
class Availability:
    resource: Resource
    start: dt.datetime
    end: dt.datetime
    open: list[tuple[dt.datetime, dt.datetime]]
    busy: list[tuple[dt.datetime, dt.datetime, str, bool]]  # start, end, state, is_mine
    closed: list[tuple[dt.datetime, dt.datetime, str]]  # blackouts with their reason
    free: list[tuple[dt.datetime, dt.datetime]]


def availability(
    session: Session,
    *,
    resource_id: object,
    start: object,
    end: object,
    now: dt.datetime | None = None,
    member_id: int | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> Availability:
    """Open hours, busy times (no names) and the free intervals one can book in a range."""
    now = resolve_now(now)
    starts_at, ends_at = parse_instant(start, "from"), parse_instant(end, "to")
    if starts_at >= ends_at:
        raise InvalidInput("'to' must be after 'from'")
    if ends_at - starts_at > policy.max_range:
        raise InvalidInput(N_("ask for at most %(days)s days at a time", days=policy.max_range.days))
    resource = get_resource(session, resource_id)
    opening = opening_intervals(resource, starts_at, ends_at, policy)
    rows = session.scalars(
        select(Booking)
        .where(
            Booking.resource_id == resource.id,
            Booking.state.in_(BLOCKING_VALUES),
            Booking.starts_at < ends_at,
            Booking.ends_at > starts_at,
        )
        .order_by(Booking.starts_at)
    ).all()
    busy = [
        (max(utc(b.starts_at), starts_at), min(utc(b.ends_at), ends_at), b.state, b.member_id == member_id)
        for b in rows
        if _effective_blocking(b, now, policy)
    ]
    blackouts = session.scalars(
        select(Blackout)
        .where(
            Blackout.resource_id == resource.id, Blackout.starts_at < ends_at, Blackout.ends_at > starts_at
        )
        .order_by(Blackout.starts_at)
    ).all()
    closed = [(max(utc(b.starts_at), starts_at), min(utc(b.ends_at), ends_at), b.reason) for b in blackouts]
    past = [(starts_at, min(_earliest(resource, now, policy), ends_at))] if starts_at < ends_at else []
    holes = [(s, e) for s, e, *_ in busy] + [(s, e) for s, e, _ in closed] + [p for p in past if p[0] < p[1]]
    free = subtract(opening, holes)
    return Availability(resource, starts_at, ends_at, opening, busy, closed, free)


@dataclass
class Cell:
    start: dt.datetime
    end: dt.datetime
    status: str  # closed | past | free | busy | pending | mine | blackout


def calendar_days(
    session: Session,
    *,
    resource_id: object,
    first_day: dt.date,
    days: int,
    now: dt.datetime | None = None,
    member_id: int | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> tuple[Resource, list[dt.date], list[dt.time], list[list[Cell]]]:
    """A day or week grid of slots for the calendar page: rows are times, columns days."""
    now = resolve_now(now)
    if not 1 <= days <= 7:
        raise InvalidInput("the calendar shows 1 to 7 days")
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=policy.tz)
    end = dt.datetime.combine(first_day + dt.timedelta(days=days), dt.time(0), tzinfo=policy.tz)
    avail = availability(
        session, resource_id=resource_id, start=start, end=end, now=now, member_id=member_id, policy=policy
    )
    resource = avail.resource
    dates = [first_day + dt.timedelta(days=i) for i in range(days)]
    step = dt.timedelta(minutes=resource.slot_minutes)
    times = _grid_times(resource, first_day, step)
    earliest = _earliest(resource, now, policy)
    rows = []
    for time_ in times:
        row = []
        for day in dates:
            s = dt.datetime.combine(day, time_, tzinfo=policy.tz).astimezone(dt.UTC)
            e = s + step
            row.append(Cell(s, e, _cell_status(avail, s, e, earliest)))
        rows.append(row)
    return resource, dates, times, rows


def _grid_times(resource: Resource, first_day: dt.date, step: dt.timedelta) -> list[dt.time]:
    """The rows of the grid: every slot from the earliest opening to the latest closing."""
    if resource.hours:
        first_open = min(h.opens for h in resource.hours)
        last_close = max(h.closes for h in resource.hours)
    else:
        first_open, last_close = dt.time(8), dt.time(20)
    times = []
    t = dt.datetime.combine(first_day, first_open)
    limit = dt.datetime.combine(first_day, last_close)
    while t < limit:
        times.append(t.time())
        t += step
    return times


def _cell_status(avail: Availability, s: dt.datetime, e: dt.datetime, earliest: dt.datetime) -> str:
    if not any(o <= s and e <= c for o, c in avail.open):
        return "closed"
    if any(overlaps(s, e, bs, be) for bs, be, _ in avail.closed):
        return "blackout"
    hit = [b for b in avail.busy if overlaps(s, e, b[0], b[1])]
    if hit:
        if any(b[3] for b in hit):
            return "mine"
        return "pending" if all(b[2] in (State.PENDING, State.OFFERED) for b in hit) else "busy"
    return "past" if s < earliest else "free"
