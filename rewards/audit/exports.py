"""Ledger exports: the rows, byte-stable CSV and JSON files, and the manifest that is
signed; every export is itself logged."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.db import UnitOfWork, utcnow
from community.models import User
from rewards.audit.actions import append_action
from rewards.audit.canonical import ts
from rewards.models import AuditEpochEntry, LedgerEntry, OutboxStatus, Wallet

# address, points and status first: `awk -F,` sums them whatever later fields hold.
EXPORT_FIELDS = ("id", "address", "points", "status", "member_id", "dimension", "cause", "source_key",
                 "contribution_id", "validator_id", "rule_id", "rule_version", "ref", "created_at",
                 "tx_hash", "block", "epoch")


def export_rows(session: Session, since: dt.datetime | None, until: dt.datetime | None) -> list[dict]:
    query = select(LedgerEntry).order_by(LedgerEntry.id)
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    wallets = dict(session.execute(select(Wallet.user_id, Wallet.address)).all())
    places = dict(session.execute(select(AuditEpochEntry.entry_id, AuditEpochEntry.epoch_id)).all())
    rows = []
    for e in session.scalars(query):
        o = e.outbox
        rows.append({
            "id": e.id, "member_id": e.member_id, "address": wallets.get(e.member_id), "points": e.points,
            "dimension": e.dimension, "cause": e.cause, "source_key": e.source_key,
            "contribution_id": e.contribution_id, "validator_id": e.validator_id, "rule_id": e.rule_id,
            "rule_version": e.rule_version, "ref": e.ref, "created_at": ts(e.created_at),
            "status": o.status if o else None,
            "tx_hash": o.tx_hash if o and o.status == OutboxStatus.DONE.value else None,
            "block": o.block_number if o and o.status == OutboxStatus.DONE.value else None,
            "epoch": places.get(e.id),
        })
    return rows


def export_files(rows: Sequence[dict]) -> dict[str, bytes]:
    """``ledger.csv`` and ``ledger.json`` with the same rows, byte-stable."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in EXPORT_FIELDS})
    as_json = json.dumps(list(rows), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return {"ledger.csv": buffer.getvalue().encode(), "ledger.json": as_json.encode()}


def export_manifest(
    files: dict[str, bytes], *, since: dt.datetime | None, until: dt.datetime | None, rows: Sequence[dict],
    chain: dict, signer: str,
) -> str:
    """The signed text (no trailing newline, so ``"$(cat manifest.json)"`` is exactly it):
    period, counts, per-holder delivered totals, each file's SHA-256, the chain and signer."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["status"] == OutboxStatus.DONE.value and row["address"]:
            totals[row["address"]] += row["points"]
    manifest = {
        "kind": "kopa-ledger-export",
        "version": 1,
        "created_at": ts(utcnow()),
        "period": {"from": ts(since) if since else None, "until": ts(until) if until else None},
        "entry_count": len(rows),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
        "delivered_totals": dict(sorted(totals.items())),
        **chain,
        "signer": signer,
    }
    return json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=True)


def log_export(uow: UnitOfWork, viewer_id: int, manifest: str, signature: str) -> None:
    """Every export is itself in the audit log (who, when, period, file hashes, signature)."""
    with uow:
        viewer = uow.session.get(User, viewer_id)
        data = json.loads(manifest)
        append_action(
            uow.session, viewer, "ledger.export", f"{data['entry_count']} entries",
            {"period": data["period"], "files": data["files"],
             "manifest_sha256": hashlib.sha256(manifest.encode()).hexdigest(), "signature": signature},
        )
        uow.commit()
