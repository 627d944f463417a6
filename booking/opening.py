"""Opening hours: the text staff write ('Mon-Fri 08:00-20:00; Sat 10:00-14:00', local time) and
back, and a resource's open intervals in a range with closed or busy times taken out."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from booking.models import Resource
from booking.policy import BookingPolicy
from booking.timeutil import overlaps
from community.errors import InvalidInput
from community.i18n import N_

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY = dt.time.max  # "24:00": open until midnight

_HOURS_RE = re.compile(
    r"^\s*(?P<d1>[a-z]{3})(?:\s*-\s*(?P<d2>[a-z]{3}))?\s+(?P<o>\d{1,2}:\d{2})\s*-\s*(?P<c>\d{1,2}:\d{2})\s*$"
)


def clock(t: dt.time) -> str:
    return "24:00" if t == END_OF_DAY else t.strftime("%H:%M")


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
