"""Scoring rules engine (issue #4): declarative, versioned rules stored in the database.

A rule (stable slug id) has immutable versions. A version names the event kind it matches,
conditions on the event's context, the dimension it awards points in, a formula over the
event's named inputs (``rewards.formula``) and an optional cap per calendar period. One
published version per rule is current; changing a rule writes a new draft version, which
staff preview against the recorded history and an admin publishes.

How an event is scored: every current, enabled rule for the event kind whose conditions
match gives one award (so two rules in different dimensions both pay). Formula results are
rounded half away from zero; a negative result awards nothing; a capped rule awards at most
what is left of its cap in the period (the sum of the member's ledger entries carrying that
rule id in the calendar period, UTC). When no rule matches, the feature's default applies.
A formula that fails on an event (division by zero, ...) awards nothing for that rule and
is logged; previews count such failures.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from community.db import UnitOfWork, as_utc, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.i18n import N_, Msg
from community.models import User
from rewards.formula import Formula, FormulaError, parse, round_half_up
from rewards.ledger import SPENDING, lock_wallet
from rewards.models import LedgerEntry
from rewards.rule_models import RuleVersion, ScoringEvent, ScoringRule
from rewards.scoring import (
    BOOKING_CHECKED_IN,
    CONTRIBUTION_APPROVED,
    POLL_ANSWERED,
    STREAK_REACHED,
)
from rewards.totals import period_window

if TYPE_CHECKING:
    from rewards.scoring import Award

log = logging.getLogger(__name__)

# Named numeric inputs each event kind passes (what formulas may use).
EVENT_INPUTS: dict[str, tuple[str, ...]] = {
    CONTRIBUTION_APPROVED: ("complexity", "level"),  # level: low 1, average 2, high 3
    POLL_ANSWERED: ("points",),  # the poll's configured points
    BOOKING_CHECKED_IN: ("duration", "price"),  # hours, credits
    STREAK_REACHED: ("weeks",),
}
# Context each event kind passes (what conditions may match), with the kind of value:
# "id" positive whole numbers, "key" ids or names, "number" numbers (ranges allowed).
EVENT_CONTEXT: dict[str, dict[str, str]] = {
    CONTRIBUTION_APPROVED: {"process_id": "id", "task_id": "id", "complexity": "number"},
    POLL_ANSWERED: {"poll_id": "id", "process_id": "id"},
    BOOKING_CHECKED_IN: {"resource_id": "id", "group_id": "id"},
    STREAK_REACHED: {},
}
TIER = "tier"  # every kind: the member's loyalty tier name when the event happened
CAP_PERIODS = ("day", "week", "month")
MAX_AWARD = 1_000_000
MAX_CAP = 10_000_000
PREVIEW_DAYS = 90
TOP_MOVERS = 10
MAX_IMPORT_BYTES = 512 * 1024
MAX_IMPORT_RULES = 500
RULE_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
DIMENSION_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
DEFINITION_FIELDS = ("title", "event", "conditions", "dimension", "formula", "cap", "enabled", "note")


class RuleInvalid(InvalidInput):
    """A rule definition that fails validation; ``field`` names the offending field."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


# --- definitions: validation and normal form -------------------------------------------


@dataclass(frozen=True)
class Definition:
    """What a version says, validated and normalised (conditions sorted, ranges as dicts)."""

    title: str
    event: str
    conditions: dict
    dimension: str
    formula: str
    cap_period: str | None = None
    cap_points: int | None = None
    enabled: bool = True
    note: str = ""

    def same_rule(self, other: Definition) -> bool:
        """Equal in everything that decides awards and how they show (the note aside)."""
        return replace(self, note="") == replace(other, note="")

    def as_dict(self) -> dict:
        return {
            "title": self.title,
            "event": self.event,
            "conditions": self.conditions,
            "dimension": self.dimension,
            "formula": self.formula,
            "cap": {"period": self.cap_period, "points": self.cap_points} if self.cap_period else None,
            "enabled": self.enabled,
            "note": self.note,
        }

    @classmethod
    def of(cls, version: RuleVersion) -> Definition:
        return cls(
            title=version.title, event=version.event, conditions=version.conditions or {},
            dimension=version.dimension, formula=version.formula, cap_period=version.cap_period,
            cap_points=version.cap_points, enabled=version.enabled, note=version.note,
        )


def _fail(where: str, field_: str, problem: str) -> RuleInvalid:
    """``problem`` is marked for translation by the ``_fail:3`` keyword (scripts/i18n.py)."""
    problem = problem if isinstance(problem, Msg) else Msg(problem)
    return RuleInvalid(N_("%(where)s%(field)s: %(problem)s",
                          where=where, field=field_, problem=problem), field_.split(".")[0])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _condition(where: str, key: str, kind: str, raw: object) -> object:
    name = f"conditions.{key}"
    if isinstance(raw, Mapping):
        if kind != "number":
            raise _fail(where, name, "only numeric conditions take a range {min, max}")
        unknown = set(raw) - {"min", "max"}
        if unknown or not raw:
            raise _fail(where, name, "a range has min and/or max, nothing else")
        for bound in ("min", "max"):
            if bound in raw and not (_is_number(raw[bound]) and abs(raw[bound]) <= 1e12):
                raise _fail(where, f"{name}.{bound}", "must be a number")
        if "min" in raw and "max" in raw and raw["min"] > raw["max"]:
            raise _fail(where, name, "min is larger than max")
        return {bound: raw[bound] for bound in ("min", "max") if bound in raw}
    values = raw if isinstance(raw, list) else [raw]
    if not values or len(values) > 200:
        raise _fail(where, name, "list from 1 to 200 values")
    for value in values:
        ok = {
            "id": isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63,
            "key": (isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(value, str) and 0 < len(value) <= 80),
            "name": isinstance(value, str) and 0 < len(value) <= 80,
            "number": _is_number(value),
        }[kind]
        if not ok:
            expected = {"id": N_("ids (whole numbers)"), "key": N_("ids or names"), "name": N_("names"),
                        "number": N_("numbers")}[kind]
            raise _fail(where, name, N_("%(value)r is not allowed here: give %(expected)s",
                                        value=value, expected=expected))
    return sorted(set(values), key=lambda v: (str(type(v)), v))


def validate_definition(data: object, *, where: str = "") -> Definition:
    """A rule version's fields checked one by one; errors name the field (and ``where``)."""
    if not isinstance(data, Mapping):
        raise RuleInvalid(N_("%(where)sa rule must be an object with fields %(definition_fields)s",
                             where=where, definition_fields=', '.join(DEFINITION_FIELDS)))
    event = data.get("event")
    if not isinstance(event, str) or event not in EVENT_INPUTS:  # a list or object is no key
        raise _fail(where, "event", N_("must be one of %(events)s", events=", ".join(EVENT_INPUTS)))
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > 200:
        raise _fail(where, "title", "must be text of 1 to 200 characters")
    dimension = data.get("dimension", "participation")
    if not isinstance(dimension, str) or not DIMENSION_RE.match(dimension):
        raise _fail(where, "dimension", "must be a lowercase name (letters, digits, - and _), "
                    "at most 40 characters")
    if dimension == SPENDING:
        raise _fail(where, "dimension", N_("%(name)r is reserved for spending credits", name=SPENDING))
    source = data.get("formula")
    if not isinstance(source, str) or not source.strip():
        raise _fail(where, "formula", "must not be empty")
    try:
        parse(source).check_names(EVENT_INPUTS[event])
    except FormulaError as error:
        raise error.located(f"{where}formula: ") from None
    raw_conditions = data.get("conditions") or {}
    if not isinstance(raw_conditions, Mapping):
        raise _fail(where, "conditions", "must be an object of condition: value(s)")
    allowed = {TIER: "name"} | dict.fromkeys(EVENT_INPUTS[event], "number") | EVENT_CONTEXT[event]
    conditions = {}
    for key in sorted(raw_conditions, key=str):
        if key not in allowed:
            raise _fail(where, f"conditions.{key}", N_("unknown for %(event)s events (known: %(known)s)",
                                                        event=event, known=", ".join(sorted(allowed))))
        conditions[key] = _condition(where, key, allowed[key], raw_conditions[key])
    cap_period = cap_points = None
    cap = data.get("cap")
    if cap is not None:
        if not isinstance(cap, Mapping) or set(cap) - {"period", "points"}:
            raise _fail(where, "cap", "must be {period, points} or empty")
        cap_period, cap_points = cap.get("period"), cap.get("points")
        if cap_period not in CAP_PERIODS:
            raise _fail(where, "cap.period", N_("must be one of %(periods)s", periods=", ".join(CAP_PERIODS)))
        if not isinstance(cap_points, int) or isinstance(cap_points, bool) or not 0 < cap_points <= MAX_CAP:
            raise _fail(where, "cap.points", N_("must be a whole number from 1 to %(max)s", max=MAX_CAP))
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _fail(where, "enabled", "must be true or false")
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > 2000:
        raise _fail(where, "note", "must be text of at most 2000 characters")
    unknown = set(data) - set(DEFINITION_FIELDS)
    if unknown:
        known = ", ".join(DEFINITION_FIELDS)
        raise _fail(where, sorted(unknown, key=str)[0], N_("unknown field (fields: %(known)s)", known=known))
    return Definition(
        title=title.strip(), event=event, conditions=conditions, dimension=dimension,
        formula=source.strip(), cap_period=cap_period, cap_points=cap_points, enabled=enabled,
        note=note.strip(),
    )


# --- compiled rules and the scoring core -----------------------------------------------


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


def _compile(version: RuleVersion) -> CompiledRule:
    return CompiledRule.of(version.rule_id, version.version, Definition.of(version))


def current_ruleset(session: Session, kinds: Iterable[str] | None = None) -> Ruleset:
    """The current (published) version of every rule, optionally only for some event kinds."""
    query = select(RuleVersion).join(
        ScoringRule,
        (ScoringRule.id == RuleVersion.rule_id) & (ScoringRule.current_version == RuleVersion.version),
    )
    if kinds is not None:
        query = query.where(RuleVersion.event.in_(list(kinds)))
    return {v.rule_id: _compile(v) for v in session.scalars(query)}


def _matches(conditions: Mapping[str, object], values: Mapping[str, object]) -> bool:
    for key, condition in conditions.items():
        value = values.get(key)
        if value is None or isinstance(value, bool):
            return False
        if isinstance(condition, list):
            if value not in condition:
                return False
        else:
            if not _is_number(value):
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


def _score(
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
    from rewards.scoring import Award

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
    from rewards.loyalty import member_tier

    tier = member_tier(session, member_id)
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
    return _score(
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


# --- replay and preview ----------------------------------------------------------------


@dataclass
class ReplayResult:
    points: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # member → points
    by_dimension: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    awards: list[list[Award]] = field(default_factory=list)  # per event, in order
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.points.values())


def replay(
    session: Session,
    events: Iterable[Any],
    ruleset: Ruleset,
    *,
    history_until: dt.datetime | None = None,
) -> ReplayResult:
    """What ``ruleset`` awards for ``events`` (ScoringEvent rows or anything with kind,
    member_id, inputs, context, default_award and occurred_at), in the given order, with
    caps counting the ledger before ``history_until`` plus the replay's own awards. Live
    scoring uses the same core, so publishing a ruleset and feeding it the same events
    awards exactly this."""
    from rewards.scoring import Award

    by_kind: dict[str, list[CompiledRule]] = defaultdict(list)
    for rule in ruleset.values():
        by_kind[rule.definition.event].append(rule)
    usage = SimulatedCapUsage(session, history_until)
    result = ReplayResult()
    for event in events:
        awards = None
        if by_kind.get(event.kind):
            awards = _score(
                by_kind[event.kind], member_id=event.member_id, inputs=event.inputs,
                context=event.context, at=as_utc(event.occurred_at), usage=usage, errors=result.errors,
            )
        if awards is None:
            awards = [Award(**event.default_award)] if event.default_award else []
        awards = [a for a in awards if a.points != 0]
        result.awards.append(awards)
        for award in awards:
            result.points[event.member_id] += award.points
            result.by_dimension[award.dimension] += award.points
    return result


@dataclass(frozen=True)
class MemberChange:
    member_id: int
    member: str
    recorded: int  # what was actually awarded at the time
    current: int  # what the current version awards on a replay
    draft: int

    @property
    def delta(self) -> int:
        return self.draft - self.current


@dataclass
class PreviewReport:
    rule_id: str
    current_version: int | None
    draft_version: int | None  # None: an unsaved draft
    since: dt.datetime
    until: dt.datetime
    kinds: list[str]
    events: int
    members: list[MemberChange]
    total_recorded: int
    total_current: int
    total_draft: int
    current_by_dimension: dict[str, int]
    draft_by_dimension: dict[str, int]
    current_errors: list[str]
    draft_errors: list[str]

    @property
    def total_delta(self) -> int:
        return self.total_draft - self.total_current

    @property
    def top_movers(self) -> list[MemberChange]:
        movers = [m for m in self.members if m.delta != 0]
        return sorted(movers, key=lambda m: (-abs(m.delta), m.member_id))[:TOP_MOVERS]

    def as_dict(self) -> dict:
        def member(m: MemberChange) -> dict:
            return {**asdict(m), "delta": m.delta}

        return {
            "rule_id": self.rule_id,
            "current_version": self.current_version,
            "draft_version": self.draft_version,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "kinds": self.kinds,
            "events": self.events,
            "total": {"recorded": self.total_recorded, "current": self.total_current,
                      "draft": self.total_draft, "delta": self.total_delta},
            "by_dimension": {"current": self.current_by_dimension, "draft": self.draft_by_dimension},
            "members": [member(m) for m in self.members],
            "top_movers": [member(m) for m in self.top_movers],
            "errors": {"current": self.current_errors[:20], "draft": self.draft_errors[:20],
                       "current_count": len(self.current_errors), "draft_count": len(self.draft_errors)},
        }


def _get_rule(session: Session, rule_id: object) -> ScoringRule:
    if not isinstance(rule_id, str) or not RULE_ID_RE.match(rule_id):
        raise NotFound(N_("rule %(rule_id)r not found", rule_id=rule_id))
    rule = session.get(ScoringRule, rule_id)
    if rule is None:
        raise NotFound(N_("rule %(rule_id)r not found", rule_id=rule_id))
    return rule


def _get_version(rule: ScoringRule, version: object) -> RuleVersion:
    found = next((v for v in rule.versions if v.version == version), None)
    if found is None or isinstance(version, bool):
        raise NotFound(N_("rule %(rule)r has no version %(version)r", rule=rule.id, version=version))
    return found


def preview(
    session: Session,
    rule_id: str,
    draft_version: int | Definition,
    *,
    days: int = PREVIEW_DAYS,
    now: dt.datetime | None = None,
) -> PreviewReport:
    """What the recorded events of the last ``days`` would have awarded with the draft in
    place of the rule's current version, next to what the current ruleset awards on the
    same replay (and what was actually recorded). Only events of the kinds the rule's
    current and draft versions match are replayed."""
    rule = _get_rule(session, rule_id)
    if isinstance(draft_version, Definition):
        draft, number = CompiledRule.of(rule.id, 0, draft_version), None
    else:
        draft, number = _compile(_get_version(rule, draft_version)), draft_version
    until = now or utcnow()
    since = until - dt.timedelta(days=days)
    current_rules = current_ruleset(session)
    draft_rules = {**current_rules, rule.id: draft}
    kinds = sorted({draft.definition.event} | (
        {current_rules[rule.id].definition.event} if rule.id in current_rules else set()))
    events = session.scalars(
        select(ScoringEvent)
        .where(ScoringEvent.kind.in_(kinds), ScoringEvent.occurred_at >= since,
               ScoringEvent.occurred_at < until)
        .order_by(ScoringEvent.occurred_at, ScoringEvent.id)
    ).all()
    current = replay(session, events, current_rules, history_until=since)
    proposed = replay(session, events, draft_rules, history_until=since)
    recorded: dict[int, int] = defaultdict(int)
    for event in events:
        recorded[event.member_id] += sum(a["points"] for a in event.awards)
    member_ids = sorted({e.member_id for e in events})
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(member_ids))).all())
    members = [
        MemberChange(mid, names.get(mid, f"#{mid}"), recorded[mid], current.points.get(mid, 0),
                     proposed.points.get(mid, 0))
        for mid in member_ids
    ]
    return PreviewReport(
        rule_id=rule.id, current_version=rule.current_version, draft_version=number, since=since,
        until=until, kinds=kinds, events=len(events), members=members,
        total_recorded=sum(recorded.values()), total_current=current.total, total_draft=proposed.total,
        current_by_dimension=dict(current.by_dimension), draft_by_dimension=dict(proposed.by_dimension),
        current_errors=current.errors, draft_errors=proposed.errors,
    )


# --- use cases -------------------------------------------------------------------------


def _actor(session: Session, actor_id: int) -> User:
    actor = session.get(User, actor_id) if isinstance(actor_id, int) else None
    if actor is None or not actor.active:
        raise Forbidden("unknown or inactive user")
    return actor


def _require_admin(session: Session, actor_id: int) -> User:
    actor = _actor(session, actor_id)
    if not actor.is_admin:
        raise Forbidden("only admins change scoring rules")
    return actor


def _require_staff(session: Session, actor_id: int) -> User:
    actor = _actor(session, actor_id)
    if not actor.is_staff:
        raise Forbidden("only staff and admins preview scoring rules")
    return actor


def _check_new_rule_id(session: Session, rule_id: object) -> str:
    if not isinstance(rule_id, str) or not RULE_ID_RE.match(rule_id):
        raise RuleInvalid(
            "id: must be 1 to 80 lowercase letters, digits and dashes (not at either end)", "id"
        )
    taken = session.scalar(select(LedgerEntry.id).where(LedgerEntry.rule_id == rule_id).limit(1))
    if taken is not None:
        raise Conflict(
            N_(
                "id: %(rule_id)r already names entries in the ledger that no scoring rule made; "
                "choose another id",
                rule_id=rule_id,
            )
        )
    return rule_id


def _add_version(
    session: Session, actor: User, rule_id: str, definition: Definition, *, publish: bool
) -> RuleVersion:
    rule = session.scalars(
        select(ScoringRule).where(ScoringRule.id == rule_id).with_for_update()
    ).one_or_none()
    if rule is None:
        rule = ScoringRule(id=_check_new_rule_id(session, rule_id), created_by_id=actor.id)
        session.add(rule)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(N_("rule %(rule_id)r was just created by someone else; try again",
                              rule_id=rule_id)) from None
    number = (session.scalar(select(func.max(RuleVersion.version)).where(RuleVersion.rule_id == rule_id))
              or 0) + 1
    version = RuleVersion(
        rule_id=rule_id, version=number, title=definition.title, event=definition.event,
        conditions=definition.conditions, dimension=definition.dimension, formula=definition.formula,
        cap_period=definition.cap_period, cap_points=definition.cap_points, enabled=definition.enabled,
        note=definition.note, created_by_id=actor.id,
    )
    session.add(version)
    session.flush()
    if publish:
        _publish(session, actor, rule, version)
    return version


def _publish(session: Session, actor: User, rule: ScoringRule, version: RuleVersion) -> None:
    if version.published_at is not None:
        raise Conflict(
            N_(
                "rule %(rule)r version %(version)s was published before; save its definition again as a new "
                "version to bring it back",
                rule=rule.id, version=version.version,
            )
        )
    if rule.current_version is not None and version.version < rule.current_version:
        raise Conflict(
            N_(
                "rule %(rule)r version %(version)s is older than the current version %(current_version)s; "
                "save it again as a new version to publish it",
                rule=rule.id, version=version.version, current_version=rule.current_version,
            )
        )
    version.published_at = utcnow()
    version.published_by_id = actor.id
    rule.current_version = version.version


def save_rule(
    uow: UnitOfWork, *, actor_id: int, rule_id: object, data: object, publish: bool = False,
    new: bool = False,
) -> tuple[str, int]:
    """A new version of a rule (creating the rule on its first version): a draft unless
    ``publish``. With ``new`` the rule must not exist yet (a "new rule" form must not add a
    version to someone else's rule). Returns (rule id, version number)."""
    definition = validate_definition(data)
    with uow:
        actor = _require_admin(uow.session, actor_id)
        rid = rule_id if isinstance(rule_id, str) else ""
        if new and uow.session.get(ScoringRule, rid) is not None:
            raise RuleInvalid(N_("id: a rule %(rid)r exists already; edit it instead", rid=rid), "id")
        version = _add_version(uow.session, actor, rid, definition, publish=publish)
        uow.commit()
        return version.rule_id, version.version


def publish_rule(uow: UnitOfWork, *, actor_id: int, rule_id: object, version: object) -> int:
    """Make a draft version current. Awards from now on use it; the ledger keeps what
    earlier versions gave."""
    with uow:
        actor = _require_admin(uow.session, actor_id)
        rule = uow.session.scalars(
            select(ScoringRule).where(ScoringRule.id == _get_rule(uow.session, rule_id).id).with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        _publish(uow.session, actor, rule, _get_version(rule, version))
        uow.commit()
        return rule.current_version


def preview_rule(
    session: Session, *, actor_id: int, rule_id: object, version: object = None, data: object = None
) -> PreviewReport:
    """Staff preview a stored version, or an unsaved definition when ``data`` is given."""
    _require_staff(session, actor_id)
    rule = _get_rule(session, rule_id)
    if data is not None:
        return preview(session, rule.id, validate_definition(data))
    if version is None:
        drafts = [v for v in rule.versions if v.published_at is None
                  and v.version > (rule.current_version or 0)]
        if not drafts:
            raise NotFound(N_("rule %(rule)r has no draft newer than its current version", rule=rule.id))
        version = drafts[-1].version
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidInput("version must be a whole number")
    return preview(session, rule.id, version)


def _sees_drafts(session: Session, actor_id: int) -> bool:
    """Staff, auditors and admins see drafts; members see what is published, so that they
    know how points are earned."""
    actor = _actor(session, actor_id)
    return actor.is_staff or actor.is_auditor


def visible_rules(session: Session, *, actor_id: int) -> tuple[list[ScoringRule], bool]:
    """The rules the actor may see, and whether they may see drafts."""
    drafts = _sees_drafts(session, actor_id)
    return [r for r in list_rules(session) if drafts or r.current is not None], drafts


def rule_for(session: Session, *, actor_id: int, rule_id: object) -> tuple[ScoringRule, bool]:
    """One rule as the actor may see it; a never-published rule does not exist for members."""
    rule = _get_rule(session, rule_id)
    drafts = _sees_drafts(session, actor_id)
    if not drafts and rule.current is None:
        raise NotFound(N_("rule %(rule_id)r not found", rule_id=rule_id))
    return rule, drafts


def export_for(session: Session, *, actor_id: int, fmt: object) -> str:
    actor = _actor(session, actor_id)
    if not (actor.is_staff or actor.is_auditor):
        raise Forbidden("only staff, auditors and admins export scoring rules")
    if fmt not in ("yaml", "json"):
        raise InvalidInput("format must be yaml or json")
    return export_rules(session, str(fmt))


def list_rules(session: Session) -> list[ScoringRule]:
    return list(session.scalars(
        select(ScoringRule).options(selectinload(ScoringRule.versions)).order_by(ScoringRule.id)
    ))


def get_rule(session: Session, rule_id: object) -> ScoringRule:
    return _get_rule(session, rule_id)


def version_json(version: RuleVersion) -> dict:
    return {
        "version": version.version,
        "status": version.status,
        **Definition.of(version).as_dict(),
        "created_by": version.created_by_id,
        "created_at": as_utc(version.created_at).isoformat(),
        "published_at": as_utc(version.published_at).isoformat() if version.published_at else None,
    }


def rule_json(rule: ScoringRule, *, drafts: bool) -> dict:
    versions = [v for v in rule.versions if drafts or v.published_at is not None]
    return {
        "id": rule.id,
        "current_version": rule.current_version,
        "current": version_json(rule.current) if rule.current else None,
        "versions": [version_json(v) for v in versions],
    }


# --- import and export -----------------------------------------------------------------


def export_rules(session: Session, fmt: str = "yaml") -> str:
    """Every rule once: its current version (``published: true``), or for a rule never
    published its latest draft. ``version`` is informational; imports ignore it."""
    if fmt not in ("yaml", "json"):
        raise InvalidInput("format must be yaml or json")
    items = []
    for rule in list_rules(session):
        version = rule.current or rule.latest
        if version is None:
            continue
        definition = Definition.of(version).as_dict()
        items.append({"id": rule.id, **definition, "published": rule.current is not None,
                      "version": version.version})
    document = {"rules": items}
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@dataclass
class ImportResult:
    created: list[tuple[str, int]] = field(default_factory=list)
    published: list[tuple[str, int]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": [{"id": i, "version": v} for i, v in self.created],
            "published": [{"id": i, "version": v} for i, v in self.published],
            "unchanged": self.unchanged,
        }


def parse_rules_document(text: object, fmt: str | None = None) -> list[tuple[str, Definition, bool]]:
    """Validate a whole import before anything is written; errors name the rule and field."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("the file is not UTF-8 text") from None
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("the rules document is empty")
    if len(text.encode()) > MAX_IMPORT_BYTES:
        raise InvalidInput(N_("the rules document is larger than %(value)s KiB",
                              value=MAX_IMPORT_BYTES // 1024))
    try:
        document = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        where = ""
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        elif isinstance(error, json.JSONDecodeError):
            where = f" (line {error.lineno}, column {error.colno})"
        raise InvalidInput(N_("the rules document is not valid %(value)s%(where)s",
                              value=fmt or 'YAML', where=where)) from None
    items = document.get("rules") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise InvalidInput("the rules document must have a list under 'rules'")
    if len(items) > MAX_IMPORT_RULES:
        raise InvalidInput(N_("at most %(max_import_rules)s rules per import",
                              max_import_rules=MAX_IMPORT_RULES))
    parsed = []
    seen = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput(N_("rules[%(index)s]: must be an object", index=index))
        rule_id = item.get("id")
        where = f"rules[{index}] {rule_id!r}: " if isinstance(rule_id, str) else f"rules[{index}]: "
        if not isinstance(rule_id, str) or not RULE_ID_RE.match(rule_id):
            raise RuleInvalid(N_("%(where)sid: must be 1 to 80 lowercase letters, digits and dashes",
                                 where=where), "id")
        if rule_id in seen:
            raise RuleInvalid(N_("%(where)sid: appears twice", where=where), "id")
        seen.add(rule_id)
        published = item.get("published", True)
        if not isinstance(published, bool):
            raise RuleInvalid(N_("%(where)spublished: must be true or false", where=where), "published")
        fields = {k: v for k, v in item.items() if k not in ("id", "published", "version")}
        parsed.append((rule_id, validate_definition(fields, where=where), published))
    return parsed


def import_rules(uow: UnitOfWork, *, actor_id: int, text: object, fmt: str | None = None) -> ImportResult:
    """All or nothing. A rule whose latest version already says the same is left alone (and
    published if the document says so); any other becomes a new version, published when
    the document says ``published: true``."""
    items = parse_rules_document(text, fmt)
    result = ImportResult()
    with uow:
        session = uow.session
        actor = _require_admin(session, actor_id)
        for rule_id, definition, published in items:
            rule = session.get(ScoringRule, rule_id)
            latest = rule.latest if rule is not None else None
            if latest is not None and Definition.of(latest).same_rule(definition):
                if published and rule.current_version != latest.version:
                    _publish(session, actor, rule, latest)
                    result.published.append((rule_id, latest.version))
                else:
                    result.unchanged.append(rule_id)
                continue
            version = _add_version(session, actor, rule_id, replace(
                definition, note=definition.note or "imported"), publish=published)
            result.created.append((rule_id, version.version))
            if published:
                result.published.append((rule_id, version.version))
        uow.commit()
    return result

