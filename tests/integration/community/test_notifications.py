"""Notifications (#9): every kind is made in its feature's transaction; preferences decide
the e-mail (immediately or in the daily digest); real SMTP messages arrive at an aiosmtpd
server on 127.0.0.1; a digest is never empty nor sent twice; an SMTP server that is down
loses nothing and fails no request; the unread count arrives over a real Socket.IO
connection to a real `kopa run`; nobody marks another member's notification."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import threading
import time

import pytest
import requests
import socketio
from aiosmtpd.controller import Controller
from sqlalchemy import select

from booking import services as booking
from community import services
from community.demo import DEMO_PASSWORD
from community.errors import Conflict, InvalidInput
from community.models import Role
from community.notifications import (
    DIGEST,
    IMMEDIATE,
    MailSettings,
    Notification,
    NotificationDigest,
    digest_moment,
    notify,
    preferences,
    send_digests,
    set_preferences,
)
from rewards import catalogue
from rewards.chain.anvil import free_port
from rewards.chain.relay import Relay
from rewards.minted import notify_minted
from tests.support.booking import NOW, POLICY, RIGA, Centre, at
from tests.support.chain import deploy_for
from tests.support.servers import start_server
from web.live import relay_pushes

# --- a real SMTP server --------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.messages.append((list(envelope.rcpt_tos), message))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self._changed:
            return [m for rcpt, m in self.messages if address in rcpt]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15) -> list[email.message.EmailMessage]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.to(address)) >= count, timeout)
        return self.to(address)

    def wait_for_text(self, address: str, needle: str, timeout: float = 15) -> email.message.EmailMessage:
        def found():
            return next((m for m in self.to(address) if needle in m.get_content()), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None, timeout)
        message = found()
        assert message is not None, f"no e-mail to {address} saying {needle!r}"
        return message


def _start_inbox() -> tuple[Controller, Inbox, str]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, inbox, f"smtp://127.0.0.1:{controller.port}"


@pytest.fixture
def smtp():
    controller, inbox, url = _start_inbox()
    inbox.url = url
    yield inbox
    controller.stop()


def body(message: email.message.EmailMessage) -> str:
    return message.get_content()


# --- helpers ---------------------------------------------------------------------------------------


def rows(db, member: int) -> list[Notification]:
    with db.read_sessions() as session:
        query = select(Notification).where(Notification.user_id == member).order_by(Notification.id)
        return list(session.scalars(query))


def kinds(db, member: int) -> list[str]:
    return [n.kind for n in rows(db, member)]


def submitted(community, member: int, task: int, text: str = "did it") -> int:
    uow = community.db.unit_of_work()
    return services.submit_contribution(uow, member_id=member, task_id=task, text=text)


def token(db, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.issue_api_token(db.unit_of_work(), user_id)}"}


# --- every kind, in its feature's transaction (SQLite and PostgreSQL) ------------------------------


def test_contribution_decisions_notify_the_members_concerned(db, community):
    staff = community.user(Role.STAFF)
    ana, ben = community.user(name="Ana"), community.user(name="Ben")
    task = community.task(staff, complexity=20)

    rejected = submitted(community, ana, task)
    services.reject_contribution(db.unit_of_work(), validator_id=staff, contribution_id=rejected,
                                 comment="No evidence attached")
    changes = submitted(community, ana, task)
    services.request_changes(db.unit_of_work(), validator_id=staff, contribution_id=changes,
                             comment="Add a photo")
    together = services.submit_contribution(db.unit_of_work(), member_id=ana, task_id=task, text="with Ben",
                                            co_contributors=[community.email_of(ben)])
    services.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=together,
                                  level="low")
    services.revoke_contribution(db.unit_of_work(), validator_id=staff, contribution_id=together,
                                 comment="Counted twice")

    assert kinds(db, ana) == ["contribution_rejected", "contribution_changes_requested",
                              "contribution_approved", "contribution_revoked"]
    assert kinds(db, ben) == ["contribution_approved", "contribution_revoked"], "co-contributors too"
    notes = rows(db, ana)
    assert "No evidence attached" in notes[0].text and notes[0].link == f"/contributions/{rejected}"
    assert "Add a photo" in notes[1].text
    assert "20 points" in notes[2].text and "20 points are taken back" in notes[3].text
    assert all(n.email == IMMEDIATE for n in notes), "contribution decisions are mailed at once by default"
    assert kinds(db, staff) == [], "the validator is not told about their own decision"


def test_notifications_exist_only_if_the_work_commits(db, community):
    staff = community.user(Role.STAFF)
    ana = community.user()
    cid = submitted(community, ana, community.task(staff))
    services.reject_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="no")
    with pytest.raises(Conflict, match="rejected"):  # a second decision is refused (409) ...
        services.reject_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="no")
    with pytest.raises(RuntimeError), db.unit_of_work() as uow:
        notify(uow.session, ana, "contribution_rejected", "never committed")
        uow.session.flush()
        raise RuntimeError("the work failed after notifying")
    assert kinds(db, ana) == ["contribution_rejected"], "... and neither adds a notification"


def test_booking_reminder_waitlist_promotion_and_redemption_fulfilled(db, community):
    centre = Centre(db, community)
    room = centre.resource(name="Quiet room")
    holder, waiting = centre.member("Holder"), centre.member("Waiting")

    taken = centre.book(holder, room, at(1, 10), at(1, 11))
    booking.join_waitlist(db.unit_of_work(), member_id=waiting, resource_id=room, start=at(1, 10).isoformat(),
                          end=at(1, 11).isoformat(), now=NOW, policy=POLICY)
    assert booking.send_due_reminders(db.unit_of_work(), at(0, 11), policy=POLICY) == 1
    assert kinds(db, holder) == ["booking_reminder"]
    assert taken.code in rows(db, holder)[0].text

    booking.cancel(db.unit_of_work(), actor_id=holder, booking_id=taken.id, now=NOW, policy=POLICY)
    assert kinds(db, waiting) == ["waitlist_offer"], "the freed slot is offered to the member waiting"
    assert "Quiet room" in rows(db, waiting)[0].text

    member = centre.member("Redeemer")
    centre.give_credits(member, 5)
    item = catalogue.save_item(db.unit_of_work(), actor_id=centre.staff, name="Coffee voucher", price=2)
    redemption = catalogue.redeem_item(db.unit_of_work(), member_id=member, item_id=item)
    assert kinds(db, member) == [], "requesting is the member's own act"
    catalogue.fulfil_redemption(db.unit_of_work(), actor_id=centre.staff, redemption_id=redemption.id,
                                note="At the front desk")
    assert kinds(db, member) == ["redemption_fulfilled"]
    assert "Coffee voucher" in rows(db, member)[0].text and "front desk" in rows(db, member)[0].text


@pytest.mark.chain
def test_points_minted_when_the_relay_records_the_mint(db, community, vault, anvil):
    w3, minter, _address, _block = deploy_for(db, vault, anvil.url)
    staff = community.user(Role.STAFF)
    ana, ben = community.user(), community.user()
    for member in (ana, ben):
        community.approved(member, staff, community.task(staff, complexity=40), level="low")
    relay = Relay(db, w3, minter, on_delivered=relay_pushes(db, push=False))
    assert "points_minted" not in kinds(db, ana), "nothing is minted before the relay delivers"
    while relay.run_once():
        pass
    for member in (ana, ben):
        minted = [n for n in rows(db, member) if n.kind == "points_minted"]
        assert len(minted) == 1 and "40 points you earned" in minted[0].text, minted
        assert minted[0].email == DIGEST, "points minted go to the daily digest by default"
    assert notify_minted(db, []) == 0


# --- preferences --------------------------------------------------------------------------------


def test_preferences_default_change_and_validation(db, community):
    ana = community.user()
    with db.read_sessions() as session:
        default = preferences(session, ana)
    assert {k: v for k, v in default["contribution_decided"].items() if k != "label"} == {
        "in_app": True, "email": True, "mode": IMMEDIATE}
    assert default["points_minted"]["mode"] == DIGEST
    with db.write_sessions() as session, session.begin():
        waiting = notify(session, ana, "contribution_rejected", "waiting for the digest")
        waiting.email = DIGEST
    changed = set_preferences(db.unit_of_work(), user_id=ana, changes={
        "contribution_decided": {"email": False}, "points_minted": {"mode": IMMEDIATE}})
    decided = changed["contribution_decided"]
    assert decided["email"] is False and decided["mode"] == IMMEDIATE
    assert changed["points_minted"] == {**changed["points_minted"], "email": True, "mode": IMMEDIATE}
    assert rows(db, ana)[0].email is None, "switching e-mail off drops what was still to be mailed"

    with db.write_sessions() as session, session.begin():
        notify(session, ana, "contribution_approved", "in-app only now")
        notify(session, ana, "points_minted", "mailed at once now")
    assert [n.email for n in rows(db, ana)[1:]] == [None, IMMEDIATE]

    for bad, message in (
        ({"nonsense": {"email": True}}, "unknown category"),
        ({"points_minted": {"mode": "weekly"}}, "mode must be one of"),
        ({"points_minted": {"email": "yes"}}, "must be true or false"),
        ({"points_minted": {"in_app": False}}, "always on"),
        ([], "send an object"),
    ):
        with pytest.raises(InvalidInput, match=message):
            set_preferences(db.unit_of_work(), user_id=ana, changes=bad)
    with db.read_sessions() as session:
        assert preferences(session, ana)["points_minted"]["mode"] == IMMEDIATE, "all or nothing"


def test_digest_is_never_empty_never_twice_and_daily(db, community):
    ana, ben, cai = community.user(), community.user(), community.user()
    set_preferences(db.unit_of_work(), user_id=ben, changes={"contribution_decided": {"mode": DIGEST}})
    with db.write_sessions() as session, session.begin():
        for n in range(3):
            notify(session, ana, "points_minted", f"minted {n}", "/wallet")  # digest by default
        notify(session, ben, "booking_reminder", "mailed at once, not in a digest")
    sent: list[tuple[str, str, str]] = []

    def send(*mail):
        sent.append(mail)

    settings = MailSettings(site_url="http://kopa.test", tz=RIGA)
    first_run = dt.datetime.now(dt.UTC)
    assert send_digests(db, send, settings, now=first_run) == 1, "one: ben and cai have nothing waiting"
    (to, subject, text), = sent
    assert to == community.email_of(ana) and "3 notifications" in subject
    assert all(f"minted {n}" in text for n in range(3)) and "http://kopa.test/wallet" in text
    assert send_digests(db, send, settings) == 0 and len(sent) == 1, "nothing is sent twice, nothing empty"

    # The daily run (``due_since``: today's digest time): one digest a day per member.
    morning = dt.datetime(2030, 1, 8, 5, 30, tzinfo=dt.UTC)  # 07:30 in Riga
    moment = digest_moment(morning, 7, RIGA)
    assert moment == dt.datetime(2030, 1, 8, 5, 0, tzinfo=dt.UTC)
    before_seven = dt.datetime(2030, 1, 8, 4, 0, tzinfo=dt.UTC)
    assert digest_moment(before_seven, 7, RIGA) == moment - dt.timedelta(days=1)
    with db.write_sessions() as session, session.begin():
        notify(session, ana, "points_minted", "minted later")
    today = first_run - dt.timedelta(hours=1)
    assert send_digests(db, send, settings, due_since=today) == 0, "ana had today's digest already"
    tomorrow = first_run + dt.timedelta(seconds=1)
    assert send_digests(db, send, settings, due_since=tomorrow) == 1
    assert "minted later" in sent[-1][2] and "minted 0" not in sent[-1][2]
    with db.read_sessions() as session:
        digests = session.scalars(select(NotificationDigest).order_by(NotificationDigest.id)).all()
        sent_rows = [(d.user_id, d.count, d.sent_at is not None) for d in digests]
    assert sent_rows == [(ana, 3, True), (ana, 1, True)]
    assert cai not in {d.user_id for d in digests}


# --- real e-mail through the app (aiosmtpd on 127.0.0.1) ----------------------------------------------


def test_immediate_emails_arrive_after_the_commit(app, client, app_community, smtp):
    app.config["KOPA_SMTP_URL"] = smtp.url
    db = app.extensions["kopa.db"]
    staff = app_community.user(Role.STAFF)
    ana = app_community.user(name="Ana Mail")
    cid = submitted(app_community, ana, app_community.task(staff))
    reply = client.post(f"/api/v1/contributions/{cid}/reject", json={"comment": "Please add the minutes"},
                        headers=token(db, staff))
    assert reply.status_code == 200, reply.get_json()
    app.extensions["kopa.notifications"].wait()
    (message,) = smtp.wait_for(app_community.email_of(ana))
    assert message["Subject"].startswith("Kopa: Your contribution to")
    text = body(message)
    assert "Please add the minutes" in text and f"/contributions/{cid}" in text
    assert "/notifications/preferences" in text, "every e-mail says how to change what is mailed"
    (note,) = rows(db, ana)
    assert note.emailed_at is not None and note.mail_attempts == 1
    assert smtp.to(app_community.email_of(staff)) == []


def test_preferences_decide_what_is_mailed_and_digest_command(app, client, app_community, smtp):
    app.config["KOPA_SMTP_URL"] = smtp.url
    db = app.extensions["kopa.db"]
    staff = app_community.user(Role.STAFF)
    quiet, digest, idle = (app_community.user(name=n) for n in ("Quiet", "Digest", "Idle"))
    assert client.put("/api/v1/notifications/preferences", json={"contribution_decided": {"email": False}},
                      headers=token(db, quiet)).status_code == 200
    for member in (digest, idle):
        reply = client.put("/api/v1/notifications/preferences",
                           json={"contribution_decided": {"mode": "digest"}}, headers=token(db, member))
        assert reply.get_json()["contribution_decided"]["mode"] == "digest"
    task = app_community.task(staff)
    for member in (quiet, digest, digest):
        cid = submitted(app_community, member, task)
        services.reject_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="no")
    app.extensions["kopa.notifications"].wait()
    time.sleep(0.5)  # a wrongly sent mail would have arrived by now
    assert smtp.messages == [], "neither the e-mail-off member nor the digest member gets a mail at once"
    assert len(rows(db, quiet)) == 1 and len(rows(db, digest)) == 2, "in-app is always on"

    runner = app.test_cli_runner()
    result = runner.invoke(args=["kopa", "digest"])
    assert result.exit_code == 0, result.output
    assert "sent 1 digest(s)" in result.output
    (message,) = smtp.wait_for(app_community.email_of(digest))
    assert "daily digest (2 notifications)" in message["Subject"]
    assert body(message).count("was rejected") == 2
    assert smtp.to(app_community.email_of(idle)) == [] and smtp.to(app_community.email_of(quiet)) == []
    again = runner.invoke(args=["kopa", "digest"])
    assert "sent 0 digest(s)" in again.output and len(smtp.messages) == 1, "never twice, never empty"

    app.config["KOPA_SMTP_URL"] = ""
    refused = runner.invoke(args=["kopa", "digest"])
    assert refused.exit_code != 0 and "KOPA_SMTP_URL is not set" in refused.output


def test_smtp_down_loses_nothing_and_fails_no_request(app, client, app_community, smtp):
    app.config["KOPA_SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    db = app.extensions["kopa.db"]
    staff = app_community.user(Role.STAFF)
    ana = app_community.user(name="Ana Offline")
    cid = submitted(app_community, ana, app_community.task(staff))
    reply = client.post(f"/api/v1/contributions/{cid}/reject", json={"comment": "Not this time"},
                        headers=token(db, staff))
    assert reply.status_code == 200 and reply.get_json()["state"] == "rejected"
    app.extensions["kopa.notifications"].wait()
    (note,) = rows(db, ana)
    assert note.kind == "contribution_rejected" and note.emailed_at is None and note.mail_attempts == 1
    listed = client.get("/api/v1/notifications", headers=token(db, ana)).get_json()
    assert listed["unread"] == 1 and listed["items"][0]["text"] == note.text

    app.config["KOPA_SMTP_URL"] = smtp.url  # the server is back: the next run retries
    result = app.test_cli_runner().invoke(args=["kopa", "digest"])
    assert result.exit_code == 0 and "1 retried e-mail(s)" in result.output, result.output
    (message,) = smtp.wait_for(app_community.email_of(ana))
    assert "Not this time" in body(message)
    assert rows(db, ana)[0].emailed_at is not None


# --- pages and API: ownership, CSRF forms without JavaScript ---------------------------------------


def test_pages_and_api_mark_read_only_own_notifications(app, client, auth, app_community):
    db = app.extensions["kopa.db"]
    ana_email = "ana-pages@example.org"
    ana = app_community.user(email=ana_email, name="Ana Pages")
    ben = app_community.user(name="Ben Other")
    with db.write_sessions() as session, session.begin():
        mine = [notify(session, ana, "contribution_rejected", f"mine {n}", "/contributions/1")
                for n in range(3)]
        theirs = notify(session, ben, "contribution_rejected", "not yours")
    mine_ids, theirs_id = [n.id for n in mine], theirs.id

    assert client.get("/notifications").status_code == 302, "log in first"
    assert client.post(f"/api/v1/notifications/{theirs_id}/read", headers=token(db, ana)).status_code == 404
    assert client.post("/api/v1/notifications/abc/read", headers=token(db, ana)).status_code == 404
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.get("/api/v1/notifications?limit=0", headers=token(db, ana)).status_code == 400
    not_an_object = client.put("/api/v1/notifications/preferences", data="[1]", headers=token(db, ana))
    assert not_an_object.status_code == 400
    assert rows(db, ben)[0].read_at is None

    reply = client.post(f"/api/v1/notifications/{mine_ids[0]}/read", headers=token(db, ana))
    assert reply.status_code == 200 and reply.get_json() == {"id": mine_ids[0], "read": True, "unread": 2}
    page_listing = client.get("/api/v1/notifications?unread=1", headers=token(db, ana)).get_json()
    assert [i["id"] for i in page_listing["items"]] == [mine_ids[2], mine_ids[1]]

    auth.login(ana_email)
    page = client.get("/notifications").get_data(as_text=True)
    assert "mine 2" in page and "not yours" not in page
    assert re.search(r'id="unread-count"[^>]*><span data-unread>2</span>', page), "the count is in the nav"
    assert "notifications.js" in page and "socket.io.min.js" in page
    # A form without its CSRF token changes nothing; with it, it marks (no JavaScript needed).
    forged = client.post(f"/notifications/{mine_ids[1]}/read")
    assert forged.status_code == 400 and rows(db, ana)[1].read_at is None
    csrf = auth.csrf("/notifications")
    assert client.post(f"/notifications/{theirs_id}/read", data={"csrf_token": csrf}).status_code == 404
    done = client.post(f"/notifications/{mine_ids[1]}/read", data={"csrf_token": csrf})
    assert done.status_code == 302 and rows(db, ana)[1].read_at is not None
    assert client.post("/notifications/read", data={"csrf_token": csrf}).status_code == 302
    assert all(n.read_at is not None for n in rows(db, ana)) and rows(db, ben)[0].read_at is None

    prefs = client.get("/notifications/preferences").get_data(as_text=True)
    assert "Booking reminders" in prefs and "E-mail me" in prefs
    saved = client.post("/notifications/preferences", data={
        "csrf_token": auth.csrf("/notifications/preferences"),
        "email_booking_reminder": "y", "mode_booking_reminder": "digest",
        **{f"mode_{key}": "immediate" for key in ("contribution_decided", "points_minted", "waitlist_offer",
                                                   "redemption_fulfilled", "booking_update")},
    })
    assert saved.status_code == 302
    with db.read_sessions() as session:
        chosen = preferences(session, ana)
    assert chosen["booking_reminder"]["mode"] == "digest" and chosen["booking_reminder"]["email"] is True
    assert chosen["points_minted"]["email"] is False, "an unticked box switches e-mail off"
    bad = client.post("/notifications/preferences", data={
        "csrf_token": auth.csrf("/notifications/preferences"), "mode_booking_reminder": "hourly"})
    assert bad.status_code == 400


def test_openapi_documents_the_notification_routes(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("notifications_api."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        missing += [f"{m} {path}" for m in rule.methods - {"HEAD", "OPTIONS"}
                    if m.lower() not in document["paths"].get(path, {})]
    assert missing == []
    assert "put" in document["paths"]["/api/v1/notifications/preferences"]


# --- the unread count live, over a real server ----------------------------------------------------


@pytest.fixture(scope="module")
def mail_server(anvil, tmp_path_factory):
    controller, inbox, url = _start_inbox()
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
