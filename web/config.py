"""Configuration from ``KOPA_*`` environment variables, with embedded defaults."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# anvil's first well-known development key: only ever used against Kopa's own anvil.
ANVIL_DEV_DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def instance_path() -> Path:
    return Path(os.environ.get("KOPA_INSTANCE_PATH", PROJECT_ROOT / "instance"))


def secret_key(instance: Path) -> str:
    """``KOPA_SECRET_KEY``, or one generated once into the instance folder (never committed)."""
    if os.environ.get("KOPA_SECRET_KEY"):
        return os.environ["KOPA_SECRET_KEY"]
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def redis_namespace(database_url: str) -> str:
    """One installation's share of a Redis server: its Socket.IO channel, rate-limit and board
    keys. Every worker and the relay of one installation name the same database."""
    return "kopa-" + hashlib.sha256(database_url.encode()).hexdigest()[:12]


def from_env() -> dict:
    instance = instance_path()
    host = os.environ.get("KOPA_HOST", "127.0.0.1")
    port = int(os.environ.get("KOPA_PORT", "5000"))
    return {
        "KOPA_INSTANCE_PATH": str(instance),
        "KOPA_DATABASE_URL": os.environ.get(
            "KOPA_DATABASE_URL", f"sqlite:///{instance / 'kopa.sqlite3'}"
        ),
        # Empty means: the anvil that `kopa run` starts itself.
        "KOPA_RPC_URL": os.environ.get("KOPA_RPC_URL", ""),
        "KOPA_ANVIL_PORT": int(os.environ.get("KOPA_ANVIL_PORT", "8545")),
        "KOPA_REDIS_URL": os.environ.get("KOPA_REDIS_URL", ""),
        # Proxies in front that set X-Forwarded-For/-Proto/-Host (nginx: 1). 0 trusts no such
        # header: a client could otherwise pick its own address and dodge the login limits.
        "KOPA_PROXY_HOPS": int(os.environ.get("KOPA_PROXY_HOPS", "0")),
        "KOPA_HOST": host,
        "KOPA_PORT": port,
        "KOPA_SITE_URL": os.environ.get("KOPA_SITE_URL", f"http://{host}:{port}"),
        "KOPA_DEPLOYER_KEY": os.environ.get("KOPA_DEPLOYER_KEY", ""),
        "KOPA_DEMO": os.environ.get("KOPA_DEMO", "1") != "0",
        "KOPA_RELAY": os.environ.get("KOPA_RELAY", "process"),
        # Requests one worker handles at once (threads of a gthread worker); the database
        # pool is sized from it.
        "KOPA_WORKER_THREADS": int(os.environ.get("KOPA_WORKER_THREADS", "64")),
        # gevent: WebSockets cost a greenlet each, so one worker holds many live boards;
        # gthread: one thread per WebSocket.
        "KOPA_WORKER_CLASS": os.environ.get("KOPA_WORKER_CLASS", "gevent"),
        "KOPA_WORKER_CONNECTIONS": int(os.environ.get("KOPA_WORKER_CONNECTIONS", "2000")),
        # Anti-farming: contributions one member may submit per hour.
        "KOPA_SUBMISSIONS_PER_HOUR": int(os.environ.get("KOPA_SUBMISSIONS_PER_HOUR", "20")),
        # Approvals worth more points than this need a second, different member of staff.
        "KOPA_FOUR_EYES_THRESHOLD": int(os.environ.get("KOPA_FOUR_EYES_THRESHOLD", "150")),
        # Rendered pages kept per browser session until any commit, at most this long
        # (web/pagecache.py); 0 turns the page cache off.
        "KOPA_PAGE_CACHE_SECONDS": float(os.environ.get("KOPA_PAGE_CACHE_SECONDS", "30")),
        "KOPA_PAGE_CACHE_MB": int(os.environ.get("KOPA_PAGE_CACHE_MB", "32")),
        "DEBUG": os.environ.get("KOPA_DEBUG", "0") == "1",
    }
