"""Polls for tests: a poll made through the service with defaults, its option ids, and its
answers and points read back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from community.db import utcnow
from community.models import PollAnswer, PollOption
from community.polls import editing
from rewards.models import LedgerEntry


def later(**delta) -> dt.datetime:
    return utcnow() + dt.timedelta(**delta)


def make_poll(db, staff_id: int, **overrides) -> int:
    fields = {
        "question": "Which courtyard gets planters first?",
        "options": ["North yard", "South yard", "East yard"],
        "closes_at": later(days=1),
    }
    fields.update(overrides)
    return editing.create_poll(db.unit_of_work(), actor_id=staff_id, **fields)


def option_ids(db, poll_id: int) -> list[int]:
    with db.read_sessions() as session:
        query = select(PollOption.id).where(PollOption.poll_id == poll_id).order_by(PollOption.position)
        return list(session.scalars(query))


def answers(db, poll_id: int) -> int:
    with db.read_sessions() as session:
        return session.scalar(select(func.count()).where(PollAnswer.poll_id == poll_id))


def poll_entries(db, member_id: int) -> list[LedgerEntry]:
    with db.read_sessions() as session:
        return list(session.scalars(select(LedgerEntry).where(LedgerEntry.member_id == member_id)))
