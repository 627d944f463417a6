"""Moving nodes through not started → in progress → done, and the prerequisites (between
nodes of one kind and process) that must be done first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.access import path_of
from community.db import UnitOfWork
from community.errors import Conflict, InvalidInput
from community.i18n import N_
from community.models import NodeStatus, Prerequisite, Task
from community.processes.checks import NODE_MODELS, _manager, node


def _unmet_prerequisites(session: Session, kind: str, node_id: int) -> list:
    model = NODE_MODELS[kind]
    required = session.scalars(
        select(model)
        .join(Prerequisite, Prerequisite.requires_id == model.id)
        .where(Prerequisite.kind == kind, Prerequisite.node_id == node_id)
    ).all()
    return [n for n in required if n.status != NodeStatus.DONE]


def set_status(uow: UnitOfWork, *, actor_id: int, kind: object, node_id: object, status: object) -> None:
    """Move a node; starting or finishing it needs its prerequisites done."""
    if status not in {s.value for s in NodeStatus}:
        raise InvalidInput("status must be not_started, in_progress or done")
    with uow:
        session = uow.session
        moved = node(session, kind, node_id, process_too=True)
        _manager(
            session, actor_id, path_of(session, kind, moved.id), "only the process's managers change status"
        )
        if status != NodeStatus.NOT_STARTED and kind != "process":
            unmet = _unmet_prerequisites(session, kind, moved.id)
            if unmet:
                names = ", ".join(f"'{n.title}'" for n in unmet)
                raise Conflict(N_("%(kind)s '%(title)s' cannot start before %(names)s is done",
                                  kind=kind, title=moved.title, names=names))
        moved.status = status
        uow.commit()


def add_prerequisite(
    uow: UnitOfWork, *, actor_id: int, kind: object, node_id: object, requires_id: object
) -> None:
    with uow:
        session = uow.session
        dependent = node(session, kind, node_id)
        required = node(session, kind, requires_id)
        path, other = path_of(session, kind, dependent.id), path_of(session, kind, required.id)
        if path.process_id != other.process_id:
            raise InvalidInput("prerequisites must be in the same process")
        _manager(session, actor_id, path, "only the process's managers set prerequisites")
        if dependent.id == required.id or _reaches(session, kind, required.id, dependent.id):
            raise Conflict("this prerequisite would make a cycle")
        exists = session.scalar(
            select(Prerequisite.id).where(
                Prerequisite.kind == kind,
                Prerequisite.node_id == dependent.id,
                Prerequisite.requires_id == required.id,
            )
        )
        if exists is None:
            session.add(Prerequisite(kind=kind, node_id=dependent.id, requires_id=required.id))
        uow.commit()


def _reaches(session: Session, kind: str, start: int, target: int) -> bool:
    """Does ``start`` (transitively) require ``target``?"""
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current in seen:
            continue
        seen.add(current)
        todo.extend(
            session.scalars(
                select(Prerequisite.requires_id).where(
                    Prerequisite.kind == kind, Prerequisite.node_id == current
                )
            ).all()
        )
    return False


def task_blocked_by(session: Session, task: Task) -> list[str]:
    """Titles of unfinished prerequisite tasks (a task cannot take contributions before)."""
    return [t.title for t in _unmet_prerequisites(session, "task", task.id)]
