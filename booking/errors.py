"""Booking's own error kinds; each is a community error, so web/errors.py maps it already."""

from community.errors import Conflict, Forbidden


class SlotTaken(Conflict):
    """The time overlaps a booking that holds the slot; the message names only the time."""

    code = "slot_taken"


class QuotaExceeded(Conflict):
    code = "quota_exceeded"


class BookingSuspended(Forbidden):
    code = "booking_suspended"


class TooLate(Conflict):
    """Past a deadline or outside a window (cancellation, check-in, an offer's hold)."""

    code = "too_late"
