"""Leaderboards (#6) on SQLite and PostgreSQL: periods, scopes, dimensions, ties, opt-out,
pseudonyms, freezes, revocation, the viewer's own place and SQL-free cached reads."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import event

from community import contributions
from community.db import utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.models import Role
from community.processes import teamwork
from rewards.boards import freeze_board, unfreeze_board, update_board_profile
from rewards.ledger import SPENDING, record_entry
from rewards.standings import BoardKey, StandingsCache, compute_board, compute_rows, place, window
from tests.support.community import SECRET, Community
from web import bootstrap


def award(db, member_id: int, points: int, dimension: str = "participation") -> None:
    with db.write_sessions() as session:
        record_entry(session, member_id=member_id, points=points, cause="test",
                     source_key=f"test:{uuid.uuid4().hex}", rule=("test", 1), dimension=dimension)
        session.commit()


def names(db, key: BoardKey, now: dt.datetime | None = None) -> list[tuple[str, int]]:
    with db.read_sessions() as session:
        return [(s.member, s.points) for s in compute_board(session, key, now).standings()]


def _people(community) -> dict[str, int]:
    return community.people(staff=(Role.STAFF, "Staff"), Ana="Ana", Ben="Ben", Cleo="Cleo", Dan="Dan")


@pytest.fixture
def people(community):
    return _people(community)


# The queries run on both databases; the rest of the logic is database-blind and runs on
# SQLite only, to keep the suite quick.
@pytest.fixture
def sdb(sqlite_url):
    database = bootstrap.database(sqlite_url, secret_key=SECRET)
    yield database
    database.dispose()


@pytest.fixture
def scommunity(sdb, vault):
    return Community(sdb, vault)


@pytest.fixture
def speople(scommunity):
    return _people(scommunity)


def test_ties_go_to_who_reached_the_score_first_and_spending_never_counts(db, people):
    award(db, people["Ben"], 30)
    award(db, people["Ana"], 10)
    award(db, people["Ana"], 20)  # Ana reaches 30 after Ben did
    award(db, people["Cleo"], 40)
    award(db, people["Cleo"], -15, dimension=SPENDING)  # spending credits is no lost standing
    assert names(db, BoardKey()) == [("Cleo", 40), ("Ben", 30), ("Ana", 30)]


def test_periods_this_week_month_all_and_last_periods_winners(db, people):
    award(db, people["Ana"], 10)
    award(db, people["Ben"], 5)
    now = utcnow()
    assert names(db, BoardKey(period="week"), now) == [("Ana", 10), ("Ben", 5)]
    assert names(db, BoardKey(period="month"), now) == [("Ana", 10), ("Ben", 5)]
    assert names(db, BoardKey(period="last_week"), now) == []
    # Seen from next week and next month, today's entries are last period's winners.
    next_week = now + dt.timedelta(days=7)
    assert names(db, BoardKey(period="week"), next_week) == []
    assert names(db, BoardKey(period="last_week"), next_week) == [("Ana", 10), ("Ben", 5)]
    next_month = window("month", now)[0] + dt.timedelta(days=40)
    assert names(db, BoardKey(period="month"), next_month) == []
    assert names(db, BoardKey(period="last_month"), next_month) == [("Ana", 10), ("Ben", 5)]
    assert names(db, BoardKey(period="all"), next_month) == [("Ana", 10), ("Ben", 5)]


def test_windows_start_on_monday_and_the_first_of_the_month():
    wednesday = dt.datetime(2026, 11, 18, 15, 30, tzinfo=dt.UTC)
    assert window("week", wednesday) == (dt.datetime(2026, 11, 16, tzinfo=dt.UTC), None)
    assert window("last_week", wednesday) == (dt.datetime(2026, 11, 9, tzinfo=dt.UTC),
                                              dt.datetime(2026, 11, 16, tzinfo=dt.UTC))
    assert window("last_month", dt.datetime(2026, 1, 5, tzinfo=dt.UTC)) == (
        dt.datetime(2025, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_dimension_filter(sdb, speople):
    award(sdb, speople["Ana"], 10, dimension="participation")
    award(sdb, speople["Ben"], 25, dimension="impact")
    assert names(sdb, BoardKey(dimension="impact")) == [("Ben", 25)]
    assert names(sdb, BoardKey(dimension="participation")) == [("Ana", 10)]
    assert names(sdb, BoardKey()) == [("Ben", 25), ("Ana", 10)]
    with pytest.raises(InvalidInput):
        BoardKey.parse("scommunity", "all", SPENDING)


def test_process_scope_counts_only_that_process_and_revocation_moves_a_member_down(db, community, people):
    staff = people["staff"]
    task_a = community.task(staff, complexity=40)
    task_b = community.task(staff, complexity=20)
    cid = community.approved(people["Ana"], staff, task_a)
    community.approved(people["Ben"], staff, task_a, level="low")
    community.approved(people["Ben"], staff, task_b)
    with db.read_sessions() as session:
        from community.models import Task
        process_a = session.get(Task, task_a).process_id
        process_b = session.get(Task, task_b).process_id
    # Ana first (same 40 points, reached first); Ben's other 20 count on B and community only.
    assert names(db, BoardKey(f"process:{process_a}")) == [("Ana", 40), ("Ben", 40)]
    assert names(db, BoardKey(f"process:{process_b}")) == [("Ben", 20)]
    assert names(db, BoardKey(f"process:{process_b}", "week")) == [("Ben", 20)]
    assert names(db, BoardKey(f"process:{process_b}", "last_month")) == []
    assert names(db, BoardKey()) == [("Ben", 60), ("Ana", 40)]

    contributions.revoke_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                      comment="evidence was someone else's")
    assert names(db, BoardKey(f"process:{process_a}")) == [("Ben", 40)]
    assert names(db, BoardKey()) == [("Ben", 60)]
    with pytest.raises(NotFound):
        names(db, BoardKey("process:999999"))


def test_team_scope_and_teams_against_teams(db, community, people):
    red = teamwork.create_team(db.unit_of_work(), actor_id=people["Ana"], name="Red", kind="citizens")
    blue = teamwork.create_team(db.unit_of_work(), actor_id=people["Cleo"], name="Blue", kind="non_profit")
    teamwork.add_team_member(db.unit_of_work(), actor_id=people["Ana"], team_id=red,
                             email=community.email_of(people["Ben"]))
    award(db, people["Ana"], 10)
    award(db, people["Ben"], 15)
    award(db, people["Cleo"], 20)
    award(db, people["Dan"], 99)  # in no team
    assert names(db, BoardKey(f"team:{red}")) == [("Ben", 15), ("Ana", 10)]
    assert names(db, BoardKey(f"team:{blue}")) == [("Cleo", 20)]
    assert names(db, BoardKey("teams")) == [("Red", 25), ("Blue", 20)]
    # The ledger-summed scopes honour periods too.
    assert names(db, BoardKey(f"team:{red}", "week")) == [("Ben", 15), ("Ana", 10)]
    assert names(db, BoardKey("teams", "month")) == [("Red", 25), ("Blue", 20)]
    assert names(db, BoardKey("teams", "last_week")) == []
    next_week = utcnow() + dt.timedelta(days=7)
    assert names(db, BoardKey(f"team:{red}", "week"), next_week) == []
    assert names(db, BoardKey(f"team:{red}", "last_week"), next_week) == [("Ben", 15), ("Ana", 10)]


def test_opt_out_hides_from_others_but_not_from_themself_and_pseudonyms_replace_names(sdb, speople):
    award(sdb, speople["Ana"], 30)
    award(sdb, speople["Ben"], 20)
    award(sdb, speople["Cleo"], 10)
    update_board_profile(sdb.unit_of_work(), member_id=speople["Ana"], opt_out=True, pseudonym=None)
    update_board_profile(sdb.unit_of_work(), member_id=speople["Cleo"], opt_out=False, pseudonym="Owl")
    with sdb.read_sessions() as session:
        board = compute_board(session, BoardKey())
        ana = place(session, BoardKey(), speople["Ana"])
        cleo = place(session, BoardKey(), speople["Cleo"])
        in_process = place(session, BoardKey("process:1"), speople["Cleo"])
    assert [(s.rank, s.member) for s in board.standings()] == [(1, "Ben"), (2, "Owl")]
    assert "Cleo" not in json.dumps(board.top()) and "Ana" not in json.dumps(board.top())
    assert ana == {"rank": 1, "points": 30, "of": 3, "next_place": None, "distance": 0}, "sees own place"
    assert cleo == {"rank": 2, "points": 10, "of": 2, "next_place": 1, "distance": 11}
    assert in_process is None
    with pytest.raises(Conflict):  # nobody may pose as another member
        update_board_profile(sdb.unit_of_work(), member_id=speople["Dan"], opt_out=False, pseudonym="ben")
    with pytest.raises(InvalidInput):
        update_board_profile(sdb.unit_of_work(), member_id=speople["Dan"], opt_out="yes", pseudonym=None)
    with pytest.raises(InvalidInput):
        update_board_profile(sdb.unit_of_work(), member_id=speople["Dan"], opt_out=False, pseudonym="x" * 41)


def test_own_rank_and_distance_outside_the_top_n(sdb, scommunity):
    members = [scommunity.user(name=f"M{i:02d}") for i in range(25)]
    for points, member in enumerate(members, start=1):
        award(sdb, member, points * 2)
    with sdb.read_sessions() as session:
        board = compute_board(session, BoardKey())
        mine = place(session, BoardKey(), members[0])  # 2 points; place 24 has 4 points
        first = place(session, BoardKey(), members[-1])
    assert len(board.top()) == 20
    assert mine == {"rank": 25, "points": 2, "of": 25, "next_place": 24, "distance": 3}
    assert first == {"rank": 1, "points": 50, "of": 25, "next_place": None, "distance": 0}


def test_freeze_shows_the_snapshot_while_counting_continues(sdb, speople):
    award(sdb, speople["Ana"], 10)
    cache = StandingsCache(sdb.read_sessions)
    key = BoardKey()
    with pytest.raises(Forbidden):
        freeze_board(sdb.unit_of_work(), actor_id=speople["Ben"], key=key)
    freeze_board(sdb.unit_of_work(), actor_id=speople["staff"], key=key)
    with pytest.raises(Conflict):
        freeze_board(sdb.unit_of_work(), actor_id=speople["staff"], key=key)
    award(sdb, speople["Ben"], 50)
    cache.invalidate()
    board = cache.board(key)
    assert [(s.member, s.points) for s in board.standings()] == [("Ana", 10)]
    assert board.frozen_at is not None
    assert [(s.member, s.points) for s in board.standings(live=True)] == [("Ben", 50), ("Ana", 10)]
    assert cache.board(BoardKey(period="week")).frozen_at is None  # other boards keep moving
    update_board_profile(sdb.unit_of_work(), member_id=speople["Ana"], opt_out=True, pseudonym=None)
    cache.invalidate()
    assert cache.board(key).standings() == [], "an opt-out also leaves the frozen snapshot"
    update_board_profile(sdb.unit_of_work(), member_id=speople["Ana"], opt_out=False, pseudonym="Lynx")
    cache.invalidate()
    assert [(s.member, s.points) for s in cache.board(key).standings()] == [("Lynx", 10)]
    unfreeze_board(sdb.unit_of_work(), actor_id=speople["staff"], key=key)
    cache.invalidate()
    assert [(s.member, s.points) for s in cache.board(key).standings()] == [("Ben", 50), ("Lynx", 10)]
    with pytest.raises(NotFound):
        unfreeze_board(sdb.unit_of_work(), actor_id=speople["staff"], key=key)


def test_cached_board_reads_run_no_sql_and_invalidation_recomputes(sdb, speople):
    award(sdb, speople["Ana"], 10)
    cache = StandingsCache(sdb.read_sessions)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(sdb.engine, "before_cursor_execute", record)
    try:
        keys = [BoardKey(), BoardKey(period="week"), BoardKey("teams", "month")]
        for key in keys:
            cache.board(key)
        assert statements, "a miss computes from the ledger"
        statements.clear()
        for key in keys * 3:
            cache.board(key)
        assert statements == []
        award(sdb, speople["Ben"], 20)
        version = cache.version
        assert cache.invalidate() == version + 1
        statements.clear()
        assert [s.member for s in cache.board(BoardKey()).standings()] == ["Ben", "Ana"]
        assert statements
    finally:
        event.remove(sdb.engine, "before_cursor_execute", record)


def test_board_keys_refuse_bad_input():
    for scope, period in [("everyone", "all"), ("process:abc", "all"), ("community", "year"),
                          ("process:0", "all"), ("team:1;drop", "week")]:
        with pytest.raises(InvalidInput):
            BoardKey.parse(scope, period)
    assert BoardKey.parse(None, None) == BoardKey("community", "all")
    key = BoardKey("team:3", "week", "impact")
    assert BoardKey.from_room(key.room) == key


def test_compute_rows_excludes_members_at_zero(sdb, speople):
    award(sdb, speople["Ana"], 10)
    award(sdb, speople["Ana"], -10)
    with sdb.read_sessions() as session:
        assert compute_rows(session, BoardKey()) == []


def test_trigger_kept_totals_equal_the_ledger_sums(db, community, people):
    """board_totals (migration 0010) against a direct sum over the ledger, revocation included."""
    from sqlalchemy import func, select

    from rewards.models import BoardTotal, LedgerEntry

    staff = people["staff"]
    task = community.task(staff, complexity=40)
    cid = community.approved(people["Ana"], staff, task)
    award(db, people["Ana"], 7, dimension="impact")
    award(db, people["Ben"], 5)
    award(db, people["Ben"], 9, dimension=SPENDING)
    contributions.revoke_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                      comment="wrong")
    now = utcnow()
    with db.read_sessions() as session:
        dimensions = (("*", LedgerEntry.dimension != SPENDING), ("impact", LedgerEntry.dimension == "impact"))
        for dimension, where in dimensions:
            ledger = dict(session.execute(select(LedgerEntry.member_id, func.sum(LedgerEntry.points))
                                          .where(where).group_by(LedgerEntry.member_id)).all())
            for bucket in ("all", f"w{window('week', now)[0].date()}", f"m{window('month', now)[0].date()}"):
                totals = dict(session.execute(select(BoardTotal.member_id, BoardTotal.points).where(
                    BoardTotal.bucket == bucket, BoardTotal.dimension == dimension)).all())
                assert totals == ledger, (bucket, dimension)
        assert session.scalar(select(func.count()).select_from(BoardTotal).where(
            BoardTotal.dimension == SPENDING)) == 0
    assert names(db, BoardKey()) == [("Ana", 7), ("Ben", 5)]


def test_trigger_kept_process_totals_equal_the_ledger_sums(db, community, people):
    """process_board_totals (migration 0012) against a sum over the ledger through
    contributions and tasks, in two processes, revocation included; awards without a
    contribution count on no process board."""
    from sqlalchemy import func, select

    from community.models import Contribution, Task
    from rewards.models import LedgerEntry, ProcessBoardTotal

    staff = people["staff"]
    task_a, task_b = community.task(staff, complexity=40), community.task(staff, complexity=20)
    revoked = community.approved(people["Ana"], staff, task_a)
    community.approved(people["Ben"], staff, task_a)
    community.approved(people["Ana"], staff, task_b, level="high")
    award(db, people["Ben"], 11)  # no contribution
    contributions.revoke_contribution(db.unit_of_work(), validator_id=staff, contribution_id=revoked,
                                      comment="no")
    now = utcnow()
    with db.read_sessions() as session:
        ledger = session.execute(
            select(Task.process_id, LedgerEntry.member_id, func.sum(LedgerEntry.points))
            .join(Contribution, Contribution.id == LedgerEntry.contribution_id)
            .join(Task, Task.id == Contribution.task_id)
            .where(LedgerEntry.dimension != SPENDING)
            .group_by(Task.process_id, LedgerEntry.member_id)
        ).all()
        expected = {(p, m): int(total) for p, m, total in ledger}
        assert len({p for p, _ in expected}) == 2
        for bucket in ("all", f"w{window('week', now)[0].date()}", f"m{window('month', now)[0].date()}"):
            totals = {(p, m): points for p, m, points in session.execute(
                select(ProcessBoardTotal.process_id, ProcessBoardTotal.member_id, ProcessBoardTotal.points)
                .where(ProcessBoardTotal.bucket == bucket, ProcessBoardTotal.dimension == "*"))}
            assert totals == expected, bucket
