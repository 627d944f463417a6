"""The relay against a real anvil: each ledger entry is minted exactly once whatever
happens between sending and recording."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import select
from web3.exceptions import Web3Exception

from community.models import Role
from rewards.chain.anvil import Anvil
from rewards.chain.client import ChainError, connect
from rewards.chain.deploy import ensure_deployment
from rewards.chain.relay import Relay
from rewards.models import OutboxItem
from tests.support.chain import anvil_reorg, cast_total_supply, deploy_for, minted_ref_counts
from tests.support.community import SECRET, Community
from tests.support.relay import approvals, assert_exactly_once, canonical_mints, drain, recorded_mints
from web import bootstrap
from web.config import ANVIL_DEV_DEPLOYER_KEY

pytestmark = pytest.mark.chain


def test_relay_mints_every_entry_once_and_records_where(db, vault, community, anvil):
    w3, minter, token, block = deploy_for(db, vault, anvil.url)
    approvals(community, 12)
    relay = Relay(db, w3, minter, batch_size=5)
    drain(relay)
    assert_exactly_once(db, anvil.url, token, block)
    drain(relay)  # nothing left: nothing sent
    assert sum(minted_ref_counts(anvil.url, token, block).values()) == 12


def test_crash_after_send_before_record(db, vault, community, anvil, monkeypatch):
    w3, minter, token, block = deploy_for(db, vault, anvil.url)
    approvals(community, 4)
    crashing = Relay(db, w3, minter)
    monkeypatch.setattr(crashing.book, "mark_done", lambda *a: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        crashing.run_once()
    with db.read_sessions() as session:
        assert {r.status for r in session.scalars(select(OutboxItem))} == {"sent"}
    assert sum(minted_ref_counts(anvil.url, token, block).values()) == 4  # on chain, unrecorded

    drain(Relay(db, w3, minter))
    assert_exactly_once(db, anvil.url, token, block)


def test_crash_after_marking_sent_before_broadcast(db, vault, community, anvil, monkeypatch):
    w3, minter, token, block = deploy_for(db, vault, anvil.url)
    approvals(community, 3)
    crashing_w3 = connect(anvil.url)
    crashing = Relay(db, crashing_w3, minter)
    monkeypatch.setattr(crashing_w3.eth, "send_raw_transaction",
                        lambda *a: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        crashing.run_once()
    with db.read_sessions() as session:
        assert all(r.status == "sent" and r.tx_hash for r in session.scalars(select(OutboxItem)))
    assert sum(minted_ref_counts(anvil.url, token, block).values()) == 0

    drain(Relay(db, w3, minter))
    assert_exactly_once(db, anvil.url, token, block)


def test_two_relays_picking_the_same_rows(db, vault, community, anvil):
    _, minter, token, block = deploy_for(db, vault, anvil.url)
    approvals(community, 30)
    relays = [Relay(db, connect(anvil.url), minter, batch_size=10) for _ in range(2)]
    errors: list[BaseException] = []

    def work(relay: Relay) -> None:
        try:
            for _ in range(30):
                try:
                    if relay.run_once() == 0:
                        return
                except Web3Exception as exc:
                    # The other relay took this nonce first, or signed the very same
                    # transaction (same rows, same nonce) and sent it a moment earlier.
                    message = str(exc).lower()
                    if "nonce" not in message and "already imported" not in message:
                        raise
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    drain(relays[0])
    assert_exactly_once(db, anvil.url, token, block)


def test_reset_chain_stops_the_relay_and_mints_nothing(db, vault, community, anvil):
    _, minter, _, _ = deploy_for(db, vault, anvil.url)
    approvals(community, 2)
    with Anvil() as fresh:  # same chain id, none of Kopa's contracts
        relay = Relay(db, connect(fresh.url), minter)
        with pytest.raises(ChainError, match="no code at the recorded KopaCredits address"):
            relay.run_once()
        stop = threading.Event()
        with pytest.raises(ChainError):
            relay.run_forever(stop)
        assert "chain was reset" in relay.error
        assert connect(fresh.url).eth.block_number == 0
    with db.read_sessions() as session:
        assert {r.status for r in session.scalars(select(OutboxItem))} == {"pending"}


def test_lost_blocks_are_requeued_and_minted_again(db, vault, community, tmp_path):
    state = tmp_path / "state.json"
    node = Anvil(state_file=state, state_interval=3600).start()
    try:
        _, minter, token, block = deploy_for(db, vault, node.url)
        node.stop()  # SIGTERM: the deployment is dumped
        node.start()
        approvals(community, 5)
        drain(Relay(db, connect(node.url), minter))
        node.stop(sig=9)  # SIGKILL: the mints were never dumped
        node.start()
        assert cast_total_supply(node.url, token) == 0
        relay = Relay(db, connect(node.url), minter)
        relay.prepare()  # re-verifies recent deliveries
        with db.read_sessions() as session:
            assert {r.status for r in session.scalars(select(OutboxItem))} == {"pending"}
        drain(relay)
        assert_exactly_once(db, node.url, token, block)
    finally:
        node.stop()


def test_deployment_is_reused_and_replaced_loudly_when_code_is_gone(db, vault, anvil, caplog):
    _, minter, first, _ = deploy_for(db, vault, anvil.url)
    _, _, again, _ = deploy_for(db, vault, anvil.url)
    assert again == first
    with Anvil() as fresh, db.write_sessions() as session, caplog.at_level(logging.WARNING):
        replaced = ensure_deployment(session, connect(fresh.url), deployer_key=ANVIL_DEV_DEPLOYER_KEY,
                                     minter_address=minter.address)
        assert "deploying a NEW contract" in caplog.text
        assert len(connect(fresh.url).eth.get_code(replaced.address)) > 0
    with pytest.raises(ChainError, match="must not be the minter"), db.write_sessions() as session:
        from eth_account import Account

        with Anvil() as other:
            ensure_deployment(session, connect(other.url), deployer_key=ANVIL_DEV_DEPLOYER_KEY,
                              minter_address=Account.from_key(ANVIL_DEV_DEPLOYER_KEY).address)


def test_paused_contract_makes_the_relay_wait_not_die(db, vault, community, anvil):
    from eth_account import Account

    from rewards.chain.client import credits_contract
    from rewards.chain.transactions import fee_fields, send_signed, wait

    w3, minter, token, block = deploy_for(db, vault, anvil.url)
    admin = Account.from_key(ANVIL_DEV_DEPLOYER_KEY)
    contract = credits_contract(w3, token)

    def admin_call(fn) -> None:
        tx = fn.build_transaction({"from": admin.address, "gas": 100_000, **fee_fields(w3)})
        assert wait(w3, send_signed(w3, admin, tx, gas=100_000))["status"] == 1

    admin_call(contract.functions.pause())
    approvals(community, 3)
    relay = Relay(db, w3, minter, idle_seconds=0.05)
    stop = threading.Event()
    worker = threading.Thread(target=relay.run_forever, args=(stop,))
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while relay.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert relay.error and "reverted" in relay.error
        assert worker.is_alive(), "a paused contract is no reason to stop"
        with db.read_sessions() as session:
            rows = session.scalars(select(OutboxItem)).all()
            assert {r.status for r in rows} == {"pending"} and "reverted" in rows[0].last_error
        admin_call(contract.functions.unpause())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with db.read_sessions() as session:
                if {r.status for r in session.scalars(select(OutboxItem))} == {"done"}:
                    break
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(30)
    assert_exactly_once(db, anvil.url, token, block)


def test_a_reorg_requeues_what_it_dropped_and_the_relay_mints_it_again_once(db, vault, community):
    """anvil_reorg drops the last blocks' transactions; the running relay notices on its next
    pass (the block it last saw as head changed), re-queues the lost rows and mints them once."""

    with Anvil() as node:
        w3, minter, token, block = deploy_for(db, vault, node.url)
        w3.provider.make_request("anvil_mine", [5])  # the deployment stays out of the reorg's reach
        approvals(community, 6)
        relay = Relay(db, w3, minter, batch_size=2)
        drain(relay)  # three mint transactions, one block each
        assert sum(minted_ref_counts(node.url, token, block).values()) == 6
        anvil_reorg(node.url, 2)
        assert sum(minted_ref_counts(node.url, token, block).values()) == 2, "two batches dropped"
        assert relay.reorgs.watch() == 4
        with db.read_sessions() as session:
            rows = session.scalars(select(OutboxItem)).all()
            assert sorted(r.status for r in rows) == ["done"] * 2 + ["pending"] * 4
            assert all("lost from chain" in r.last_error for r in rows if r.status == "pending")
        drain(relay)
        assert_exactly_once(db, node.url, token, block)
        assert recorded_mints(db) == canonical_mints(w3, token, block)


def test_rows_another_relay_minted_again_after_a_reorg_are_re_recorded(db, vault, community):
    """A reorg drops a batch this relay recorded; before it looks again, another sender (a
    second relay that does not record) mints the same refs anew in another block. The watch
    finds the recorded transaction gone but the refs minted, and records the new place."""
    from rewards.chain.client import credits_contract
    from rewards.chain.lanes import MintLane
    from rewards.chain.transactions import fee_fields, send_signed, wait

    with Anvil() as node:
        w3, minter, token, block = deploy_for(db, vault, node.url)
        w3.provider.make_request("anvil_mine", [5])
        approvals(community, 3)
        first = Relay(db, w3, minter)
        drain(first)
        before = recorded_mints(db)
        anvil_reorg(node.url, 1)
        other = Relay(db, connect(node.url), minter)
        other.contract = credits_contract(other.w3, token)
        with db.read_sessions() as session:
            rows = session.scalars(select(OutboxItem)).all()
        tx = MintLane(other).batch_call(rows).build_transaction({"from": minter.address, **fee_fields(w3)})
        assert wait(w3, send_signed(w3, minter, tx, gas=400_000))["status"] == 1
        assert recorded_mints(db) == before, "the database still points at the dropped transaction"
        assert first.reorgs.watch() == 0, "nothing lost: the refs are minted"
        after = recorded_mints(db)
        assert after == canonical_mints(w3, token, block) and after != before
        assert_exactly_once(db, node.url, token, block)


def test_a_chain_reset_under_a_running_relay_stops_it_without_requeueing(db, vault, community, tmp_path):
    """The node is replaced by a fresh chain (no Kopa contracts) while the relay runs: it stops
    with the reset error; recorded deliveries stay recorded and a pending row is never sent."""
    node = Anvil().start()
    try:
        _, minter, _, _ = deploy_for(db, vault, node.url)
        approvals(community, 3)
        relay = Relay(db, connect(node.url), minter, idle_seconds=0.05)
        drain(relay)
        recorded = recorded_mints(db)
        node.stop(sig=9)
        node.start()  # same port, a fresh chain
        approvals(community, 1)
        stop = threading.Event()
        with pytest.raises(ChainError, match="chain was reset"):
            relay.run_forever(stop)
        assert "refusing to mint" in relay.error
        assert connect(node.url).eth.block_number == 0, "nothing was sent to the fresh chain"
        with db.read_sessions() as session:
            rows = session.scalars(select(OutboxItem)).all()
        assert {r.ref: (r.tx_hash, r.block_number) for r in rows if r.status == "done"} == recorded
        assert [r.status for r in rows if r.ref not in recorded] == ["pending"]
    finally:
        node.stop()


def test_a_database_restored_behind_the_chain_stops_the_relay_instead_of_losing_tokens(
        vault, anvil, sqlite_url, tmp_path):
    """A backup older than the chain's last delivery hands out entry ids, so dense refs, the
    chain has used: a new entry's ref is found on chain for another holder and amount. The
    relay must not record it as delivered (its tokens would never come); it stops and says why."""
    import shutil

    from rewards.ledger import instance_id

    path = sqlite_url.removeprefix("sqlite:///")
    db = bootstrap.database(sqlite_url, secret_key=SECRET)
    w3, minter, token, block = deploy_for(db, vault, anvil.url)
    community = Community(db, vault)
    staff = community.user(Role.STAFF)
    first, second = community.user(), community.user()
    task = community.task(staff, complexity=20)
    with db.write_sessions() as session:
        instance_id(session)  # the installation's tag is in the backup
        session.commit()
    db.dispose()
    shutil.copy(path, tmp_path / "backup.sqlite3")

    db = bootstrap.database(sqlite_url, secret_key=SECRET)
    for _ in range(3):
        Community(db, vault).approved(first, staff, task)
    drain(Relay(db, w3, minter))
    assert sum(minted_ref_counts(anvil.url, token, block).values()) == 3
    db.dispose()

    shutil.copy(tmp_path / "backup.sqlite3", path)  # the restore
    db = bootstrap.database(sqlite_url, secret_key=SECRET)
    try:
        Community(db, vault).approved(second, staff, task)
        with pytest.raises(ChainError, match="database is older than the chain"):
            Relay(db, w3, minter).run_once()
        with db.read_sessions() as session:
            row = session.scalars(select(OutboxItem)).one()
            assert row.status != "done" and row.tx_hash is None, "nothing recorded for the new entry"
        assert minted_ref_counts(anvil.url, token, block)[row.ref] == 1, "and nothing minted twice"
    finally:
        db.dispose()
