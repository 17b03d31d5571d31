"""The wire suite's runner with a testee run in the same process: one that dies before its
hello fails the run at once (no wait for the hello's timeout), and ``rtcstate conformance
--browser`` hands the run to the browser testee."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import rtcstate_browser.testee
from rtcstate_cli import main
from rtcstate_conformance.runner import run_suite
from rtcstate_conformance.testee import run_testee


def test_a_testee_that_fails_before_its_hello_ends_the_run_at_once(tmp_path: Path) -> None:
    async def broken(url: str) -> int:
        raise ConnectionRefusedError(f"cannot reach {url}")

    async def quitter(url: str) -> int:
        return 1

    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError, match="/control"):
        asyncio.run(run_suite(tmp_path, testee=broken, wait=60.0))
    with pytest.raises(RuntimeError, match="before saying hello"):
        asyncio.run(run_suite(tmp_path, testee=quitter, wait=60.0))
    assert time.monotonic() - start < 10
    assert not (tmp_path / "report.json").exists()


def test_a_silent_testee_times_out_after_the_wait(tmp_path: Path) -> None:
    async def silent(url: str) -> int:
        await asyncio.sleep(30)
        return 0

    start = time.monotonic()
    with pytest.raises(TimeoutError):
        asyncio.run(run_suite(tmp_path, testee=silent, wait=0.5))
    assert time.monotonic() - start < 10


def test_cli_browser_runs_the_suite_with_the_browser_testee(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[str] = []

    async def stand_in(url: str) -> int:  # the asyncio testee, named as the browser's
        used.append(url)
        return await run_testee(url, name="stand-in-browser")

    monkeypatch.setattr(rtcstate_browser.testee, "run_browser_testee", stand_in)
    code = main(["conformance", "--browser", "--cases", "1.1", "--report-dir", str(tmp_path)])
    assert code == 0
    assert len(used) == 1 and used[0].endswith("/control")
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["testee"] == "stand-in-browser"
    assert data["counts"] == {"pass": 1}
