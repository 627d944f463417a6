"""Success stories of finished processes: managers publish them, and participants with an
approved contribution choose whether they are named."""

from __future__ import annotations

from sqlalchemy import select

from community.access import NodePath
from community.db import UnitOfWork, utcnow
from community.errors import Conflict, Forbidden
from community.models import (
    Contribution,
    ContributionState,
    NodeStatus,
    Process,
    StoryOptIn,
    SuccessStory,
    Task,
)
from community.processes.checks import _manager
from community.validation import get_row as get
from community.validation import text


def publish_story(
    uow: UnitOfWork, *, actor_id: int, process_id: object, summary: object, outcomes: object
) -> int:
    with uow:
        session = uow.session
        process = get(session, Process, process_id, "process")
        _manager(session, actor_id, NodePath(process.id), "only the process's managers publish its story")
        if process.status != NodeStatus.DONE:
            raise Conflict("only finished processes (status done) can be published as success stories")
        story = session.scalars(
            select(SuccessStory).where(SuccessStory.process_id == process.id)
        ).one_or_none()
        if story is None:
            story = SuccessStory(process_id=process.id, published_by_id=actor_id, summary="", outcomes="")
            session.add(story)
        story.summary = text(summary, "summary", 5000)
        story.outcomes = text(outcomes, "outcomes", 5000)
        story.published_at = utcnow()
        session.flush()
        uow.commit()
        return story.id


def opt_in_story(uow: UnitOfWork, *, user_id: int, process_id: object, opt_in: bool = True) -> None:
    """Participants choose to be named; nobody is named without it."""
    with uow:
        session = uow.session
        process = get(session, Process, process_id, "process")
        took_part = session.scalar(
            select(Contribution.id)
            .join(Task)
            .where(
                Task.process_id == process.id,
                Contribution.member_id == user_id,
                Contribution.state == ContributionState.APPROVED.value,
            )
            .limit(1)
        )
        if took_part is None:
            raise Forbidden("only members with an approved contribution in this process can be named")
        row = session.scalars(
            select(StoryOptIn).where(StoryOptIn.process_id == process.id, StoryOptIn.user_id == user_id)
        ).one_or_none()
        if opt_in and row is None:
            session.add(StoryOptIn(process_id=process.id, user_id=user_id))
        elif not opt_in and row is not None:
            session.delete(row)
        uow.commit()
