"""Figures of the browser client (docs/browser.md): page cold and warm start, call() to accepted
browser -> aiortc against aiortc -> aiortc, file throughput browser -> agent against
aiortc -> aiortc. Everything on 127.0.0.1, headless Chromium (Debian's), the relay in-process.

    .venv/bin/python bench/browser.py [--runs 3] [--size-mb 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtcstate_browser.chromium import launch_persistent
from rtcstate_cli.agent import Bot

from tests.browser.conftest import (
    ServerThread,
    open_pages,
    register,
    until,
)

CALL_TIME = """() => new Promise((resolve) => {
  const p = window.rtcstatePage;
  const t0 = performance.now();
  const call = p.startCall('bot');
  call.on('accepted', () => resolve({id: call.id, ms: performance.now() - t0}));
})"""


def fmt(values: list[float], unit: str) -> str:
    low, high = min(values), max(values)
    return f"median {statistics.median(values):.0f} {unit} ({low:.0f}-{high:.0f}, n={len(values)})"


def rates_of(values: list[float]) -> str:
    listed = ", ".join(f"{r:.2f}" for r in values)
    return f"median {statistics.median(values):.2f} MB/s ({listed})"


MAKE_FILE = """(size) => { const b = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  window.testFile = b; }"""
READY = "() => window.rtcstatePage && window.rtcstatePage.ready"
SEND = "() => { window.rtcstatePage.sendFile('b.bin', '', window.testFile); }"


async def python_pair(url: str, runs: int, size: int) -> tuple[list[float], list[float]]:
    """aiortc <-> aiortc: call() -> accepted (ms), and file throughput (MB/s)."""
    a, b = Bot("py-a", out=None), Bot("py-b", out=None)
    await a.register(url)
    await b.register(url)
    calls, rates = [], []
    try:
        for _ in range(runs):
            t0 = time.monotonic()
            call = a.session.get_contact("py-b").call()
            await asyncio.wait_for(call.wait_for("accepted"), 30)
            calls.append((time.monotonic() - t0) * 1000)
            ended = call.wait_for("hangup")
            call.hangup()
            await asyncio.wait_for(ended, 30)
            await asyncio.sleep(0.5)
        for _ in range(runs):
            data = os.urandom(size)
            count = len(b.files)
            t0 = time.monotonic()
            a.session.get_contact("py-b").send_file(data, name="x.bin")
            async with asyncio.timeout(120):
                while len(b.files) == count:
                    await asyncio.sleep(0.01)
            rates.append(size / (time.monotonic() - t0) / 1e6)
    finally:
        await a.close()
        await b.close()
    return calls, rates


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mb", type=float, default=4.0)
    args = parser.parse_args()
    size = int(args.size_mb * (1 << 20))
    from playwright.sync_api import sync_playwright

    server = ServerThread()
    base = server.start_relay()
    url = f"ws://127.0.0.1:{server.relay.port}"
    bot = Bot("bot", out=None)
    server.run(bot.register(url))
    cold, cold_pyodide, warm, calls, rates = [], [], [], [], []
    try:
        with sync_playwright() as pw:
            for run in range(args.runs):  # a fresh profile each time: nothing cached
                with tempfile.TemporaryDirectory() as profile:
                    ctx = launch_persistent(pw, profile)
                    page = open_pages(ctx, base, 1)[0]
                    cold.append(page.evaluate("() => window.rtcstatePage.bootMs"))
                    cold_pyodide.append(page.evaluate("() => window.rtcstatePage.pyodideMs"))
                    page.reload()
                    page.wait_for_function(
                        "() => window.rtcstatePage && window.rtcstatePage.ready", timeout=120_000
                    )
                    warm.append(page.evaluate("() => window.rtcstatePage.bootMs"))
                    name = f"web{run}"
                    register(page, name)
                    contact = server.call(lambda n=name: bot.session.get_contact(n))
                    until(lambda c=contact: server.call(lambda: c.is_online))
                    for _ in range(args.runs):
                        result: dict[str, Any] = page.evaluate(CALL_TIME)
                        calls.append(result["ms"])
                        page.evaluate("() => window.rtcstatePage.call.hangUp()")
                        until(lambda: server.call(lambda: not bot.session.get_calls()), 30)
                        time.sleep(0.5)
                    page.evaluate(MAKE_FILE, size)
                    count = len(bot.files)
                    call = page.evaluate("() => window.rtcstatePage.startCall('bot').id")
                    del call
                    time.sleep(1.0)
                    page.evaluate("() => { window.rtcstatePage.peer = 'bot'; }")
                    t0 = time.monotonic()
                    page.evaluate(SEND)
                    until(lambda n=count: len(bot.files) > n, 180, 0.02)
                    rates.append(size / (time.monotonic() - t0) / 1e6)
                    page.evaluate("() => window.rtcstatePage.call.hangUp()")
                    time.sleep(0.5)
                    ctx.close()
        py_calls, py_rates = server.run(python_pair(url, args.runs, size), 600)
    finally:
        server.run(bot.close())
        server.stop()
    print(f"page cold start (core imported): {fmt(cold, 'ms')}")
    print(f"  of which loadPyodide:          {fmt(cold_pyodide, 'ms')}")
    print(f"page warm start (reload):        {fmt(warm, 'ms')}")
    print(f"call() -> accepted, browser -> aiortc: {fmt(calls, 'ms')}")
    print(f"call() -> accepted, aiortc -> aiortc:  {fmt(py_calls, 'ms')}")
    print(f"file {args.size_mb} MiB browser -> agent: {rates_of(rates)}")
    print(f"file {args.size_mb} MiB aiortc -> aiortc: {rates_of(py_rates)}")
    print(f"load average during the run: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
