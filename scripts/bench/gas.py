"""Benchmark: gas per reward of every chain write Kopa makes, on a private anvil, from the
compiled artifacts in build/contracts (run `make build` first).

    .venv/bin/python scripts/bench/gas.py [--update-snapshot]

Prints one line per figure, `name value unit`, batches also as a ratio to the single call
measured in the same run, and the issue's targets (≤ 30,000 gas per reward in batches of
≥ 100 with the once-per-ref guard; a single mint ≤ 80,000), then the gas of deploying each
contract (`deploy.<name>`, what the compiler settings trade against). `--update-snapshot` writes the
figures to tests/contracts/gas_snapshot.json, which tests/contracts/test_gas.py holds every
later run to (+2%).

The figures are deterministic: fresh contracts, a fixed call sequence, recipients and refs
derived from fixed labels (calldata cost depends on the bytes), and each contract warmed up
with one write first so no figure pays for a zero total supply. "fresh" recipients hold
nothing yet (their balance slot is new, 22.1k), "existing" ones already hold credits.

Refs are made by the ledger's own functions for a fixed bench installation. The headline
figures use the refs the ledger sends (``rewards.ledger.entry_ref``: the installation's tag
above consecutive entry ids, so 256 entries share one word of KopaCredits' bitmap guard);
`mint.fresh.newword` is the single mint whose ref opens a new word (1 entry in 256). The
`.hashed` figures repeat them with scattered SHA-256 refs (``rewards.ledger.hashed_ref``,
what ledger entries carried before dense refs, and what badges still carry), each with its
ratio to the dense figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from web3 import Web3  # noqa: E402

from rewards.ledger import entry_ref, hashed_ref  # noqa: E402

SNAPSHOT = ROOT / "tests" / "contracts" / "gas_snapshot.json"
UPDATE_COMMAND = ".venv/bin/python scripts/bench/gas.py --update-snapshot"
TOLERANCE = 0.02
BATCH_SIZES = (1, 10, 100, 500)
# A batch of 500 fresh holders needs ~26M gas, more than brownie's 12M development blocks.
BLOCK_GAS_LIMIT = 60_000_000
# The bench's installation: fixes the refs' tag (a real one is a random uuid4 hex).
INSTANCE = "6761732d62656e63682d696e7374616e"
TARGETS = {"mint.fresh": 80_000, "mint.fresh.newword": 80_000} | {
    f"mintBatch.{n}.{kind}": 30_000 for n in (100, 500) for kind in ("fresh", "existing")
}


def holder(label: str | int) -> str:
    """A fixed recipient address (nobody holds its key; only mints reach it)."""
    return Web3.to_checksum_address(Web3.keccak(text=f"kopa-gas-holder-{label}")[-20:])


def dense_ref(entry_id: int) -> bytes:
    """The ref the ledger sends for entry ``entry_id``: the installation's 24-byte tag above
    the 64-bit id, so consecutive entries share the guard's storage words (see KopaCredits)."""
    return bytes.fromhex(entry_ref(INSTANCE, entry_id)[2:])


def gas_ref(label: str | int) -> bytes:
    """A scattered ref: SHA-256 as the ledger made refs before dense ones (badges still do)."""
    return bytes.fromhex(hashed_ref(INSTANCE, f"gas:{label}")[2:])


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
        self.deployed: dict[str, int] = {}  # gas of each deployment, by contract name

    def deploy(self, name: str, *args: object):
        spec = artifact(name)
        factory = self.w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
        receipt = self.gas_of(factory.constructor(*args), self.admin, receipt=True)
        self.deployed[name] = receipt["gasUsed"]
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
    entry_ids = iter(range(1, 10**6))  # the ledger's ids: one sequence for mints and burns alike
    styles = {"": lambda label: dense_ref(next(entry_ids)), ".hashed": gas_ref}
    with block_gas_limit(w3):
        credits = chain.deploy("KopaCredits", admin)
        for role in (credits.functions.MINTER_ROLE().call(), credits.functions.BURNER_ROLE().call()):
            chain.gas_of(credits.functions.grantRole(role, minter), admin)
        mint, batch = credits.functions.mint, credits.functions.mintBatch
        chain.gas_of(mint(holder("warm-up"), 10, dense_ref(next(entry_ids))))

        for style, ref_of in styles.items():
            single = holder(f"single{style}")
            figures[f"mint.fresh{style}"] = chain.gas_of(mint(single, 10, ref_of(f"single-1{style}")))
            figures[f"mint.existing{style}"] = chain.gas_of(mint(single, 10, ref_of(f"single-2{style}")))
            for n in BATCH_SIZES:
                to = [holder(f"batch-{n}-{i}{style}") for i in range(n)]
                for kind in ("fresh", "existing"):
                    refs = [ref_of(f"batch-{n}-{kind}-{i}") for i in range(n)]
                    figures[f"mintBatch.{n}.{kind}{style}"] = chain.gas_of(batch(to, [10] * n, refs)) // n
                if n == 100 and not style:  # the relay resending a delivered batch: every entry skipped
                    figures["mintBatch.100.resent"] = chain.gas_of(batch(to, [10] * n, refs)) // n
            if not style:  # the 1 entry in 256 whose ref opens a new word of the guard
                word_start = (next(entry_ids) | 255) + 1
                entry_ids = iter(range(word_start + 1, 10**6))
                figures["mint.fresh.newword"] = chain.gas_of(
                    mint(holder("single-newword"), 10, dense_ref(word_start)))

        redeem, redeem_batch = credits.functions.redeem, credits.functions.redeemBatch
        for style, ref_of in styles.items():
            # burns of the holders minted above; the batch first, so the single burn's ref
            # (the next entry id) lands in a word the batch started, as most do
            to = [holder(f"batch-100-{i}{style}") for i in range(100)]
            refs = [ref_of(f"redeem-batch-{i}") for i in range(100)]
            figures[f"redeemBatch.100{style}"] = chain.gas_of(redeem_batch(to, [5] * 100, refs)) // 100
            figures[f"redeem{style}"] = chain.gas_of(redeem(holder(f"single{style}"), 5, ref_of("redeem-1")))

        badges = chain.deploy("KopaBadges", admin, minter, "https://kopa.invalid/badges/{id}.json")
        chain.gas_of(badges.functions.mintBadge(holder("warm-up"), 1, gas_ref("badge-warm-up")))
        mint_badge, badge_batch = badges.functions.mintBadge, badges.functions.mintBadgeBatch
        figures["badge.mint"] = chain.gas_of(mint_badge(holder("badge"), 1, gas_ref("badge-1")))
        to = [holder(f"badge-batch-{i}") for i in range(100)]
        refs = [gas_ref(f"badge-batch-{i}") for i in range(100)]
        figures["badge.mintBatch.100"] = chain.gas_of(badge_batch(to, [1] * 100, refs)) // 100

        anchor = chain.deploy("KopaLedgerAnchor", admin, minter)
        chain.gas_of(anchor.functions.anchor(0, Web3.keccak(text="root-0"), 10))
        figures["anchor"] = chain.gas_of(anchor.functions.anchor(1, Web3.keccak(text="root-1"), 1000))
    # paid once per installation; the compiler settings trade it against the calls' gas
    figures |= {f"deploy.{name}": gas for name, gas in chain.deployed.items()}
    return figures


REFERENCES = {"mintBatch.{n}.fresh": "mint.fresh", "mintBatch.{n}.existing": "mint.existing",
              "mint.fresh.newword": "mint.fresh", "mintBatch.100.resent": "mint.existing",
              "redeemBatch.100": "redeem", "badge.mintBatch.100": "badge.mint"}


def report(figures: dict[str, int]) -> list[str]:
    """`name value unit`, then the ratio to its reference of the same run (a batch: the single
    call; a `.hashed` figure: the same figure with the ledger's dense refs), then the target."""
    references = {}
    for pattern, ref in REFERENCES.items():
        for n in BATCH_SIZES:
            references[pattern.format(n=n)] = ref
    for name in figures:
        if name.endswith(".hashed"):
            references[name] = name.removesuffix(".hashed")
    lines = []
    for name, value in figures.items():
        line = f"gas.{name} {value} {'gas' if name.startswith('deploy.') else 'gas/reward'}"
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
