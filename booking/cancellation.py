"""Cancelling bookings: members their own up to the deadline, staff any with a reason, a whole
series' future dates, and all of a member's upcoming bookings when their account is erased.
Spent credits come back and the freed slot is offered on."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.errors import TooLate
from booking.fields import text_field
from booking.loading import locked_booking, resolve_now
from booking.models import Booking, BookingSeries, State, WaitlistEntry, WaitState
from booking.notices import duration, link
from booking.offers import release
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.results import BookingResult, result_of
from booking.slots import BLOCKING_VALUES
from booking.timeutil import moment, span_text, utc
from community.db import UnitOfWork
from community.errors import Conflict, Forbidden
from community.i18n import N_
from community.models import User
from community.notifications import notify
from community.validation import get_row
from rewards.ledger import refund_credits


def _refund(session: Session, booking: Booking) -> None:
    if booking.spend_entry_id is not None and booking.refund_entry_id is None and booking.credits:
        entry = refund_credits(
            session,
            member_id=booking.member_id,
            amount=booking.credits,
            cause="booking_refund",
            source_key=f"booking:{booking.id}:refund",
        )
        booking.refund_entry_id = entry.id


def cancel(
    uow: UnitOfWork,
    *,
    actor_id: int,
    booking_id: object,
    reason: object = None,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> BookingResult:
    """Members cancel their own booking up to the deadline (spent credits come back); staff
    cancel any booking with a reason (always refunded)."""
    now = resolve_now(now)
    with uow:
        session = uow.session
        actor = get_row(session, User, actor_id, "user")
        booking = locked_booking(session, booking_id)
        _cancel_one(session, actor, booking, reason, now, policy)
        result = result_of(booking)
        uow.commit()
        return result


def _cancel_one(
    session: Session, actor: User, booking: Booking, reason: object, now: dt.datetime, policy: BookingPolicy
) -> None:
    own = booking.member_id == actor.id
    if not own and not actor.is_staff:
        raise Forbidden("you can only cancel your own bookings")
    if booking.state not in (State.PENDING, State.OFFERED, State.CONFIRMED):
        raise Conflict(N_("booking %(booking)s is %(state)s and cannot be cancelled",
                          booking=booking.id, state=booking.state.replace('_', ' ')))
    start = utc(booking.starts_at)
    text = text_field({"reason": reason}, "reason", 2000, required=not own)
    if own:
        deadline = start - policy.cancel_deadline
        if booking.state == State.CONFIRMED and now > deadline:
            local = deadline.astimezone(policy.tz)
            raise TooLate(
                N_("cancellations close %(before)s before the start (%(deadline)s); it is too late to cancel",
                   before=duration(int(policy.cancel_deadline.total_seconds() // 60)),
                   deadline=moment(local, policy.tz))
            )
    elif start <= now and booking.state == State.CONFIRMED:
        pass  # staff may still release a booking under way (e.g. the room is needed)
    booking.state = State.CANCELLED.value
    booking.cancelled_at = now
    booking.cancelled_by_id = actor.id
    booking.cancel_reason = text or None
    booking.expires_at = None
    _refund(session, booking)
    if not own:
        span = span_text(start, utc(booking.ends_at), policy.tz)
        notify(
            session,
            booking.member_id,
            "booking_cancelled",
            N_("Staff cancelled your booking of %(name)s, %(when)s: %(reason)s Your credits were refunded.",
               name=booking.resource.name, when=span, reason=text)
            if booking.refund_entry_id else
            N_("Staff cancelled your booking of %(name)s, %(when)s: %(reason)s",
               name=booking.resource.name, when=span, reason=text),
            link(booking),
        )
    release(session, booking, now, policy)


def cancel_series(
    uow: UnitOfWork,
    *,
    actor_id: int,
    series_id: object,
    reason: object = None,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> tuple[list[int], list[int]]:
    """Cancel every future occurrence that still can be; returns (cancelled, kept) ids."""
    now = resolve_now(now)
    with uow:
        session = uow.session
        actor = get_row(session, User, actor_id, "user")
        series = get_row(session, BookingSeries, series_id, "series")
        if series.member_id != actor.id and not actor.is_staff:
            raise Forbidden("you can only cancel your own series")
        rows = session.scalars(
            select(Booking)
            .where(
                Booking.series_id == series.id, Booking.state.in_(BLOCKING_VALUES), Booking.starts_at > now
            )
            .order_by(Booking.starts_at)
            .with_for_update()
        ).all()
        cancelled, kept = [], []
        for booking in rows:
            try:
                _cancel_one(session, actor, booking, reason, now, policy)
                cancelled.append(booking.id)
            except TooLate:
                kept.append(booking.id)
        uow.commit()
        return cancelled, kept


def release_member(
    session: Session, *, member_id: int, actor_id: int, reason: str, now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> tuple[list[int], list[int]]:
    """Account erasure (community.privacy), in the caller's transaction: the member leaves
    every waitlist first (so a freed slot is never offered back to them), then each booking
    that has not started is cancelled, always refunded, and its slot offered to the next
    person waiting. Returns (cancelled booking ids, waitlist entry ids left)."""
    now = resolve_now(now)
    entries = session.scalars(
        select(WaitlistEntry).where(
            WaitlistEntry.member_id == member_id,
            WaitlistEntry.state.in_((WaitState.WAITING.value, WaitState.OFFERED.value)),
        ).order_by(WaitlistEntry.id)
    ).all()
    for entry in entries:
        entry.state = WaitState.LEFT.value
    session.flush()
    bookings = session.scalars(
        select(Booking)
        .where(
            Booking.member_id == member_id,
            Booking.state.in_((State.PENDING.value, State.OFFERED.value, State.CONFIRMED.value)),
            Booking.starts_at > now,
        )
        .order_by(Booking.starts_at, Booking.id)
        .with_for_update()
    ).all()
    for booking in bookings:
        booking.state = State.CANCELLED.value
        booking.cancelled_at = now
        booking.cancelled_by_id = actor_id
        booking.cancel_reason = reason
        booking.expires_at = None
        _refund(session, booking)
        release(session, booking, now, policy)
    return [b.id for b in bookings], [e.id for e in entries]
