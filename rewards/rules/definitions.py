"""A rule version's definition: field-by-field validation (errors name the field) and the
normal form versions are stored and compared in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from community.errors import InvalidInput
from community.i18n import N_, Msg
from rewards.formula import FormulaError, parse
from rewards.ledger import SPENDING
from rewards.models import RuleVersion
from rewards.rules.events import EVENT_CONTEXT, EVENT_INPUTS, TIER

CAP_PERIODS = ("day", "week", "month")
MAX_CAP = 10_000_000
RULE_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
DIMENSION_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
DEFINITION_FIELDS = ("title", "event", "conditions", "dimension", "formula", "cap", "enabled", "note")


class RuleInvalid(InvalidInput):
    """A rule definition that fails validation; ``field`` names the offending field."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Definition:
    """What a version says, validated and normalised (conditions sorted, ranges as dicts)."""

    title: str
    event: str
    conditions: dict
    dimension: str
    formula: str
    cap_period: str | None = None
    cap_points: int | None = None
    enabled: bool = True
    note: str = ""

    def same_rule(self, other: Definition) -> bool:
        """Equal in everything that decides awards and how they show (the note aside)."""
        return replace(self, note="") == replace(other, note="")

    def as_dict(self) -> dict:
        return {
            "title": self.title,
            "event": self.event,
            "conditions": self.conditions,
            "dimension": self.dimension,
            "formula": self.formula,
            "cap": {"period": self.cap_period, "points": self.cap_points} if self.cap_period else None,
            "enabled": self.enabled,
            "note": self.note,
        }

    @classmethod
    def of(cls, version: RuleVersion) -> Definition:
        return cls(
            title=version.title, event=version.event, conditions=version.conditions or {},
            dimension=version.dimension, formula=version.formula, cap_period=version.cap_period,
            cap_points=version.cap_points, enabled=version.enabled, note=version.note,
        )


def _fail(where: str, field_: str, problem: str) -> RuleInvalid:
    """``problem`` is marked for translation by the ``_fail:3`` keyword (scripts/i18n.py)."""
    problem = problem if isinstance(problem, Msg) else Msg(problem)
    return RuleInvalid(N_("%(where)s%(field)s: %(problem)s",
                          where=where, field=field_, problem=problem), field_.split(".")[0])


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _condition(where: str, key: str, kind: str, raw: object) -> object:
    name = f"conditions.{key}"
    if isinstance(raw, Mapping):
        if kind != "number":
            raise _fail(where, name, "only numeric conditions take a range {min, max}")
        unknown = set(raw) - {"min", "max"}
        if unknown or not raw:
            raise _fail(where, name, "a range has min and/or max, nothing else")
        for bound in ("min", "max"):
            if bound in raw and not (is_number(raw[bound]) and abs(raw[bound]) <= 1e12):
                raise _fail(where, f"{name}.{bound}", "must be a number")
        if "min" in raw and "max" in raw and raw["min"] > raw["max"]:
            raise _fail(where, name, "min is larger than max")
        return {bound: raw[bound] for bound in ("min", "max") if bound in raw}
    values = raw if isinstance(raw, list) else [raw]
    if not values or len(values) > 200:
        raise _fail(where, name, "list from 1 to 200 values")
    for value in values:
        ok = {
            "id": isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63,
            "key": (isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(value, str) and 0 < len(value) <= 80),
            "name": isinstance(value, str) and 0 < len(value) <= 80,
            "number": is_number(value),
        }[kind]
        if not ok:
            expected = {"id": N_("ids (whole numbers)"), "key": N_("ids or names"), "name": N_("names"),
                        "number": N_("numbers")}[kind]
            raise _fail(where, name, N_("%(value)r is not allowed here: give %(expected)s",
                                        value=value, expected=expected))
    return sorted(set(values), key=lambda v: (str(type(v)), v))


def validate_definition(data: object, *, where: str = "") -> Definition:
    """A rule version's fields checked one by one; errors name the field (and ``where``)."""
    if not isinstance(data, Mapping):
        raise RuleInvalid(N_("%(where)sa rule must be an object with fields %(definition_fields)s",
                             where=where, definition_fields=', '.join(DEFINITION_FIELDS)))
    event = data.get("event")
    if not isinstance(event, str) or event not in EVENT_INPUTS:  # a list or object is no key
        raise _fail(where, "event", N_("must be one of %(events)s", events=", ".join(EVENT_INPUTS)))
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > 200:
        raise _fail(where, "title", "must be text of 1 to 200 characters")
    dimension = data.get("dimension", "participation")
    if not isinstance(dimension, str) or not DIMENSION_RE.match(dimension):
        raise _fail(where, "dimension", "must be a lowercase name (letters, digits, - and _), "
                    "at most 40 characters")
    if dimension == SPENDING:
        raise _fail(where, "dimension", N_("%(name)r is reserved for spending credits", name=SPENDING))
    source = data.get("formula")
    if not isinstance(source, str) or not source.strip():
        raise _fail(where, "formula", "must not be empty")
    try:
        parse(source).check_names(EVENT_INPUTS[event])
    except FormulaError as error:
        raise error.located(f"{where}formula: ") from None
    raw_conditions = data.get("conditions") or {}
    if not isinstance(raw_conditions, Mapping):
        raise _fail(where, "conditions", "must be an object of condition: value(s)")
    allowed = {TIER: "name"} | dict.fromkeys(EVENT_INPUTS[event], "number") | EVENT_CONTEXT[event]
    conditions = {}
    for key in sorted(raw_conditions, key=str):
        if key not in allowed:
            raise _fail(where, f"conditions.{key}", N_("unknown for %(event)s events (known: %(known)s)",
                                                        event=event, known=", ".join(sorted(allowed))))
        conditions[key] = _condition(where, key, allowed[key], raw_conditions[key])
    cap_period = cap_points = None
    cap = data.get("cap")
    if cap is not None:
        if not isinstance(cap, Mapping) or set(cap) - {"period", "points"}:
            raise _fail(where, "cap", "must be {period, points} or empty")
        cap_period, cap_points = cap.get("period"), cap.get("points")
        if cap_period not in CAP_PERIODS:
            raise _fail(where, "cap.period", N_("must be one of %(periods)s", periods=", ".join(CAP_PERIODS)))
        if not isinstance(cap_points, int) or isinstance(cap_points, bool) or not 0 < cap_points <= MAX_CAP:
            raise _fail(where, "cap.points", N_("must be a whole number from 1 to %(max)s", max=MAX_CAP))
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _fail(where, "enabled", "must be true or false")
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > 2000:
        raise _fail(where, "note", "must be text of at most 2000 characters")
    unknown = set(data) - set(DEFINITION_FIELDS)
    if unknown:
        known = ", ".join(DEFINITION_FIELDS)
        raise _fail(where, sorted(unknown, key=str)[0], N_("unknown field (fields: %(known)s)", known=known))
    return Definition(
        title=title.strip(), event=event, conditions=conditions, dimension=dimension,
        formula=source.strip(), cap_period=cap_period, cap_points=cap_points, enabled=enabled,
        note=note.strip(),
    )
