"""Booking's KPIs for the staff dashboard: space utilisation (per resource and hour of the day,
in the centre's time zone) and the no-show rate. Figures of the whole centre: spaces are not
booked for a process, so an organisation's report has none."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from booking.models import Blackout, Booking, Resource, State
from booking.opening import opening_intervals, subtract
from booking.policy import BookingPolicy
from booking.timeutil import utc
from community.i18n import N_
from community.kpis import KpiProvider, Period, Row, ratio, within

# Bookings that used (or still hold) their slot; a no-show's slot was released.
USED = (State.CONFIRMED.value, State.CHECKED_IN.value)


def _intersection(a: list[tuple], b: list[tuple]) -> list[tuple]:
    """Overlaps of two sorted lists of disjoint [start, end) intervals."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _minutes_by_hour(intervals: Iterable[tuple[dt.datetime, dt.datetime]], tz: dt.tzinfo) -> dict[int, float]:
    """Minutes of the intervals falling in each hour of the day (0-23) in local time."""
    minutes: dict[int, float] = defaultdict(float)
    for start, end in intervals:
        cursor = start
        while cursor < end:
            local = cursor.astimezone(tz)
            into = dt.timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
            step = min(cursor + dt.timedelta(hours=1) - into, end)
            minutes[local.hour] += (step - cursor) / dt.timedelta(minutes=1)
            cursor = step
    return minutes


def _booked(session: Session, p: Period) -> dict[int, list[tuple]]:
    """Per resource: its used bookings' intervals, clipped to the period, by start."""
    booked: dict[int, list[tuple]] = defaultdict(list)
    for rid, start, end in session.execute(
        select(Booking.resource_id, Booking.starts_at, Booking.ends_at)
        .where(Booking.state.in_(USED), Booking.starts_at < p.until, Booking.ends_at > p.since)
        .order_by(Booking.resource_id, Booking.starts_at)
    ):
        booked[rid].append((max(utc(start), p.since), min(utc(end), p.until)))
    return booked


def _closed(session: Session, p: Period) -> dict[int, list[tuple]]:
    """Per resource: its blackouts overlapping the period."""
    closed: dict[int, list[tuple]] = defaultdict(list)
    for rid, start, end in session.execute(
        select(Blackout.resource_id, Blackout.starts_at, Blackout.ends_at).where(
            Blackout.starts_at < p.until, Blackout.ends_at > p.since
        )
    ):
        closed[rid].append((utc(start), utc(end)))
    return closed


def _outcomes(session: Session, p: Period) -> dict[int, tuple[int, int]]:
    """Per resource: (no-shows, check-ins) of bookings starting in the period."""
    no_show = func.sum(case((Booking.state == State.NO_SHOW.value, 1), else_=0))
    checked_in = func.sum(case((Booking.state == State.CHECKED_IN.value, 1), else_=0))
    return {
        rid: (int(n or 0), int(c or 0))
        for rid, n, c in session.execute(
            select(Booking.resource_id, no_show, checked_in)
            .where(within(Booking.starts_at, p))
            .group_by(Booking.resource_id)
        )
    }


def spaces(session: Session, p: Period, policy: BookingPolicy) -> dict:
    """Utilisation per resource and per hour of the day (local time), and no-shows.

    Utilisation: minutes of confirmed or checked-in bookings inside opening hours (blackouts
    removed) over those opening minutes. No-show rate: no-shows over bookings that reached an
    outcome (checked in or no-show), by start time in the period."""
    since, until = p.since, p.until
    resources = session.scalars(
        select(Resource).options(selectinload(Resource.hours)).order_by(Resource.name, Resource.id)
    ).all()
    booked, closed, outcomes = _booked(session, p), _closed(session, p), _outcomes(session, p)
    rows = []
    open_by_hour: dict[int, float] = defaultdict(float)
    used_by_hour: dict[int, float] = defaultdict(float)
    for resource in resources:
        if not resource.active and not booked[resource.id] and resource.id not in outcomes:
            continue  # retired and unused: its opening hours would only dilute the figures
        opening = sorted(subtract(opening_intervals(resource, since, until, policy), closed[resource.id]))
        used = _intersection(sorted(booked[resource.id]), opening)
        open_hours = _minutes_by_hour(opening, policy.tz)
        used_hours = _minutes_by_hour(used, policy.tz)
        no_shows, checked = outcomes.get(resource.id, (0, 0))
        open_minutes, used_minutes = sum(open_hours.values()), sum(used_hours.values())
        for hour, minutes in open_hours.items():
            open_by_hour[hour] += minutes
            used_by_hour[hour] += used_hours.get(hour, 0.0)
        rows.append({
            "resource_id": resource.id,
            "name": resource.name,
            "open_hours": round(open_minutes / 60, 2),
            "booked_hours": round(used_minutes / 60, 2),
            "utilisation": ratio(used_minutes, open_minutes),
            "by_hour": [
                {"hour": hour, "utilisation": ratio(used_hours.get(hour, 0.0), open_hours[hour])}
                for hour in sorted(open_hours)
            ],
            "no_shows": no_shows,
            "checked_in": checked,
            "no_show_rate": ratio(no_shows, no_shows + checked),
        })
    total_no_shows = sum(r["no_shows"] for r in rows)
    total_checked = sum(r["checked_in"] for r in rows)
    return {
        "resources": rows,
        "by_hour": [
            {"hour": hour, "utilisation": ratio(used_by_hour[hour], open_by_hour[hour])}
            for hour in sorted(open_by_hour)
        ],
        "utilisation": ratio(sum(used_by_hour.values()), sum(open_by_hour.values())),
        "no_shows": total_no_shows,
        "checked_in": total_checked,
        "no_show_rate": ratio(total_no_shows, total_no_shows + total_checked),
    }


def _spaces(session: Session, p: Period, _org_id: int | None, settings: Mapping[str, Any]) -> dict:
    space = spaces(session, p, settings["policy"])
    return {"utilisation": space["utilisation"], "no_show_rate": space["no_show_rate"], "spaces": space}


def _spaces_rows(report: dict, label: str, org: str) -> Iterator[Row]:
    space = report["spaces"]
    for row in space["by_hour"]:
        yield f"utilisation[{row['hour']:02d}:00]", label, org, row["utilisation"]
    for row in space["resources"]:
        resource = f"#{row['resource_id']} {row['name']}"
        yield f"utilisation[{resource}]", label, org, row["utilisation"]
        yield f"no_show_rate[{resource}]", label, org, row["no_show_rate"]
        for cell in row["by_hour"]:
            yield f"utilisation[{resource}][{cell['hour']:02d}:00]", label, org, cell["utilisation"]


# The dashboard's settings must hold the centre's BookingPolicy as ``policy``. In the CSV,
# the spaces' rows come after every other series.
SPACES = KpiProvider(
    indicators={
        "utilisation": (N_("Space utilisation"),
                        N_("booked (confirmed or checked-in) hours / opening hours")),
        "no_show_rate": (N_("No-show rate"),
                         N_("no-shows / (no-shows + check-ins) of bookings starting in the period")),
    },
    compute=_spaces,
    sections=("spaces",),
    series=_spaces_rows,
    series_order=200,
    community_wide=True,
)
