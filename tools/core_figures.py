"""The core's shape in figures (issue 10's note): line counts, decisions in tables, imports.

    .venv/bin/python tools/core_figures.py            # all three, as Markdown tables
    .venv/bin/python tools/core_figures.py --only lines,tables,imports
    .venv/bin/python tools/core_figures.py --only lines --before 35d727c   # lines then and now

*Lines* per module of ``rtcstate/``: every line of the file, and its code lines (neither blank
nor a comment; docstrings count as code).

*Lines before and after* (``--before REV``): per module of ``rtcstate/`` at git revision
``REV`` (``git show REV:path``), its lines then and the lines of what holds it now. A module
that moved is counted with its successors (:data:`SUCCESSORS`: the old ``transfer.py`` against
``transfer/*``, ``session.py`` against ``session*.py``, ``codes.py`` against ``codes.py`` and
``vocab/*``, ``hub.py`` against ``hub/*``); a module that kept its path is compared with itself;
a module with no successor shows no lines after; a module that did not exist at ``REV`` and
belongs to no row above is new (no lines before).

*Decisions in tables*, per machine of :func:`rtcstate.diagrams.load_all`. A table decision is
one declared row (a (state, trigger) pair with its condition, destination and callbacks) or one
declared verdict (a (state, trigger) pair ignored on purpose with a ``Drop``, or illegal). A
decision in code is one branch in the machine class's methods (its callbacks, conditions and
handlers, those of its core base classes included): an ``if``/``elif``, a conditional
expression, a ``while`` test, a ``match`` case, counted by walking their syntax tree.
share = table / (table + code): how much of what the machine decides a reader finds in its
table and verdicts rather than in the code its rows call. (Branches that only build an effect's
payload count as code decisions too, so the share is a lower bound.)

*Imports*: the core's import graph (every ``import`` of a ``rtcstate`` module anywhere in a
module's text, as ``tests/test_import_graph.py`` reads it), checked acyclic; printed as layers,
each module in the layer after the deepest module it imports (layer 0 imports no core module).
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "rtcstate"
sys.path.insert(0, str(ROOT))


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def line_counts() -> list[tuple[str, int, int]]:
    """(module, lines, code lines) for every module of the core, by module name."""
    rows = []
    for path in sorted(CORE.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        code = sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))
        rows.append((_module(path), len(lines), code))
    return rows


#: Old module path -> the patterns (relative to the repository) of the modules holding it now.
SUCCESSORS: dict[str, tuple[str, ...]] = {
    "rtcstate/transfer.py": ("rtcstate/transfer/*.py",),
    "rtcstate/session.py": ("rtcstate/session.py", "rtcstate/session_*.py"),
    "rtcstate/codes.py": ("rtcstate/codes.py", "rtcstate/vocab/*.py"),
    "rtcstate/hub.py": ("rtcstate/hub/*.py",),
}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout


def _line_count(text: str) -> int:
    return len(text.splitlines())


def lines_before_after(
    rev: str, root: Path | None = None, successors: dict[str, tuple[str, ...]] | None = None
) -> list[tuple[str, int | None, int | None]]:
    """(module, lines at ``rev``, lines now) per module of ``root/rtcstate`` (default: this
    repository's working tree), moved modules grouped with their successors (label
    ``old -> patterns``); None where there is none."""
    root = ROOT if root is None else root
    moves = SUCCESSORS if successors is None else successors
    old = [
        p
        for p in _git(root, "ls-tree", "-r", "--name-only", rev, "--", "rtcstate").splitlines()
        if p.endswith(".py")
    ]
    now = {
        path.relative_to(root).as_posix(): _line_count(path.read_text(encoding="utf-8"))
        for path in sorted((root / "rtcstate").rglob("*.py"))
    }
    claimed: set[str] = set()
    rows: list[tuple[str, int | None, int | None]] = []
    for path in sorted(old):
        before = _line_count(_git(root, "show", f"{rev}:{path}"))
        patterns = moves.get(path)
        if patterns is None:
            after = now.get(path)
            claimed.add(path)
            rows.append((path, before, after))
            continue
        held = [p for p in now if any(fnmatch.fnmatchcase(p, pat) for pat in patterns)]
        claimed.update(held)
        total = sum(now[p] for p in held) if held else None
        rows.append((f"{path} -> {', '.join(patterns)}", before, total))
    rows.extend((path, None, lines) for path, lines in now.items() if path not in claimed)
    return rows


def _code_branches(cls: type) -> int:
    """Branches in the methods ``cls`` runs: its own and those of its core base classes."""
    count = 0
    for klass in cls.__mro__:
        if not klass.__module__.startswith("rtcstate."):
            continue
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(klass)))):
            if isinstance(node, ast.If | ast.IfExp | ast.While):
                count += 1
            elif isinstance(node, ast.Match):
                count += len(node.cases)
    return count


def table_shares() -> list[tuple[str, int, int, int, float]]:
    """(machine, rows, verdicts, code branches, share) for every machine."""
    from rtcstate.diagrams import load_all

    out = []
    for name, spec in load_all().items():
        rows = len(spec.transitions)
        verdicts = sum(len(v) for v in spec.verdicts.values())
        code = _code_branches(spec.cls)
        table = rows + verdicts
        out.append((name, rows, verdicts, code, table / (table + code) if table + code else 1.0))
    return out


def import_graph() -> dict[str, set[str]]:
    """Core module -> the core modules it imports anywhere in its text."""
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
                deps.update(
                    f"{node.module}.{a.name}"
                    for a in node.names
                    if f"{node.module}.{a.name}" in modules
                )
        deps.discard(name)
        deps.discard("rtcstate")  # the package's __init__ re-exports, nothing imports it back
        graph[name] = deps
    return graph


def layers(graph: dict[str, set[str]]) -> dict[str, int]:
    """Each module's layer (1 + the deepest layer it imports); raises ValueError on a cycle."""
    depth: dict[str, int] = {}
    visiting: list[str] = []

    def visit(module: str) -> int:
        if module in depth:
            return depth[module]
        if module in visiting:
            cycle = [*visiting[visiting.index(module) :], module]
            raise ValueError(f"import cycle: {' -> '.join(cycle)}")
        visiting.append(module)
        level = 1 + max((visit(d) for d in graph[module]), default=-1)
        visiting.pop()
        depth[module] = level
        return level

    for module in sorted(graph):
        visit(module)
    return depth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="lines,tables,imports")
    parser.add_argument("--before", metavar="REV", help="lines per module at REV and now")
    args = parser.parse_args(argv)
    chosen = args.only.split(",")
    if "lines" in chosen and args.before:
        moved = lines_before_after(args.before)
        print(f"| module (at {args.before} -> now) | lines before | lines after |")
        print("|---|---|---|")
        for label, before, after in moved:
            old, _, new = label.partition(" -> ")
            name = f"`{old}`"
            if new:
                name += " -> " + ", ".join(f"`{p}`" for p in new.split(", "))
            print(f"| {name} | {'—' if before is None else before} | "
                  f"{'—' if after is None else after} |")  # fmt: skip
        total_before = sum(b for _, b, _ in moved if b is not None)
        total_after = sum(a for _, _, a in moved if a is not None)
        print(f"| **total** | **{total_before}** | **{total_after}** |\n")
    elif "lines" in chosen:
        rows = line_counts()
        print("| module | lines | code lines |\n|---|---|---|")
        for module, lines, code in rows:
            print(f"| `{module}` | {lines} | {code} |")
        total, code_total = sum(r[1] for r in rows), sum(r[2] for r in rows)
        print(f"| **{len(rows)} modules** | **{total}** | **{code_total}** |\n")
    if "tables" in chosen:
        print("| machine | rows | verdicts | branches in code | share in tables |")
        print("|---|---|---|---|---|")
        for name, rows_, verdicts, code, share in table_shares():
            print(f"| `{name}` | {rows_} | {verdicts} | {code} | {share:.0%} |")
        print()
    if "imports" in chosen:
        graph = import_graph()
        depth = layers(graph)  # raises on a cycle
        edges = sum(len(d) for d in graph.values())
        print(f"Import graph: {len(graph)} modules, {edges} edges, acyclic, "
              f"{max(depth.values()) + 1} layers (0 imports no core module):\n")  # fmt: skip
        for level in range(max(depth.values()) + 1):
            names = sorted(m for m, d in depth.items() if d == level)
            print(f"- {level}: {', '.join(f'`{n}`' for n in names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
