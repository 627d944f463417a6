"""Reading polls: one poll or the list as a viewer sees them, and the counts (members and
kiosk apart), hidden until the poll's results visibility allows them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from community.db import as_utc, utcnow
from community.errors import Forbidden, InvalidInput
from community.i18n import N_
from community.models import Poll, PollAnswer, PollAnswerChoice, PollState, ResultsVisibility, User
from community.polls.answering import may_vote, stamp
from community.validation import get_row


@dataclass(frozen=True)
class OptionResult:
    id: int
    label: str
    members: int
    kiosk: int

    @property
    def total(self) -> int:
        return self.members + self.kiosk


@dataclass(frozen=True)
class TextAnswer:
    source: str  # "member" or "kiosk"; never who
    text: str
    at: dt.datetime


@dataclass(frozen=True)
class PollResults:
    poll_id: int
    final: bool  # the poll has closed
    member_answers: int
    kiosk_answers: int
    options: list[OptionResult]
    texts: list[TextAnswer] | None = None  # staff and auditors only

    @property
    def answers(self) -> int:
        return self.member_answers + self.kiosk_answers


@dataclass(frozen=True)
class PollView:
    """A poll as one viewer sees it."""

    poll: Poll
    state: PollState
    my_choices: tuple[int, ...] | None  # None: not voted
    may_vote: bool
    results: PollResults | None
    results_note: str | None = None  # why results are hidden
    answers: int | None = None  # staff only: answers so far


def _sees_everything(user: User | None) -> bool:
    return user is not None and (user.is_staff or user.is_auditor)


def counts(session: Session, poll: Poll, *, with_texts: bool, now: dt.datetime) -> PollResults:
    kiosk = case((PollAnswer.member_id.is_(None), 1), else_=0)
    per_option = {
        option_id: (int(total), int(from_kiosk or 0))
        for option_id, total, from_kiosk in session.execute(
            select(PollAnswerChoice.option_id, func.count(), func.sum(kiosk))
            .join(PollAnswer, PollAnswer.id == PollAnswerChoice.answer_id)
            .where(PollAnswer.poll_id == poll.id)
            .group_by(PollAnswerChoice.option_id)
        )
    }
    total, from_kiosk = session.execute(
        select(func.count(), func.sum(kiosk)).where(PollAnswer.poll_id == poll.id)
    ).one()
    total, from_kiosk = int(total), int(from_kiosk or 0)
    options = []
    for option in poll.options:
        n, k = per_option.get(option.id, (0, 0))
        options.append(OptionResult(option.id, option.label, n - k, k))
    texts = None
    if with_texts:
        rows = session.execute(
            select(PollAnswer.member_id, PollAnswer.text, PollAnswer.created_at)
            .where(PollAnswer.poll_id == poll.id, PollAnswer.text.is_not(None))
            .order_by(PollAnswer.id)
        ).all()
        texts = [TextAnswer("kiosk" if m is None else "member", t, as_utc(at)) for m, t, at in rows]
    closed = poll.state(now) == PollState.CLOSED
    return PollResults(poll.id, closed, total - from_kiosk, from_kiosk, options, texts)


def _my_choices(session: Session, poll: Poll, user: User) -> tuple[int, ...] | None:
    answer = session.scalars(
        select(PollAnswer).where(PollAnswer.poll_id == poll.id, PollAnswer.member_id == user.id)
    ).one_or_none()
    if answer is None:
        return None
    return tuple(sorted(c.option_id for c in answer.choices))


def _hidden_because(poll: Poll, user: User, voted: bool, now: dt.datetime) -> str | None:
    """None if ``user`` may see the results now, else the reason in words."""
    if _sees_everything(user) or poll.state(now) == PollState.CLOSED:
        return None
    if poll.results_visibility == ResultsVisibility.AFTER_VOTE:
        return None if voted else N_("Results are shown once you have voted.")
    return N_("Results are shown after the poll closes (%(when)s).", when=stamp(poll.ends_at()))


def _visible_poll(session: Session, user: User, poll_id: object) -> Poll:
    poll = get_row(session, Poll, poll_id, "poll")
    if not may_vote(session, user, poll):
        raise Forbidden(N_("poll %(poll)s belongs to a process you cannot take part in", poll=poll.id))
    return poll


def poll_view(session: Session, *, viewer_id: int, poll_id: object) -> PollView:
    now = utcnow()
    user = get_row(session, User, viewer_id, "user")
    poll = _visible_poll(session, user, poll_id)
    state = poll.state(now)
    mine = _my_choices(session, poll, user)
    note = _hidden_because(poll, user, mine is not None, now)
    staff = _sees_everything(user)
    results = None if note else counts(session, poll, with_texts=staff, now=now)
    return PollView(
        poll=poll,
        state=state,
        my_choices=mine,
        may_vote=state == PollState.OPEN and mine is None,
        results=results,
        results_note=note,
        answers=results.answers if staff and results else None,
    )


def poll_results(session: Session, *, viewer_id: int, poll_id: object) -> PollResults:
    """The counts, members and kiosk apart; Forbidden while the poll keeps them hidden."""
    now = utcnow()
    user = get_row(session, User, viewer_id, "user")
    poll = _visible_poll(session, user, poll_id)
    note = _hidden_because(poll, user, _my_choices(session, poll, user) is not None, now)
    if note:
        raise Forbidden(note)
    return counts(session, poll, with_texts=_sees_everything(user), now=now)


def list_polls(session: Session, *, viewer_id: int, state: object = None) -> list[PollView]:
    """Staff and auditors see every poll; others see open and closed polls they may take
    part in (not scheduled ones, which staff may still change). Newest first."""
    if state is not None and (not isinstance(state, str) or state not in {s.value for s in PollState}):
        raise InvalidInput("state must be scheduled, open or closed")
    now = utcnow()
    user = get_row(session, User, viewer_id, "user")
    staff = _sees_everything(user)
    polls = session.scalars(select(Poll).order_by(Poll.opens_at.desc(), Poll.id.desc())).all()
    mine = {
        poll_id: tuple(sorted(ids))
        for poll_id, ids in _choices_by_poll(session, user.id).items()
    }
    answers = _answer_counts(session) if staff else {}
    views = []
    for poll in polls:
        poll_state = poll.state(now)
        if state is not None and poll_state != state:
            continue
        if not staff and (poll_state == PollState.SCHEDULED or not may_vote(session, user, poll)):
            continue
        my = mine.get(poll.id)
        views.append(
            PollView(
                poll=poll,
                state=poll_state,
                my_choices=my,
                may_vote=poll_state == PollState.OPEN and my is None,
                results=None,
                results_note=_hidden_because(poll, user, my is not None, now),
                answers=answers.get(poll.id, 0) if staff else None,
            )
        )
    return views


def _choices_by_poll(session: Session, member_id: int) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    rows = session.execute(
        select(PollAnswer.poll_id, PollAnswerChoice.option_id)
        .join(PollAnswerChoice, PollAnswerChoice.answer_id == PollAnswer.id)
        .where(PollAnswer.member_id == member_id)
    )
    for poll_id, option_id in rows:
        out.setdefault(poll_id, []).append(option_id)
    return out


def _answer_counts(session: Session) -> dict[int, int]:
    rows = session.execute(select(PollAnswer.poll_id, func.count()).group_by(PollAnswer.poll_id))
    return {poll_id: int(n) for poll_id, n in rows}
