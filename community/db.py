"""Database plumbing shared by every domain package: declarative base, engine, unit of work.

Write transactions on SQLite start with ``BEGIN IMMEDIATE`` so a read-then-write service
cannot interleave with another writer (SQLite's deferred BEGIN lets two requests read the
same state and then fail or race on the write). PostgreSQL uses row locks instead.

Under gevent (the default web worker) SQLite's own busy wait would block every greenlet of
the worker, including the one holding the write lock; there the wait for ``BEGIN
IMMEDIATE`` is a cooperative retry loop instead.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from community.bus import MessageBus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_row_id(value: object) -> bool:
    """A positive integer that fits the databases' 64-bit primary keys (larger ones would
    make the driver fail instead of finding nothing)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything Kopa stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url.removeprefix(prefix)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={50 if gevent_patched() else BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if not conn.get_execution_options().get("kopa_write", False):
            conn.exec_driver_sql("BEGIN")
        elif not gevent_patched():
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            _begin_immediate_cooperatively(conn)


BUSY_TIMEOUT_MS = 30_000


def gevent_patched() -> bool:
    """True inside a gevent worker: the standard library is patched, so sockets and
    ``time.sleep`` yield to other greenlets."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket") and monkey.is_module_patched("time")


def _begin_immediate_cooperatively(conn) -> None:
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)  # yields: the greenlet holding the lock can finish
        pause = min(pause * 2, 0.01)


class Database:
    """Engine plus the two session factories: plain reads and serialised writes. Every unit
    of work it hands out publishes to ``bus`` (``web.bootstrap.messagebus()`` wires it)."""

    def __init__(self, url: str, bus: MessageBus, **engine_kwargs: Any) -> None:
        self.url = url
        self.bus = bus
        self.engine = make_engine(url, **engine_kwargs)
        self.read_sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.write_sessions = sessionmaker(
            bind=self.engine.execution_options(kopa_write=True), expire_on_commit=False
        )

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.write_sessions, self.bus)

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """One business transaction: services add rows and publish events, then ``commit()`` once.

    A published event's in-transaction handlers run at once, in this transaction; its
    after-commit handlers run only after a successful commit, so nothing (cache
    invalidation, pushes) ever announces a change that was rolled back.
    """

    def __init__(self, session_factory: Callable[[], Session], bus: MessageBus) -> None:
        self._session_factory = session_factory
        self.bus = bus
        self.events: list[object] = []
        self.committed = False

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.events = []
        self.committed = False
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
        self.committed = True
        self.bus.handle_after_commit(self.events)

    def publish(self, event_: object) -> list[object]:
        """Record the event and run its in-transaction handlers; returns what they returned."""
        self.events.append(event_)
        return self.bus.handle_in_transaction(self, event_)
