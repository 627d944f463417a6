"""Booking (#4): resources and their calendar, members' bookings, the staff desk, calendar
feeds and the booking API."""

from flask import Flask

from web.booking import api, desk, pages, settings
from web.extensions import csrf

__all__ = ["api", "desk", "init_app", "pages", "settings"]


def init_app(app: Flask) -> None:
    settings.bind(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only, like the rest of the API

    @app.context_processor
    def _booking_context():
        return {"local_time": settings.local_time}
