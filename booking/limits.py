"""What a member may still book: no booking while suspended (after repeated no-shows), and a
resource group's quotas of bookings at a time and hours a week."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.errors import BookingSuspended, QuotaExceeded
from booking.models import Booking, Resource, Suspension
from booking.policy import BookingPolicy
from booking.slots import BLOCKING_VALUES
from booking.timeutil import moment, utc
from community.i18n import N_, NP_, Moment


def active_suspension(session: Session, member_id: int, now: dt.datetime) -> Suspension | None:
    return session.scalars(
        select(Suspension)
        .where(Suspension.member_id == member_id, Suspension.starts_at <= now, Suspension.ends_at > now)
        .order_by(Suspension.ends_at.desc())
        .limit(1)
    ).first()


def check_suspension(session: Session, member_id: int, now: dt.datetime, policy: BookingPolicy) -> None:
    suspension = active_suspension(session, member_id, now)
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


def check_quotas(
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
