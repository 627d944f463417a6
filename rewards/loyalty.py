"""Loyalty tiers and their benefits (issue #4), read by booking and the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Tier:
    name: str
    rank: int  # higher is better; waitlists serve higher ranks first
    min_points: int
    discount_percent: int  # off credit prices in the catalogue and for bookings


def member_tier(session: Session, member_id: int) -> Tier | None:
    """The member's tier by all-time points, or None where no tiers are defined."""
    return None
