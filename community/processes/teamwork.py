"""Teams (citizens, public administration, non-profit, for-profit) and their members; a team's
admins or staff manage who is in it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.db import UnitOfWork
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.events import TeamMembershipChanged
from community.i18n import N_
from community.models import Team, TeamKind, TeamMember, User
from community.processes.checks import user_by_email
from community.validation import get_row as get
from community.validation import text


def create_team(
    uow: UnitOfWork, *, actor_id: int, name: object, kind: object, description: object = ""
) -> int:
    name = text(name, "name", 120)
    if kind not in {k.value for k in TeamKind}:
        raise InvalidInput(N_("kind must be one of %(values)s", values=', '.join(k.value for k in TeamKind)))
    with uow:
        session = uow.session
        get(session, User, actor_id, "user")
        if session.scalar(select(Team.id).where(Team.name == name)) is not None:
            raise Conflict(N_("a team called %(name)r already exists", name=name))
        team = Team(name=name, kind=kind, description=text(description, "description", 2000, required=False))
        session.add(team)
        session.flush()
        session.add(TeamMember(team_id=team.id, user_id=actor_id, is_admin=True))
        uow.publish(TeamMembershipChanged(team.id))
        uow.commit()
        return team.id


def _team_admin(session: Session, actor_id: int, team: Team) -> User:
    actor = get(session, User, actor_id, "user")
    if actor.is_staff:
        return actor
    is_admin = session.scalar(
        select(TeamMember.is_admin).where(TeamMember.team_id == team.id, TeamMember.user_id == actor_id)
    )
    if not is_admin:
        raise Forbidden("only the team's admins or staff manage its members")
    return actor


def add_team_member(
    uow: UnitOfWork, *, actor_id: int, team_id: object, email: object, is_admin: bool = False
) -> int:
    with uow:
        session = uow.session
        team = get(session, Team, team_id, "team")
        _team_admin(session, actor_id, team)
        user = user_by_email(session, email)
        member = session.scalars(
            select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id)
        ).one_or_none()
        if member is None:
            member = TeamMember(team_id=team.id, user_id=user.id)
            session.add(member)
        member.is_admin = bool(is_admin)
        session.flush()
        uow.publish(TeamMembershipChanged(team.id))
        uow.commit()
        return user.id


def remove_team_member(uow: UnitOfWork, *, actor_id: int, team_id: object, user_id: object) -> None:
    with uow:
        session = uow.session
        team = get(session, Team, team_id, "team")
        _team_admin(session, actor_id, team)
        member = session.scalars(
            select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user_id)
        ).one_or_none()
        if member is None:
            raise NotFound("that user is not in the team")
        admins = [m for m in team.members if m.is_admin]
        if member.is_admin and len(admins) == 1:
            raise Conflict("the last admin of a team cannot leave it; name another admin first")
        session.delete(member)
        uow.publish(TeamMembershipChanged(team.id))
        uow.commit()
