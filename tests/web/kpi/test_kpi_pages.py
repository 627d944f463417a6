"""The KPI dashboard through the Flask app (#9): staff-only pages, every number in tables with
Chart.js served locally, the CSV, the JSON API, and the charts drawn in a real browser."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from community import kpis
from community.models import Organisation, Role
from tests.support.browser import CHROMIUM, LAUNCH_ARGS, SHOTS
from tests.support.community import PASSWORD

UTC = dt.UTC


@pytest.fixture
def people(app, app_community):
    c = app_community
    people = c.people(staff=(Role.STAFF, "Stella Staff"), member="Ana Member")
    c.approved(people["member"], people["staff"],
               c.task(people["staff"], complexity=40, organisation="=HYPERLINK(1)"))
    with app.extensions["kopa.db"].read_sessions() as session:
        org = session.scalars(select(Organisation.id)).one()
    return {**people, **c.people(admin=Role.ADMIN, auditor=Role.AUDITOR), "org": org, "c": c}


def bearer(client, people, who: str) -> dict:
    response = client.post("/api/v1/auth/token",
                           json={"email": people["c"].email_of(people[who]), "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json['token']}"}


def test_kpi_pages_are_for_staff_only(client, auth, people):
    for path in ("/kpi", "/kpi.json", "/kpi.csv", "/kpi/compare", "/kpi/compare.json"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for who in ("member", "auditor"):
        auth.login(people["c"].email_of(people[who]))
        for path in ("/kpi", "/kpi.json", "/kpi.csv", "/kpi/compare", "/kpi/compare.json"):
            assert client.get(path).status_code == 403, (who, path)
        assert client.get("/api/v1/kpis", headers=bearer(client, people, who)).status_code == 403
        client.post("/logout", data={"csrf_token": auth.csrf("/")})
    assert client.get("/api/v1/kpis").status_code == 401
    auth.login(people["c"].email_of(people["admin"]))
    assert client.get("/kpi").status_code == 200


def test_staff_page_shows_every_number_in_tables_and_loads_charts_locally(client, auth, people):
    auth.login(people["c"].email_of(people["staff"]))
    page = client.get("/kpi")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/kpi"' in html, "staff see the nav link"
    assert '<td data-indicator="contributions">1</td>' in html
    assert '<td data-indicator="first_time_share">100.0 %</td>' in html
    assert "<th scope=\"row\">Process</th><td>1</td><td>1</td>" in html  # contributions per process
    assert 'data-source="/kpi.json"' in html and html.count('data-chart="') == 5
    assert '<script src="/vendor/chart.umd.js"></script>' in html and "/static/kpi.js" in html
    # Scripts and styles come from this site only (a search for "cdn" in the page matched a
    # random CSRF token once).
    sources = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]*)"', html)
    assert "<script>" not in html and sources
    assert all(src.startswith("/") and not src.startswith("//") for src in sources), sources
    data = client.get("/kpi.json").json
    assert data["indicators"]["contributions"] == 1 and data["indicators"]["tokens_minted"] == 0
    org_page = client.get(f"/kpi?organisation={people['org']}").get_data(as_text=True)
    assert "the processes of <strong>=HYPERLINK(1)</strong>" in org_page
    assert f'data-source="/kpi.json?organisation={people["org"]}"' in org_page
    compare = client.get("/kpi/compare").get_data(as_text=True)
    assert "<caption id=\"kpi-compare-title\">Indicators by organisation</caption>" in compare
    assert compare.count('<td data-indicator="contributions">1</td>') == 2  # All and the organisation
    bad = client.get("/kpi?from=soon")
    assert bad.status_code == 400 and "from must be a date as YYYY-MM-DD" in bad.get_data(as_text=True)
    missing = client.get("/kpi?organisation=987654")
    assert missing.status_code == 404 and "organisation 987654 not found" in missing.get_data(as_text=True)


def test_csv_rows_per_indicator_period_and_organisation(client, auth, people):
    auth.login(people["c"].email_of(people["staff"]))
    response = client.get("/kpi.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=\"kopa-kpis-")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["indicator", "period", "organisation", "value"]
    label = kpis.period().label
    assert ["contributions", label, "all", "1"] in rows
    assert ["contributions_approved", label, "all", "1"] in rows
    assert ["active_members", label, "all", "1"] in rows
    assert ["points_gini", label, "all", "0.0"] in rows
    assert ["validations", label, "all", "1"] in rows
    median = next(r for r in rows if r[0] == "validation_median_hours")
    assert median[1:3] == [label, "all"] and 0 <= float(median[3]) < 0.05  # approved at once
    assert ["tokens_minted", label, "all", "0"] in rows
    assert ["utilisation", label, "all", ""] in rows  # no resources: nothing to divide by
    week = kpis.iso_week(kpis.period().weeks()[-1])
    assert ["active_members_per_week", week, "all", "1"] in rows
    assert any(r[0].startswith("contributions[#") and r[0].endswith(" Process]") and r[3] == "1"
               for r in rows)
    assert {len(r) for r in rows} == {4}

    org_rows = list(csv.reader(io.StringIO(client.get(f"/kpi.csv?organisation={people['org']}")
                                           .get_data(as_text=True))))
    assert ["contributions", label, "'=HYPERLINK(1)", "1"] in org_rows, "no formula reaches a spreadsheet"
    assert not any(r[0] in ("utilisation", "no_show_rate") for r in org_rows)
    both = list(csv.reader(io.StringIO(client.get("/kpi.csv?compare=1").get_data(as_text=True))))
    assert {r[2] for r in both[1:]} == {"all", "'=HYPERLINK(1)"}
    assert client.get("/kpi.csv?until=2020-13-01").status_code == 400


def test_api_kpis_for_staff_documented_and_bad_input_is_4xx(client, people):
    staff = bearer(client, people, "staff")
    data = client.get("/api/v1/kpis", headers=staff).json
    assert data["indicators"]["contributions"] == 1 and data["organisation"] is None
    since = (dt.datetime.now(UTC).date() - dt.timedelta(days=100)).isoformat()
    org = client.get(f"/api/v1/kpis?organisation={people['org']}&from={since}", headers=staff).json
    assert org["organisation"] == {"id": people["org"], "name": "=HYPERLINK(1)"}
    assert org["period"]["from"] == since and org["spaces"] is None
    assert org["indicators"]["contributions"] == 1
    compare = client.get("/api/v1/kpis/compare", headers=staff).json
    assert [c["name"] for c in compare["columns"]] == ["All", "=HYPERLINK(1)"]
    for query, status, error in (("?organisation=987654", 404, "not_found"),
                                 ("?organisation=abc", 400, "invalid_input"),
                                 ("?from=2030-02-01&until=2030-01-01", 400, "invalid_input"),
                                 ("?from=1999-01-01&until=2030-01-01", 400, "invalid_input")):
        response = client.get(f"/api/v1/kpis{query}", headers=staff)
        assert (response.status_code, response.json["error"]) == (status, error), query
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "get" in paths["/api/v1/kpis"] and "get" in paths["/api/v1/kpis/compare"]


def test_chart_js_is_served_locally_with_a_javascript_type(client):
    response = client.get("/vendor/chart.umd.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.get_data(as_text=True).startswith("/*!\n * Chart.js v4.6.1")
    script = client.get("/static/kpi.js")
    assert script.status_code == 200 and "javascript" in script.mimetype


def test_charts_draw_in_a_real_browser(app, people):
    """kpi.js fetches /kpi.json and draws every chart, with no script or CSP errors."""
    from playwright.sync_api import sync_playwright

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            failed: list[str] = []
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            page.goto(f"{base}/login")
            page.get_by_label("Email").fill(people["c"].email_of(people["staff"]))
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{base}/")
            errors.clear()  # the login page's favicon 404 is not the dashboard's
            failed.clear()
            page.goto(f"{base}/kpi")
            page.locator('#kpi[data-charts="5"]').wait_for(timeout=10000)  # no eval: CSP forbids it
            assert page.locator("figure.kpi-chart:visible").count() == 5
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "kpi-dashboard.png"), full_page=True)
            page.goto(f"{base}/kpi/compare")
            page.locator('#kpi[data-charts="2"]').wait_for(timeout=10000)
            page.screenshot(path=str(SHOTS / "kpi-compare.png"), full_page=True)
            # The notification socket has no accepted origin on this ad-hoc server; nothing else may
            # fail (failed loads are checked by URL, every other console error counts).
            assert [u for u in failed if "/socket.io/" not in u] == []
            assert [e for e in errors if not e.startswith(("WebSocket", "Failed to load resource"))] == []
            assert page.locator("#kpi").get_attribute("data-chart-error") is None
            browser.close()
    finally:
        server.shutdown()
