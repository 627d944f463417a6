"""Kopa as a real server process on a free port, stopped by its process id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
import requests

from community.demo import DEMO_PASSWORD
from rewards.chain.anvil import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class KopaProcess:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.env = env
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> KopaProcess:
        out = open(self.log, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "web", "kopa", *self.args],
            cwd=PROJECT_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)  # the whole group: gunicorn's worker too
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def kopa_env(tmp: Path, rpc_url: str, secret: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPA_")}
    env.update(
        KOPA_INSTANCE_PATH=str(tmp / "instance"),
        KOPA_DATABASE_URL=f"sqlite:///{tmp / 'kopa.sqlite3'}",
        KOPA_RPC_URL=rpc_url,
        KOPA_SECRET_KEY=secret,
        PATH=f"{PROJECT_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
    )
    env.update(extra)
    return env


def start_server(tmp: Path, rpc_url: str, secret: str, **extra: str) -> tuple[KopaProcess, str]:
    port = free_port()
    env = kopa_env(tmp, rpc_url, secret, KOPA_PORT=str(port), KOPA_SITE_URL=f"http://127.0.0.1:{port}",
                   **extra)
    server = KopaProcess(["run"], env, tmp / "server.log").start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"kopa run exited: {(tmp / 'server.log').read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/api/v1/meta", timeout=1).status_code == 200:
                return server, base
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"kopa did not start: {(tmp / 'server.log').read_text()[-3000:]}")


def api_token(base: str, email: str, password: str = DEMO_PASSWORD) -> str:
    """An API token for a (demo) account of the server at ``base``."""
    response = requests.post(f"{base}/api/v1/auth/token", json={"email": email, "password": password},
                             timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def bearer(base: str, email: str, password: str = DEMO_PASSWORD) -> dict:
    return {"Authorization": f"Bearer {api_token(base, email, password)}"}


def redis_up(url: str) -> bool:
    """Whether a real Redis answers at ``url`` (the Redis variants are skipped otherwise)."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False
