"""Scoring rules: the rule pages (list, edit, preview, publish, import, export) and API."""

from flask import Flask

from web.extensions import csrf
from web.rules import api, pages


def init_app(app: Flask) -> None:
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only
