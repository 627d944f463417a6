"""The pages' cost fixes (#8) keep what users see: access checks of a list in one query
give what the one-by-one check gives, cached places move with the ledger, and the wallet
page shows the ledger's figures without asking the chain."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from community import access
from community.models import Permission, Process, Role, User
from community.processes import building, permissions, teamwork
from rewards.ledger import wallet_summary
from tests.support.loyalty import Chain, balance
from tests.support.web import AuthActions, csrf_token


@contextmanager
def _statements(db):
    """The SQL statements run inside the block (a before_cursor_execute listener)."""
    seen: list[str] = []

    def listener(*args) -> None:
        seen.append(args[2])

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


@pytest.fixture
def client(app):
    """Pages rendered every time, as on a hard reload: these tests count what rendering a page
    costs, not what the page cache (web/pagecache.py) saves."""
    client = app.test_client()
    client.environ_base["HTTP_CACHE_CONTROL"] = "no-cache"
    return client


def _process_world(community, db):
    """Processes of every membership with grants on the whole process, on a phase, to a user
    and to a team; returns (users by role name, process ids)."""
    staff = community.user(Role.STAFF)
    other_staff = community.user(Role.STAFF)
    member = community.user()
    teamed = community.user()
    outsider = community.user()
    auditor = community.user(Role.AUDITOR)
    admin = community.user(Role.ADMIN)
    ids = []
    for membership in ("open", "application", "invite", "invite", "invite"):
        ids.append(building.create_process(db.unit_of_work(), actor_id=staff, title=f"P {membership}",
                                           membership=membership))
    team = teamwork.create_team(db.unit_of_work(), actor_id=staff, name="Makers", kind="citizens")
    teamwork.add_team_member(db.unit_of_work(), actor_id=staff, team_id=team,
                             email=community.email_of(teamed))
    _open, application, invite_user, invite_team, invite_phase = ids
    grant = permissions.grant_permission
    grant(db.unit_of_work(), actor_id=staff, process_id=invite_user, permission_name="contribute",
          user_email=community.email_of(member))
    grant(db.unit_of_work(), actor_id=staff, process_id=invite_team, permission_name="view", team_id=team)
    grant(db.unit_of_work(), actor_id=staff, process_id=application, permission_name="manage",
          user_email=community.email_of(other_staff))
    phase = building.add_node(
        db.unit_of_work(), actor_id=staff, kind="phase", parent_id=invite_phase, title="Phase"
    )
    # A grant on a phase gives nothing on the process as a whole.
    grant(db.unit_of_work(), actor_id=staff, process_id=invite_phase, permission_name="view",
          user_email=community.email_of(outsider), node_kind="phase", node_id=phase)
    users = {"staff": staff, "other_staff": other_staff, "member": member, "teamed": teamed,
             "outsider": outsider, "auditor": auditor, "admin": admin}
    return users, ids


def test_process_permissions_of_a_list_equal_the_check_one_by_one_in_one_query(db, community):
    users, ids = _process_world(community, db)
    with db.read_sessions() as session:
        rows = session.scalars(select(Process).where(Process.id.in_(ids)).order_by(Process.id)).all()
        for name, user_id in [("anonymous", None), *users.items()]:
            user = session.get(User, user_id) if user_id is not None else None
            one_by_one = {p.id: access.permission(session, user, access.NodePath(p.id)) for p in rows}
            with _statements(db) as seen:
                batched = access.process_permissions(session, user, rows)
            assert batched == one_by_one, name
            assert len(seen) == (0 if name in ("anonymous", "admin") else 1), (name, seen)
        # The cases are not all alike: the check tells them apart.
        member = session.get(User, users["member"])
        levels = access.process_permissions(session, member, rows)
        assert levels[ids[2]] == Permission.CONTRIBUTE and levels[ids[3]] == 0 and levels[ids[4]] == 0
        teamed = access.process_permissions(session, session.get(User, users["teamed"]), rows)
        assert teamed[ids[3]] == Permission.VIEW and teamed[ids[2]] == 0
        outsider = access.process_permissions(session, session.get(User, users["outsider"]), rows)
        assert outsider[ids[4]] == 0  # the phase grant does not open the whole process
        assert access.process_permissions(session, None, rows)[ids[1]] == Permission.VIEW


def test_visible_processes_is_the_processes_the_user_may_view(db, community):
    users, _ids = _process_world(community, db)
    with db.read_sessions() as session:
        for user_id in [None, *users.values()]:
            user = session.get(User, user_id) if user_id is not None else None
            expected = [p for p in session.scalars(select(Process).order_by(Process.id))
                        if access.can(session, user, Permission.VIEW, access.NodePath(p.id))]
            assert permissions.visible_processes(session, user) == expected


def _login(client, email: str) -> None:
    assert AuthActions(client).login(email).status_code == 302


def test_process_list_runs_a_fixed_number_of_statements(app, app_community, client):
    """One more process adds no statement to /processes (no access walk or tree per process)."""
    db = app.extensions["kopa.db"]
    staff = app_community.user(Role.STAFF)
    member = app_community.user()
    app_community.task(staff)
    _login(client, app_community.email_of(member))
    client.get("/processes")
    with _statements(db) as seen:
        client.get("/processes")
    for _ in range(3):
        app_community.task(staff, membership="application")
    with _statements(db) as more:
        page = client.get("/processes").get_data(as_text=True)
    assert len(more) == len(seen), more
    assert len(re.findall(r'href="/processes/\d+"', page)) == 4


def test_process_page_and_home_run_a_fixed_number_of_statements(app, app_community, client):
    """More phases, objectives, tasks and processes add no statement to a process's page
    (the tree is loaded in three queries) nor to the home page (task counts in one)."""
    db = app.extensions["kopa.db"]
    staff = app_community.user(Role.STAFF)
    member = app_community.user()
    process = building.create_process(db.unit_of_work(), actor_id=staff, title="Grow")
    _login(client, app_community.email_of(member))

    def grow() -> None:
        uow, add = db.unit_of_work, building.add_node
        phase = add(uow(), actor_id=staff, kind="phase", parent_id=process, title="Phase")
        objective = add(uow(), actor_id=staff, kind="objective", parent_id=phase, title="Obj")
        add(uow(), actor_id=staff, kind="task", parent_id=objective, title="Task")
        app_community.task(staff)  # and one more process with a task

    def counted(path: str) -> tuple[int, str]:
        with _statements(db) as seen:
            html = client.get(path).get_data(as_text=True)
        return len(seen), html

    grow()
    client.get(f"/processes/{process}")
    client.get("/")  # the welcome message, and the top five computed into the cache
    small = counted(f"/processes/{process}")[0], counted("/")[0]
    for _ in range(3):
        grow()
    client.get("/")  # new processes' tasks moved no board: the top five is still cached
    page, html = counted(f"/processes/{process}")
    home, home_html = counted("/")
    assert (page, home) == small
    assert html.count("Obj") >= 4 and "4 tasks" in home_html and home_html.count("1 task<") == 4


def _ana_signed_in_behind_ben(app_community, client) -> tuple[int, int, int, int]:
    """Two members with points for one task, Ben's approval worth more; Ana signed in."""
    staff = app_community.user(Role.STAFF)
    ana, ben = app_community.user(), app_community.user()
    task = app_community.task(staff, complexity=20)
    app_community.approved(ana, staff, task)
    app_community.approved(ben, staff, task, level="high")
    _login(client, app_community.email_of(ana))
    return staff, ana, ben, task


@pytest.mark.parametrize("path", ["/leaderboard", "/leaderboard/me.json"])
def test_cached_place_moves_with_the_next_ledger_write(app, app_community, client, path):
    """The member's own place is cached with the boards and dropped with them: an approval
    (the ledger write) shows on the very next view."""
    db = app.extensions["kopa.db"]
    staff, ana, _ben, task = _ana_signed_in_behind_ben(app_community, client)

    def me() -> dict:
        response = client.get("/leaderboard/me.json")
        assert response.status_code == 200
        return response.get_json()["me"]

    def page() -> str:
        return client.get(path).get_data(as_text=True)

    before = me()
    assert before["rank"] == 2 and before["distance"] > 0
    page()
    with _statements(db) as seen:
        page()
    assert not any("board_totals" in s for s in seen), seen  # the place comes from the cache
    # More points for Ana: submitted, then approved by staff through the validation page
    # (the write path a user takes, ending in the one invalidation).
    from community import contributions

    cid = contributions.submit_contribution(db.unit_of_work(), member_id=ana, task_id=task, text="again")
    staff_client = app.test_client()
    _login(staff_client, app_community.email_of(staff))
    queue = staff_client.get("/validation").get_data(as_text=True)
    token = csrf_token(queue)
    approved = staff_client.post(f"/contributions/{cid}/approve", data={"csrf_token": token, "level": "high"})
    assert approved.status_code == 302
    after = me()
    assert after["points"] > before["points"]
    assert after["rank"] == 1
    if path == "/leaderboard":
        assert f"Your place: <strong>1</strong> of 2 with {after['points']} points" in page()


def test_wallet_page_shows_the_ledger_figures_without_a_chain_call(app, app_community, client, monkeypatch,
                                                                   anvil):
    """The figures are wallet_summary's (what the live push sends) and a view never calls the
    node; once the relay has delivered, "On chain" is what balanceOf says (read with cast)."""

    chain = Chain(app.extensions["kopa.db"], app.extensions["kopa.vault"], anvil.url)
    staff = app_community.user(Role.STAFF)
    member = app_community.user()
    task = app_community.task(staff, complexity=40)
    app_community.approved(member, staff, task)
    _login(client, app_community.email_of(member))
    db = app.extensions["kopa.db"]
    with db.read_sessions() as session:
        figures = wallet_summary(session, member)
    assert figures["points"] == 40 and figures["pending_mint"] == 40 and figures["on_chain"] == 0
    client.get("/")  # the welcome message is shown (and gone)
    from rewards.chain.reader import ChainReader

    def no_chain(*_args, **_kwargs):
        pytest.fail("the wallet page asked the chain")

    monkeypatch.setattr(ChainReader, "balance_of", no_chain)
    monkeypatch.setattr(ChainReader, "chain_id", no_chain)
    html = client.get("/wallet").get_data(as_text=True)

    def field(name: str) -> str:
        return re.search(rf'data-field="{name}">([^<]*)<', html).group(1)

    assert field("points") == "40" and field("pending_mint") == "40" and field("on_chain") == "0"
    assert field("pending_burn") == "0"
    chain.drain()  # the relay delivers the mint and records it
    html = client.get("/wallet").get_data(as_text=True)
    address = re.search(r"<code>(0x[0-9a-fA-F]{40})</code>", html).group(1)
    assert field("on_chain") == str(balance(anvil.url, chain.credits, address)) == "40"
    assert field("pending_mint") == "0" and field("points") == "40"


def test_team_board_place_follows_a_membership_change(app, app_community, client):
    """A team's board (and the places on it) are cached; adding a member through the team page
    publishes the one invalidation, so the next view ranks the newcomer."""
    *_, ben, _task = _ana_signed_in_behind_ben(app_community, client)
    page = client.get("/teams").get_data(as_text=True)
    token = csrf_token(page)
    created = client.post("/teams", data={"csrf_token": token, "name": "Bakers", "kind": "citizens"})
    assert created.status_code == 302
    team_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    scope = f"team:{team_id}"

    def me() -> dict:
        return client.get(f"/leaderboard/me.json?scope={scope}").get_json()["me"]

    assert me()["rank"] == 1 and me()["of"] == 1  # cached now
    added = client.post(f"/teams/{team_id}/members",
                        data={"csrf_token": token, "email": app_community.email_of(ben)})
    assert added.status_code == 302
    assert me()["rank"] == 2 and me()["of"] == 2
    board = client.get(f"/leaderboard?scope={scope}").get_data(as_text=True)
    assert "of 2 with" in board
