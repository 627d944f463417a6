"""Polls at service level, on SQLite and PostgreSQL: creating and editing, voting, results,
points and kiosk answers (tests/web/polls has the pages, the API and the kiosk acceptance test)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from community.db import utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.models import Poll, PollAnswer, PollOption, Role
from community.polls import editing, kiosks, tallies, voting
from community.processes import building, permissions
from rewards import scoring
from rewards.events import LedgerChanged
from rewards.models import LedgerEntry, OutboxItem
from tests.support.polls import answers, later, make_poll, option_ids, poll_entries


def move_window(db, poll_id: int, opens_at: dt.datetime, closes_at: dt.datetime) -> None:
    """Tests only: put a poll's window where the test needs it (services refuse past dates)."""
    with db.write_sessions() as session:
        session.execute(update(Poll).where(Poll.id == poll_id).values(opens_at=opens_at, closes_at=closes_at))
        session.commit()


def read(db, service, **kwargs):
    """Call a read service in a session that is closed again (PostgreSQL drops the test
    database at the end and would cut connections left open)."""
    with db.read_sessions() as session:
        return service(session, **kwargs)


@pytest.fixture
def cast(community):
    return community.people(staff=Role.STAFF, member=Role.MEMBER, other=Role.MEMBER, auditor=Role.AUDITOR)


# --- creating and editing -------------------------------------------------------------


def test_staff_create_polls_and_others_are_refused(db, cast):
    poll_id = make_poll(
        db, cast["staff"], kind="multiple", max_choices=2, allow_text=True, points=5, kiosk_enabled=True,
        results_visibility="after_close", description="  Tell us.  ",
    )
    with db.read_sessions() as session:
        poll = session.get(Poll, poll_id)
        assert (poll.kind, poll.max_choices, poll.allow_text, poll.points, poll.kiosk_enabled) == (
            "multiple", 2, True, 5, True)
        assert poll.results_visibility == "after_close" and poll.description == "Tell us."
        assert [o.label for o in poll.options] == ["North yard", "South yard", "East yard"]
        assert poll.state().value == "open"
    for role in ("member", "auditor"):
        with pytest.raises(Forbidden, match="only staff"):
            make_poll(db, cast[role])
    with db.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Poll)) == 1


def test_poll_attached_to_a_process(db, cast):

    process_id = building.create_process(db.unit_of_work(), actor_id=cast["staff"], title="Courtyards")
    poll_id = make_poll(db, cast["staff"], process_id=process_id)
    with db.read_sessions() as session:
        assert session.get(Poll, poll_id).process_id == process_id
    with pytest.raises(NotFound, match="process"):
        make_poll(db, cast["staff"], process_id=987654)


def test_create_refuses_bad_input_with_a_message(db, cast):
    cases = [
        ({"options": ["Only one"]}, "from 2 to 20 options"),
        ({"options": "North, South"}, "options must be a list"),
        ({"options": ["Same", "same"]}, "differ"),
        ({"options": ["North", "  "]}, "must not be empty"),
        ({"options": ["North", 7]}, "must be text"),
        ({"options": [f"o{i}" for i in range(21)]}, "from 2 to 20"),
        ({"question": "  "}, "question must not be empty"),
        ({"question": "x" * 301}, "longer than 300"),
        ({"kind": "ranked"}, "kind must be single or multiple"),
        ({"kind": ["single"]}, "kind must be single or multiple"),
        ({"max_choices": 2}, "only applies to multiple-choice"),
        ({"kind": "multiple", "max_choices": 4}, "max_choices must be a whole number from 1 to 3"),
        ({"kind": "multiple", "max_choices": 0}, "max_choices"),
        ({"points": -1}, "points must be a whole number from 0 to 10000"),
        ({"points": True}, "points"),
        ({"points": 10_001}, "points"),
        ({"closes_at": None}, "closes_at is required"),
        ({"closes_at": "tomorrow"}, "ISO 8601"),
        ({"closes_at": 12}, "ISO 8601"),
        ({"closes_at": later(hours=-1)}, "closes_at must be after opens_at"),
        ({"opens_at": later(days=3), "closes_at": later(days=2)}, "closes_at must be after opens_at"),
        ({"opens_at": later(days=-3), "closes_at": later(days=-2)}, "closes_at must be in the future"),
        ({"allow_text": "yes"}, "allow_text must be true or false"),
        ({"kiosk_enabled": 1}, "kiosk_enabled must be true or false"),
        ({"results_visibility": "never"}, "results_visibility"),
        ({"process_id": "1"}, "process_id"),
    ]
    for overrides, message in cases:
        with pytest.raises(InvalidInput, match=message):
            make_poll(db, cast["staff"], **overrides)
    with db.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Poll)) == 0


def test_iso_text_dates_are_accepted_and_stored_as_utc(db, cast):
    closes = (utcnow() + dt.timedelta(days=2)).replace(microsecond=0)
    text = closes.astimezone(dt.timezone(dt.timedelta(hours=3))).isoformat()
    poll_id = make_poll(db, cast["staff"], closes_at=text)
    with db.read_sessions() as session:
        assert session.get(Poll, poll_id).ends_at() == closes


def test_edit_only_before_opening_and_close_early(db, cast):
    staff, member = cast["staff"], cast["member"]
    poll_id = make_poll(db, staff, opens_at=later(hours=2), closes_at=later(days=1))
    with pytest.raises(Conflict, match="opens at"):
        voting.vote(
            db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[option_ids(db, poll_id)[0]]
        )
    with pytest.raises(Forbidden, match="only staff"):
        editing.update_poll(db.unit_of_work(), actor_id=member, poll_id=poll_id, question="Q?",
                            options=["A", "B"], closes_at=later(days=1))
    editing.update_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id, question="Which one?",
                        options=["Left", "Right"], opens_at=later(hours=1), closes_at=later(days=2))
    with db.read_sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll.question == "Which one?" and [o.label for o in poll.options] == ["Left", "Right"]
        assert session.scalar(select(func.count()).select_from(PollOption)) == 2, "old options are gone"

    move_window(db, poll_id, later(minutes=-5), later(days=1))
    with pytest.raises(Conflict, match="already opened"):
        editing.update_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id, question="Late change",
                            options=["A", "B"], closes_at=later(days=1))
    left, _right = option_ids(db, poll_id)
    voting.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[left])

    with pytest.raises(Forbidden, match="only staff"):
        editing.close_poll(db.unit_of_work(), actor_id=member, poll_id=poll_id)
    editing.close_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id)
    with pytest.raises(Conflict, match="already closed"):
        editing.close_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id)
    with pytest.raises(Conflict, match="closed at"):
        voting.vote(db.unit_of_work(), member_id=cast["other"], poll_id=poll_id, choices=[left])
    with db.read_sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll.state().value == "closed" and poll.closed_by_id == staff
    with pytest.raises(NotFound):
        editing.close_poll(db.unit_of_work(), actor_id=staff, poll_id=10**9)


def test_a_poll_past_its_closing_time_takes_no_votes(db, cast):
    poll_id = make_poll(db, cast["staff"])
    move_window(db, poll_id, later(days=-2), later(seconds=-1))
    with pytest.raises(Conflict, match=f"poll {poll_id} closed at"):
        voting.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id,
                    choices=[option_ids(db, poll_id)[0]])
    assert answers(db, poll_id) == 0


# --- voting ---------------------------------------------------------------------------


def test_a_poll_in_a_process_is_for_those_who_may_view_it(db, cast, community):

    staff, member, other = cast["staff"], cast["member"], cast["other"]
    process_id = building.create_process(db.unit_of_work(), actor_id=staff, title="Closed circle",
                                         membership="invite")
    poll_id = make_poll(db, staff, process_id=process_id, kiosk_enabled=True)
    north, *_ = option_ids(db, poll_id)
    with pytest.raises(Forbidden, match="cannot take part"):
        voting.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[north])
    with pytest.raises(Forbidden):
        read(db, tallies.poll_view, viewer_id=member, poll_id=poll_id)
    assert read(db, tallies.list_polls, viewer_id=member) == []

    permissions.grant_permission(db.unit_of_work(), actor_id=staff, process_id=process_id,
                                 permission_name="view", user_email=community.email_of(member))
    voting.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[north])
    assert [v.poll.id for v in read(db, tallies.list_polls, viewer_id=member)] == [poll_id]
    with pytest.raises(Forbidden):
        voting.vote(db.unit_of_work(), member_id=other, poll_id=poll_id, choices=[north])
    voting.vote(db.unit_of_work(), member_id=cast["auditor"], poll_id=poll_id, choices=[north])
    kiosks.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=kiosks.new_kiosk_session(),
                        choices=[north])
    assert answers(db, poll_id) == 3


def test_a_member_votes_once(db, cast):
    poll_id = make_poll(db, cast["staff"])
    north, south, _ = option_ids(db, poll_id)
    vote_id = voting.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id, choices=[north])
    assert vote_id > 0
    with pytest.raises(Conflict, match="already voted"):
        voting.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id, choices=[south])
    assert answers(db, poll_id) == 1
    view = read(db, tallies.poll_view, viewer_id=cast["member"], poll_id=poll_id)
    assert view.my_choices == (north,) and not view.may_vote


def test_the_database_itself_refuses_a_second_vote(db, cast):
    poll_id = make_poll(db, cast["staff"])
    first = option_ids(db, poll_id)[:1]
    voting.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id, choices=first)
    with db.write_sessions() as session, pytest.raises(IntegrityError):
        session.add(PollAnswer(poll_id=poll_id, member_id=cast["member"]))
        session.flush()
    with db.write_sessions() as session, pytest.raises(IntegrityError):
        session.add(PollAnswer(poll_id=poll_id, member_id=None, kiosk_session=None))
        session.flush()


def test_choices_are_checked_against_the_poll(db, cast):
    staff, member = cast["staff"], cast["member"]
    single = make_poll(db, staff)
    multiple = make_poll(db, staff, kind="multiple", max_choices=2, options=["A", "B", "C", "D"])
    free = make_poll(db, staff, allow_text=True)
    s1, s2, _ = option_ids(db, single)
    m1, m2, m3, _m4 = option_ids(db, multiple)
    cases = [
        (single, [s1, s2], "exactly one"),
        (single, [m1], f"option {m1} is not an option of poll {single}"),
        (single, [], "non-empty list"),
        (single, None, "non-empty list"),
        (single, [str(s1)], "option ids"),
        (single, [True], "option ids"),
        (single, s1, "non-empty list"),
        (multiple, [m1, m1], "only once"),
        (multiple, [m1, m2, m3], "at most 2"),
    ]
    for poll_id, choices, message in cases:
        with pytest.raises(InvalidInput, match=message):
            voting.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=choices)
    with pytest.raises(InvalidInput, match="does not take a written answer"):
        voting.vote(db.unit_of_work(), member_id=member, poll_id=single, choices=[s1], text="More trees")
    with pytest.raises(InvalidInput, match="longer than 2000"):
        voting.vote(db.unit_of_work(), member_id=member, poll_id=free, choices=option_ids(db, free)[:1],
                    text="x" * 2001)
    with pytest.raises(NotFound):
        voting.vote(db.unit_of_work(), member_id=member, poll_id=10**9, choices=[s1])
    assert answers(db, single) == answers(db, multiple) == answers(db, free) == 0

    voting.vote(db.unit_of_work(), member_id=member, poll_id=multiple, choices=[m3, m1])
    voting.vote(db.unit_of_work(), member_id=member, poll_id=free, choices=option_ids(db, free)[:1],
                text="  More benches  ")
    view = read(db, tallies.poll_view, viewer_id=member, poll_id=multiple)
    assert view.my_choices == tuple(sorted([m1, m3]))
    texts = read(db, tallies.poll_results, viewer_id=staff, poll_id=free).texts
    assert [(t.source, t.text) for t in texts] == [("member", "More benches")]


# --- results --------------------------------------------------------------------------


def test_results_after_voting(db, cast):
    staff, member, other = cast["staff"], cast["member"], cast["other"]
    poll_id = make_poll(db, staff, results_visibility="after_vote")
    north, *_ = option_ids(db, poll_id)
    for viewer in (staff, cast["auditor"]):
        assert read(db, tallies.poll_results, viewer_id=viewer, poll_id=poll_id).answers == 0
    with pytest.raises(Forbidden, match="once you have voted"):
        read(db, tallies.poll_results, viewer_id=member, poll_id=poll_id)
    view = read(db, tallies.poll_view, viewer_id=member, poll_id=poll_id)
    assert view.results is None and "once you have voted" in view.results_note

    voting.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[north])
    results = read(db, tallies.poll_results, viewer_id=member, poll_id=poll_id)
    assert (results.member_answers, results.kiosk_answers, results.final) == (1, 0, False)
    assert results.texts is None, "written answers are for staff"
    with pytest.raises(Forbidden):
        read(db, tallies.poll_results, viewer_id=other, poll_id=poll_id)


def test_results_after_close(db, cast):
    staff, member, other = cast["staff"], cast["member"], cast["other"]
    poll_id = make_poll(db, staff, results_visibility="after_close")
    north, *_ = option_ids(db, poll_id)
    voting.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[north])
    with pytest.raises(Forbidden, match="after the poll closes"):
        read(db, tallies.poll_results, viewer_id=member, poll_id=poll_id)
    assert read(db, tallies.poll_results, viewer_id=staff, poll_id=poll_id).member_answers == 1
    editing.close_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id)
    for viewer in (member, other):
        results = read(db, tallies.poll_results, viewer_id=viewer, poll_id=poll_id)
        assert results.final and results.options[0].members == 1


def test_results_count_members_and_kiosk_apart(db, cast, community):
    staff = cast["staff"]
    poll_id = make_poll(db, staff, kiosk_enabled=True, allow_text=True)
    north, south, east = option_ids(db, poll_id)
    voting.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id, choices=[north])
    voting.vote(db.unit_of_work(), member_id=cast["other"], poll_id=poll_id, choices=[south], text="shade")
    for choice in (north, north, east):
        kiosks.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=kiosks.new_kiosk_session(),
                            choices=[choice], text="from the bench" if choice == east else None)
    results = read(db, tallies.poll_results, viewer_id=staff, poll_id=poll_id)
    assert (results.member_answers, results.kiosk_answers, results.answers) == (2, 3, 5)
    assert [(o.id, o.members, o.kiosk, o.total) for o in results.options] == [
        (north, 1, 2, 3), (south, 1, 0, 1), (east, 0, 1, 1)]
    texts = sorted((t.source, t.text) for t in results.texts)
    assert texts == [("kiosk", "from the bench"), ("member", "shade")]
    listed = read(db, tallies.list_polls, viewer_id=staff)
    assert [(v.poll.id, v.answers) for v in listed] == [(poll_id, 5)]


def test_members_see_open_and_closed_polls_staff_see_all(db, cast):
    staff, member = cast["staff"], cast["member"]
    scheduled = make_poll(db, staff, opens_at=later(days=1), closes_at=later(days=2))
    open_ = make_poll(db, staff)
    closed = make_poll(db, staff)
    editing.close_poll(db.unit_of_work(), actor_id=staff, poll_id=closed)
    mine = {v.poll.id: v.state.value for v in read(db, tallies.list_polls, viewer_id=member)}
    assert mine == {open_: "open", closed: "closed"}
    every = {v.poll.id for v in read(db, tallies.list_polls, viewer_id=staff)}
    assert every == {scheduled, open_, closed}
    only_open = read(db, tallies.list_polls, viewer_id=member, state="open")
    assert [v.poll.id for v in only_open] == [open_]
    with pytest.raises(InvalidInput, match="state must be"):
        read(db, tallies.list_polls, viewer_id=member, state="everything")


# --- points ---------------------------------------------------------------------------


def test_voting_awards_the_polls_points_once(db, cast):
    staff, member = cast["staff"], cast["member"]
    poll_id = make_poll(db, staff, points=7)
    north, south, _ = option_ids(db, poll_id)
    uow = db.unit_of_work()
    voting.vote(uow, member_id=member, poll_id=poll_id, choices=[north])
    assert LedgerChanged((member,)) in uow.events
    with pytest.raises(Conflict):
        voting.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[south])
    entries = poll_entries(db, member)
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.points, entry.cause, entry.dimension) == (7, "poll", "participation")
    assert (entry.rule_id, entry.rule_version) == ("poll-points", 1)
    assert entry.source_key == f"poll:{poll_id}:vote:{member}"
    with db.read_sessions() as session:
        mint = session.scalars(select(OutboxItem).where(OutboxItem.ledger_entry_id == entry.id)).one()
        assert (mint.kind, mint.amount) == ("mint", 7)


def test_no_points_when_the_poll_gives_none_or_for_kiosk_answers(db, cast):
    staff, member = cast["staff"], cast["member"]
    free = make_poll(db, staff)
    uow = db.unit_of_work()
    voting.vote(uow, member_id=member, poll_id=free, choices=option_ids(db, free)[:1])
    assert uow.events == []
    paid = make_poll(db, staff, points=9, kiosk_enabled=True)
    kiosks.kiosk_answer(db.unit_of_work(), poll_id=paid, kiosk_session=kiosks.new_kiosk_session(),
                        choices=option_ids(db, paid)[:1])
    with db.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_vote_and_points_commit_together(db, cast, monkeypatch):
    poll_id = make_poll(db, cast["staff"], points=3)

    def broken(*args, **kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(scoring, "record_awards", broken)
    with pytest.raises(RuntimeError):
        voting.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id,
                    choices=option_ids(db, poll_id)[:1])
    assert answers(db, poll_id) == 0


# --- kiosk (service) ------------------------------------------------------------------


def test_kiosk_answers_one_per_kiosk_session(db, cast):
    staff = cast["staff"]
    poll_id = make_poll(db, staff, kiosk_enabled=True)
    no_kiosk = make_poll(db, staff)
    north, *_ = option_ids(db, poll_id)
    first = kiosks.new_kiosk_session()
    kiosks.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=first, choices=[north])
    with pytest.raises(Conflict, match="already answered"):
        kiosks.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=first, choices=[north])
    kiosks.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=kiosks.new_kiosk_session(),
                        choices=[north])
    with pytest.raises(NotFound, match="has no kiosk"):
        kiosks.kiosk_answer(db.unit_of_work(), poll_id=no_kiosk, kiosk_session=kiosks.new_kiosk_session(),
                            choices=option_ids(db, no_kiosk)[:1])
    for bad in (None, "", "short", "x" * 65, "bad chars ok?!" * 2):
        with pytest.raises(InvalidInput, match="kiosk session"):
            kiosks.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=bad, choices=[north])
    view = read(db, kiosks.kiosk_view, poll_id=poll_id, kiosk_session=first)
    assert view.answered and view.results.kiosk_answers == 2
    assert not read(db, kiosks.kiosk_view, poll_id=poll_id, kiosk_session=None).answered
    editing.close_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id)
    with pytest.raises(Conflict, match="closed at"):
        kiosks.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=kiosks.new_kiosk_session(),
                            choices=[north])
    assert answers(db, poll_id) == 2


def test_demo_polls(db, community):
    from community.poll_demo import seed_polls

    accounts = [("staff@kopa.local", Role.STAFF), ("member1@kopa.local", Role.MEMBER),
                ("member2@kopa.local", Role.MEMBER)]
    ids = {email: community.user(role, email=email) for email, role in accounts}
    kiosk_poll, standalone = seed_polls(db, ids, None)
    results = read(db, tallies.poll_results, viewer_id=ids["staff@kopa.local"], poll_id=kiosk_poll)
    assert (results.member_answers, results.kiosk_answers) == (2, 3)
    view = read(db, kiosks.kiosk_view, poll_id=kiosk_poll, kiosk_session=None)
    assert view.state.value == "open" and view.poll.points == 5
    with pytest.raises(NotFound, match="no kiosk"):
        read(db, kiosks.kiosk_view, poll_id=standalone, kiosk_session=None)
