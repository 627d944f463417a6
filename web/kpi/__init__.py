"""The staff KPI dashboard (#9): pages, CSV, JSON and the KPI API."""

from flask import Flask

from web.extensions import csrf
from web.kpi import api, pages


def init_app(app: Flask) -> None:
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only
