"""The notification centre (#9): pages, JSON API, the live unread count and e-mail.

``Delivery`` listens to the commits of the app's sessions: whenever a commit carried
notifications (``community.notifications.notify``), the members' unread counts are pushed
(``notifications_unread`` to their own Socket.IO room) and the immediate e-mails sent, on a
small thread pool, so the request that committed never waits for, nor fails because of, the
SMTP server. Without Redis a worker cannot hear other processes (the relay, the reminders):
it follows new notification rows in the database instead while members are connected.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import click
from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import event, func, select
from wtforms import BooleanField, SelectField

from community import notifications as notes
from community.db import Database, is_row_id, utcnow
from community.errors import DomainError, InvalidInput
from community.notifications import CATEGORIES, MODES, Notification
from web import i18n
from web.accessors import database, db_session, unit_of_work
from web.api import decimal_id, json_body, token_required
from web.cli import kopa
from web.forms import PlainForm

log = logging.getLogger(__name__)

bp = Blueprint("notifications", __name__)
api = Blueprint("notifications_api", __name__, url_prefix="/api/v1")

MODE_LABELS = {"immediate": _l("Immediately"), "digest": _l("In the daily digest")}


_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One small pool per process, shared by every app (tests create many)."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=4, thread_name_prefix="kopa-notifications"))
        return _POOL[0]


def _forget_pool_in_child() -> None:
    """A forked gunicorn worker gets its own pool: the parent's threads do not exist there."""
    global _POOL_LOCK
    _POOL_LOCK = threading.Lock()
    _POOL.clear()


os.register_at_fork(after_in_child=_forget_pool_in_child)


def _setting(app: Flask, name: str, default: str = "") -> str:
    return str(collections.ChainMap(app.config, os.environ).get(name) or default)


class Delivery:
    """After-commit work for notifications: live unread counts and immediate e-mail."""

    def __init__(self, app: Flask, db: Database) -> None:
        self.app = app
        self.db = db
        self._futures: set[Future] = set()
        self._lock = threading.Lock()
        for factory in (db.write_sessions, db.read_sessions):
            event.listen(factory, "after_commit", self._after_commit)
            event.listen(factory, "after_rollback", notes.forget_pending)

    # --- settings, read when used (tests and operators may change them) ---

    def sender(self) -> notes.Send | None:
        url = _setting(self.app, "KOPA_SMTP_URL")
        if not url:
            return None
        try:
            return notes.smtp_sender(url, _setting(self.app, "KOPA_SMTP_FROM", "kopa@localhost"))
        except ValueError as exc:
            log.error("%s; no e-mail is sent", exc)
            return None

    def settings(self) -> notes.MailSettings:
        policy = self.app.extensions.get("kopa.booking_policy")
        tz = policy.tz if policy is not None else ZoneInfo(_setting(self.app, "KOPA_TIMEZONE", "UTC"))
        return notes.MailSettings(site_url=self.app.config["KOPA_SITE_URL"].rstrip("/"), tz=tz)

    def digest_hour(self) -> int:
        raw = _setting(self.app, "KOPA_DIGEST_HOUR", "7")
        if raw.isdigit() and 0 <= int(raw) <= 23:
            return int(raw)
        log.error("KOPA_DIGEST_HOUR must be an hour from 0 to 23, not %r; using 7", raw)
        return 7

    # --- after commit ---

    def _after_commit(self, session) -> None:
        committed = notes.committed_notifications(session)
        if not committed:
            return
        self.push_unread({n.user_id for n in committed})
        immediate = [n.id for n in committed if n.email == notes.IMMEDIATE]
        if immediate:
            send = self.sender()
            if send is not None:
                self.submit(notes.send_immediate, self.db, immediate, send, self.settings())

    def submit(self, fn, *args) -> None:
        def run():
            try:
                with self.app.app_context():  # e-mail is written in each member's language
                    fn(*args)
            except Exception:  # logged; a notification's side work never breaks anything else
                log.exception("notification delivery failed")

        future = _pool().submit(run)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future) -> None:
        with self._lock:
            self._futures.discard(future)

    def wait(self, timeout: float = 60) -> None:
        """Until the work handed out so far is finished (commands call it before exiting)."""
        with self._lock:
            pending = list(self._futures)
        wait_futures(pending, timeout=timeout)

    def push_unread(self, user_ids) -> None:
        self.submit(self._push_now, sorted(set(user_ids)))

    def _push_now(self, user_ids: list[int]) -> None:
        from web.live import push_to_user

        with self.db.read_sessions() as session:
            counts = notes.unread_counts(session, user_ids)
        for user_id, count in counts.items():
            push_to_user(user_id, "notifications_unread", {"count": count})

    # --- scheduled work: digests and retries ---

    def run_digests(self, *, if_due: bool, now=None) -> int:
        send = self.sender()
        if send is None:
            return 0
        settings = self.settings()
        now = now or utcnow()
        due_since = notes.digest_moment(now, self.digest_hour(), settings.tz) if if_due else None
        return notes.send_digests(self.db, send, settings, now=now, due_since=due_since)

    def retry(self) -> int:
        send = self.sender()
        return notes.retry_immediate(self.db, send, self.settings()) if send is not None else 0


class NotificationFollower:
    """Without Redis: notifications other processes wrote (the relay's points minted, the
    reminders) reach this worker's sockets by following new rows, one query a second."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.started = utcnow()
        self.last_id: int | None = None

    def poll_once(self) -> int:
        with self.delivery.db.read_sessions() as session:
            newer = (
                Notification.id > self.last_id
                if self.last_id is not None
                else Notification.created_at > self.started
            )
            rows = session.execute(
                select(Notification.user_id, func.max(Notification.id))
                .where(newer)
                .group_by(Notification.user_id)
            ).all()
        if not rows:
            return 0
        self.last_id = max([self.last_id or 0] + [last for _, last in rows])
        self.delivery._push_now(sorted(user_id for user_id, _ in rows))
        return len(rows)


def delivery() -> Delivery:
    return current_app.extensions["kopa.notifications"]


def register(app: Flask) -> None:
    from web.extensions import csrf

    with app.app_context():
        app.extensions["kopa.notifications"] = Delivery(app, database())
        follower = app.extensions.get("kopa.delivery_follower")  # set by web.live without Redis
        if follower is not None:
            follower.hooks.append(NotificationFollower(app.extensions["kopa.notifications"]).poll_once)
    app.register_blueprint(bp)
    app.register_blueprint(api)
    csrf.exempt(api)  # bearer tokens only, like the rest of the API

    @app.context_processor
    def _unread():
        count = 0
        if current_user.is_authenticated:
            count = notes.unread_count(db_session(), current_user.id)
        return {"unread_notifications": count}


def _release_read_session() -> None:
    """The request's read connection goes back to the pool before a write transaction."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


# --- pages ----------------------------------------------------------------------------------------


def _local(value) -> str:
    return i18n.full(value, delivery().settings().tz)


def _safe_link(link: str | None) -> str | None:
    """Only links inside the site (notifications carry paths)."""
    if not link or not link.startswith("/") or link.startswith("//") or urlparse(link).netloc:
        return None
    return link


@bp.get("/notifications")
@login_required
def notifications():
    rows = notes.recent(db_session(), current_user.id, limit=100)
    return render_template(
        "notifications/index.html", notifications=rows, when=_local, safe_link=_safe_link,
        categories=CATEGORIES, category_of=notes.category_of,
    )


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def notification_read(notification_id: int):
    if not PlainForm().validate_on_submit():
        flash(_("The form has expired; try again."), "error")
        return redirect(url_for("notifications.notifications"))
    _release_read_session()
    notes.mark_read(unit_of_work(), user_id=current_user.id, notification_id=notification_id)
    delivery().push_unread([current_user.id])
    return redirect(url_for("notifications.notifications"))


@bp.post("/notifications/read")
@login_required
def notifications_read():
    if PlainForm().validate_on_submit():
        _release_read_session()
        with database().write_sessions() as session, session.begin():
            marked = notes.mark_all_read(session, current_user.id)
        delivery().push_unread([current_user.id])
        flash(ngettext("%(num)s notification marked as read.", "%(num)s notifications marked as read.",
                       marked), "ok")
    else:
        flash(_("The form has expired; try again."), "error")
    return redirect(url_for("notifications.notifications"))


def _preferences_form(current: dict[str, dict]) -> FlaskForm:
    class PreferencesForm(FlaskForm):
        pass

    for key, choice in current.items():
        setattr(PreferencesForm, f"email_{key}", BooleanField(_l("E-mail"), default=choice["email"]))
        setattr(
            PreferencesForm,
            f"mode_{key}",
            SelectField(_l("When"), choices=[(m, MODE_LABELS[m]) for m in MODES], default=choice["mode"]),
        )
    return PreferencesForm()


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    current = notes.preferences(db_session(), current_user.id)
    form = _preferences_form(current)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            changes = {
                key: {"email": bool(form[f"email_{key}"].data), "mode": form[f"mode_{key}"].data}
                for key in current
            }
            _release_read_session()
            try:
                notes.set_preferences(unit_of_work(), user_id=current_user.id, changes=changes)
            except DomainError as exc:
                flash(exc.message, "error")
                status = 400
            else:
                flash(_("Your notification preferences are saved."), "ok")
                return redirect(url_for("notifications.preferences"))
        else:
            status = 400
    return render_template(
        "notifications/preferences.html", form=form, current=current, mode_labels=MODE_LABELS,
        smtp=delivery().sender() is not None, digest_hour=delivery().digest_hour(),
    ), status


# --- JSON API -------------------------------------------------------------------------------------


@api.get("/notifications")
@token_required
def list_notifications():
    session = db_session()
    raw_limit = request.args.get("limit", "50")
    limit = decimal_id(raw_limit)
    if limit is None or not 1 <= limit <= 200:
        raise InvalidInput("limit must be a whole number from 1 to 200")
    before = request.args.get("before")
    if before is not None and not is_row_id(decimal_id(before)):
        raise InvalidInput("before must be a notification id")
    unread_only = request.args.get("unread", "") in ("1", "true", "yes")
    rows = notes.recent(
        session, g.api_user.id, limit, unread_only=unread_only,
        before=int(before) if before is not None else None,
    )
    return jsonify(
        items=[notes.notification_json(n) for n in rows],
        unread=notes.unread_count(session, g.api_user.id),
        next=rows[-1].id if len(rows) == int(raw_limit) else None,
    )


@api.post("/notifications/<int:notification_id>/read")
@token_required
def api_mark_read(notification_id: int):
    json_body()
    user_id = g.api_user.id
    _release_read_session()
    note = notes.mark_read(unit_of_work(), user_id=user_id, notification_id=notification_id)
    delivery().push_unread([user_id])
    with database().read_sessions() as session:
        unread = notes.unread_count(session, user_id)
    return jsonify(id=note.id, read=True, unread=unread)


@api.post("/notifications/read")
@token_required
def api_mark_all_read():
    json_body()
    user_id = g.api_user.id
    _release_read_session()
    with database().write_sessions() as session, session.begin():
        marked = notes.mark_all_read(session, user_id)
    delivery().push_unread([user_id])
    return jsonify(marked=marked, unread=0)


@api.get("/notifications/preferences")
@token_required
def api_preferences():
    return jsonify(notes.preferences(db_session(), g.api_user.id))


@api.put("/notifications/preferences")
@token_required
def api_set_preferences():
    body = json_body()
    user_id = g.api_user.id
    _release_read_session()
    return jsonify(notes.set_preferences(unit_of_work(), user_id=user_id, changes=body))


# --- operations ---------------------------------------------------------------------------------


@kopa.command("digest")
@click.option("--if-due", is_flag=True,
              help="Only members whose daily digest is due (once a day, after KOPA_DIGEST_HOUR local time).")
def digest_command(if_due: bool) -> None:
    """E-mail each member in digest mode what is waiting for them (never an empty digest)."""
    work = delivery()
    if work.sender() is None:
        raise click.ClickException("KOPA_SMTP_URL is not set: digests go out by e-mail only")
    started = time.monotonic()
    sent = work.run_digests(if_due=if_due)
    retried = work.retry()
    work.wait()
    click.echo(f"sent {sent} digest(s) and {retried} retried e-mail(s) in {time.monotonic() - started:.1f}s")


_CATEGORY_SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string"},
        "in_app": {"type": "boolean", "const": True},
        "email": {"type": "boolean"},
        "mode": {"type": "string", "enum": list(MODES)},
    },
}
_PREFERENCES = {
    "type": "object",
    "properties": {key: _CATEGORY_SCHEMA for key in CATEGORIES},
    "additionalProperties": False,
}
_NOTIFICATION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "category": {"type": ["string", "null"]},
        "text": {"type": "string"}, "link": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"}, "read": {"type": "boolean"},
        "read_at": {"type": ["string", "null"], "format": "date-time"},
        "email": {"type": ["string", "null"], "enum": ["immediate", "digest", None]},
        "emailed": {"type": "boolean"},
    },
}
_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _ok(schema: dict) -> dict:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS = {
    "/api/v1/notifications": {"get": {
        "summary": "The caller's notifications, newest first, with the unread count",
        "parameters": [
            {"name": "unread", "in": "query", "required": False, "schema": {"type": "string", "enum": ["1"]}},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
            {"name": "before", "in": "query", "required": False, "schema": {"type": "integer"}},
        ],
        "responses": {"200": _ok({"type": "object", "properties": {
            "items": {"type": "array", "items": _NOTIFICATION}, "unread": {"type": "integer"},
            "next": {"type": ["integer", "null"]}}}), "400": _ERROR, "401": _ERROR},
    }},
    "/api/v1/notifications/{notification_id}/read": {"post": {
        "summary": "Mark one of the caller's notifications read (anyone else's is 404)",
        "parameters": [{"name": "notification_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1}}],
        "responses": {"200": _ok({"type": "object", "properties": {
            "id": {"type": "integer"}, "read": {"type": "boolean"}, "unread": {"type": "integer"}}}),
            "401": _ERROR, "404": _ERROR},
    }},
    "/api/v1/notifications/read": {"post": {
        "summary": "Mark all the caller's notifications read",
        "responses": {"200": _ok({"type": "object", "properties": {
            "marked": {"type": "integer"}, "unread": {"type": "integer"}}}), "401": _ERROR},
    }},
    "/api/v1/notifications/preferences": {
        "get": {
            "summary": "Per category: in-app (always on), e-mail on or off, immediately or in the "
                       "daily digest",
            "responses": {"200": _ok(_PREFERENCES), "401": _ERROR},
        },
        "put": {
            "summary": "Change some categories ({category: {email?, mode?}}); all or nothing",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _PREFERENCES}}},
            "responses": {"200": _ok(_PREFERENCES), "400": _ERROR, "401": _ERROR},
        },
    },
}
