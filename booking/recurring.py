"""Weekly series: the same local time every N weeks, N times or until a date, booked all or
nothing or date by date with the dates that could not be booked listed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from booking.fields import int_field
from booking.housekeeping import sweep
from booking.loading import get_resource, locked_user, resolve_now
from booking.models import Booking, BookingSeries, Resource
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.reservations import create_booking
from booking.results import SeriesResult, result_of
from booking.timeutil import parse_instant
from community.db import UnitOfWork
from community.errors import Conflict, Forbidden, InvalidInput
from community.i18n import N_, Moment
from community.models import User


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


def _until_date(until: object) -> dt.date | None:
    if until in (None, ""):
        return None
    if isinstance(until, dt.date):
        return until
    try:
        return dt.date.fromisoformat(str(until))
    except ValueError:
        raise InvalidInput("until must be a date like 2026-12-31") from None


def _book_dates(
    session: Session,
    *,
    series: BookingSeries,
    member: User,
    resource: Resource,
    slots: list[tuple[dt.datetime, dt.datetime]],
    now: dt.datetime,
    policy: BookingPolicy,
) -> tuple[list[Booking], list[tuple[dt.date, str]]]:
    """Each date in its own savepoint: in mode 'all' the first refusal ends the series, in mode
    'free' it is listed with its reason."""
    booked: list[Booking] = []
    skipped: list[tuple[dt.date, str]] = []
    for s, e in slots:
        day = s.astimezone(policy.tz).date()
        try:
            with session.begin_nested():
                booked.append(
                    create_booking(
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
            if series.mode == "all":
                day_text = Moment(f"{day:%a %d %b %Y}", day, "date")
                raise type(exc)(N_("%(day)s: %(reason)s; nothing was booked", day=day_text,
                                   reason=exc.english)) from None
            skipped.append((day, exc.english))
    return booked, skipped


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
    now = resolve_now(now)
    starts_at, ends_at = parse_instant(start, "start"), parse_instant(end, "end")
    if mode not in ("all", "free"):
        raise InvalidInput("mode must be 'all' (all or nothing) or 'free' (book the free dates)")
    every = int_field({"every_weeks": every_weeks}, "every_weeks", 1, 1, 52)
    n = int_field({"count": count}, "count", None, 1, policy.max_occurrences, optional=True)
    last_day = _until_date(until)
    if n is None and last_day is None:
        raise InvalidInput("a series needs a count or an until date")
    slots = _occurrences(starts_at, ends_at, every, n, last_day, policy)
    if not slots:
        raise InvalidInput("the series has no dates: until is before the first date")
    with uow:
        session = uow.session
        member = locked_user(session, member_id)
        resource = get_resource(session, resource_id)
        sweep(session, now, policy, resource_id=resource.id, member_id=member.id)
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
        booked, skipped = _book_dates(
            session, series=series, member=member, resource=resource, slots=slots, now=now, policy=policy
        )
        if not booked:
            raise Conflict(N_("none of the dates can be booked: %(dates)s",
                              dates="; ".join(f"{d}: {m}" for d, m in skipped)))
        series.skipped = "\n".join(f"{d.isoformat()}: {m}" for d, m in skipped)
        result = SeriesResult(series.id, [result_of(b) for b in booked], skipped)
        uow.commit()
        return result
