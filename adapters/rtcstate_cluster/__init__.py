"""Several relay nodes through Redis: :class:`ClusterLink` and :func:`run_cluster_relay`.

A node is a :class:`~rtcstate_asyncio.relay.Relay` whose hub is a
:class:`~rtcstate.hub.ClusterHub` (the sans-I/O rules across nodes) and a :class:`ClusterLink`
(link.py: the directory, the node channels and the heartbeats in Redis, with
``redis.asyncio``); frames.py is what nodes say to each other, scripts.py the Lua scripts that
change the shared state. ``rtcstate serve --redis URL --node-id N`` runs one (docs/cluster.md).

It needs redis-py: ``pip install 'rtcstate[cluster]'``.
"""

from rtcstate.extras import require

require("cluster", "rtcstate_cluster")
require("asyncio", "rtcstate_cluster")

# ruff: noqa: E402 - the extras are checked before anything imports redis

from rtcstate_cluster.link import ClusterLink
from rtcstate_cluster.node import ClusterNode, run_cluster_relay, start_node

__all__ = ["ClusterLink", "ClusterNode", "run_cluster_relay", "start_node"]
