"""What the hub asks its adapter to do, and the catalogued reasons it drops inputs.

Theory of operation
-------------------
Every input of :class:`~rtcstate.hub.Hub` returns a list of effects, in the order the adapter
carries them out: :class:`Deliver` (send an envelope on a connection), :class:`Fanout` (send
one envelope on many connections: a coalesced presence flush to a group's subscribers, one
effect however many they are, so the adapter encodes the frame once), :class:`CloseConnection`
(close one, with a websocket close code from :class:`CloseCode` and a reason in words),
:class:`Log` (one structured log line: registrations, refusals and closes with their reason)
and :class:`~rtcstate.effects.Drop` (an input ignored on purpose, its reason a :class:`HubDrop`).
A hub that is one node of a cluster (:class:`~rtcstate.hub.cluster.ClusterHub`) also returns
:class:`Forward` (carry an envelope to another node), :class:`Directory` (publish a change
of this node's addresses), :class:`Admit` (ask the cluster whether a registration is within the
limits shared by every node), :class:`SourceCount` (this node's open connections from one
source address, for the cluster-wide count) and, on the room authority, :class:`RoomsChanged`
(persist those rooms); a hub alone never does.
Refusals are answered in-band with ``ServerError`` whose code is a
:class:`~rtcstate.wire.ServerErrorCode`; nothing else changes when a request is refused.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from rtcstate import wire
from rtcstate.drops import DropReason
from rtcstate.effects import Drop

__all__ = [
    "Admit",
    "CloseCode",
    "CloseConnection",
    "Deliver",
    "Directory",
    "Fanout",
    "Forward",
    "ForwardKind",
    "HubDrop",
    "HubEffect",
    "Log",
    "RoomsChanged",
    "SourceCount",
    "delivers",
]


class CloseCode(enum.IntEnum):
    """Websocket close codes the relay uses (4xxx: application codes, final for a client)."""

    GOING_AWAY = 1001
    """The relay is shutting down."""
    POLICY = 1008
    """Abuse: too many refused frames in a row, a client that does not read."""
    DRAINING = 1012
    """The relay is draining (``SIGTERM``): reconnect to another relay at once; not final
    (the websocket "service restart" code)."""
    TRY_AGAIN_LATER = 1013
    """Over a per-source limit (connections, connection rate) or a timeout."""
    AUTH_FAILED = 4401
    """The token was refused (reason in the preceding ``ServerError``); do not reconnect."""
    REVOKED = 4403
    """The token was revoked (before registration or on a live connection); do not
    reconnect with it."""
    CONFLICT = 4409
    """The same identity registered this address on another connection; do not reconnect."""


class HubDrop(DropReason):
    """Why the hub ignored an input (in :class:`~rtcstate.effects.Drop`)."""

    DUPLICATE_CONNECTION = "duplicate-connection"
    """``connect`` for a connection id already open."""
    UNKNOWN_CONNECTION = "unknown-connection"
    """A frame or message on a connection the hub does not know (closed, never opened)."""
    CLOSING = "closing"
    """A frame on a connection the hub already asked to close."""
    NOT_REGISTERED = "not-registered"
    """A message other than ``register`` before registration (answered ``not_registered``)."""
    FORK_LOSER = "fork-loser"
    """A losing device of a forked call said something the caller must not hear."""


@attrs.frozen(slots=True)
class Deliver:
    """Send ``envelope`` on connection ``conn``: ``frame`` when given (the frame the hub
    received, re-stamped: :mod:`rtcstate.hub.restamp`), else ``wire.encode_envelope(envelope)``.
    ``frame`` is the same message as ``envelope`` (it takes no part in equality)."""

    conn: str
    envelope: wire.Envelope
    frame: bytes | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(slots=True)
class Fanout:
    """Send ``envelope`` on every connection of ``conns`` (each at most once), the same
    frame to all: for each of them it comes after what the effects before this one sent it
    and before what the effects after it send (as if it were one :class:`Deliver` per
    connection, in its place). An adapter encodes ``envelope`` once and skips the
    connections it no longer holds (closed meanwhile, or closing)."""

    conns: tuple[str, ...]
    envelope: wire.Envelope

    def delivers(self) -> list[Deliver]:
        """The same, as one :class:`Deliver` per connection (for adapters and tests that
        take deliveries one by one)."""
        env = self.envelope
        return [Deliver(conn, env) for conn in self.conns]


def delivers(fx: list[HubEffect]) -> list[HubEffect]:
    """``fx`` with every :class:`Fanout` replaced by its :class:`Deliver` effects, in place."""
    out: list[HubEffect] = []
    for e in fx:
        if type(e) is Fanout:
            out.extend(e.delivers())
        else:
            out.append(e)
    return out


@attrs.frozen(slots=True)
class CloseConnection:
    """Close connection ``conn`` with websocket close ``code`` and ``reason`` (for the close
    frame and the logs). Deliveries queued before it still leave."""

    conn: str
    reason: str = ""
    code: int = CloseCode.POLICY


@attrs.frozen(slots=True)
class Log:
    """One structured log line: ``event`` (``registered``, ``refused``, ``closed``...), the
    connection and key/value ``fields`` (identity, address, source, reason)."""

    event: str
    conn: str
    fields: tuple[tuple[str, Any], ...] = ()

    def line(self) -> str:
        """``event=<event> conn=<conn> key=value...`` (values quoted with ``repr`` when they
        hold spaces or ``=``), one line."""
        parts = [f"event={self.event}", f"conn={self.conn}"]
        for key, value in self.fields:
            text = str(value)
            if not text or any(c in text for c in " =\"'\n"):
                text = repr(text)
            parts.append(f"{key}={text}")
        return " ".join(parts)


class ForwardKind(enum.Enum):
    """What the node receiving a :class:`Forward` does with it."""

    ROUTE = "route"
    """Route the envelope there, as if ``address`` (held by the sending node) had sent it:
    the destination's node decides (its forks, its ringing caps, its rooms)."""
    DELIVER = "deliver"
    """Deliver the envelope, already routed and stamped, to the connection holding
    ``address`` there."""
    CLOSE = "close"
    """Close the connection holding ``address`` there (taken over on the sending node;
    ``reason`` and ``code`` are the close's)."""


@attrs.frozen(slots=True)
class Forward:
    """Carry ``envelope`` to cluster node ``node``: ``kind`` says what it does there with
    ``address`` of ``tenant`` (the verified sender for a route, the recipient otherwise)."""

    node: str
    kind: ForwardKind
    tenant: str
    address: str
    envelope: wire.Envelope | None = None
    reason: str = ""
    code: int = CloseCode.CONFLICT


@attrs.frozen(slots=True)
class Directory:
    """This node now holds ``address`` of ``tenant`` (``bound``, with the presence ``groups``
    it joined and whether its identity is ``verified``; ``registered``: by a registration,
    whose presence is told again, rather than a change of groups), or no longer does: for the
    other nodes' directory."""

    tenant: str
    address: str
    bound: bool
    groups: tuple[str, ...] = ()
    verified: bool = False
    registered: bool = True


@attrs.frozen(slots=True)
class Admit:
    """Ask the cluster, atomically, whether connection ``conn`` may register ``device`` of
    ``user`` of ``tenant`` within the limits every node shares: ``max_devices`` online devices
    of the identity, ``register_rate``/``register_burst`` registrations per second (``None``:
    not counted), ``max_connections`` open connections from ``source`` (``None``: not
    counted). Within them, the device is reserved for this node. The answer comes back as
    :meth:`~rtcstate.hub.ClusterHub.admitted`."""

    conn: str
    tenant: str
    user: str
    device: str
    max_devices: int
    register_rate: float | None
    register_burst: float
    source: str | None
    max_connections: int | None


@attrs.frozen(slots=True)
class SourceCount:
    """This node now has ``count`` open connections from ``source`` (for the cluster-wide
    count of connections per source address checked by :class:`Admit`)."""

    source: str
    count: int


@attrs.frozen(slots=True)
class RoomsChanged:
    """The conversation rooms ``keys`` ((tenant, name)) changed on this node, the cluster's
    room authority: to persist (their records as of when they are written) before anything
    this node says next to the others."""

    keys: tuple[tuple[str, str], ...]


HubEffect = (
    Deliver
    | Fanout
    | CloseConnection
    | Log
    | Drop
    | Forward
    | Directory
    | Admit
    | SourceCount
    | RoomsChanged
)
"""What a :class:`~rtcstate.hub.Hub` asks its adapter to do."""
