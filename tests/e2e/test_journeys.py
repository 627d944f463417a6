"""The portal's journeys end to end in a real browser (#9): Debian's chromium driven by
Playwright against a real `kopa run` (gunicorn, relay process, anvil). Every step saves a
screenshot under tests/e2e/screenshots/<journey>/ and runs axe-core (from npm) on the page;
a journey fails on any serious or critical accessibility violation."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from babel.dates import format_skeleton
from playwright.sync_api import expect

from community.demo import DEMO_PASSWORD
from tests.support.browser import SHOTS, login
from tests.support.servers import bearer

pytestmark = pytest.mark.chain

AXE = (Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js").read_text()
RUN_AXE = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"""


class Journey:
    """A person's way through the portal: one screenshot and one axe check per step."""

    def __init__(self, name: str, page, axe: bool = True) -> None:
        self.name = name
        self.page = page
        self.axe = axe  # axe needs JavaScript: off for the journey without it
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
        if not self.axe:
            return
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
        demo_server, browser, tmp_path):
    context = browser.new_context(accept_downloads=True)
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
    expect(page.get_by_text("Your account is ready")).to_be_visible()
    journey.step("registered")

    page.get_by_role("navigation").get_by_role("link", name="Processes").first.click()
    page.get_by_role("link", name="Better bus stops in Imanta").click()
    journey.step("open-process")
    page.locator("#join").get_by_role("button", name="Join").click()
    expect(page.locator("#join").get_by_text("Joined.")).to_be_visible()
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
    expect(page.get_by_text("waiting for validation")).to_be_visible()
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
    expect(page.get_by_text("approved").first).to_be_visible()
    journey.step("approved")

    page.goto(f"{demo_server}/notifications")
    expect(page.get_by_text(re.compile("approved", re.I)).first).to_be_visible()
    journey.step("notifications")
    page.goto(f"{demo_server}/account")
    journey.step("account")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data (JSON)").click()
    mine = json.loads(Path(download.value.path()).read_text())
    assert email in json.dumps(mine) and "Photographed the shelter" in json.dumps(mine)
    journey.finish()
    context.close()


def next_weekday(weekday: int, zone: str = "Europe/Riga") -> dt.date:
    today = dt.datetime.now(ZoneInfo(zone)).date()
    return today + dt.timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def spendable(base: str, member: dict, expected: int | None = None) -> int:
    """Spendable credits; with ``expected``, waits (up to 15 s) for the relay to get there."""
    deadline = time.monotonic() + 15
    while True:
        value = requests.get(f"{base}/api/v1/me/wallet", headers=member, timeout=10).json()["spendable"]
        if expected is None or value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_member_books_with_credits_gets_the_feed_cancels_for_a_refund_and_is_promoted_from_a_waitlist(
        demo_server, browser):
    tuesday = next_weekday(1)
    zone = ZoneInfo("Europe/Riga")
    slot_name = format_skeleton("MMMEd", tuesday, locale="en")  # as the calendar says it, e.g. "Tue, Nov 24"
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
    expect(page.get_by_text("20 credits spent")).to_be_visible()
    journey.step("booked")
    booking_url = page.url
    assert spendable(demo_server, member, expected=credits_before - 20) == credits_before - 20

    page.get_by_role("link", name="← My bookings").click()
    feed = page.locator("code.feed").inner_text()
    ics = page.request.get(feed)
    assert ics.ok and ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in ics.text() and "Makerspace" in ics.text()
    journey.step("my-bookings-feed")

    page.goto(booking_url)
    page.get_by_role("button", name="Cancel this booking").click()
    expect(page.get_by_text("(refunded)").first).to_be_visible()
    journey.step("cancelled-refunded")
    assert spendable(demo_server, member, expected=credits_before) == credits_before

    # Someone else holds 14:00-15:00; our member queues for it and is promoted when it frees.
    start = dt.datetime.combine(tuesday, dt.time(14, 0), zone)
    end = start + dt.timedelta(hours=1)
    held = requests.post(f"{demo_server}/api/v1/resources/{makerspace['id']}/bookings", headers=other,
                         json={"start": start.isoformat(), "end": end.isoformat()}, timeout=10)
    assert held.status_code == 201, held.text
    page.goto(f"{demo_server}/booking/resources/{makerspace['id']}?view=week&date={tuesday.isoformat()}")
    taken = page.get_by_role("link", name=re.compile(f"{slot_name} 14:00: join the waitlist"))
    expect(taken).to_have_count(1)
    taken.click()
    page.get_by_label("Until", exact=True).fill("15:00")
    journey.step("waitlist-form")
    page.get_by_role("button", name="Join the waitlist for this slot").click()
    expect(page.get_by_text("You are on the waitlist")).to_be_visible()
    journey.step("waitlisted")

    cancelled = requests.post(f"{demo_server}/api/v1/bookings/{held.json()['id']}/cancel", headers=other,
                              json={}, timeout=10)
    assert cancelled.status_code == 200, cancelled.text
    page.reload()
    offered = page.locator("tr", has_text="Makerspace").filter(has=page.get_by_role("button", name="Confirm"))
    assert offered.count() == 1
    journey.step("offered-from-waitlist")
    offered.get_by_role("button", name="Confirm").click()
    expect(page.locator("main .facts span.state")).to_have_text("confirmed")
    expect(page.get_by_role("heading", name="Makerspace")).to_be_visible()
    journey.step("promoted-and-confirmed")
    page.goto(f"{demo_server}/notifications")
    expect(page.get_by_text(re.compile("waitlist", re.I)).first).to_be_visible()
    journey.step("notified")
    journey.finish()
    context.close()


def submit(base: str, member: dict, task_id: int, text: str) -> int:
    response = requests.post(f"{base}/api/v1/tasks/{task_id}/contributions", json={"text": text},
                             headers=member, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def state_of(base: str, contribution_id: int) -> str:
    staff = bearer(base, "staff@kopa.local")
    return requests.get(f"{base}/api/v1/contributions/{contribution_id}", headers=staff,
                        timeout=10).json()["state"]


def test_staff_work_the_queue_create_a_process_from_a_template_and_a_poll_with_its_kiosk(
        demo_server, browser):
    tasks = requests.get(f"{demo_server}/api/v1/tasks", headers=bearer(demo_server, "member2@kopa.local"),
                         timeout=10).json()
    task = next(t for t in tasks if t["complexity"] == 20)
    approve_me, reject_me, change_me = (
        submit(demo_server, bearer(demo_server, f"member{n}@kopa.local"), task["id"], text)
        for n, text in ((2, "Queue: counted the benches"), (3, "Queue: nothing much"),
                        (4, "Queue: a sketch without a date")))

    context = browser.new_context()
    page = context.new_page()
    journey = Journey("staff", page)
    login(page, demo_server, "staff@kopa.local")
    page.get_by_role("navigation").get_by_role("link", name="Validation").click()
    expect(page.locator(f"#contribution-{approve_me}")).to_be_visible()
    journey.step("queue")

    page.locator(f"#contribution-{approve_me}").get_by_role("button", name="Approve").click()
    expect(page.locator(f"#contribution-{approve_me}")).to_have_count(0)
    journey.step("approved")
    card = page.locator(f"#contribution-{reject_me}")
    card.get_by_label(re.compile("^Comment")).fill("There is no evidence of the work yet.")
    card.get_by_role("button", name="Reject").click()
    expect(page.locator(f"#contribution-{reject_me}")).to_have_count(0)
    journey.step("rejected")
    card = page.locator(f"#contribution-{change_me}")
    card.get_by_label(re.compile("^Comment")).fill("Please add the date of the sketch.")
    card.get_by_role("button", name="Ask for changes").click()
    expect(page.locator(f"#contribution-{change_me}")).to_have_count(0)
    journey.step("changes-requested")
    assert [state_of(demo_server, c) for c in (approve_me, reject_me, change_me)] == [
        "approved", "rejected", "changes_requested"]

    page.get_by_role("navigation").get_by_role("link", name="Processes").first.click()
    page.get_by_role("link", name="New process").click()
    page.get_by_label("Title").fill("Riverside clean-up hackathon")
    page.get_by_label("Who may take part").select_option(label="Open: every member may contribute")
    page.get_by_label("Start from").select_option(value="hackathon")
    journey.step("process-form")
    page.get_by_role("button", name="Create process").click()
    expect(page.get_by_role("heading", name="Riverside clean-up hackathon")).to_be_visible()
    expect(page.get_by_text("Process created")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Ship a working demo")  # a task of the template
    journey.step("process-created")

    page.goto(f"{demo_server}/staff/polls/new")
    page.get_by_label("Question").fill("Which courtyard should we green first?")
    page.get_by_label("Options, one per line").fill("Kalnciema 10\nMelnsila 3\nSlokas 21")
    closes = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    page.get_by_label(re.compile("^Closes")).fill(closes.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Offer a kiosk screen for anonymous answers").check()
    journey.step("poll-form")
    page.get_by_role("button", name="Create poll").click()
    expect(page.get_by_text("The poll is ready")).to_be_visible()
    journey.step("poll-created")
    page.locator("a[href*='/kiosk/']").first.click()
    expect(page.get_by_text("Which courtyard should we green first?")).to_be_visible()
    expect(page.get_by_text("Melnsila 3")).to_be_visible()
    journey.step("kiosk")

    page.goto(f"{demo_server}/kpi")
    expect(page.get_by_role("heading", name="KPI dashboard")).to_be_visible()
    expect(page.locator("figure.kpi-chart canvas").first).to_be_visible()  # Chart.js drew it
    journey.step("kpi-dashboard")
    page.goto(f"{demo_server}/kpi/compare")
    journey.step("kpi-compare")
    journey.finish()
    context.close()


def test_auditor_follows_a_token_to_its_contribution_and_validator_reconciles_and_exports(
        demo_server, browser, anvil):
    member = bearer(demo_server, "member5@kopa.local")
    tasks = requests.get(f"{demo_server}/api/v1/tasks", headers=member, timeout=10).json()
    cid = submit(demo_server, member, next(t for t in tasks if t["complexity"] == 20)["id"], "Audit me")
    approve(demo_server, cid)
    entry = None
    for _ in range(100):  # until the relay has minted it
        items = requests.get(f"{demo_server}/api/v1/ledger", headers=member, timeout=10).json()["items"]
        entry = next((e for e in items if e["contribution_id"] == cid), None)
        if entry and entry["tx_hash"]:
            break
        time.sleep(0.1)
    assert entry and entry["tx_hash"], "the relay minted the entry"

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    journey = Journey("auditor", page)
    login(page, demo_server, "auditor@kopa.local")
    page.get_by_role("navigation").get_by_role("link", name="Audit").click()
    journey.step("ledger-explorer")
    page.get_by_label("Search").fill(entry["tx_hash"])
    page.get_by_role("button", name="Filter").click()
    row = page.locator("tbody tr", has_text=f"contribution {cid}")
    expect(row).to_have_count(1)
    contribution = requests.get(f"{demo_server}/api/v1/contributions/{cid}",
                                headers=bearer(demo_server, "auditor@kopa.local"), timeout=10).json()
    validator_id = [t for t in contribution["transitions"] if t["to"] == "approved"][-1]["by"]
    expect(row).to_contain_text(f"#{validator_id}")  # the validator, beside the rule version
    journey.step("token-found")
    row.get_by_role("link", name=f"contribution {cid}").click()
    expect(page.get_by_role("heading", name=f"#{cid}")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Audit me")
    journey.step("its-contribution-and-validator")
    expect(page.locator("table.history")).to_contain_text("approved")

    page.goto(f"{demo_server}/audit/reconciliation")
    expect(page.get_by_role("status")).to_have_text("Ledger and chain agree.")
    journey.step("reconciliation")
    page.goto(f"{demo_server}/audit/exports")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download export").click()
    path = download.value.path()

    with zipfile.ZipFile(path) as archive:
        assert {"ledger.csv", "ledger.json", "manifest.json", "manifest.sig"} <= set(archive.namelist())
        exported = [row for row in json.loads(archive.read("ledger.json")) if row["contribution_id"] == cid]
    assert [row["tx_hash"] for row in exported] == [entry["tx_hash"]]
    journey.step("export-downloaded")
    journey.finish()
    context.close()


def test_admin_assigns_a_role_edits_a_scoring_rule_with_preview_and_freezes_a_board(
        demo_server, browser):
    context = browser.new_context()
    page = context.new_page()
    journey = Journey("admin", page)
    login(page, demo_server, "admin@kopa.local")
    page.goto(f"{demo_server}/admin/users")
    journey.step("users")
    row = page.locator("tr", has_text="member5@kopa.local")
    row.get_by_role("combobox").select_option("staff")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("tr", has_text="member5@kopa.local").get_by_role("combobox")).to_have_value("staff")
    journey.step("role-assigned")

    page.goto(f"{demo_server}/admin/rules")
    journey.step("rules")
    page.locator("main table a[href^='/admin/rules/']").first.click()
    page.get_by_role("link", name="Change this rule").click()
    formula = page.get_by_label("Formula")
    formula.fill(f"({formula.input_value()}) * 2")
    page.get_by_label(re.compile("^Why this change")).fill("Double points for the spring campaign")
    journey.step("rule-edit")
    page.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.get_by_role("heading", name=re.compile("^Preview"))).to_be_visible()
    expect(page.get_by_role("heading", name="Top movers")).to_be_visible()
    journey.step("rule-preview")
    page.get_by_role("button", name=re.compile("^Publish version")).click()
    expect(page.get_by_text(re.compile("is now current"))).to_be_visible()
    journey.step("rule-published")

    page.goto(f"{demo_server}/leaderboard?scope=community&period=month")
    page.get_by_role("button", name="Freeze this board").click()
    expect(page.locator("#frozen-note")).to_be_visible()
    journey.step("board-frozen")
    page.get_by_role("button", name="Unfreeze this board").click()
    expect(page.locator("#frozen-note")).to_have_count(0)
    page.goto(f"{demo_server}/wall")  # what the centre's screens show
    expect(page.locator("#wall-status")).to_have_text("Live")
    journey.step("wall-display")
    journey.finish()
    context.close()


PHONE = {"width": 360, "height": 740}


def test_pages_fit_a_360px_phone(demo_server, browser):
    """No page scrolls sideways on a 360 px wide phone (the tables scroll inside themselves)."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    journey = Journey("phone", page)
    login(page, demo_server, "member1@kopa.local")
    wide = []
    pages = ("/", "/processes", "/processes/1", "/tasks/1", "/contributions", "/leaderboard", "/wallet",
             "/booking", "/booking/resources/3", "/booking/mine", "/catalogue", "/polls", "/notifications")
    for path in pages:
        page.goto(f"{demo_server}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide.append((path, width))
        journey.step(path.strip("/").replace("/", "-") or "home")
    assert wide == [], f"pages wider than {PHONE['width']} px: {wide}"
    journey.finish()
    context.close()


def test_contributing_and_booking_work_without_javascript(demo_server, browser, tmp_path):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    journey = Journey("no-javascript", page, axe=False)
    login(page, demo_server, "member3@kopa.local")
    page.goto(f"{demo_server}/tasks/1")
    page.get_by_label("What did you do?").fill("Measured the courtyard without any script")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("waiting for validation")).to_be_visible()
    journey.step("contributed")
    tuesday = next_weekday(1)
    page.goto(f"{demo_server}/booking/resources/1?view=day&date={tuesday.isoformat()}&start=16:00")
    page.get_by_label("Until", exact=True).fill("17:00")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_text("Booked Ideas room")).to_be_visible()
    journey.step("booked")
    journey.finish()
    context.close()


FOCUSED = """() => { const e = document.activeElement; const label = e.labels && e.labels[0];
    const card = e.closest('article'); return {text: ((label && label.textContent) || e.textContent).trim()
    .replace(/\\s+/g, ' '), card: card ? card.id : ''} }"""


def tab_to(page, text: str, *, exact: bool = False, card: str | None = None, limit: int = 120) -> None:
    """Press Tab until the focused control is labelled ``text`` (inside article ``card``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if (focused["text"] == text if exact else focused["text"].startswith(text)) and (
                card is None or focused["card"] == card):
            return
    raise AssertionError(f"Tab never reached {text!r}")


def keyboard_login(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    tab_to(page, "Email")
    page.keyboard.type(email)
    tab_to(page, "Password")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")


def test_member_and_staff_journeys_work_with_the_keyboard_alone(demo_server, browser):
    """Tab order reaches every control a member needs to contribute and to book, and staff to
    approve in the queue; Enter follows links and submits. No mouse, no fill()."""
    context = browser.new_context()
    page = context.new_page()
    journey = Journey("keyboard", page)
    keyboard_login(page, demo_server, "member2@kopa.local")
    page.goto(f"{demo_server}/tasks/1")
    tab_to(page, "What did you do?")
    page.keyboard.type("Typed without a mouse")
    journey.step("focused-form")
    tab_to(page, "Submit", exact=True)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{demo_server}/contributions")
    card = page.locator("article.contribution", has_text="Typed without a mouse")
    expect(card).to_have_count(1)
    contribution = card.get_attribute("id")
    journey.step("submitted")

    wednesday = next_weekday(2)
    page.goto(f"{demo_server}/booking/resources/2?view=week&date={wednesday.isoformat()}")
    tab_to(page, f"free {format_skeleton('MMMEd', wednesday, locale='en')} 09:00", exact=True)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*start=09(%3A|:)00.*"))
    tab_to(page, "Until", exact=True)
    page.keyboard.type("1000A")  # the time field's hour, minutes and AM segments
    journey.step("booking-form")
    tab_to(page, "Book", exact=True)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Booked Quiet room")).to_be_visible()
    journey.step("booked")
    context.close()

    context = browser.new_context()
    page = context.new_page()
    keyboard_login(page, demo_server, "staff@kopa.local")
    page.goto(f"{demo_server}/validation")
    tab_to(page, "Approve", exact=True, card=contribution)
    journey.step("staff-focused-approve", page)
    page.keyboard.press("Enter")
    expect(page.locator(f"#{contribution}")).to_have_count(0)
    journey.step("staff-approved", page)
    assert state_of(demo_server, int(contribution.removeprefix("contribution-"))) == "approved"
    journey.finish()
    context.close()
