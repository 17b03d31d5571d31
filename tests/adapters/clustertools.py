"""What the cluster tests share: nodes on one real Redis (emptied first), in this process or
as ``rtcstate serve --redis`` processes, and raw wire clients."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import redis
from adaptertools import Served, serve_process
from rtcstate_cluster import ClusterNode, start_node
from websockets.asyncio.client import ClientConnection, connect

from rtcstate import wire
from rtcstate.hub import ClusterHub

#: quick heartbeats, so that a dead node is noticed within a test
HEARTBEAT = 0.1
TTL = 0.5


def flush(url: str) -> None:
    """Empty the test Redis (each test starts from no cluster at all)."""
    with redis.Redis.from_url(url) as r:
        r.flushall()


@contextlib.asynccontextmanager
async def nodes(
    url: str, names: list[str], ttl: float = TTL, **hub: Any
) -> AsyncIterator[dict[str, ClusterNode]]:
    """Nodes ``names`` on 127.0.0.1 (free ports), one cluster at ``url``, taken for dead
    after ``ttl`` seconds of silence; closed afterwards."""
    flush(url)
    started: dict[str, ClusterNode] = {}
    try:
        for name in names:
            started[name] = await start_node(
                ClusterHub(node=name, **hub), url, heartbeat=min(HEARTBEAT, ttl / 3), ttl=ttl
            )
        yield started
    finally:
        for node in started.values():
            await node.close()


@contextlib.contextmanager
def node_processes(
    url: str, names: list[str], *args: str, **more: list[str]
) -> Iterator[dict[str, Served]]:
    """``rtcstate serve --redis URL --node-id NAME ARGS`` for each of ``names`` (the cluster
    emptied first), ``more[NAME]`` more arguments for that one; killed afterwards."""
    flush(url)
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(
                serve_process("--redis", url, "--node-id", name, *args, *more.get(name, []))
            )
            for name in names
        }


async def client(url: str, user: str, device: str = "d") -> ClientConnection:
    """A raw wire client, registered (the frames before ``registered`` are read and dropped)."""
    ws = await connect(url, proxy=None, max_size=None)
    await ws.send(wire.encode(wire.Register(user, device)))
    while True:
        env = wire.decode(await ws.recv())
        if isinstance(env.message, wire.Registered):
            return ws
        if isinstance(env.message, wire.ServerError):
            raise AssertionError(f"registration refused: {env.message}")


async def recv(ws: ClientConnection) -> wire.Envelope:
    return wire.decode(await ws.recv())


def frame(msg: wire.Message, to: str | None = None, **kw: Any) -> bytes:
    return wire.encode(msg, to=to, **kw)


def raw(obj: dict[str, Any]) -> str:
    return json.dumps(obj)
