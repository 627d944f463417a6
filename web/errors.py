"""Every error becomes a clear 4xx: JSON ``{error, message}`` under /api, a page elsewhere."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from community.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthorized,
)
from community.i18n import N_, Msg
from web import security
from web.i18n import translate

log = logging.getLogger(__name__)

# Subclasses before their bases: the first match wins.
STATUS = {
    TooLarge: 413,
    RateLimited: 429,
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}


def status_of(exc: DomainError) -> int:
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


def wants_json() -> bool:
    return request.path.startswith("/api/")


# Texts of Werkzeug, Flask-WTF and Flask-Limiter that reach people: listed so that
# ``pybabel extract`` puts them in the catalogues; ``error_response`` translates them.
FRAMEWORK_TEXTS = (
    N_("The browser (or proxy) sent a request that this server could not understand."),
    N_("The server could not verify that you are authorized to access the URL requested. You either supplied "
       "the wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the "
       "credentials required."),
    N_("You don't have the permission to access the requested resource. It is either read-protected or not "
       "readable by the server."),
    N_("The requested URL was not found on the server. If you entered the URL manually please check your "
       "spelling and try again."),
    N_("The method is not allowed for the requested URL."),
    N_("This user has exceeded an allotted request count. Try again later."),
    N_("The server does not support the media type transmitted in the request."),
    N_("The CSRF session token is missing."), N_("The CSRF token has expired."),
    N_("The CSRF token is invalid."), N_("The CSRF token is missing."), N_("The CSRF tokens do not match."),
    N_("The referrer does not match the host."), N_("The referrer header is missing."),
)


def error_response(status: int, error: str, message: str):
    """``error`` is the stable code (never translated); ``message`` is shown in the reader's
    language (domain messages are already; framework texts are looked up here)."""
    message = translate(message)
    if wants_json():
        return jsonify(error=error, message=message), status
    return render_template("error.html", status=status, message=message), status


def register(app: Flask) -> None:
    security.register(app)  # every response, error pages included, carries the security headers

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return error_response(status_of(exc), exc.code, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        message = N_("The form has expired or was forged: %(reason)s", reason=Msg(exc.description or ""))
        return error_response(400, "csrf_failed", message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        name = (exc.name or "error").lower().replace(" ", "_")
        if exc.code == 413:
            return error_response(
                413, "too_large", N_("The upload is too large: evidence files may be at most 10 MB.")
            )
        return error_response(exc.code or 500, name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", N_("Something went wrong on our side."))
