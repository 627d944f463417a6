"""Benchmark: what the once-per-ref guard costs in KopaCredits.mintBatch, and what a packed
bitmap guard would cost instead (docs/reliability.md, "Meeting 30k gas per reward").

    .venv/bin/python scripts/bench/gas_guards.py

Three builds of the same contract, compiled here from contracts/KopaCredits.sol (npm solc
through the project's shim, the project's optimizer settings), deployed on a private anvil:
- `bitmap`: the contract as it is (the guard a bitmap keyed by `uint256(ref) >> 8`, bit
  `uint256(ref) & 255`; any bytes32 is a valid ref, and 256 consecutive refs share a slot);
- `mapping`: the guard before (`mapping(bytes32 => bool)`, one storage slot per ref);
- `none`: no guard at all (the floor: what an ERC-20 mint plus Kopa's event costs).
Each with the refs the ledger sends (`dense`: ``rewards.ledger.entry_ref``, a 24-byte
installation tag above the 64-bit ledger entry id, so consecutive entries are consecutive
refs) and with scattered ones (`hashed`: ``rewards.ledger.hashed_ref``, SHA-256, as ledger
entries carried before dense refs and badges still do).
Prints `name value unit ratio reference`, the reference being the guard-less build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.bench.gas import _Chain, block_gas_limit, dense_ref, gas_ref, holder  # noqa: E402

SOLC = ROOT / ".solcx" / "solc-v0.8.30"


def _replace(source: str, old: str, new: str) -> str:
    assert old in source, f"contracts/KopaCredits.sol changed: {old!r} not found; adapt gas_guards.py"
    return source.replace(old, new)


def variants() -> dict[str, str]:
    """Solidity source of each build, derived from the real contract (the bitmap)."""
    bitmap = (ROOT / "contracts" / "KopaCredits.sol").read_text()
    mapping = bitmap
    for old, new in (
        ("mapping(uint256 word => uint256 bits) private _minted;",
         "mapping(bytes32 ref => bool) private _minted;"),
        ("mapping(uint256 word => uint256 bits) private _redeemed;",
         "mapping(bytes32 ref => bool) private _redeemed;"),
        ("function _isUsed(mapping(uint256 => uint256) storage bitmap, bytes32 ref) private view "
         "returns (bool) {\n        return bitmap[uint256(ref) >> 8] & (1 << (uint256(ref) & 0xff)) != 0;\n",
         "function _isUsed(mapping(bytes32 => bool) storage used, bytes32 ref) private view "
         "returns (bool) {\n        return used[ref];\n"),
        ("function _use(mapping(uint256 => uint256) storage bitmap, bytes32 ref) private returns (bool) {\n"
         "        uint256 bit = 1 << (uint256(ref) & 0xff);\n"
         "        uint256 bits = bitmap[uint256(ref) >> 8];\n"
         "        if (bits & bit != 0) return false;\n"
         "        bitmap[uint256(ref) >> 8] = bits | bit;\n",
         "function _use(mapping(bytes32 => bool) storage used, bytes32 ref) private returns (bool) {\n"
         "        if (used[ref]) return false;\n"
         "        used[ref] = true;\n"),
    ):
        mapping = _replace(mapping, old, new)
    none = _replace(bitmap, "            if (!_use(_minted, refs[i])) continue;\n", "")
    return {"mapping": mapping, "bitmap": bitmap, "none": none}


def compile_source(source: str) -> dict:
    """abi and bytecode of KopaCredits compiled from `source` with the project's settings
    (brownie-config.yaml: optimizer, viaIR)."""
    solc = yaml.safe_load((ROOT / "brownie-config.yaml").read_text())["compiler"]["solc"]
    standard = {
        "language": "Solidity",
        "sources": {"contracts/KopaCredits.sol": {"content": source}},
        "settings": {
            "optimizer": solc["optimizer"],
            "viaIR": bool(solc.get("viaIR", False)),
            "evmVersion": "cancun",
            "remappings": ["@openzeppelin=node_modules/@openzeppelin"],
            "outputSelection": {"contracts/KopaCredits.sol": {"KopaCredits": ["abi", "evm.bytecode.object"]}},
        },
    }
    out = subprocess.run([str(SOLC), "--standard-json", "--base-path", str(ROOT)], input=json.dumps(standard),
                         capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads(out.stdout)
    errors = [e["formattedMessage"] for e in result.get("errors", []) if e["severity"] == "error"]
    assert not errors, "\n".join(errors)
    contract = result["contracts"]["contracts/KopaCredits.sol"]["KopaCredits"]
    return {"abi": contract["abi"], "bytecode": "0x" + contract["evm"]["bytecode"]["object"]}


def measure_variant(chain: _Chain, spec: dict, refs_of) -> dict[str, int]:
    factory = chain.w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
    receipt = chain.gas_of(factory.constructor(chain.admin), chain.admin, receipt=True)
    credits = chain.w3.eth.contract(address=receipt["contractAddress"], abi=spec["abi"])
    minter_role = credits.functions.MINTER_ROLE().call()
    chain.gas_of(credits.functions.grantRole(minter_role, chain.minter), chain.admin)
    batch = credits.functions.mintBatch
    next_id = iter(range(1, 10**6))
    chain.gas_of(credits.functions.mint(holder("warm-up"), 10, refs_of([next(next_id)])[0]))
    figures = {}
    for n in (100, 500):
        to = [holder(f"guard-{n}-{i}") for i in range(n)]
        for kind in ("fresh", "existing"):
            refs = refs_of([next(next_id) for _ in range(n)])
            figures[f"mintBatch.{n}.{kind}"] = chain.gas_of(batch(to, [10] * n, refs)) // n
    return figures


def main() -> None:
    from rewards.chain.anvil import Anvil
    from rewards.chain.client import connect

    specs = {name: compile_source(source) for name, source in variants().items()}
    ref_styles = {"hashed": lambda ids: [gas_ref(f"guard-{i}") for i in ids],
                  "dense": lambda ids: [dense_ref(i) for i in ids]}
    with Anvil() as node:
        w3 = connect(node.url, timeout=60)
        chain = _Chain(w3, *w3.eth.accounts[:2])
        with block_gas_limit(w3):
            results = {(name, style): measure_variant(chain, specs[name], refs_of)
                       for name in specs for style, refs_of in ref_styles.items()}
    for (name, style), figures in results.items():
        for figure, value in figures.items():
            floor = results[("none", style)][figure]
            print(f"guard.{name}.{style}.{figure} {value} gas/reward "
                  f"{value / floor:.3f}x guard.none.{style}.{figure}")


if __name__ == "__main__":
    main()
