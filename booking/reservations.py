"""Booking a slot: confirmed at once with its credits spent, or pending approval with them held.
Conflicts are impossible by construction: SQLite takes the write lock up front (``BEGIN IMMEDIATE``);
PostgreSQL's exclusion constraint refuses the later of two overlapping inserts (SlotTaken, 409)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from booking.housekeeping import sweep
from booking.limits import check_quotas, check_suspension
from booking.loading import get_resource, locked_user, resolve_now
from booking.models import Booking, Resource, State
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.pricing import ensure_affordable, member_discount, price
from booking.results import BookingResult, result_of
from booking.slots import (
    blocking_overlap,
    check_blackouts,
    check_slot_rules,
    insert_booking,
    new_code,
    slot_taken,
)
from booking.timeutil import parse_instant
from community.db import UnitOfWork
from community.models import User
from rewards.ledger import spend_credits


def create_booking(
    session: Session,
    *,
    member: User,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    policy: BookingPolicy,
    series_id: int | None = None,
) -> Booking:
    check_slot_rules(resource, start, end, now, policy)
    check_blackouts(session, resource, start, end, policy)
    check_suspension(session, member.id, now, policy)
    other = blocking_overlap(session, resource.id, start, end)
    if other is not None:
        raise slot_taken(resource, other, start, end, policy)
    check_quotas(session, member.id, resource, start, end, now, policy)
    credits = price(resource, start, end, policy, member_discount(session, member.id))
    if resource.needs_approval and credits:
        ensure_affordable(session, member.id, credits)
    booking = Booking(
        resource_id=resource.id,
        member_id=member.id,
        series_id=series_id,
        starts_at=start,
        ends_at=end,
        state=(State.PENDING if resource.needs_approval else State.CONFIRMED).value,
        credits=credits,
        code=new_code(session),
        expires_at=min(now + policy.approval_ttl, start) if resource.needs_approval else None,
    )
    insert_booking(session, booking, resource, policy)
    if credits and not resource.needs_approval:
        entry = spend_credits(
            session, member_id=member.id, amount=credits, cause="booking", source_key=f"booking:{booking.id}"
        )
        booking.spend_entry_id = entry.id
    return booking


def book(
    uow: UnitOfWork,
    *,
    member_id: int,
    resource_id: object,
    start: object,
    end: object,
    now: dt.datetime | None = None,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> BookingResult:
    """One booking: confirmed at once (credits spent), or pending approval (credits held)."""
    now = resolve_now(now)
    starts_at, ends_at = parse_instant(start, "start"), parse_instant(end, "end")
    with uow:
        session = uow.session
        member = locked_user(session, member_id)
        resource = get_resource(session, resource_id)
        sweep(session, now, policy, resource_id=resource.id, member_id=member.id)
        booking = create_booking(
            session, member=member, resource=resource, start=starts_at, end=ends_at, now=now, policy=policy
        )
        result = result_of(booking)
        uow.commit()
        return result
