"""The portal's journeys end to end in a real browser (#9): Debian's chromium driven by
Playwright against a real `kopa run` (gunicorn, relay process, anvil). Every step saves a
screenshot under tests/e2e/screenshots/<journey>/ and runs axe-core (from npm) on the page;
a journey fails on any serious or critical accessibility violation."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from community.demo import DEMO_PASSWORD
from tests.test_browser import SHOTS, browser, login  # noqa: F401 (the browser fixture)

pytestmark = pytest.mark.chain

AXE = (Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js").read_text()
RUN_AXE = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"""


class Journey:
    """A person's way through the portal: one screenshot and one axe check per step."""

    def __init__(self, name: str, page) -> None:
        self.name = name
        self.page = page
        self.steps = 0
        self.violations: list[tuple[str, str, dict]] = []
        self.folder = SHOTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()

    def step(self, label: str, page=None) -> None:
        """Screenshot and axe on ``page`` (default: the journey's first tab)."""
        page = page or self.page
        self.steps += 1
        page.screenshot(path=str(self.folder / f"{self.steps:02d}-{label}.png"), full_page=True)
        if not page.evaluate("typeof axe !== 'undefined'"):
            page.evaluate(AXE)
        for violation in page.evaluate(RUN_AXE):
            self.violations.append((label, page.url, violation))

    def finish(self) -> None:
        assert self.steps > 0
        assert not self.violations, "serious/critical axe violations:\n" + "\n".join(
            f"  {label} {url}: {v['id']} ({v['impact']}) {v['help']} at {v['nodes'][:3]}"
            for label, url, v in self.violations)
        assert len(list(self.folder.glob("*.png"))) == self.steps


def bearer(base: str, email: str, password: str = DEMO_PASSWORD) -> dict:
    response = requests.post(f"{base}/api/v1/auth/token", json={"email": email, "password": password},
                             timeout=10)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def approve(base: str, contribution_id: int) -> None:
    """Staff approve over the API (a second member of staff when four eyes ask for one)."""
    for staff in ("staff@kopa.local", "staff2@kopa.local"):
        response = requests.post(f"{base}/api/v1/contributions/{contribution_id}/approve",
                                 json={"comment": "Thank you"}, headers=bearer(base, staff), timeout=10)
        assert response.status_code == 200, response.text
        if response.json()["state"] == "approved":
            return
    raise AssertionError("the contribution was not approved")


def test_new_member_registers_joins_contributes_and_sees_board_and_wallet_move_live(
        demo_server, browser, tmp_path):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    journey = Journey("new-member", page)
    name = "Ilze Journey"
    email = "ilze.journey@example.org"

    page.goto(f"{demo_server}/register")
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long journey pass")
    journey.step("register-form")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{demo_server}/")
    assert page.get_by_text("Your account is ready").is_visible()
    journey.step("registered")

    page.get_by_role("navigation").get_by_role("link", name="Processes").first.click()
    page.get_by_role("link", name="Better bus stops in Imanta").click()
    journey.step("open-process")
    page.locator("#join").get_by_role("button", name="Join").click()
    assert page.locator("#join").get_by_text("Joined.").is_visible()
    journey.step("joined")

    page.locator("main a[href^='/tasks/']").first.click()
    evidence = tmp_path / "bus-stop-photo.png"
    evidence.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                       "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5"
                                       "d0e6cd0000000049454e44ae426082"))
    page.get_by_label("What did you do?").fill("Photographed the shelter at the Imanta stop.")
    page.get_by_label(re.compile("file", re.I)).set_input_files(str(evidence))
    journey.step("contribution-form")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(f"{demo_server}/contributions")
    assert page.get_by_text("waiting for validation").is_visible()
    card = page.locator("article.contribution", has_text="Photographed the shelter")
    assert "pending" in card.inner_text()
    assert "bus-stop-photo.png" in card.inner_text()
    journey.step("pending")
    contribution_id = int(card.get_attribute("id").removeprefix("contribution-"))

    # The board and the wallet are open before staff decide: both must move without a reload.
    board = context.new_page()
    board.goto(f"{demo_server}/leaderboard")
    expect(board.locator("#live-status")).to_have_text(re.compile("^Live"))
    assert name not in board.locator("#board").inner_text()
    wallet = context.new_page()
    wallet.goto(f"{demo_server}/wallet")
    on_chain = wallet.locator('#wallet-figures [data-field="on_chain"]')
    assert on_chain.inner_text() == "0"

    approve(demo_server, contribution_id)

    # Locator waits, not wait_for_function: the pages' CSP forbids eval, and rightly so.
    expect(board.locator("#board")).to_contain_text(name, timeout=10_000)
    journey.step("board-moved-live", board)
    member = bearer(demo_server, email, "a long journey pass")
    points = requests.get(f"{demo_server}/api/v1/me/wallet", headers=member,
                          timeout=10).json()["points_total"]
    assert points > 0
    expect(on_chain).to_have_text(str(points), timeout=15_000)
    assert wallet.locator('#wallet-figures [data-field="pending_mint"]').inner_text() == "0"
    journey.step("wallet-arrived-live", wallet)

    page.goto(f"{demo_server}/contributions/{contribution_id}")
    assert page.get_by_text("approved").first.is_visible()
    journey.step("approved")
    journey.finish()
    context.close()


def next_weekday(weekday: int, zone: str = "Europe/Riga") -> dt.date:
    today = dt.datetime.now(ZoneInfo(zone)).date()
    return today + dt.timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def spendable(base: str, member: dict) -> int:
    return requests.get(f"{base}/api/v1/me/wallet", headers=member, timeout=10).json()["spendable"]


def test_member_books_with_credits_gets_the_feed_cancels_for_a_refund_and_is_promoted_from_a_waitlist(
        demo_server, browser):  # noqa: F811
    tuesday = next_weekday(1)
    zone = ZoneInfo("Europe/Riga")
    slot_name = f"{tuesday:%a %d %b}"
    member = bearer(demo_server, "member1@kopa.local")
    other = bearer(demo_server, "member2@kopa.local")
    resources = requests.get(f"{demo_server}/api/v1/resources", headers=member, timeout=10).json()
    makerspace = next(r for r in resources if r["name"] == "Makerspace")
    assert makerspace["price_per_hour"] == 10
    credits_before = spendable(demo_server, member)
    assert credits_before >= 20

    context = browser.new_context()
    page = context.new_page()
    journey = Journey("booking", page)
    login(page, demo_server, "member1@kopa.local")
    page.get_by_role("navigation").get_by_role("link", name="Book a space").click()
    journey.step("resources")
    page.get_by_role("link", name="Makerspace").first.click()
    page.goto(f"{page.url.split('?')[0]}?view=week&date={tuesday.isoformat()}")
    journey.step("calendar-week")
    page.get_by_role("link", name=f"free {slot_name} 10:00").click()
    page.get_by_label("Until", exact=True).fill("12:00")
    journey.step("book-form")
    page.get_by_role("button", name="Book", exact=True).click()
    assert page.get_by_text("20 credits spent").is_visible()
    journey.step("booked")
    booking_url = page.url
    assert spendable(demo_server, member) == credits_before - 20

    page.get_by_role("link", name="← My bookings").click()
    feed = page.locator("code.feed").inner_text()
    ics = page.request.get(feed)
    assert ics.ok and ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in ics.text() and "Makerspace" in ics.text()
    journey.step("my-bookings-feed")

    page.goto(booking_url)
    page.get_by_role("button", name="Cancel this booking").click()
    assert page.get_by_text("(refunded)").first.is_visible()
    journey.step("cancelled-refunded")
    assert spendable(demo_server, member) == credits_before

    # Someone else holds 14:00-15:00; our member queues for it and is promoted when it frees.
    start = dt.datetime.combine(tuesday, dt.time(14, 0), zone)
    end = start + dt.timedelta(hours=1)
    held = requests.post(f"{demo_server}/api/v1/resources/{makerspace['id']}/bookings", headers=other,
                         json={"start": start.isoformat(), "end": end.isoformat()}, timeout=10)
    assert held.status_code == 201, held.text
    page.goto(f"{demo_server}/resources/{makerspace['id']}?view=week&date={tuesday.isoformat()}")
    page.get_by_role("link", name=f"taken {slot_name} 14:00: join the waitlist").click()
    page.get_by_label("Until", exact=True).fill("15:00")
    journey.step("waitlist-form")
    page.get_by_role("button", name="Join the waitlist for this slot").click()
    assert page.get_by_text("You are on the waitlist").is_visible()
    journey.step("waitlisted")

    cancelled = requests.post(f"{demo_server}/api/v1/bookings/{held.json()['id']}/cancel", headers=other,
                              json={}, timeout=10)
    assert cancelled.status_code == 200, cancelled.text
    page.reload()
    offered = page.locator("tr", has_text="Makerspace").filter(has=page.get_by_role("button", name="Confirm"))
    assert offered.count() == 1
    journey.step("offered-from-waitlist")
    offered.get_by_role("button", name="Confirm").click()
    assert page.locator("tr", has_text="Makerspace").filter(has_text="confirmed").count() >= 1
    journey.step("promoted-and-confirmed")
    page.goto(f"{demo_server}/notifications")
    assert page.get_by_text(re.compile("waitlist", re.I)).first.is_visible()
    journey.step("notified")
    journey.finish()
    context.close()
