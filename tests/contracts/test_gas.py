"""Gas regression guard: the figures of scripts/bench/gas.py, measured again on brownie's
anvil, may not grow more than 2% over tests/contracts/gas_snapshot.json.

A deliberate change (a cheaper guard, a new event field) updates the snapshot with
`.venv/bin/python scripts/bench/gas.py --update-snapshot` and commits it with the change.
"""

import json

import pytest
from brownie import web3

from scripts.bench import gas


@pytest.mark.skip_coverage  # coverage builds without the optimizer: other figures
def test_gas_figures_do_not_grow(accounts):
    snapshot = json.loads(gas.SNAPSHOT.read_text())["figures"]
    figures = gas.measure(web3, accounts[0].address, accounts[1].address)
    assert set(figures) == set(snapshot), (
        f"the measured figures differ from the snapshot's; update it with `{gas.UPDATE_COMMAND}`"
    )
    worse = gas.grown(figures, snapshot)
    assert not worse, (
        "gas grew more than 2% over tests/contracts/gas_snapshot.json: "
        + ", ".join(f"{name} {was} -> {now}" for name, (was, now) in worse.items())
        + f". If that is intended, update the snapshot with `{gas.UPDATE_COMMAND}`"
    )


def test_growth_rule():
    """The 2% rule itself: a figure at +2% passes, just above fails, a new figure fails."""
    snapshot = {"mint.fresh": 50_000}
    assert gas.grown({"mint.fresh": 51_000}, snapshot) == {}
    assert gas.grown({"mint.fresh": 51_001}, snapshot) == {"mint.fresh": (50_000, 51_001)}
    assert gas.grown({"mint.fresh": 40_000}, snapshot) == {}
    assert gas.grown({"anchor": 1}, snapshot) == {"anchor": (0, 1)}
