"""GDPR erasure as auditors see it: an admin erases a member through
``community.privacy`` (the one implementation), and the ids erased so far."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.db import UnitOfWork
from community.models import Erasure
from community.privacy import erase_by_admin


def erase_member(uow: UnitOfWork, *, admin_id: int, member_id: object) -> None:
    """An admin erases a member: ``community.privacy.erase_by_admin`` (one implementation of
    erasure). The user row stays as a pseudonymous shell with its id and address, so ledger
    rows, reconciliation and proofs stay valid."""
    erase_by_admin(uow, admin_id=admin_id, member_id=member_id)


def erased_ids(session: Session) -> set[int]:
    return set(session.scalars(select(Erasure.user_id)))
