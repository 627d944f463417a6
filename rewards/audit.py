"""The auditor's view of the ledger: canonical entries, epochs and their Merkle proofs, the
ledger explorer, validator statistics, exports, the hash-chained audit log and GDPR erasure.

Nothing here talks to the chain; reading balances, replaying events and signing exports
live in ``rewards.chain.audit``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import operator
import os
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import and_, func, insert, or_, select, text
from sqlalchemy.orm import Session

from community.db import UnitOfWork, as_utc, is_row_id, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.i18n import N_
from community.models import (
    Contribution,
    ContributionState,
    ContributionTransition,
    Erasure,
    Task,
    TeamMember,
    User,
)
from community.privacy import erase_by_admin
from rewards import merkle
from rewards.audit_models import AuditEpoch, AuditEpochEntry, AuditLogRow
from rewards.models import LedgerEntry, OutboxItem, OutboxKind, OutboxStatus, Setting, Wallet

DEFAULT_EPOCH_SECONDS = 86_400
ZERO_ADDRESS = "0x" + "00" * 20
GENESIS = "0" * 64
HEAD_KEY = "audit_log_head"


# --- canonical entries and epochs ------------------------------------------------------------


def _ts(value: dt.datetime) -> str:
    """``%Y-%m-%dT%H:%M:%S.%fZ`` of the value's own fields. ``isoformat`` writes the same
    26 characters first (years 1000-9999) at a third of ``strftime``'s cost; the audit
    checks format one timestamp per row."""
    if type(value) is dt.datetime and value.year >= 1000:
        return value.isoformat(timespec="microseconds")[:26] + "Z"
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_json_str = json.encoder.encode_basestring_ascii  # what json.dumps(ensure_ascii=True) writes


def _json_value(value: object) -> str:
    """One value exactly as ``json.dumps(..., ensure_ascii=True)`` writes it; the common
    types without the encoder's per-call set-up, anything else through ``json.dumps``."""
    kind = type(value)
    if kind is str:
        return _json_str(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _object_format(keys: Sequence[str]) -> str:
    """``{"k1":%s,"k2":%s,...}`` for sorted keys: the layout of ``json.dumps(sort_keys=True,
    separators=(",", ":"))`` for a dict of exactly these keys."""
    assert list(keys) == sorted(keys)
    return "{" + ",".join(f"{_json_str(k)}:%s" for k in keys) + "}"


# The leaf's fields in JSON key order (sorted), and the ledger columns that hold them.
LEAF_FIELDS = ("cause", "contribution_id", "created_at", "dimension", "id", "member_id", "points", "ref",
               "rule_id", "rule_version", "source_key", "validator_id")
LEAF_COLUMNS = tuple(getattr(LedgerEntry, name) for name in LEAF_FIELDS)
_LEAF_ID = LEAF_FIELDS.index("id")
_LEAF_CREATED = LEAF_FIELDS.index("created_at")
_LEAF_FORMAT = _object_format(LEAF_FIELDS)
# The same layout for the columns' own types: ints as %d (for an int exactly its repr) and
# created_at's 26 characters of isoformat between quotes (digits and -:T. need no escaping).
_LEAF_FAST = (_LEAF_FORMAT.replace('"created_at":%s', '"created_at":"%sZ"')
              .replace('"id":%s', '"id":%d').replace('"member_id":%s', '"member_id":%d')
              .replace('"points":%s', '"points":%d').replace('"rule_version":%s', '"rule_version":%d'))
_int_repr = int.__repr__


def canonical_leaf(values: Sequence) -> bytes:
    """The leaf of a ledger row given as its ``LEAF_COLUMNS`` values: the row as JSON with
    sorted keys and no spaces, ``created_at`` as ``_ts``. Byte for byte what
    ``json.dumps(dict(zip(LEAF_FIELDS, ...)), sort_keys=True, separators=(",", ":"),
    ensure_ascii=True)`` gives (docs/auditing.md tells outsiders to recompute it so)."""
    (cause, contribution_id, created_at, dimension, id_, member_id, points, ref, rule_id, rule_version,
     source_key, validator_id) = values
    if (type(cause) is type(dimension) is type(ref) is type(rule_id) is type(source_key) is str
            and type(id_) is type(member_id) is type(points) is type(rule_version) is int
            and (contribution_id is None or type(contribution_id) is int)
            and (validator_id is None or type(validator_id) is int)
            and type(created_at) is dt.datetime and created_at.year >= 1000):
        # The columns' own types, written inline: a function call per value would double the
        # cost of the 100k leaves of an epoch. Anything else takes the general path below.
        text = _LEAF_FAST % (
            _json_str(cause), "null" if contribution_id is None else _int_repr(contribution_id),
            created_at.isoformat(timespec="microseconds")[:26], _json_str(dimension), id_, member_id,
            points, _json_str(ref), _json_str(rule_id), rule_version, _json_str(source_key),
            "null" if validator_id is None else _int_repr(validator_id),
        )
    else:
        values = list(values)
        values[_LEAF_CREATED] = _ts(created_at)
        text = _LEAF_FORMAT % tuple(map(_json_value, values))
    return text.encode()


def canonical_entry(entry: LedgerEntry) -> bytes:
    """The leaf: the immutable ledger row as JSON with sorted keys and no spaces. It holds
    pseudonymous ids only, so it stays valid (and provable) after a member is erased."""
    return canonical_leaf([getattr(entry, name) for name in LEAF_FIELDS])


def epoch_ref(epoch: int) -> str:
    """The outbox ref of an epoch's anchor: the epoch number as a bytes32."""
    return "0x" + epoch.to_bytes(32, "big").hex()


def epoch_seconds() -> int:
    """Epoch length, ``KOPA_EPOCH_SECONDS`` (daily by default)."""
    raw = os.environ.get("KOPA_EPOCH_SECONDS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_EPOCH_SECONDS


def _rows(session: Session, query) -> list:
    """Plain Core row tuples on the session's connection and transaction: for 100k ledger or
    log rows, ORM objects (identity map, instrumented attributes) cost more than the rows."""
    return session.connection().execute(query).all()


def _open_rows(session: Session) -> list:
    return _rows(session, select(*LEAF_COLUMNS)
                 .outerjoin(AuditEpochEntry, AuditEpochEntry.entry_id == LedgerEntry.id)
                 .where(AuditEpochEntry.entry_id.is_(None))
                 .order_by(LedgerEntry.id))


def _epoch_rows(session: Session, epoch_id: int) -> Iterable:
    """The epoch's entries as ``LEAF_COLUMNS`` tuples in leaf order (ledger order), streamed
    in chunks: holding 100k rows at once costs more (the garbage collector walks them)."""
    query = (select(*LEAF_COLUMNS)
             .join(AuditEpochEntry, AuditEpochEntry.entry_id == LedgerEntry.id)
             .where(AuditEpochEntry.epoch_id == epoch_id)
             .order_by(AuditEpochEntry.position))
    return session.connection().execute(query.execution_options(yield_per=5000))


def epoch_leaves(session: Session, epoch_id: int) -> list[bytes]:
    """The epoch's leaves, in order, as today's rows give them."""
    return list(map(canonical_leaf, _epoch_rows(session, epoch_id)))


def epoch_root(leaves: Sequence[bytes]) -> str:
    return "0x" + merkle.tree_head(leaves).hex()


def _last_close(session: Session) -> dt.datetime | None:
    return as_utc(session.scalar(select(func.max(AuditEpoch.closed_at))))


def close_epoch(
    uow: UnitOfWork, *, actor_id: int | None, only_if_due: bool = False, now: dt.datetime | None = None
) -> dict | None:
    """Close the open epoch: its entries (every ledger entry not in an epoch yet, in ledger
    order) become a tree whose root is queued for anchoring. ``actor_id`` None is the
    scheduler (CLI); a person must be an admin. ``only_if_due`` closes only once the epoch
    is ``epoch_seconds()`` old. Returns the epoch, or None when nothing was due."""
    now = now or utcnow()
    with uow:
        session = uow.session
        actor = None
        if actor_id is not None:
            actor = session.get(User, actor_id)
            if actor is None or not actor.is_admin:
                raise Forbidden("only admins close ledger epochs")
        if session.bind.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(70071)"))
        last_close = _last_close(session)
        if only_if_due and last_close is not None and (now - last_close).total_seconds() < epoch_seconds():
            return None
        entries = _open_rows(session)
        if not entries:
            if only_if_due:
                return None
            raise Conflict("the open epoch has no ledger entries; there is nothing to anchor")
        opened = last_close or as_utc(entries[0][_LEAF_CREATED])
        if only_if_due and (now - opened).total_seconds() < epoch_seconds():
            return None
        number = int(session.scalar(select(func.coalesce(func.max(AuditEpoch.id), 0)))) + 1
        root = epoch_root([canonical_leaf(row) for row in entries])
        outbox = OutboxItem(
            kind=OutboxKind.ANCHOR.value, token_id=number, to_address=ZERO_ADDRESS,
            amount=len(entries), ref=epoch_ref(number), status=OutboxStatus.PENDING.value,
        )
        session.add(outbox)
        session.flush()
        session.add(
            AuditEpoch(
                id=number, opened_at=opened, closed_at=now, entry_count=len(entries), root=root,
                outbox_id=outbox.id, closed_by_id=actor_id,
            )
        )
        session.flush()
        session.execute(insert(AuditEpochEntry.__table__), [
            {"entry_id": row[_LEAF_ID], "epoch_id": number, "position": i} for i, row in enumerate(entries)
        ])
        result = {"epoch": number, "entry_count": len(entries), "root": root, "outbox_id": outbox.id}
        append_action(
            session, actor, "epoch.close", f"epoch {number}",
            {"entry_count": len(entries), "root": root},
        )
        uow.commit()
        return result


def _epoch_state(session: Session, epoch: AuditEpoch) -> dict:
    outbox = session.get(OutboxItem, epoch.outbox_id) if epoch.outbox_id else None
    return {
        "epoch": epoch.id,
        "opened_at": _ts(epoch.opened_at),
        "closed_at": _ts(epoch.closed_at),
        "entry_count": epoch.entry_count,
        "root": epoch.root,
        "anchored": bool(outbox and outbox.status == OutboxStatus.DONE.value),
        "tx_hash": outbox.tx_hash if outbox else None,
        "block": outbox.block_number if outbox else None,
        "contract": outbox.contract_address if outbox else None,
    }


def list_epochs(session: Session, viewer: User) -> list[dict]:
    _require_auditor(viewer)
    return [_epoch_state(session, e) for e in session.scalars(select(AuditEpoch).order_by(AuditEpoch.id))]


def entry_proof(session: Session, viewer: User, entry_id: object) -> dict:
    """The entry, its canonical serialisation and its inclusion proof against the anchored root."""
    entry = _entry_for(session, viewer, entry_id)
    place = session.get(AuditEpochEntry, entry.id)
    if place is None:
        raise Conflict(
            N_(
                "ledger entry %(entry)s is in the open epoch; it is anchored after the epoch closes",
                entry=entry.id,
            )
        )
    epoch = session.get(AuditEpoch, place.epoch_id)
    state = _epoch_state(session, epoch)
    if not state["anchored"]:
        raise Conflict(N_("epoch %(epoch)s of ledger entry %(entry)s is not anchored on chain yet",
                          epoch=epoch.id, entry=entry.id))
    leaves = epoch_leaves(session, epoch.id)
    return {
        "entry": entry_json(session, entry),
        "epoch": epoch.id,
        "index": place.position,
        "tree_size": epoch.entry_count,
        "leaf": "0x" + leaves[place.position].hex(),
        "proof": ["0x" + h.hex() for h in merkle.inclusion_proof(place.position, leaves)],
        "root": epoch.root,
        "contract": state["contract"],
        "anchor_tx": state["tx_hash"],
    }


# --- the ledger explorer ---------------------------------------------------------------------


def _require_auditor(viewer: User) -> None:
    if not (viewer.is_auditor or viewer.is_staff):
        raise Forbidden("only auditors and staff see the whole ledger")


def _entry_for(session: Session, viewer: User, entry_id: object) -> LedgerEntry:
    if not is_row_id(entry_id):
        raise NotFound("ledger entry not found")
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound(N_("ledger entry %(entry_id)s not found", entry_id=entry_id))
    if entry.member_id != viewer.id and not (viewer.is_auditor or viewer.is_staff):
        raise Forbidden("only auditors, staff or the member themselves read this entry")
    return entry


def entry_json(session: Session, entry: LedgerEntry, wallets: dict[int, str] | None = None) -> dict:
    outbox = entry.outbox
    contribution = entry.contribution
    if wallets is not None:
        address = wallets.get(entry.member_id)
    else:
        address = session.scalar(select(Wallet.address).where(Wallet.user_id == entry.member_id))
    place = session.get(AuditEpochEntry, entry.id)
    return {
        "id": entry.id,
        "member_id": entry.member_id,
        "address": address,
        "points": entry.points,
        "dimension": entry.dimension,
        "cause": entry.cause,
        "source_key": entry.source_key,
        "contribution_id": entry.contribution_id,
        "process_id": contribution.task.process_id if contribution is not None else None,
        "validator_id": entry.validator_id,
        "first_approver_id": contribution.first_approver_id if contribution is not None else None,
        "evidence_sha256": contribution.evidence_sha256 if contribution is not None else None,
        "rule": {"id": entry.rule_id, "version": entry.rule_version},
        "ref": entry.ref,
        "created_at": as_utc(entry.created_at).isoformat(),
        "kind": outbox.kind if outbox else None,
        "mint_status": outbox.status if outbox else None,
        "tx_hash": outbox.tx_hash if outbox and outbox.status == OutboxStatus.DONE.value else None,
        "block": outbox.block_number if outbox else None,
        "epoch": place.epoch_id if place else None,
    }


STATES = ("pending", "sent", "done")


def ledger_page(
    session: Session,
    viewer: User,
    *,
    member: object = None,
    process: object = None,
    validator: object = None,
    state: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    search: str | None = None,
    tx_hash: str | None = None,
    before: object = None,
    limit: int = 50,
) -> dict:
    """Newest first, ``{items, next}``; ``next`` is the ``before`` cursor of the next page.
    A member may read their own entries (``member`` = themselves) and nothing else."""
    if member is not None and not is_row_id(member):
        raise InvalidInput("member must be a member id")
    if member is not None and member != viewer.id and not (viewer.is_auditor or viewer.is_staff):
        raise Forbidden("only auditors, staff or the member themselves read a member's ledger")
    if member is None and not (viewer.is_auditor or viewer.is_staff):
        member = viewer.id
    if member is not None and session.get(User, member) is None:
        raise NotFound(N_("member %(member)s not found", member=member))
    if not isinstance(limit, int) or not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500")
    query = select(LedgerEntry).outerjoin(OutboxItem, OutboxItem.ledger_entry_id == LedgerEntry.id)
    if member is not None:
        query = query.where(LedgerEntry.member_id == member)
    if validator is not None:
        if not is_row_id(validator):
            raise InvalidInput("validator must be a user id")
        query = query.where(LedgerEntry.validator_id == validator)
    if process is not None:
        if not is_row_id(process):
            raise InvalidInput("process must be a process id")
        query = query.join(Contribution, Contribution.id == LedgerEntry.contribution_id).join(
            Task, Task.id == Contribution.task_id
        ).where(Task.process_id == process)
    if state:
        if state not in STATES:
            raise InvalidInput(N_("state must be one of %(states)s", states=', '.join(STATES)))
        query = query.where(OutboxItem.status == state)
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    if tx_hash:
        query = query.where(func.lower(OutboxItem.tx_hash) == tx_hash.lower())
    if search:
        like = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(LedgerEntry.cause).like(like),
                func.lower(LedgerEntry.source_key).like(like),
                func.lower(LedgerEntry.ref).like(like),
                func.lower(LedgerEntry.rule_id).like(like),
                func.lower(OutboxItem.tx_hash).like(like),
                func.lower(OutboxItem.to_address).like(like),
            )
        )
    if before is not None:
        if not is_row_id(before):
            raise InvalidInput("before must be an entry id")
        query = query.where(LedgerEntry.id < before)
    rows = session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit + 1)).all()
    wallets = dict(session.execute(select(Wallet.user_id, Wallet.address)).all())
    items = [entry_json(session, e, wallets) for e in rows[:limit]]
    return {"items": items, "next": rows[limit - 1].id if len(rows) > limit else None}


def parse_day(raw: str | None, what: str) -> dt.datetime | None:
    """``YYYY-MM-DD`` (or a full ISO timestamp) as an aware UTC datetime."""
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(N_("%(what)s must be a date like 2026-01-31", what=what)) from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# --- validator statistics --------------------------------------------------------------------


def validator_stats(session: Session, viewer: User, *, repeat_threshold: int = 3) -> list[dict]:
    """Per validator: decisions, approvals, approval rate, median time to decide, four-eyes
    overrides (a second validator turning down a first approval, and first approvals
    overridden), and self-dealing signs: approvals of their own team mates, counted per
    mate, flagged from ``repeat_threshold`` approvals of the same mate."""
    _require_auditor(viewer)
    S = ContributionState
    decided = (S.APPROVED.value, S.REJECTED.value, S.CHANGES_REQUESTED.value, S.AWAITING_SECOND.value)
    transitions = session.execute(
        select(ContributionTransition, Contribution.member_id, Contribution.created_at)
        .join(Contribution, Contribution.id == ContributionTransition.contribution_id)
        .where(ContributionTransition.to_state.in_(decided))
        .order_by(ContributionTransition.id)
    ).all()
    teams: dict[int, set[int]] = defaultdict(set)
    for team_id, user_id in session.execute(select(TeamMember.team_id, TeamMember.user_id)):
        teams[user_id].add(team_id)
    stats: dict[int, dict] = {}
    waits: dict[int, list[float]] = defaultdict(list)
    mates: dict[int, Counter] = defaultdict(Counter)
    for tr, member_id, submitted in transitions:
        s = stats.setdefault(
            tr.actor_id,
            {"validator_id": tr.actor_id, "decisions": 0, "approvals": 0, "first_approvals": 0,
             "rejections": 0, "changes_requested": 0, "overrides_made": 0, "overrides_received": 0,
             "self_approvals": 0},
        )
        s["decisions"] += 1
        waits[tr.actor_id].append((as_utc(tr.at) - as_utc(submitted)).total_seconds())
        if tr.to_state == S.APPROVED.value:
            s["approvals"] += 1
        elif tr.to_state == S.AWAITING_SECOND.value:
            s["first_approvals"] += 1
        elif tr.to_state == S.REJECTED.value:
            s["rejections"] += 1
        else:
            s["changes_requested"] += 1
        if tr.from_state == S.AWAITING_SECOND.value and tr.to_state != S.APPROVED.value:
            s["overrides_made"] += 1
            first = session.scalar(
                select(ContributionTransition.actor_id)
                .where(
                    ContributionTransition.contribution_id == tr.contribution_id,
                    ContributionTransition.to_state == S.AWAITING_SECOND.value,
                    ContributionTransition.id < tr.id,
                )
                .order_by(ContributionTransition.id.desc())
                .limit(1)
            )
            if first is not None:
                stats.setdefault(first, {"validator_id": first}).setdefault("overrides_received", 0)
                stats[first]["overrides_received"] = stats[first].get("overrides_received", 0) + 1
        if tr.to_state in (S.APPROVED.value, S.AWAITING_SECOND.value):
            if member_id == tr.actor_id:
                s["self_approvals"] += 1
            elif teams[member_id] & teams[tr.actor_id]:
                mates[tr.actor_id][member_id] += 1
    names = dict(session.execute(select(User.id, User.display_name)).all())
    out = []
    for validator_id, s in sorted(stats.items()):
        s.setdefault("decisions", 0)
        for key in ("approvals", "first_approvals", "rejections", "changes_requested", "overrides_made",
                    "self_approvals"):
            s.setdefault(key, 0)
        w = waits.get(validator_id, [])
        approving = s["approvals"] + s["first_approvals"]
        s["name"] = names.get(validator_id)
        s["approval_rate"] = round(approving / s["decisions"], 3) if s["decisions"] else None
        s["median_seconds_to_validate"] = statistics.median(w) if w else None
        s["team_mate_approvals"] = [
            {"member_id": m, "approvals": n, "flagged": n >= repeat_threshold}
            for m, n in mates[validator_id].most_common()
        ]
        s["self_dealing"] = s["self_approvals"] > 0 or any(
            n >= repeat_threshold for n in mates[validator_id].values()
        )
        out.append(s)
    return out


# --- exports ---------------------------------------------------------------------------------

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
            "rule_version": e.rule_version, "ref": e.ref, "created_at": _ts(e.created_at),
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
        "created_at": _ts(utcnow()),
        "period": {"from": _ts(since) if since else None, "until": _ts(until) if until else None},
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


def require_auditor(session: Session, viewer_id: int) -> User:
    viewer = session.get(User, viewer_id)
    if viewer is None or not (viewer.is_auditor or viewer.is_staff):
        raise Forbidden("only auditors and staff export the ledger")
    return viewer


# --- the hash-chained audit log --------------------------------------------------------------


ACTION_FIELDS = ("action", "actor_id", "actor_role", "at", "detail", "seq", "subject")  # sorted
_ACTION_FORMAT = _object_format(ACTION_FIELDS)
_action_values = operator.itemgetter(*ACTION_FIELDS)
_sha256 = hashlib.sha256


def _action_hash(prev_hash: str, action, actor_id, actor_role, at, detail, seq, subject) -> str:
    """SHA-256 of the previous hash, a newline and the row's hashed fields as JSON with sorted
    keys and no spaces (``json.dumps(..., sort_keys=True, separators=(",", ":"),
    ensure_ascii=True)``, byte for byte; the columns' own types written inline)."""
    if (type(action) is type(actor_role) is type(at) is type(detail) is type(subject) is str
            and type(seq) is int and (actor_id is None or type(actor_id) is int)):
        text = _ACTION_FORMAT % (
            _json_str(action), "null" if actor_id is None else _int_repr(actor_id), _json_str(actor_role),
            _json_str(at), _json_str(detail), _int_repr(seq), _json_str(subject),
        )
    else:
        values = (action, actor_id, actor_role, at, detail, seq, subject)
        text = _ACTION_FORMAT % tuple(map(_json_value, values))
    return _sha256(prev_hash.encode() + b"\n" + text.encode()).hexdigest()


def chain_hash(prev_hash: str, row: dict) -> str:
    return _action_hash(prev_hash, *_action_values(row))


def append_action(
    session: Session, actor: User | None, action: str, subject: str, detail: dict
) -> AuditLogRow:
    """Append one row in the caller's transaction; the head (last seq and hash) is kept in
    ``settings`` so that cutting rows off the end is detected too."""
    if session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(70072)"))
    head = session.get(Setting, HEAD_KEY)
    seq, prev = (0, GENESIS)
    if head is not None:
        last_seq, last_hash = head.value.split(":")
        seq, prev = int(last_seq), last_hash
    row = {
        "seq": seq + 1,
        "at": _ts(utcnow()),
        "actor_id": actor.id if actor else None,
        "actor_role": actor.role if actor else "system",
        "action": action[:80],
        "subject": subject[:200],
        "detail": json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str),
    }
    digest = chain_hash(prev, row)
    entry = AuditLogRow(
        seq=row["seq"], at=dt.datetime.strptime(row["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC),
        actor_id=row["actor_id"], actor_role=row["actor_role"], action=row["action"],
        subject=row["subject"], detail=row["detail"], prev_hash=prev, hash=digest,
    )
    session.add(entry)
    session.merge(Setting(key=HEAD_KEY, value=f"{row['seq']}:{digest}"))
    session.flush()
    return entry


LOG_FIELDS = ("id", "seq", "at", "actor_id", "actor_role", "action", "subject", "detail", "prev_hash", "hash")


def log_row_dict(row: AuditLogRow) -> dict:
    return {
        "id": row.id, "seq": row.seq, "at": _ts(row.at), "actor_id": row.actor_id,
        "actor_role": row.actor_role, "action": row.action, "subject": row.subject,
        "detail": row.detail, "prev_hash": row.prev_hash, "hash": row.hash,
    }


def _verify_rows(rows: Iterable[Sequence], head: str | None, at_text: Callable) -> list[str]:
    """``verify_chain`` over ``LOG_FIELDS`` tuples, ``at_text`` making ``at`` its canonical
    text: the database's rows go through without a dict each (a quarter of the time)."""
    problems = []
    prev, expected = GENESIS, 1
    last = None
    for id_, seq, at, actor_id, actor_role, action, subject, detail, prev_hash, digest in rows:
        if seq != expected:
            problems.append(f"row id {id_}: sequence {seq} where {expected} was expected "
                            "(rows deleted, inserted or reordered)")
        if prev_hash != prev:
            problems.append(f"row seq {seq}: does not follow the previous row's hash")
        if _action_hash(prev_hash, action, actor_id, actor_role, at_text(at), detail, seq, subject) != digest:
            problems.append(f"row seq {seq}: content does not match its hash (altered)")
        prev, expected, last = digest, expected + 1, (seq, digest)
    if head is not None:
        if last is None or f"{last[0]}:{last[1]}" != head:
            problems.append("the last row does not match the recorded head (rows cut off the end?)")
    elif last is not None:
        problems.append("rows exist but no head was recorded")
    return problems


_log_values = operator.itemgetter(*LOG_FIELDS)


def _same(value):
    return value


def verify_chain(rows: Iterable[dict], head: str | None) -> list[str]:
    """Problems found walking the rows (``log_row_dict``s) in storage order (by id): each
    must carry the next sequence number, the previous row's hash, and a hash that matches
    its content; the last must match the recorded head. An empty list means the log is
    intact."""
    return _verify_rows(map(_log_values, rows), head, _same)


def verify_audit_log(session: Session) -> list[str]:
    """``verify_chain`` of every row, read as Core tuples in chunks."""
    head = session.get(Setting, HEAD_KEY)
    query = select(*(getattr(AuditLogRow, name) for name in LOG_FIELDS)).order_by(AuditLogRow.id)
    rows = session.connection().execute(query.execution_options(yield_per=5000))
    return _verify_rows(rows, head.value if head else None, _ts)


LOG_ROLES = ("system", "member", "staff", "auditor", "admin")


def audit_log_search(
    session: Session,
    viewer: User,
    *,
    actor: object = None,
    role: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    before: object = None,
    limit: int = 50,
) -> dict:
    """The action log newest first with filters, ``{items, next}``; ``next`` is the
    ``before`` cursor (a row id) of the next page. ``action`` and ``subject`` (the target:
    a path or e.g. ``user 12``) match a part, case-insensitively."""
    _require_auditor(viewer)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500")
    query = select(AuditLogRow)
    if actor is not None:
        if not is_row_id(actor):
            raise InvalidInput("actor must be a user id")
        query = query.where(AuditLogRow.actor_id == actor)
    if role:
        if role not in LOG_ROLES:
            raise InvalidInput(N_("role must be one of %(log_roles)s", log_roles=', '.join(LOG_ROLES)))
        query = query.where(AuditLogRow.actor_role == role)
    if action:
        query = query.where(func.lower(AuditLogRow.action).contains(action.lower(), autoescape=True))
    if subject:
        query = query.where(func.lower(AuditLogRow.subject).contains(subject.lower(), autoescape=True))
    if since is not None:
        query = query.where(AuditLogRow.at >= since)
    if until is not None:
        query = query.where(AuditLogRow.at < until)
    if before is not None:
        if not is_row_id(before):
            raise InvalidInput("before must be a row id")
        query = query.where(AuditLogRow.id < before)
    rows = session.scalars(query.order_by(AuditLogRow.id.desc()).limit(limit + 1)).all()
    return {"items": [log_row_dict(r) for r in rows[:limit]],
            "next": rows[limit - 1].id if len(rows) > limit else None}


def audit_log_actions(session: Session) -> list[str]:
    """The distinct actions logged so far, for the filter's suggestions."""
    return list(session.scalars(select(AuditLogRow.action).distinct().order_by(AuditLogRow.action)))


def audit_log_page(session: Session, viewer: User, *, limit: int = 200) -> list[dict]:
    return audit_log_search(session, viewer, limit=limit)["items"]


# --- GDPR erasure ----------------------------------------------------------------------------


def erase_member(uow: UnitOfWork, *, admin_id: int, member_id: object) -> None:
    """An admin erases a member: ``community.privacy.erase_by_admin`` (one implementation of
    erasure). The user row stays as a pseudonymous shell with its id and address, so ledger
    rows, reconciliation and proofs stay valid."""
    erase_by_admin(uow, admin_id=admin_id, member_id=member_id)


def erased_ids(session: Session) -> set[int]:
    return set(session.scalars(select(Erasure.user_id)))


# --- reconciliation, database side -----------------------------------------------------------


def ledger_side(session: Session) -> dict:
    """Per holder: ledger total (every entry), delivered total (entries whose mint or burn is
    recorded done) and pending items with their age; plus every delivered ref."""
    wallets = dict(session.execute(select(Wallet.user_id, Wallet.address)).all())
    now = utcnow()
    holders: dict[int, dict] = {}
    delivered_refs: dict[str, dict] = {}
    pending = []
    rows = _rows(session, select(
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
        for row in _epoch_rows(session, epoch.id):
            ids.append(row[_LEAF_ID])
            leaves.append(canonical_leaf(row))
        state = _epoch_state(session, epoch)
        state["recomputed_root"] = epoch_root(leaves)
        state["entry_ids"] = ids
        epochs.append(state)
    return {"holders": holders, "delivered_refs": delivered_refs, "pending": pending, "epochs": epochs}
