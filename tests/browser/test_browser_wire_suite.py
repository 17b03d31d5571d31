"""The wire conformance suite against the browser client (``rtcstate conformance --browser``):
the core under Pyodide and the JavaScript runtime in headless Chromium, driven by the page's
own testee driver (static/testee.js) over the documented control protocol. The reports are kept
as CI artefacts beside the asyncio client's."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from rtcstate_browser.chromium import Chromium
from rtcstate_browser.testee import BrowserTestee
from rtcstate_conformance.cases import CASES, alive
from rtcstate_conformance.report import write_reports
from rtcstate_conformance.runner import run_suite
from rtcstate_conformance.server import Case, CaseSpec

from tests.browser import conftest

ARTEFACTS = conftest.ARTEFACTS / "conformance" / "browser"


async def misuse(c: Case) -> None:
    """What a driver must refuse (ok: false), the client going on afterwards."""
    refused = {}
    refused["unknown command"] = await c.try_command("frobnicate")
    refused["hangup, not registered"] = await c.try_command("hangup", call_id="nope")
    link = await c.register()
    again = {"url": c.server.relay_url, "user": c.user, "device": c.device}
    refused["register twice"] = await c.try_command("register", **again)
    refused["accept an unknown call"] = await c.try_command("accept", call_id="nope")
    refused["call nobody"] = await c.try_command("call", contact="")
    refused["cancel a file never sent"] = await c.try_command("cancel_file", transfer_id="nope")
    for what, (ok, result) in refused.items():
        c.check(not ok and result.get("error"), f"{what} is refused")
    c.check("RtcError" in str(refused["call nobody"][1]), "the core's misuse error is named")
    await alive(c, link)


MISUSE = CaseSpec("x.1", "misuse is refused", "see misuse()", misuse)


def test_the_browser_client_passes_the_wire_suite(tmp_path: Path) -> None:
    conftest.require_browser()
    testee = BrowserTestee()
    start = time.monotonic()
    run = run_suite(tmp_path, testee=testee, cases=[*CASES, MISUSE], wait=300.0)
    results = asyncio.run(asyncio.wait_for(run, 900))
    elapsed = time.monotonic() - start
    write_reports(ARTEFACTS, "rtcstate-browser", results[:-1])  # the suite's cases only
    (ARTEFACTS / "console.txt").write_text("\n".join(testee.console), encoding="utf-8")
    verdicts = {r.id: r.verdict for r in results}
    reasons = {r.id: r.reasons for r in results if r.verdict != "pass"}
    assert list(verdicts) == [c.id for c in CASES] + ["x.1"]
    assert all(v == "pass" for v in verdicts.values()), reasons  # the 7.x cases included
    assert sum("conversations" in c.requires for c in CASES) == 3
    # the page ran the run to its end and said so; the core booted in the page
    assert testee.outcome["ok"] is True and testee.outcome["error"] is None, testee.console
    assert testee.outcome["commands"] > len(CASES)
    assert any("core ready" in line for line in testee.console)
    assert not [line for line in testee.console if line.startswith("pageerror")]
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["testee"] == "rtcstate-browser"
    assert data["counts"] == {"pass": len(CASES) + 1}
    kept = json.loads((ARTEFACTS / "report.json").read_text())
    assert kept["counts"] == {"pass": len(CASES)}
    by_id = {r["id"]: r for r in kept["results"]}
    # the room's join and message came from the page's core on its own WebSocket
    assert any(o["channel"] == "client>" and "conv_send_message" in o["text"]
               for o in by_id["7.4"]["observations"])  # fmt: skip
    # the invite came from the page's core on its own WebSocket, with the stub's SDP
    assert any(o["channel"] == "client>" and "browser-stub" in o["text"]
               for o in by_id["2.1"]["observations"])  # fmt: skip
    assert (ARTEFACTS / "report.html").read_text().count("<details>") == len(CASES)
    print(f"browser client: {len(CASES)} cases in {elapsed:.1f} s (boot included)")


def test_the_chromium_helper_starts_and_kills_the_browser() -> None:
    conftest.require_browser()
    with Chromium.start() as browser:
        assert browser.running
        assert browser.devtools.startswith("ws://127.0.0.1:")
        assert Path(browser.profile).is_dir()
        assert browser.proc.pid in _group(browser.proc.pid)
    assert not browser.running
    # no process of the browser's group (renderers, GPU, zygotes) runs any more
    conftest.until(lambda: not _group(browser.proc.pid), 10.0)
    assert not Path(browser.profile).exists()


def _group(pgid: int) -> set[int]:
    """The live (not zombie) processes of group ``pgid``, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in "ZX":
            found.add(int(stat.parent.name))
    return found


def test_a_browser_that_never_listens_is_refused(tmp_path: Path) -> None:
    silent = tmp_path / "silent-browser"
    silent.write_text("#!/bin/sh\nexec sleep 30\n")
    silent.chmod(0o755)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="did not start"):
        Chromium.start(executable="/bin/true", limit=5.0)  # exits at once
    with pytest.raises(RuntimeError, match="did not start"):
        Chromium.start(executable=str(silent), limit=1.0)  # runs, never says where it listens
    assert time.monotonic() - start < 15
