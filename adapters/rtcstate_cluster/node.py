"""One cluster node: a relay and its link, started and stopped together.

:func:`start_node` joins the cluster first (so the hub knows the directory and the room
authority before it accepts anyone), then listens; :meth:`ClusterNode.close` stops listening
(every connection closed with 1001, so this node's addresses leave the directory as they
close), then leaves (its node key and what is left of its directory entries removed at once:
the others do not wait for its heartbeat to expire). :func:`run_cluster_relay` runs a node for
``rtcstate serve --redis URL --node-id N`` with the one runner of ``rtcstate serve``
(:func:`rtcstate_asyncio.relay.run_relay`): until cancelled, or ``SIGTERM`` (a drain: every
client told to move with 1012), with ``/healthz`` and ``/metrics`` when given a metrics port.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Sequence
from typing import Any

import attrs
from rtcstate_asyncio.relay import ProcessRequest, Relay, run_relay
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
        try:
            await self.relay.close()
        finally:  # even when cancelled: the link's tasks (its heartbeat) never outlive the node
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
    task = asyncio.current_task()
    asked = task.cancelling() if task is not None else 0
    try:  # a start cancelled or failed midway closes what it opened (connections, tasks)
        await link.start()
        _honour_cancellation(task, asked)
        await relay.start(host, port)
        _honour_cancellation(task, asked)
    except BaseException:
        try:
            await relay.close()
        finally:
            await link.close()
        raise
    return ClusterNode(relay, link)


def _honour_cancellation(task: asyncio.Task[Any] | None, asked: int) -> None:
    """Raise the cancellation that a library swallowed (redis-py's ``asyncio.wait_for`` on
    Python 3.11 can): a cancelled start must not return a running node."""
    if task is not None and task.cancelling() > asked:
        raise asyncio.CancelledError


async def run_cluster_relay(
    hub: ClusterHub,
    redis_url: str,
    host: str | Sequence[str] = "127.0.0.1",
    port: int = 8765,
    *,
    heartbeat: float = 1.0,
    ttl: float = 3.0,
    **options: Any,
) -> None:
    """Run a node until cancelled (Ctrl-C) or ``SIGTERM`` (drained, then closed): ``options``
    are :func:`~rtcstate_asyncio.relay.run_relay`'s (``drain_timeout``, ``metrics_port``...);
    ``/healthz`` names the node by its id."""

    def link(relay: Relay) -> ClusterLink:
        return ClusterLink(relay, redis_url, heartbeat=heartbeat, ttl=ttl)

    options.setdefault("node_id", hub.node)
    await run_relay(host, port, hub=hub, link=link, **options)
