"""Shared fixtures: a real anvil per test session, fresh SQLite or PostgreSQL databases,
the Flask app (flaskr-style ``app``, ``client``, ``auth``) and a real `kopa run` server.
The helpers they use are in tests/support."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rewards.chain.anvil import Anvil
from rewards.vault import KeyVault
from tests.support.community import SECRET, Community
from tests.support.postgres import drop_pg_database, drop_pg_templates, new_pg_database
from tests.support.servers import start_server
from tests.support.web import AuthActions
from web import bootstrap, create_app
from web.migrate import upgrade

PROJECT_ROOT = Path(__file__).resolve().parents[1]
os.environ["PATH"] = f"{PROJECT_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"


@pytest.fixture(scope="session")
def anvil(tmp_path_factory):
    node = Anvil(log_file=tmp_path_factory.mktemp("anvil") / "anvil.log").start()
    yield node
    node.stop()


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_template():
    yield
    drop_pg_templates()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A migrated, empty database of each kind Kopa supports."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kopa.sqlite3'}"
        upgrade(url)
        yield url
        return
    url, name = new_pg_database(migrated=True)
    yield url
    drop_pg_database(name)


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'kopa.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def db(database_url):
    database = bootstrap.database(database_url, secret_key=SECRET)
    yield database
    database.dispose()


@pytest.fixture
def vault():
    return KeyVault(SECRET)


@pytest.fixture
def community(db, vault):
    return Community(db, vault)


@pytest.fixture(scope="module")
def demo_server(anvil, tmp_path_factory):
    """A real `kopa run` (gunicorn + relay process) with the demo community, per module."""
    process, base = start_server(tmp_path_factory.mktemp("kopa-server"), anvil.url, "server-secret",
                                 KOPA_DEMO="1")
    yield base
    process.stop()


@pytest.fixture
def app(sqlite_url, anvil, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "KOPA_INSTANCE_PATH": str(tmp_path / "instance"),
            "KOPA_DATABASE_URL": sqlite_url,
            "KOPA_RPC_URL": anvil.url,
            "RATELIMIT_ENABLED": False,
            "SESSION_COOKIE_SECURE": False,
        }
    )
    yield app
    app.extensions["kopa.db"].dispose()


@pytest.fixture
def app_community(app):
    return Community(app.extensions["kopa.db"], app.extensions["kopa.vault"])


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client):
    return AuthActions(client)
