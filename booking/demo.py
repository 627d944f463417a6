"""Demo resources for `make run`: free rooms, a priced makerspace, an event hall that needs
approval, and equipment to borrow."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from booking import inventory
from booking.models import Resource
from booking.policy import DEFAULT_POLICY, BookingPolicy
from community.db import Database

ROOM_HOURS = "Mon-Sat 08:00-20:00"

GROUPS = [
    ("Meeting rooms", 10, 4),
    ("Workshops and hall", 12, 3),
    ("Equipment", None, 2),
]

RESOURCES = [
    (
        "Meeting rooms",
        ROOM_HOURS,
        dict(
            name="Ideas room",
            kind="space",
            capacity=8,
            location="2nd floor, room 204",
            description="A bright room with a whiteboard wall and a screen for small co-creation sessions.",
            accessibility="Step-free access by lift; hearing loop.",
            min_minutes=30,
            max_minutes=240,
        ),
    ),
    (
        "Meeting rooms",
        ROOM_HOURS,
        dict(
            name="Quiet room",
            kind="space",
            capacity=4,
            location="2nd floor, room 210",
            description="Four seats, no phones: for focused work and interviews.",
            accessibility="Step-free access by lift.",
            min_minutes=30,
            max_minutes=180,
        ),
    ),
    (
        "Workshops and hall",
        ROOM_HOURS,
        dict(
            name="Makerspace",
            kind="space",
            capacity=12,
            location="Ground floor, courtyard side",
            description="Workbenches, hand tools and a laser cutter (induction required).",
            accessibility="Step-free; adjustable workbench.",
            min_minutes=60,
            max_minutes=240,
            slot_minutes=60,
            price_per_hour=10,
            peak_price_per_hour=15,
            peak_from="17:00",
            peak_until="20:00",
        ),
    ),
    (
        "Workshops and hall",
        "Mon-Sat 09:00-22:00",
        dict(
            name="Event hall",
            kind="space",
            capacity=80,
            location="Ground floor, main entrance",
            description="Stage, projector and sound for talks, screenings and neighbourhood meetings.",
            accessibility="Step-free; wheelchair spaces; hearing loop.",
            min_minutes=60,
            max_minutes=480,
            slot_minutes=60,
            lead_minutes=60 * 24 * 2,
            needs_approval=True,
            price_per_hour=20,
        ),
    ),
    (
        "Equipment",
        ROOM_HOURS,
        dict(
            name="3D printer",
            kind="equipment",
            location="Makerspace",
            description="Prusa MK4, PLA and PETG; bring your sliced file on a USB stick.",
            min_minutes=60,
            max_minutes=240,
            slot_minutes=60,
        ),
    ),
    (
        "Equipment",
        "Mon-Fri 09:00-18:00",
        dict(
            name="Camera kit",
            kind="equipment",
            location="Front desk",
            description="Mirrorless camera, two lenses, tripod and a microphone for documenting projects.",
            min_minutes=60,
            max_minutes=480,
            slot_minutes=60,
            lead_minutes=24 * 60,
        ),
    ),
]


def seed_booking(db: Database, ids: dict[str, int], policy: BookingPolicy = DEFAULT_POLICY) -> bool:
    """Create the demo groups and resources once; returns False if resources exist already."""
    with db.read_sessions() as session:
        if session.scalar(select(Resource.id).limit(1)) is not None:
            return False
    staff = ids["staff@kopa.local"]
    groups = {}
    for name, hours, concurrent in GROUPS:
        groups[name] = inventory.create_group(
            db.unit_of_work(), actor_id=staff, name=name, max_hours_per_week=hours, max_concurrent=concurrent
        )
    created = {}
    for group, hours, fields in RESOURCES:
        created[fields["name"]] = inventory.create_resource(
            db.unit_of_work(), actor_id=staff, group_id=groups[group], hours=hours, **fields
        )
    # The makerspace closes for maintenance on the first Monday after today (local time).
    today = dt.datetime.now(policy.tz).date()
    monday = today + dt.timedelta(days=(7 - today.weekday()) % 7 or 7)
    inventory.add_blackout(
        db.unit_of_work(),
        actor_id=staff,
        resource_id=created["Makerspace"],
        start=dt.datetime.combine(monday, dt.time(8), tzinfo=policy.tz),
        end=dt.datetime.combine(monday, dt.time(13), tzinfo=policy.tz),
        reason="Maintenance of the laser cutter",
        policy=policy,
    )
    return True
