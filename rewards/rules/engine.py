"""The scoring core shared by live scoring and replays: compiled rulesets, condition matching,
cap usage read from the ledger, and the events kept for previews."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.db import utcnow
from community.i18n import N_
from rewards import loyalty
from rewards.formula import Formula, FormulaError, parse, round_half_up
from rewards.ledger import lock_wallet
from rewards.models import LedgerEntry, RuleVersion, ScoringEvent, ScoringRule
from rewards.rules.definitions import Definition, is_number
from rewards.rules.events import TIER, Award
from rewards.totals import period_window

log = logging.getLogger(__name__)

MAX_AWARD = 1_000_000


@dataclass(frozen=True)
class CompiledRule:
    rule_id: str
    version: int
    definition: Definition
    formula: Formula

    @classmethod
    def of(cls, rule_id: str, version: int, definition: Definition) -> CompiledRule:
        return cls(rule_id, version, definition, parse(definition.formula))


Ruleset = dict[str, CompiledRule]  # rule id → the version in force


def compile_version(version: RuleVersion) -> CompiledRule:
    return CompiledRule.of(version.rule_id, version.version, Definition.of(version))


def current_ruleset(session: Session, kinds: Iterable[str] | None = None) -> Ruleset:
    """The current (published) version of every rule, optionally only for some event kinds."""
    query = select(RuleVersion).join(
        ScoringRule,
        (ScoringRule.id == RuleVersion.rule_id) & (ScoringRule.current_version == RuleVersion.version),
    )
    if kinds is not None:
        query = query.where(RuleVersion.event.in_(list(kinds)))
    return {v.rule_id: compile_version(v) for v in session.scalars(query)}


def _matches(conditions: Mapping[str, object], values: Mapping[str, object]) -> bool:
    for key, condition in conditions.items():
        value = values.get(key)
        if value is None or isinstance(value, bool):
            return False
        if isinstance(condition, list):
            if value not in condition:
                return False
        else:
            if not is_number(value):
                return False
            if "min" in condition and value < condition["min"]:
                return False
            if "max" in condition and value > condition["max"]:
                return False
    return True


class CapUsage:
    """Points a rule already gave a member in a cap period, read from the ledger. Live
    scoring first locks the member's wallet row, so that two concurrent awards on
    PostgreSQL cannot both see the same room under the cap (SQLite writers are serialised)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._locked: set[int] = set()

    def ledger_sum(
        self, rule_id: str, member_id: int, start: dt.datetime, end: dt.datetime
    ) -> int:
        if end <= start:
            return 0
        total = self.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.member_id == member_id,
                LedgerEntry.rule_id == rule_id,
                LedgerEntry.created_at >= start,
                LedgerEntry.created_at < end,
            )
        )
        return int(total or 0)

    def used(self, rule_id: str, member_id: int, period: str, at: dt.datetime) -> int:
        if member_id not in self._locked:
            lock_wallet(self.session, member_id)
            self._locked.add(member_id)
        start, end = period_window(period, at)
        return self.ledger_sum(rule_id, member_id, start, end)

    def add(self, rule_id: str, member_id: int, period: str, at: dt.datetime, points: int) -> None:
        """Real awards reach the ledger through the caller; nothing to remember here."""


class SimulatedCapUsage(CapUsage):
    """For replays: the ledger before ``history_until`` plus the replay's own awards."""

    def __init__(self, session: Session, history_until: dt.datetime | None) -> None:
        super().__init__(session)
        self.history_until = history_until
        self._given: dict[tuple, int] = defaultdict(int)
        self._history: dict[tuple, int] = {}

    def used(self, rule_id: str, member_id: int, period: str, at: dt.datetime) -> int:
        start, end = period_window(period, at)
        key = (rule_id, member_id, start)
        if key not in self._history:
            self._history[key] = (
                0 if self.history_until is None
                else self.ledger_sum(rule_id, member_id, start, min(end, self.history_until))
            )
        return self._history[key] + self._given[key]

    def add(self, rule_id: str, member_id: int, period: str, at: dt.datetime, points: int) -> None:
        start, _ = period_window(period, at)
        self._given[(rule_id, member_id, start)] += points


def score(
    rules: Iterable[CompiledRule],
    *,
    member_id: int,
    inputs: Mapping[str, float],
    context: Mapping[str, object],
    at: dt.datetime,
    usage: CapUsage,
    errors: list[str],
) -> list[Award] | None:
    """The one scoring core shared by live scoring and replays: awards from the matching
    rules, or None when no enabled rule matched."""
    values = {**inputs, **context}
    awards: list[Award] | None = None
    for rule in sorted(rules, key=lambda r: r.rule_id):
        definition = rule.definition
        if not definition.enabled or not _matches(definition.conditions, values):
            continue
        awards = awards if awards is not None else []
        try:
            raw = rule.formula.evaluate(inputs)
            points = max(0, int(round_half_up(raw)))
            if points > MAX_AWARD:
                raise FormulaError(N_("the award %(points)s is more than %(max_award)s",
                                      points=points, max_award=MAX_AWARD), 0)
        except FormulaError as error:
            errors.append(f"rule {rule.rule_id} v{rule.version}: {error.message}")
            log.warning("scoring rule %s v%s failed: %s", rule.rule_id, rule.version, error.message)
            continue
        if definition.cap_period is not None and points > 0:
            left = definition.cap_points - usage.used(rule.rule_id, member_id, definition.cap_period, at)
            points = max(0, min(points, left))
            usage.add(rule.rule_id, member_id, definition.cap_period, at, points)
        awards.append(Award(points, definition.dimension, rule.rule_id, rule.version))
    return awards


def _tier_name(session: Session, member_id: int) -> str | None:
    tier = loyalty.member_tier(session, member_id)
    return tier.name if tier is not None else None


def with_tier(session: Session, member_id: int, context: Mapping[str, object]) -> dict[str, object]:
    """The event's context plus the member's tier now, so that the recorded event (and any
    replay of it) matches tier conditions against the tier the member had at the time."""
    if TIER in context:
        return dict(context)
    return {**context, TIER: _tier_name(session, member_id)}


def evaluate(
    session: Session,
    event: str,
    *,
    member_id: int,
    inputs: Mapping[str, float],
    context: Mapping[str, object],
) -> list[Award] | None:
    """Awards from the published rules matching ``event``, or None when no rule matches
    (the caller's default then applies)."""
    rules = current_ruleset(session, [event])
    if not rules:
        return None
    return score(
        rules.values(), member_id=member_id, inputs=inputs, context=with_tier(session, member_id, context),
        at=utcnow(), usage=CapUsage(session), errors=[],
    )


def _json_safe(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return str(value)


def _award_dict(award: Award) -> dict:
    return {"points": award.points, "dimension": award.dimension, "rule_id": award.rule_id,
            "rule_version": award.rule_version}


def record_event(
    session: Session,
    event: str,
    *,
    member_id: int,
    inputs: Mapping[str, float],
    context: Mapping[str, object],
    default: Award | None,
    awards: list[Award],
) -> ScoringEvent:
    """Keep the event for previews, in the caller's transaction."""
    row = ScoringEvent(
        kind=event,
        member_id=member_id,
        inputs={str(k): _json_safe(v) for k, v in inputs.items()},
        context={str(k): _json_safe(v) for k, v in context.items()},
        default_award=_award_dict(default) if default is not None else None,
        awards=[_award_dict(a) for a in awards],
        occurred_at=utcnow(),
    )
    session.add(row)
    return row
