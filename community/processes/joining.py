"""Joining a process: open processes accept an application at once, application processes
wait for a manager's decision, invitation-only ones refuse it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.access import NodePath
from community.db import UnitOfWork, utcnow
from community.errors import Conflict, Forbidden
from community.i18n import N_
from community.models import Grant, Membership, Permission, Process, ProcessApplication, User
from community.processes.checks import _manager
from community.validation import get_row as get
from community.validation import text


def apply_to_process(uow: UnitOfWork, *, user_id: int, process_id: object, message: object = "") -> str:
    """Open processes accept at once; application processes wait for a manager."""
    message = text(message, "message", 2000, required=False)
    with uow:
        session = uow.session
        user = get(session, User, user_id, "user")
        process = get(session, Process, process_id, "process")
        if process.membership == Membership.INVITE:
            raise Forbidden("this process is by invitation only")
        existing = session.scalars(
            select(ProcessApplication).where(
                ProcessApplication.process_id == process.id,
                ProcessApplication.user_id == user.id,
                ProcessApplication.state != "declined",
            )
        ).first()
        if existing is not None:
            raise Conflict(N_("you already applied to this process (%(state)s)", state=existing.state))
        state = "accepted" if process.membership == Membership.OPEN else "pending"
        session.add(
            ProcessApplication(
                process_id=process.id,
                user_id=user.id,
                message=message,
                state=state,
                decided_at=utcnow() if state == "accepted" else None,
            )
        )
        if state == "accepted":
            session.add(Grant(process_id=process.id, user_id=user.id, permission=Permission.CONTRIBUTE))
        uow.commit()
        return state


def decide_application(uow: UnitOfWork, *, actor_id: int, application_id: object, accept: bool) -> None:
    with uow:
        session = uow.session
        application = get(session, ProcessApplication, application_id, "application")
        _manager(
            session,
            actor_id,
            NodePath(application.process_id),
            "only the process's managers decide applications",
        )
        if application.state != "pending":
            raise Conflict(N_("application %(application)s is already %(state)s",
                              application=application.id, state=application.state))
        application.state = "accepted" if accept else "declined"
        application.decided_by_id = actor_id
        application.decided_at = utcnow()
        if accept:
            session.add(
                Grant(
                    process_id=application.process_id,
                    user_id=application.user_id,
                    permission=Permission.CONTRIBUTE,
                )
            )
        uow.commit()


def has_joined(session: Session, user_id: int, process_id: int) -> str | None:
    return session.scalar(
        select(ProcessApplication.state)
        .where(
            ProcessApplication.process_id == process_id,
            ProcessApplication.user_id == user_id,
        )
        .order_by(ProcessApplication.id.desc())
        .limit(1)
    )
