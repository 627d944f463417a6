"""The spine end to end: a real `kopa run` server (gunicorn, relay process), a real anvil,
HTTP calls, a real python-socketio client, and the chain read with `cast`."""

from __future__ import annotations

import threading
import time

import pytest
import requests
import socketio

from community.demo import DEMO_PASSWORD
from tests.support.chain import cast_balance, cast_total_supply
from tests.support.servers import bearer

pytestmark = pytest.mark.chain



def test_validated_contribution_becomes_tokens_and_moves_the_board(demo_server, anvil):
    member = bearer(demo_server, "member3@kopa.local")
    staff = bearer(demo_server, "staff@kopa.local")
    credits = requests.get(f"{demo_server}/api/v1/meta", timeout=5).json()["contracts"]["KopaCredits"]
    wallet = requests.get(f"{demo_server}/api/v1/me/wallet", headers=member, timeout=5).json()

    boards: list[dict] = []
    wallets: list[dict] = []
    got_update = threading.Event()
    client = socketio.Client(reconnection=False)
    # Another member's socket: personal pushes must never reach it.
    bystander_wallets: list[dict] = []
    bystander = socketio.Client(reconnection=False)
    bystander.on("wallet_updated", bystander_wallets.append, namespace="/leaderboard")

    @client.on("leaderboard_updated", namespace="/leaderboard")
    def _on_update(payload):
        boards.append(payload)
        if any(s["member"] == "Elena" for s in payload["top"]):
            got_update.set()

    client.on("wallet_updated", wallets.append, namespace="/leaderboard")
    client.connect(demo_server, namespaces=["/leaderboard"], transports=["websocket"],
                   auth={"token": member["Authorization"].split()[1]}, wait_timeout=10)
    bystander.connect(demo_server, namespaces=["/leaderboard"], transports=["websocket"],
                      auth={"token": bearer(demo_server, "member4@kopa.local")["Authorization"].split()[1]},
                      wait_timeout=10)
    try:
        client.call("watch", {"scope": "community", "period": "all"}, namespace="/leaderboard", timeout=10)
        time.sleep(0.3)
        assert boards, "the current board arrives on watch"
        before = len(boards)

        def ledger_sum() -> int:
            return sum(e["points"] for e in requests.get(
                f"{demo_server}/api/v1/ledger?limit=500", headers=member, timeout=5).json()["items"])

        already = ledger_sum()  # the demo may have awarded this member something
        # "Map a courtyard" (complexity 20): small enough to need one approval only.
        task = requests.get(f"{demo_server}/api/v1/tasks", headers=member, timeout=5).json()[0]
        created = requests.post(f"{demo_server}/api/v1/tasks/{task['id']}/contributions",
                                json={"text": "Planting plan for courtyard 2",
                                      "evidence_url": "https://example.org/plan.pdf"},
                                headers=member, timeout=5)
        assert created.status_code == 201 and created.json()["state"] == "pending"
        approved = requests.post(f"{demo_server}/api/v1/contributions/{created.json()['id']}/approve",
                                 json={"comment": "Clear plan"}, headers=staff, timeout=5)
        assert approved.status_code == 200 and approved.json()["state"] == "approved"
        started = time.monotonic()

        ledger_total = 0
        balance = -1
        while time.monotonic() - started < 5:
            ledger_total = ledger_sum()
            balance = cast_balance(anvil.url, credits, wallet["address"])
            if balance == ledger_total and got_update.is_set() and wallets:
                break
            time.sleep(0.1)
        detail = requests.get(f"{demo_server}/api/v1/contributions/{created.json()['id']}", headers=member,
                              timeout=5).json()
        assert detail["proposed_points"] > 0
        assert ledger_total - already == detail["proposed_points"]
        assert balance == ledger_total, "balanceOf (read with cast) equals the ledger total within 5 s"
        assert got_update.is_set(), "leaderboard_updated pushed within 5 s"
        pushed = boards[-1]
        assert len(boards) > before
        assert {"scope", "period", "version", "top"} <= set(pushed)
        elena = next(s for s in pushed["top"] if s["member"] == "Elena")
        assert elena["points"] == ledger_total  # the demo gives Elena no spending
        assert set(elena) == {"rank", "member", "points"}, "no personal data in pushes"
        assert cast_total_supply(anvil.url, credits) >= ledger_total

        entry = requests.get(f"{demo_server}/api/v1/ledger", headers=member, timeout=5).json()["items"][0]
        assert entry["tx_hash"] and entry["block"] and entry["mint_status"] == "done"
        wallet = requests.get(f"{demo_server}/api/v1/me/wallet", headers=member, timeout=5).json()
        assert wallet["balance_onchain"] == wallet["points_total"] == ledger_total
        assert wallet["pending"] == 0

        # No Redis here: the worker follows the relay's recorded deliveries and pushes the
        # member's wallet to their own room only.
        deadline = time.monotonic() + 3
        while not any(w["on_chain"] == ledger_total for w in wallets) and time.monotonic() < deadline:
            time.sleep(0.1)
        arrived = [w for w in wallets if w["on_chain"] == ledger_total]
        assert arrived, f"wallet_updated with the new balance reached the member: {wallets}"
        assert arrived[-1]["pending_mint"] == 0 and arrived[-1]["points"] == ledger_total
        assert bystander_wallets == [], "another member's socket got no personal push"
    finally:
        client.disconnect()
        bystander.disconnect()


def test_socket_needs_a_session_or_token(demo_server):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(demo_server, namespaces=["/leaderboard"], transports=["websocket"],
                       auth={"token": "forged"}, wait_timeout=5)
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(demo_server, namespaces=["/leaderboard"], transports=["websocket"], wait_timeout=5)


def test_portal_serves_pages_and_demo_login_works(demo_server):
    session = requests.Session()
    home = session.get(demo_server, timeout=5)
    assert home.status_code == 200 and "Green courtyards" in home.text
    page = session.get(f"{demo_server}/login", timeout=5).text
    for cookie in session.cookies:  # browsers send Secure cookies to 127.0.0.1; requests does not
        cookie.secure = False
    marker = 'name="csrf_token" type="hidden" value="'
    csrf = page[page.index(marker) + len(marker):].split('"', 1)[0]
    form = {"email": "staff2@kopa.local", "password": DEMO_PASSWORD, "csrf_token": csrf}
    response = session.post(f"{demo_server}/login", data=form, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    assert session.get(f"{demo_server}/vendor/socket.io.min.js", timeout=5).status_code == 200
