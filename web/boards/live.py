"""The live leaderboard: Socket.IO namespace ``/leaderboard``.

Clients choose boards with ``watch`` {scope, period[, dimension]}: they join the board's
room and get its current ``leaderboard_updated`` at once (so a reconnecting client never
waits for the next award). After every ledger write the cache is invalidated once and only
the watched boards whose top changed are pushed, each to its own room; with
``KOPA_REDIS_URL`` the push goes through Redis and reaches clients of every worker.
Connections need a logged-in session or an API token in the connect ``auth``; a wall
display connects with ``{"wall": true}`` and may watch public boards only.

A signed-in connection also joins its member's own room, ``user:<id>``: ``wallet_updated``
(the wallet's figures once the relay has recorded a mint or burn) and other personal pushes
go there and nowhere else. The relay is its own process: with ``KOPA_REDIS_URL`` it emits
through the Redis queue itself; without Redis each web worker follows recorded deliveries
in the database (one query a second, only while members are connected).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from flask import Flask, current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit, join_room, leave_room
from sqlalchemy import select

from community import accounts
from community.db import Database, utcnow
from community.errors import DomainError
from rewards.ledger import wallet_summary
from rewards.minted import notify_minted
from rewards.models import OutboxItem, Wallet
from rewards.standings import TOP_N, Board, BoardKey
from web.accessors import database, db_session, standings_cache
from web.extensions import socketio

NAMESPACE = "/leaderboard"
MAX_WATCHED = 12  # boards one connection may watch at once

_connections: dict[str, dict] = {}  # sid -> {"user_id": int | None, "rooms": set}
_lock = threading.Lock()
log = logging.getLogger(__name__)


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def push_to_user(user_id: int, event: str, data: dict) -> None:
    """A personal push: only the member's own connections (on any worker) receive it."""
    socketio.emit(event, data, to=user_room(user_id), namespace=NAMESPACE)


def push_wallets(db: Database, addresses: Iterable[str]) -> int:
    """``wallet_updated`` to the owners of ``addresses``; returns how many were pushed."""
    addresses = sorted(set(addresses))
    if not addresses:
        return 0
    with db.read_sessions() as session:
        owners = session.scalars(select(Wallet.user_id).where(Wallet.address.in_(addresses))).all()
        payloads = {user_id: wallet_summary(session, user_id) for user_id in owners}
    for user_id, payload in payloads.items():
        push_to_user(user_id, "wallet_updated", payload)
    return len(payloads)


def relay_pushes(db: Database, *, push: bool = True):
    """The relay's ``on_delivered``: a points-minted notification for each member whose mint
    was recorded, and (``push``: with Redis) the wallets of the rows' holders."""
    def on_delivered(kind: str, rows: list[OutboxItem]) -> None:
        if push and kind in ("mint", "burn"):
            push_wallets(db, (row.to_address for row in rows))
        if kind == "mint":
            notify_minted(db, [row.ledger_entry_id for row in rows if row.ledger_entry_id])

    return on_delivered


class DeliveryFollower:
    """Without Redis the relay process cannot reach this worker's sockets, so the worker
    watches for deliveries the relay recorded and pushes the wallets itself."""

    def __init__(self, db: Database, interval: float = 1.0) -> None:
        self.db = db
        self.interval = interval
        self.since = utcnow()
        self._started = False
        self._start_lock = threading.Lock()
        self.hooks: list = []  # more followers polled alongside (new notifications)

    def ensure_started(self) -> None:
        with self._start_lock:
            if not self._started:
                self._started = True
                socketio.start_background_task(self._run)

    def poll_once(self) -> int:
        with self.db.read_sessions() as session:
            rows = session.execute(
                select(OutboxItem.to_address, OutboxItem.done_at).where(
                    OutboxItem.done_at > self.since, OutboxItem.kind.in_(("mint", "burn"))
                )
            ).all()
        if not rows:
            return 0
        self.since = max(done_at for _, done_at in rows)
        return push_wallets(self.db, (address for address, _ in rows))

    def _run(self) -> None:
        while True:
            socketio.sleep(self.interval)
            if not _connections:
                continue
            for poll in (self.poll_once, *self.hooks):
                try:
                    poll()
                except Exception:  # the next second tries again
                    log.exception("delivery follower failed")


def board_payload(board: Board, version: int | None = None) -> dict:
    """What watchers get: the public top N, never personal data beyond names shown."""
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
    cache = standings_cache()
    version = cache.invalidate()
    for board in cache.changed_boards():
        socketio.emit("leaderboard_updated", board_payload(board, version), to=board.key.room,
                      namespace=NAMESPACE)


def register(app: Flask) -> None:
    if not app.config["KOPA_REDIS_URL"]:
        with app.app_context():
            app.extensions["kopa.delivery_follower"] = DeliveryFollower(database())

    @socketio.on("connect", namespace=NAMESPACE)
    def _connect(auth: dict | None = None) -> None:
        auth = auth if isinstance(auth, dict) else {}
        user = current_user if current_user.is_authenticated else None
        if user is None and auth.get("token") is not None:
            user = accounts.user_for_token(db_session(), auth.get("token"))
            if user is None:
                raise ConnectionRefusedError("unauthorized: the token is unknown, expired or revoked")
        if user is None and auth.get("wall") is not True:
            raise ConnectionRefusedError("unauthorized: log in, pass {token} or {wall: true} in auth")
        with _lock:
            _connections[request.sid] = {"user_id": user.id if user else None, "rooms": set()}
        if user is not None:
            join_room(user_room(user.id))
            follower = current_app.extensions.get("kopa.delivery_follower")
            if follower is not None:
                follower.ensure_started()

    @socketio.on("watch", namespace=NAMESPACE)
    def _watch(data: object = None) -> dict:
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
        with _lock:
            connection = _connections.pop(request.sid, None)
        for room in connection["rooms"] if connection else ():
            standings_cache().unwatch(BoardKey.from_room(room))

    @socketio.on_error(NAMESPACE)
    def _error(exc: Exception) -> None:
        current_app.logger.exception("socket error on %s: %s", NAMESPACE, exc)
