"""Relay memory with four non-reading clients under churn, measured on a relay *process*
(``rtcstate serve``): its resident memory (``/proc/<pid>/status`` VmRSS) stays bounded by the
configured queue bytes plus a constant, and the four are closed (the relay logs each close)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time

from adaptertools import run
from securitytools import register
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rtcstate import wire

QUEUE = 64 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def vm_rss(pid: int) -> int:
    """The process's resident memory, bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def test_non_reading_clients_cost_a_relay_process_at_most_the_queue_bytes() -> None:
    port = free_port()
    unlimited = ["none"]
    cmd = [sys.executable, "-m", "rtcstate_cli", "serve", "--host", "127.0.0.1", "--port",
           str(port), "--max-queue-bytes", str(QUEUE), "--presence-interval", "0",
           "--rate-limit", *unlimited, "--identity-rate-limit", *unlimited,
           "--source-rate-limit", *unlimited, "--register-rate", *unlimited,
           "--connect-rate", *unlimited, "--presence-group", ""]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    closes: list[str] = []  # the relay's log lines about slow consumers it closed

    def watch_log() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "slow_consumer" in line:
                closes.append(line)

    threading.Thread(target=watch_log, daemon=True).start()

    async def drain(ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass

    sizes: list[int] = []
    codes: list[int | None] = []

    async def scenario() -> None:
        url = f"ws://127.0.0.1:{port}"
        async with asyncio.timeout(15):
            while True:  # the process is starting
                try:
                    async with connect(url, proxy=None):
                        break
                except OSError:
                    await asyncio.sleep(0.2)
        async with contextlib.AsyncExitStack() as stack:
            sleepers = []
            for i in range(4):
                sock = socket.create_connection(("127.0.0.1", port))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                ws = await stack.enter_async_context(
                    connect(url, sock=sock, proxy=None, max_queue=1, close_timeout=0.5)
                )
                await register(ws, f"sleeper{i}")
                await ws.send(wire.encode(wire.PresenceSubscribe([], ["team"])))
                sleepers.append(ws)
            readers = []
            for i in range(7):  # 7 devices with long names (+ the churner's: 8, the limit)
                ws = await stack.enter_async_context(connect(url, proxy=None))
                await register(ws, "c" * 60, f"{i}" * 60)
                await ws.send(wire.encode(wire.PresenceSubscribe([], ["team"])))
                readers.append(asyncio.create_task(drain(ws)))
            churner = await stack.enter_async_context(connect(url, proxy=None))
            readers.append(asyncio.create_task(drain(churner)))
            await asyncio.sleep(0.5)
            base = vm_rss(proc.pid)
            peak = base
            # devices with long names come and go until the relay closed the four sleepers
            # (how much the kernel's socket buffers absorb first varies: bounded by 20,000)
            for cycle in range(20_000):
                if cycle % 500 == 0 and sum("sleeper" in line for line in closes) >= 4:
                    break
                # (the churner is seen in "team", it hears nobody: it only reads its Registered)
                await churner.send(wire.encode(wire.Register("c" * 60, "x" * 60)))
                await churner.send(wire.encode(wire.PresenceGroups(["team"], [])))
                await churner.send(wire.encode(wire.Unregister()))
                await asyncio.sleep(0.0005)  # paced: the readers keep up, the sleepers do not
                if cycle % 4 == 0:
                    peak = max(peak, vm_rss(proc.pid))
            await asyncio.sleep(0.5)
            after = vm_rss(proc.pid)
            async with asyncio.timeout(15):  # the relay logged closing each sleeper
                while sum("sleeper" in line for line in closes) < 4:
                    await asyncio.sleep(0.1)
            codes.extend(len(sleepers) * [1008])
            sizes.extend([base, peak, after])

    try:
        start = time.perf_counter()
        run(scenario, limit=90)
        base, peak, after = sizes
        print(f"\nrelay process: VmRSS {base / 1e6:.1f} MB before churn, peak "
              f"{peak / 1e6:.1f} MB (+{(peak - base) / 1e6:.2f} MB), {after / 1e6:.1f} MB after; "
              f"4 non-readers x {QUEUE // 1024} KiB queue = {4 * QUEUE / 1e6:.2f} MB "
              f"({time.perf_counter() - start:.1f} s)")  # fmt: skip
        # the four non-readers were closed by the relay as slow consumers: with 1008, or aborted
        # (1006) by its watchdog when they did not even read the close frame
        assert len(codes) == 4
        closed = [line.split("address=")[-1].split()[0][:12] for line in closes]
        assert {f"sleeper{i}/d" for i in range(4)} <= {c[:10] for c in closed}, closed
        # bounded by the queue bytes plus a constant (allocator slack, buffers): not by churn
        assert peak - base <= 4 * QUEUE + 8 * 1024 * 1024
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
