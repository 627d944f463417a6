"""Polls: staff ask, members vote once each, kiosk screens take anonymous answers.

Like every service here, each function checks roles itself. A member's vote, its points and
the ledger entry commit together; the database's unique constraints refuse a second vote or
a second answer from one kiosk session even when two requests race.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from community.access import NodePath, can
from community.db import UnitOfWork, as_utc, is_row_id, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.events import LedgerChanged
from community.i18n import N_, Msg
from community.models import Permission, Process, User
from community.poll_models import (
    Poll,
    PollAnswer,
    PollAnswerChoice,
    PollKind,
    PollOption,
    PollState,
    ResultsVisibility,
)
from community.validation import get_row, text, when
from rewards import scoring

MAX_OPTIONS = 20
MAX_OPTION_LABEL = 200
MAX_QUESTION = 300
MAX_DESCRIPTION = 5_000
MAX_ANSWER_TEXT = 2_000
MAX_POINTS = 10_000
POLL_POINTS_RULE = ("poll-points", 1)
KIOSK_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


# --- who may take part ----------------------------------------------------------------


def _may_vote(session: Session, user: User, poll: Poll) -> bool:
    """May ``user`` see and vote in ``poll``? A poll attached to a process is for those who may
    view that process (grants, membership mode; staff and auditors view every process).
    Kiosk answers skip this: staff chose to put that poll on a public screen."""
    if poll.process_id is None:
        return True
    return can(session, user, Permission.VIEW, NodePath(process_id=poll.process_id))


def _sees_everything(user: User | None) -> bool:
    return user is not None and (user.is_staff or user.is_auditor)


# --- input checks ---------------------------------------------------------------------


def _flag(value: object, field_: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(N_("%(field)s must be true or false", field=field_))
    return value


def _whole(value: object, field_: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInput(N_("%(field)s must be a whole number from %(low)s to %(high)s",
                              field=field_, low=low, high=high))
    return value


def _options(value: object) -> list[str]:
    if not isinstance(value, list):
        raise InvalidInput("options must be a list of texts")
    labels = [text(v, "each option", MAX_OPTION_LABEL, required=True) for v in value]
    if not 2 <= len(labels) <= MAX_OPTIONS:
        raise InvalidInput(N_("a poll needs from 2 to %(max_options)s options", max_options=MAX_OPTIONS))
    if len({label.casefold() for label in labels}) != len(labels):
        raise InvalidInput("options must differ from each other")
    return labels


@dataclass(frozen=True)
class _PollInput:
    question: str
    description: str
    labels: list[str]
    kind: str
    max_choices: int | None
    allow_text: bool
    process_id: int | None
    opens_at: dt.datetime
    closes_at: dt.datetime
    results_visibility: str
    points: int
    kiosk_enabled: bool


def _poll_input(
    *,
    question: object = None,
    options: object = None,
    closes_at: object = None,
    kind: object = PollKind.SINGLE.value,
    max_choices: object = None,
    allow_text: object = False,
    process_id: object = None,
    opens_at: object = None,
    results_visibility: object = ResultsVisibility.AFTER_VOTE.value,
    points: object = 0,
    kiosk_enabled: object = False,
    description: object = "",
    now: dt.datetime,
) -> _PollInput:
    labels = _options(options)
    kind = kind if kind is not None else PollKind.SINGLE.value
    if not isinstance(kind, str) or kind not in {k.value for k in PollKind}:
        raise InvalidInput("kind must be single or multiple")
    if max_choices is not None:
        if kind == PollKind.SINGLE:
            if max_choices != 1:
                raise InvalidInput("max_choices only applies to multiple-choice polls")
            max_choices = None
        else:
            max_choices = _whole(max_choices, "max_choices", 1, len(labels))
    visibility = results_visibility if results_visibility is not None else ResultsVisibility.AFTER_VOTE.value
    if not isinstance(visibility, str) or visibility not in {v.value for v in ResultsVisibility}:
        raise InvalidInput("results_visibility must be after_vote or after_close")
    if process_id is not None and not is_row_id(process_id):
        raise InvalidInput("process_id must be a process id or null")
    opens = when(opens_at, "opens_at") or now
    closes = when(closes_at, "closes_at")
    if closes is None:
        raise InvalidInput("closes_at is required")
    if closes <= opens:
        raise InvalidInput("closes_at must be after opens_at")
    if closes <= now:
        raise InvalidInput("closes_at must be in the future")
    return _PollInput(
        question=text(question, "question", MAX_QUESTION, required=True),
        description=text(description, "description", MAX_DESCRIPTION, required=False),
        labels=labels,
        kind=kind,
        max_choices=max_choices,
        allow_text=_flag(allow_text, "allow_text"),
        process_id=process_id,  # type: ignore[arg-type]
        opens_at=opens,
        closes_at=closes,
        results_visibility=visibility,
        points=_whole(points if points is not None else 0, "points", 0, MAX_POINTS),
        kiosk_enabled=_flag(kiosk_enabled, "kiosk_enabled"),
    )


def _choices(value: object) -> list[int]:
    """Shape only (a non-empty list of distinct ids); the poll decides which ids are valid."""
    if not isinstance(value, list) or not value:
        raise InvalidInput("choices must be a non-empty list of option ids")
    if not all(is_row_id(v) for v in value):
        raise InvalidInput("choices must be option ids (whole numbers)")
    if len(set(value)) != len(value):
        raise InvalidInput("each option can be chosen only once")
    return list(value)


def _check_choices(poll: Poll, option_ids: list[int]) -> None:
    known = {o.id for o in poll.options}
    unknown = [i for i in option_ids if i not in known]
    if unknown:
        raise InvalidInput(N_("option %(unknown)s is not an option of poll %(poll)s",
                              unknown=unknown[0], poll=poll.id))
    if poll.kind == PollKind.SINGLE and len(option_ids) != 1:
        raise InvalidInput("this poll takes exactly one choice")
    limit = poll.max_choices or len(poll.options)
    if len(option_ids) > limit:
        raise InvalidInput(N_("choose at most %(limit)s options", limit=limit))


def _answer_text(poll: Poll, value: object) -> str | None:
    answer = text(value, "text", MAX_ANSWER_TEXT, required=False)
    if answer and not poll.allow_text:
        raise InvalidInput("this poll does not take a written answer")
    return answer or None


def _require_open(poll: Poll, now: dt.datetime) -> None:
    state = poll.state(now)
    if state == PollState.SCHEDULED:
        raise Conflict(N_("poll %(poll)s opens at %(opens_at)s",
                          poll=poll.id, opens_at=_stamp(as_utc(poll.opens_at))))
    if state == PollState.CLOSED:
        raise Conflict(N_("poll %(poll)s closed at %(ends_at)s",
                          poll=poll.id, ends_at=_stamp(poll.ends_at())))


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _staff(session: Session, actor_id: object, doing: str) -> User:
    actor = get_row(session, User, actor_id, "user")
    if not actor.is_staff:
        raise Forbidden(N_("only staff %(doing)s", doing=Msg(doing)))  # doing: the _staff:3 keyword
    return actor


# --- staff: create, edit, close -------------------------------------------------------


def create_poll(uow: UnitOfWork, *, actor_id: int, **fields: object) -> int:
    """Fields: question, options (list of texts), closes_at, and optionally kind, max_choices,
    allow_text, process_id, opens_at (default now), results_visibility, points, kiosk_enabled,
    description."""
    spec = _poll_input(**fields, now=utcnow())
    with uow:
        session = uow.session
        actor = _staff(session, actor_id, "create polls")
        if spec.process_id is not None:
            get_row(session, Process, spec.process_id, "process")
        poll = Poll(created_by_id=actor.id)
        _apply(poll, spec)
        session.add(poll)
        session.flush()
        uow.commit()
        return poll.id


def update_poll(uow: UnitOfWork, *, actor_id: int, poll_id: object, **fields: object) -> None:
    """Replace a poll's settings and options; only before it opens, so no answer ever refers
    to a question or option that changed under it."""
    now = utcnow()
    spec = _poll_input(**fields, now=now)
    with uow:
        session = uow.session
        _staff(session, actor_id, "edit polls")
        poll = get_row(session, Poll, poll_id, "poll")
        if poll.state(now) != PollState.SCHEDULED:
            raise Conflict(N_("poll %(poll)s has already opened; it can only be closed now", poll=poll.id))
        if spec.process_id is not None:
            get_row(session, Process, spec.process_id, "process")
        _apply(poll, spec)
        uow.commit()


def _apply(poll: Poll, spec: _PollInput) -> None:
    poll.question = spec.question
    poll.description = spec.description
    poll.kind = spec.kind
    poll.max_choices = spec.max_choices
    poll.allow_text = spec.allow_text
    poll.process_id = spec.process_id
    poll.opens_at = spec.opens_at
    poll.closes_at = spec.closes_at
    poll.results_visibility = spec.results_visibility
    poll.points = spec.points
    poll.kiosk_enabled = spec.kiosk_enabled
    poll.options = [PollOption(position=i, label=label) for i, label in enumerate(spec.labels)]


def close_poll(uow: UnitOfWork, *, actor_id: int, poll_id: object) -> None:
    """Close early; the planned closing time stays recorded."""
    now = utcnow()
    with uow:
        session = uow.session
        actor = _staff(session, actor_id, "close polls")
        poll = get_row(session, Poll, poll_id, "poll")
        if poll.state(now) == PollState.CLOSED:
            raise Conflict(N_("poll %(poll)s is already closed", poll=poll.id))
        poll.closed_at = now
        poll.closed_by_id = actor.id
        uow.commit()


# --- answering ------------------------------------------------------------------------


def vote(uow: UnitOfWork, *, member_id: int, poll_id: object, choices: object, text: object = None) -> int:
    """A member's one vote; with ``poll.points`` > 0 it earns participation points through the
    scoring rules, in the same transaction."""
    option_ids = _choices(choices)
    now = utcnow()
    with uow:
        session = uow.session
        user = get_row(session, User, member_id, "user")
        poll = get_row(session, Poll, poll_id, "poll")
        if not _may_vote(session, user, poll):
            raise Forbidden(N_("poll %(poll)s belongs to a process you cannot take part in", poll=poll.id))
        _require_open(poll, now)
        _check_choices(poll, option_ids)
        answer_text = _answer_text(poll, text)
        taken = N_("you have already voted in poll %(poll)s", poll=poll.id)
        voted = session.scalar(
            select(PollAnswer.id).where(PollAnswer.poll_id == poll.id, PollAnswer.member_id == user.id)
        )
        if voted is not None:
            raise Conflict(taken)
        answer = _answer(session, poll, option_ids, answer_text, taken=taken, member_id=user.id)
        if poll.points > 0:
            awards = scoring.awards_for(
                session,
                scoring.POLL_ANSWERED,
                member_id=user.id,
                inputs={"points": poll.points},
                context={"poll_id": poll.id, "process_id": poll.process_id},
                default=scoring.Award(poll.points, "participation", *POLL_POINTS_RULE),
            )
            if awards:
                scoring.record_awards(
                    session, awards, member_id=user.id, cause="poll",
                    source_key=f"poll:{poll.id}:vote:{user.id}",
                )
                uow.publish(LedgerChanged((user.id,)))
        uow.commit()
        return answer.id


def new_kiosk_session() -> str:
    """A fresh id for the next person at a kiosk screen."""
    return secrets.token_urlsafe(24)


def kiosk_answer(
    uow: UnitOfWork, *, poll_id: object, kiosk_session: object, choices: object, text: object = None
) -> int:
    """An anonymous answer from a public screen: one per kiosk session, never any points."""
    if not isinstance(kiosk_session, str) or not KIOSK_SESSION_RE.match(kiosk_session):
        raise InvalidInput("this kiosk session is not valid; start again with 'Next person'")
    option_ids = _choices(choices)
    now = utcnow()
    with uow:
        session = uow.session
        poll = _kiosk_poll(session, poll_id)
        _require_open(poll, now)
        _check_choices(poll, option_ids)
        answer_text = _answer_text(poll, text)
        taken = N_("this kiosk session has already answered; tap 'Next person' to start again")
        answered = session.scalar(
            select(PollAnswer.id).where(
                PollAnswer.poll_id == poll.id, PollAnswer.kiosk_session == kiosk_session
            )
        )
        if answered is not None:
            raise Conflict(taken)
        answer = _answer(session, poll, option_ids, answer_text, taken=taken, kiosk_session=kiosk_session)
        uow.commit()
        return answer.id


def _answer(
    session: Session,
    poll: Poll,
    option_ids: list[int],
    text: str | None,
    *,
    taken: str,
    member_id: int | None = None,
    kiosk_session: str | None = None,
) -> PollAnswer:
    """Insert the answer. The unique constraints refuse a concurrent second answer that
    slipped past the caller's check (PostgreSQL; SQLite writers are serialised)."""
    answer = PollAnswer(
        poll_id=poll.id,
        member_id=member_id,
        kiosk_session=kiosk_session,
        text=text,
        choices=[PollAnswerChoice(option_id=i) for i in option_ids],
    )
    session.add(answer)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(taken) from None
    return answer


def _kiosk_poll(session: Session, poll_id: object) -> Poll:
    poll = get_row(session, Poll, poll_id, "poll")
    if not poll.kiosk_enabled:
        raise NotFound(N_("poll %(poll)s has no kiosk", poll=poll.id))
    return poll


# --- reading --------------------------------------------------------------------------


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


def _counts(session: Session, poll: Poll, *, with_texts: bool, now: dt.datetime) -> PollResults:
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
    return N_("Results are shown after the poll closes (%(when)s).", when=_stamp(poll.ends_at()))


def _visible_poll(session: Session, user: User, poll_id: object) -> Poll:
    poll = get_row(session, Poll, poll_id, "poll")
    if not _may_vote(session, user, poll):
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
    results = None if note else _counts(session, poll, with_texts=staff, now=now)
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
    return _counts(session, poll, with_texts=_sees_everything(user), now=now)


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
        if not staff and (poll_state == PollState.SCHEDULED or not _may_vote(session, user, poll)):
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
    results = _counts(session, poll, with_texts=False, now=now) if show else None
    return KioskView(poll, state, answered, results)
