"""Shared set-up for booking tests: a centre with staff, members, a group and resources."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from booking import inventory, reservations
from booking.policy import BookingPolicy
from community.db import Database
from community.models import Role
from rewards.ledger import record_entry
from rewards.models import LedgerEntry, OutboxItem

RIGA = ZoneInfo("Europe/Riga")
POLICY = BookingPolicy()
# A Monday morning in the future (so the real clock used for created_at never matters).
MONDAY = dt.date(2030, 1, 7)
NOW = dt.datetime.combine(MONDAY, dt.time(7, 0), tzinfo=RIGA)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """Local time ``day`` days after MONDAY."""
    return dt.datetime.combine(MONDAY + dt.timedelta(days=day), dt.time(hour, minute), tzinfo=RIGA)


class Centre:
    def __init__(self, db: Database, community) -> None:
        self.db = db
        self.community = community
        self.staff = community.user(Role.STAFF, name="Staff Sandra")
        self._grants = 0
        self.group = inventory.create_group(
            db.unit_of_work(), actor_id=self.staff, name=f"Rooms {uuid.uuid4().hex[:8]}"
        )

    def resource(self, group: int | None = None, hours: str = "Mon-Sat 08:00-20:00", **fields) -> int:
        fields.setdefault("name", f"Room {fields.get('price_per_hour', 0)}-{id(fields)}")
        fields.setdefault("lead_minutes", 60)
        return inventory.create_resource(
            self.db.unit_of_work(), actor_id=self.staff, group_id=group or self.group, hours=hours, **fields
        )

    def member(self, name: str = "Member") -> int:
        return self.community.user(Role.MEMBER, name=name)

    def book(
        self,
        member: int,
        resource: int,
        start: dt.datetime,
        end: dt.datetime,
        now: dt.datetime = NOW,
        policy: BookingPolicy = POLICY,
    ):
        return reservations.book(
            self.db.unit_of_work(),
            member_id=member,
            resource_id=resource,
            start=start.isoformat(),
            end=end.isoformat(),
            now=now,
            policy=policy,
        )

    def give_credits(self, member: int, amount: int, *, delivered: bool = True) -> None:
        """Credits the member earned; ``delivered`` marks the mint's outbox row done as if the
        relay had delivered it (service tests), otherwise a real relay delivers it."""
        self._grants += 1
        with self.db.write_sessions() as session, session.begin():
            entry = record_entry(
                session,
                member_id=member,
                points=amount,
                cause="test-grant",
                source_key=f"test-grant:{member}:{self._grants}",
                rule=("test-grant", 1),
            )
            session.flush()
            if delivered:
                session.execute(
                    update(OutboxItem).where(OutboxItem.ledger_entry_id == entry.id).values(status="done")
                )

    def deliver_all(self) -> None:
        with self.db.write_sessions() as session, session.begin():
            session.execute(update(OutboxItem).values(status="done"))

    def entries(self, member: int) -> list[tuple[int, str, str]]:
        with self.db.read_sessions() as session:
            return [
                (e.points, e.cause, e.source_key)
                for e in session.scalars(
                    select(LedgerEntry).where(LedgerEntry.member_id == member).order_by(LedgerEntry.id)
                )
            ]

