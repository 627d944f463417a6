"""Who may do what in a process. Grants (to a team or a user) sit on the process or on one
subtree (phase, objective, task) and hold for everything below; the highest applicable
grant wins. INTERLINK enforced this in the browser; Kopa enforces it in every service."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from community.errors import Forbidden
from community.models import (
    Grant,
    Membership,
    Objective,
    Permission,
    Phase,
    Process,
    Task,
    TeamMember,
    User,
)


@dataclass(frozen=True)
class NodePath:
    """A node and its ancestors, the ids a grant may name."""

    process_id: int
    phase_id: int | None = None
    objective_id: int | None = None
    task_id: int | None = None


def path_of_task(session: Session, task: Task) -> NodePath:
    objective = session.get(Objective, task.objective_id) if task.objective_id else None
    return NodePath(
        process_id=task.process_id,
        phase_id=objective.phase_id if objective else None,
        objective_id=task.objective_id,
        task_id=task.id,
    )


def path_of(session: Session, kind: str, node_id: int) -> NodePath:
    if kind == "process":
        return NodePath(process_id=node_id)
    if kind == "phase":
        phase = session.get(Phase, node_id)
        return NodePath(process_id=phase.process_id, phase_id=phase.id)
    if kind == "objective":
        objective = session.get(Objective, node_id)
        return NodePath(
            process_id=objective.phase.process_id, phase_id=objective.phase_id, objective_id=objective.id
        )
    return path_of_task(session, session.get(Task, node_id))


def _grant_applies(grant: Grant, path: NodePath) -> bool:
    """A grant applies when the node it names is the path's node or one of its ancestors."""
    if grant.task_id is not None:
        return grant.task_id == path.task_id
    if grant.objective_id is not None:
        return grant.objective_id == path.objective_id
    if grant.phase_id is not None:
        return grant.phase_id == path.phase_id
    return True  # the whole process


def _user_grants(user_id: int):
    """Grants held by the user or by one of their teams (add a process filter)."""
    team_ids = select(TeamMember.team_id).where(TeamMember.user_id == user_id)
    return select(Grant).where(or_(Grant.user_id == user_id, Grant.team_id.in_(team_ids)))


def granted(session: Session, user_id: int, path: NodePath) -> int:
    """The highest permission the user's own and their teams' grants give on ``path``."""
    grants = session.scalars(_user_grants(user_id).where(Grant.process_id == path.process_id)).all()
    return max((g.permission for g in grants if _grant_applies(g, path)), default=0)


def _level(process: Process, user: User | None, granted_level: int) -> int:
    """The rules of ``permission`` once the user's grant level on the node is known."""
    if user is not None and user.is_admin:
        return Permission.MANAGE
    base = 0
    if process.membership != Membership.INVITE:
        base = Permission.VIEW
    if user is None:
        return base
    if user.is_auditor or user.is_staff:
        base = max(base, Permission.VIEW)
    if process.membership == Membership.OPEN:
        base = max(base, Permission.CONTRIBUTE)
    return max(base, granted_level)


def permission(session: Session, user: User | None, path: NodePath) -> int:
    """0 (nothing) up to Permission.MANAGE."""
    if user is not None and user.is_admin:
        return Permission.MANAGE
    process = session.get(Process, path.process_id)
    if user is None:
        return _level(process, None, 0)
    return _level(process, user, granted(session, user.id, path))


def process_permissions(session: Session, user: User | None, processes: list[Process]) -> dict[int, int]:
    """``permission`` on each whole process of a list, with one query for all their grants
    (a list page asks this once, not once per process)."""
    by_process: dict[int, int] = {}
    if user is not None and not user.is_admin and processes:
        ids = [p.id for p in processes]
        for grant in session.scalars(_user_grants(user.id).where(Grant.process_id.in_(ids))):
            if _grant_applies(grant, NodePath(grant.process_id)):
                by_process[grant.process_id] = max(by_process.get(grant.process_id, 0), grant.permission)
    return {p.id: _level(p, user, by_process.get(p.id, 0)) for p in processes}


def allows(user: User | None, level: int, needed: Permission) -> bool:
    """Whether a permission ``level`` (from ``permission``) lets the user do ``needed``."""
    if needed == Permission.MANAGE and (user is None or not user.is_staff):
        # Managing (validating, editing) is city staff's work even where a team is granted it;
        # team admins of citizen teams manage their team, not the process.
        return False
    return level >= needed


def can(session: Session, user: User | None, needed: Permission, path: NodePath) -> bool:
    return allows(user, permission(session, user, path), needed)


def require(session: Session, user: User | None, needed: Permission, path: NodePath, message: str) -> None:
    if not can(session, user, needed, path):
        raise Forbidden(message)


def managed_process_ids(session: Session, user: User) -> set[int] | None:
    """Processes the user manages somewhere; None means all of them (admins)."""
    if user.is_admin:
        return None
    if not user.is_staff:
        return set()
    team_ids = select(TeamMember.team_id).where(TeamMember.user_id == user.id)
    return set(
        session.scalars(
            select(Grant.process_id).where(
                Grant.permission == Permission.MANAGE,
                or_(Grant.user_id == user.id, Grant.team_id.in_(team_ids)),
            )
        ).all()
    )
