"""Run `brownie test tests/contracts` on an anvil that brownie starts on a free port.

Brownie's development network listens on 127.0.0.1:8545 and *attaches* to whatever already
answers there (for instance the anvil of a running `make run`), so the contract tests would
run against Kopa's own chain. Here brownie gets a private HOME whose network config names
a free port; nothing outside the run is touched.

    .venv/bin/python scripts/contract_tests.py [extra brownie test args]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWNIE = str(Path(sys.executable).with_name("brownie"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: list[str], project: Path = ROOT) -> int:
    """`brownie test tests/contracts *args` in `project` on a private anvil."""
    with tempfile.TemporaryDirectory(prefix="kopa-brownie-") as home:
        env = {**os.environ, "HOME": home}
        port = free_port()
        settings = [f"port={port}"]
        if "--coverage" in args:
            # anvil records no execution steps (empty debug traces, so no coverage) without it
            settings.append("steps_tracing=true")
        subprocess.run([BROWNIE, "networks", "modify", "development", *settings], cwd=project, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        print(f"brownie's anvil on 127.0.0.1:{port}", flush=True)
        tests = subprocess.run([BROWNIE, "test", "tests/contracts", *args], cwd=project, env=env)
        return tests.returncode


def main() -> int:
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
