"""Loyalty tiers and their benefits (issue #4), read by booking and the catalogue.

Tiers live in the database and admins edit them; a member's tier is never stored: it is the
best tier whose threshold their all-time points (``rewards.ledger.points_total``, spending
excluded) reach, so a revocation can move a member down again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.db import UnitOfWork, is_row_id
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.i18n import N_
from community.models import User
from rewards.ledger import points_total
from rewards.models import TierRow

MAX_POINTS = 1_000_000_000


@dataclass(frozen=True)
class Tier:
    name: str
    rank: int  # higher is better; waitlists serve higher ranks first
    min_points: int
    discount_percent: int  # off credit prices in the catalogue and for bookings


@dataclass(frozen=True)
class TierProgress:
    points: int
    tier: Tier | None
    next_tier: Tier | None

    @property
    def points_to_next(self) -> int | None:
        return None if self.next_tier is None else max(self.next_tier.min_points - self.points, 0)

    @property
    def percent(self) -> int:
        """How far from the current tier's threshold to the next one (100 at the top)."""
        if self.next_tier is None:
            return 100
        floor = self.tier.min_points if self.tier else 0
        span = self.next_tier.min_points - floor
        return max(0, min(100, (self.points - floor) * 100 // span)) if span > 0 else 100


def _tier(row: TierRow) -> Tier:
    return Tier(
        name=row.name, rank=row.rank, min_points=row.min_points, discount_percent=row.discount_percent
    )


def all_tiers(session: Session) -> list[Tier]:
    """Every tier, lowest threshold first; read once per session (every scored event asks,
    and tiers change only in an admin's own transaction)."""
    cached = session.info.get("kopa.tiers")
    if cached is None:
        cached = [_tier(r) for r in session.scalars(select(TierRow).order_by(TierRow.min_points))]
        session.info["kopa.tiers"] = cached
    return list(cached)


def tier_for_points(tiers: list[Tier], points: int) -> Tier | None:
    reached = [t for t in tiers if t.min_points <= points]
    return reached[-1] if reached else None


def member_tier(session: Session, member_id: int) -> Tier | None:
    """The member's tier by all-time points, or None where no tier is reached or defined."""
    return tier_for_points(all_tiers(session), points_total(session, member_id))


def tier_progress(session: Session, member_id: int, points: int | None = None) -> TierProgress:
    """``points``: the member's points_total when the caller has it already."""
    tiers = all_tiers(session)
    points = points_total(session, member_id) if points is None else points
    current = tier_for_points(tiers, points)
    above = [t for t in tiers if t.min_points > points]
    return TierProgress(points=points, tier=current, next_tier=above[0] if above else None)


def discounted_price(price: int, tier: Tier | None) -> int:
    """The price after the tier's discount, rounded up to whole credits (the centre never
    gives away a fraction of a credit by rounding)."""
    if tier is None or tier.discount_percent <= 0:
        return price
    return -(-price * (100 - tier.discount_percent) // 100)


# --- admin ---------------------------------------------------------------------------


def _whole(value: object, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInput(N_("%(field)s must be a whole number from %(low)s to %(high)s",
                              field=field, low=low, high=high))
    return value


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("name must not be empty")
    if len(value.strip()) > 60:
        raise InvalidInput("name is longer than 60 characters")
    return value.strip()


def _require_admin(session: Session, actor_id: int) -> None:
    actor = session.get(User, actor_id) if is_row_id(actor_id) else None
    if actor is None or not actor.is_admin:
        raise Forbidden("only admins define tiers")


def _check_order(session: Session, row_id: int | None, name: str, min_points: int, rank: int) -> None:
    """A higher threshold must mean a better rank, or 'best tier reached' would be ambiguous."""
    others = [r for r in session.scalars(select(TierRow)) if r.id != row_id]
    if any(r.name.lower() == name.lower() for r in others):
        raise Conflict(N_("another tier is already called %(name)s", name=name))
    if any(r.min_points == min_points for r in others):
        raise Conflict(N_("another tier already starts at %(min_points)s points", min_points=min_points))
    if any(r.rank == rank for r in others):
        raise Conflict(N_("another tier already has rank %(rank)s", rank=rank))
    ordered = sorted([(r.min_points, r.rank) for r in others] + [(min_points, rank)])
    ranks = [r for _, r in ordered]
    if ranks != sorted(ranks):
        raise Conflict("ranks must rise with the points threshold (a higher tier needs more points)")


def save_tier(
    uow: UnitOfWork,
    *,
    actor_id: int,
    name: object,
    min_points: object,
    rank: object,
    discount_percent: object,
    tier_id: object = None,
) -> int:
    """Create a tier, or change one when ``tier_id`` is given. Tiers are computed, never
    stored per member, so a change applies to everyone at once."""
    name = _name(name)
    min_points = _whole(min_points, "min points", 0, MAX_POINTS)
    rank = _whole(rank, "rank", 1, 1000)
    discount_percent = _whole(discount_percent, "discount percent", 0, 100)
    with uow:
        session = uow.session
        _require_admin(session, actor_id)
        row = None
        if tier_id is not None:
            row = session.get(TierRow, tier_id) if is_row_id(tier_id) else None
            if row is None:
                raise NotFound(N_("tier %(tier_id)s not found", tier_id=tier_id))
        _check_order(session, row.id if row else None, name, min_points, rank)
        if row is None:
            row = TierRow()
            session.add(row)
        row.name, row.min_points, row.rank, row.discount_percent = name, min_points, rank, discount_percent
        session.flush()
        session.info.pop("kopa.tiers", None)
        uow.commit()
        return row.id


def delete_tier(uow: UnitOfWork, *, actor_id: int, tier_id: object) -> None:
    with uow:
        session = uow.session
        _require_admin(session, actor_id)
        row = session.get(TierRow, tier_id) if is_row_id(tier_id) else None
        if row is None:
            raise NotFound(N_("tier %(tier_id)s not found", tier_id=tier_id))
        session.delete(row)
        session.info.pop("kopa.tiers", None)
        uow.commit()
