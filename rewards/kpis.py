"""Rewards' KPIs for the staff dashboard: how unequally points are earned (Gini) and the
credits minted, burned and in circulation on chain, community-wide or for an organisation's
contributions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import DateTime, func, select
from sqlalchemy.orm import Session

from community.i18n import N_
from community.kpis import (
    KpiProvider,
    Period,
    Row,
    gini,
    iso_week,
    organisation_contributions,
    week_start,
    within,
)
from rewards.ledger import SPENDING
from rewards.models import LedgerEntry, OutboxItem, OutboxKind, OutboxStatus


def points_gini(session: Session, p: Period, org_id: int | None = None) -> tuple[float | None, int]:
    """Inequality of points earned in the period among members who earned any (net of
    revocations; spending excluded). With an organisation: points from its contributions.
    Returns (Gini, number of members)."""
    total = func.sum(LedgerEntry.points)
    query = (
        select(total)
        .where(LedgerEntry.dimension != SPENDING, within(LedgerEntry.created_at, p))
        .group_by(LedgerEntry.member_id)
        .having(total > 0)
    )
    if org_id is not None:
        query = query.where(LedgerEntry.contribution_id.in_(organisation_contributions(org_id)))
    sums = [int(v) for v in session.scalars(query)]
    value = gini(sums)
    return (round(value, 4) if value is not None else None), len(sums)


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
                select(LedgerEntry.id).where(LedgerEntry.contribution_id.in_(organisation_contributions(org_id)))
            )
        )
    amount = func.sum(OutboxItem.amount)

    def by_kind(*conditions) -> dict[str, int]:
        rows = session.execute(
            select(OutboxItem.kind, amount).where(*base, *conditions).group_by(OutboxItem.kind)
        )
        return {kind: int(total or 0) for kind, total in rows}

    in_period = by_kind(within(delivered, p))
    so_far = by_kind(delivered < p.until)
    week = week_start(delivered)
    weekly: dict[str, dict[str, int]] = defaultdict(dict)
    for monday, kind, total in session.execute(
        select(week, OutboxItem.kind, amount)
        .where(*base, within(delivered, p))
        .group_by(week, OutboxItem.kind)
    ):
        weekly[monday][kind] = int(total or 0)
    return {
        "minted": in_period.get("mint", 0),
        "burned": in_period.get("burn", 0),
        "in_circulation": so_far.get("mint", 0) - so_far.get("burn", 0),
        "per_week": [
            {
                "week": iso_week(monday),
                "starts": monday.isoformat(),
                "minted": weekly[monday.isoformat()].get("mint", 0),
                "burned": weekly[monday.isoformat()].get("burn", 0),
            }
            for monday in p.weeks()
        ],
    }


def _points(session: Session, p: Period, org_id: int | None, _settings: Mapping[str, Any]) -> dict:
    inequality, earners = points_gini(session, p, org_id)
    return {"points_gini": inequality, "members_with_points": earners}


def _credits(session: Session, p: Period, org_id: int | None, _settings: Mapping[str, Any]) -> dict:
    token = tokens(session, p, org_id)
    return {
        "tokens_minted": token["minted"],
        "tokens_burned": token["burned"],
        "tokens_in_circulation": token["in_circulation"],
        "tokens_per_week": token["per_week"],
    }


def _credits_rows(report: dict, _label: str, org: str) -> Iterator[Row]:
    for row in report["tokens_per_week"]:
        yield "tokens_minted", row["week"], org, row["minted"]
        yield "tokens_burned", row["week"], org, row["burned"]


POINTS = KpiProvider(
    indicators={
        "points_gini": (N_("Participation inequality (Gini)"),
                        N_("Gini coefficient of points earned per member (0 equal, 1 one member has all)")),
    },
    compute=_points,
    counts=("members_with_points",),
)
CREDITS = KpiProvider(
    indicators={
        "tokens_minted": (N_("Credits minted"), N_("mints delivered on chain in the period")),
        "tokens_burned": (N_("Credits burned"), N_("burns delivered on chain in the period")),
        "tokens_in_circulation": (N_("Credits in circulation"),
                                  N_("delivered mints minus delivered burns up to the end of the period")),
    },
    compute=_credits,
    sections=("tokens_per_week",),
    series=_credits_rows,
)
