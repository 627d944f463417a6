"""The auditor's view (#7) on a real anvil, SQLite and PostgreSQL: reconciliation finds an
altered ledger row and a mint made on chain with another minter key; Merkle proofs of
anchored epochs verify (also with the standalone script) and fail for altered entries; the
hash-chained audit log catches tampering, deletion and reordering; erasure keeps proofs and
reconciliation valid."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select

from community.errors import Conflict, Forbidden
from community.models import User
from rewards import merkle
from rewards.audit.actions import GENESIS, chain_hash, verify_audit_log, verify_chain
from rewards.audit.epochs import close_epoch
from rewards.audit.erasure import erase_member
from rewards.chain.client import anchor_contract, credits_contract
from rewards.chain.relay import Relay
from rewards.chain.transactions import send_signed, wait
from rewards.models import AuditEpochEntry, LedgerEntry, OutboxItem, Wallet
from tests.support.audit import Setup, tamper_points
from tests.support.community import SECRET
from tests.support.relay import drain
from web.config import ANVIL_DEV_DEPLOYER_KEY

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.chain


def verify_with_script(proof: dict, tmp_path, rpc: str, anchor: str) -> subprocess.CompletedProcess:
    path = tmp_path / f"proof-{proof['entry']['id']}.json"
    path.write_text(json.dumps(proof))
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify_proof.py"), str(path),
         "--rpc-url", rpc, "--anchor", anchor],
        capture_output=True, text=True, timeout=60,
    )


def test_reconciliation_anchoring_proofs_and_an_altered_row(db, vault, community, anvil, tmp_path):
    s = Setup(db, vault, community, anvil)
    report = s.report()
    assert report["ok"], report["mismatches"]
    assert report["total_supply"] == report["ledger_total"] == 2 * (20 + 40 + 60)
    assert all(h["balance"] == h["replayed"] == h["ledger_total"] for h in report["holders"])

    # Proofs wait for the anchor: 409 in the open epoch and while the root is queued.
    first = s.entry_ids()[0]
    with pytest.raises(Conflict):
        s.proof(first)
    closed = close_epoch(db.unit_of_work(), actor_id=s.admin)
    assert closed["entry_count"] == 6
    with pytest.raises(Conflict, match="not anchored"):
        s.proof(first)
    with pytest.raises(Forbidden):
        close_epoch(db.unit_of_work(), actor_id=s.staff)
    drain(s.relay)
    anchor = anchor_contract(s.w3, s.anchor_address())
    assert "0x" + bytes(anchor.functions.rootOf(closed["epoch"]).call()).hex() == closed["root"]
    with pytest.raises(Conflict, match="nothing to anchor"):
        close_epoch(db.unit_of_work(), actor_id=s.admin)

    # Random entries verify, in-process and with the standalone script against rootOf.
    rng = random.Random(7)
    for entry_id in rng.sample(s.entry_ids(), 3):
        proof = s.proof(entry_id)
        assert merkle.verify_inclusion(bytes.fromhex(proof["leaf"][2:]), proof["index"], proof["tree_size"],
                                       [bytes.fromhex(p[2:]) for p in proof["proof"]],
                                       bytes.fromhex(proof["root"][2:]))
        done = verify_with_script(proof, tmp_path, s.rpc, s.anchor_address())
        assert done.returncode == 0 and "PROVED" in done.stdout, done.stdout + done.stderr
        # An altered entry (one more point) does not verify.
        entry = json.loads(bytes.fromhex(proof["leaf"][2:]))
        entry["points"] += 1
        leaf = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
        forged = dict(proof, leaf="0x" + leaf.hex())
        done = verify_with_script(forged, tmp_path, s.rpc, s.anchor_address())
        assert done.returncode == 1 and "NOT PROVED" in done.stdout
    # A member proves their own entry but not someone else's.
    with db.read_sessions() as session:
        own = session.scalars(select(LedgerEntry.id).where(LedgerEntry.member_id == s.members[0])).first()
        other = session.scalars(select(LedgerEntry.id).where(LedgerEntry.member_id == s.members[1])).first()
    assert s.proof(own, viewer=s.members[0])["entry"]["id"] == own
    with pytest.raises(Forbidden):
        s.proof(other, viewer=s.members[0])

    # The attacker changes one delivered row: 20 points become 200.
    tamper_points(db, own, 200)
    report = s.report()
    assert not report["ok"]
    kinds = {m["kind"]: m for m in report["mismatches"]}
    assert kinds["entry-differs"]["entries"] == [own]
    assert own in kinds["holder-balance"]["entries"] and kinds["holder-balance"]["member_id"] == s.members[0]
    assert kinds["epoch-root"]["epoch"] == closed["epoch"] and own in kinds["epoch-root"]["entries"]
    assert report["ledger_total"] == report["total_supply"] + 180
    # ... and the entry's proof no longer verifies against the chain.
    done = verify_with_script(s.proof(own), tmp_path, s.rpc, s.anchor_address())
    assert done.returncode == 1


def _reconcile_cli(db, anvil, tmp_path):
    """`flask --app web kopa reconcile` against this database and chain."""
    from web import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "KOPA_DATABASE_URL": db.url,
                      "KOPA_RPC_URL": anvil.url, "KOPA_INSTANCE_PATH": str(tmp_path / "instance")})
    try:
        return app.test_cli_runner().invoke(args=["kopa", "reconcile"])
    finally:
        app.extensions["kopa.db"].dispose()


def test_a_mint_made_directly_on_chain_with_another_minter_key_is_found(
    db, vault, community, anvil, tmp_path
):
    s = Setup(db, vault, community, anvil)
    assert s.report()["ok"]
    clean = _reconcile_cli(db, anvil, tmp_path)
    assert clean.exit_code == 0 and "reconciliation ok" in clean.output
    rogue = Account.from_key(ANVIL_DEV_DEPLOYER_KEY)  # the admin key grants itself minting
    token = credits_contract(s.w3, s.token)
    role = token.functions.MINTER_ROLE().call()
    for call in (token.functions.grantRole(role, rogue.address),
                 token.functions.mint(s.address(s.members[1]), 500, b"\x42" * 32)):
        tx = call.build_transaction({"from": rogue.address, "gas": 200_000})
        assert wait(s.w3, send_signed(s.w3, rogue, tx, gas=200_000))["status"] == 1
    report = s.report()
    assert not report["ok"]
    kinds = {m["kind"]: m for m in report["mismatches"]}
    assert kinds["chain-without-entry"]["ref"] == "0x" + "42" * 32
    assert kinds["holder-balance"]["member_id"] == s.members[1]
    assert "total-supply" in kinds
    holder = next(h for h in report["holders"] if h["member_id"] == s.members[1])
    assert holder["balance"] == holder["replayed"] == holder["ledger_total"] + 500
    found = _reconcile_cli(db, anvil, tmp_path)
    assert found.exit_code == 1 and "MISMATCH chain-without-entry" in found.output


def test_pending_items_are_listed_with_their_age_not_as_mismatches(db, vault, community, anvil):
    s = Setup(db, vault, community, anvil)
    community.approved(s.members[0], s.staff, community.task(s.staff, complexity=60))
    report = s.report()
    assert report["ok"]
    [pending] = report["pending"]
    assert pending["points"] == 60 and pending["status"] == "pending" and pending["age_seconds"] >= 0
    assert report["ledger_total"] == report["total_supply"] + 60


def test_erasure_keeps_proofs_and_reconciliation_valid(db, vault, community, anvil, tmp_path):
    s = Setup(db, vault, community, anvil)
    s.close_and_anchor()
    gone = s.members[2]
    email = community.email_of(gone)
    with pytest.raises(Forbidden):
        erase_member(db.unit_of_work(), admin_id=s.staff, member_id=gone)
    erase_member(db.unit_of_work(), admin_id=s.admin, member_id=gone)
    with db.read_sessions() as session:
        user = session.get(User, gone)
        assert user.email != email and "erased" in user.display_name and not user.active
        assert session.scalars(select(Wallet).where(Wallet.user_id == gone)).one().encrypted_key == b""
        entry_id = session.scalars(select(LedgerEntry.id).where(LedgerEntry.member_id == gone)).first()
        assert verify_audit_log(session) == []
    assert s.report()["ok"]
    done = verify_with_script(s.proof(entry_id), tmp_path, s.rpc, s.anchor_address())
    assert done.returncode == 0, done.stdout


def test_late_committed_entries_land_in_the_next_epoch(db, vault, community, anvil):
    s = Setup(db, vault, community, anvil)
    first = s.close_and_anchor()
    community.approved(s.members[0], s.staff, community.task(s.staff, complexity=20))
    drain(s.relay)
    second = s.close_and_anchor()
    assert second["epoch"] == first["epoch"] + 1 and second["entry_count"] == 1
    with db.read_sessions() as session:
        positions = session.scalars(select(AuditEpochEntry.position).where(
            AuditEpochEntry.epoch_id == second["epoch"])).all()
        anchors = session.scalars(select(OutboxItem).where(OutboxItem.kind == "anchor")).all()
    assert positions == [0] and all(a.status == "done" and a.tx_hash for a in anchors)
    assert s.report()["ok"]


def test_an_anchor_sent_before_a_crash_is_recorded_from_its_log_not_sent_again(db, vault, community, anvil,
                                                                              monkeypatch):
    s = Setup(db, vault, community, anvil)
    closed = close_epoch(db.unit_of_work(), actor_id=s.admin)
    crashing = Relay(db, s.w3, s.minter)
    monkeypatch.setattr(crashing.book, "mark_done", lambda *a: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        crashing.run_once()
    with db.read_sessions() as session:
        anchor_row = session.get(OutboxItem, closed["outbox_id"])
        assert anchor_row.status == "sent"
    monkeypatch.undo()
    drain(Relay(db, s.w3, s.minter))
    anchor = anchor_contract(s.w3, s.anchor_address())
    logs = anchor.events.EpochAnchored.get_logs(from_block=0, to_block="latest")
    assert [(ev["args"]["epoch"], ev["args"]["entryCount"]) for ev in logs] == [(closed["epoch"], 6)]
    with db.read_sessions() as session:
        anchor_row = session.get(OutboxItem, closed["outbox_id"])
        assert anchor_row.status == "done"
        assert anchor_row.tx_hash == "0x" + bytes(logs[0]["transactionHash"]).hex()
        assert anchor_row.block_number == logs[0]["blockNumber"]
    assert s.proof(s.entry_ids()[0])["anchor_tx"] == anchor_row.tx_hash


# --- the hash-chained audit log --------------------------------------------------------------


def _log_rows(n: int) -> tuple[list[dict], str]:
    rows, prev = [], GENESIS
    for i in range(1, n + 1):
        row = {"id": i, "seq": i, "at": f"2026-01-01T00:00:{i % 60:02d}.000000Z", "actor_id": i % 4,
               "actor_role": "staff", "action": f"POST /x/{i}", "subject": f"/x/{i}", "detail": "{}",
               "prev_hash": prev}
        row["hash"] = chain_hash(prev, row)
        prev = row["hash"]
        rows.append(row)
    return rows, f"{n}:{prev}"


def test_audit_log_verifier_detects_1000_random_mutations():
    rows, head = _log_rows(40)
    assert verify_chain(rows, head) == []
    rng = random.Random(2026)
    fields = ("at", "actor_id", "actor_role", "action", "subject", "detail", "seq", "prev_hash", "hash")
    kinds = {"tamper": 0, "delete": 0, "reorder": 0}
    for _ in range(1000):
        mutated = [dict(r) for r in rows]
        kind = rng.choice(list(kinds))
        kinds[kind] += 1
        if kind == "tamper":
            row = rng.choice(mutated)
            field = rng.choice(fields)
            row[field] = row[field] + 1 if isinstance(row[field], int) else row[field] + "x"
        elif kind == "delete":
            del mutated[rng.randrange(len(mutated))]
        else:
            i, j = rng.sample(range(len(mutated)), 2)
            mutated[i], mutated[j] = mutated[j], mutated[i]
        assert verify_chain(mutated, head), (kind, mutated)
    assert min(kinds.values()) > 250
