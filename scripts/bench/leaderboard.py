"""Benchmark: live leaderboard delivery and board query time (#6, acceptance 3).

Live part: a real `kopa run` server (gunicorn, gevent worker by default, demo community, its own
anvil), N real python-socketio clients (asyncio, spread over a few processes) all watching
this week's community board, and staff approvals over the HTTP API at a fixed rate. Each
approval moves the board, so every client must receive every push. Prints delivered /
expected, p50/p95/p99 latency from sending the approval to each delivery, and the SQL
statements run by cached board requests (counted in-process with an SQLAlchemy listener).

Query part: the uncached board query on PostgreSQL with M members and E ledger entries
(generated in SQL), median of several runs per board.

    .venv/bin/python scripts/bench/leaderboard.py [--clients 500] [--duration 60] [--rate 1]
        [--members 100000] [--entries 1000000] [--skip-live] [--skip-query]

Prints figures; docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from common import figure  # noqa: E402

from community.demo import DEMO_PASSWORD  # noqa: E402
from rewards.chain.anvil import Anvil, free_port  # noqa: E402
from web import bootstrap  # noqa: E402

BOARD = {"scope": "community", "period": "week"}
LIVE_P95_TARGET_MS, QUERY_TARGET_MS = 150, 20
# `name value unit` lines printed after the human-readable output (make bench, #8).
SUMMARY: list[tuple[str, float, str]] = []
MEMBERS = ["member1@kopa.local", "member2@kopa.local", "member3@kopa.local", "member4@kopa.local",
           "member5@kopa.local"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# --- live delivery -------------------------------------------------------------------------------


def _client_process(base: str, count: int, token: str, ready, start, out) -> None:
    """``count`` asyncio clients in one process; sends (version, receive time) lists back."""
    import socketio

    async def run() -> None:
        received: list[list[tuple[int, float]]] = [[] for _ in range(count)]
        clients = []

        async def one(i: int) -> None:
            client = socketio.AsyncClient(reconnection=False)

            @client.on("leaderboard_updated", namespace="/leaderboard")
            async def _update(payload):
                received[i].append((payload["version"], time.time()))

            await client.connect(base, namespaces=["/leaderboard"], transports=["websocket"],
                                 auth={"token": token}, wait_timeout=60)
            await client.call("watch", BOARD, namespace="/leaderboard", timeout=60)
            clients.append(client)

        for chunk in range(0, count, 25):  # do not storm the accept queue
            await asyncio.gather(*(one(i) for i in range(chunk, min(count, chunk + 25))))
        ready.put(len(clients))
        while not start.is_set():
            await asyncio.sleep(0.05)
        while start.is_set():
            await asyncio.sleep(0.1)
        await asyncio.sleep(3)  # stragglers
        out.put([[(v, t) for v, t in r[1:]] for r in received])  # r[0] is the board on watch
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)

    asyncio.run(run())


def _token(base: str, email: str) -> str:
    response = requests.post(f"{base}/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD},
                             timeout=30)
    response.raise_for_status()
    return response.json()["token"]


def _start_server(tmp: Path, rpc_url: str, clients: int, worker_class: str,
                  switch_interval: float | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPA_")}
    env.update(
        KOPA_INSTANCE_PATH=str(tmp / "instance"), KOPA_DATABASE_URL=f"sqlite:///{tmp / 'kopa.sqlite3'}",
        KOPA_RPC_URL=rpc_url, KOPA_SECRET_KEY="bench-secret", KOPA_PORT=str(port),
        KOPA_SITE_URL=f"http://127.0.0.1:{port}", KOPA_DEMO="1",
        # A WebSocket holds a thread of a gthread worker, a greenlet of a gevent one.
        KOPA_WORKER_CLASS=worker_class, KOPA_WORKER_CONNECTIONS=str(clients + 100),
        KOPA_WORKER_THREADS=str(clients + 64 if worker_class == "gthread" else 64),
        KOPA_SUBMISSIONS_PER_HOUR="100000", KOPA_FOUR_EYES_THRESHOLD="1000000",
        PATH=f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
    )
    log = open(tmp / "server.log", "ab")  # noqa: SIM115
    command = [sys.executable, "-m", "flask", "--app", "web", "kopa", "run"]
    if switch_interval:  # the GIL hand-over interval of the server (and its forked worker)
        command = [sys.executable, "-c", f"import sys; sys.setswitchinterval({switch_interval}); "
                   "from flask.cli import main; sys.argv = ['flask', '--app', 'web', 'kopa', 'run']; main()"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"kopa run exited: {(tmp / 'server.log').read_text()[-2000:]}")
        try:
            if requests.get(f"{base}/api/v1/meta", timeout=1).status_code == 200:
                return process, base
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit("kopa did not start")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _contributions(base: str, needed: int) -> list[int]:
    """Pending contributions by five demo members over the open tasks, made before timing."""
    tokens = [_token(base, email) for email in MEMBERS]
    tasks = requests.get(f"{base}/api/v1/tasks", headers={"Authorization": f"Bearer {tokens[0]}"},
                         timeout=30).json()
    ids: list[int] = []
    attempt = 0
    while len(ids) < needed and attempt < needed * 10:
        token = tokens[attempt % len(tokens)]
        task = tasks[(attempt // len(tokens)) % len(tasks)]
        attempt += 1
        response = requests.post(f"{base}/api/v1/tasks/{task['id']}/contributions",
                                 json={"text": f"bench {attempt}"},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if response.status_code == 201:
            ids.append(response.json()["id"])
    if len(ids) < needed:
        raise SystemExit(f"could only create {len(ids)} contributions")
    return ids


def _cached_read_statements(database_url: str, requests_: int) -> tuple[int, int]:
    """SQL statements for cached board requests through the app (after one warming request)."""
    from sqlalchemy import event

    from web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"KOPA_DATABASE_URL": database_url, "KOPA_INSTANCE_PATH": tmp, "SECRET_KEY": "x",
                          "RATELIMIT_ENABLED": False})
        client = app.test_client()
        paths = ["/api/v1/leaderboard", "/api/v1/leaderboard?period=week", "/api/v1/leaderboard?scope=teams"]
        for path in paths:
            assert client.get(path).status_code == 200
        statements = []
        event.listen(app.extensions["kopa.db"].engine, "before_cursor_execute",
                     lambda *a: statements.append(a[2]))
        for i in range(requests_):
            assert client.get(paths[i % len(paths)]).status_code == 200
        app.extensions["kopa.db"].dispose()
        return requests_, len(statements)


def live(args) -> None:
    with tempfile.TemporaryDirectory() as tmp_, Anvil() as node:
        tmp = Path(tmp_)
        server, base = _start_server(tmp, node.url, args.clients, args.worker_class,
                                     switch_interval=args.switch_interval)
        try:
            approvals = int(args.duration * args.rate)
            pending = _contributions(base, approvals)
            staff = _token(base, "staff@kopa.local")
            watcher = _token(base, "member1@kopa.local")
            ctx = mp.get_context("spawn")
            ready, out, start = ctx.Queue(), ctx.Queue(), ctx.Event()
            per = [args.clients // args.procs + (1 if i < args.clients % args.procs else 0)
                   for i in range(args.procs)]
            procs = [ctx.Process(target=_client_process, args=(base, n, watcher, ready, start, out))
                     for n in per if n]
            t_connect = time.monotonic()
            for p in procs:
                p.start()
            connected = sum(ready.get(timeout=600) for _ in procs)
            print(f"clients connected and watching: {connected} in {time.monotonic() - t_connect:.1f} s")
            start.set()
            time.sleep(1)
            sent: list[float] = []
            round_trips: list[float] = []
            interval = 1 / args.rate
            t0 = time.monotonic()
            for i, cid in enumerate(pending):
                target = t0 + i * interval
                time.sleep(max(0.0, target - time.monotonic()))
                sent.append(time.time())
                response = requests.post(f"{base}/api/v1/contributions/{cid}/approve", json={"comment": "ok"},
                                         headers={"Authorization": f"Bearer {staff}"}, timeout=30)
                round_trips.append((time.time() - sent[-1]) * 1000)
                if response.status_code != 200 or response.json()["state"] != "approved":
                    raise SystemExit(f"approval failed: {response.status_code} {response.text}")
            start.clear()
            results = [r for _ in procs for r in out.get(timeout=600)]
            for p in procs:
                p.join(timeout=60)
        finally:
            _stop(server)
        # Each approval bumps the cache version once and its push carries it, so the k-th
        # distinct version seen is the k-th approval.
        versions = sorted({v for per_client in results for v, _ in per_client})
        approval_of = {v: i for i, v in enumerate(versions[: len(sent)])}
        latencies: list[float] = []
        delivered = 0
        for per_client in results:
            seen = set()
            for version, received_at in per_client:
                i = approval_of.get(version)
                if i is None or i in seen:
                    continue
                seen.add(i)
                latencies.append((received_at - sent[i]) * 1000)
                delivered += 1
        expected = len(sent) * connected
        print(f"approvals: {len(sent)} at {args.rate}/s over {args.duration:.0f} s; clients: {connected}; "
              f"distinct versions pushed: {len(versions)}")
        print(f"delivered/expected: {delivered}/{expected} (lost {expected - delivered})")
        SUMMARY.extend([("leaderboard_live_clients", connected, "clients"),
                        ("leaderboard_live_delivered", delivered, "pushes"),
                        ("leaderboard_live_lost", expected - delivered, "pushes")])
        if latencies:
            p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
            print(f"latency approval->delivery ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  "
                  f"max {max(latencies):.1f}")
            print(f"approval HTTP round trip ms (commit, invalidation, board recompute, emit to the room): "
                  f"p50 {percentile(round_trips, 50):.1f}  p95 {percentile(round_trips, 95):.1f}")
            SUMMARY.extend([("leaderboard_live_latency_p50", p50, "ms"),
                            ("leaderboard_live_latency_p95", p95, "ms"),
                            ("leaderboard_live_latency_p99", p99, "ms"),
                            ("leaderboard_live_p95_vs_target", p95 / LIVE_P95_TARGET_MS, "ratio"),
                            ("leaderboard_approval_round_trip_p95", percentile(round_trips, 95), "ms")])


def cached_reads(args) -> None:
    """Cached board requests through the app against a migrated database with some points."""
    from community import accounts
    from community.models import Role
    from rewards.ledger import record_entry
    from web.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/cached.sqlite3"
        upgrade(url)
        db = bootstrap.database(url, secret_key="bench")
        for i in range(30):
            member = accounts.register_member(
                db.unit_of_work(), email=f"m{i}@bench.org", display_name=f"M{i}", password="benchmark-pass",
                role=Role.MEMBER)
            with db.write_sessions() as session:
                record_entry(session, member_id=member, points=i + 1, cause="bench", source_key=f"b{i}",
                             rule=("bench", 1))
                session.commit()
        db.dispose()
        n, statements = _cached_read_statements(url, 300)
        print(f"cached board requests: {n}, SQL statements run: {statements}")
        SUMMARY.append(("leaderboard_cached_read_sql_statements", statements, "statements"))


# --- uncached query at scale ---------------------------------------------------------------------


def _migration(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "migrations" / "versions" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _backfill_sql() -> list[str]:
    """Migrations 0010's and 0012's own backfill statements (PostgreSQL): the totals the
    ledger triggers keep."""
    return (_migration("0010_board_totals").backfill_statements(postgres=True)
            + _migration("0012_process_boards").backfill_statements(postgres=True))


TRIGGERS = ("ledger_board_totals", "ledger_process_board_totals")
PROCESSES, TASKS, CONTRIBUTIONS, TEAMS = 20, 200, 100_000, 50


def query(args) -> None:
    import psycopg

    from rewards.standings import TOP_N, BoardKey, compute_rows, place
    from web.migrate import upgrade

    admin = args.pg_url
    name = f"kopa_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin.rsplit('/', 1)[0]}/{name}"
    # Every entry comes from one of CONTRIBUTIONS contributions, spread over TASKS tasks in
    # PROCESSES processes, so process boards have as much to rank as the community board.
    entries = (
        "INSERT INTO ledger_entries (member_id, contribution_id, points, dimension, cause, source_key, "
        "rule_id, rule_version, ref, created_at) "
        f"SELECT 1 + (g::bigint * 7919) %% %s, 1 + g %% {CONTRIBUTIONS}, "
        "CASE WHEN g %% 50 = 0 THEN -5 ELSE 1 + g %% 40 END, "
        "(ARRAY['participation','impact','collaboration','credits'])[1 + g %% 4], 'bench', 'b' || g, "
        "'bench', 1, '0x' || lpad(to_hex(g), 64, '0'), now() - (g %% 7776000) * interval '1 second' "
        "FROM generate_series(%s::int, %s::int) g"
    )
    try:
        upgrade(url)
        t = time.monotonic()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO users (id, email, display_name, password_hash, role, active, created_at) "
                "SELECT g, 'm' || g || '@bench.org', 'Member ' || g, 'x', 'member', true, now() "
                "FROM generate_series(1, %s) g", (args.members,))
            conn.execute("SELECT setval('users_id_seq', %s)", (args.members,))
            conn.execute(
                "INSERT INTO processes (id, title, description, created_at, status, membership, cap_period) "
                f"SELECT g, 'Process ' || g, '', now(), 'in_progress', 'open', 'week' "
                f"FROM generate_series(1, {PROCESSES}) g")
            conn.execute(
                "INSERT INTO tasks (id, process_id, title, description, complexity, open, position, status) "
                f"SELECT g, 1 + g % {PROCESSES}, 'Task ' || g, '', 20, true, g, 'in_progress' "
                f"FROM generate_series(1, {TASKS}) g")
            conn.execute(
                "INSERT INTO contributions (id, task_id, member_id, text, state, created_at) "
                f"SELECT g, 1 + g %% {TASKS}, 1 + (g::bigint * 7919) %% %s, 'bench', 'approved', now() "
                f"FROM generate_series(1, {CONTRIBUTIONS}) g", (args.members,))
            # TEAMS teams of 2,000 members each (team 1 happens to hold the members whose
            # generated entries are all negative, so the bench times team 2).
            conn.execute(
                "INSERT INTO teams (id, name, kind, description, created_at) "
                f"SELECT g, 'Team ' || g, 'citizens', '', now() FROM generate_series(1, {TEAMS}) g")
            conn.execute(
                "INSERT INTO team_members (team_id, user_id, is_admin) "
                f"SELECT 1 + (g - 1) %% {TEAMS}, g, false FROM generate_series(1, {TEAMS * 2000}) g "
                "WHERE g <= %s", (args.members,))
            # Bulk load without the per-row triggers, then the migrations' own backfills; the
            # triggers' cost per write is measured separately below.
            for trigger in TRIGGERS:
                conn.execute(f"ALTER TABLE ledger_entries DISABLE TRIGGER {trigger}")
            conn.execute(entries, (args.members, 1, args.entries))
            for trigger in TRIGGERS:
                conn.execute(f"ALTER TABLE ledger_entries ENABLE TRIGGER {trigger}")
            for statement in _backfill_sql():
                conn.execute(statement)
            conn.execute("ANALYZE")
            print(f"generated {args.members} members and {args.entries} ledger entries (and their board "
                  f"totals) in {time.monotonic() - t:.1f} s (PostgreSQL)")
            for trigger in ("DISABLE", "ENABLE"):
                for name_ in TRIGGERS:
                    conn.execute(f"ALTER TABLE ledger_entries {trigger} TRIGGER {name_}")
                start = args.entries + (1 if trigger == "DISABLE" else 10_001)
                t = time.perf_counter()
                conn.execute(entries, (args.members, start, start + 9_999))
                per = (time.perf_counter() - t) / 10_000 * 1000
                print(f"ledger insert, triggers {trigger.lower()}d: {per:.3f} ms per entry "
                      "(10,000 in one statement)")
        db = bootstrap.database(url, secret_key="bench")
        boards = (BoardKey("community", "all"), BoardKey("community", "month"), BoardKey("community", "week"),
                  BoardKey("community", "last_week"), BoardKey("community", "all", "impact"),
                  BoardKey("process:1", "all"), BoardKey("process:1", "week"), BoardKey("team:2", "all"),
                  BoardKey("team:2", "month"))
        for key in boards:
            times, place_times = [], []
            for _ in range(args.repeat):
                with db.read_sessions() as session:
                    t = time.perf_counter()
                    rows = compute_rows(session, key, limit=TOP_N, public_only=True)
                    times.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    mine = place(session, key, args.members // 2)
                    place_times.append((time.perf_counter() - t) * 1000)
            name = f"leaderboard_query_{key.scope.replace(':', '')}_{key.period}_{key.dimension or 'all'}"
            SUMMARY.extend([(f"{name}_median", statistics.median(times), "ms"),
                            (f"{name}_vs_target", statistics.median(times) / QUERY_TARGET_MS, "ratio")])
            print(f"uncached board {key.scope}/{key.period}/{key.dimension or 'all dims'} (top {len(rows)}): "
                  f"median {statistics.median(times):.1f} ms, min {min(times):.1f} ms; one member's place "
                  f"(rank {mine and mine['rank']} of {mine and mine['of']}): median "
                  f"{statistics.median(place_times):.1f} ms")
        for key in (BoardKey("teams", "all"), BoardKey("teams", "week")):
            times = []
            for _ in range(args.repeat):
                with db.read_sessions() as session:
                    t = time.perf_counter()
                    rows = compute_rows(session, key, limit=TOP_N, public_only=True)
                    times.append((time.perf_counter() - t) * 1000)
            name = f"leaderboard_query_teams_{key.period}"
            SUMMARY.extend([(f"{name}_median", statistics.median(times), "ms"),
                            (f"{name}_vs_target", statistics.median(times) / QUERY_TARGET_MS, "ratio")])
            print(f"uncached board {key.scope}/{key.period} ({len(rows)} of {TEAMS} teams of 2,000): "
                  f"median {statistics.median(times):.1f} ms")
        db.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--duration", type=float, default=60, help="seconds of approvals")
    parser.add_argument("--rate", type=float, default=1, help="approvals per second")
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--worker-class", choices=("gevent", "gthread"), default="gevent",
                        help="the server's gunicorn worker (KOPA_WORKER_CLASS)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval for the server (Python's default: 0.005 s)")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg-url", default=os.environ.get("KOPA_TEST_POSTGRES_URL") or "postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-query", action="store_true")
    args = parser.parse_args()
    if not args.skip_live:
        live(args)
        cached_reads(args)
    if not args.skip_query:
        query(args)
    print(f"-- figures (targets: live p95 <= {LIVE_P95_TARGET_MS} ms, 0 lost; board query <= "
          f"{QUERY_TARGET_MS} ms)")
    for name, value, unit in SUMMARY:
        figure(name, value, unit)


if __name__ == "__main__":
    main()
