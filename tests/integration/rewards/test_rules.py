"""Scoring rules on SQLite and PostgreSQL: validation, versions, conditions, caps, preview
equal to what publishing then awards, import/export, dimension totals, demo rules."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import yaml
from sqlalchemy import select

from community.db import utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.models import Role, User
from rewards import scoring
from rewards.formula import FormulaError
from rewards.ledger import refund_credits
from rewards.models import LedgerEntry, RuleVersion, ScoringEvent
from rewards.rules.definitions import RuleInvalid, validate_definition
from rewards.rules.engine import current_ruleset
from rewards.rules.replay import preview, replay
from rewards.rules.service import preview_rule, publish_rule, save_rule
from rewards.rules.transfer import export_rules, import_rules
from rewards.rules.versions import get_rule, list_rules
from rewards.totals import member_totals, period_window, totals_by_member
from tests.support.community import SECRET, Community
from tests.support.rules import approved, definition, ledger_points, score
from web import bootstrap
from web.rules.api import rule_json

POLL, BOOKING, STREAK, CONTRIB = (scoring.POLL_ANSWERED, scoring.BOOKING_CHECKED_IN,
                                  scoring.STREAK_REACHED, scoring.CONTRIBUTION_APPROVED)


@pytest.fixture
def people(community):
    return SimpleNamespace(**community.people(
        admin=(Role.ADMIN, "Ada Admin"),
        staff=(Role.STAFF, "Sam Staff"),
        staff2=(Role.STAFF, "Sue Staff"),
        a="Anna",
        b="Boris",
        c="Cara",
    ))


def save(db, people, rule_id, data, publish=True):
    return save_rule(db.unit_of_work(), actor_id=people.admin, rule_id=rule_id, data=data,
                     publish=publish)


def entries_of(db, member_id):
    with db.read_sessions() as session:
        return [(e.points, e.rule_id, e.rule_version) for e in session.scalars(
            select(LedgerEntry).where(LedgerEntry.member_id == member_id).order_by(LedgerEntry.id))]


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (definition(event="liked"), "event", "event: must be one of contribution_approved"),
        (definition(title=" "), "title", "title: must be text"),
        (definition(formula=""), "formula", "formula: must not be empty"),
        (definition(dimension="Big Points"), "dimension", "dimension: must be a lowercase name"),
        (definition(dimension="credits"), "dimension", "reserved for spending"),
        (definition(conditions={"colour": ["red"]}), "conditions", "conditions.colour: unknown for"),
        (definition(conditions={"process_id": ["x"]}), "conditions", "conditions.process_id: 'x' is not"),
        (definition(conditions={"process_id": {"min": 1}}), "conditions", "only numeric conditions"),
        (definition(conditions={"complexity": {"min": 5, "max": 1}}), "conditions", "min is larger"),
        (definition(conditions={"complexity": {"least": 5}}), "conditions", "min and/or max"),
        (definition(conditions={"tier": []}), "conditions", "list from 1 to 200"),
        (definition(POLL, "points", conditions={"task_id": [1]}), "conditions", "unknown for poll_answered"),
        (definition(cap={"period": "year", "points": 5}), "cap", "cap.period: must be one of day, week"),
        (definition(cap={"period": "week", "points": 0}), "cap", "cap.points: must be a whole number"),
        (definition(cap={"period": "week"}), "cap", "cap.points"),
        (definition(cap=5), "cap", "cap: must be {period, points}"),
        (definition(enabled="yes"), "enabled", "enabled: must be true or false"),
        (definition(colour="red"), "colour", "colour: unknown field"),
    ],
)
def test_invalid_definitions_name_the_field(data, field, words):
    with pytest.raises(RuleInvalid) as caught:
        validate_definition(data, where="rule 'x': ")
    assert caught.value.field == field
    assert words in caught.value.message
    assert caught.value.message.startswith("rule 'x': ")


def test_formulas_are_checked_against_the_event_inputs_at_save_time():
    with pytest.raises(FormulaError) as caught:
        validate_definition(definition(POLL, "points * complexity"))
    assert caught.value.message == (
        "formula: unknown name 'complexity' (inputs here: points) at position 9"
    )
    with pytest.raises(FormulaError, match="formula: unexpected '\\)' at position 7"):
        validate_definition(definition(formula="level +)"))
    ok = validate_definition(definition(
        BOOKING, " min(duration, 4) ", conditions={"group_id": 3, "tier": ["Gold", "Silver"]},
        cap={"period": "week", "points": 10}))
    assert ok.formula == "min(duration, 4)"
    assert ok.conditions == {"group_id": [3], "tier": ["Gold", "Silver"]}
    assert (ok.cap_period, ok.cap_points) == ("week", 10)


def test_only_admins_save_and_publish_and_ids_are_slugs(db, people):
    with pytest.raises(Forbidden):
        save_rule(db.unit_of_work(), actor_id=people.staff, rule_id="r", data=definition())
    with pytest.raises(InvalidInput, match="id: must be"):
        save(db, people, "Bad Id", definition())
    rid, version = save(db, people, "r", definition(), publish=False)
    assert (rid, version) == ("r", 1)
    with pytest.raises(Forbidden):
        publish_rule(db.unit_of_work(), actor_id=people.a, rule_id="r", version=1)
    with pytest.raises(NotFound):
        publish_rule(db.unit_of_work(), actor_id=people.admin, rule_id="r", version=7)
    with pytest.raises(NotFound):
        publish_rule(db.unit_of_work(), actor_id=people.admin, rule_id="nope", version=1)
    # Ids the ledger already uses for built-in defaults cannot be taken by a rule.
    score(db, POLL, people.a, {"points": 3}, default=scoring.Award(3, "participation", "poll-default", 1))
    with pytest.raises(Conflict, match="already names entries in the ledger"):
        save(db, people, "poll-default", definition(POLL, "points"))


# --- versions -----------------------------------------------------------------------------


def test_a_change_affects_only_new_events_and_entries_keep_their_version(db, people, community):
    task = community.task(people.staff, complexity=20)
    community.approved(people.a, people.staff, task, level="average")  # no rule yet: the default
    save(db, people, "contrib", definition(formula="complexity * level * 2"))
    community.approved(people.a, people.staff, task, level="average")
    rid, v2 = save(db, people, "contrib", definition(formula="complexity * level * 3"), publish=False)
    community.approved(people.a, people.staff, task, level="average")  # a draft is not in force
    publish_rule(db.unit_of_work(), actor_id=people.admin, rule_id=rid, version=v2)
    community.approved(people.a, people.staff, task, level="average")
    assert entries_of(db, people.a) == [
        (40, scoring.DEFAULT_CONTRIBUTION_RULE[0], 1),
        (80, "contrib", 1),
        (80, "contrib", 1),
        (120, "contrib", 2),
    ]
    with db.write_sessions() as session:
        v1 = session.scalars(select(RuleVersion).where(RuleVersion.version == 1)).one()
        v1.formula = "1"
        with pytest.raises(RuntimeError, match="immutable"):
            session.flush()
        session.rollback()
    with pytest.raises(Conflict, match="published before"):
        publish_rule(db.unit_of_work(), actor_id=people.admin, rule_id="contrib", version=1)
    _, v3 = save(db, people, "contrib", definition(formula="complexity"), publish=False)
    save(db, people, "contrib", definition(formula="level"))
    with pytest.raises(Conflict, match="older than the current version 4"):
        publish_rule(db.unit_of_work(), actor_id=people.admin, rule_id="contrib", version=v3)
    with db.read_sessions() as session:
        rule = get_rule(session, "contrib")
        assert [v.status for v in rule.versions] == ["published", "published", "draft", "current"]
        assert rule_json(rule, drafts=False)["versions"][-1]["version"] == 4


def test_every_scored_event_is_recorded_with_its_awards(db, people, community):
    save(db, people, "contrib", definition(formula="complexity * level + 1"))
    task = community.task(people.staff, complexity=40)
    community.approved(people.b, people.staff, task, level="high")
    with db.read_sessions() as session:
        event = session.scalars(select(ScoringEvent).where(ScoringEvent.member_id == people.b)).one()
    assert event.kind == CONTRIB
    assert event.inputs == {"complexity": 40, "level": 3}
    assert event.context["task_id"] == task and event.context["tier"] is None
    assert event.default_award == {"points": 120, "dimension": "participation",
                                   "rule_id": "complexity-x-level", "rule_version": 1}
    assert event.awards == [{"points": 121, "dimension": "participation", "rule_id": "contrib",
                             "rule_version": 1}]


# --- conditions, several rules, errors --------------------------------------------------------


def test_conditions_select_rules_and_the_default_applies_when_none_matches(db, people):
    save(db, people, "big-tasks", definition(formula="complexity * level * 10",
                                              conditions={"complexity": {"min": 60}}))
    save(db, people, "process-7", definition(formula="5", dimension="development",
                                              conditions={"process_id": [7, 8]}))
    save(db, people, "gold", definition(formula="1000", conditions={"tier": ["Gold"]}))
    default = scoring.Award(3, "participation", "complexity-x-level", 1)

    def run(complexity, process_id, tier=None):
        return score(db, CONTRIB, people.a, {"complexity": complexity, "level": 1},
                     {"process_id": process_id, "task_id": 1, "complexity": complexity, "tier": tier},
                     default=default)

    assert run(20, 1) == [(3, "participation", "complexity-x-level", 1)]  # nothing matched
    assert run(60, 1) == [(600, "participation", "big-tasks", 1)]
    assert sorted(run(80, 8)) == [(5, "development", "process-7", 1), (800, "participation", "big-tasks", 1)]
    assert run(20, 1, tier="Gold") == [(1000, "participation", "gold", 1)]
    assert run(20, 1, tier="Silver") == [(3, "participation", "complexity-x-level", 1)]
    # A disabled current version takes the rule out: the default applies again.
    save(db, people, "gold", definition(formula="1000", conditions={"tier": ["Gold"]}, enabled=False))
    assert run(20, 1, tier="Gold") == [(3, "participation", "complexity-x-level", 1)]


def test_member_tier_comes_from_loyalty_when_the_feature_does_not_pass_it(db, people, monkeypatch):
    from rewards import loyalty

    monkeypatch.setattr(loyalty, "member_tier", lambda session, member_id: loyalty.Tier("Gold", 3, 100, 10)
                        if member_id == people.a else None)
    save(db, people, "gold-poll", definition(POLL, "points * 2", conditions={"tier": ["Gold"]}))
    assert score(db, POLL, people.a, {"points": 4}) == [(8, "participation", "gold-poll", 1)]
    assert score(db, POLL, people.b, {"points": 4}) == []  # no default given
    with db.read_sessions() as session:
        tiers = [e.context["tier"] for e in session.scalars(select(ScoringEvent).order_by(ScoringEvent.id))]
    assert tiers == ["Gold", None]


def test_rounding_negative_results_and_failing_formulas(db, people):
    save(db, people, "poll", definition(POLL, "points / 4"))
    assert score(db, POLL, people.a, {"points": 10}) == [(3, "participation", "poll", 1)]  # 2.5 → 3
    assert score(db, POLL, people.a, {"points": 6}) == [(2, "participation", "poll", 1)]  # 1.5 → 2
    save(db, people, "poll", definition(POLL, "points - 10"))
    assert score(db, POLL, people.a, {"points": 4}) == []  # negative: nothing, not a deduction
    save(db, people, "poll", definition(POLL, "10 / (points - 4)"))
    default = scoring.Award(4, "participation", "poll-default", 1)
    # The rule matched but its formula failed: it awards nothing (and is logged), no default.
    assert score(db, POLL, people.a, {"points": 4}, default=default) == []
    assert score(db, POLL, people.a, {"points": 5}, default=default) == [(10, "participation", "poll", 3)]


# --- caps ---------------------------------------------------------------------------------------


def test_caps_award_the_remainder_per_member_and_period(db, people):
    save(db, people, "attendance", definition(BOOKING, "duration", dimension="attendance",
                                               cap={"period": "week", "points": 5}))
    got = [score(db, BOOKING, people.a, {"duration": 3, "price": 0}) for _ in range(3)]
    assert got == [[(3, "attendance", "attendance", 1)], [(2, "attendance", "attendance", 1)], []]
    assert score(db, BOOKING, people.b, {"duration": 4, "price": 0}) == [(4, "attendance", "attendance", 1)]
    # A new version keeps counting the rule's entries in the period (the cap is the rule's).
    save(db, people, "attendance", definition(BOOKING, "duration * 2", dimension="attendance",
                                               cap={"period": "week", "points": 10}))
    assert score(db, BOOKING, people.a, {"duration": 4, "price": 0}) == [(5, "attendance", "attendance", 2)]
    assert ledger_points(db, people.a, "attendance") == 10
    assert ledger_points(db, people.b, "attendance") == 4


def test_concurrent_awards_never_exceed_a_cap(db, people):
    """Eight check-ins at once for one member: the wallet lock makes each see the others."""
    from concurrent.futures import ThreadPoolExecutor

    save(db, people, "attendance", definition(BOOKING, "duration", dimension="attendance",
                                               cap={"period": "day", "points": 5}))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: score(db, BOOKING, people.a, {"duration": 2, "price": 0}),
                                range(8)))
    assert sorted(sum(p for p, *_ in r) for r in results) == [0] * 5 + [1, 2, 2]
    assert ledger_points(db, people.a, "attendance") == 5


def test_caps_follow_calendar_periods_in_replays(db, people):
    """Replays place events in their own periods: a weekly cap refills on Monday."""
    save(db, people, "streak", definition(STREAK, "weeks * 5", cap={"period": "week", "points": 12}))
    monday = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    events = [SimpleNamespace(kind=STREAK, member_id=people.a, inputs={"weeks": 2}, context={},
                              default_award=None, occurred_at=at)
              for at in (monday, monday + dt.timedelta(days=6), monday + dt.timedelta(days=7))]
    with db.read_sessions() as session:
        result = replay(session, events, current_ruleset(session))
    assert [[a.points for a in awards] for awards in result.awards] == [[10], [2], [10]]
    assert period_window("week", monday + dt.timedelta(days=6, hours=14)) == (
        dt.datetime(2026, 3, 2, tzinfo=dt.UTC), dt.datetime(2026, 3, 9, tzinfo=dt.UTC))
    assert period_window("month", dt.datetime(2026, 12, 31, 23, tzinfo=dt.UTC)) == (
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    assert period_window("day", monday)[1] - period_window("day", monday)[0] == dt.timedelta(days=1)


# --- preview == publish + replay ------------------------------------------------------------------


def _history(db, people, community):
    """Real approvals and polls under version 1 of 'contrib' (and the poll default)."""
    small = community.task(people.staff, complexity=20)
    big = community.task(people.staff, complexity=80)
    plan = [(people.a, small, "low"), (people.a, big, "high"), (people.b, small, "average"),
            (people.c, big, "low"), (people.a, small, "high"), (people.b, big, "average"),
            (people.c, small, "low"), (people.a, big, "average")]
    for member, task, level in plan:
        approved(db, member, task, level, (people.staff, people.admin))
    for member in (people.a, people.c):
        score(db, POLL, member, {"points": 7}, {"poll_id": 1, "process_id": 1},
              default=scoring.Award(7, "participation", "poll-default", 1))


def test_preview_equals_what_publishing_then_awards_on_a_replay(db, people, community):
    save(db, people, "contrib", definition(formula="complexity * level"))
    _history(db, people, community)
    draft = definition(formula="complexity * level + 50", conditions={"complexity": {"min": 50}},
                       cap={"period": "week", "points": 300})
    _, v2 = save(db, people, "contrib", draft, publish=False)

    with db.read_sessions() as session:
        report = preview_rule(session, actor_id=people.staff, rule_id="contrib", version=v2)
        unsaved = preview_rule(session, actor_id=people.staff, rule_id="contrib", data=draft)
        latest_draft = preview_rule(session, actor_id=people.staff, rule_id="contrib")
        with pytest.raises(Forbidden):
            preview_rule(session, actor_id=people.a, rule_id="contrib", version=v2)
    assert report.kinds == [CONTRIB]  # the poll events are not this rule's business
    assert report.events == 8
    # Nothing changed since the events: replaying the current version gives what was recorded.
    assert report.total_current == report.total_recorded == 20 + 240 + 40 + 80 + 60 + 160 + 20 + 160
    by_name = {m.member: m for m in report.members}
    # Anna: small tasks fall back to the default; big ones pay +50 but the week caps at 300.
    assert by_name["Anna"].current == 20 + 240 + 60 + 160
    assert by_name["Anna"].draft == 20 + 290 + 60 + (300 - 290)
    assert by_name["Boris"].draft == 40 + 210
    assert by_name["Cara"].draft == 130 + 20
    assert report.total_draft == sum(m.draft for m in report.members)
    assert [m.member for m in report.top_movers] == ["Anna", "Boris", "Cara"]  # ties: member id
    assert [m.delta for m in report.top_movers] == [-100, 50, 50]
    assert unsaved.as_dict()["total"] == report.as_dict()["total"]
    assert latest_draft.draft_version == v2
    assert report.as_dict()["total"]["delta"] == report.total_draft - report.total_current

    publish_rule(db.unit_of_work(), actor_id=people.admin, rule_id="contrib", version=v2)
    with db.read_sessions() as session:
        events = session.scalars(select(ScoringEvent).where(ScoringEvent.kind == CONTRIB)
                                 .order_by(ScoringEvent.occurred_at, ScoringEvent.id)).all()
        published = replay(session, events, current_ruleset(session))
    assert dict(published.points) == {m.member_id: m.draft for m in report.members}

    # And through the live path: the same events, scored now for stand-in members with an
    # empty ledger, award exactly the preview's numbers.
    stand_in = {m.member_id: community.user(name=f"Stand-in {m.member}") for m in report.members}
    for event in events:
        score(db, event.kind, stand_in[event.member_id], event.inputs, event.context,
              default=scoring.Award(**event.default_award))
    for m in report.members:
        assert ledger_points(db, stand_in[m.member_id]) == m.draft


def test_preview_window_and_caps_count_history_before_it(db, people):
    """Events older than 90 days are not replayed, but their ledger entries count toward a
    cap period that straddles the window start."""
    save(db, people, "poll", definition(POLL, "points", cap={"period": "month", "points": 10}))
    score(db, POLL, people.a, {"points": 6})
    score(db, POLL, people.a, {"points": 6})  # capped to 4
    with db.read_sessions() as session:
        current = session.scalars(select(ScoringEvent).order_by(ScoringEvent.id)).all()
        assert [e.awards[0]["points"] for e in current] == [6, 4]
    _, v2 = save(db, people, "poll", definition(POLL, "points * 2", cap={"period": "month", "points": 10}),
                 publish=False)
    with db.read_sessions() as session:
        later = preview(session, "poll", v2, now=utcnow() + dt.timedelta(days=91))
        now = preview(session, "poll", v2)
        split = preview(session, "poll", v2, days=0)
    assert later.events == 0 and later.members == []
    assert (now.total_current, now.total_draft) == (10, 10)
    assert split.events == 0
    with db.read_sessions() as session, pytest.raises(NotFound):
        preview(session, "poll", 9)


# --- import / export ----------------------------------------------------------------------------


def _seed_three(db, people):
    save(db, people, "contrib", definition(formula="complexity * level", title="Contributions",
                                            conditions={"complexity": {"min": 20, "max": 100}}))
    save(db, people, "checkin", definition(BOOKING, "min(duration, 4)", dimension="attendance",
                                            cap={"period": "week", "points": 20}, title="Check-ins"))
    save(db, people, "draft-only", definition(POLL, "points", title="Polls"), publish=False)


def _strip_versions(text):
    document = yaml.safe_load(text)
    for item in document["rules"]:
        item.pop("version")
        item.pop("note")
    return document


def test_export_then_import_round_trips(db, people, tmp_path):
    from web.migrate import upgrade

    _seed_three(db, people)
    save(db, people, "contrib", definition(formula="complexity * level * 2", title="Contributions"))
    with db.read_sessions() as session:
        exported = export_rules(session, "yaml")
        as_json = export_rules(session, "json")
    assert yaml.safe_load(exported) == yaml.safe_load(as_json)
    items = {i["id"]: i for i in yaml.safe_load(exported)["rules"]}
    assert items["contrib"]["version"] == 2 and items["contrib"]["published"] is True
    assert items["draft-only"]["published"] is False
    assert items["checkin"]["cap"] == {"period": "week", "points": 20}

    # Importing what was exported changes nothing.
    result = import_rules(db.unit_of_work(), actor_id=people.admin, text=exported)
    assert result.created == [] and sorted(result.unchanged) == ["checkin", "contrib", "draft-only"]

    # Into an empty database: the same rules come back, published as they were.
    other_url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    upgrade(other_url)
    other = bootstrap.database(other_url, secret_key=SECRET)
    try:
        admin = Community(other, community_vault()).user(Role.ADMIN)
        result = import_rules(other.unit_of_work(), actor_id=admin, text=as_json, fmt="json")
        assert sorted(result.created) == [("checkin", 1), ("contrib", 1), ("draft-only", 1)]
        assert sorted(result.published) == [("checkin", 1), ("contrib", 1)]
        with other.read_sessions() as session:
            assert _strip_versions(export_rules(session)) == _strip_versions(exported)
    finally:
        other.dispose()

    # A changed formula becomes a new version; a draft marked published gets published.
    items["checkin"]["formula"] = "duration"
    items["draft-only"]["published"] = True
    changed = yaml.safe_dump({"rules": list(items.values())})
    result = import_rules(db.unit_of_work(), actor_id=people.admin, text=changed)
    assert result.created == [("checkin", 2)]
    assert sorted(result.published) == [("checkin", 2), ("draft-only", 1)]
    assert result.unchanged == ["contrib"]


def community_vault():
    from rewards.vault import KeyVault

    return KeyVault(SECRET)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("rules: [", "not valid YAML (line"),
        ("just text", "a list under 'rules'"),
        ("rules:\n- id: Bad\n", "rules[0] 'Bad': id: must be"),
        ("rules:\n- {id: a, title: A, event: poll_answered, formula: points}\n"
         "- {id: b, title: B, event: poll_answered, formula: points, cap: {period: year, points: 3}}\n",
         "rules[1] 'b': cap.period: must be one of day, week, month"),
        ("rules:\n- {id: a, title: A, event: poll_answered, formula: 'points +'}\n",
         "rules[0] 'a': formula: unexpected end of formula at position 8"),
        ("rules:\n- {id: a, title: A, event: poll_answered, formula: points}\n"
         "- {id: a, title: A, event: poll_answered, formula: points}\n", "rules[1] 'a': id: appears twice"),
        ("rules:\n- {id: a, title: A, event: poll_answered, formula: points, published: maybe}\n",
         "rules[0] 'a': published: must be true or false"),
        ("rules:\n- {id: a, title: A, event: poll_answered, formula: points, colour: red}\n",
         "rules[0] 'a': colour: unknown field"),
    ],
)
def test_import_errors_name_the_rule_and_field_and_write_nothing(db, people, text, words):
    with pytest.raises(InvalidInput) as caught:
        import_rules(db.unit_of_work(), actor_id=people.admin, text=text)
    assert words in caught.value.message
    with db.read_sessions() as session:
        assert list_rules(session) == []


def test_import_needs_an_admin(db, people):
    with pytest.raises(Forbidden):
        import_rules(db.unit_of_work(), actor_id=people.staff,
                     text="rules:\n- {id: a, title: A, event: poll_answered, formula: points}\n")


# --- dimension totals ---------------------------------------------------------------------------


def test_totals_per_dimension_and_period_come_from_the_ledger(db, people):
    save(db, people, "poll", definition(POLL, "points"))
    save(db, people, "checkin", definition(BOOKING, "duration", dimension="attendance"))
    score(db, POLL, people.a, {"points": 5})
    score(db, POLL, people.a, {"points": 2})
    score(db, BOOKING, people.a, {"duration": 3, "price": 0})
    score(db, POLL, people.b, {"points": 1})
    with db.write_sessions() as session:  # spending never counts toward standings
        refund_credits(session, member_id=people.a, amount=50, cause="test", source_key="refund:1")
        session.commit()
    with db.read_sessions() as session:  # closed here, not by the garbage collector later
        totals = member_totals(session, people.a)
        assert totals.as_dict() == {
            "attendance": {"day": 3, "week": 3, "month": 3, "all": 3},
            "participation": {"day": 7, "week": 7, "month": 7, "all": 7},
        }
        assert totals.overall("week") == 10
        # Ask as of next month: this month's points leave day/week/month but stay all-time.
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=40)
        assert member_totals(session, people.a, at=later).get("participation", "month") == 0
        assert member_totals(session, people.a, at=later).get("participation", "all") == 7
        everyone = totals_by_member(session)
    assert everyone[people.b].get("participation") == 1 and people.c not in everyone


def test_team_totals_sum_the_members(db, people):
    from community.models import Team, TeamMember
    from rewards.totals import team_totals

    save(db, people, "poll", definition(POLL, "points"))
    score(db, POLL, people.a, {"points": 5})
    score(db, POLL, people.b, {"points": 2})
    score(db, POLL, people.c, {"points": 100})
    with db.write_sessions() as session:
        team = Team(name="Courtyard crew", kind="citizens")
        session.add(team)
        session.flush()
        session.add_all([TeamMember(team_id=team.id, user_id=people.a),
                         TeamMember(team_id=team.id, user_id=people.b)])
        session.commit()
        team_id = team.id
    with db.read_sessions() as session:
        totals = team_totals(session, team_id)
    assert totals.as_dict() == {"participation": {"day": 7, "week": 7, "month": 7, "all": 7}}


# --- demo -----------------------------------------------------------------------------------------


def test_demo_rules_are_published_for_every_event_kind(db, people):
    from rewards.rules_demo import seed_rules

    with db.read_sessions() as session:
        admin_email = session.get(User, people.admin).email
    seed_rules(db, {"admin@kopa.local": people.admin, admin_email: people.admin})
    seed_rules(db, {"admin@kopa.local": people.admin})  # once only
    with db.read_sessions() as session:
        ruleset = current_ruleset(session)
    assert sorted(r.definition.event for r in ruleset.values()) == sorted(scoring.EVENT_KINDS)
    assert all(r.version == 1 for r in ruleset.values())
    # The demo contribution rule pays what the default would.
    assert score(db, CONTRIB, people.a, {"complexity": 40, "level": 2}, {"complexity": 40}) == [
        (80, "participation", "demo-contributions", 1)]
