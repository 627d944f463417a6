"""JSON API v1. Names and shapes here are a contract that outside clients rely on.

Authentication is a bearer token only (no cookies), which is why CSRF does not apply.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from community import services
from community.db import as_utc, is_row_id
from community.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from community.models import Contribution, Process, Task, User
from rewards.ledger import pending_points, points_total
from rewards.models import LedgerEntry
from rewards.wallets import wallet_of
from web import bus, chain_reader, db_session, standings_cache, unit_of_work
from web.auth import LOGIN_LIMIT
from web.extensions import limiter

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
    }


@bp.post("/auth/token")
@limiter.limit(LOGIN_LIMIT)
def issue_token():
    data = json_body()
    user = services.authenticate(db_session(), data.get("email"), data.get("password"))
    token = services.issue_api_token(unit_of_work(), user.id)
    return jsonify(token=token, token_type="bearer", user_id=user.id, role=user.role)


@bp.get("/meta")
def meta():
    return jsonify(chain_reader().meta(db_session()))


@bp.get("/tasks")
@token_required
def tasks():
    rows = db_session().execute(
        select(Task, Process.title).join(Process).order_by(Task.process_id, Task.id)
    ).all()
    return jsonify(
        [
            {
                "id": task.id,
                "process_id": task.process_id,
                "process": process_title,
                "title": task.title,
                "description": task.description,
                "complexity": task.complexity,
                "open": task.open,
            }
            for task, process_title in rows
        ]
    )


@bp.post("/tasks/<int:task_id>/contributions")
@token_required
def submit(task_id: int):
    data = json_body()
    contribution_id = services.submit_contribution(
        unit_of_work(),
        member_id=g.api_user.id,
        task_id=task_id,
        text=data.get("text"),
        evidence_url=data.get("evidence_url"),
    )
    return jsonify(id=contribution_id, state="pending"), 201


@bp.get("/contributions/<int:contribution_id>")
@token_required
def contribution(contribution_id: int):
    c = db_session().get(Contribution, contribution_id) if is_row_id(contribution_id) else None
    if c is None:
        raise NotFound(f"contribution {contribution_id} not found")
    if c.member_id != g.api_user.id and not (g.api_user.is_staff or g.api_user.is_auditor):
        raise Forbidden("you can only read your own contributions")
    return jsonify(_contribution_json(c))


@bp.post("/contributions/<int:contribution_id>/approve")
@token_required
def approve(contribution_id: int):
    data = json_body()
    uow = unit_of_work()
    entry_ids = services.approve_contribution(
        uow, validator_id=g.api_user.id, contribution_id=contribution_id, comment=data.get("comment")
    )
    bus.dispatch(uow.events)
    return jsonify(id=contribution_id, state="approved", ledger_entry_ids=entry_ids)


@bp.post("/contributions/<int:contribution_id>/reject")
@token_required
def reject(contribution_id: int):
    data = json_body()
    uow = unit_of_work()
    services.reject_contribution(
        uow, validator_id=g.api_user.id, contribution_id=contribution_id, comment=data.get("comment")
    )
    bus.dispatch(uow.events)
    return jsonify(id=contribution_id, state="rejected")


@bp.get("/me/wallet")
@token_required
def my_wallet():
    session = db_session()
    wallet = wallet_of(session, g.api_user.id)
    if wallet is None:
        raise NotFound("you have no wallet")
    return jsonify(
        address=wallet.address,
        balance_onchain=chain_reader().balance_of(session, wallet.address),
        points_total=points_total(session, g.api_user.id),
        pending=pending_points(session, g.api_user.id),
    )


@bp.get("/leaderboard")
def leaderboard():
    standings = standings_cache().get()
    return jsonify([s.public() for s in standings])


@bp.get("/ledger")
@token_required
def ledger():
    user: User = g.api_user
    raw = request.args.get("member", str(user.id))
    if not raw.isdigit() or not is_row_id(int(raw)):
        raise InvalidInput("member must be a member id")
    member_id = int(raw)
    if member_id != user.id and not (user.is_staff or user.is_auditor):
        raise Forbidden("only auditors, staff or the member themselves read a member's ledger")
    session = db_session()
    if session.get(User, member_id) is None:
        raise NotFound(f"member {member_id} not found")
    entries = session.scalars(
        select(LedgerEntry).where(LedgerEntry.member_id == member_id).order_by(LedgerEntry.id)
    ).all()
    return jsonify(
        [
            {
                "id": e.id,
                "member_id": e.member_id,
                "points": e.points,
                "dimension": e.dimension,
                "cause": e.cause,
                "contribution_id": e.contribution_id,
                "validator_id": e.validator_id,
                "rule": {"id": e.rule_id, "version": e.rule_version},
                "ref": e.ref,
                "created_at": as_utc(e.created_at).isoformat(),
                "mint_status": e.outbox.status if e.outbox else None,
                "tx_hash": e.outbox.tx_hash if e.outbox and e.outbox.status == "done" else None,
                "block": e.outbox.block_number if e.outbox else None,
            }
            for e in entries
        ]
    )
