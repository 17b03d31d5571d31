"""The conformance kit as a product: the extra, the pytest plugin, the backend suite, coverage.

The suite and the plugin's options run as a user runs them: ``python -m pytest`` in a separate
process (bounded in time), with the plugin loaded through its ``pytest11`` entry point.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import ModuleType

import kittools
import pytest
from rtcstate_asyncio.conformance import BackendFactory, driver, load_factory
from rtcstate_asyncio.conformance import test_backend as suite
from rtcstate_asyncio.fakemedia import FakeMediaNetwork

from rtcstate.extras import MissingExtraError
from rtcstate.machine import MachineSpec
from rtcstate.testing.clock import TimerWheel
from rtcstate.testing.harness import Accept, Hangup, Outcome, check_invariants
from rtcstate.testing.modelcoverage import ModelCoverage, summary
from rtcstate.testing.network import SimNetwork

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
SUITE = ["--pyargs", "rtcstate_asyncio.conformance"]
CASES = 13


def _pytest(*args: str, cwd: Path = ROOT, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


# --- 1. the extra and the plugin ----------------------------------------------------------------


def test_the_kit_without_hypothesis_is_one_line_naming_the_extra() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import rtcstate_pytest  # pytest keeps working without the extra\n"
        "from rtcstate.extras import MissingExtraError\n"
        "try:\n"
        "    import rtcstate.testing.network\n"
        "except MissingExtraError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('imported without hypothesis')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "rtcstate.testing needs hypothesis, which is not installed: pip install 'rtcstate[testing]'"
    ]
    assert issubclass(MissingExtraError, ModuleNotFoundError)


def test_the_plugin_is_a_pytest11_entry_point_of_the_distribution() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["entry-points"]["pytest11"] == {"rtcstate": "rtcstate_pytest"}
    installed = {e.name: e.value for e in metadata.entry_points(group="pytest11")}
    assert installed.get("rtcstate") == "rtcstate_pytest"
    assert "rtcstate_asyncio.conformance" in pyproject["tool"]["setuptools"]["packages"]


def test_the_fixtures_are_fresh_kit_objects(
    rtc_network: SimNetwork,
    rtc_clock: TimerWheel,
    rtc_two_party: Callable[..., Outcome],
    rtc_multi_device: Callable[..., Outcome],
    rtc_strategies: ModuleType,
) -> None:
    assert isinstance(rtc_network, SimNetwork) and rtc_network.now == 0.0
    assert not rtc_network.clients
    assert isinstance(rtc_clock, TimerWheel) and rtc_clock.armed == {}
    out = rtc_two_party([Accept(at=2.0), Hangup(at=5.0)])
    check_invariants(out)
    assert "accepted" in out.events() and "hangup" in out.events()
    forked = rtc_multi_device(3, [Accept(at=2.0, device=1)])
    check_invariants(forked)
    assert forked.device_call(1) is not None
    assert hasattr(rtc_strategies, "envelopes") and hasattr(rtc_strategies, "messages")


# --- 2. the media-backend suite -----------------------------------------------------------------


@pytest.mark.parametrize(
    "factory",
    ["rtcstate_asyncio.fakemedia:FakeMediaNetwork", "rtcstate_aiortc.conformance:AiortcBackends"],
)
def test_the_backend_suite_passes_on_the_fake_and_on_aiortc(factory: str) -> None:
    done = _pytest(*SUITE, "--rtcstate-backend", factory)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"{CASES} passed" in done.stdout, done.stdout[-2000:]
    assert "skipped" not in done.stdout


@pytest.mark.parametrize(
    ("factory", "case", "failing"),
    [
        (kittools.ReportsInsideApply, suite.test_02_offer_and_answer_connect_a_data_call,
         "reported from inside apply"),
        (kittools.LosesData, suite.test_07_data_channel_carries_text_and_bytes_both_ways_in_order,
         "no all messages within"),
        (kittools.RaisesOnUnknownCalls, suite.test_13_apply_never_raises_and_close_is_final,
         "raised KeyError"),
    ],
)  # fmt: skip
def test_the_backend_suite_fails_a_backend_that_breaks_the_contract(
    factory: Callable[[], BackendFactory],
    case: Callable[[Callable[[], BackendFactory]], None],
    failing: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(driver, "WAIT", 1.0)  # a lost message is found by a wait running out
    with pytest.raises(AssertionError, match=failing):
        case(factory)
    case(FakeMediaNetwork)  # the same case passes on the backend they break


def test_a_wrong_backend_option_is_a_usage_error() -> None:
    for wrong in ("no_colon_here", "rtcstate_asyncio.fakemedia:NoSuchThing", "json:__doc__"):
        with pytest.raises(ValueError, match=r"package\.module:Factory|has no|not callable"):
            load_factory(wrong)
    assert load_factory("rtcstate_asyncio.fakemedia:FakeMediaNetwork") is FakeMediaNetwork


# --- 4. model coverage --------------------------------------------------------------------------


def test_coverage_is_off_unless_asked(request: pytest.FixtureRequest) -> None:
    # without --rtcstate-coverage nothing is wrapped (with it, this very run is recorded)
    asked = bool(request.config.getoption("rtcstate_coverage"))
    assert (MachineSpec.fire.__qualname__ == "MachineSpec.fire") is not asked
    assert (MachineSpec.deliver.__qualname__ == "MachineSpec.deliver") is not asked


def test_coverage_records_pairs_reasons_and_codes(rtc_two_party: Callable[..., Outcome]) -> None:
    fire = MachineSpec.fire
    recorder = ModelCoverage()
    recorder.install()
    try:
        rtc_two_party([Accept(at=2.0), Hangup(at=5.0, party="callee")])
    finally:
        recorder.uninstall()
    assert MachineSpec.fire is fire  # put back
    report = recorder.report()
    call = report["machines"]["Call"]
    assert 0 < call["rows_exercised"] < call["rows"]
    assert call["rows"] == call["rows_exercised"] + len(call["rows_missed"])
    ran = {(s, t) for (m, s, t), c in recorder.triggers.items() if m == "Call" and c["ran"]}
    assert {("CONNECTED", "remote_bye"), ("ENDING", "bye_acked")} <= ran, ran
    assert "DataChannel" in report["machines"]  # the universe names machines never used
    assert report["machines"]["DataChannel"]["rows_exercised"] == 0
    codes = report["codes"]
    assert codes["exercised"] >= 1 and "User_Hangup" not in codes["missed"]
    lines = summary(report)
    assert lines[0].startswith("model coverage")
    assert any(line.strip().startswith("Call") for line in lines)


def test_coverage_option_writes_the_report_and_a_summary(tmp_path: Path) -> None:
    test = tmp_path / "test_mine.py"
    test.write_text(
        "from rtcstate.testing.harness import Accept, check_invariants\n\n"
        "def test_call(rtc_two_party):\n"
        "    check_invariants(rtc_two_party([Accept(at=2.0)]))\n",
        encoding="utf-8",
    )
    out = tmp_path / "coverage.json"
    done = _pytest(str(test), "--rtcstate-coverage", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "model coverage (rtcstate)" in done.stdout
    assert re.search(r"Call\s+transitions\s+\d+/\d+", done.stdout), done.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["machines"]["Call"]["rows_exercised"] > 0
    assert set(report) == {"machines", "drop_reasons", "codes", "error_numbers"}


# --- docs/testing.md ----------------------------------------------------------------------------


def _doc_block(marker: str) -> str:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- tested-by: tests/test_kit.py::{marker} -->\n```python\n(.*?)^```", text, re.M | re.S
    )
    assert match is not None, marker
    return match.group(1)


def test_docs_fixture_example_runs_under_pytest(tmp_path: Path) -> None:
    (tmp_path / "test_from_docs.py").write_text(
        _doc_block("test_docs_fixture_example_runs_under_pytest"), encoding="utf-8"
    )
    done = _pytest("test_from_docs.py", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"\b[2-9] passed", done.stdout), done.stdout
