"""Starting and stopping a local anvil node (Kopa's embedded chain, and the tests')."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from rewards.chain.client import PROJECT_ROOT, ChainError


def foundry_binary(tool: str) -> str:
    """The native binary inside npm's platform package (e.g. @foundry-rs/anvil-linux-amd64):
    the `.bin` entry is a node wrapper, and a signal sent to it would not reach the node."""
    native = sorted((PROJECT_ROOT / "node_modules" / "@foundry-rs").glob(f"{tool}-*/bin/{tool}"))
    if native:
        return str(native[0])
    found = shutil.which(tool)
    if not found:
        raise ChainError(f"{tool} not found: run `make install` (npm @foundry-rs/{tool})")
    return found


def anvil_binary() -> str:
    return foundry_binary("anvil")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


class Anvil:
    """One anvil process. ``--prune-history 64`` keeps memory and ~/.foundry flat (64 recent
    states stay readable, so a call racing a new block still finds its state); with a
    state file, SIGTERM dumps the chain and ``--state-interval`` limits loss on SIGKILL."""

    def __init__(
        self,
        port: int | None = None,
        *,
        state_file: Path | None = None,
        state_interval: int = 2,
        log_file: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.state_file = state_file
        self.state_interval = state_interval
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Anvil:
        if port_in_use(self.port):
            raise ChainError(f"port {self.port} is already in use; set KOPA_ANVIL_PORT or KOPA_RPC_URL")
        cmd = [
            anvil_binary(), "--host", "127.0.0.1", "--port", str(self.port),
            "--prune-history", "64", "--block-base-fee-per-gas", "0", "--silent",
        ]
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--state", str(self.state_file), "--state-interval", str(self.state_interval)]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        # Own session: Ctrl-C in a terminal reaches Kopa, which then stops anvil in order.
        self.process = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChainError(f"anvil exited with code {self.process.returncode}")
            try:
                requests.post(
                    self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                    timeout=1,
                ).raise_for_status()
                return self
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise ChainError(f"anvil did not answer on {self.url} within {timeout}s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """SIGTERM lets anvil write its state file; SIGKILL simulates a crash."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
