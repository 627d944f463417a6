"""Contributions: contributing to a task, members' contributions and evidence files,
validation, the wallet page, and the contribution endpoints of the API."""

from flask import Flask

from web.contributions import api, pages

__all__ = ["api", "init_app", "pages"]


def init_app(app: Flask) -> None:
    """Nothing to bind: the pages are on the ``portal`` blueprint, the endpoints on ``api``
    (``portal.*`` and ``api.*`` names are a contract), registered by ``create_app``."""
