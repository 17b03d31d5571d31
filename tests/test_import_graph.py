"""The core's imports draw as a tree: no module imports, even lazily or for type checking
only, a module that imports it back. Children reach their session through ``rtcstate.host``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "rtcstate"
CHILDREN = ("call", "call_factory", "datachannel", "filetransfer", "invitation")


def _module(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the core modules it imports anywhere in its text (top level, inside functions,
    under ``if TYPE_CHECKING``)."""
    modules = {_module(p): p for p in CORE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module in modules:
                    deps.add(node.module)
                for a in node.names:  # from rtcstate import wire
                    if f"{node.module}.{a.name}" in modules:
                        deps.add(f"{node.module}.{a.name}")
        deps.discard(name)
        deps.discard("rtcstate")  # the package's __init__ holds nothing
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if colour.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in colour:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if node not in colour:
            found = visit(node)
            if found:
                return found
    return None


def test_the_core_import_graph_is_acyclic() -> None:
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()) or [])


@pytest.mark.parametrize("child", CHILDREN)
def test_children_do_not_import_the_session(child: str) -> None:
    graph = import_graph()
    assert "rtcstate.session" not in graph[f"rtcstate.{child}"]
    assert (
        "rtcstate.host" in graph[f"rtcstate.{child}"]
        or "rtcstate.call" in graph[f"rtcstate.{child}"]
    )


def test_the_cycle_finder_is_not_vacuous() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize(
    "part", ("session_connection", "session_router", "session_timers", "session_presence")
)
def test_the_session_parts_do_not_import_the_session(part: str) -> None:
    """The session composes its parts; no part reaches back into the composition."""
    graph = import_graph()
    assert "rtcstate.session" not in graph[f"rtcstate.{part}"]
    assert f"rtcstate.{part}" in graph["rtcstate.session"]
