"""The portal blueprint ``portal``: its endpoint names (``portal.*``) are used by templates,
the page cache and the audit log, so features add their pages to it (contributions, the
leaderboard, user roles). Here: the home page, the vendored Socket.IO client and the role
guards every page module uses (``requires``, ``staff_required``, ``admin_required``,
``get_or_404``)."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Flask, abort, render_template, send_from_directory
from flask_login import current_user, login_required
from sqlalchemy import func, select

from community.db import is_row_id
from community.errors import Forbidden
from community.i18n import N_, Msg
from community.models import Task
from community.processes import permissions
from web.accessors import db_session, standings_cache
from web.config import PROJECT_ROOT
from web.i18n import translate

bp = Blueprint("portal", __name__)


def init_app(app: Flask) -> None:
    """After every feature added its pages to ``bp``."""
    app.register_blueprint(bp)


def requires(attribute: str, message: str):
    """Login first (anonymous users are sent to the login page), then the role check."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not getattr(current_user, attribute):
                raise Forbidden(message)
            return view(*args, **kwargs)

        return wrapped

    return decorator


staff_required = requires("is_staff", "this page is for city staff")
admin_required = requires("is_admin", "this page is for admins")


def get_or_404(model: type, id_: int, *options):
    """The row, or 404; ``options`` (loader options) load what the page shows of it."""
    obj = db_session().get(model, id_, options=options) if is_row_id(id_) else None
    if obj is None:
        what = Msg(model.__name__.lower())
        abort(404, description=translate(N_("%(what)s %(id)s not found", what=what, id=id_)))
    return obj


def user_or_none():
    return current_user if current_user.is_authenticated else None


@bp.get("/")
def home():
    session = db_session()
    processes_ = permissions.visible_processes(session, user_or_none())
    task_counts = dict(session.execute(
        select(Task.process_id, func.count()).where(Task.process_id.in_([p.id for p in processes_] or [-1]))
        .group_by(Task.process_id)
    ).all())
    top = standings_cache().get()[:5]
    return render_template("home.html", processes=processes_, task_counts=task_counts, top=top)


@bp.get("/vendor/socket.io.min.js")
def socketio_client():
    """The Socket.IO browser client, pinned in package.json."""
    return send_from_directory(
        PROJECT_ROOT / "node_modules" / "socket.io-client" / "dist", "socket.io.min.js",
        max_age=86400,
    )
