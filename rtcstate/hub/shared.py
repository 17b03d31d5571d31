"""Limits per identity and per source shared by the nodes of a cluster (sans-I/O bookkeeping).

Theory of operation
-------------------
A hub alone counts its limits in its own memory (:mod:`rtcstate.hub.limits`); the nodes of a
cluster would each count their own share, so an identity spread over *k* nodes would get *k*
times its allowance. :class:`~rtcstate.hub.ClusterHub` keeps its local limits and adds these,
counted in Redis by its adapter, decided by the hub:

* **At registration** (``max_devices``, ``register_rate``, ``max_connections_per_source``): a
  ``register`` that passed the hub's own checks is parked (:meth:`SharedLimits.park`) and an
  :class:`~rtcstate.hub.effects.Admit` leaves for the adapter, which runs one script in Redis
  that counts the identity's devices on every node, its registrations in a shared token bucket
  and the connections of the source on every node, and *reserves* the device when all are
  within the limits: so two registrations racing on two nodes cannot both take the last
  device. Its answer comes back as an :class:`Admission` input: refused, the hub answers exactly
  as one hub does (same code, same close); admitted, the hub registers the connection as usual
  (and releases the reservation if it refuses it after all).
* **Per message** (``identity_rate_limit``, ``source_rate_limit``): a shared token bucket per
  identity and per source address (key ``("", source)``) in Redis, added to once per tick.
  Each node counts what it accepted for each (:meth:`SharedLimits.accept`); once per tick the
  adapter takes the counts (:meth:`SharedLimits.take_usage`), adds them to the shared buckets
  and hands back the tokens left (:meth:`SharedLimits.rates`), which become this node's
  *allowance* until the next tick (minus what it accepted meanwhile). Every accepted message is
  counted in the shared bucket, so a debt is repaid before anything more is allowed; what an
  identity or a source can get beyond its nominal budget (``burst + rate x T`` over ``T``
  seconds) is what the other nodes accept out of the same allowance within one tick: at most
  one burst per other node.
"""

from __future__ import annotations

import attrs

from rtcstate import wire

__all__ = ["Admission", "SharedLimits"]

Key = tuple[str, str]


@attrs.frozen(slots=True)
class Admission:
    """The cluster's answer to an :class:`~rtcstate.hub.effects.Admit`: ``refused`` is ``""``
    (admitted, the device reserved), ``"devices"``, ``"register"`` or ``"source"``; ``count``
    the devices online or the connections from the source (for the refusal's words)."""

    refused: str = ""
    count: int = 0

    @property
    def ok(self) -> bool:
        return not self.refused


@attrs.frozen(slots=True)
class Parked:
    """A registration waiting for its :class:`Admission`."""

    message: wire.Register
    limited: bool
    tenant: str
    address: str


@attrs.define(slots=True, eq=False)
class SharedLimits:
    """One node's part of the shared limits (see the module docstring)."""

    #: the registrations waiting for the cluster's answer, by connection
    parked: dict[str, Parked] = attrs.field(factory=dict)
    #: connections whose registration was admitted (the next ``_register`` goes through)
    cleared: set[str] = attrs.field(factory=set)
    #: messages accepted per identity since the adapter last took the counts
    usage: dict[Key, int] = attrs.field(factory=dict)
    #: what this node may still accept per identity until the next tick (absent: only the local
    #: limits, the identity has not been over its shared budget lately)
    allow: dict[Key, float] = attrs.field(factory=dict)

    def park(self, conn: str, parked: Parked) -> None:
        self.parked[conn] = parked

    def allowed(self, key: Key) -> bool:
        """Whether one more message of ``key`` is within this node's allowance."""
        left = self.allow.get(key)
        return left is None or left >= 1.0

    def accept(self, key: Key) -> None:
        """One message of ``key`` accepted: counted, taken off the allowance."""
        allow = self.allow
        left = allow.get(key)
        if left is not None:
            allow[key] = left - 1.0
        usage = self.usage
        usage[key] = usage.get(key, 0) + 1

    def take_usage(self) -> dict[Key, int]:
        """The counts to add to the shared buckets: every identity that sent since the last
        call, and every one with an allowance (0: to learn its bucket refilled)."""
        out = dict.fromkeys(self.allow, 0)
        out.update(self.usage)
        self.usage = {}
        return out

    def rates(self, left: dict[Key, float], burst: float, source_burst: float) -> None:
        """The shared buckets' tokens ``left`` after the counts were added: the allowances
        until the next tick (what was accepted since the counts were taken is taken off).
        ``burst``: an identity's bucket size, ``source_burst``: a source's (key ``("", ..)``)."""
        usage, allow = self.usage, self.allow
        for key, tokens in left.items():
            since = usage.get(key, 0)
            if tokens >= (source_burst if not key[0] else burst) and not since:
                allow.pop(key, None)  # full again: the local limits suffice until it is used
            else:
                allow[key] = tokens - since

    def forget(self, conn: str) -> None:
        self.parked.pop(conn, None)
        self.cleared.discard(conn)
