"""Acceptance: 200 approvals while the relay process is SIGKILLed at random points and
anvil is stopped and restarted once from its state file. Afterwards every ledger entry is
minted exactly once: isMinted for all refs, total supply = ledger total, one event per ref."""

from __future__ import annotations

import random
import signal
import threading
import time

import pytest
from sqlalchemy import func, select

from community.models import Role
from rewards.chain.anvil import Anvil
from rewards.chain.client import credits_contract
from rewards.ledger import points_total
from rewards.models import LedgerEntry, OutboxItem, Wallet
from tests.support.chain import cast_balance, cast_total_supply, deploy_for, minted_ref_counts
from tests.support.community import Community
from tests.support.servers import KopaProcess, kopa_env
from web import bootstrap
from web.migrate import upgrade

pytestmark = pytest.mark.chain

APPROVALS = 200
SECRET = "fault-secret"


def test_exactly_once_through_relay_kills_and_an_anvil_restart(tmp_path, vault_for_fault):
    rng = random.Random(20261122)
    node = Anvil(state_file=tmp_path / "anvil-state.json", state_interval=1).start()
    env = kopa_env(tmp_path, node.url, SECRET)
    upgrade(env["KOPA_DATABASE_URL"])
    db = bootstrap.database(env["KOPA_DATABASE_URL"], secret_key=SECRET)
    relay = None
    try:
        w3, _, token, block = deploy_for(db, vault_for_fault, node.url)
        community = Community(db, vault_for_fault)
        staff = community.user(Role.STAFF)
        members = [community.user() for _ in range(12)]
        tasks = [community.task(staff, complexity=c) for c in (20, 40, 60, 80)]

        def start_relay() -> KopaProcess:
            return KopaProcess(["relay", "--batch-size", "25"], env, tmp_path / "relay.log").start()

        relay = start_relay()
        kills = 0
        in_flight_kills = 0
        done_approving = threading.Event()
        restarted_anvil = threading.Event()

        def rows_in_flight() -> int:
            with db.read_sessions() as session:
                return session.scalar(select(func.count()).where(OutboxItem.status == "sent"))

        def chaos() -> None:
            """Half the kills wait for a batch in flight (marked sent: before or after the
            broadcast, before the record); the others land anywhere, startup included."""
            nonlocal relay, kills, in_flight_kills
            while not done_approving.is_set() or kills < 8:
                if rng.random() < 0.5:
                    # A relay needs its start-up first (6 s for create_app on a busy 2-core
                    # machine): a shorter wait would kill every one before its first batch.
                    deadline = time.monotonic() + 20
                    while rows_in_flight() == 0 and time.monotonic() < deadline:
                        time.sleep(0.002)
                else:
                    time.sleep(rng.uniform(0.2, 1.5))
                relay.stop(sig=signal.SIGKILL)
                kills += 1
                in_flight_kills += rows_in_flight() > 0
                if kills == 3:
                    node.stop()  # SIGTERM: anvil dumps its state
                    time.sleep(0.5)
                    node.start()
                    restarted_anvil.set()
                relay = start_relay()

        chaos_thread = threading.Thread(target=chaos)
        chaos_thread.start()
        for i in range(APPROVALS):
            community.approved(members[i % len(members)], staff, tasks[rng.randrange(len(tasks))])
            time.sleep(rng.uniform(0, 0.05))
        done_approving.set()
        chaos_thread.join(120)
        assert not chaos_thread.is_alive()
        assert restarted_anvil.is_set() and kills >= 8
        assert in_flight_kills >= 1, "at least one kill hit a batch between send and record"

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with db.read_sessions() as session:
                left = session.scalar(select(func.count()).where(OutboxItem.status != "done"))
            if left == 0:
                break
            time.sleep(0.5)
        assert left == 0, (tmp_path / "relay.log").read_text()[-3000:]
        relay.stop()

        with db.read_sessions() as session:
            entries = session.scalars(select(LedgerEntry)).all()
            assert len(entries) == APPROVALS
            ledger_total = sum(e.points for e in entries)
            contract = credits_contract(w3, token)
            with w3.batch_requests() as batch:
                for e in entries:
                    batch.add(contract.functions.isMinted(bytes.fromhex(e.ref[2:])))
                assert all(batch.execute()), "isMinted true for every ref"
            counts = minted_ref_counts(node.url, token, block)
            assert set(counts) == {e.ref for e in entries}
            assert max(counts.values()) == 1, "no ref minted twice"
            assert cast_total_supply(node.url, token) == ledger_total
            for wallet in session.scalars(select(Wallet)).all():
                assert cast_balance(node.url, token, wallet.address) == points_total(session, wallet.user_id)
            attempts = session.scalar(select(func.sum(OutboxItem.attempts)))
        print(f"\nfault test: {APPROVALS} approvals, {kills} relay kills ({in_flight_kills} with a batch "
              "in flight), 1 anvil restart, "
              f"{attempts} send attempts, {ledger_total} credits, 0 duplicates")
    finally:
        if relay is not None:
            relay.stop(sig=signal.SIGKILL)
        node.stop()
        db.dispose()


@pytest.fixture
def vault_for_fault():
    from rewards.vault import KeyVault

    return KeyVault(SECRET)
