"""Checks shared by the process modules: dates, complexity, node lookup by kind, and the
staff/manager role checks (``_staff``/``_manager`` keep their names: scripts/i18n.py extracts
their message arguments), and finding a member by e-mail."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.access import NodePath, require
from community.errors import Forbidden, InvalidInput, NotFound
from community.i18n import N_
from community.models import COMPLEXITIES, Objective, Permission, Phase, Process, Task, User
from community.validation import get_row as get

NODE_MODELS = {"process": Process, "phase": Phase, "objective": Objective, "task": Task}


def _date(value: object, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise InvalidInput(N_("%(name)s must be a date (YYYY-MM-DD)", name=name))
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("%(name)s must be a date (YYYY-MM-DD), not %(value)r",
                              name=name, value=value[:20])) from None


def dates(starts: object, ends: object) -> tuple[dt.date | None, dt.date | None]:
    start, end = _date(starts, "starts_on"), _date(ends, "ends_on")
    if start and end and end < start:
        raise InvalidInput("ends_on is before starts_on")
    return start, end


def complexity_of(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value not in COMPLEXITIES:
        raise InvalidInput(N_("complexity must be one of %(complexities)s",
                              complexities=', '.join(map(str, COMPLEXITIES))))
    return value


def _staff(session: Session, actor_id: int, message: str) -> User:
    actor = get(session, User, actor_id, "user")
    if not actor.is_staff:
        raise Forbidden(message)
    return actor


def _manager(session: Session, actor_id: int, path: NodePath, message: str) -> User:
    actor = get(session, User, actor_id, "user")
    require(session, actor, Permission.MANAGE, path, message)
    return actor


def node(session: Session, kind: object, node_id: object, *, process_too: bool = False):
    kinds = ("process", "phase", "objective", "task") if process_too else ("phase", "objective", "task")
    if kind not in kinds:
        raise InvalidInput(N_("node kind must be %(kinds)s or %(last)s",
                              kinds=', '.join(kinds[:-1]), last=kinds[-1]))
    return get(session, NODE_MODELS[kind], node_id, kind)


def user_by_email(session: Session, email: object) -> User:
    if not isinstance(email, str) or not email.strip():
        raise InvalidInput("an e-mail address is required")
    user = session.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()
    if user is None:
        raise NotFound("no member has that e-mail address")
    return user
