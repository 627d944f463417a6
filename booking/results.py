"""What the booking use cases return: a booking's outcome as plain values (read before the
commit, so callers need no session) and a series' bookings with the dates it skipped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from booking.models import Booking
from booking.timeutil import utc


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


def result_of(b: Booking) -> BookingResult:
    return BookingResult(
        b.id, b.state, b.credits, b.code, utc(b.starts_at), utc(b.ends_at), b.refund_entry_id is not None
    )
