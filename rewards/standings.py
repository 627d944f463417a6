"""Leaderboard standings derived from the ledger, cached, dropped by one function.

Totals are never stored as counters that could drift: every board is a sum over the
append-only ledger. Ties go to whoever reached the score first (earlier last entry).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.models import User
from rewards.ledger import SPENDING
from rewards.models import LedgerEntry


@dataclass(frozen=True)
class Standing:
    rank: int
    member_id: int
    member: str
    points: int

    def public(self) -> dict:
        """What may be shown to anyone: no e-mail, no address."""
        data = asdict(self)
        data.pop("member_id")
        return data


def compute_standings(session: Session, limit: int | None = None) -> list[Standing]:
    total = func.sum(LedgerEntry.points).label("total")
    last_entry = func.max(LedgerEntry.id).label("last_entry")
    query = (
        select(LedgerEntry.member_id, User.display_name, total, last_entry)
        .join(User, User.id == LedgerEntry.member_id)
        .where(LedgerEntry.dimension != SPENDING)
        .group_by(LedgerEntry.member_id, User.display_name)
        .having(func.sum(LedgerEntry.points) > 0)
        .order_by(total.desc(), last_entry.asc())
    )
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    return [
        Standing(rank=i + 1, member_id=row.member_id, member=row.display_name, points=int(row.total))
        for i, row in enumerate(rows)
    ]


class StandingsCache:
    """Process-local cache with a version number that moves on every invalidation.

    It reads in a session of its own: a caller's session may hold a snapshot older than the
    last invalidation, and standings computed from it would be cached as current."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory
        self._lock = threading.Lock()
        self._boards: dict[str, list[Standing]] = {}
        self.version = 0

    def get(self, board: str = "community") -> list[Standing]:
        with self._lock:
            cached = self._boards.get(board)
            version = self.version
        if cached is not None:
            return cached
        with self._session_factory() as session:
            standings = compute_standings(session)
        with self._lock:
            # Computed from a snapshot older than a later invalidation: do not keep it.
            if self.version == version:
                self._boards[board] = standings
        return standings

    def invalidate(self) -> int:
        """The one function every ledger write goes through (after its commit)."""
        with self._lock:
            self._boards.clear()
            self.version += 1
            return self.version
