"""Slither over Kopa's contracts; exits 1 on any medium or high finding that touches contracts/.

    .venv/bin/python scripts/slither_check.py      (make slither installs .venv-slither first)

Slither (its own venv, .venv-slither, pinned in requirements-slither.txt) reads brownie's
build artifacts (`--compile-force-framework brownie`). It runs in a scratch copy of the
project that brownie compiles afresh and in full: incremental `brownie compile`s drop
library artifacts (ERC1155Utils, Math, ...) that slither needs, and the real build/ stays
untouched for whoever is testing. Findings are filtered here rather than with slither's
`--filter-paths node_modules`, which also drops every finding in Kopa's code whose trace
merely passes through OpenZeppelin. Every finding in contracts/ is printed, whatever its
impact; findings only in OpenZeppelin are counted per detector.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLITHER = ROOT / ".venv-slither" / "bin" / "slither"
FAILING = {"High", "Medium"}


def run_slither(where: Path) -> dict:
    project = where / "kopa"
    (project / "tests" / "contracts").mkdir(parents=True)  # brownie insists on its folders
    shutil.copytree(ROOT / "contracts", project / "contracts")
    shutil.copy(ROOT / "brownie-config.yaml", project)
    (project / "node_modules").symlink_to(ROOT / "node_modules")
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(ROOT / ".venv" / "bin"), str(ROOT / "node_modules" / ".bin"),
                                 os.environ.get("PATH", "")]),
        "SOLCX_BINARY_PATH": os.environ.get("SOLCX_BINARY_PATH", str(ROOT / ".solcx")),
    }
    out = subprocess.run([str(SLITHER), ".", "--compile-force-framework", "brownie", "--json", "-"],
                         cwd=project, env=env, capture_output=True, text=True)
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        sys.exit(f"slither produced no report (exit {out.returncode}):\n{out.stderr[-3000:]}")
    if not report.get("success"):
        sys.exit(f"slither failed: {report.get('error')}\n{out.stderr[-3000:]}")
    return report


def main() -> int:
    if not SLITHER.exists():
        sys.exit(f"{SLITHER} is missing: run `make slither` (it creates .venv-slither)")
    with tempfile.TemporaryDirectory(prefix="kopa-slither-") as tmp:
        findings = run_slither(Path(tmp))["results"].get("detectors", [])
    ours, theirs = [], Counter()
    for finding in findings:
        mapped = (e["source_mapping"] for e in finding["elements"] if e.get("source_mapping"))
        files = {m["filename_relative"] for m in mapped}
        if any(f.startswith("contracts/") for f in files):
            ours.append(finding)
        else:
            theirs[(finding["check"], finding["impact"])] += 1
    print(f"slither: {len(findings)} findings, {len(ours)} in contracts/, {sum(theirs.values())} only in "
          "OpenZeppelin")
    for (check, impact), n in sorted(theirs.items()):
        print(f"  OpenZeppelin only: {check} ({impact}) x{n}")
    for finding in ours:
        print(f"\n[{finding['impact']}/{finding['confidence']}] {finding['check']}")
        print(finding["description"].strip())
    failing = [f for f in ours if f["impact"] in FAILING]
    if failing:
        print(f"\nFAIL: {len(failing)} medium or high finding(s) in contracts/; fix them, or explain each "
              "in docs/reliability.md and change this check deliberately", file=sys.stderr)
        return 1
    print("\nOK: no medium or high finding in contracts/ (the others are explained in docs/reliability.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
