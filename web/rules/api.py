"""JSON API v1 for scoring rules (bearer tokens only): list, save a version, preview,
publish, export and import."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from community.db import as_utc
from community.errors import InvalidInput
from rewards.formula import FormulaError
from rewards.models import RuleVersion, ScoringRule
from rewards.rules import definitions, events, service, transfer
from web.accessors import db_session, unit_of_work
from web.apiutil import json_body, token_required

bp = Blueprint("rules_api", __name__, url_prefix="/api/v1")


def version_json(version: RuleVersion) -> dict:
    return {
        "version": version.version,
        "status": version.status,
        **definitions.Definition.of(version).as_dict(),
        "created_by": version.created_by_id,
        "created_at": as_utc(version.created_at).isoformat(),
        "published_at": as_utc(version.published_at).isoformat() if version.published_at else None,
    }


def rule_json(rule: ScoringRule, *, drafts: bool) -> dict:
    versions = [v for v in rule.versions if drafts or v.published_at is not None]
    return {
        "id": rule.id,
        "current_version": rule.current_version,
        "current": version_json(rule.current) if rule.current else None,
        "versions": [version_json(v) for v in versions],
    }


@bp.errorhandler(FormulaError)
def _formula_error(exc: FormulaError):
    """Like every 400, plus where in the formula it went wrong."""
    return jsonify(error=exc.code, message=exc.message, position=exc.position), 400


@bp.get("/rules")
@token_required
def list_rules():
    found, drafts = service.visible_rules(db_session(), actor_id=g.api_user.id)
    return jsonify([rule_json(rule, drafts=drafts) for rule in found])


@bp.get("/rules/<rule_id>")
@token_required
def get_rule(rule_id: str):
    rule, drafts = service.rule_for(db_session(), actor_id=g.api_user.id, rule_id=rule_id)
    return jsonify(rule_json(rule, drafts=drafts))


@bp.post("/rules")
@token_required
def save_rule():
    data = json_body()
    publish = data.pop("publish", False)
    if not isinstance(publish, bool):
        raise InvalidInput("publish must be true or false")
    rule_id, version = service.save_rule(
        unit_of_work(), actor_id=g.api_user.id, rule_id=data.pop("id", None), data=data, publish=publish
    )
    return jsonify(id=rule_id, version=version, status="current" if publish else "draft"), 201


@bp.post("/rules/<rule_id>/preview")
@token_required
def preview(rule_id: str):
    data = json_body()
    version = data.pop("version", None)
    report = service.preview_rule(
        db_session(), actor_id=g.api_user.id, rule_id=rule_id, version=version, data=data or None
    )
    return jsonify(report.as_dict())


@bp.post("/rules/<rule_id>/publish")
@token_required
def publish(rule_id: str):
    data = json_body()
    current = service.publish_rule(
        unit_of_work(), actor_id=g.api_user.id, rule_id=rule_id, version=data.get("version")
    )
    return jsonify(id=rule_id, current_version=current)


@bp.get("/rules/export")
@token_required
def export():
    fmt = request.args.get("format", "yaml")
    text = service.export_for(db_session(), actor_id=g.api_user.id, fmt=fmt)
    mimetype = "application/json" if fmt == "json" else "application/yaml"
    return Response(text, mimetype=mimetype)


@bp.post("/rules/import")
@token_required
def import_rules():
    """The body is the document itself (YAML, or JSON when sent as application/json or
    with ?format=json)."""
    fmt = request.args.get("format") or ("json" if request.mimetype == "application/json" else None)
    result = transfer.import_rules(
        unit_of_work(), actor_id=g.api_user.id, text=request.get_data(cache=True), fmt=fmt
    )
    return jsonify(result.as_dict())


# --- OpenAPI 3.1 path items (web.openapi merges them into /api/v1/openapi.json) --------

_SECURED = [{"bearer": []}]
# A rules document, YAML or JSON alike (a YAML body's schema describes what it parses to).
_DOCUMENT = {"type": "object", "required": ["rules"], "properties": {"rules": {"type": "array"}}}
_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    }}},
}
_FORMULA_ERROR = {
    "description": "Invalid input; for a formula, `error` is `invalid_formula` and `position` the "
                   "0-based character offset also named in the message",
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                       "position": {"type": "integer"}},
    }}},
}
_RULE_ID = {"name": "rule_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": definitions.RULE_ID_RE.pattern}}
_CONDITIONS = {
    "type": "object",
    "description": "Context or input name → list of allowed values, or {min, max} for numbers. "
                   "`tier` (the member's loyalty tier name) works for every event.",
    "additionalProperties": {"oneOf": [
        {"type": "array", "items": {"type": ["integer", "number", "string"]}},
        {"type": "object", "properties": {"min": {"type": "number"}, "max": {"type": "number"}}},
    ]},
}
_DEFINITION_PROPERTIES = {
    "title": {"type": "string", "maxLength": 200},
    "event": {"type": "string", "enum": list(events.EVENT_INPUTS)},
    "conditions": _CONDITIONS,
    "dimension": {"type": "string", "default": "participation"},
    "formula": {"type": "string", "maxLength": 500,
                "description": "numbers, the event's inputs, + - * /, min, max, round, comparisons"},
    "cap": {"type": ["object", "null"], "properties": {
        "period": {"type": "string", "enum": list(definitions.CAP_PERIODS)}, "points": {"type": "integer"}}},
    "enabled": {"type": "boolean", "default": True},
    "note": {"type": "string"},
}
_VERSION = {"type": "object", "properties": {
    "version": {"type": "integer"}, "status": {"type": "string", "enum": ["current", "published", "draft"]},
    **_DEFINITION_PROPERTIES,
    "created_by": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
    "published_at": {"type": ["string", "null"], "format": "date-time"},
}}
_RULE = {"type": "object", "properties": {
    "id": {"type": "string"}, "current_version": {"type": ["integer", "null"]},
    "current": {"oneOf": [_VERSION, {"type": "null"}]}, "versions": {"type": "array", "items": _VERSION},
}}
_MEMBER_CHANGE = {"type": "object", "properties": {
    "member_id": {"type": "integer"}, "member": {"type": "string"}, "recorded": {"type": "integer"},
    "current": {"type": "integer"}, "draft": {"type": "integer"}, "delta": {"type": "integer"}}}
_REPORT = {"type": "object", "properties": {
    "rule_id": {"type": "string"}, "current_version": {"type": ["integer", "null"]},
    "draft_version": {"type": ["integer", "null"]},
    "since": {"type": "string", "format": "date-time"}, "until": {"type": "string", "format": "date-time"},
    "kinds": {"type": "array", "items": {"type": "string"}}, "events": {"type": "integer"},
    "total": {"type": "object", "properties": {k: {"type": "integer"}
                                               for k in ("recorded", "current", "draft", "delta")}},
    "by_dimension": {"type": "object"},
    "members": {"type": "array", "items": _MEMBER_CHANGE},
    "top_movers": {"type": "array", "items": _MEMBER_CHANGE},
    "errors": {"type": "object"},
}}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS = {
    "/api/v1/rules": {
        "get": {
            "summary": "Scoring rules: staff, auditors and admins see drafts; members see published rules",
            "security": _SECURED,
            "responses": {"200": _json({"type": "array", "items": _RULE}), "401": _ERROR},
        },
        "post": {
            "summary": "Admins: save a new version of a rule (creating the rule on its first version); "
                       "a draft unless publish is true",
            "security": _SECURED,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["id", "title", "event", "formula"],
                "properties": {"id": {"type": "string", "pattern": definitions.RULE_ID_RE.pattern},
                               **_DEFINITION_PROPERTIES, "publish": {"type": "boolean", "default": False}},
            }}}},
            "responses": {
                "201": _json({"type": "object", "properties": {
                    "id": {"type": "string"}, "version": {"type": "integer"},
                    "status": {"type": "string", "enum": ["current", "draft"]}}}, "Created"),
                "400": _FORMULA_ERROR, "401": _ERROR, "403": _ERROR, "409": _ERROR,
            },
        },
    },
    "/api/v1/rules/{rule_id}": {"get": {
        "summary": "One rule with its versions",
        "security": _SECURED,
        "parameters": [_RULE_ID],
        "responses": {"200": _json(_RULE), "401": _ERROR, "404": _ERROR},
    }},
    "/api/v1/rules/{rule_id}/preview": {"post": {
        "summary": "Staff: what the last 90 days of recorded events would award with a draft in place of "
                   "the current version (per member, total, top movers). Body: {version} for a saved "
                   "version, a definition for an unsaved one, or nothing for the newest draft",
        "security": _SECURED,
        "parameters": [_RULE_ID],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"version": {"type": "integer"}, **_DEFINITION_PROPERTIES}}}}},
        "responses": {"200": _json(_REPORT), "400": _FORMULA_ERROR, "401": _ERROR, "403": _ERROR,
                      "404": _ERROR},
    }},
    "/api/v1/rules/{rule_id}/publish": {"post": {
        "summary": "Admins: make a draft version current (awards from now on use it)",
        "security": _SECURED,
        "parameters": [_RULE_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["version"], "properties": {"version": {"type": "integer"}}}}}},
        "responses": {
            "200": _json({"type": "object", "properties": {
                "id": {"type": "string"}, "current_version": {"type": "integer"}}}),
            "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR, "409": _ERROR,
        },
    }},
    "/api/v1/rules/export": {"get": {
        "summary": "Staff, auditors, admins: every rule's current (or only draft) version as YAML or JSON",
        "security": _SECURED,
        "parameters": [{"name": "format", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["yaml", "json"], "default": "yaml"}}],
        "responses": {
            "200": {"description": "The rules document {rules: [...]}", "content": {
                "application/yaml": {"schema": _DOCUMENT},
                "application/json": {"schema": _DOCUMENT}}},
            "400": _ERROR, "401": _ERROR, "403": _ERROR,
        },
    }},
    "/api/v1/rules/import": {"post": {
        "summary": "Admins: import a rules document (all or nothing). Changed rules get a new version, "
                   "published when the document says published: true; identical ones are left alone",
        "security": _SECURED,
        "parameters": [{"name": "format", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["yaml", "json"]}}],
        "requestBody": {"required": True, "content": {
            "application/yaml": {"schema": _DOCUMENT},
            "application/json": {"schema": _DOCUMENT}}},
        "responses": {
            "200": _json({"type": "object", "properties": {
                "created": {"type": "array"}, "published": {"type": "array"},
                "unchanged": {"type": "array", "items": {"type": "string"}}}}),
            "400": _FORMULA_ERROR, "401": _ERROR, "403": _ERROR, "409": _ERROR,
        },
    }},
}
