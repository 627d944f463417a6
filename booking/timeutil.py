"""Parsing and formatting instants: the API takes ISO 8601 with an offset, stores UTC, and
talks to people in the centre's local time."""

from __future__ import annotations

import datetime as dt

from community.db import as_utc
from community.errors import InvalidInput
from community.i18n import N_, Moment


def parse_instant(value: object, field: str) -> dt.datetime:
    """An aware datetime in UTC; naive or malformed times are a 400 that says so."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and 0 < len(value) <= 64:
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                N_(
                    "%(field)s must be an ISO 8601 date and time with an offset, e.g. "
                    "2026-12-01T10:00:00+02:00",
                    field=field,
                )
            ) from None
    else:
        raise InvalidInput(N_("%(field)s must be an ISO 8601 date and time with an offset", field=field))
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidInput(N_("%(field)s has no UTC offset: add one, e.g. +02:00 or Z", field=field))
    return parsed.astimezone(dt.UTC)


def utc(value: dt.datetime) -> dt.datetime:
    """A stored datetime (naive on SQLite) as aware UTC."""
    result = as_utc(value)
    assert result is not None
    return result.astimezone(dt.UTC)


def overlaps(a_start: dt.datetime, a_end: dt.datetime, b_start: dt.datetime, b_end: dt.datetime) -> bool:
    return a_start < b_end and b_start < a_end


def span_text(start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> Moment:
    """'Tue 1 Dec 2026 10:00–11:00' in local time (both days shown when they differ); the web
    layer writes it in the reader's language."""
    s, e = start.astimezone(tz), end.astimezone(tz)
    day = f"{s:%a} {s.day} {s:%b %Y}"
    if s.date() == e.date():
        text = f"{day} {s:%H:%M}–{e:%H:%M}"
    else:
        text = f"{day} {s:%H:%M} – {e:%a} {e.day} {e:%b %Y %H:%M}"
    return Moment(text, start, "span", end=end, tz=tz)


def moment(value: dt.datetime, tz: dt.tzinfo, style: str = "datetime") -> Moment:
    """An instant in a message: 'Tue 1 Dec 10:00' (datetime), '1 Dec 2026' (date), '10:00'
    (time) or 'Tuesday' (weekday) in local time, in the reader's language on the web."""
    local = value.astimezone(tz)
    text = {"datetime": f"{local:%a %d %b %H:%M}", "date": f"{local:%d %b %Y}", "time": f"{local:%H:%M}",
            "weekday": f"{local:%A}"}[style]
    return Moment(text, value, style, tz=tz)


def local_iso(value: dt.datetime, tz: dt.tzinfo) -> str:
    return utc(value).astimezone(tz).isoformat()
