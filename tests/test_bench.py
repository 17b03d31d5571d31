"""The benchmark script runs and prints well-formed lines (speed itself is not asserted)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {
    "receive_per_message": "us",
    "receive_per_message_stdlib": "us",
    "transitions_naive_speedup": "us",
    "scale_flatness": "us",
    "memory_per_call": "B",
    "transfer_core_throughput": "MB/s",
    "call_setup_overhead": "ms",
    "file_transfer_vs_raw": "MB/s",
    "conversation_fanout": "us",
    "conversation_join": "us",
    "mesh_join_overhead": "ms",
    "relay_vs_raw": "msg/s",
    "cluster_forward_ratio": "msg/s",
    "newcomer_registration": "ms",
}
KEYS = {"name", "value", "unit", "baseline", "ratio", "goal"}
OPTIONAL = {"note", "top"}


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("rtcstate_bench", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rtcstate_bench"] = module
    spec.loader.exec_module(module)
    return module


def _records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(text) for text in capsys.readouterr().out.strip().splitlines()]


def test_every_benchmark_prints_one_well_formed_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = _load()
    assert bench.main(["--smoke"]) == 0
    records = _records(capsys)
    assert [r["name"] for r in records] == list(EXPECTED)
    for record in records:
        if set(record) == {"name", "skipped"}:  # no redis-server here: said on one line
            assert record["name"] == "cluster_forward_ratio" and record["skipped"], record
            continue
        assert KEYS <= set(record) <= KEYS | OPTIONAL, record
        assert record["unit"] == EXPECTED[record["name"]]
        assert isinstance(record["goal"], str) and record["goal"]
        for key in ("value", "baseline", "ratio"):
            number = record[key]
            assert isinstance(number, int | float) and not isinstance(number, bool), record
            assert math.isfinite(number) and number > 0, record
        value, baseline = record["value"], record["baseline"]
        expected = (
            baseline / value
            if record["name"] == "transitions_naive_speedup"
            else (value / baseline)
        )
        assert record["ratio"] == pytest.approx(expected, rel=0.01, abs=0.002), record


def test_only_runs_the_named_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load()
    assert bench.main(["--smoke", "--only", "receive,naive"]) == 0
    names = [r["name"] for r in _records(capsys)]
    assert names == ["receive_per_message", "transitions_naive_speedup"]
    with pytest.raises(SystemExit):
        bench.main(["--smoke", "--only", "nope"])


def test_cpu_time_is_said_in_the_note(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load()
    try:
        assert bench.main(["--smoke", "--cpu-time", "--only", "receive"]) == 0
        assert bench.best_of_clock is bench.time.process_time
        (record,) = _records(capsys)
        assert record["note"].endswith("; CPU time of the process"), record
        assert bench.main(["--smoke", "--only", "receive"]) == 0
        (record,) = _records(capsys)
        assert "CPU time" not in record["note"], record
    finally:
        bench.best_of_clock = bench.time.perf_counter


def test_the_naive_reference_is_the_same_call_on_a_transitions_machine() -> None:
    """Only the dispatch engine differs: one transitions.Machine per call, same table."""
    bench = _load()  # puts the repository root on sys.path for `bench.naive_call`
    from transitions import Machine

    from bench.naive_call import NaiveCall, naive_calls
    from rtcstate.call import TRANSITIONS, Call, CallState

    with naive_calls():
        session = bench.registered_session()
        bench.ring(session, 1)
        call = session.child("call_id", bench.call_id(1))
    assert type(call) is NaiveCall and isinstance(call, Call)
    assert isinstance(call.machine, Machine) and call.state is CallState.RINGING
    assert set(call.machine.events) == {row["trigger"] for row in TRANSITIONS}
    # outside the block sessions build ordinary calls again
    plain = bench.registered_session()
    bench.ring(plain, 2)
    assert type(plain.child("call_id", bench.call_id(2))) is Call
