"""Acceptance #1: 16 threads race for 30 slots through the HTTP API of a real `kopa run` server
(gunicorn, threaded worker) on SQLite and on PostgreSQL. Every slot has exactly one winner,
every loser gets 409 naming the slot's time, nothing answers 5xx, and the database holds no
two overlapping bookings of the resource afterwards."""

from __future__ import annotations

import collections
import datetime as dt
import threading

import pytest
import requests
from sqlalchemy import text

from booking import inventory
from community import accounts
from community.models import Role
from tests.support.booking import RIGA
from tests.support.postgres import drop_pg_database, new_pg_database
from tests.support.servers import start_server
from web import bootstrap
from web.migrate import upgrade

pytestmark = pytest.mark.chain

THREADS = 16
SLOTS = 30
SECRET = "contention-secret"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def contended(request, anvil, tmp_path_factory):
    """A fresh database with a room and 16 members with API tokens, and a server on it."""
    tmp = tmp_path_factory.mktemp(f"contention-{request.param}")
    if request.param == "sqlite":
        url, pg_name = f"sqlite:///{tmp / 'kopa.sqlite3'}", None
    else:
        url, pg_name = new_pg_database()
    upgrade(url)
    db = bootstrap.database(url, secret_key=SECRET)
    staff = accounts.register_member(
        db.unit_of_work(),
        email="desk@example.org",
        display_name="Desk",
        password="contention-pass",
        role=Role.STAFF,
    )
    group = inventory.create_group(db.unit_of_work(), actor_id=staff, name="Rooms")
    room = inventory.create_resource(
        db.unit_of_work(),
        actor_id=staff,
        group_id=group,
        name="Contended room",
        hours="Mon-Sun 00:00-24:00",
        slot_minutes=30,
        min_minutes=30,
        max_minutes=60,
        lead_minutes=0,
    )
    tokens = []
    for i in range(THREADS):
        member = accounts.register_member(
            db.unit_of_work(),
            email=f"racer{i}@example.org",
            display_name=f"Racer Name{i}",
            password="contention-pass",
        )
        tokens.append(accounts.issue_api_token(db.unit_of_work(), member))
    server, base = start_server(
        tmp, anvil.url, SECRET, KOPA_DATABASE_URL=url, KOPA_DEMO="0", KOPA_RELAY="off"
    )
    try:
        yield base, db, room, tokens
    finally:
        server.stop()
        db.dispose()
        if pg_name:
            drop_pg_database(pg_name)


def test_sixteen_threads_thirty_slots_one_winner_each(contended):
    base, db, room, tokens = contended
    day = dt.datetime.now(RIGA).date() + dt.timedelta(days=3)
    first = dt.datetime.combine(day, dt.time(6), tzinfo=RIGA)
    slots = [
        (first + dt.timedelta(minutes=30 * i), first + dt.timedelta(minutes=30 * (i + 1)))
        for i in range(SLOTS)
    ]
    results: dict[int, list[tuple[int, dict]]] = collections.defaultdict(list)
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)
    lock = threading.Lock()

    def racer(token: str) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        try:
            for i, (start, end) in enumerate(slots):
                barrier.wait(timeout=60)  # every thread fires at the same slot at once
                response = http.post(
                    f"{base}/api/v1/resources/{room}/bookings",
                    json={"start": start.isoformat(), "end": end.isoformat()},
                    timeout=60,
                )
                with lock:
                    results[i].append((response.status_code, response.json()))
        except BaseException as exc:  # surfaced below; a broken barrier must not hang the others
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=racer, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    statuses = collections.Counter(status for outcomes in results.values() for status, _ in outcomes)
    assert statuses == {201: SLOTS, 409: SLOTS * (THREADS - 1)}, statuses
    for i, (start, end) in enumerate(slots):
        outcomes = results[i]
        winners = [body for status, body in outcomes if status == 201]
        assert len(winners) == 1, f"slot {i}: {len(winners)} winners"
        assert winners[0]["state"] == "confirmed" and winners[0]["credits"] == 0
        for status, body in outcomes:
            if status == 409:
                assert body["error"] == "slot_taken"
                assert f"{start:%H:%M}–{end:%H:%M}" in body["message"], body["message"]
                assert "Racer" not in body["message"], "the loser is not told who won"

    with db.engine.connect() as conn:
        overlapping = conn.execute(
            text(
                "SELECT count(*) FROM bookings a JOIN bookings b "
                "ON a.resource_id = b.resource_id AND a.id < b.id "
                "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at "
                "WHERE a.state IN ('pending', 'offered', 'confirmed', 'checked_in') "
                "AND b.state IN ('pending', 'offered', 'confirmed', 'checked_in')"
            )
        ).scalar_one()
        stored = conn.execute(
            text("SELECT count(*) FROM bookings WHERE resource_id = :r"), {"r": room}
        ).scalar_one()
    assert overlapping == 0
    assert stored == SLOTS
