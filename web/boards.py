"""Leaderboard pages and API: boards by scope, period and dimension, the viewer's own place,
staff freezes, the board profile (opt-out, pseudonym) and the wall display.

Board reads go through the standings cache: a cached read of a public board over the API
runs no SQL at all.
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import Length, Optional

from community import access
from community.errors import DomainError, Forbidden, InvalidInput
from community.models import Membership, Permission, Process, Team, TeamMember, User
from rewards import boards
from rewards.standings import PERIODS, TOP_N, Board, BoardKey
from web import bus, db_session, standings_cache, unit_of_work
from web.api import json_body, token_required
from web.openapi import LIST, op

bp = Blueprint("boards", __name__)
api_bp = Blueprint("boards_api", __name__, url_prefix="/api/v1")

PERIOD_NAMES = {"week": _l("This week"), "month": _l("This month"), "all": _l("All time"),
                "last_week": _l("Last week's winners"), "last_month": _l("Last month's winners")}
WALL_ROTATION_SECONDS = 15


def period_names() -> dict[str, str]:
    """Period names in the reader's language (the wall hands them to its script as JSON)."""
    return {key: str(name) for key, name in PERIOD_NAMES.items()}

WALL_PROCESSES = 6


class ProfileForm(FlaskForm):
    pseudonym = StringField(_l("Pseudonym on leaderboards"), validators=[Optional(), Length(min=2, max=40)])
    opt_out = BooleanField(_l("Leave me out of leaderboards others see"))


class FreezeForm(FlaskForm):
    scope = HiddenField()
    period = HiddenField()
    dimension = HiddenField()


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


# --- pages -------------------------------------------------------------------------------------


def leaderboard_page():
    """``/leaderboard`` (routed in portal): pick a board; see its top and your own place."""
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
    try:
        key = BoardKey.parse(form.scope.data, form.period.data, form.dimension.data)
        uow = unit_of_work()
        action(uow, actor_id=current_user.id, key=key)
    except Forbidden:
        raise
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        bus.dispatch(uow.events)
        flash(_("Board frozen: viewers see it as it stands now.") if action is boards.freeze_board
              else _("Board unfrozen: viewers see live standings again."), "ok")
    return redirect(back)


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
        uow = unit_of_work()
        try:
            boards.update_board_profile(uow, member_id=current_user.id, opt_out=bool(form.opt_out.data),
                                        pseudonym=form.pseudonym.data)
        except DomainError as exc:
            form.pseudonym.errors = [*form.pseudonym.errors, exc.message]
        else:
            bus.dispatch(uow.events)
            flash(_("Profile saved."), "ok")
            return redirect(url_for("boards.profile"))
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


# --- API ---------------------------------------------------------------------------------------


def api_leaderboard():
    """``GET /api/v1/leaderboard`` (routed in web.api): a public board's top, no SQL when cached."""
    board = standings_cache().board(_key_from_args(request.args))
    if not board.public:
        raise Forbidden("this board is not public: use GET /api/v1/leaderboard/me with a token")
    return jsonify(board.top(TOP_N))


@api_bp.get("/leaderboard/me")
@token_required
def api_my_place():
    board = standings_cache().board(_key_from_args(request.args))
    _viewable(board, g.api_user)
    return jsonify(board_json(board, g.api_user.id))


@api_bp.route("/leaderboard/freeze", methods=["POST", "DELETE"])
@token_required
def api_freeze():
    data = json_body()
    key = BoardKey.parse(data.get("scope"), data.get("period"), data.get("dimension"))
    uow = unit_of_work()
    if request.method == "POST":
        frozen_at = boards.freeze_board(uow, actor_id=g.api_user.id, key=key)
        bus.dispatch(uow.events)
        return jsonify(scope=key.scope, period=key.period, dimension=key.dimension, frozen_at=frozen_at), 201
    boards.unfreeze_board(uow, actor_id=g.api_user.id, key=key)
    bus.dispatch(uow.events)
    return jsonify(scope=key.scope, period=key.period, dimension=key.dimension, frozen_at=None)


@api_bp.route("/me/board-profile", methods=["GET", "PUT"])
@token_required
def api_board_profile():
    user: User = g.api_user
    if request.method == "GET":
        return jsonify(opt_out=bool(user.board_opt_out), pseudonym=user.board_pseudonym)
    data = json_body()
    if "opt_out" not in data:
        raise InvalidInput("send opt_out (true or false) and pseudonym (text or null)")
    uow = unit_of_work()
    opt_out, pseudonym = boards.update_board_profile(uow, member_id=user.id, opt_out=data.get("opt_out"),
                                                     pseudonym=data.get("pseudonym"))
    bus.dispatch(uow.events)
    return jsonify(opt_out=opt_out, pseudonym=pseudonym)


BOARD_QUERY = ("scope", "period", "dimension")
BOARD_BODY = {"scope": {"type": "string"}, "period": {"type": "string", "enum": list(PERIODS)},
              "dimension": {"type": "string"}}
OPENAPI_PATHS = {
    "/api/v1/leaderboard": {
        "get": op("A public board's top 20: scope community|teams|process:<id>|team:<id>, period "
                  "week|month|all|last_week|last_month, optional dimension", auth=False,
                  errors=(400, 403, 404), query=BOARD_QUERY, ok_schema=LIST)
    },
    "/api/v1/leaderboard/me": {
        "get": op("A board with your own rank and the points you need to pass the place above",
                  query=BOARD_QUERY)
    },
    "/api/v1/leaderboard/freeze": {
        "post": op("Freeze a board (staff): viewers see it as it stands; counting continues",
                   body=BOARD_BODY, ok=201),
        "delete": op("Unfreeze a board (staff)", body=BOARD_BODY),
    },
    "/api/v1/me/board-profile": {
        "get": op("Your leaderboard settings"),
        "put": op("Opt out of boards others see, or set a pseudonym",
                  body={"opt_out": {"type": "boolean"}, "pseudonym": {"type": ["string", "null"]}}),
    },
}


def register(app: Flask) -> None:
    from web.extensions import csrf

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens only
