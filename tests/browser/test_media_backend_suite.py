"""The media-backend conformance suite on the browser backend (static/media.js in headless
Chromium, driven through playwright: ``rtcstate_browser.conformance:BrowserBackends``): the
third implementation of the contract, after the fake and aiortc (tests/test_kit.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rtcstate_browser.conformance import loopback_sdp, on_loopback

from tests.browser import conftest

ROOT = Path(__file__).resolve().parents[2]
CASES = 13


def test_the_backend_suite_passes_on_the_browser() -> None:
    conftest.require_browser()
    env = dict(os.environ, RTCSTATE_CHROMIUM=conftest.CHROMIUM)
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         "--pyargs", "rtcstate_asyncio.conformance",
         "--rtcstate-backend", "rtcstate_browser.conformance:BrowserBackends"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"{CASES} passed" in done.stdout, done.stdout[-2000:]
    assert "skipped" not in done.stdout


def test_candidates_off_loopback_are_filtered() -> None:
    host = "candidate:1 1 udp 2122194687 127.0.0.1 54884 typ host generation 0"
    v6 = "candidate:2 1 udp 2122194687 ::1 54885 typ host"
    other = "candidate:3 1 tcp 1518083839 192.0.2.2 9 typ host tcptype active"
    assert on_loopback(host) and on_loopback(v6) and on_loopback("")
    assert not on_loopback(other) and not on_loopback("candidate:garbage")
    sdp = "\r\n".join(["v=0", f"a={host}", f"a={other}", "a=end-of-candidates", ""])
    assert loopback_sdp(sdp) == "\r\n".join(["v=0", f"a={host}", "a=end-of-candidates", ""])
