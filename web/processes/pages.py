"""Process pages: the list, a process's tree with progress, joining, and the managers' forms
(phases, objectives, tasks, status, prerequisites, settings, grants, applications, success
story). Staff create processes (empty or from a template) and clone them."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from community import access
from community.access import NodePath
from community.errors import DomainError, Forbidden, Unauthorized
from community.models import (
    Grant,
    Objective,
    Permission,
    Phase,
    Process,
    ProcessApplication,
)
from community.processes import building, cloning, joining, outline, permissions, progress, success_stories
from web.accessors import db_session, unit_of_work
from web.errors import status_of
from web.forms import PlainForm
from web.i18n import label
from web.portal import get_or_404, staff_required, user_or_none
from web.processes.forms import (
    ProcessForm,
    StatusForm,
)
from web.processes.view import KIND_LABELS, make_form, process_page, walk
from web.usecase import back_to, run_use_case

bp = Blueprint("processes", __name__)


def _may_view_or_404(process: Process) -> None:
    if not permissions.may_view(db_session(), user_or_none(), process.id):
        abort(404, description=_("process %(id)s not found", id=process.id))


def _require_manager(process: Process) -> None:
    """Checked before reading the form, so outsiders get 403 rather than form errors."""
    _may_view_or_404(process)
    if not access.can(db_session(), current_user, Permission.MANAGE, NodePath(process.id)):
        raise Forbidden("only the process's managers can do this")


def _handle(
    process_id: int,
    name: str,
    call: Callable,
    done: str | Callable,
    *,
    anchor: str = "",
    managers_only: bool = True,
    target: Callable | None = None,
):
    """Validate the posted form, call one service, then back to the page; errors go onto
    the form (400, or the domain error's status) and nothing is written."""
    process = get_or_404(Process, process_id)
    if managers_only:
        _require_manager(process)
    else:
        _may_view_or_404(process)
    session = db_session()
    form = make_form(name, session, process, outline.process_tree(session, process), posted=True)
    if not form.validate_on_submit():
        return process_page(process, 400, **{name: form})

    def failed(exc: DomainError):
        form.form_errors.append(exc.message)
        return process_page(process, status_of(exc), **{name: form})

    return run_use_case(
        lambda uow: call(uow, form), done=done, failed=failed, raises=(Forbidden, Unauthorized),
        then=target or (lambda _result: url_for("processes.process", process_id=process_id, _anchor=anchor)),
    )


def _split_node(value: str) -> tuple[str, int | None]:
    kind, _, node_id = (value or "").partition(":")
    return kind, int(node_id) if node_id.isdigit() else None


# --- pages ---------------------------------------------------------------------------------------


@bp.get("/processes")
def index():
    session = db_session()
    # The trees (for the progress) and organisations of all processes in four queries.
    tree = selectinload(Process.phases).selectinload(Phase.objectives).selectinload(Objective.tasks)
    visible = permissions.visible_processes(session, user_or_none(), tree, selectinload(Process.organisation))
    rows = [(p, outline.process_tree(session, p, requires=False).progress) for p in visible]
    return render_template("community/processes.html", processes=rows)


@bp.route("/processes/new", methods=["GET", "POST"])
@staff_required
def new():
    form = ProcessForm()
    status = 200
    if form.validate_on_submit():
        uow = unit_of_work()
        try:
            process_id = building.create_process(
                uow,
                actor_id=current_user.id,
                title=form.title.data,
                description=form.description.data or "",
                membership=form.membership.data,
                template=form.template.data or None,
                organisation=form.organisation.data or None,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
            )
        except DomainError as exc:
            form.form_errors.append(exc.message)
            status = status_of(exc)
        else:
            flash(_("Process created. Add phases, objectives and tasks, then invite people."), "ok")
            return redirect(url_for("processes.process", process_id=process_id))
    elif form.errors:
        status = 400
    return render_template("community/process_form.html", form=form), status


@bp.get("/processes/<int:process_id>")
def process(process_id: int):
    # The tree in three queries, not one per phase and objective.
    tree = selectinload(Process.phases).selectinload(Phase.objectives).selectinload(Objective.tasks)
    return process_page(get_or_404(Process, process_id, tree))


@bp.post("/processes/<int:process_id>/clone")
@staff_required
def clone(process_id: int):
    return _handle(
        process_id,
        "clone_form",
        lambda uow, form: cloning.clone_process(
            uow, actor_id=current_user.id, source_id=process_id, title=form.title.data or None
        ),
        _("Process cloned: this is the copy, with fresh statuses and no contributions."),
        managers_only=False,
        target=lambda new_id: url_for("processes.process", process_id=new_id),
    )


@bp.post("/processes/<int:process_id>/join")
@login_required
def join(process_id: int):
    return _handle(
        process_id,
        "join_form",
        lambda uow, form: joining.apply_to_process(
            uow, user_id=current_user.id, process_id=process_id, message=form.message.data or ""
        ),
        lambda state: _("You have joined the process.") if state == "accepted"
        else _("Your application is pending: the process's managers will decide."),
        managers_only=False,
        anchor="join",
    )


# A new node of the tree: its form, the form's field naming the parent (a phase's parent is
# the process itself) and the message.
NEW_NODES = {
    "phase": ("phase_form", None, _l("Phase added.")),
    "objective": ("objective_form", "phase_id", _l("Objective added.")),
    "task": ("task_form", "objective_id", _l("Task added.")),
}


def add_node(kind: str, process_id: int):
    """Add a phase, objective or task from its form on the process page."""
    name, parent_field, done = NEW_NODES[kind]

    def call(uow, form):
        parent_id = form[parent_field].data if parent_field else process_id
        fields = {
            "title": form.title.data,
            "description": form.description.data or "",
            "starts_on": form.starts_on.data,
            "ends_on": form.ends_on.data,
        }
        if kind == "task":
            fields.update(complexity=form.complexity.data, library_item_ids=form.resources.data or [])
        return building.add_node(uow, actor_id=current_user.id, kind=kind, parent_id=parent_id, **fields)

    return _handle(process_id, name, call, lambda _id: str(done), anchor="tree")


for _kind in NEW_NODES:  # endpoints processes.add_phase, .add_objective, .add_task
    bp.add_url_rule(f"/processes/<int:process_id>/{_kind}s", f"add_{_kind}",
                    staff_required(partial(add_node, _kind)), methods=["POST"])


@bp.post("/processes/<int:process_id>/status")
@staff_required
def set_status(process_id: int):
    process = get_or_404(Process, process_id)
    _require_manager(process)
    form = StatusForm()
    session = db_session()
    nodes = {(n.kind, n.id) for n in walk(outline.process_tree(session, process))}
    node = (form.kind.data, int(form.node_id.data)) if (form.node_id.data or "").isdigit() else None
    if not form.validate_on_submit() or node not in nodes:
        error = _("Choose a status for a step of this process.")
        return process_page(process, 400, status_error=(node, error))
    try:
        progress.set_status(
            unit_of_work(), actor_id=current_user.id, kind=node[0], node_id=node[1], status=form.status.data
        )
    except (Forbidden, Unauthorized):
        raise
    except DomainError as exc:
        return process_page(process, status_of(exc), status_error=(node, exc.message))
    flash(_("%(step)s is now %(status)s.", step=KIND_LABELS[node[0]], status=label(form.status.data)), "ok")
    return redirect(url_for("processes.process", process_id=process_id, _anchor=f"{node[0]}-{node[1]}"))


@bp.post("/processes/<int:process_id>/prerequisites")
@staff_required
def add_prerequisite(process_id: int):
    def call(uow, form):
        kind, node_id = _split_node(form.node.data)
        _, requires_id = _split_node(form.requires.data)
        progress.add_prerequisite(
            uow, actor_id=current_user.id, kind=kind, node_id=node_id, requires_id=requires_id
        )

    return _handle(process_id, "prerequisite_form", call, _("Prerequisite added."), anchor="tree")


@bp.post("/processes/<int:process_id>/settings")
@staff_required
def settings(process_id: int):
    return _handle(
        process_id,
        "settings_form",
        lambda uow, form: building.update_process_settings(
            uow,
            actor_id=current_user.id,
            process_id=process_id,
            four_eyes_threshold=form.four_eyes_threshold.data,
            points_cap=form.points_cap.data,
            cap_period=form.cap_period.data,
            membership=form.membership.data,
        ),
        _("Settings saved."),
        anchor="settings",
    )


@bp.post("/processes/<int:process_id>/grants")
@staff_required
def grant(process_id: int):
    def call(uow, form):
        kind, node_id = _split_node(form.node.data)
        return permissions.grant_permission(
            uow,
            actor_id=current_user.id,
            process_id=process_id,
            permission_name=form.permission.data,
            team_id=int(form.team_id.data) if form.team_id.data else None,
            user_email=form.user_email.data or None,
            node_kind=kind,
            node_id=node_id,
        )

    return _handle(process_id, "grant_form", call, _("Permission granted."), anchor="grants")


@bp.post("/grants/<int:grant_id>/revoke")
@staff_required
def revoke_grant(grant_id: int):
    grant_ = get_or_404(Grant, grant_id)
    process_id = grant_.process_id
    if not PlainForm().validate_on_submit():
        abort(400, description=_("The form has expired; please try again."))
    back = url_for("processes.process", process_id=process_id, _anchor="grants")
    return run_use_case(
        lambda uow: permissions.revoke_grant(uow, actor_id=current_user.id, grant_id=grant_id),
        done=_("Permission removed."), then=back, failed=back_to(back), raises=(Forbidden, Unauthorized),
    )


@bp.post("/applications/<int:application_id>/<any(accept, decline):decision>")
@staff_required
def decide_application(application_id: int, decision: str):
    application = get_or_404(ProcessApplication, application_id)
    process_id = application.process_id
    if not PlainForm().validate_on_submit():
        abort(400, description=_("The form has expired; please try again."))
    back = url_for("processes.process", process_id=process_id, _anchor="applications")
    return run_use_case(
        lambda uow: joining.decide_application(
            uow, actor_id=current_user.id, application_id=application_id, accept=decision == "accept"
        ),
        done=_("Application accepted.") if decision == "accept" else _("Application declined."),
        then=back,
        failed=back_to(back),
        raises=(Forbidden, Unauthorized),
    )


@bp.post("/processes/<int:process_id>/story")
@staff_required
def publish_story(process_id: int):
    return _handle(
        process_id,
        "story_form",
        lambda uow, form: success_stories.publish_story(
            uow,
            actor_id=current_user.id,
            process_id=process_id,
            summary=form.summary.data,
            outcomes=form.outcomes.data,
        ),
        _("Success story published."),
        target=lambda _id: url_for("library.stories"),
    )


@bp.post("/processes/<int:process_id>/story/<any(in, out):choice>")
@login_required
def opt_in(process_id: int, choice: str):
    process = get_or_404(Process, process_id)
    _may_view_or_404(process)
    if not PlainForm().validate_on_submit():
        abort(400, description=_("The form has expired; please try again."))
    success_stories.opt_in_story(
        unit_of_work(), user_id=current_user.id, process_id=process_id, opt_in=choice == "in"
    )
    flash(
        _("You will be named in the success story.") if choice == "in"
        else _("You will not be named in the success story."),
        "ok",
    )
    return redirect(url_for("processes.process", process_id=process_id, _anchor="story"))
