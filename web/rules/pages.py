"""Scoring-rule pages: list, new rule, edit (a new draft version), preview, publish, import
and export. Staff read and preview; admins change."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from community.errors import DomainError
from rewards.formula import FormulaError
from rewards.rules.events import EVENT_CONTEXT, EVENT_INPUTS, TIER
from rewards.rules.service import export_for, preview_rule, publish_rule, save_rule
from rewards.rules.transfer import import_rules
from rewards.rules.versions import get_rule, list_rules
from web.accessors import db_session, unit_of_work
from web.forms import PlainForm
from web.portal import admin_required, staff_required
from web.rules.forms import ImportForm, RuleForm
from web.usecase import back_to, run_use_case

bp = Blueprint("rules", __name__)


_FIELDS = {"id": "rule_id", "cap": "cap_points"}


def _show_error(form: RuleForm, exc: DomainError) -> None:
    """Put a service error next to the field it names."""
    name = "formula" if isinstance(exc, FormulaError) else getattr(exc, "field", "")
    target = getattr(form, _FIELDS.get(name, name), None) if name else None
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


def _inputs_help() -> list[tuple[str, tuple[str, ...], list[str]]]:
    return [(kind, inputs, sorted({TIER, *EVENT_CONTEXT[kind], *inputs}))
            for kind, inputs in EVENT_INPUTS.items()]


@bp.get("/admin/rules")
@staff_required
def index():
    return render_template(
        "rules.html", rules=list_rules(db_session()), import_form=ImportForm(), help=_inputs_help()
    )


def _save(form: RuleForm, rule_id: str, *, creating: bool) -> tuple[str, int] | None:
    if not form.validate_on_submit():
        return None
    try:
        return save_rule(unit_of_work(), actor_id=current_user.id, rule_id=rule_id,
                         data=form.definition(), new=creating)
    except DomainError as exc:
        _show_error(form, exc)
        return None


@bp.route("/admin/rules/new", methods=["GET", "POST"])
@admin_required
def new():
    form = RuleForm()
    saved = _save(form, (form.rule_id.data or "").strip(), creating=True)
    if saved:
        flash(_("Saved rule %(rule)s as draft version %(version)s. Preview it, then publish.",
                rule=saved[0], version=saved[1]), "ok")
        return redirect(url_for("rules.preview", rule_id=saved[0], version=saved[1]))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("rules_edit.html", form=form, rule=None, help=_inputs_help()), status


@bp.route("/admin/rules/<rule_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(rule_id: str):
    rule = get_rule(db_session(), rule_id)
    form = RuleForm()
    if not form.is_submitted() and rule.latest is not None:
        form.fill_from(rule.latest)
    saved = _save(form, rule.id, creating=False)
    if saved:
        flash(_("Saved draft version %(version)s of %(rule)s. Preview it, then publish.",
                rule=saved[0], version=saved[1]), "ok")
        return redirect(url_for("rules.preview", rule_id=saved[0], version=saved[1]))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("rules_edit.html", form=form, rule=rule, help=_inputs_help()), status


@bp.get("/admin/rules/<rule_id>")
@staff_required
def detail(rule_id: str):
    rule = get_rule(db_session(), rule_id)
    return render_template("rules_detail.html", rule=rule, form=PlainForm())


@bp.get("/admin/rules/<rule_id>/versions/<int:version>/preview")
@staff_required
def preview(rule_id: str, version: int):
    report = preview_rule(db_session(), actor_id=current_user.id, rule_id=rule_id, version=version)
    rule = get_rule(db_session(), rule_id)
    return render_template("rules_preview.html", rule=rule, version=version, report=report, form=PlainForm())


@bp.post("/admin/rules/<rule_id>/versions/<int:version>/publish")
@admin_required
def publish(rule_id: str, version: int):
    if not PlainForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("rules.preview", rule_id=rule_id, version=version))
    return run_use_case(
        lambda uow: publish_rule(uow, actor_id=current_user.id, rule_id=rule_id, version=version),
        done=_("Version %(version)s of %(rule)s is now current: new events score with it; past awards stay.",
               version=version, rule=rule_id),
        then=url_for("rules.detail", rule_id=rule_id),
        failed=back_to(url_for("rules.preview", rule_id=rule_id, version=version)),
    )


@bp.get("/admin/rules/export")
@login_required
def export():
    fmt = request.args.get("format", "yaml")
    text = export_for(db_session(), actor_id=current_user.id, fmt=fmt)
    return Response(
        text, mimetype="application/json" if fmt == "json" else "application/yaml",
        headers={"Content-Disposition": f"attachment; filename=kopa-rules.{fmt}"},
    )


@bp.post("/admin/rules/import")
@admin_required
def import_document():
    form = ImportForm()
    if not form.validate_on_submit():
        flash(_("The document is too large or the form has expired."), "error")
        return redirect(url_for("rules.index"))
    upload = request.files.get(form.upload.name)
    text = upload.read() if upload and upload.filename else (form.document.data or "")
    name = (upload.filename or "") if upload else ""
    try:
        result = import_rules(unit_of_work(), actor_id=current_user.id, text=text,
                              fmt="json" if name.endswith(".json") else None)
    except DomainError as exc:
        flash(_("Nothing was imported: %(reason)s", reason=exc.message), "error")
    else:
        counts = {"created": len(result.created), "published": len(result.published),
                  "unchanged": len(result.unchanged)}
        flash(_("Imported: %(created)s new versions (%(published)s published), "
                "%(unchanged)s rules unchanged.", **counts), "ok")
    return redirect(url_for("rules.index"))

