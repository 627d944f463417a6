"""Staff KPI dashboard (#9): participation, validation, spaces and tokens for a period,
community-wide or per organisation, side by side across organisations, as CSV and JSON.

Pages render every figure as an HTML table (readable without JavaScript); ``kpi.js`` draws
the charts from ``/kpi.json`` with Chart.js served from node_modules (no CDN, no inline
script). Indicators are computed in ``community.kpis``.
"""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, jsonify, render_template, request, send_from_directory

from community import kpis
from community.errors import InvalidInput, NotFound
from web.accessors import db_session
from web.booking.settings import policy
from web.config import PROJECT_ROOT
from web.portal import staff_required

bp = Blueprint("kpi", __name__)

CHART_JS = PROJECT_ROOT / "node_modules" / "chart.js" / "dist"
CSV_INJECTION = ("=", "+", "-", "@", "\t", "\r")


def _period() -> kpis.Period:
    return kpis.period(request.args.get("from"), request.args.get("until"))


def period_report() -> dict:
    session = db_session()
    org = kpis.organisation(session, request.args.get("organisation"))
    return kpis.dashboard(session, _period(), policy=policy(), organisation_id=org.id if org else None)


def period_comparison() -> dict:
    return kpis.comparison(db_session(), _period(), policy=policy())


def _query() -> dict:
    """The filters of this request, for links to the JSON, the CSV and the other view."""
    return {k: request.args[k] for k in ("from", "until", "organisation") if request.args.get(k)}


def _cell(value: object) -> object:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(CSV_INJECTION):
        return "'" + value
    return value


def _csv(reports: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["indicator", "period", "organisation", "value"])
    for report in reports:
        writer.writerows([_cell(c) for c in row] for row in kpis.csv_rows(report))
    return out.getvalue()


# --- pages -----------------------------------------------------------------------------------------


@bp.get("/kpi")
@staff_required
def index():
    session = db_session()
    args = _query()
    try:
        report = period_report()
    except (InvalidInput, NotFound) as exc:  # the page again, with the filters and the message
        status = 404 if isinstance(exc, NotFound) else 400
        return render_template("kpi/index.html", report=None, error=exc.message, args=args,
                               organisations=kpis.organisations(session),
                               indicators=kpis.indicators()), status
    return render_template("kpi/index.html", report=report, error=None, args=args,
                           organisations=kpis.organisations(session), indicators=kpis.indicators())


@bp.get("/kpi.json")
@staff_required
def index_json():
    """What the page's charts draw (same figures as its tables)."""
    return jsonify(period_report())


@bp.get("/kpi.csv")
@staff_required
def index_csv():
    """``indicator,period,organisation,value`` rows; ``?compare=1``: all and every organisation."""
    if request.args.get("compare"):
        reports = kpis.every_organisation(db_session(), _period(), policy=policy())
    else:
        reports = [period_report()]
    name = f"kopa-kpis-{reports[0]['period']['from']}-{reports[0]['period']['until']}.csv"
    return Response(_csv(reports), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/kpi/compare")
@staff_required
def compare():
    args = {k: v for k, v in _query().items() if k != "organisation"}
    try:
        data = period_comparison()
    except InvalidInput as exc:
        return render_template("kpi/compare.html", data=None, error=exc.message, args=args), 400
    return render_template("kpi/compare.html", data=data, error=None, args=args)


@bp.get("/kpi/compare.json")
@staff_required
def compare_json():
    return jsonify(period_comparison())


@bp.get("/vendor/chart.umd.js")
def chart_js():
    """Chart.js, pinned in package.json and served from node_modules (no CDN)."""
    return send_from_directory(CHART_JS, "chart.umd.min.js", mimetype="text/javascript", max_age=86400)
