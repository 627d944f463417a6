"""Replays of recorded events under a ruleset, and the preview report that compares a draft
with the current rules over the recent history."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.db import as_utc, utcnow
from community.models import User
from rewards.models import ScoringEvent
from rewards.rules.definitions import Definition
from rewards.rules.engine import (
    CompiledRule,
    Ruleset,
    SimulatedCapUsage,
    compile_version,
    current_ruleset,
    score,
)
from rewards.rules.events import Award
from rewards.rules.versions import get_rule, get_version

PREVIEW_DAYS = 90
TOP_MOVERS = 10


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
    by_kind: dict[str, list[CompiledRule]] = defaultdict(list)
    for rule in ruleset.values():
        by_kind[rule.definition.event].append(rule)
    usage = SimulatedCapUsage(session, history_until)
    result = ReplayResult()
    for event in events:
        awards = None
        if by_kind.get(event.kind):
            awards = score(
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
    rule = get_rule(session, rule_id)
    if isinstance(draft_version, Definition):
        draft, number = CompiledRule.of(rule.id, 0, draft_version), None
    else:
        draft, number = compile_version(get_version(rule, draft_version)), draft_version
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
