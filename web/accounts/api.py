"""The account endpoints of the JSON API: a bearer token for e-mail and password, and the
member's data export and erasure (GDPR, #9)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from community import accounts, privacy
from web import apiutil
from web.accessors import db_session, evidence_root, unit_of_work
from web.accounts.account import download
from web.accounts.auth import LOGIN_LIMIT, login_per_account, login_per_address
from web.apiutil import json_body, token_required
from web.booking.pages import policy
from web.extensions import limiter
from web.openapi import op
from web.usecase import run_use_case

bp = Blueprint("account_api", __name__, url_prefix="/api/v1")


@apiutil.bp.post("/auth/token")
@login_per_address
@login_per_account
def issue_token():
    data = json_body()
    user = accounts.authenticate(db_session(), data.get("email"), data.get("password"))
    token = accounts.issue_api_token(unit_of_work(), user.id)
    return jsonify(token=token, token_type="bearer", user_id=user.id, role=user.role)


@bp.get("/me/export")
@token_required
def api_export():
    return download(privacy.export_member_data(db_session(), viewer_id=g.api_user.id))


@bp.delete("/me")
@limiter.limit(LOGIN_LIMIT)
@token_required
def api_erase():
    data = json_body()
    result = run_use_case(
        lambda uow: privacy.erase_own_account(uow, member_id=g.api_user.id, password=data.get("password"),
                                              policy=policy(), evidence_root=evidence_root())
    )
    return jsonify(id=result.member_id, erased=True, bookings_cancelled=result.bookings_cancelled,
                   waitlists_left=result.waitlists_left, redemptions_cancelled=result.redemptions_cancelled,
                   tokens_revoked=result.tokens_revoked)


OPENAPI_PATHS = {
    "/api/v1/me/export": {
        "get": op("Everything Kopa holds about you as a JSON file (GDPR access and portability): profile, "
                  "wallet address, ledger, contributions, validations, bookings, waitlists, redemptions, "
                  "poll votes, teams, grants, notifications, API token metadata, board profile",
                  errors=(401, 404))
    },
    "/api/v1/me": {
        "delete": op("Erase your account (GDPR): personal data goes, the pseudonymous ledger and chain "
                     "history stay; future bookings are cancelled and refunded. 400 on a wrong password",
                     body={"password": {"type": "string"}}, errors=(400, 401, 409, 429))
    },
}
