"""Points per dimension and period, always summed from the ledger (no stored counters).

Periods are calendar periods in UTC: the day, the ISO week (from Monday 00:00) and the
month containing the moment asked about, and all time. Spending (the credits dimension)
moves balances, not standings, so it never counts here. Nothing is cached: each call is
one grouped query over indexed columns.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from community.db import as_utc, utcnow
from community.models import TeamMember
from rewards.ledger import SPENDING
from rewards.models import LedgerEntry

PERIODS = ("day", "week", "month", "all")


def period_window(period: str, at: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) of the calendar period containing ``at``; (None, None) for all time."""
    at = as_utc(at)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + dt.timedelta(days=1)
    if period == "week":
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
        return start, end
    if period == "all":
        return None, None
    raise ValueError(f"unknown period {period!r}")


@dataclass
class Totals:
    """``points[dimension][period]``; periods are the keys of PERIODS."""

    points: dict[str, dict[str, int]] = field(default_factory=dict)

    def get(self, dimension: str, period: str = "all") -> int:
        return self.points.get(dimension, {}).get(period, 0)

    def overall(self, period: str = "all") -> int:
        return sum(p.get(period, 0) for p in self.points.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {dim: dict(p) for dim, p in sorted(self.points.items())}


def _period_sums(at: dt.datetime) -> list:
    columns = []
    for period in PERIODS:
        start, end = period_window(period, at)
        if start is None:
            columns.append(func.coalesce(func.sum(LedgerEntry.points), 0).label(period))
        else:
            in_window = (LedgerEntry.created_at >= start) & (LedgerEntry.created_at < end)
            columns.append(func.coalesce(func.sum(case((in_window, LedgerEntry.points), else_=0)), 0)
                           .label(period))
    return columns


def totals_by_member(
    session: Session, member_ids: Iterable[int] | None = None, *, at: dt.datetime | None = None
) -> dict[int, Totals]:
    """Day/week/month/all-time points per member and dimension, in one query. Members
    without entries are absent (their totals are all zero)."""
    at = at or utcnow()
    query = (
        select(LedgerEntry.member_id, LedgerEntry.dimension, *_period_sums(at))
        .where(LedgerEntry.dimension != SPENDING)
        .group_by(LedgerEntry.member_id, LedgerEntry.dimension)
    )
    if member_ids is not None:
        query = query.where(LedgerEntry.member_id.in_(list(member_ids)))
    result: dict[int, Totals] = defaultdict(Totals)
    for row in session.execute(query):
        result[row.member_id].points[row.dimension] = {p: int(getattr(row, p)) for p in PERIODS}
    return dict(result)


def member_totals(session: Session, member_id: int, *, at: dt.datetime | None = None) -> Totals:
    return totals_by_member(session, [member_id], at=at).get(member_id, Totals())


def team_totals(session: Session, team_id: int, *, at: dt.datetime | None = None) -> Totals:
    """A team's points: the sum of its current members' points (a member who leaves takes
    their points along; one who joins brings theirs)."""
    at = at or utcnow()
    query = (
        select(LedgerEntry.dimension, *_period_sums(at))
        .join(TeamMember, TeamMember.user_id == LedgerEntry.member_id)
        .where(TeamMember.team_id == team_id, LedgerEntry.dimension != SPENDING)
        .group_by(LedgerEntry.dimension)
    )
    totals = Totals()
    for row in session.execute(query):
        totals.points[row.dimension] = {p: int(getattr(row, p)) for p in PERIODS}
    return totals
