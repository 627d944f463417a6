"""Bookings whose time ran out: undecided holds and unanswered offers expire, confirmed
bookings nobody checked in to become no-shows (repeated ones suspend the member), and each
releases its slot. Every booking transaction sweeps its resource and member first."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from booking.limits import active_suspension
from booking.loading import resolve_now
from booking.models import Booking, State, Suspension, WaitlistEntry, WaitState
from booking.notices import link
from booking.offers import release
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.timeutil import moment, span_text, utc
from community.db import UnitOfWork
from community.i18n import N_
from community.notifications import notify


def expire(session: Session, booking: Booking, now: dt.datetime, policy: BookingPolicy) -> None:
    was = booking.state
    booking.state = State.EXPIRED.value
    booking.expires_at = None
    where = N_("%(name)s, %(when)s", name=booking.resource.name,
               when=span_text(utc(booking.starts_at), utc(booking.ends_at), policy.tz))
    if was == State.PENDING:
        text = N_("Your booking of %(where)s was not decided in time and has expired; no credits were spent.",
                  where=where)
    else:
        text = N_("Your waitlist offer for %(where)s ran out.", where=where)
    notify(session, booking.member_id, "booking_expired", text, link(booking))
    release(session, booking, now, policy)


def _no_show(session: Session, booking: Booking, now: dt.datetime, policy: BookingPolicy) -> None:
    booking.state = State.NO_SHOW.value
    notify(
        session,
        booking.member_id,
        "booking_no_show",
        N_("You did not check in to %(name)s, %(when)s; the slot was released.", name=booking.resource.name,
           when=span_text(utc(booking.starts_at), utc(booking.ends_at), policy.tz)),
        link(booking),
    )
    session.flush()
    recent = session.scalar(
        select(func.count()).where(
            Booking.member_id == booking.member_id,
            Booking.state == State.NO_SHOW.value,
            Booking.starts_at >= now - policy.no_show_window,
        )
    )
    if recent >= policy.no_show_limit and active_suspension(session, booking.member_id, now) is None:
        until = now + policy.suspension
        session.add(
            Suspension(
                member_id=booking.member_id,
                starts_at=now,
                ends_at=until,
                reason=f"{recent} no-shows in {policy.no_show_window.days} days",
            )
        )
        local = until.astimezone(policy.tz)
        notify(
            session,
            booking.member_id,
            "booking_suspended",
            N_("After %(count)s no-shows in %(days)s days you cannot book until %(until)s.", count=recent,
               days=policy.no_show_window.days, until=moment(local, policy.tz)),
            "/booking/mine",
        )


def sweep(
    session: Session,
    now: dt.datetime,
    policy: BookingPolicy,
    *,
    resource_id: int | None = None,
    member_id: int | None = None,
) -> int:
    """Expire undecided holds and release no-shows (of one resource and one member's, or all).
    Runs inside each booking transaction, so correctness never waits for a scheduler; locked
    rows are skipped (another transaction is handling them)."""
    stale = select(Booking).where(
        Booking.state.in_((State.PENDING.value, State.OFFERED.value)), Booking.expires_at <= now
    )
    overdue = select(Booking).where(
        Booking.state == State.CONFIRMED.value, Booking.starts_at <= now - policy.checkin_after
    )
    if resource_id is not None:
        scope = or_(Booking.resource_id == resource_id, Booking.member_id == member_id)
        stale = stale.where(scope)
        overdue = overdue.where(scope)
    handled = 0
    for booking in session.scalars(stale.order_by(Booking.id).with_for_update(skip_locked=True)).all():
        if booking.state in (State.PENDING, State.OFFERED):
            expire(session, booking, now, policy)
            handled += 1
    for booking in session.scalars(
        overdue.order_by(Booking.starts_at).with_for_update(skip_locked=True)
    ).all():
        if booking.state == State.CONFIRMED:
            _no_show(session, booking, now, policy)
            handled += 1
    stale_waits = (
        update(WaitlistEntry)
        .where(WaitlistEntry.state == WaitState.WAITING.value, WaitlistEntry.starts_at <= now)
        .values(state=WaitState.EXPIRED.value)
    )
    if resource_id is not None:
        stale_waits = stale_waits.where(WaitlistEntry.resource_id == resource_id)
    session.execute(stale_waits)
    return handled


def housekeeping(
    uow: UnitOfWork, *, now: dt.datetime | None = None, policy: BookingPolicy = DEFAULT_POLICY
) -> int:
    """Expire holds and release no-shows everywhere (the `kopa reminders` command runs it)."""
    now = resolve_now(now)
    with uow:
        handled = sweep(uow.session, now, policy)
        uow.commit()
        return handled
