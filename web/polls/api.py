"""JSON API v1 for polls. ``POST /api/v1/polls/<id>/votes`` {choices, text?} is a fixed name
outside clients rely on. Bearer tokens only, so CSRF does not apply."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request, url_for

from community.db import as_utc
from community.polls import editing, tallies, voting
from web.accessors import db_session, release_read_session, unit_of_work
from web.apiutil import json_body, token_required
from web.extensions import csrf
from web.usecase import run_use_case

bp = Blueprint("polls_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

POLL_FIELDS = (
    "question", "description", "options", "kind", "max_choices", "allow_text", "process_id",
    "opens_at", "closes_at", "results_visibility", "points", "kiosk_enabled",
)


def _iso(value):
    return as_utc(value).isoformat() if value is not None else None


def poll_json(view: tallies.PollView) -> dict:
    p = view.poll
    body = {
        "id": p.id,
        "question": p.question,
        "description": p.description,
        "kind": p.kind,
        "max_choices": p.max_choices,
        "allow_text": p.allow_text,
        "process_id": p.process_id,
        "opens_at": _iso(p.opens_at),
        "closes_at": _iso(p.closes_at),
        "closed_at": _iso(p.closed_at),
        "state": view.state.value,
        "results_visibility": p.results_visibility,
        "points": p.points,
        "kiosk_enabled": p.kiosk_enabled,
        "kiosk_url": url_for("kiosk.kiosk", poll_id=p.id, _external=True) if p.kiosk_enabled else None,
        "options": [{"id": o.id, "label": o.label} for o in p.options],
        "voted": view.my_choices is not None,
        "my_choices": list(view.my_choices) if view.my_choices is not None else None,
        "may_vote": view.may_vote,
        "results_visible": view.results_note is None,
    }
    if view.answers is not None:
        body["answers"] = view.answers
    return body


def results_json(results: tallies.PollResults) -> dict:
    body = {
        "poll_id": results.poll_id,
        "final": results.final,
        "answers": {
            "members": results.member_answers,
            "kiosk": results.kiosk_answers,
            "total": results.answers,
        },
        "options": [
            {"id": o.id, "label": o.label, "members": o.members, "kiosk": o.kiosk, "total": o.total}
            for o in results.options
        ],
    }
    if results.texts is not None:
        body["texts"] = [{"source": t.source, "text": t.text, "at": t.at.isoformat()} for t in results.texts]
    return body


def _poll_after_write(poll_id: int) -> dict:
    """Read back in a new session: the request's read session may hold a snapshot taken
    before the write (SQLite WAL)."""
    viewer_id = g.api_user.id
    release_read_session()
    return poll_json(tallies.poll_view(db_session(), viewer_id=viewer_id, poll_id=poll_id))


@bp.post("/polls")
@token_required
def create_poll():
    data = json_body()
    poll_id = editing.create_poll(
        unit_of_work(), actor_id=g.api_user.id, **{k: data[k] for k in POLL_FIELDS if k in data}
    )
    response = jsonify(_poll_after_write(poll_id))
    response.headers["Location"] = url_for("polls_api.get_poll", poll_id=poll_id)
    return response, 201


@bp.get("/polls")
@token_required
def list_polls():
    views = tallies.list_polls(db_session(), viewer_id=g.api_user.id, state=request.args.get("state"))
    return jsonify([poll_json(v) for v in views])


@bp.get("/polls/<int:poll_id>")
@token_required
def get_poll(poll_id: int):
    return jsonify(poll_json(tallies.poll_view(db_session(), viewer_id=g.api_user.id, poll_id=poll_id)))


@bp.post("/polls/<int:poll_id>/votes")
@token_required
def vote(poll_id: int):
    data = json_body()
    vote_id = run_use_case(lambda uow: voting.vote(
        uow, member_id=g.api_user.id, poll_id=poll_id, choices=data.get("choices"), text=data.get("text")
    ))
    return jsonify(id=vote_id, poll_id=poll_id, choices=data["choices"]), 201


@bp.get("/polls/<int:poll_id>/results")
@token_required
def results(poll_id: int):
    return jsonify(results_json(tallies.poll_results(db_session(), viewer_id=g.api_user.id, poll_id=poll_id)))


@bp.post("/polls/<int:poll_id>/close")
@token_required
def close(poll_id: int):
    editing.close_poll(unit_of_work(), actor_id=g.api_user.id, poll_id=poll_id)
    return jsonify(_poll_after_write(poll_id))


# --- OpenAPI 3.1 path items, merged into /api/v1/openapi.json -------------------------

_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_ID = {"name": "poll_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_SECURITY = [{"bearer": []}]
_DATETIME = {"type": "string", "format": "date-time"}
_POLL = {
    "type": "object",
    "required": ["id", "question", "kind", "state", "options", "opens_at", "closes_at"],
    "properties": {
        "id": {"type": "integer"},
        "question": {"type": "string"},
        "description": {"type": "string"},
        "kind": {"enum": ["single", "multiple"]},
        "max_choices": {"type": ["integer", "null"]},
        "allow_text": {"type": "boolean"},
        "process_id": {"type": ["integer", "null"]},
        "opens_at": _DATETIME,
        "closes_at": _DATETIME,
        "closed_at": {"type": ["string", "null"], "format": "date-time"},
        "state": {"enum": ["scheduled", "open", "closed"]},
        "results_visibility": {"enum": ["after_vote", "after_close"]},
        "points": {"type": "integer", "minimum": 0},
        "kiosk_enabled": {"type": "boolean"},
        "kiosk_url": {"type": ["string", "null"]},
        "options": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "label": {"type": "string"}},
            },
        },
        "voted": {"type": "boolean"},
        "my_choices": {"type": ["array", "null"], "items": {"type": "integer"}},
        "may_vote": {"type": "boolean"},
        "results_visible": {"type": "boolean"},
        "answers": {"type": "integer", "description": "staff and auditors only"},
    },
}
_POLL_INPUT = {
    "type": "object",
    "required": ["question", "options", "closes_at"],
    "properties": {
        "question": {"type": "string", "maxLength": 300},
        "description": {"type": "string", "maxLength": 5000},
        "options": {
            "type": "array", "minItems": 2, "maxItems": 20, "items": {"type": "string", "maxLength": 200},
        },
        "kind": {"enum": ["single", "multiple"], "default": "single"},
        "max_choices": {"type": ["integer", "null"], "minimum": 1, "description": "multiple choice only"},
        "allow_text": {"type": "boolean", "default": False},
        "process_id": {"type": ["integer", "null"]},
        "opens_at": {"type": "string", "format": "date-time", "description": "default: now; no zone = UTC"},
        "closes_at": {"type": "string", "format": "date-time"},
        "results_visibility": {"enum": ["after_vote", "after_close"], "default": "after_vote"},
        "points": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 0},
        "kiosk_enabled": {"type": "boolean", "default": False},
    },
}
_RESULTS = {
    "type": "object",
    "properties": {
        "poll_id": {"type": "integer"},
        "final": {"type": "boolean", "description": "the poll has closed"},
        "answers": {
            "type": "object",
            "properties": {
                "members": {"type": "integer"}, "kiosk": {"type": "integer"}, "total": {"type": "integer"},
            },
        },
        "options": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"}, "label": {"type": "string"}, "members": {"type": "integer"},
                    "kiosk": {"type": "integer"}, "total": {"type": "integer"},
                },
            },
        },
        "texts": {
            "type": "array",
            "description": "written answers, staff and auditors only; never who wrote them",
            "items": {
                "type": "object",
                "properties": {
                    "source": {"enum": ["member", "kiosk"]}, "text": {"type": "string"}, "at": _DATETIME,
                },
            },
        },
    },
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS = {
    "/api/v1/polls": {
        "get": {
            "tags": ["polls"],
            "summary": "Polls the caller may see (staff and auditors: all; members: open and closed)",
            "security": _SECURITY,
            "parameters": [
                {"name": "state", "in": "query", "schema": {"enum": ["scheduled", "open", "closed"]}}
            ],
            "responses": {
                "200": _json({"type": "array", "items": _POLL}, "Polls, newest first"),
                "400": _ERROR, "401": _ERROR,
            },
        },
        "post": {
            "tags": ["polls"],
            "summary": "Create a poll (staff)",
            "security": _SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _POLL_INPUT}}},
            "responses": {
                "201": _json(_POLL, "The poll"),
                "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR,
            },
        },
    },
    "/api/v1/polls/{poll_id}": {
        "get": {
            "tags": ["polls"],
            "summary": "One poll, with the caller's vote",
            "security": _SECURITY,
            "parameters": [_ID],
            "responses": {"200": _json(_POLL, "The poll"), "401": _ERROR, "403": _ERROR, "404": _ERROR},
        },
    },
    "/api/v1/polls/{poll_id}/votes": {
        "post": {
            "tags": ["polls"],
            "summary": "Vote once; earns the poll's participation points, if any",
            "security": _SECURITY,
            "parameters": [_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["choices"],
                            "properties": {
                                "choices": {"type": "array", "minItems": 1, "items": {"type": "integer"}},
                                "text": {"type": "string", "maxLength": 2000},
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": _json(
                    {"type": "object", "properties": {
                        "id": {"type": "integer"}, "poll_id": {"type": "integer"},
                        "choices": {"type": "array", "items": {"type": "integer"}},
                    }},
                    "The vote",
                ),
                "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR,
                "409": {**_ERROR, "description": "already voted, or the poll is not open"},
            },
        },
    },
    "/api/v1/polls/{poll_id}/results": {
        "get": {
            "tags": ["polls"],
            "summary": "Counts per option, member votes and kiosk answers apart",
            "security": _SECURITY,
            "parameters": [_ID],
            "responses": {
                "200": _json(_RESULTS, "The results"),
                "401": _ERROR,
                "403": {**_ERROR, "description": "results are not shown to the caller yet"},
                "404": _ERROR,
            },
        },
    },
    "/api/v1/polls/{poll_id}/close": {
        "post": {
            "tags": ["polls"],
            "summary": "Close a poll early (staff)",
            "security": _SECURITY,
            "parameters": [_ID],
            "responses": {
                "200": _json(_POLL, "The closed poll"),
                "401": _ERROR, "403": _ERROR, "404": _ERROR,
                "409": {**_ERROR, "description": "already closed"},
            },
        },
    },
}
