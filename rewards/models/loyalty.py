"""Tiers, badges and the loyalty catalogue (issue #4): what admins and staff define, what
members earn and redeem. Balances and totals are never stored here: they come from the ledger."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.db import Base, utcnow
from community.models import User


class TierRow(Base):
    """A loyalty tier: reached at ``min_points`` all-time points; a higher ``rank`` is a
    better tier (waitlists serve it first) and its discount applies to catalogue prices."""

    __tablename__ = "loyalty_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    min_points: Mapped[int] = mapped_column(Integer, unique=True)
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    discount_percent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        CheckConstraint("min_points >= 0", name="min_points_nonnegative"),
        CheckConstraint("discount_percent BETWEEN 0 AND 100", name="discount_range"),
    )


class BadgeMetric(enum.StrEnum):
    """What a badge counts; a badge with one level is a milestone."""

    APPROVED_CONTRIBUTIONS = "approved_contributions"  # currently approved (revoked ones drop out)
    POINTS = "points"  # all-time points, spending excluded
    WEEK_STREAK = "week_streak"  # longest run of consecutive ISO weeks with an approved contribution


class Badge(Base):
    __tablename__ = "badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    metric: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    levels: Mapped[list[BadgeLevel]] = relationship(
        back_populates="badge", order_by="BadgeLevel.level", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint(
            "metric IN ('approved_contributions', 'points', 'week_streak')", name="metric_known"
        ),
    )

    @property
    def is_milestone(self) -> bool:
        return len(self.levels) == 1


class BadgeLevel(Base):
    """One level of a badge (Co-creator II at 15): its own ERC-1155 token id on chain."""

    __tablename__ = "badge_levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    badge_id: Mapped[int] = mapped_column(ForeignKey("badges.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    threshold: Mapped[int] = mapped_column(Integer)
    token_id: Mapped[int] = mapped_column(BigInteger, unique=True)

    badge: Mapped[Badge] = relationship(back_populates="levels")

    __table_args__ = (
        UniqueConstraint("badge_id", "level", name="uq_badge_levels_badge_level"),
        CheckConstraint("threshold > 0", name="threshold_positive"),
        CheckConstraint("level > 0", name="level_positive"),
        CheckConstraint("token_id > 0", name="token_id_positive"),
    )


class BadgeAward(Base):
    """A member earned a badge level; the outbox row with the same ``ref`` mints it once.
    Awards are never taken back (see README: badges and revocation)."""

    __tablename__ = "badge_awards"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    badge_level_id: Mapped[int] = mapped_column(ForeignKey("badge_levels.id"), index=True)
    value: Mapped[int] = mapped_column(Integer)  # the metric when it was crossed
    ref: Mapped[str] = mapped_column(String(66), unique=True)
    awarded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    member: Mapped[User] = relationship()
    level: Mapped[BadgeLevel] = relationship()

    __table_args__ = (UniqueConstraint("member_id", "badge_level_id", name="uq_badge_awards_member_level"),)


class CatalogueItem(Base):
    """Something members buy with credits. ``stock`` NULL means unlimited, and
    ``per_member_limit`` NULL means no limit; both are checked under a row lock."""

    __tablename__ = "catalogue_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    image_url: Mapped[str | None] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_nonnegative"),
        CheckConstraint("per_member_limit IS NULL OR per_member_limit > 0", name="limit_positive"),
    )


class RedemptionState(enum.StrEnum):
    REQUESTED = "requested"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class Redemption(Base):
    """A member's order of a catalogue item; its spend (a burn) and any refund (a mint with
    its own ref) are ledger entries."""

    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_items.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=RedemptionState.REQUESTED.value, index=True)
    list_price: Mapped[int] = mapped_column(Integer)
    discount_percent: Mapped[int] = mapped_column(Integer, default=0)
    price: Mapped[int] = mapped_column(Integer)  # what was charged
    spend_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    refund_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)

    item: Mapped[CatalogueItem] = relationship()
    member: Mapped[User] = relationship(foreign_keys=[member_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (
        CheckConstraint("state IN ('requested', 'fulfilled', 'cancelled')", name="state_known"),
        CheckConstraint("price >= 0", name="price_nonnegative"),
    )
