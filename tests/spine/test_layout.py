"""The house's floors: no import circle between stream_app's packages and top-level modules.

Configuration is the ground floor: `settings.py`, `settings_base.py` and each package's own
`settings.py` mixin (a family, the adapters, the gateway) count as one room, so a package may
contribute its settings to the one settings object and still read that object. Imports that only
type checkers run (`if TYPE_CHECKING:`) draw no arrow: they never execute."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.helpers.support import ROOT

PACKAGE = ROOT / "stream_app"


def room(module: str) -> str:
    """stream_app.kafka.source -> kafka; stream_app.families.calls.settings -> settings."""
    parts = module.split(".")
    if parts[-1] in ("settings", "settings_base"):
        return "settings"
    return parts[1] if len(parts) > 1 else "__init__"


def runtime_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("stream_app")
        ):
            if node.module == "stream_app":
                found.update(f"stream_app.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("stream_app"))
    return found


def arrows() -> dict[str, dict[str, set[str]]]:
    """room -> room it imports -> the files whose imports draw that arrow."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for target in runtime_imports(path):
            if room(target) != room(module):
                graph[room(module)][room(target)].add(str(path.relative_to(ROOT)))
    return graph


def circles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Every strongly connected set of more than one room (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_between_packages() -> None:
    graph = arrows()
    found = circles(graph)
    explained = [
        f"{a} -> {b}: {sorted(graph[a][b])}"
        for group in found
        for a in group
        for b in group
        if b in graph.get(a, {})
    ]
    assert found == [], "\n".join(explained)


def test_the_check_sees_a_circle() -> None:
    graph: dict[str, dict[str, set[str]]] = {
        "a": {"b": {"a.py"}},
        "b": {"c": {"b.py"}},
        "c": {"a": {"c.py"}},
    }
    assert circles(graph) == [["a", "b", "c"]]


def test_the_top_level_holds_a_handful_of_modules() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert modules == [
        "__init__.py",
        "__main__.py",
        "cli.py",
        "registry.py",
        "service.py",
        "settings.py",
        "settings_base.py",
    ]


def test_the_spine_knows_nothing_of_kafka_or_faust() -> None:
    for path in (PACKAGE / "spine").glob("*.py"):
        roots: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                roots.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
        assert not roots & {"faust", "mode", "aiokafka"}, path
