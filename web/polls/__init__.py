"""Polls (#8): members' votes, the staff's poll editor, the kiosk screen and the polls API."""

from flask import Flask

from web.polls import api, pages


def init_app(app: Flask) -> None:
    app.register_blueprint(pages.bp)
    app.register_blueprint(pages.kiosk_bp)
    app.register_blueprint(api.bp)
