"""The audit (#7): the auditor's pages and API, and the audit-log hook on every request."""

from flask import Flask

from web.audit import api, log, pages


def init_app(app: Flask) -> None:
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.after_request(log.record_action)
