"""Leaderboard API: a public board's top, the caller's own place, staff freezes and the
member's board profile."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from community.errors import Forbidden, InvalidInput
from community.models import User
from rewards import boards
from rewards.standings import PERIODS, TOP_N, BoardKey
from web import apiutil
from web.accessors import standings_cache
from web.apiutil import json_body, token_required
from web.boards.pages import _key_from_args, _viewable, board_json
from web.openapi import LIST, op
from web.usecase import run_use_case

bp = Blueprint("boards_api", __name__, url_prefix="/api/v1")


@apiutil.bp.get("/leaderboard")
def leaderboard():
    """A public board's top (?scope=&period=&dimension=, #6): no SQL when cached."""
    board = standings_cache().board(_key_from_args(request.args))
    if not board.public:
        raise Forbidden("this board is not public: use GET /api/v1/leaderboard/me with a token")
    return jsonify(board.top(TOP_N))


@bp.get("/leaderboard/me")
@token_required
def api_my_place():
    board = standings_cache().board(_key_from_args(request.args))
    _viewable(board, g.api_user)
    return jsonify(board_json(board, g.api_user.id))


@bp.route("/leaderboard/freeze", methods=["POST", "DELETE"])
@token_required
def api_freeze():
    data = json_body()
    key = BoardKey.parse(data.get("scope"), data.get("period"), data.get("dimension"))
    if request.method == "POST":
        frozen_at = run_use_case(lambda uow: boards.freeze_board(uow, actor_id=g.api_user.id, key=key))
        return jsonify(scope=key.scope, period=key.period, dimension=key.dimension, frozen_at=frozen_at), 201
    run_use_case(lambda uow: boards.unfreeze_board(uow, actor_id=g.api_user.id, key=key))
    return jsonify(scope=key.scope, period=key.period, dimension=key.dimension, frozen_at=None)


@bp.route("/me/board-profile", methods=["GET", "PUT"])
@token_required
def api_board_profile():
    user: User = g.api_user
    if request.method == "GET":
        return jsonify(opt_out=bool(user.board_opt_out), pseudonym=user.board_pseudonym)
    data = json_body()
    if "opt_out" not in data:
        raise InvalidInput("send opt_out (true or false) and pseudonym (text or null)")
    opt_out, pseudonym = run_use_case(lambda uow: boards.update_board_profile(
        uow, member_id=user.id, opt_out=data.get("opt_out"), pseudonym=data.get("pseudonym")
    ))
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
