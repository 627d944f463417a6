"""Auditing: ledger epochs and their Merkle roots, the hash-chained audit log (erasure records
are the kernel's: ``community.models.Erasure``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from community.db import Base, utcnow


class AuditEpoch(Base):
    """A closed slice of the ledger; its entries are the leaves of one RFC 6962 tree whose
    root goes on chain through the outbox (kind ``anchor``)."""

    __tablename__ = "audit_epochs"

    # The epoch number written on chain (1, 2, ...).
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    entry_count: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(String(66))  # 0x-hex SHA-256 tree head
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), unique=True)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AuditEpochEntry(Base):
    """Which epoch (and leaf index) holds a ledger entry. Kept apart from the append-only
    ledger rows; an entry committed late (after a higher id) simply lands in the next epoch."""

    __tablename__ = "audit_epoch_entries"

    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), primary_key=True)
    epoch_id: Mapped[int] = mapped_column(ForeignKey("audit_epochs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("epoch_id", "position", name="uq_audit_epoch_position"),)


class AuditLogRow(Base):
    """One admin or staff action. ``hash`` = SHA-256(prev_hash ‖ canonical row), so altering,
    deleting or reordering any row breaks the chain from there on."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # pseudonymous: no FK, survives erasure
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

