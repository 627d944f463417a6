"""New trees from old ones: a process built from a template, and a clone of a process (its
tree, statuses reset, without contributions or grants)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.access import NodePath, require
from community.db import UnitOfWork
from community.i18n import N_
from community.models import Grant, Objective, Permission, Phase, Prerequisite, Process, Task, TaskLibraryItem
from community.processes.checks import _staff
from community.processes.kinds import CHILD_KIND, NODE_KINDS
from community.templates import TEMPLATES
from community.validation import get_row as get
from community.validation import text


def build_from_template(session: Session, process: Process, template: str) -> None:
    previous: Phase | None = None
    for p_pos, (p_title, p_description, objectives) in enumerate(TEMPLATES[template][1]):
        phase = Phase(process_id=process.id, title=p_title, description=p_description, position=p_pos)
        session.add(phase)
        session.flush()
        if previous is not None:
            session.add(Prerequisite(kind="phase", node_id=phase.id, requires_id=previous.id))
        previous = phase
        for o_pos, (o_title, tasks) in enumerate(objectives):
            objective = Objective(phase_id=phase.id, title=o_title, position=o_pos)
            session.add(objective)
            session.flush()
            for t_pos, (t_title, complexity) in enumerate(tasks):
                session.add(
                    Task(
                        process_id=process.id,
                        objective_id=objective.id,
                        title=t_title,
                        complexity=complexity,
                        position=t_pos,
                    )
                )
    session.flush()


def clone_process(uow: UnitOfWork, *, actor_id: int, source_id: object, title: object = None) -> int:
    """A fresh copy of a process's tree (statuses reset, no contributions, no grants but
    the cloner's)."""
    with uow:
        session = uow.session
        actor = _staff(session, actor_id, "only staff clone processes")
        source = get(session, Process, source_id, "process")
        not_found = N_("process %(id)s not found", id=source.id)
        require(session, actor, Permission.VIEW, NodePath(source.id), not_found)
        copy = Process(
            title=text(title, "title", 200) if title else f"{source.title} (copy)"[:200],
            description=source.description,
            membership=source.membership,
            template=source.template,
            organisation_id=source.organisation_id,
            created_by_id=actor.id,
            cloned_from_id=source.id,
            four_eyes_threshold=source.four_eyes_threshold,
            points_cap=source.points_cap,
            cap_period=source.cap_period,
        )
        session.add(copy)
        session.flush()
        session.add(Grant(process_id=copy.id, user_id=actor.id, permission=Permission.MANAGE))
        id_map = _copy_tree(session, source, copy)
        _copy_prerequisites(session, id_map)
        uow.commit()
        return copy.id


def _copy_tree(session: Session, source: Process, copy: Process) -> dict[tuple[str, int], int]:
    """Copy ``source``'s phases, objectives and tasks (with their resources) into ``copy``;
    the new id of each old (kind, id)."""
    id_map: dict[tuple[str, int], int] = {}
    _copy_children(session, "process", source, copy.id, copy.id, id_map)
    return id_map


def _copy_children(
    session: Session, kind: str, old: object, new_id: int, process_id: int, id_map: dict
) -> None:
    """Copy the children of ``old`` (a node of ``kind``) under its copy ``new_id``, depth
    first: titles, descriptions, positions and the kind's own fields; no dates, no status."""
    child_kind = CHILD_KIND.get(kind)
    if child_kind is None:
        return
    spec = NODE_KINDS[child_kind]
    own = [name for name in spec.fields if name != "library_item_ids"]
    for child in getattr(old, spec.siblings):
        node = spec.model(
            **{spec.parent_key: new_id},
            **({"process_id": process_id} if spec.names_process else {}),
            **{name: getattr(child, name) for name in ("title", "description", *own, "position")},
        )
        session.add(node)
        session.flush()
        id_map[child_kind, child.id] = node.id
        if "library_item_ids" in spec.fields:
            for item in child.library_items:
                session.add(TaskLibraryItem(task_id=node.id, item_id=item.id))
        _copy_children(session, child_kind, child, node.id, process_id, id_map)


def _copy_prerequisites(session: Session, id_map: dict[tuple[str, int], int]) -> None:
    """The prerequisites between copied nodes, between their copies."""
    for (kind, old_id), new_id in list(id_map.items()):
        for pre in session.scalars(
            select(Prerequisite).where(Prerequisite.kind == kind, Prerequisite.node_id == old_id)
        ).all():
            if (kind, pre.requires_id) in id_map:
                session.add(
                    Prerequisite(kind=kind, node_id=new_id, requires_id=id_map[kind, pre.requires_id])
                )
