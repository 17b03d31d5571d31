"""``rtcstate conformance``: the wire conformance suite (docs/conformance.md).

Four ways to run it: with no option, the suite runs against rtcstate's own asyncio client in
this process; with ``--browser`` against the browser client (the core under Pyodide in headless
Chromium, :mod:`rtcstate_browser.testee`); with ``--external`` it waits for an outside
client's testee driver on the control URL it prints (``ws://127.0.0.1:PORT/control``; the
client connects to ``/relay``); with ``--connect URL`` this process is only rtcstate's testee,
for a conformance server running elsewhere. The reports (``report.json``, ``report.html``) go
to ``--report-dir``; the exit code is 1 when a case failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from rtcstate.extras import require

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cases", nargs="*", default=[], metavar="ID",
        help="the cases to run: ids or prefixes with * (e.g. 2.1 '8.*'); all by default",
    )  # fmt: skip
    parser.add_argument(
        "--report-dir", type=Path, default=Path("conformance-report"),
        help="where report.json and report.html are written",
    )  # fmt: skip
    parser.add_argument("--port", type=int, default=0, help="the server's port (0: any free)")
    parser.add_argument(
        "--external", action="store_true",
        help="wait for an outside client's testee on the control URL printed",
    )  # fmt: skip
    parser.add_argument(
        "--browser", action="store_true",
        help="run the suite against the browser client (headless Chromium, Pyodide; "
        "needs the [browser] extra and make web-assets)",
    )  # fmt: skip
    parser.add_argument(
        "--wait", type=float, default=120.0,
        help="seconds to wait for the testee's hello (at least 300 with --browser)",
    )  # fmt: skip
    parser.add_argument(
        "--connect", metavar="URL",
        help="only run rtcstate's testee against the server at URL (ws://HOST:PORT/control)",
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    require("asyncio", "rtcstate conformance")
    if args.connect:
        from rtcstate_conformance.testee import run_testee

        return asyncio.run(run_testee(args.connect))
    from rtcstate_conformance.runner import run_suite
    from rtcstate_conformance.server import Verdict

    testee = None
    wait = args.wait
    if args.browser:
        from rtcstate_browser.testee import run_browser_testee

        testee, wait = run_browser_testee, max(wait, 300.0)  # booting Pyodide takes a while

    results = asyncio.run(
        run_suite(
            args.report_dir,
            builtin=not args.external,
            patterns=args.cases,
            port=args.port,
            wait=wait,
            out=sys.stdout,
            testee=testee,
        )
    )
    return 1 if any(r.verdict == Verdict.FAIL for r in results) else 0
