"""Process pages: the list, a process's tree with progress, joining, and the managers' forms
(phases, objectives, tasks, status, prerequisites, settings, grants, applications, success
story). Staff create processes (empty or from a template) and clone them."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from community import access
from community.access import NodePath
from community.errors import DomainError, Forbidden, Unauthorized
from community.models import (
    Contribution,
    ContributionState,
    Grant,
    LibraryItem,
    Objective,
    Permission,
    Phase,
    Process,
    ProcessApplication,
    StoryOptIn,
    SuccessStory,
    Task,
    Team,
)
from community.processes import building, cloning, joining, outline, permissions, progress, success_stories
from web import bus, db_session, unit_of_work
from web.errors import status_of
from web.forms import (
    CloneForm,
    GrantForm,
    JoinForm,
    ObjectiveForm,
    PhaseForm,
    PlainForm,
    PrerequisiteForm,
    ProcessForm,
    SettingsForm,
    StatusForm,
    StoryForm,
    TaskForm,
)
from web.i18n import label
from web.portal import _get_or_404, _user, staff_required

bp = Blueprint("processes", __name__)

PERMISSION_LABELS = {
    Permission.VIEW: _l("view"),
    Permission.CONTRIBUTE: _l("contribute"),
    Permission.MANAGE: _l("manage"),
}
KIND_LABELS = {
    "process": _l("Process"), "phase": _l("Phase"), "objective": _l("Objective"), "task": _l("Task"),
}


def register(app: Flask) -> None:
    """The community pages: processes, teams, the resource library and success stories."""
    from web import library, teams

    app.register_blueprint(bp)
    app.register_blueprint(teams.bp)
    app.register_blueprint(library.bp)


# --- reading -----------------------------------------------------------------------------------


def _walk(tree: outline.TreeNode):
    """Every node of the tree, parents before children."""
    yield tree
    for child in tree.children:
        yield from _walk(child)


def _node_labels(tree: outline.TreeNode) -> dict[tuple[str, int], str]:
    labels: dict[tuple[str, int], str] = {("process", tree.id): _("the whole process")}
    for phase in tree.children:
        labels["phase", phase.id] = _("Phase · %(phase)s", phase=phase.title)
        for objective in phase.children:
            labels["objective", objective.id] = _(
                "Objective · %(phase)s › %(objective)s", phase=phase.title, objective=objective.title
            )
            for task in objective.children:
                labels["task", task.id] = _(
                    "Task · %(objective)s › %(task)s", objective=objective.title, task=task.title
                )
    return labels


def _grant_node(grant: Grant) -> tuple[str, int]:
    for kind in ("task", "objective", "phase"):
        node_id = getattr(grant, f"{kind}_id")
        if node_id is not None:
            return kind, node_id
    return "process", grant.process_id


FORMS: dict[str, tuple[type, str]] = {
    "phase_form": (PhaseForm, "phase"),
    "objective_form": (ObjectiveForm, "objective"),
    "task_form": (TaskForm, "task"),
    "prerequisite_form": (PrerequisiteForm, "prereq"),
    "settings_form": (SettingsForm, "settings"),
    "grant_form": (GrantForm, "grant"),
    "story_form": (StoryForm, "story"),
    "join_form": (JoinForm, "join"),
    "clone_form": (CloneForm, "clone"),
    "status_form": (StatusForm, ""),
}


def _make_form(name: str, session: Session, process: Process, tree: outline.TreeNode, posted: bool):
    """One of the page's forms with its choices; unposted forms show the current values."""
    cls, prefix = FORMS[name]
    values: dict = {}
    if name == "settings_form":
        values = {
            "membership": process.membership,
            "four_eyes_threshold": process.four_eyes_threshold,
            "points_cap": process.points_cap,
            "cap_period": process.cap_period,
        }
    elif name == "story_form":
        story = session.scalars(select(SuccessStory).where(SuccessStory.process_id == process.id)).first()
        if story is not None:
            values = {"summary": story.summary, "outcomes": story.outcomes}
    form = cls(prefix=prefix) if posted else cls(formdata=None, prefix=prefix, **values)
    labels = _node_labels(tree)
    nodes = [(f"{kind}:{node_id}", label) for (kind, node_id), label in labels.items() if kind != "process"]
    if name == "objective_form":
        form.phase_id.choices = [(p.id, p.title) for p in tree.children]
    elif name == "task_form":
        form.objective_id.choices = [
            (o.id, f"{p.title} › {o.title}") for p in tree.children for o in p.children
        ]
        form.resources.choices = [
            (item.id, f"{item.title} ({item.kind})")
            for item in session.scalars(select(LibraryItem).order_by(LibraryItem.title)).all()
        ]
    elif name == "prerequisite_form":
        form.node.choices = nodes
        form.requires.choices = nodes
    elif name == "grant_form":
        form.team_id.choices = [("", "— no team —")] + [
            (str(t.id), t.name) for t in session.scalars(select(Team).order_by(Team.name)).all()
        ]
        form.node.choices = [("process", "the whole process"), *nodes]
    return form


def _page(process: Process, status: int = 200, status_error: tuple | None = None, **overrides):
    session = db_session()
    user = _user()
    level = access.permission(session, user, NodePath(process.id))  # once for the whole page
    if not access.allows(user, level, Permission.VIEW):
        abort(404, description=_("process %(id)s not found", id=process.id))
    tree = outline.process_tree(session, process)
    may_manage = user is not None and access.allows(user, level, Permission.MANAGE)
    context: dict = {
        "process": process,
        "tree": tree,
        "may_manage": may_manage,
        "level": PERMISSION_LABELS.get(level),
        "joined": None,
        "took_part": False,
        "opted_in": False,
        "story": session.scalars(select(SuccessStory).where(SuccessStory.process_id == process.id)).first(),
        "plain_form": PlainForm(formdata=None),
        "status_error": status_error,
    }
    if user is not None:
        context["joined"] = joining.has_joined(session, user.id, process.id)
        context["took_part"] = (
            session.scalar(
                select(Contribution.id)
                .join(Task)
                .where(
                    Task.process_id == process.id,
                    Contribution.member_id == user.id,
                    Contribution.state == ContributionState.APPROVED.value,
                )
                .limit(1)
            )
            is not None
        )
        context["opted_in"] = (
            session.scalar(
                select(StoryOptIn.id).where(
                    StoryOptIn.process_id == process.id, StoryOptIn.user_id == user.id
                )
            )
            is not None
        )
    wanted = ["join_form"]
    if user is not None and user.is_staff:
        wanted.append("clone_form")
    if may_manage:
        wanted += [name for name in FORMS if name not in wanted]
        labels = _node_labels(tree)
        context["grants"] = [
            (grant, labels.get(_grant_node(grant), "?"))
            for grant in session.scalars(
                select(Grant).where(Grant.process_id == process.id).order_by(Grant.id)
            ).all()
        ]
        context["permission_labels"] = PERMISSION_LABELS
        context["applications"] = session.scalars(
            select(ProcessApplication)
            .where(ProcessApplication.process_id == process.id, ProcessApplication.state == "pending")
            .order_by(ProcessApplication.id)
        ).all()
    for name in wanted:
        context[name] = overrides.get(name) or _make_form(name, session, process, tree, posted=False)
    return render_template("community/process.html", **context), status


def _may_view_or_404(process: Process) -> None:
    if not permissions.may_view(db_session(), _user(), process.id):
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
    process = _get_or_404(Process, process_id)
    if managers_only:
        _require_manager(process)
    else:
        _may_view_or_404(process)
    session = db_session()
    form = _make_form(name, session, process, outline.process_tree(session, process), posted=True)
    if not form.validate_on_submit():
        return _page(process, 400, **{name: form})
    uow = unit_of_work()
    try:
        result = call(uow, form)
    except (Forbidden, Unauthorized):
        raise
    except DomainError as exc:
        form.form_errors.append(exc.message)
        return _page(process, status_of(exc), **{name: form})
    bus.dispatch(uow.events)
    flash(done(result) if callable(done) else done, "ok")
    if target is not None:
        return redirect(target(result))
    return redirect(url_for("processes.process", process_id=process_id, _anchor=anchor))


def _split_node(value: str) -> tuple[str, int | None]:
    kind, _, node_id = (value or "").partition(":")
    return kind, int(node_id) if node_id.isdigit() else None


# --- pages ---------------------------------------------------------------------------------------


@bp.get("/processes")
def index():
    session = db_session()
    # The trees (for the progress) and organisations of all processes in four queries.
    tree = selectinload(Process.phases).selectinload(Phase.objectives).selectinload(Objective.tasks)
    visible = permissions.visible_processes(session, _user(), tree, selectinload(Process.organisation))
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
    return _page(_get_or_404(Process, process_id, selectinload(Process.phases).selectinload(Phase.objectives)
                             .selectinload(Objective.tasks)))


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


@bp.post("/processes/<int:process_id>/phases")
@staff_required
def add_phase(process_id: int):
    return _handle(
        process_id,
        "phase_form",
        lambda uow, form: building.add_node(
            uow,
            actor_id=current_user.id,
            kind="phase",
            parent_id=process_id,
            title=form.title.data,
            description=form.description.data or "",
            starts_on=form.starts_on.data,
            ends_on=form.ends_on.data,
        ),
        _("Phase added."),
        anchor="tree",
    )


@bp.post("/processes/<int:process_id>/objectives")
@staff_required
def add_objective(process_id: int):
    return _handle(
        process_id,
        "objective_form",
        lambda uow, form: building.add_node(
            uow,
            actor_id=current_user.id,
            kind="objective",
            parent_id=form.phase_id.data,
            title=form.title.data,
            description=form.description.data or "",
            starts_on=form.starts_on.data,
            ends_on=form.ends_on.data,
        ),
        _("Objective added."),
        anchor="tree",
    )


@bp.post("/processes/<int:process_id>/tasks")
@staff_required
def add_task(process_id: int):
    return _handle(
        process_id,
        "task_form",
        lambda uow, form: building.add_node(
            uow,
            actor_id=current_user.id,
            kind="task",
            parent_id=form.objective_id.data,
            title=form.title.data,
            complexity=form.complexity.data,
            description=form.description.data or "",
            starts_on=form.starts_on.data,
            ends_on=form.ends_on.data,
            library_item_ids=form.resources.data or [],
        ),
        _("Task added."),
        anchor="tree",
    )


@bp.post("/processes/<int:process_id>/status")
@staff_required
def set_status(process_id: int):
    process = _get_or_404(Process, process_id)
    _require_manager(process)
    form = StatusForm()
    session = db_session()
    nodes = {(n.kind, n.id) for n in _walk(outline.process_tree(session, process))}
    node = (form.kind.data, int(form.node_id.data)) if (form.node_id.data or "").isdigit() else None
    if not form.validate_on_submit() or node not in nodes:
        return _page(process, 400, status_error=(node, _("Choose a status for a step of this process.")))
    try:
        progress.set_status(
            unit_of_work(), actor_id=current_user.id, kind=node[0], node_id=node[1], status=form.status.data
        )
    except (Forbidden, Unauthorized):
        raise
    except DomainError as exc:
        return _page(process, status_of(exc), status_error=(node, exc.message))
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
    grant_ = _get_or_404(Grant, grant_id)
    process_id = grant_.process_id
    if not PlainForm().validate_on_submit():
        abort(400, description=_("The form has expired; please try again."))
    try:
        permissions.revoke_grant(unit_of_work(), actor_id=current_user.id, grant_id=grant_id)
    except (Forbidden, Unauthorized):
        raise
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Permission removed."), "ok")
    return redirect(url_for("processes.process", process_id=process_id, _anchor="grants"))


@bp.post("/applications/<int:application_id>/<any(accept, decline):decision>")
@staff_required
def decide_application(application_id: int, decision: str):
    application = _get_or_404(ProcessApplication, application_id)
    process_id = application.process_id
    if not PlainForm().validate_on_submit():
        abort(400, description=_("The form has expired; please try again."))
    try:
        joining.decide_application(
            unit_of_work(),
            actor_id=current_user.id,
            application_id=application_id,
            accept=decision == "accept",
        )
    except (Forbidden, Unauthorized):
        raise
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Application accepted.") if decision == "accept" else _("Application declined."), "ok")
    return redirect(url_for("processes.process", process_id=process_id, _anchor="applications"))


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
    process = _get_or_404(Process, process_id)
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
