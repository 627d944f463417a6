"""Kiosk screens: anonymous answers from a public screen, one per kiosk session and never
any points, and what the screen shows before and after."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.db import UnitOfWork, utcnow
from community.errors import Conflict, InvalidInput, NotFound
from community.i18n import N_
from community.models import Poll, PollAnswer, PollState, ResultsVisibility
from community.polls.answering import answer_text, check_choices, parse_choices, require_open, store_answer
from community.polls.tallies import PollResults, counts
from community.validation import get_row

KIOSK_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_kiosk_session() -> str:
    """A fresh id for the next person at a kiosk screen."""
    return secrets.token_urlsafe(24)


def kiosk_answer(
    uow: UnitOfWork, *, poll_id: object, kiosk_session: object, choices: object, text: object = None
) -> int:
    """An anonymous answer from a public screen: one per kiosk session, never any points."""
    if not isinstance(kiosk_session, str) or not KIOSK_SESSION_RE.match(kiosk_session):
        raise InvalidInput("this kiosk session is not valid; start again with 'Next person'")
    option_ids = parse_choices(choices)
    now = utcnow()
    with uow:
        session = uow.session
        poll = _kiosk_poll(session, poll_id)
        require_open(poll, now)
        check_choices(poll, option_ids)
        written = answer_text(poll, text)
        taken = N_("this kiosk session has already answered; tap 'Next person' to start again")
        answered = session.scalar(
            select(PollAnswer.id).where(
                PollAnswer.poll_id == poll.id, PollAnswer.kiosk_session == kiosk_session
            )
        )
        if answered is not None:
            raise Conflict(taken)
        answer = store_answer(session, poll, option_ids, written, taken=taken, kiosk_session=kiosk_session)
        uow.commit()
        return answer.id


def _kiosk_poll(session: Session, poll_id: object) -> Poll:
    poll = get_row(session, Poll, poll_id, "poll")
    if not poll.kiosk_enabled:
        raise NotFound(N_("poll %(poll)s has no kiosk", poll=poll.id))
    return poll


@dataclass(frozen=True)
class KioskView:
    poll: Poll
    state: PollState
    answered: bool  # this kiosk session has answered
    results: PollResults | None  # after answering, if the poll shows results after voting


def kiosk_view(session: Session, *, poll_id: object, kiosk_session: str | None) -> KioskView:
    """What the public screen shows: the question, or thanks (and results when the poll shows
    them after voting) once this kiosk session has answered."""
    now = utcnow()
    poll = _kiosk_poll(session, poll_id)
    state = poll.state(now)
    answered = bool(
        kiosk_session
        and session.scalar(
            select(PollAnswer.id).where(
                PollAnswer.poll_id == poll.id, PollAnswer.kiosk_session == kiosk_session
            )
        )
    )
    show = state == PollState.CLOSED or (answered and poll.results_visibility == ResultsVisibility.AFTER_VOTE)
    results = counts(session, poll, with_texts=False, now=now) if show else None
    return KioskView(poll, state, answered, results)
