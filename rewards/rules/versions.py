"""Rules and their immutable versions in the database: looking them up, adding a version,
publishing one, and their JSON form."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from community.db import utcnow
from community.errors import Conflict, NotFound
from community.i18n import N_
from community.models import User
from rewards.models import LedgerEntry, RuleVersion, ScoringRule
from rewards.rules.definitions import RULE_ID_RE, Definition, RuleInvalid


def get_rule(session: Session, rule_id: object) -> ScoringRule:
    if not isinstance(rule_id, str) or not RULE_ID_RE.match(rule_id):
        raise NotFound(N_("rule %(rule_id)r not found", rule_id=rule_id))
    rule = session.get(ScoringRule, rule_id)
    if rule is None:
        raise NotFound(N_("rule %(rule_id)r not found", rule_id=rule_id))
    return rule


def get_version(rule: ScoringRule, version: object) -> RuleVersion:
    found = next((v for v in rule.versions if v.version == version), None)
    if found is None or isinstance(version, bool):
        raise NotFound(N_("rule %(rule)r has no version %(version)r", rule=rule.id, version=version))
    return found



def _check_new_rule_id(session: Session, rule_id: object) -> str:
    if not isinstance(rule_id, str) or not RULE_ID_RE.match(rule_id):
        raise RuleInvalid(
            "id: must be 1 to 80 lowercase letters, digits and dashes (not at either end)", "id"
        )
    taken = session.scalar(select(LedgerEntry.id).where(LedgerEntry.rule_id == rule_id).limit(1))
    if taken is not None:
        raise Conflict(
            N_(
                "id: %(rule_id)r already names entries in the ledger that no scoring rule made; "
                "choose another id",
                rule_id=rule_id,
            )
        )
    return rule_id


def add_version(
    session: Session, actor: User, rule_id: str, definition: Definition, *, publish: bool
) -> RuleVersion:
    rule = session.scalars(
        select(ScoringRule).where(ScoringRule.id == rule_id).with_for_update()
    ).one_or_none()
    if rule is None:
        rule = ScoringRule(id=_check_new_rule_id(session, rule_id), created_by_id=actor.id)
        session.add(rule)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(N_("rule %(rule_id)r was just created by someone else; try again",
                              rule_id=rule_id)) from None
    number = (session.scalar(select(func.max(RuleVersion.version)).where(RuleVersion.rule_id == rule_id))
              or 0) + 1
    version = RuleVersion(
        rule_id=rule_id, version=number, title=definition.title, event=definition.event,
        conditions=definition.conditions, dimension=definition.dimension, formula=definition.formula,
        cap_period=definition.cap_period, cap_points=definition.cap_points, enabled=definition.enabled,
        note=definition.note, created_by_id=actor.id,
    )
    session.add(version)
    session.flush()
    if publish:
        publish_version(session, actor, rule, version)
    return version


def publish_version(session: Session, actor: User, rule: ScoringRule, version: RuleVersion) -> None:
    if version.published_at is not None:
        raise Conflict(
            N_(
                "rule %(rule)r version %(version)s was published before; save its definition again as a new "
                "version to bring it back",
                rule=rule.id, version=version.version,
            )
        )
    if rule.current_version is not None and version.version < rule.current_version:
        raise Conflict(
            N_(
                "rule %(rule)r version %(version)s is older than the current version %(current_version)s; "
                "save it again as a new version to publish it",
                rule=rule.id, version=version.version, current_version=rule.current_version,
            )
        )
    version.published_at = utcnow()
    version.published_by_id = actor.id
    rule.current_version = version.version



def list_rules(session: Session) -> list[ScoringRule]:
    return list(session.scalars(
        select(ScoringRule).options(selectinload(ScoringRule.versions)).order_by(ScoringRule.id)
    ))
