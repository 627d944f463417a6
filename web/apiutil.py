"""The JSON API v1's blueprint ``api`` and what every API module uses: the request's JSON
body, typed fields, ids and the bearer-token check. Feature modules add their endpoints to
``bp`` (their names, ``api.*``, are a contract the audit log records); the API's own
``/health`` and ``/meta`` live here.

Authentication is a bearer token only (no cookies), which is why CSRF does not apply.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Flask, g, jsonify, request

from community import accounts
from community.errors import InvalidInput, Unauthorized
from community.i18n import N_
from web.accessors import chain_reader, db_session
from web.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    """After every feature added its endpoints to ``bp``."""
    app.register_blueprint(bp)
    csrf.exempt(bp)  # bearer tokens only: no ambient cookie authority to forge


def json_body() -> dict:
    """The request's JSON object; anything else is a 400 that says what is wrong."""
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True, force=True)
    if data is None:
        raise InvalidInput("the request body is not valid JSON")
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def text_field(data: dict, name: str, default: str | None = None) -> str | None:
    """``data[name]`` when it is text (``default`` when absent or null); a number, list or
    object there is a 400 naming the field, before a service compares it with its choices."""
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInput(N_("%(name)s must be text", name=name))
    return value


def decimal_id(raw: str) -> int | None:
    """The int of an ASCII decimal query value, else None (``str.isdigit`` accepts ``²``,
    which ``int`` refuses)."""
    return int(raw) if raw.isascii() and raw.isdigit() else None


def token_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send Authorization: Bearer <token> (POST /api/v1/auth/token)")
        user = accounts.user_for_token(db_session(), token.strip())
        if user is None:
            raise Unauthorized("the token is unknown, expired or revoked")
        g.api_user = user
        return view(*args, **kwargs)

    return wrapped


@bp.get("/meta")
def meta():
    return jsonify(chain_reader().meta(db_session()))


@bp.get("/health")
def health():
    """Liveness: the process answers, with nothing else touched (no database, no chain); the
    HTTP benchmark's reference for what the framework costs per request."""
    return jsonify(status="ok")

