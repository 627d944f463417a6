"""Processes (#1-#3): process pages and their tree, teams, the resource library and success
stories, and the process endpoints of the API."""

from flask import Flask

from web.processes import api, library, pages, teams

__all__ = ["api", "init_app", "library", "pages", "teams"]  # api: endpoints on web.apiutil.bp


def init_app(app: Flask) -> None:
    app.register_blueprint(pages.bp)
    app.register_blueprint(teams.bp)
    app.register_blueprint(library.bp)
    # api adds its endpoints to the shared API blueprint (web.apiutil)
