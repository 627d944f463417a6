"""Booking JSON API (part of /api/v1). Times are ISO 8601 with an offset, answered in the
centre's time zone; errors are ``{error, message}``. Resource listings and availability are
public (they carry no personal data); everything about bookings needs a bearer token."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from booking import (
    approvals,
    attendance,
    cancellation,
    freebusy,
    loading,
    opening,
    recurring,
    reservations,
    results,
    waitlist,
)
from booking.models import Booking, Resource, ResourceGroup
from booking.timeutil import local_iso, parse_instant, utc
from community.errors import InvalidInput
from web.accessors import db_session, release_read_session, unit_of_work
from web.apiutil import json_body, token_required
from web.booking.settings import policy
from web.openapi import LIST, op
from web.usecase import run_use_case

bp = Blueprint("booking_api", __name__, url_prefix="/api/v1")


def _iso(value: dt.datetime | None) -> str | None:
    return local_iso(value, policy().tz) if value is not None else None


def _resource_json(r: Resource) -> dict:
    return {
        "id": r.id,
        "name": r.name,
        "kind": r.kind,
        "group": {
            "id": r.group.id,
            "name": r.group.name,
            "max_hours_per_week": r.group.max_hours_per_week,
            "max_concurrent": r.group.max_concurrent,
        },
        "capacity": r.capacity,
        "description": r.description,
        "location": r.location,
        "photo_url": r.photo_url,
        "accessibility": r.accessibility,
        "opening_hours": opening.hours_text(r),
        "timezone": policy().timezone,
        "slot_minutes": r.slot_minutes,
        "min_minutes": r.min_minutes,
        "max_minutes": r.max_minutes,
        "lead_minutes": r.lead_minutes,
        "horizon_days": r.horizon_days,
        "needs_approval": r.needs_approval,
        "price_per_hour": r.price_per_hour,
        "peak": (
            {
                "price_per_hour": r.peak_price_per_hour,
                "from": r.peak_from.strftime("%H:%M"),
                "until": r.peak_until.strftime("%H:%M"),
            }
            if r.peak_price_per_hour is not None
            else None
        ),
    }


def _booking_json(b: Booking) -> dict:
    return {
        "id": b.id,
        "resource_id": b.resource_id,
        "resource": b.resource.name,
        "start": _iso(b.starts_at),
        "end": _iso(b.ends_at),
        "state": b.state,
        "credits": b.credits,
        "code": b.code,
        "series_id": b.series_id,
        "expires_at": _iso(b.expires_at),
        "checked_in_at": _iso(b.checked_in_at),
        "refunded": b.refund_entry_id is not None,
        "decision_comment": b.decision_comment,
        "cancel_reason": b.cancel_reason,
    }


def _result_json(r: results.BookingResult) -> dict:
    return {
        "id": r.id,
        "state": r.state,
        "credits": r.credits,
        "code": r.code,
        "start": _iso(r.starts_at),
        "end": _iso(r.ends_at),
    }


@bp.get("/resources")
def resources():
    rows = (
        db_session()
        .scalars(
            select(Resource)
            .join(ResourceGroup)
            .where(Resource.active.is_(True))
            .order_by(Resource.group_id, Resource.id)
        )
        .all()
    )
    return jsonify([_resource_json(r) for r in rows])


@bp.get("/resources/<int:resource_id>")
def resource(resource_id: int):
    return jsonify(_resource_json(loading.get_resource(db_session(), resource_id)))


@bp.get("/resources/<int:resource_id>/availability")
def availability(resource_id: int):
    now = dt.datetime.now(dt.UTC)
    start = request.args.get("from") or now.isoformat()
    end = request.args.get("to")
    if not end:
        end = (parse_instant(start, "from") + dt.timedelta(days=7)).isoformat()
    avail = freebusy.availability(
        db_session(), resource_id=resource_id, start=start, end=end, now=now, policy=policy()
    )
    return jsonify(
        resource_id=avail.resource.id,
        timezone=policy().timezone,
        slot_minutes=avail.resource.slot_minutes,
        min_minutes=avail.resource.min_minutes,
        max_minutes=avail.resource.max_minutes,
        **{"from": _iso(avail.start), "to": _iso(avail.end)},
        open=[{"start": _iso(s), "end": _iso(e)} for s, e in avail.open],
        busy=[
            {"start": _iso(s), "end": _iso(e), "tentative": state in ("pending", "offered")}
            for s, e, state, _ in avail.busy
        ],
        closed=[{"start": _iso(s), "end": _iso(e), "reason": reason} for s, e, reason in avail.closed],
        free=[{"start": _iso(s), "end": _iso(e)} for s, e in avail.free],
    )


@bp.post("/resources/<int:resource_id>/bookings")
@token_required
def create_booking(resource_id: int):
    data = json_body()
    repeat = data.get("repeat")
    release_read_session()
    if repeat is not None:
        if not isinstance(repeat, dict):
            raise InvalidInput("repeat must be an object {every_weeks, count | until, mode}")
        result = run_use_case(lambda uow: recurring.book_series(
            uow,
            member_id=g.api_user.id,
            resource_id=resource_id,
            start=data.get("start"),
            end=data.get("end"),
            every_weeks=repeat.get("every_weeks", 1),
            count=repeat.get("count"),
            until=repeat.get("until"),
            mode=repeat.get("mode", "all"),
            policy=policy(),
        ))
        return jsonify(
            series_id=result.series_id,
            credits=result.credits,
            bookings=[_result_json(b) for b in result.bookings],
            skipped=[{"date": d.isoformat(), "reason": why} for d, why in result.skipped],
        ), 201
    booked = run_use_case(lambda uow: reservations.book(
        uow,
        member_id=g.api_user.id,
        resource_id=resource_id,
        start=data.get("start"),
        end=data.get("end"),
        policy=policy(),
    ))
    return jsonify(_result_json(booked)), 201


@bp.post("/resources/<int:resource_id>/waitlist")
@token_required
def join_waitlist(resource_id: int):
    data = json_body()
    release_read_session()
    entry_id = waitlist.join_waitlist(
        unit_of_work(),
        member_id=g.api_user.id,
        resource_id=resource_id,
        start=data.get("start"),
        end=data.get("end"),
        policy=policy(),
    )
    return jsonify(id=entry_id, state="waiting"), 201


@bp.get("/bookings/<int:booking_id>")
@token_required
def booking(booking_id: int):
    return jsonify(_booking_json(loading.booking_for(db_session(), actor=g.api_user, booking_id=booking_id)))


@bp.post("/bookings/<int:booking_id>/cancel")
@token_required
def cancel(booking_id: int):
    data = json_body()
    release_read_session()
    result = cancellation.cancel(
        unit_of_work(), actor_id=g.api_user.id, booking_id=booking_id, reason=data.get("reason"),
        policy=policy(),
    )
    return jsonify({**_result_json(result), "refunded": result.refunded})


@bp.post("/series/<int:series_id>/cancel")
@token_required
def cancel_series(series_id: int):
    data = json_body()
    release_read_session()
    cancelled, kept = cancellation.cancel_series(
        unit_of_work(), actor_id=g.api_user.id, series_id=series_id, reason=data.get("reason"),
        policy=policy(),
    )
    return jsonify(series_id=series_id, cancelled=cancelled, kept=kept)


@bp.post("/bookings/<int:booking_id>/confirm")
@token_required
def confirm(booking_id: int):
    release_read_session()
    result = waitlist.confirm_offer(
        unit_of_work(), member_id=g.api_user.id, booking_id=booking_id, policy=policy()
    )
    return jsonify(_result_json(result))


@bp.post("/bookings/<int:booking_id>/approve", defaults={"decision": "approve"})
@bp.post("/bookings/<int:booking_id>/decline", defaults={"decision": "decline"})
@token_required
def decide(booking_id: int, decision: str):
    data = json_body()
    release_read_session()
    state = approvals.decide(
        unit_of_work(),
        staff_id=g.api_user.id,
        booking_id=booking_id,
        approve=decision == "approve",
        comment=data.get("comment"),
        policy=policy(),
    )
    return jsonify(id=booking_id, state=state)


@bp.post("/bookings/<int:booking_id>/check-in")
@token_required
def check_in(booking_id: int):
    data = json_body()
    release_read_session()
    points = run_use_case(lambda uow: attendance.check_in(
        uow, actor_id=g.api_user.id, booking_id=booking_id, code=data.get("code"), policy=policy()
    ))
    return jsonify(id=booking_id, state="checked_in", points=points)


@bp.get("/me/bookings")
@token_required
def my_bookings():
    upcoming = request.args.get("upcoming", "0") in ("1", "true", "yes")
    rows = loading.member_bookings(db_session(), g.api_user.id, upcoming_only=upcoming)
    return jsonify([_booking_json(b) for b in sorted(rows, key=lambda b: utc(b.starts_at))])


# --- OpenAPI 3.1 path items (merged into /api/v1/openapi.json by web/openapi.py) -----------------

_DT = {"type": "string", "format": "date-time", "description": "ISO 8601 with an offset"}
_SLOT = {
    "start": _DT,
    "end": _DT,
    "repeat": {
        "type": "object",
        "description": "a weekly series: all or nothing unless mode is 'free' (book the free dates)",
        "properties": {
            "every_weeks": {"type": "integer", "minimum": 1, "maximum": 52},
            "count": {"type": "integer", "minimum": 1},
            "until": {"type": "string", "format": "date"},
            "mode": {"type": "string", "enum": ["all", "free"]},
        },
    },
}
_RID, _BID = ("resource_id",), ("booking_id",)

OPENAPI_PATHS = {
    "/api/v1/resources": {"get": op("Bookable spaces and equipment", auth=False, errors=(), ok_schema=LIST)},
    "/api/v1/resources/{resource_id}": {
        "get": op("One bookable resource", auth=False, errors=(404,), params=_RID)
    },
    "/api/v1/resources/{resource_id}/availability": {
        "get": op(
            "Open, busy (no names), closed and free intervals between from and to (default: 7 days)",
            auth=False,
            errors=(400, 404),
            params=_RID,
            query=("from", "to"),
        )
    },
    "/api/v1/resources/{resource_id}/bookings": {
        "post": op(
            "Book {start, end} (or a weekly series with repeat): 201 {id, state, credits}; 409 "
            "{error, message} when the slot is taken (the message names its time), a quota is "
            "exceeded or credits are insufficient",
            body=_SLOT,
            ok=201,
            params=_RID,
        )
    },
    "/api/v1/resources/{resource_id}/waitlist": {
        "post": op("Wait for a taken slot {start, end}", body={"start": _DT, "end": _DT}, ok=201, params=_RID)
    },
    "/api/v1/bookings/{booking_id}": {"get": op("One booking (its member or staff)", params=_BID)},
    "/api/v1/bookings/{booking_id}/cancel": {
        "post": op(
            "Cancel: members until the deadline (credits refunded), staff with a reason",
            body={"reason": {"type": "string"}},
            params=_BID,
        )
    },
    "/api/v1/bookings/{booking_id}/check-in": {
        "post": op(
            "Check in with the booking's short code inside the window; awards attendance points",
            body={"code": {"type": "string"}},
            params=_BID,
        )
    },
    "/api/v1/bookings/{booking_id}/confirm": {
        "post": op("Confirm a waitlist offer before its hold runs out", params=_BID)
    },
    "/api/v1/bookings/{booking_id}/approve": {
        "post": op(
            "Staff: approve a pending booking (its held credits are spent)",
            body={"comment": {"type": "string"}},
            params=_BID,
        )
    },
    "/api/v1/bookings/{booking_id}/decline": {
        "post": op(
            "Staff: decline a pending booking with a comment (the hold is released)",
            body={"comment": {"type": "string"}},
            params=_BID,
        )
    },
    "/api/v1/series/{series_id}/cancel": {
        "post": op(
            "Cancel the future dates of a series that can still be cancelled; {cancelled, kept}",
            body={"reason": {"type": "string"}},
            params=("series_id",),
        )
    },
    "/api/v1/me/bookings": {"get": op("The caller's bookings", query=("upcoming",), ok_schema=LIST)},
}
