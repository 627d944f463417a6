"""Pages and API through the Flask test client: roles, CSRF, bad input, error shapes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from community.models import Contribution, Role, User
from rewards.chain.keys import address_of
from rewards.models import LedgerEntry, Wallet
from tests.support.community import PASSWORD, Community


@pytest.fixture
def people(app_community):
    c = app_community
    staff = c.user(Role.STAFF)
    return {
        "staff": staff,
        "member": c.user(),
        "other": c.user(),
        "auditor": c.user(Role.AUDITOR),
        "admin": c.user(Role.ADMIN),
        "task": c.task(staff, complexity=40),
    }


def token_for(client, app_community, user_id) -> dict:
    email = app_community.email_of(user_id)
    response = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def count(app, model) -> int:
    with app.extensions["kopa.db"].read_sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


# --- accounts ----------------------------------------------------------------------------


def test_register_creates_member_with_encrypted_custodial_wallet(app, client, auth):
    token = auth.csrf("/register")
    response = client.post(
        "/register",
        data={"display_name": "Dace", "email": "Dace@Example.org", "password": "long enough pw",
              "csrf_token": token},
    )
    assert response.status_code == 302
    with app.extensions["kopa.db"].read_sessions() as session:
        user = session.scalars(select(User).where(User.email == "dace@example.org")).one()
        assert user.role == "member"
        assert user.password_hash.startswith("$argon2id$")
        wallet = session.scalars(select(Wallet).where(Wallet.user_id == user.id)).one()
    key = app.extensions["kopa.vault"].decrypt(wallet.encrypted_key, wallet.address)
    assert address_of(key) == wallet.address
    assert key.hex() not in wallet.encrypted_key.hex()
    assert client.get("/wallet").status_code == 200


def test_register_form_errors_keep_the_user_on_the_page(client, auth, people, app_community):
    token = auth.csrf("/register")
    taken = app_community.email_of(people["member"])
    response = client.post(
        "/register", data={"display_name": "X", "email": taken, "password": "long enough pw",
                           "csrf_token": token})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    response = client.post(
        "/register", data={"display_name": "X", "email": "x@example.org", "password": "short",
                           "csrf_token": token})
    assert response.status_code == 400
    assert "at least 10" in response.get_data(as_text=True)


def test_login_rotates_session_and_sets_cookie_flags(app, client, auth, people, app_community):
    response = auth.login(app_community.email_of(people["member"]))
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    bad = auth.login(app_community.email_of(people["member"]), "wrong password!")
    assert bad.status_code == 400
    assert "wrong email or password" in bad.get_data(as_text=True)


def test_session_cookie_is_secure_outside_debug(tmp_path, sqlite_url):
    from web import create_app

    app = create_app({"KOPA_INSTANCE_PATH": str(tmp_path), "KOPA_DATABASE_URL": sqlite_url,
                      "SECRET_KEY": "x"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    debug = create_app({"KOPA_INSTANCE_PATH": str(tmp_path), "KOPA_DATABASE_URL": sqlite_url,
                        "SECRET_KEY": "x", "DEBUG": True})
    assert debug.config["SESSION_COOKIE_SECURE"] is False


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, sqlite_url, monkeypatch):
    from web import create_app

    monkeypatch.delenv("KOPA_SECRET_KEY", raising=False)
    first = create_app({"KOPA_INSTANCE_PATH": str(tmp_path), "KOPA_DATABASE_URL": sqlite_url})
    second = create_app({"KOPA_INSTANCE_PATH": str(tmp_path), "KOPA_DATABASE_URL": sqlite_url})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_form_posts_without_csrf_token_get_400(client, auth, people, app_community):
    auth.login(app_community.email_of(people["staff"]))
    for path in ("/logout", f"/tasks/{people['task']}", "/contributions/1/approve", "/login"):
        response = client.post(path, data={"text": "x", "comment": "y"})
        assert response.status_code == 400, path
        assert "form has expired or was forged" in response.get_data(as_text=True)


# --- pages: roles --------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client):
    for path in ("/wallet", "/contributions", "/validation", "/admin/users"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_member_cannot_open_staff_or_admin_pages(client, auth, people, app_community):
    auth.login(app_community.email_of(people["member"]))
    assert client.get("/validation").status_code == 403
    assert client.get("/admin/users").status_code == 403
    token = auth.csrf("/wallet")
    response = client.post("/contributions/1/approve", data={"csrf_token": token})
    assert response.status_code == 403


def test_page_flow_submit_then_staff_approves(app, client, auth, people, app_community):
    auth.login(app_community.email_of(people["member"]))
    task_path = f"/tasks/{people['task']}"
    response = client.post(task_path, data={"text": "I mapped the yard", "csrf_token": auth.csrf(task_path)})
    assert response.status_code == 302
    assert "pending" in client.get("/contributions").get_data(as_text=True)
    empty = client.post(task_path, data={"text": "  ", "csrf_token": auth.csrf(task_path)})
    assert empty.status_code == 400 and "This field is required" in empty.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": auth.csrf("/")})

    auth.login(app_community.email_of(people["staff"]))
    queue = client.get("/validation").get_data(as_text=True)
    assert "I mapped the yard" in queue
    with app.extensions["kopa.db"].read_sessions() as session:
        cid = session.scalars(select(Contribution.id)).one()
    response = client.post(f"/contributions/{cid}/approve", data={"csrf_token": auth.csrf("/validation")})
    assert response.status_code == 302
    again = client.post(f"/contributions/{cid}/approve", data={"csrf_token": auth.csrf("/validation")},
                        follow_redirects=True)
    assert "is approved; approval needs it pending" in again.get_data(as_text=True)
    assert count(app, LedgerEntry) == 1
    board = client.get("/leaderboard").get_data(as_text=True)
    assert "120" in board  # complexity 40 × level high (the only contribution: the whole share)


def test_admin_assigns_roles_and_others_cannot(app, client, auth, people, app_community):
    auth.login(app_community.email_of(people["staff"]))
    response = client.post(f"/admin/users/{people['member']}/role",
                           data={"role": "staff", "csrf_token": auth.csrf("/")})
    assert response.status_code == 403
    client.post("/logout", data={"csrf_token": auth.csrf("/")})
    auth.login(app_community.email_of(people["admin"]))
    response = client.post(f"/admin/users/{people['member']}/role",
                           data={"role": "auditor", "csrf_token": auth.csrf("/admin/users")})
    assert response.status_code == 302
    with app.extensions["kopa.db"].read_sessions() as session:
        assert session.get(User, people["member"]).role == "auditor"
    bogus = client.post(f"/admin/users/{people['member']}/role",
                        data={"role": "emperor", "csrf_token": auth.csrf("/admin/users")},
                        follow_redirects=True)
    assert "Choose one of the listed roles" in bogus.get_data(as_text=True)


# --- API -------------------------------------------------------------------------------------


def test_api_requires_a_valid_bearer_token(client):
    for method, path in (("get", "/api/v1/tasks"), ("get", "/api/v1/me/wallet"),
                         ("post", "/api/v1/contributions/1/approve"), ("get", "/api/v1/ledger")):
        response = getattr(client, method)(path)
        assert response.status_code == 401
        assert response.json["error"] == "unauthorized"
    response = client.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and "unknown" in response.json["message"]


def test_api_token_refuses_bad_credentials(client, people, app_community):
    email = app_community.email_of(people["member"])
    assert client.post("/api/v1/auth/token", json={"email": email, "password": "x" * 12}).status_code == 401
    unknown = {"email": "nobody@x.org", "password": "x"}
    assert client.post("/api/v1/auth/token", json=unknown).status_code == 401
    response = client.post("/api/v1/auth/token", json={"email": email})
    assert response.status_code == 400 and response.json["error"] == "invalid_input"


def test_api_member_cannot_validate_or_read_others_ledger(client, app_community, people):
    member = token_for(client, app_community, people["member"])
    response = client.post(
        f"/api/v1/tasks/{people['task']}/contributions", json={"text": "t"}, headers=member)
    assert response.status_code == 201 and response.json["state"] == "pending"
    cid = response.json["id"]
    for action in ("approve", "reject"):
        response = client.post(f"/api/v1/contributions/{cid}/{action}", json={"comment": "c"}, headers=member)
        assert response.status_code == 403 and response.json["error"] == "forbidden"
    other = token_for(client, app_community, people["other"])
    response = client.get(f"/api/v1/ledger?member={people['member']}", headers=other)
    assert response.status_code == 403
    assert client.get(f"/api/v1/contributions/{cid}", headers=other).status_code == 403
    assert client.get(f"/api/v1/ledger?member={people['member']}", headers=member).status_code == 200
    for reader in ("auditor", "staff"):
        headers = token_for(client, app_community, people[reader])
        assert client.get(f"/api/v1/ledger?member={people['member']}", headers=headers).status_code == 200


def test_api_flow_and_ledger_shape(app, client, app_community, people):
    member = token_for(client, app_community, people["member"])
    staff = token_for(client, app_community, people["staff"])
    tasks = client.get("/api/v1/tasks", headers=member).json
    assert {"id", "title", "complexity", "process_id"} <= set(tasks[0])
    cid = client.post(f"/api/v1/tasks/{people['task']}/contributions",
                      json={"text": "did it", "evidence_url": "https://example.org/photo.jpg"},
                      headers=member).json["id"]
    response = client.post(f"/api/v1/contributions/{cid}/approve", json={"comment": "ok"}, headers=staff)
    assert response.status_code == 200 and response.json["state"] == "approved"
    replay = client.post(f"/api/v1/contributions/{cid}/approve", headers=staff)
    assert replay.status_code == 409
    page = client.get("/api/v1/ledger", headers=member).json  # a member's own entries, {items, next}
    assert page["next"] is None
    ledger = page["items"]
    assert len(ledger) == 1
    assert ledger[0]["contribution_id"] == cid and ledger[0]["validator_id"] == people["staff"]
    assert ledger[0]["points"] == 120 and ledger[0]["ref"].startswith("0x")
    assert ledger[0]["mint_status"] == "pending" and ledger[0]["tx_hash"] is None
    wallet = client.get("/api/v1/me/wallet", headers=member).json
    assert wallet["points_total"] == 120 and wallet["pending"] == 120
    assert client.get("/api/v1/leaderboard").json[0]["points"] == 120
    assert set(client.get("/api/v1/leaderboard").json[0]) == {"rank", "member", "points"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("post", "/api/v1/tasks/999999/contributions", {"text": "x"}, 404, "task 999999 not found"),
        ("post", "/api/v1/tasks/{task}/contributions", "{not json", 400, "not valid JSON"),
        ("post", "/api/v1/tasks/{task}/contributions", "[1, 2]", 400, "must be a JSON object"),
        ("post", "/api/v1/tasks/{task}/contributions", {"text": ""}, 400, "text must not be empty"),
        ("post", "/api/v1/tasks/{task}/contributions", {}, 400, "text must not be empty"),
        ("post", "/api/v1/tasks/{task}/contributions", {"text": 5}, 400, "text must be text"),
        ("post", "/api/v1/tasks/99999999999999999999999/contributions", {"text": "x"}, 404, "not found"),
        ("post", "/api/v1/tasks/abc/contributions", {"text": "x"}, 404, "not found"),
        ("post", "/api/v1/contributions/424242/approve", {}, 404, "contribution 424242 not found"),
        ("post", "/api/v1/contributions/424242/reject", {"comment": "x"}, 404, "not found"),
        ("get", "/api/v1/contributions/424242", None, 404, "not found"),
        ("get", "/api/v1/ledger?member=abc", None, 400, "member must be a member id"),
        ("get", "/api/v1/ledger?member=424242", None, 404, "member 424242 not found"),
        ("get", "/api/v1/nothing-here", None, 404, ""),
    ],
)
def test_api_bad_input_gets_clear_4xx_and_writes_nothing(
    app, client, app_community, people, method, path, body, status, message
):
    headers = token_for(client, app_community, people["staff"])
    path = path.format(task=people["task"])
    kwargs = {"headers": headers}
    if isinstance(body, str):
        kwargs.update(data=body, content_type="application/json")
    elif body is not None:
        kwargs["json"] = body
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert set(response.json) == {"error", "message"}
    assert message in response.json["message"]
    assert count(app, Contribution) == 0
    assert count(app, LedgerEntry) == 0


def test_reject_via_api_needs_comment(client, app_community, people):
    member = token_for(client, app_community, people["member"])
    staff = token_for(client, app_community, people["staff"])
    cid = client.post(f"/api/v1/tasks/{people['task']}/contributions", json={"text": "t"},
                      headers=member).json["id"]
    response = client.post(f"/api/v1/contributions/{cid}/reject", json={}, headers=staff)
    assert response.status_code == 400 and "comment" in response.json["message"]
    response = client.post(f"/api/v1/contributions/{cid}/reject", json={"comment": "blurry"}, headers=staff)
    assert response.status_code == 200 and response.json["state"] == "rejected"
    assert client.get(f"/api/v1/contributions/{cid}", headers=member).json["decision_comment"] == "blurry"


def test_meta_names_chain_and_contract(client, anvil):
    meta = client.get("/api/v1/meta").json
    assert meta["chain_id"] == 31337 and meta["rpc_url"] == anvil.url
    assert set(meta["contracts"]) == {"KopaCredits", "KopaBadges", "KopaLedgerAnchor"}


def test_with_redis_the_socket_queue_and_rate_limits_use_it(tmp_path, sqlite_url, anvil):
    """KOPA_REDIS_URL switches Socket.IO's message queue and Flask-Limiter's storage to Redis."""
    import redis

    from rewards.ledger import record_entry
    from rewards.standings import BoardKey
    from web import create_app, standings_cache
    from web.config import redis_namespace
    from web.extensions import limiter, socketio
    from web.live import publish_standings

    url = "redis://127.0.0.1:6379/15"
    app = create_app({"KOPA_INSTANCE_PATH": str(tmp_path), "KOPA_DATABASE_URL": sqlite_url,
                      "KOPA_RPC_URL": anvil.url, "SECRET_KEY": "x", "KOPA_REDIS_URL": url,
                      "RATELIMIT_ENABLED": True})
    try:
        assert type(socketio.server.manager).__name__ == "RedisManager"
        assert "redis" in type(limiter.storage).__name__.lower()
        pubsub = redis.Redis.from_url(url).pubsub()
        pubsub.subscribe(redis_namespace(sqlite_url))  # this installation's own channel
        pubsub.get_message(timeout=1)  # the subscribe confirmation
        member = Community(app.extensions["kopa.db"], app.extensions["kopa.vault"]).user()
        with app.test_request_context():
            cache = standings_cache()
            cache.watch(cache.board(BoardKey()))  # pushes go to watched boards that changed
            with app.extensions["kopa.db"].write_sessions() as session:
                record_entry(session, member_id=member, points=5, cause="test", source_key="redis-test",
                             rule=("test", 1))
                session.commit()
            publish_standings()
        message = pubsub.get_message(timeout=5)
        assert message is not None and b"leaderboard_updated" in message["data"]
    finally:
        app.extensions["kopa.db"].dispose()


def test_points_by_dimension_on_the_wallet_and_the_api(app, client, auth, app_community, people):
    staff, member = people["staff"], people["member"]
    app_community.approved(member, staff, people["task"])  # 40 points in participation
    headers = token_for(client, app_community, member)
    totals = client.get("/api/v1/me/totals", headers=headers).json
    assert totals == {"participation": {"day": 40, "week": 40, "month": 40, "all": 40}}
    assert client.get("/api/v1/me/totals").status_code == 401
    auth.login(app_community.email_of(member))
    page = client.get("/wallet").get_data(as_text=True)
    assert "Your points by dimension" in page and "<th scope=\"row\">participation</th>" in page
