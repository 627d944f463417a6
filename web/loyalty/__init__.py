"""Loyalty (#5): the catalogue and redemptions, badges and tiers, their pages and API, and
what the wallet page shows of them."""

from flask import Flask

from web.extensions import csrf
from web.loyalty import api, pages


def init_app(app: Flask) -> None:
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only
