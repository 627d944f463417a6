"""Dense chain refs on SQLite and PostgreSQL: every ledger entry's ref is the installation's
tag above its own id, taken before the INSERT, so entries written one after another or by
concurrent writers get distinct, consecutive refs (KopaCredits packs 256 of them per slot)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from rewards.ledger import entry_id_of_ref, entry_ref, instance_id, record_entry
from rewards.models import LedgerEntry, OutboxItem

RULE = ("test", 1)


@pytest.fixture(autouse=True)
def _instance(db):
    """The instance id exists before the writers start (the first entry creates it)."""
    with db.write_sessions() as session:
        instance_id(session)
        session.commit()


def _write(db, member: int, key: str) -> tuple[int, str]:
    with db.write_sessions() as session:
        entry = record_entry(session, member_id=member, points=5, cause="test", source_key=key, rule=RULE)
        session.commit()
        return entry.id, entry.ref


def _check_dense(db, written: list[tuple[int, str]]) -> None:
    """Each ref is the tag above its entry's id, the outbox carries the same ref, and the
    ids (so the refs as numbers) run without a gap."""
    with db.read_sessions() as session:
        instance = instance_id(session)
        stored = dict(session.execute(select(LedgerEntry.id, LedgerEntry.ref)).all())
        outbox = dict(session.execute(select(OutboxItem.ledger_entry_id, OutboxItem.ref)).all())
    assert dict(written) == stored == outbox
    ids = sorted(stored)
    assert ids == list(range(ids[0], ids[0] + len(ids))), "consecutive ids"
    assert all(ref == entry_ref(instance, i) and entry_id_of_ref(instance, ref) == i for i, ref in written)
    numbers = sorted(int(ref, 16) for ref in stored.values())
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "consecutive refs"


def test_entries_written_in_sequence_get_consecutive_refs(db, community):
    member = community.user()
    written = [_write(db, member, f"seq:{i}") for i in range(5)]
    assert [i for i, _ in written] == list(range(written[0][0], written[0][0] + 5))
    _check_dense(db, written)


def test_concurrent_writers_never_share_a_ref(db, community):
    """Eight threads, each its own write transaction per entry, released together."""
    members = [community.user() for _ in range(4)]
    start = threading.Barrier(8)
    written: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(5):
                written.append(_write(db, members[n % 4], f"thread:{n}:{i}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(written) == 40 and len({ref for _, ref in written}) == 40
    _check_dense(db, written)


def test_overlapping_transactions_take_distinct_ids(db, community, database_url):
    """Two transactions both hold an uncommitted entry at once (PostgreSQL; SQLite's BEGIN
    IMMEDIATE lets only one writer in, the test above covers it): ``nextval`` hands each
    its own id, whichever commits first, and a rolled-back entry only leaves a gap."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite admits one writer at a time: nothing to overlap")
    # one member each: entries of one member also meet on that member's board-totals row
    members = [community.user() for _ in range(3)]
    first, second, dropped = db.write_sessions(), db.write_sessions(), db.write_sessions()
    try:
        for session in (first, second, dropped):  # a lock wait fails the test instead of hanging it
            session.execute(text("SET LOCAL lock_timeout = '10s'"))
        a, b, c = (record_entry(session, member_id=member, points=n, cause="test", source_key=key, rule=RULE)
                   for session, member, n, key in zip((first, second, dropped), members, (1, 2, 3), "abc",
                                                      strict=True))
        assert (b.id, c.id) == (a.id + 1, a.id + 2) and len({a.ref, b.ref, c.ref}) == 3
        dropped.rollback()
        second.commit()
        first.commit()
        written = [(a.id, a.ref), (b.id, b.ref)]
    finally:
        for session in (first, second, dropped):
            session.close()
    _check_dense(db, written)
    later = _write(db, members[0], "d")
    assert later[0] == a.id + 3, "the rolled-back id is never handed out again"


def test_a_duplicate_ref_is_refused(db, community):
    """The unique constraint behind the id: an entry can never reuse another's ref."""
    member = community.user()
    _, ref = _write(db, member, "original")
    with db.write_sessions() as session:
        session.add(LedgerEntry(member_id=member, points=1, cause="test", source_key="copy",
                                rule_id="test", rule_version=1, ref=ref))
        with pytest.raises(IntegrityError):
            session.flush()
