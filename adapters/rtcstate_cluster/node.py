"""One cluster node: a relay and its link, started and stopped together.

:func:`start_node` joins the cluster first (so the hub knows the directory and the room
authority before it accepts anyone), then listens; :meth:`ClusterNode.close` stops listening
(every connection closed with 1001, so this node's addresses leave the directory as they
close), then leaves. :func:`run_cluster_relay` runs a node until cancelled or ``SIGTERM``, for
``rtcstate serve --redis URL --node-id N``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl as ssl_module
from collections.abc import Sequence

import attrs
from rtcstate_asyncio.relay import ProcessRequest, Relay
from rtcstate_asyncio.revocation import RevocationFile

from rtcstate.hub import ClusterHub
from rtcstate_cluster.link import ClusterLink

__all__ = ["ClusterNode", "run_cluster_relay", "start_node"]


@attrs.define
class ClusterNode:
    relay: Relay
    link: ClusterLink

    @property
    def url(self) -> str:
        return self.relay.url

    async def close(self) -> None:
        await self.relay.close()
        await self.link.close()


async def start_node(
    hub: ClusterHub,
    redis_url: str,
    host: str | Sequence[str] = "127.0.0.1",
    port: int = 0,
    *,
    heartbeat: float = 1.0,
    ttl: float = 3.0,
    ssl: ssl_module.SSLContext | None = None,
    process_request: ProcessRequest | None = None,
    revocations: RevocationFile | None = None,
) -> ClusterNode:
    """Join the cluster at ``redis_url`` as ``hub.node``, then listen on ``host``:``port``."""
    relay = Relay(hub, ssl=ssl, process_request=process_request, revocations=revocations)
    link = ClusterLink(relay, redis_url, heartbeat=heartbeat, ttl=ttl)
    await link.start()
    try:
        await relay.start(host, port)
    except BaseException:
        await link.close()
        raise
    return ClusterNode(relay, link)


async def run_cluster_relay(
    hub: ClusterHub,
    redis_url: str,
    host: str | Sequence[str] = "127.0.0.1",
    port: int = 8765,
    **options: object,
) -> None:
    """Run a node until cancelled (Ctrl-C) or ``SIGTERM``, then close it."""
    node = await start_node(hub, redis_url, host, port, **options)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGHUP, node.relay.reload_revocations, True)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)
            loop.remove_signal_handler(signal.SIGHUP)
        await node.close()
