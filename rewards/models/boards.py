"""Board tables: staff freezes (the board as it stood) and the totals the ledger's insert
triggers keep. Read by ``rewards.standings`` and written by ``rewards.boards``, so both
import them from here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from community.db import Base, utcnow


class BoardFreeze(Base):
    """A frozen board: scope, period and dimension ('' for all) with the rows viewers see."""

    __tablename__ = "board_freezes"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(16))
    dimension: Mapped[str] = mapped_column(String(40), default="")
    snapshot: Mapped[str] = mapped_column(Text)
    frozen_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    frozen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("scope", "period", "dimension", name="uq_board_freezes_board"),)


class BoardTotal(Base):
    """A member's points in one period bucket (``all``, ``w<monday>``, ``m<first>``) and one
    dimension (``*`` = all but spending). Written only by the ledger's insert trigger
    (migration 0010), read by the community boards."""

    __tablename__ = "board_totals"

    bucket: Mapped[str] = mapped_column(String(12), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(40), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)
    last_entry_id: Mapped[int] = mapped_column(Integer)


class ProcessBoardTotal(Base):
    """A member's points from one process's contributions, per bucket and dimension as in
    ``BoardTotal``. Written only by the ledger's insert trigger (migration 0012)."""

    __tablename__ = "process_board_totals"

    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(12), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(40), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)
    last_entry_id: Mapped[int] = mapped_column(Integer)


def freeze_of(session: Session, key) -> BoardFreeze | None:
    return session.scalars(
        select(BoardFreeze).where(
            BoardFreeze.scope == key.scope,
            BoardFreeze.period == key.period,
            BoardFreeze.dimension == (key.dimension or ""),
        )
    ).first()

