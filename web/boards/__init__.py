"""Leaderboards (#6): pages, API and the live Socket.IO namespace that pushes them."""

from flask import Flask

from community.events import LedgerChanged
from rewards.boards import BoardsChanged
from web import bus
from web.boards import api, live, pages
from web.extensions import csrf


def init_app(app: Flask) -> None:
    live.register(app)
    # Ledger writes, freezes and board-profile changes share one invalidation and push.
    bus.subscribe(live.publish_standings, LedgerChanged, BoardsChanged)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only
