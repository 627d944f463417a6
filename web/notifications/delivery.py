"""Notification delivery (#9): the live unread count and e-mail, after each commit.

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
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import event, func, select

from community import notifications as notes
from community.db import Database, utcnow
from community.models import Notification
from web.boards.live import push_to_user

log = logging.getLogger(__name__)


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
