"""What an event is worth: the one place every feature asks before writing ledger entries.

Features describe an event (its kind, named numeric inputs, the context rules may match on)
and a default award; the rules engine decides what is actually awarded. Each award names the
rule id and version that produced it, and that is what the ledger records. The event kinds
and ``Award`` live in ``rewards.rules.events`` (below the engine); features name them here.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from rewards.badges import award_badges
from rewards.ledger import record_entry
from rewards.models import LedgerEntry
from rewards.rules.engine import evaluate, record_event, with_tier
from rewards.rules.events import (  # the event vocabulary features name through this module
    BOOKING_CHECKED_IN,
    CONTRIBUTION_APPROVED,
    EVENT_KINDS,
    POLL_ANSWERED,
    STREAK_REACHED,
    Award,
)

__all__ = [
    "BOOKING_CHECKED_IN", "CONTRIBUTION_APPROVED", "DEFAULT_CONTRIBUTION_RULE", "EVENT_KINDS",
    "LEVEL_FACTORS", "POLL_ANSWERED", "STREAK_REACHED", "Award", "awards_for", "contribution_awards",
    "record_awards",
]

LEVEL_FACTORS = {"low": 1, "average": 2, "high": 3}
DEFAULT_CONTRIBUTION_RULE = ("complexity-x-level", 1)


def awards_for(
    session: Session,
    event: str,
    *,
    member_id: int,
    inputs: Mapping[str, float],
    context: Mapping[str, object],
    default: Award | None,
    record: bool = True,
) -> list[Award]:
    """The awards for one event. Published scoring rules that match the event win; without
    one, the feature's default applies. Zero-point awards are dropped (the ledger holds no
    empty rows). ``record=False`` for a what-if (e.g. a proposal shown before approval): the
    event is then not kept in the history that rule previews replay."""
    context = with_tier(session, member_id, context)  # recorded as it was at the time
    awards = evaluate(session, event, member_id=member_id, inputs=inputs, context=context)
    if awards is None:
        awards = [default] if default is not None else []
    awards = [a for a in awards if a.points != 0]
    if record:
        record_event(session, event, member_id=member_id, inputs=inputs, context=context,
                     default=default, awards=awards)  # the history previews replay
    return awards


def contribution_awards(
    session: Session, *, member_id: int, complexity: int, level: str, process_id: int, task_id: int,
    record: bool = True,
) -> list[Award]:
    """Points for an approved contribution: task complexity × level factor by default."""
    factor = LEVEL_FACTORS[level]
    default = Award(complexity * factor, "participation", *DEFAULT_CONTRIBUTION_RULE)
    return awards_for(
        session,
        CONTRIBUTION_APPROVED,
        member_id=member_id,
        inputs={"complexity": complexity, "level": factor},
        context={"process_id": process_id, "task_id": task_id, "complexity": complexity},
        default=default,
        record=record,
    )


def record_awards(
    session: Session,
    awards: list[Award],
    *,
    member_id: int,
    cause: str,
    source_key: str,
    **links: int | None,
) -> list[LedgerEntry]:
    """One ledger entry (and mint) per award; the source key makes a replay award nothing.
    Badges the new points earn are awarded in the same transaction."""
    entries = []
    for award in awards:
        key = source_key if len(awards) == 1 else f"{source_key}:{award.rule_id}"
        entries.append(
            record_entry(
                session,
                member_id=member_id,
                points=award.points,
                cause=cause,
                source_key=key,
                rule=(award.rule_id, award.rule_version),
                dimension=award.dimension,
                **links,
            )
        )
    if any(e.points > 0 for e in entries):
        award_badges(session, member_id)
    return entries
