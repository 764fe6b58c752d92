"""The ranking package's modules import one another without a cycle (issue 14: recommender.py
and persistence.py imported each other)."""

from __future__ import annotations

import ast
from pathlib import Path

import vcsmatch.ranking

PACKAGE = Path(vcsmatch.ranking.__file__).parent


def _imports(path: Path) -> set[str]:
    """The ``vcsmatch.ranking`` modules one module imports, anywhere in it (top level, inside
    functions or under ``TYPE_CHECKING``: a cycle is a cycle for a reader too)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "vcsmatch.ranking":  # from vcsmatch.ranking import content
                out |= {
                    alias.name for alias in node.names if (PACKAGE / f"{alias.name}.py").exists()
                }
            elif node.module.startswith("vcsmatch.ranking."):
                out.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("vcsmatch.ranking."):
                    out.add(alias.name.split(".")[2])
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_cycle_finder_finds_a_cycle() -> None:
    """The check can fail: a planted two-module cycle is found."""
    assert _cycle({"a": {"b"}, "b": {"a"}, "c": set()}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_ranking() -> None:
    """No module of vcsmatch.ranking imports, directly or through others, itself."""
    modules = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    graph = {name: _imports(path) - {name} for name, path in modules.items()}
    assert "persistence" in graph and "recommender" in graph
    assert _cycle(graph) is None, _cycle(graph)
