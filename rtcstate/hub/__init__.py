"""The relay's sans-I/O core: :class:`Hub` and the effects it returns.

Modules: :mod:`~rtcstate.hub.core` (the hub: registration, refusals, limits, dispatch),
:mod:`~rtcstate.hub.lifecycle` (a connection's states, as a table),
:mod:`~rtcstate.hub.routing` (one tenant's addresses and forked calls),
:mod:`~rtcstate.hub.presence` (scoped presence), :mod:`~rtcstate.hub.conversations`
(conversation rooms), :mod:`~rtcstate.hub.limits` (token buckets
and deadlines), :mod:`~rtcstate.hub.effects` (what the hub asks its adapter to do),
:mod:`~rtcstate.hub.cluster` (a hub that is one node of a cluster),
:mod:`~rtcstate.hub.cluster_rooms` (its room authority's rooms: persisted, held, handed over).
"""

from rtcstate.hub.cluster import ClusterDrop, ClusterHub
from rtcstate.hub.core import Hub
from rtcstate.hub.effects import (
    Admit,
    CloseCode,
    CloseConnection,
    Deliver,
    Directory,
    Fanout,
    Forward,
    ForwardKind,
    HubDrop,
    HubEffect,
    Log,
    RoomsChanged,
    SourceCount,
    delivers,
)
from rtcstate.hub.lifecycle import ConnState
from rtcstate.identity import Identity, Refusal, Revocations, Verifier, claimed

__all__ = [
    "Admit",
    "CloseCode",
    "CloseConnection",
    "ClusterDrop",
    "ClusterHub",
    "ConnState",
    "Deliver",
    "Directory",
    "Fanout",
    "Forward",
    "ForwardKind",
    "Hub",
    "HubDrop",
    "HubEffect",
    "Identity",
    "Log",
    "Refusal",
    "Revocations",
    "RoomsChanged",
    "SourceCount",
    "Verifier",
    "claimed",
    "delivers",
]
