"""What staff keep bookable: resource groups with their quotas, resources with their rules,
prices and opening hours, and blackouts that close a resource for a while."""

from __future__ import annotations

from sqlalchemy import select

from booking.fields import int_field, text_field, time_field
from booking.loading import get_resource, require_staff
from booking.models import Blackout, Kind, OpeningHours, Resource, ResourceGroup
from booking.opening import parse_hours
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.timeutil import parse_instant
from community.db import UnitOfWork
from community.errors import Conflict, InvalidInput
from community.i18n import N_
from community.validation import get_row


def create_group(
    uow: UnitOfWork,
    *,
    actor_id: int,
    name: object,
    max_hours_per_week: object = None,
    max_concurrent: object = None,
) -> int:
    data = {"name": name, "max_hours_per_week": max_hours_per_week, "max_concurrent": max_concurrent}
    with uow:
        require_staff(uow.session, actor_id, "manage resources")
        title = text_field(data, "name", 120, required=True)
        if uow.session.scalar(select(ResourceGroup.id).where(ResourceGroup.name == title)) is not None:
            raise Conflict(N_("a group named %(title)r exists already", title=title))
        group = ResourceGroup(
            name=title,
            max_hours_per_week=int_field(data, "max_hours_per_week", None, 1, 168, optional=True),
            max_concurrent=int_field(data, "max_concurrent", None, 1, 1000, optional=True),
        )
        uow.session.add(group)
        uow.session.flush()
        uow.commit()
        return group.id


def _apply_resource_fields(resource: Resource, data: dict) -> None:
    _apply_description(resource, data)
    _apply_lengths(resource, data)
    approval = data.get("needs_approval", False)
    if isinstance(approval, str):
        approval = approval.lower() in ("1", "true", "yes", "on", "y")
    if not isinstance(approval, bool):
        raise InvalidInput("needs_approval must be true or false")
    resource.needs_approval = approval
    _apply_prices(resource, data)


def _apply_description(resource: Resource, data: dict) -> None:
    resource.name = text_field(data, "name", 120, required=True)
    kind = data.get("kind", Kind.SPACE.value)
    if kind not in {k.value for k in Kind}:
        raise InvalidInput("kind must be 'space' or 'equipment'")
    resource.kind = kind
    resource.capacity = int_field(data, "capacity", None, 1, 100_000, optional=True)
    resource.description = text_field(data, "description", 10_000)
    resource.location = text_field(data, "location", 200)
    resource.accessibility = text_field(data, "accessibility", 2000)
    photo = text_field(data, "photo_url", 2000)
    site_path = photo.startswith("/") and not photo.startswith("//")
    if photo and not (photo.startswith("https://") or photo.startswith("http://") or site_path):
        raise InvalidInput("photo_url must be an http(s) URL or a site path")
    resource.photo_url = photo or None


def _apply_lengths(resource: Resource, data: dict) -> None:
    resource.slot_minutes = int_field(data, "slot_minutes", 30, 5, 1440)
    resource.min_minutes = int_field(data, "min_minutes", resource.slot_minutes, 5, 1440)
    resource.max_minutes = int_field(data, "max_minutes", 240, 5, 1440)
    for name in ("min_minutes", "max_minutes"):
        if getattr(resource, name) % resource.slot_minutes:
            raise InvalidInput(
                N_("%(name)s must be a multiple of the slot length (%(slot_minutes)s minutes)",
                   name=name, slot_minutes=resource.slot_minutes)
            )
    if resource.min_minutes > resource.max_minutes:
        raise InvalidInput("min_minutes must not exceed max_minutes")
    resource.lead_minutes = int_field(data, "lead_minutes", 60, 0, 60 * 24 * 60)
    resource.horizon_days = int_field(data, "horizon_days", 90, 1, 730)


def _apply_prices(resource: Resource, data: dict) -> None:
    resource.price_per_hour = int_field(data, "price_per_hour", 0, 0, 1_000_000)
    resource.peak_price_per_hour = int_field(data, "peak_price_per_hour", None, 0, 1_000_000, optional=True)
    resource.peak_from = time_field(data, "peak_from")
    resource.peak_until = time_field(data, "peak_until")
    peak = (resource.peak_price_per_hour, resource.peak_from, resource.peak_until)
    if any(v is not None for v in peak) and not all(v is not None for v in peak):
        raise InvalidInput("a peak price needs peak_price_per_hour, peak_from and peak_until together")
    if resource.peak_from is not None and resource.peak_from >= resource.peak_until:
        raise InvalidInput("peak_from must come before peak_until")


def create_resource(uow: UnitOfWork, *, actor_id: int, group_id: object, hours: object, **fields) -> int:
    """A bookable space or piece of equipment; ``hours`` as in parse_hours."""
    opening = parse_hours(hours)
    with uow:
        session = uow.session
        require_staff(session, actor_id, "manage resources")
        group = get_row(session, ResourceGroup, group_id, "group")
        resource = Resource(group_id=group.id)
        _apply_resource_fields(resource, fields)
        resource.hours = [OpeningHours(weekday=d, opens=o, closes=c) for d, o, c in opening]
        session.add(resource)
        session.flush()
        uow.commit()
        return resource.id


def update_resource(uow: UnitOfWork, *, actor_id: int, resource_id: object, hours: object, **fields) -> None:
    """Changes apply to new bookings; existing bookings stay as they are."""
    opening = parse_hours(hours)
    with uow:
        session = uow.session
        require_staff(session, actor_id, "manage resources")
        resource = get_resource(session, resource_id, bookable=False)
        active = fields.pop("active", resource.active)
        _apply_resource_fields(resource, fields)
        resource.active = bool(active)
        resource.hours = [OpeningHours(weekday=d, opens=o, closes=c) for d, o, c in opening]
        uow.commit()


def add_blackout(
    uow: UnitOfWork,
    *,
    actor_id: int,
    resource_id: object,
    start: object,
    end: object,
    reason: object = "",
    policy: BookingPolicy = DEFAULT_POLICY,
) -> int:
    """Close a resource for a period. Bookings already in it stay; staff cancel them with a reason."""
    starts_at, ends_at = parse_instant(start, "start"), parse_instant(end, "end")
    if starts_at >= ends_at:
        raise InvalidInput("a blackout must end after it starts")
    with uow:
        require_staff(uow.session, actor_id, "manage resources")
        resource = get_resource(uow.session, resource_id, bookable=False)
        blackout = Blackout(
            resource_id=resource.id,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=text_field({"reason": reason}, "reason", 200),
        )
        uow.session.add(blackout)
        uow.session.flush()
        uow.commit()
        return blackout.id


def remove_blackout(uow: UnitOfWork, *, actor_id: int, blackout_id: object) -> None:
    with uow:
        require_staff(uow.session, actor_id, "manage resources")
        uow.session.delete(get_row(uow.session, Blackout, blackout_id, "blackout"))
        uow.commit()
