"""Bad input found by the OpenAPI fuzzing (#8; tests/reliability/test_fuzz.py), in-process so a
regression shows in `make test`: every wrong JSON type in every documented field of every
operation on existing rows is a 4xx, never a 5xx, and each bug the fuzzing found (one per root
cause) stays fixed."""

from __future__ import annotations

import re

import pytest

from community.models import Role
from tests.support.community import PASSWORD

WRONG_JSON = ({}, [], [1], {"a": 1}, 1.5, -1, True, "", 10**30)
WRONG_QUERY = ("x", "-1", "0", "1.5", "9" * 30, "\u00b2", "1\u00b2", "[]")


def _valid(schema: dict):
    """A value of the documented type, so that the one wrong field is what the service meets."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}.get(kind, "fuzzed text")


def test_wrong_json_types_in_every_documented_field_on_existing_rows(app, client):
    """Schemathesis draws path ids at random, so most land on no row and stop at a 404. Here
    every body field and query argument of every operation gets each wrong JSON type, on rows
    that exist (id 1 of each kind in the demo community), as a member and as an admin, with
    the other fields valid; the answer must never be a 5xx. (In-process, ~15 s: part of `make
test`, so a new field that a service compares unchecked shows up there.)"""
    from community.demo import DEMO_PASSWORD, seed_demo

    seed_demo(app.extensions["kopa.db"])
    headers = {}
    for email in ("member1@kopa.local", "admin@kopa.local"):
        reply = client.post("/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD})
        headers[email] = {"Authorization": f"Bearer {reply.json['token']}"}
    document = client.get("/api/v1/openapi.json").json
    errors, requests_sent = [], 0
    for path_template, item in document["paths"].items():
        path = re.sub(r"\{[^}]+\}", "1", path_template)
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            fields = body.get("schema", {}).get("properties", {})
            queries = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            valid = {name: _valid(schema) for name, schema in fields.items()}
            cases = [{"json": {**valid, name: value}} for name in fields for value in WRONG_JSON]
            cases += [{"json": value} for value in ([], "text", 1, None)]
            cases += [{"query_string": {name: value}} for name in queries for value in WRONG_QUERY]
            for auth in headers.values():
                for case in cases:
                    reply = client.open(path, method=method.upper(), headers=auth, **case)
                    requests_sent += 1
                    if reply.status_code >= 500:
                        errors.append(f"{method.upper()} {path} {case} -> {reply.status_code}")
    print(f"{requests_sent} requests")
    assert requests_sent > 2000
    assert not errors, f"{len(errors)} server errors: {errors[:20]}"


# --- the bugs the fuzzing found, each a 500 before its fix --------------------------------


SUPERSCRIPTS = ("\u00b2", "1\u00b2", "\u2075")  # str.isdigit() is true, int() refuses them


@pytest.fixture
def api(client, app_community):
    """Bearer headers for an admin, staff and a member, and one of staff's tasks."""
    c = app_community
    people = c.people(admin=Role.ADMIN, staff=Role.STAFF, member=Role.MEMBER)
    task = c.task(people["staff"])

    def headers(user_id: int) -> dict:
        reply = client.post("/api/v1/auth/token", json={"email": c.email_of(user_id), "password": PASSWORD})
        assert reply.status_code == 200, reply.json
        return {"Authorization": f"Bearer {reply.json['token']}"}

    return {"h": {name: headers(uid) for name, uid in people.items()}, "task": task}


def _refused(reply, message: str) -> None:
    assert reply.status_code == 400, reply.get_data(as_text=True)
    assert reply.json == {"error": "invalid_input", "message": message}


def test_a_status_that_is_not_text_is_a_400(client, api):
    """`status: {}` reached `status not in {...}` in the service: unhashable, a 500."""
    for kinds in ("processes", "phases", "objectives", "tasks"):
        for value in ({}, [], ["done"], 1, True):
            reply = client.post(f"/api/v1/{kinds}/{api['task']}/status", json={"status": value},
                                headers=api["h"]["staff"])
            _refused(reply, "status must be text")


def test_membership_and_template_that_are_not_text_are_a_400(client, api):
    for field in ("membership", "template"):
        reply = client.post("/api/v1/processes", json={"title": "Fuzzed", field: {"a": 1}},
                            headers=api["h"]["staff"])
        _refused(reply, f"{field} must be text")
    listed = client.get("/api/v1/processes", headers=api["h"]["staff"]).json
    assert "Fuzzed" not in [p["title"] for p in listed]


def test_resource_ids_that_are_not_a_list_are_a_400(client, api):
    """`resource_ids: -1` was iterated by the service: a TypeError, a 500."""
    objective = client.get(f"/api/v1/tasks/{api['task']}", headers=api["h"]["staff"]).json["objective_id"]
    for value in (-1, 1.5, True, "1", {"id": 1}):
        reply = client.post(f"/api/v1/objectives/{objective}/tasks",
                            json={"title": "Fuzzed", "resource_ids": value}, headers=api["h"]["staff"])
        _refused(reply, "resource_ids must be a list of ids")


def test_a_rule_event_that_is_not_text_is_a_400_in_save_preview_and_import(client, api):
    """`event: {}` reached `event not in EVENT_INPUTS` (a dict): unhashable, a 500; the same
    check serves saving, previewing and importing a rule."""
    admin = api["h"]["admin"]
    good = {"id": "fuzzed", "title": "Fuzzed", "event": "contribution_approved", "formula": "1"}
    assert client.post("/api/v1/rules", json=good, headers=admin).status_code == 201
    for event in ({}, [], ["contribution_approved"]):
        rule = {"title": "Fuzzed", "event": event, "formula": "1"}
        saved = client.post("/api/v1/rules", json=rule, headers=admin)
        assert saved.status_code == 400 and saved.json["message"].startswith("event: must be one of ")
        preview = client.post("/api/v1/rules/fuzzed/preview", json=rule, headers=admin)
        assert preview.status_code == 400 and preview.json["message"].startswith("event: must be one of ")
        document = {"rules": [{**rule, "id": "fuzzed"}]}
        imported = client.post("/api/v1/rules/import", json=document, headers=admin)
        assert imported.status_code == 400 and "event: must be one of " in imported.json["message"]


def test_superscript_digits_in_query_ids_are_a_400(client, api):
    admin = api["h"]["admin"]
    for path, message in [
        ("/api/v1/validation-queue?process_id={}", "process_id must be an id"),
        ("/api/v1/validation-queue?task_id={}", "task_id must be an id"),
        ("/api/v1/notifications?limit={}", "limit must be a whole number from 1 to 200"),
        ("/api/v1/notifications?before={}", "before must be a notification id"),
        ("/api/v1/kpis?organisation={}", "organisation must be an organisation id"),
    ]:
        for raw in SUPERSCRIPTS:
            _refused(client.get(path.format(raw), headers=admin), message)
    for name in ("member", "process", "validator", "before", "limit"):
        reply = client.get(f"/api/v1/ledger?{name}=1\u00b2", headers=admin)
        assert reply.status_code == 400, reply.get_data(as_text=True)
        assert reply.json["error"] == "invalid_input" and name in reply.json["message"]
    for name in ("actor", "before", "limit"):  # the action log reads a bad limit as the default
        reply = client.get(f"/api/v1/audit/log?{name}=\u00b2", headers=admin)
        assert reply.status_code in (200, 400), reply.get_data(as_text=True)


def test_a_notification_cursor_beyond_64_bits_is_a_400(client, api):
    """SQLite's driver overflowed on ``before=10**30``: a 500."""
    _refused(client.get(f"/api/v1/notifications?before={10**30}", headers=api["h"]["member"]),
             "before must be a notification id")
