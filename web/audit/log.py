"""The audit-log hook: one hash-chained row per successful admin or staff change (#7).

Rather than editing every feature's services, an ``after_request`` hook looks at each
state-changing request (POST/PUT/PATCH/DELETE) that succeeded (status < 400) and was made by
a staff member or admin (portal session or API token) and appends one row: the route rule
(e.g. ``POST /admin/rules/<rule_id>/publish``), the concrete path, the endpoint and its URL
arguments. Request bodies are never logged (they may hold passwords or personal data). The
row is written in its own transaction right after the feature's own.
"""

from __future__ import annotations

import logging
import time

from flask import current_app, g, request
from flask_login import current_user

from community.models import User
from rewards.audit.actions import append_action
from rewards.audit.epochs import close_epoch
from web.accessors import unit_of_work

log = logging.getLogger(__name__)

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
# Endpoints that are not admin actions, or that write their own audit row in the service.
NOT_LOGGED = {"auth.login", "auth.logout", "auth.register", "api.issue_token", "audit_api.close_epoch",
              "audit_api.export", "audit_api.erase", "audit.export", "audit.close_epoch",
              "account.erase", "account.admin_erase", "account_api.api_erase"}


def _acting_user():
    user = g.get("api_user")
    if user is None and current_user and current_user.is_authenticated:
        user = current_user
    return user


_last_due_check = [0.0]
DUE_CHECK_SECONDS = 300


def close_epoch_when_due() -> None:
    """Epochs close by themselves (daily by default, ``KOPA_EPOCH_SECONDS``): a running
    instance checks at most every five minutes, after a write request, whether the open
    epoch is old enough; ``flask kopa close-epoch --if-due`` does the same from cron."""
    now = time.monotonic()
    if now - _last_due_check[0] < DUE_CHECK_SECONDS:
        return
    _last_due_check[0] = now
    try:
        close_epoch(unit_of_work(), actor_id=None, only_if_due=True)
    except Exception:
        log.exception("could not close the due ledger epoch")


def record_action(response):
    """``after_app_request``: one audit-log row per successful admin/staff change."""
    if request.method in MUTATING and not current_app.testing:
        close_epoch_when_due()
    try:
        if request.method not in MUTATING or response.status_code >= 400 or request.url_rule is None:
            return response
        if request.endpoint in NOT_LOGGED or (request.endpoint or "").startswith("static"):
            return response
        user = _acting_user()
        if user is None or not (user.is_staff or user.is_admin):
            return response
        with unit_of_work() as uow:
            actor = uow.session.get(User, user.id)
            append_action(
                uow.session, actor, f"{request.method} {request.url_rule.rule}", request.path,
                {"endpoint": request.endpoint, "args": request.view_args or {},
                 "status": response.status_code},
            )
            uow.commit()
    except Exception:  # the feature's change is committed; never turn it into an error page
        log.exception("could not write the audit-log row for %s %s", request.method, request.path)
    return response
