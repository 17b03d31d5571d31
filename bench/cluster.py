"""``cluster_forward_ratio``: messages per second between users on two nodes over the same
between users on one node, in the same run (goal >= 0.5).

Two cluster nodes (``ClusterHub`` relays joined through a real ``redis-server`` on 127.0.0.1,
started here) in this process, and ``PAIRS`` pairs of raw websocket clients: senders on node
a, their receivers on node a (one node: the baseline) or on node b (every message published
on b's channel, read back and delivered by b: the value). Each pair's sender writes its
messages as fast as the socket takes them; the figure is messages delivered per second, from
the first send to the last message read, the best of the repetitions, local and remote runs
alternating (ABBA). Without ``redis-server`` (or redis-py) the line says it was skipped.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAIRS = 8
MESSAGES = {"full": 20_000, "quick": 8_000, "smoke": 400}
REPEATS = {"full": 6, "quick": 4, "smoke": 2}
#: no limit gets in the way of a flood from one source on 127.0.0.1
HUB: dict[str, Any] = {
    "presence_group": None,
    "rate_limit": None,
    "identity_rate_limit": None,
    "source_rate_limit": None,
    "connect_rate": None,
    "max_connections_per_source": None,
    "max_queue_bytes": 1 << 28,
}


def missing() -> str | None:
    """Why the bench cannot run here (None: it can)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from redistools import _missing

    return _missing()


async def _run(mode: str) -> tuple[float, float, str]:
    from redistools import RedisServer
    from rtcstate_cluster import start_node
    from websockets.asyncio.client import connect

    from rtcstate import wire
    from rtcstate.hub import ClusterHub

    server = RedisServer(Path(tempfile.mkdtemp(prefix="rtcstate-bench-redis-")))
    server.start()
    nodes = []
    socks: list[Any] = []
    try:
        for name in ("a", "b"):
            hub = ClusterHub(node=name, **HUB)
            nodes.append(await start_node(hub, server.url, heartbeat=1.0, ttl=30.0))

        async def client(url: str, user: str) -> Any:
            ws = await connect(url, proxy=None, max_size=None)
            await ws.send(wire.encode(wire.Register(user, "d")))
            while not isinstance(wire.decode(await ws.recv()).message, wire.Registered):
                pass
            socks.append(ws)
            return ws

        a, b = nodes[0].url, nodes[1].url
        senders = [await client(a, f"s{i}") for i in range(PAIRS)]
        local = [await client(a, f"l{i}") for i in range(PAIRS)]
        remote = [await client(b, f"r{i}") for i in range(PAIRS)]
        async with asyncio.timeout(30):
            while nodes[0].relay.hub.devices(f"r{PAIRS - 1}") == ():
                await asyncio.sleep(0.01)
        per_pair = MESSAGES[mode] // PAIRS
        frames = {
            prefix: [
                [
                    wire.encode(wire.ContactMessage(k, "x" * 32), to=f"{prefix}{i}/d")
                    for k in range(per_pair)
                ]
                for i in range(PAIRS)
            ]
            for prefix in ("l", "r")
        }

        async def one(prefix: str, receivers: list[Any]) -> float:
            async def send(i: int) -> None:
                for data in frames[prefix][i]:
                    await senders[i].send(data)

            async def receive(i: int) -> None:
                for _ in range(per_pair):
                    await receivers[i].recv()

            start = time.perf_counter()
            async with asyncio.timeout(120):
                await asyncio.gather(*(send(i) for i in range(PAIRS)),
                                     *(receive(i) for i in range(PAIRS)))  # fmt: skip
            return per_pair * PAIRS / (time.perf_counter() - start)

        await one("l", local)  # warm-up
        await one("r", remote)
        ones: list[float] = []
        twos: list[float] = []
        for rep in range(REPEATS[mode]):
            order = [("l", local), ("r", remote)]
            if rep % 2:
                order.reverse()
            for prefix, receivers in order:
                (ones if prefix == "l" else twos).append(await one(prefix, receivers))
        published = nodes[0].link.published
        trips = nodes[0].link.round_trips
        note = (
            f"best of {len(twos)} ABBA reps of {per_pair * PAIRS:,} contact messages from "
            f"{PAIRS} senders on node a to {PAIRS} receivers on node b (value) or on node a "
            f"(baseline), raw websocket clients, two nodes and their clients in one process, "
            f"redis-server on 127.0.0.1; node a published {published:,} frames in {trips:,} "
            f"pipelines (about {published / max(trips, 1):.0f} per Redis round trip)"
        )
        return max(twos), max(ones), note
    finally:
        await asyncio.gather(*(ws.close() for ws in socks), return_exceptions=True)
        for node in nodes:
            await node.close()
        server.stop()


def measure(mode: str) -> tuple[float, float, str]:
    """``(cluster msgs/s, one-node msgs/s, note)``."""
    return asyncio.run(_run(mode))
