"""Reliability (#8, slow): a web worker SIGKILLed in the middle of a request leaves no
half-written rows, on SQLite and on PostgreSQL.

1. One approval is stopped inside its transaction — a trigger the test adds to ``outbox``
   sleeps (PostgreSQL ``pg_sleep``) or burns CPU (SQLite) only once the contribution row is
   already ``approved`` and its ledger entry written — and the gunicorn worker is SIGKILLed
   there. Afterwards the contribution is pending with no transition, ledger entry, outbox row
   or notification; the respawned worker approves it again, once.
2. A burst of 40 approvals from 10 threads (each transaction slowed by 0.15 s in the same
   trigger), the worker SIGKILLed after the first 15 answers at a moment when an approval's
   transaction is open (PostgreSQL: a backend sleeping in it; SQLite: the worker holds the
   write lock).
   Every answered approval is in the database; for every contribution, approved ⇔ one
   approving transition ⇔ one ledger entry ⇔ one mint row in the outbox of the same amount
   and ref ⇔ one notification; nothing of the kind exists for the others.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psutil
import psycopg
import pytest
import requests
from sqlalchemy import text

from community import contributions
from community.contributions import ContributionPolicy
from community.db import Database
from community.models import Role
from rewards.vault import KeyVault
from tests.support.community import PASSWORD, Community
from tests.support.postgres import PG_ADMIN_URL, drop_pg_database, new_pg_database
from tests.support.servers import start_server
from web import bootstrap

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.timeout(300)]

SECRET = "worker-kill-secret"
UNLIMITED = ContributionPolicy(submissions_per_hour=100_000)
BURST = 40

# The slow path: only for an outbox row whose contribution is already approved in this very
# transaction (so the UPDATE of the contribution, its transition and the ledger entry came
# first); other outbox rows pass at full speed.
APPROVED_OF_NEW_ROW = (
    "(SELECT c.state FROM ledger_entries e JOIN contributions c ON c.id = e.contribution_id "
    "WHERE e.id = NEW.ledger_entry_id) = 'approved'"
)


def slow_trigger(db: Database, kind: str, seconds: float) -> None:
    with db.engine.begin() as conn:
        if kind == "postgresql":
            conn.execute(text(f"""
                CREATE OR REPLACE FUNCTION kill_test_slow() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF {APPROVED_OF_NEW_ROW} THEN PERFORM pg_sleep({seconds}); END IF;
                    RETURN NEW;
                END $$"""))
            conn.execute(text("CREATE TRIGGER kill_test_slow AFTER INSERT ON outbox FOR EACH ROW "
                              "EXECUTE FUNCTION kill_test_slow()"))
        else:
            # SQLite has no sleep: a cross join of a helper table costs CPU time (n³ rows).
            n = max(10, int((seconds * 2e7) ** (1 / 3)))  # ~2e7 joined rows a second
            conn.execute(text("CREATE TABLE kill_test_burn (x INTEGER)"))
            conn.execute(text("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                              f"WHERE x < {n}) INSERT INTO kill_test_burn SELECT x FROM c"))
            conn.execute(text(f"""
                CREATE TRIGGER kill_test_slow AFTER INSERT ON outbox WHEN {APPROVED_OF_NEW_ROW}
                BEGIN SELECT count(*) FROM kill_test_burn a, kill_test_burn b, kill_test_burn c; END"""))


def drop_slow_trigger(db: Database, kind: str) -> None:
    with db.engine.begin() as conn:
        if kind == "postgresql":
            conn.execute(text("DROP TRIGGER kill_test_slow ON outbox"))
            conn.execute(text("DROP FUNCTION kill_test_slow()"))
        else:
            conn.execute(text("DROP TRIGGER kill_test_slow"))
            conn.execute(text("DROP TABLE kill_test_burn"))


def gunicorn_worker(server) -> psutil.Process:
    """`kopa run` → gunicorn master → the one worker."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for process in psutil.Process(server.process.pid).children(recursive=True):
            try:
                if process.status() != psutil.STATUS_ZOMBIE and "gunicorn" in " ".join(process.cmdline()) \
                        and "gunicorn" in " ".join(process.parent().cmdline()):
                    return process
            except psutil.Error:  # gone, or a zombie not reaped yet
                continue
        time.sleep(0.1)
    raise AssertionError("no gunicorn worker found")


def wait_for_new_worker(base: str, server, killed: int) -> psutil.Process:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        worker = gunicorn_worker(server)
        if worker.pid != killed:
            try:
                if requests.get(f"{base}/api/v1/meta", timeout=2).status_code == 200:
                    return worker
            except requests.RequestException:
                pass
        time.sleep(0.2)
    raise AssertionError("gunicorn did not respawn its worker")


def approve(base: str, token: str, contribution: int) -> requests.Response:
    return requests.post(f"{base}/api/v1/contributions/{contribution}/approve", json={"comment": "ok"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=60)


def rows_of(db: Database) -> dict[str, Counter | dict]:
    """What the database holds per contribution, read with plain SQL."""
    with db.engine.connect() as conn:
        state = dict(conn.execute(text("SELECT id, state FROM contributions")).all())
        approvals = Counter(cid for (cid,) in conn.execute(text(
            "SELECT contribution_id FROM contribution_transitions WHERE to_state = 'approved'")))
        entries = {cid: (eid, points, ref) for eid, cid, points, ref in conn.execute(text(
            "SELECT id, contribution_id, points, ref FROM ledger_entries WHERE contribution_id IS NOT NULL"))}
        entry_count = Counter(cid for (cid,) in conn.execute(text(
            "SELECT contribution_id FROM ledger_entries WHERE contribution_id IS NOT NULL")))
        outbox = {eid: (kind, amount, ref) for eid, kind, amount, ref in conn.execute(text(
            "SELECT ledger_entry_id, kind, amount, ref FROM outbox"))}
        outbox_total = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
        notices = Counter(link for (link,) in conn.execute(text(
            "SELECT link FROM notifications WHERE kind = 'contribution_approved'")))
    return {"state": state, "approvals": approvals, "entries": entries, "entry_count": entry_count,
            "outbox": outbox, "outbox_total": outbox_total, "notices": notices}


def assert_whole(db: Database) -> Counter:
    """Every contribution is entirely approved or entirely not; returns the states."""
    rows = rows_of(db)
    for cid, state in rows["state"].items():
        if state == "approved":
            assert rows["approvals"][cid] == 1, f"contribution {cid}: one approving transition"
            assert rows["entry_count"][cid] == 1, f"contribution {cid}: one ledger entry"
            eid, points, ref = rows["entries"][cid]
            assert rows["outbox"].get(eid) == ("mint", points, ref), f"contribution {cid}: its mint row"
            assert rows["notices"][f"/contributions/{cid}"] == 1, f"contribution {cid}: its notification"
        else:
            assert state == "pending"
            assert rows["approvals"][cid] == 0 and rows["entry_count"][cid] == 0, f"{cid}: half-written"
            assert rows["notices"][f"/contributions/{cid}"] == 0, f"contribution {cid}: a stray notice"
    assert rows["outbox_total"] == len(rows["entries"]) == sum(rows["entry_count"].values()), (
        "no outbox row without its ledger entry, no entry without its row")
    return Counter(rows["state"].values())


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request):
    return request.param


def test_a_worker_killed_mid_request_leaves_no_half_written_rows(kind, anvil, tmp_path):
    started = time.monotonic()
    pg_name = None
    if kind == "postgresql":
        url, pg_name = new_pg_database()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            # A backend whose client died notices within 200 ms even inside pg_sleep, and rolls
            # back (the production setting recommended in docs/deployment.md).
            conn.execute(f'ALTER DATABASE "{pg_name}" SET client_connection_check_interval = 200')
    else:
        url = f"sqlite:///{tmp_path / 'kopa.sqlite3'}"
    server = None
    db = None
    try:
        server, base = start_server(tmp_path, anvil.url, SECRET, KOPA_DATABASE_URL=url, KOPA_RELAY="off",
                                    KOPA_DEMO="0")
        db = bootstrap.database(url, secret_key=SECRET)
        community = Community(db, KeyVault(SECRET))
        staff = community.user(Role.STAFF)
        members = [community.user() for _ in range(6)]
        task = community.task(staff, complexity=20)

        def pending(member: int) -> int:
            return contributions.submit_contribution(db.unit_of_work(), member_id=member, task_id=task,
                                                     text="work", policy=UNLIMITED)

        token = requests.post(f"{base}/api/v1/auth/token", timeout=10,
                              json={"email": community.email_of(staff), "password": PASSWORD}).json()["token"]

        # --- 1. killed inside the approval's transaction ------------------------------------
        victim = pending(members[0])
        slow_trigger(db, kind, seconds=20)
        worker = gunicorn_worker(server)
        cpu_before = worker.cpu_times().user
        outcome: list[object] = []
        request = threading.Thread(target=lambda: outcome.append(_try(approve, base, token, victim)))
        request.start()
        inside = _wait_inside(kind, worker, cpu_before, url)
        assert not outcome, "the approval is still running"
        if kind == "postgresql":
            backend, locked = inside
            assert {"contributions", "contribution_transitions", "ledger_entries", "outbox"} <= locked, locked
        worker.send_signal(signal.SIGKILL)
        request.join(30)
        assert isinstance(outcome[0], requests.RequestException), f"died with the worker: {outcome}"
        if kind == "postgresql":
            _wait_backend_gone(url, backend)
        drop_slow_trigger(db, kind)
        assert assert_whole(db) == Counter({"pending": 1})
        worker = wait_for_new_worker(base, server, worker.pid)
        again = approve(base, token, victim)
        assert again.status_code == 200 and again.json()["state"] == "approved", again.text
        assert approve(base, token, victim).status_code == 409, "approved once"
        assert assert_whole(db) == Counter({"approved": 1})

        # --- 2. killed during a burst ------------------------------------------------------------
        burst = [pending(members[i % len(members)]) for i in range(BURST)]
        slow_trigger(db, kind, seconds=0.15)
        answered: list[int] = []
        failed: list[int] = []
        lock = threading.Lock()
        open_at_kill: list[int] = []

        def one(cid: int) -> None:
            result = _try(approve, base, token, cid)
            with lock:
                ok = isinstance(result, requests.Response) and result.status_code == 200
                (answered if ok else failed).append(cid)

        def killer() -> None:
            """After 15 answers, the moment an approval's transaction is open."""
            while len(answered) < 15:
                time.sleep(0.01)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                # Stopped, the worker cannot commit between the look and the kill.
                worker.send_signal(signal.SIGSTOP)
                count = _transactions_open(kind, url, worker)
                if count:
                    worker.send_signal(signal.SIGKILL)
                    open_at_kill.append(count)
                    return
                worker.send_signal(signal.SIGCONT)
                time.sleep(0.005)

        kill = threading.Thread(target=killer)
        kill.start()
        with ThreadPoolExecutor(10) as pool:
            list(pool.map(one, burst))
        kill.join(30)
        assert open_at_kill, "the worker was killed with an approval's transaction open"
        assert failed, "the kill cut requests off"
        wait_for_new_worker(base, server, worker.pid)
        drop_slow_trigger(db, kind)
        states = assert_whole(db)
        rows = rows_of(db)
        assert all(rows["state"][cid] == "approved" for cid in answered), "every answered approval committed"
        cut_but_committed = sum(rows["state"][cid] == "approved" for cid in failed)
        print(f"\nworker kill ({kind}): the request killed inside its transaction left nothing; "
              f"burst of {BURST}: killed with {open_at_kill[0]} transaction(s) open, "
              f"{len(answered)} answered, "
              f"{len(failed)} cut off ({cut_but_committed} had committed, {len(failed) - cut_but_committed} "
              f"left no row), final {dict(states)}; {time.monotonic() - started:.1f} s")
        assert len(failed) > cut_but_committed, "the requests inside their transactions left no row"
    finally:
        if server is not None:
            server.stop()
        if db is not None:
            db.dispose()
        if pg_name:
            drop_pg_database(pg_name)


def _try(fn, *args):
    try:
        return fn(*args)
    except requests.RequestException as exc:
        return exc


def _wait_inside(kind: str, worker: psutil.Process, cpu_before: float, url: str):
    """Until the approval is inside the slow trigger: on PostgreSQL its backend sleeps in
    pg_sleep (returns its pid and the tables it has written)."""
    deadline = time.monotonic() + 30
    if kind == "postgresql":
        while time.monotonic() < deadline:
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event = 'PgSleep'").fetchone()
                if row:
                    locked = {r[0] for r in conn.execute(
                        "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "WHERE l.pid = %s AND l.mode = 'RowExclusiveLock'", (row[0],))}
                    return row[0], locked
            time.sleep(0.05)
        raise AssertionError("the approval never reached the slow trigger")
    # SQLite: the worker holds the write lock and has spent a second of CPU on this request
    # (an approval alone takes ~50 ms): it is inside the trigger.
    while time.monotonic() < deadline:
        if worker.cpu_times().user - cpu_before >= 1.0 and _transactions_open(kind, url, worker):
            return None
        time.sleep(0.1)
    raise AssertionError("the approval never held the write lock inside the slow trigger")


def _wait_backend_gone(url: str, pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with psycopg.connect(url, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() is None:
                return
        time.sleep(0.1)
    raise AssertionError(f"backend {pid} of the killed worker did not end")


def _transactions_open(kind: str, url: str, worker: psutil.Process) -> int:
    """The worker's approvals inside their transaction now: PostgreSQL backends sleeping in
    the trigger; on SQLite, 1 when the worker holds the WAL write lock (a POSIX lock on byte
    120 of the -shm file, as /proc/locks shows it)."""
    if kind == "postgresql":
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND wait_event = 'PgSleep'").fetchone()[0]
    shm = os.stat(url.removeprefix("sqlite:///") + "-shm")
    device = f"{os.major(shm.st_dev):02x}:{os.minor(shm.st_dev):02x}:{shm.st_ino}"
    with open("/proc/locks") as locks:
        for line in locks:
            fields = line.split()
            if "->" in fields:
                continue  # a waiter, not a holder
            if fields[1] == "POSIX" and fields[3] == "WRITE" and fields[4] == str(worker.pid) \
                    and fields[5] == device and fields[6] == "120":
                return 1
    return 0
