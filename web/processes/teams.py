"""Team pages: the list, creating a team, its members (team admins and staff add, remove and
promote them) and the permissions the team holds in processes."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from community.errors import DomainError, Forbidden, Unauthorized
from community.models import Grant, Objective, Phase, Process, Task, Team, TeamMember
from community.processes import teamwork
from web.accessors import db_session
from web.errors import status_of
from web.forms import PlainForm
from web.portal import get_or_404
from web.processes.forms import TeamForm, TeamMemberForm
from web.usecase import run_use_case

bp = Blueprint("teams", __name__)


def _teams_page(form: TeamForm, status: int = 200):
    session = db_session()
    counts = dict(
        session.execute(select(TeamMember.team_id, func.count()).group_by(TeamMember.team_id)).all()
    )
    mine = set(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == current_user.id)).all())
    rows = session.scalars(select(Team).order_by(Team.name)).all()
    return render_template("community/teams.html", teams=rows, counts=counts, mine=mine, form=form), status


@bp.get("/teams")
@login_required
def index():
    return _teams_page(TeamForm(formdata=None))


@bp.post("/teams")
@login_required
def create():
    form = TeamForm()
    if not form.validate_on_submit():
        return _teams_page(form, 400)

    def failed(exc: DomainError):
        form.form_errors.append(exc.message)
        return _teams_page(form, status_of(exc))

    return run_use_case(
        lambda uow: teamwork.create_team(
            uow,
            actor_id=current_user.id,
            name=form.name.data,
            kind=form.kind.data,
            description=form.description.data or "",
        ),
        done=_("Team created; you are its admin."),
        then=lambda team_id: url_for("teams.team", team_id=team_id),
        failed=failed,
    )


def _is_team_admin(team: Team) -> bool:
    return current_user.is_staff or any(m.user_id == current_user.id and m.is_admin for m in team.members)


def _team_page(team: Team, form: TeamMemberForm | None = None, status: int = 200, error: str | None = None):
    session = db_session()
    grants = []
    for grant in session.scalars(
        select(Grant).where(Grant.team_id == team.id).order_by(Grant.process_id, Grant.id)
    ).all():
        where = "the whole process"
        for kind, model in (("task", Task), ("objective", Objective), ("phase", Phase)):
            node_id = getattr(grant, f"{kind}_id")
            if node_id is not None:
                where = f"{kind} · {session.get(model, node_id).title}"
                break
        grants.append((grant, session.get(Process, grant.process_id).title, where))
    return render_template(
        "community/team.html",
        team=team,
        may_admin=_is_team_admin(team),
        form=form or TeamMemberForm(formdata=None),
        plain_form=PlainForm(formdata=None),
        grants=grants,
        error=error,
    ), status


@bp.get("/teams/<int:team_id>")
@login_required
def team(team_id: int):
    return _team_page(get_or_404(Team, team_id))


def _require_team_admin(team: Team) -> None:
    """Checked before reading the form, so outsiders get 403 rather than form errors."""
    if not _is_team_admin(team):
        raise Forbidden("only the team's admins or staff manage its members")


@bp.post("/teams/<int:team_id>/members")
@login_required
def add_member(team_id: int):
    team_ = get_or_404(Team, team_id)
    _require_team_admin(team_)
    form = TeamMemberForm()
    if not form.validate_on_submit():
        return _team_page(team_, form, 400)

    def failed(exc: DomainError):
        form.form_errors.append(exc.message)
        return _team_page(team_, form, status_of(exc))

    return run_use_case(  # its events: team boards and places follow membership
        lambda uow: teamwork.add_team_member(
            uow, actor_id=current_user.id, team_id=team_id, email=form.email.data,
            is_admin=form.is_admin.data,
        ),
        done=_("Member added."), then=url_for("teams.team", team_id=team_id),
        failed=failed, raises=(Forbidden, Unauthorized),
    )


@bp.post("/teams/<int:team_id>/members/<int:user_id>/<any(remove, admin):action>")
@login_required
def member_action(team_id: int, user_id: int, action: str):
    team_ = get_or_404(Team, team_id)
    _require_team_admin(team_)
    if not PlainForm().validate_on_submit():
        abort(400, description=_("The form has expired; please try again."))
    member = next((m for m in team_.members if m.user_id == user_id), None)
    if member is None:
        abort(404, description=_("that user is not in the team"))

    def call(uow):
        if action == "remove":
            teamwork.remove_team_member(uow, actor_id=current_user.id, team_id=team_id, user_id=user_id)
        else:
            teamwork.add_team_member(
                uow, actor_id=current_user.id, team_id=team_id, email=member.user.email, is_admin=True,
            )

    return run_use_case(
        call,
        done=_("Member removed.") if action == "remove" else _("Member is now a team admin."),
        then=url_for("teams.team", team_id=team_id),
        failed=lambda exc: _team_page(team_, status=status_of(exc), error=exc.message),
        raises=(Forbidden, Unauthorized),
    )
