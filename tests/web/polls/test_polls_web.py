"""Polls through the Flask test client: the API's roles, status codes and bad input, the member
and staff pages, and the kiosk acceptance test (anonymous answers counted apart, one per kiosk
session, 429 when a kiosk is flooded)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from community.models import Poll, Role
from community.processes import building
from rewards.models import LedgerEntry
from tests.support.community import PASSWORD, SECRET, Community
from tests.support.polls import answers, later, make_poll, option_ids, poll_entries
from tests.support.web import csrf_token
from web import create_app

MINUTE = "%Y-%m-%dT%H:%M"


@pytest.fixture
def people(app_community):
    return app_community.people(staff=Role.STAFF, member=Role.MEMBER, other=Role.MEMBER)


def bearer(client, app_community, user_id) -> dict:
    credentials = {"email": app_community.email_of(user_id), "password": PASSWORD}
    response = client.post("/api/v1/auth/token", json=credentials)
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def new_poll_body(**overrides) -> dict:
    body = {
        "question": "Where should the new bench go?",
        "options": ["By the linden", "By the playground"],
        "closes_at": later(days=3).isoformat(),
        "kiosk_enabled": True,
    }
    body.update(overrides)
    return body


def test_api_create_poll_roles_and_bad_input(client, app_community, people):
    staff = bearer(client, app_community, people["staff"])
    member = bearer(client, app_community, people["member"])
    assert client.post("/api/v1/polls", json=new_poll_body()).status_code == 401
    refused = client.post("/api/v1/polls", json=new_poll_body(), headers=member)
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    for body, status, fragment in [
        (new_poll_body(options=["one"]), 400, "options"),
        (new_poll_body(closes_at="soon"), 400, "ISO 8601"),
        ({"question": "No options"}, 400, "options"),
        (new_poll_body(process_id=424242), 404, "process"),
    ]:
        response = client.post("/api/v1/polls", json=body, headers=staff)
        assert response.status_code == status and fragment in response.json["message"], response.json
    bad_json = client.post("/api/v1/polls", data="{not json", headers=staff, content_type="application/json")
    assert bad_json.status_code == 400 and bad_json.json["error"] == "invalid_input"
    assert client.post("/api/v1/polls", json=[1], headers=staff).status_code == 400

    created = client.post("/api/v1/polls", json=new_poll_body(points=4), headers=staff)
    assert created.status_code == 201, created.json
    poll = created.json
    assert created.headers["Location"].endswith(f"/api/v1/polls/{poll['id']}")
    assert poll["state"] == "open" and poll["points"] == 4 and poll["answers"] == 0
    assert [o["label"] for o in poll["options"]] == ["By the linden", "By the playground"]
    assert poll["kiosk_url"].endswith(f"/kiosk/{poll['id']}")
    documented = client.get("/api/v1/openapi.json").json["paths"]
    assert "post" in documented["/api/v1/polls/{poll_id}/votes"]
    assert {"get", "post"} <= set(documented["/api/v1/polls"])


def test_api_vote_and_results_status_codes(app, client, app_community, people):
    staff = bearer(client, app_community, people["staff"])
    member = bearer(client, app_community, people["member"])
    other = bearer(client, app_community, people["other"])
    poll = client.post("/api/v1/polls", json=new_poll_body(points=2), headers=staff).json
    linden, playground = (o["id"] for o in poll["options"])
    url = f"/api/v1/polls/{poll['id']}"

    listed = client.get("/api/v1/polls", headers=member)
    assert listed.status_code == 200 and [p["id"] for p in listed.json] == [poll["id"]]
    assert client.get("/api/v1/polls?state=bogus", headers=member).status_code == 400
    assert client.get(url, headers=member).json["may_vote"] is True
    assert client.get("/api/v1/polls/999999", headers=member).status_code == 404
    assert client.get(url).status_code == 401

    hidden = client.get(f"{url}/results", headers=member)
    assert hidden.status_code == 403 and "vote" in hidden.json["message"]
    for bad in ({"choices": [linden, playground]}, {"choices": ["linden"]}, {},
                {"choices": [linden], "text": "hi"}, {"choices": [424242]}):
        refused = client.post(f"{url}/votes", json=bad, headers=member)
        assert refused.status_code == 400 and refused.json["error"] == "invalid_input", bad
    voted = client.post(f"{url}/votes", json={"choices": [linden]}, headers=member)
    assert voted.status_code == 201 and voted.json["poll_id"] == poll["id"]
    again = client.post(f"{url}/votes", json={"choices": [playground]}, headers=member)
    assert again.status_code == 409 and "already voted" in again.json["message"]
    shown = client.get(f"{url}/results", headers=member)
    assert shown.status_code == 200
    assert shown.json["answers"] == {"members": 1, "kiosk": 0, "total": 1}
    assert shown.json["options"][0] == {"id": linden, "label": "By the linden", "members": 1, "kiosk": 0,
                                        "total": 1}
    assert "texts" not in shown.json
    assert client.get(url, headers=member).json["my_choices"] == [linden]

    entries = poll_entries(app.extensions["kopa.db"], people["member"])
    assert [(e.points, e.cause, e.rule_id, e.rule_version) for e in entries] == [
        (2, "poll", "poll-points", 1)]

    assert client.post(f"{url}/close", headers=member).status_code == 403
    assert client.post(f"{url}/close", headers=staff).json["state"] == "closed"
    assert client.post(f"{url}/close", headers=staff).status_code == 409
    late = client.post(f"{url}/votes", json={"choices": [linden]}, headers=other)
    assert late.status_code == 409 and "closed" in late.json["message"]


def login(client, app_community, user_id):
    page = client.get("/login")
    response = client.post("/login", data={"email": app_community.email_of(user_id), "password": PASSWORD,
                                           "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 302


def test_member_pages_list_vote_and_results(app, client, auth, app_community, people):
    db = app.extensions["kopa.db"]
    poll_id = make_poll(db, people["staff"], allow_text=True)
    later_poll = make_poll(db, people["staff"], results_visibility="after_close", question="Open on Sundays?")
    north, south, _ = option_ids(db, poll_id)
    assert client.get("/polls").status_code == 302, "members only"
    login(client, app_community, people["member"])
    listing = client.get("/polls").get_data(as_text=True)
    assert "Which courtyard gets planters first?" in listing and "Open on Sundays?" in listing

    page = client.get(f"/polls/{poll_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="choice"' in html and "once you have voted" in html
    token = auth.csrf(f"/polls/{poll_id}")
    bad = client.post(f"/polls/{poll_id}", data={"choice": [north, south], "csrf_token": token})
    assert bad.status_code == 400 and "exactly one" in bad.get_data(as_text=True)
    no_token = client.post(f"/polls/{poll_id}", data={"choice": north})
    assert no_token.status_code == 400
    voted = client.post(f"/polls/{poll_id}", data={"choice": north, "text": "Shade", "csrf_token": token})
    assert voted.status_code == 303
    html = client.get(f"/polls/{poll_id}").get_data(as_text=True)
    assert "You voted for" in html and "Results so far" in html
    again = client.post(f"/polls/{poll_id}", data={"choice": south, "csrf_token": token})
    assert again.status_code == 409 and "already voted" in again.get_data(as_text=True)
    assert "Results so far" in client.get(f"/polls/{poll_id}/results").get_data(as_text=True)

    hidden = client.get(f"/polls/{later_poll}/results")
    assert hidden.status_code == 200 and "after the poll closes" in hidden.get_data(as_text=True)
    assert client.get("/staff/polls").status_code == 403
    assert client.post("/staff/polls/new", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/staff/polls/{poll_id}/close", data={"csrf_token": token}).status_code == 403
    assert client.get("/polls/424242").status_code == 404


def test_staff_pages_create_edit_and_close(app, client, auth, app_community, people):

    db = app.extensions["kopa.db"]
    process_id = building.create_process(db.unit_of_work(), actor_id=people["staff"], title="Courtyards")
    login(client, app_community, people["staff"])
    assert client.get("/staff/polls").status_code == 200
    form_page = client.get("/staff/polls/new")
    assert form_page.status_code == 200 and "Courtyards" in form_page.get_data(as_text=True)
    token = auth.csrf("/staff/polls/new")
    fields = {
        "question": "Which tree species?", "options": "Linden\r\nMaple\r\nOak\r\n", "kind": "multiple",
        "max_choices": "2", "process_id": str(process_id), "results_visibility": "after_close",
        "opens_at": later(days=1).strftime(MINUTE), "closes_at": later(days=5).strftime(MINUTE),
        "points": "3", "kiosk_enabled": "y", "csrf_token": token,
    }
    past = {"closes_at": later(days=-1).strftime(MINUTE), "opens_at": ""}
    refused = client.post("/staff/polls/new", data={**fields, **past})
    assert refused.status_code == 400 and "closes_at must be" in refused.get_data(as_text=True)
    created = client.post("/staff/polls/new", data=fields)
    assert created.status_code == 303
    with db.read_sessions() as session:
        poll = session.scalars(select(Poll)).one()
        assert (poll.kind, poll.max_choices, poll.process_id, poll.points, poll.kiosk_enabled) == (
            "multiple", 2, process_id, 3, True)
        assert [o.label for o in poll.options] == ["Linden", "Maple", "Oak"]
    edit_page = client.get(f"/staff/polls/{poll.id}/edit")
    assert edit_page.status_code == 200 and "Linden\nMaple\nOak" in edit_page.get_data(as_text=True)
    edited = client.post(f"/staff/polls/{poll.id}/edit", data={**fields, "question": "Which trees?"})
    assert edited.status_code == 303
    staff_list = client.get("/staff/polls").get_data(as_text=True)
    assert "Which trees?" in staff_list and "scheduled" in staff_list
    assert client.post(f"/staff/polls/{poll.id}/close", data={"csrf_token": token}).status_code == 303
    with db.read_sessions() as session:
        assert session.get(Poll, poll.id).state().value == "closed"
    too_late = client.post(f"/staff/polls/{poll.id}/edit", data={**fields, "question": "Again?"})
    assert too_late.status_code == 409 and "can only be closed" in too_late.get_data(as_text=True)
    results = client.get(f"/polls/{poll.id}/results").get_data(as_text=True)
    assert "Final results" in results and "Kiosk" in results


def kiosk_post(client, poll_id: int, choice: int):
    token = csrf_token(client.get(f"/kiosk/{poll_id}").get_data(as_text=True))
    return client.post(f"/kiosk/{poll_id}", data={"choice": choice, "csrf_token": token}), token


def test_kiosk_counts_anonymous_answers_apart_one_per_kiosk_session(app, client, app_community, people):
    db = app.extensions["kopa.db"]
    poll_id = make_poll(db, people["staff"], kiosk_enabled=True, points=5)
    north, south, _ = option_ids(db, poll_id)

    screen = client.get(f"/kiosk/{poll_id}")
    html = screen.get_data(as_text=True)
    assert screen.status_code == 200 and "Which courtyard gets planters first?" in html
    assert "kiosk.css" in html and "<script>" not in html, "no inline script"

    answered, token = kiosk_post(client, poll_id, north)
    assert answered.status_code == 303
    thanks = client.get(f"/kiosk/{poll_id}").get_data(as_text=True)
    assert "Thank you!" in thanks and "Next person" in thanks and 'data-reset-after="' in thanks
    second = client.post(f"/kiosk/{poll_id}", data={"choice": south, "csrf_token": token})
    assert second.status_code == 409 and "already answered" in second.get_data(as_text=True)
    assert answers(db, poll_id) == 1

    assert client.post(f"/kiosk/{poll_id}/next", data={"csrf_token": token}).status_code == 303
    assert 'name="choice"' in client.get(f"/kiosk/{poll_id}").get_data(as_text=True)
    answered, _ = kiosk_post(client, poll_id, south)
    assert answered.status_code == 303
    assert client.post(f"/kiosk/{poll_id}/next").status_code == 400, "CSRF applies to kiosk forms"

    passer_by = app.test_client()
    assert kiosk_post(passer_by, poll_id, south)[0].status_code == 303

    member = bearer(client, app_community, people["member"])
    voted = client.post(f"/api/v1/polls/{poll_id}/votes", json={"choices": [north]}, headers=member)
    assert voted.status_code == 201
    staff = bearer(client, app_community, people["staff"])
    results = client.get(f"/api/v1/polls/{poll_id}/results", headers=staff).json
    assert results["answers"] == {"members": 1, "kiosk": 3, "total": 4}
    assert [(o["members"], o["kiosk"]) for o in results["options"]] == [(1, 1), (0, 2), (0, 0)]
    with db.read_sessions() as session:
        assert session.scalar(select(func.sum(LedgerEntry.points))) == 5, "only the member earns points"

    no_kiosk = make_poll(db, people["staff"])
    assert passer_by.get(f"/kiosk/{no_kiosk}").status_code == 404
    assert passer_by.get("/kiosk/99999").status_code == 404


@pytest.fixture
def limited_app(sqlite_url, tmp_path):
    # Flask-Limiter is one global extension that keeps ``enabled`` across apps: say it explicitly.
    app = create_app({
        "TESTING": True, "SECRET_KEY": SECRET, "KOPA_INSTANCE_PATH": str(tmp_path / "instance"),
        "KOPA_DATABASE_URL": sqlite_url, "KOPA_RPC_URL": "http://127.0.0.1:9", "SESSION_COOKIE_SECURE": False,
        "RATELIMIT_ENABLED": True, "KOPA_KIOSK_RATE": "2/minute",
    })
    yield app
    app.extensions["kopa.db"].dispose()


def test_kiosk_rate_limit_returns_429_per_kiosk(limited_app):
    db = limited_app.extensions["kopa.db"]
    staff = Community(db, limited_app.extensions["kopa.vault"]).user(Role.STAFF)
    poll_id = make_poll(db, staff, kiosk_enabled=True)
    other_kiosk = make_poll(db, staff, kiosk_enabled=True)
    north, *_ = option_ids(db, poll_id)

    screens = [limited_app.test_client() for _ in range(3)]  # three people, three sessions
    assert kiosk_post(screens[0], poll_id, north)[0].status_code == 303
    assert kiosk_post(screens[1], poll_id, north)[0].status_code == 303
    flooded, _ = kiosk_post(screens[2], poll_id, north)
    assert flooded.status_code == 429
    assert "Please wait a minute" in flooded.get_data(as_text=True)
    assert answers(db, poll_id) == 2
    assert kiosk_post(screens[2], other_kiosk, option_ids(db, other_kiosk)[0])[0].status_code == 303, (
        "the limit is per kiosk")
    assert screens[2].get(f"/kiosk/{poll_id}").status_code == 200, "showing the screen is not limited"
