"""The relay's counters, and their Prometheus text rendering.

Theory of operation
-------------------
A :class:`RelayMetrics` belongs to one :class:`~rtcstate_asyncio.relay.Relay`, which counts
where the facts are: frames read (``received``), envelopes it queued (``sent``; ``routed``:
those from a client, stamped with a sender, as opposed to the hub's own answers), every
``ServerError`` the hub answers (:meth:`RelayMetrics.refused`: the hub answers every refusal
so, its code the label), and the hub's structured :class:`~rtcstate.hub.Log` lines it carries
out (:meth:`RelayMetrics.log`): ``registered``, and ``closing`` whose ``code`` field is the
label of the close. A label outside :class:`~rtcstate.wire.ServerErrorCode` counts as
``other``, so no client can grow the label set. The relay adds its own closes (``draining``).
``redis_round_trips`` and ``redis_reconnects`` are hooks for a cluster adapter (0 without one).

Gauges are read when the page is rendered (:meth:`RelayMetrics.render`), from what the relay
reports then (:class:`Gauges`): connections open and registered, bytes queued, draining. The
sans-I/O hub is not touched: everything here is counted by the adapter from the hub's effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from rtcstate.hub import Log
from rtcstate.wire import ServerErrorCode

__all__ = ["Gauges", "RelayMetrics", "render_counter"]

_CODES = frozenset(c.value for c in ServerErrorCode)
#: relay-side close reasons (not hub codes)
RELAY_CLOSES = frozenset({"draining", "shutdown"})


@attrs.frozen(slots=True)
class Gauges:
    """What the relay holds when the page is rendered."""

    connections: int
    registered: int
    queue_bytes: int
    peak_queue_bytes: int
    draining: bool
    uptime: float


@attrs.define(slots=True, eq=False)
class RelayMetrics:
    """Counters of one relay (see the module docstring)."""

    accepted: int = 0
    received: int = 0
    sent: int = 0
    routed: int = 0
    registrations: int = 0
    redis_round_trips: int = 0
    redis_reconnects: int = 0
    refusals: dict[str, int] = attrs.Factory(dict)
    closes: dict[str, int] = attrs.Factory(dict)

    def log(self, line: Log) -> None:
        """Count one of the hub's log lines (registrations, closes by reason)."""
        event = line.event
        if event == "registered":
            self.registrations += 1
        elif event == "closing":
            label = _label(line.fields, "other")
            self.closes[label] = self.closes.get(label, 0) + 1

    def refused(self, code: str) -> None:
        """The hub answered a request with ``ServerError(code)`` (a refusal)."""
        label = code if code in _CODES else "other"
        self.refusals[label] = self.refusals.get(label, 0) + 1

    def closed_by_relay(self, reason: str, n: int = 1) -> None:
        """The relay itself closed ``n`` connections (``reason`` in :data:`RELAY_CLOSES`)."""
        assert reason in RELAY_CLOSES, reason
        self.closes[reason] = self.closes.get(reason, 0) + n

    def redis_round_trip(self, n: int = 1) -> None:
        """A cluster adapter made ``n`` Redis round trips (the hook ``/metrics`` shows)."""
        self.redis_round_trips += n

    def redis_reconnect(self) -> None:
        """A cluster adapter connected to Redis again after losing it."""
        self.redis_reconnects += 1

    def render(self, gauges: Gauges) -> str:
        """The Prometheus text exposition (format 0.0.4) of every counter and gauge."""
        out: list[str] = []
        gauge = "gauge"
        counter = "counter"
        for name, kind, text, value in (
            ("connections", gauge, "websockets open", gauges.connections),
            ("registered_connections", gauge, "connections registered", gauges.registered),
            ("queue_bytes", gauge, "bytes queued to send, all connections", gauges.queue_bytes),
            ("queue_bytes_peak", gauge, "most bytes ever queued for one connection",
             gauges.peak_queue_bytes),
            ("draining", gauge, "1 while the relay drains (SIGTERM)", int(gauges.draining)),
            ("uptime_seconds", gauge, "seconds since the relay started", gauges.uptime),
            ("connections_accepted_total", counter, "websockets accepted", self.accepted),
            ("registrations_total", counter, "registrations accepted", self.registrations),
            ("frames_received_total", counter, "frames read from clients", self.received),
            ("messages_sent_total", counter, "envelopes queued to clients", self.sent),
            ("messages_routed_total", counter, "envelopes routed from one client to another",
             self.routed),
            ("redis_round_trips_total", counter, "round trips to Redis (cluster)",
             self.redis_round_trips),
            ("redis_reconnects_total", counter, "connections to Redis made again after a loss",
             self.redis_reconnects),
        ):  # fmt: skip
            out.extend(_family(name, kind, text, [((), value)]))
        out.extend(
            render_counter(
                "refusals_total", "ServerError answers (refusals), by code", "reason", self.refusals
            )
        )
        out.extend(render_counter("closes_total", "connections closed, by reason", "reason",
                                  self.closes))  # fmt: skip
        return "\n".join(out) + "\n"


def render_counter(name: str, text: str, label: str, values: Mapping[str, int]) -> list[str]:
    """One labelled counter family (sorted by label; a family with no sample yet is still
    declared)."""
    return _family(name, "counter", text, [(((label, k),), v) for k, v in sorted(values.items())])


def _family(
    name: str, kind: str, text: str, samples: Iterable[tuple[tuple[tuple[str, str], ...], float]]
) -> list[str]:
    full = f"rtcstate_{name}"
    lines = [f"# HELP {full} {text}", f"# TYPE {full} {kind}"]
    for labels, value in samples:
        tag = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
        number = f"{value:.3f}" if isinstance(value, float) else str(value)
        lines.append(f"{full}{{{tag}}} {number}" if tag else f"{full} {number}")
    return lines


def _label(fields: tuple[tuple[str, object], ...], default: str) -> str:
    for key, value in fields:
        if key == "code":
            text = str(value)
            return text if text in _CODES else "other"
    return default


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
