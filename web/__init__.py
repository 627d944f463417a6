"""Kopa's web app: portal pages, JSON API v1 and the live leaderboard (Flask-SocketIO)."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from community.db import Database, UnitOfWork, gevent_patched
from rewards.standings import StandingsCache
from rewards.vault import KeyVault
from web import bootstrap
from web import config as kopa_config
from web.extensions import csrf, limiter, login_manager, socketio


def create_app(config: dict | None = None) -> Flask:
    settings = kopa_config.from_env()
    settings.update(config or {})
    instance = Path(settings["KOPA_INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)

    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
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
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["KOPA_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # A request may hold its read connection while its unit of work takes a write one: with
    # room for one more connection than there are worker threads, no two requests can each
    # hold one and wait forever for a second.
    db = bootstrap.database(
        app.config["KOPA_DATABASE_URL"], secret_key=app.config["SECRET_KEY"],
        standings_changed=lambda: _publish_standings(app),
        pool_size=10, max_overflow=app.config["KOPA_WORKER_THREADS"] + 1,
    )
    app.extensions["kopa.db"] = db
    app.extensions["kopa.vault"] = KeyVault(app.config["SECRET_KEY"])
    app.extensions["kopa.standings"] = StandingsCache(  # in Redis when workers share one
        db.read_sessions, redis_url=app.config["KOPA_REDIS_URL"] or None,
        namespace=kopa_config.redis_namespace(app.config["KOPA_DATABASE_URL"]),
    )

    from web import i18n, pagecache

    # First of all request hooks: a cached page skips every other one.
    pagecache.register(app, db, kopa_config.redis_namespace(app.config["KOPA_DATABASE_URL"]))
    i18n.init_app(app)  # before the blueprints: forms and pages translate through it
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)
    socketio.init_app(
        app,
        async_mode=_async_mode(),
        message_queue=app.config["KOPA_REDIS_URL"] or None,
        channel=kopa_config.redis_namespace(app.config["KOPA_DATABASE_URL"]),  # not shared with others
        cors_allowed_origins=[app.config["KOPA_SITE_URL"]],
    )

    from web import api, audit, auth, cli, errors, live, openapi, portal
    from web.boards import register as register_boards
    from web.booking import register as register_booking
    from web.kpi import register as register_kpi
    from web.loyalty import register as register_loyalty
    from web.notifications import register as register_notifications
    from web.polls import register as register_polls
    from web.processes import register as register_community_pages
    from web.rules import register as register_rules

    app.register_blueprint(auth.bp)
    app.register_blueprint(portal.bp)
    register_community_pages(app)  # processes, teams, resource library, success stories
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only: no ambient cookie authority to forge
    app.register_blueprint(openapi.bp)
    errors.register(app)
    register_booking(app)
    register_loyalty(app)
    register_polls(app)
    register_rules(app)
    live.register(app)
    register_notifications(app)  # after live: it follows new notifications there without Redis
    register_boards(app)
    register_kpi(app)  # staff KPI dashboard, its CSV and API (#9)
    cli.register(app)
    audit.register(app)  # auditor pages, audit API, audit-log hook, reconcile commands (#7)

    if _async_mode() == "gevent":
        _limit_requests_in_flight(app)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    return app


def _publish_standings(app: Flask) -> None:
    """After a commit that changed the ledger or a board, wherever it ran (a request, a CLI
    command, a test calling a service): one cache invalidation and the live pushes."""
    from web import live

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
    import threading  # patched by gevent: a cooperative semaphore

    slots = threading.BoundedSemaphore(app.config["KOPA_WORKER_THREADS"])

    @app.before_request
    def _take_slot() -> None:
        if not request.path.startswith("/socket.io"):
            slots.acquire()
            g.kopa_slot = True

    @app.teardown_request
    def _give_slot(_exc: BaseException | None) -> None:
        if g.pop("kopa_slot", False):
            slots.release()


def database() -> Database:
    return current_app.extensions["kopa.db"]


def db_session() -> Session:
    """The request's read session (for loading users and rendering)."""
    if "db_session" not in g:
        g.db_session = database().read_sessions()
    return g.db_session


def unit_of_work() -> UnitOfWork:
    return database().unit_of_work()


def vault() -> KeyVault:
    return current_app.extensions["kopa.vault"]


def chain_reader():
    from rewards.chain.reader import ChainReader

    reader = current_app.extensions.get("kopa.chain_reader")
    if reader is None:
        reader = ChainReader(current_app.config["KOPA_RPC_URL"])
        current_app.extensions["kopa.chain_reader"] = reader
    return reader


def contribution_policy():
    """Anti-farming and four-eyes settings for contribution services, from configuration."""
    from community.services import ContributionPolicy

    return ContributionPolicy(
        submissions_per_hour=current_app.config["KOPA_SUBMISSIONS_PER_HOUR"],
        four_eyes_threshold=current_app.config["KOPA_FOUR_EYES_THRESHOLD"],
    )


def evidence_root() -> Path:
    """Evidence files live under the instance folder (never in the database)."""
    return Path(current_app.instance_path)


def standings_cache() -> StandingsCache:
    return current_app.extensions["kopa.standings"]
