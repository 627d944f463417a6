"""Leaderboards (#6): pages, API and the live Socket.IO namespace that pushes them."""

from flask import Flask

from web.boards import api, live, pages
from web.extensions import csrf


def init_app(app: Flask) -> None:
    live.register(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only
