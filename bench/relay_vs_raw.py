"""``relay_vs_raw``: messages per second one ``rtcstate serve`` routes between two clients, over
the same through a minimal websockets forwarder (bench/raw_forwarder.py), same run, same clients,
same frames.

Each server is its own process on 127.0.0.1 (the clients' work is not the server's); the two
clients live in this process: the sender keeps at most ``WINDOW`` messages in flight (it waits
for the receiver to count them), so neither server ever holds a backlog and the relay's
slow-consumer limit never trips. The figure is messages per second of the *server process's
CPU time* (user + system, from ``/proc``): what one node routes per second on a core of its
own. Wall-clock messages/s on a shared, loaded machine swing by half from run to run with the
neighbours' load; CPU time per message does not (the wall-clock figures are in the note).
The relay keeps every limit in its path: its rate limits are set so high they never refuse
(the token buckets still run), its queues stay bytes-bounded. The legs alternate (ABAB...)
and each keeps its best repetition: a neighbour's load only ever adds time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from rtcstate import wire

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 64
CONTENT = "x" * 100  # a chat-sized message
LIMIT = "1000000000"  # a rate no run reaches: the buckets run, never refuse
RELAY_OPTIONS = [
    "--rate-limit", LIMIT, "--rate-burst", LIMIT,
    "--identity-rate-limit", LIMIT, "--identity-rate-burst", LIMIT,
    "--source-rate-limit", LIMIT, "--source-rate-burst", LIMIT,
]  # fmt: skip
MARK = b'"contact_message"'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` used so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _process(cmd: list[str], port: int) -> Iterator[int]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while True:  # starting
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{cmd[2:4]} did not start") from None
                time.sleep(0.05)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def _client(url: str, user: str | None) -> ClientConnection:
    ws = await connect(url, proxy=None, compression=None, max_size=1 << 20, open_timeout=10)
    if user is not None:  # the relay: register first
        await ws.send(wire.encode(wire.Register(user, "d")))
        async with asyncio.timeout(10):
            while b'"registered"' not in _bytes(await ws.recv()):
                pass
    return ws


def _bytes(frame: str | bytes) -> bytes:
    return frame.encode() if isinstance(frame, str) else frame


async def _leg(url: str, count: int, register: bool, pid: int) -> tuple[float, float]:
    """Messages/s from one client to the other through the server at ``url`` (process
    ``pid``): (per second of its CPU time, per second of wall clock)."""
    a = await _client(url, "alice" if register else None)
    b = await _client(url, "bob" if register else None)
    frames = [wire.encode(wire.ContactMessage(n, CONTENT), to="bob").decode() for n in range(count)]
    got = 0
    room = asyncio.Event()

    async def receive() -> None:
        nonlocal got
        async for frame in b:
            if MARK in _bytes(frame):
                got += 1
                room.set()
                if got == count:
                    return

    try:
        reader = asyncio.ensure_future(receive())
        cpu = _cpu(pid)
        start = time.perf_counter()
        async with asyncio.timeout(120):
            for n, frame in enumerate(frames):
                while n - got >= WINDOW:
                    room.clear()
                    await room.wait()
                await a.send(frame)
            await reader
        wall = time.perf_counter() - start
        return count / max(_cpu(pid) - cpu, 1e-3), count / wall
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await a.close()
        await b.close()


def measure(count: int, repeats: int) -> tuple[list[tuple[float, float]], ...]:
    """(relay, raw): (CPU, wall) messages/s of ``repeats`` alternating repetitions each."""
    relay_port, raw_port = _free_port(), _free_port()
    relay_cmd = [sys.executable, "-m", "rtcstate_cli", "serve", "--port", str(relay_port),
                 *RELAY_OPTIONS]  # fmt: skip
    raw_cmd = [sys.executable, str(ROOT / "bench" / "raw_forwarder.py"), str(raw_port)]
    relay: list[tuple[float, float]] = []
    raw: list[tuple[float, float]] = []
    with _process(relay_cmd, relay_port) as relay_pid, _process(raw_cmd, raw_port) as raw_pid:
        servers = {True: (relay_port, relay_pid, relay), False: (raw_port, raw_pid, raw)}

        async def run() -> None:
            for is_relay, (port, pid, _) in servers.items():  # warm-up
                await _leg(f"ws://127.0.0.1:{port}", min(count, 500), is_relay, pid)
            for rep in range(repeats):
                for is_relay in (True, False) if rep % 2 == 0 else (False, True):
                    port, pid, out = servers[is_relay]
                    out.append(await _leg(f"ws://127.0.0.1:{port}", count, is_relay, pid))

        asyncio.run(run())
    return relay, raw


RELAY_MESSAGES = {"full": 20_000, "quick": 8_000, "smoke": 200}  # per repetition
RELAY_REPEATS = {"full": 7, "quick": 4, "smoke": 1}


def bench_relay_vs_raw(mode: str) -> dict[str, object]:
    count, repeats = RELAY_MESSAGES[mode], RELAY_REPEATS[mode]
    relay_legs, raw_legs = measure(count, repeats)
    relay, raw = max(c for c, _ in relay_legs), max(c for c, _ in raw_legs)
    wall_relay, wall_raw = max(w for _, w in relay_legs), max(w for _, w in raw_legs)
    note = (
        f"messages per second of the server process's CPU time, best of {repeats} alternating "
        f"repetitions of {count:,} contact_message frames ({len(CONTENT)}-character content) "
        f"from one client to another, at most {WINDOW} in flight: through `rtcstate serve` (its "
        "own process; rate limits set out of reach, buckets and bytes-bounded queues in the "
        "path) vs a minimal websockets forwarder (bench/raw_forwarder.py, its own process), the "
        f"clients in the bench's process. Wall clock, best: {wall_relay:.0f} vs {wall_raw:.0f} "
        f"messages/s (ratio {wall_relay / wall_raw:.3f}; it swings with the machine's load)"
    )
    return {
        "name": "relay_vs_raw",
        "value": round(relay, 1),
        "unit": "msg/s",
        "baseline": round(raw, 1),
        "ratio": round(relay / raw, 3),
        "goal": "ratio >= 0.7",
        "note": note,
    }
