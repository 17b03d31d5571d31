"""Runs the wire suite: a server, a testee (rtcstate's own or someone else's), the reports.

Theory of operation
-------------------
:func:`run_suite` starts a :class:`~rtcstate_conformance.server.ConformanceServer` on
127.0.0.1, then either starts rtcstate's testee in the same loop (``builtin=True``) or prints
the control URL and waits for an outside testee; it runs the selected cases one after the
other, prints one line per case (to ``out``, when given), writes ``report.json`` and
``report.html`` into the report folder and returns the results.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from rtcstate_conformance.cases import CASES
from rtcstate_conformance.report import write_reports
from rtcstate_conformance.server import CaseResult, ConformanceServer, select

__all__ = ["run_suite"]


async def run_suite(
    report_dir: Path,
    *,
    builtin: bool = True,
    patterns: Sequence[str] = (),
    port: int = 0,
    wait: float = 60.0,
    out: TextIO | None = None,
) -> list[CaseResult]:
    """Run the cases matching ``patterns`` (all by default); see the module docstring."""
    specs = select(CASES, patterns)
    if not specs:
        raise ValueError(f"no case matches {' '.join(patterns)}")
    server = ConformanceServer(port=port)
    await server.start()
    testee: asyncio.Task[int] | None = None
    if builtin:
        from rtcstate_conformance.testee import run_testee

        testee = asyncio.get_running_loop().create_task(run_testee(server.control_url))
    elif out is not None:
        print(f"waiting for a testee on {server.control_url} (relay: {server.relay_url})",
              file=out, flush=True)  # fmt: skip

    def line(result: CaseResult) -> None:
        if out is not None:
            why = f"  ({'; '.join(result.reasons)})" if result.reasons else ""
            print(f"{result.id:>5} {result.verdict:<11} {result.title}{why}", file=out, flush=True)

    try:
        await server.wait_testee(wait)
        results = await server.run(specs, line)
    finally:
        await server.close()
        if testee is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(testee, 10.0)
            testee.cancel()
    write_reports(report_dir, server.name, results)
    if out is not None:
        counts = {
            v: sum(r.verdict == v for r in results) for v in sorted({r.verdict for r in results})
        }
        shown = ", ".join(f"{n} {v}" for v, n in counts.items())
        print(f"{server.name}: {len(results)} cases: {shown}; reports in {report_dir}", file=out)
    return results
