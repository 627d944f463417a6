"""The hash-chained audit log of actions: appending a row (its hash covers the previous
one; the head is kept in ``settings`` so cutting rows off the end shows), verifying the
chain, and searching it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from community.db import is_row_id, utcnow
from community.errors import InvalidInput
from community.i18n import N_
from community.models import User
from rewards.audit.access import check_auditor
from rewards.audit.canonical import int_repr, json_str, json_value, object_format, ts
from rewards.models import AuditLogRow, Setting

GENESIS = "0" * 64
HEAD_KEY = "audit_log_head"


ACTION_FIELDS = ("action", "actor_id", "actor_role", "at", "detail", "seq", "subject")  # sorted
_ACTION_FORMAT = object_format(ACTION_FIELDS)
_action_values = operator.itemgetter(*ACTION_FIELDS)
_sha256 = hashlib.sha256


def _action_hash(prev_hash: str, action, actor_id, actor_role, at, detail, seq, subject) -> str:
    """SHA-256 of the previous hash, a newline and the row's hashed fields as JSON with sorted
    keys and no spaces (``json.dumps(..., sort_keys=True, separators=(",", ":"),
    ensure_ascii=True)``, byte for byte; the columns' own types written inline)."""
    if (type(action) is type(actor_role) is type(at) is type(detail) is type(subject) is str
            and type(seq) is int and (actor_id is None or type(actor_id) is int)):
        text = _ACTION_FORMAT % (
            json_str(action), "null" if actor_id is None else int_repr(actor_id), json_str(actor_role),
            json_str(at), json_str(detail), int_repr(seq), json_str(subject),
        )
    else:
        values = (action, actor_id, actor_role, at, detail, seq, subject)
        text = _ACTION_FORMAT % tuple(map(json_value, values))
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
        "at": ts(utcnow()),
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
        "id": row.id, "seq": row.seq, "at": ts(row.at), "actor_id": row.actor_id,
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
    return _verify_rows(rows, head.value if head else None, ts)


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
    check_auditor(viewer)
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
