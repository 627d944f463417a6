"""Notifications live (#9): on a real `kopa run` with the demo community and an SMTP server, the
unread count arrives over a real Socket.IO connection and the e-mail at the SMTP server."""

from __future__ import annotations

import threading
import time

import pytest
import requests
import socketio

from community.demo import DEMO_PASSWORD
from tests.support.notifications import start_inbox
from tests.support.servers import start_server


@pytest.fixture(scope="module")
def mail_server(anvil, tmp_path_factory):
    controller, inbox, url = start_inbox()
    process, base = start_server(tmp_path_factory.mktemp("kopa-notify"), anvil.url, "notify-secret",
                                 KOPA_DEMO="1", KOPA_SMTP_URL=url)
    yield base, inbox
    process.stop()
    controller.stop()


def _token(base: str, address: str) -> str:
    reply = requests.post(f"{base}/api/v1/auth/token", json={"email": address, "password": DEMO_PASSWORD},
                          timeout=10)
    reply.raise_for_status()
    return reply.json()["token"]


@pytest.mark.chain
def test_unread_count_arrives_over_the_socket_and_mail_over_smtp(mail_server):
    base, inbox = mail_server
    member, staff, second = (_token(base, f"{who}@kopa.local") for who in ("member3", "staff", "staff2"))
    mine = {"Authorization": f"Bearer {member}"}
    deadline = time.monotonic() + 30  # the relay first delivers the demo's mints (and says so)
    while requests.get(f"{base}/api/v1/me/wallet", headers=mine, timeout=5).json()["pending"]:
        assert time.monotonic() < deadline, "the relay did not deliver the demo's mints"
        time.sleep(0.2)
    time.sleep(1)
    requests.post(f"{base}/api/v1/notifications/read", headers=mine, timeout=5).raise_for_status()
    counts: list[int] = []
    arrived = threading.Condition()
    client = socketio.Client(reconnection=False)

    @client.on("notifications_unread", namespace="/leaderboard")
    def _count(payload):
        with arrived:
            counts.append(payload["count"])
            arrived.notify_all()

    def wait_for(predicate, what: str, timeout: float = 10) -> None:
        with arrived:
            assert arrived.wait_for(lambda: predicate(counts), timeout), f"{what}; pushed so far: {counts}"

    client.connect(base, namespaces=["/leaderboard"], transports=["websocket"], auth={"token": member},
                   wait_timeout=10)
    try:
        task = requests.get(f"{base}/api/v1/tasks", headers=mine, timeout=5).json()[2]
        first = requests.post(f"{base}/api/v1/tasks/{task['id']}/contributions", json={"text": "Notify me"},
                              headers=mine, timeout=5).json()["id"]
        rejected = requests.post(f"{base}/api/v1/contributions/{first}/reject", json={"comment": "Too short"},
                                 headers={"Authorization": f"Bearer {staff}"}, timeout=5)
        assert rejected.status_code == 200, rejected.text
        wait_for(lambda c: c and c[-1] == 1, "the rejection's unread count is pushed at once")
        mail = inbox.wait_for_text("member3@kopa.local", "Too short")
        assert mail["Subject"].startswith("Kopa: "), "and the e-mail arrived at the SMTP server"

        listed = requests.get(f"{base}/api/v1/notifications?unread=1", headers=mine, timeout=5).json()
        (note,) = listed["items"]
        marked = requests.post(f"{base}/api/v1/notifications/{note['id']}/read", headers=mine, timeout=5)
        assert marked.json()["unread"] == 0
        wait_for(lambda c: c[-1] == 0, "marking read pushes the new count too")

        second_id = requests.post(f"{base}/api/v1/tasks/{task['id']}/contributions", json={"text": "Again"},
                                  headers=mine, timeout=5).json()["id"]
        for validator in (staff, second):  # big tasks need a second member of staff (four eyes)
            approved = requests.post(f"{base}/api/v1/contributions/{second_id}/approve", json={},
                                     headers={"Authorization": f"Bearer {validator}"}, timeout=5).json()
            if approved["state"] == "approved":
                break
        assert approved["state"] == "approved"
        wait_for(lambda c: c[-1] >= 1, "the approval's count is pushed")
        # The relay (its own process) records the mint and adds "points minted"; this worker,
        # without Redis, follows the new row and pushes the count.
        wait_for(lambda c: c[-1] >= 2, "the points-minted notice from the relay is pushed", timeout=30)
        kinds_now = [i["kind"] for i in requests.get(f"{base}/api/v1/notifications?unread=1", headers=mine,
                                                       timeout=5).json()["items"]]
        assert kinds_now[:2] == ["points_minted", "contribution_approved"]
    finally:
        client.disconnect()
