"""Scoring-rule pages and API through the Flask test client: roles, bad formulas as 400
with the position, preview, publish, export/import, OpenAPI."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import yaml

from community.models import Role
from rewards import scoring
from rewards.rules.service import save_rule
from rewards.rules.versions import get_rule
from tests.support.community import PASSWORD
from tests.support.rules import definition, score


@pytest.fixture
def people(app_community):
    c = app_community
    return SimpleNamespace(
        **c.people(admin=(Role.ADMIN, "Ada Admin"), staff=(Role.STAFF, "Sam Staff"), member="Mara Member",
                   auditor=Role.AUDITOR),
        email=c.email_of,
    )


def bearer(client, people, user_id) -> dict:
    response = client.post("/api/v1/auth/token", json={"email": people.email(user_id), "password": PASSWORD})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def db_of(app):
    return app.extensions["kopa.db"]


POLL_RULE = {"id": "poll-points", **definition(scoring.POLL_ANSWERED, "points * 2", title="Polls")}


# --- API ----------------------------------------------------------------------------------------


def test_only_admins_change_rules_over_the_api(client, people):
    member, staff, admin = (bearer(client, people, u) for u in (people.member, people.staff, people.admin))
    for headers in (member, staff):
        response = client.post("/api/v1/rules", json=POLL_RULE, headers=headers)
        assert response.status_code == 403
        assert response.json["error"] == "forbidden"
    assert client.post("/api/v1/rules", json=POLL_RULE).status_code == 401
    response = client.post("/api/v1/rules", json=POLL_RULE, headers=admin)
    assert response.status_code == 201
    assert response.json == {"id": "poll-points", "version": 1, "status": "draft"}
    response = client.post("/api/v1/rules/poll-points/publish", json={"version": 1}, headers=staff)
    assert response.status_code == 403
    response = client.post("/api/v1/rules/poll-points/publish", json={"version": 1}, headers=admin)
    assert response.json == {"id": "poll-points", "current_version": 1}
    response = client.post("/api/v1/rules/poll-points/publish", json={"version": 1}, headers=admin)
    assert response.status_code == 409 and "published before" in response.json["message"]
    assert client.post("/api/v1/rules/import", data="rules: []", headers=staff).status_code == 403


def test_bad_formulas_are_400_naming_the_position(client, people):
    admin = bearer(client, people, people.admin)
    response = client.post("/api/v1/rules", headers=admin,
                           json={**POLL_RULE, "formula": "min(points, 3))"})
    assert response.status_code == 400
    assert response.json == {"error": "invalid_formula", "position": 14,
                             "message": "formula: unexpected ')' at position 14"}
    response = client.post("/api/v1/rules", headers=admin, json={**POLL_RULE, "formula": "points.__class__"})
    assert response.status_code == 400 and response.json["position"] == 6
    response = client.post("/api/v1/rules", headers=admin, json={**POLL_RULE, "formula": "duration"})
    assert response.status_code == 400
    assert "unknown name 'duration' (inputs here: points) at position 0" in response.json["message"]
    response = client.post("/api/v1/rules", headers=admin, json={**POLL_RULE, "cap": {"period": "year"}})
    assert response.status_code == 400 and response.json["message"].startswith("cap.period:")
    response = client.post("/api/v1/rules", headers=admin, data="{", content_type="application/json")
    assert response.status_code == 400 and response.json["error"] == "invalid_input"
    response = client.post("/api/v1/rules", headers=admin, json={**POLL_RULE, "publish": "yes"})
    assert response.status_code == 400


def test_listing_preview_and_visibility(app, client, people):
    admin, staff, member = (bearer(client, people, u) for u in (people.admin, people.staff, people.member))
    client.post("/api/v1/rules", json={**POLL_RULE, "publish": True}, headers=admin)
    client.post("/api/v1/rules", json={**POLL_RULE, "formula": "points * 3"}, headers=admin)
    client.post("/api/v1/rules", json={"id": "secret", **definition(scoring.STREAK_REACHED, "weeks")},
                headers=admin)
    score(db_of(app), scoring.POLL_ANSWERED, people.member, {"points": 5}, {"poll_id": 1, "process_id": 1})

    listed = client.get("/api/v1/rules", headers=member).json
    assert [r["id"] for r in listed] == ["poll-points"]  # members see published rules only
    assert [v["version"] for v in listed[0]["versions"]] == [1]
    assert client.get("/api/v1/rules/secret", headers=member).status_code == 404
    staff_view = client.get("/api/v1/rules", headers=staff).json
    assert {r["id"] for r in staff_view} == {"poll-points", "secret"}
    assert client.get("/api/v1/rules/poll-points", headers=staff).json["versions"][1]["status"] == "draft"

    assert client.post("/api/v1/rules/poll-points/preview", json={}, headers=member).status_code == 403
    report = client.post("/api/v1/rules/poll-points/preview", json={}, headers=staff).json
    assert report["draft_version"] == 2 and report["events"] == 1
    assert report["total"] == {"recorded": 10, "current": 10, "draft": 15, "delta": 5}
    assert report["top_movers"] == [{"member_id": people.member, "member": "Mara Member", "recorded": 10,
                                     "current": 10, "draft": 15, "delta": 5}]
    unsaved = client.post("/api/v1/rules/poll-points/preview", headers=staff,
                          json=definition(scoring.POLL_ANSWERED, "points", title="Polls")).json
    assert unsaved["draft_version"] is None and unsaved["total"]["draft"] == 5
    bad = client.post("/api/v1/rules/poll-points/preview", headers=staff,
                      json=definition(scoring.POLL_ANSWERED, "points +", title="Polls"))
    assert bad.status_code == 400 and bad.json["position"] == 8
    assert client.post("/api/v1/rules/nope/preview", json={}, headers=staff).status_code == 404
    assert client.post("/api/v1/rules/poll-points/preview", json={"version": "2"},
                       headers=staff).status_code == 400


def test_export_and_import_over_the_api(client, people):
    admin, auditor, member = (
        bearer(client, people, u) for u in (people.admin, people.auditor, people.member)
    )
    client.post("/api/v1/rules", json={**POLL_RULE, "publish": True}, headers=admin)
    assert client.get("/api/v1/rules/export", headers=member).status_code == 403
    exported = client.get("/api/v1/rules/export?format=yaml", headers=auditor)
    assert exported.status_code == 200 and exported.mimetype == "application/yaml"
    document = yaml.safe_load(exported.get_data(as_text=True))
    assert document["rules"][0]["formula"] == "points * 2"
    as_json = client.get("/api/v1/rules/export?format=json", headers=auditor)
    assert as_json.mimetype == "application/json" and as_json.json == document
    assert client.get("/api/v1/rules/export?format=xml", headers=auditor).status_code == 400

    document["rules"][0]["formula"] = "points * 4"
    document["rules"].append({"id": "streaks", "title": "Streaks", "event": "streak_reached",
                              "formula": "weeks * 5", "published": False})
    response = client.post("/api/v1/rules/import", json=document, headers=admin)
    assert response.status_code == 200
    assert response.json == {
        "created": [{"id": "poll-points", "version": 2}, {"id": "streaks", "version": 1}],
        "published": [{"id": "poll-points", "version": 2}], "unchanged": [],
    }
    response = client.post("/api/v1/rules/import", data=yaml.safe_dump(document), headers=admin,
                           content_type="application/yaml")
    assert response.json["unchanged"] == ["poll-points", "streaks"]
    document["rules"][1]["formula"] = "weeks *"
    response = client.post("/api/v1/rules/import", json=document, headers=admin)
    assert response.status_code == 400
    assert response.json["message"] == "rules[1] 'streaks': formula: unexpected end of formula at position 7"


def test_openapi_lists_the_rules_paths(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/rules", "/api/v1/rules/{rule_id}/preview", "/api/v1/rules/{rule_id}/publish",
                 "/api/v1/rules/export", "/api/v1/rules/import"):
        assert path in paths, path
    assert set(paths["/api/v1/rules"]) == {"get", "post"}


# --- pages --------------------------------------------------------------------------------------


def test_pages_render_for_admin_and_members_are_refused(app, client, auth, people):
    db = db_of(app)
    save_rule(db.unit_of_work(), actor_id=people.admin, rule_id="poll-points",
              data=definition(scoring.POLL_ANSWERED, "points", title="Poll answers"), publish=True)
    auth.login(people.email(people.member))
    assert client.get("/admin/rules").status_code == 403
    assert client.get("/admin/rules/new").status_code == 403
    assert client.get("/admin/rules/export").status_code == 403
    client.post("/logout", data={"csrf_token": auth.csrf("/")})

    auth.login(people.email(people.admin))
    page = client.get("/admin/rules")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Poll answers" in html and "poll-points" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline scripts (CSP)
    assert client.get("/admin/rules/poll-points").status_code == 200
    assert client.get("/admin/rules/poll-points/edit").status_code == 200
    assert client.get("/admin/rules/nope").status_code == 404


def test_new_rule_draft_preview_and_publish_through_the_pages(app, client, auth, people):
    db = db_of(app)
    score(db, scoring.STREAK_REACHED, people.member, {"weeks": 3},
          default=scoring.Award(3, "participation", "streak-default", 1))
    auth.login(people.email(people.admin))
    token = auth.csrf("/admin/rules/new")
    form = {"csrf_token": token, "rule_id": "streaks", "title": "Streaks", "event": "streak_reached",
            "dimension": "participation", "formula": "weeks * 5", "conditions": "", "cap_period": "week",
            "cap_points": "10", "enabled": "y", "note": "five a week"}

    bad = client.post("/admin/rules/new", data={**form, "formula": "weeks ** 2"})
    assert bad.status_code == 400
    expected = "formula: unexpected &#39;**&#39; (only + - * / are allowed) at position 6"
    assert expected in bad.get_data(as_text=True)
    bad = client.post("/admin/rules/new", data={**form, "conditions": "{tier: [Gold"})
    assert bad.status_code == 400 and "conditions: not valid YAML or JSON" in bad.get_data(as_text=True)
    bad = client.post("/admin/rules/new", data={**form, "conditions": "{colour: red}"})
    assert bad.status_code == 400
    assert "conditions.colour: unknown for streak_reached" in bad.get_data(as_text=True)
    bad = client.post("/admin/rules/new", data={**form, "rule_id": "Not A Slug"})
    assert bad.status_code == 400 and "id: must be" in bad.get_data(as_text=True)

    saved = client.post("/admin/rules/new", data=form)
    assert saved.status_code == 302 and saved.location.endswith("/admin/rules/streaks/versions/1/preview")
    again = client.post("/admin/rules/new", data=form)
    assert again.status_code == 400 and "exists already" in again.get_data(as_text=True)

    preview = client.get("/admin/rules/streaks/versions/1/preview")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Publish version 1" in html and "Mara Member" in html and "+7" in html  # 3 → capped 10

    published = client.post("/admin/rules/streaks/versions/1/publish", data={"csrf_token": token})
    assert published.status_code == 302
    with db.read_sessions() as session:
        assert get_rule(session, "streaks").current_version == 1
    assert score(db, scoring.STREAK_REACHED, people.member, {"weeks": 1}) == [
        (5, "participation", "streaks", 1)]

    edit = client.get("/admin/rules/streaks/edit").get_data(as_text=True)
    assert 'value="weeks * 5"' in edit
    saved = client.post("/admin/rules/streaks/edit", data={**form, "rule_id": "", "formula": "weeks * 6"})
    assert saved.location.endswith("/admin/rules/streaks/versions/2/preview")
    detail = client.get("/admin/rules/streaks").get_data(as_text=True)
    assert "weeks * 6" in detail and "current" in detail and "draft" in detail

    exported = client.get("/admin/rules/export?format=json")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    document = exported.json
    document["rules"][0]["formula"] = "weeks * 7"
    imported = client.post("/admin/rules/import",
                           data={"csrf_token": token, "document": yaml.safe_dump(document)})
    assert imported.status_code == 302
    with db.read_sessions() as session:
        rule = get_rule(session, "streaks")
        assert (rule.current_version, rule.latest.formula) == (3, "weeks * 7")

    # Staff may look and preview, not change.
    client.post("/logout", data={"csrf_token": token})
    auth.login(people.email(people.staff))
    assert client.get("/admin/rules").status_code == 200
    assert client.get("/admin/rules/streaks/versions/2/preview").status_code == 200
    assert client.get("/admin/rules/streaks/edit").status_code == 403
    staff_token = auth.csrf("/admin/rules")
    assert client.post("/admin/rules/streaks/versions/2/publish",
                       data={"csrf_token": staff_token}).status_code == 403
