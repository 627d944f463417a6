"""A member's side of the waitlist: waiting for a taken slot, leaving the list, and taking up
an offer, which then becomes a booking like any other (paid, or pending approval)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from booking.errors import TooLate
from booking.housekeeping import expire, sweep
from booking.limits import check_suspension
from booking.loading import get_resource, locked_booking, locked_user, resolve_now
from booking.models import Booking, State, WaitlistEntry, WaitState
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.pricing import ensure_affordable, member_discount, price
from booking.results import BookingResult, result_of
from booking.slots import blocking_overlap, check_blackouts, check_slot_rules
from booking.timeutil import parse_instant, utc
from community.db import UnitOfWork
from community.errors import Conflict, Forbidden
from community.i18n import N_
from community.validation import get_row
from rewards.ledger import spend_credits


def join_waitlist(
    uow: UnitOfWork,
    *,
    member_id: int,
    resource_id: object,
    start: object,
    end: object,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> int:
    """Wait for a taken slot. A free slot is to be booked, not waited for."""
    now = resolve_now(now)
    starts_at, ends_at = parse_instant(start, "start"), parse_instant(end, "end")
    with uow:
        session = uow.session
        member = locked_user(session, member_id)
        resource = get_resource(session, resource_id)
        sweep(session, now, policy, resource_id=resource.id, member_id=member.id)
        check_slot_rules(resource, starts_at, ends_at, now, policy)
        check_blackouts(session, resource, starts_at, ends_at, policy)
        check_suspension(session, member.id, now, policy)
        other = blocking_overlap(session, resource.id, starts_at, ends_at)
        if other is None:
            raise Conflict("that slot is free: book it instead of waiting")
        if other.member_id == member.id:
            raise Conflict("you hold that slot already")
        mine = session.scalar(
            select(WaitlistEntry.id).where(
                WaitlistEntry.resource_id == resource.id,
                WaitlistEntry.member_id == member.id,
                WaitlistEntry.state.in_((WaitState.WAITING.value, WaitState.OFFERED.value)),
                WaitlistEntry.starts_at < ends_at,
                WaitlistEntry.ends_at > starts_at,
            )
        )
        if mine is not None:
            raise Conflict("you are already waiting for that slot")
        entry = WaitlistEntry(
            resource_id=resource.id, member_id=member.id, starts_at=starts_at, ends_at=ends_at, created_at=now
        )
        session.add(entry)
        session.flush()
        uow.commit()
        return entry.id


def leave_waitlist(uow: UnitOfWork, *, member_id: int, entry_id: object) -> None:
    with uow:
        entry = get_row(uow.session, WaitlistEntry, entry_id, "waitlist entry")
        if entry.member_id != member_id:
            raise Forbidden("you can only leave your own waitlist entries")
        if entry.state != WaitState.WAITING:
            raise Conflict(N_("this waitlist entry is %(state)s", state=entry.state))
        entry.state = WaitState.LEFT.value
        uow.commit()


def confirm_offer(
    uow: UnitOfWork,
    *,
    member_id: int,
    booking_id: object,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> BookingResult:
    """Take up a waitlist offer: it becomes a booking like any other (paid, or pending approval)."""
    now = resolve_now(now)
    with uow:
        session = uow.session
        member = locked_user(session, member_id)
        booking = locked_booking(session, booking_id)
        if booking.member_id != member.id:
            raise Forbidden("this offer is for someone else")
        if booking.state != State.OFFERED:
            raise Conflict(N_("booking %(booking)s is %(state)s, not an open offer",
                              booking=booking.id, state=booking.state))
        if utc(booking.expires_at) <= now:
            expire(session, booking, now, policy)
            uow.commit()
            raise TooLate("the offer ran out and went to the next person waiting")
        check_suspension(session, member.id, now, policy)
        _take_up(session, booking, member.id, now, policy)
        session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.booking_id == booking.id)
            .values(state=WaitState.BOOKED.value)
        )
        result = result_of(booking)
        uow.commit()
        return result


def _take_up(
    session: Session, booking: Booking, member_id: int, now: dt.datetime, policy: BookingPolicy
) -> None:
    """The offer priced now: paid and confirmed, or pending approval with its credits held."""
    resource = booking.resource
    start, end = utc(booking.starts_at), utc(booking.ends_at)
    credits = price(resource, start, end, policy, member_discount(session, member_id))
    booking.credits = credits
    if resource.needs_approval:
        if credits:
            ensure_affordable(session, member_id, credits)
        booking.state = State.PENDING.value
        booking.expires_at = min(now + policy.approval_ttl, start)
    else:
        if credits:
            entry = spend_credits(
                session,
                member_id=member_id,
                amount=credits,
                cause="booking",
                source_key=f"booking:{booking.id}",
            )
            booking.spend_entry_id = entry.id
        booking.state = State.CONFIRMED.value
        booking.expires_at = None
