"""Centre-wide booking settings (``KOPA_TIMEZONE`` and ``KOPA_BOOKING_*``), one frozen value
handed to every service so tests and the web app choose them explicitly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class BookingPolicy:
    timezone: str = "Europe/Riga"
    cancel_deadline: dt.timedelta = dt.timedelta(hours=24)  # members cancel (with refund) until then
    approval_ttl: dt.timedelta = dt.timedelta(hours=48)  # a pending booking expires undecided
    waitlist_hold: dt.timedelta = dt.timedelta(hours=2)  # time to confirm a waitlist offer
    checkin_before: dt.timedelta = dt.timedelta(minutes=15)
    checkin_after: dt.timedelta = dt.timedelta(minutes=15)
    no_show_limit: int = 3  # this many no-shows ...
    no_show_window: dt.timedelta = dt.timedelta(days=30)  # ... within this window ...
    suspension: dt.timedelta = dt.timedelta(days=7)  # ... suspend booking for this long
    reminder_before: dt.timedelta = dt.timedelta(hours=24)
    max_range: dt.timedelta = dt.timedelta(days=62)  # widest availability query
    max_occurrences: int = 52
    tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "tz", ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r} (KOPA_TIMEZONE)") from exc

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> BookingPolicy:
        """Read ``KOPA_TIMEZONE`` and ``KOPA_BOOKING_*`` (hours, minutes or days as named)."""

        def number(name: str, default: float) -> float:
            raw = settings.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name} must be a number, not {raw!r}") from exc
            if value < 0:
                raise ValueError(f"{name} must not be negative")
            return value

        d = cls.__dataclass_fields__
        hours = dt.timedelta(hours=1)
        minutes = dt.timedelta(minutes=1)
        days = dt.timedelta(days=1)

        def span(name: str, attr: str, unit: dt.timedelta) -> dt.timedelta:
            return unit * number(name, d[attr].default / unit)

        return cls(
            timezone=str(settings.get("KOPA_TIMEZONE") or cls.timezone),
            cancel_deadline=span("KOPA_BOOKING_CANCEL_HOURS", "cancel_deadline", hours),
            approval_ttl=span("KOPA_BOOKING_APPROVAL_HOURS", "approval_ttl", hours),
            waitlist_hold=span("KOPA_BOOKING_WAITLIST_HOLD_MINUTES", "waitlist_hold", minutes),
            checkin_before=span("KOPA_BOOKING_CHECKIN_BEFORE_MINUTES", "checkin_before", minutes),
            checkin_after=span("KOPA_BOOKING_CHECKIN_AFTER_MINUTES", "checkin_after", minutes),
            no_show_limit=int(number("KOPA_BOOKING_NO_SHOW_LIMIT", cls.no_show_limit)),
            no_show_window=span("KOPA_BOOKING_NO_SHOW_DAYS", "no_show_window", days),
            suspension=span("KOPA_BOOKING_SUSPENSION_DAYS", "suspension", days),
            reminder_before=span("KOPA_BOOKING_REMINDER_HOURS", "reminder_before", hours),
        )

    def local(self, instant: dt.datetime) -> dt.datetime:
        return instant.astimezone(self.tz)


DEFAULT_POLICY = BookingPolicy()
