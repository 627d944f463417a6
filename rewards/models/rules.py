"""Scoring rules, their immutable versions, and the history of scored events."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.db import Base, utcnow
from community.models import User


class ScoringRule(Base):
    """A rule's stable identity (a slug). What it does lives in its versions; the pointer
    to the current (published) version is the only thing that ever changes here."""

    __tablename__ = "scoring_rules"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    current_version: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[RuleVersion]] = relationship(
        back_populates="rule", order_by="RuleVersion.version"
    )

    @property
    def current(self) -> RuleVersion | None:
        return next((v for v in self.versions if v.version == self.current_version), None)

    @property
    def latest(self) -> RuleVersion | None:
        return self.versions[-1] if self.versions else None


class RuleVersion(Base):
    """One version of a rule. Never edited after it is written, except that publishing
    stamps ``published_at``/``published_by_id`` once; a change is a new version."""

    __tablename__ = "scoring_rule_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey("scoring_rules.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(40), index=True)
    conditions: Mapped[dict] = mapped_column(JSON, default=dict)
    dimension: Mapped[str] = mapped_column(String(40))
    formula: Mapped[str] = mapped_column(Text)
    cap_period: Mapped[str | None] = mapped_column(String(8))
    cap_points: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    rule: Mapped[ScoringRule] = relationship(back_populates="versions")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])

    __table_args__ = (
        UniqueConstraint("rule_id", "version", name="uq_scoring_rule_versions_rule_version"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint("cap_period IN ('day', 'week', 'month')", name="cap_period_known"),
        CheckConstraint("cap_points IS NULL OR cap_points > 0", name="cap_points_positive"),
        CheckConstraint(
            "(cap_period IS NULL) = (cap_points IS NULL)", name="cap_complete"
        ),
    )

    @property
    def status(self) -> str:
        if self.rule is not None and self.rule.current_version == self.version:
            return "current"
        return "published" if self.published_at is not None else "draft"


_PUBLISH_ONCE = {"published_at", "published_by_id"}


@event.listens_for(RuleVersion, "before_update")
def _refuse_version_edit(_mapper, _conn, target: RuleVersion) -> None:
    state = inspect(target)
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        if attr.key in _PUBLISH_ONCE and not any(v is not None for v in history.deleted):
            continue  # stamping the publication, once
        raise RuntimeError(f"rule {target.rule_id} version {target.version} is immutable ({attr.key})")


@event.listens_for(RuleVersion, "before_delete")
def _refuse_version_delete(_mapper, _conn, target: RuleVersion) -> None:
    raise RuntimeError(f"rule {target.rule_id} version {target.version} is immutable")


class ScoringEvent(Base):
    """Every event the scoring entry point saw: what it was, its inputs and context, the
    feature's default and the awards given. Previews replay these; nothing recomputes
    ledger entries from them."""

    __tablename__ = "scoring_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    inputs: Mapped[dict] = mapped_column(JSON)
    context: Mapped[dict] = mapped_column(JSON)
    default_award: Mapped[dict | None] = mapped_column(JSON)
    awards: Mapped[list] = mapped_column(JSON)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    member: Mapped[User] = relationship()

    __table_args__ = (Index("ix_scoring_events_kind_occurred_at", "kind", "occurred_at"),)
