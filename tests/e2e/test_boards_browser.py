"""The wall display in a real browser (#6): no login, live over `/leaderboard` as a public
(wall) connection, rotating through public boards, names and points only."""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.browser import SHOTS
from tests.support.servers import bearer

pytestmark = pytest.mark.chain



def test_wall_display_is_public_live_and_rotates(demo_server, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{demo_server}/wall?seconds=5")
    # Locator waits, not wait_for_function: the pages' CSP forbids the eval it polls with.
    page.locator("#wall[data-showing='community|week']").wait_for()
    assert page.locator("#wall-status").inner_text() == "Live"
    rotation = json.loads(page.locator("#wall").get_attribute("data-rotation"))
    assert rotation[:3] == [{"scope": "community", "period": p} for p in ("week", "month", "all")]
    assert "@" not in page.content(), "no e-mail addresses on the wall"

    member = bearer(demo_server, "member5@kopa.local")
    task = requests.get(f"{demo_server}/api/v1/tasks", headers=member, timeout=5).json()[0]
    cid = requests.post(f"{demo_server}/api/v1/tasks/{task['id']}/contributions",
                        json={"text": "On the wall"}, headers=member, timeout=5).json()["id"]
    for staff in ("staff@kopa.local", "staff2@kopa.local"):  # a second one if four eyes apply
        approved = requests.post(f"{demo_server}/api/v1/contributions/{cid}/approve",
                                 headers=bearer(demo_server, staff), timeout=5)
        assert approved.status_code == 200, approved.text
        if approved.json()["state"] == "approved":
            break
    week = requests.get(f"{demo_server}/api/v1/leaderboard?period=week", timeout=5).json()
    ilze = next(s for s in week if s["member"] == "Ilze")
    row = page.locator("#wall-board li", has_text="Ilze").filter(has_text=str(ilze["points"]))
    row.wait_for(timeout=5000)  # pushed to the wall, no reload

    page.locator("#wall[data-showing='community|month']").wait_for(timeout=12000)
    assert page.locator("#wall-period").inner_text() == "This month"
    page.screenshot(path=str(SHOTS / "wall-display.png"))
    context.close()
