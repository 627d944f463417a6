"""The portal in a real browser (Debian's chromium driven by Playwright): demo logins work
with the production cookie settings, and the leaderboard moves live without a reload."""

from __future__ import annotations

import re

import pytest
import requests

from community.demo import DEMO_PASSWORD
from tests.support.browser import SHOTS, login

pytestmark = pytest.mark.chain

def test_every_demo_login_works_in_a_browser(demo_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for email, role in (("admin@kopa.local", "admin"), ("staff@kopa.local", "staff"),
                        ("auditor@kopa.local", "auditor"), ("member1@kopa.local", "member")):
        context = browser.new_context()
        page = context.new_page()
        login(page, demo_server, email)
        assert page.locator(".who").inner_text().endswith(f"({role})")
        page.screenshot(path=str(SHOTS / f"login-{role}.png"))
        context.close()


def test_wrong_password_shows_a_form_error(demo_server, browser):
    page = browser.new_page()
    page.goto(f"{demo_server}/login")
    page.get_by_label("Email").fill("member1@kopa.local")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_text("wrong email or password").is_visible()
    page.close()


def test_leaderboard_moves_live_after_staff_approval(demo_server, browser):
    context = browser.new_context()
    page = context.new_page()
    login(page, demo_server, "member4@kopa.local")
    page.goto(f"{demo_server}/leaderboard")
    # A locator wait, not wait_for_function: the pages' CSP forbids the eval it polls with.
    page.locator("#live-status", has_text=re.compile(r"^Live")).wait_for()

    member = requests.post(f"{demo_server}/api/v1/auth/token",
                           json={"email": "member4@kopa.local", "password": DEMO_PASSWORD}, timeout=5).json()
    staff = requests.post(f"{demo_server}/api/v1/auth/token",
                          json={"email": "staff2@kopa.local", "password": DEMO_PASSWORD}, timeout=5).json()
    task = requests.get(f"{demo_server}/api/v1/tasks", headers={"Authorization": f"Bearer {member['token']}"},
                        timeout=5).json()[3]
    cid = requests.post(f"{demo_server}/api/v1/tasks/{task['id']}/contributions", json={"text": "Built one"},
                        headers={"Authorization": f"Bearer {member['token']}"}, timeout=5).json()["id"]
    approved = requests.post(f"{demo_server}/api/v1/contributions/{cid}/approve",
                             headers={"Authorization": f"Bearer {staff['token']}"}, timeout=5)
    approved.raise_for_status()
    if approved.json()["state"] == "awaiting_second_approval":  # four eyes: a second member of staff
        second = requests.post(f"{demo_server}/api/v1/auth/token", timeout=5,
                               json={"email": "staff@kopa.local", "password": DEMO_PASSWORD}).json()
        requests.post(f"{demo_server}/api/v1/contributions/{cid}/approve",
                      headers={"Authorization": f"Bearer {second['token']}"}, timeout=5).raise_for_status()

    pablo = next(s for s in requests.get(f"{demo_server}/api/v1/leaderboard", timeout=5).json()
                 if s["member"] == "Pablo")
    row = page.locator("#board tbody tr", has_text="Pablo").filter(has_text=f"{pablo['points']}")
    row.wait_for(timeout=5000)  # pushed: the page is never reloaded
    assert row.locator("td").nth(2).inner_text() == str(pablo["points"])
    page.screenshot(path=str(SHOTS / "leaderboard-live.png"))
    context.close()
