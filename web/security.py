"""Security headers on every response the Flask app sends (pages, API, files, errors).

The policy allows scripts and styles from this origin only: templates carry no inline
scripts, event handler attributes, ``javascript:`` URLs or ``style`` attributes (a test
scans every page). Images may come from https URLs (catalogue images and resource photos
are links staff enter). No page may be framed, the wall display and the kiosk included:
they run full screen on the centre's own screens, and a framable kiosk could be
click-jacked into casting votes.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https:",
        "connect-src 'self'",  # Socket.IO: same-origin WebSocket and long-polling
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Same-origin requests keep the full Referer (CSRF checks on https use it); other sites
    # learn nothing, not even which page of Kopa linked them.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def register(app: Flask) -> None:
    headers = dict(HEADERS)
    if app.config["KOPA_SITE_URL"].startswith("https://"):
        # An https site never sends its cookies in clear, not even in debug mode.
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
        headers["Strict-Transport-Security"] = "max-age=31536000"

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
