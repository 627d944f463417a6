"""The contribution endpoints of the JSON API: submitting (JSON or multipart with an
evidence file), reading, the decisions, the validation queue and the member's wallet and
totals. Names and shapes here are a contract that outside clients rely on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask import g, jsonify, request
from sqlalchemy import select

from community import access, contributions, queue
from community.db import as_utc, is_row_id
from community.errors import Forbidden, InvalidInput, NotFound
from community.evidence import MAX_EVIDENCE_BYTES, StoredEvidence, discard, store_evidence
from community.i18n import N_
from community.models import Contribution, Permission
from rewards.ledger import wallet_summary
from rewards.totals import member_totals
from rewards.wallets import wallet_of
from web.accessors import chain_reader, contribution_policy, db_session, evidence_root, release_read_session
from web.apiutil import bp, decimal_id, json_body, token_required
from web.usecase import run_use_case


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
    try:
        contribution_id = run_use_case(lambda uow: contributions.submit_contribution(
            uow,
            member_id=g.api_user.id,
            task_id=task_id,
            text=data.get("text"),
            evidence_url=data.get("evidence_url"),
            evidence=stored,
            co_contributors=data.get("co_contributors"),
            policy=contribution_policy(),
        ))
    except BaseException:
        discard(stored)
        raise
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


@dataclass(frozen=True)
class Decision:
    """A decision on a contribution through the API: its service, the keyword that names the
    caller to it, the body fields it takes, whether it answers with the ledger entries it
    wrote (approving and revoking) and whether it takes the four-eyes settings (approving)."""

    service: Callable[..., Any]
    caller: str
    fields: tuple[str, ...]
    entries: bool = False
    policy: bool = False


# URL action -> (endpoint name, decision). The endpoint names are part of the audit log.
DECISIONS = {
    "approve": ("approve", Decision(contributions.approve_contribution, "validator_id", ("comment", "level"),
                                    entries=True, policy=True)),
    "reject": ("reject", Decision(contributions.reject_contribution, "validator_id", ("comment",))),
    "request-changes": ("request_changes",
                        Decision(contributions.request_changes, "validator_id", ("comment",))),
    "resubmit": ("resubmit",
                 Decision(contributions.resubmit_contribution, "member_id", ("text", "evidence_url"))),
    "revoke": ("revoke", Decision(contributions.revoke_contribution, "validator_id", ("comment",),
                                  entries=True)),
    "appeal": ("appeal", Decision(contributions.appeal_contribution, "member_id", ("reason",))),
}


def decide(decision: Decision, contribution_id: int):
    """Run one decision; answer with the contribution's state as the write left it."""
    data = json_body()
    arguments = {decision.caller: g.api_user.id, **{name: data.get(name) for name in decision.fields}}
    if decision.policy:
        arguments["policy"] = contribution_policy()
    result = run_use_case(lambda uow: decision.service(uow, contribution_id=contribution_id, **arguments))
    release_read_session()  # the request's read snapshot predates this write
    state = db_session().scalar(select(Contribution.state).where(Contribution.id == contribution_id))
    if decision.entries:
        return jsonify(id=contribution_id, state=state, ledger_entry_ids=result)
    return jsonify(id=contribution_id, state=state)


for _action, (_endpoint, _decision) in DECISIONS.items():
    bp.add_url_rule(f"/contributions/<int:contribution_id>/{_action}", _endpoint,
                    token_required(partial(decide, _decision)), methods=["POST"])


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
    items = queue.validation_queue(
        session, g.api_user, process_id=_int_arg("process_id"), task_id=_int_arg("task_id")
    )
    stats = queue.queue_stats(session, items)
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
