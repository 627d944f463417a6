"""A member's one vote in a poll. A poll that gives points publishes ``PollAnswered``, whose
in-transaction handler (rewards) awards them: vote and points commit together."""

from __future__ import annotations

from sqlalchemy import select

from community.db import UnitOfWork, utcnow
from community.errors import Conflict, Forbidden
from community.events import PollAnswered
from community.i18n import N_
from community.models import Poll, PollAnswer, User
from community.polls.answering import (
    answer_text,
    check_choices,
    may_vote,
    parse_choices,
    require_open,
    store_answer,
)
from community.validation import get_row


def vote(uow: UnitOfWork, *, member_id: int, poll_id: object, choices: object, text: object = None) -> int:
    """A member's one vote; with ``poll.points`` > 0 it earns participation points, in the same
    transaction."""
    option_ids = parse_choices(choices)
    now = utcnow()
    with uow:
        session = uow.session
        user = get_row(session, User, member_id, "user")
        poll = get_row(session, Poll, poll_id, "poll")
        if not may_vote(session, user, poll):
            raise Forbidden(N_("poll %(poll)s belongs to a process you cannot take part in", poll=poll.id))
        require_open(poll, now)
        check_choices(poll, option_ids)
        written = answer_text(poll, text)
        taken = N_("you have already voted in poll %(poll)s", poll=poll.id)
        voted = session.scalar(
            select(PollAnswer.id).where(PollAnswer.poll_id == poll.id, PollAnswer.member_id == user.id)
        )
        if voted is not None:
            raise Conflict(taken)
        answer = store_answer(session, poll, option_ids, written, taken=taken, member_id=user.id)
        if poll.points > 0:
            uow.publish(PollAnswered(poll.id, user.id, poll.process_id, poll.points))
        uow.commit()
        return answer.id
