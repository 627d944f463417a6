"""Shared fixtures: a real anvil per test session, fresh SQLite or PostgreSQL databases,
the Flask app (flaskr-style ``app``, ``client``, ``auth``) and helpers."""

from __future__ import annotations

import gc
import os
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from community import accounts, contributions
from community.db import Database
from community.models import Process, Role, Task, User
from community.processes import building
from rewards.chain.anvil import Anvil
from rewards.chain.client import connect
from rewards.chain.deploy import ensure_deployment
from rewards.chain.platform import minter_account
from rewards.vault import KeyVault
from web import bootstrap, create_app
from web.config import ANVIL_DEV_DEPLOYER_KEY
from web.migrate import upgrade

PROJECT_ROOT = Path(__file__).resolve().parents[1]
os.environ["PATH"] = f"{PROJECT_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"
# PostgreSQL tests need KOPA_TEST_POSTGRES_URL (a connection allowed to create databases);
# `make test` sets it when a server answers on 127.0.0.1:5432. Without it they are skipped.
PG_ADMIN_URL = os.environ.get("KOPA_TEST_POSTGRES_URL", "")
PASSWORD = "correct horse battery"
SECRET = "test-secret-key-for-kopa"


@pytest.fixture(scope="session")
def anvil(tmp_path_factory):
    node = Anvil(log_file=tmp_path_factory.mktemp("anvil") / "anvil.log").start()
    yield node
    node.stop()


def require_postgres() -> None:
    if not PG_ADMIN_URL:
        pytest.skip("KOPA_TEST_POSTGRES_URL is not set (make test sets it when PostgreSQL answers)")


_template: list[str] = []


def _pg_template() -> str:
    """One migrated database per test run; each test's database is a copy of it (a third of
    the time of migrating every one)."""
    if not _template:
        name = f"kopa_tpl_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        upgrade(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
        _template.append(name)
    return _template[0]


def new_pg_database(*, migrated: bool = False) -> tuple[str, str]:
    """A fresh PostgreSQL database (URL, name): empty, or a copy of the migrated template."""
    require_postgres()
    name = f"kopa_test_{uuid.uuid4().hex[:10]}"
    template = f' TEMPLATE "{_pg_template()}"' if migrated else ""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{template}')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}", name


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_template():
    yield
    for name in _template:
        drop_pg_database(name)


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        # A session a test left open is finalised now, while its database still exists, rather
        # than by a later garbage collection in the middle of another test (where CPython
        # 3.11's compile() can fail with "AST constructor recursion depth mismatch" when a
        # finalizer runs Python code during it, as one CI run saw). Only when connections
        # remain: a full collection at every drop made the app tests 2 min 40 s slower.
        if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()[0]:
            gc.collect()
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


class Community:
    """Builds users, processes and tasks through the real services."""

    def __init__(self, db: Database, vault: KeyVault) -> None:
        self.db = db
        self.vault = vault
        self._n = 0

    def user(self, role: Role = Role.MEMBER, email: str | None = None, name: str | None = None) -> int:
        self._n += 1
        return accounts.register_member(
            self.db.unit_of_work(),
            email=email or f"user{self._n}-{uuid.uuid4().hex[:6]}@example.org",
            display_name=name or f"User {self._n}",
            password=PASSWORD,
            role=role,
        )

    def task(self, staff_id: int, complexity: int = 20, **process_options) -> int:
        """A task in a new (open) process that ``staff_id`` manages."""
        process_id = building.create_process(
            self.db.unit_of_work(), actor_id=staff_id, title="Process", **process_options
        )
        return building.create_task(
            self.db.unit_of_work(), actor_id=staff_id, process_id=process_id, title="Task",
            complexity=complexity,
        )

    def approved(self, member_id: int, staff_id: int, task_id: int, level: str = "low") -> int:
        """A submitted and approved contribution; level low awards the task's complexity."""
        cid = contributions.submit_contribution(
            self.db.unit_of_work(), member_id=member_id, task_id=task_id, text="did it"
        )
        contributions.approve_contribution(
            self.db.unit_of_work(), validator_id=staff_id, contribution_id=cid, level=level
        )
        return cid

    def email_of(self, user_id: int) -> str:
        with self.db.read_sessions() as session:
            return session.get(User, user_id).email


@pytest.fixture
def community(db, vault):
    return Community(db, vault)


def deploy_for(db: Database, vault: KeyVault, rpc_url: str):
    w3 = connect(rpc_url)
    with db.write_sessions() as session:
        minter = minter_account(session, vault)
        deployment = ensure_deployment(
            session, w3, deployer_key=ANVIL_DEV_DEPLOYER_KEY, minter_address=minter.address
        )
        return w3, minter, deployment.address, deployment.block_number


@pytest.fixture(scope="module")
def demo_server(anvil, tmp_path_factory):
    """A real `kopa run` (gunicorn + relay process) with the demo community, per module."""
    from tests.servers import start_server

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


class AuthActions:
    def __init__(self, client) -> None:
        self._client = client

    def login(self, email: str, password: str = PASSWORD):
        page = self._client.get("/login")
        token = _csrf_token(page.get_data(as_text=True))
        return self._client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def csrf(self, path: str) -> str:
        return _csrf_token(self._client.get(path).get_data(as_text=True))


def _csrf_token(html: str) -> str:
    marker = 'name="csrf_token" type="hidden" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture
def auth(client):
    return AuthActions(client)


def first_task_id(db: Database) -> int:
    with db.read_sessions() as session:
        return session.scalars(select(Task.id).join(Process).order_by(Task.id)).first()
