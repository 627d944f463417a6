"""Leaderboard pages, API and socket namespace (#6) in the Flask app: SQL-free cached API
reads, scopes and periods over HTTP, the board profile, staff freezes, the wall display,
and Socket.IO auth, watch and changed-only pushes."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from community.models import Role, Task
from rewards.standings import BoardKey
from tests.support.community import PASSWORD
from web.boards.live import NAMESPACE
from web.extensions import socketio


@pytest.fixture
def people(app_community):
    c = app_community
    people = c.people(staff=(Role.STAFF, "Stella Staff"), ana="Ana Member", ben="Ben Member")
    return {
        **people,
        "task": c.task(people["staff"], complexity=40),
        "invite_task": c.task(people["staff"], complexity=20, membership="invite"),
    }


def bearer(client, app_community, user_id) -> dict:
    response = client.post("/api/v1/auth/token",
                           json={"email": app_community.email_of(user_id), "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json['token']}"}


def process_of(app, task_id: int) -> int:
    with app.extensions["kopa.db"].read_sessions() as session:
        return session.get(Task, task_id).process_id


def approve(client, app_community, people, member: str, task: str = "task", level: str = "low") -> int:
    headers = bearer(client, app_community, people[member])
    cid = client.post(f"/api/v1/tasks/{people[task]}/contributions", json={"text": "did it"},
                      headers=headers).json["id"]
    staff = bearer(client, app_community, people["staff"])
    response = client.post(f"/api/v1/contributions/{cid}/approve", json={"level": level}, headers=staff)
    assert response.status_code == 200, response.json
    return cid


def test_api_boards_by_scope_and_period_and_cached_reads_run_no_sql(app, client, app_community, people):
    approve(client, app_community, people, "ana")
    pid = process_of(app, people["task"])
    for query in ("", "?period=week", "?period=month", f"?scope=process:{pid}&period=all", "?scope=teams"):
        client.get(f"/api/v1/leaderboard{query}")  # fills the cache
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = app.extensions["kopa.db"].engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get("/api/v1/leaderboard").json == [{"rank": 1, "member": "Ana Member", "points": 40}]
        assert client.get("/api/v1/leaderboard?period=week").json[0]["points"] == 40
        assert client.get("/api/v1/leaderboard?period=month").json[0]["points"] == 40
        process_board = client.get(f"/api/v1/leaderboard?scope=process:{pid}&period=all").json
        assert process_board[0]["member"] == "Ana Member"
        assert client.get("/api/v1/leaderboard?scope=teams").json == []
        assert statements == [], "cached board reads run no SQL"
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert client.get("/api/v1/leaderboard?period=last_week").json == []


@pytest.mark.parametrize(("query", "status"), [
    ("?scope=nowhere", 400), ("?period=decade", 400), ("?dimension=Bad%20Dim", 400),
    ("?dimension=credits", 400), ("?scope=process:987654", 404), ("?scope=team:987654", 404),
])
def test_api_board_bad_input_is_a_clear_4xx(client, query, status):
    response = client.get(f"/api/v1/leaderboard{query}")
    assert response.status_code == status
    assert set(response.json) == {"error", "message"}


def test_invite_only_process_board_is_not_public(app, client, app_community, people):
    pid = process_of(app, people["invite_task"])
    assert client.get(f"/api/v1/leaderboard?scope=process:{pid}").status_code == 403
    staff = bearer(client, app_community, people["staff"])  # created it, so manages it
    assert client.get(f"/api/v1/leaderboard/me?scope=process:{pid}", headers=staff).status_code == 200
    member = bearer(client, app_community, people["ben"])
    assert client.get(f"/api/v1/leaderboard/me?scope=process:{pid}", headers=member).status_code == 403


def test_own_place_and_board_profile_over_the_api(client, app_community, people):
    approve(client, app_community, people, "ana", level="high")
    approve(client, app_community, people, "ben")
    ben = bearer(client, app_community, people["ben"])
    me = client.get("/api/v1/leaderboard/me", headers=ben).json["me"]
    assert me["rank"] == 2 and me["next_place"] == 1 and me["distance"] > 0
    assert client.get("/api/v1/leaderboard/me").status_code == 401

    ana = bearer(client, app_community, people["ana"])
    response = client.put("/api/v1/me/board-profile", json={"opt_out": False, "pseudonym": "Fox"},
                          headers=ana)
    assert response.json == {"opt_out": False, "pseudonym": "Fox"}
    assert [s["member"] for s in client.get("/api/v1/leaderboard").json] == ["Fox", "Ben Member"]
    client.put("/api/v1/me/board-profile", json={"opt_out": True, "pseudonym": None}, headers=ana)
    assert [s["member"] for s in client.get("/api/v1/leaderboard").json] == ["Ben Member"]
    assert client.get("/api/v1/leaderboard/me", headers=ana).json["me"]["rank"] == 1, "still sees own place"
    bad = client.put("/api/v1/me/board-profile", json={"opt_out": "maybe"}, headers=ana)
    assert bad.status_code == 400 and bad.json["error"]
    taken = client.put("/api/v1/me/board-profile", json={"opt_out": False, "pseudonym": "Ben Member"},
                       headers=ana)
    assert taken.status_code == 409


def test_staff_freeze_and_unfreeze_over_the_api(client, app_community, people):
    approve(client, app_community, people, "ana")
    staff = bearer(client, app_community, people["staff"])
    member = bearer(client, app_community, people["ben"])
    body = {"scope": "community", "period": "all"}
    assert client.post("/api/v1/leaderboard/freeze", json=body, headers=member).status_code == 403
    assert client.post("/api/v1/leaderboard/freeze", json=body, headers=staff).status_code == 201
    assert client.post("/api/v1/leaderboard/freeze", json=body, headers=staff).status_code == 409
    approve(client, app_community, people, "ben", level="high")
    assert [s["member"] for s in client.get("/api/v1/leaderboard").json] == ["Ana Member"], "frozen"
    assert client.get("/api/v1/leaderboard?period=month").json[0]["member"] == "Ben Member", "others move"
    assert client.delete("/api/v1/leaderboard/freeze", json=body, headers=staff).status_code == 200
    assert [s["member"] for s in client.get("/api/v1/leaderboard").json] == ["Ben Member", "Ana Member"]


def test_pages_leaderboard_profile_freeze_and_wall(app, client, auth, app_community, people):
    approve(client, app_community, people, "ana")
    page = client.get("/leaderboard?period=week").get_data(as_text=True)
    assert "Ana Member" in page and "This week" in page
    assert client.get("/leaderboard?period=nonsense").status_code == 400

    wall = client.get("/wall")
    assert wall.status_code == 200
    html = wall.get_data(as_text=True)
    assert "Ana Member" in html and "wall.js" in html and "@" not in html.replace("&#64;", "")

    auth.login(app_community.email_of(people["ana"]))
    page = client.get("/leaderboard").get_data(as_text=True)
    assert "Your place" in page and "Freeze this board" not in page
    response = client.post("/profile", data={"pseudonym": "Heron", "opt_out": "y",
                                             "csrf_token": auth.csrf("/profile")})
    assert response.status_code == 302
    assert "Heron" not in client.get("/api/v1/leaderboard").get_data(as_text=True), "opted out"
    bad = client.post("/profile", data={"pseudonym": "Stella Staff", "csrf_token": auth.csrf("/profile")})
    assert bad.status_code == 400 and "already used" in bad.get_data(as_text=True)
    refused = client.post("/leaderboard/freeze", data={"scope": "community", "period": "all",
                                                       "csrf_token": auth.csrf("/leaderboard")})
    assert refused.status_code == 403
    client.post("/logout", data={"csrf_token": auth.csrf("/")})

    auth.login(app_community.email_of(people["staff"]))
    assert "Freeze this board" in client.get("/leaderboard").get_data(as_text=True)
    frozen = client.post("/leaderboard/freeze", data={"scope": "community", "period": "all",
                                                      "csrf_token": auth.csrf("/leaderboard")},
                         follow_redirects=True)
    assert "Board frozen" in frozen.get_data(as_text=True)
    assert "Unfreeze this board" in client.get("/leaderboard").get_data(as_text=True)


def socket_client(app, client=None, **auth):
    return socketio.test_client(app, namespace=NAMESPACE, auth=auth or None, flask_test_client=client)


def updates(sio) -> list[dict]:
    return [m["args"][0] for m in sio.get_received(NAMESPACE) if m["name"] == "leaderboard_updated"]


def test_socket_auth_bad_token_refused_and_wall_watches_public_boards_only(
    app, client, app_community, people
):
    assert not socket_client(app, token="forged").is_connected(NAMESPACE)
    assert not socket_client(app).is_connected(NAMESPACE)
    wall = socket_client(app, wall=True)
    assert wall.is_connected(NAMESPACE)
    invite = process_of(app, people["invite_task"])
    refused = wall.emit("watch", {"scope": f"process:{invite}", "period": "all"}, namespace=NAMESPACE,
                        callback=True)
    assert refused["error"] == "forbidden"
    assert wall.emit("watch", {"scope": "community", "period": "nope"}, namespace=NAMESPACE,
                     callback=True)["error"] == "invalidinput"
    assert updates(wall) == []
    ok = wall.emit("watch", {"scope": "community", "period": "week"}, namespace=NAMESPACE, callback=True)
    assert ok["ok"] is True
    [board] = updates(wall)
    assert set(board) >= {"scope", "period", "top", "version"} and board["period"] == "week"

    token = bearer(client, app_community, people["staff"])["Authorization"].split()[1]
    staff = socket_client(app, token=token)
    assert staff.emit("watch", {"scope": f"process:{invite}", "period": "all"}, namespace=NAMESPACE,
                      callback=True)["ok"] is True
    wall.disconnect(NAMESPACE)
    staff.disconnect(NAMESPACE)


def test_pushes_only_boards_that_changed_to_their_rooms(app, client, app_community, people):
    other_task = app_community.task(people["staff"], complexity=20)
    process_a = process_of(app, people["task"])
    process_b = process_of(app, other_task)
    people["other_task"] = other_task
    watchers = {}
    for scope in ("community", f"process:{process_a}", f"process:{process_b}"):
        sio = socket_client(app, wall=True)
        sio.emit("watch", {"scope": scope, "period": "all"}, namespace=NAMESPACE)
        assert len(updates(sio)) == 1, "the current board at once"
        watchers[scope] = sio

    approve(client, app_community, people, "ana")  # a task in process A
    pushed = {scope: updates(sio) for scope, sio in watchers.items()}
    assert pushed[f"process:{process_b}"] == [], "process B did not change"
    assert [p["top"][0]["member"] for p in pushed["community"]] == ["Ana Member"]
    assert [p["scope"] for p in pushed[f"process:{process_a}"]] == [f"process:{process_a}"]
    assert pushed["community"][0]["version"] > 0

    # A reconnecting client gets the current standings at once.
    watchers["community"].disconnect(NAMESPACE)
    again = socket_client(app, wall=True)
    again.emit("watch", {"scope": "community", "period": "all"}, namespace=NAMESPACE)
    assert updates(again)[0]["top"][0]["points"] == 40
    cache = app.extensions["kopa.standings"]
    assert BoardKey() in cache.watched()
    again.emit("unwatch", {"scope": "community", "period": "all"}, namespace=NAMESPACE)
    assert BoardKey() not in cache.watched(), "nobody watches it: not recomputed after awards"
    for sio in [again, *list(watchers.values())[1:]]:
        sio.disconnect(NAMESPACE)
    assert cache.watched() == set()
