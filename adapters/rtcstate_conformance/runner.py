"""Runs the wire suite: a server, a testee (rtcstate's own or someone else's), the reports.

Theory of operation
-------------------
:func:`run_suite` starts a :class:`~rtcstate_conformance.server.ConformanceServer` on
127.0.0.1, then either starts rtcstate's testee in the same loop (``builtin=True``) or prints
the control URL and waits for an outside testee (or runs the ``testee`` given: an async
function of the control URL, such as :func:`rtcstate_browser.testee.run_browser_testee`, which
fails the run at once if it ends before saying hello); it runs the selected cases one after the
other, prints one line per case (to ``out``, when given), writes ``report.json`` and
``report.html`` into the report folder and returns the results.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TextIO

from rtcstate_conformance.cases import CASES
from rtcstate_conformance.report import write_reports
from rtcstate_conformance.server import CaseResult, CaseSpec, ConformanceServer, select

__all__ = ["run_suite"]


async def run_suite(
    report_dir: Path,
    *,
    builtin: bool = True,
    patterns: Sequence[str] = (),
    port: int = 0,
    wait: float = 60.0,
    out: TextIO | None = None,
    testee: Callable[[str], Awaitable[int]] | None = None,
    cases: Sequence[CaseSpec] = CASES,
) -> list[CaseResult]:
    """Run the ``cases`` (the suite's by default) matching ``patterns`` (all by default); see
    the module docstring."""
    specs = select(cases, patterns)
    if not specs:
        raise ValueError(f"no case matches {' '.join(patterns)}")
    server = ConformanceServer(port=port)
    await server.start()
    if testee is None and builtin:
        from rtcstate_conformance.testee import run_testee

        testee = run_testee
    task: asyncio.Task[int] | None = None
    if testee is not None:
        task = asyncio.get_running_loop().create_task(_run(testee, server.control_url))
    elif out is not None:
        print(f"waiting for a testee on {server.control_url} (relay: {server.relay_url})",
              file=out, flush=True)  # fmt: skip

    def line(result: CaseResult) -> None:
        if out is not None:
            why = f"  ({'; '.join(result.reasons)})" if result.reasons else ""
            print(f"{result.id:>5} {result.verdict:<11} {result.title}{why}", file=out, flush=True)

    try:
        await _hello(server, task, wait)
        results = await server.run(specs, line)
    finally:
        await server.close()
        if task is not None:
            if server.testee_ready.is_set():  # it was told done: give it time to close
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 20.0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    write_reports(report_dir, server.name, results)
    if out is not None:
        counts = {
            v: sum(r.verdict == v for r in results) for v in sorted({r.verdict for r in results})
        }
        shown = ", ".join(f"{n} {v}" for v, n in counts.items())
        print(f"{server.name}: {len(results)} cases: {shown}; reports in {report_dir}", file=out)
    return results


async def _run(testee: Callable[[str], Awaitable[int]], url: str) -> int:
    return await testee(url)


async def _hello(server: ConformanceServer, task: asyncio.Task[int] | None, wait: float) -> None:
    """Until the testee said hello (TimeoutError after ``wait`` s); when ``task`` (the testee
    run here) ends first, its exception, or RuntimeError."""
    ready = asyncio.ensure_future(server.wait_testee(wait))
    try:
        if task is None:
            await ready
            return
        await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        if ready.done():
            ready.result()
            return
        task.result()  # raises what the testee raised
        raise RuntimeError("the testee ended before saying hello")
    finally:
        ready.cancel()
