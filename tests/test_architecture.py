"""The package's shape: no import circle among plugins/tthc's modules.

Every import counts, at module level or inside a function: a lazy import only hides a circle
until the day someone moves it to the top."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def module_name(path: Path, plugins: Path) -> str:
    parts = path.relative_to(plugins).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(plugins: Path = PLUGINS) -> dict[str, set[str]]:
    """Module → the tthc modules it imports (a package's name stands for its __init__)."""
    modules = {module_name(p, plugins): p for p in (plugins / "tthc").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            else:
                continue
            edges.update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            component.append(v)
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_plugins_tthc_has_no_import_circle():
    graph = import_graph()
    assert "tthc.insights.forecast" in graph["tthc.insights.early_warning"]  # the graph sees lazy imports
    assert cycles(graph) == []


def test_the_circle_check_finds_a_circle(tmp_path):
    package = tmp_path / "tthc"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core" / "__init__.py").write_text("")
    (package / "core" / "a.py").write_text("from tthc.core import b\n")
    (package / "core" / "b.py").write_text("def f():\n    from tthc.core.a import x\n")
    (package / "c.py").write_text("import tthc.core.a\n")
    assert cycles(import_graph(tmp_path)) == [["tthc.core.a", "tthc.core.b"]]
