"""Benchmark: requests/s and p95 of the main pages, API reads and an API write against the
health endpoint, measured in the same run, with one web worker and with two (#8).

A real `kopa run` (gunicorn, the default gevent worker, demo community, relay running, its
own anvil, SQLite or with ``--pg`` PostgreSQL). For two workers a second `kopa run`
(``KOPA_DEMO=0``, ``KOPA_RELAY=off``) serves the same database, both with
``KOPA_REDIS_URL`` (shared Socket.IO queue, standings cache and rate limits; on PostgreSQL
one worker has it too, as the page cache needs it there); the load is split between them
connection by connection. Each configuration gets a fresh database.

The load generator is this process: asyncio + aiohttp, ``--concurrency`` keep-alive
connections in a closed loop, endpoint after endpoint, ``--rounds`` times ``--duration``
seconds each (after a one-second warm-up), so a change in the machine's load hits every
endpoint alike. Pages are fetched as a signed-in member (session cookie), API calls with
a bearer token; the write submits contributions (``KOPA_SUBMISSIONS_PER_HOUR`` raised).
The generator shares the two cores with the server: its own CPU share during the health
run is printed so that a client-bound reference shows. The five pages come from the page
cache (web/pagecache.py) once seen; ``..._uncached`` fetches them as a hard reload does
(``Cache-Control: no-cache``: rendered afresh, the cost of a miss), and the share of cache
hits is printed. Two signed-in references show the floor any uncached page stands on:
``ref_signed_in_json`` (the reader's cached place: session and user, no page SQL) and
``ref_signed_in_layout`` (a 404 in the layout: session, user, unread count, ``base.html``);
the in-process part adds two more (see ``_ceilings``).

    .venv/bin/python scripts/bench/http_bench.py [--workers 1 2] [--duration 5] [--rounds 2]
        [--concurrency 16] [--pg [URL]] [--anatomy-only] [--profile ENDPOINT...] [--show-sql]

Prints `name value unit` lines on stdout (progress on stderr); docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import requests  # noqa: E402
from common import figure, note, percentile, scratch_postgres  # noqa: E402

from community.demo import DEMO_PASSWORD  # noqa: E402
from rewards.chain.anvil import Anvil  # noqa: E402
from tests.support.servers import KopaProcess, start_server  # noqa: E402

# Flask-Login's "strong" session protection ties the session to the address and User-Agent
# it was created with: every request of the bench sends the same one.
AGENT = "kopa-bench/1"
READER, WRITER = "member1@kopa.local", "member5@kopa.local"
SECRET = "bench-http-secret"
DB_BACKED = ("page_home", "page_leaderboard", "page_processes", "page_process", "page_wallet")
# The same pages on a hard reload (Cache-Control: no-cache): rendered afresh every time, as a
# page cache miss is (web/pagecache.py).
UNCACHED = tuple(f"{name}_uncached" for name in DB_BACKED)
CACHE_HEADER = "X-Kopa-Page-Cache"
TARGET = 0.6  # DB-backed pages against health


@dataclass
class Endpoint:
    name: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    ok: int = 200
    expect: str = ""  # a text the response must contain (checked once before timing)


@dataclass
class Result:
    requests: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    errors: int = 0
    cache_hits: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


def _login_cookie(base: str, email: str) -> str:
    """Sign in through the login form; the cookie is Secure, so it is carried by hand."""
    page = requests.get(f"{base}/login", headers={"User-Agent": AGENT}, timeout=30)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    if csrf is None:
        raise SystemExit("no CSRF token on the login page")
    response = requests.post(
        f"{base}/login", data={"csrf_token": csrf.group(1), "email": email, "password": DEMO_PASSWORD},
        headers={"User-Agent": AGENT, "Cookie": f"session={page.cookies['session']}"},
        allow_redirects=False, timeout=30,
    )
    if response.status_code != 302 or "session" not in response.cookies:
        raise SystemExit(f"login as {email} failed: {response.status_code}")
    # The first page after login stores the session's CSRF secret (the layout's logout form)
    # and sends the session again; a browser keeps that cookie. Without it every request of
    # the bench would write a new session cookie, which no browser's steady state does.
    cookie = f"session={response.cookies['session']}"
    page = requests.get(f"{base}/", headers={"User-Agent": AGENT, "Cookie": cookie}, timeout=30)
    if "session" in page.cookies:
        cookie = f"session={page.cookies['session']}"
    return cookie


def _token(base: str, email: str) -> str:
    response = requests.post(f"{base}/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD},
                             headers={"User-Agent": AGENT}, timeout=30)
    response.raise_for_status()
    return response.json()["token"]


def endpoints(base: str) -> list[Endpoint]:
    cookie = {"Cookie": _login_cookie(base, READER)}
    reader = {"Authorization": f"Bearer {_token(base, READER)}"}
    writer = {"Authorization": f"Bearer {_token(base, WRITER)}"}
    tasks = requests.get(f"{base}/api/v1/tasks", headers={**writer, "User-Agent": AGENT}, timeout=30).json()
    for task in (t for t in tasks if t["open"]):  # the first task the writer may contribute to
        response = requests.post(f"{base}/api/v1/tasks/{task['id']}/contributions", json={"text": "first"},
                                 headers={**writer, "User-Agent": AGENT}, timeout=30)
        if response.status_code == 201:
            break
    else:
        raise SystemExit(f"{WRITER} may contribute to no task")
    pages = [Endpoint("page_home", "GET", "/", cookie, expect="Log out"),
             Endpoint("page_leaderboard", "GET", "/leaderboard", cookie, expect="Log out"),
             Endpoint("page_processes", "GET", "/processes", cookie, expect="Log out"),
             Endpoint("page_process", "GET", f"/processes/{task['process_id']}", cookie, expect="Log out"),
             Endpoint("page_wallet", "GET", "/wallet", cookie, expect="Log out")]
    return [
        Endpoint("health", "GET", "/api/v1/health", expect='"ok"'),
        *pages,
        *(Endpoint(f"{p.name}_uncached", p.method, p.path, {**cookie, "Cache-Control": "no-cache"},
                   expect=p.expect) for p in pages),
        # References for what any signed-in page costs before its own content: the signed-in
        # reader's own place (session, user, cached board and place: no page SQL) and a page
        # that does not exist (the layout around a 404 message: session, user, unread count).
        Endpoint("ref_signed_in_json", "GET", "/leaderboard/me.json", cookie, expect='"me"'),
        Endpoint("ref_signed_in_layout", "GET", "/no-such-page", cookie, ok=404, expect="Log out"),
        Endpoint("api_tasks", "GET", "/api/v1/tasks", reader, expect='"complexity"'),
        Endpoint("api_ledger", "GET", "/api/v1/ledger", reader, expect='"items"'),
        Endpoint("api_leaderboard", "GET", "/api/v1/leaderboard", expect="["),
        Endpoint("api_contribution_write", "POST", f"/api/v1/tasks/{task['id']}/contributions", writer,
                 body={"text": "benchmark contribution"}, ok=201, expect='"pending"'),
    ]


def check(bases: list[str], endpoint: Endpoint) -> None:
    """One request to each server before timing: the right status and content, not a login page."""
    for base in bases:
        response = requests.request(endpoint.method, base + endpoint.path, json=endpoint.body,
                                    headers={"User-Agent": AGENT, **endpoint.headers}, allow_redirects=False,
                                    timeout=30)
        if response.status_code != endpoint.ok or endpoint.expect not in response.text:
            raise SystemExit(f"{endpoint.name} at {base}: {response.status_code} "
                             f"{response.text[:300]!r} (expected {endpoint.ok} with {endpoint.expect!r})")
        if "Cookie" in endpoint.headers and "session" in response.cookies:
            raise SystemExit(f"{endpoint.name} at {base} writes the session on every request")


async def _hammer(bases: list[str], endpoint: Endpoint, seconds: float, concurrency: int) -> Result:
    result = Result()
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     headers={"User-Agent": AGENT}) as session:
        loop = asyncio.get_running_loop()
        stop = loop.time() + seconds

        async def connection(i: int) -> None:
            url = bases[i % len(bases)] + endpoint.path  # the load split between the workers
            while loop.time() < stop:
                t = time.perf_counter()
                async with session.request(endpoint.method, url, json=endpoint.body, headers=endpoint.headers,
                                           allow_redirects=False) as response:
                    await response.read()
                    status = response.status
                    if response.headers.get(CACHE_HEADER) == "hit":
                        result.cache_hits += 1
                result.latencies.append((time.perf_counter() - t) * 1000)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status != endpoint.ok:
                    result.errors += 1

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(connection(i) for i in range(concurrency)))
        result.seconds = time.perf_counter() - wall
        result.cpu = time.process_time() - cpu
    result.requests = len(result.latencies)
    return result


def measure(bases: list[str], eps: list[Endpoint], args) -> dict[str, Result]:
    totals = {e.name: Result() for e in eps}
    for e in eps:
        check(bases, e)
    for round_ in range(args.rounds):
        for e in eps:
            asyncio.run(_hammer(bases, e, 1.0, args.concurrency))  # warm-up, not counted
            r = asyncio.run(_hammer(bases, e, args.duration, args.concurrency))
            t = totals[e.name]
            t.requests += r.requests
            t.seconds += r.seconds
            t.cpu += r.cpu
            t.errors += r.errors
            t.cache_hits += r.cache_hits
            t.latencies += r.latencies
            for status, n in r.statuses.items():
                t.statuses[status] = t.statuses.get(status, 0) + n
            note(f"  round {round_ + 1} {e.name:24} {r.requests / r.seconds:8.1f} req/s  "
                 f"p95 {percentile(r.latencies, 95):7.1f} ms  statuses {r.statuses}")
    return totals


def run_config(workers: int, args, node: Anvil) -> dict[str, Result]:
    with tempfile.TemporaryDirectory() as tmp_, ExitStack() as stack:
        tmp = Path(tmp_)
        database_url = (stack.enter_context(scratch_postgres(args.pg, "kopa_http")) if args.pg
                        else f"sqlite:///{tmp / 'kopa.sqlite3'}")
        servers: list[KopaProcess] = []
        try:
            common = dict(KOPA_DATABASE_URL=database_url, KOPA_SUBMISSIONS_PER_HOUR="1000000000",
                          KOPA_WORKER_CLASS=args.worker_class)
            if workers > 1 or args.pg:  # PostgreSQL installations cache pages only with Redis
                common["KOPA_REDIS_URL"] = args.redis_url
            note(f"== {workers} worker(s), {'PostgreSQL' if args.pg else 'SQLite'}: starting kopa run")
            first, base = start_server(tmp, node.url, SECRET, KOPA_DEMO="1", **common)
            servers.append(first)
            bases = [base]
            for _ in range(workers - 1):
                other, base = start_server(tmp, node.url, SECRET, KOPA_DEMO="0", KOPA_RELAY="off", **common)
                servers.append(other)
                bases.append(base)
            eps = endpoints(bases[0])
            results = {} if args.anatomy_only else measure(bases, eps, args)
            if workers == 1:
                ANATOMY.update(anatomy(database_url, node.url, eps, tmp, profile=args.profile,
                                       show_sql=args.show_sql))
            return results
        finally:
            for server in servers:
                server.stop()


ANATOMY: dict[str, tuple[float, float, float]] = {}  # ms, statements, CPU ms per request


def anatomy(database_url: str, rpc_url: str, eps: list[Endpoint], tmp: Path, n: int = 50, batches: int = 5,
            profile: list[str] | None = None, show_sql: bool = False) -> dict[str, tuple]:
    """Each endpoint through the app in this process (Flask test client, no HTTP server, no
    concurrency) on the database just measured: milliseconds (wall and this process's CPU,
    which another session's load on the machine disturbs less; the best of ``batches``
    batches of ``n``) and SQL statements per request.
    This is where a page's cost against health comes from. ``profile`` names endpoints whose
    requests also run under cProfile (the top functions go to stderr); ``show_sql`` prints
    each endpoint's statements of one request."""
    import cProfile
    import io
    import pstats

    from sqlalchemy import event

    from web import create_app

    app = create_app({"KOPA_DATABASE_URL": database_url, "KOPA_INSTANCE_PATH": str(tmp / "anatomy"),
                      "SECRET_KEY": SECRET, "KOPA_RPC_URL": rpc_url, "RATELIMIT_ENABLED": False,
                      "KOPA_SUBMISSIONS_PER_HOUR": 10**9})
    client = app.test_client(use_cookies=False)  # the session cookie goes as a header
    statements: list[str] = []
    engine = app.extensions["kopa.db"].engine
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    out = {}
    for e in [*eps, *_ceilings(app, eps)]:
        def call(e=e):
            response = client.open(e.path, method=e.method, json=e.body,
                                   headers={"User-Agent": AGENT, **e.headers})
            if response.status_code != e.ok:
                raise SystemExit(f"in-process {e.name}: {response.status_code}")

        for _ in range(5):
            call()
        if show_sql:
            statements.clear()
            call()
            note(f"-- {e.name}: {len(statements)} statements")
            for sql in statements:
                note("   " + " ".join(sql.split())[:200])
        walls, cpus = [], []
        for _ in range(batches):  # the best batch: the least disturbed by other processes
            statements.clear()
            t, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                call()
            walls.append((time.perf_counter() - t) / n * 1000)
            cpus.append((time.process_time() - cpu) / n * 1000)
        out[e.name] = (min(walls), len(statements) / n, min(cpus))
        if profile and (e.name in profile or "all" in profile):
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(n):
                call()
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
            note(f"-- cProfile {e.name}, {n} requests\n{text.getvalue()}")
    app.extensions["kopa.db"].dispose()
    return out


def _ceilings(app, eps: list[Endpoint]) -> list[Endpoint]:
    """Two in-process references for what any signed-in page costs before its own content,
    on routes added to this in-process app only (the server has no such routes): the
    signed-in reader loaded from the session with a plain-text answer, and an empty page in
    the layout (``base.html``: navigation, unread count, logout form, language switcher)."""
    from flask import render_template
    from flask_login import current_user, login_required

    empty = app.jinja_env.from_string('{% extends "base.html" %}{% block content %}{% endblock %}')

    @login_required
    def signed_in_text():
        return current_user.display_name

    @login_required
    def signed_in_empty_page():
        return render_template(empty)

    app.add_url_rule("/_bench/signed-in-text", view_func=signed_in_text)
    app.add_url_rule("/_bench/signed-in-empty-page", view_func=signed_in_empty_page)
    cookie = next(e.headers for e in eps if e.name == "page_home")
    return [Endpoint("ceiling_signed_in_text", "GET", "/_bench/signed-in-text", cookie),
            Endpoint("ceiling_signed_in_empty_page", "GET", "/_bench/signed-in-empty-page", cookie)]


def report(workers: int, results: dict[str, Result]) -> None:
    prefix = f"http_w{workers}"
    health = results["health"]
    health_rps = health.requests / health.seconds
    for name, r in results.items():
        rps = r.requests / r.seconds
        figure(f"{prefix}_{name}_rps", rps, "req/s")
        figure(f"{prefix}_{name}_p95", percentile(r.latencies, 95), "ms")
        if name != "health":
            figure(f"{prefix}_{name}_vs_health", rps / health_rps, "ratio")
        if name in DB_BACKED:
            figure(f"{prefix}_{name}_cache_hit_share", r.cache_hits / max(r.requests, 1), "share")
        if r.errors:
            figure(f"{prefix}_{name}_errors", r.errors, "requests")
    figure(f"{prefix}_client_cpu_during_health", health.cpu / health.seconds, "cores")
    worst = min(results[n].requests / results[n].seconds for n in DB_BACKED) / health_rps
    figure(f"{prefix}_db_pages_worst_vs_health", worst, "ratio")
    uncached = min(results[n].requests / results[n].seconds for n in UNCACHED) / health_rps
    figure(f"{prefix}_db_pages_uncached_worst_vs_health", uncached, "ratio")
    if "ref_signed_in_layout" in results:  # how far the pages are from their own floor
        layout = results["ref_signed_in_layout"]
        figure(f"{prefix}_db_pages_worst_vs_signed_in_layout",
               worst * health_rps / (layout.requests / layout.seconds), "ratio")
    figure(f"{prefix}_db_pages_target_met", int(worst >= TARGET), "bool")
    note(f"target: every DB-backed page >= {TARGET} x health ({', '.join(DB_BACKED)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="configurations to run")
    parser.add_argument("--duration", type=float, default=5, help="seconds per endpoint and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--worker-class", choices=("gevent", "gthread"), default="gevent")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="for two workers")
    parser.add_argument("--pg", nargs="?", const=os.environ.get("KOPA_TEST_POSTGRES_URL")
                        or "postgresql://root@127.0.0.1:5432/test", default=None,
                        help="PostgreSQL (an admin URL; a scratch database is made next to it)")
    parser.add_argument("--anatomy-only", action="store_true",
                        help="no load: only the in-process figures (one worker's database)")
    parser.add_argument("--profile", nargs="+", metavar="ENDPOINT",
                        help="cProfile these endpoints in process (or 'all'); output on stderr")
    parser.add_argument("--show-sql", action="store_true", help="print each endpoint's SQL on stderr")
    args = parser.parse_args()
    if args.anatomy_only:
        args.workers = [1]
    with Anvil() as node:
        runs = {w: run_config(w, args, node) for w in args.workers}
    for workers, results in runs.items():
        if results:
            report(workers, results)
    health_cpu = ANATOMY["health"][2] if "health" in ANATOMY else None
    for name, (ms, sql, cpu) in ANATOMY.items():
        figure(f"http_inprocess_{name}_time", ms, "ms")
        figure(f"http_inprocess_{name}_cpu", cpu, "ms")
        figure(f"http_inprocess_{name}_sql", sql, "statements")
        if health_cpu and name != "health":
            figure(f"http_inprocess_{name}_cpu_vs_health", health_cpu / cpu, "ratio")
    if 1 in runs and len(runs) > 1:
        base = runs[1]["health"].requests / runs[1]["health"].seconds
        for workers, results in runs.items():
            if workers != 1:
                figure(f"http_w{workers}_health_vs_w1", results["health"].requests / results["health"].seconds
                       / base, "ratio")


if __name__ == "__main__":
    main()
