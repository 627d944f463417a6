"""Reading the values of a booking use case's input: whole numbers in a range, bounded text
and times of day, each refused with a 400 that names the field."""

from __future__ import annotations

import datetime as dt

from community.errors import InvalidInput
from community.i18n import N_
from community.validation import text as checked_text


def int_field(data: dict, name: str, default: int | None, lo: int, hi: int, *, optional: bool = False):
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


def text_field(data: dict, name: str, max_len: int, *, required: bool = False) -> str:
    return checked_text(data.get(name) or "", name, max_len, required=required)


def time_field(data: dict, name: str) -> dt.time | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(str(value).zfill(5))
    except ValueError:
        raise InvalidInput(N_("%(name)s must be a time like 17:00", name=name)) from None
