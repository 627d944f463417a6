"""Staff decisions on bookings that need approval: approving spends the credits the pending
booking held, declining (with a comment) releases the hold and offers the slot on."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from booking.errors import TooLate
from booking.fields import text_field
from booking.housekeeping import expire
from booking.loading import locked_booking, require_staff, resolve_now
from booking.models import Booking, State
from booking.notices import link
from booking.offers import release
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.timeutil import span_text, utc
from community.db import UnitOfWork
from community.errors import Conflict, Forbidden
from community.i18n import N_, Msg
from community.notifications import notify
from rewards.ledger import spend_credits


def decide(
    uow: UnitOfWork,
    *,
    staff_id: int,
    booking_id: object,
    approve: bool,
    comment: object = None,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> str:
    """Approve (the held credits are spent) or decline (the hold is released, comment required)."""
    now = resolve_now(now)
    text = text_field({"comment": comment}, "comment", 2000, required=not approve)
    with uow:
        session = uow.session
        staff = require_staff(session, staff_id, "decide bookings")
        booking = locked_booking(session, booking_id)
        if booking.member_id == staff.id:
            raise Forbidden("nobody approves their own booking")
        if booking.state != State.PENDING:
            raise Conflict(N_("booking %(booking)s is %(state)s, not pending",
                              booking=booking.id, state=booking.state))
        if utc(booking.expires_at) <= now:
            expire(session, booking, now, policy)
            uow.commit()
            raise TooLate(N_("booking %(booking)s expired undecided and its slot was released",
                             booking=booking.id))
        where = N_("%(name)s, %(when)s", name=booking.resource.name,
                   when=span_text(utc(booking.starts_at), utc(booking.ends_at), policy.tz))
        if approve:
            _approve(session, booking, where, text)
        else:
            _decline(session, booking, where, text)
        booking.decided_at = now
        booking.decided_by_id = staff.id
        booking.decision_comment = text or None
        booking.expires_at = None
        if not approve:
            release(session, booking, now, policy)
        state = booking.state
        uow.commit()
        return state


def _approve(session: Session, booking: Booking, where: Msg, text: str) -> None:
    if booking.credits:
        # Its own hold is counted in spendable_credits; release it for this spend.
        entry = spend_credits(
            session,
            member_id=booking.member_id,
            amount=booking.credits,
            cause="booking",
            source_key=f"booking:{booking.id}",
            extra_held=-booking.credits,
        )
        booking.spend_entry_id = entry.id
    booking.state = State.CONFIRMED.value
    notify(
        session,
        booking.member_id,
        "booking_approved",
        N_("Your booking of %(where)s was approved. %(comment)s", where=where, comment=text) if text
        else N_("Your booking of %(where)s was approved.", where=where),
        link(booking),
    )


def _decline(session: Session, booking: Booking, where: Msg, text: str) -> None:
    booking.state = State.DECLINED.value
    notify(
        session,
        booking.member_id,
        "booking_declined",
        N_("Your booking of %(where)s was declined: %(comment)s", where=where, comment=text),
        link(booking),
    )
