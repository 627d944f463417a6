"""Building a process: the process itself (empty or from a template), its settings, and the
nodes added under it (``add_node``: a phase, an objective or a task)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.access import NodePath, path_of
from community.db import UnitOfWork
from community.errors import InvalidInput
from community.i18n import N_
from community.models import (
    Grant,
    LibraryItem,
    Membership,
    Objective,
    Organisation,
    Permission,
    Phase,
    Process,
    Task,
    TaskLibraryItem,
)
from community.processes.checks import NODE_MODELS, _manager, _staff, complexity_of, dates
from community.processes.cloning import build_from_template
from community.processes.kinds import NODE_KINDS
from community.templates import TEMPLATES
from community.validation import get_row as get
from community.validation import text


def create_process(
    uow: UnitOfWork,
    *,
    actor_id: int,
    title: object,
    description: object = "",
    membership: object = Membership.OPEN.value,
    template: object = None,
    organisation: object = None,
    starts_on: object = None,
    ends_on: object = None,
) -> int:
    """A new process, empty or built from a template; its creator manages it."""
    title = text(title, "title", 200)
    description = text(description, "description", 10_000, required=False)
    if membership not in {m.value for m in Membership}:
        raise InvalidInput("membership must be open, application or invite")
    if template in ("", None):
        template = None
    elif template not in TEMPLATES:
        raise InvalidInput(N_("template must be one of %(templates)s", templates=', '.join(TEMPLATES)))
    start, end = dates(starts_on, ends_on)
    with uow:
        session = uow.session
        actor = _staff(session, actor_id, "only staff create processes")
        org_id = None
        if organisation:
            name = text(organisation, "organisation", 200)
            org = session.scalars(select(Organisation).where(Organisation.name == name)).one_or_none()
            if org is None:
                org = Organisation(name=name)
                session.add(org)
                session.flush()
            org_id = org.id
        process = Process(
            title=title,
            description=description,
            membership=membership,
            template=template,
            organisation_id=org_id,
            created_by_id=actor.id,
            starts_on=start,
            ends_on=end,
        )
        session.add(process)
        session.flush()
        session.add(Grant(process_id=process.id, user_id=actor.id, permission=Permission.MANAGE))
        if template:
            build_from_template(session, process, template)
        uow.commit()
        return process.id


def update_process_settings(
    uow: UnitOfWork,
    *,
    actor_id: int,
    process_id: object,
    four_eyes_threshold: object = None,
    points_cap: object = None,
    cap_period: object = "month",
    membership: object = None,
) -> None:
    for name, value in (("four_eyes_threshold", four_eyes_threshold), ("points_cap", points_cap)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InvalidInput(N_("%(name)s must be a positive whole number or empty", name=name))
    if cap_period not in ("week", "month"):
        raise InvalidInput("cap_period must be week or month")
    if membership is not None and membership not in {m.value for m in Membership}:
        raise InvalidInput("membership must be open, application or invite")
    with uow:
        process = get(uow.session, Process, process_id, "process")
        _manager(
            uow.session, actor_id, NodePath(process.id), "only the process's managers change its settings"
        )
        process.four_eyes_threshold = four_eyes_threshold
        process.points_cap = points_cap
        process.cap_period = cap_period
        if membership is not None:
            process.membership = membership
        uow.commit()


# --- the tree ------------------------------------------------------------------------------


def add_node(
    uow: UnitOfWork,
    *,
    actor_id: int,
    kind: str,
    parent_id: object,
    title: object,
    description: object = "",
    starts_on: object = None,
    ends_on: object = None,
    **fields: object,
) -> int:
    """A phase in a process, an objective in a phase or a task in an objective, after its
    siblings. A task also takes ``complexity`` (default 20) and ``library_item_ids``."""
    spec = NODE_KINDS[kind]
    unknown = sorted(set(fields) - set(spec.fields))
    if unknown:
        raise TypeError(f"add_node() got fields a {kind} does not take: {', '.join(unknown)}")
    own = {**spec.fields, **fields}
    library_item_ids = own.pop("library_item_ids", None)
    if "complexity" in own:
        own["complexity"] = complexity_of(own["complexity"])
    start, end = dates(starts_on, ends_on)
    with uow:
        session = uow.session
        parent = get(session, NODE_MODELS[spec.parent], parent_id, spec.parent)
        path = path_of(session, spec.parent, parent.id)
        _manager(session, actor_id, path, spec.refused)
        if spec.names_process:
            own["process_id"] = path.process_id
        node = spec.model(
            **{spec.parent_key: parent.id},
            title=text(title, "title", 200),
            description=text(description, "description", 10_000, required=False),
            position=len(getattr(parent, spec.siblings)),
            starts_on=start,
            ends_on=end,
            **own,
        )
        session.add(node)
        session.flush()
        for item_id in library_item_ids or []:
            item = get(session, LibraryItem, item_id, "resource")
            session.add(TaskLibraryItem(task_id=node.id, item_id=item.id))
        uow.commit()
        return node.id


def _default_objective(session: Session, process: Process) -> Objective:
    """Where tasks of a process created without a tree go: its first objective, or a
    "General" phase and objective made for them."""
    for phase in process.phases:
        if phase.objectives:
            return phase.objectives[0]
    phase = process.phases[0] if process.phases else Phase(process_id=process.id, title="General")
    session.add(phase)
    session.flush()
    objective = Objective(phase_id=phase.id, title="General")
    session.add(objective)
    session.flush()
    return objective


def create_task(
    uow: UnitOfWork,
    *,
    actor_id: int,
    process_id: object,
    title: object,
    complexity: object = 20,
    description: object = "",
) -> int:
    """A task in the process's first objective (for flat processes and quick set-up)."""
    complexity = complexity_of(complexity)
    with uow:
        session = uow.session
        process = get(session, Process, process_id, "process")
        _manager(session, actor_id, NodePath(process.id), "only the process's managers add tasks")
        objective = _default_objective(session, process)
        task = Task(
            process_id=process.id,
            objective_id=objective.id,
            title=text(title, "title", 200),
            description=text(description, "description", 10_000, required=False),
            complexity=complexity,
            position=len(objective.tasks),
        )
        session.add(task)
        session.flush()
        uow.commit()
        return task.id
