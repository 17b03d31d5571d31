"""A deterministic simulated network: sessions, one hub, lossy links, fake media, a fake clock.

Part of the conformance kit. :class:`SimNetwork` runs real :class:`~rtcstate.session.Session`
objects against one :class:`~rtcstate.hub.Hub` the way adapters would, but with everything an
adapter does out of its hands: the clock, the links, the timers and the media stack are
simulated, and every run is a pure function of its seed and scenario.

Event loop
----------
One priority queue of events ordered by ``(time, sequence)`` drives the whole run: message
arrivals, timer expiries, media-stack reports, scripted actions. The fake clock jumps to each
event's time; every input a session or the hub gets is stamped with it. Ties are broken by
the order in which events were scheduled, so two runs with the same seed are identical.
:meth:`SimNetwork.run` stops when the queue is empty or at a time horizon and raises
:class:`LivelockError` past ``max_events`` (a run that does not converge is a failure, never a
hang).

Links and the fault model
-------------------------
Each client has one link to the hub (a new connection id per successful ``OpenTransport``).
Three kinds of traffic cross it:

* *peer signaling*: a client's ``Send`` with a ``to`` address, and the copy the hub forwards
  of it (the very message object the hub received, stamped with its sender). Every fault of
  :class:`Faults` applies: drop, duplicate, reorder, delay. When the hub *fans out* one message
  to several devices of a user (a forked ``invite``, the caller's cancelling ``bye``), those
  copies are treated like hub-originated messages below unless ``Faults.drop_fanout``: the
  caller's retransmission stops at the first device's acknowledgement, so only the hub can
  repair a lost copy. It does for a cancel (when the fork settles it sends the caller's ``bye``
  again to every other ringing device, see ``tests/test_call_harness.py``); a device whose copy
  of the ``invite`` is lost simply never rings.
* *hub-originated call signaling*: what the hub writes itself about a call — ``UserNotFound``,
  the ``Bye`` a losing device of a forked call gets, the ``Ack`` the hub returns for a loser's
  crossing ``Bye``. These may be duplicated, reordered and delayed, but are **never dropped**.
  The hub is a sans-I/O relay with no timers: it does not retransmit, and nothing end to end
  would repair such a loss (a ringing device whose "call take on other device" bye vanished
  would ring forever). Over the real WebSocket/TCP link between a client and its relay such a
  message is lost only with the connection itself, which :meth:`SimNetwork.lose_server` models.
* *control*: ``Register``/``Unregister``/``Ping``/``Pong`` and every conversation request to
  the server, and ``Registered``, ``Presence``, ``Pong``, ``ServerError`` and every
  conversation answer or notice from it (the relay's room traffic rides the websocket, in
  order, lost only with the link: :meth:`SimNetwork.lose_server`). Only delayed, in order;
  they are barriers a reordered message cannot overtake (a message that overtook
  ``Registered`` would meet a session that is not connected yet).

Delays are drawn in ``[min_delay, max_delay]``; a message not chosen for reordering also waits
for the previous message on its link direction (FIFO, as TCP would keep it).

**Fair-loss assumption.** Loss is bounded so that retransmission always gets through: a copy of
a message is dropped only while (1) fewer than ``max_consecutive_drops`` messages in a row were
dropped on that (link, direction), and (2) fewer than ``max_drops_per_message`` copies of the
same message (same origin, destination and content, on any leg) were dropped during the run.
Bound (1) alone is not enough: other traffic interleaving with a retransmitted message resets
it. With (2), a message retransmitted until acknowledged is acknowledged after at most
``2 * max_drops_per_message + 1`` sends (each send loses the message, at most k times, or its
acknowledgement — the same ``Ack`` every time — at most k times, or completes), so with
rtcstate's defaults (``rtx_attempts`` 7) ``max_drops_per_message <= 3`` together with a round
trip ``4 * max_delay`` below ``rtx_initial`` means no retransmission ever gives up.

Timers and media
----------------
Each client's timers live in a wheel (id -> deadline, generation): ``StartTimer`` (re)arms and
schedules an expiry event, ``CancelTimer`` disarms, and an expiry whose generation is stale is
ignored. Every start, cancel and expiry is logged per client (:class:`TimerRecord`).

Each client also has a simulated media stack that carries out the media effects: the kit's one
fake media stack (:mod:`rtcstate.testing.fakemedia`, shared with the call tests and the asyncio
adapter's fake backend), with this network as its host (its delays are events on the queue,
its reports are media inputs of the client's session) and :class:`MediaModel` as its timing.
``AcquireMedia`` reports ``MediaAcquired`` (or ``MediaFailed`` while failures are injected with
:meth:`SimNetwork.fail_media`), ``CreateOffer``/``CreateAnswer`` report ``LocalDescriptionReady``
followed by trickled ``IceCandidateFound``; two connections of one call on two clients are
*paired* when each applied the other's latest description, and ``ice_connect_delay`` after
pairing both report ``IceStateChanged("connected")`` and, the first time, one ``TrackAdded`` per
kind of the far side's stream. :meth:`SimNetwork.ice_trouble` injects ``disconnected``/
``failed`` on one or both sides and breaks the path until it heals; when one side closes its
connection the other reports ``disconnected`` (or ``failed``) after ``peer_gone_delay``. Media
a session no longer wants (acquired for a call that is gone) is released by the stack itself and
counted in :attr:`NetStats.orphan_media`.

Everything observable is recorded per client: every ``Emit`` (:class:`EmitRecord`), every effect,
every received envelope and media report, every exception that escaped a session or the hub
(:class:`ErrorRecord`; none ever should), and the state history of every call.
"""

from __future__ import annotations

import functools
import heapq
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from rtcstate import wire
from rtcstate.effects import (
    CancelTimer,
    CloseTransport,
    Drop,
    Effect,
    Emit,
    OpenTransport,
    Send,
    StartTimer,
)
from rtcstate.hub import CloseConnection, Deliver, Hub, HubEffect, delivers
from rtcstate.ids import IdSource, SplitMix64
from rtcstate.media import (
    MediaEvent,
)
from rtcstate.session import Session, SessionConfig
from rtcstate.testing.fakemedia import FakeMediaNetwork, FakeMediaStack, MediaModel
from rtcstate.wire_conversation import RELAY_ONLY

if TYPE_CHECKING:  # pragma: no cover
    from rtcstate.call import Call

__all__ = [
    "Client",
    "DropRecord",
    "EmitRecord",
    "ErrorRecord",
    "Faults",
    "LivelockError",
    "MediaModel",
    "NetStats",
    "SimNetwork",
    "TimerRecord",
]

_INF = float("inf")
_CONTROL_TO_CLIENT: frozenset[type[wire.Message]] = (
    frozenset({wire.Registered, wire.Presence, wire.Pong, wire.ServerError, wire.Ping}) | RELAY_ONLY
)


def _probability(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within [0, 1], got {value}")


@attrs.frozen(slots=True)
class Faults:
    """What the links may do to peer signaling (see the module docstring for the model).

    ``drop``, ``duplicate`` and ``reorder`` are per-message probabilities; delays are uniform in
    ``[min_delay, max_delay]`` seconds. ``max_consecutive_drops`` bounds the drops in a row on
    one (link, direction) and ``max_drops_per_message`` the drops of copies of one message over
    the run: together they are the fair-loss assumption under which retransmission always gets
    through. ``drop_fanout`` lets the copies of a message the hub fans out to several devices
    be dropped too (outside the model: the hub repairs a lost cancel, a lost invite copy means
    that device never rings). ``Faults()`` is a perfect network with a little latency.
    """

    drop: float = attrs.field(default=0.0, validator=_probability)
    duplicate: float = attrs.field(default=0.0, validator=_probability)
    reorder: float = attrs.field(default=0.0, validator=_probability)
    min_delay: float = 0.005
    max_delay: float = 0.03
    max_consecutive_drops: int = 2
    max_drops_per_message: int = 2
    drop_fanout: bool = False

    def __attrs_post_init__(self) -> None:
        if not 0.0 <= self.min_delay <= self.max_delay:
            raise ValueError("need 0 <= min_delay <= max_delay")
        if self.max_consecutive_drops < 0 or self.max_drops_per_message < 0:
            raise ValueError("drop bounds must be >= 0")


@attrs.frozen(slots=True)
class EmitRecord:
    """One ``Emit`` effect a session produced, stamped with the fake clock."""

    time: float
    target: str
    event: str
    payload: Any = attrs.field(default=None, eq=False)


@attrs.frozen(slots=True)
class TimerRecord:
    """A timer ``start``-ed (``deadline`` set), ``cancel``-led or ``fire``-d at ``time``."""

    time: float
    action: str
    timer_id: str
    deadline: float | None = None


@attrs.frozen(slots=True)
class DropRecord:
    """A ``Drop`` effect: an input a session discarded on purpose."""

    time: float
    reason: str
    detail: str


@attrs.frozen(slots=True)
class ErrorRecord:
    """An exception that escaped an input (a bug: inputs from the wire never raise)."""

    time: float
    where: str
    what: str
    error: str
    trace: str = attrs.field(eq=False, repr=False)


@attrs.define(slots=True)
class NetStats:
    """Counters of one run."""

    events: int = 0
    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    lost_offline: int = 0
    orphan_media: int = 0
    description_failures: int = 0


class LivelockError(AssertionError):
    """The run processed ``max_events`` events without converging."""


@attrs.define(slots=True, eq=False)
class Client:
    """One simulated device: its session and everything observed about it."""

    session: Session
    address: str
    conn: str | None = None
    #: the link is down until this time (connection attempts before it fail)
    outage_until: float = -_INF
    emits: list[EmitRecord] = attrs.field(factory=list)
    timers: list[TimerRecord] = attrs.field(factory=list)
    drops: list[DropRecord] = attrs.field(factory=list)
    effects: list[tuple[float, Effect]] = attrs.field(factory=list)
    received: list[tuple[float, wire.Envelope]] = attrs.field(factory=list)
    reports: list[tuple[float, MediaEvent]] = attrs.field(factory=list)
    errors: list[ErrorRecord] = attrs.field(factory=list)
    #: every call this session ever held, by id (kept after the session forgets it)
    calls: dict[str, Call] = attrs.field(factory=dict)
    #: the states each call went through, as observed after every input
    call_states: dict[str, list[str]] = attrs.field(factory=dict)
    #: timers armed: id -> (deadline, generation)
    armed: dict[str, tuple[float, int]] = attrs.field(factory=dict)
    #: its simulated media stack (set by :meth:`SimNetwork.add_client`)
    stack: FakeMediaStack | None = None
    _serial: int = 0

    @property
    def media(self) -> FakeMediaStack:
        assert self.stack is not None, "a client gets its media stack from SimNetwork"
        return self.stack

    @property
    def media_failures(self) -> int:
        """How many of the next media acquisitions fail."""
        return self.media.failures

    @property
    def streams(self) -> dict[str, tuple[bool, bool]]:
        """Every stream acquired: stream id -> (audio, video)."""
        return self.media.streams

    @property
    def released(self) -> set[str]:
        """Stream ids released (by the session, or by the stack for orphan media)."""
        return self.media.released

    @property
    def call_streams(self) -> dict[str, tuple[str, bool, bool]]:
        """Call id -> (stream id, audio, video) of the media acquired for it."""
        return self.media.requests

    @property
    def user(self) -> str:
        return self.address.partition("/")[0]

    def events(self, target: str | None = None) -> list[str]:
        """The names of the events emitted (on ``target`` only, if given), in order."""
        return [e.event for e in self.emits if target is None or e.target == target]

    def sent(self, kind: type[wire.Message] | None = None) -> list[wire.Message]:
        """The messages this client sent (of ``kind`` only, if given), in order."""
        return [
            e.message
            for _, e in self.effects
            if isinstance(e, Send) and (kind is None or isinstance(e.message, kind))
        ]

    def media_commands(self, kind: type[Effect]) -> list[Effect]:
        """The media effects of ``kind`` this client's stack carried out."""
        return [e for _, e in self.effects if isinstance(e, kind)]

    def _next(self) -> int:
        self._serial += 1
        return self._serial


_Key = tuple[str, str | None, str]


class SimNetwork:
    """Sessions, one hub, lossy links and fake media stacks, run on one event queue.

    Build it, add clients (:meth:`add_client`), script actions (:meth:`at`, :meth:`command`,
    :meth:`lose_server`, :meth:`ice_trouble`, :meth:`fail_media`), then :meth:`run`.
    """

    def __init__(
        self,
        faults: Faults | None = None,
        media: MediaModel | None = None,
        *,
        seed: int = 0,
        hub: Hub | None = None,
        max_events: int = 200_000,
        wire_codec: bool = True,
    ) -> None:
        self.faults = faults if faults is not None else Faults()
        self.media = media if media is not None else MediaModel()
        self.seed = seed
        self.hub = hub if hub is not None else Hub()
        self.max_events = max_events
        #: encode every message to bytes and decode it on arrival (exercises the wire format)
        self.wire_codec = wire_codec
        self.now = 0.0
        self.clients: dict[str, Client] = {}
        self._stats = NetStats()
        self.hub_errors: list[ErrorRecord] = []
        self._rand = SplitMix64(seed)
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._conn_owner: dict[str, Client] = {}
        self._hub_conns: set[str] = set()
        self._conn_serial = 0
        self._fifo: dict[tuple[str, str], float] = {}
        self._barrier: dict[tuple[str, str], float] = {}
        self._consecutive: dict[tuple[str, str], int] = {}
        self._message_drops: dict[_Key, int] = {}
        #: the media stacks' network (one :class:`FakeMediaStack` per client)
        self.media_net = FakeMediaNetwork(self, self.media)
        self._scripted: list[list[Any]] = []

    # --- public: building a scenario ----------------------------------------------------------

    def add_client(
        self,
        config: SessionConfig,
        *,
        register_at: float | None = 0.0,
        ids: IdSource | None = None,
    ) -> Client:
        """Add a device running a new :class:`Session`; it registers at ``register_at``."""
        index = len(self.clients) + 1
        rand = SplitMix64((self.seed * 7919 + index) & ((1 << 64) - 1))
        session = Session(config, rand=rand) if ids is None else Session(config, ids=ids, rand=rand)
        client = Client(session=session, address=session.address)
        if client.address in self.clients:
            raise ValueError(f"duplicate client {client.address}")
        client.stack = self.media_net.stack(
            client.address,
            serial=client._next,
            stream_id="{name}:stream-{n}",
            wanted=lambda request_id: session.child("request_id", request_id) is not None,
        )
        self.clients[client.address] = client
        if register_at is not None:
            self.command(client, register_at, session.register, "register")
        return client

    def at(self, time: float, action: Callable[[float], object], label: str = "") -> None:
        """Run ``action(now)`` at fake time ``time`` (exceptions are recorded, not raised)."""

        def run() -> None:
            try:
                action(self.now)
            except Exception as exc:  # every escape is recorded
                self.hub_errors.append(_error_record(self.now, "script", label, exc))

        self._schedule(time, run)

    def command(
        self,
        client: Client,
        time: float,
        action: Callable[[float], Iterable[Effect]],
        label: str = "",
    ) -> None:
        """At ``time``, run application command ``action(now)`` and carry out its effects."""
        self._schedule(time, lambda: self._input(client, label or "command", action))

    def run_command(
        self, client: Client, action: Callable[[float], Iterable[Effect]], label: str = ""
    ) -> None:
        """Run an application command now (from inside an :meth:`at` action)."""
        self._input(client, label or "command", action)

    def fail_media(self, client: Client, count: int = 1) -> None:
        """Make the next ``count`` media acquisitions of ``client`` fail."""
        client.media.failures += count

    def lose_messages(self, predicate: Callable[[wire.Envelope], bool], count: int = 1) -> None:
        """Drop the next ``count`` messages for which ``predicate(envelope)`` holds, on any leg
        (a scripted loss for examples, outside the random fault model)."""
        self._scripted.append([predicate, count])

    def lose_server(self, client: Client, duration: float) -> None:
        """Cut ``client``'s link now for ``duration`` seconds (the session reconnects itself).

        What is in flight on the link is lost, the hub sees the connection close, the session
        gets ``connection_lost``; its ``OpenTransport`` attempts fail until the outage ends.
        """
        client.outage_until = max(client.outage_until, self.now + duration)
        conn = client.conn
        if conn is None:
            return
        self._close_link(client, conn)
        self._input(client, "connection_lost", lambda now: client.session.connection_lost(now))

    def ice_trouble(
        self,
        call_id: str,
        kind: str,
        parties: Sequence[Client] | None = None,
        heal_after: float | None = None,
    ) -> None:
        """Now: ICE of ``call_id`` goes ``kind`` (``disconnected``/``failed``) on ``parties``.

        ``parties`` None means every client with a connection for the call. The path stays
        broken for ``heal_after`` seconds (None: for good): a disconnected connection that was
        not restarted reports ``connected`` again when it heals, a renegotiated pair connects
        then, and one renegotiated while broken reports ``failed``.
        """
        stacks = None if parties is None else [p.media for p in parties]
        self.media_net.ice_trouble(call_id, kind, stacks, heal_after)

    # --- public: running --------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """How many events are queued."""
        return len(self._queue)

    def run(self, until: float = _INF) -> bool:
        """Process events up to fake time ``until``; True when the queue emptied.

        Raises :class:`LivelockError` once ``max_events`` events have been processed in all.
        """
        queue = self._queue
        while queue and queue[0][0] <= until:
            time, _, action = heapq.heappop(queue)
            self.now = max(self.now, time)
            self._stats.events += 1
            if self._stats.events > self.max_events:
                raise LivelockError(
                    f"more than {self.max_events} events by t={self.now:.3f}: no convergence"
                )
            action()
        if queue and until != _INF:
            self.now = max(self.now, until)
        return not queue

    def errors(self) -> list[ErrorRecord]:
        """Every exception that escaped an input, on any client, the hub or a script."""
        out = list(self.hub_errors)
        for client in self.clients.values():
            out.extend(client.errors)
        return sorted(out, key=lambda e: e.time)

    def trace(self, *, media: bool = True) -> str:
        """A readable, time-ordered log of the run: per client, what it received (``<-``),
        the effects it produced (``->``) and, with ``media``, the media reports (``<~``)."""
        rows: list[tuple[float, int, str]] = []
        n = 0
        for client in self.clients.values():
            who = client.address
            for t, env in client.received:
                n += 1
                rows.append((t, n, f"{who} <- {env.sender}: {env.message!r}"))
            for t, e in client.effects:
                n += 1
                if isinstance(e, Send):
                    rows.append((t, n, f"{who} -> {e.to}: {e.message!r}"))
                elif isinstance(e, Emit):
                    payload = e.payload if not hasattr(e.payload, "call") else type(e.payload)
                    rows.append((t, n, f"{who} !! {e.target} {e.event} {payload!r}"))
                elif media or isinstance(e, StartTimer | CancelTimer | Drop):
                    rows.append((t, n, f"{who} .. {e!r}"))
            if media:
                for t, ev in client.reports:
                    n += 1
                    rows.append((t, n, f"{who} <~ {ev!r}"))
        rows.sort(key=lambda r: (r[0], r[1]))
        return "\n".join(f"{t:9.4f} {line}" for t, _, line in rows)

    def peer_connections(self, client: Client) -> dict[str, str]:
        """Open simulated peer connections of ``client``: call id -> ICE state."""
        return client.media.open_connections()

    @property
    def stats(self) -> NetStats:
        """The run's counters (the media counters summed over the clients' stacks)."""
        stacks = [c.media for c in self.clients.values()]
        self._stats.orphan_media = sum(s.orphans for s in stacks)
        self._stats.description_failures = sum(s.description_failures for s in stacks)
        return self._stats

    # --- internals: the queue -----------------------------------------------------------------

    def _schedule(self, time: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (max(time, self.now), self._seq, action))

    def _draw(self) -> float:
        return self._rand()

    # --- internals: session inputs ------------------------------------------------------------

    def _input(
        self, client: Client, what: str, action: Callable[[float], Iterable[Effect]]
    ) -> None:
        now = self.now
        try:
            effects = list(action(now))
        except Exception as exc:  # every escape is recorded
            client.errors.append(_error_record(now, client.address, what, exc))
            effects = []
        self._apply(client, effects)
        self._observe(client)

    def _observe(self, client: Client) -> None:
        for call_id, call in client.session.calls().items():
            client.calls.setdefault(call_id, call)
        for call_id, call in client.calls.items():
            states = client.call_states.setdefault(call_id, [])
            name: str = call.state.name
            if not states or states[-1] != name:
                states.append(name)

    def _apply(self, client: Client, effects: list[Effect]) -> None:
        now = self.now
        for e in effects:
            client.effects.append((now, e))
            kind = type(e)
            if kind is Send:
                assert isinstance(e, Send)
                self._client_send(client, e)
            elif kind is Emit:
                assert isinstance(e, Emit)
                client.emits.append(EmitRecord(now, e.target, e.event, e.payload))
                call = getattr(e.payload, "call", None)
                call_id = getattr(call, "call_id", None)
                if call is not None and isinstance(call_id, str):
                    client.calls.setdefault(call_id, call)
            elif kind is StartTimer:
                assert isinstance(e, StartTimer)
                self._start_timer(client, e)
            elif kind is CancelTimer:
                assert isinstance(e, CancelTimer)
                if client.armed.pop(e.timer_id, None) is not None:
                    client.timers.append(TimerRecord(now, "cancel", e.timer_id))
            elif kind is Drop:
                assert isinstance(e, Drop)
                client.drops.append(DropRecord(now, e.reason, e.detail))
            elif kind is OpenTransport:
                self._schedule(now + self.media.transport_delay, lambda: self._open(client))
            elif kind is CloseTransport:
                if client.conn is not None:
                    self._close_link(client, client.conn)
            else:
                self._media_effect(client, e)

    # --- internals: timers --------------------------------------------------------------------

    def _start_timer(self, client: Client, e: StartTimer) -> None:
        token = client._next()
        client.armed[e.timer_id] = (e.deadline, token)
        client.timers.append(TimerRecord(self.now, "start", e.timer_id, e.deadline))

        def fire() -> None:
            armed = client.armed.get(e.timer_id)
            if armed is None or armed[1] != token:
                return
            del client.armed[e.timer_id]
            client.timers.append(TimerRecord(self.now, "fire", e.timer_id))
            self._input(
                client,
                f"timer {e.timer_id}",
                lambda now: client.session.timer_fired(e.timer_id, now),
            )

        self._schedule(e.deadline, fire)

    # --- internals: links ---------------------------------------------------------------------

    def _open(self, client: Client) -> None:
        if self.now < client.outage_until:
            self._input(client, "connection_failed", client.session.connection_failed)
            return
        self._conn_serial += 1
        conn = f"{client.address}#{self._conn_serial}"
        client.conn = conn
        self._conn_owner[conn] = client
        self._hub_conns.add(conn)
        self._hub(lambda now: self.hub.connect(conn, now), "connect")
        self._input(client, "connection_made", client.session.connection_made)

    def _close_link(self, client: Client, conn: str) -> None:
        client.conn = None
        if conn in self._hub_conns:
            self._hub_conns.discard(conn)
            self._hub(lambda now: self.hub.disconnect(conn, now), "disconnect")

    def _hub(self, action: Callable[[float], list[HubEffect]], what: str) -> None:
        try:
            effects = action(self.now)
        except Exception as exc:  # every escape is recorded
            self.hub_errors.append(_error_record(self.now, "hub", what, exc))
            return
        self._hub_effects(effects, None)

    def _hub_effects(self, effects: list[HubEffect], received: wire.Message | None) -> None:
        effects = delivers(effects)  # a presence flush's Fanout: one Deliver per connection
        copies = sum(
            1 for e in effects if isinstance(e, Deliver) and e.envelope.message is received
        )
        for e in effects:
            if isinstance(e, Deliver):
                client = self._conn_owner.get(e.conn)
                if client is None:
                    continue
                msg = e.envelope.message
                if msg is received:
                    tier = "peer" if copies == 1 or self.faults.drop_fanout else "hub"
                elif type(msg) in _CONTROL_TO_CLIENT:
                    tier = "control"
                else:
                    tier = "hub"
                arrive = functools.partial(self._to_client, client, e.conn)
                self._transmit(("hub", e.conn), e.envelope, tier, arrive)
            elif isinstance(e, CloseConnection):
                client = self._conn_owner.get(e.conn)
                self._hub_conns.discard(e.conn)
                if client is not None and client.conn == e.conn:
                    client.conn = None
                    self._input(client, "connection_lost", client.session.connection_lost)

    def _client_send(self, client: Client, e: Send) -> None:
        conn = client.conn
        if conn is None:
            self._stats.lost_offline += 1
            return
        env = wire.Envelope(e.message, e.to, client.address)
        tier = "control" if e.to is None else "peer"
        self._transmit((conn, "hub"), env, tier, functools.partial(self._to_hub, conn))

    def _to_hub(self, conn: str, env: wire.Envelope) -> None:
        if conn not in self._hub_conns:
            self._stats.lost_offline += 1
            return
        self._stats.delivered += 1
        out = wire.Envelope(env.message, env.to)  # the hub stamps the sender itself
        if self.wire_codec:
            try:
                out = wire.decode(wire.encode_envelope(out))
            except Exception as exc:  # every escape is recorded
                self.hub_errors.append(_error_record(self.now, "wire", "encode/decode", exc))
                return
        received = out.message
        self._hub_effects_from(conn, out, received)

    def _hub_effects_from(self, conn: str, env: wire.Envelope, received: wire.Message) -> None:
        try:
            effects = self.hub.receive_envelope(conn, env, self.now)
        except Exception as exc:  # every escape is recorded
            self.hub_errors.append(_error_record(self.now, "hub", f"receive {env!r}", exc))
            return
        self._hub_effects(effects, received)

    def _to_client(self, client: Client, conn: str, env: wire.Envelope) -> None:
        if client.conn != conn:
            self._stats.lost_offline += 1
            return
        self._stats.delivered += 1
        client.received.append((self.now, env))
        if self.wire_codec:
            data = wire.encode_envelope(env)
            self._input(
                client, f"receive {env.message.TYPE}", lambda now: client.session.receive(data, now)
            )
        else:
            self._input(
                client,
                f"receive {env.message.TYPE}",
                lambda now: client.session.receive_envelope(env, now),
            )

    def _transmit(
        self,
        link: tuple[str, str],
        env: wire.Envelope,
        tier: str,
        arrive: Callable[[wire.Envelope], None],
    ) -> None:
        """Send one message on one link direction, under the fault model."""
        f = self.faults
        self._stats.sent += 1
        for rule in self._scripted:
            if rule[1] > 0 and rule[0](env):
                rule[1] -= 1
                self._stats.dropped += 1
                return
        if tier == "peer" and f.drop > 0.0:
            key: _Key = (env.sender or "", env.to, repr(env.message))
            in_a_row = self._consecutive.get(link, 0)
            budget = self._message_drops.get(key, 0)
            if (
                in_a_row < f.max_consecutive_drops
                and budget < f.max_drops_per_message
                and self._draw() < f.drop
            ):
                self._consecutive[link] = in_a_row + 1
                self._message_drops[key] = budget + 1
                self._stats.dropped += 1
                return
            self._consecutive[link] = 0
        copies = 1
        if tier != "control" and f.duplicate > 0.0 and self._draw() < f.duplicate:
            copies = 2
            self._stats.duplicated += 1
        for copy in range(copies):
            delay = f.min_delay + (f.max_delay - f.min_delay) * self._draw()
            when = self.now + delay
            barrier = self._barrier.get(link, -_INF)
            reordered = tier != "control" and (
                copy > 0 or (f.reorder > 0.0 and self._draw() < f.reorder)
            )
            if reordered:
                when = max(when, barrier)
                if copy == 0:
                    self._stats.reordered += 1
            else:
                when = max(when, self._fifo.get(link, -_INF))
                self._fifo[link] = when
                if tier == "control":
                    self._barrier[link] = when
            self._schedule(when, lambda: arrive(env))

    # --- internals: the media stack (rtcstate.testing.fakemedia; this network is its host) ----

    def later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` ``delay`` seconds of fake time from now (the media stack's timer)."""
        self._schedule(self.now + delay, action)

    def report(self, stack: FakeMediaStack, event: MediaEvent) -> None:
        """A media report for the session behind ``stack``."""
        self._report(self.clients[stack.name], event)

    def _report(self, client: Client, event: MediaEvent) -> None:
        client.reports.append((self.now, event))
        self._input(
            client,
            f"media {type(event).__name__}",
            lambda now: client.session.media_event(event, now),
        )

    def _media_effect(self, client: Client, e: Effect) -> None:
        # media effects the stack does not model (candidates: it pairs connections without
        # them; tracks enabled, publish, recording) are recorded only
        client.media.apply(e)


def _error_record(now: float, where: str, what: str, exc: BaseException) -> ErrorRecord:
    return ErrorRecord(
        now, where, what, f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc))
    )
