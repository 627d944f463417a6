"""The request's handles on the app's resources (database, sessions, vault, chain reader,
policies, caches): one module every web module may import without importing the app."""

from __future__ import annotations

from pathlib import Path

from flask import current_app, g
from sqlalchemy.orm import Session

from community.contributions import ContributionPolicy
from community.db import Database, UnitOfWork
from rewards.standings import StandingsCache
from rewards.vault import KeyVault


def database() -> Database:
    return current_app.extensions["kopa.db"]


def db_session() -> Session:
    """The request's read session (for loading users and rendering)."""
    if "db_session" not in g:
        g.db_session = database().read_sessions()
    return g.db_session


def release_read_session() -> None:
    """Hand the request's read connection back to the pool before a write transaction: with
    every worker thread holding a read connection while it waits for a write one, a burst of
    writes would drain the pool and time out. Rows already loaded (``g.api_user``,
    ``current_user``) stay usable; the next ``db_session()`` opens a fresh snapshot, which
    sees what the write committed."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def unit_of_work() -> UnitOfWork:
    return database().unit_of_work()


def vault() -> KeyVault:
    return current_app.extensions["kopa.vault"]


def chain_reader():
    from rewards.chain.reader import ChainReader  # web3 is loaded only when the chain is read

    reader = current_app.extensions.get("kopa.chain_reader")
    if reader is None:
        reader = ChainReader(current_app.config["KOPA_RPC_URL"])
        current_app.extensions["kopa.chain_reader"] = reader
    return reader


def contribution_policy() -> ContributionPolicy:
    """Anti-farming and four-eyes settings for contribution services, from configuration."""
    return ContributionPolicy(
        submissions_per_hour=current_app.config["KOPA_SUBMISSIONS_PER_HOUR"],
        four_eyes_threshold=current_app.config["KOPA_FOUR_EYES_THRESHOLD"],
    )


def evidence_root() -> Path:
    """Evidence files live under the instance folder (never in the database)."""
    return Path(current_app.instance_path)


def standings_cache() -> StandingsCache:
    return current_app.extensions["kopa.standings"]
