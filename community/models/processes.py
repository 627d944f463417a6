"""Co-creation processes and their tree (phase → objective → task), prerequisites, the
resource library, teams, grants, applications and success stories."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.db import Base, utcnow
from community.models.accounts import Organisation, User


class NodeStatus(enum.StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class Permission(enum.IntEnum):
    """Ordered: each level includes the ones below it."""

    VIEW = 1
    CONTRIBUTE = 2
    MANAGE = 3


class Membership(enum.StrEnum):
    OPEN = "open"  # every member may view and contribute
    APPLICATION = "application"  # everyone may view; contributing needs an accepted application or a grant
    INVITE = "invite"  # only grants give access


class TeamKind(enum.StrEnum):
    CITIZENS = "citizens"
    PUBLIC_ADMINISTRATION = "public_administration"
    NON_PROFIT = "non_profit"
    FOR_PROFIT = "for_profit"


COMPLEXITIES = (0, 20, 40, 60, 80, 100)


def _status_check() -> CheckConstraint:
    return CheckConstraint("status IN ('not_started', 'in_progress', 'done')", name="status_known")


class Process(Base):
    __tablename__ = "processes"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default=NodeStatus.NOT_STARTED.value)
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    membership: Mapped[str] = mapped_column(String(16), default=Membership.OPEN.value)
    template: Mapped[str | None] = mapped_column(String(40))
    cloned_from_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id"))
    # Anti-farming and four-eyes settings; None means the instance default / off.
    four_eyes_threshold: Mapped[int | None] = mapped_column(Integer)
    points_cap: Mapped[int | None] = mapped_column(Integer)
    cap_period: Mapped[str] = mapped_column(String(8), default="month")

    organisation: Mapped[Organisation | None] = relationship()
    phases: Mapped[list[Phase]] = relationship(back_populates="process", order_by="Phase.position, Phase.id")
    tasks: Mapped[list[Task]] = relationship(back_populates="process", order_by="Task.id")

    __table_args__ = (
        _status_check(),
        CheckConstraint("membership IN ('open', 'application', 'invite')", name="membership_known"),
        CheckConstraint("cap_period IN ('week', 'month')", name="cap_period_known"),
    )


class TreeNodeColumns:
    """What every node under a process has: a title and description, its place among its
    siblings, a status and optional dates."""

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=NodeStatus.NOT_STARTED.value)
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)


class Phase(TreeNodeColumns, Base):
    __tablename__ = "phases"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), index=True)

    process: Mapped[Process] = relationship(back_populates="phases")
    objectives: Mapped[list[Objective]] = relationship(
        back_populates="phase", order_by="Objective.position, Objective.id"
    )

    __table_args__ = (_status_check(),)


class Objective(TreeNodeColumns, Base):
    __tablename__ = "objectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id"), index=True)

    phase: Mapped[Phase] = relationship(back_populates="objectives")
    tasks: Mapped[list[Task]] = relationship(back_populates="objective", order_by="Task.position, Task.id")

    __table_args__ = (_status_check(),)


class Task(TreeNodeColumns, Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), index=True)
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"), index=True)
    complexity: Mapped[int] = mapped_column(Integer, default=20)
    open: Mapped[bool] = mapped_column(default=True)

    process: Mapped[Process] = relationship(back_populates="tasks")
    objective: Mapped[Objective | None] = relationship(back_populates="tasks")
    library_items: Mapped[list[LibraryItem]] = relationship(secondary="task_library_items")

    __table_args__ = (
        _status_check(),
        CheckConstraint("complexity IN (0, 20, 40, 60, 80, 100)", name="complexity_known"),
    )


class Prerequisite(Base):
    """Node ``node_id`` of ``kind`` cannot start before ``requires_id`` (same kind) is done."""

    __tablename__ = "prerequisites"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    node_id: Mapped[int] = mapped_column(Integer, index=True)
    requires_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("kind IN ('phase', 'objective', 'task')", name="kind_known"),
        UniqueConstraint("kind", "node_id", "requires_id", name="uq_prerequisites_edge"),
    )


class LibraryItem(Base):
    """A reusable resource from the catalogue staff maintain: guide, template or tool."""

    __tablename__ = "library_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    link: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[str] = mapped_column(String(100), default="en")  # comma-separated codes
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (CheckConstraint("kind IN ('guide', 'template', 'tool')", name="kind_known"),)


class TaskLibraryItem(Base):
    __tablename__ = "task_library_items"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("library_items.id"), primary_key=True)


class LibraryRating(Base):
    __tablename__ = "library_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("library_items.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    stars: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),
        UniqueConstraint("item_id", "user_id", name="uq_library_ratings_item_user"),
    )


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    members: Mapped[list[TeamMember]] = relationship(back_populates="team", order_by="TeamMember.id")

    __table_args__ = (
        CheckConstraint(
            "kind IN ('citizens', 'public_administration', 'non_profit', 'for_profit')", name="kind_known"
        ),
    )


class TeamMember(Base):
    __tablename__ = "team_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    is_admin: Mapped[bool] = mapped_column(default=False)

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_team_members_team_user"),)


class Grant(Base):
    """A permission for a team or one user on a whole process or one subtree of it (the
    most specific node given); it holds for every node below."""

    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), index=True)
    phase_id: Mapped[int | None] = mapped_column(ForeignKey("phases.id"))
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    permission: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    team: Mapped[Team | None] = relationship()
    user: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("permission IN (1, 2, 3)", name="permission_known"),
        CheckConstraint("(team_id IS NULL) <> (user_id IS NULL)", name="one_grantee"),
    )


class ProcessApplication(Base):
    __tablename__ = "process_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(12), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    process: Mapped[Process] = relationship()

    __table_args__ = (
        CheckConstraint("state IN ('pending', 'accepted', 'declined')", name="state_known"),
    )


class SuccessStory(Base):
    __tablename__ = "success_stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), unique=True)
    summary: Mapped[str] = mapped_column(Text)
    outcomes: Mapped[str] = mapped_column(Text)
    published_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    process: Mapped[Process] = relationship()


class StoryOptIn(Base):
    """A participant agrees to be named in the process's success story."""

    __tablename__ = "story_opt_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("process_id", "user_id", name="uq_story_opt_ins_process_user"),)
