"""Who may change, preview, see and export scoring rules."""

from __future__ import annotations

from sqlalchemy.orm import Session

from community.errors import Forbidden
from community.models import User


def actor_of(session: Session, actor_id: int) -> User:
    actor = session.get(User, actor_id) if isinstance(actor_id, int) else None
    if actor is None or not actor.active:
        raise Forbidden("unknown or inactive user")
    return actor


def require_admin(session: Session, actor_id: int) -> User:
    actor = actor_of(session, actor_id)
    if not actor.is_admin:
        raise Forbidden("only admins change scoring rules")
    return actor


def require_staff(session: Session, actor_id: int) -> User:
    actor = actor_of(session, actor_id)
    if not actor.is_staff:
        raise Forbidden("only staff and admins preview scoring rules")
    return actor


def sees_drafts(session: Session, actor_id: int) -> bool:
    """Staff, auditors and admins see drafts; members see what is published, so that they
    know how points are earned."""
    actor = actor_of(session, actor_id)
    return actor.is_staff or actor.is_auditor
