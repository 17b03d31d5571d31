"""A newcomer's registration over a real websocket, the relay in another process (issue 11).

The relay process (``python bench/newcomer.py USERS``) holds ``USERS`` registered users, all in
apiRTC's default group "default" with coalesced presence (``presence_interval`` 0.1 s), as
socket-less hub connections that do not read (their initial presence stays owed), and churns
them: 10 users leave and register again every 10 ms, so every flush tells the group's changes
to every subscriber. It prints its URL, then serves until its standard input closes.

:func:`registration_times` starts such a relay and times, from this process, ``count``
newcomers: connect a websocket, send ``register``, wait for ``registered`` (one after the
other; each closes before the next). Nothing else runs in the measuring process, so what is
measured is the relay's latency for a newcomer while it carries the others.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "adapters"))

from rtcstate import wire  # noqa: E402
from rtcstate.hub import Hub  # noqa: E402
from rtcstate.wire import Envelope  # noqa: E402

CHURN_PER_ROUND = 10  # users leaving and registering again every ROUND seconds
ROUND = 0.01


def _populated_hub(users: int) -> Hub:
    hub = Hub(presence_interval=0.1, idle_timeout=None, register_rate=None,
              identity_rate_limit=None, max_queue_bytes=256 * 1024)  # fmt: skip
    for i in range(users):
        conn = f"load{i}"
        hub.connect(conn, 0.0)
        hub.receive_envelope(conn, Envelope(wire.Register(f"u{i}", "d")), 0.0)
        hub.queued(conn, hub.feed_step + 1, 0.0)  # a backlog: not fed (they do not read)
    hub.tick(1.0)
    return hub


async def _serve(users: int) -> None:
    from rtcstate_asyncio import serve

    hub = _populated_hub(users)
    async with await serve("127.0.0.1", 0, hub=hub) as relay:
        loop = asyncio.get_running_loop()

        async def churn() -> None:
            i = 0
            while True:
                for _ in range(CHURN_PER_ROUND):
                    conn, now = f"load{i % users}", loop.time()
                    relay._apply(hub.receive_envelope(conn, Envelope(wire.Unregister()), now))
                    register = Envelope(wire.Register(f"u{i % users}", "d"))
                    relay._apply(hub.receive_envelope(conn, register, now))
                    i += 1
                await asyncio.sleep(ROUND)

        task = loop.create_task(churn())
        print(relay.url, flush=True)
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes it
        task.cancel()


async def _newcomers(url: str, count: int) -> list[float]:
    from websockets.asyncio.client import connect

    times = []
    for k in range(count):
        start = time.perf_counter()
        async with connect(url, proxy=None) as ws:
            await ws.send(wire.encode(wire.Register(f"new{k}", "d")))
            async with asyncio.timeout(30):
                while not isinstance(wire.decode(await ws.recv()).message, wire.Registered):
                    pass
            times.append(time.perf_counter() - start)
    return times


def registration_times(users: int, count: int) -> list[float]:
    """Seconds of each of ``count`` newcomers' registrations on a relay process holding
    ``users`` churning users (the first newcomer, which warms the connection path, excluded)."""
    server = subprocess.Popen(
        [sys.executable, __file__, str(users)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url.startswith("ws://"):
            raise RuntimeError(f"the relay process did not start: {url!r}")
        return asyncio.run(_newcomers(url, count + 1))[1:]
    finally:
        assert server.stdin is not None
        server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def ratio(small: int, big: int, count: int) -> tuple[float, float]:
    """Median registration seconds with ``small`` then ``big`` users online."""
    return (
        statistics.median(registration_times(small, count)),
        statistics.median(registration_times(big, count)),
    )


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
