"""Statement and branch coverage of Kopa's own Solidity (contracts/*.sol), measured by
brownie; exits 1 below 100%.

    .venv/bin/python scripts/contract_coverage.py [extra brownie test args]

Runs the contract tests with `--coverage` (scripts/contract_tests.py: a private anvil, here
with --steps-tracing) in a scratch copy of the project whose compiler runs WITHOUT the
optimizer: brownie maps branches through the bytecode, and with the optimizer on it sees
only one direction of some branches the tests do take both ways (the `continue` of a ref
already used in the batch loops), as Foundry's `forge coverage` also turns the optimizer off.
It also compiles through the legacy pipeline (viaIR off): without the optimizer, the IR
pipeline's bytecode hides one direction of several branches from brownie (76.9% of branch
directions where the tests take every one). The copy's conftest writes every transaction's
coverage to its reports/coverage-eval.json, read here against the copy's build. The gas test
is skipped there (its figures are for the optimized build).
OpenZeppelin's code compiled into the contracts is left out: only functions declared in
contracts/ count. Totals come from the build's coverage map (brownie's statements and
branches), so a function no transaction ever reached still counts (as 0 of n). A branch
counts twice, once per direction, as in brownie's own percentages.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.contract_tests import run  # noqa: E402


def scratch_project(where: Path) -> Path:
    """A copy of the project (contracts and contract tests copied, the rest linked) whose
    brownie-config.yaml turns the optimizer and the IR pipeline off."""
    project = where / "kopa"
    (project / "tests").mkdir(parents=True)
    shutil.copytree(ROOT / "contracts", project / "contracts")
    shutil.copytree(ROOT / "tests" / "contracts", project / "tests" / "contracts",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for linked in ("scripts", "node_modules", "pyproject.toml"):
        (project / linked).symlink_to(ROOT / linked)
    config, optimizer_on = (ROOT / "brownie-config.yaml").read_text(), "      enabled: true\n"
    assert optimizer_on in config, "brownie-config.yaml: optimizer setting not found"
    config = config.replace(optimizer_on, "      enabled: false\n").replace("viaIR: true", "viaIR: false")
    (project / "brownie-config.yaml").write_text(config)
    return project


def kopa_contracts() -> list[str]:
    return sorted(p.stem for p in (ROOT / "contracts").glob("*.sol"))


def own_functions(build: Path, contract: str) -> tuple[str, dict[str, set[str]], dict[str, set[str]]]:
    """The source id of contracts/<contract>.sol in the build, and its statement and branch
    ids per function declared there."""
    artifact = json.loads((build / "contracts" / f"{contract}.json").read_text())
    path_id = next(i for i, p in artifact["allSourcePaths"].items() if p == f"contracts/{contract}.sol")
    cov = artifact["coverageMap"]
    statements = {fn: set(s) for fn, s in cov["statements"][path_id].items()}
    branches = {fn: set(b) for fn, b in cov["branches"][path_id].items()}
    return path_id, statements, branches


def evaluate(report: dict, build: Path) -> tuple[list[str], bool]:
    """Per contract: statements and branch directions hit of the total, and what is missing.
    `report` is {contract: {source id: [statement ids, branch ids taken one way, the other way]}}."""
    lines, missing_any = [], False
    grand = [0, 0, 0, 0]  # statements hit, statements, branch directions hit, branch directions
    for contract in kopa_contracts():
        path_id, statements, branches = own_functions(build, contract)
        hits = report.get(contract, {}).get(path_id, [[], [], []])
        hit_s, hit_a, hit_b = (set(map(str, ids)) for ids in hits)
        counts, missing = [0, 0, 0, 0], []
        for fn in sorted(set(statements) | set(branches)):
            fn_s, fn_b = statements.get(fn, set()), branches.get(fn, set())
            fn_counts = [len(fn_s & hit_s), len(fn_s), len(fn_b & hit_a) + len(fn_b & hit_b), 2 * len(fn_b)]
            counts = [a + b for a, b in zip(counts, fn_counts, strict=True)]
            if fn_counts[0] < fn_counts[1] or fn_counts[2] < fn_counts[3]:
                missing.append(f"    {fn}: statements {fn_counts[0]}/{fn_counts[1]}, "
                               f"branch directions {fn_counts[2]}/{fn_counts[3]}")
        lines.append(summary(contract, counts))
        lines.extend(missing)
        missing_any = missing_any or bool(missing)
        grand = [a + b for a, b in zip(grand, counts, strict=True)]
    lines.append(summary("all", grand))
    return lines, not missing_any


def summary(name: str, counts: list[int]) -> str:
    s_hit, s_total, b_hit, b_total = counts
    return (f"{name:<18} statements {s_hit}/{s_total} {pct(s_hit, s_total)}   "
            f"branches {b_hit}/{b_total} {pct(b_hit, b_total)}")


def pct(hit: int, total: int) -> str:
    return f"{100 * hit / total:.1f}%" if total else "n/a"


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="kopa-coverage-") as tmp:
        project = scratch_project(Path(tmp))
        if run(["--coverage", *argv], project) != 0:
            print("contract tests failed: no coverage verdict", file=sys.stderr)
            return 1
        # Written by tests/contracts/conftest.py (brownie's own report comes out empty: see there).
        report = project / "reports" / "coverage-eval.json"
        if not report.exists():
            print(f"{report} is missing: did the contract tests run with --coverage?", file=sys.stderr)
            return 1
        lines, complete = evaluate(json.loads(report.read_text()), project / "build")
    print("Coverage of contracts/*.sol (brownie, optimizer and viaIR off; OpenZeppelin excluded)")
    print("\n".join(lines))
    if not complete:
        print("FAIL: coverage below 100%; the functions above miss statements or branch directions",
              file=sys.stderr)
        return 1
    print("OK: 100% of statements and branch directions")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
