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


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kopa-brownie-") as home:
        env = {**os.environ, "HOME": home}
        port = free_port()
        subprocess.run([BROWNIE, "networks", "modify", "development", f"port={port}"], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        print(f"brownie's anvil on 127.0.0.1:{port}", flush=True)
        tests = subprocess.run([BROWNIE, "test", "tests/contracts", *sys.argv[1:]], cwd=ROOT, env=env)
        return tests.returncode


if __name__ == "__main__":
    sys.exit(main())
