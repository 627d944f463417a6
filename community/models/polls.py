"""Polls: questions staff ask members (and passers-by at a kiosk screen), and the answers.

Member votes and anonymous kiosk answers share one table so results can count both with one
query; exactly one of ``member_id`` and ``kiosk_session`` is set, and each is unique per poll
(one vote per member, one answer per kiosk session).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.db import Base, as_utc, utcnow


class PollKind(enum.StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"


class ResultsVisibility(enum.StrEnum):
    AFTER_VOTE = "after_vote"  # a member sees results once they have voted (everyone after close)
    AFTER_CLOSE = "after_close"  # nobody but staff and auditors before the poll closes


class PollState(enum.StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


class Poll(Base):
    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    question: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default=PollKind.SINGLE.value)
    # Multiple choice only: at most this many options per answer (None: any number).
    max_choices: Mapped[int | None] = mapped_column(Integer)
    allow_text: Mapped[bool] = mapped_column(default=False)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id"), index=True)
    opens_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Set when staff close the poll before ``closes_at``.
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    results_visibility: Mapped[str] = mapped_column(String(16), default=ResultsVisibility.AFTER_VOTE.value)
    points: Mapped[int] = mapped_column(Integer, default=0)
    kiosk_enabled: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    options: Mapped[list[PollOption]] = relationship(
        back_populates="poll", order_by="PollOption.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("kind IN ('single', 'multiple')", name="kind_known"),
        CheckConstraint("results_visibility IN ('after_vote', 'after_close')", name="visibility_known"),
        CheckConstraint("points >= 0", name="points_not_negative"),
        CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
    )

    def ends_at(self) -> dt.datetime:
        """When voting stops: the planned close or an earlier close by staff."""
        closes = as_utc(self.closes_at)
        closed = as_utc(self.closed_at)
        return min(closes, closed) if closed is not None else closes

    def state(self, now: dt.datetime | None = None) -> PollState:
        now = now or utcnow()
        if now >= self.ends_at():
            return PollState.CLOSED
        if now < as_utc(self.opens_at):
            return PollState.SCHEDULED
        return PollState.OPEN


class PollOption(Base):
    __tablename__ = "poll_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))

    poll: Mapped[Poll] = relationship(back_populates="options")


class PollAnswer(Base):
    """A member's vote (``member_id``) or an anonymous kiosk answer (``kiosk_session``)."""

    __tablename__ = "poll_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kiosk_session: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    choices: Mapped[list[PollAnswerChoice]] = relationship(cascade="all, delete-orphan")

    __table_args__ = (
        UniqueConstraint("poll_id", "member_id", name="uq_poll_answers_member"),
        UniqueConstraint("poll_id", "kiosk_session", name="uq_poll_answers_kiosk_session"),
        CheckConstraint("(member_id IS NULL) <> (kiosk_session IS NULL)", name="one_source"),
    )

    @property
    def from_kiosk(self) -> bool:
        return self.member_id is None


class PollAnswerChoice(Base):
    __tablename__ = "poll_answer_choices"

    answer_id: Mapped[int] = mapped_column(
        ForeignKey("poll_answers.id", ondelete="CASCADE"), primary_key=True
    )
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id"), primary_key=True, index=True)
