"""The booking policy bound to the app (from configuration and the environment) and times
shown in the centre's time zone, in the reader's language."""

from __future__ import annotations

import collections
import datetime as dt
import os

from flask import Flask, current_app

from booking import opening
from booking.models import Resource
from booking.policy import BookingPolicy
from booking.timeutil import utc
from web import i18n


def bind(app: Flask) -> None:
    settings = collections.ChainMap(app.config, os.environ)
    app.extensions["kopa.booking_policy"] = BookingPolicy.from_settings(settings)


def policy() -> BookingPolicy:
    return current_app.extensions["kopa.booking_policy"]


def local_time(value: dt.datetime | None, fmt: str = "%a %d %b %Y %H:%M") -> str:
    """A stored instant in the centre's time zone, in the reader's language: weekday, date and
    time, or only the time for ``"%H:%M"``."""
    if value is None:
        return ""
    if fmt == "%H:%M":
        return i18n.clock(utc(value), policy().tz)
    return i18n.full(utc(value), policy().tz)


def hours_text(resource: Resource) -> str:
    """Opening hours ("Mon-Sat 08:00-20:00") with the weekdays in the reader's language."""
    return i18n.weekdays_in_language(opening.hours_text(resource))

