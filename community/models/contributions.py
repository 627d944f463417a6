"""Contributions to tasks, their co-contributors and every transition of their state."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.db import Base, utcnow
from community.models.accounts import User
from community.models.processes import Task


class ContributionState(enum.StrEnum):
    PENDING = "pending"
    AWAITING_SECOND = "awaiting_second_approval"  # four-eyes: one approval given
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    APPEALED = "appealed"
    REVOKED = "revoked"


CONTRIBUTION_STATES = tuple(s.value for s in ContributionState)


LEVELS = ("low", "average", "high")


class Contribution(Base):
    __tablename__ = "contributions"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    evidence_url: Mapped[str | None] = mapped_column(String(2000))
    state: Mapped[str] = mapped_column(String(32), default=ContributionState.PENDING.value)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_comment: Mapped[str | None] = mapped_column(Text)
    # Evidence file (stored content-addressed under instance/evidence/).
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    evidence_filename: Mapped[str | None] = mapped_column(String(255))
    evidence_content_type: Mapped[str | None] = mapped_column(String(100))
    evidence_size: Mapped[int | None] = mapped_column(BigInteger)
    # Set at submission when the same file or URL was already used in this process.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("contributions.id"))
    level: Mapped[str | None] = mapped_column(String(8))
    proposed_points: Mapped[int | None] = mapped_column(Integer)
    first_approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    appealed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    task: Mapped[Task] = relationship()
    member: Mapped[User] = relationship(foreign_keys=[member_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    transitions: Mapped[list[ContributionTransition]] = relationship(
        back_populates="contribution", order_by="ContributionTransition.id"
    )
    co_contributors: Mapped[list[User]] = relationship(secondary="contribution_co_contributors")

    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'awaiting_second_approval', 'approved', 'rejected', "
            "'changes_requested', 'appealed', 'revoked')",
            name="state_known",
        ),
        CheckConstraint("level IS NULL OR level IN ('low', 'average', 'high')", name="level_known"),
    )

    @property
    def member_ids(self) -> list[int]:
        """The contributor first, then co-contributors: everyone the points go to."""
        return [self.member_id, *(u.id for u in self.co_contributors)]


class ContributionCoContributor(Base):
    __tablename__ = "contribution_co_contributors"

    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class ContributionTransition(Base):
    """Who moved a contribution from which state to which, when and why."""

    __tablename__ = "contribution_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    contribution: Mapped[Contribution] = relationship(back_populates="transitions")
    actor: Mapped[User] = relationship()
