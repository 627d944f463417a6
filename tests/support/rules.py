"""Helpers for scoring-rule tests: rule definitions and scoring events fed through the real
entry point (``rewards.scoring.awards_for`` + ``record_awards``)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from community import contributions
from community.db import Database
from community.models import Contribution
from rewards import scoring
from rewards.models import LedgerEntry


def definition(
    event: str = scoring.CONTRIBUTION_APPROVED, formula: str = "complexity * level", **extra
) -> dict:
    return {"title": extra.pop("title", "A rule"), "event": event, "formula": formula,
            "dimension": extra.pop("dimension", "participation"), **extra}


def score(db: Database, event: str, member_id: int, inputs: dict, context: dict | None = None,
          default: scoring.Award | None = None) -> list:
    """One event through the scoring entry point and into the ledger, as features do it."""
    with db.write_sessions() as session:
        awards = scoring.awards_for(
            session, event, member_id=member_id, inputs=inputs, context=context or {}, default=default
        )
        entries = scoring.record_awards(
            session, awards, member_id=member_id, cause="test", source_key=f"test:{uuid.uuid4().hex}"
        )
        session.commit()
        return [(e.points, e.dimension, e.rule_id, e.rule_version) for e in entries]


def ledger_points(db: Database, member_id: int, rule_id: str | None = None) -> int:
    with db.read_sessions() as session:
        query = select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.member_id == member_id
        )
        if rule_id is not None:
            query = query.where(LedgerEntry.rule_id == rule_id)
        return int(session.scalar(query))


def approved(db: Database, member_id: int, task_id: int, level: str, validators: tuple[int, int]) -> int:
    """Submit and approve, with the second validator when four-eyes asks for one."""
    cid = contributions.submit_contribution(db.unit_of_work(), member_id=member_id, task_id=task_id,
                                            text="did it")
    contributions.approve_contribution(db.unit_of_work(), validator_id=validators[0], contribution_id=cid,
                                       level=level)
    with db.read_sessions() as session:
        state = session.get(Contribution, cid).state
    if state != "approved":
        contributions.approve_contribution(db.unit_of_work(), validator_id=validators[1], contribution_id=cid)
    return cid
