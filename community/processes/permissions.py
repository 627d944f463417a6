"""Grants: view, contribute or manage for a team or one user, on a whole process or on a
subtree (a grant holds down the tree); and which processes a user may therefore view."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.access import NodePath, can, path_of, process_permissions
from community.db import UnitOfWork
from community.errors import Conflict, InvalidInput
from community.i18n import N_
from community.models import Grant, Permission, Process, Team, User
from community.processes.checks import _manager, node, user_by_email
from community.validation import get_row as get

PERMISSION_NAMES = {"view": Permission.VIEW, "contribute": Permission.CONTRIBUTE, "manage": Permission.MANAGE}


def grant_permission(
    uow: UnitOfWork,
    *,
    actor_id: int,
    process_id: object,
    permission_name: object,
    team_id: object = None,
    user_email: object = None,
    node_kind: object = "process",
    node_id: object = None,
) -> int:
    """Give a team (or one user) view/contribute/manage on the process or a subtree."""
    if permission_name not in PERMISSION_NAMES:
        raise InvalidInput("permission must be view, contribute or manage")
    if (team_id in (None, "")) == (user_email in (None, "")):
        raise InvalidInput("grant to exactly one team or one user")
    with uow:
        session = uow.session
        process = get(session, Process, process_id, "process")
        _manager(session, actor_id, NodePath(process.id), "only the process's managers grant permissions")
        grant = Grant(process_id=process.id, permission=PERMISSION_NAMES[permission_name])
        if node_kind != "process":
            granted = node(session, node_kind, node_id)
            if path_of(session, node_kind, granted.id).process_id != process.id:
                raise InvalidInput(N_("%(node_kind)s %(node)s is not in process %(process)s",
                                      node_kind=node_kind, node=granted.id, process=process.id))
            setattr(grant, f"{node_kind}_id", granted.id)
        if team_id not in (None, ""):
            grant.team_id = get(session, Team, team_id, "team").id
        else:
            grant.user_id = user_by_email(session, user_email).id
        session.add(grant)
        session.flush()
        uow.commit()
        return grant.id


def revoke_grant(uow: UnitOfWork, *, actor_id: int, grant_id: object) -> None:
    with uow:
        session = uow.session
        grant = get(session, Grant, grant_id, "grant")
        _manager(session, actor_id, NodePath(grant.process_id), "only the process's managers revoke grants")
        if (
            grant.user_id == actor_id
            and grant.permission == Permission.MANAGE
            and grant.phase_id is None
            and grant.objective_id is None
            and grant.task_id is None
        ):
            raise Conflict("you cannot remove your own management of the process")
        session.delete(grant)
        uow.commit()


def visible_processes(session: Session, user: User | None, *options) -> list[Process]:
    """The processes the user may view; ``options`` (loader options) load what the caller
    shows of them in the same query or one more, not one per process."""
    processes = session.scalars(select(Process).options(*options).order_by(Process.id)).all()
    levels = process_permissions(session, user, processes)
    return [p for p in processes if levels[p.id] >= Permission.VIEW]


def may_view(session: Session, user: User | None, process_id: int) -> bool:
    return can(session, user, Permission.VIEW, NodePath(process_id))
