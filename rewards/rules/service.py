"""The scoring-rule use cases: save and publish versions, preview drafts, list and export
rules as the actor may see them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.db import UnitOfWork
from community.errors import Forbidden, InvalidInput, NotFound
from community.i18n import N_
from rewards.models import ScoringRule
from rewards.rules.access import actor_of, require_admin, require_staff, sees_drafts
from rewards.rules.definitions import RuleInvalid, validate_definition
from rewards.rules.replay import PreviewReport, preview
from rewards.rules.transfer import export_rules
from rewards.rules.versions import add_version, get_rule, get_version, list_rules, publish_version


def save_rule(
    uow: UnitOfWork, *, actor_id: int, rule_id: object, data: object, publish: bool = False,
    new: bool = False,
) -> tuple[str, int]:
    """A new version of a rule (creating the rule on its first version): a draft unless
    ``publish``. With ``new`` the rule must not exist yet (a "new rule" form must not add a
    version to someone else's rule). Returns (rule id, version number)."""
    definition = validate_definition(data)
    with uow:
        actor = require_admin(uow.session, actor_id)
        rid = rule_id if isinstance(rule_id, str) else ""
        if new and uow.session.get(ScoringRule, rid) is not None:
            raise RuleInvalid(N_("id: a rule %(rid)r exists already; edit it instead", rid=rid), "id")
        version = add_version(uow.session, actor, rid, definition, publish=publish)
        uow.commit()
        return version.rule_id, version.version


def publish_rule(uow: UnitOfWork, *, actor_id: int, rule_id: object, version: object) -> int:
    """Make a draft version current. Awards from now on use it; the ledger keeps what
    earlier versions gave."""
    with uow:
        actor = require_admin(uow.session, actor_id)
        rule = uow.session.scalars(
            select(ScoringRule).where(ScoringRule.id == get_rule(uow.session, rule_id).id).with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        publish_version(uow.session, actor, rule, get_version(rule, version))
        uow.commit()
        return rule.current_version


def preview_rule(
    session: Session, *, actor_id: int, rule_id: object, version: object = None, data: object = None
) -> PreviewReport:
    """Staff preview a stored version, or an unsaved definition when ``data`` is given."""
    require_staff(session, actor_id)
    rule = get_rule(session, rule_id)
    if data is not None:
        return preview(session, rule.id, validate_definition(data))
    if version is None:
        drafts = [v for v in rule.versions if v.published_at is None
                  and v.version > (rule.current_version or 0)]
        if not drafts:
            raise NotFound(N_("rule %(rule)r has no draft newer than its current version", rule=rule.id))
        version = drafts[-1].version
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidInput("version must be a whole number")
    return preview(session, rule.id, version)



def visible_rules(session: Session, *, actor_id: int) -> tuple[list[ScoringRule], bool]:
    """The rules the actor may see, and whether they may see drafts."""
    drafts = sees_drafts(session, actor_id)
    return [r for r in list_rules(session) if drafts or r.current is not None], drafts


def rule_for(session: Session, *, actor_id: int, rule_id: object) -> tuple[ScoringRule, bool]:
    """One rule as the actor may see it; a never-published rule does not exist for members."""
    rule = get_rule(session, rule_id)
    drafts = sees_drafts(session, actor_id)
    if not drafts and rule.current is None:
        raise NotFound(N_("rule %(rule_id)r not found", rule_id=rule_id))
    return rule, drafts


def export_for(session: Session, *, actor_id: int, fmt: object) -> str:
    actor = actor_of(session, actor_id)
    if not (actor.is_staff or actor.is_auditor):
        raise Forbidden("only staff, auditors and admins export scoring rules")
    if fmt not in ("yaml", "json"):
        raise InvalidInput("format must be yaml or json")
    return export_rules(session, str(fmt))
