"""What every answer to a poll passes, a member's vote or a kiosk's: who may take part, the
shape and validity of the choices, the poll being open; then storing it once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from community.access import NodePath, can
from community.db import as_utc, is_row_id
from community.errors import Conflict, InvalidInput
from community.i18n import N_
from community.models import Permission, Poll, PollAnswer, PollAnswerChoice, PollKind, PollState, User
from community.validation import text

MAX_ANSWER_TEXT = 2_000


def may_vote(session: Session, user: User, poll: Poll) -> bool:
    """May ``user`` see and vote in ``poll``? A poll attached to a process is for those who may
    view that process (grants, membership mode; staff and auditors view every process).
    Kiosk answers skip this: staff chose to put that poll on a public screen."""
    if poll.process_id is None:
        return True
    return can(session, user, Permission.VIEW, NodePath(process_id=poll.process_id))


def parse_choices(value: object) -> list[int]:
    """Shape only (a non-empty list of distinct ids); the poll decides which ids are valid."""
    if not isinstance(value, list) or not value:
        raise InvalidInput("choices must be a non-empty list of option ids")
    if not all(is_row_id(v) for v in value):
        raise InvalidInput("choices must be option ids (whole numbers)")
    if len(set(value)) != len(value):
        raise InvalidInput("each option can be chosen only once")
    return list(value)


def check_choices(poll: Poll, option_ids: list[int]) -> None:
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


def answer_text(poll: Poll, value: object) -> str | None:
    answer = text(value, "text", MAX_ANSWER_TEXT, required=False)
    if answer and not poll.allow_text:
        raise InvalidInput("this poll does not take a written answer")
    return answer or None


def require_open(poll: Poll, now: dt.datetime) -> None:
    state = poll.state(now)
    if state == PollState.SCHEDULED:
        raise Conflict(N_("poll %(poll)s opens at %(opens_at)s",
                          poll=poll.id, opens_at=stamp(as_utc(poll.opens_at))))
    if state == PollState.CLOSED:
        raise Conflict(N_("poll %(poll)s closed at %(ends_at)s",
                          poll=poll.id, ends_at=stamp(poll.ends_at())))


def stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def store_answer(
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
