"""Notifications (#9): the notification centre's pages and API, the live unread count and
e-mail delivery after each commit."""

from flask import Flask
from flask_login import current_user

from community import notifications as notes
from web.accessors import database, db_session
from web.extensions import csrf
from web.notifications import api, pages
from web.notifications.delivery import Delivery, NotificationFollower


def init_app(app: Flask) -> None:
    """After the live boards: without Redis, they set the delivery follower joined here."""
    with app.app_context():
        app.extensions["kopa.notifications"] = Delivery(app, database())
        follower = app.extensions.get("kopa.delivery_follower")  # set by web.boards.live without Redis
        if follower is not None:
            follower.hooks.append(NotificationFollower(app.extensions["kopa.notifications"]).poll_once)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only, like the rest of the API

    @app.context_processor
    def _unread():
        count = 0
        if current_user.is_authenticated:
            count = notes.unread_count(db_session(), current_user.id)
        return {"unread_notifications": count}
