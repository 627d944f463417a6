"""The live leaderboard: Socket.IO namespace ``/leaderboard``.

Clients choose boards with ``watch`` {scope, period[, dimension]}: they join the board's
room and get its current ``leaderboard_updated`` at once (so a reconnecting client never
waits for the next award). After every ledger write the cache is invalidated once and only
the watched boards whose top changed are pushed, each to its own room; with
``KOPA_REDIS_URL`` the push goes through Redis and reaches clients of every worker.
Connections need a logged-in session or an API token in the connect ``auth``; a wall
display connects with ``{"wall": true}`` and may watch public boards only.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit, join_room, leave_room

from community import services
from community.errors import DomainError
from rewards.standings import TOP_N, Board, BoardKey
from web.extensions import socketio

NAMESPACE = "/leaderboard"
MAX_WATCHED = 12  # boards one connection may watch at once

_connections: dict[str, dict] = {}  # sid -> {"user_id": int | None, "rooms": set}
_lock = threading.Lock()


def board_payload(board: Board, version: int | None = None) -> dict:
    """What watchers get: the public top N, never personal data beyond names shown."""
    from web import standings_cache

    return {
        "scope": board.key.scope,
        "period": board.key.period,
        "dimension": board.key.dimension,
        "title": board.title,
        "version": standings_cache().version if version is None else version,
        "frozen": board.frozen_at is not None,
        "top": board.top(TOP_N),
    }


def publish_standings() -> None:
    """The one invalidation after a ledger write; then push only the boards that changed."""
    from web import standings_cache

    cache = standings_cache()
    version = cache.invalidate()
    for board in cache.changed_boards():
        socketio.emit("leaderboard_updated", board_payload(board, version), to=board.key.room,
                      namespace=NAMESPACE)


def register(app: Flask) -> None:
    @socketio.on("connect", namespace=NAMESPACE)
    def _connect(auth: dict | None = None) -> None:
        from web import db_session

        auth = auth if isinstance(auth, dict) else {}
        user = current_user if current_user.is_authenticated else None
        if user is None and auth.get("token") is not None:
            user = services.user_for_token(db_session(), auth.get("token"))
            if user is None:
                raise ConnectionRefusedError("unauthorized: the token is unknown, expired or revoked")
        if user is None and auth.get("wall") is not True:
            raise ConnectionRefusedError("unauthorized: log in, pass {token} or {wall: true} in auth")
        with _lock:
            _connections[request.sid] = {"user_id": user.id if user else None, "rooms": set()}

    @socketio.on("watch", namespace=NAMESPACE)
    def _watch(data: object = None) -> dict:
        from web import standings_cache

        data = data if isinstance(data, dict) else {}
        connection = _connections.get(request.sid)
        if connection is None:
            return {"error": "unauthorized", "message": "connect again"}
        try:
            key = BoardKey.parse(data.get("scope"), data.get("period"), data.get("dimension"))
            board = standings_cache().board(key)
        except DomainError as exc:
            return {"error": type(exc).__name__.lower(), "message": str(exc)}
        if connection["user_id"] is None and not board.public:
            return {"error": "forbidden", "message": "wall displays may watch public boards only"}
        if key.room not in connection["rooms"] and len(connection["rooms"]) >= MAX_WATCHED:
            return {"error": "invalidinput", "message": f"watch at most {MAX_WATCHED} boards at once"}
        if key.room not in connection["rooms"]:
            standings_cache().watch(board)
            connection["rooms"].add(key.room)
        join_room(key.room)
        emit("leaderboard_updated", board_payload(board))
        return {"ok": True, "room": key.room}

    @socketio.on("unwatch", namespace=NAMESPACE)
    def _unwatch(data: object = None) -> dict:
        from web import standings_cache

        data = data if isinstance(data, dict) else {}
        connection = _connections.get(request.sid)
        try:
            key = BoardKey.parse(data.get("scope"), data.get("period"), data.get("dimension"))
        except DomainError as exc:
            return {"error": "invalidinput", "message": str(exc)}
        if connection is not None and key.room in connection["rooms"]:
            connection["rooms"].discard(key.room)
            standings_cache().unwatch(key)
        leave_room(key.room)
        return {"ok": True}

    @socketio.on("disconnect", namespace=NAMESPACE)
    def _disconnect(*_args) -> None:
        from web import standings_cache

        with _lock:
            connection = _connections.pop(request.sid, None)
        for room in connection["rooms"] if connection else ():
            standings_cache().unwatch(BoardKey.from_room(room))

    @socketio.on_error(NAMESPACE)
    def _error(exc: Exception) -> None:
        current_app.logger.exception("socket error on %s: %s", NAMESPACE, exc)
