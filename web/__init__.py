"""Kopa's web app: portal pages, JSON API v1 and the live leaderboard (Flask-SocketIO)."""

from web.app import create_app

__all__ = ["create_app"]
