"""KPI dashboard (#9): every indicator against hand-computed data on SQLite and PostgreSQL, and
organisations side by side (tests/web/kpi has the staff pages, CSV, JSON API and Chart.js)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select, update

from booking import attendance, cancellation, housekeeping, inventory
from booking.models import Booking
from community import contributions, kpis
from community.errors import InvalidInput
from community.models import Contribution, ContributionTransition, Organisation, PollAnswer, Role, Task
from community.polls import editing
from rewards.ledger import record_entry
from rewards.models import LedgerEntry, OutboxItem
from tests.support.booking import MONDAY, POLICY, Centre, at

UTC = dt.UTC
# A fixed fortnight, Monday 5 to Sunday 18 March 2029 (UTC); rows are dated explicitly.
WEEK1 = dt.datetime(2029, 3, 5, 9, 0, tzinfo=UTC)
WEEK2 = WEEK1 + dt.timedelta(days=7)
FORTNIGHT = kpis.Period(dt.date(2029, 3, 5), dt.date(2029, 3, 18))


def process_of(db, task_id: int) -> int:
    with db.read_sessions() as session:
        return session.get(Task, task_id).process_id


def contribution(db, task: int, member: int, at: dt.datetime, state: str = "pending",
                 decisions: tuple[tuple[str, float], ...] = (), actor: int | None = None) -> int:
    """A contribution submitted at ``at`` and decided ``hours`` later for each decision."""
    with db.write_sessions() as session, session.begin():
        c = Contribution(task_id=task, member_id=member, text="idea", state=state, created_at=at)
        session.add(c)
        session.flush()
        session.add(ContributionTransition(contribution_id=c.id, from_state=None, to_state="pending",
                                           actor_id=member, at=at))
        previous = "pending"
        for to, hours in decisions:
            session.add(ContributionTransition(contribution_id=c.id, from_state=previous, to_state=to,
                                               actor_id=actor, at=at + dt.timedelta(hours=hours)))
            previous = to
        return c.id


def deliver(db, entry_id: int, when: dt.datetime | None) -> None:
    """Mark an entry's mint or burn as delivered on chain at ``when`` (the relay's job)."""
    with db.write_sessions() as session, session.begin():
        session.execute(update(OutboxItem).where(OutboxItem.ledger_entry_id == entry_id)
                        .values(status="done", done_at=when))


def entry(db, member: int, points: int, dimension: str = "participation") -> int:
    with db.write_sessions() as session, session.begin():
        e = record_entry(session, member_id=member, points=points, cause="test", rule=("test", 1),
                         source_key=f"test:{uuid.uuid4().hex}", dimension=dimension)
        session.flush()
        return e.id


def report(db, p: kpis.Period, organisation_id: int | None = None) -> dict:
    with db.read_sessions() as session:
        return kpis.dashboard(session, p, policy=POLICY, organisation_id=organisation_id)


# --- pure functions ------------------------------------------------------------------------------


def test_gini_and_percentiles_of_known_values():
    assert kpis.gini([10, 20, 30, 40]) == pytest.approx(0.25)  # sum |xi-xj| = 200 over 2 * 4^2 * 25
    assert kpis.gini([7, 7, 7]) == pytest.approx(0.0)
    assert kpis.gini([0, 0, 0, 100]) == pytest.approx(0.0)  # only members who earned count
    assert kpis.gini([1, 3]) == pytest.approx(0.25)  # |1-3| * 2 / (2 * 4 * 2)
    assert kpis.gini([]) is None
    hours = [float(h) for h in range(1, 11)]
    assert kpis.percentile(hours, 0.5) == pytest.approx(5.5)
    assert kpis.percentile(hours, 0.9) == pytest.approx(9.1)  # 1 + 0.9 * 9
    assert kpis.percentile([4.0], 0.9) == 4.0 and kpis.percentile([], 0.5) is None


def test_period_defaults_to_twelve_weeks_and_refuses_bad_input():
    p = kpis.period(today=dt.date(2026, 11, 22))  # a Sunday
    assert (p.first, p.last) == (dt.date(2026, 8, 31), dt.date(2026, 11, 22))
    assert len(p.weeks()) == 12 and p.weeks()[0].weekday() == 0
    assert kpis.period("2029-03-05", "2029-03-18") == FORTNIGHT
    assert FORTNIGHT.until == dt.datetime(2029, 3, 19, tzinfo=UTC)
    for first, last, message in (("2029-13-01", None, "from must be a date"),
                                 ("2029-03-10", "2029-03-01", "must not be after"),
                                 ("2020-01-01", "2029-01-01", "at most 731 days"),
                                 (None, "yesterday", "until must be a date")):
        with pytest.raises(InvalidInput, match=message):
            kpis.period(first, last)


# --- indicators on SQLite and PostgreSQL ---------------------------------------------------------


def test_participation_active_members_per_process_and_first_timers(db, community):
    staff = community.user(Role.STAFF)
    a_task = community.task(staff, organisation="Org A")
    b_task = community.task(staff, organisation="Org B")
    m1, m2, m3, m4 = (community.user() for _ in range(4))
    contribution(db, a_task, m1, WEEK1 - dt.timedelta(days=30), "approved")  # before: m1 is no newcomer
    contribution(db, a_task, m1, WEEK1, "approved")
    contribution(db, a_task, m1, WEEK2 + dt.timedelta(days=2), "pending")
    contribution(db, b_task, m2, WEEK1 + dt.timedelta(days=6, hours=14), "rejected")  # Sunday 23:00
    contribution(db, b_task, m4, WEEK2 + dt.timedelta(days=7), "pending")  # Monday after: outside
    poll = editing.create_poll(db.unit_of_work(), actor_id=staff, question="Which?", options=["x", "y"],
                               closes_at=dt.datetime.now(UTC) + dt.timedelta(days=1),
                               process_id=process_of(db, a_task))
    with db.write_sessions() as session, session.begin():
        session.add(PollAnswer(poll_id=poll, member_id=m3, created_at=WEEK2 + dt.timedelta(hours=3)))
        session.add(PollAnswer(poll_id=poll, member_id=None, kiosk_session="k1", created_at=WEEK2))

    r = report(db, FORTNIGHT)
    assert r["active_members_per_week"] == [
        {"week": "2029-W10", "starts": "2029-03-05", "members": 2},  # m1, m2 (Sunday late)
        {"week": "2029-W11", "starts": "2029-03-12", "members": 2},  # m1, m3 (poll); kiosk no
    ]
    assert r["indicators"]["active_members"] == 3
    pa, pb = process_of(db, a_task), process_of(db, b_task)
    assert r["contributions_per_process"] == [
        {"process_id": pa, "title": "Process", "submitted": 2, "approved": 1},
        {"process_id": pb, "title": "Process", "submitted": 1, "approved": 0},
    ]
    assert (r["indicators"]["contributions"], r["indicators"]["contributions_approved"]) == (3, 1)
    assert r["counts"]["contributors"] == 2 and r["counts"]["first_time_contributors"] == 1  # m2
    assert r["indicators"]["first_time_share"] == 0.5

    with db.read_sessions() as session:
        org = {o.name: o.id for o in session.scalars(select(Organisation))}
    a = report(db, FORTNIGHT, org["Org A"])
    assert [w["members"] for w in a["active_members_per_week"]] == [1, 2]  # m1; m1 and m3
    assert a["indicators"]["first_time_share"] == 0.0
    assert a["spaces"] is None and a["indicators"]["utilisation"] is None
    b = report(db, FORTNIGHT, org["Org B"])
    assert [w["members"] for w in b["active_members_per_week"]] == [1, 0]
    assert b["indicators"]["first_time_share"] == 1.0
    assert b["contributions_per_process"] == [{"process_id": pb, "title": "Process", "submitted": 1,
                                               "approved": 0}]


def test_validation_median_and_p90_from_first_decisions(db, community):
    staff = community.user(Role.STAFF)
    task = community.task(staff)
    member = community.user()
    for hours in (1, 3, 4, 5, 6, 7, 8, 9, 10):
        contribution(db, task, member, WEEK1 + dt.timedelta(days=1), "approved",
                     (("approved", hours),), actor=staff)
    # Its first decision (changes requested after 2 h) counts, not the approval after 30 h.
    contribution(db, task, member, WEEK2, "approved",
                 (("changes_requested", 2), ("pending", 5), ("approved", 30)), actor=staff)
    # Four eyes: the first of two approvals is the decision.
    contribution(db, task, member, WEEK1 - dt.timedelta(days=1), "approved",
                 (("awaiting_second_approval", 48), ("approved", 60)), actor=staff)  # decided in period
    contribution(db, task, member, WEEK1 - dt.timedelta(days=9), "rejected",
                 (("rejected", 1),), actor=staff)  # decided before the period
    contribution(db, task, member, WEEK2, "pending")  # not decided
    r = report(db, FORTNIGHT)["indicators"]
    # Hours: 1, 2, 3, ..., 10 and 48 -> 11 values; median the 6th (6 h), p90 at rank 10 (10 h).
    assert r["validations"] == 11
    assert r["validation_median_hours"] == 6.0
    assert r["validation_p90_hours"] == 10.0
    with db.read_sessions() as session:
        hours = sorted(kpis.validation_hours(session, FORTNIGHT))
    assert hours == pytest.approx([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 48])


def test_points_gini_counts_earned_points_in_the_period(db, community):
    people = [community.user() for _ in range(6)]
    for member, points in zip(people[:4], (10, 20, 30, 40), strict=True):
        entry(db, member, points)
    entry(db, people[3], -5, dimension="credits")  # spending is not standing
    entry(db, people[4], 15)
    entry(db, people[4], -15)  # revoked: net zero, not an earner
    with db.write_sessions() as session, session.begin():  # earned long ago: outside the period
        session.add(LedgerEntry(member_id=people[5], points=500, cause="old", source_key="old:1",
                                rule_id="test", rule_version=1, ref="0x" + "ab" * 32,
                                created_at=dt.datetime(2020, 1, 1, tzinfo=UTC)))
    r = report(db, kpis.period())
    assert r["indicators"]["points_gini"] == 0.25
    assert r["counts"]["members_with_points"] == 4
    assert report(db, FORTNIGHT)["indicators"]["points_gini"] is None  # nobody earned then


def test_tokens_minted_burned_and_in_circulation(db, community):
    ana, ben = community.user(), community.user()
    week1, week2 = WEEK1 + dt.timedelta(days=2), WEEK2 + dt.timedelta(days=3)
    deliver(db, entry(db, ana, 100), week1)
    deliver(db, entry(db, ben, 50), week2)
    deliver(db, entry(db, ana, -30, dimension="credits"), week2)  # a redemption's burn
    deliver(db, entry(db, ben, 20), WEEK1 - dt.timedelta(days=40))  # before: circulation only
    deliver(db, entry(db, ben, -5), WEEK1 - dt.timedelta(days=20))
    entry(db, ana, 40)  # not delivered yet
    deliver(db, entry(db, ana, 70), WEEK2 + dt.timedelta(days=9))  # after the period
    with db.write_sessions() as session, session.begin():  # badges are not credits
        session.add(OutboxItem(kind="badge", token_id=101, to_address="0x" + "1" * 40, amount=1,
                               ref="0x" + "cd" * 32, status="done", done_at=week1))
    r = report(db, FORTNIGHT)
    assert (r["indicators"]["tokens_minted"], r["indicators"]["tokens_burned"]) == (150, 30)
    assert r["indicators"]["tokens_in_circulation"] == 100 + 50 + 20 - 30 - 5
    assert r["tokens_per_week"] == [
        {"week": "2029-W10", "starts": "2029-03-05", "minted": 100, "burned": 0},
        {"week": "2029-W11", "starts": "2029-03-12", "minted": 50, "burned": 30},
    ]
    later = report(db, kpis.Period(dt.date(2029, 3, 19), dt.date(2029, 3, 31)))["indicators"]
    assert (later["tokens_minted"], later["tokens_in_circulation"]) == (70, 135 + 70)


def test_space_utilisation_per_resource_and_hour_and_no_shows(db, community):
    centre = Centre(db, community)
    room = centre.resource(name="Room", hours="Mon-Sat 08:00-20:00")
    desk = centre.resource(name="Desk", hours="Mon-Fri 09:00-11:30")
    inventory.add_blackout(db.unit_of_work(), actor_id=centre.staff, resource_id=room,
                         start=at(0, 19).isoformat(), end=at(0, 20).isoformat(), reason="cleaning")
    ana, ben = centre.member("Ana"), centre.member("Ben")
    used = centre.book(ana, room, at(0, 10), at(0, 12))
    missed = centre.book(ben, room, at(0, 14), at(0, 15))
    upcoming = centre.book(ana, room, at(0, 16), at(0, 17))
    cancelled = centre.book(ben, room, at(0, 18), at(0, 19))
    half = centre.book(ben, desk, at(0, 9), at(0, 10, 30))
    cancellation.cancel(db.unit_of_work(), actor_id=ben, booking_id=cancelled.id, policy=POLICY)
    attendance.check_in(db.unit_of_work(), actor_id=ana, booking_id=used.id, code=used.code, now=at(0, 10),
                     policy=POLICY)
    attendance.check_in(db.unit_of_work(), actor_id=ben, booking_id=half.id, code=half.code, now=at(0, 9, 5),
                     policy=POLICY)
    housekeeping.housekeeping(db.unit_of_work(), now=at(0, 14, 30), policy=POLICY)  # 14:00 is a no-show
    with db.read_sessions() as session:
        states = {b.id: b.state for b in session.scalars(select(Booking))}
    assert (states[missed.id], states[upcoming.id]) == ("no_show", "confirmed")

    s = report(db, kpis.Period(MONDAY, MONDAY))["spaces"]  # Monday (UTC) holds the local day
    rows = {r["name"]: r for r in s["resources"]}
    # Room: open 08-19 (blackout 19-20) = 11 h; used 10-12 and 16-17 = 3 h; the no-show is released.
    assert (rows["Room"]["open_hours"], rows["Room"]["booked_hours"]) == (11.0, 3.0)
    assert rows["Room"]["utilisation"] == round(3 / 11, 4)
    assert (rows["Room"]["checked_in"], rows["Room"]["no_shows"], rows["Room"]["no_show_rate"]) == (1, 1, 0.5)
    by_hour = {c["hour"]: c["utilisation"] for c in rows["Room"]["by_hour"]}
    assert by_hour == {8: 0.0, 9: 0.0, 10: 1.0, 11: 1.0, 12: 0.0, 13: 0.0, 14: 0.0, 15: 0.0, 16: 1.0,
                       17: 0.0, 18: 0.0}
    # Desk: open 09:00-11:30 (150 min), used 09:00-10:30 (90 min).
    assert rows["Desk"]["utilisation"] == 0.6
    assert {c["hour"]: c["utilisation"] for c in rows["Desk"]["by_hour"]} == {9: 1.0, 10: 0.5, 11: 0.0}
    assert rows["Desk"]["no_show_rate"] == 0.0
    overall = {c["hour"]: c["utilisation"] for c in s["by_hour"]}
    assert (overall[9], overall[10], overall[11]) == (0.5, 0.75, round(60 / 90, 4))
    assert s["utilisation"] == round(270 / 810, 4)
    assert (s["no_shows"], s["checked_in"], s["no_show_rate"]) == (1, 2, round(1 / 3, 4))
    r = report(db, kpis.Period(MONDAY, MONDAY))["indicators"]
    assert (r["utilisation"], r["no_show_rate"]) == (s["utilisation"], s["no_show_rate"])
    sunday = report(db, kpis.Period(MONDAY - dt.timedelta(days=1), MONDAY - dt.timedelta(days=1)))
    assert sunday["spaces"]["utilisation"] is None  # closed all day: nothing to divide by


def test_organisations_side_by_side_through_real_approvals(db, community):
    staff = community.user(Role.STAFF)
    a_task = community.task(staff, complexity=20, organisation="Org A")
    b_task = community.task(staff, complexity=40, organisation="Org B")
    loose = community.task(staff, complexity=60)
    m1, m2, m3 = community.user(), community.user(), community.user()
    first = community.approved(m1, staff, a_task)  # 20
    community.approved(m2, staff, a_task, level="average")  # 40
    community.approved(m3, staff, b_task)  # 40
    community.approved(m1, staff, loose)  # 60, no organisation
    contributions.revoke_contribution(db.unit_of_work(), validator_id=staff, contribution_id=first,
                                      comment="duplicate")  # -20 in Org A
    with db.write_sessions() as session, session.begin():
        session.execute(update(OutboxItem).values(status="done", done_at=dt.datetime.now(UTC)))

    with db.read_sessions() as session:
        data = kpis.comparison(session, kpis.period(), policy=POLICY)
    assert [c["name"] for c in data["columns"]] == ["All", "Org A", "Org B"]
    values = {row["indicator"]: row["values"] for row in data["rows"]}
    assert list(values) == list(kpis.indicators())
    assert values["contributions"] == [4, 2, 1]
    assert values["contributions_approved"] == [3, 1, 1]
    assert values["active_members"] == [3, 2, 1]
    assert values["first_time_share"] == [1.0, 1.0, 1.0]
    assert values["tokens_minted"] == [160, 60, 40]
    assert values["tokens_burned"] == [20, 20, 0]
    assert values["tokens_in_circulation"] == [140, 40, 40]
    # All: m1 60 (20 revoked), m2 40, m3 40 -> [40, 40, 60]; Org A: m2 40 only (m1 nets 0).
    assert values["points_gini"] == [round(kpis.gini([40, 40, 60]), 4), 0.0, 0.0]
    assert values["validations"] == [4, 2, 1]
    assert values["utilisation"][1:] == [None, None]
