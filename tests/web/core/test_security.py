"""The security suite (#8): an access matrix generated from the URL map, CSRF on every form
route, session cookies and fixation, login throttling (memory and Redis storage), security
headers and inline-script-free pages, safe evidence downloads, and the Socket.IO namespace
(bad tokens, foreign origins, no personal data in pushes) against a real server.

The matrix runs every route of ``app.url_map`` for six roles against one seeded database;
each state-changing request starts from a pristine copy of it, so the order of the routes
never matters. A route missing from tests/web/core/security_matrix.txt fails the suite with the line
to add.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
import redis
import requests
import socketio
from sqlalchemy import select, update

from booking import ics, recurring, reservations, waitlist
from booking.models import Blackout, Resource, WaitlistEntry
from booking.policy import BookingPolicy
from community import contributions
from community.demo import DEMO_PASSWORD, DEMO_PROCESS, seed_demo
from community.evidence import store_evidence
from community.models import (
    Grant,
    LibraryItem,
    Notification,
    Objective,
    Phase,
    Poll,
    Process,
    ProcessApplication,
    Task,
    Team,
    User,
)
from community.processes import joining
from rewards import catalogue
from rewards.ledger import record_entry
from rewards.models import Badge, CatalogueItem, LedgerEntry, OutboxItem, ScoringRule, TierRow
from rewards.rules.service import export_for
from tests.support.chain import deploy_for
from tests.support.community import PASSWORD, SECRET, Community
from tests.support.servers import redis_up
from tests.support.web import csrf_token as csrf_token_in
from web import create_app
from web.extensions import limiter
from web.migrate import upgrade
from web.security import CONTENT_SECURITY_POLICY

ROLES = ("anonymous", "member", "other", "staff", "auditor", "admin")
ACCOUNTS = {
    "member": "member1@kopa.local",  # owns the seeded contribution, bookings, redemption, team
    "other": "member4@kopa.local",  # another member: none of those are theirs
    "staff": "staff@kopa.local",  # created (so manages) every demo process
    "auditor": "auditor@kopa.local",
    "admin": "admin@kopa.local",
}
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

# --- the access matrix --------------------------------------------------------------------------
#
# The expected statuses are in tests/web/core/security_matrix.txt (what each column means is at its
# top). State-changing requests carry FORM_BODY (pages, with the session's CSRF token),
# API_BODY (JSON), or a valid body from API_BODIES where the generic one would stop at input
# checks before the role check could be seen.

MATRIX = Path(__file__).with_name("security_matrix.txt")

FORM_BODY = {
    "text": "Checked by the security matrix",
    "comment": "Checked by the security matrix",
    "reason": "security matrix",
    "note": "security matrix",
    "message": "security matrix",
    "title": "Security matrix",
    "name": "Security matrix",
    "description": "security matrix",
    "summary": "security matrix",
    "outcomes": "security matrix",
    "scope": "community",
    "period": "all",
    "role": "member",
    "level": "low",
    "stars": "4",
}
API_BODY = {**FORM_BODY, "scope": "community", "period": "all", "opt_out": False, "pseudonym": None,
            "status": "in_progress"}


def _in_a_week() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat()


# Valid bodies (test-client keyword arguments) where the generic one would stop at input
# checks, so the role and ownership checks behind them are what the matrix sees.
API_BODIES = {
    ("POST", "/api/v1/polls"): lambda site: {"json": {
        "question": "Matrix?", "options": ["Yes", "No"], "closes_at": _in_a_week()}},
    ("POST", "/api/v1/rules"): lambda site: {"json": {
        "id": "matrix-rule", "title": "Matrix", "event": "contribution_approved", "formula": "complexity",
        "dimension": "participation"}},
    ("POST", "/api/v1/rules/import"): lambda site: {
        "data": site.params["rules_yaml"], "content_type": "application/yaml"},
    ("POST", "/api/v1/bookings/<int:booking_id>/check-in"): lambda site: {
        "json": {"code": site.params["code"]}},
}


def parse_expected(text: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """``METHOD rule status×6`` per line; a rule may hold spaces (``<any(a, b):x>``)."""
    table: dict[tuple[str, str], tuple[str, ...]] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        words = line.split()
        method, rule, statuses = words[0], " ".join(words[1:-len(ROLES)]), tuple(words[-len(ROLES):])
        assert rule.startswith("/") and all(re.fullmatch(r"\d{3}L?", s) for s in statuses), \
            f"{line!r}: METHOD /rule and one status per role {ROLES}"
        assert (method, rule) not in table, f"{method} {rule} is listed twice"
        table[method, rule] = statuses
    return table


def routes(app) -> list[tuple[str, str]]:
    """Every (method, rule) the app serves, HEAD and OPTIONS aside."""
    found = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods
        if method not in ("HEAD", "OPTIONS")
    }
    return sorted(found, key=lambda mr: (mr[1], mr[0]))


def table_line(method: str, rule: str, statuses) -> str:
    return f"{method:<6} {rule:<60} " + " ".join(f"{s:<4}" for s in statuses).rstrip()


# --- a seeded site -----------------------------------------------------------------------------------


@dataclass
class Site:
    app: object
    live: Path
    pristine: Path
    params: dict
    cookies: dict[str, str] = field(default_factory=dict)  # sessions holding a CSRF token
    csrf: dict[str, str] = field(default_factory=dict)  # that token, per role
    tokens: dict[str, str] = field(default_factory=dict)  # API bearer tokens
    dirty: bool = False
    pages: dict = field(default_factory=dict)  # (role, url) -> Seen, GETs on the pristine data

    def restore(self) -> None:
        """Back to the seeded data: close every pooled connection, copy the pristine file in."""
        self.app.extensions["kopa.db"].dispose()
        source, target = sqlite3.connect(self.pristine), sqlite3.connect(self.live)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        self.app.extensions["kopa.standings"].invalidate()
        self.dirty = False


@dataclass(frozen=True)
class Seen:
    status: int
    location: str
    headers: dict
    body: str

    def token(self) -> str:
        if self.status in (301, 302, 303, 307, 308) and "/login" in self.location:
            return f"{self.status}L"
        return str(self.status)


def _one(session, query):
    value = session.scalars(query).first()
    assert value is not None, f"the seed lacks {query}"
    return value


def _future_weekday(tz, days_ahead: int) -> dt.date:
    day = dt.datetime.now(tz).date() + dt.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _seed(app) -> dict:
    """The demo community plus one of everything member1 owns, with the ids the routes need."""
    db, vault = app.extensions["kopa.db"], app.extensions["kopa.vault"]
    deploy_for(db, vault, app.config["KOPA_RPC_URL"])
    seed_demo(db)
    with db.read_sessions() as s:
        ids = {u.email: u.id for u in s.scalars(select(User))}
        courtyards = _one(s, select(Process.id).where(Process.title == DEMO_PROCESS[0]))
        hackathon = _one(s, select(Process.id).where(Process.template == "hackathon"))
        task = _one(s, select(Task.id).where(Task.process_id == courtyards).order_by(Task.id))
        phase = _one(s, select(Phase.id).where(Phase.process_id == courtyards).order_by(Phase.id))
        objective = _one(s, select(Objective.id).where(Objective.phase_id == phase).order_by(Objective.id))
        grant = _one(s, select(Grant.id).where(Grant.process_id == courtyards).order_by(Grant.id))
        team = _one(s, select(Team.id).where(Team.name == "Imanta neighbours"))
        library_item = _one(s, select(LibraryItem.id).order_by(LibraryItem.id))
        coffee = _one(s, select(CatalogueItem.id).where(CatalogueItem.name == "Coffee voucher"))
        badge = _one(s, select(Badge.id).order_by(Badge.id))
        tier = _one(s, select(TierRow.id).order_by(TierRow.id))
        poll = _one(s, select(Poll.id).where(Poll.kiosk_enabled.is_(True)).order_by(Poll.id))
        rule = _one(s, select(ScoringRule.id).order_by(ScoringRule.id))
        blackout = _one(s, select(Blackout.id).order_by(Blackout.id))
        rooms = {r.name: r.id for r in s.scalars(select(Resource))}
    member, staff = ids[ACCOUNTS["member"]], ids[ACCOUNTS["staff"]]

    # A pending contribution with an evidence file, and an approved one (a ledger entry).
    stored = store_evidence(Path(app.instance_path), "notes.txt", b"Courtyard 1: two benches, one oak.\n")
    contribution = contributions.submit_contribution(
        db.unit_of_work(), member_id=member, task_id=task, text="Mapped courtyard 1", evidence=stored
    )
    approved = contributions.submit_contribution(
        db.unit_of_work(), member_id=member, task_id=task, text="Mapped courtyard 2"
    )
    contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=approved,
                                       level="low")
    # Credits the relay has delivered, and a redemption waiting for staff.
    with db.write_sessions() as s, s.begin():
        entry = record_entry(s, member_id=member, points=60, cause="test-grant", source_key="security:grant",
                             rule=("test-grant", 1))
        s.flush()
        s.execute(update(OutboxItem).where(OutboxItem.ledger_entry_id == entry.id).values(status="done"))
    redemption = catalogue.redeem_item(db.unit_of_work(), member_id=member, item_id=coffee).id
    with db.read_sessions() as s:
        ledger_entry = _one(s, select(LedgerEntry.id).where(LedgerEntry.member_id == member)
                            .order_by(LedgerEntry.id))

    # A booking, a weekly series and a waitlist entry, days ahead on weekdays.
    policy = BookingPolicy()
    day = _future_weekday(policy.tz, 3)

    def at(hour: int, on: dt.date = day) -> str:
        return dt.datetime.combine(on, dt.time(hour), tzinfo=policy.tz).isoformat()

    booking = reservations.book(db.unit_of_work(), member_id=member, resource_id=rooms["Ideas room"],
                                    start=at(10), end=at(11), policy=policy)
    series = recurring.book_series(db.unit_of_work(), member_id=member,
                                          resource_id=rooms["Quiet room"], start=at(10), end=at(11),
                                          every_weeks=1, count=2, policy=policy)
    reservations.book(db.unit_of_work(), member_id=ids["member3@kopa.local"],
                          resource_id=rooms["Ideas room"], start=at(12), end=at(13), policy=policy)
    waitlist.join_waitlist(db.unit_of_work(), member_id=member, resource_id=rooms["Ideas room"],
                                   start=at(12), end=at(13), policy=policy)
    joining.apply_to_process(db.unit_of_work(), user_id=member, process_id=hackathon, message="Let me in")
    with db.read_sessions() as s:
        waiting = _one(s, select(WaitlistEntry.id).where(WaitlistEntry.member_id == member))
        application = _one(s, select(ProcessApplication.id).where(ProcessApplication.user_id == member))
        feed = ics.feed_token(s, app.config["SECRET_KEY"], member)
        notification = _one(s, select(Notification.id).where(Notification.user_id == member)
                            .order_by(Notification.id))  # the approval told member1
        rules_yaml = export_for(s, actor_id=ids[ACCOUNTS["admin"]], fmt="yaml")
    return {
        "ids": ids,
        "rules_yaml": rules_yaml,
        "code": booking.code,
        "by_name": {
            "process_id": courtyards,
            "phase_id": phase,
            "objective_id": objective,
            "task_id": task,
            "node_id": courtyards,  # with kinds=processes, the first of its any()
            "contribution_id": contribution,
            "booking_id": booking.id,
            "series_id": series.series_id,
            "resource_id": rooms["Ideas room"],
            "blackout_id": blackout,
            "redemption_id": redemption,
            "badge_id": badge,
            "tier_id": tier,
            "poll_id": poll,
            "rule_id": rule,
            "version": 1,
            "team_id": team,
            "grant_id": grant,
            "application_id": application,
            "token": feed,
            "user_id": ids["member5@kopa.local"],  # whose role admins set, whom they erase
            "item_id": coffee,
            "entry_id": ledger_entry,
            "filename": "kopa.css",
            "notification_id": notification,
        },
        "by_rule": {
            "/api/v1/ledger": {"_query": f"member={member}"},  # member1's ledger, whoever asks
            "/library/<int:item_id>/rate": {"item_id": library_item},
            "/booking/waitlist/<int:entry_id>/leave": {"entry_id": waiting},
            # member2 is in member1's team: its admin (member1) or staff may remove them.
            "/teams/<int:team_id>/members/<int:user_id>/<any(remove, admin):action>": {
                "user_id": ids["member2@kopa.local"]
            },
        },
    }


PARAM = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def url_for_rule(site: Site, rule: str) -> str:
    """The rule with concrete ids of the seeded objects; any() takes its first choice."""
    overrides = site.params["by_rule"].get(rule, {})

    def value(match: re.Match) -> str:
        converter, args, name = match.groups()
        if name in overrides:
            return str(overrides[name])
        if converter == "any":
            return args.split(",")[0].strip().strip("'\"")
        if name not in site.params["by_name"]:
            raise AssertionError(f"no seeded value for <{name}> in {rule}: add one to _seed()")
        return str(site.params["by_name"][name])

    url = PARAM.sub(value, rule)
    return f"{url}?{overrides['_query']}" if "_query" in overrides else url


def observe(site: Site, role: str, method: str, rule: str, *, via: str | None = None,
            with_csrf: bool = True) -> Seen:
    """One request as ``role``: a bearer token for the API, the session cookie for pages
    (``via="cookie"`` sends the cookie to the API instead of the token). Form posts carry the
    session's CSRF token unless ``with_csrf`` is False."""
    url = url_for_rule(site, rule)
    cacheable = method == "GET" and via is None
    if cacheable and (role, url) in site.pages and not site.dirty:
        return site.pages[role, url]
    if site.dirty:
        site.restore()
    api = rule.startswith("/api/")
    headers = {}
    if api and via != "cookie":
        if role != "anonymous":
            headers["Authorization"] = f"Bearer {site.tokens[role]}"
    else:
        headers["Cookie"] = f"session={site.cookies[role]}"
    kwargs: dict = {}
    if method in UNSAFE:
        special = API_BODIES.get((method, rule))
        if special is not None:
            kwargs.update(special(site))
        elif api:
            kwargs["json"] = API_BODY
        else:
            kwargs["data"] = {**FORM_BODY, "code": site.params["code"],
                              **({"csrf_token": site.csrf[role]} if with_csrf else {})}
    client = site.app.test_client(use_cookies=False)
    response = client.open(url, method=method, headers=headers, **kwargs)
    textual = response.mimetype in ("text/html", "application/json")
    seen = Seen(response.status_code, response.headers.get("Location", ""), dict(response.headers),
                response.get_data(as_text=True) if textual else "")
    response.close()
    if method in UNSAFE:
        site.dirty = True
    elif cacheable:
        site.pages[role, url] = seen
    return seen


@pytest.fixture(scope="module")
def site(anvil, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("security")
    live = tmp / "kopa.sqlite3"
    upgrade(f"sqlite:///{live}")
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "KOPA_INSTANCE_PATH": str(tmp / "instance"),
        "KOPA_DATABASE_URL": f"sqlite:///{live}",
        "KOPA_RPC_URL": anvil.url,
        "RATELIMIT_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
    })
    params = _seed(app)
    pristine = tmp / "pristine.sqlite3"
    result = Site(app, live, pristine, params)
    for role in ROLES:  # API tokens are rows: issued before the pristine copy is taken
        client = app.test_client()
        token = csrf_token_in(client.get("/login").get_data(as_text=True))
        if role != "anonymous":
            response = client.post("/login", data={"email": ACCOUNTS[role], "password": DEMO_PASSWORD,
                                                   "csrf_token": token})
            assert response.status_code == 302, f"{role} cannot log in"
            token = csrf_token_in(client.get("/").get_data(as_text=True))  # login starts a new session
            issued = client.post("/api/v1/auth/token",
                                 json={"email": ACCOUNTS[role], "password": DEMO_PASSWORD})
            result.tokens[role] = issued.json["token"]
        result.cookies[role] = client.get_cookie("session").value
        result.csrf[role] = token
    app.extensions["kopa.db"].dispose()
    with sqlite3.connect(live) as source, sqlite3.connect(pristine) as target:
        source.backup(target)
    yield result
    app.extensions["kopa.db"].dispose()


def test_every_route_has_an_entry_in_the_access_matrix(site):
    table = parse_expected(MATRIX.read_text())
    served = routes(site.app)
    missing = [mr for mr in served if mr not in table]
    stale = sorted(set(table) - set(served))
    lines = [table_line(m, r, [observe(site, role, m, r).token() for role in ROLES]) for m, r in missing]
    assert not missing, "routes without an access-matrix entry (observed statuses; check them, then " \
                        f"add the lines to {MATRIX.name}):\n" + "\n".join(lines)
    assert not stale, f"{MATRIX.name} lists routes the app no longer serves: {stale}"


def test_access_matrix(site):
    """Every route × six roles gets the status in the table; no request is a 500."""
    table = parse_expected(MATRIX.read_text())
    wrong, errors = [], []
    for method, rule in routes(site.app):
        if (method, rule) not in table:
            continue  # the test above names it
        seen = [observe(site, role, method, rule) for role in ROLES]
        tokens = [s.token() for s in seen]
        errors += [f"{method} {rule} as {role}: 500" for role, s in zip(ROLES, seen, strict=True)
                   if s.status >= 500]
        if tuple(tokens) != table[method, rule]:
            wrong.append(f"expected {table_line(method, rule, table[method, rule])}\n"
                         f"observed {table_line(method, rule, tokens)}")
    assert not errors, "server errors:\n" + "\n".join(errors)
    assert not wrong, "access matrix differs:\n" + "\n".join(wrong)


def test_matrix_roles_are_what_they_claim(site):
    """The matrix means something only if each cookie and token is the account it names."""
    with site.app.extensions["kopa.db"].read_sessions() as s:
        roles = {u.email: u.role for u in s.scalars(select(User))}
    for role, email in ACCOUNTS.items():
        wallet = site.app.test_client(use_cookies=False).get(
            "/api/v1/me/wallet", headers={"Authorization": f"Bearer {site.tokens[role]}"})
        assert wallet.status_code == 200
        page = observe(site, role, "GET", "/profile")
        assert page.status == 200 and f"({roles[email]})" in page.body, role


def test_api_ignores_session_cookies(site):
    """The API is exempt from CSRF because a cookie alone grants nothing there: with only an
    admin's session cookie every API route answers exactly as it does to an anonymous caller."""
    differing = []
    for method, rule in routes(site.app):
        if not rule.startswith("/api/"):
            continue
        anonymous = observe(site, "anonymous", method, rule)
        cookie = observe(site, "admin", method, rule, via="cookie")
        if (anonymous.status, anonymous.location) != (cookie.status, cookie.location):
            differing.append(f"{method} {rule}: anonymous {anonymous.status}, admin cookie {cookie.status}")
    assert not differing, "\n".join(differing)
    assert observe(site, "admin", "GET", "/api/v1/me/wallet", via="cookie").status == 401


# --- CSRF ------------------------------------------------------------------------------------------


def test_every_form_route_refuses_a_post_without_the_csrf_token(site):
    """The matrix posts every form with the session's token; without it each one is a 400."""
    forms = [(m, r) for m, r in routes(site.app) if m in UNSAFE and not r.startswith("/api/")]
    assert len(forms) > 50, "the form routes were not found"
    unprotected = []
    for method, rule in forms:
        for role in ("anonymous", "member", "admin"):
            seen = observe(site, role, method, rule, with_csrf=False)
            if seen.status != 400 or "form has expired or was forged" not in seen.body:
                unprotected.append(f"{method} {rule} as {role}: {seen.status}")
            with_token = observe(site, role, method, rule)
            assert "form has expired or was forged" not in with_token.body, f"{method} {rule}: token refused"
    assert not unprotected, "form routes that take a POST without the CSRF token:\n" + "\n".join(unprotected)


def test_only_the_bearer_token_api_is_exempt_from_csrf(site):
    """The exemption is by blueprint; every exempt route is under /api/v1 (bearer tokens)."""
    from web.extensions import csrf

    exempt_views = csrf._exempt_views
    exempt_blueprints = csrf._exempt_blueprints
    for rule in site.app.url_map.iter_rules():
        view = site.app.view_functions[rule.endpoint]
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        exempt = f"{view.__module__}.{view.__name__}" in exempt_views or blueprint in exempt_blueprints
        if exempt:
            assert rule.rule.startswith("/api/v1/"), f"{rule.rule} is exempt from CSRF but not a bearer API"


# --- session cookies ---------------------------------------------------------------------------


def _session_data(app, cookie_value: str) -> dict:
    return app.session_interface.get_signing_serializer(app).loads(cookie_value)


def test_session_rotates_at_login_and_the_pre_login_session_is_useless(app, client, app_community):
    email = app_community.email_of(app_community.user())
    page = client.get("/login")
    before = client.get_cookie("session").value
    token = csrf_token_in(page.get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    after = client.get_cookie("session").value
    old, new = _session_data(app, before), _session_data(app, after)
    assert "_user_id" not in old and new["_user_id"]
    assert old["csrf_token"] and new.get("csrf_token") != old["csrf_token"], "the pre-login token is void"
    assert set(new) - set(old) >= {"_user_id", "_id"}
    # Someone holding the pre-login cookie (a planted one) is still anonymous.
    planted = app.test_client(use_cookies=False)
    wallet = planted.get("/wallet", headers={"Cookie": f"session={before}"})
    assert wallet.status_code == 302 and "/login" in wallet.headers["Location"]
    assert planted.get("/wallet", headers={"Cookie": f"session={after}"}).status_code == 200
    # No remember-me cookie is issued; were it ever, it would carry the same flags.
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


def _log_in(client, email: str) -> str:
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client.get_cookie("session").value


def test_logout_ends_the_session_and_every_copy_of_its_cookie(app, app_community):
    """Sessions are signed cookies: without the epoch a cookie copied before logout (a shared
    computer, a stolen cookie) would stay signed in. Logout ends the member's sessions on every
    device; other members stay signed in."""
    member, other = app_community.user(), app_community.user()
    laptop, phone, neighbour = app.test_client(), app.test_client(), app.test_client()
    copied = _log_in(laptop, app_community.email_of(member))
    _log_in(phone, app_community.email_of(member))
    _log_in(neighbour, app_community.email_of(other))
    thief = app.test_client(use_cookies=False)
    assert thief.get("/wallet", headers={"Cookie": f"session={copied}"}).status_code == 200

    page = laptop.get("/wallet")
    assert page.status_code == 200
    logout = laptop.post("/logout", data={"csrf_token": csrf_token_in(page.get_data(as_text=True))})
    assert logout.status_code == 302

    for who, response in (("the copy", thief.get("/wallet", headers={"Cookie": f"session={copied}"})),
                          ("the phone", phone.get("/wallet")), ("the laptop", laptop.get("/wallet"))):
        assert response.status_code == 302 and "/login" in response.headers["Location"], who
    assert neighbour.get("/wallet").status_code == 200, "another member's session is untouched"
    # Signing in again works and gives a session for the new epoch only.
    _log_in(laptop, app_community.email_of(member))
    assert laptop.get("/wallet").status_code == 200
    assert thief.get("/wallet", headers={"Cookie": f"session={copied}"}).status_code == 302


def test_a_session_without_an_epoch_or_with_a_forged_one_is_anonymous(app, app_community):
    """Sessions from before the epoch existed (``_user_id`` = bare id) and ones naming a
    future epoch are refused, not trusted."""
    member = app_community.user()
    client = app.test_client()
    _log_in(client, app_community.email_of(member))
    data = _session_data(app, client.get_cookie("session").value)
    serializer = app.session_interface.get_signing_serializer(app)
    for forged in (str(member), f"{member}.7", f"{member}.", "x.0"):
        cookie = serializer.dumps({**data, "_user_id": forged})
        response = app.test_client(use_cookies=False).get("/wallet", headers={"Cookie": f"session={cookie}"})
        assert response.status_code == 302 and "/login" in response.headers["Location"], forged


@pytest.mark.parametrize("debug", [False, True])
def test_cookies_are_secure_httponly_and_lax_on_an_https_site(tmp_path, sqlite_url, anvil, debug):
    app = create_app({
        "TESTING": True, "SECRET_KEY": SECRET, "KOPA_INSTANCE_PATH": str(tmp_path / "instance"),
        "KOPA_DATABASE_URL": sqlite_url, "KOPA_RPC_URL": anvil.url, "RATELIMIT_ENABLED": False,
        "KOPA_SITE_URL": "https://kopa.example.org", "DEBUG": debug,
    })
    try:

        community = Community(app.extensions["kopa.db"], app.extensions["kopa.vault"])
        email = community.email_of(community.user())
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
        client = app.test_client()
        https = {"base_url": "https://kopa.example.org", "headers": {"Referer": "https://kopa.example.org/login"}}
        page = client.get("/login", **https)
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        token = csrf_token_in(page.get_data(as_text=True))
        response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                               **https)
        assert response.status_code == 302
        cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
        flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
        assert "secure" in flags and "httponly" in flags
        assert flags["samesite"] == "SameSite=Lax"
    finally:
        app.extensions["kopa.db"].dispose()


def test_a_plain_http_site_sends_no_hsts(app, client):
    assert "Strict-Transport-Security" not in client.get("/").headers


# --- security headers and pages without inline script ----------------------------------------------


class _InlineFinder(HTMLParser):
    """Inline scripts, event handler attributes, javascript: URLs and inline styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.problems.append("<script> without src")
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style":
                self.problems.append(f"<{tag} style=...>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}=javascript:...>")


def inline_problems(html: str) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html)
    return finder.problems


def test_the_inline_finder_finds_what_the_policy_forbids():
    assert inline_problems('<script src="/static/wall.js"></script><a href="/x">x</a>') == []
    assert inline_problems("<script>alert(1)</script>") == ["<script> without src"]
    assert inline_problems('<button onclick="x()">') == ["<button onclick=...>"]
    assert inline_problems('<a href=" JavaScript:x()">') == ["<a href=javascript:...>"]
    assert inline_problems('<p style="color:red">') == ["<p style=...>"]


def test_every_page_has_the_security_headers_and_no_inline_script(site):
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self'" and "unsafe" not in CONTENT_SECURITY_POLICY
    assert policy["frame-ancestors"] == "'none'"
    problems, pages = [], 0
    for method, rule in routes(site.app):
        if method != "GET":
            continue
        for role in ("anonymous", "member", "staff", "admin"):
            seen = observe(site, role, method, rule)
            headers = seen.headers
            missing = [
                name for name, value in (
                    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
                    ("X-Content-Type-Options", "nosniff"),
                    ("X-Frame-Options", "DENY"),
                    ("Referrer-Policy", "same-origin"),
                ) if headers.get(name) != value
            ]
            if missing:
                problems.append(f"GET {rule} as {role} ({seen.status}): missing or wrong {missing}")
            if headers.get("Content-Type", "").startswith("text/html"):
                pages += 1
                problems += [f"GET {rule} as {role}: {p}" for p in inline_problems(seen.body)]
    assert pages > 100, f"only {pages} HTML responses were checked"
    assert not problems, "\n".join(problems)


def test_error_pages_and_api_errors_carry_the_headers_too(site):
    for role, rule in (("anonymous", "/api/v1/me/wallet"), ("member", "/admin/users"),
                       ("member", "/no/such/page")):
        seen = observe(site, role, "GET", rule)
        assert seen.status in (401, 403, 404)
        assert seen.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in seen.headers["Content-Security-Policy"]


def test_evidence_downloads_are_attachments_with_nosniff(site):
    """A text file full of HTML is downloaded as text/plain, never rendered by the site."""
    app = site.app
    db = app.extensions["kopa.db"]
    html = b"<html><body><script>alert(document.cookie)</script></body></html>\n"
    stored = store_evidence(Path(app.instance_path), "page.txt", html)
    member = site.params["ids"][ACCOUNTS["member"]]
    contribution = contributions.submit_contribution(
        db.unit_of_work(), member_id=member, task_id=site.params["by_name"]["task_id"], text="html as text",
        evidence=stored,
    )
    site.dirty = True  # a new contribution: back to the pristine data afterwards
    client = app.test_client(use_cookies=False)
    response = client.get(f"/contributions/{contribution}/evidence",
                          headers={"Cookie": f"session={site.cookies['member']}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["Cache-Control"] == "private, no-store"
    other = client.get(f"/contributions/{contribution}/evidence",
                       headers={"Cookie": f"session={site.cookies['other']}"})
    assert other.status_code == 403


# --- login throttling ---------------------------------------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture(params=["memory", "redis"])
def throttled(request, tmp_path, sqlite_url, anvil):
    """An app with rate limits on (RATELIMIT_ENABLED explicitly: Flask-Limiter keeps the last
    app's setting), in memory or in the real Redis under a key prefix of its own."""
    config = {
        "TESTING": True, "SECRET_KEY": SECRET, "KOPA_INSTANCE_PATH": str(tmp_path / "instance"),
        "KOPA_DATABASE_URL": sqlite_url, "KOPA_RPC_URL": anvil.url, "RATELIMIT_ENABLED": True,
        "SESSION_COOKIE_SECURE": False,
    }
    prefix = f"kopa-test-{uuid.uuid4().hex[:12]}"
    if request.param == "redis":
        if not redis_up(REDIS_URL):
            pytest.skip("Redis is not running at 127.0.0.1:6379: the Redis storage variant needs a real one")
        config.update(KOPA_REDIS_URL=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix)
    previous_prefix = limiter._key_prefix
    limiter._key_prefix = ""  # also sticky across apps: let this app's config set it
    app = create_app(config)
    try:
        storage = type(limiter.storage).__name__.lower()
        assert request.param in storage, f"expected {request.param} storage, got {storage}"
        yield app
    finally:
        app.extensions["kopa.db"].dispose()
        limiter._key_prefix = previous_prefix
        if request.param == "redis":
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"*{prefix}*"))
            assert keys, "the limits were not kept in Redis"
            client.delete(*keys)


def _login_client(app):
    """A browser that has the login page open (its session holds the form's CSRF token)."""
    client = app.test_client()
    client.csrf = csrf_token_in(client.get("/login").get_data(as_text=True))
    return client


def _attempt(client, api: bool, email: str, password: str, address: str):
    environ = {"REMOTE_ADDR": address}
    if api:
        return client.post("/api/v1/auth/token", json={"email": email, "password": password},
                           environ_base=environ)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": client.csrf},
                       environ_base=environ)


@pytest.mark.parametrize("api", [False, True], ids=["form", "token"])
def test_200_bad_logins_from_one_address_get_429_past_the_limit(throttled, api):
    community = Community(throttled.extensions["kopa.db"], throttled.extensions["kopa.vault"])
    real = community.email_of(community.user())
    client = _login_client(throttled)
    refused = 401 if api else 400
    statuses = [
        _attempt(client, api, f"guess{i}@example.org", "wrong password", "203.0.113.7").status_code
        for i in range(200)
    ]
    assert statuses[:20] == [refused] * 20, "the first 20 failures per minute are answered"
    assert statuses[20:] == [429] * 180
    last = _attempt(client, api, real, PASSWORD, "203.0.113.7")
    assert last.status_code == 429, "the right password does not help while the address is throttled"
    assert int(last.headers["Retry-After"]) > 0
    text = last.json["message"] if api else last.get_data(as_text=True)
    assert "Too many failed logins from your network" in text
    if api:
        assert last.json["error"] == "too_many_requests"
    # Another address is not affected, and successful logins never count.
    assert _attempt(client, api, real, PASSWORD, "198.51.100.9").status_code in (200, 302)


def test_200_bad_logins_at_one_account_from_many_addresses_get_429(throttled):
    """The form and the token endpoint draw on one allowance per account (alternating here),
    whatever the address and however the e-mail is spelt."""

    community = Community(throttled.extensions["kopa.db"], throttled.extensions["kopa.vault"])
    victim = community.email_of(community.user())
    bystander = community.email_of(community.user())
    client = _login_client(throttled)
    statuses = [
        _attempt(client, bool(i % 2), victim.upper() if i % 3 else victim, "wrong password",
                 f"10.{i // 250}.{i % 250}.1").status_code
        for i in range(200)
    ]
    assert statuses[:10] == [400, 401] * 5, "the first 10 failures per minute are answered"
    assert statuses[10:] == [429] * 190
    for api in (False, True):
        last = _attempt(client, api, victim, PASSWORD, "10.9.9.9")
        text = last.json["message"] if api else last.get_data(as_text=True)
        assert last.status_code == 429 and "Too many failed logins for this account" in text
    # Other accounts log in as usual from the same addresses.
    assert _attempt(client, False, bystander, PASSWORD, "10.0.3.1").status_code == 302
    assert _attempt(client, True, bystander, PASSWORD, "10.0.4.1").status_code == 200


@pytest.mark.parametrize("hops", [0, 1])
def test_behind_a_proxy_the_login_limit_counts_each_forwarded_client(tmp_path, sqlite_url, anvil, hops):
    """With KOPA_PROXY_HOPS=1 (nginx in front) every client is limited by its own address from
    X-Forwarded-For, not all together by the proxy's; without it the header is ignored, so a
    client cannot escape the limit by inventing addresses."""
    previous_prefix = limiter._key_prefix
    app = create_app({
        "TESTING": True, "SECRET_KEY": SECRET, "KOPA_INSTANCE_PATH": str(tmp_path / "instance"),
        "KOPA_DATABASE_URL": sqlite_url, "KOPA_RPC_URL": anvil.url, "RATELIMIT_ENABLED": True,
        "SESSION_COOKIE_SECURE": False, "KOPA_PROXY_HOPS": hops,
    })
    try:
        client = _login_client(app)

        def bad_login(i: int, client_address: str) -> int:
            return client.post("/login", data={"email": f"guess{i}@example.org", "password": "wrong",
                                               "csrf_token": client.csrf},
                               environ_base={"REMOTE_ADDR": "127.0.0.1"},
                               headers={"X-Forwarded-For": client_address}).status_code

        statuses = [bad_login(i, "203.0.113.7" if hops else f"203.0.113.{i}") for i in range(21)]
        assert statuses == [400] * 20 + [429]
        other_client = bad_login(99, "198.51.100.9")
        assert other_client == (400 if hops else 429)
    finally:
        app.extensions["kopa.db"].dispose()
        limiter._key_prefix = previous_prefix


# --- Socket.IO on a real server ---------------------------------------------------------------------


def _token(base: str, email: str) -> str:
    response = requests.post(f"{base}/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD},
                             timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def _connect(base: str, transport: str, origin: str, auth: dict) -> socketio.Client:
    """A python-socketio client sending exactly one Origin header: the WebSocket library adds
    its own unless told which, long-polling sends the request headers it is given."""
    if transport == "websocket":
        client = socketio.Client(reconnection=False, websocket_extra_options={"origin": origin})
        client.connect(base, namespaces=["/leaderboard"], transports=[transport], auth=auth, wait_timeout=10)
    else:
        client = socketio.Client(reconnection=False)
        client.connect(base, namespaces=["/leaderboard"], transports=[transport], headers={"Origin": origin},
                       auth=auth, wait_timeout=10)
    return client


@pytest.mark.chain
@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_socket_refuses_a_foreign_origin_and_a_bad_token(demo_server, transport):
    token = {"token": _token(demo_server, "member1@kopa.local")}
    with pytest.raises(socketio.exceptions.ConnectionError):
        _connect(demo_server, transport, "https://evil.example", token)
    with pytest.raises(socketio.exceptions.ConnectionError):
        _connect(demo_server, transport, demo_server, {"token": "forged"})
    own = _connect(demo_server, transport, demo_server, token)
    try:
        assert own.connected and "/leaderboard" in own.namespaces
    finally:
        own.disconnect()


@pytest.mark.chain
def test_engineio_handshake_from_a_foreign_origin_is_a_400(demo_server):
    url = f"{demo_server}/socket.io/?EIO=4&transport=polling"
    foreign = requests.get(url, headers={"Origin": "https://evil.example"}, timeout=5)
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in {k.lower() for k in foreign.headers}
    own = requests.get(url, headers={"Origin": demo_server}, timeout=5)
    assert own.status_code == 200 and own.headers["Access-Control-Allow-Origin"] == demo_server


EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.chain
def test_leaderboard_pushes_carry_names_and_points_only(demo_server):
    """Approvals for a member with a pseudonym, one who left the boards and one by name: every
    push names them as the boards show them and carries no e-mail, id or address."""
    staff = {"Authorization": f"Bearer {_token(demo_server, 'staff@kopa.local')}"}
    members = {email: {"Authorization": f"Bearer {_token(demo_server, email)}"}
               for email in ("member2@kopa.local", "member4@kopa.local", "member5@kopa.local")}
    pseudonym = f"Fox {uuid.uuid4().hex[:4]}"
    profile = f"{demo_server}/api/v1/me/board-profile"
    assert requests.put(profile, json={"opt_out": False, "pseudonym": pseudonym},
                        headers=members["member4@kopa.local"], timeout=5).status_code == 200
    assert requests.put(profile, json={"opt_out": True, "pseudonym": None},
                        headers=members["member5@kopa.local"], timeout=5).status_code == 200

    pushes: list[dict] = []
    arrived = threading.Event()
    wall = socketio.Client(reconnection=False)

    @wall.on("leaderboard_updated", namespace="/leaderboard")
    def _on_update(payload):
        pushes.append(payload)
        if any(s["member"] == pseudonym for s in payload.get("top", [])):
            arrived.set()

    wall.connect(demo_server, namespaces=["/leaderboard"], transports=["websocket"], auth={"wall": True},
                 wait_timeout=10)
    try:
        wall.call("watch", {"scope": "community", "period": "all"}, namespace="/leaderboard", timeout=10)
        task = requests.get(f"{demo_server}/api/v1/tasks", headers=members["member2@kopa.local"],
                            timeout=5).json()[0]["id"]
        for email, headers in members.items():
            created = requests.post(f"{demo_server}/api/v1/tasks/{task}/contributions",
                                    json={"text": f"security push check {email[:7]}"}, headers=headers,
                                    timeout=5)
            assert created.status_code == 201, created.text
            approved = requests.post(f"{demo_server}/api/v1/contributions/{created.json()['id']}/approve",
                                     json={"level": "high"}, headers=staff, timeout=5)
            assert approved.status_code == 200, approved.text
        assert arrived.wait(10), "the pseudonym's approval was pushed"
    finally:
        wall.disconnect()

    names = set()
    for payload in pushes:
        text = json.dumps(payload)
        assert not EMAIL.search(text), f"an e-mail address in a push: {text}"
        assert not ADDRESS.search(text), f"a wallet address in a push: {text}"
        assert _keys(payload) <= {"scope", "period", "dimension", "title", "version", "frozen", "top",
                                  "rank", "member", "points"}, _keys(payload)
        for standing in payload["top"]:
            assert set(standing) == {"rank", "member", "points"}
            names.add(standing["member"])
    assert pseudonym in names
    assert "Pablo" not in names, "the member with a pseudonym is never named"
    assert "Ilze" not in names, "the member who left the boards is not on them"
    assert "Mārtiņš" in names


