"""The live leaderboard: Socket.IO namespace ``/leaderboard``.

Every award invalidates the standings cache and pushes ``leaderboard_updated`` with the
new top standings (never a bare "reload"). Connections need a logged-in session or an
API token in the connect ``auth`` payload.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit

from community import services
from web.extensions import socketio

NAMESPACE = "/leaderboard"
TOP_N = 20


def board_payload() -> dict:
    from web import standings_cache

    cache = standings_cache()
    standings = cache.get()
    return {
        "board": "community",
        "period": "all",
        "version": cache.version,
        "standings": [s.public() for s in standings[:TOP_N]],
    }


def publish_standings() -> None:
    """Drop the cached standings and push the fresh board to every watcher."""
    from web import standings_cache

    standings_cache().invalidate()
    socketio.emit("leaderboard_updated", board_payload(), namespace=NAMESPACE)


def register(app: Flask) -> None:
    @socketio.on("connect", namespace=NAMESPACE)
    def _connect(auth: dict | None = None) -> None:
        from web import db_session

        user = current_user if current_user.is_authenticated else None
        if user is None and isinstance(auth, dict):
            user = services.user_for_token(db_session(), auth.get("token"))
        if user is None:
            raise ConnectionRefusedError("unauthorized: log in or pass {token} in auth")
        emit("leaderboard_updated", board_payload())

    @socketio.on_error(NAMESPACE)
    def _error(exc: Exception) -> None:
        current_app.logger.exception("socket error on %s: %s", NAMESPACE, exc)
