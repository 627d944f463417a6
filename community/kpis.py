"""Key performance indicators for staff, community-wide or for one organisation's processes,
so organisations can be compared on the same figures (benchlearning, as in BLIS).

The kernel owns periods, organisations, the community's own indicators (participation,
contributions, first-time contributors, validation times) and the report: the dashboard, the
comparison and the CSV are composed from the registered ``providers`` (Decidim's
``register_stat``); booking (spaces) and rewards (points, credits) contribute theirs through
``web.bootstrap``, in an order that fixes the report's keys and rows.

Counting, grouping and summing happen in SQL (the same statements on SQLite and
PostgreSQL); only what SQLite cannot do portably is finished in Python: percentiles, the
Gini coefficient over the per-member sums, and opening hours (rules per weekday in the
centre's time zone) for space utilisation.

Periods are whole UTC days, ``first`` to ``last`` inclusive; weeks start on Monday 00:00
UTC like the leaderboards. Figures of the whole community only (``community_wide``
providers: the centre's spaces) are ``None`` with an organisation.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, case, distinct, func, select, true, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from community.db import as_utc, utcnow
from community.errors import InvalidInput
from community.i18n import N_
from community.models import (
    Contribution,
    ContributionState,
    ContributionTransition,
    Organisation,
    Poll,
    PollAnswer,
    Process,
    Task,
)
from community.registry import Registry
from community.validation import get_row

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


def iso_week(monday: dt.date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


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


def organisation_contributions(org_id: int):
    """The ids of the contributions to an organisation's processes (a subquery)."""
    return select(Contribution.id).join(Task, Task.id == Contribution.task_id).where(
        Task.process_id.in_(_org_processes(org_id))
    )


def within(column, p: Period):
    """``column`` falls in the period."""
    return (column >= p.since) & (column < p.until)


# --- participation ------------------------------------------------------------------------------


def _activity(p: Period, org_id: int | None):
    """(member_id, at) of every contribution submitted and every member's poll answer."""
    contributions = select(
        Contribution.member_id.label("member_id"), Contribution.created_at.label("at")
    ).where(within(Contribution.created_at, p))
    answers = select(PollAnswer.member_id.label("member_id"), PollAnswer.created_at.label("at")).where(
        PollAnswer.member_id.is_not(None), within(PollAnswer.created_at, p)
    )
    if org_id is not None:
        contributions = contributions.where(Contribution.id.in_(organisation_contributions(org_id)))
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
        {"week": iso_week(monday), "starts": monday.isoformat(),
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
        .where(within(Contribution.created_at, p))
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


def ratio(numerator: float, denominator: float, digits: int = 4) -> float | None:
    """The share, rounded; ``None`` when there is nothing to divide by."""
    return round(numerator / denominator, digits) if denominator else None


def first_time_contributors(session: Session, p: Period, org_id: int | None = None) -> tuple[int, int]:
    """(contributors in the period, of whom contributed for the first time ever in it)."""
    scope = Contribution.id.in_(organisation_contributions(org_id)) if org_id is not None else true()
    contributors = session.scalar(
        select(func.count(distinct(Contribution.member_id))).where(within(Contribution.created_at, p), scope)
    )
    firsts = (
        select(func.min(Contribution.created_at).label("first"))
        .where(scope)
        .group_by(Contribution.member_id)
        .subquery()
    )
    new = session.scalar(select(func.count()).select_from(firsts).where(within(firsts.c.first, p)))
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
        .where(within(first.c.at, p))
    )
    if org_id is not None:
        query = query.where(Contribution.id.in_(organisation_contributions(org_id)))
    return [
        (as_utc(decided) - as_utc(submitted)).total_seconds() / 3600
        for submitted, decided in session.execute(query)
    ]


# --- providers ----------------------------------------------------------------------------------

# A CSV row: (indicator, period, organisation, value).
Row = tuple[str, str, str, object]
# compute(session, period, organisation id or None, the caller's settings) -> a value for every
# key the provider declares (indicators, counts and sections alike).
Compute = Callable[[Session, Period, int | None, Mapping[str, Any]], Mapping[str, object]]


@dataclass(frozen=True)
class KpiProvider:
    """A family of figures a package contributes to the report.

    ``indicators``: the scalars, key -> (label, meaning) in display order; ``counts``: the
    numbers behind them; ``sections``: the report's top-level keys it adds (series, tables).
    ``series(report, period label, organisation name)``: its CSV rows after every scalar, read
    from its sections; the CSV takes them by ``series_order`` (then the registry's order).
    ``community_wide``: figures of the whole community only: with an organisation they are
    ``None``, not computed, and left out of its CSV."""

    indicators: dict[str, tuple[str, str]]
    compute: Compute
    counts: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    series: Callable[[dict, str, str], Iterable[Row]] | None = None
    series_order: int = 100
    community_wide: bool = False


providers: Registry[KpiProvider] = Registry("KPI providers")


def indicators() -> dict[str, tuple[str, str]]:
    """Every scalar indicator, key -> (label, meaning), in display order. The comparison view,
    the CSV and the README use the same keys."""
    return {key: about for provider in providers for key, about in provider.indicators.items()}


def _participation(session: Session, p: Period, org_id: int | None, _settings: Mapping[str, Any]) -> dict:
    active, per_week = active_members(session, p, org_id)
    return {"active_members": active, "active_members_per_week": per_week}


def _participation_rows(report: dict, _label: str, org: str) -> Iterator[Row]:
    for row in report["active_members_per_week"]:
        yield "active_members_per_week", row["week"], org, row["members"]


def _contributions(session: Session, p: Period, org_id: int | None, _settings: Mapping[str, Any]) -> dict:
    per_process = contributions_per_process(session, p, org_id)
    return {
        "contributions": sum(r["submitted"] for r in per_process),
        "contributions_approved": sum(r["approved"] for r in per_process),
        "contributions_per_process": per_process,
    }


def _contributions_rows(report: dict, label: str, org: str) -> Iterator[Row]:
    for row in report["contributions_per_process"]:
        process = f"#{row['process_id']} {row['title']}"
        yield f"contributions[{process}]", label, org, row["submitted"]
        yield f"contributions_approved[{process}]", label, org, row["approved"]


def _first_timers(session: Session, p: Period, org_id: int | None, _settings: Mapping[str, Any]) -> dict:
    contributors, first_timers = first_time_contributors(session, p, org_id)
    return {
        "first_time_share": ratio(first_timers, contributors),
        "contributors": contributors,
        "first_time_contributors": first_timers,
    }


def _validation(session: Session, p: Period, org_id: int | None, _settings: Mapping[str, Any]) -> dict:
    hours = validation_hours(session, p, org_id)
    median, p90 = percentile(hours, 0.5), percentile(hours, 0.9)
    return {
        "validations": len(hours),
        "validation_median_hours": round(median, 2) if median is not None else None,
        "validation_p90_hours": round(p90, 2) if p90 is not None else None,
    }


PARTICIPATION = KpiProvider(
    indicators={
        "active_members": (N_("Active members"),
                           N_("members who submitted a contribution or answered a poll")),
    },
    compute=_participation,
    sections=("active_members_per_week",),
    series=_participation_rows,
)
CONTRIBUTIONS = KpiProvider(
    indicators={
        "contributions": (N_("Contributions"), N_("contributions submitted")),
        "contributions_approved": (N_("Approved contributions"), N_("of those submitted, approved now")),
    },
    compute=_contributions,
    sections=("contributions_per_process",),
    series=_contributions_rows,
)
FIRST_TIMERS = KpiProvider(
    indicators={
        "first_time_share": (N_("First-time contributors"),
                             N_("share of contributors whose first contribution ever was in the period")),
    },
    compute=_first_timers,
    counts=("contributors", "first_time_contributors"),
)
VALIDATION = KpiProvider(
    indicators={
        "validations": (N_("Validations"), N_("contributions first decided in the period")),
        "validation_median_hours": (N_("Median time to validate (h)"),
                                    N_("submission to first decision, median")),
        "validation_p90_hours": (N_("90th percentile time to validate (h)"),
                                 N_("submission to first decision, p90")),
    },
    compute=_validation,
)


# --- the report ---------------------------------------------------------------------------------


def _figures(provider: KpiProvider, session: Session, p: Period, org_id: int | None,
             settings: Mapping[str, Any]) -> Mapping[str, object]:
    if provider.community_wide and org_id is not None:
        return dict.fromkeys((*provider.indicators, *provider.counts, *provider.sections))
    return provider.compute(session, p, org_id, settings)


def dashboard(session: Session, p: Period, *, organisation_id: int | None = None, **settings: Any) -> dict:
    """Every indicator for the period, community-wide or for one organisation's processes.
    ``settings`` reach every provider as they are (the booking provider's ``policy``)."""
    org = organisation(session, organisation_id) if organisation_id is not None else None
    org_id = org.id if org is not None else None
    values: dict[str, object] = {}
    counts: dict[str, object] = {}
    sections: dict[str, object] = {}
    for provider in providers:
        figures = _figures(provider, session, p, org_id, settings)
        values.update((key, figures[key]) for key in provider.indicators)
        counts.update((key, figures[key]) for key in provider.counts)
        sections.update((key, figures[key]) for key in provider.sections)
    return {
        "period": p.as_dict(),
        "organisation": {"id": org.id, "name": org.name} if org is not None else None,
        "indicators": values,
        "counts": counts,
        **sections,
    }


def every_organisation(session: Session, p: Period, **settings: Any) -> list[dict]:
    """The dashboard of the whole community, then one per organisation (by name)."""
    reports = [dashboard(session, p, **settings)]
    reports += [dashboard(session, p, organisation_id=o.id, **settings) for o in organisations(session)]
    return reports


def comparison(session: Session, p: Period, **settings: Any) -> dict:
    """The scalar indicators side by side: the whole community, then each organisation."""
    columns = every_organisation(session, p, **settings)
    return {
        "period": p.as_dict(),
        "columns": [c["organisation"] or {"id": None, "name": N_("All")} for c in columns],
        "rows": [
            {"indicator": key, "label": label, "meaning": meaning,
             "values": [c["indicators"][key] for c in columns]}
            for key, (label, meaning) in indicators().items()
        ],
    }


def csv_rows(report: dict) -> Iterator[Row]:
    """``(indicator, period, organisation, value)`` for one dashboard: the scalars over the
    period, then the series (weeks as ISO weeks, per process, resource and hour in brackets)."""
    label = report["period"]["label"]
    org = report["organisation"]["name"] if report["organisation"] else "all"
    shown = [pr for pr in providers if not (pr.community_wide and report["organisation"] is not None)]
    scalars = {key for provider in shown for key in provider.indicators}
    for key, value in report["indicators"].items():
        if key in scalars:
            yield key, label, org, value
    for provider in sorted(shown, key=lambda pr: pr.series_order):
        if provider.series is not None:
            yield from provider.series(report, label, org)
