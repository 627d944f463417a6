"""Shared fixtures for the KopaCredits and KopaBadges tests (brownie token-mix style).

Each contract is deployed once per module and every test runs inside a chain snapshot
(`fn_isolation`), so tests stay independent without paying for a fresh deployment each.
Roles are split over distinct accounts, as in production: the admin never mints.
"""

import json
from pathlib import Path

import pytest
from contract_helpers import BADGES_URI

COVERAGE_EVAL = Path(__file__).resolve().parents[2] / "reports" / "coverage-eval.json"


def pytest_configure(config):
    # brownie 1.22's own fixtures call the deprecated rpc.snapshot/revert (hundreds of
    # FutureWarnings per run that say nothing about this project).
    config.addinivalue_line(
        "filterwarnings", r"ignore:rpc\.\w+ should not be called directly:FutureWarning"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(terminalreporter, config):
    """With --coverage: merge the per-transaction coverage in plain Python and save it for
    scripts/contract_coverage.py. brownie 1.22's compiled merge fails with "TypeError: dict
    object expected; got list" as soon as two transactions touch the same contract, so it is
    left nothing to merge (its own summary and reports/coverage.json come out empty)."""
    from brownie._config import CONFIG  # imported here: brownie hashes module-level imports
    from brownie.test import coverage

    if not CONFIG.argv.get("coverage"):
        return
    merged = {}
    for tx_eval in coverage.get_coverage_eval().values():
        for contract, paths in tx_eval.items():
            for path, hits in paths.items():
                into = merged.setdefault(contract, {}).setdefault(path, [set(), set(), set()])
                for i in range(3):
                    into[i].update(hits[i])
    COVERAGE_EVAL.parent.mkdir(exist_ok=True)
    COVERAGE_EVAL.write_text(json.dumps(
        {c: {p: [sorted(s) for s in hits] for p, hits in paths.items()} for c, paths in merged.items()}
    ))
    coverage.clear()
    terminalreporter.write_line(f"coverage of every transaction saved to {COVERAGE_EVAL}")


@pytest.fixture(scope="function", autouse=True)
def isolate(fn_isolation):
    """Revert the chain after every test so state never leaks between tests."""


@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def minter(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def burner(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def holders(accounts):
    """Members that receive credits; they hold no role."""
    return accounts[3:9]


@pytest.fixture(scope="module")
def outsider(accounts):
    """An account with no role and no credits."""
    return accounts[9]


@pytest.fixture(scope="module")
def credits(KopaCredits, admin, minter, burner):
    """KopaCredits as deployed in production: admin holds the admin and pauser roles,
    minting and burning belong to other accounts."""
    token = KopaCredits.deploy(admin, {"from": admin})
    token.grantRole(token.MINTER_ROLE(), minter, {"from": admin})
    token.grantRole(token.BURNER_ROLE(), burner, {"from": admin})
    return token


@pytest.fixture(scope="module")
def badges(KopaBadges, admin, minter):
    """KopaBadges as deployed in production: admin holds the admin and pauser roles, the
    constructor gives MINTER_ROLE to a different account."""
    return KopaBadges.deploy(admin, minter, BADGES_URI, {"from": admin})
