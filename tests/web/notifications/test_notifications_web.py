"""Notifications through the Flask app (#9): real e-mail arrives at an aiosmtpd server on 127.0.0.1
after the commit, preferences decide what is mailed, an SMTP server that is down loses nothing and
fails no request, and nobody marks another member's notification (pages, API, OpenAPI)."""

from __future__ import annotations

import email
import email.policy
import re
import time

import pytest

from community import contributions
from community.models import Role
from community.notifications import notify, preferences
from rewards.chain.anvil import free_port
from tests.support.notifications import rows, start_inbox, submitted, token


@pytest.fixture
def smtp():
    controller, inbox, url = start_inbox()
    inbox.url = url
    yield inbox
    controller.stop()


def body(message: email.message.EmailMessage) -> str:
    return message.get_content()


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
        contributions.reject_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                          comment="no")
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
