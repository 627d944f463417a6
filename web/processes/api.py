"""The process endpoints of the JSON API: processes, their tree (phases, objectives, tasks),
cloning, applications and node status. Names and shapes here are a contract."""

from __future__ import annotations

from functools import partial

from flask import g, jsonify
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from community import access
from community.db import is_row_id
from community.errors import InvalidInput, NotFound
from community.i18n import N_
from community.models import Permission, Process, Task
from community.processes import building, cloning, joining, outline, permissions, progress
from web.accessors import db_session, unit_of_work
from web.apiutil import bp, json_body, text_field, token_required


def _task_json(task: Task, process_title: str) -> dict:
    return {
        "id": task.id,
        "process_id": task.process_id,
        "process": process_title,
        "objective_id": task.objective_id,
        "title": task.title,
        "description": task.description,
        "complexity": task.complexity,
        "status": task.status,
        "open": task.open,
        "resources": [
            {
                "id": r.id,
                "title": r.title,
                "kind": r.kind,
                "link": r.link,
                "languages": r.languages.split(","),
            }
            for r in task.library_items
        ],
    }


def _process_json(process: Process) -> dict:
    return {
        "id": process.id,
        "title": process.title,
        "description": process.description,
        "status": process.status,
        "membership": process.membership,
        "template": process.template,
        "cloned_from": process.cloned_from_id,
        "organisation": process.organisation.name if process.organisation else None,
        "starts_on": process.starts_on.isoformat() if process.starts_on else None,
        "ends_on": process.ends_on.isoformat() if process.ends_on else None,
    }


def _visible_task(task_id: int) -> Task:
    session = db_session()
    task = session.get(Task, task_id) if is_row_id(task_id) else None
    if task is None or not access.can(
        session, g.api_user, Permission.VIEW, access.path_of_task(session, task)
    ):
        raise NotFound(N_("task %(task)s not found", task=task_id))
    return task


@bp.get("/processes")
@token_required
def process_list():
    return jsonify([_process_json(p) for p in permissions.visible_processes(db_session(), g.api_user)])


@bp.post("/processes")
@token_required
def process_create():
    data = json_body()
    process_id = building.create_process(
        unit_of_work(),
        actor_id=g.api_user.id,
        title=data.get("title"),
        description=data.get("description", ""),
        membership=text_field(data, "membership", "open"),
        template=text_field(data, "template"),
        organisation=data.get("organisation"),
        starts_on=data.get("starts_on"),
        ends_on=data.get("ends_on"),
    )
    return jsonify(id=process_id), 201


@bp.get("/processes/<int:process_id>")
@token_required
def process_detail(process_id: int):
    session = db_session()
    process = session.get(Process, process_id) if is_row_id(process_id) else None
    if process is None or not permissions.may_view(session, g.api_user, process.id):
        raise NotFound(N_("process %(id)s not found", id=process_id))
    return jsonify(**_process_json(process), tree=outline.process_tree(session, process).as_dict())


@bp.post("/processes/<int:process_id>/clone")
@token_required
def process_clone(process_id: int):
    data = json_body()
    new_id = cloning.clone_process(
        unit_of_work(), actor_id=g.api_user.id, source_id=process_id, title=data.get("title")
    )
    return jsonify(id=new_id, cloned_from=process_id), 201


@bp.post("/processes/<int:process_id>/applications")
@token_required
def process_apply(process_id: int):
    data = json_body()
    state = joining.apply_to_process(
        unit_of_work(), user_id=g.api_user.id, process_id=process_id, message=data.get("message", "")
    )
    return jsonify(process_id=process_id, state=state), 201


# A new node under its parent: the API rule (its variable names the parent) and endpoint name.
NODE_RULES = {
    "phase": ("/processes/<int:process_id>/phases", "phase_create"),
    "objective": ("/phases/<int:phase_id>/objectives", "objective_create"),
    "task": ("/objectives/<int:objective_id>/tasks", "task_create"),
}


def node_create(kind: str, **parent: int):
    """Create a phase, objective or task under the parent the URL names."""
    data = json_body()
    fields = {
        "title": data.get("title"),
        "description": data.get("description", ""),
        "starts_on": data.get("starts_on"),
        "ends_on": data.get("ends_on"),
    }
    if kind == "task":
        fields.update(complexity=data.get("complexity", 20), library_item_ids=_id_list(data, "resource_ids"))
    [parent_id] = parent.values()
    node_id = building.add_node(
        unit_of_work(), actor_id=g.api_user.id, kind=kind, parent_id=parent_id, **fields
    )
    return jsonify(id=node_id), 201


for _kind, (_rule, _endpoint) in NODE_RULES.items():
    bp.add_url_rule(_rule, _endpoint, token_required(partial(node_create, _kind)), methods=["POST"])


def _id_list(data: dict, name: str) -> list:
    """A JSON list (its items are checked as ids by the service); absent or null is empty."""
    value = data.get(name) or []
    if not isinstance(value, list):
        raise InvalidInput(N_("%(name)s must be a list of ids", name=name))
    return value


NODE_KINDS = {"processes": "process", "phases": "phase", "objectives": "objective", "tasks": "task"}


@bp.post("/<any(processes, phases, objectives, tasks):kinds>/<int:node_id>/status")
@token_required
def node_status(kinds: str, node_id: int):
    status = text_field(json_body(), "status")
    kind = NODE_KINDS[kinds]
    progress.set_status(unit_of_work(), actor_id=g.api_user.id, kind=kind, node_id=node_id, status=status)
    return jsonify(kind=kind, id=node_id, status=status)


@bp.get("/tasks")
@token_required
def tasks():
    session = db_session()
    visible = {p.id: p.title for p in permissions.visible_processes(session, g.api_user)}
    rows = session.scalars(
        select(Task).options(selectinload(Task.library_items))  # resources: one query, not one per task
        .where(Task.process_id.in_(list(visible) or [-1])).order_by(Task.process_id, Task.id)
    ).all()
    return jsonify([_task_json(task, visible[task.process_id]) for task in rows])


@bp.get("/tasks/<int:task_id>")
@token_required
def task_detail(task_id: int):
    task = _visible_task(task_id)
    return jsonify(_task_json(task, task.process.title))
