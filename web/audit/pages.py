"""The auditor's portal (#7): ledger explorer, reconciliation, validator statistics, epochs,
exports and the audit log. The hook that writes admin and staff actions into the
hash-chained log is in log.py; the ``flask kopa`` audit commands are in web/cli.py."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from flask import Blueprint, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from community.errors import DomainError, Forbidden
from rewards.audit.access import require_auditor
from rewards.audit.actions import LOG_ROLES, audit_log_actions, audit_log_search, verify_audit_log
from rewards.audit.epochs import close_epoch as close_audit_epoch
from rewards.audit.epochs import list_epochs
from rewards.audit.explorer import STATES, ledger_page, parse_day
from rewards.audit.exports import export_files, export_manifest, export_rows, log_export
from rewards.audit.validators import validator_stats
from web.accessors import chain_reader, database, db_session, unit_of_work, vault
from web.portal import requires
from web.usecase import back_to, run_use_case

bp = Blueprint("audit", __name__, url_prefix="/audit")
auditor_required = requires("is_auditor", "only auditors see the audit pages")


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
    back = url_for("audit.epochs")
    return run_use_case(
        lambda uow: close_audit_epoch(uow, actor_id=current_user.id),
        done=lambda result: _("Epoch %(epoch)s closed with %(count)s entries; anchoring is queued.",
                              epoch=result["epoch"], count=result["entry_count"]),
        then=back,
        failed=back_to(back),
        raises=(Forbidden,),  # auditors read; only admins close epochs: a 403, not a flash
    )


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
