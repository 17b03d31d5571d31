"""tools/core_figures.py: the figures of docs/contract.md (line counts, decisions in tables,
the import graph) are computed, not typed in."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "core_figures.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("core_figures", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["core_figures"] = module
    spec.loader.exec_module(module)
    return module


figures = _tool()


def test_layers_refuse_a_cycle_and_order_the_rest() -> None:
    depth = figures.layers({"a": {"b"}, "b": {"c"}, "c": set()})
    assert depth == {"a": 2, "b": 1, "c": 0}
    with pytest.raises(ValueError, match="a -> b -> a"):
        figures.layers({"a": {"b"}, "b": {"a"}})


def test_the_core_import_graph_is_acyclic_and_datachannel_sits_above_reliable() -> None:
    depth = figures.layers(figures.import_graph())
    assert depth["rtcstate.datachannel"] > depth["rtcstate.reliable"]
    assert depth["rtcstate.wire"] < depth["rtcstate.session"]


def test_every_machine_has_a_share_and_the_counts_add_up() -> None:
    shares = {name: row for name, *row in figures.table_shares()}
    assert {"Call", "DataChannel", "ReliableSender"} <= set(shares)
    for rows, verdicts, code, share in shares.values():
        assert rows > 0 and code >= 0
        assert share == pytest.approx((rows + verdicts) / (rows + verdicts + code))
    lines = {module: (total, code) for module, total, code in figures.line_counts()}
    assert 0 < lines["rtcstate.wire"][1] < lines["rtcstate.wire"][0]


def test_the_script_prints_the_three_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert figures.main([]) == 0
    out = capsys.readouterr().out
    assert "| `rtcstate.datachannel` |" in out and "| `DataChannel` |" in out
    assert "acyclic" in out


def _commit_all(root: Path, message: str) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)

    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", message)


def _write(root: Path, path: str, lines: int) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(f"x = {n}\n" for n in range(lines)), encoding="utf-8")


def test_lines_before_and_after_follow_moved_modules(tmp_path: Path) -> None:
    """A local repository (no network): one module kept, one split, one removed, one new."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, capture_output=True)
    _write(tmp_path, "rtcstate/kept.py", 3)
    _write(tmp_path, "rtcstate/session.py", 10)
    _write(tmp_path, "rtcstate/gone.py", 4)
    _write(tmp_path, "rtcstate/notes.txt", 7)  # not a module
    _commit_all(tmp_path, "before")
    rev = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], check=True, capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip
    (tmp_path / "rtcstate/gone.py").unlink()
    _write(tmp_path, "rtcstate/kept.py", 5)
    _write(tmp_path, "rtcstate/session.py", 6)
    _write(tmp_path, "rtcstate/session_router.py", 8)
    _write(tmp_path, "rtcstate/fresh.py", 2)  # uncommitted: "now" is the working tree
    rows = figures.lines_before_after(rev, tmp_path)
    assert rows == [
        ("rtcstate/gone.py", 4, None),
        ("rtcstate/kept.py", 3, 5),
        ("rtcstate/session.py -> rtcstate/session.py, rtcstate/session_*.py", 10, 14),
        ("rtcstate/fresh.py", None, 2),
    ]
    # another mapping: the same files, the split module no longer grouped
    rows = figures.lines_before_after(rev, tmp_path, successors={})
    assert ("rtcstate/session.py", 10, 6) in rows
    assert ("rtcstate/session_router.py", None, 8) in rows


def test_the_script_prints_lines_before_and_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, capture_output=True)
    _write(tmp_path, "rtcstate/transfer.py", 9)
    _commit_all(tmp_path, "before")
    (tmp_path / "rtcstate/transfer.py").unlink()
    _write(tmp_path, "rtcstate/transfer/codec.py", 4)
    _write(tmp_path, "rtcstate/transfer/mux.py", 3)
    monkeypatch.setattr(figures, "ROOT", tmp_path)
    assert figures.main(["--only", "lines", "--before", "HEAD"]) == 0
    out = capsys.readouterr().out
    assert "| `rtcstate/transfer.py` -> `rtcstate/transfer/*.py` | 9 | 7 |" in out
    assert "| **total** | **9** | **7** |" in out
