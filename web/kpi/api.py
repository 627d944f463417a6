"""The KPI endpoints of the JSON API (staff): a period's indicators and the comparison."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from community.errors import Forbidden
from web.apiutil import token_required
from web.kpi.pages import period_comparison, period_report
from web.openapi import op

bp = Blueprint("kpi_api", __name__, url_prefix="/api/v1")


def _api_staff() -> None:
    if not g.api_user.is_staff:
        raise Forbidden("KPIs are for city staff")


@bp.get("/kpis")
@token_required
def api_kpis():
    _api_staff()
    return jsonify(period_report())


@bp.get("/kpis/compare")
@token_required
def api_compare():
    _api_staff()
    return jsonify(period_comparison())


PERIOD_QUERY = ("from", "until")
OPENAPI_PATHS = {
    "/api/v1/kpis": {
        "get": op("KPIs for a period (staff): participation, validation times, space utilisation and "
                  "no-shows, credits minted/burned/in circulation; from/until as YYYY-MM-DD (default "
                  "the last 12 weeks), organisation = an organisation id",
                  errors=(400, 401, 403, 404), query=(*PERIOD_QUERY, "organisation"))
    },
    "/api/v1/kpis/compare": {
        "get": op("The scalar KPIs side by side: the whole community, then each organisation (staff)",
                  errors=(400, 401, 403), query=PERIOD_QUERY)
    },
}
