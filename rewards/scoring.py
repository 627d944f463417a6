"""What an event is worth: the one place every feature asks before writing ledger entries.

Features describe an event (its kind, named numeric inputs, the context rules may match on)
and a default award; the rules engine decides what is actually awarded. Each award names the
rule id and version that produced it, and that is what the ledger records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from rewards.ledger import record_entry
from rewards.models import LedgerEntry

# Event kinds rules can match.
CONTRIBUTION_APPROVED = "contribution_approved"
POLL_ANSWERED = "poll_answered"
BOOKING_CHECKED_IN = "booking_checked_in"
STREAK_REACHED = "streak_reached"
EVENT_KINDS = (CONTRIBUTION_APPROVED, POLL_ANSWERED, BOOKING_CHECKED_IN, STREAK_REACHED)

LEVEL_FACTORS = {"low": 1, "average": 2, "high": 3}
DEFAULT_CONTRIBUTION_RULE = ("complexity-x-level", 1)


@dataclass(frozen=True)
class Award:
    points: int
    dimension: str
    rule_id: str
    rule_version: int


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
    from rewards import rules  # the engine is optional at import time of this module

    context = rules.with_tier(session, member_id, context)  # recorded as it was at the time
    awards = rules.evaluate(session, event, member_id=member_id, inputs=inputs, context=context)
    if awards is None:
        awards = [default] if default is not None else []
    awards = [a for a in awards if a.points != 0]
    if record:
        rules.record_event(session, event, member_id=member_id, inputs=inputs, context=context,
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
    from rewards.badges import award_badges  # badges read the ledger this module writes

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
