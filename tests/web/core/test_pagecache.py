"""The whole-page cache (web/pagecache.py): a page comes back from memory only to the same
browser session, and never after any commit, by any connection, or after its time is up."""

from __future__ import annotations

import re
import time

import pytest
import redis

from community.models import Role
from tests.support.community import PASSWORD, SECRET, Community
from tests.support.postgres import drop_pg_database, new_pg_database, require_postgres
from tests.support.servers import redis_up
from tests.support.web import AuthActions, csrf_token
from web import bootstrap, create_app
from web.pagecache import HEADER, PageCache

REDIS_URL = "redis://127.0.0.1:6379/0"


def _points(html: str) -> str:
    return re.search(r'data-field="points">([^<]*)<', html).group(1)


def _member_with_task(community: Community) -> tuple[int, int, int]:
    staff = community.user(Role.STAFF)
    member = community.user()
    return staff, member, community.task(staff)


def _login(client, email: str) -> None:
    assert AuthActions(client).login(email).status_code == 302
    client.get("/")  # the page that shows (and clears) the welcome flash


def _app(url: str, anvil, tmp_path, **config):
    """An app of its own (the ``app`` fixture's settings), for settings that fixture lacks."""
    return create_app({"TESTING": True, "SECRET_KEY": SECRET, "KOPA_INSTANCE_PATH": str(tmp_path / "i"),
                       "KOPA_DATABASE_URL": url, "KOPA_RPC_URL": anvil.url, "RATELIMIT_ENABLED": False,
                       "SESSION_COOKIE_SECURE": False, **config})


def test_second_view_is_cached_until_another_connection_commits(app, client, sqlite_url):
    # Another engine on the same file stands for another worker, the relay or a CLI command.
    other = bootstrap.database(sqlite_url, secret_key=SECRET)
    community = Community(other, app.extensions["kopa.vault"])
    staff, member, task = _member_with_task(community)
    _login(client, community.email_of(member))

    first = client.get("/wallet")
    second = client.get("/wallet")
    assert (first.headers[HEADER], second.headers[HEADER]) == ("miss", "hit")
    assert second.get_data() == first.get_data() and _points(first.get_data(as_text=True)) == "0"
    assert second.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]

    community.approved(member, staff, task)  # committed outside this app
    after = client.get("/wallet")
    assert after.headers[HEADER] == "miss"
    assert _points(after.get_data(as_text=True)) == "20"
    assert client.get("/wallet").headers[HEADER] == "hit"
    # A hard reload renders afresh (and keeps the new page for the next view).
    assert client.get("/wallet", headers={"Cache-Control": "no-cache"}).headers[HEADER] == "miss"
    assert client.get("/wallet").headers[HEADER] == "hit"
    other.dispose()


def test_commits_through_the_app_drop_the_pages(app, app_community):
    staff, member, task = _member_with_task(app_community)
    admin = app_community.user(Role.ADMIN)
    member_client, staff_client, admin_client = app.test_client(), app.test_client(), app.test_client()
    _login(member_client, app_community.email_of(member))
    _login(staff_client, app_community.email_of(staff))
    _login(admin_client, app_community.email_of(admin))
    member_client.get("/wallet")
    assert member_client.get("/wallet").headers[HEADER] == "hit"

    task_page = member_client.get(f"/tasks/{task}").get_data(as_text=True)
    member_client.post(f"/tasks/{task}", follow_redirects=True,  # the page after shows (and clears) the flash
                       data={"text": "I mapped the yard", "csrf_token": csrf_token(task_page)})
    queue = staff_client.get("/validation").get_data(as_text=True)
    cid = re.search(r'action="/contributions/(\d+)/approve"', queue).group(1)
    approved = staff_client.post(f"/contributions/{cid}/approve", data={"csrf_token": csrf_token(queue)})
    assert approved.status_code == 302
    after = member_client.get("/wallet")  # complexity 20 x level high (the task's only contribution)
    assert after.headers[HEADER] == "miss" and _points(after.get_data(as_text=True)) == "60"

    # A role given by an admin shows on the member's next page, not a cached one.
    home = member_client.get("/")
    assert member_client.get("/").headers[HEADER] == "hit"
    assert 'href="/validation"' not in home.get_data(as_text=True)
    users = admin_client.get("/admin/users").get_data(as_text=True)
    made_staff = admin_client.post(f"/admin/users/{member}/role",
                                   data={"role": "staff", "csrf_token": csrf_token(users)})
    assert made_staff.status_code == 302
    promoted = member_client.get("/")
    assert promoted.headers[HEADER] == "miss" and 'href="/validation"' in promoted.get_data(as_text=True)


def test_another_session_never_gets_the_page(app, app_community):
    _, member, _ = _member_with_task(app_community)
    other_member = app_community.user(name="Second Member")
    first, second = app.test_client(), app.test_client()
    _login(first, app_community.email_of(member))
    _login(second, app_community.email_of(other_member))
    assert first.get("/wallet").headers[HEADER] == "miss"
    assert first.get("/wallet").headers[HEADER] == "hit"
    page = second.get("/wallet")
    assert page.headers[HEADER] == "miss"
    mine = re.search(r"<code>(0x[0-9a-fA-F]{40})</code>", first.get("/wallet").get_data(as_text=True))[1]
    assert mine not in page.get_data(as_text=True)


def test_a_copied_cookie_in_another_browser_gets_no_cached_page(app, client, app_community):
    _staff, member, _task = _member_with_task(app_community)
    _login(client, app_community.email_of(member))
    client.get("/wallet")
    assert client.get("/wallet").headers[HEADER] == "hit"
    # Flask-Login's strong protection ties the session to address and User-Agent.
    stolen = client.get("/wallet", headers={"User-Agent": "another browser"})
    assert stolen.status_code == 302 and "/login" in stolen.headers["Location"]
    assert stolen.headers.get(HEADER) == "miss"


def test_logout_ends_the_cached_pages_of_a_copied_cookie(app, client, app_community, auth):
    _staff, member, _task = _member_with_task(app_community)
    _login(client, app_community.email_of(member))
    client.get("/wallet")
    assert client.get("/wallet").headers[HEADER] == "hit"
    cookie = client.get_cookie("session").value
    client.post("/logout", data={"csrf_token": auth.csrf("/wallet")})
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    response = replay.get("/wallet")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_pages_with_flash_messages_or_a_language_switch_are_not_cached(app, client, app_community):
    _staff, member, _task = _member_with_task(app_community)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    email = app_community.email_of(member)
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    welcome = client.get("/")
    assert "Welcome" in welcome.get_data(as_text=True) and HEADER not in welcome.headers
    again = client.get("/")
    assert again.headers[HEADER] == "miss" and "Welcome" not in again.get_data(as_text=True)
    assert client.get("/").headers[HEADER] == "hit"
    latvian = client.get("/?lang=lv")
    assert HEADER not in latvian.headers and 'lang="lv"' in latvian.get_data(as_text=True)
    # The session now names Latvian: a new key, never the English page.
    assert 'lang="lv"' in client.get("/").get_data(as_text=True)


def test_writes_and_other_pages_are_never_cached(app, client, app_community):
    _staff, member, _task = _member_with_task(app_community)
    _login(client, app_community.email_of(member))
    for path in ("/contributions", "/notifications", "/api/v1/health"):
        client.get(path)
        assert HEADER not in client.get(path).headers, path


def test_pages_expire(sqlite_url, anvil, tmp_path):
    app = _app(sqlite_url, anvil, tmp_path, KOPA_PAGE_CACHE_SECONDS=0.3)
    community = Community(app.extensions["kopa.db"], app.extensions["kopa.vault"])
    _staff, member, _task = _member_with_task(community)
    client = app.test_client()
    _login(client, community.email_of(member))
    client.get("/leaderboard")
    assert client.get("/leaderboard").headers[HEADER] == "hit"
    time.sleep(0.4)
    assert client.get("/leaderboard").headers[HEADER] == "miss"
    app.extensions["kopa.db"].dispose()


def test_turned_off(sqlite_url, anvil, tmp_path):
    app = _app(sqlite_url, anvil, tmp_path, KOPA_PAGE_CACHE_SECONDS=0)
    assert "kopa.pagecache" not in app.extensions
    assert HEADER not in app.test_client().get("/").headers
    app.extensions["kopa.db"].dispose()


def test_least_recently_used_pages_leave_first_within_the_budget():
    cache = PageCache(clock=None, seconds=60, max_bytes=3000)
    for key in "abc":
        cache.put((key,), 1, [], b"x" * 350)
    assert cache.get(("a",), 1) is not None  # a is now the most recently used
    for key in "defghij":
        cache.put((key,), 1, [], b"x" * 350)
    assert len(cache) == 8 and cache.get(("b",), 1) is None and cache.get(("a",), 1) is not None
    assert cache.get(("a",), 2) is None  # another clock: gone for good
    assert cache.get(("a",), 1) is None
    cache.put(("big",), 1, [], b"x" * (3000 // 8 + 1))  # larger than an eighth of the budget: not kept
    assert cache.get(("big",), 1) is None


@pytest.fixture
def postgres_url():
    require_postgres()
    url, name = new_pg_database(migrated=True)
    yield url
    drop_pg_database(name)


def test_postgres_pages_follow_commits_of_every_process_through_redis(postgres_url, anvil, tmp_path):
    if not redis_up(REDIS_URL):
        pytest.skip("no Redis at 127.0.0.1:6379")
    web_app = _app(postgres_url, anvil, tmp_path, KOPA_REDIS_URL=REDIS_URL)
    # A second app on the same database and Redis: another worker, the relay, a CLI command.
    other_app = _app(postgres_url, anvil, tmp_path, KOPA_REDIS_URL=REDIS_URL)
    try:
        community = Community(other_app.extensions["kopa.db"], other_app.extensions["kopa.vault"])
        staff, member, task = _member_with_task(community)
        client = web_app.test_client()
        _login(client, community.email_of(member))
        assert client.get("/wallet").headers[HEADER] == "miss"
        assert client.get("/wallet").headers[HEADER] == "hit"
        community.approved(member, staff, task)
        after = client.get("/wallet")
        assert after.headers[HEADER] == "miss" and _points(after.get_data(as_text=True)) == "20"
        assert client.get("/wallet").headers[HEADER] == "hit"
        # Redis restarted (the counter is gone): nothing cached before can come back.
        clock = web_app.extensions["kopa.pagecache"].clock
        before = clock.now()
        redis.Redis.from_url(REDIS_URL).delete(clock.key)
        assert HEADER not in client.get("/wallet").headers
        assert client.get("/wallet").headers[HEADER] == "miss"
        assert clock.now() != before
        # Without Redis nothing would tell this worker about other processes' commits: no cache.
        plain = _app(postgres_url, anvil, tmp_path)
        assert "kopa.pagecache" not in plain.extensions
        plain.extensions["kopa.db"].dispose()
    finally:
        key = web_app.extensions["kopa.pagecache"].clock.key
        redis.Redis.from_url(REDIS_URL).delete(key)
        for app_ in (web_app, other_app):
            app_.extensions["kopa.db"].dispose()
