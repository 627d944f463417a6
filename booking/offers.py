"""Passing on a freed slot: when a booking stops blocking, its own waitlist offer ends and the
slot is offered to the members waiting for it, higher loyalty tier first, then first come."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from booking.errors import QuotaExceeded, SlotTaken
from booking.limits import active_suspension, check_quotas
from booking.models import Booking, Resource, State, WaitlistEntry, WaitState
from booking.notices import link
from booking.policy import BookingPolicy
from booking.slots import blocking_overlap, insert_booking, new_code
from booking.timeutil import moment, span_text, utc
from community.i18n import N_
from community.notifications import notify
from rewards import loyalty


def release(session: Session, booking: Booking, now: dt.datetime, policy: BookingPolicy) -> None:
    """After a booking stopped blocking: its waitlist entry ends and waiters are offered the slot."""
    session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.booking_id == booking.id, WaitlistEntry.state == WaitState.OFFERED.value)
        .values(state=WaitState.EXPIRED.value)
    )
    session.flush()
    _promote(session, booking.resource, utc(booking.starts_at), utc(booking.ends_at), now, policy)


def _rank(session: Session, member_id: int) -> int:
    tier = loyalty.member_tier(session, member_id)
    return tier.rank if tier is not None else 0


def _promote(
    session: Session,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    policy: BookingPolicy,
) -> list[Booking]:
    """Offer a freed slot to waiting members: higher loyalty tier first, then first come.
    The offered booking holds the slot until the member confirms or the hold runs out."""
    entries = session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.resource_id == resource.id,
            WaitlistEntry.state == WaitState.WAITING.value,
            WaitlistEntry.starts_at < end,
            WaitlistEntry.ends_at > start,
            WaitlistEntry.starts_at > now,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).all()
    ranked = sorted(entries, key=lambda w: (-_rank(session, w.member_id), utc(w.created_at), w.id))
    offered = []
    for entry in ranked:
        booking = _offer(session, entry, resource, now, policy)
        if booking is not None:
            offered.append(booking)
    return offered


def _offer(
    session: Session, entry: WaitlistEntry, resource: Resource, now: dt.datetime, policy: BookingPolicy
) -> Booking | None:
    """The slot held for ``entry``'s member and the member notified, or None when the slot is
    taken or the member may not book it now."""
    s, e = utc(entry.starts_at), utc(entry.ends_at)
    if blocking_overlap(session, resource.id, s, e) is not None:
        return None
    if active_suspension(session, entry.member_id, now) is not None:
        return None
    try:
        check_quotas(session, entry.member_id, resource, s, e, now, policy)
    except QuotaExceeded:
        return None
    booking = Booking(
        resource_id=resource.id,
        member_id=entry.member_id,
        starts_at=s,
        ends_at=e,
        state=State.OFFERED.value,
        credits=0,
        code=new_code(session),
        expires_at=min(now + policy.waitlist_hold, s),
    )
    try:
        insert_booking(session, booking, resource, policy)
    except SlotTaken:
        return None
    entry.state = WaitState.OFFERED.value
    entry.booking_id = booking.id
    until = utc(booking.expires_at).astimezone(policy.tz)
    notify(
        session,
        entry.member_id,
        "waitlist_offer",
        N_("%(name)s is free for you %(when)s. Confirm by %(until)s or it goes to the next person "
           "waiting.", name=resource.name, when=span_text(s, e, policy.tz),
           until=moment(until, policy.tz)),
        link(booking),
    )
    return booking
