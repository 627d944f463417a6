"""The auditor's checks read Core rows and write the canonical JSON themselves (#8). They must
give, byte for byte, the leaves, roots and chain verdicts of the straightforward code they
replaced: ORM entities, ``json.dumps`` and RFC 6962's recursive tree, here as the reference,
on SQLite and PostgreSQL, for intact and for tampered rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random

import pytest
from sqlalchemy import select, text

from community.db import as_utc
from community.models import Role, User
from rewards.audit.actions import GENESIS, HEAD_KEY, append_action, chain_hash, verify_audit_log
from rewards.audit.canonical import LEAF_FIELDS, canonical_entry, canonical_leaf, ts
from rewards.audit.epochs import close_epoch, epoch_leaves, epoch_root
from rewards.audit.reconcile import ledger_side
from rewards.ledger import record_entry
from rewards.models import AuditEpochEntry, AuditLogRow, LedgerEntry, Setting
from tests.support.audit import Setup
from tests.support.relay import drain

# --- the reference: the code as it was before the fast paths -----------------------------------


def ref_ts(value: dt.datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ref_dumps(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def ref_leaf(entry: LedgerEntry) -> bytes:
    return ref_dumps({
        "cause": entry.cause, "contribution_id": entry.contribution_id,
        "created_at": ref_ts(entry.created_at), "dimension": entry.dimension, "id": entry.id,
        "member_id": entry.member_id, "points": entry.points,
        "ref": entry.ref, "rule_id": entry.rule_id, "rule_version": entry.rule_version,
        "source_key": entry.source_key, "validator_id": entry.validator_id,
    })


def ref_tree_head(leaves: list[bytes]) -> bytes:
    def mth(hashes: list[bytes]) -> bytes:
        if len(hashes) == 1:
            return hashes[0]
        k = 1
        while k << 1 < len(hashes):
            k <<= 1
        return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()

    if not leaves:
        return hashlib.sha256(b"").digest()
    return mth([hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves])


def ref_chain_hash(prev_hash: str, row: dict) -> str:
    canonical = ref_dumps({k: row[k] for k in ("seq", "at", "actor_id", "actor_role", "action", "subject",
                                               "detail")})
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical).hexdigest()


def ref_verify_audit_log(session) -> list[str]:
    """ORM rows, ``strftime`` timestamps, ``json.dumps`` and the verifier's loop as it was."""
    head = session.get(Setting, HEAD_KEY)
    head = head.value if head else None
    problems, prev, expected, last = [], GENESIS, 1, None
    for r in session.scalars(select(AuditLogRow).order_by(AuditLogRow.id)):
        row = {"id": r.id, "seq": r.seq, "at": ref_ts(r.at), "actor_id": r.actor_id,
               "actor_role": r.actor_role, "action": r.action, "subject": r.subject, "detail": r.detail,
               "prev_hash": r.prev_hash, "hash": r.hash}
        if row["seq"] != expected:
            problems.append(f"row id {row['id']}: sequence {row['seq']} where {expected} was expected "
                            "(rows deleted, inserted or reordered)")
        if row["prev_hash"] != prev:
            problems.append(f"row seq {row['seq']}: does not follow the previous row's hash")
        if ref_chain_hash(row["prev_hash"], row) != row["hash"]:
            problems.append(f"row seq {row['seq']}: content does not match its hash (altered)")
        prev, expected, last = row["hash"], expected + 1, row
    if head is not None:
        if last is None or f"{last['seq']}:{last['hash']}" != head:
            problems.append("the last row does not match the recorded head (rows cut off the end?)")
    elif last is not None:
        problems.append("rows exist but no head was recorded")
    return problems


def ref_epoch_leaves(session, epoch_id: int) -> list[bytes]:
    entries = session.scalars(
        select(LedgerEntry).join(AuditEpochEntry, AuditEpochEntry.entry_id == LedgerEntry.id)
        .where(AuditEpochEntry.epoch_id == epoch_id).order_by(AuditEpochEntry.position))
    return [ref_leaf(e) for e in entries]


# --- values that exercise escaping and every fallback ----------------------------------------

STRINGS = ["", "plain", 'quote " inside', "back\\slash", "new\nline\ttab", "nul \x00 and \x1f", "ā ē ī ū",
           "emoji 😀", "</script>", "%s %d %%", "{\"json\":1}", "\u2028\u2029", "ünïcödé " * 20]
DB_STRINGS = [s for s in STRINGS if "\x00" not in s]  # PostgreSQL text holds no NUL
INTS = [0, 1, -1, 7, 2**31, -(2**40), 2**70]
ODD = [True, False, 1.5, -0.0, float("inf")]  # not the columns' types: the general path
TIMES = [
    dt.datetime(2026, 11, 22, 18, 41, 52, 905591),
    dt.datetime(2026, 1, 1),  # microsecond 0
    dt.datetime(2026, 6, 1, 12, 0, 0, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 6, 1, 12, 0, 0, 500000, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    dt.datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
    dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(999, 5, 4, 3, 2, 1),
    dt.datetime(1, 1, 1),
]


def _value(rng: random.Random, kind: str, odd: bool):
    if odd and rng.random() < 0.15:
        return rng.choice([*ODD, None])
    if kind == "str":
        return rng.choice(STRINGS)
    if kind == "int?":
        return rng.choice([*INTS, None])
    return rng.choice(INTS)


def test_timestamps_are_strftimes():
    rng = random.Random(8)
    times = TIMES + [
        dt.datetime(rng.randrange(1, 10_000), rng.randrange(1, 13), rng.randrange(1, 29), rng.randrange(24),
                    rng.randrange(60), rng.randrange(60), rng.randrange(10**6))
        for _ in range(2000)
    ]
    for value in times:
        assert ts(value) == ref_ts(value), value


@pytest.mark.parametrize("odd", [False, True])
def test_leaves_are_json_dumps_of_the_row(odd):
    rng = random.Random(6962 + odd)
    kinds = {"cause": "str", "contribution_id": "int?", "dimension": "str", "id": "int", "member_id": "int",
             "points": "int", "ref": "str", "rule_id": "str", "rule_version": "int", "source_key": "str",
             "validator_id": "int?"}
    fallbacks = 0
    for _ in range(3000):
        row = {name: _value(rng, kind, odd) for name, kind in kinds.items()}
        row["created_at"] = rng.choice(TIMES)
        values = [row[name] for name in LEAF_FIELDS]
        expected = ref_dumps({**row, "created_at": ref_ts(row["created_at"])})
        assert canonical_leaf(values) == expected, row
        fallbacks += any(type(v) in (bool, float) for v in values)
    assert (fallbacks > 300) == odd


@pytest.mark.parametrize("odd", [False, True])
def test_log_rows_hash_as_json_dumps(odd):
    rng = random.Random(9162 + odd)
    for _ in range(3000):
        row = {"seq": _value(rng, "int", odd), "at": ref_ts(rng.choice(TIMES)),
               "actor_id": _value(rng, "int?", odd), "actor_role": _value(rng, "str", odd),
               "action": _value(rng, "str", odd), "subject": _value(rng, "str", odd),
               "detail": _value(rng, "str", odd), "id": 1, "prev_hash": "x", "hash": "y"}
        prev = rng.choice([GENESIS, "ab" * 32, "ā"])
        assert chain_hash(prev, row) == ref_chain_hash(prev, row), row


# --- the database paths against the reference ------------------------------------------------


def _ledger_and_log(db, community) -> tuple[dict, int]:
    """300 ledger entries with awkward text in one closed epoch, 250 logged actions."""
    rng = random.Random(2026)
    admin = community.user(Role.ADMIN)
    members = [community.user() for _ in range(4)]
    with db.write_sessions() as session:
        for i in range(300):
            record_entry(
                session, member_id=rng.choice(members), points=rng.choice([1, 5, 60, -3, 12345678]),
                cause=rng.choice(DB_STRINGS[:10])[:40], source_key=f"fast:{i}:{rng.choice(DB_STRINGS)[:40]}",
                rule=(rng.choice(["base", "rule ā", 'r"q']), rng.randrange(1, 9)),
                validator_id=rng.choice([None, admin]), dimension=rng.choice(["participation", "spending"]),
            )
        session.commit()
    with db.write_sessions() as session:
        actor = session.get(User, admin)
        for i in range(250):
            append_action(session, rng.choice([actor, None]), rng.choice(DB_STRINGS[1:])[:80],
                          f"subject {i} {rng.choice(DB_STRINGS)}"[:200],
                                {"n": i, "text": rng.choice(DB_STRINGS), "nested": {"b": [1, None, "ü"]}})
        session.commit()
    epoch = close_epoch(db.unit_of_work(), actor_id=admin)
    return epoch, admin


def _tamper(db, sql: str, **params) -> None:
    """An attacker with database access, past the ledger's append-only triggers."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        else:
            conn.exec_driver_sql("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
        conn.execute(text(sql), params)


def test_roots_and_chain_verdicts_equal_the_reference(db, community):
    epoch, _ = _ledger_and_log(db, community)
    assert epoch["entry_count"] == 300

    with db.read_sessions() as session:
        leaves = epoch_leaves(session, epoch["epoch"])
        assert leaves == ref_epoch_leaves(session, epoch["epoch"])
        assert "0x" + ref_tree_head(leaves).hex() == epoch["root"] == epoch_root(leaves)
        entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        assert [canonical_entry(e) for e in entries] == leaves
        [side] = ledger_side(session)["epochs"]
        assert side["recomputed_root"] == epoch["root"] and len(side["entry_ids"]) == 300
        assert verify_audit_log(session) == ref_verify_audit_log(session) == []
        seqs = session.scalar(select(AuditLogRow.seq).order_by(AuditLogRow.seq.desc()).limit(1))
    assert seqs == 251  # 250 actions and the epoch's close

    # Tampering, one step after another: each verdict equals the reference's and finds it.
    for sql, params in [
        ("UPDATE audit_log SET detail = :v WHERE seq = :s", {"v": '{"n":99}', "s": 100}),
        ("UPDATE audit_log SET subject = :v WHERE seq = :s", {"v": "subject 7 ūdens", "s": 7}),
        ("UPDATE audit_log SET actor_id = NULL WHERE seq = :s AND actor_id IS NOT NULL", {"s": 150}),
        ("DELETE FROM audit_log WHERE seq = :s", {"s": 200}),
        ("UPDATE audit_log SET seq = 1000 WHERE seq = :s", {"s": 120}),
        ("DELETE FROM audit_log WHERE seq = :s", {"s": 251}),
    ]:
        _tamper(db, sql, **params)
        with db.read_sessions() as session:
            found = verify_audit_log(session)
            assert found == ref_verify_audit_log(session), sql
        assert found, sql

    # An altered ledger row: the root recomputed from today's rows no longer matches.
    _tamper(db, "UPDATE ledger_entries SET points = points + 1 WHERE id = "
                "(SELECT MIN(id) + 150 FROM ledger_entries)")
    _tamper(db, "UPDATE ledger_entries SET cause = :c WHERE id = (SELECT MAX(id) FROM ledger_entries)",
            c='tampered "ā"')
    with db.read_sessions() as session:
        leaves = epoch_leaves(session, epoch["epoch"])
        assert leaves == ref_epoch_leaves(session, epoch["epoch"])
        recomputed = epoch_root(leaves)
        assert recomputed == "0x" + ref_tree_head(leaves).hex() != epoch["root"]
        [side] = ledger_side(session)["epochs"]
        assert side["recomputed_root"] == recomputed


# --- reconciliation's chain reads against web3's contract layer -------------------------------


@pytest.mark.chain
def test_reconcile_reads_what_web3_reads(db, vault, community, anvil):
    """Batched raw ``eth_call``s and topic-decoded logs give the balances, replays, events,
    supply and roots that web3's ``call()`` and ``get_logs`` give, mismatches included:
    a delivered burn, and a rogue minter minting to a member and a stranger and burning."""
    from eth_account import Account

    from rewards.chain.client import anchor_contract, credits_contract
    from rewards.chain.transactions import send_signed, wait
    from rewards.ledger import spend_credits
    from web.config import ANVIL_DEV_DEPLOYER_KEY

    s = Setup(db, vault, community, anvil)
    s.close_and_anchor()
    with db.write_sessions() as session:
        spend_credits(session, member_id=s.members[2], amount=15, cause="shop", source_key="fast:spend")
        session.commit()
    drain(s.relay)
    assert s.report()["ok"]

    token = credits_contract(s.w3, s.token)
    rogue = Account.from_key(ANVIL_DEV_DEPLOYER_KEY)
    stranger = Account.create().address
    calls = [token.functions.grantRole(token.functions.MINTER_ROLE().call(), rogue.address),
             token.functions.grantRole(token.functions.BURNER_ROLE().call(), rogue.address),
             token.functions.mint(s.address(s.members[1]), 500, b"\x42" * 32),
             token.functions.mint(stranger, 77, b"\x43" * 32),
             token.functions.redeem(s.address(s.members[0]), 5, b"\x44" * 32)]
    for call in calls:
        tx = call.build_transaction({"from": rogue.address, "gas": 200_000})
        assert wait(s.w3, send_signed(s.w3, rogue, tx, gas=200_000))["status"] == 1
    report = s.report()

    # The reference: web3's contract layer, one call and one get_logs per event.
    def logs(event):
        return event.get_logs(from_block=report["from_block"], to_block="latest")

    replayed: dict[str, int] = {}
    for ev in logs(token.events.Transfer):
        for side, sign in (("from", -1), ("to", 1)):
            if int(ev["args"][side], 16):
                key = ev["args"][side].lower()
                replayed[key] = replayed.get(key, 0) + sign * ev["args"]["value"]
    events = {}
    for name, holder in (("RewardMinted", "to"), ("CreditsRedeemed", "from")):
        for ev in logs(getattr(token.events, name)):
            ref, tx_hash = "0x" + bytes(ev["args"]["ref"]).hex(), "0x" + bytes(ev["transactionHash"]).hex()
            events[ref] = (name, ev["args"][holder].lower(), ev["args"]["amount"], tx_hash)
    for h in report["holders"]:
        address = s.w3.to_checksum_address(h["address"])
        assert h["balance"] == token.functions.balanceOf(address).call(), h
        assert h["replayed"] == replayed.get(h["address"].lower(), 0), h
    assert report["total_supply"] == token.functions.totalSupply().call()
    anchor = anchor_contract(s.w3, s.anchor_address())
    [epoch] = report["epochs"]
    root = "0x" + bytes(anchor.functions.rootOf(epoch["epoch"]).call()).hex()
    assert epoch["chain_root"] == root == epoch["root"]

    subject = {"chain-without-entry": "ref", "holder-balance": "member_id", "unknown-holder": "address"}
    found = {(m["kind"], m.get(subject.get(m["kind"], ""))): m for m in report["mismatches"]}
    redeemed = "0x" + "44" * 32
    assert set(found) == {
        ("chain-without-entry", "0x" + "42" * 32), ("chain-without-entry", "0x" + "43" * 32),
        ("chain-without-entry", redeemed), ("holder-balance", s.members[0]), ("holder-balance", s.members[1]),
        ("unknown-holder", stranger.lower()), ("total-supply", None),
    }
    for ref in ("0x" + "42" * 32, "0x" + "43" * 32, redeemed):
        name, holder, amount, tx_hash = events[ref]
        assert found[("chain-without-entry", ref)]["tx_hash"] == tx_hash
        assert found[("chain-without-entry", ref)]["address"] == holder
        assert found[("chain-without-entry", ref)]["detail"].startswith(
            f"{name} of {amount if name == 'RewardMinted' else -amount} ")
    burns = [e for e in events.values() if e[0] == "CreditsRedeemed"]
    assert len(burns) == 2  # the ledger's spend and the rogue's
    assert found[("unknown-holder", stranger.lower())]["detail"].startswith("77 credits")
