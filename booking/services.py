"""Booking use cases. Each public function takes a unit of work (or, for reads, a session),
checks the actor's role and ownership itself, and commits once.

Conflicts are impossible by construction: on SQLite the write transaction is taken up front
(``BEGIN IMMEDIATE``), so the overlap check and the insert cannot interleave with another
booking; on PostgreSQL the exclusion constraint refuses the second of two overlapping inserts
and the loser gets ``SlotTaken`` (409) naming the slot's time, never the other member.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.errors import BookingSuspended, QuotaExceeded, SlotTaken, TooLate
from booking.models import (
    BLOCKING,
    Blackout,
    Booking,
    BookingSeries,
    Kind,
    OpeningHours,
    Resource,
    ResourceGroup,
    State,
    Suspension,
    WaitlistEntry,
    WaitState,
)
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.timeutil import moment, overlaps, parse_instant, span_text, utc
from community.db import UnitOfWork, is_row_id, utcnow
from community.errors import Conflict, Forbidden, InsufficientCredits, InvalidInput, NotFound
from community.events import LedgerChanged
from community.i18n import N_, NP_, Moment, Msg, translated
from community.models import User
from community.notifications import notify
from community.validation import get_row
from community.validation import text as checked_text
from rewards import loyalty, scoring
from rewards.ledger import lock_wallet, refund_credits, spend_credits, spendable_credits

log = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud at a desk
CODE_LENGTH = 6
ATTENDANCE_RULE = ("attendance-hours", 1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BLOCKING_VALUES = tuple(s.value for s in BLOCKING)
EXCLUSION_VIOLATION = "23P01"
END_OF_DAY = dt.time.max  # "24:00": open until midnight


def clock(t: dt.time) -> str:
    return "24:00" if t == END_OF_DAY else t.strftime("%H:%M")


@dataclass
class BookingResult:
    id: int
    state: str
    credits: int
    code: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    refunded: bool = False


@dataclass
class SeriesResult:
    series_id: int
    bookings: list[BookingResult]
    skipped: list[tuple[dt.date, str]] = field(default_factory=list)

    @property
    def credits(self) -> int:
        return sum(b.credits for b in self.bookings)


def _now(now: dt.datetime | None) -> dt.datetime:
    return utcnow() if now is None else parse_instant(now, "now")


def _result(b: Booking) -> BookingResult:
    return BookingResult(
        b.id, b.state, b.credits, b.code, utc(b.starts_at), utc(b.ends_at), b.refund_entry_id is not None
    )


# --- loading ----------------------------------------------------------------------------


def _locked_user(session: Session, user_id: object) -> User:
    """The acting member's row, locked on PostgreSQL: one member's bookings are checked
    against quotas and credits one at a time (SQLite writers are serialised anyway)."""
    if not is_row_id(user_id):
        raise NotFound("user not found")
    user = session.scalars(select(User).where(User.id == user_id).with_for_update()).one_or_none()
    if user is None or not user.active:
        raise NotFound(N_("user %(user_id)s not found", user_id=user_id))
    return user


def _locked_booking(session: Session, booking_id: object) -> Booking:
    if not is_row_id(booking_id):
        raise NotFound("booking not found")
    booking = session.scalars(
        select(Booking)
        .where(Booking.id == booking_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if booking is None:
        raise NotFound(N_("booking %(booking_id)s not found", booking_id=booking_id))
    return booking


def _resource(session: Session, resource_id: object, *, bookable: bool = True) -> Resource:
    resource = get_row(session, Resource, resource_id, "resource")
    if bookable and not resource.active:
        raise NotFound(N_("resource %(resource_id)s is not bookable", resource_id=resource_id))
    return resource


def get_resource(session: Session, resource_id: object) -> Resource:
    """A bookable (active) resource or NotFound."""
    return _resource(session, resource_id)


def _staff(session: Session, actor_id: object, what: str) -> User:
    actor = get_row(session, User, actor_id, "user")
    if not actor.is_staff:
        raise Forbidden(N_("only staff %(what)s", what=Msg(what)))  # what: the _staff:3 keyword
    return actor


# --- resources (staff) ------------------------------------------------------------------

_HOURS_RE = re.compile(
    r"^\s*(?P<d1>[a-z]{3})(?:\s*-\s*(?P<d2>[a-z]{3}))?\s+(?P<o>\d{1,2}:\d{2})\s*-\s*(?P<c>\d{1,2}:\d{2})\s*$"
)


def parse_hours(text: object) -> list[tuple[int, dt.time, dt.time]]:
    """Opening hours written as 'Mon-Fri 08:00-20:00; Sat 10:00-14:00' (local time)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("opening hours must not be empty, e.g. 'Mon-Sat 08:00-20:00'")
    result = []
    for part in re.split(r"[;\n]+", text.lower()):
        if not part.strip():
            continue
        m = _HOURS_RE.match(part)
        if not m or m["d1"] not in WEEKDAYS or (m["d2"] and m["d2"] not in WEEKDAYS):
            raise InvalidInput(
                N_("cannot read opening hours %(part)r: write e.g. 'Mon-Fri 08:00-20:00'",
                   part=part.strip())
            )
        try:
            opens = dt.time.fromisoformat(m["o"].zfill(5))
            closes = END_OF_DAY if m["c"] == "24:00" else dt.time.fromisoformat(m["c"].zfill(5))
        except ValueError:
            raise InvalidInput(N_("%(part)r has a time that does not exist", part=part.strip())) from None
        if opens >= closes:
            raise InvalidInput(N_("%(part)r: opening must come before closing", part=part.strip()))
        first = WEEKDAYS.index(m["d1"])
        last = WEEKDAYS.index(m["d2"]) if m["d2"] else first
        if last < first:
            raise InvalidInput(N_("%(part)r: write weekday ranges from Monday towards Sunday",
                                  part=part.strip()))
        result.extend((day, opens, closes) for day in range(first, last + 1))
    if not result:
        raise InvalidInput("opening hours must not be empty")
    return result


def hours_text(resource: Resource) -> str:
    """The inverse of parse_hours, grouping consecutive days with equal hours."""
    return hours_text_of([(h.weekday, h.opens, h.closes) for h in resource.hours])


def hours_text_of(hours: list[tuple[int, dt.time, dt.time]]) -> str:
    by_day: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for weekday, opens, closes in sorted(hours):
        by_day.setdefault(weekday, []).append((opens, closes))
    parts: list[str] = []
    day = 0
    while day < 7:
        if day not in by_day:
            day += 1
            continue
        last = day
        while last + 1 < 7 and by_day.get(last + 1) == by_day[day]:
            last += 1
        days = WEEKDAYS[day].title() + ("" if last == day else "-" + WEEKDAYS[last].title())
        for o, c in by_day[day]:
            parts.append(f"{days} {clock(o)}-{clock(c)}")
        day = last + 1
    return "; ".join(parts)


def _int_field(data: dict, name: str, default: int | None, lo: int, hi: int, *, optional: bool = False):
    value = data.get(name, default)
    if value is None or value == "":
        if optional:
            return None
        raise InvalidInput(N_("%(name)s is required", name=name))
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise InvalidInput(N_("%(name)s must be a whole number from %(lo)s to %(hi)s",
                              name=name, lo=lo, hi=hi))
    return value


def _text(data: dict, name: str, max_len: int, *, required: bool = False) -> str:
    return checked_text(data.get(name) or "", name, max_len, required=required)


def _time_field(data: dict, name: str) -> dt.time | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(str(value).zfill(5))
    except ValueError:
        raise InvalidInput(N_("%(name)s must be a time like 17:00", name=name)) from None


def create_group(
    uow: UnitOfWork,
    *,
    actor_id: int,
    name: object,
    max_hours_per_week: object = None,
    max_concurrent: object = None,
) -> int:
    data = {"name": name, "max_hours_per_week": max_hours_per_week, "max_concurrent": max_concurrent}
    with uow:
        _staff(uow.session, actor_id, "manage resources")
        title = _text(data, "name", 120, required=True)
        if uow.session.scalar(select(ResourceGroup.id).where(ResourceGroup.name == title)) is not None:
            raise Conflict(N_("a group named %(title)r exists already", title=title))
        group = ResourceGroup(
            name=title,
            max_hours_per_week=_int_field(data, "max_hours_per_week", None, 1, 168, optional=True),
            max_concurrent=_int_field(data, "max_concurrent", None, 1, 1000, optional=True),
        )
        uow.session.add(group)
        uow.session.flush()
        uow.commit()
        return group.id


def _apply_resource_fields(resource: Resource, data: dict) -> None:
    resource.name = _text(data, "name", 120, required=True)
    kind = data.get("kind", Kind.SPACE.value)
    if kind not in {k.value for k in Kind}:
        raise InvalidInput("kind must be 'space' or 'equipment'")
    resource.kind = kind
    resource.capacity = _int_field(data, "capacity", None, 1, 100_000, optional=True)
    resource.description = _text(data, "description", 10_000)
    resource.location = _text(data, "location", 200)
    resource.accessibility = _text(data, "accessibility", 2000)
    photo = _text(data, "photo_url", 2000)
    site_path = photo.startswith("/") and not photo.startswith("//")
    if photo and not (photo.startswith("https://") or photo.startswith("http://") or site_path):
        raise InvalidInput("photo_url must be an http(s) URL or a site path")
    resource.photo_url = photo or None
    resource.slot_minutes = _int_field(data, "slot_minutes", 30, 5, 1440)
    resource.min_minutes = _int_field(data, "min_minutes", resource.slot_minutes, 5, 1440)
    resource.max_minutes = _int_field(data, "max_minutes", 240, 5, 1440)
    for name in ("min_minutes", "max_minutes"):
        if getattr(resource, name) % resource.slot_minutes:
            raise InvalidInput(
                N_("%(name)s must be a multiple of the slot length (%(slot_minutes)s minutes)",
                   name=name, slot_minutes=resource.slot_minutes)
            )
    if resource.min_minutes > resource.max_minutes:
        raise InvalidInput("min_minutes must not exceed max_minutes")
    resource.lead_minutes = _int_field(data, "lead_minutes", 60, 0, 60 * 24 * 60)
    resource.horizon_days = _int_field(data, "horizon_days", 90, 1, 730)
    approval = data.get("needs_approval", False)
    if isinstance(approval, str):
        approval = approval.lower() in ("1", "true", "yes", "on", "y")
    if not isinstance(approval, bool):
        raise InvalidInput("needs_approval must be true or false")
    resource.needs_approval = approval
    resource.price_per_hour = _int_field(data, "price_per_hour", 0, 0, 1_000_000)
    resource.peak_price_per_hour = _int_field(data, "peak_price_per_hour", None, 0, 1_000_000, optional=True)
    resource.peak_from = _time_field(data, "peak_from")
    resource.peak_until = _time_field(data, "peak_until")
    peak = (resource.peak_price_per_hour, resource.peak_from, resource.peak_until)
    if any(v is not None for v in peak) and not all(v is not None for v in peak):
        raise InvalidInput("a peak price needs peak_price_per_hour, peak_from and peak_until together")
    if resource.peak_from is not None and resource.peak_from >= resource.peak_until:
        raise InvalidInput("peak_from must come before peak_until")


def create_resource(uow: UnitOfWork, *, actor_id: int, group_id: object, hours: object, **fields) -> int:
    """A bookable space or piece of equipment; ``hours`` as in parse_hours."""
    opening = parse_hours(hours)
    with uow:
        session = uow.session
        _staff(session, actor_id, "manage resources")
        group = get_row(session, ResourceGroup, group_id, "group")
        resource = Resource(group_id=group.id)
        _apply_resource_fields(resource, fields)
        resource.hours = [OpeningHours(weekday=d, opens=o, closes=c) for d, o, c in opening]
        session.add(resource)
        session.flush()
        uow.commit()
        return resource.id


def update_resource(uow: UnitOfWork, *, actor_id: int, resource_id: object, hours: object, **fields) -> None:
    """Changes apply to new bookings; existing bookings stay as they are."""
    opening = parse_hours(hours)
    with uow:
        session = uow.session
        _staff(session, actor_id, "manage resources")
        resource = _resource(session, resource_id, bookable=False)
        active = fields.pop("active", resource.active)
        _apply_resource_fields(resource, fields)
        resource.active = bool(active)
        resource.hours = [OpeningHours(weekday=d, opens=o, closes=c) for d, o, c in opening]
        uow.commit()


def add_blackout(
    uow: UnitOfWork,
    *,
    actor_id: int,
    resource_id: object,
    start: object,
    end: object,
    reason: object = "",
    policy: BookingPolicy = DEFAULT_POLICY,
) -> int:
    """Close a resource for a period. Bookings already in it stay; staff cancel them with a reason."""
    starts_at, ends_at = parse_instant(start, "start"), parse_instant(end, "end")
    if starts_at >= ends_at:
        raise InvalidInput("a blackout must end after it starts")
    with uow:
        _staff(uow.session, actor_id, "manage resources")
        resource = _resource(uow.session, resource_id, bookable=False)
        blackout = Blackout(
            resource_id=resource.id,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=_text({"reason": reason}, "reason", 200),
        )
        uow.session.add(blackout)
        uow.session.flush()
        uow.commit()
        return blackout.id


def remove_blackout(uow: UnitOfWork, *, actor_id: int, blackout_id: object) -> None:
    with uow:
        _staff(uow.session, actor_id, "manage resources")
        uow.session.delete(get_row(uow.session, Blackout, blackout_id, "blackout"))
        uow.commit()


# --- rules of a slot ----------------------------------------------------------------------


def _slot_rules(
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
               name=resource.name, lead_minutes=_duration(resource.lead_minutes))
        )
    if start > now + dt.timedelta(days=resource.horizon_days):
        raise InvalidInput(N_("%(name)s can be booked at most %(horizon_days)s days ahead",
                              name=resource.name, horizon_days=resource.horizon_days))
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


def _duration(minutes: int) -> Msg:
    if minutes % 1440 == 0:
        return NP_("%(num)s day", "%(num)s days", minutes // 1440)
    if minutes % 60 == 0:
        return NP_("%(num)s hour", "%(num)s hours", minutes // 60)
    return N_("%(num)s minutes", num=minutes)


def _blackout_in(
    session: Session, resource: Resource, start: dt.datetime, end: dt.datetime
) -> Blackout | None:
    return session.scalars(
        select(Blackout)
        .where(Blackout.resource_id == resource.id, Blackout.starts_at < end, Blackout.ends_at > start)
        .order_by(Blackout.starts_at)
        .limit(1)
    ).first()


def _check_blackouts(
    session: Session, resource: Resource, start: dt.datetime, end: dt.datetime, policy: BookingPolicy
) -> None:
    blackout = _blackout_in(session, resource, start, end)
    if blackout is not None:
        why = f" ({blackout.reason})" if blackout.reason else ""
        when = span_text(utc(blackout.starts_at), utc(blackout.ends_at), policy.tz)
        raise Conflict(N_("%(name)s is closed %(when)s%(why)s", name=resource.name, when=when, why=why))


def _blocking_overlap(
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


def _taken(
    resource: Resource, other: Booking | None, start: dt.datetime, end: dt.datetime, policy: BookingPolicy
) -> SlotTaken:
    if other is not None:
        start, end = utc(other.starts_at), utc(other.ends_at)
    return SlotTaken(N_("%(name)s is already booked %(start)s",
                        name=resource.name, start=span_text(start, end, policy.tz)))


def _active_suspension(session: Session, member_id: int, now: dt.datetime) -> Suspension | None:
    return session.scalars(
        select(Suspension)
        .where(Suspension.member_id == member_id, Suspension.starts_at <= now, Suspension.ends_at > now)
        .order_by(Suspension.ends_at.desc())
        .limit(1)
    ).first()


def _check_suspension(session: Session, member_id: int, now: dt.datetime, policy: BookingPolicy) -> None:
    suspension = _active_suspension(session, member_id, now)
    if suspension is not None:
        until = utc(suspension.ends_at).astimezone(policy.tz)
        until_text = Moment(f"{until:%a} {until.day} {until:%b %Y %H:%M}", until, "datetime", tz=policy.tz)
        raise BookingSuspended(
            N_("booking is suspended until %(until)s (%(reason)s)", until=until_text,
               reason=suspension.reason)
        )


def _week_bounds(start: dt.datetime, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    local = start.astimezone(tz)
    monday = local.date() - dt.timedelta(days=local.weekday())
    first = dt.datetime.combine(monday, dt.time(0), tzinfo=tz)
    last = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(0), tzinfo=tz)
    return first.astimezone(dt.UTC), last.astimezone(dt.UTC)


def _check_quotas(
    session: Session,
    member_id: int,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    policy: BookingPolicy,
) -> None:
    group = resource.group
    in_group = (
        select(Booking)
        .join(Resource, Booking.resource_id == Resource.id)
        .where(
            Booking.member_id == member_id, Resource.group_id == group.id, Booking.state.in_(BLOCKING_VALUES)
        )
    )
    if group.max_concurrent is not None:
        upcoming = session.scalar(
            select(func.count()).select_from(in_group.where(Booking.ends_at > now).subquery())
        )
        if upcoming + 1 > group.max_concurrent:
            raise QuotaExceeded(
                NP_("you already have %(num)s upcoming booking in %(name)s; "
                    "the limit is %(limit)s at a time",
                    "you already have %(num)s upcoming bookings in %(name)s; "
                    "the limit is %(limit)s at a time",
                    upcoming, name=group.name, limit=group.max_concurrent)
            )
    if group.max_hours_per_week is not None:
        first, last = _week_bounds(start, policy.tz)
        rows = session.scalars(in_group.where(Booking.starts_at >= first, Booking.starts_at < last)).all()
        booked = sum((utc(b.ends_at) - utc(b.starts_at) for b in rows), dt.timedelta())
        if booked + (end - start) > dt.timedelta(hours=group.max_hours_per_week):
            hours = booked / dt.timedelta(hours=1)
            raise QuotaExceeded(
                N_("%(name)s allows %(limit)s hours a week per member; you have %(hours)s hours booked "
                   "in the week of %(week)s", name=group.name, limit=group.max_hours_per_week,
                   hours=f"{hours:g}", week=moment(first, policy.tz, "date"))
            )


# --- price -------------------------------------------------------------------------------


def _discount(session: Session, member_id: int) -> int:
    tier = loyalty.member_tier(session, member_id)
    return min(max(tier.discount_percent, 0), 100) if tier is not None else 0


def price(
    resource: Resource, start: dt.datetime, end: dt.datetime, policy: BookingPolicy, discount_percent: int = 0
) -> int:
    """Credits for the slot: hours × price, peak minutes at the peak price, rounded up after
    the loyalty discount."""
    total = int((end - start) / dt.timedelta(minutes=1))
    peak = 0
    if resource.peak_price_per_hour is not None and resource.peak_from and resource.peak_until:
        s = start.astimezone(policy.tz)
        s_min = s.hour * 60 + s.minute
        p_from = resource.peak_from.hour * 60 + resource.peak_from.minute
        p_until = resource.peak_until.hour * 60 + resource.peak_until.minute
        peak = max(0, min(s_min + total, p_until) - max(s_min, p_from))
    rate_minutes = (total - peak) * resource.price_per_hour + peak * (resource.peak_price_per_hour or 0)
    return math.ceil(rate_minutes * (100 - discount_percent) / 6000)


def quote(
    session: Session,
    *,
    member_id: int,
    resource_id: object,
    start: object,
    end: object,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> int:
    resource = _resource(session, resource_id)
    return price(
        resource,
        parse_instant(start, "start"),
        parse_instant(end, "end"),
        policy,
        _discount(session, member_id),
    )


def _ensure_affordable(session: Session, member_id: int, credits: int) -> None:
    """A hold (approval pending) must be coverable by confirmed credits minus other promises."""
    lock_wallet(session, member_id)
    available = spendable_credits(session, member_id)
    if credits > available:
        raise InsufficientCredits(
            N_(
                "this costs %(credits)s credits but you have %(available)s available (confirmed on chain, "
                "minus spends and holds still pending)",
                credits=credits, available=max(available, 0),
            )
        )


# --- booking ------------------------------------------------------------------------------


def _new_code(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalar(select(Booking.id).where(Booking.code == code)) is None:
            return code


def _insert(session: Session, booking: Booking, resource: Resource, policy: BookingPolicy) -> None:
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
        other = _blocking_overlap(session, resource.id, start, end)
        raise _taken(resource, other, start, end, policy) from None


def _create_booking(
    session: Session,
    *,
    member: User,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    policy: BookingPolicy,
    series_id: int | None = None,
) -> Booking:
    _slot_rules(resource, start, end, now, policy)
    _check_blackouts(session, resource, start, end, policy)
    _check_suspension(session, member.id, now, policy)
    other = _blocking_overlap(session, resource.id, start, end)
    if other is not None:
        raise _taken(resource, other, start, end, policy)
    _check_quotas(session, member.id, resource, start, end, now, policy)
    credits = price(resource, start, end, policy, _discount(session, member.id))
    if resource.needs_approval and credits:
        _ensure_affordable(session, member.id, credits)
    booking = Booking(
        resource_id=resource.id,
        member_id=member.id,
        series_id=series_id,
        starts_at=start,
        ends_at=end,
        state=(State.PENDING if resource.needs_approval else State.CONFIRMED).value,
        credits=credits,
        code=_new_code(session),
        expires_at=min(now + policy.approval_ttl, start) if resource.needs_approval else None,
    )
    _insert(session, booking, resource, policy)
    if credits and not resource.needs_approval:
        entry = spend_credits(
            session, member_id=member.id, amount=credits, cause="booking", source_key=f"booking:{booking.id}"
        )
        booking.spend_entry_id = entry.id
    return booking


def book(
    uow: UnitOfWork,
    *,
    member_id: int,
    resource_id: object,
    start: object,
    end: object,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> BookingResult:
    """One booking: confirmed at once (credits spent), or pending approval (credits held)."""
    now = _now(now)
    starts_at, ends_at = parse_instant(start, "start"), parse_instant(end, "end")
    with uow:
        session = uow.session
        member = _locked_user(session, member_id)
        resource = _resource(session, resource_id)
        _sweep(session, now, policy, resource_id=resource.id, member_id=member.id)
        booking = _create_booking(
            session, member=member, resource=resource, start=starts_at, end=ends_at, now=now, policy=policy
        )
        result = _result(booking)
        uow.commit()
        return result


def _occurrences(
    start: dt.datetime,
    end: dt.datetime,
    every_weeks: int,
    count: int | None,
    until: dt.date | None,
    policy: BookingPolicy,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Same local wall-clock time every N weeks (DST-safe), up to ``count`` or ``until``."""
    local_start, local_end = start.astimezone(policy.tz), end.astimezone(policy.tz)
    result = []
    k = 0
    while len(result) < policy.max_occurrences:
        shift = dt.timedelta(weeks=every_weeks * k)
        s = dt.datetime.combine(local_start.date() + shift, local_start.time(), tzinfo=policy.tz)
        e = dt.datetime.combine(local_end.date() + shift, local_end.time(), tzinfo=policy.tz)
        if count is not None and k >= count:
            break
        if until is not None and s.date() > until:
            break
        result.append((s.astimezone(dt.UTC), e.astimezone(dt.UTC)))
        k += 1
    return result


def book_series(
    uow: UnitOfWork,
    *,
    member_id: int,
    resource_id: object,
    start: object,
    end: object,
    every_weeks: object = 1,
    count: object = None,
    until: object = None,
    mode: str = "all",
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> SeriesResult:
    """A weekly series. ``mode='all'``: every occurrence or none (409 naming the first date that
    fails); ``mode='free'``: book the dates that can be booked and list the skipped ones."""
    now = _now(now)
    starts_at, ends_at = parse_instant(start, "start"), parse_instant(end, "end")
    if mode not in ("all", "free"):
        raise InvalidInput("mode must be 'all' (all or nothing) or 'free' (book the free dates)")
    every = _int_field({"every_weeks": every_weeks}, "every_weeks", 1, 1, 52)
    n = _int_field({"count": count}, "count", None, 1, policy.max_occurrences, optional=True)
    last_day = None
    if until not in (None, ""):
        if isinstance(until, dt.date):
            last_day = until
        else:
            try:
                last_day = dt.date.fromisoformat(str(until))
            except ValueError:
                raise InvalidInput("until must be a date like 2026-12-31") from None
    if n is None and last_day is None:
        raise InvalidInput("a series needs a count or an until date")
    slots = _occurrences(starts_at, ends_at, every, n, last_day, policy)
    if not slots:
        raise InvalidInput("the series has no dates: until is before the first date")
    with uow:
        session = uow.session
        member = _locked_user(session, member_id)
        resource = _resource(session, resource_id)
        _sweep(session, now, policy, resource_id=resource.id, member_id=member.id)
        series = BookingSeries(
            resource_id=resource.id,
            member_id=member.id,
            every_weeks=every,
            count=len(slots),
            until=last_day,
            mode=mode,
        )
        session.add(series)
        session.flush()
        booked: list[Booking] = []
        skipped: list[tuple[dt.date, str]] = []
        for s, e in slots:
            day = s.astimezone(policy.tz).date()
            try:
                with session.begin_nested():
                    booked.append(
                        _create_booking(
                            session,
                            member=member,
                            resource=resource,
                            start=s,
                            end=e,
                            now=now,
                            policy=policy,
                            series_id=series.id,
                        )
                    )
            except (InvalidInput, Conflict, Forbidden) as exc:
                if mode == "all":
                    day_text = Moment(f"{day:%a %d %b %Y}", day, "date")
                    raise type(exc)(N_("%(day)s: %(reason)s; nothing was booked", day=day_text,
                                       reason=exc.english)) from None
                skipped.append((day, exc.english))
        if not booked:
            raise Conflict(N_("none of the dates can be booked: %(dates)s",
                              dates="; ".join(f"{d}: {m}" for d, m in skipped)))
        series.skipped = "\n".join(f"{d.isoformat()}: {m}" for d, m in skipped)
        result = SeriesResult(series.id, [_result(b) for b in booked], skipped)
        uow.commit()
        return result


# --- decisions, cancellation, waitlist ---------------------------------------------------------


def _link(booking: Booking) -> str:
    return f"/booking/bookings/{booking.id}"


def _refund(session: Session, booking: Booking) -> None:
    if booking.spend_entry_id is not None and booking.refund_entry_id is None and booking.credits:
        entry = refund_credits(
            session,
            member_id=booking.member_id,
            amount=booking.credits,
            cause="booking_refund",
            source_key=f"booking:{booking.id}:refund",
        )
        booking.refund_entry_id = entry.id


def _release(session: Session, booking: Booking, now: dt.datetime, policy: BookingPolicy) -> None:
    """After a booking stopped blocking: its waitlist entry ends and waiters are offered the slot."""
    session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.booking_id == booking.id, WaitlistEntry.state == WaitState.OFFERED.value)
        .values(state=WaitState.EXPIRED.value)
    )
    session.flush()
    _promote(session, booking.resource, utc(booking.starts_at), utc(booking.ends_at), now, policy)


def decide(
    uow: UnitOfWork,
    *,
    staff_id: int,
    booking_id: object,
    approve: bool,
    comment: object = None,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> str:
    """Approve (the held credits are spent) or decline (the hold is released, comment required)."""
    now = _now(now)
    text = _text({"comment": comment}, "comment", 2000, required=not approve)
    with uow:
        session = uow.session
        staff = _staff(session, staff_id, "decide bookings")
        booking = _locked_booking(session, booking_id)
        if booking.member_id == staff.id:
            raise Forbidden("nobody approves their own booking")
        if booking.state != State.PENDING:
            raise Conflict(N_("booking %(booking)s is %(state)s, not pending",
                              booking=booking.id, state=booking.state))
        if utc(booking.expires_at) <= now:
            _expire(session, booking, now, policy)
            uow.commit()
            raise TooLate(N_("booking %(booking)s expired undecided and its slot was released",
                             booking=booking.id))
        where = N_("%(name)s, %(when)s", name=booking.resource.name,
                   when=span_text(utc(booking.starts_at), utc(booking.ends_at), policy.tz))
        if approve:
            if booking.credits:
                # Its own hold is counted in spendable_credits; release it for this spend.
                entry = spend_credits(
                    session,
                    member_id=booking.member_id,
                    amount=booking.credits,
                    cause="booking",
                    source_key=f"booking:{booking.id}",
                    extra_held=-booking.credits,
                )
                booking.spend_entry_id = entry.id
            booking.state = State.CONFIRMED.value
            notify(
                session,
                booking.member_id,
                "booking_approved",
                N_("Your booking of %(where)s was approved. %(comment)s", where=where, comment=text) if text
                else N_("Your booking of %(where)s was approved.", where=where),
                _link(booking),
            )
        else:
            booking.state = State.DECLINED.value
            notify(
                session,
                booking.member_id,
                "booking_declined",
                N_("Your booking of %(where)s was declined: %(comment)s", where=where, comment=text),
                _link(booking),
            )
        booking.decided_at = now
        booking.decided_by_id = staff.id
        booking.decision_comment = text or None
        booking.expires_at = None
        if not approve:
            _release(session, booking, now, policy)
        state = booking.state
        uow.commit()
        return state


def cancel(
    uow: UnitOfWork,
    *,
    actor_id: int,
    booking_id: object,
    reason: object = None,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> BookingResult:
    """Members cancel their own booking up to the deadline (spent credits come back); staff
    cancel any booking with a reason (always refunded)."""
    now = _now(now)
    with uow:
        session = uow.session
        actor = get_row(session, User, actor_id, "user")
        booking = _locked_booking(session, booking_id)
        _cancel_one(session, actor, booking, reason, now, policy)
        result = _result(booking)
        uow.commit()
        return result


def _cancel_one(
    session: Session, actor: User, booking: Booking, reason: object, now: dt.datetime, policy: BookingPolicy
) -> None:
    own = booking.member_id == actor.id
    if not own and not actor.is_staff:
        raise Forbidden("you can only cancel your own bookings")
    if booking.state not in (State.PENDING, State.OFFERED, State.CONFIRMED):
        raise Conflict(N_("booking %(booking)s is %(state)s and cannot be cancelled",
                          booking=booking.id, state=booking.state.replace('_', ' ')))
    start = utc(booking.starts_at)
    text = _text({"reason": reason}, "reason", 2000, required=not own)
    if own:
        deadline = start - policy.cancel_deadline
        if booking.state == State.CONFIRMED and now > deadline:
            local = deadline.astimezone(policy.tz)
            raise TooLate(
                N_("cancellations close %(before)s before the start (%(deadline)s); it is too late to cancel",
                   before=_duration(int(policy.cancel_deadline.total_seconds() // 60)),
                   deadline=moment(local, policy.tz))
            )
    elif start <= now and booking.state == State.CONFIRMED:
        pass  # staff may still release a booking under way (e.g. the room is needed)
    booking.state = State.CANCELLED.value
    booking.cancelled_at = now
    booking.cancelled_by_id = actor.id
    booking.cancel_reason = text or None
    booking.expires_at = None
    _refund(session, booking)
    if not own:
        span = span_text(start, utc(booking.ends_at), policy.tz)
        notify(
            session,
            booking.member_id,
            "booking_cancelled",
            N_("Staff cancelled your booking of %(name)s, %(when)s: %(reason)s Your credits were refunded.",
               name=booking.resource.name, when=span, reason=text)
            if booking.refund_entry_id else
            N_("Staff cancelled your booking of %(name)s, %(when)s: %(reason)s",
               name=booking.resource.name, when=span, reason=text),
            _link(booking),
        )
    _release(session, booking, now, policy)


def cancel_series(
    uow: UnitOfWork,
    *,
    actor_id: int,
    series_id: object,
    reason: object = None,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> tuple[list[int], list[int]]:
    """Cancel every future occurrence that still can be; returns (cancelled, kept) ids."""
    now = _now(now)
    with uow:
        session = uow.session
        actor = get_row(session, User, actor_id, "user")
        series = get_row(session, BookingSeries, series_id, "series")
        if series.member_id != actor.id and not actor.is_staff:
            raise Forbidden("you can only cancel your own series")
        rows = session.scalars(
            select(Booking)
            .where(
                Booking.series_id == series.id, Booking.state.in_(BLOCKING_VALUES), Booking.starts_at > now
            )
            .order_by(Booking.starts_at)
            .with_for_update()
        ).all()
        cancelled, kept = [], []
        for booking in rows:
            try:
                _cancel_one(session, actor, booking, reason, now, policy)
                cancelled.append(booking.id)
            except TooLate:
                kept.append(booking.id)
        uow.commit()
        return cancelled, kept


def release_member(
    session: Session, *, member_id: int, actor_id: int, reason: str, now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> tuple[list[int], list[int]]:
    """Account erasure (community.privacy), in the caller's transaction: the member leaves
    every waitlist first (so a freed slot is never offered back to them), then each booking
    that has not started is cancelled, always refunded, and its slot offered to the next
    person waiting. Returns (cancelled booking ids, waitlist entry ids left)."""
    now = _now(now)
    entries = session.scalars(
        select(WaitlistEntry).where(
            WaitlistEntry.member_id == member_id,
            WaitlistEntry.state.in_((WaitState.WAITING.value, WaitState.OFFERED.value)),
        ).order_by(WaitlistEntry.id)
    ).all()
    for entry in entries:
        entry.state = WaitState.LEFT.value
    session.flush()
    bookings = session.scalars(
        select(Booking)
        .where(
            Booking.member_id == member_id,
            Booking.state.in_((State.PENDING.value, State.OFFERED.value, State.CONFIRMED.value)),
            Booking.starts_at > now,
        )
        .order_by(Booking.starts_at, Booking.id)
        .with_for_update()
    ).all()
    for booking in bookings:
        booking.state = State.CANCELLED.value
        booking.cancelled_at = now
        booking.cancelled_by_id = actor_id
        booking.cancel_reason = reason
        booking.expires_at = None
        _refund(session, booking)
        _release(session, booking, now, policy)
    return [b.id for b in bookings], [e.id for e in entries]


def _rank(session: Session, member_id: int) -> int:
    tier = loyalty.member_tier(session, member_id)
    return tier.rank if tier is not None else 0


def _promote(
    session: Session,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    policy: BookingPolicy,
) -> list[Booking]:
    """Offer a freed slot to waiting members: higher loyalty tier first, then first come.
    The offered booking holds the slot until the member confirms or the hold runs out."""
    entries = session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.resource_id == resource.id,
            WaitlistEntry.state == WaitState.WAITING.value,
            WaitlistEntry.starts_at < end,
            WaitlistEntry.ends_at > start,
            WaitlistEntry.starts_at > now,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).all()
    ranked = sorted(entries, key=lambda w: (-_rank(session, w.member_id), utc(w.created_at), w.id))
    offered = []
    for entry in ranked:
        s, e = utc(entry.starts_at), utc(entry.ends_at)
        if _blocking_overlap(session, resource.id, s, e) is not None:
            continue
        if _active_suspension(session, entry.member_id, now) is not None:
            continue
        try:
            _check_quotas(session, entry.member_id, resource, s, e, now, policy)
        except QuotaExceeded:
            continue
        booking = Booking(
            resource_id=resource.id,
            member_id=entry.member_id,
            starts_at=s,
            ends_at=e,
            state=State.OFFERED.value,
            credits=0,
            code=_new_code(session),
            expires_at=min(now + policy.waitlist_hold, s),
        )
        try:
            _insert(session, booking, resource, policy)
        except SlotTaken:
            continue
        entry.state = WaitState.OFFERED.value
        entry.booking_id = booking.id
        until = utc(booking.expires_at).astimezone(policy.tz)
        notify(
            session,
            entry.member_id,
            "waitlist_offer",
            N_("%(name)s is free for you %(when)s. Confirm by %(until)s or it goes to the next person "
               "waiting.", name=resource.name, when=span_text(s, e, policy.tz),
               until=moment(until, policy.tz)),
            _link(booking),
        )
        offered.append(booking)
    return offered


def join_waitlist(
    uow: UnitOfWork,
    *,
    member_id: int,
    resource_id: object,
    start: object,
    end: object,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> int:
    """Wait for a taken slot. A free slot is to be booked, not waited for."""
    now = _now(now)
    starts_at, ends_at = parse_instant(start, "start"), parse_instant(end, "end")
    with uow:
        session = uow.session
        member = _locked_user(session, member_id)
        resource = _resource(session, resource_id)
        _sweep(session, now, policy, resource_id=resource.id, member_id=member.id)
        _slot_rules(resource, starts_at, ends_at, now, policy)
        _check_blackouts(session, resource, starts_at, ends_at, policy)
        _check_suspension(session, member.id, now, policy)
        other = _blocking_overlap(session, resource.id, starts_at, ends_at)
        if other is None:
            raise Conflict("that slot is free: book it instead of waiting")
        if other.member_id == member.id:
            raise Conflict("you hold that slot already")
        mine = session.scalar(
            select(WaitlistEntry.id).where(
                WaitlistEntry.resource_id == resource.id,
                WaitlistEntry.member_id == member.id,
                WaitlistEntry.state.in_((WaitState.WAITING.value, WaitState.OFFERED.value)),
                WaitlistEntry.starts_at < ends_at,
                WaitlistEntry.ends_at > starts_at,
            )
        )
        if mine is not None:
            raise Conflict("you are already waiting for that slot")
        entry = WaitlistEntry(
            resource_id=resource.id, member_id=member.id, starts_at=starts_at, ends_at=ends_at, created_at=now
        )
        session.add(entry)
        session.flush()
        uow.commit()
        return entry.id


def leave_waitlist(uow: UnitOfWork, *, member_id: int, entry_id: object) -> None:
    with uow:
        entry = get_row(uow.session, WaitlistEntry, entry_id, "waitlist entry")
        if entry.member_id != member_id:
            raise Forbidden("you can only leave your own waitlist entries")
        if entry.state != WaitState.WAITING:
            raise Conflict(N_("this waitlist entry is %(state)s", state=entry.state))
        entry.state = WaitState.LEFT.value
        uow.commit()


def confirm_offer(
    uow: UnitOfWork,
    *,
    member_id: int,
    booking_id: object,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> BookingResult:
    """Take up a waitlist offer: it becomes a booking like any other (paid, or pending approval)."""
    now = _now(now)
    with uow:
        session = uow.session
        member = _locked_user(session, member_id)
        booking = _locked_booking(session, booking_id)
        if booking.member_id != member.id:
            raise Forbidden("this offer is for someone else")
        if booking.state != State.OFFERED:
            raise Conflict(N_("booking %(booking)s is %(state)s, not an open offer",
                              booking=booking.id, state=booking.state))
        if utc(booking.expires_at) <= now:
            _expire(session, booking, now, policy)
            uow.commit()
            raise TooLate("the offer ran out and went to the next person waiting")
        _check_suspension(session, member.id, now, policy)
        resource = booking.resource
        start, end = utc(booking.starts_at), utc(booking.ends_at)
        credits = price(resource, start, end, policy, _discount(session, member.id))
        booking.credits = credits
        if resource.needs_approval:
            if credits:
                _ensure_affordable(session, member.id, credits)
            booking.state = State.PENDING.value
            booking.expires_at = min(now + policy.approval_ttl, start)
        else:
            if credits:
                entry = spend_credits(
                    session,
                    member_id=member.id,
                    amount=credits,
                    cause="booking",
                    source_key=f"booking:{booking.id}",
                )
                booking.spend_entry_id = entry.id
            booking.state = State.CONFIRMED.value
            booking.expires_at = None
        session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.booking_id == booking.id)
            .values(state=WaitState.BOOKED.value)
        )
        result = _result(booking)
        uow.commit()
        return result


# --- check-in, expiry, no-shows ---------------------------------------------------------------


def check_in(
    uow: UnitOfWork,
    *,
    actor_id: int,
    booking_id: object,
    code: object,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> int:
    """Check in with the booking's short code inside the window around its start; attendance
    points are awarded through the scoring rules exactly once. Returns the points awarded."""
    now = _now(now)
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput("code is required (the short code on your booking)")
    with uow:
        session = uow.session
        actor = get_row(session, User, actor_id, "user")
        booking = _locked_booking(session, booking_id)
        if booking.member_id != actor.id and not actor.is_staff:
            raise Forbidden("you can only check in to your own bookings")
        if not secrets.compare_digest(code.strip().upper().encode(), booking.code.encode()):
            raise InvalidInput("the code does not match this booking")
        if booking.state == State.CHECKED_IN:
            raise Conflict("this booking is already checked in")
        if booking.state != State.CONFIRMED:
            raise Conflict(
                N_("booking %(booking)s is %(state)s; only a confirmed booking can be checked in",
                   booking=booking.id, state=booking.state.replace('_', ' '))
            )
        start, end = utc(booking.starts_at), utc(booking.ends_at)
        opens, closes = start - policy.checkin_before, start + policy.checkin_after
        if now < opens:
            local = opens.astimezone(policy.tz)
            raise TooLate(N_("check-in opens at %(time)s on %(day)s", time=moment(opens, policy.tz, "time"),
                             day=Moment(f"{local:%d %b}", opens, "date", tz=policy.tz)))
        if now > closes:
            raise TooLate(N_("check-in closed at %(time)s; the slot was released",
                             time=moment(closes, policy.tz, "time")))
        booking.state = State.CHECKED_IN.value
        booking.checked_in_at = now
        hours = (end - start) / dt.timedelta(hours=1)
        resource = booking.resource
        awards = scoring.awards_for(
            session,
            scoring.BOOKING_CHECKED_IN,
            member_id=booking.member_id,
            inputs={"duration": hours, "price": booking.credits},
            context={"resource_id": resource.id, "group_id": resource.group_id},
            default=scoring.Award(max(1, round(hours)), "attendance", *ATTENDANCE_RULE),
        )
        entries = scoring.record_awards(
            session,
            awards,
            member_id=booking.member_id,
            cause="booking_check_in",
            source_key=f"booking:{booking.id}:check-in",
        )
        if entries:
            uow.publish(LedgerChanged((booking.member_id,)))
        points = sum(e.points for e in entries)
        uow.commit()
        return points


def _expire(session: Session, booking: Booking, now: dt.datetime, policy: BookingPolicy) -> None:
    was = booking.state
    booking.state = State.EXPIRED.value
    booking.expires_at = None
    where = N_("%(name)s, %(when)s", name=booking.resource.name,
               when=span_text(utc(booking.starts_at), utc(booking.ends_at), policy.tz))
    if was == State.PENDING:
        text = N_("Your booking of %(where)s was not decided in time and has expired; no credits were spent.",
                  where=where)
    else:
        text = N_("Your waitlist offer for %(where)s ran out.", where=where)
    notify(session, booking.member_id, "booking_expired", text, _link(booking))
    _release(session, booking, now, policy)


def _no_show(session: Session, booking: Booking, now: dt.datetime, policy: BookingPolicy) -> None:
    booking.state = State.NO_SHOW.value
    notify(
        session,
        booking.member_id,
        "booking_no_show",
        N_("You did not check in to %(name)s, %(when)s; the slot was released.", name=booking.resource.name,
           when=span_text(utc(booking.starts_at), utc(booking.ends_at), policy.tz)),
        _link(booking),
    )
    session.flush()
    recent = session.scalar(
        select(func.count()).where(
            Booking.member_id == booking.member_id,
            Booking.state == State.NO_SHOW.value,
            Booking.starts_at >= now - policy.no_show_window,
        )
    )
    if recent >= policy.no_show_limit and _active_suspension(session, booking.member_id, now) is None:
        until = now + policy.suspension
        session.add(
            Suspension(
                member_id=booking.member_id,
                starts_at=now,
                ends_at=until,
                reason=f"{recent} no-shows in {policy.no_show_window.days} days",
            )
        )
        local = until.astimezone(policy.tz)
        notify(
            session,
            booking.member_id,
            "booking_suspended",
            N_("After %(count)s no-shows in %(days)s days you cannot book until %(until)s.", count=recent,
               days=policy.no_show_window.days, until=moment(local, policy.tz)),
            "/booking/mine",
        )


def _sweep(
    session: Session,
    now: dt.datetime,
    policy: BookingPolicy,
    *,
    resource_id: int | None = None,
    member_id: int | None = None,
) -> int:
    """Expire undecided holds and release no-shows (of one resource and one member's, or all).
    Runs inside each booking transaction, so correctness never waits for a scheduler; locked
    rows are skipped (another transaction is handling them)."""
    stale = select(Booking).where(
        Booking.state.in_((State.PENDING.value, State.OFFERED.value)), Booking.expires_at <= now
    )
    overdue = select(Booking).where(
        Booking.state == State.CONFIRMED.value, Booking.starts_at <= now - policy.checkin_after
    )
    if resource_id is not None:
        scope = or_(Booking.resource_id == resource_id, Booking.member_id == member_id)
        stale = stale.where(scope)
        overdue = overdue.where(scope)
    handled = 0
    for booking in session.scalars(stale.order_by(Booking.id).with_for_update(skip_locked=True)).all():
        if booking.state in (State.PENDING, State.OFFERED):
            _expire(session, booking, now, policy)
            handled += 1
    for booking in session.scalars(
        overdue.order_by(Booking.starts_at).with_for_update(skip_locked=True)
    ).all():
        if booking.state == State.CONFIRMED:
            _no_show(session, booking, now, policy)
            handled += 1
    stale_waits = (
        update(WaitlistEntry)
        .where(WaitlistEntry.state == WaitState.WAITING.value, WaitlistEntry.starts_at <= now)
        .values(state=WaitState.EXPIRED.value)
    )
    if resource_id is not None:
        stale_waits = stale_waits.where(WaitlistEntry.resource_id == resource_id)
    session.execute(stale_waits)
    return handled


def housekeeping(
    uow: UnitOfWork, *, now: dt.datetime | None = None, policy: BookingPolicy = DEFAULT_POLICY
) -> int:
    """Expire holds and release no-shows everywhere (the `kopa reminders` command runs it)."""
    now = _now(now)
    with uow:
        handled = _sweep(uow.session, now, policy)
        uow.commit()
        return handled


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
    now = _now(now)
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
                before=_duration(int(policy.checkin_before.total_seconds() // 60)),
            )
            note = notify(session, booking.member_id, "booking_reminder", text, _link(booking))
            booking.reminded_at = now
            subject = N_("Kopa: %(name)s %(when)s", name=booking.resource.name, when=when)
            mails.append(
                (
                    booking.member.email,
                    translated(subject, booking.member.locale),  # the member's language, as the note
                    f"{note.text}\n\n{site_url}{_link(booking)}\n",
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


# --- reads ---------------------------------------------------------------------------------------


def _effective_blocking(booking: Booking, now: dt.datetime, policy: BookingPolicy) -> bool:
    """Whether a row holds its slot now, counting holds and no-shows the sweep has not reached."""
    if booking.state in (State.PENDING, State.OFFERED):
        return booking.expires_at is None or utc(booking.expires_at) > now
    if booking.state == State.CONFIRMED:
        return utc(booking.starts_at) + policy.checkin_after > now
    return booking.state == State.CHECKED_IN


def opening_intervals(
    resource: Resource, start: dt.datetime, end: dt.datetime, policy: BookingPolicy
) -> list[tuple[dt.datetime, dt.datetime]]:
    day = start.astimezone(policy.tz).date() - dt.timedelta(days=1)
    last = end.astimezone(policy.tz).date()
    result = []
    while day <= last:
        for h in resource.hours:
            if h.weekday != day.weekday():
                continue
            s = dt.datetime.combine(day, h.opens, tzinfo=policy.tz).astimezone(dt.UTC)
            if h.closes == END_OF_DAY:
                e = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=policy.tz)
            else:
                e = dt.datetime.combine(day, h.closes, tzinfo=policy.tz)
            e = e.astimezone(dt.UTC)
            s, e = max(s, start), min(e, end)
            if s < e:
                result.append((s, e))
        day += dt.timedelta(days=1)
    return sorted(result)


def subtract(
    intervals: Iterable[tuple[dt.datetime, dt.datetime]], holes: Iterable[tuple[dt.datetime, dt.datetime]]
) -> list[tuple[dt.datetime, dt.datetime]]:
    result = list(intervals)
    for hs, he in sorted(holes):
        pieces = []
        for s, e in result:
            if not overlaps(s, e, hs, he):
                pieces.append((s, e))
                continue
            if s < hs:
                pieces.append((s, hs))
            if he < e:
                pieces.append((he, e))
        result = pieces
    return result


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
    now = _now(now)
    starts_at, ends_at = parse_instant(start, "from"), parse_instant(end, "to")
    if starts_at >= ends_at:
        raise InvalidInput("'to' must be after 'from'")
    if ends_at - starts_at > policy.max_range:
        raise InvalidInput(N_("ask for at most %(days)s days at a time", days=policy.max_range.days))
    resource = _resource(session, resource_id)
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
    now = _now(now)
    if not 1 <= days <= 7:
        raise InvalidInput("the calendar shows 1 to 7 days")
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=policy.tz)
    end = dt.datetime.combine(first_day + dt.timedelta(days=days), dt.time(0), tzinfo=policy.tz)
    avail = availability(
        session, resource_id=resource_id, start=start, end=end, now=now, member_id=member_id, policy=policy
    )
    resource = avail.resource
    dates = [first_day + dt.timedelta(days=i) for i in range(days)]
    if resource.hours:
        first_open = min(h.opens for h in resource.hours)
        last_close = max(h.closes for h in resource.hours)
    else:
        first_open, last_close = dt.time(8), dt.time(20)
    step = dt.timedelta(minutes=resource.slot_minutes)
    times = []
    t = dt.datetime.combine(first_day, first_open)
    limit = dt.datetime.combine(first_day, last_close)
    while t < limit:
        times.append(t.time())
        t += step
    earliest = _earliest(resource, now, policy)
    rows = []
    for time_ in times:
        row = []
        for day in dates:
            s = dt.datetime.combine(day, time_, tzinfo=policy.tz).astimezone(dt.UTC)
            e = s + step
            status = "closed"
            if any(o <= s and e <= c for o, c in avail.open):
                status = "free"
                if any(overlaps(s, e, bs, be) for bs, be, _ in avail.closed):
                    status = "blackout"
                else:
                    hit = [b for b in avail.busy if overlaps(s, e, b[0], b[1])]
                    if hit:
                        status = (
                            "mine"
                            if any(b[3] for b in hit)
                            else (
                                "pending"
                                if all(b[2] in (State.PENDING, State.OFFERED) for b in hit)
                                else "busy"
                            )
                        )
                    elif s < earliest:
                        status = "past"
            row.append(Cell(s, e, status))
        rows.append(row)
    return resource, dates, times, rows


def member_bookings(
    session: Session,
    member_id: int,
    *,
    upcoming_only: bool = False,
    now: dt.datetime | None = None,
    limit: int = 200,
) -> list[Booking]:
    query = select(Booking).where(Booking.member_id == member_id)
    if upcoming_only:
        query = query.where(Booking.ends_at > _now(now))
    return list(session.scalars(query.order_by(Booking.starts_at.desc()).limit(limit)))


def booking_for(session: Session, *, actor: User, booking_id: object) -> Booking:
    """A booking its member or staff may read."""
    booking = get_row(session, Booking, booking_id, "booking")
    if booking.member_id != actor.id and not actor.is_staff:
        raise Forbidden("you can only see your own bookings")
    return booking
