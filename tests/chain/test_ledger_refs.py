"""Dense chain refs on SQLite and PostgreSQL: every ledger entry's ref is the installation's
tag above its own id, taken before the INSERT, so entries written one after another or by
concurrent writers get distinct, consecutive refs (KopaCredits packs 256 of them per slot)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from rewards.ledger import entry_id_of_ref, entry_ref, hashed_ref, instance_id, record_entry
from rewards.models import LedgerEntry, OutboxItem
from tests.support.chain import deploy_for
from tests.support.community import SECRET, Community
from tests.support.relay import drain
from web import bootstrap

ROOT = Path(__file__).resolve().parents[2]
RULE = ("test", 1)


@pytest.fixture
def instance(db) -> str:
    """The instance id, made before the writers start (else the first entry creates it)."""
    with db.write_sessions() as session:
        made = instance_id(session)
        session.commit()
    return made


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


@pytest.mark.usefixtures("instance")
def test_entries_written_in_sequence_get_consecutive_refs(db, community):
    member = community.user()
    written = [_write(db, member, f"seq:{i}") for i in range(5)]
    assert [i for i, _ in written] == list(range(written[0][0], written[0][0] + 5))
    _check_dense(db, written)


@pytest.mark.usefixtures("instance")
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


@pytest.mark.usefixtures("instance")
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


@pytest.mark.usefixtures("instance")
def test_a_duplicate_ref_is_refused(db, community):
    """The unique constraint behind the id: an entry can never reuse another's ref."""
    member = community.user()
    _, ref = _write(db, member, "original")
    with db.write_sessions() as session:
        session.add(LedgerEntry(member_id=member, points=1, cause="test", source_key="copy",
                                rule_id="test", rule_version=1, ref=ref))
        with pytest.raises(IntegrityError):
            session.flush()


def ref_steps() -> str:
    """The ```bash blocks of docs/auditing.md's section on refs, in order, less the line
    where the reader pastes a ref (the test sets REF in the environment instead)."""
    text = (ROOT / "docs" / "auditing.md").read_text()
    section = text[text.index("## From a ref on chain to its ledger entry"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [line for block in blocks for line in block.splitlines() if not line.startswith("REF=0x…")]
    assert len(blocks) == 2 and len(lines) == 6, lines
    return "set -euo pipefail\n" + "\n".join(lines) + "\n"


@pytest.mark.chain
def test_docs_auditing_ref_steps_lead_from_an_event_to_its_entry(sqlite_url, vault, anvil, tmp_path):
    """The auditor's steps run literally with `cast`: a ref taken from a RewardMinted event
    names its entry's row in a real export, and every ref of the export is checked."""
    from rewards.audit.exports import export_files, export_rows
    from rewards.chain.anvil import foundry_binary
    from rewards.chain.relay import Relay

    db = bootstrap.database(sqlite_url, secret_key=SECRET)
    try:
        w3, minter, token, start = deploy_for(db, vault, anvil.url)
        community = Community(db, vault)
        with db.write_sessions() as session:
            instance = instance_id(session)
            session.commit()
        member = community.user()
        with db.write_sessions() as session:  # an entry as written before dense refs
            session.add(LedgerEntry(member_id=member, points=2, cause="test", source_key="before",
                                    rule_id="test", rule_version=1, ref=hashed_ref(instance, "before")))
            session.commit()
        written = [_write(db, member, f"doc:{i}") for i in range(3)]
        drain(Relay(db, w3, minter))
        contract = w3.eth.contract(address=token, abi=[{
            "type": "event", "name": "RewardMinted", "anonymous": False, "inputs": [
                {"name": "to", "type": "address", "indexed": True},
                {"name": "amount", "type": "uint256", "indexed": False},
                {"name": "ref", "type": "bytes32", "indexed": True}]}])
        events = contract.events.RewardMinted.get_logs(from_block=start)
        refs = ["0x" + bytes(ev["args"]["ref"]).hex() for ev in events]
        assert refs == [ref for _, ref in written], "the relay delivered the dense refs in order"
        with db.read_sessions() as session:
            files = export_files(export_rows(session, None, None))
        (tmp_path / "ledger.csv").write_bytes(files["ledger.csv"])
    finally:
        db.dispose()

    entry_id, ref = written[1]
    env = {**os.environ, "RPC": anvil.url, "CREDITS": token, "REF": refs[1],
           "PATH": f"{Path(foundry_binary('cast')).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", ref_steps()], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    assert out[0].startswith(f"{entry_id},") and f",{ref}," in out[0], out
    assert out[1:] == ["true", "3 dense refs, 1 tag(s), 1 older hashed refs"], out


def test_skip_entry_ids_moves_later_refs_past_the_chain_and_never_back(db, community):
    """The remedy after restoring a backup older than the chain (docs/deployment.md)."""
    from rewards.ledger import entry_id_of_ref, instance_id, record_entry, skip_entry_ids

    member = community.user()

    def write(key: str) -> int:
        with db.write_sessions() as session:
            entry = record_entry(session, member_id=member, points=5, cause="test", source_key=key,
                                 rule=("test", 1))
            session.commit()
            return entry_id_of_ref(instance_id(session), entry.ref)

    first = write("a")
    with db.write_sessions() as session:
        assert skip_entry_ids(session, first + 1000) == first + 1001
        session.commit()
    assert write("b") == first + 1001
    with db.write_sessions() as session:
        again = skip_entry_ids(session, 5)  # PostgreSQL may leave a gap (the sequence moved on)
        session.commit()
    assert again > first + 1001, "never backwards"
    assert write("c") == again


def test_wallet_summary_in_one_query_equals_the_figures_one_by_one(db, community):
    """The wallet page and the live push read ``wallet_summary``; its grouped query must give
    what the single-figure functions (used by spending and booking) give, in every state."""
    from sqlalchemy import update

    from rewards.ledger import (
        confirmed_credits,
        pending_burns,
        pending_points,
        points_total,
        record_entry,
        spendable_credits,
        wallet_summary,
    )
    from rewards.models import OutboxItem

    member, other = community.user(), community.user()
    with db.write_sessions() as session:
        entries = [record_entry(session, member_id=who, points=points, cause="test", source_key=f"w{i}",
                                rule=("test", 1))
                   for i, (who, points) in enumerate([(member, 50), (member, 30), (member, -20), (member, -5),
                                                      (other, 70), (other, -9)])]
        session.flush()
        delivered = [entries[0].id, entries[2].id, entries[4].id]
        session.execute(update(OutboxItem).where(OutboxItem.ledger_entry_id.in_(delivered)).values(status="done"))
        session.commit()
    with db.read_sessions() as session:
        summary = wallet_summary(session, member)
        assert summary == {
            "on_chain": confirmed_credits(session, member), "pending_mint": pending_points(session, member),
            "pending_burn": pending_burns(session, member), "spendable": spendable_credits(session, member),
            "points": points_total(session, member),
        }
        assert summary == {"on_chain": 30, "pending_mint": 30, "pending_burn": 5, "spendable": 25,
                           "points": 55}
        assert wallet_summary(session, community.user()) == dict.fromkeys(summary, 0)
