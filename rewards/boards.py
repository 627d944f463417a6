"""Board settings that are not points: staff freezes and members' board profiles.

A freeze stores the board as it stood, so viewers see that snapshot (e.g. while a prize is
decided) while the ledger keeps counting underneath. Both services publish
``BoardsChanged`` so the one cache invalidation runs and watchers get the new board.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from community.db import Base, UnitOfWork, is_row_id, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.i18n import N_
from community.models import User

PSEUDONYM_MAX = 40


@dataclass(frozen=True)
class BoardsChanged:
    """Something boards show changed without a ledger write (freeze, pseudonym, opt-out)."""


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


def _staff(session: Session, actor_id: int) -> User:
    actor = session.get(User, actor_id) if is_row_id(actor_id) else None
    if actor is None or not actor.active:
        raise Forbidden("unknown or inactive account")
    if not actor.is_staff:
        raise Forbidden("only staff may freeze or unfreeze a board")
    return actor


def freeze_board(uow: UnitOfWork, *, actor_id: int, key) -> str:
    """Stops the board moving for viewers; returns the freeze time (ISO)."""
    from rewards.standings import compute_board

    with uow:
        session = uow.session
        actor = _staff(session, actor_id)
        if freeze_of(session, key) is not None:
            raise Conflict("this board is already frozen")
        board = compute_board(session, key)  # 404 for a scope that does not exist
        freeze = BoardFreeze(scope=key.scope, period=key.period, dimension=key.dimension or "",
                             snapshot=json.dumps(board.rows), frozen_by_id=actor.id)
        session.add(freeze)
        session.flush()
        frozen_at = freeze.frozen_at.isoformat()
        uow.publish(BoardsChanged())
        uow.commit()
    return frozen_at


def unfreeze_board(uow: UnitOfWork, *, actor_id: int, key) -> None:
    with uow:
        session = uow.session
        _staff(session, actor_id)
        freeze = freeze_of(session, key)
        if freeze is None:
            raise NotFound("this board is not frozen")
        session.delete(freeze)
        uow.publish(BoardsChanged())
        uow.commit()


def update_board_profile(
    uow: UnitOfWork, *, member_id: int, opt_out: object, pseudonym: object
) -> tuple[bool, str | None]:
    """A member's own choice: hidden from public boards, and/or shown under a pseudonym that
    is nobody else's name."""
    if not isinstance(opt_out, bool):
        raise InvalidInput("opt_out must be true or false")
    if pseudonym is not None and not isinstance(pseudonym, str):
        raise InvalidInput("pseudonym must be text")
    pseudonym = (pseudonym or "").strip() or None
    if pseudonym is not None and not 2 <= len(pseudonym) <= PSEUDONYM_MAX:
        raise InvalidInput(N_("a pseudonym has 2 to %(pseudonym_max)s characters",
                              pseudonym_max=PSEUDONYM_MAX))
    with uow:
        session = uow.session
        member = session.get(User, member_id) if is_row_id(member_id) else None
        if member is None or not member.active:
            raise Forbidden("unknown or inactive account")
        if pseudonym is not None:
            lowered = pseudonym.lower()
            taken = session.scalar(
                select(User.id).where(
                    User.id != member.id,
                    (func.lower(User.display_name) == lowered)
                    | (func.lower(User.board_pseudonym) == lowered),
                )
            )
            if taken is not None:
                raise Conflict("that name is already used by someone else")
        member.board_opt_out = opt_out
        member.board_pseudonym = pseudonym
        uow.publish(BoardsChanged())
        uow.commit()
    return opt_out, pseudonym
