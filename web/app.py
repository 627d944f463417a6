"""``create_app``: configure, bind the extensions and the app's resources, then let each
feature register its blueprints, hooks and handlers (``init_app``)."""

from __future__ import annotations

import logging
import threading
from functools import partial
from pathlib import Path

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from community.db import Database, gevent_patched
from rewards.standings import StandingsCache
from rewards.vault import KeyVault
from web import (
    accounts,
    apiutil,
    audit,
    boards,
    booking,
    bootstrap,
    cli,
    contributions,
    errors,
    i18n,
    kpi,
    loyalty,
    notifications,
    openapi,
    pagecache,
    polls,
    portal,
    processes,
    rules,
)
from web import config as kopa_config
from web.boards import live
from web.extensions import csrf, limiter, login_manager, socketio

# In this order: notifications follow the live boards' delivery follower; the audit hook
# (an after_request) comes last so it runs first, on every feature's response.
FEATURES = (
    accounts, processes, contributions, booking, loyalty, polls, rules, boards, notifications, kpi, audit,
)


def create_app(config: dict | None = None) -> Flask:
    app = _configured_app(config)
    db = _bind_resources(app)
    namespace = kopa_config.redis_namespace(app.config["KOPA_DATABASE_URL"])
    # First of all request hooks: a cached page skips every other one.
    pagecache.register(app, db, namespace)
    i18n.init_app(app)  # before the blueprints: forms and pages translate through it
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)
    # Flask-SocketIO keeps the queue it made for an earlier app of this process (tests make
    # several) in its options; without a queue of its own this app must not inherit it.
    socketio.server_options.pop("client_manager", None)
    socketio.init_app(
        app,
        async_mode=_async_mode(),
        message_queue=app.config["KOPA_REDIS_URL"] or None,
        channel=namespace,  # not shared with others
        cors_allowed_origins=[app.config["KOPA_SITE_URL"]],
    )
    for feature in FEATURES:
        feature.init_app(app)
    for core in (portal, apiutil, openapi):  # blueprints the features added routes to
        core.init_app(app)
    errors.register(app)
    cli.register(app)
    if _async_mode() == "gevent":
        _limit_requests_in_flight(app)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    return app


def _configured_app(config: dict | None) -> Flask:
    settings = kopa_config.from_env()
    settings.update(config or {})
    instance = Path(settings["KOPA_INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)

    app = Flask("web", instance_path=str(instance), instance_relative_config=True)
    app.config.update(settings)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = kopa_config.secret_key(instance)
    if not app.config.get("KOPA_RPC_URL"):
        app.config["KOPA_RPC_URL"] = f"http://127.0.0.1:{app.config['KOPA_ANVIL_PORT']}"
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Browsers accept Secure cookies from http://127.0.0.1 and localhost too.
        SESSION_COOKIE_SECURE=not app.config["DEBUG"],
        REMEMBER_COOKIE_SECURE=not app.config["DEBUG"],
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        # Evidence files may be 10 MB; the margin leaves room for the form around them.
        MAX_CONTENT_LENGTH=11 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_STORAGE_URI=app.config["KOPA_REDIS_URL"] or "memory://",
        RATELIMIT_KEY_PREFIX=kopa_config.redis_namespace(app.config["KOPA_DATABASE_URL"]),
        RATELIMIT_HEADERS_ENABLED=True,
    )
    app.config.update(config or {})  # explicit settings (tests) win over derived defaults
    if app.config["KOPA_PROXY_HOPS"]:
        hops = app.config["KOPA_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app


def _bind_resources(app: Flask) -> Database:
    """The database, key vault and standings cache (``web.accessors`` hands them out)."""
    # A request may hold its read connection while its unit of work takes a write one: with
    # room for one more connection than there are worker threads, no two requests can each
    # hold one and wait forever for a second.
    db = bootstrap.database(
        app.config["KOPA_DATABASE_URL"], secret_key=app.config["SECRET_KEY"],
        standings_changed=partial(_publish_standings, app),
        pool_size=10, max_overflow=app.config["KOPA_WORKER_THREADS"] + 1,
    )
    app.extensions["kopa.db"] = db
    app.extensions["kopa.vault"] = KeyVault(app.config["SECRET_KEY"])
    app.extensions["kopa.standings"] = StandingsCache(  # in Redis when workers share one
        db.read_sessions, redis_url=app.config["KOPA_REDIS_URL"] or None,
        namespace=kopa_config.redis_namespace(app.config["KOPA_DATABASE_URL"]),
    )
    return db


def _publish_standings(app: Flask) -> None:
    """After a commit that changed the ledger, a board or a team, wherever it ran (a request,
    a CLI command, a test calling a service): one cache invalidation and the live pushes."""
    with app.app_context():
        live.publish_standings()


def _async_mode() -> str:
    """gevent inside a gevent worker (the standard library is patched), threads elsewhere
    (the threaded worker, the relay, CLI commands and tests)."""
    return "gevent" if gevent_patched() else "threading"


def _limit_requests_in_flight(app: Flask) -> None:
    """A gevent worker accepts thousands of connections; at most KOPA_WORKER_THREADS
    requests work at once, as in the threaded worker, so the pool sized from it suffices.
    Socket.IO traffic is not counted: a WebSocket lives as long as the page."""
    slots = threading.BoundedSemaphore(app.config["KOPA_WORKER_THREADS"])  # cooperative under gevent

    @app.before_request
    def _take_slot() -> None:
        if not request.path.startswith("/socket.io"):
            slots.acquire()
            g.kopa_slot = True

    @app.teardown_request
    def _give_slot(_exc: BaseException | None) -> None:
        if g.pop("kopa_slot", False):
            slots.release()
