"""Polls: services on SQLite and PostgreSQL, pages and API through the test client, and the
kiosk acceptance test (anonymous answers counted apart, one per kiosk session, 429 when a
kiosk is flooded)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from community import polls, processes
from community.db import utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.events import LedgerChanged
from community.models import Role
from community.poll_models import Poll, PollAnswer, PollOption
from rewards.models import LedgerEntry, OutboxItem
from tests.support.community import PASSWORD, SECRET, Community
from tests.support.web import csrf_token
from web import create_app

MINUTE = "%Y-%m-%dT%H:%M"


def later(**delta) -> dt.datetime:
    return utcnow() + dt.timedelta(**delta)


def make_poll(db, staff_id: int, **overrides) -> int:
    fields = {
        "question": "Which courtyard gets planters first?",
        "options": ["North yard", "South yard", "East yard"],
        "closes_at": later(days=1),
    }
    fields.update(overrides)
    return polls.create_poll(db.unit_of_work(), actor_id=staff_id, **fields)


def option_ids(db, poll_id: int) -> list[int]:
    with db.read_sessions() as session:
        query = select(PollOption.id).where(PollOption.poll_id == poll_id).order_by(PollOption.position)
        return list(session.scalars(query))


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


def answers(db, poll_id: int) -> int:
    with db.read_sessions() as session:
        return session.scalar(select(func.count()).where(PollAnswer.poll_id == poll_id))


def poll_entries(db, member_id: int) -> list[LedgerEntry]:
    with db.read_sessions() as session:
        return list(session.scalars(select(LedgerEntry).where(LedgerEntry.member_id == member_id)))


@pytest.fixture
def cast(community):
    staff = community.user(Role.STAFF)
    return {
        "staff": staff,
        "member": community.user(),
        "other": community.user(),
        "auditor": community.user(Role.AUDITOR),
    }


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

    process_id = processes.create_process(db.unit_of_work(), actor_id=cast["staff"], title="Courtyards")
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
        polls.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[option_ids(db, poll_id)[0]])
    with pytest.raises(Forbidden, match="only staff"):
        polls.update_poll(db.unit_of_work(), actor_id=member, poll_id=poll_id, question="Q?",
                          options=["A", "B"], closes_at=later(days=1))
    polls.update_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id, question="Which one?",
                      options=["Left", "Right"], opens_at=later(hours=1), closes_at=later(days=2))
    with db.read_sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll.question == "Which one?" and [o.label for o in poll.options] == ["Left", "Right"]
        assert session.scalar(select(func.count()).select_from(PollOption)) == 2, "old options are gone"

    move_window(db, poll_id, later(minutes=-5), later(days=1))
    with pytest.raises(Conflict, match="already opened"):
        polls.update_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id, question="Late change",
                          options=["A", "B"], closes_at=later(days=1))
    left, _right = option_ids(db, poll_id)
    polls.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[left])

    with pytest.raises(Forbidden, match="only staff"):
        polls.close_poll(db.unit_of_work(), actor_id=member, poll_id=poll_id)
    polls.close_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id)
    with pytest.raises(Conflict, match="already closed"):
        polls.close_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id)
    with pytest.raises(Conflict, match="closed at"):
        polls.vote(db.unit_of_work(), member_id=cast["other"], poll_id=poll_id, choices=[left])
    with db.read_sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll.state().value == "closed" and poll.closed_by_id == staff
    with pytest.raises(NotFound):
        polls.close_poll(db.unit_of_work(), actor_id=staff, poll_id=10**9)


def test_a_poll_past_its_closing_time_takes_no_votes(db, cast):
    poll_id = make_poll(db, cast["staff"])
    move_window(db, poll_id, later(days=-2), later(seconds=-1))
    with pytest.raises(Conflict, match=f"poll {poll_id} closed at"):
        polls.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id,
                   choices=[option_ids(db, poll_id)[0]])
    assert answers(db, poll_id) == 0


# --- voting ---------------------------------------------------------------------------


def test_a_poll_in_a_process_is_for_those_who_may_view_it(db, cast, community):

    staff, member, other = cast["staff"], cast["member"], cast["other"]
    process_id = processes.create_process(db.unit_of_work(), actor_id=staff, title="Closed circle",
                                          membership="invite")
    poll_id = make_poll(db, staff, process_id=process_id, kiosk_enabled=True)
    north, *_ = option_ids(db, poll_id)
    with pytest.raises(Forbidden, match="cannot take part"):
        polls.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[north])
    with pytest.raises(Forbidden):
        read(db, polls.poll_view, viewer_id=member, poll_id=poll_id)
    assert read(db, polls.list_polls, viewer_id=member) == []

    processes.grant_permission(db.unit_of_work(), actor_id=staff, process_id=process_id,
                               permission_name="view", user_email=community.email_of(member))
    polls.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[north])
    assert [v.poll.id for v in read(db, polls.list_polls, viewer_id=member)] == [poll_id]
    with pytest.raises(Forbidden):
        polls.vote(db.unit_of_work(), member_id=other, poll_id=poll_id, choices=[north])
    polls.vote(db.unit_of_work(), member_id=cast["auditor"], poll_id=poll_id, choices=[north])
    polls.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=polls.new_kiosk_session(),
                       choices=[north])
    assert answers(db, poll_id) == 3


def test_a_member_votes_once(db, cast):
    poll_id = make_poll(db, cast["staff"])
    north, south, _ = option_ids(db, poll_id)
    vote_id = polls.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id, choices=[north])
    assert vote_id > 0
    with pytest.raises(Conflict, match="already voted"):
        polls.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id, choices=[south])
    assert answers(db, poll_id) == 1
    view = read(db, polls.poll_view, viewer_id=cast["member"], poll_id=poll_id)
    assert view.my_choices == (north,) and not view.may_vote


def test_the_database_itself_refuses_a_second_vote(db, cast):
    poll_id = make_poll(db, cast["staff"])
    first = option_ids(db, poll_id)[:1]
    polls.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id, choices=first)
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
            polls.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=choices)
    with pytest.raises(InvalidInput, match="does not take a written answer"):
        polls.vote(db.unit_of_work(), member_id=member, poll_id=single, choices=[s1], text="More trees")
    with pytest.raises(InvalidInput, match="longer than 2000"):
        polls.vote(db.unit_of_work(), member_id=member, poll_id=free, choices=option_ids(db, free)[:1],
                   text="x" * 2001)
    with pytest.raises(NotFound):
        polls.vote(db.unit_of_work(), member_id=member, poll_id=10**9, choices=[s1])
    assert answers(db, single) == answers(db, multiple) == answers(db, free) == 0

    polls.vote(db.unit_of_work(), member_id=member, poll_id=multiple, choices=[m3, m1])
    polls.vote(db.unit_of_work(), member_id=member, poll_id=free, choices=option_ids(db, free)[:1],
               text="  More benches  ")
    view = read(db, polls.poll_view, viewer_id=member, poll_id=multiple)
    assert view.my_choices == tuple(sorted([m1, m3]))
    texts = read(db, polls.poll_results, viewer_id=staff, poll_id=free).texts
    assert [(t.source, t.text) for t in texts] == [("member", "More benches")]


# --- results --------------------------------------------------------------------------


def test_results_after_voting(db, cast):
    staff, member, other = cast["staff"], cast["member"], cast["other"]
    poll_id = make_poll(db, staff, results_visibility="after_vote")
    north, *_ = option_ids(db, poll_id)
    for viewer in (staff, cast["auditor"]):
        assert read(db, polls.poll_results, viewer_id=viewer, poll_id=poll_id).answers == 0
    with pytest.raises(Forbidden, match="once you have voted"):
        read(db, polls.poll_results, viewer_id=member, poll_id=poll_id)
    view = read(db, polls.poll_view, viewer_id=member, poll_id=poll_id)
    assert view.results is None and "once you have voted" in view.results_note

    polls.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[north])
    results = read(db, polls.poll_results, viewer_id=member, poll_id=poll_id)
    assert (results.member_answers, results.kiosk_answers, results.final) == (1, 0, False)
    assert results.texts is None, "written answers are for staff"
    with pytest.raises(Forbidden):
        read(db, polls.poll_results, viewer_id=other, poll_id=poll_id)


def test_results_after_close(db, cast):
    staff, member, other = cast["staff"], cast["member"], cast["other"]
    poll_id = make_poll(db, staff, results_visibility="after_close")
    north, *_ = option_ids(db, poll_id)
    polls.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[north])
    with pytest.raises(Forbidden, match="after the poll closes"):
        read(db, polls.poll_results, viewer_id=member, poll_id=poll_id)
    assert read(db, polls.poll_results, viewer_id=staff, poll_id=poll_id).member_answers == 1
    polls.close_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id)
    for viewer in (member, other):
        results = read(db, polls.poll_results, viewer_id=viewer, poll_id=poll_id)
        assert results.final and results.options[0].members == 1


def test_results_count_members_and_kiosk_apart(db, cast, community):
    staff = cast["staff"]
    poll_id = make_poll(db, staff, kiosk_enabled=True, allow_text=True)
    north, south, east = option_ids(db, poll_id)
    polls.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id, choices=[north])
    polls.vote(db.unit_of_work(), member_id=cast["other"], poll_id=poll_id, choices=[south], text="shade")
    for choice in (north, north, east):
        polls.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=polls.new_kiosk_session(),
                           choices=[choice], text="from the bench" if choice == east else None)
    results = read(db, polls.poll_results, viewer_id=staff, poll_id=poll_id)
    assert (results.member_answers, results.kiosk_answers, results.answers) == (2, 3, 5)
    assert [(o.id, o.members, o.kiosk, o.total) for o in results.options] == [
        (north, 1, 2, 3), (south, 1, 0, 1), (east, 0, 1, 1)]
    texts = sorted((t.source, t.text) for t in results.texts)
    assert texts == [("kiosk", "from the bench"), ("member", "shade")]
    listed = read(db, polls.list_polls, viewer_id=staff)
    assert [(v.poll.id, v.answers) for v in listed] == [(poll_id, 5)]


def test_members_see_open_and_closed_polls_staff_see_all(db, cast):
    staff, member = cast["staff"], cast["member"]
    scheduled = make_poll(db, staff, opens_at=later(days=1), closes_at=later(days=2))
    open_ = make_poll(db, staff)
    closed = make_poll(db, staff)
    polls.close_poll(db.unit_of_work(), actor_id=staff, poll_id=closed)
    mine = {v.poll.id: v.state.value for v in read(db, polls.list_polls, viewer_id=member)}
    assert mine == {open_: "open", closed: "closed"}
    every = {v.poll.id for v in read(db, polls.list_polls, viewer_id=staff)}
    assert every == {scheduled, open_, closed}
    only_open = read(db, polls.list_polls, viewer_id=member, state="open")
    assert [v.poll.id for v in only_open] == [open_]
    with pytest.raises(InvalidInput, match="state must be"):
        read(db, polls.list_polls, viewer_id=member, state="everything")


# --- points ---------------------------------------------------------------------------


def test_voting_awards_the_polls_points_once(db, cast):
    staff, member = cast["staff"], cast["member"]
    poll_id = make_poll(db, staff, points=7)
    north, south, _ = option_ids(db, poll_id)
    uow = db.unit_of_work()
    polls.vote(uow, member_id=member, poll_id=poll_id, choices=[north])
    assert LedgerChanged((member,)) in uow.events
    with pytest.raises(Conflict):
        polls.vote(db.unit_of_work(), member_id=member, poll_id=poll_id, choices=[south])
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
    polls.vote(uow, member_id=member, poll_id=free, choices=option_ids(db, free)[:1])
    assert uow.events == []
    paid = make_poll(db, staff, points=9, kiosk_enabled=True)
    polls.kiosk_answer(db.unit_of_work(), poll_id=paid, kiosk_session=polls.new_kiosk_session(),
                       choices=option_ids(db, paid)[:1])
    with db.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_vote_and_points_commit_together(db, cast, monkeypatch):
    poll_id = make_poll(db, cast["staff"], points=3)

    def broken(*args, **kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(polls.scoring, "record_awards", broken)
    with pytest.raises(RuntimeError):
        polls.vote(db.unit_of_work(), member_id=cast["member"], poll_id=poll_id,
                   choices=option_ids(db, poll_id)[:1])
    assert answers(db, poll_id) == 0


# --- kiosk (service) ------------------------------------------------------------------


def test_kiosk_answers_one_per_kiosk_session(db, cast):
    staff = cast["staff"]
    poll_id = make_poll(db, staff, kiosk_enabled=True)
    no_kiosk = make_poll(db, staff)
    north, *_ = option_ids(db, poll_id)
    first = polls.new_kiosk_session()
    polls.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=first, choices=[north])
    with pytest.raises(Conflict, match="already answered"):
        polls.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=first, choices=[north])
    polls.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=polls.new_kiosk_session(),
                       choices=[north])
    with pytest.raises(NotFound, match="has no kiosk"):
        polls.kiosk_answer(db.unit_of_work(), poll_id=no_kiosk, kiosk_session=polls.new_kiosk_session(),
                           choices=option_ids(db, no_kiosk)[:1])
    for bad in (None, "", "short", "x" * 65, "bad chars ok?!" * 2):
        with pytest.raises(InvalidInput, match="kiosk session"):
            polls.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=bad, choices=[north])
    view = read(db, polls.kiosk_view, poll_id=poll_id, kiosk_session=first)
    assert view.answered and view.results.kiosk_answers == 2
    assert not read(db, polls.kiosk_view, poll_id=poll_id, kiosk_session=None).answered
    polls.close_poll(db.unit_of_work(), actor_id=staff, poll_id=poll_id)
    with pytest.raises(Conflict, match="closed at"):
        polls.kiosk_answer(db.unit_of_work(), poll_id=poll_id, kiosk_session=polls.new_kiosk_session(),
                           choices=[north])
    assert answers(db, poll_id) == 2


# --- web: API -------------------------------------------------------------------------


@pytest.fixture
def people(app_community):
    c = app_community
    return {"staff": c.user(Role.STAFF), "member": c.user(), "other": c.user()}


def bearer(client, app_community, user_id) -> dict:
    credentials = {"email": app_community.email_of(user_id), "password": PASSWORD}
    response = client.post("/api/v1/auth/token", json=credentials)
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def new_poll_body(**overrides) -> dict:
    body = {
        "question": "Where should the new bench go?",
        "options": ["By the linden", "By the playground"],
        "closes_at": later(days=3).isoformat(),
        "kiosk_enabled": True,
    }
    body.update(overrides)
    return body


def test_api_create_poll_roles_and_bad_input(client, app_community, people):
    staff = bearer(client, app_community, people["staff"])
    member = bearer(client, app_community, people["member"])
    assert client.post("/api/v1/polls", json=new_poll_body()).status_code == 401
    refused = client.post("/api/v1/polls", json=new_poll_body(), headers=member)
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    for body, status, fragment in [
        (new_poll_body(options=["one"]), 400, "options"),
        (new_poll_body(closes_at="soon"), 400, "ISO 8601"),
        ({"question": "No options"}, 400, "options"),
        (new_poll_body(process_id=424242), 404, "process"),
    ]:
        response = client.post("/api/v1/polls", json=body, headers=staff)
        assert response.status_code == status and fragment in response.json["message"], response.json
    bad_json = client.post("/api/v1/polls", data="{not json", headers=staff, content_type="application/json")
    assert bad_json.status_code == 400 and bad_json.json["error"] == "invalid_input"
    assert client.post("/api/v1/polls", json=[1], headers=staff).status_code == 400

    created = client.post("/api/v1/polls", json=new_poll_body(points=4), headers=staff)
    assert created.status_code == 201, created.json
    poll = created.json
    assert created.headers["Location"].endswith(f"/api/v1/polls/{poll['id']}")
    assert poll["state"] == "open" and poll["points"] == 4 and poll["answers"] == 0
    assert [o["label"] for o in poll["options"]] == ["By the linden", "By the playground"]
    assert poll["kiosk_url"].endswith(f"/kiosk/{poll['id']}")
    documented = client.get("/api/v1/openapi.json").json["paths"]
    assert "post" in documented["/api/v1/polls/{poll_id}/votes"]
    assert {"get", "post"} <= set(documented["/api/v1/polls"])


def test_api_vote_and_results_status_codes(app, client, app_community, people):
    staff = bearer(client, app_community, people["staff"])
    member = bearer(client, app_community, people["member"])
    other = bearer(client, app_community, people["other"])
    poll = client.post("/api/v1/polls", json=new_poll_body(points=2), headers=staff).json
    linden, playground = (o["id"] for o in poll["options"])
    url = f"/api/v1/polls/{poll['id']}"

    listed = client.get("/api/v1/polls", headers=member)
    assert listed.status_code == 200 and [p["id"] for p in listed.json] == [poll["id"]]
    assert client.get("/api/v1/polls?state=bogus", headers=member).status_code == 400
    assert client.get(url, headers=member).json["may_vote"] is True
    assert client.get("/api/v1/polls/999999", headers=member).status_code == 404
    assert client.get(url).status_code == 401

    hidden = client.get(f"{url}/results", headers=member)
    assert hidden.status_code == 403 and "vote" in hidden.json["message"]
    for bad in ({"choices": [linden, playground]}, {"choices": ["linden"]}, {},
                {"choices": [linden], "text": "hi"}, {"choices": [424242]}):
        refused = client.post(f"{url}/votes", json=bad, headers=member)
        assert refused.status_code == 400 and refused.json["error"] == "invalid_input", bad
    voted = client.post(f"{url}/votes", json={"choices": [linden]}, headers=member)
    assert voted.status_code == 201 and voted.json["poll_id"] == poll["id"]
    again = client.post(f"{url}/votes", json={"choices": [playground]}, headers=member)
    assert again.status_code == 409 and "already voted" in again.json["message"]
    shown = client.get(f"{url}/results", headers=member)
    assert shown.status_code == 200
    assert shown.json["answers"] == {"members": 1, "kiosk": 0, "total": 1}
    assert shown.json["options"][0] == {"id": linden, "label": "By the linden", "members": 1, "kiosk": 0,
                                        "total": 1}
    assert "texts" not in shown.json
    assert client.get(url, headers=member).json["my_choices"] == [linden]

    entries = poll_entries(app.extensions["kopa.db"], people["member"])
    assert [(e.points, e.cause, e.rule_id, e.rule_version) for e in entries] == [
        (2, "poll", "poll-points", 1)]

    assert client.post(f"{url}/close", headers=member).status_code == 403
    assert client.post(f"{url}/close", headers=staff).json["state"] == "closed"
    assert client.post(f"{url}/close", headers=staff).status_code == 409
    late = client.post(f"{url}/votes", json={"choices": [linden]}, headers=other)
    assert late.status_code == 409 and "closed" in late.json["message"]


# --- web: pages -----------------------------------------------------------------------


def login(client, app_community, user_id):
    page = client.get("/login")
    response = client.post("/login", data={"email": app_community.email_of(user_id), "password": PASSWORD,
                                           "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 302


def test_member_pages_list_vote_and_results(app, client, auth, app_community, people):
    db = app.extensions["kopa.db"]
    poll_id = make_poll(db, people["staff"], allow_text=True)
    later_poll = make_poll(db, people["staff"], results_visibility="after_close", question="Open on Sundays?")
    north, south, _ = option_ids(db, poll_id)
    assert client.get("/polls").status_code == 302, "members only"
    login(client, app_community, people["member"])
    listing = client.get("/polls").get_data(as_text=True)
    assert "Which courtyard gets planters first?" in listing and "Open on Sundays?" in listing

    page = client.get(f"/polls/{poll_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="choice"' in html and "once you have voted" in html
    token = auth.csrf(f"/polls/{poll_id}")
    bad = client.post(f"/polls/{poll_id}", data={"choice": [north, south], "csrf_token": token})
    assert bad.status_code == 400 and "exactly one" in bad.get_data(as_text=True)
    no_token = client.post(f"/polls/{poll_id}", data={"choice": north})
    assert no_token.status_code == 400
    voted = client.post(f"/polls/{poll_id}", data={"choice": north, "text": "Shade", "csrf_token": token})
    assert voted.status_code == 303
    html = client.get(f"/polls/{poll_id}").get_data(as_text=True)
    assert "You voted for" in html and "Results so far" in html
    again = client.post(f"/polls/{poll_id}", data={"choice": south, "csrf_token": token})
    assert again.status_code == 409 and "already voted" in again.get_data(as_text=True)
    assert "Results so far" in client.get(f"/polls/{poll_id}/results").get_data(as_text=True)

    hidden = client.get(f"/polls/{later_poll}/results")
    assert hidden.status_code == 200 and "after the poll closes" in hidden.get_data(as_text=True)
    assert client.get("/staff/polls").status_code == 403
    assert client.post("/staff/polls/new", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/staff/polls/{poll_id}/close", data={"csrf_token": token}).status_code == 403
    assert client.get("/polls/424242").status_code == 404


def test_staff_pages_create_edit_and_close(app, client, auth, app_community, people):

    db = app.extensions["kopa.db"]
    process_id = processes.create_process(db.unit_of_work(), actor_id=people["staff"], title="Courtyards")
    login(client, app_community, people["staff"])
    assert client.get("/staff/polls").status_code == 200
    form_page = client.get("/staff/polls/new")
    assert form_page.status_code == 200 and "Courtyards" in form_page.get_data(as_text=True)
    token = auth.csrf("/staff/polls/new")
    fields = {
        "question": "Which tree species?", "options": "Linden\r\nMaple\r\nOak\r\n", "kind": "multiple",
        "max_choices": "2", "process_id": str(process_id), "results_visibility": "after_close",
        "opens_at": later(days=1).strftime(MINUTE), "closes_at": later(days=5).strftime(MINUTE),
        "points": "3", "kiosk_enabled": "y", "csrf_token": token,
    }
    past = {"closes_at": later(days=-1).strftime(MINUTE), "opens_at": ""}
    refused = client.post("/staff/polls/new", data={**fields, **past})
    assert refused.status_code == 400 and "closes_at must be" in refused.get_data(as_text=True)
    created = client.post("/staff/polls/new", data=fields)
    assert created.status_code == 303
    with db.read_sessions() as session:
        poll = session.scalars(select(Poll)).one()
        assert (poll.kind, poll.max_choices, poll.process_id, poll.points, poll.kiosk_enabled) == (
            "multiple", 2, process_id, 3, True)
        assert [o.label for o in poll.options] == ["Linden", "Maple", "Oak"]
    edit_page = client.get(f"/staff/polls/{poll.id}/edit")
    assert edit_page.status_code == 200 and "Linden\nMaple\nOak" in edit_page.get_data(as_text=True)
    edited = client.post(f"/staff/polls/{poll.id}/edit", data={**fields, "question": "Which trees?"})
    assert edited.status_code == 303
    staff_list = client.get("/staff/polls").get_data(as_text=True)
    assert "Which trees?" in staff_list and "scheduled" in staff_list
    assert client.post(f"/staff/polls/{poll.id}/close", data={"csrf_token": token}).status_code == 303
    with db.read_sessions() as session:
        assert session.get(Poll, poll.id).state().value == "closed"
    too_late = client.post(f"/staff/polls/{poll.id}/edit", data={**fields, "question": "Again?"})
    assert too_late.status_code == 409 and "can only be closed" in too_late.get_data(as_text=True)
    results = client.get(f"/polls/{poll.id}/results").get_data(as_text=True)
    assert "Final results" in results and "Kiosk" in results


# --- kiosk acceptance -------------------------------------------------------------------


def kiosk_post(client, poll_id: int, choice: int):
    token = csrf_token(client.get(f"/kiosk/{poll_id}").get_data(as_text=True))
    return client.post(f"/kiosk/{poll_id}", data={"choice": choice, "csrf_token": token}), token


def test_kiosk_counts_anonymous_answers_apart_one_per_kiosk_session(app, client, app_community, people):
    db = app.extensions["kopa.db"]
    poll_id = make_poll(db, people["staff"], kiosk_enabled=True, points=5)
    north, south, _ = option_ids(db, poll_id)

    screen = client.get(f"/kiosk/{poll_id}")
    html = screen.get_data(as_text=True)
    assert screen.status_code == 200 and "Which courtyard gets planters first?" in html
    assert "kiosk.css" in html and "<script>" not in html, "no inline script"

    answered, token = kiosk_post(client, poll_id, north)
    assert answered.status_code == 303
    thanks = client.get(f"/kiosk/{poll_id}").get_data(as_text=True)
    assert "Thank you!" in thanks and "Next person" in thanks and 'data-reset-after="' in thanks
    second = client.post(f"/kiosk/{poll_id}", data={"choice": south, "csrf_token": token})
    assert second.status_code == 409 and "already answered" in second.get_data(as_text=True)
    assert answers(db, poll_id) == 1

    assert client.post(f"/kiosk/{poll_id}/next", data={"csrf_token": token}).status_code == 303
    assert 'name="choice"' in client.get(f"/kiosk/{poll_id}").get_data(as_text=True)
    answered, _ = kiosk_post(client, poll_id, south)
    assert answered.status_code == 303
    assert client.post(f"/kiosk/{poll_id}/next").status_code == 400, "CSRF applies to kiosk forms"

    passer_by = app.test_client()
    assert kiosk_post(passer_by, poll_id, south)[0].status_code == 303

    member = bearer(client, app_community, people["member"])
    voted = client.post(f"/api/v1/polls/{poll_id}/votes", json={"choices": [north]}, headers=member)
    assert voted.status_code == 201
    staff = bearer(client, app_community, people["staff"])
    results = client.get(f"/api/v1/polls/{poll_id}/results", headers=staff).json
    assert results["answers"] == {"members": 1, "kiosk": 3, "total": 4}
    assert [(o["members"], o["kiosk"]) for o in results["options"]] == [(1, 1), (0, 2), (0, 0)]
    with db.read_sessions() as session:
        assert session.scalar(select(func.sum(LedgerEntry.points))) == 5, "only the member earns points"

    no_kiosk = make_poll(db, people["staff"])
    assert passer_by.get(f"/kiosk/{no_kiosk}").status_code == 404
    assert passer_by.get("/kiosk/99999").status_code == 404


@pytest.fixture
def limited_app(sqlite_url, tmp_path):
    # Flask-Limiter is one global extension that keeps ``enabled`` across apps: say it explicitly.
    app = create_app({
        "TESTING": True, "SECRET_KEY": SECRET, "KOPA_INSTANCE_PATH": str(tmp_path / "instance"),
        "KOPA_DATABASE_URL": sqlite_url, "KOPA_RPC_URL": "http://127.0.0.1:9", "SESSION_COOKIE_SECURE": False,
        "RATELIMIT_ENABLED": True, "KOPA_KIOSK_RATE": "2/minute",
    })
    yield app
    app.extensions["kopa.db"].dispose()


def test_kiosk_rate_limit_returns_429_per_kiosk(limited_app):
    db = limited_app.extensions["kopa.db"]
    staff = Community(db, limited_app.extensions["kopa.vault"]).user(Role.STAFF)
    poll_id = make_poll(db, staff, kiosk_enabled=True)
    other_kiosk = make_poll(db, staff, kiosk_enabled=True)
    north, *_ = option_ids(db, poll_id)

    screens = [limited_app.test_client() for _ in range(3)]  # three people, three sessions
    assert kiosk_post(screens[0], poll_id, north)[0].status_code == 303
    assert kiosk_post(screens[1], poll_id, north)[0].status_code == 303
    flooded, _ = kiosk_post(screens[2], poll_id, north)
    assert flooded.status_code == 429
    assert "Please wait a minute" in flooded.get_data(as_text=True)
    assert answers(db, poll_id) == 2
    assert kiosk_post(screens[2], other_kiosk, option_ids(db, other_kiosk)[0])[0].status_code == 303, (
        "the limit is per kiosk")
    assert screens[2].get(f"/kiosk/{poll_id}").status_code == 200, "showing the screen is not limited"


def test_demo_polls(db, community):
    from community.poll_demo import seed_polls

    accounts = [("staff@kopa.local", Role.STAFF), ("member1@kopa.local", Role.MEMBER),
                ("member2@kopa.local", Role.MEMBER)]
    ids = {email: community.user(role, email=email) for email, role in accounts}
    kiosk_poll, standalone = seed_polls(db, ids, None)
    results = read(db, polls.poll_results, viewer_id=ids["staff@kopa.local"], poll_id=kiosk_poll)
    assert (results.member_answers, results.kiosk_answers) == (2, 3)
    view = read(db, polls.kiosk_view, poll_id=kiosk_poll, kiosk_session=None)
    assert view.state.value == "open" and view.poll.points == 5
    with pytest.raises(NotFound, match="no kiosk"):
        read(db, polls.kiosk_view, poll_id=standalone, kiosk_session=None)
