"""The notification endpoints of the JSON API: the list, marking read and preferences."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from community import notifications as notes
from community.db import as_utc, is_row_id
from community.errors import InvalidInput
from community.models import Notification
from community.notifications import CATEGORIES, MODES
from web.accessors import database, db_session, release_read_session, unit_of_work
from web.apiutil import decimal_id, json_body, token_required
from web.notifications.delivery import delivery

bp = Blueprint("notifications_api", __name__, url_prefix="/api/v1")


def notification_json(n: Notification) -> dict:
    return {
        "id": n.id,
        "kind": n.kind,
        "category": notes.category_of(n.kind),
        "text": n.text,
        "link": n.link,
        "created_at": as_utc(n.created_at).isoformat(),
        "read": n.read_at is not None,
        "read_at": as_utc(n.read_at).isoformat() if n.read_at else None,
        "email": n.email,
        "emailed": n.emailed_at is not None,
    }


@bp.get("/notifications")
@token_required
def list_notifications():
    session = db_session()
    raw_limit = request.args.get("limit", "50")
    limit = decimal_id(raw_limit)
    if limit is None or not 1 <= limit <= 200:
        raise InvalidInput("limit must be a whole number from 1 to 200")
    before = request.args.get("before")
    if before is not None and not is_row_id(decimal_id(before)):
        raise InvalidInput("before must be a notification id")
    unread_only = request.args.get("unread", "") in ("1", "true", "yes")
    rows = notes.recent(
        session, g.api_user.id, limit, unread_only=unread_only,
        before=int(before) if before is not None else None,
    )
    return jsonify(
        items=[notification_json(n) for n in rows],
        unread=notes.unread_count(session, g.api_user.id),
        next=rows[-1].id if len(rows) == int(raw_limit) else None,
    )


@bp.post("/notifications/<int:notification_id>/read")
@token_required
def api_mark_read(notification_id: int):
    json_body()
    user_id = g.api_user.id
    release_read_session()
    note = notes.mark_read(unit_of_work(), user_id=user_id, notification_id=notification_id)
    delivery().push_unread([user_id])
    unread = notes.unread_count(db_session(), user_id)  # a fresh snapshot: it sees the write
    return jsonify(id=note.id, read=True, unread=unread)


@bp.post("/notifications/read")
@token_required
def api_mark_all_read():
    json_body()
    user_id = g.api_user.id
    release_read_session()
    with database().write_sessions() as session, session.begin():
        marked = notes.mark_all_read(session, user_id)
    delivery().push_unread([user_id])
    return jsonify(marked=marked, unread=0)


@bp.get("/notifications/preferences")
@token_required
def api_preferences():
    return jsonify(notes.preferences(db_session(), g.api_user.id))


@bp.put("/notifications/preferences")
@token_required
def api_set_preferences():
    body = json_body()
    user_id = g.api_user.id
    release_read_session()
    return jsonify(notes.set_preferences(unit_of_work(), user_id=user_id, changes=body))


_CATEGORY_SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string"},
        "in_app": {"type": "boolean", "const": True},
        "email": {"type": "boolean"},
        "mode": {"type": "string", "enum": list(MODES)},
    },
}
_PREFERENCES = {
    "type": "object",
    "properties": {key: _CATEGORY_SCHEMA for key in CATEGORIES},
    "additionalProperties": False,
}
_NOTIFICATION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "category": {"type": ["string", "null"]},
        "text": {"type": "string"}, "link": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"}, "read": {"type": "boolean"},
        "read_at": {"type": ["string", "null"], "format": "date-time"},
        "email": {"type": ["string", "null"], "enum": ["immediate", "digest", None]},
        "emailed": {"type": "boolean"},
    },
}
_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _ok(schema: dict) -> dict:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS = {
    "/api/v1/notifications": {"get": {
        "summary": "The caller's notifications, newest first, with the unread count",
        "parameters": [
            {"name": "unread", "in": "query", "required": False, "schema": {"type": "string", "enum": ["1"]}},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
            {"name": "before", "in": "query", "required": False, "schema": {"type": "integer"}},
        ],
        "responses": {"200": _ok({"type": "object", "properties": {
            "items": {"type": "array", "items": _NOTIFICATION}, "unread": {"type": "integer"},
            "next": {"type": ["integer", "null"]}}}), "400": _ERROR, "401": _ERROR},
    }},
    "/api/v1/notifications/{notification_id}/read": {"post": {
        "summary": "Mark one of the caller's notifications read (anyone else's is 404)",
        "parameters": [{"name": "notification_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1}}],
        "responses": {"200": _ok({"type": "object", "properties": {
            "id": {"type": "integer"}, "read": {"type": "boolean"}, "unread": {"type": "integer"}}}),
            "401": _ERROR, "404": _ERROR},
    }},
    "/api/v1/notifications/read": {"post": {
        "summary": "Mark all the caller's notifications read",
        "responses": {"200": _ok({"type": "object", "properties": {
            "marked": {"type": "integer"}, "unread": {"type": "integer"}}}), "401": _ERROR},
    }},
    "/api/v1/notifications/preferences": {
        "get": {
            "summary": "Per category: in-app (always on), e-mail on or off, immediately or in the "
                       "daily digest",
            "responses": {"200": _ok(_PREFERENCES), "401": _ERROR},
        },
        "put": {
            "summary": "Change some categories ({category: {email?, mode?}}); all or nothing",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _PREFERENCES}}},
            "responses": {"200": _ok(_PREFERENCES), "400": _ERROR, "401": _ERROR},
        },
    },
}
