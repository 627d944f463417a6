"""Accounts through the Flask test client: registering with a custodial wallet, login and session
cookies, CSRF, role checks on pages, admins assigning roles, API tokens, the meta document and Redis."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from community.models import Role, User
from rewards.chain.keys import address_of
from rewards.models import Wallet
from tests.support.community import Community


@pytest.fixture
def people(app_community):
    people = app_community.people(staff=Role.STAFF, member=Role.MEMBER, other=Role.MEMBER,
                                  auditor=Role.AUDITOR, admin=Role.ADMIN)
    return {**people, "task": app_community.task(people["staff"], complexity=40)}


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


def test_meta_names_chain_and_contract(client, anvil):
    meta = client.get("/api/v1/meta").json
    assert meta["chain_id"] == 31337 and meta["rpc_url"] == anvil.url
    assert set(meta["contracts"]) == {"KopaCredits", "KopaBadges", "KopaLedgerAnchor"}


def test_with_redis_the_socket_queue_and_rate_limits_use_it(tmp_path, sqlite_url, anvil):
    """KOPA_REDIS_URL switches Socket.IO's message queue and Flask-Limiter's storage to Redis."""
    import redis

    from rewards.ledger import record_entry
    from rewards.standings import BoardKey
    from web import create_app
    from web.accessors import standings_cache
    from web.boards.live import publish_standings
    from web.config import redis_namespace
    from web.extensions import limiter, socketio

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
