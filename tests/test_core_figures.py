"""tools/core_figures.py: the figures of docs/contract.md (line counts, decisions in tables,
the import graph) are computed, not typed in."""

from __future__ import annotations

import importlib.util
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
