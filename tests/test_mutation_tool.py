"""tools/mutation.py's sampled mode: the draw, the interval and the command line, without mutmut."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

TOOL = Path(__file__).resolve().parents[1] / "tools" / "mutation.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_tool"] = module
    spec.loader.exec_module(module)
    return module


mutation = _tool()


def test_the_interval_of_the_issues_call_sample() -> None:
    # issue 17: call.py, 115 of a sample of 160 killed: 71.9 %, 95 % interval 64.5-78.3 %
    low, high = mutation.wilson(115, 160)
    assert round(100 * low, 1) == 64.5
    assert round(100 * high, 1) == 78.3


def test_the_interval_at_the_edges_stays_inside_zero_and_one() -> None:
    low, high = mutation.wilson(20, 20)
    assert high == 1.0
    assert 0.83 < low < 0.84  # 20 / 20 does not prove 100 %
    low, high = mutation.wilson(0, 20)
    assert low == 0.0
    assert 0.16 < high < 0.17


def test_the_interval_refuses_what_is_not_a_proportion() -> None:
    for killed, total in ((0, 0), (3, 2), (-1, 5)):
        with pytest.raises(ValueError):
            mutation.wilson(killed, total)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_interval_holds_the_observed_score_and_narrows_with_more_mutants(
    pair: tuple[int, int],
) -> None:
    killed, total = pair
    low, high = mutation.wilson(killed, total)
    assert 0.0 <= low <= killed / total <= high <= 1.0
    # the same proportion on four times the mutants gives a narrower interval
    low4, high4 = mutation.wilson(4 * killed, 4 * total)
    assert high4 - low4 < high - low
    # and is never wider than the normal approximation's worst case plus its correction
    assert high - low <= 2 * 1.96 * math.sqrt(0.25 / total) + 1e-9


NAMES = [f"rtcstate.call.x_f{i % 7}__mutmut_{i}" for i in range(300)]


def test_a_sample_is_the_same_for_a_seed_and_differs_between_seeds() -> None:
    first = mutation.sample(NAMES, 40, 1)
    assert first == mutation.sample(list(reversed(NAMES)), 40, 1)  # order of listing ignored
    assert len(first) == len(set(first)) == 40
    assert set(first) <= set(NAMES)
    assert first != mutation.sample(NAMES, 40, 2)


def test_a_sample_larger_than_the_module_takes_every_mutant_once() -> None:
    assert mutation.sample(NAMES[:5] + NAMES[:5], 10, 0) == sorted(NAMES[:5])
    with pytest.raises(ValueError):
        mutation.sample(NAMES, 0, 0)


def test_the_sample_is_uniform() -> None:
    # every name is drawn about equally often over many seeds (1/3 of them each time)
    names = NAMES[:30]
    counts = dict.fromkeys(names, 0)
    for seed in range(600):
        for name in mutation.sample(names, 10, seed):
            counts[name] += 1
    assert sum(counts.values()) == 6000
    # expected 200 each; a name never or always drawn would be far outside
    assert min(counts.values()) > 140
    assert max(counts.values()) < 260


def test_results_are_read_from_mutmuts_listing() -> None:
    text = (
        "    rtcstate.retry.x_a__mutmut_1: killed\n"
        "    rtcstate.retry.xǁBackoffǁdelay__mutmut_2: survived\n"
        "    rtcstate.retry.x_b__mutmut_3: not checked\n"
        "garbage line\n"
    )
    assert mutation.parse_results(text) == [
        ("rtcstate.retry.x_a__mutmut_1", "killed"),
        ("rtcstate.retry.xǁBackoffǁdelay__mutmut_2", "survived"),
        ("rtcstate.retry.x_b__mutmut_3", "not checked"),
    ]


def test_the_command_line() -> None:
    assert mutation.parse_args(["call"]) == (["call"], None, 0, False)
    assert mutation.parse_args(["--sample", "120", "--seed", "7", "call", "rooms"]) == (
        ["call", "rooms"],
        120,
        7,
        False,
    )
    assert mutation.parse_args(["--rerun", "negotiation"]) == (["negotiation"], None, 0, True)
    for refused in (
        ["--sample"],
        ["--sample", "x"],
        ["--sample", "0"],
        ["--seed", "-1"],
        ["--bogus"],
        ["--rerun", "--sample", "5", "call"],
    ):
        with pytest.raises(ValueError):
            mutation.parse_args(refused)
    assert mutation.main(["--sample"]) == 2
    assert mutation.main(["no-such-module"]) == 2


def test_a_sampled_report_gives_its_interval() -> None:
    assert mutation.report("retry", 46, 46, False) == "retry: 46/46 killed (100.0 %)"
    assert mutation.report("call", 115, 160, True) == (
        "call: 115/160 killed (71.9 %), sample of 160: 95 % interval 64.5-78.3 %"
    )


def test_every_module_entry_names_files_that_exist() -> None:
    root = TOOL.parents[1]
    for key, (path, tests) in mutation.MODULES.items():
        assert (root / path).is_file(), key
        assert tests, key
        for test in tests:
            assert (root / test).is_file(), (key, test)
