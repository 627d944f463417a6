"""The validators' queue: what a member of staff may decide, oldest first, and its figures."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import access
from community.contributions import DECIDABLE
from community.db import as_utc, utcnow
from community.errors import Forbidden
from community.models import Contribution, Permission, Task, User


@dataclass(frozen=True)
class QueueStats:
    counts: dict[str, int]
    median_hours_to_validate: float | None


def validation_queue(
    session: Session,
    user: User,
    *,
    process_id: int | None = None,
    task_id: int | None = None,
    limit: int = 200,
) -> list[Contribution]:
    """What this member of staff may decide, oldest first."""
    if not user.is_staff:
        raise Forbidden("only staff validate contributions")
    query = (
        select(Contribution)
        .join(Task)
        .where(Contribution.state.in_([s.value for s in DECIDABLE]))
        .order_by(Contribution.created_at, Contribution.id)
    )
    managed = access.managed_process_ids(session, user)
    if managed is not None:
        query = query.where(Task.process_id.in_(managed or [-1]))
    if process_id is not None:
        query = query.where(Task.process_id == process_id)
    if task_id is not None:
        query = query.where(Contribution.task_id == task_id)
    rows = session.scalars(query.limit(limit * 2)).all()
    return [
        c
        for c in rows
        if access.can(session, user, Permission.MANAGE, access.path_of_task(session, c.task))
        and user.id not in c.member_ids
    ][:limit]


def queue_stats(session: Session, items: list[Contribution], *, days: int = 90) -> QueueStats:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.state] = counts.get(item.state, 0) + 1
    since = utcnow() - dt.timedelta(days=days)
    decided = session.execute(
        select(Contribution.created_at, Contribution.decided_at).where(
            Contribution.decided_at.is_not(None), Contribution.decided_at >= since
        )
    ).all()
    hours = sorted((as_utc(d) - as_utc(c)).total_seconds() / 3600 for c, d in decided)
    return QueueStats(counts, round(statistics.median(hours), 2) if hours else None)
