"""Ledger, outbox, custodial wallets, deployments and instance settings."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.db import Base, utcnow
from community.models import Contribution, User


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # not sent yet (or its last send was lost)
    SENT = "sent"  # a transaction carrying it was broadcast; not recorded yet
    DONE = "done"  # minted on chain; tx hash and block recorded


class OutboxKind(enum.StrEnum):
    MINT = "mint"  # KopaCredits.mintBatch: points awarded, refunds
    BURN = "burn"  # KopaCredits.redeemBatch: revocations, redemptions, booking payments
    BADGE = "badge"  # KopaBadges.mintBadgeBatch
    ANCHOR = "anchor"  # KopaLedgerAnchor: epoch roots


class Wallet(Base):
    """A member's custodial wallet: only the address is ever shown or put on chain."""

    __tablename__ = "wallets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    encrypted_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship()


class LedgerEntry(Base):
    """One signed amount of points. Rows are never updated or deleted (triggers refuse it);
    corrections are new, compensating entries."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)
    dimension: Mapped[str] = mapped_column(String(40), default="participation")
    cause: Mapped[str] = mapped_column(String(40))
    # What caused the entry, unique so that replaying the cause awards nothing.
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    contribution_id: Mapped[int | None] = mapped_column(ForeignKey("contributions.id"))
    validator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rule_id: Mapped[str] = mapped_column(String(80))
    rule_version: Mapped[int] = mapped_column(Integer)
    # bytes32 id used on chain, hex with 0x prefix: the installation's tag above this row's id
    # (rewards.ledger.entry_ref); rows written before dense refs keep SHA-256 refs.
    ref: Mapped[str] = mapped_column(String(66), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    member: Mapped[User] = relationship(foreign_keys=[member_id])
    validator: Mapped[User | None] = relationship(foreign_keys=[validator_id])
    contribution: Mapped[Contribution | None] = relationship()
    outbox: Mapped[OutboxItem | None] = relationship(back_populates="entry")

    __table_args__ = (CheckConstraint("points <> 0", name="points_nonzero"),)


@event.listens_for(LedgerEntry, "before_update")
def _refuse_ledger_update(_mapper, _conn, target: LedgerEntry) -> None:
    raise RuntimeError(f"ledger entry {target.id} is append-only")


@event.listens_for(LedgerEntry, "before_delete")
def _refuse_ledger_delete(_mapper, _conn, target: LedgerEntry) -> None:
    raise RuntimeError(f"ledger entry {target.id} is append-only")


class OutboxItem(Base):
    """A chain request written in the same transaction as its ledger entry; the relay
    delivers it and records where it landed."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=OutboxKind.MINT.value, index=True)
    # Mints and burns carry a ledger entry; badges and anchors do not.
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    token_id: Mapped[int | None] = mapped_column(BigInteger)  # badge token id
    to_address: Mapped[str] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(BigInteger)
    ref: Mapped[str] = mapped_column(String(66), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    contract_address: Mapped[str | None] = mapped_column(String(42))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    entry: Mapped[LedgerEntry | None] = relationship(back_populates="outbox")

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("kind IN ('mint', 'burn', 'badge', 'anchor')", name="kind_known"),
        CheckConstraint("status IN ('pending', 'sent', 'done')", name="status_known"),
    )


class Deployment(Base):
    """Where Kopa's contracts live on each chain; the newest row per chain wins."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, index=True)
    contract: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(42))
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))
    deployed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Setting(Base):
    """Instance-wide values created once: the instance id, the encrypted minter key."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
