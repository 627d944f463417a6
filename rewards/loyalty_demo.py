"""Demo badges, tiers and catalogue items (seeded once with the demo community)."""

from __future__ import annotations

from sqlalchemy import select

from community.db import Database
from rewards.badges import award_badges, save_badge
from rewards.catalogue import save_item
from rewards.loyalty import save_tier
from rewards.models import Badge

DEMO_TIERS = [("Bronze", 0, 1, 0), ("Silver", 100, 2, 5), ("Gold", 300, 3, 10)]
DEMO_BADGES = [
    ("Co-creator", "approved_contributions", [5, 15, 40], "Contributions validated by city staff."),
    ("Point collector", "points", [100, 500, 1000], "All-time points earned."),
    ("Steady hand", "week_streak", [2, 4, 8], "Contributed in consecutive weeks."),
    ("First contribution", "approved_contributions", [1], "Your first validated contribution."),
]
# name, description, price, stock (None = unlimited), per-member limit
DEMO_ITEMS = [
    ("Coffee voucher", "A coffee at the innovation centre's café.", 1, 3, 5),
    ("Makerspace hour", "One hour at the makerspace workbenches, tools included.", 20, None, None),
    ("3D printing session", "A guided 3D print of your own design (up to 4 hours).", 40, 10, 2),
    ("Kopa T-shirt", "Organic cotton, printed in Riga.", 60, 20, 1),
]


def seed_loyalty(db: Database, ids: dict[str, int]) -> None:
    """Tiers, badges and catalogue items, through the same services admins and staff use."""
    admin, staff = ids["admin@kopa.local"], ids["staff@kopa.local"]
    with db.read_sessions() as session:
        if session.scalar(select(Badge.id).limit(1)) is not None:
            return
    for name, min_points, rank, discount in DEMO_TIERS:
        save_tier(db.unit_of_work(), actor_id=admin, name=name, min_points=min_points, rank=rank,
                  discount_percent=discount)
    for name, metric, thresholds, description in DEMO_BADGES:
        save_badge(db.unit_of_work(), actor_id=admin, name=name, metric=metric, thresholds=thresholds,
                   description=description)
    for name, description, price, stock, limit in DEMO_ITEMS:
        save_item(db.unit_of_work(), actor_id=staff, name=name, description=description, price=price,
                  stock=stock, per_member_limit=limit)
    # Contributions seeded before the badges existed earn theirs now, as approval would have.
    for member_id in ids.values():
        with db.write_sessions() as session, session.begin():
            award_badges(session, member_id)
