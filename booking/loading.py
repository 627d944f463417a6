"""The rows a booking use case acts on, loaded with the checks that come with them: the clock,
the acting member (locked) or staff member, a booking (locked, or one its reader may see), a
bookable resource, and a member's own bookings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Booking, Resource
from booking.timeutil import parse_instant
from community.db import is_row_id, utcnow
from community.errors import Forbidden, NotFound
from community.i18n import N_, Msg
from community.models import User
from community.validation import get_row


def resolve_now(now: dt.datetime | None) -> dt.datetime:
    """The use case's "now": the given instant (tests, replays) or the clock."""
    return utcnow() if now is None else parse_instant(now, "now")


def locked_user(session: Session, user_id: object) -> User:
    """The acting member's row, locked on PostgreSQL: one member's bookings are checked
    against quotas and credits one at a time (SQLite writers are serialised anyway)."""
    if not is_row_id(user_id):
        raise NotFound("user not found")
    user = session.scalars(select(User).where(User.id == user_id).with_for_update()).one_or_none()
    if user is None or not user.active:
        raise NotFound(N_("user %(user_id)s not found", user_id=user_id))
    return user


def locked_booking(session: Session, booking_id: object) -> Booking:
    if not is_row_id(booking_id):
        raise NotFound("booking not found")
    booking = session.scalars(
        select(Booking)
        .where(Booking.id == booking_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if booking is None:
        raise NotFound(N_("booking %(booking_id)s not found", booking_id=booking_id))
    return booking


def get_resource(session: Session, resource_id: object, *, bookable: bool = True) -> Resource:
    """A bookable (active) resource or NotFound; with ``bookable=False`` an inactive one too."""
    resource = get_row(session, Resource, resource_id, "resource")
    if bookable and not resource.active:
        raise NotFound(N_("resource %(resource_id)s is not bookable", resource_id=resource_id))
    return resource


def require_staff(session: Session, actor_id: object, what: str) -> User:
    actor = get_row(session, User, actor_id, "user")
    if not actor.is_staff:
        raise Forbidden(N_("only staff %(what)s", what=Msg(what)))  # what: the require_staff:3 keyword
    return actor


def member_bookings(
    session: Session,
    member_id: int,
    *,
    upcoming_only: bool = False,
    now: dt.datetime | None = None,
    limit: int = 200,
) -> list[Booking]:
    query = select(Booking).where(Booking.member_id == member_id)
    if upcoming_only:
        query = query.where(Booking.ends_at > resolve_now(now))
    return list(session.scalars(query.order_by(Booking.starts_at.desc()).limit(limit)))


def booking_for(session: Session, *, actor: User, booking_id: object) -> Booking:
    """A booking its member or staff may read."""
    booking = get_row(session, Booking, booking_id, "booking")
    if booking.member_id != actor.id and not actor.is_staff:
        raise Forbidden("you can only see your own bookings")
    return booking
