"""Canonical serialisation: a ledger row's leaf and timestamps, byte for byte what
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True)`` writes (outsiders
recompute it so, docs/auditing.md), written inline for speed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from community.db import as_utc
from rewards.models import LedgerEntry


def ts(value: dt.datetime) -> str:
    """``%Y-%m-%dT%H:%M:%S.%fZ`` of the value's own fields. ``isoformat`` writes the same
    26 characters first (years 1000-9999) at a third of ``strftime``'s cost; the audit
    checks format one timestamp per row."""
    if type(value) is dt.datetime and value.year >= 1000:
        return value.isoformat(timespec="microseconds")[:26] + "Z"
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


json_str = json.encoder.encode_basestring_ascii  # what json.dumps(ensure_ascii=True) writes


def json_value(value: object) -> str:
    """One value exactly as ``json.dumps(..., ensure_ascii=True)`` writes it; the common
    types without the encoder's per-call set-up, anything else through ``json.dumps``."""
    kind = type(value)
    if kind is str:
        return json_str(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def object_format(keys: Sequence[str]) -> str:
    """``{"k1":%s,"k2":%s,...}`` for sorted keys: the layout of ``json.dumps(sort_keys=True,
    separators=(",", ":"))`` for a dict of exactly these keys."""
    assert list(keys) == sorted(keys)
    return "{" + ",".join(f"{json_str(k)}:%s" for k in keys) + "}"


# The leaf's fields in JSON key order (sorted), and the ledger columns that hold them.
LEAF_FIELDS = ("cause", "contribution_id", "created_at", "dimension", "id", "member_id", "points", "ref",
               "rule_id", "rule_version", "source_key", "validator_id")
LEAF_COLUMNS = tuple(getattr(LedgerEntry, name) for name in LEAF_FIELDS)
LEAF_ID = LEAF_FIELDS.index("id")
LEAF_CREATED = LEAF_FIELDS.index("created_at")
_LEAF_FORMAT = object_format(LEAF_FIELDS)
# The same layout for the columns' own types: ints as %d (for an int exactly its repr) and
# created_at's 26 characters of isoformat between quotes (digits and -:T. need no escaping).
_LEAF_FAST = (_LEAF_FORMAT.replace('"created_at":%s', '"created_at":"%sZ"')
              .replace('"id":%s', '"id":%d').replace('"member_id":%s', '"member_id":%d')
              .replace('"points":%s', '"points":%d').replace('"rule_version":%s', '"rule_version":%d'))
int_repr = int.__repr__


def canonical_leaf(values: Sequence) -> bytes:
    """The leaf of a ledger row given as its ``LEAF_COLUMNS`` values: the row as JSON with
    sorted keys and no spaces, ``created_at`` as ``ts``. Byte for byte what
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
            json_str(cause), "null" if contribution_id is None else int_repr(contribution_id),
            created_at.isoformat(timespec="microseconds")[:26], json_str(dimension), id_, member_id,
            points, json_str(ref), json_str(rule_id), rule_version, json_str(source_key),
            "null" if validator_id is None else int_repr(validator_id),
        )
    else:
        values = list(values)
        values[LEAF_CREATED] = ts(created_at)
        text = _LEAF_FORMAT % tuple(map(json_value, values))
    return text.encode()


def canonical_entry(entry: LedgerEntry) -> bytes:
    """The leaf: the immutable ledger row as JSON with sorted keys and no spaces. It holds
    pseudonymous ids only, so it stays valid (and provable) after a member is erased."""
    return canonical_leaf([getattr(entry, name) for name in LEAF_FIELDS])
