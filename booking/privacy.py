"""Booking's share of GDPR (``community.privacy`` iterates it): the member's bookings, series,
waitlists, suspensions and calendar feed in the export, and erasure's booking step."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from booking import cancellation
from booking.models import Booking, BookingSeries, FeedKey, Suspension, WaitlistEntry
from booking.policy import DEFAULT_POLICY
from community.privacy import ERASED_REASON, ErasureStep, Part


def _resource_extra(session: Session, row: Booking | WaitlistEntry) -> dict:
    return {"resource": row.resource.name}


# (order, part): see ``community.privacy.PARTS`` for the orders.
PARTS: tuple[tuple[int, Part], ...] = (
    (300, Part("bookings", Booking, "member_id", extra=_resource_extra)),
    (310, Part("booking_series", BookingSeries, "member_id")),
    (320, Part("waitlists", WaitlistEntry, "member_id", extra=_resource_extra)),
    (330, Part("booking_suspensions", Suspension, "member_id")),
    (340, Part("calendar_feed", FeedKey, "user_id")),  # its version only: the URL's secret is an HMAC
    # As staff.
    (440, Part("bookings_decided", Booking, "decided_by_id",
               fields=("id", "resource_id", "state", "decided_at", "decision_comment"))),
    (445, Part("bookings_cancelled", Booking, "cancelled_by_id",
               fields=("id", "resource_id", "cancelled_at", "cancel_reason"))),
)


def erase_bookings(step: ErasureStep) -> dict[str, list[int]]:
    """The reasons the member gave when cancelling their own bookings go; then they leave every
    waitlist and each future booking is cancelled and refunded (``cancellation.release_member``)."""
    session, member_id = step.session, step.member.id
    session.execute(
        update(Booking).where(Booking.member_id == member_id, Booking.cancelled_by_id == member_id)
        .values(cancel_reason=None)
    )
    policy = DEFAULT_POLICY if step.policy is None else step.policy
    cancelled, left = cancellation.release_member(
        session, member_id=member_id, actor_id=step.actor.id, reason=ERASED_REASON, now=step.now,
        policy=policy,
    )
    return {"bookings_cancelled": cancelled, "waitlists_left": left}
