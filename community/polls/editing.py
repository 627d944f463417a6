"""Staff's side of polls: checking a poll's settings, creating it, changing it before it
opens, and closing it early."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from community.db import UnitOfWork, is_row_id, utcnow
from community.errors import Conflict, Forbidden, InvalidInput
from community.i18n import N_, Msg
from community.models import Poll, PollKind, PollOption, PollState, Process, ResultsVisibility, User
from community.validation import get_row, text, when

MAX_OPTIONS = 20
MAX_OPTION_LABEL = 200
MAX_QUESTION = 300
MAX_DESCRIPTION = 5_000
MAX_POINTS = 10_000


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
