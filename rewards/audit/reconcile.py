"""Reconciliation, database side: per holder the ledger, delivered and pending totals,
every delivered ref, and each epoch's recomputed root (``rewards.chain.audit`` compares
them with the chain)."""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from community.db import as_utc, utcnow
from rewards.audit.canonical import LEAF_ID, canonical_leaf
from rewards.audit.epochs import core_rows, epoch_root, epoch_rows, epoch_state
from rewards.models import AuditEpoch, LedgerEntry, OutboxItem, OutboxStatus, Wallet


def ledger_side(session: Session) -> dict:
    """Per holder: ledger total (every entry), delivered total (entries whose mint or burn is
    recorded done) and pending items with their age; plus every delivered ref."""
    wallets = dict(session.execute(select(Wallet.user_id, Wallet.address)).all())
    now = utcnow()
    holders: dict[int, dict] = {}
    delivered_refs: dict[str, dict] = {}
    pending = []
    rows = core_rows(session, select(
        LedgerEntry.id, LedgerEntry.member_id, LedgerEntry.points, LedgerEntry.ref, LedgerEntry.created_at,
        OutboxItem.id, OutboxItem.kind, OutboxItem.status, OutboxItem.tx_hash, OutboxItem.last_error,
    ).outerjoin(OutboxItem, OutboxItem.ledger_entry_id == LedgerEntry.id).order_by(LedgerEntry.id))
    done = OutboxStatus.DONE.value
    for entry_id, member_id, points, ref, created_at, outbox_id, kind, status, tx_hash, last_error in rows:
        h = holders.get(member_id)
        if h is None:
            h = holders[member_id] = {
                "member_id": member_id, "address": wallets.get(member_id),
                "ledger_total": 0, "delivered_total": 0, "pending_total": 0, "entries": [],
            }
        h["ledger_total"] += points
        h["entries"].append(entry_id)
        has_outbox = outbox_id is not None
        if has_outbox and status == done:
            h["delivered_total"] += points
            delivered_refs[ref] = {
                "entry_id": entry_id, "member_id": member_id, "points": points,
                "address": wallets.get(member_id), "tx_hash": tx_hash,
            }
        else:
            h["pending_total"] += points
            pending.append({
                "entry_id": entry_id, "member_id": member_id, "points": points,
                "kind": kind if has_outbox else None, "status": status if has_outbox else "missing",
                "age_seconds": int((now - as_utc(created_at)).total_seconds()),
                "last_error": last_error if has_outbox else "no outbox row",
            })
    for member_id, address in wallets.items():
        holders.setdefault(member_id, {
            "member_id": member_id, "address": address, "ledger_total": 0, "delivered_total": 0,
            "pending_total": 0, "entries": [],
        })
    for item in session.scalars(select(OutboxItem).where(
        and_(OutboxItem.ledger_entry_id.is_(None), OutboxItem.status != OutboxStatus.DONE.value)
    )):
        pending.append({"outbox_id": item.id, "kind": item.kind, "status": item.status,
                        "age_seconds": int((now - as_utc(item.created_at)).total_seconds()),
                        "last_error": item.last_error})
    epochs = []
    for epoch in session.scalars(select(AuditEpoch).order_by(AuditEpoch.id)):
        ids, leaves = [], []
        for row in epoch_rows(session, epoch.id):
            ids.append(row[LEAF_ID])
            leaves.append(canonical_leaf(row))
        state = epoch_state(session, epoch)
        state["recomputed_root"] = epoch_root(leaves)
        state["entry_ids"] = ids
        epochs.append(state)
    return {"holders": holders, "delivered_refs": delivered_refs, "pending": pending, "epochs": epochs}
