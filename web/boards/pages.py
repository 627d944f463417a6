"""Leaderboard pages: boards by scope, period and dimension, the viewer's own place, staff
freezes, the board profile (opt-out, pseudonym) and the wall display.

Board reads go through the standings cache: a cached read of a public board runs no SQL.
"""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from community import access
from community.errors import DomainError, Forbidden
from community.models import Membership, Permission, Process, Team, TeamMember, User
from rewards import boards
from rewards.standings import TOP_N, Board, BoardKey
from web import portal
from web.accessors import db_session, standings_cache
from web.boards.forms import FreezeForm, ProfileForm
from web.usecase import run_use_case

bp = Blueprint("boards", __name__)

PERIOD_NAMES = {"week": _l("This week"), "month": _l("This month"), "all": _l("All time"),
                "last_week": _l("Last week's winners"), "last_month": _l("Last month's winners")}
WALL_ROTATION_SECONDS = 15


def period_names() -> dict[str, str]:
    """Period names in the reader's language (the wall hands them to its script as JSON)."""
    return {key: str(name) for key, name in PERIOD_NAMES.items()}

WALL_PROCESSES = 6


def _key_from_args(args) -> BoardKey:
    return BoardKey.parse(args.get("scope"), args.get("period"), args.get("dimension"))


def _viewable(board: Board, user: User | None) -> None:
    """Public boards for anyone; an invite-only process's board for those who may view it."""
    if board.public:
        return
    if user is None:
        raise Forbidden("this board is not public: log in")
    _, _, raw = board.key.scope.partition(":")
    path = access.path_of(db_session(), "process", int(raw))
    access.require(db_session(), user, Permission.VIEW, path, "you may not view this process")


def board_json(board: Board, viewer_id: int | None = None) -> dict:
    data = {
        "scope": board.key.scope,
        "period": board.key.period,
        "dimension": board.key.dimension,
        "title": board.title,
        "version": standings_cache().version,
        "frozen": board.frozen_at is not None,
        "frozen_at": board.frozen_at,
        "top": board.top(TOP_N),
    }
    if viewer_id is not None:
        data["me"] = standings_cache().place(board.key, viewer_id)
    return data


@portal.bp.get("/leaderboard")
def leaderboard():
    """Pick a board; see its top and your own place."""
    key = _key_from_args(request.args)
    user = current_user if current_user.is_authenticated else None
    board = standings_cache().board(key)
    _viewable(board, user)
    session = db_session()
    processes = session.scalars(
        select(Process).where(Process.membership != Membership.INVITE).order_by(Process.title)
    ).all()
    teams = session.scalars(select(Team).order_by(Team.name)).all()
    my_teams = set()
    if user is not None:
        my_teams = set(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user.id)))
    return render_template(
        "leaderboard.html", board=board, standings=board.standings()[:TOP_N], key=key,
        me=standings_cache().place(key, user.id) if user is not None else None, periods=period_names(),
        processes=processes, teams=teams, my_teams=my_teams, freeze_form=FreezeForm(),
    )


@bp.get("/leaderboard/me.json")
@login_required
def my_place():
    """The viewer's place on one board, for the live page after each push."""
    board = standings_cache().board(_key_from_args(request.args))
    _viewable(board, current_user)
    return jsonify(board_json(board, current_user.id))


def _freeze_action(action) -> object:
    form = FreezeForm()
    back = url_for("portal.leaderboard", scope=form.scope.data or None, period=form.period.data or None,
                   dimension=form.dimension.data or None)
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(back)
    def failed(exc: DomainError):
        flash(exc.message, "error")
        return redirect(back)

    return run_use_case(
        lambda uow: action(uow, actor_id=current_user.id,
                           key=BoardKey.parse(form.scope.data, form.period.data, form.dimension.data)),
        done=_("Board frozen: viewers see it as it stands now.") if action is boards.freeze_board
        else _("Board unfrozen: viewers see live standings again."),
        then=back, failed=failed, raises=(Forbidden,),
    )


@bp.post("/leaderboard/freeze")
@login_required
def freeze():
    return _freeze_action(boards.freeze_board)


@bp.post("/leaderboard/unfreeze")
@login_required
def unfreeze():
    return _freeze_action(boards.unfreeze_board)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """Board profile: a pseudonym, or no place on boards others see."""
    form = ProfileForm()
    if request.method == "GET":
        form.pseudonym.data = current_user.board_pseudonym or ""
        form.opt_out.data = bool(current_user.board_opt_out)
    elif form.validate_on_submit():
        def failed(exc: DomainError) -> None:
            form.pseudonym.errors = [*form.pseudonym.errors, exc.message]

        answer = run_use_case(
            lambda uow: boards.update_board_profile(
                uow, member_id=current_user.id, opt_out=bool(form.opt_out.data), pseudonym=form.pseudonym.data
            ),
            done=_("Profile saved."), then=url_for("boards.profile"), failed=failed,
        )
        if answer is not None:
            return answer
    status = 400 if form.errors else 200
    return render_template("boards/profile.html", form=form), status


@bp.get("/wall")
def wall():
    """The innovation centre's screens: public boards only, rotating, no login."""
    rotation = [BoardKey("community", "week"), BoardKey("community", "month"), BoardKey("community", "all"),
                BoardKey("teams", "month")]
    rotation += [
        BoardKey(f"process:{pid}", "all")
        for pid in db_session().scalars(
            select(Process.id).where(Process.membership != Membership.INVITE)
            .order_by(Process.id.desc()).limit(WALL_PROCESSES)
        )
    ]
    first = standings_cache().board(rotation[0])
    seconds = request.args.get("seconds", "")
    seconds = min(max(int(seconds), 5), 300) if seconds.isdigit() else WALL_ROTATION_SECONDS
    return render_template(
        "boards/wall.html", board=first, standings=first.standings()[:10], periods=period_names(),
        rotation=[{"scope": k.scope, "period": k.period} for k in rotation], seconds=seconds,
    )
