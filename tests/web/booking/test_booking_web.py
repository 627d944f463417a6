"""Booking over HTTP in the Flask test client: the JSON API (fixed names, 201/409/400/401/403),
the calendar and member pages with normal form posts, the staff desk, ICS feeds, the
`kopa reminders` command, and the OpenAPI path items."""

from __future__ import annotations

import datetime as dt
import re
import socketserver
import threading

import pytest
from icalendar import Calendar
from sqlalchemy import select

from booking import inventory, loading, reservations
from community.models import Role, User
from rewards.models import LedgerEntry
from tests.support.community import PASSWORD
from web.booking.api import OPENAPI_PATHS

RIGA = dt.timezone(dt.timedelta(hours=2))  # only to write offsets; the server answers in Europe/Riga


@pytest.fixture
def centre(app, app_community):
    db = app.extensions["kopa.db"]
    staff = app_community.user(Role.STAFF, name="Desk Dace")
    group = inventory.create_group(db.unit_of_work(), actor_id=staff, name="Rooms")
    room = inventory.create_resource(
        db.unit_of_work(),
        actor_id=staff,
        group_id=group,
        name="Ideas room",
        hours="Mon-Sun 00:00-24:00",
        slot_minutes=30,
        min_minutes=30,
        max_minutes=240,
        lead_minutes=60,
        location="Room 204",
    )
    desk = inventory.create_resource(
        db.unit_of_work(),
        actor_id=staff,
        group_id=group,
        name="Desk",
        kind="equipment",
        hours="Mon-Sun 00:00-24:00",
        slot_minutes=5,
        min_minutes=5,
        max_minutes=60,
        lead_minutes=0,
    )
    return {"db": db, "staff": staff, "room": room, "desk": desk, "community": app_community}


def token_for(client, community, user_id: int) -> dict:
    response = client.post(
        "/api/v1/auth/token", json={"email": community.email_of(user_id), "password": PASSWORD}
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def slot(days: int, hour: int, hours: int = 1) -> tuple[str, str]:
    day = dt.date.today() + dt.timedelta(days=days)
    start = dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)
    return start.isoformat(), (start + dt.timedelta(hours=hours)).isoformat()


def test_api_books_and_refuses_a_taken_slot_with_409(client, centre):
    ana = centre["community"].user(name="Ana Secret")
    ben = centre["community"].user(name="Ben")
    a, b = token_for(client, centre["community"], ana), token_for(client, centre["community"], ben)
    listed = client.get("/api/v1/resources").get_json()
    assert {r["name"] for r in listed} >= {"Ideas room", "Desk"}
    room = centre["room"]
    start, end = slot(2, 9)
    created = client.post(f"/api/v1/resources/{room}/bookings", json={"start": start, "end": end}, headers=a)
    assert created.status_code == 201
    body = created.get_json()
    assert body["state"] == "confirmed" and body["credits"] == 0 and isinstance(body["id"], int)
    taken = client.post(f"/api/v1/resources/{room}/bookings", json={"start": start, "end": end}, headers=b)
    assert taken.status_code == 409
    err = taken.get_json()
    assert err["error"] == "slot_taken" and "already booked" in err["message"] and "Ana" not in err["message"]

    naive = client.post(
        f"/api/v1/resources/{room}/bookings", json={"start": start[:19], "end": end[:19]}, headers=b
    )
    assert naive.status_code == 400 and "offset" in naive.get_json()["message"]
    assert (
        client.post(f"/api/v1/resources/{room}/bookings", json={"start": start, "end": end}).status_code
        == 401
    )
    bad_json = client.post(
        f"/api/v1/resources/{room}/bookings", data="{", headers=b, content_type="application/json"
    )
    assert bad_json.status_code == 400
    assert (
        client.post(
            "/api/v1/resources/999999/bookings", json={"start": start, "end": end}, headers=b
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/resources/{room}/bookings", json={"start": "soon", "end": end}, headers=b
        ).status_code
        == 400
    )

    avail = client.get(
        f"/api/v1/resources/{room}/availability", query_string={"from": start, "to": slot(3, 9)[0]}
    )
    assert avail.status_code == 200
    busy = avail.get_json()["busy"]
    assert len(busy) == 1 and set(busy[0]) == {"start", "end", "tentative"}, "busy times carry no names"
    assert (
        client.get(f"/api/v1/resources/{room}/availability", query_string={"from": start[:19]}).status_code
        == 400
    )

    mine = client.get("/api/v1/me/bookings", headers=a).get_json()
    assert [m["id"] for m in mine] == [body["id"]]
    assert client.get(f"/api/v1/bookings/{body['id']}", headers=b).status_code == 403
    assert client.post(f"/api/v1/bookings/{body['id']}/cancel", headers=b).status_code == 403
    cancelled = client.post(f"/api/v1/bookings/{body['id']}/cancel", headers=a)
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    assert (
        client.post(
            f"/api/v1/resources/{room}/bookings", json={"start": start, "end": end}, headers=b
        ).status_code
        == 201
    ), "the freed slot can be booked"


def test_api_check_in_with_code_inside_the_window(client, centre):
    ana = centre["community"].user()
    a = token_for(client, centre["community"], ana)
    now = dt.datetime.now(dt.UTC)
    start = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=5 - now.minute % 5)
    booked = client.post(
        f"/api/v1/resources/{centre['desk']}/bookings",
        headers=a,
        json={"start": start.isoformat(), "end": (start + dt.timedelta(minutes=5)).isoformat()},
    )
    assert booked.status_code == 201, booked.get_json()
    b = booked.get_json()
    wrong = client.post(f"/api/v1/bookings/{b['id']}/check-in", json={"code": "XXXXXX"}, headers=a)
    assert wrong.status_code == 400
    assert client.post(f"/api/v1/bookings/{b['id']}/check-in", json={}, headers=a).status_code == 400
    ok = client.post(f"/api/v1/bookings/{b['id']}/check-in", json={"code": b["code"]}, headers=a)
    assert ok.status_code == 200 and ok.get_json() == {"id": b["id"], "state": "checked_in", "points": 1}
    again = client.post(f"/api/v1/bookings/{b['id']}/check-in", json={"code": b["code"]}, headers=a)
    assert again.status_code == 409
    with centre["db"].read_sessions() as session:
        entries = session.execute(
            select(LedgerEntry.points, LedgerEntry.cause).where(LedgerEntry.member_id == ana)
        )
        assert [tuple(e) for e in entries] == [(1, "booking_check_in")]


def test_pages_calendar_form_booking_detail_and_cancel(client, auth, centre):
    ana = centre["community"].user(name="Ana Page")
    auth.login(centre["community"].email_of(ana))
    index = client.get("/booking")
    assert index.status_code == 200 and "Ideas room" in index.get_data(as_text=True)
    day = dt.date.today() + dt.timedelta(days=3)
    for view in ("day", "week"):
        page = client.get(f"/booking/resources/{centre['room']}?view={view}&date={day.isoformat()}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'class="slot free"' in html and "calendar" in html
    page = client.get(f"/booking/resources/{centre['room']}?date={day.isoformat()}&start=10:00")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True))[1]
    form = {
        "csrf_token": token,
        "date": day.isoformat(),
        "start": "10:00",
        "end": "11:30",
        "action": "book",
        "mode": "all",
    }
    response = client.post(f"/booking/resources/{centre['room']}", data=form)
    assert response.status_code == 302 and "/booking/bookings/" in response.headers["Location"]
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<svg" in detail and "Check in" in detail
    code = re.search(r'class="code">([A-Z0-9]{6})<', detail)[1]
    week = client.get(f"/booking/resources/{centre['room']}?view=day&date={day.isoformat()}").get_data(
        as_text=True
    )
    assert 'class="slot mine"' in week
    again = client.post(f"/booking/resources/{centre['room']}", data=form)
    assert again.status_code == 400 and "already booked" in again.get_data(as_text=True)
    series = dict(form, start="14:00", end="15:00", repeat="y", count="3", every_weeks="1")
    assert client.post(f"/booking/resources/{centre['room']}", data=series).status_code == 302
    mine = client.get("/booking/mine").get_data(as_text=True)
    assert mine.count("(series)") == 3 and "/booking/feeds/" in mine
    feed_url = re.search(r'<code class="feed">http://[^/]+(/booking/feeds/[^<]+)</code>', mine)[1]
    feed = client.get(feed_url)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    events = Calendar.from_ical(feed.data).walk("VEVENT")
    assert len(events) == 4 and code in feed.get_data(as_text=True)
    booking_id = int(response.headers["Location"].rsplit("/", 1)[1])
    cancel = client.post(f"/booking/bookings/{booking_id}/cancel", data={"csrf_token": token})
    assert cancel.status_code == 302
    assert "cancelled" in client.get(f"/booking/bookings/{booking_id}").get_data(as_text=True)
    public = client.get(f"/booking/resources/{centre['room']}.ics")
    text = public.get_data(as_text=True)
    assert len(Calendar.from_ical(public.data).walk("VEVENT")) == 3
    assert "Ana" not in text and code not in text and "Page" not in text
    assert client.get("/booking/desk").status_code == 403
    assert client.get("/booking/feeds/1-1-forged.ics").status_code == 404


def test_staff_desk_decides_and_creates_resources(client, auth, centre, app):
    db = centre["db"]
    group = inventory.create_group(db.unit_of_work(), actor_id=centre["staff"], name="Halls")
    hall = inventory.create_resource(
        db.unit_of_work(),
        actor_id=centre["staff"],
        group_id=group,
        name="Hall",
        hours="Mon-Sun 08:00-22:00",
        needs_approval=True,
        slot_minutes=60,
        min_minutes=60,
        lead_minutes=0,
    )
    ana = centre["community"].user(name="Ana Hall")
    start, end = slot(4, 10)
    pending = reservations.book(db.unit_of_work(), member_id=ana, resource_id=hall, start=start, end=end)
    assert pending.state == "pending"
    auth.login(centre["community"].email_of(centre["staff"]))
    desk = client.get("/booking/desk")
    assert desk.status_code == 200 and "Ana Hall" in desk.get_data(as_text=True)
    token = auth.csrf("/booking/desk")
    declined = client.post(
        f"/booking/bookings/{pending.id}/decline", data={"csrf_token": token, "reason": ""}
    )
    assert declined.status_code == 302
    with db.read_sessions() as session:
        assert (
            loading.booking_for(session, actor=session.get(User, ana), booking_id=pending.id).state
            == "pending"
        ), "declining needs a comment"
    client.post(f"/booking/bookings/{pending.id}/approve", data={"csrf_token": token, "reason": "Enjoy"})
    with db.read_sessions() as session:
        assert (
            loading.booking_for(session, actor=session.get(User, ana), booking_id=pending.id).state
            == "confirmed"
        )
    created = client.post(
        "/booking/desk/resources",
        data={
            "csrf_token": token,
            "group": str(group),
            "name": "Sewing machine",
            "kind": "equipment",
            "hours": "Mon-Fri 10:00-18:00",
            "slot_minutes": "60",
            "min_minutes": "60",
            "max_minutes": "180",
            "lead_minutes": "0",
            "price_per_hour": "2",
        },
    )
    assert created.status_code == 302
    names = [r["name"] for r in client.get("/api/v1/resources").get_json()]
    assert "Sewing machine" in names
    bad = client.post(
        "/booking/desk/resources",
        data={
            "csrf_token": token,
            "group": str(group),
            "name": "Broken",
            "kind": "equipment",
            "hours": "whenever",
            "slot_minutes": "60",
            "min_minutes": "60",
            "max_minutes": "180",
        },
    )
    assert bad.status_code == 302 and "Broken" not in [
        r["name"] for r in client.get("/api/v1/resources").get_json()
    ]

    runner = app.test_cli_runner()
    result = runner.invoke(args=["kopa", "reminders"])
    assert result.exit_code == 0, result.output
    assert "sent 0 reminder(s)" in result.output and "KOPA_SMTP_URL is not set" in result.output


def test_openapi_documents_every_booking_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("booking_api."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []
    assert set(OPENAPI_PATHS) <= set(document["paths"])
    for required in (
        "/resources",
        "/resources/{resource_id}/availability",
        "/resources/{resource_id}/bookings",
        "/bookings/{booking_id}/cancel",
        "/bookings/{booking_id}/check-in",
        "/me/bookings",
    ):
        assert "/api/v1" + required in OPENAPI_PATHS
    assert OPENAPI_PATHS["/api/v1/resources"]["get"]["security"] == [], "listing resources needs no token"


class _SmtpStub(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: records each message's recipients and body."""

    def handle(self):
        self.wfile.write(b"220 stub\r\n")
        rcpt, data = [], None
        while line := self.rfile.readline():
            command = line.decode().strip()
            upper = command.upper()
            if upper.startswith(("EHLO", "HELO")):
                self.wfile.write(b"250 stub\r\n")
            elif upper.startswith("RCPT TO:"):
                rcpt.append(command[8:].strip(" <>"))
                self.wfile.write(b"250 ok\r\n")
            elif upper == "DATA":
                self.wfile.write(b"354 go on\r\n")
                lines = []
                while (body := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(body.decode())
                data = "".join(lines)
                self.server.messages.append((rcpt, data))
                self.wfile.write(b"250 queued\r\n")
            elif upper == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def test_reminders_command_mails_through_smtp_when_configured(app, centre):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpStub)
    server.messages = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ana = centre["community"].user(name="Ana Mail")
        soon = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=3)
        booked = reservations.book(
            centre["db"].unit_of_work(),
            member_id=ana,
            resource_id=centre["room"],
            start=soon,
            end=soon + dt.timedelta(hours=1),
        )
        app.config["KOPA_SMTP_URL"] = f"smtp://127.0.0.1:{server.server_address[1]}"
        result = app.test_cli_runner().invoke(args=["kopa", "reminders"])
        assert result.exit_code == 0, result.output
        assert "sent 1 reminder(s)" in result.output
        assert len(server.messages) == 1
        rcpt, body = server.messages[0]
        assert rcpt == [centre["community"].email_of(ana)] and booked.code in body and "Ideas room" in body
        again = app.test_cli_runner().invoke(args=["kopa", "reminders"])
        assert "sent 0 reminder(s)" in again.output and len(server.messages) == 1
    finally:
        server.shutdown()
        server.server_close()
