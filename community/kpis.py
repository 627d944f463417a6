"""Key performance indicators for staff, community-wide or for one organisation's processes,
so organisations can be compared on the same figures (benchlearning, as in BLIS).

Counting, grouping and summing happen in SQL (the same statements on SQLite and
PostgreSQL); only what SQLite cannot do portably is finished in Python: percentiles, the
Gini coefficient over the per-member sums, and opening hours (rules per weekday in the
centre's time zone) for space utilisation.

Periods are whole UTC days, ``first`` to ``last`` inclusive; weeks start on Monday 00:00
UTC like the leaderboards. Booking figures are centre-wide: with an organisation they are
``None`` (spaces are not booked for a process).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import DateTime, String, case, distinct, func, select, true, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.functions import FunctionElement

from booking.models import Blackout, Booking, Resource, State
from booking.opening import opening_intervals as _opening_intervals
from booking.opening import subtract as _subtract
from booking.policy import BookingPolicy
from booking.timeutil import utc
from community.db import as_utc, utcnow
from community.errors import InvalidInput
from community.i18n import N_
from community.models import (
    Contribution,
    ContributionState,
    ContributionTransition,
    Organisation,
    Process,
    Task,
)
from community.poll_models import Poll, PollAnswer
from community.validation import get_row
from rewards.ledger import SPENDING
from rewards.models import LedgerEntry, OutboxItem, OutboxKind, OutboxStatus

DEFAULT_WEEKS = 12
MAX_DAYS = 731  # two years: enough for a year-on-year look, bounded work per request
# A contribution counts as validated at its first decision: approved, first of two
# approvals (four-eyes), rejected or sent back for changes.
DECIDED = tuple(
    s.value
    for s in (
        ContributionState.APPROVED,
        ContributionState.AWAITING_SECOND,
        ContributionState.REJECTED,
        ContributionState.CHANGES_REQUESTED,
    )
)
# Bookings that used (or still hold) their slot; a no-show's slot was released.
USED = (State.CONFIRMED.value, State.CHECKED_IN.value)

# The scalar indicators, in display order: key -> (label, meaning). The comparison view,
# the CSV and the README use the same keys.
INDICATORS: dict[str, tuple[str, str]] = {
    "active_members": (N_("Active members"), N_("members who submitted a contribution or answered a poll")),
    "contributions": (N_("Contributions"), N_("contributions submitted")),
    "contributions_approved": (N_("Approved contributions"), N_("of those submitted, approved now")),
    "points_gini": (N_("Participation inequality (Gini)"),
                    N_("Gini coefficient of points earned per member (0 equal, 1 one member has all)")),
    "first_time_share": (N_("First-time contributors"),
                         N_("share of contributors whose first contribution ever was in the period")),
    "validations": (N_("Validations"), N_("contributions first decided in the period")),
    "validation_median_hours": (
        N_("Median time to validate (h)")
    , N_("submission to first decision, median")),
    "validation_p90_hours": (N_("90th percentile time to validate (h)"),
                             N_("submission to first decision, p90")),
    "utilisation": (N_("Space utilisation"), N_("booked (confirmed or checked-in) hours / opening hours")),
    "no_show_rate": (N_("No-show rate"),
                     N_("no-shows / (no-shows + check-ins) of bookings starting in the period")),
    "tokens_minted": (N_("Credits minted"), N_("mints delivered on chain in the period")),
    "tokens_burned": (N_("Credits burned"), N_("burns delivered on chain in the period")),
    "tokens_in_circulation": (N_("Credits in circulation"),
                              N_("delivered mints minus delivered burns up to the end of the period")),
}
SPACE_INDICATORS = ("utilisation", "no_show_rate")


class week_start(FunctionElement):
    """The Monday (UTC) of a timestamp's week as 'YYYY-MM-DD' text, on both databases.

    No bound parameters in the rendered SQL, so PostgreSQL accepts the same expression in
    SELECT and GROUP BY."""

    type = String()
    inherit_cache = True
    name = "week_start"


@compiles(week_start)
def _week_start_postgresql(element, compiler, **kw) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(date_trunc('week', {column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


@compiles(week_start, "sqlite")
def _week_start_sqlite(element, compiler, **kw) -> str:
    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); the date part alone avoids date()
    # rounding 23:59:59.9999 up into the next day.
    column = compiler.process(element.clauses, **kw)
    return f"date(substr({column}, 1, 10), 'weekday 0', '-6 days')"


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``first`` to ``last``, both included."""

    first: dt.date
    last: dt.date

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(0), tzinfo=dt.UTC)

    @property
    def until(self) -> dt.datetime:
        """Exclusive end: midnight after ``last``."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()}/{self.last.isoformat()}"

    def weeks(self) -> list[dt.date]:
        """Mondays of every week the period touches."""
        monday = self.first - dt.timedelta(days=self.first.weekday())
        out = []
        while monday <= self.last:
            out.append(monday)
            monday += dt.timedelta(days=7)
        return out

    def as_dict(self) -> dict:
        return {"from": self.first.isoformat(), "until": self.last.isoformat(), "label": self.label}


def _day(value: object, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 10:
        raise InvalidInput(N_("%(name)s must be a date as YYYY-MM-DD", name=name))
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(N_("%(name)s must be a date as YYYY-MM-DD, e.g. 2026-09-01", name=name)) from None


def period(first: object = None, last: object = None, *, today: dt.date | None = None) -> Period:
    """The period asked for; by default the last 12 weeks: from the Monday eleven weeks
    before this week's to today."""
    today = today or utcnow().date()
    end = _day(last, "until") or today
    start = _day(first, "from")
    if start is None:
        monday = end - dt.timedelta(days=end.weekday())
        start = monday - dt.timedelta(weeks=DEFAULT_WEEKS - 1)
    if start > end:
        raise InvalidInput("from must not be after until")
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(N_("a period may span at most %(max_days)s days", max_days=MAX_DAYS))
    return Period(start, end)


def organisation(session: Session, raw: object) -> Organisation | None:
    """The organisation named by an id from a query string (None: community-wide)."""
    if raw is None or raw == "" or raw == "all":
        return None
    if isinstance(raw, str):
        if not (raw.strip().isascii() and raw.strip().isdigit()):  # not "²", which int() refuses
            raise InvalidInput("organisation must be an organisation id")
        raw = int(raw.strip())
    return get_row(session, Organisation, raw, "organisation")


def organisations(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name, Organisation.id)))


# --- scoping -----------------------------------------------------------------------------------


def _org_processes(org_id: int):
    return select(Process.id).where(Process.organisation_id == org_id)


def _org_contributions(org_id: int):
    return select(Contribution.id).join(Task, Task.id == Contribution.task_id).where(
        Task.process_id.in_(_org_processes(org_id))
    )


def _in(column, p: Period):
    return (column >= p.since) & (column < p.until)


# --- participation ------------------------------------------------------------------------------


def _activity(p: Period, org_id: int | None):
    """(member_id, at) of every contribution submitted and every member's poll answer."""
    contributions = select(
        Contribution.member_id.label("member_id"), Contribution.created_at.label("at")
    ).where(_in(Contribution.created_at, p))
    answers = select(PollAnswer.member_id.label("member_id"), PollAnswer.created_at.label("at")).where(
        PollAnswer.member_id.is_not(None), _in(PollAnswer.created_at, p)
    )
    if org_id is not None:
        contributions = contributions.where(Contribution.id.in_(_org_contributions(org_id)))
        answers = answers.where(
            PollAnswer.poll_id.in_(select(Poll.id).where(Poll.process_id.in_(_org_processes(org_id))))
        )
    return union_all(contributions, answers).subquery()


def active_members(session: Session, p: Period, org_id: int | None = None) -> tuple[int, list[dict]]:
    """Distinct active members over the period, and per week (every week, zeros included)."""
    activity = _activity(p, org_id)
    total = session.scalar(select(func.count(distinct(activity.c.member_id)))) or 0
    week = week_start(activity.c.at)
    counts = dict(
        session.execute(select(week, func.count(distinct(activity.c.member_id))).group_by(week)).all()
    )
    return int(total), [
        {"week": _iso_week(monday), "starts": monday.isoformat(),
         "members": int(counts.get(monday.isoformat(), 0))}
        for monday in p.weeks()
    ]


def contributions_per_process(session: Session, p: Period, org_id: int | None = None) -> list[dict]:
    """Contributions submitted in the period per process, with how many stand approved."""
    count = func.count(Contribution.id)
    approved = func.sum(case((Contribution.state == ContributionState.APPROVED.value, 1), else_=0))
    query = (
        select(Process.id, Process.title, count, approved)
        .select_from(Contribution)
        .join(Task, Task.id == Contribution.task_id)
        .join(Process, Process.id == Task.process_id)
        .where(_in(Contribution.created_at, p))
        .group_by(Process.id, Process.title)
        .order_by(count.desc(), Process.title, Process.id)
    )
    if org_id is not None:
        query = query.where(Process.organisation_id == org_id)
    return [
        {"process_id": pid, "title": title, "submitted": int(n), "approved": int(a or 0)}
        for pid, title, n, a in session.execute(query)
    ]


def gini(values: Iterable[float]) -> float | None:
    """Gini coefficient (mean absolute difference over twice the mean) of positive values."""
    xs = sorted(v for v in values if v > 0)
    n, total = len(xs), sum(xs)
    if not n:
        return None
    weighted = sum(i * x for i, x in enumerate(xs, start=1))
    return 2 * weighted / (n * total) - (n + 1) / n


def points_gini(session: Session, p: Period, org_id: int | None = None) -> tuple[float | None, int]:
    """Inequality of points earned in the period among members who earned any (net of
    revocations; spending excluded). With an organisation: points from its contributions.
    Returns (Gini, number of members)."""
    total = func.sum(LedgerEntry.points)
    query = (
        select(total)
        .where(LedgerEntry.dimension != SPENDING, _in(LedgerEntry.created_at, p))
        .group_by(LedgerEntry.member_id)
        .having(total > 0)
    )
    if org_id is not None:
        query = query.where(LedgerEntry.contribution_id.in_(_org_contributions(org_id)))
    sums = [int(v) for v in session.scalars(query)]
    value = gini(sums)
    return (round(value, 4) if value is not None else None), len(sums)


def first_time_contributors(session: Session, p: Period, org_id: int | None = None) -> tuple[int, int]:
    """(contributors in the period, of whom contributed for the first time ever in it)."""
    scope = Contribution.id.in_(_org_contributions(org_id)) if org_id is not None else true()
    contributors = session.scalar(
        select(func.count(distinct(Contribution.member_id))).where(_in(Contribution.created_at, p), scope)
    )
    firsts = (
        select(func.min(Contribution.created_at).label("first"))
        .where(scope)
        .group_by(Contribution.member_id)
        .subquery()
    )
    new = session.scalar(select(func.count()).select_from(firsts).where(_in(firsts.c.first, p)))
    return int(contributors or 0), int(new or 0)


# --- validation ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's ``percentile_cont``)."""
    if not values:
        return None
    xs = sorted(values)
    position = (len(xs) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(xs) - 1)
    return xs[low] + (xs[high] - xs[low]) * (position - low)


def validation_hours(session: Session, p: Period, org_id: int | None = None) -> list[float]:
    """Hours from submission to first decision of contributions first decided in the period."""
    first = (
        select(
            ContributionTransition.contribution_id.label("contribution_id"),
            func.min(ContributionTransition.at).label("at"),
        )
        .where(ContributionTransition.to_state.in_(DECIDED))
        .group_by(ContributionTransition.contribution_id)
        .subquery()
    )
    query = (
        select(Contribution.created_at, first.c.at)
        .join(first, first.c.contribution_id == Contribution.id)
        .where(_in(first.c.at, p))
    )
    if org_id is not None:
        query = query.where(Contribution.id.in_(_org_contributions(org_id)))
    return [
        (as_utc(decided) - as_utc(submitted)).total_seconds() / 3600
        for submitted, decided in session.execute(query)
    ]


# --- spaces -------------------------------------------------------------------------------------


def _intersection(a: list[tuple], b: list[tuple]) -> list[tuple]:
    """Overlaps of two sorted lists of disjoint [start, end) intervals."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _minutes_by_hour(intervals: Iterable[tuple[dt.datetime, dt.datetime]], tz: dt.tzinfo) -> dict[int, float]:
    """Minutes of the intervals falling in each hour of the day (0-23) in local time."""
    minutes: dict[int, float] = defaultdict(float)
    for start, end in intervals:
        cursor = start
        while cursor < end:
            local = cursor.astimezone(tz)
            into = dt.timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
            step = min(cursor + dt.timedelta(hours=1) - into, end)
            minutes[local.hour] += (step - cursor) / dt.timedelta(minutes=1)
            cursor = step
    return minutes


def _ratio(numerator: float, denominator: float, digits: int = 4) -> float | None:
    return round(numerator / denominator, digits) if denominator else None


def spaces(session: Session, p: Period, policy: BookingPolicy) -> dict:
    """Utilisation per resource and per hour of the day (local time), and no-shows.

    Utilisation: minutes of confirmed or checked-in bookings inside opening hours (blackouts
    removed) over those opening minutes. No-show rate: no-shows over bookings that reached an
    outcome (checked in or no-show), by start time in the period."""
    since, until = p.since, p.until
    resources = session.scalars(
        select(Resource).options(selectinload(Resource.hours)).order_by(Resource.name, Resource.id)
    ).all()
    booked: dict[int, list[tuple]] = defaultdict(list)
    for rid, start, end in session.execute(
        select(Booking.resource_id, Booking.starts_at, Booking.ends_at)
        .where(Booking.state.in_(USED), Booking.starts_at < until, Booking.ends_at > since)
        .order_by(Booking.resource_id, Booking.starts_at)
    ):
        booked[rid].append((max(utc(start), since), min(utc(end), until)))
    closed: dict[int, list[tuple]] = defaultdict(list)
    for rid, start, end in session.execute(
        select(Blackout.resource_id, Blackout.starts_at, Blackout.ends_at).where(
            Blackout.starts_at < until, Blackout.ends_at > since
        )
    ):
        closed[rid].append((utc(start), utc(end)))
    no_show = func.sum(case((Booking.state == State.NO_SHOW.value, 1), else_=0))
    checked_in = func.sum(case((Booking.state == State.CHECKED_IN.value, 1), else_=0))
    outcomes = {
        rid: (int(n or 0), int(c or 0))
        for rid, n, c in session.execute(
            select(Booking.resource_id, no_show, checked_in)
            .where(_in(Booking.starts_at, p))
            .group_by(Booking.resource_id)
        )
    }
    rows = []
    open_by_hour: dict[int, float] = defaultdict(float)
    used_by_hour: dict[int, float] = defaultdict(float)
    for resource in resources:
        if not resource.active and not booked[resource.id] and resource.id not in outcomes:
            continue  # retired and unused: its opening hours would only dilute the figures
        opening = sorted(_subtract(_opening_intervals(resource, since, until, policy), closed[resource.id]))
        used = _intersection(sorted(booked[resource.id]), opening)
        open_hours = _minutes_by_hour(opening, policy.tz)
        used_hours = _minutes_by_hour(used, policy.tz)
        no_shows, checked = outcomes.get(resource.id, (0, 0))
        open_minutes, used_minutes = sum(open_hours.values()), sum(used_hours.values())
        for hour, minutes in open_hours.items():
            open_by_hour[hour] += minutes
            used_by_hour[hour] += used_hours.get(hour, 0.0)
        rows.append({
            "resource_id": resource.id,
            "name": resource.name,
            "open_hours": round(open_minutes / 60, 2),
            "booked_hours": round(used_minutes / 60, 2),
            "utilisation": _ratio(used_minutes, open_minutes),
            "by_hour": [
                {"hour": hour, "utilisation": _ratio(used_hours.get(hour, 0.0), open_hours[hour])}
                for hour in sorted(open_hours)
            ],
            "no_shows": no_shows,
            "checked_in": checked,
            "no_show_rate": _ratio(no_shows, no_shows + checked),
        })
    total_no_shows = sum(r["no_shows"] for r in rows)
    total_checked = sum(r["checked_in"] for r in rows)
    return {
        "resources": rows,
        "by_hour": [
            {"hour": hour, "utilisation": _ratio(used_by_hour[hour], open_by_hour[hour])}
            for hour in sorted(open_by_hour)
        ],
        "utilisation": _ratio(sum(used_by_hour.values()), sum(open_by_hour.values())),
        "no_shows": total_no_shows,
        "checked_in": total_checked,
        "no_show_rate": _ratio(total_no_shows, total_no_shows + total_checked),
    }


# --- tokens -------------------------------------------------------------------------------------


def tokens(session: Session, p: Period, org_id: int | None = None) -> dict:
    """Credits minted and burned on chain (delivered outbox rows) in the period, per week, and
    in circulation at its end. With an organisation: the mints and burns of its contributions'
    ledger entries (revocations included; spending belongs to no organisation)."""
    delivered = func.coalesce(OutboxItem.done_at, OutboxItem.created_at, type_=DateTime(timezone=True))
    base = [
        OutboxItem.status == OutboxStatus.DONE.value,
        OutboxItem.kind.in_((OutboxKind.MINT.value, OutboxKind.BURN.value)),
    ]
    if org_id is not None:
        base.append(
            OutboxItem.ledger_entry_id.in_(
                select(LedgerEntry.id).where(LedgerEntry.contribution_id.in_(_org_contributions(org_id)))
            )
        )
    amount = func.sum(OutboxItem.amount)

    def by_kind(*conditions) -> dict[str, int]:
        rows = session.execute(
            select(OutboxItem.kind, amount).where(*base, *conditions).group_by(OutboxItem.kind)
        )
        return {kind: int(total or 0) for kind, total in rows}

    in_period = by_kind(_in(delivered, p))
    so_far = by_kind(delivered < p.until)
    week = week_start(delivered)
    weekly: dict[str, dict[str, int]] = defaultdict(dict)
    for monday, kind, total in session.execute(
        select(week, OutboxItem.kind, amount).where(*base, _in(delivered, p)).group_by(week, OutboxItem.kind)
    ):
        weekly[monday][kind] = int(total or 0)
    return {
        "minted": in_period.get("mint", 0),
        "burned": in_period.get("burn", 0),
        "in_circulation": so_far.get("mint", 0) - so_far.get("burn", 0),
        "per_week": [
            {
                "week": _iso_week(monday),
                "starts": monday.isoformat(),
                "minted": weekly[monday.isoformat()].get("mint", 0),
                "burned": weekly[monday.isoformat()].get("burn", 0),
            }
            for monday in p.weeks()
        ],
    }


# --- the dashboard ------------------------------------------------------------------------------


def _iso_week(monday: dt.date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def dashboard(
    session: Session, p: Period, *, policy: BookingPolicy, organisation_id: int | None = None
) -> dict:
    """Every indicator for the period, community-wide or for one organisation's processes."""
    org = organisation(session, organisation_id) if organisation_id is not None else None
    org_id = org.id if org is not None else None
    active, per_week = active_members(session, p, org_id)
    per_process = contributions_per_process(session, p, org_id)
    inequality, earners = points_gini(session, p, org_id)
    contributors, first_timers = first_time_contributors(session, p, org_id)
    hours = validation_hours(session, p, org_id)
    median, p90 = percentile(hours, 0.5), percentile(hours, 0.9)
    space = spaces(session, p, policy) if org_id is None else None
    token = tokens(session, p, org_id)
    return {
        "period": p.as_dict(),
        "organisation": {"id": org.id, "name": org.name} if org is not None else None,
        "indicators": {
            "active_members": active,
            "contributions": sum(r["submitted"] for r in per_process),
            "contributions_approved": sum(r["approved"] for r in per_process),
            "points_gini": inequality,
            "first_time_share": _ratio(first_timers, contributors),
            "validations": len(hours),
            "validation_median_hours": round(median, 2) if median is not None else None,
            "validation_p90_hours": round(p90, 2) if p90 is not None else None,
            "utilisation": space["utilisation"] if space else None,
            "no_show_rate": space["no_show_rate"] if space else None,
            "tokens_minted": token["minted"],
            "tokens_burned": token["burned"],
            "tokens_in_circulation": token["in_circulation"],
        },
        "counts": {
            "members_with_points": earners,
            "contributors": contributors,
            "first_time_contributors": first_timers,
        },
        "active_members_per_week": per_week,
        "contributions_per_process": per_process,
        "spaces": space,
        "tokens_per_week": token["per_week"],
    }


def every_organisation(session: Session, p: Period, *, policy: BookingPolicy) -> list[dict]:
    """The dashboard of the whole community, then one per organisation (by name)."""
    reports = [dashboard(session, p, policy=policy)]
    reports += [dashboard(session, p, policy=policy, organisation_id=o.id) for o in organisations(session)]
    return reports


def comparison(session: Session, p: Period, *, policy: BookingPolicy) -> dict:
    """The scalar indicators side by side: the whole community, then each organisation."""
    columns = every_organisation(session, p, policy=policy)
    return {
        "period": p.as_dict(),
        "columns": [c["organisation"] or {"id": None, "name": N_("All")} for c in columns],
        "rows": [
            {"indicator": key, "label": label, "meaning": meaning,
             "values": [c["indicators"][key] for c in columns]}
            for key, (label, meaning) in INDICATORS.items()
        ],
    }


def csv_rows(report: dict) -> Iterator[tuple[str, str, str, object]]:
    """``(indicator, period, organisation, value)`` for one dashboard: the scalars over the
    period, then the series (weeks as ISO weeks, per process, resource and hour in brackets)."""
    label = report["period"]["label"]
    org = report["organisation"]["name"] if report["organisation"] else "all"
    for key, value in report["indicators"].items():
        if value is None and key in SPACE_INDICATORS and report["spaces"] is None:
            continue
        yield key, label, org, value
    for row in report["active_members_per_week"]:
        yield "active_members_per_week", row["week"], org, row["members"]
    for row in report["contributions_per_process"]:
        process = f"#{row['process_id']} {row['title']}"
        yield f"contributions[{process}]", label, org, row["submitted"]
        yield f"contributions_approved[{process}]", label, org, row["approved"]
    for row in report["tokens_per_week"]:
        yield "tokens_minted", row["week"], org, row["minted"]
        yield "tokens_burned", row["week"], org, row["burned"]
    space = report["spaces"]
    if space is not None:
        for row in space["by_hour"]:
            yield f"utilisation[{row['hour']:02d}:00]", label, org, row["utilisation"]
        for row in space["resources"]:
            resource = f"#{row['resource_id']} {row['name']}"
            yield f"utilisation[{resource}]", label, org, row["utilisation"]
            yield f"no_show_rate[{resource}]", label, org, row["no_show_rate"]
            for cell in row["by_hour"]:
                yield f"utilisation[{resource}][{cell['hour']:02d}:00]", label, org, cell["utilisation"]
