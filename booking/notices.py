"""How booking messages and notifications refer to things: a booking's page (the link of every
notification about it) and a length of time in words."""

from __future__ import annotations

from booking.models import Booking
from community.i18n import N_, NP_, Msg


def link(booking: Booking) -> str:
    return f"/booking/bookings/{booking.id}"


def duration(minutes: int) -> Msg:
    if minutes % 1440 == 0:
        return NP_("%(num)s day", "%(num)s days", minutes // 1440)
    if minutes % 60 == 0:
        return NP_("%(num)s hour", "%(num)s hours", minutes // 60)
    return N_("%(num)s minutes", num=minutes)
