"""The process page: the tree's labels, the managers' forms with their choices and the
page itself, which the process views render again with a form's errors."""

from __future__ import annotations

from flask import abort, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from community import access
from community.access import NodePath
from community.models import (
    Contribution,
    ContributionState,
    Grant,
    LibraryItem,
    Permission,
    Process,
    ProcessApplication,
    StoryOptIn,
    SuccessStory,
    Task,
    Team,
)
from community.processes import joining, outline
from web.accessors import db_session
from web.forms import PlainForm
from web.portal import user_or_none
from web.processes.forms import (
    CloneForm,
    GrantForm,
    JoinForm,
    ObjectiveForm,
    PhaseForm,
    PrerequisiteForm,
    SettingsForm,
    StatusForm,
    StoryForm,
    TaskForm,
)

PERMISSION_LABELS = {
    Permission.VIEW: _l("view"),
    Permission.CONTRIBUTE: _l("contribute"),
    Permission.MANAGE: _l("manage"),
}
KIND_LABELS = {
    "process": _l("Process"), "phase": _l("Phase"), "objective": _l("Objective"), "task": _l("Task"),
}


def walk(tree: outline.TreeNode):
    """Every node of the tree, parents before children."""
    yield tree
    for child in tree.children:
        yield from walk(child)


def node_labels(tree: outline.TreeNode) -> dict[tuple[str, int], str]:
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


def grant_node(grant: Grant) -> tuple[str, int]:
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


def make_form(name: str, session: Session, process: Process, tree: outline.TreeNode, posted: bool):
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
    labels = node_labels(tree)
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


def process_page(process: Process, status: int = 200, status_error: tuple | None = None, **overrides):
    session = db_session()
    user = user_or_none()
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
        labels = node_labels(tree)
        context["grants"] = [
            (grant, labels.get(grant_node(grant), "?"))
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
        context[name] = overrides.get(name) or make_form(name, session, process, tree, posted=False)
    return render_template("community/process.html", **context), status
