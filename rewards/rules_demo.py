"""Demo scoring rules: one published rule per event kind, paying what the features'
defaults pay (so the demo feels the same), with a weekly cap on check-in points."""

from __future__ import annotations

from sqlalchemy import select

from community.db import Database
from rewards.models import ScoringRule
from rewards.rules.service import save_rule
from rewards.scoring import BOOKING_CHECKED_IN, CONTRIBUTION_APPROVED, POLL_ANSWERED, STREAK_REACHED

DEMO_RULES = {
    "demo-contributions": {
        "title": "Approved contributions", "event": CONTRIBUTION_APPROVED,
        "formula": "complexity * level", "dimension": "participation",
        "note": "task complexity × level (low 1, average 2, high 3)",
    },
    "demo-polls": {
        "title": "Poll answers", "event": POLL_ANSWERED, "formula": "points",
        "dimension": "participation", "note": "the poll's own points",
    },
    "demo-check-ins": {
        "title": "Booking check-ins", "event": BOOKING_CHECKED_IN, "formula": "max(1, round(duration))",
        "dimension": "attendance", "cap": {"period": "week", "points": 20},
        "note": "an attendance point per booked hour, at most 20 a week",
    },
    "demo-streaks": {
        "title": "Weekly streaks", "event": STREAK_REACHED, "formula": "weeks * 5",
        "dimension": "participation", "note": "five points per week of the streak",
    },
}


def seed_rules(db: Database, ids: dict[str, int]) -> None:
    """Publish the demo rules as the demo admin, once."""
    with db.read_sessions() as session:
        if session.scalar(select(ScoringRule.id).limit(1)) is not None:
            return
    admin = ids["admin@kopa.local"]
    for rule_id, data in DEMO_RULES.items():
        save_rule(db.unit_of_work(), actor_id=admin, rule_id=rule_id, data=data, publish=True)
