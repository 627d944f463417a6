"""Languages (#9): every message id translated into Latvian and Spanish; the language of a
page chosen by ?lang=, the profile, Accept-Language, English; API errors, dates and numbers
in the reader's language."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from community import accounts
from community.models import User
from tests.support.community import PASSWORD

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("kopa_i18n_script", ROOT / "scripts" / "i18n.py")
i18n_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(i18n_script)

LATVIAN_HOME = "Veidosim pilsētu kopā"
SPANISH_HOME = "Demos forma a la ciudad juntos"
ENGLISH_HOME = "Shape the city together"


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """The .mo files `make install` builds, built here too when missing or out of date."""
    i18n_script.compile_all()


def _html_lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


# --- (1) the catalogues --------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A fresh extraction of every message id in the code and the templates."""
    pot = i18n_script.extract(tmp_path_factory.mktemp("pot") / "messages.pot")
    with pot.open("rb") as fh:
        return read_po(fh)


@pytest.mark.parametrize("lang", ["lv", "es"])
def test_every_message_id_is_translated(template, lang):
    with (ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    ids = [m.id for m in template if m.id]
    assert len(ids) > 500  # the extraction found the templates, the forms and the domain messages
    missing, empty, fuzzy = [], [], []
    for msgid in ids:
        message = catalog.get(msgid)
        if message is None:
            missing.append(msgid)
        elif message.fuzzy:
            fuzzy.append(msgid)
        elif not (message.string if isinstance(message.string, str) else all(message.string)):
            empty.append(msgid)
    assert not missing, f"{len(missing)} message ids missing from {lang}: {missing[:20]}"
    assert not empty, f"{len(empty)} message ids untranslated in {lang}: {empty[:20]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy translations in {lang}: {fuzzy[:20]}"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert not problems, f"placeholders that do not match their message id: {problems[:10]}"
    copies = [m.id for m in catalog if isinstance(m.id, str) and m.string == m.id and _words(m.id) >= 4]
    assert not copies, f"sentences left in English in {lang}: {copies[:10]}"


def _words(text: str) -> int:
    """Words of a message outside its placeholders and markup."""
    return len(re.findall(r"[A-Za-z]{2,}", re.sub(r"%\(\w+\)[-#0 +.\d]*[a-z]|<[^>]*>", " ", text)))


def test_a_missing_message_id_is_noticed(template, tmp_path):
    """The check above fails when a template gains a string nobody translated."""
    (tmp_path / "web" / "templates").mkdir(parents=True)
    new_page = tmp_path / "web" / "templates" / "new.html"
    new_page.write_text("<p>{{ _('A sentence nobody translated yet') }}</p>")
    (tmp_path / "babel.cfg").write_text("[jinja2: web/templates/**.html]\n")
    original = i18n_script.ROOT
    i18n_script.ROOT = tmp_path
    try:
        pot = i18n_script.extract(tmp_path / "new.pot")
    finally:
        i18n_script.ROOT = original
    with pot.open("rb") as fh:
        ids = {m.id for m in read_po(fh) if m.id}
    assert ids == {"A sentence nobody translated yet"}
    with (ROOT / "translations" / "lv" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        assert read_po(fh, locale="lv").get("A sentence nobody translated yet") is None


# --- (2) the language of a page ------------------------------------------------------------


def test_lang_parameter_switches_and_is_remembered(client):
    page = client.get("/?lang=lv").get_data(as_text=True)
    assert _html_lang(page) == "lv" and LATVIAN_HOME in page
    again = client.get("/").get_data(as_text=True)  # kept in the session
    assert _html_lang(again) == "lv" and LATVIAN_HOME in again
    spanish = client.get("/processes?lang=es", headers={"Accept-Language": "lv"}).get_data(as_text=True)
    assert _html_lang(spanish) == "es" and "Procesos" in spanish


@pytest.mark.parametrize(
    ("accept", "lang", "text"),
    [
        ("es-ES,es;q=0.9", "es", SPANISH_HOME),
        ("lv", "lv", LATVIAN_HOME),
        ("de-DE,fr;q=0.8,lv;q=0.5", "lv", LATVIAN_HOME),
        ("de-DE,fr;q=0.8", "en", ENGLISH_HOME),
        (None, "en", ENGLISH_HOME),
    ],
)
def test_browser_language_with_english_fallback(client, accept, lang, text):
    headers = {"Accept-Language": accept} if accept else {}
    page = client.get("/", headers=headers).get_data(as_text=True)
    assert _html_lang(page) == lang
    assert text in page


def test_profile_language_beats_the_browser_and_a_switch_is_saved_to_it(app, app_community, client, auth):
    member = app_community.user(email="lang@example.org")
    accounts.set_locale(app.extensions["kopa.db"].unit_of_work(), user_id=member, locale="es")
    auth.login("lang@example.org")
    page = client.get("/", headers={"Accept-Language": "lv"}).get_data(as_text=True)
    assert _html_lang(page) == "es" and SPANISH_HOME in page

    switched = client.get("/wallet?lang=lv").get_data(as_text=True)
    assert _html_lang(switched) == "lv" and "Jūsu maks" in switched
    with app.extensions["kopa.db"].read_sessions() as session:
        assert session.scalars(select(User.locale).where(User.id == member)).one() == "lv"

    fresh = app.test_client()  # another browser, no session: the profile decides
    login_page = fresh.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    fresh.post("/login", data={"email": "lang@example.org", "password": PASSWORD, "csrf_token": token})
    page = fresh.get("/", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert _html_lang(page) == "lv" and LATVIAN_HOME in page


def test_unknown_language_is_ignored(client):
    page = client.get("/?lang=xx", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert _html_lang(page) == "es"


def test_switcher_on_every_page_links_each_language_keeping_the_query(app, client):
    page = client.get("/leaderboard?period=week&lang=es").get_data(as_text=True)
    nav = re.search(r'<nav class="langs" aria-label="Idioma">(.*?)</nav>', page, re.S).group(1)
    assert 'href="/leaderboard?period=week&amp;lang=lv" lang="lv" hreflang="lv"' in nav
    assert re.search(r'lang="es" hreflang="es" aria-current="true">Español<', nav)
    assert ">English<" in nav and ">Latviešu<" in nav
    fresh = app.test_client()  # no explicit choice in its session: the browser decides
    for path in ("/login", "/register", "/processes", "/stories", "/booking", "/catalogue"):
        html = fresh.get(path, headers={"Accept-Language": "lv"}).get_data(as_text=True)
        assert _html_lang(html) == "lv" and 'class="langs"' in html, path


def test_wall_is_shown_in_the_browser_language(client):
    page = client.get("/wall", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert _html_lang(page) == "es"


# --- (3) API error messages ----------------------------------------------------------------


def test_api_error_message_in_spanish_code_untouched(client):
    response = client.get("/api/v1/me/wallet", headers={"Accept-Language": "es"})
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "unauthorized"
    assert body["message"].startswith("envía Authorization: Bearer")
    english = client.get("/api/v1/me/wallet").get_json()
    assert english == {
        "error": "unauthorized", "message": "send Authorization: Bearer <token> (POST /api/v1/auth/token)"
    }


def test_api_error_with_values_in_latvian(app_community, client):
    member = app_community.user(email="api-lang@example.org")
    token = client.post("/api/v1/auth/token", json={"email": "api-lang@example.org", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}", "Accept-Language": "lv"}
    response = client.get("/api/v1/polls/987654", headers=headers)
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "message": "neizdevās atrast: aptauja 987654"}
    english = client.get("/api/v1/polls/987654", headers={"Authorization": headers["Authorization"]})
    assert english.get_json() == {"error": "not_found", "message": "poll 987654 not found"}
    assert member


# --- (4) dates and numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "when", "day", "number"),
    [
        ("en", "May 1, 2026 14:05", "May 1, 2026", "12,345.5"),
        ("lv", "2026. g. 1. maijs 14:05", "2026. g. 1. maijs", "12\xa0345,5"),
        ("es", "1 may 2026 14:05", "1 may 2026", "12.345,5"),
    ],
)
def test_dates_and_numbers_follow_the_language(app, lang, when, day, number):
    moment = dt.datetime(2026, 5, 1, 14, 5, tzinfo=dt.UTC)
    with app.test_request_context("/", headers={"Accept-Language": lang}):
        env = app.jinja_env
        assert env.from_string("{{ t|when }}").render(t=moment) == when
        assert env.from_string("{{ t|day }}").render(t=moment) == day
        assert env.from_string("{{ n|number }}").render(n=12345.5) == number


# --- (5) messages with values, notifications and e-mail --------------------------------------


def test_domain_message_with_a_time_in_spanish(app):
    from booking.timeutil import moment
    from community.i18n import N_
    from web.i18n import translate

    at = dt.datetime(2030, 3, 4, 8, 30, tzinfo=dt.UTC)
    message = N_("check-in closed at %(time)s; the slot was released",
                 time=moment(at, ZoneInfo("Europe/Riga"), "time"))
    assert message == "check-in closed at 10:30; the slot was released"  # English as the domain writes it
    with app.test_request_context("/", headers={"Accept-Language": "es"}):
        assert translate(message) == "el registro cerró a las 10:30; la franja se liberó"


def test_notification_and_digest_in_the_recipients_language(app, app_community):
    from community.i18n import N_, NP_
    from community.notifications import MailSettings, compose, notify

    member = app_community.user(email="digest-lv@example.org")
    db = app.extensions["kopa.db"]
    accounts.set_locale(db.unit_of_work(), user_id=member, locale="lv")
    text = N_("Your contribution to “%(task)s” %(what)s", task="Parks",
              what=NP_("was approved: %(num)s point.", "was approved: %(num)s points.", 20))
    with app.app_context(), db.write_sessions() as session, session.begin():
        note = notify(session, member, "contribution_approved", text, "/contributions/1")
        session.flush()
        stored = note.text
        subject, body = compose([note], MailSettings(site_url="http://kopa.test"), digest=True, locale="lv")
    assert stored == "Jūsu ieguldījums uzdevumā “Parks” tika apstiprināts: 20 punkti."
    assert subject == "Kopa: jūsu ikdienas kopsavilkums (1 paziņojums)"
    assert "Kas Kopa notika kopš jūsu pēdējā kopsavilkuma:" in body
    assert "Jūsu paziņojumi: http://kopa.test/notifications" in body and stored in body
    assert str(text) == "Your contribution to “Parks” was approved: 20 points."  # English for the rest


def test_form_errors_and_login_prompt_in_latvian(client):
    """WTForms ships no Latvian and Flask-Login only English: both come from Kopa's catalogue."""
    headers = {"Accept-Language": "lv"}
    prompt = client.get("/polls", headers=headers, follow_redirects=True).get_data(as_text=True)
    assert "Lūdzu, piesakieties, lai atvērtu šo lapu." in prompt
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', prompt).group(1)
    page = client.post("/register", data={"csrf_token": token}, headers=headers).get_data(as_text=True)
    assert _html_lang(page) == "lv" and "Šis lauks ir obligāts." in page
    assert "This field is required." not in page


# --- (6) live scripts speak the page's language -----------------------------------------------


@pytest.mark.chain
def test_live_board_and_wall_in_latvian_in_a_browser(demo_server):
    """The scripts that update pages live take their words from the page (Accept-Language lv)."""
    import shutil

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        args = ["--headless", "--no-sandbox", "--disable-gpu"]
        browser = p.chromium.launch(executable_path=chromium, args=args)
        try:
            context = browser.new_context(locale="lv-LV", extra_http_headers={"Accept-Language": "lv"})
            page = context.new_page()
            page.goto(f"{demo_server}/leaderboard")
            assert page.locator("html").get_attribute("lang") == "lv"
            live = page.locator("#live-status", has_text=re.compile(r"^Tiešraidē · atjaunināts"))
            live.wait_for(timeout=10000)
            page.goto(f"{demo_server}/wall")
            page.locator("#wall-status", has_text="Tiešraidē").wait_for(timeout=10000)
            assert page.locator("#wall-period").inner_text() in {"Šonedēļ", "Šomēnes", "Visu laiku"}
        finally:
            browser.close()
