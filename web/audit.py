"""The auditor's portal (#7): ledger explorer, reconciliation, validator statistics, epochs,
exports and the audit log; the ``flask kopa reconcile|verify-audit-log|close-epoch``
commands; and the hook that writes admin and staff actions into the hash-chained log.

Recording actions: rather than editing every feature's services, ``after_app_request``
looks at each state-changing request (POST/PUT/PATCH/DELETE) that succeeded (status < 400)
and was made by a staff member or admin (portal session or API token) and appends one row:
the route rule (e.g. ``POST /admin/rules/<rule_id>/publish``), the concrete path, the
endpoint and its URL arguments. Request bodies are never logged (they may hold passwords or
personal data). The row is written in its own transaction right after the feature's own.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import sys
import time
import zipfile

import click
from flask import Blueprint, Flask, current_app, g, render_template, request, send_file
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_login import current_user

from community.errors import DomainError, Forbidden
from community.models import User
from rewards.audit.access import require_auditor
from rewards.audit.actions import (
    LOG_ROLES,
    append_action,
    audit_log_actions,
    audit_log_search,
    verify_audit_log,
)
from rewards.audit.epochs import close_epoch as close_audit_epoch
from rewards.audit.epochs import list_epochs
from rewards.audit.explorer import STATES, ledger_page, parse_day
from rewards.audit.exports import export_files, export_manifest, export_rows, log_export
from rewards.audit.validators import validator_stats
from web import chain_reader, database, db_session, unit_of_work, vault
from web.portal import _requires

log = logging.getLogger(__name__)

bp = Blueprint("audit", __name__, url_prefix="/audit")
auditor_required = _requires("is_auditor", "only auditors see the audit pages")

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
        close_audit_epoch(unit_of_work(), actor_id=None, only_if_due=True)
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


# --- pages ----------------------------------------------------------------------------------


def _filters() -> dict:
    args = request.args

    def row_id(name):
        raw = args.get(name, "").strip()
        return int(raw) if raw.isascii() and raw.isdigit() else (raw or None)

    return {
        "member": row_id("member"), "process": row_id("process"), "validator": row_id("validator"),
        "state": args.get("state") or None,
        "since": parse_day(args.get("from"), "from"),
        "until": parse_day(args.get("until"), "until"),
        "search": args.get("q") or None, "tx_hash": args.get("tx") or None, "before": row_id("before"),
        "limit": row_id("limit") if isinstance(row_id("limit"), int) else 50,
    }


@bp.get("/")
@auditor_required
def ledger():
    error = None
    page = {"items": [], "next": None}
    try:
        page = ledger_page(db_session(), current_user, **_filters())
    except DomainError as exc:
        error = str(exc)
    return render_template("audit/ledger.html", page=page, error=error, args=request.args,
                           states=STATES)


@bp.get("/reconciliation")
@auditor_required
def reconciliation():
    report = audit_report()
    return render_template("audit/reconciliation.html", report=report)


def audit_report() -> dict:
    from rewards.chain.audit import reconcile

    return reconcile(db_session(), chain_reader().w3)


@bp.get("/validators")
@auditor_required
def validators():
    return render_template("audit/validators.html", stats=validator_stats(db_session(), current_user))


@bp.get("/epochs")
@auditor_required
def epochs():
    return render_template("audit/epochs.html", epochs=list_epochs(db_session(), current_user))


@bp.post("/epochs")
@auditor_required
def close_epoch():
    from flask import flash, redirect, url_for

    try:
        result = close_audit_epoch(unit_of_work(), actor_id=current_user.id)
        flash(_("Epoch %(epoch)s closed with %(count)s entries; anchoring is queued.", epoch=result["epoch"],
                count=result["entry_count"]))
    except Forbidden:
        raise  # auditors read; only admins close epochs: a 403, not a flash
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("audit.epochs"))


def log_filters(args) -> dict:
    """Query arguments of the action log (page and API); a date-only ``until`` includes that day."""

    def row_id(name):
        raw = (args.get(name) or "").strip()
        return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else (raw or None)

    until_raw = (args.get("until") or "").strip()
    until = parse_day(until_raw, "until")
    if until is not None and len(until_raw) == 10:
        until += dt.timedelta(days=1)
    limit = (args.get("limit") or "").strip()
    return {
        "actor": row_id("actor"), "role": (args.get("role") or "").strip() or None,
        "action": (args.get("action") or "").strip() or None,
        "subject": (args.get("subject") or "").strip() or None,
        "since": parse_day((args.get("from") or "").strip(), "from"), "until": until,
        "before": row_id("before"),
        "limit": int(limit) if limit.isascii() and limit.isdigit() and len(limit) < 6 else 50,
    }


@bp.get("/log")
@auditor_required
def audit_log():
    """The hash-chained action log: who did what to which target, filtered and paged."""
    session = db_session()
    error, status = None, 200
    page = {"items": [], "next": None}
    try:
        page = audit_log_search(session, current_user, **log_filters(request.args))
    except DomainError as exc:
        error, status = str(exc), 400
    keep = {k: v for k, v in request.args.items() if k not in ("before",) and v}
    return render_template("audit/log.html", page=page, error=error, args=request.args, keep=keep,
                           roles=LOG_ROLES, actions=audit_log_actions(session),
                           problems=verify_audit_log(session)), status


@bp.get("/exports")
@auditor_required
def exports():
    return render_template("audit/exports.html")


def build_export(viewer_id: int, since_raw: str | None, until_raw: str | None) -> dict:
    """Files, manifest and signature of a ledger export; the export is logged."""
    from rewards.chain.audit import chain_facts, platform_address, sign_manifest

    session = db_session()
    require_auditor(session, viewer_id)
    since, until = parse_day(since_raw, "from"), parse_day(until_raw, "until")
    rows = export_rows(session, since, until)
    files = export_files(rows)
    with database().write_sessions() as write:
        signer = platform_address(write, vault())
        manifest = export_manifest(files, since=since, until=until, rows=rows,
                                   chain=chain_facts(session, chain_reader().w3), signer=signer)
        _, signature = sign_manifest(write, vault(), manifest)
    log_export(unit_of_work(), viewer_id, manifest, signature)
    return {"files": files, "manifest": manifest, "signature": signature, "signer": signer}


@bp.post("/exports")
@auditor_required
def export():
    result = build_export(current_user.id, request.form.get("from"), request.form.get("until"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in result["files"].items():
            bundle.writestr(name, data)
        bundle.writestr("manifest.json", result["manifest"])
        bundle.writestr("manifest.sig", result["signature"] + "\n")
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True, download_name="kopa-ledger.zip")


# --- commands -------------------------------------------------------------------------------


@click.command("reconcile")
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def reconcile_command(as_json: bool) -> None:
    """Compare the ledger with balanceOf and replayed events; exit 1 on any mismatch."""
    from rewards.chain.audit import reconcile
    from rewards.chain.client import connect

    with database().read_sessions() as session:
        report = reconcile(session, connect(current_app.config["KOPA_RPC_URL"]))
    if as_json:
        click.echo(json.dumps(report, indent=1, default=str))
    else:
        click.echo(f"holders: {len(report['holders'])}, ledger total {report['ledger_total']}, "
                   f"delivered {report.get('delivered_total')}, total supply {report['total_supply']}, "
                   f"pending items {len(report['pending'])}")
        for m in report["mismatches"]:
            click.echo(f"MISMATCH {m['kind']}: {m['detail']} (entries {m.get('entries', [])})")
    if not report["ok"]:
        click.echo(f"reconciliation FAILED: {len(report['mismatches'])} mismatch(es)", err=True)
        sys.exit(1)
    click.echo("reconciliation ok")


@click.command("verify-audit-log")
@with_appcontext
def verify_audit_log_command() -> None:
    """Walk the hash-chained audit log; exit 1 if any row was altered, deleted or reordered."""
    with database().read_sessions() as session:
        problems = verify_audit_log(session)
    for problem in problems:
        click.echo(f"BROKEN {problem}")
    if problems:
        sys.exit(1)
    click.echo("audit log intact")


@click.command("close-epoch")
@with_appcontext
@click.option("--if-due", is_flag=True, help="Only when the open epoch is KOPA_EPOCH_SECONDS old (cron).")
def close_epoch_command(if_due: bool) -> None:
    """Close the open ledger epoch and queue its root for anchoring."""
    try:
        result = close_audit_epoch(database().unit_of_work(), actor_id=None, only_if_due=if_due)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("no epoch due" if result is None else f"epoch {result['epoch']} closed: {result}")


def register(app: Flask) -> None:
    from web import account, audit_api

    app.register_blueprint(bp)
    app.register_blueprint(audit_api.bp)
    account.register(app)  # the member's data export and erasure; admins' erasure (#9)
    app.after_request(record_action)
    from web.cli import kopa  # the commands join the existing `flask kopa` group

    for command in (reconcile_command, verify_audit_log_command, close_epoch_command):
        kopa.add_command(command)
