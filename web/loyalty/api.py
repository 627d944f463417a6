"""JSON API v1 for the catalogue, redemptions, badges and tiers (bearer tokens only)."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, g, jsonify, request

from community.db import as_utc
from community.errors import Forbidden, InvalidInput
from community.i18n import N_
from rewards import badges, catalogue, loyalty
from rewards.models import CatalogueItem, Redemption, RedemptionState
from web.accessors import db_session, release_read_session
from web.apiutil import json_body, token_required
from web.usecase import run_use_case

bp = Blueprint("loyalty_api", __name__, url_prefix="/api/v1")


def item_json(item: CatalogueItem, *, price_for_you: int | None = None) -> dict:
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "price": item.price,
        "price_for_you": item.price if price_for_you is None else price_for_you,
        "stock": item.stock,
        "per_member_limit": item.per_member_limit,
        "valid_from": as_utc(item.valid_from).isoformat() if item.valid_from else None,
        "valid_until": as_utc(item.valid_until).isoformat() if item.valid_until else None,
        "image_url": item.image_url,
        "available": catalogue.is_available(item),
    }


def redemption_json(r: Redemption) -> dict:
    return {
        "id": r.id,
        "item_id": r.item_id,
        "item": r.item.name,
        "member_id": r.member_id,
        "state": r.state,
        "list_price": r.list_price,
        "discount_percent": r.discount_percent,
        "price": r.price,
        "created_at": as_utc(r.created_at).isoformat(),
        "decided_at": as_utc(r.decided_at).isoformat() if r.decided_at else None,
        "note": r.note,
    }


@bp.get("/catalogue")
@token_required
def list_catalogue():
    session = db_session()
    tier = loyalty.member_tier(session, g.api_user.id)
    return jsonify(
        [
            item_json(item, price_for_you=loyalty.discounted_price(item.price, tier))
            for item in catalogue.catalogue(session)
        ]
    )


@bp.post("/catalogue/<int:item_id>/redemptions")
@token_required
def redeem(item_id: int):
    json_body()  # a body is optional, but if one is sent it must be a JSON object
    release_read_session()
    member_id = g.api_user.id
    redemption = run_use_case(lambda uow: catalogue.redeem_item(uow, member_id=member_id, item_id=item_id))
    return jsonify(id=redemption.id, state=redemption.state, price=redemption.price), 201


@bp.get("/me/redemptions")
@token_required
def my_redemptions():
    rows = catalogue.redemptions_of(db_session(), g.api_user.id)
    return jsonify([redemption_json(r) for r in rows])


@bp.get("/redemptions")
@token_required
def redemption_queue():
    if not g.api_user.is_staff:
        raise Forbidden("only staff see the redemption queue")
    state = request.args.get("state", RedemptionState.REQUESTED.value)
    if state not in {s.value for s in RedemptionState}:
        states = ", ".join(s.value for s in RedemptionState)
        raise InvalidInput(N_("state must be one of %(states)s", states=states))
    rows = catalogue.redemption_queue(db_session(), state=state)
    return jsonify([redemption_json(r) for r in rows])


def settle(service, redemption_id: int):
    """Staff fulfil or cancel a redemption, with an optional note."""
    note = json_body().get("note")
    release_read_session()
    redemption = run_use_case(
        lambda uow: service(uow, actor_id=g.api_user.id, redemption_id=redemption_id, note=note)
    )
    return jsonify(id=redemption.id, state=redemption.state)


for _action, _service in (("fulfil", catalogue.fulfil_redemption), ("cancel", catalogue.cancel_redemption)):
    bp.add_url_rule(f"/redemptions/<int:redemption_id>/{_action}", _action,
                    token_required(partial(settle, _service)), methods=["POST"])


@bp.get("/me/badges")
@token_required
def my_badges():
    return jsonify([b.as_json() for b in badges.earned_badges(db_session(), g.api_user.id)])


@bp.get("/me/tier")
@token_required
def my_tier():
    progress = loyalty.tier_progress(db_session(), g.api_user.id)

    def tier_json(tier):
        return None if tier is None else {
            "name": tier.name, "rank": tier.rank, "min_points": tier.min_points,
            "discount_percent": tier.discount_percent,
        }

    return jsonify(
        points=progress.points,
        tier=tier_json(progress.tier),
        next_tier=tier_json(progress.next_tier),
        points_to_next=progress.points_to_next,
        percent=progress.percent,
    )


# --- OpenAPI 3.1 path items, merged into /api/v1/openapi.json ---------------------------

_ERROR = {
    "description": "error",
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    }}},
}
_SECURED = [{"bearer": []}]
_ITEM = {
    "type": "object",
    "required": ["id", "name", "price", "stock", "per_member_limit"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "price": {"type": "integer", "description": "list price in credits"},
        "price_for_you": {"type": "integer", "description": "price after the caller's tier discount"},
        "stock": {"type": ["integer", "null"], "description": "null = unlimited"},
        "per_member_limit": {"type": ["integer", "null"], "description": "null = no limit"},
        "valid_from": {"type": ["string", "null"], "format": "date-time"},
        "valid_until": {"type": ["string", "null"], "format": "date-time"},
        "image_url": {"type": ["string", "null"]},
        "available": {"type": "boolean"},
    },
}
_REDEMPTION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "item_id": {"type": "integer"}, "item": {"type": "string"},
        "member_id": {"type": "integer"},
        "state": {"type": "string", "enum": ["requested", "fulfilled", "cancelled"]},
        "list_price": {"type": "integer"}, "discount_percent": {"type": "integer"},
        "price": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "decided_at": {"type": ["string", "null"], "format": "date-time"},
        "note": {"type": ["string", "null"]},
    },
}
_BADGE = {
    "type": "object",
    "properties": {
        "badge": {"type": "string"}, "level": {"type": "integer"}, "name": {"type": "string"},
        "token_id": {"type": "integer"}, "awarded_at": {"type": "string", "format": "date-time"},
        "minted": {"type": "boolean"}, "tx_hash": {"type": ["string", "null"]},
    },
}
_TIER = {
    "type": ["object", "null"],
    "properties": {
        "name": {"type": "string"}, "rank": {"type": "integer"}, "min_points": {"type": "integer"},
        "discount_percent": {"type": "integer"},
    },
}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _id_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _settling(summary: str) -> dict:
    """The document of fulfilling or cancelling a redemption: an optional note in, {id, state} out."""
    return {"post": {
        "summary": summary,
        "security": _SECURED,
        "parameters": [_id_param("redemption_id")],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"note": {"type": "string"}}}}}},
        "responses": {"200": _json({"type": "object", "properties": {"id": {"type": "integer"},
                                                                     "state": {"type": "string"}}}),
                      "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR, "409": _ERROR},
    }}


OPENAPI_PATHS = {
    "/api/v1/catalogue": {"get": {
        "summary": "Catalogue items on offer, with the caller's price after their tier discount",
        "security": _SECURED,
        "responses": {"200": _json({"type": "array", "items": _ITEM}), "401": _ERROR},
    }},
    "/api/v1/catalogue/{item_id}/redemptions": {"post": {
        "summary": "Redeem an item: burns its price in credits (through the outbox), takes one off the stock",
        "security": _SECURED,
        "parameters": [_id_param("item_id")],
        "responses": {
            "201": _json({"type": "object", "required": ["id", "state"], "properties": {
                "id": {"type": "integer"}, "state": {"type": "string", "enum": ["requested"]},
                "price": {"type": "integer"}}}, "Created"),
            "401": _ERROR, "404": _ERROR,
            "409": {**_ERROR,
                    "description": "out_of_stock, limit_reached, not_available or insufficient_credits"},
        },
    }},
    "/api/v1/me/redemptions": {"get": {
        "summary": "The caller's redemptions, newest first",
        "security": _SECURED,
        "responses": {"200": _json({"type": "array", "items": _REDEMPTION}), "401": _ERROR},
    }},
    "/api/v1/redemptions": {"get": {
        "summary": "Staff: redemptions in one state (default: requested, the queue to fulfil)",
        "security": _SECURED,
        "parameters": [{"name": "state", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["requested", "fulfilled", "cancelled"]}}],
        "responses": {"200": _json({"type": "array", "items": _REDEMPTION}), "400": _ERROR, "401": _ERROR,
                      "403": _ERROR},
    }},
    "/api/v1/redemptions/{redemption_id}/fulfil": _settling(
        "Staff: the item was handed over (requested → fulfilled)"),
    "/api/v1/redemptions/{redemption_id}/cancel": _settling(
        "Staff, or the member before fulfilment: cancel; the stock comes back and the credits "
        "are refunded by a mint with its own ref"),
    "/api/v1/me/badges": {"get": {
        "summary": "Badge levels the caller earned and whether each is minted on chain (KopaBadges)",
        "security": _SECURED,
        "responses": {"200": _json({"type": "array", "items": _BADGE}), "401": _ERROR},
    }},
    "/api/v1/me/tier": {"get": {
        "summary": "The caller's tier by all-time points and the progress to the next one",
        "security": _SECURED,
        "responses": {"200": _json({"type": "object", "properties": {
            "points": {"type": "integer"}, "tier": _TIER, "next_tier": _TIER,
            "points_to_next": {"type": ["integer", "null"]}, "percent": {"type": "integer"}}}),
            "401": _ERROR},
    }},
}
