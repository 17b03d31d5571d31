"""The benchmark script runs and prints well-formed lines (speed itself is not asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load() -> object:
    spec = importlib.util.spec_from_file_location("rtcstate_bench", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rtcstate_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_bench_prints_one_json_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load()
    assert bench.main(["--quick", "--only", "receive"]) == 0  # type: ignore[attr-defined]
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) == {"name", "value", "unit", "baseline", "ratio", "goal"}
    assert record["name"] == "receive_per_message" and record["unit"] == "us"
    assert record["value"] > 0 and record["baseline"] > 0
    assert record["ratio"] == pytest.approx(record["value"] / record["baseline"], rel=0.01)
