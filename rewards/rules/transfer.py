"""Rules as a YAML or JSON document: export every rule once, and import a whole document
all or nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import yaml
from sqlalchemy.orm import Session

from community.db import UnitOfWork
from community.errors import InvalidInput
from community.i18n import N_
from rewards.models import ScoringRule
from rewards.rules.access import require_admin
from rewards.rules.definitions import RULE_ID_RE, Definition, RuleInvalid, validate_definition
from rewards.rules.versions import add_version, list_rules, publish_version

MAX_IMPORT_BYTES = 512 * 1024
MAX_IMPORT_RULES = 500


def export_rules(session: Session, fmt: str = "yaml") -> str:
    """Every rule once: its current version (``published: true``), or for a rule never
    published its latest draft. ``version`` is informational; imports ignore it."""
    if fmt not in ("yaml", "json"):
        raise InvalidInput("format must be yaml or json")
    items = []
    for rule in list_rules(session):
        version = rule.current or rule.latest
        if version is None:
            continue
        definition = Definition.of(version).as_dict()
        items.append({"id": rule.id, **definition, "published": rule.current is not None,
                      "version": version.version})
    document = {"rules": items}
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@dataclass
class ImportResult:
    created: list[tuple[str, int]] = field(default_factory=list)
    published: list[tuple[str, int]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": [{"id": i, "version": v} for i, v in self.created],
            "published": [{"id": i, "version": v} for i, v in self.published],
            "unchanged": self.unchanged,
        }


def parse_rules_document(text: object, fmt: str | None = None) -> list[tuple[str, Definition, bool]]:
    """Validate a whole import before anything is written; errors name the rule and field."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("the file is not UTF-8 text") from None
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("the rules document is empty")
    if len(text.encode()) > MAX_IMPORT_BYTES:
        raise InvalidInput(N_("the rules document is larger than %(value)s KiB",
                              value=MAX_IMPORT_BYTES // 1024))
    try:
        document = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        where = ""
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        elif isinstance(error, json.JSONDecodeError):
            where = f" (line {error.lineno}, column {error.colno})"
        raise InvalidInput(N_("the rules document is not valid %(value)s%(where)s",
                              value=fmt or 'YAML', where=where)) from None
    items = document.get("rules") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise InvalidInput("the rules document must have a list under 'rules'")
    if len(items) > MAX_IMPORT_RULES:
        raise InvalidInput(N_("at most %(max_import_rules)s rules per import",
                              max_import_rules=MAX_IMPORT_RULES))
    parsed = []
    seen = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput(N_("rules[%(index)s]: must be an object", index=index))
        rule_id = item.get("id")
        where = f"rules[{index}] {rule_id!r}: " if isinstance(rule_id, str) else f"rules[{index}]: "
        if not isinstance(rule_id, str) or not RULE_ID_RE.match(rule_id):
            raise RuleInvalid(N_("%(where)sid: must be 1 to 80 lowercase letters, digits and dashes",
                                 where=where), "id")
        if rule_id in seen:
            raise RuleInvalid(N_("%(where)sid: appears twice", where=where), "id")
        seen.add(rule_id)
        published = item.get("published", True)
        if not isinstance(published, bool):
            raise RuleInvalid(N_("%(where)spublished: must be true or false", where=where), "published")
        fields = {k: v for k, v in item.items() if k not in ("id", "published", "version")}
        parsed.append((rule_id, validate_definition(fields, where=where), published))
    return parsed


def import_rules(uow: UnitOfWork, *, actor_id: int, text: object, fmt: str | None = None) -> ImportResult:
    """All or nothing. A rule whose latest version already says the same is left alone (and
    published if the document says so); any other becomes a new version, published when
    the document says ``published: true``."""
    items = parse_rules_document(text, fmt)
    result = ImportResult()
    with uow:
        session = uow.session
        actor = require_admin(session, actor_id)
        for rule_id, definition, published in items:
            rule = session.get(ScoringRule, rule_id)
            latest = rule.latest if rule is not None else None
            if latest is not None and Definition.of(latest).same_rule(definition):
                if published and rule.current_version != latest.version:
                    publish_version(session, actor, rule, latest)
                    result.published.append((rule_id, latest.version))
                else:
                    result.unchanged.append(rule_id)
                continue
            version = add_version(session, actor, rule_id, replace(
                definition, note=definition.note or "imported"), publish=published)
            result.created.append((rule_id, version.version))
            if published:
                result.published.append((rule_id, version.version))
        uow.commit()
    return result
