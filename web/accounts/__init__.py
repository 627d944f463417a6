"""Accounts: registration, login and logout, the member's account (export, erasure), admins'
user roles and erasure, and the API's token and account endpoints."""

from flask import Flask

from web.accounts import account, api, auth
from web.extensions import csrf


def init_app(app: Flask) -> None:
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only
