"""The packages import in one direction: no module of `deployer` or `templates` imports, directly or
through others, a module that imports it back, counting the imports inside functions too (a lazy
import hides a cycle from Python, not from a reader). And no module loads another by name through
importlib, which would hide an edge from this test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("deployer", "templates")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if isinstance(node, ast.ImportFrom) and node.module:
                targets += [f"{node.module}.{a.name}" for a in node.names]  # `from templates import naming`
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules along it, or None (depth-first, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_was_read():
    graph = _graph()
    assert {
        "deployer.changeset",
        "deployer.recovery",
        "deployer.execute",
        "deployer.events",
        "templates.cicd",
        "templates.naming",
    } <= set(graph)
    assert "deployer.events" in graph["deployer.recovery"] and "deployer.recovery" in graph["deployer.changeset"]
    assert sum(len(edges) for edges in graph.values()) > 100


def test_no_import_cycle():
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_imported_by_name(package):
    for path in (ROOT / package).rglob("*.py"):
        text = path.read_text()
        assert "import_module" not in text and "__import__" not in text, (
            f"{path.relative_to(ROOT)} loads a module by name"
        )
