"""Benchmark: contended bookings per second through the booking service (no HTTP), on SQLite
(BEGIN IMMEDIATE) and PostgreSQL (exclusion constraint), and the same race without Kopa's
guard (read-then-insert on SQLite's deferred BEGIN) to show what the guard prevents.

    .venv/bin/python scripts/bench/booking_contention.py [--threads 16] [--slots 30]
        [--postgres postgresql://root@127.0.0.1:5432/test]

Prints figures: attempts, winners, 409s, overlapping pairs, wall time, attempts per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import psycopg
from sqlalchemy import select, text

from booking import inventory, reservations
from booking.errors import SlotTaken
from booking.models import Booking
from community import accounts
from community.db import Database
from community.models import Role
from web import bootstrap
from web.migrate import upgrade

OVERLAPS = text(
    "SELECT count(*) FROM bookings a JOIN bookings b ON a.resource_id = b.resource_id AND a.id < b.id "
    "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at "
    "WHERE a.state = 'confirmed' AND b.state = 'confirmed'"
)


def prepare(url: str, threads: int) -> tuple[Database, int, list[int]]:
    upgrade(url)
    db = bootstrap.database(url, secret_key="bench-secret-" + "x" * 20)
    staff = accounts.register_member(
        db.unit_of_work(), email="desk@bench.org", display_name="Desk", password="bench-password",
        role=Role.STAFF)
    group = inventory.create_group(db.unit_of_work(), actor_id=staff, name="Rooms")
    room = inventory.create_resource(db.unit_of_work(), actor_id=staff, group_id=group, name="Room",
                                    hours="Mon-Sun 00:00-24:00", lead_minutes=0, min_minutes=30)
    members = [
        accounts.register_member(
            db.unit_of_work(), email=f"m{i}@bench.org", display_name=f"M{i}", password="bench-password")
        for i in range(threads)
    ]
    return db, room, members


def race(db: Database, room: int, members: list[int], slots: int, book) -> dict:
    tz = ZoneInfo("Europe/Riga")
    first = dt.datetime.combine(dt.date.today() + dt.timedelta(days=3), dt.time(6), tzinfo=tz)
    spans = [(first + dt.timedelta(minutes=30 * i), first + dt.timedelta(minutes=30 * (i + 1)))
             for i in range(slots)]
    counts = {"won": 0, "conflict": 0, "error": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(len(members))

    def run(member: int) -> None:
        for start, end in spans:
            barrier.wait()
            try:
                book(db, member, room, start, end)
                outcome = "won"
            except SlotTaken:
                outcome = "conflict"
            except Exception:
                outcome = "error"
            with lock:
                counts[outcome] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=run, args=(m,)) for m in members]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    with db.engine.connect() as conn:
        overlapping = conn.execute(OVERLAPS).scalar_one()
    attempts = len(members) * slots
    return {**counts, "attempts": attempts, "overlapping_pairs": overlapping, "seconds": round(elapsed, 2),
            "attempts_per_s": round(attempts / elapsed, 1)}


def kopa_book(db, member, room, start, end) -> None:
    reservations.book(db.unit_of_work(), member_id=member, resource_id=room, start=start, end=end)


def naive_book(db, member, room, start, end) -> None:
    """What LibreBooking does: read, then insert, in a deferred transaction."""
    with db.read_sessions() as session, session.begin():
        taken = session.scalar(select(Booking.id).where(
            Booking.resource_id == room, Booking.starts_at < end.astimezone(dt.UTC),
            Booking.ends_at > start.astimezone(dt.UTC), Booking.state == "confirmed"))
        if taken is not None:
            raise SlotTaken("taken")
        time.sleep(0.001)  # the work a real request does between its check and its insert
        session.add(Booking(resource_id=room, member_id=member, starts_at=start.astimezone(dt.UTC),
                            ends_at=end.astimezone(dt.UTC), state="confirmed", credits=0,
                            code=uuid.uuid4().hex[:12].upper()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--slots", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, book in (("sqlite, Kopa (BEGIN IMMEDIATE)", kopa_book),
                            ("sqlite, naive read-then-insert", naive_book)):
            db, room, members = prepare(f"sqlite:///{tmp}/{uuid.uuid4().hex}.sqlite3", args.threads)
            print(f"{label}: {race(db, room, members, args.slots, book)}")
            db.dispose()
    name = f"kopa_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"postgresql: skipped ({exc})")
        return
    try:
        db, room, members = prepare(f"{args.postgres.rsplit('/', 1)[0]}/{name}", args.threads)
        print(f"postgresql, Kopa (exclusion constraint): {race(db, room, members, args.slots, kopa_book)}")
        db.dispose()
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
