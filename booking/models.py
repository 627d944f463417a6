"""Bookable resources, bookings, series, waitlists, suspensions and feed keys.

A booking blocks its slot while it is pending (awaiting approval), offered (a waitlist hold
to confirm), confirmed or checked in. On PostgreSQL an exclusion constraint over those
states makes two overlapping blocking bookings of one resource impossible (migration 0006);
on SQLite the check and the insert run inside one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

import community.notifications  # noqa: F401  (its table lives in booking's migration)
from community.db import Base, utcnow
from community.models import User


class Kind(enum.StrEnum):
    SPACE = "space"
    EQUIPMENT = "equipment"


class State(enum.StrEnum):
    PENDING = "pending"  # awaiting staff approval; holds the slot and the price
    OFFERED = "offered"  # a waitlisted member may confirm until expires_at
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    DECLINED = "declined"
    EXPIRED = "expired"  # an approval or an offer not decided in time
    NO_SHOW = "no_show"


BLOCKING = (State.PENDING, State.OFFERED, State.CONFIRMED, State.CHECKED_IN)
BLOCKING_SQL = ", ".join(f"'{s.value}'" for s in BLOCKING)
STATES_SQL = ", ".join(f"'{s.value}'" for s in State)


class WaitState(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    EXPIRED = "expired"
    LEFT = "left"


class ResourceGroup(Base):
    """Resources that share quotas (e.g. all meeting rooms)."""

    __tablename__ = "booking_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    max_hours_per_week: Mapped[int | None] = mapped_column(Integer)
    max_concurrent: Mapped[int | None] = mapped_column(Integer)

    resources: Mapped[list[Resource]] = relationship(back_populates="group", order_by="Resource.id")


class Resource(Base):
    __tablename__ = "booking_resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("booking_groups.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default=Kind.SPACE.value)
    capacity: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    photo_url: Mapped[str | None] = mapped_column(String(2000))
    accessibility: Mapped[str] = mapped_column(Text, default="")
    min_minutes: Mapped[int] = mapped_column(Integer, default=30)
    max_minutes: Mapped[int] = mapped_column(Integer, default=240)
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    lead_minutes: Mapped[int] = mapped_column(Integer, default=60)
    horizon_days: Mapped[int] = mapped_column(Integer, default=90)
    needs_approval: Mapped[bool] = mapped_column(default=False)
    price_per_hour: Mapped[int] = mapped_column(Integer, default=0)
    peak_price_per_hour: Mapped[int | None] = mapped_column(Integer)
    peak_from: Mapped[dt.time | None] = mapped_column(Time)
    peak_until: Mapped[dt.time | None] = mapped_column(Time)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    group: Mapped[ResourceGroup] = relationship(back_populates="resources")
    hours: Mapped[list[OpeningHours]] = relationship(
        order_by="(OpeningHours.weekday, OpeningHours.opens)", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("kind IN ('space', 'equipment')", name="kind_known"),
        CheckConstraint(
            "slot_minutes > 0 AND min_minutes > 0 AND min_minutes <= max_minutes", name="lengths_valid"
        ),
        CheckConstraint(
            "price_per_hour >= 0 AND lead_minutes >= 0 AND horizon_days > 0", name="limits_valid"
        ),
    )


class OpeningHours(Base):
    """One opening interval on a weekday (0 = Monday), in the centre's local time."""

    __tablename__ = "booking_opening_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("booking_resources.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens: Mapped[dt.time] = mapped_column(Time)
    closes: Mapped[dt.time] = mapped_column(Time)

    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_valid"),
        CheckConstraint("opens < closes", name="interval_valid"),
    )


class Blackout(Base):
    """A period the resource cannot be booked: maintenance, holidays."""

    __tablename__ = "booking_blackouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("booking_resources.id"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (CheckConstraint("starts_at < ends_at", name="range_valid"),)


class BookingSeries(Base):
    """A weekly (every N weeks) recurrence; occurrences are ordinary bookings."""

    __tablename__ = "booking_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("booking_resources.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    every_weeks: Mapped[int] = mapped_column(Integer, default=1)
    count: Mapped[int] = mapped_column(Integer)
    until: Mapped[dt.date | None] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(8), default="all")
    skipped: Mapped[str] = mapped_column(Text, default="")  # "YYYY-MM-DD: reason" per line
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (CheckConstraint("mode IN ('all', 'free')", name="mode_known"),)


class Booking(Base):
    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("booking_resources.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("booking_series.id"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), index=True)
    credits: Mapped[int] = mapped_column(Integer, default=0)
    spend_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    refund_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    code: Mapped[str] = mapped_column(String(12), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_comment: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    resource: Mapped[Resource] = relationship()
    member: Mapped[User] = relationship(foreign_keys=[member_id])
    series: Mapped[BookingSeries | None] = relationship()

    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="range_valid"),
        CheckConstraint(f"state IN ({STATES_SQL})", name="state_known"),
        CheckConstraint("credits >= 0", name="credits_valid"),
        Index("ix_bookings_resource_start", "resource_id", "starts_at"),
    )

    @property
    def blocking(self) -> bool:
        return self.state in BLOCKING


class WaitlistEntry(Base):
    """A member waiting for a taken slot; served higher loyalty tier first, then first come."""

    __tablename__ = "booking_waitlist"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("booking_resources.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), default=WaitState.WAITING.value)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    resource: Mapped[Resource] = relationship()

    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="range_valid"),
        CheckConstraint("state IN ('waiting', 'offered', 'booked', 'expired', 'left')", name="state_known"),
    )


class Suspension(Base):
    """Booking is refused to the member until ``ends_at`` (repeated no-shows)."""

    __tablename__ = "booking_suspensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(200))


class FeedKey(Base):
    """The version of a member's secret ICS feed URL; bumping it revokes the old URL. The
    URL's secret is an HMAC over (user, version), so nothing secret is stored."""

    __tablename__ = "booking_feed_keys"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


def held_by_bookings(session: Session, member_id: int) -> int:
    """Credits promised by the member's bookings awaiting approval (not yet spent)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Booking.credits), 0)).where(
            Booking.member_id == member_id,
            Booking.state == State.PENDING.value,
            Booking.spend_entry_id.is_(None),
        )
    )
    return int(total or 0)

