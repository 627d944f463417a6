"""Rewards' share of GDPR (``community.privacy`` iterates it): wallet, ledger, badges, boards,
scoring, redemptions and the member's audit-log rows in the export; erasure's rewards step
and its ``member.erase`` audit-log entry."""

from __future__ import annotations

import json

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from community.db import UnitOfWork
from community.events import MemberErased
from community.models import User
from community.privacy import ERASED_REASON, ErasureStep, Part, erased_name, plain
from rewards import catalogue
from rewards.audit.actions import append_action
from rewards.events import BoardsChanged
from rewards.models import (
    AuditEpoch,
    AuditLogRow,
    BadgeAward,
    BadgeLevel,
    BoardFreeze,
    BoardTotal,
    CatalogueItem,
    LedgerEntry,
    OutboxItem,
    ProcessBoardTotal,
    Redemption,
    RuleVersion,
    ScoringEvent,
    ScoringRule,
    Wallet,
)


def _ledger_extra(session: Session, entry: LedgerEntry) -> dict:
    outbox = session.scalars(select(OutboxItem).where(OutboxItem.ledger_entry_id == entry.id)).one_or_none()
    if outbox is None:
        return {"chain": None}
    return {"chain": {"kind": outbox.kind, "status": outbox.status, "to_address": outbox.to_address,
                      "tx_hash": outbox.tx_hash, "block": outbox.block_number}}


def _redemption_extra(session: Session, row: Redemption) -> dict:
    return {"item": session.get(CatalogueItem, row.item_id).name}


def _badge_extra(session: Session, row: BadgeAward) -> dict:
    return {"badge_level": session.get(BadgeLevel, row.badge_level_id).name}


# (order, part): see ``community.privacy.PARTS`` for the orders.
PARTS: tuple[tuple[int, Part], ...] = (
    # Points, chain and rewards.
    (100, Part("wallet", Wallet, "user_id", omit=("encrypted_key",), single=True)),
    (110, Part("ledger_entries", LedgerEntry, "member_id", extra=_ledger_extra)),
    (120, Part("badges", BadgeAward, "member_id", extra=_badge_extra)),
    (130, Part("board_totals", BoardTotal, "member_id")),
    (140, Part("process_board_totals", ProcessBoardTotal, "member_id")),
    (150, Part("scoring_events", ScoringEvent, "member_id")),
    (160, Part("redemptions", Redemption, "member_id", extra=_redemption_extra)),
    # As staff or admin.
    (410, Part("ledger_entries_validated", LedgerEntry, "validator_id",
               fields=("id", "member_id", "points", "cause", "contribution_id", "created_at"))),
    (450, Part("redemptions_decided", Redemption, "decided_by_id",
               fields=("id", "item_id", "state", "decided_at", "note"))),
    (455, Part("scoring_rules_created", ScoringRule, "created_by_id", fields=("id", "created_at"))),
    (460, Part("scoring_rule_versions_created", RuleVersion, "created_by_id",
               fields=("id", "rule_id", "version", "created_at"))),
    (465, Part("scoring_rule_versions_published", RuleVersion, "published_by_id",
               fields=("id", "rule_id", "version", "published_at"))),
    (470, Part("board_freezes", BoardFreeze, "frozen_by_id",
               fields=("id", "scope", "period", "dimension", "frozen_at"))),
    (475, Part("ledger_epochs_closed", AuditEpoch, "closed_by_id",
               fields=("id", "closed_at", "entry_count", "root"))),
)


def admin_actions(session: Session, member_id: int) -> dict:
    """The export's section of audit-log rows the member wrote as actor (``audit_log.actor_id``
    has no foreign key: it survives erasure)."""
    rows = session.scalars(
        select(AuditLogRow).where(AuditLogRow.actor_id == member_id).order_by(AuditLogRow.id)
    )
    return {"admin_actions": [
        {"seq": r.seq, "at": plain(r.at), "role": r.actor_role, "action": r.action, "subject": r.subject}
        for r in rows
    ]}


def erase_rewards(step: ErasureStep) -> dict[str, list[int]]:
    """Notes the member gave on their own redemptions go, open redemptions are cancelled and
    refunded, frozen boards forget their name and the custodial key is wiped (the address stays:
    it is what the chain knows); boards are pushed again after the commit."""
    session, member_id = step.session, step.member.id
    session.execute(
        update(Redemption).where(Redemption.member_id == member_id, Redemption.decided_by_id == member_id)
        .values(note=None)
    )
    cancelled = catalogue.cancel_open_redemptions(
        session, member_id=member_id, actor_id=step.actor.id, note=ERASED_REASON
    )
    _scrub_frozen_boards(session, member_id)
    wallet = session.scalars(select(Wallet).where(Wallet.user_id == member_id)).one_or_none()
    if wallet is not None:
        wallet.encrypted_key = b""
    step.uow.publish(BoardsChanged())
    return {"redemptions_cancelled": cancelled}


def _scrub_frozen_boards(session: Session, member_id: int) -> None:
    """A frozen board keeps its rows (member id, name, points, hidden) as they stood; the
    name shown is read again at display time, but the stored one must go too."""
    for freeze in session.scalars(select(BoardFreeze).where(BoardFreeze.scope != "teams")):
        rows = json.loads(freeze.snapshot)
        if any(row[0] == member_id for row in rows):
            freeze.snapshot = json.dumps(
                [[row[0], erased_name(member_id), *row[2:]] if row[0] == member_id else row
                 for row in rows]
            )


def log_erasure(uow: UnitOfWork, event: MemberErased) -> None:
    """In the erasure's transaction, before the person is wiped: ``member.erase`` in the audit
    log, with the role the actor acted in."""
    actor = uow.session.get(User, event.actor_id)
    append_action(
        uow.session, actor, "member.erase", f"user {event.member_id}",
        {"by": "self" if event.actor_id == event.member_id else "admin", **dict(event.counts)},
    )
