"""OpenAPI fuzzing (#8): schemathesis sends generated and type-mismatched requests to every
operation of /api/v1/openapi.json on a real `kopa run` with the demo community, signed in as
a member and as an admin (whose rights include staff's). Bad input must give a 4xx, never a
5xx, and every answer must be one the document lists, with its content type and schema.

tests/web/core/test_openapi_input_types.py pins each bug the fuzzing found (one per root cause),
and sends every wrong JSON type to every documented field on existing rows in-process, so a
regression shows in `make test` too.

Schemathesis needs a newer hypothesis and pytest than brownie pins in .venv, so its CLI runs
from .venv-fuzz (`make test-slow` installs it from requirements-fuzz.txt). The run is bounded
and repeatable: the coverage phase (boundary and type-mismatched values of every parameter and
body field) and the fuzzing phase with at most ``MAX_EXAMPLES`` cases per operation and role
(50 per operation in all), a fixed seed, no example database carried between runs.
"""

from __future__ import annotations

import re
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from tests.support.servers import PROJECT_ROOT, bearer, start_server

ST = PROJECT_ROOT / ".venv-fuzz" / "bin" / "st"
MAX_EXAMPLES = 25
SEED = 20261122
PHASES = "coverage,fuzzing"  # the stateful phase adds little: few operations are linked
# One role after the other; the admin last, as its erasures may revoke the member's token.
ROLES = {"member": "member1@kopa.local", "admin": "admin@kopa.local"}
# What the document states for every operation: no 5xx, only the listed status codes, their
# content types and success schemas (object or list).
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
RUN_TIMEOUT = 300  # seconds per role; a hung run fails instead of blocking `make test-slow`


@pytest.fixture(scope="module")
def fuzz_server(anvil, tmp_path_factory):
    if not ST.exists():
        pytest.fail(f"{ST} is missing: `make test-slow` (or `make .venv-fuzz/bin/st`) installs it")
    tmp = tmp_path_factory.mktemp("kopa-fuzz")
    process, base = start_server(tmp, anvil.url, "fuzz-secret", KOPA_DEMO="1")
    try:
        yield base, tmp / "server.log"
    finally:
        process.stop()


def _schemathesis(base: str, headers: dict, report: Path) -> tuple[subprocess.CompletedProcess, float]:
    (name, value), = headers.items()
    command = [
        str(ST), "run", f"{base}/api/v1/openapi.json",
        "--header", f"{name}: {value}",
        "--checks", CHECKS,
        "--phases", PHASES,
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--generation-database", "none",
        "--workers", "2",
        "--request-timeout", "30",
        "--no-color",
        "--report", "junit", "--report-junit-path", str(report),
    ]
    started = time.monotonic()
    result = subprocess.run(command, cwd=report.parent, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    return result, time.monotonic() - started


def _junit(report: Path) -> tuple[set[str], list[str]]:
    """(operations tested as "METHOD /path", those with a failure or an error)."""
    suites = ET.parse(report).getroot()
    cases = suites.findall(".//testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    return {c.get("name") for c in cases}, failed


@pytest.mark.slow
def test_every_operation_survives_fuzzing_as_each_role(fuzz_server, tmp_path):
    base, server_log = fuzz_server
    document = requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()
    # every operation but the document itself, which schemathesis reads rather than tests
    operations = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    operations.discard("GET /api/v1/openapi.json")
    assert len(operations) >= 80  # the whole API is documented, not a stub
    summary = []
    # Every token first: fuzzing POST /auth/token sends bad logins from this address, and the
    # login limit (20 a minute) would then refuse the next role's token with 429.
    headers = {role: bearer(base, email) for role, email in ROLES.items()}
    for role in ROLES:
        report = tmp_path / f"junit-{role}.xml"
        result, seconds = _schemathesis(base, headers[role], report)
        output = result.stdout + result.stderr
        tail = output[-6000:]
        assert report.exists(), f"schemathesis ({role}) wrote no report, exit {result.returncode}:\n{tail}"
        tested, failed = _junit(report)
        generated = re.search(r"(\d+) generated", output)
        summary.append(f"{role}: {len(tested)} operations, {generated.group(1) if generated else '?'} "
                       f"cases, {seconds:.0f} s, exit {result.returncode}")
        assert tested == operations, f"schemathesis ({role}) left out {sorted(operations - tested)}:\n{tail}"
        cases = int(generated.group(1)) if generated else 0
        assert cases >= 10 * len(operations), f"too few cases ({role}): {cases}\n{tail}"
        assert not failed, f"schemathesis ({role}) failed on {failed}:\n{tail}"
        assert result.returncode == 0, f"schemathesis ({role}) exited {result.returncode}:\n{tail}"
    print("\n".join(summary))
    # Every 5xx is logged by the app's last-resort handler; none may be there, whatever
    # schemathesis made of them.
    unhandled = [line for line in server_log.read_text().splitlines() if "unhandled error on" in line]
    assert not unhandled, f"{len(unhandled)} server errors in the log: {unhandled[:10]}"
