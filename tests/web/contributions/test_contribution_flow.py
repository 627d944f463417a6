"""Contributing through the Flask test client: submitted on a page and approved by staff, the
API's flow, ledger shape, points by dimension, and its refusals (clear 4xx, nothing written)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from community.models import Contribution, Role
from rewards.models import LedgerEntry
from tests.support.web import token_for


@pytest.fixture
def people(app_community):
    people = app_community.people(staff=Role.STAFF, member=Role.MEMBER, other=Role.MEMBER,
                                  auditor=Role.AUDITOR, admin=Role.ADMIN)
    return {**people, "task": app_community.task(people["staff"], complexity=40)}


def count(app, model) -> int:
    with app.extensions["kopa.db"].read_sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_page_flow_submit_then_staff_approves(app, client, auth, people, app_community):
    auth.login(app_community.email_of(people["member"]))
    task_path = f"/tasks/{people['task']}"
    response = client.post(task_path, data={"text": "I mapped the yard", "csrf_token": auth.csrf(task_path)})
    assert response.status_code == 302
    assert "pending" in client.get("/contributions").get_data(as_text=True)
    empty = client.post(task_path, data={"text": "  ", "csrf_token": auth.csrf(task_path)})
    assert empty.status_code == 400 and "This field is required" in empty.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": auth.csrf("/")})

    auth.login(app_community.email_of(people["staff"]))
    queue = client.get("/validation").get_data(as_text=True)
    assert "I mapped the yard" in queue
    with app.extensions["kopa.db"].read_sessions() as session:
        cid = session.scalars(select(Contribution.id)).one()
    response = client.post(f"/contributions/{cid}/approve", data={"csrf_token": auth.csrf("/validation")})
    assert response.status_code == 302
    again = client.post(f"/contributions/{cid}/approve", data={"csrf_token": auth.csrf("/validation")},
                        follow_redirects=True)
    assert "is approved; approval needs it pending" in again.get_data(as_text=True)
    assert count(app, LedgerEntry) == 1
    board = client.get("/leaderboard").get_data(as_text=True)
    assert "120" in board  # complexity 40 × level high (the only contribution: the whole share)


def test_api_member_cannot_validate_or_read_others_ledger(client, app_community, people):
    member = token_for(client, app_community, people["member"])
    response = client.post(
        f"/api/v1/tasks/{people['task']}/contributions", json={"text": "t"}, headers=member)
    assert response.status_code == 201 and response.json["state"] == "pending"
    cid = response.json["id"]
    for action in ("approve", "reject"):
        response = client.post(f"/api/v1/contributions/{cid}/{action}", json={"comment": "c"}, headers=member)
        assert response.status_code == 403 and response.json["error"] == "forbidden"
    other = token_for(client, app_community, people["other"])
    response = client.get(f"/api/v1/ledger?member={people['member']}", headers=other)
    assert response.status_code == 403
    assert client.get(f"/api/v1/contributions/{cid}", headers=other).status_code == 403
    assert client.get(f"/api/v1/ledger?member={people['member']}", headers=member).status_code == 200
    for reader in ("auditor", "staff"):
        headers = token_for(client, app_community, people[reader])
        assert client.get(f"/api/v1/ledger?member={people['member']}", headers=headers).status_code == 200


def test_api_flow_and_ledger_shape(app, client, app_community, people):
    member = token_for(client, app_community, people["member"])
    staff = token_for(client, app_community, people["staff"])
    tasks = client.get("/api/v1/tasks", headers=member).json
    assert {"id", "title", "complexity", "process_id"} <= set(tasks[0])
    cid = client.post(f"/api/v1/tasks/{people['task']}/contributions",
                      json={"text": "did it", "evidence_url": "https://example.org/photo.jpg"},
                      headers=member).json["id"]
    response = client.post(f"/api/v1/contributions/{cid}/approve", json={"comment": "ok"}, headers=staff)
    assert response.status_code == 200 and response.json["state"] == "approved"
    replay = client.post(f"/api/v1/contributions/{cid}/approve", headers=staff)
    assert replay.status_code == 409
    page = client.get("/api/v1/ledger", headers=member).json  # a member's own entries, {items, next}
    assert page["next"] is None
    ledger = page["items"]
    assert len(ledger) == 1
    assert ledger[0]["contribution_id"] == cid and ledger[0]["validator_id"] == people["staff"]
    assert ledger[0]["points"] == 120 and ledger[0]["ref"].startswith("0x")
    assert ledger[0]["mint_status"] == "pending" and ledger[0]["tx_hash"] is None
    wallet = client.get("/api/v1/me/wallet", headers=member).json
    assert wallet["points_total"] == 120 and wallet["pending"] == 120
    assert client.get("/api/v1/leaderboard").json[0]["points"] == 120
    assert set(client.get("/api/v1/leaderboard").json[0]) == {"rank", "member", "points"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("post", "/api/v1/tasks/999999/contributions", {"text": "x"}, 404, "task 999999 not found"),
        ("post", "/api/v1/tasks/{task}/contributions", "{not json", 400, "not valid JSON"),
        ("post", "/api/v1/tasks/{task}/contributions", "[1, 2]", 400, "must be a JSON object"),
        ("post", "/api/v1/tasks/{task}/contributions", {"text": ""}, 400, "text must not be empty"),
        ("post", "/api/v1/tasks/{task}/contributions", {}, 400, "text must not be empty"),
        ("post", "/api/v1/tasks/{task}/contributions", {"text": 5}, 400, "text must be text"),
        ("post", "/api/v1/tasks/99999999999999999999999/contributions", {"text": "x"}, 404, "not found"),
        ("post", "/api/v1/tasks/abc/contributions", {"text": "x"}, 404, "not found"),
        ("post", "/api/v1/contributions/424242/approve", {}, 404, "contribution 424242 not found"),
        ("post", "/api/v1/contributions/424242/reject", {"comment": "x"}, 404, "not found"),
        ("get", "/api/v1/contributions/424242", None, 404, "not found"),
        ("get", "/api/v1/ledger?member=abc", None, 400, "member must be a member id"),
        ("get", "/api/v1/ledger?member=424242", None, 404, "member 424242 not found"),
        ("get", "/api/v1/nothing-here", None, 404, ""),
    ],
)
def test_api_bad_input_gets_clear_4xx_and_writes_nothing(
    app, client, app_community, people, method, path, body, status, message
):
    headers = token_for(client, app_community, people["staff"])
    path = path.format(task=people["task"])
    kwargs = {"headers": headers}
    if isinstance(body, str):
        kwargs.update(data=body, content_type="application/json")
    elif body is not None:
        kwargs["json"] = body
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert set(response.json) == {"error", "message"}
    assert message in response.json["message"]
    assert count(app, Contribution) == 0
    assert count(app, LedgerEntry) == 0


def test_reject_via_api_needs_comment(client, app_community, people):
    member = token_for(client, app_community, people["member"])
    staff = token_for(client, app_community, people["staff"])
    cid = client.post(f"/api/v1/tasks/{people['task']}/contributions", json={"text": "t"},
                      headers=member).json["id"]
    response = client.post(f"/api/v1/contributions/{cid}/reject", json={}, headers=staff)
    assert response.status_code == 400 and "comment" in response.json["message"]
    response = client.post(f"/api/v1/contributions/{cid}/reject", json={"comment": "blurry"}, headers=staff)
    assert response.status_code == 200 and response.json["state"] == "rejected"
    assert client.get(f"/api/v1/contributions/{cid}", headers=member).json["decision_comment"] == "blurry"


def test_points_by_dimension_on_the_wallet_and_the_api(app, client, auth, app_community, people):
    staff, member = people["staff"], people["member"]
    app_community.approved(member, staff, people["task"])  # 40 points in participation
    headers = token_for(client, app_community, member)
    totals = client.get("/api/v1/me/totals", headers=headers).json
    assert totals == {"participation": {"day": 40, "week": 40, "month": 40, "all": 40}}
    assert client.get("/api/v1/me/totals").status_code == 401
    auth.login(app_community.email_of(member))
    page = client.get("/wallet").get_data(as_text=True)
    assert "Your points by dimension" in page and "<th scope=\"row\">participation</th>" in page
