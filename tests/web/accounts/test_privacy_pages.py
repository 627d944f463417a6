"""GDPR (#9) through the Flask app on SQLite and PostgreSQL: members download their own data
and erase themselves (password and phrase, signed out for good), admins erase from the users
page, and the admin action log filters and pages."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from community.models import Role, User
from rewards.audit.actions import verify_audit_log
from rewards.models import AuditLogRow
from tests.support.community import PASSWORD, SECRET, Community
from tests.support.privacy import NAME, database_text
from tests.support.web import AuthActions, csrf_token
from web import create_app


@pytest.fixture
def papp(database_url, anvil, tmp_path):
    """The app on SQLite and on PostgreSQL."""
    app = create_app({
        "TESTING": True, "SECRET_KEY": SECRET, "KOPA_INSTANCE_PATH": str(tmp_path / "instance"),
        "KOPA_DATABASE_URL": database_url, "KOPA_RPC_URL": anvil.url, "RATELIMIT_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
    })
    yield app
    app.extensions["kopa.db"].dispose()


@pytest.fixture
def people(papp):
    c = Community(papp.extensions["kopa.db"], papp.extensions["kopa.vault"])
    ids = c.people(staff=Role.STAFF, member=NAME, other=Role.MEMBER, admin=Role.ADMIN, auditor=Role.AUDITOR)
    c.approved(ids["member"], ids["staff"], c.task(ids["staff"], complexity=20))
    ids["community"] = c
    return ids


def _bearer(client, people, who: str) -> dict:
    email = people["community"].email_of(people[who])
    response = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _login(papp, people, who: str):
    client = papp.test_client()
    assert AuthActions(client).login(people["community"].email_of(people[who])).status_code == 302
    return client


def test_export_page_and_api_download_own_data_only(papp, people):
    client = _login(papp, people, "member")
    assert 'href="/account"' in client.get("/").get_data(as_text=True)  # in the navigation
    page = client.get("/account")
    assert page.status_code == 200 and "Download my data" in page.get_data(as_text=True)
    download = client.get("/account/export")
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert download.headers["Content-Disposition"].startswith("attachment; filename=\"kopa-data-")
    data = json.loads(download.get_data(as_text=True))
    assert data["member_id"] == people["member"] and data["profile"]["display_name"] == NAME
    assert data["ledger_entries"][0]["points"] == 20
    api = papp.test_client()
    assert api.get("/api/v1/me/export").status_code == 401
    other = api.get("/api/v1/me/export", headers=_bearer(api, people, "other"))
    assert other.status_code == 200 and "attachment" in other.headers["Content-Disposition"]
    assert other.json["member_id"] == people["other"] and NAME not in other.get_data(as_text=True)
    assert papp.test_client().get("/account/export").status_code == 302  # to the login page
    document = api.get("/api/v1/openapi.json").json["paths"]
    assert "get" in document["/api/v1/me/export"] and "delete" in document["/api/v1/me"]


def test_erase_page_needs_password_and_phrase_then_signs_out_for_good(papp, people):
    client = _login(papp, people, "member")
    email = people["community"].email_of(people["member"])
    headers = _bearer(papp.test_client(), people, "member")
    token = AuthActions(client).csrf("/account")
    attempts = [
        ({"password": PASSWORD, "confirmation": "yes please"}, "Type &#34;erase my account&#34; exactly"),
        ({"password": "wrong password!", "confirmation": "erase my account"}, "password is not correct"),
        ({"password": "", "confirmation": "erase my account"}, "This field is required"),
    ]
    for form, message in attempts:
        refused = client.post("/account/erase", data={**form, "csrf_token": token})
        assert refused.status_code == 400 and message in refused.get_data(as_text=True), message
    no_csrf = client.post("/account/erase", data={"password": PASSWORD, "confirmation": "erase my account"})
    assert no_csrf.status_code == 400
    assert people["community"].email_of(people["member"]) == email  # nothing erased
    assert client.get("/account").status_code == 200
    done = client.post("/account/erase", data={"password": PASSWORD, "confirmation": " Erase my account ",
                                               "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith("/")
    assert client.get("/account").status_code == 302  # signed out
    again = papp.test_client()
    assert AuthActions(again).login(email).status_code == 400
    assert again.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}).status_code == 401
    assert again.get("/api/v1/me/export", headers=headers).status_code == 401  # its tokens are revoked
    assert NAME not in database_text(papp.extensions["kopa.db"])


def test_api_erase_checks_the_password_and_touches_only_the_caller(papp, people):
    api = papp.test_client()
    member, other = _bearer(api, people, "member"), _bearer(api, people, "other")
    for body in ({}, {"password": "wrong password!"}, {"password": 7}):
        refused = api.delete("/api/v1/me", json=body, headers=member)
        assert refused.status_code == 400 and refused.json["error"] == "invalid_input", body
    assert api.delete("/api/v1/me", json={"password": PASSWORD}).status_code == 401
    for path in (f"/api/v1/users/{people['other']}/erase",):  # the admin route refuses members
        assert api.post(path, headers=member).status_code == 403
    erased = api.delete("/api/v1/me", json={"password": PASSWORD}, headers=member)
    assert erased.status_code == 200 and erased.json["id"] == people["member"] and erased.json["erased"]
    assert api.get("/api/v1/me/totals", headers=member).status_code == 401
    assert api.get("/api/v1/me/totals", headers=other).status_code == 200
    db = papp.extensions["kopa.db"]
    with db.read_sessions() as session:
        assert session.get(User, people["other"]).active and not session.get(User, people["member"]).active
        actions = [r.action for r in session.scalars(select(AuditLogRow).order_by(AuditLogRow.id))]
        assert actions.count("member.erase") == 1 and not any(a.startswith("DELETE") for a in actions)
        assert verify_audit_log(session) == []


def test_admin_erases_from_the_users_page_and_it_is_logged_once(papp, people):
    member_client = _login(papp, people, "member")
    target = people["other"]
    assert member_client.get(f"/admin/users/{target}/erase").status_code == 403
    token = AuthActions(member_client).csrf("/account")
    assert member_client.post(f"/admin/users/{target}/erase",
                              data={"confirmation": str(target), "csrf_token": token}).status_code == 403
    admin = _login(papp, people, "admin")
    assert f'href="/admin/users/{target}/erase"' in admin.get("/admin/users").get_data(as_text=True)
    page = admin.get(f"/admin/users/{target}/erase")
    assert page.status_code == 200 and "cannot be undone" in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    wrong = admin.post(f"/admin/users/{target}/erase", data={"confirmation": "1" + str(target),
                                                              "csrf_token": token})
    assert wrong.status_code == 400 and f"Type {target} to confirm" in wrong.get_data(as_text=True)
    confirmed = {"confirmation": str(target), "csrf_token": token}
    done = admin.post(f"/admin/users/{target}/erase", data=confirmed)
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/users")
    again = admin.post(f"/admin/users/{target}/erase", data=confirmed)
    assert again.status_code == 409
    with papp.extensions["kopa.db"].read_sessions() as session:
        rows = session.scalars(select(AuditLogRow).order_by(AuditLogRow.id)).all()
        assert [(r.action, r.subject, r.actor_id) for r in rows] == [
            ("member.erase", f"user {target}", people["admin"])]
        assert not session.get(User, target).active


def test_action_log_filters_by_actor_role_action_target_and_date_and_pages(papp, people):
    c = people["community"]
    admin_api = papp.test_client()
    admin = _bearer(admin_api, people, "admin")
    staff = _bearer(admin_api, people, "staff")
    member = _bearer(admin_api, people, "member")
    task = c.task(people["staff"], complexity=20)
    for _ in range(3):
        submitted = admin_api.post(f"/api/v1/tasks/{task}/contributions", json={"text": "t"}, headers=member)
        cid = submitted.json["id"]
        assert admin_api.post(f"/api/v1/contributions/{cid}/approve", json={},
                              headers=staff).status_code == 200
    assert admin_api.post("/api/v1/audit/epochs", headers=admin).status_code == 201
    assert admin_api.post(f"/api/v1/users/{people['other']}/erase", headers=admin).status_code == 200
    auditor = _login(papp, people, "auditor")

    def seqs(query: str) -> list[int]:
        response = auditor.get(f"/audit/log?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        api = admin_api.get(f"/api/v1/audit/log?{query}", headers=admin)
        assert api.status_code == 200 and api.json["problems"] == []
        return [row["seq"] for row in api.json["items"]]

    assert seqs("") == [5, 4, 3, 2, 1]
    assert seqs(f"actor={people['admin']}") == [5, 4]
    assert seqs("role=staff") == [3, 2, 1]
    assert seqs("action=ERASE") == [5] and seqs("action=%2Fapprove") == [3, 2, 1]
    assert seqs(f"subject=user%20{people['other']}") == [5]
    today = dt.datetime.now(dt.UTC).date()
    assert seqs(f"from={today}&until={today}") == [5, 4, 3, 2, 1]
    assert seqs(f"until={today - dt.timedelta(days=1)}") == []
    assert seqs(f"from={today + dt.timedelta(days=1)}") == []
    first = admin_api.get("/api/v1/audit/log?role=staff&limit=2", headers=admin).json
    assert [r["seq"] for r in first["items"]] == [3, 2] and first["next"]
    rest = admin_api.get(f"/api/v1/audit/log?role=staff&limit=2&before={first['next']}", headers=admin).json
    assert [r["seq"] for r in rest["items"]] == [1] and rest["next"] is None
    page = auditor.get("/audit/log?role=staff&limit=2").get_data(as_text=True)
    assert "Older actions" in page and f"before={first['next']}" in page and "role=staff" in page
    assert "Hash chain intact" in page
    for bad, message in (("actor=abc", "actor must be a user id"), ("role=boss", "role must be one of"),
                         ("from=yesterday", "must be a date"), ("limit=0", "limit must be")):
        refused = auditor.get(f"/audit/log?{bad}")
        assert refused.status_code == 400 and message in refused.get_data(as_text=True), bad
        assert admin_api.get(f"/api/v1/audit/log?{bad}", headers=admin).status_code == 400
    assert _login(papp, people, "member").get("/audit/log").status_code == 403
    assert admin_api.get("/api/v1/audit/log", headers=member).status_code == 403
    with papp.extensions["kopa.db"].write_sessions() as session, session.begin():
        session.execute(update(AuditLogRow).where(AuditLogRow.seq == 2).values(subject="nothing"))
    assert "The hash chain is broken" in auditor.get("/audit/log?role=admin").get_data(as_text=True)
