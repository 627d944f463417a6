"""Board settings that are not points: staff freezes and members' board profiles.

A freeze stores the board as it stood, so viewers see that snapshot (e.g. while a prize is
decided) while the ledger keeps counting underneath. Both services publish
``BoardsChanged`` so the one cache invalidation runs and watchers get the new board.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.db import UnitOfWork, is_row_id
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.i18n import N_
from community.models import User
from rewards.events import BoardsChanged
from rewards.models import BoardFreeze, freeze_of
from rewards.standings import compute_board

PSEUDONYM_MAX = 40


def _staff(session: Session, actor_id: int) -> User:
    actor = session.get(User, actor_id) if is_row_id(actor_id) else None
    if actor is None or not actor.active:
        raise Forbidden("unknown or inactive account")
    if not actor.is_staff:
        raise Forbidden("only staff may freeze or unfreeze a board")
    return actor


def freeze_board(uow: UnitOfWork, *, actor_id: int, key) -> str:
    """Stops the board moving for viewers; returns the freeze time (ISO)."""
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
