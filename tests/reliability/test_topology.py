"""Reliability (#8, slow): the production topology of docs/deployment.md, started locally —
two `kopa run` web workers (both `KOPA_RELAY=off`), one separate `kopa relay` process,
PostgreSQL (a fresh database), Redis (the Socket.IO queue and the shared standings cache) and
an EVM endpoint Kopa did not start (`KOPA_RPC_URL`; an anvil the test runs as the "external"
chain) — and the spine end to end across it: a member submits and staff approve on worker A;
the member's socket on worker B receives `leaderboard_updated` and the relay's
`wallet_updated`; `balanceOf` read with cast equals the ledger."""

from __future__ import annotations

import hashlib
import time

import psutil
import pytest
import redis
import requests
import socketio

from rewards.chain.anvil import Anvil
from tests.support.chain import cast_balance
from tests.support.postgres import drop_pg_database, new_pg_database
from tests.support.servers import KopaProcess, bearer, kopa_env, redis_up, start_server
from web.config import ANVIL_DEV_DEPLOYER_KEY

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.timeout(240)]

REDIS_URL = "redis://127.0.0.1:6379/11"  # this test's own database number
SECRET = "topology-secret"



def wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def test_two_workers_one_relay_postgres_redis_and_an_external_chain(tmp_path):
    if not redis_up(REDIS_URL):
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    started = time.monotonic()
    database_url, database_name = new_pg_database()  # empty: worker A migrates it
    chain = Anvil(log_file=tmp_path / "external-chain.log").start()
    # Not 127.0.0.1: Kopa treats the chain as a real one (no dev deployer key): only A, which
    # deploys, gets KOPA_DEPLOYER_KEY; B and the relay start without it.
    rpc_url = f"http://localhost:{chain.port}"
    shared = {"KOPA_DATABASE_URL": database_url, "KOPA_REDIS_URL": REDIS_URL, "KOPA_RELAY": "off"}
    processes: list[KopaProcess] = []
    client = socketio.Client(reconnection=False)
    try:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        (tmp_path / "relay").mkdir()
        # A migrates, deploys on the external chain and seeds the demo; B only serves.
        a, base_a = start_server(tmp_path / "a", rpc_url, SECRET, KOPA_DEMO="1",
                                 KOPA_DEPLOYER_KEY=ANVIL_DEV_DEPLOYER_KEY, **shared)
        processes.append(a)
        b, base_b = start_server(tmp_path / "b", rpc_url, SECRET, KOPA_DEMO="0", **shared)
        processes.append(b)
        relay_log = tmp_path / "relay" / "relay.log"
        relay = KopaProcess(["relay"], kopa_env(tmp_path / "relay", rpc_url, SECRET, **shared), relay_log)
        processes.append(relay.start())
        wait_for(lambda: "relay delivering to" in relay_log.read_text(), 60, "the relay process started")
        topology_up = time.monotonic() - started

        for server in (a, b):  # neither worker runs a relay of its own
            children = psutil.Process(server.process.pid).children(recursive=True)
            commands = [" ".join(p.cmdline()) for p in children]
            assert not any("kopa relay" in c for c in commands), commands
            assert any("gunicorn" in c for c in commands) and any("kopa reminders" in c for c in commands)
        meta_a = requests.get(f"{base_a}/api/v1/meta", timeout=5).json()
        assert requests.get(f"{base_b}/api/v1/meta", timeout=5).json()["contracts"] == meta_a["contracts"]
        credits = meta_a["contracts"]["KopaCredits"]

        member = bearer(base_a, "member4@kopa.local")
        staff = bearer(base_a, "staff@kopa.local")
        wallet = requests.get(f"{base_b}/api/v1/me/wallet", headers=member, timeout=5).json()
        boards: list[dict] = []
        wallets: list[dict] = []
        client.on("leaderboard_updated", boards.append, namespace="/leaderboard")
        client.on("wallet_updated", wallets.append, namespace="/leaderboard")
        client.connect(base_b, namespaces=["/leaderboard"], transports=["websocket"],
                       auth={"token": member["Authorization"].split()[1]}, wait_timeout=10)
        assert client.call("watch", {"scope": "community", "period": "all"}, namespace="/leaderboard",
                           timeout=10)["ok"] is True
        wait_for(lambda: boards, 5, "worker B sends the current board on watch")
        first = boards[-1]

        # The spine, on worker A.
        task = requests.get(f"{base_a}/api/v1/tasks", headers=member, timeout=5).json()[0]
        created = requests.post(f"{base_a}/api/v1/tasks/{task['id']}/contributions", headers=member,
                                json={"text": "Counted the courtyard's trees",
                                      "evidence_url": "https://example.org/trees.csv"}, timeout=5)
        assert created.status_code == 201, created.text
        approved_at = time.monotonic()
        approved = requests.post(f"{base_a}/api/v1/contributions/{created.json()['id']}/approve",
                                 json={"comment": "Thorough"}, headers=staff, timeout=5)
        assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text

        def ledger_total() -> int:
            return sum(e["points"] for e in requests.get(f"{base_b}/api/v1/ledger?limit=500", headers=member,
                                                         timeout=5).json()["items"])

        total = ledger_total()
        wait_for(lambda: any(p["version"] > first["version"] for p in boards), 10,
                 "leaderboard_updated from worker A's approval reached the client on worker B")
        board_latency = time.monotonic() - approved_at
        wait_for(lambda: any(w["on_chain"] == total and w["pending_mint"] == 0 for w in wallets), 20,
                 f"the relay's wallet_updated (on chain {total}) reached the client on worker B: {wallets}")
        wallet_latency = time.monotonic() - approved_at
        assert cast_balance(chain.url, credits, wallet["address"]) == total, "balanceOf equals the ledger"
        mine = requests.get(f"{base_b}/api/v1/leaderboard/me", headers=member, timeout=5).json()["me"]
        assert mine["points"] == total, "worker B reads the board worker A invalidated"
        seen = requests.get(f"{base_b}/api/v1/me/wallet", headers=member, timeout=5).json()
        assert seen["balance_onchain"] == seen["points_total"] == total and seen["pending"] == 0
        entry = requests.get(f"{base_b}/api/v1/ledger", headers=member, timeout=5).json()["items"][0]
        assert entry["mint_status"] == "done" and entry["tx_hash"]
        print("\ntopology: 2 workers + relay + PostgreSQL + Redis + external chain up in "
              f"{topology_up:.1f} s; "
              f"board push A→B {board_latency:.2f} s, wallet push relay→B {wallet_latency:.2f} s after the "
              f"approval; balanceOf = ledger = {total}; total {time.monotonic() - started:.1f} s")
    finally:
        client.disconnect()
        for process in reversed(processes):
            process.stop()
        chain.stop()
        drop_pg_database(database_name)
        namespace = hashlib.sha256(database_url.encode()).hexdigest()[:12]
        store = redis.Redis.from_url(REDIS_URL)
        for key in store.scan_iter(f"kopa:boards:{namespace}:*"):  # only this test's keys
            store.delete(key)
