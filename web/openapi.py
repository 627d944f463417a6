"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json.

Each API module declares the paths it serves in a module-level ``OPENAPI_PATHS``; this
module merges them, so a blueprint documents itself next to its routes. A test compares
the document with the app's URL map: an undocumented route fails it.
"""

from __future__ import annotations

import sys

from flask import Blueprint, Flask, current_app, jsonify

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

ERROR = {"$ref": "#/components/schemas/Error"}


def op(
    summary: str,
    *,
    body: dict | None = None,
    ok: int = 200,
    auth: bool = True,
    errors: tuple[int, ...] = (400, 401, 403, 404, 409),
    params: tuple[str, ...] = (),
    query: tuple[str, ...] = (),
    required: tuple[str, ...] = (),
    ok_schema: dict | None = None,
) -> dict:
    """One operation with Kopa's conventions: bearer auth, JSON errors ``{error, message}``.
    ``required`` names the body fields the service refuses to go without; ``ok_schema`` is
    the success body's schema (an object unless said, e.g. ``LIST``)."""
    operation: dict = {
        "summary": summary,
        "responses": {
            str(ok): {"description": "OK",
                      "content": {"application/json": {"schema": ok_schema or {"type": "object"}}}},
            **{
                str(code): {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
                for code in errors
            },
        },
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}} for name in params
    ] + [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}} for name in query]
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {
                "type": "object",
                # a required text field must not be empty either
                "properties": {
                    name: {**schema, "minLength": 1} if name in required and schema == S else schema
                    for name, schema in body.items()
                },
                **({"required": list(required)} if required else {}),
            }}},
        }
    if not auth:
        operation["security"] = []
    return operation


S = {"type": "string"}
LIST = {"type": "array", "items": {"type": "object"}}  # a success body that is a JSON list
I = {"type": "integer"}  # noqa: E741
CID = ("contribution_id",)

OPENAPI_PATHS = {
    "/api/v1/openapi.json": {"get": op("This document", auth=False, errors=())},
    "/api/v1/auth/token": {
        "post": op(
            "Exchange e-mail and password for a bearer token",
            body={"email": S, "password": S},
            required=("email", "password"),
            auth=False,
            errors=(400, 401, 429),
        )
    },
    "/api/v1/meta": {"get": op("Chain id, contract addresses, instance id", auth=False, errors=())},
    "/api/v1/health": {"get": op("Liveness: {status: ok}; touches neither database nor chain", auth=False,
                                 errors=())},
    "/api/v1/processes": {
        "get": op("Processes you may view", ok_schema=LIST),
        "post": op(
            "Create a process (staff), optionally from a template",
            ok=201,
            body={
                "title": S,
                "description": S,
                "membership": {"enum": ["open", "application", "invite"]},
                "template": {"enum": ["co-creation", "hackathon", "service-description"]},
                "organisation": S,
                "starts_on": S,
                "ends_on": S,
            },
            required=("title",),
        ),
    },
    "/api/v1/processes/{process_id}": {
        "get": op("A process with its tree and progress", params=("process_id",))
    },
    "/api/v1/processes/{process_id}/clone": {
        "post": op("Clone a process's tree (staff)", ok=201, body={"title": S}, params=("process_id",))
    },
    "/api/v1/processes/{process_id}/applications": {
        "post": op(
            "Join (open) or apply to join a process", ok=201, body={"message": S}, params=("process_id",)
        )
    },
    "/api/v1/processes/{process_id}/phases": {
        "post": op(
            "Add a phase (process managers)",
            ok=201,
            body={"title": S, "description": S},
            required=("title",),
            params=("process_id",),
        )
    },
    "/api/v1/phases/{phase_id}/objectives": {
        "post": op("Add an objective", ok=201, body={"title": S, "description": S}, required=("title",),
                   params=("phase_id",))
    },
    "/api/v1/objectives/{objective_id}/tasks": {
        "post": op(
            "Add a task",
            ok=201,
            body={
                "title": S,
                "complexity": {"enum": [0, 20, 40, 60, 80, 100]},
                "description": S,
                "resource_ids": {"type": "array", "items": I},
            },
            required=("title",),
            params=("objective_id",),
        )
    },
    **{
        f"/api/v1/{kind}/{{node_id}}/status": {
            "post": op(
                f"Set the status of one of the {kind} (prerequisites must be done)",
                body={"status": {"enum": ["not_started", "in_progress", "done"]}},
                required=("status",),
                params=("node_id",),
            )
        }
        for kind in ("processes", "phases", "objectives", "tasks")
    },
    "/api/v1/tasks": {"get": op("Tasks you may view", ok_schema=LIST)},
    "/api/v1/tasks/{task_id}": {"get": op("One task with its resources", params=("task_id",))},
    "/api/v1/tasks/{task_id}/contributions": {
        "post": {
            **op(
                "Submit a contribution (JSON, or multipart/form-data with evidence_file up to 10 MB)",
                ok=201,
                body={"text": S, "evidence_url": S, "co_contributors": {"type": "array", "items": S}},
                params=("task_id",),
                errors=(400, 401, 403, 404, 409, 413, 429),
            ),
        }
    },
    "/api/v1/contributions/{contribution_id}": {
        "get": op("A contribution with its transitions (contributors, managing staff, auditors)", params=CID)
    },
    "/api/v1/contributions/{contribution_id}/approve": {
        "post": op(
            "Approve (staff managing the process; four-eyes above the threshold)",
            body={"comment": S, "level": {"enum": ["low", "average", "high"]}},
            params=CID,
        )
    },
    "/api/v1/contributions/{contribution_id}/reject": {
        "post": op("Reject with a comment", body={"comment": S}, required=("comment",), params=CID)
    },
    "/api/v1/contributions/{contribution_id}/request-changes": {
        "post": op("Ask the contributor for changes", body={"comment": S}, required=("comment",), params=CID)
    },
    "/api/v1/contributions/{contribution_id}/resubmit": {
        "post": op("Resubmit after changes were requested (the contributor)", body={"text": S},
                   required=("text",), params=CID)
    },
    "/api/v1/contributions/{contribution_id}/revoke": {
        "post": op(
            "Revoke an approved contribution: compensating entries and burns", body={"comment": S}, params=CID
        )
    },
    "/api/v1/contributions/{contribution_id}/appeal": {
        "post": op("Appeal a rejection once (the contributor)", body={"reason": S}, required=("reason",),
                   params=CID)
    },
    "/api/v1/validation-queue": {
        "get": op(
            "Contributions you may decide, oldest first, with counts and median time to validate",
            query=("process_id", "task_id"),
        )
    },
    "/api/v1/me/wallet": {
        "get": op("Your address, on-chain balance, points, pending mints and burns, and spendable credits")
    },
    "/api/v1/me/totals": {
        "get": op("Your points per dimension: {dimension: {day, week, month, all}} (spending excluded)")
    },
    "/api/v1/ledger": {"get": op("Ledger entries newest first, {items, next} (auditors, staff; members: own)",
                                 query=("member", "process", "validator", "state", "q", "before", "limit"))},
}


def document() -> dict:
    paths: dict = {}
    for blueprint in current_app.blueprints.values():
        module = sys.modules.get(blueprint.import_name)
        for path, item in getattr(module, "OPENAPI_PATHS", {}).items():
            paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kopa API",
            "version": "1",
            "description": "Kopa's JSON API. Authenticate with POST /api/v1/auth/token and send "
            "`Authorization: Bearer <token>`. Errors are JSON `{error, message}` with a 4xx status.",
        },
        "servers": [{"url": current_app.config["KOPA_SITE_URL"]}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": S, "message": S},
                }
            },
        },
        "paths": dict(sorted(paths.items())),
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())
