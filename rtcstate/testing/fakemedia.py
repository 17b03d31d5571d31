"""One fake media stack: peer connections, ICE, tracks and data channels, simulated sans-I/O.

Part of the conformance kit. Every place that needs a media stack without a real one uses this
module: :class:`~rtcstate.testing.network.SimNetwork` (the deterministic simulated network),
the call tests' relay network (``tests/calltools.py``) and the asyncio adapter's fake backend
(``rtcstate_asyncio.FakeMedia``, a thin asyncio wrapper). What differs between them is only
*when* things happen and *where* reports go, so that is what they supply: a :class:`MediaHost`
(``now``, ``later(delay, action)``, ``report(stack, event)``) and a :class:`MediaModel` (the
delays, and whether ICE pairs the two ends of a call or lets each side connect on its own).

Theory of operation
-------------------
A :class:`FakeMediaNetwork` is the "network" between the stacks of one world; each device has
one :class:`FakeMediaStack` on it, which carries out the core's media effects (:meth:`apply`):

* ``AcquireMedia`` reports ``MediaAcquired`` after ``acquire_delay`` with a fresh stream id (or
  ``MediaFailed`` while failures are injected, :attr:`FakeMediaStack.failures`); media nobody
  wants any more (the stack's ``wanted`` says so) is released by the stack itself and counted
  in :attr:`FakeMediaStack.orphans`. ``ReleaseMedia`` is recorded in ``released``.
* ``CreatePeerConnection`` / ``ClosePeerConnection`` open and close a :class:`FakePeerConnection`
  (one per call per stack; a new one replaces the old).
* ``CreateOffer`` / ``CreateAnswer`` report ``LocalDescriptionReady`` after
  ``description_delay`` with a unique SDP string, then trickle ``candidates`` loopback host
  ``IceCandidateFound`` and the empty end-of-candidates marker (with ``trickle``); a description
  that makes no sense (no connection, an answer with no remote offer) reports
  ``DescriptionFailed``. ``SetRemoteDescription`` applies at once (``DescriptionFailed`` if it
  cannot; a remote offer rolls back a local one, as in glare).
* ICE, with ``pairing`` (the default): two connections of one call on two stacks are *paired*
  when each applied the other's latest description; ``ice_connect_delay`` later both report
  ``IceStateChanged("connected")`` and, the first time, one ``TrackAdded`` per kind of the far
  side's stream. :meth:`FakeMediaNetwork.ice_trouble` breaks the path (``disconnected`` /
  ``failed`` on chosen sides) until it heals; a pair renegotiated while broken reports
  ``failed`` after ``ice_check_timeout``. When one side closes its connection the other notices
  (``disconnected``, or ``failed`` if it never connected) after ``peer_gone_delay``.
  ``RestartIce`` (or an offer with ``ice_restart``) puts a connection back to ``checking``.
  Without ``pairing`` each side reports ``connected`` by itself once it holds a local and a
  remote description (when it makes an answer or applies a remote description), unless its
  ``auto_ice`` is off: the far side may be a script, and a test drives ICE by hand.
* ``OpenDataChannel`` opens the channel on both ends once the connections are paired and
  connected (``DataChannelOpened`` on each side, same channel id); ``SendData`` delivers
  ``DataChannelMessage`` to the far end; ``CloseDataChannel`` or closing a connection reports
  ``DataChannelClosed`` on both.

Every action that waits goes through ``host.later`` and is re-checked when it runs (a
connection's ``epoch`` changes with each of its ICE or description changes, so a stale
``connect`` does nothing). With zero delays and a host whose ``later`` runs at once, the stack
answers within :meth:`FakeMediaStack.apply`; the host decides when reports are delivered.
Everything applied is kept in :attr:`FakeMediaStack.applied`.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterable
from typing import Protocol

import attrs

from rtcstate import effects as fx
from rtcstate.media import (
    DataChannelClosed,
    DataChannelMessage,
    DataChannelOpened,
    DescriptionFailed,
    IceCandidateFound,
    IceStateChanged,
    LocalDescriptionReady,
    MediaAcquired,
    MediaEvent,
    MediaFailed,
    TrackAdded,
)

__all__ = [
    "FakeMediaNetwork",
    "FakeMediaStack",
    "FakePeerConnection",
    "MediaHost",
    "MediaModel",
]

_INF = math.inf
LOOPBACK_CANDIDATE = "candidate:{n} 1 udp 1 127.0.0.1 9 typ host"


@attrs.frozen(slots=True)
class MediaModel:
    """Timing and shape of the simulated media stack (seconds).

    ``candidates`` local ICE candidates are trickled after each local description (plus the
    empty end-of-candidates marker) when ``trickle``. ``peer_gone_delay`` None disables the far
    side's ICE noticing a closed connection. ``pairing`` False lets each side's ICE connect on
    its own (see the module docstring). ``transport_delay`` is the signaling transport's (the
    simulated network's), kept here with the other timings.
    """

    acquire_delay: float = 0.02
    description_delay: float = 0.005
    ice_connect_delay: float = 0.1
    ice_check_timeout: float = 2.0
    peer_gone_delay: float | None = 5.0
    candidates: int = 1
    transport_delay: float = 0.01
    trickle: bool = True
    pairing: bool = True

    @classmethod
    def instant(cls, **changes: object) -> MediaModel:
        """Everything at once (a host whose ``later`` runs immediately answers in ``apply``)."""
        base = cls(
            acquire_delay=0.0,
            description_delay=0.0,
            ice_connect_delay=0.0,
            ice_check_timeout=0.0,
            peer_gone_delay=None,
            transport_delay=0.0,
        )
        return attrs.evolve(base, **changes)  # type: ignore[arg-type]


class MediaHost(Protocol):
    """What a stack needs from the world it runs in: a clock, a timer and a report path."""

    @property
    def now(self) -> float:
        """The current time."""

    def later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` ``delay`` seconds from now (at once if the host has no clock)."""

    def report(self, stack: FakeMediaStack, event: MediaEvent) -> None:
        """Deliver ``event`` to the session behind ``stack`` (now or soon, in order)."""


@attrs.define(slots=True, eq=False)
class FakePeerConnection:
    """A simulated peer connection of one call on one stack."""

    owner: FakeMediaStack
    call_id: str
    open: bool = True
    local: str | None = None
    local_type: str | None = None
    remote: str | None = None
    remote_type: str | None = None
    ice: str = "new"
    epoch: int = 0
    tracks_reported: bool = False
    described: bool = False  # it produced a local description (kept through a rollback)
    channels: set[str] = attrs.field(factory=set)  # channel ids this side asked to open


class FakeMediaNetwork:
    """Pairs the peer connections and data channels of the stacks of one world."""

    def __init__(self, host: MediaHost, model: MediaModel | None = None) -> None:
        self.host = host
        self.model = model if model is not None else MediaModel()
        #: call id -> stack name -> its connection for that call (closed ones stay until replaced)
        self.pcs: dict[str, dict[str, FakePeerConnection]] = {}
        #: open channel id -> its two ends
        self.channels: dict[str, tuple[FakePeerConnection, FakePeerConnection]] = {}
        #: call id -> until when its ICE path is broken
        self.broken: dict[str, float] = {}

    def stack(self, name: str, **options: object) -> FakeMediaStack:
        """A new stack on this network (``name`` must be unique in it)."""
        return FakeMediaStack(self, name, **options)  # type: ignore[arg-type]

    # --- queries ------------------------------------------------------------------------------

    def pc(self, stack: FakeMediaStack, call_id: str) -> FakePeerConnection | None:
        """``stack``'s open connection for ``call_id``."""
        pc = self.pcs.get(call_id, {}).get(stack.name)
        return pc if pc is not None and pc.open else None

    def open_connections(self, stack: FakeMediaStack) -> dict[str, str]:
        """Open connections of ``stack``: call id -> ICE state."""
        return {
            call_id: pcs[stack.name].ice
            for call_id, pcs in self.pcs.items()
            if stack.name in pcs and pcs[stack.name].open
        }

    def partner(self, pc: FakePeerConnection) -> FakePeerConnection | None:
        """The connection ``pc`` is paired with (each holds the other's latest description)."""
        if not pc.open or pc.local is None or pc.remote is None:
            return None
        for other in self.pcs.get(pc.call_id, {}).values():
            if (
                other is not pc
                and other.open
                and other.local == pc.remote
                and other.remote == pc.local
            ):
                return other
        return None

    def far_end(self, stack: FakeMediaStack, channel_id: str) -> FakePeerConnection | None:
        ends = self.channels.get(channel_id)
        if ends is None:
            return None
        a, b = ends
        if a.owner is stack:
            return b
        return a if b.owner is stack else None

    # --- scripted trouble ---------------------------------------------------------------------

    def ice_trouble(
        self,
        call_id: str,
        kind: str,
        stacks: Iterable[FakeMediaStack] | None = None,
        heal_after: float | None = None,
    ) -> None:
        """Now: ICE of ``call_id`` goes ``kind`` (``disconnected``/``failed``) on ``stacks``
        (None: every stack with a connection for the call); the path stays broken for
        ``heal_after`` seconds (None: for good)."""
        if kind not in ("disconnected", "failed"):
            raise ValueError(f"kind must be disconnected or failed, got {kind!r}")
        now = self.host.now
        heal = _INF if heal_after is None else now + heal_after
        self.broken[call_id] = max(self.broken.get(call_id, -_INF), heal)
        pcs = self.pcs.get(call_id, {})
        chosen = pcs.values() if stacks is None else [pcs.get(s.name) for s in stacks]
        for pc in list(chosen):
            if pc is not None and pc.open and pc.ice != kind:
                self.set_ice(pc, kind)
        if heal_after is not None:
            self.host.later(heal_after, lambda: self._heal(call_id, heal))

    # --- used by the stacks -------------------------------------------------------------------

    def later(self, delay: float, action: Callable[[], None]) -> None:
        self.host.later(delay, action)

    def set_ice(self, pc: FakePeerConnection, state: str) -> None:
        pc.ice = state
        pc.epoch += 1
        self.host.report(pc.owner, IceStateChanged(pc.call_id, state))

    def add(self, pc: FakePeerConnection) -> None:
        pcs = self.pcs.setdefault(pc.call_id, {})
        old = pcs.get(pc.owner.name)
        if old is not None and old.open:
            self.close(old)
        pcs[pc.owner.name] = pc

    def close(self, pc: FakePeerConnection) -> None:
        far = self.partner(pc)
        pc.open = False
        pc.ice = "closed"
        pc.epoch += 1
        for channel_id, ends in list(self.channels.items()):
            if pc in ends:
                self.close_channel(channel_id)
        delay = self.model.peer_gone_delay
        if far is not None and delay is not None:
            token = far.epoch
            self.later(delay, lambda: self._peer_gone(far, token))

    def close_channel(self, channel_id: str) -> None:
        ends = self.channels.pop(channel_id, None)
        if ends is None:
            return
        for pc in ends:
            pc.channels.discard(channel_id)
            self.host.report(pc.owner, DataChannelClosed(channel_id))

    def evaluate(self, call_id: str) -> None:
        """Schedule what ICE does next for every paired couple of connections of ``call_id``."""
        if not self.model.pairing:
            return
        done: set[int] = set()
        for pc in list(self.pcs.get(call_id, {}).values()):
            if id(pc) in done:
                continue
            other = self.partner(pc)
            if other is None:
                continue
            done.update((id(pc), id(other)))
            token = (pc.epoch, other.epoch)
            if self.broken.get(call_id, -_INF) > self.host.now:
                if pc.ice in ("new", "checking") or other.ice in ("new", "checking"):
                    fail = functools.partial(self._ice_fail, pc, other, token)
                    self.later(self.model.ice_check_timeout, fail)
            elif (
                pc.ice != "connected"
                or other.ice != "connected"
                or not (pc.tracks_reported and other.tracks_reported)
            ):
                connect = functools.partial(self._ice_connect, pc, other, token)
                self.later(self.model.ice_connect_delay, connect)
            else:
                self._open_channels(pc, other)

    # --- internals ----------------------------------------------------------------------------

    def _still_paired(
        self, a: FakePeerConnection, b: FakePeerConnection, token: tuple[int, int]
    ) -> bool:
        return (a.epoch, b.epoch) == token and self.partner(a) is b

    def _ice_connect(
        self, a: FakePeerConnection, b: FakePeerConnection, token: tuple[int, int]
    ) -> None:
        broken = self.broken.get(a.call_id, -_INF) > self.host.now
        if broken or not self._still_paired(a, b, token):
            return
        for pc in (a, b):
            if pc.ice != "connected" and pc.open:
                self.set_ice(pc, "connected")
        for pc, far in ((a, b), (b, a)):
            if pc.open and not pc.tracks_reported:
                pc.tracks_reported = True
                far.owner.show_tracks(pc)
        self._open_channels(a, b)

    def _open_channels(self, a: FakePeerConnection, b: FakePeerConnection) -> None:
        for side, far in ((a, b), (b, a)):
            for channel_id in sorted(side.channels):
                if channel_id not in self.channels and side.open and far.open:
                    self.channels[channel_id] = (side, far)
                    self.host.report(side.owner, DataChannelOpened(channel_id))
                    self.host.report(far.owner, DataChannelOpened(channel_id))

    def _ice_fail(
        self, a: FakePeerConnection, b: FakePeerConnection, token: tuple[int, int]
    ) -> None:
        if (
            not self._still_paired(a, b, token)
            or self.broken.get(a.call_id, -_INF) <= self.host.now
        ):
            return
        for pc in (a, b):
            if pc.ice != "failed" and pc.open:
                self.set_ice(pc, "failed")

    def _heal(self, call_id: str, heal: float) -> None:
        if self.broken.get(call_id) == heal:
            del self.broken[call_id]
            self.evaluate(call_id)

    def _peer_gone(self, pc: FakePeerConnection, token: int) -> None:
        if not pc.open or pc.epoch != token or self.partner(pc) is not None:
            return
        if pc.ice == "connected":
            self.set_ice(pc, "disconnected")
        elif pc.ice in ("new", "checking"):
            self.set_ice(pc, "failed")


class FakeMediaStack:
    """One device's simulated media stack (see the module docstring).

    ``serial`` numbers stream ids and SDP strings (the host may share its own counter);
    ``stream_id`` and ``sdp`` format them (fields ``name``, ``n``, ``call_id``, ``type``);
    ``wanted(request_id)`` says whether acquired media is still wanted (None: always).
    """

    def __init__(
        self,
        network: FakeMediaNetwork,
        name: str,
        *,
        serial: Callable[[], int] | None = None,
        stream_id: str = "{name}-stream-{n}",
        sdp: str = "v=0 {name} {call_id} {type} {n}",
        wanted: Callable[[str], bool] | None = None,
    ) -> None:
        self.network = network
        self.name = name
        self.stream_format = stream_id
        self.sdp_format = sdp
        self.wanted = wanted
        counter = itertools.count(1)
        self.serial: Callable[[], int] = serial if serial is not None else lambda: next(counter)
        self.auto_ice = True
        self.failures = 0
        self.orphans = 0
        self.description_failures = 0
        self.applied: list[fx.Effect] = []
        #: stream id -> (audio, video) of every stream acquired
        self.streams: dict[str, tuple[bool, bool]] = {}
        #: request id -> (stream id, audio, video) of the media acquired for it
        self.requests: dict[str, tuple[str, bool, bool]] = {}
        self.released: set[str] = set()

    # --- the host's side ----------------------------------------------------------------------

    def apply(self, effect: fx.Effect) -> bool:
        """Carry out a media effect; False if it is not one this stack handles (it is still
        recorded: tracks enabled, publish, recording, candidates are recorded only)."""
        self.applied.append(effect)
        handler = _HANDLERS.get(type(effect))
        if handler is None:
            return False
        handler(self, effect)
        return True

    def pc(self, call_id: str) -> FakePeerConnection | None:
        """This stack's open connection for ``call_id``."""
        return self.network.pc(self, call_id)

    def open_connections(self) -> dict[str, str]:
        """Open connections: call id -> ICE state."""
        return self.network.open_connections(self)

    def close_all(self) -> None:
        """Close every connection of this stack (the device goes away)."""
        for pcs in list(self.network.pcs.values()):
            pc = pcs.get(self.name)
            if pc is not None and pc.open:
                self.network.close(pc)

    def note_ice(self, call_id: str, state: str) -> None:
        """A test reported ICE ``state`` by hand: the connection follows it."""
        pc = self.pc(call_id)
        if pc is not None:
            pc.ice = state

    def note_local(self, call_id: str, sdp_type: str, sdp: str) -> None:
        """A test produced this local description by hand: the connection holds it."""
        pc = self.pc(call_id)
        if pc is not None:
            pc.local, pc.local_type = sdp, sdp_type
            pc.described = True
            pc.epoch += 1
            if not self.network.model.pairing and sdp_type == "answer":
                self._connect_alone(pc)

    def show_tracks(self, viewer: FakePeerConnection) -> None:
        """Tell ``viewer`` (the far side) about the tracks of this side's stream for its call."""
        stream = self.requests.get(viewer.call_id)
        if stream is None:
            return
        stream_id, audio, video = stream
        for kind, on in (("audio", audio), ("video", video)):
            if on and viewer.open:
                track = TrackAdded(viewer.call_id, f"{stream_id}/{kind}", kind, stream_id)
                self.network.host.report(viewer.owner, track)

    # --- internals ----------------------------------------------------------------------------

    def _report(self, event: MediaEvent) -> None:
        self.network.host.report(self, event)

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        self.network.later(delay, action)

    def _failed(self, call_id: str, *, local: bool, error: str) -> None:
        self.description_failures += 1
        event = DescriptionFailed(call_id, local, error)
        self._later(self.network.model.description_delay, lambda: self._report(event))

    def _acquire(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.AcquireMedia)
        self._later(self.network.model.acquire_delay, lambda: self._acquired(e))

    def _acquired(self, e: fx.AcquireMedia) -> None:
        if self.failures > 0:
            self.failures -= 1
            self._report(MediaFailed(e.request_id, "NotAllowedError"))
            return
        stream_id = self.stream_format.format(name=self.name, n=self.serial())
        self.streams[stream_id] = (e.audio, e.video)
        if self.wanted is not None and not self.wanted(e.request_id):
            # nobody wants it any more: a careful adapter releases it at once
            self.released.add(stream_id)
            self.orphans += 1
            return
        self.requests[e.request_id] = (stream_id, e.audio, e.video)
        self._report(MediaAcquired(e.request_id, stream_id, e.audio, e.video))

    def _release(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.ReleaseMedia)
        self.released.add(e.stream_id)

    def _create_pc(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.CreatePeerConnection)
        self.network.add(FakePeerConnection(self, e.call_id))

    def _close_pc(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.ClosePeerConnection)
        pc = self.pc(e.call_id)
        if pc is not None:
            self.network.close(pc)

    def _create(self, call_id: str, sdp_type: str) -> None:
        pc = self.pc(call_id)
        if pc is None:
            self._failed(call_id, local=True, error="no peer connection")
        else:
            delay = self.network.model.description_delay
            self._later(delay, functools.partial(self._described, pc, sdp_type))

    def _offer(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.CreateOffer)
        pc = self.pc(e.call_id)
        if pc is not None and e.ice_restart and pc.ice != "checking":
            pc.ice = "checking"
            pc.epoch += 1
        self._create(e.call_id, "offer")

    def _answer(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.CreateAnswer)
        self._create(e.call_id, "answer")

    def _described(self, pc: FakePeerConnection, sdp_type: str) -> None:
        if not pc.open:
            return
        if sdp_type == "answer" and pc.remote_type != "offer":
            self._failed(pc.call_id, local=True, error="no remote offer to answer")
            return
        n = self.serial()
        sdp = self.sdp_format.format(name=self.name, call_id=pc.call_id, type=sdp_type, n=n)
        pc.local, pc.local_type = sdp, sdp_type
        pc.described = True
        pc.epoch += 1
        self._report(LocalDescriptionReady(pc.call_id, sdp_type, sdp))
        model = self.network.model
        if model.trickle:
            for i in range(model.candidates + 1):
                cand = "" if i == model.candidates else LOOPBACK_CANDIDATE.format(n=i)
                delay = model.description_delay * (i + 1)
                self._later(delay, functools.partial(self._candidate, pc, cand))
        if model.pairing:
            self.network.evaluate(pc.call_id)
        elif sdp_type == "answer":
            self._connect_alone(pc)

    def _candidate(self, pc: FakePeerConnection, candidate: str) -> None:
        if pc.open:
            self._report(IceCandidateFound(pc.call_id, candidate, "0", 0))

    def _set_remote(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.SetRemoteDescription)
        pc = self.pc(e.call_id)
        if pc is None:
            self._failed(e.call_id, local=False, error="no peer connection")
            return
        if e.sdp_type == "answer" and pc.local_type != "offer":
            self._failed(e.call_id, local=False, error="answer in stable state")
            return
        if e.sdp_type == "offer" and pc.local_type == "offer":
            pc.local, pc.local_type = None, None  # rollback of our own offer (glare)
        pc.remote, pc.remote_type = e.sdp, e.sdp_type
        pc.epoch += 1
        if self.network.model.pairing:
            self.network.evaluate(e.call_id)
        else:
            self._connect_alone(pc)

    def _connect_alone(self, pc: FakePeerConnection) -> None:
        """Without pairing: this side connects once it produced a local description."""
        if self.auto_ice and pc.ice != "connected" and pc.described:
            self.network.set_ice(pc, "connected")

    def _restart_ice(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.RestartIce)
        pc = self.pc(e.call_id)
        if pc is not None:
            pc.ice = "checking"
            pc.epoch += 1

    def _open_channel(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.OpenDataChannel)
        pc = self.pc(e.call_id)
        if pc is not None:
            pc.channels.add(e.channel_id)
            self.network.evaluate(e.call_id)

    def _close_channel(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.CloseDataChannel)
        self.network.close_channel(e.channel_id)

    def _send_data(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.SendData)
        far = self.network.far_end(self, e.channel_id)
        if far is not None:
            self.network.host.report(far.owner, DataChannelMessage(e.channel_id, e.data))

    def _publish(self, e: fx.Effect) -> None:
        # a conversation call sends a stream it did not acquire for that call: its tracks are
        # those of the stream (both kinds when the stack never acquired it)
        assert isinstance(e, fx.PublishStream)
        audio, video = self.streams.get(e.stream_id, (True, True))
        self.requests.setdefault(e.call_id, (e.stream_id, audio, video))


_HANDLERS: dict[type[fx.Effect], Callable[[FakeMediaStack, fx.Effect], None]] = {
    fx.PublishStream: FakeMediaStack._publish,
    fx.AcquireMedia: FakeMediaStack._acquire,
    fx.ReleaseMedia: FakeMediaStack._release,
    fx.CreatePeerConnection: FakeMediaStack._create_pc,
    fx.ClosePeerConnection: FakeMediaStack._close_pc,
    fx.CreateOffer: FakeMediaStack._offer,
    fx.CreateAnswer: FakeMediaStack._answer,
    fx.SetRemoteDescription: FakeMediaStack._set_remote,
    fx.RestartIce: FakeMediaStack._restart_ice,
    fx.OpenDataChannel: FakeMediaStack._open_channel,
    fx.CloseDataChannel: FakeMediaStack._close_channel,
    fx.SendData: FakeMediaStack._send_data,
}
