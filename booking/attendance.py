"""Check-in: the booking's short code inside the window around its start marks the member as
present and awards attendance points through the scoring rules, exactly once."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy.orm import Session

from booking.errors import TooLate
from booking.loading import locked_booking, resolve_now
from booking.models import Booking, State
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.timeutil import moment, utc
from community.db import UnitOfWork
from community.errors import Conflict, Forbidden, InvalidInput
from community.i18n import N_, Moment
from community.models import User
from community.validation import get_row
from rewards import scoring
from rewards.events import LedgerChanged
from rewards.models import LedgerEntry

ATTENDANCE_RULE = ("attendance-hours", 1)


def check_in(
    uow: UnitOfWork,
    *,
    actor_id: int,
    booking_id: object,
    code: object,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> int:
    """Check in with the booking's short code inside the window around its start; attendance
    points are awarded through the scoring rules exactly once. Returns the points awarded."""
    now = resolve_now(now)
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput("code is required (the short code on your booking)")
    with uow:
        session = uow.session
        actor = get_row(session, User, actor_id, "user")
        booking = locked_booking(session, booking_id)
        if booking.member_id != actor.id and not actor.is_staff:
            raise Forbidden("you can only check in to your own bookings")
        if not secrets.compare_digest(code.strip().upper().encode(), booking.code.encode()):
            raise InvalidInput("the code does not match this booking")
        if booking.state == State.CHECKED_IN:
            raise Conflict("this booking is already checked in")
        if booking.state != State.CONFIRMED:
            raise Conflict(
                N_("booking %(booking)s is %(state)s; only a confirmed booking can be checked in",
                   booking=booking.id, state=booking.state.replace('_', ' '))
            )
        _check_window(booking, now, policy)
        booking.state = State.CHECKED_IN.value
        booking.checked_in_at = now
        entries = _award_attendance(session, booking)
        if entries:
            uow.publish(LedgerChanged((booking.member_id,)))
        points = sum(e.points for e in entries)
        uow.commit()
        return points


def _check_window(booking: Booking, now: dt.datetime, policy: BookingPolicy) -> None:
    """Check-in is open from ``checkin_before`` before the start to ``checkin_after`` after it."""
    start = utc(booking.starts_at)
    opens, closes = start - policy.checkin_before, start + policy.checkin_after
    if now < opens:
        local = opens.astimezone(policy.tz)
        raise TooLate(N_("check-in opens at %(time)s on %(day)s", time=moment(opens, policy.tz, "time"),
                         day=Moment(f"{local:%d %b}", opens, "date", tz=policy.tz)))
    if now > closes:
        raise TooLate(N_("check-in closed at %(time)s; the slot was released",
                         time=moment(closes, policy.tz, "time")))


def _award_attendance(session: Session, booking: Booking) -> list[LedgerEntry]:
    """The ledger entries of the attendance points (none when the rules award nothing)."""
    start, end = utc(booking.starts_at), utc(booking.ends_at)
    hours = (end - start) / dt.timedelta(hours=1)
    resource = booking.resource
    awards = scoring.awards_for(
        session,
        scoring.BOOKING_CHECKED_IN,
        member_id=booking.member_id,
        inputs={"duration": hours, "price": booking.credits},
        context={"resource_id": resource.id, "group_id": resource.group_id},
        default=scoring.Award(max(1, round(hours)), "attendance", *ATTENDANCE_RULE),
    )
    return scoring.record_awards(
        session,
        awards,
        member_id=booking.member_id,
        cause="booking_check_in",
        source_key=f"booking:{booking.id}:check-in",
    )
