"""Weekly streaks reach the rules engine as `streak_reached` events, once per member and week."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from community.models import Contribution, Role
from rewards.models import LedgerEntry, ScoringEvent
from rewards.rules_demo import seed_rules
from rewards.scoring import STREAK_REACHED
from rewards.streaks import current_week_streak

MONDAY = dt.date(2026, 11, 16)


def test_current_week_streak_counts_back_from_this_week():
    weeks = [MONDAY - dt.timedelta(weeks=n) for n in (0, 1, 2, 4)]
    assert current_week_streak(weeks, MONDAY + dt.timedelta(days=6)) == 3
    assert current_week_streak(weeks, MONDAY + dt.timedelta(weeks=1)) == 0
    assert current_week_streak([MONDAY - dt.timedelta(days=1), MONDAY], MONDAY) == 2  # Sunday, Monday
    assert current_week_streak([], MONDAY) == 0


def test_a_streak_is_scored_once_a_week_by_the_published_rule(db, community):
    staff, member = community.user(Role.STAFF), community.user()
    seed_rules(db, {"admin@kopa.local": community.user(Role.ADMIN)})
    task = community.task(staff, complexity=20)
    first = community.approved(member, staff, task)
    # Pretend the first contribution came last week: this week's extend a 2-week streak.
    with db.write_sessions() as session, session.begin():
        contribution = session.get(Contribution, first)
        contribution.created_at = contribution.created_at - dt.timedelta(weeks=1)
    community.approved(member, staff, task)
    community.approved(member, staff, task)
    with db.read_sessions() as session:
        streaks = session.scalars(select(LedgerEntry).where(LedgerEntry.cause == "streak")).all()
        events = session.scalars(select(ScoringEvent).where(ScoringEvent.kind == STREAK_REACHED)).all()
    assert [(e.member_id, e.points, e.rule_id) for e in streaks] == [(member, 10, "demo-streaks")]
    assert [(e.member_id, e.inputs) for e in events] == [(member, {"weeks": 2})]
