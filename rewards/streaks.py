"""Weekly streaks as scoring events: a member whose approved contributions were submitted in N
consecutive ISO weeks up to this one has "reached a streak of N weeks"; rules decide what it
is worth (no points without a published rule). At most one streak event per member and week."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.db import utcnow
from rewards.badges import contribution_days
from rewards.models import ScoringEvent
from rewards.scoring import STREAK_REACHED, awards_for, record_awards


def current_week_streak(days: list[dt.date], today: dt.date) -> int:
    """Consecutive ISO weeks with at least one day in ``days``, ending with today's week."""
    mondays = {d - dt.timedelta(days=d.weekday()) for d in days}
    monday = today - dt.timedelta(days=today.weekday())
    weeks = 0
    while monday in mondays:
        weeks += 1
        monday -= dt.timedelta(weeks=1)
    return weeks


def record_streak(session: Session, member_id: int, now: dt.datetime | None = None) -> int:
    """Score the member's streak once this week (from two weeks on); returns its length."""
    now = now or utcnow()
    dates = contribution_days(session, member_id)
    weeks = current_week_streak(dates, now.date())
    if weeks < 2:
        return weeks
    year, week, _ = now.isocalendar()
    monday = dt.datetime.combine(now.date() - dt.timedelta(days=now.weekday()), dt.time(), tzinfo=dt.UTC)
    # One event per member and week, scored or not, so a preview replays what live scoring saw.
    seen = session.scalar(
        select(ScoringEvent.id).where(
            ScoringEvent.kind == STREAK_REACHED,
            ScoringEvent.member_id == member_id,
            ScoringEvent.occurred_at >= monday,
        ).limit(1)
    )
    if seen is not None:
        return weeks
    awards = awards_for(
        session, STREAK_REACHED, member_id=member_id, inputs={"weeks": weeks}, context={}, default=None
    )
    key = f"streak:{member_id}:{year}-W{week:02d}"
    record_awards(session, awards, member_id=member_id, cause="streak", source_key=key)
    return weeks
