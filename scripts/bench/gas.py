"""Benchmark: gas per reward of every chain write Kopa makes, on a private anvil, from the
compiled artifacts in build/contracts (run `make build` first).

    .venv/bin/python scripts/bench/gas.py [--update-snapshot]

Prints one line per figure, `name value unit`, batches also as a ratio to the single call
measured in the same run, and the issue's targets (≤ 30,000 gas per reward in batches of
≥ 100 with the once-per-ref guard; a single mint ≤ 80,000). `--update-snapshot` writes the
figures to tests/contracts/gas_snapshot.json, which tests/contracts/test_gas.py holds every
later run to (+2%).

The figures are deterministic: fresh contracts, a fixed call sequence, recipients and refs
derived from fixed labels (calldata cost depends on the bytes), and each contract warmed up
with one write first so no figure pays for a zero total supply. "fresh" recipients hold
nothing yet (their balance slot is new, 22.1k), "existing" ones already hold credits.
Refs are scattered hashes like today's ledger refs, and for the `.dense` figures
consecutive entry ids (see KopaCredits' bitmap guard and docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from web3 import Web3  # noqa: E402

SNAPSHOT = ROOT / "tests" / "contracts" / "gas_snapshot.json"
UPDATE_COMMAND = ".venv/bin/python scripts/bench/gas.py --update-snapshot"
TOLERANCE = 0.02
BATCH_SIZES = (1, 10, 100, 500)
# A batch of 500 fresh holders needs ~26M gas, more than brownie's 12M development blocks.
BLOCK_GAS_LIMIT = 60_000_000
TARGETS = {"mint.fresh": 80_000, "mint.fresh.dense": 80_000} | {
    f"mintBatch.{n}.{kind}{refs}": 30_000
    for n in (100, 500) for kind in ("fresh", "existing") for refs in ("", ".dense")
}


def holder(label: str | int) -> str:
    """A fixed recipient address (nobody holds its key; only mints reach it)."""
    return Web3.to_checksum_address(Web3.keccak(text=f"kopa-gas-holder-{label}")[-20:])


def gas_ref(label: str | int) -> bytes:
    """A scattered ref, like today's SHA-256 ledger refs."""
    return Web3.keccak(text=f"kopa-gas-ref-{label}")


def dense_ref(entry_id: int) -> bytes:
    """A dense ref: a 24-byte installation tag above a 64-bit ledger entry id, so consecutive
    entries share the guard's storage words (see KopaCredits)."""
    return hashlib.sha256(b"kopa/bench-instance").digest()[:24] + entry_id.to_bytes(8, "big")


def artifact(name: str) -> dict:
    data = json.loads((ROOT / "build" / "contracts" / f"{name}.json").read_text())
    return {"abi": data["abi"], "bytecode": data["bytecode"]}


@contextmanager
def block_gas_limit(w3: Web3, limit: int = BLOCK_GAS_LIMIT) -> Iterator[None]:
    """Raise the node's block gas limit for the big batches; put the old one back after."""
    before = w3.eth.get_block("latest")["gasLimit"]
    w3.provider.make_request("evm_setBlockGasLimit", [hex(limit)])
    try:
        yield
    finally:
        w3.provider.make_request("evm_setBlockGasLimit", [hex(before)])


class _Chain:
    def __init__(self, w3: Web3, admin: str, minter: str) -> None:
        self.w3, self.admin, self.minter = w3, admin, minter

    def deploy(self, name: str, *args: object):
        spec = artifact(name)
        factory = self.w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
        receipt = self.gas_of(factory.constructor(*args), self.admin, receipt=True)
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=spec["abi"])

    def gas_of(self, call, sender: str | None = None, *, receipt: bool = False):
        tx_hash = call.transact({"from": sender or self.minter})
        result = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert result["status"] == 1, f"transaction reverted: {call}"
        return result if receipt else result["gasUsed"]


def measure(w3: Web3, admin: str, minter: str) -> dict[str, int]:
    """Gas per reward by figure name. Deploys its own contracts; `admin` and `minter` are
    distinct accounts the node signs for (anvil's dev accounts)."""
    chain = _Chain(w3, admin, minter)
    figures: dict[str, int] = {}
    with block_gas_limit(w3):
        credits = chain.deploy("KopaCredits", admin)
        for role in (credits.functions.MINTER_ROLE().call(), credits.functions.BURNER_ROLE().call()):
            chain.gas_of(credits.functions.grantRole(role, minter), admin)
        mint, batch = credits.functions.mint, credits.functions.mintBatch
        chain.gas_of(mint(holder("warm-up"), 10, gas_ref("warm-up")))

        figures["mint.fresh"] = chain.gas_of(mint(holder("single"), 10, gas_ref("single-1")))
        figures["mint.existing"] = chain.gas_of(mint(holder("single"), 10, gas_ref("single-2")))
        for n in BATCH_SIZES:
            to = [holder(f"batch-{n}-{i}") for i in range(n)]
            for kind in ("fresh", "existing"):
                refs = [gas_ref(f"batch-{n}-{kind}-{i}") for i in range(n)]
                figures[f"mintBatch.{n}.{kind}"] = chain.gas_of(batch(to, [10] * n, refs)) // n
            if n == 100:  # the relay resending a delivered batch: every entry skipped
                figures["mintBatch.100.resent"] = chain.gas_of(batch(to, [10] * n, refs)) // n
        next_id = iter(range(1, 10**6))
        for n in (100, 500):  # dense refs: consecutive ledger entry ids
            to = [holder(f"dense-{n}-{i}") for i in range(n)]
            for kind in ("fresh", "existing"):
                refs = [dense_ref(next(next_id)) for _ in range(n)]
                figures[f"mintBatch.{n}.{kind}.dense"] = chain.gas_of(batch(to, [10] * n, refs)) // n
        # single mints whose ref's word an earlier entry already started
        for kind in ("fresh", "existing"):
            ref = dense_ref(next(next_id))
            figures[f"mint.{kind}.dense"] = chain.gas_of(mint(holder("single-dense"), 10, ref))

        figures["redeem"] = chain.gas_of(credits.functions.redeem(holder("single"), 5, gas_ref("redeem-1")))
        to = [holder(f"batch-100-{i}") for i in range(100)]
        refs = [gas_ref(f"redeem-batch-{i}") for i in range(100)]
        figures["redeemBatch.100"] = chain.gas_of(credits.functions.redeemBatch(to, [5] * 100, refs)) // 100

        badges = chain.deploy("KopaBadges", admin, minter, "https://kopa.invalid/badges/{id}.json")
        chain.gas_of(badges.functions.mintBadge(holder("warm-up"), 1, gas_ref("badge-warm-up")))
        mint_badge, badge_batch = badges.functions.mintBadge, badges.functions.mintBadgeBatch
        figures["badge.mint"] = chain.gas_of(mint_badge(holder("badge"), 1, gas_ref("badge-1")))
        to = [holder(f"badge-batch-{i}") for i in range(100)]
        refs = [gas_ref(f"badge-batch-{i}") for i in range(100)]
        figures["badge.mintBatch.100"] = chain.gas_of(badge_batch(to, [1] * 100, refs)) // 100

        anchor = chain.deploy("KopaLedgerAnchor", admin, minter)
        chain.gas_of(anchor.functions.anchor(0, gas_ref("root-0"), 10))
        figures["anchor"] = chain.gas_of(anchor.functions.anchor(1, gas_ref("root-1"), 1000))
    return figures


REFERENCES = {"mintBatch.{n}.fresh": "mint.fresh", "mintBatch.{n}.existing": "mint.existing",
              "mintBatch.{n}.fresh.dense": "mint.fresh", "mintBatch.{n}.existing.dense": "mint.existing",
              "mint.fresh.dense": "mint.fresh", "mint.existing.dense": "mint.existing",
              "mintBatch.100.resent": "mint.existing", "redeemBatch.100": "redeem",
              "badge.mintBatch.100": "badge.mint"}


def report(figures: dict[str, int]) -> list[str]:
    """`name value unit`, then the ratio to the single call of the same run, then the target."""
    references = {}
    for pattern, ref in REFERENCES.items():
        for n in BATCH_SIZES:
            references[pattern.format(n=n)] = ref
    lines = []
    for name, value in figures.items():
        line = f"gas.{name} {value} gas/reward"
        if name in references:
            line += f" {value / figures[references[name]]:.3f}x gas.{references[name]}"
        if name in TARGETS:
            verdict = "met" if value <= TARGETS[name] else "NOT met"
            line += f" (target <= {TARGETS[name]}: {verdict})"
        lines.append(line)
    return lines


def grown(
    figures: dict[str, int], snapshot: dict[str, int], tolerance: float = TOLERANCE
) -> dict[str, tuple[int, int]]:
    """Figures more than `tolerance` above the snapshot (or missing from it), as (was, now)."""
    return {
        name: (snapshot.get(name, 0), value)
        for name, value in figures.items()
        if name not in snapshot or value - snapshot[name] > snapshot[name] * tolerance
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--update-snapshot", action="store_true", help=f"write {SNAPSHOT.relative_to(ROOT)}")
    args = parser.parse_args()

    from rewards.chain.anvil import Anvil
    from rewards.chain.client import connect

    with Anvil() as node:
        w3 = connect(node.url, timeout=60)
        admin, minter = w3.eth.accounts[:2]
        figures = measure(w3, admin, minter)
    print("\n".join(report(figures)))
    if args.update_snapshot:
        SNAPSHOT.write_text(json.dumps({
            "about": "gas per reward; tests/contracts/test_gas.py fails when a figure grows more than "
                     f"{TOLERANCE:.0%}; update with `{UPDATE_COMMAND}`",
            "figures": figures,
        }, indent=2) + "\n")
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
