"""Badges with levels, milestones and streaks (issue #4).

``award_badges`` runs inside the transaction that changed what badges count (an approval,
any ledger write outside spending): it writes one award row per newly reached badge level and
the outbox row that mints that level's ERC-1155 token exactly once.

Badges are never taken back. A revoked contribution is a compensating ledger entry and drops
out of the counts, so the member must reach the next level's threshold again with what stays
approved; the level already earned stays, in the database and on chain.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from community.db import UnitOfWork, as_utc, is_row_id
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.i18n import N_
from community.models import Contribution, ContributionCoContributor, ContributionState, User
from community.validation import text
from rewards.ledger import hashed_ref, instance_id, lock_wallet, points_total
from rewards.models import Badge, BadgeAward, BadgeLevel, BadgeMetric, OutboxItem, OutboxKind, OutboxStatus

MAX_LEVELS = 10
TOKEN_IDS_PER_BADGE = 100  # token id = badge id * 100 + level: stable, never reused
ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]


def longest_week_streak(days: list[dt.date]) -> int:
    """Longest run of consecutive ISO weeks that contain at least one of ``days``."""
    mondays = sorted({d - dt.timedelta(days=d.weekday()) for d in days})
    best = run = 0
    previous = None
    for monday in mondays:
        run = run + 1 if previous is not None and monday - previous == dt.timedelta(weeks=1) else 1
        best = max(best, run)
        previous = monday
    return best


def contribution_days(session: Session, member_id: int) -> list[dt.date]:
    """The days (UTC) the member submitted contributions that stand approved. An approved
    contribution counts for its contributor and each co-contributor; a revoked one counts
    for nobody. Badges and streak events both count weeks from these."""
    co_authored = select(ContributionCoContributor.contribution_id).where(
        ContributionCoContributor.user_id == member_id
    )
    approved = select(Contribution.created_at).where(
        or_(Contribution.member_id == member_id, Contribution.id.in_(co_authored)),
        Contribution.state == ContributionState.APPROVED.value,
    )
    return [as_utc(at).date() for at in session.scalars(approved)]


def member_metrics(session: Session, member_id: int) -> dict[str, int]:
    """What badges count, derived from contributions and the ledger (never stored)."""
    dates = contribution_days(session, member_id)
    return {
        BadgeMetric.APPROVED_CONTRIBUTIONS.value: len(dates),
        BadgeMetric.POINTS.value: points_total(session, member_id),
        BadgeMetric.WEEK_STREAK.value: longest_week_streak(dates),
    }


def award_badges(session: Session, member_id: int) -> list[BadgeAward]:
    """Award every active badge level the member has reached and does not hold yet, each with
    its mint request. Call in the same transaction, after the ledger writes; safe to call
    any number of times (it awards nothing twice)."""
    wallet = lock_wallet(session, member_id)  # concurrent approvals of one member award in turn
    held = set(session.scalars(select(BadgeAward.badge_level_id).where(BadgeAward.member_id == member_id)))
    levels = session.scalars(
        select(BadgeLevel).join(Badge).where(Badge.active.is_(True)).order_by(Badge.id, BadgeLevel.level)
    ).all()
    if not levels or all(level.id in held for level in levels):
        return []
    metrics = member_metrics(session, member_id)
    instance = instance_id(session)
    awards = []
    for level in levels:
        value = metrics.get(level.badge.metric, 0)
        if level.id in held or value < level.threshold:
            continue
        ref = hashed_ref(instance, f"badge:{member_id}:{level.id}")
        award = BadgeAward(member_id=member_id, badge_level_id=level.id, value=value, ref=ref)
        session.add(award)
        session.add(
            OutboxItem(
                kind=OutboxKind.BADGE.value,
                ledger_entry_id=None,
                to_address=wallet.address,
                amount=1,
                token_id=level.token_id,
                ref=ref,
                status=OutboxStatus.PENDING.value,
            )
        )
        awards.append(award)
    session.flush()
    return awards


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EarnedBadge:
    badge: str
    level: int
    name: str
    token_id: int
    awarded_at: dt.datetime
    chain_status: str  # pending | sent | done
    tx_hash: str | None

    def as_json(self) -> dict:
        return {
            "badge": self.badge,
            "level": self.level,
            "name": self.name,
            "token_id": self.token_id,
            "awarded_at": self.awarded_at.isoformat(),
            "minted": self.chain_status == OutboxStatus.DONE.value,
            "tx_hash": self.tx_hash if self.chain_status == OutboxStatus.DONE.value else None,
        }


def earned_badges(session: Session, member_id: int) -> list[EarnedBadge]:
    rows = session.execute(
        select(BadgeAward, BadgeLevel, Badge, OutboxItem)
        .join(BadgeLevel, BadgeAward.badge_level_id == BadgeLevel.id)
        .join(Badge, BadgeLevel.badge_id == Badge.id)
        .outerjoin(OutboxItem, OutboxItem.ref == BadgeAward.ref)
        .where(BadgeAward.member_id == member_id)
        .order_by(BadgeAward.id)
    ).all()
    return [
        EarnedBadge(
            badge=badge.name,
            level=level.level,
            name=level.name,
            token_id=level.token_id,
            awarded_at=as_utc(award.awarded_at),
            chain_status=item.status if item else OutboxStatus.PENDING.value,
            tx_hash=item.tx_hash if item else None,
        )
        for award, level, badge, item in rows
    ]


def all_badges(session: Session) -> list[Badge]:
    return list(session.scalars(select(Badge).options(selectinload(Badge.levels)).order_by(Badge.id)))


def award_counts(session: Session) -> dict[int, int]:
    """How many members hold each badge level."""
    rows = session.execute(
        select(BadgeAward.badge_level_id, func.count()).group_by(BadgeAward.badge_level_id)
    ).all()
    return {level_id: count for level_id, count in rows}


# --- admin ---------------------------------------------------------------------------


def _require_admin(session: Session, actor_id: int) -> None:
    actor = session.get(User, actor_id) if is_row_id(actor_id) else None
    if actor is None or not actor.is_admin:
        raise Forbidden("only admins define badges")


def parse_thresholds(value: object) -> list[int]:
    """``[5, 15, 40]`` or ``"5, 15, 40"``: one to ten strictly rising whole numbers."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        if not all(p.isdigit() and len(p) <= 9 for p in parts):
            raise InvalidInput("thresholds must be whole numbers separated by commas, e.g. 5, 15, 40")
        value = [int(p) for p in parts]
    if not isinstance(value, list) or not value:
        raise InvalidInput("give at least one threshold")
    if len(value) > MAX_LEVELS:
        raise InvalidInput(N_("a badge has at most %(max_levels)s levels", max_levels=MAX_LEVELS))
    for t in value:
        if not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= 1_000_000_000:
            raise InvalidInput("each threshold must be a whole number from 1 to 1000000000")
    if any(b <= a for a, b in itertools.pairwise(value)):
        raise InvalidInput("thresholds must rise from level to level, e.g. 5, 15, 40")
    return value


def _metric(value: object) -> str:
    if value not in {m.value for m in BadgeMetric}:
        raise InvalidInput(N_("metric must be one of %(values)s",
                              values=', '.join(m.value for m in BadgeMetric)))
    return str(value)


def _level_name(badge_name: str, level: int, count: int) -> str:
    return badge_name if count == 1 else f"{badge_name} {ROMAN[level - 1]}"


def _set_levels(session: Session, badge: Badge, thresholds: list[int]) -> None:
    """Levels are matched by number: thresholds may change (for future awards only), new
    levels are added, and a level somebody already holds is never removed."""
    existing = {level.level: level for level in badge.levels}
    for number in sorted(existing):
        if number > len(thresholds):
            held = session.scalar(
                select(func.count()).where(BadgeAward.badge_level_id == existing[number].id)
            )
            if held:
                raise Conflict(N_("level %(number)s of %(name)s is already held by members; it stays",
                                  number=number, name=badge.name))
            badge.levels.remove(existing[number])
    for number, threshold in enumerate(thresholds, start=1):
        level = existing.get(number)
        if level is None:
            level = BadgeLevel(level=number, token_id=badge.id * TOKEN_IDS_PER_BADGE + number)
            badge.levels.append(level)
        level.threshold = threshold
        level.name = _level_name(badge.name, number, len(thresholds))


def save_badge(
    uow: UnitOfWork,
    *,
    actor_id: int,
    name: object,
    metric: object,
    thresholds: object,
    description: object = "",
    active: object = True,
    badge_id: object = None,
) -> int:
    """Create a badge or change one (``badge_id``). The metric of an existing badge is fixed:
    changing what a held badge means would misstate what its holders did."""
    name = text(name, "name", 80)
    description = text(description, "description", 2000, required=False)
    metric = _metric(metric)
    thresholds = parse_thresholds(thresholds)
    if not isinstance(active, bool):
        raise InvalidInput("active must be true or false")
    with uow:
        session = uow.session
        _require_admin(session, actor_id)
        clash = session.scalar(select(Badge.id).where(func.lower(Badge.name) == name.lower()))
        if badge_id is None:
            if clash is not None:
                raise Conflict(N_("a badge called %(name)s already exists", name=name))
            badge = Badge(name=name, description=description, metric=metric, active=active)
            session.add(badge)
            session.flush()
        else:
            badge = session.get(Badge, badge_id) if is_row_id(badge_id) else None
            if badge is None:
                raise NotFound(N_("badge %(badge_id)s not found", badge_id=badge_id))
            if clash is not None and clash != badge.id:
                raise Conflict(N_("a badge called %(name)s already exists", name=name))
            if metric != badge.metric:
                raise Conflict("the metric of an existing badge cannot change; create a new badge")
            badge.name, badge.description, badge.active = name, description, active
        _set_levels(session, badge, thresholds)
        session.flush()
        uow.commit()
        return badge.id
