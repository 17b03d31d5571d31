"""The core is sans-I/O: no file under rtcstate/ imports I/O, clock, randomness or adapters.

import-linter enforces the same contract in CI (pyproject.toml); this test reads the source
directly, so it also catches imports inside functions and ``importlib`` calls by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "rtcstate"
FORBIDDEN = {
    "asyncio",
    "socket",
    "time",
    "random",
    "threading",
    "subprocess",
    "select",
    "selectors",
    "ssl",
    "multiprocessing",
    "concurrent",
    "urllib",
    "http",
    "secrets",
    "datetime",
    "os",
    "io",
    "aiortc",
    "aioice",
    "websockets",
    "rtcstate_cli",
    "rtcstate_asyncio",
    "rtcstate_aiortc",
}
# test-time dependencies, allowed only in the conformance kit (rtcstate/testing/)
TEST_ONLY = {"hypothesis", "pytest"}
FILES = sorted(CORE.rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            roots.add(str(node.args[0].value).split(".")[0])
    return roots


def test_there_are_core_files() -> None:
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_file_imports_nothing_forbidden(path: Path) -> None:
    roots = imported_roots(path)
    assert not roots & FORBIDDEN, f"{path.name} imports {sorted(roots & FORBIDDEN)}"
    if "testing" not in path.relative_to(CORE).parts:
        assert not roots & TEST_ONLY, f"{path.name} imports {sorted(roots & TEST_ONLY)}"


def test_the_checker_sees_hidden_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import time\n    importlib.import_module('random.x')\n")
    assert imported_roots(bad) >= {"time", "random"}
