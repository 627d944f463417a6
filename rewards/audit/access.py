"""Who reads the whole ledger: auditors and staff (a member reads their own entries)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from community.errors import Forbidden
from community.models import User


def check_auditor(viewer: User) -> None:
    if not (viewer.is_auditor or viewer.is_staff):
        raise Forbidden("only auditors and staff see the whole ledger")


def require_auditor(session: Session, viewer_id: int) -> User:
    viewer = session.get(User, viewer_id)
    if viewer is None or not (viewer.is_auditor or viewer.is_staff):
        raise Forbidden("only auditors and staff export the ledger")
    return viewer
