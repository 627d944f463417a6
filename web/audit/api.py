"""JSON API for auditors (#7): the ledger, reconciliation, epochs, proofs, validator
statistics, exports and the audit log; an admin's erasure of a member (GDPR)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from community import privacy
from community.errors import Forbidden
from rewards.audit.actions import audit_log_search, verify_audit_log
from rewards.audit.epochs import close_epoch as close_audit_epoch
from rewards.audit.epochs import entry_proof, list_epochs
from rewards.audit.explorer import ledger_page
from rewards.audit.validators import validator_stats
from web import apiutil
from web.accessors import db_session, evidence_root, unit_of_work
from web.apiutil import decimal_id, token_required
from web.audit.pages import audit_report, build_export, log_filters
from web.booking.settings import policy
from web.extensions import csrf
from web.openapi import LIST, op
from web.usecase import run_use_case

bp = Blueprint("audit_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@apiutil.bp.get("/ledger")
@token_required
def ledger():
    """All entries newest first as {items, next} for auditors and staff; members get their
    own. ``?member=`` filters (members: only themselves); ``?before=`` is the page cursor."""
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


@bp.get("/audit/reconciliation")
@token_required
def reconciliation():
    user = g.api_user
    if not user.is_auditor:
        raise Forbidden("only auditors run the reconciliation")
    return jsonify(audit_report())


@bp.get("/audit/epochs")
@token_required
def epochs():
    return jsonify(list_epochs(db_session(), g.api_user))


@bp.post("/audit/epochs")
@token_required
def close_epoch():
    result = close_audit_epoch(unit_of_work(), actor_id=g.api_user.id)
    return jsonify(result), 201


@bp.get("/ledger/<int:entry_id>/proof")
@token_required
def proof(entry_id: int):
    return jsonify(entry_proof(db_session(), g.api_user, entry_id))


@bp.get("/audit/validators")
@token_required
def validators():
    return jsonify(validator_stats(db_session(), g.api_user))


@bp.get("/audit/log")
@token_required
def audit_log():
    session = db_session()
    page = audit_log_search(session, g.api_user, **log_filters(request.args))
    return jsonify(items=page["items"], next=page["next"], problems=verify_audit_log(session))


@bp.get("/audit/export")
@token_required
def export():
    result = build_export(g.api_user.id, request.args.get("from"), request.args.get("until"))
    return jsonify(
        manifest=result["manifest"], signature=result["signature"], signer=result["signer"],
        files={name: data.decode() for name, data in result["files"].items()},
    )


@bp.post("/users/<int:user_id>/erase")
@token_required
def erase(user_id: int):
    """GDPR erasure (admin): personal data goes, the pseudonymous ledger stays."""
    run_use_case(lambda uow: privacy.erase_by_admin(
        uow, admin_id=g.api_user.id, member_id=user_id, policy=policy(), evidence_root=evidence_root()
    ))
    return jsonify(id=user_id, erased=True)


OPENAPI_PATHS = {
    "/api/v1/users/{user_id}/erase": {
        "post": op("Erase a member's personal data (GDPR); ledger rows stay pseudonymous (admin)",
                   params=("user_id",), errors=(401, 403, 404, 409))
    },
    "/api/v1/audit/reconciliation": {
        "get": op("Ledger vs balanceOf vs replayed events: {ok, holders, mismatches, total_supply, "
                  "ledger_total} (auditors)", errors=(401, 403))
    },
    "/api/v1/audit/epochs": {
        "get": op("Ledger epochs, their roots and anchoring state (auditors, staff)", errors=(401, 403),
                  ok_schema=LIST),
        "post": op("Close the open epoch now and queue its anchoring (admin)", ok=201,
                   errors=(401, 403, 409)),
    },
    "/api/v1/ledger/{entry_id}/proof": {
        "get": op("An entry's canonical serialisation and RFC 9162 inclusion proof; 409 until anchored",
                  params=("entry_id",), errors=(401, 403, 404, 409))
    },
    "/api/v1/audit/validators": {
        "get": op("Validator statistics: approvals, rate, median time, four-eyes overrides, self-dealing",
                  errors=(401, 403), ok_schema=LIST)
    },
    "/api/v1/audit/log": {
        "get": op("The hash-chained action log newest first, {items, next, problems}; filters: actor (user "
                  "id), role, action and subject (parts of them), from/until (dates), before (cursor), limit",
                  query=("actor", "role", "action", "subject", "from", "until", "before", "limit"),
                  errors=(400, 401, 403))
    },
    "/api/v1/audit/export": {
        "get": op("Ledger export (CSV and JSON) for a period with a manifest signed by the platform key",
                  query=("from", "until"), errors=(400, 401, 403))
    },
}
