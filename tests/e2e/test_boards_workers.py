"""Two real `kopa run` workers sharing one database and one Redis (#6, acceptance 2): an
approval handled by worker A reaches a python-socketio client connected to worker B, and
B's board reads come from the standings cache A invalidated in Redis."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
import redis
import requests
import socketio

from tests.support.servers import api_token, redis_up, start_server

pytestmark = pytest.mark.chain

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(scope="module")
def workers(anvil, tmp_path_factory):
    if not redis_up(REDIS_URL):
        pytest.skip("Redis is not running at 127.0.0.1:6379; the two-worker test needs a real one")
    tmp = tmp_path_factory.mktemp("two-workers")
    shared = {"KOPA_DATABASE_URL": f"sqlite:///{tmp / 'shared.sqlite3'}", "KOPA_REDIS_URL": REDIS_URL}
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    a, base_a = start_server(tmp / "a", anvil.url, "two-workers-secret", KOPA_DEMO="1", **shared)
    try:
        # B: same database, Redis and secret; the relay runs once, in A's supervisor.
        b, base_b = start_server(tmp / "b", anvil.url, "two-workers-secret", KOPA_DEMO="0", KOPA_RELAY="off",
                                 **shared)
    except BaseException:
        a.stop()
        raise
    yield base_a, base_b
    b.stop()
    a.stop()
    namespace = hashlib.sha256(shared["KOPA_DATABASE_URL"].encode()).hexdigest()[:12]
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"kopa:boards:{namespace}:*"):  # only this test's keys
        client.delete(key)



def approve_new_contribution(base: str, member: str, validators: list[str], task_index: int) -> int:
    """Submit a contribution as ``member`` and approve it (a second validator when four eyes
    asks for one); returns the points the member gained."""
    member_h = {"Authorization": f"Bearer {member}"}
    task = requests.get(f"{base}/api/v1/tasks", headers=member_h, timeout=5).json()[task_index]
    created = requests.post(f"{base}/api/v1/tasks/{task['id']}/contributions",
                            json={"text": "Two workers, one board"}, headers=member_h, timeout=5)
    assert created.status_code == 201, created.text
    for validator in validators:
        approved = requests.post(f"{base}/api/v1/contributions/{created.json()['id']}/approve",
                                 json={"comment": "ok"}, headers={"Authorization": f"Bearer {validator}"},
                                 timeout=5)
        assert approved.status_code == 200, approved.text
        if approved.json()["state"] == "approved":
            break
    assert approved.json()["state"] == "approved"
    gained = sum(e["points"] for e in requests.get(f"{base}/api/v1/ledger", headers=member_h,
                                                     timeout=5).json()["items"]
                 if e["contribution_id"] == created.json()["id"])
    assert gained > 0
    return gained


def test_the_relay_pushes_the_wallet_through_redis_to_a_client_on_worker_b(workers):
    """The relay is its own process (in A's supervisor); its emit goes through Redis."""
    base_a, base_b = workers
    member = api_token(base_a, "member5@kopa.local")
    member_h = {"Authorization": f"Bearer {member}"}
    wallets: list[dict] = []
    client = socketio.Client(reconnection=False)
    client.on("wallet_updated", wallets.append, namespace="/leaderboard")
    client.connect(base_b, namespaces=["/leaderboard"], transports=["websocket"], auth={"token": member},
                   wait_timeout=10)
    try:
        validators = [api_token(base_a, "staff@kopa.local"), api_token(base_a, "staff2@kopa.local")]
        gained = approve_new_contribution(base_a, member, validators, task_index=0)
        total = requests.get(f"{base_a}/api/v1/me/wallet", headers=member_h, timeout=5).json()["points_total"]
        deadline = time.monotonic() + 10
        while not any(w["on_chain"] == total for w in wallets) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(w["on_chain"] == total and w["pending_mint"] == 0 for w in wallets), (
            f"the relay's wallet_updated (+{gained}) reached worker B's client: {wallets}")
    finally:
        client.disconnect()


def test_an_approval_on_worker_a_reaches_a_client_on_worker_b(workers):
    base_a, base_b = workers
    member = api_token(base_a, "member2@kopa.local")
    staff = api_token(base_a, "staff@kopa.local")
    second = api_token(base_a, "staff2@kopa.local")
    member_h = {"Authorization": f"Bearer {member}"}
    before = requests.get(f"{base_b}/api/v1/leaderboard/me", headers=member_h, timeout=5).json()
    points_before = before["me"]["points"] if before["me"] else 0

    received: list[dict] = []
    moved = threading.Event()
    client = socketio.Client(reconnection=False)

    @client.on("leaderboard_updated", namespace="/leaderboard")
    def _on_update(payload):
        received.append(payload)
        if len(received) > 1:
            moved.set()

    client.connect(base_b, namespaces=["/leaderboard"], transports=["websocket"], auth={"token": member},
                   wait_timeout=10)
    try:
        reply = client.call("watch", {"scope": "community", "period": "all"}, namespace="/leaderboard",
                            timeout=10)
        assert reply["ok"] is True
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received, "worker B sends the current board on watch"
        first = received[0]

        gained = approve_new_contribution(base_a, member, [staff, second], task_index=2)

        assert moved.wait(5), "the push from worker A reached the client on worker B within 5 s"
        pushed = received[-1]
        assert pushed["scope"] == "community" and pushed["period"] == "all"
        assert pushed["version"] > first["version"]
        assert pushed["top"] != first["top"]
        mine = requests.get(f"{base_b}/api/v1/leaderboard/me", headers=member_h, timeout=5).json()["me"]
        assert mine["points"] == points_before + gained, "B reads the cache A invalidated"
        assert any(s["points"] == mine["points"] for s in pushed["top"]) or mine["rank"] > len(pushed["top"])
    finally:
        client.disconnect()
