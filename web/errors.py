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
from web import security

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


def error_response(status: int, error: str, message: str):
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
        return error_response(400, "csrf_failed", f"The form has expired or was forged: {exc.description}")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        name = (exc.name or "error").lower().replace(" ", "_")
        if exc.code == 413:
            return error_response(
                413, "too_large", "The upload is too large: evidence files may be at most 10 MB."
            )
        return error_response(exc.code or 500, name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")
