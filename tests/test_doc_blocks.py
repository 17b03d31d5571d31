"""Every Python block of README.md and docs/*.md runs, or says why not.

The rule (docs/index.md, "Examples in the docs"): a ```python block is run by this test unless
the line right before its fence is a marker comment:

* ``<!-- tested-by: tests/FILE.py::TEST -->``: a dedicated test runs it (and checks more); the
  test must exist and read that page;
* ``<!-- sketch: why -->``: an outline that is not meant to run as written (say why).

Unmarked blocks of a page run in order, as one program, in a fresh interpreter in an empty
folder (bounded in time), and must exit 0. New pages are picked up by the glob.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
MARKER = re.compile(r"<!-- (tested-by|sketch): ?(.*?) -->")


class Block:
    def __init__(self, page: Path, number: int, code: str, marker: str | None) -> None:
        self.page, self.number, self.code = page, number, code
        match = MARKER.fullmatch(marker or "")
        self.kind = match.group(1) if match else "run"
        self.detail = match.group(2) if match else ""
        self.stray_marker = marker if marker and "<!--" in marker and not match else None

    def __repr__(self) -> str:
        return f"{self.page.relative_to(ROOT)} block {self.number}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for number, match in enumerate(FENCE.finditer(text)):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        found.append(Block(page, number, match.group(1), before or None))
    return found


ALL = [b for page in PAGES for b in blocks(page)]


def test_the_rule_sees_every_page_and_block() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "index.md", "asyncio.md", "wire.md", "aiortc.md"} <= names
    assert len(ALL) >= 15
    assert {b.kind for b in ALL} == {"run", "tested-by", "sketch"}


@pytest.mark.parametrize("block", ALL, ids=repr)
def test_each_block_is_valid_python_with_a_valid_marker(block: Block) -> None:
    # a sketch too must parse (top-level ``await`` allowed)
    compile(
        block.code, str(block), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT | ast.PyCF_ONLY_AST
    )
    assert block.stray_marker is None, f"{block}: unknown marker {block.stray_marker!r}"
    if block.kind == "sketch":
        assert block.detail, f"{block}: say why it is a sketch: <!-- sketch: why -->"
    if block.kind == "tested-by":
        path, _, name = block.detail.partition("::")
        test_file = ROOT / path
        assert test_file.is_file(), f"{block}: no {path}"
        source = test_file.read_text(encoding="utf-8")
        assert re.search(rf"^def {re.escape(name)}\(", source, re.M), f"{block}: no {name}"
        assert block.page.name in source, f"{path} does not read {block.page.name}"


RUN = sorted({b.page for b in ALL if b.kind == "run"})


@pytest.mark.parametrize("page", RUN, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_unmarked_blocks_of_a_page_run(page: Path, tmp_path: Path) -> None:
    code = "\n\n".join(b.code for b in blocks(page) if b.kind == "run")
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, f"{page.name}:\n{done.stderr[-3000:]}"
