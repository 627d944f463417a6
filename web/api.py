"""JSON API v1. Names and shapes here are a contract that outside clients rely on.

Authentication is a bearer token only (no cookies), which is why CSRF does not apply.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from community import access, processes, services
from community.db import as_utc, is_row_id
from community.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from community.evidence import MAX_EVIDENCE_BYTES, StoredEvidence, discard, store_evidence
from community.i18n import N_
from community.models import Contribution, Permission, Process, Task
from rewards.ledger import wallet_summary
from rewards.totals import member_totals
from rewards.wallets import wallet_of
from web import (
    bus,
    chain_reader,
    contribution_policy,
    db_session,
    evidence_root,
    unit_of_work,
)
from web.auth import login_per_account, login_per_address

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_body() -> dict:
    """The request's JSON object; anything else is a 400 that says what is wrong."""
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True, force=True)
    if data is None:
        raise InvalidInput("the request body is not valid JSON")
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def text_field(data: dict, name: str, default: str | None = None) -> str | None:
    """``data[name]`` when it is text (``default`` when absent or null); a number, list or
    object there is a 400 naming the field, before a service compares it with its choices."""
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInput(N_("%(name)s must be text", name=name))
    return value


def decimal_id(raw: str) -> int | None:
    """The int of an ASCII decimal query value, else None (``str.isdigit`` accepts ``²``,
    which ``int`` refuses)."""
    return int(raw) if raw.isascii() and raw.isdigit() else None


def token_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send Authorization: Bearer <token> (POST /api/v1/auth/token)")
        user = services.user_for_token(db_session(), token.strip())
        if user is None:
            raise Unauthorized("the token is unknown, expired or revoked")
        g.api_user = user
        return view(*args, **kwargs)

    return wrapped


def _contribution_json(c: Contribution) -> dict:
    return {
        "id": c.id,
        "task_id": c.task_id,
        "member_id": c.member_id,
        "text": c.text,
        "evidence_url": c.evidence_url,
        "state": c.state,
        "created_at": as_utc(c.created_at).isoformat(),
        "decided_by": c.decided_by_id,
        "decision_comment": c.decision_comment,
        "level": c.level,
        "proposed_points": c.proposed_points,
        "first_approver": c.first_approver_id,
        "co_contributors": [u.id for u in c.co_contributors],
        "evidence_file": (
            {
                "sha256": c.evidence_sha256,
                "filename": c.evidence_filename,
                "content_type": c.evidence_content_type,
                "size": c.evidence_size,
            }
            if c.evidence_sha256
            else None
        ),
        "duplicate_of": c.duplicate_of_id,
        "appeal_reason": c.appeal_reason,
        "transitions": [
            {
                "from": t.from_state,
                "to": t.to_state,
                "by": t.actor_id,
                "comment": t.comment,
                "at": as_utc(t.at).isoformat(),
            }
            for t in c.transitions
        ],
    }


@bp.post("/auth/token")
@login_per_address
@login_per_account
def issue_token():
    data = json_body()
    user = services.authenticate(db_session(), data.get("email"), data.get("password"))
    token = services.issue_api_token(unit_of_work(), user.id)
    return jsonify(token=token, token_type="bearer", user_id=user.id, role=user.role)


@bp.get("/meta")
def meta():
    return jsonify(chain_reader().meta(db_session()))


@bp.get("/health")
def health():
    """Liveness: the process answers, with nothing else touched (no database, no chain); the
    HTTP benchmark's reference for what the framework costs per request."""
    return jsonify(status="ok")


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
    return jsonify([_process_json(p) for p in processes.visible_processes(db_session(), g.api_user)])


@bp.post("/processes")
@token_required
def process_create():
    data = json_body()
    process_id = processes.create_process(
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
    if process is None or not processes.may_view(session, g.api_user, process.id):
        raise NotFound(N_("process %(id)s not found", id=process_id))
    return jsonify(**_process_json(process), tree=processes.process_tree(session, process).as_dict())


@bp.post("/processes/<int:process_id>/clone")
@token_required
def process_clone(process_id: int):
    data = json_body()
    new_id = processes.clone_process(
        unit_of_work(), actor_id=g.api_user.id, source_id=process_id, title=data.get("title")
    )
    return jsonify(id=new_id, cloned_from=process_id), 201


@bp.post("/processes/<int:process_id>/applications")
@token_required
def process_apply(process_id: int):
    data = json_body()
    state = processes.apply_to_process(
        unit_of_work(), user_id=g.api_user.id, process_id=process_id, message=data.get("message", "")
    )
    return jsonify(process_id=process_id, state=state), 201


@bp.post("/processes/<int:process_id>/phases")
@token_required
def phase_create(process_id: int):
    data = json_body()
    phase_id = processes.add_phase(
        unit_of_work(),
        actor_id=g.api_user.id,
        process_id=process_id,
        title=data.get("title"),
        description=data.get("description", ""),
        starts_on=data.get("starts_on"),
        ends_on=data.get("ends_on"),
    )
    return jsonify(id=phase_id), 201


@bp.post("/phases/<int:phase_id>/objectives")
@token_required
def objective_create(phase_id: int):
    data = json_body()
    objective_id = processes.add_objective(
        unit_of_work(),
        actor_id=g.api_user.id,
        phase_id=phase_id,
        title=data.get("title"),
        description=data.get("description", ""),
        starts_on=data.get("starts_on"),
        ends_on=data.get("ends_on"),
    )
    return jsonify(id=objective_id), 201


@bp.post("/objectives/<int:objective_id>/tasks")
@token_required
def task_create(objective_id: int):
    data = json_body()
    task_id = processes.add_task(
        unit_of_work(),
        actor_id=g.api_user.id,
        objective_id=objective_id,
        title=data.get("title"),
        complexity=data.get("complexity", 20),
        description=data.get("description", ""),
        starts_on=data.get("starts_on"),
        ends_on=data.get("ends_on"),
        library_item_ids=_id_list(data, "resource_ids"),
    )
    return jsonify(id=task_id), 201


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
    processes.set_status(unit_of_work(), actor_id=g.api_user.id, kind=kind, node_id=node_id, status=status)
    return jsonify(kind=kind, id=node_id, status=status)


@bp.get("/tasks")
@token_required
def tasks():
    session = db_session()
    visible = {p.id: p.title for p in processes.visible_processes(session, g.api_user)}
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


def _submission() -> tuple[dict, StoredEvidence | None]:
    """JSON, or multipart form data with an optional ``evidence_file``."""
    if request.mimetype == "multipart/form-data":
        data = {key: request.form.get(key) for key in ("text", "evidence_url", "co_contributors")}
        upload = request.files.get("evidence_file")
        stored = None
        if upload is not None and upload.filename:
            stored = store_evidence(evidence_root(), upload.filename, upload.read(MAX_EVIDENCE_BYTES + 1))
        return data, stored
    return json_body(), None


@bp.post("/tasks/<int:task_id>/contributions")
@token_required
def submit(task_id: int):
    data, stored = _submission()
    uow = unit_of_work()
    try:
        contribution_id = services.submit_contribution(
            uow,
            member_id=g.api_user.id,
            task_id=task_id,
            text=data.get("text"),
            evidence_url=data.get("evidence_url"),
            evidence=stored,
            co_contributors=data.get("co_contributors"),
            policy=contribution_policy(),
        )
    except BaseException:
        discard(stored)
        raise
    bus.dispatch(uow.events)
    return jsonify(
        id=contribution_id, state="pending", evidence_sha256=stored.sha256 if stored else None
    ), 201


def _readable_contribution(contribution_id: int) -> Contribution:
    session = db_session()
    c = session.get(Contribution, contribution_id) if is_row_id(contribution_id) else None
    if c is None:
        raise NotFound(N_("%(what)s %(id)s not found", what=N_("contribution"), id=contribution_id))
    user = g.api_user
    if (
        user.id not in c.member_ids
        and not user.is_auditor
        and not (
            user.is_staff
            and access.can(session, user, Permission.MANAGE, access.path_of_task(session, c.task))
        )
    ):
        raise Forbidden("you can only read your own contributions")
    return c


@bp.get("/contributions/<int:contribution_id>")
@token_required
def contribution(contribution_id: int):
    return jsonify(_contribution_json(_readable_contribution(contribution_id)))


def _decision(contribution_id: int, action, **kwargs):
    uow = unit_of_work()
    result = action(uow, contribution_id=contribution_id, **kwargs)
    bus.dispatch(uow.events)
    session = db_session()
    session.rollback()  # end the request's read snapshot, which predates this write
    return result, session.scalar(select(Contribution.state).where(Contribution.id == contribution_id))


@bp.post("/contributions/<int:contribution_id>/approve")
@token_required
def approve(contribution_id: int):
    data = json_body()
    entry_ids, state = _decision(
        contribution_id,
        services.approve_contribution,
        validator_id=g.api_user.id,
        comment=data.get("comment"),
        level=data.get("level"),
        policy=contribution_policy(),
    )
    return jsonify(id=contribution_id, state=state, ledger_entry_ids=entry_ids)


@bp.post("/contributions/<int:contribution_id>/reject")
@token_required
def reject(contribution_id: int):
    data = json_body()
    _, state = _decision(
        contribution_id, services.reject_contribution, validator_id=g.api_user.id, comment=data.get("comment")
    )
    return jsonify(id=contribution_id, state=state)


@bp.post("/contributions/<int:contribution_id>/request-changes")
@token_required
def request_changes(contribution_id: int):
    data = json_body()
    _, state = _decision(
        contribution_id, services.request_changes, validator_id=g.api_user.id, comment=data.get("comment")
    )
    return jsonify(id=contribution_id, state=state)


@bp.post("/contributions/<int:contribution_id>/resubmit")
@token_required
def resubmit(contribution_id: int):
    data = json_body()
    _, state = _decision(
        contribution_id,
        services.resubmit_contribution,
        member_id=g.api_user.id,
        text=data.get("text"),
        evidence_url=data.get("evidence_url"),
    )
    return jsonify(id=contribution_id, state=state)


@bp.post("/contributions/<int:contribution_id>/revoke")
@token_required
def revoke(contribution_id: int):
    data = json_body()
    entry_ids, state = _decision(
        contribution_id, services.revoke_contribution, validator_id=g.api_user.id, comment=data.get("comment")
    )
    return jsonify(id=contribution_id, state=state, ledger_entry_ids=entry_ids)


@bp.post("/contributions/<int:contribution_id>/appeal")
@token_required
def appeal(contribution_id: int):
    data = json_body()
    _, state = _decision(
        contribution_id, services.appeal_contribution, member_id=g.api_user.id, reason=data.get("reason")
    )
    return jsonify(id=contribution_id, state=state)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if not is_row_id(decimal_id(raw)):
        raise InvalidInput(N_("%(name)s must be an id", name=name))
    return int(raw)


@bp.get("/validation-queue")
@token_required
def validation_queue():
    session = db_session()
    items = services.validation_queue(
        session, g.api_user, process_id=_int_arg("process_id"), task_id=_int_arg("task_id")
    )
    stats = services.queue_stats(session, items)
    return jsonify(
        items=[_contribution_json(c) for c in items],
        counts=stats.counts,
        median_hours_to_validate=stats.median_hours_to_validate,
    )


@bp.get("/me/wallet")
@token_required
def my_wallet():
    session = db_session()
    wallet = wallet_of(session, g.api_user.id)
    if wallet is None:
        raise NotFound("you have no wallet")
    figures = wallet_summary(session, g.api_user.id)  # the same figures the live push carries
    return jsonify(
        address=wallet.address,
        balance_onchain=chain_reader().balance_of(session, wallet.address),
        points_total=figures["points"],
        pending=figures["pending_mint"],
        pending_burn=figures["pending_burn"],
        spendable=figures["spendable"],
    )


@bp.get("/me/totals")
@token_required
def my_totals():
    """Points per dimension for today, this week, this month and all time (UTC periods)."""
    return jsonify(member_totals(db_session(), g.api_user.id).as_dict())


@bp.get("/leaderboard")
def leaderboard():
    from web.boards import api_leaderboard  # ?scope=&period=&dimension= (#6)

    return api_leaderboard()


@bp.get("/ledger")
@token_required
def ledger():
    """All entries newest first as {items, next} for auditors and staff; members get their
    own. ``?member=`` filters (members: only themselves); ``?before=`` is the page cursor."""
    from rewards.audit.explorer import ledger_page

    args = request.args

    def number(name: str):
        """An int, or the raw text for ledger_page to refuse with a message naming the field."""
        raw = args.get(name, "").strip()
        number = decimal_id(raw)
        return (raw or None) if number is None else number

    return jsonify(
        ledger_page(
            db_session(), g.api_user, member=number("member"), process=number("process"),
            validator=number("validator"), state=args.get("state") or None, search=args.get("q") or None,
            before=number("before"), limit=50 if number("limit") is None else number("limit"),
        )
    )
