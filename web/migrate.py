"""Applying Alembic migrations from code (``kopa run``, tests) without an alembic.ini at top level."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from web.config import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Every feature branch of the migration tree (``heads``), unless told otherwise."""
    command.upgrade(alembic_config(database_url), revision)
