"""Whole-page cache for the busiest pages, per browser session, dropped by any committed change.

A signed-in page costs 4-10 ms of Python (session, user, access checks, several queries,
the layout's Jinja render) where the health check costs 0.3 ms. Members move back and
forth between the same few pages (home, leaderboard, processes, a process, the wallet)
far more often than the data under them changes, so the rendered page is kept and served
again until anything changes.

Correctness rests on three rules:

* **Any committed change drops every page.** The cache is keyed by a change clock that moves
  on every commit by any process: on SQLite the database's own ``PRAGMA data_version``
  (read on a connection of its own, so commits of every other connection count, those of
  other workers, the relay and CLI commands included); on PostgreSQL a Redis counter
  that every Kopa process increments after each commit (``KOPA_REDIS_URL``; without Redis
  pages are not cached there). The clock is read *before* the page is rendered, so a page
  can only be newer than its clock, never older. Role changes, logouts (session epochs),
  erasure, new notifications and relay deliveries are all commits.
* **Only the same browser session gets the page back.** The key holds the signed session
  cookie itself (user, session epoch, language, CSRF secret: the page's forms stay valid),
  Flask-Login's client identifier (address and User-Agent: strong session protection),
  the full URL and ``Accept-Language``. A page is stored only when rendering it left the
  session unchanged, set no cookie and answered 200 with HTML; a session with pending
  flash messages or a ``?lang=`` switch is never served from or stored in the cache, and a
  hard reload (``Cache-Control: no-cache``) renders the page afresh.
* **Time moves pages too** ("this week", open slots, deadlines): an entry lives at most
  ``KOPA_PAGE_CACHE_SECONDS`` (30 by default; 0 turns the cache off).

The cache lives in each worker's memory, bounded by ``KOPA_PAGE_CACHE_MB`` (least recently
used pages go first). Responses say ``X-Kopa-Page-Cache: hit`` or ``miss``.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request, session
from sqlalchemy import event

from community.db import Database

log = logging.getLogger(__name__)

CACHED_PAGES = frozenset({
    "portal.home",
    "portal.leaderboard",
    "portal.wallet",
    "processes.index",
    "processes.process",
})
HEADER = "X-Kopa-Page-Cache"


class SqliteChangeClock:
    """``PRAGMA data_version`` on a connection that never writes: it moves whenever any other
    connection, in this process or another, commits to the database file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def now(self) -> int | None:
        with self._lock:
            try:
                if self._conn is None or self._pid != os.getpid():  # not shared across fork
                    self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                    self._pid = os.getpid()
                return self._conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:
                log.exception("page cache: cannot read the change clock of %s", self.path)
                self._conn = None
                return None


class RedisChangeClock:
    """A counter in Redis that every process increments after each commit it makes."""

    def __init__(self, url: str, key: str) -> None:
        import redis

        self.key = key
        self._redis = redis.Redis.from_url(url, socket_timeout=1)

    def now(self) -> int | None:
        try:
            value = self._redis.get(self.key)
            if value is None:  # a new (or restarted) Redis: start where no old page can match
                self._redis.set(self.key, secrets.randbits(48), nx=True)
                return None
            return int(value)
        except Exception:  # Redis away: serve uncached rather than risk an old page
            log.warning("page cache: Redis unavailable, pages served uncached")
            return None

    def tick(self, _session=None) -> None:
        try:
            if self._redis.incr(self.key) == 1:  # the counter was gone: move it far from old numbers
                self._redis.incrby(self.key, secrets.randbits(48))
        except Exception:
            log.exception("page cache: could not announce a commit; cached pages may lag by "
                          "up to KOPA_PAGE_CACHE_SECONDS")


def change_clock(db: Database, redis_url: str, namespace: str) -> SqliteChangeClock | RedisChangeClock | None:
    """The clock for this database, or None when pages cannot be cached safely."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            return None
        return SqliteChangeClock(url.database)
    if redis_url:
        clock = RedisChangeClock(redis_url, f"{namespace}:changes")
        # Read sessions rarely commit; when one does, it counts like any other commit.
        for sessions in (db.write_sessions, db.read_sessions):
            event.listen(sessions, "after_commit", clock.tick)
        return clock
    return None


@dataclass
class Page:
    clock: int
    expires: float
    headers: list[tuple[str, str]]
    body: bytes


class PageCache:
    """Rendered pages by key, each for ``seconds`` at most, least recently used first out,
    within a byte budget."""

    def __init__(self, clock, seconds: float, max_bytes: int) -> None:
        self.clock = clock
        self.seconds = seconds
        self.max_bytes = max_bytes
        self._pages: OrderedDict[tuple, Page] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple, clock: int) -> Page | None:
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.clock != clock or page.expires < time.monotonic():
                self._drop(key)
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: tuple, clock: int, headers: list[tuple[str, str]], body: bytes) -> None:
        if len(body) > self.max_bytes // 8:
            return
        page = Page(clock, time.monotonic() + self.seconds, headers, body)
        with self._lock:
            if key in self._pages:
                self._drop(key)
            self._pages[key] = page
            self._bytes += len(page.body)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._pages)))

    def _drop(self, key: tuple) -> None:
        self._bytes -= len(self._pages.pop(key).body)

    def __len__(self) -> int:
        return len(self._pages)


def _key() -> tuple | None:
    """The request's cache key, or None when this request must be rendered afresh."""
    if request.method != "GET" or request.endpoint not in CACHED_PAGES or "lang" in request.args:
        return None
    if "_flashes" in session or "_remember" in session:
        return None
    cookie = request.cookies.get(current_app.config["SESSION_COOKIE_NAME"])
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    if "_user_id" not in session and request.cookies.get(remember):
        return None  # the remember-me cookie would sign the visitor in: the normal path does that
    identifier = current_app.login_manager._session_identifier_generator()
    return (request.url, request.headers.get("Accept-Language", ""), cookie, identifier)


def register(app: Flask, db: Database, namespace: str) -> None:
    """Install the cache's hooks; call before any other ``before_request`` is registered, so a
    cached page skips the rest (rate limits do not apply to these GET pages)."""
    seconds = app.config["KOPA_PAGE_CACHE_SECONDS"]
    clock = change_clock(db, app.config["KOPA_REDIS_URL"], namespace) if seconds > 0 else None
    if clock is None:
        return
    cache = PageCache(clock, seconds, app.config["KOPA_PAGE_CACHE_MB"] * 1024 * 1024)
    app.extensions["kopa.pagecache"] = cache

    @app.before_request
    def _serve_cached():
        key = _key()
        if key is None:
            return None
        now = clock.now()  # before rendering: the page stored is at least as new as this
        if now is None:
            return None
        # A hard reload (Cache-Control: no-cache) renders afresh and stores the new page.
        page = None if "no-cache" in request.headers.get("Cache-Control", "") else cache.get(key, now)
        if page is not None:
            response = Response(page.body, headers=page.headers)  # only 200s are stored
            response.headers[HEADER] = "hit"
            return response
        g.kopa_page_key = (key, now)
        return None

    @app.after_request
    def _store(response: Response) -> Response:
        pending = g.pop("kopa_page_key", None)
        if pending is None:
            return response
        response.headers[HEADER] = "miss"
        cacheable = response.status_code == 200 and response.mimetype == "text/html"
        if cacheable and not response.direct_passthrough and not session.modified \
                and "Set-Cookie" not in response.headers:
            key, now = pending
            headers = [(k, v) for k, v in response.headers.items() if k != HEADER]
            cache.put(key, now, headers, response.get_data())
        return response
