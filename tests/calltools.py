"""Shared helpers for the call tests: connected sessions, a relay-backed network with a fake media
stack and a fake clock, and state snapshots that ignore the session back-reference.

``Net`` wires sessions to a real :class:`~rtcstate.hub.Hub` (so registration, presence, routing,
forked calls and ``user_not_found`` are the relay's own) and carries out media effects the way a
well-behaved adapter would: ``AcquireMedia`` gives ``MediaAcquired`` (or ``MediaFailed``),
``CreateOffer`` / ``CreateAnswer`` give ``LocalDescriptionReady``, and once a peer connection has
both descriptions ICE reports ``connected`` (unless the test turned ``auto_ice`` off). Timers
are kept per device and fired in deadline order by :meth:`Net.advance`.
"""

from __future__ import annotations

import copy
import enum
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from rtcstate import media, wire
from rtcstate.call import Call, CallState
from rtcstate.codes import CallType, HangupReason
from rtcstate.effects import (
    AcquireMedia,
    CancelTimer,
    ClosePeerConnection,
    CreateAnswer,
    CreateOffer,
    Effect,
    Emit,
    OpenTransport,
    Send,
    StartTimer,
)
from rtcstate.hub import CloseConnection, Deliver, Hub
from rtcstate.invitation import ReceivedCallInvitation
from rtcstate.negotiation import Negotiation
from rtcstate.reliable import ReliableSender, ReliableState
from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.settings import CallSettings
from rtcstate.testing.fakemedia import FakeMediaNetwork, FakeMediaStack, MediaModel

__all__ = [
    "ICE_STATES",
    "ME",
    "PEER",
    "PEER_CALL",
    "SCENARIOS",
    "Device",
    "Net",
    "Scene",
    "call_state",
    "callee_in",
    "caller_in",
    "connected_session",
    "from_peer",
    "invitation_state",
    "invite_sender",
    "scene_session",
]


def connected_session(
    user: str = "me", device: str = "d1", calls: CallSettings | None = None, now: float = 0.0
) -> Session:
    """A CONNECTED session built through the public inputs (no relay)."""
    s = Session(
        SessionConfig(user, device=device, keepalive_interval=None, calls=calls or CallSettings())
    )
    s.register(now)
    s.connection_made(now)
    s.receive_envelope(wire.Envelope(wire.Registered(user, device, "sid")), now)
    assert s.state is SessionState.CONNECTED
    return s


# --- snapshots --------------------------------------------------------------------------------


def _plain(value: Any, seen: dict[int, Any]) -> Any:
    """A comparable copy of ``value``: attrs objects of the call graph become field tuples."""
    if isinstance(value, Session):
        return ("<session>", id(value))
    if isinstance(value, Call | ReceivedCallInvitation | Negotiation | ReliableSender):
        key = id(value)
        if key in seen:
            return ("<ref>", type(value).__name__, key)
        seen[key] = True
        return (
            type(value).__name__,
            tuple(
                (f.name, _plain(getattr(value, f.name), seen)) for f in attrs.fields(type(value))
            ),
        )
    if isinstance(value, list | tuple):
        return type(value)(_plain(v, seen) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v, seen) for k, v in value.items()}
    if isinstance(value, set):
        return {_plain(v, seen) for v in value}
    if isinstance(value, enum.Enum | str | int | float | bool | type(None)):
        return value
    return copy.deepcopy(value)


def call_state(call: Call) -> Any:
    """Every field of ``call`` (and of its invitation), by value; the session by identity."""
    return _plain(call, {})


def invitation_state(inv: ReceivedCallInvitation | None) -> Any:
    return None if inv is None else _plain(inv, {})


# --- the network ------------------------------------------------------------------------------


@attrs.define(eq=False)
class Device:
    """One registered device: its session, its armed timers and everything it produced."""

    address: str
    session: Session
    conn: str
    timers: dict[str, float] = attrs.field(factory=dict)
    log: list[Effect] = attrs.field(factory=list)
    at: list[float] = attrs.field(factory=list)  # when each effect of ``log`` was produced
    auto_ice: bool = True
    reachable: bool = True  # the relay accepts its transport
    #: AcquireMedia -> the report to give (default: MediaAcquired)
    on_acquire: Callable[[AcquireMedia], media.MediaEvent | None] | None = None
    #: CreateOffer/CreateAnswer -> the report to give (default: LocalDescriptionReady)
    on_describe: Callable[[Effect], media.MediaEvent | None] | None = None
    ice: dict[str, str] = attrs.field(factory=dict)
    local: set[str] = attrs.field(factory=set)
    acquired: int = 0
    #: its media stack (the kit's fake stack, each side's ICE on its own: see ``Net``)
    stack: FakeMediaStack | None = None

    @property
    def user(self) -> str:
        return self.address.partition("/")[0]

    def emitted(self, event: str | None = None, on: str | None = None) -> list[Emit]:
        return [
            e
            for e in self.log
            if isinstance(e, Emit)
            and (event is None or e.event == event)
            and (on is None or e.target == on)
        ]

    def payloads(self, event: str, on: str | None = None) -> list[Any]:
        return [e.payload for e in self.emitted(event, on)]

    def timeline(self, event: str, on: str | None = None) -> list[tuple[float, Any]]:
        """``(time, payload)`` of each ``event`` fired (on ``on``)."""
        return [
            (t, e.payload)
            for t, e in zip(self.at, self.log, strict=True)
            if isinstance(e, Emit) and e.event == event and (on is None or e.target == on)
        ]

    def sent(self, kind: type[wire.Message] | None = None) -> list[wire.Message]:
        return [
            e.message
            for e in self.log
            if isinstance(e, Send) and (kind is None or type(e.message) is kind)
        ]


class Net:
    """Sessions behind one relay, with fake media and fake time.

    ``Net("alice/d1", "bob/d1")`` registers both; ``net["alice/d1"]`` is the device. Commands
    are run with ``net.run(address, effects)`` (which also delivers what follows), media
    reports with ``net.media(address, event)``, time with ``net.advance(until)``.

    Media effects go to each device's :class:`~rtcstate.testing.fakemedia.FakeMediaStack`
    (instant, no trickled candidates, and no pairing: a side's ICE connects once it has a local
    and a remote description, so a test may stop one side's ICE with ``auto_ice``); a device's
    ``on_acquire`` / ``on_describe`` replace the stack's answer when set.
    """

    #: the media model of every device's stack
    MEDIA = MediaModel.instant(trickle=False, pairing=False)

    ALL: list[Net] | None = None  # set by a collector to see every net built

    def __init__(self, *addresses: str, calls: CallSettings | None = None, **per: Any) -> None:
        self.hub = Hub()
        self.now = 0.0
        self.devices: dict[str, Device] = {}
        self.queue: deque[tuple[str, Any]] = deque()
        #: (sender address, envelope) -> True to lose the message on the way to the relay
        self.lose: Callable[[str, wire.Envelope], bool] | None = None
        self.media_net = FakeMediaNetwork(self, self.MEDIA)
        for address in addresses:
            self.add(address, calls=per.get(address.replace("/", "_"), calls))
        if Net.ALL is not None:
            Net.ALL.append(self)

    def __getitem__(self, address: str) -> Device:
        return self.devices[address]

    def add(self, address: str, calls: CallSettings | None = None) -> Device:
        user, _, device = address.partition("/")
        session = Session(
            SessionConfig(
                user, device=device, keepalive_interval=None, calls=calls or CallSettings()
            )
        )
        dev = Device(address, session, f"conn-{address}")
        dev.stack = self.media_net.stack(
            address, serial=lambda: dev.acquired, stream_id=f"{dev.user}-stream-{{n}}",
            sdp=f"{{type}}-of-{dev.user}",
        )  # fmt: skip
        self.devices[address] = dev
        self.run(address, session.register(self.now))
        assert session.state is SessionState.CONNECTED, session.state
        return dev

    # --- inputs -------------------------------------------------------------------------------

    def run(self, address: str, fx: list[Effect]) -> list[Effect]:
        """Carry out ``fx`` (produced by ``address``) and deliver everything that follows."""
        self._carry(self.devices[address], fx)
        self.pump()
        return fx

    def media(self, address: str, event: media.MediaEvent) -> list[Effect]:
        dev = self.devices[address]
        if isinstance(event, media.IceStateChanged):
            dev.ice[event.call_id] = event.state
            self._stack(dev).note_ice(event.call_id, event.state)
        return self.run(address, dev.session.media_event(event, self.now))

    def deliver(self, address: str, env: wire.Envelope) -> list[Effect]:
        """Hand ``env`` to ``address`` as if the relay sent it."""
        dev = self.devices[address]
        return self.run(address, dev.session.receive_envelope(env, self.now))

    def call(self, address: str, contact: str, **kw: Any) -> Call:
        dev = self.devices[address]
        call, fx = dev.session.call(contact, self.now, **kw)
        self.run(address, fx)
        return call

    def lose_server(self, address: str) -> list[Effect]:
        """The device's transport to the relay drops (and stays down while unreachable)."""
        dev = self.devices[address]
        dev.reachable = False
        self._hub(dev, self.hub.disconnect(dev.conn, self.now))
        return self.run(address, dev.session.connection_lost(self.now))

    def advance(self, until: float) -> None:
        """Fire every timer due by ``until`` in deadline order (with what follows each)."""
        while True:
            due = [
                (deadline, address, tid)
                for address, dev in self.devices.items()
                for tid, deadline in dev.timers.items()
                if deadline <= until
            ]
            if not due:
                break
            deadline, address, tid = min(due)
            dev = self.devices[address]
            del dev.timers[tid]
            self.now = max(self.now, deadline)
            self._carry(dev, dev.session.timer_fired(tid, self.now))
            self.pump()
        self.now = max(self.now, until)

    def pump(self) -> None:
        steps = 0
        while self.queue:
            steps += 1
            assert steps < 10_000, "the network does not settle"
            address, item = self.queue.popleft()
            dev = self.devices[address]
            if isinstance(item, wire.Envelope):
                self._carry(dev, dev.session.receive_envelope(item, self.now))
            elif isinstance(item, media.MediaEvent):
                if isinstance(item, media.IceStateChanged):
                    dev.ice[item.call_id] = item.state
                    self._stack(dev).note_ice(item.call_id, item.state)
                self._carry(dev, dev.session.media_event(item, self.now))
            elif item == "open":
                if dev.reachable:
                    self._hub(dev, self.hub.connect(dev.conn, self.now))
                    self._carry(dev, dev.session.connection_made(self.now))
                else:
                    self._carry(dev, dev.session.connection_failed(self.now, "unreachable"))

    # --- internals ------------------------------------------------------------------------------

    def _hub(self, dev: Device, fx: Iterable[object]) -> None:
        for e in fx:
            if isinstance(e, Deliver):
                dest = self.hub.address(e.conn)
                if dest is not None and dest in self.devices:
                    self.queue.append((dest, e.envelope))
            elif isinstance(e, CloseConnection):
                pass

    def _carry(self, dev: Device, fx: list[Effect]) -> None:
        assert isinstance(fx, list) and all(isinstance(e, Effect) for e in fx), fx
        dev.log.extend(fx)
        dev.at.extend([self.now] * len(fx))
        for e in fx:
            if isinstance(e, StartTimer):
                dev.timers[e.timer_id] = e.deadline
            elif isinstance(e, CancelTimer):
                dev.timers.pop(e.timer_id, None)
            elif isinstance(e, Send):
                env = wire.Envelope(e.message, e.to)
                if self.lose is not None and self.lose(dev.address, env):
                    continue
                if dev.reachable:
                    self._hub(dev, self.hub.receive_envelope(dev.conn, env, self.now))
            elif isinstance(e, OpenTransport):
                self.queue.append((dev.address, "open"))
            elif isinstance(e, AcquireMedia):
                dev.acquired += 1
                if dev.on_acquire is None:
                    self._stack(dev).apply(e)
                else:
                    report = dev.on_acquire(e)
                    if report is not None:
                        self.queue.append((dev.address, report))
            elif isinstance(e, CreateOffer | CreateAnswer) and dev.on_describe is not None:
                report = dev.on_describe(e)
                if report is not None:
                    self.queue.append((dev.address, report))
                if isinstance(report, media.LocalDescriptionReady):
                    dev.local.add(report.call_id)
                    self._stack(dev).note_local(report.call_id, report.sdp_type, report.sdp)
            elif isinstance(e, CreateOffer | CreateAnswer):
                dev.local.add(e.call_id)
                self._stack(dev).apply(e)
            elif isinstance(e, ClosePeerConnection):
                dev.local.discard(e.call_id)
                dev.ice.pop(e.call_id, None)
                self._stack(dev).apply(e)
            else:
                self._stack(dev).apply(e)

    # --- the media stack's host (rtcstate.testing.fakemedia.MediaHost) ----------------------

    def later(self, delay: float, action: Callable[[], None]) -> None:
        action()  # the instant model: nothing waits

    def report(self, stack: FakeMediaStack, event: media.MediaEvent) -> None:
        self.queue.append((stack.name, event))

    def _stack(self, dev: Device) -> FakeMediaStack:
        assert dev.stack is not None
        dev.stack.auto_ice = dev.auto_ice
        return dev.stack


# --- a call in every state (one session; the peer is played by hand) ------------------------

ME = "me/d1"
PEER = "peer/p1"
PEER_CALL = "peer/p1-call-1"
ICE_STATES = ["new", "checking", "connected", "completed", "disconnected", "failed", "closed"]


@attrs.define
class Scene:
    """A session holding ``call``, and the time the scenario reached."""

    session: Session
    call: Call
    now: float

    def step(self, fx: list[Effect]) -> None:
        assert isinstance(fx, list) and all(isinstance(e, Effect) for e in fx), fx
        self.now += 0.1


def from_peer(msg: wire.Message, sender: str | None = PEER) -> wire.Envelope:
    return wire.Envelope(msg, ME, sender)


def scene_session() -> Session:
    """``me/d1``, connected, with a no-answer timeout (so every timer kind can be armed)."""
    calls = CallSettings(no_answer_timeout=45.0)
    return connected_session("me", "d1", calls)


def _unstarted(outgoing: bool, call_type: CallType) -> Scene:
    s = scene_session()
    call_id = s.ids("call") if outgoing else PEER_CALL
    remote = "peer" if outgoing else PEER
    call = Call(s, call_id, "peer", remote, call_type, outgoing=outgoing)
    s.attach("call_id", call.call_id, call)
    s.attach("request_id", call.call_id, call)
    return Scene(s, call, 1.0)


def caller_in(
    upto: str,
    *,
    call_type: CallType = CallType.MEDIA,
    ack_invite: bool = True,
    recording: bool = False,
    offline: bool = False,
) -> Scene:
    """A caller-side call driven into state ``upto`` through the public inputs."""
    if upto == "IDLE":
        return _unstarted(True, call_type)
    s = scene_session()
    call, fx = s.call("peer", 1.0, call_type=call_type)
    sc = Scene(s, call, 1.0)
    sc.step(fx)
    cid = call.call_id

    def reach(state: str) -> bool:
        assert call.state is CallState[state], (state, call.state)
        return upto == state

    def report(event: media.MediaEvent) -> None:
        sc.step(s.media_event(event, sc.now))

    def message(msg: wire.Message) -> None:
        sc.step(s.receive_envelope(from_peer(msg), sc.now))

    if not reach("PREPARING"):
        report(media.MediaAcquired(cid, "my-cam"))
        report(media.LocalDescriptionReady(cid, "offer", "my-offer"))
        if ack_invite:
            message(wire.Ack(cid, "invite"))
        if not reach("INVITING"):
            message(wire.Answer(cid, "their-answer"))
            if not reach("CONNECTING"):
                report(media.IceStateChanged(cid, "connected"))
                report(media.TrackAdded(cid, "t-a", "audio", "peer-cam"))
                report(media.TrackAdded(cid, "t-v", "video", "peer-cam"))
                if not reach("CONNECTED"):
                    if upto == "RECONNECTING":
                        report(media.IceStateChanged(cid, "disconnected"))
                    else:
                        sc.step(call.hangup(sc.now))
                        if not reach("ENDING"):
                            message(wire.Ack(cid, "bye"))
    assert call.state is CallState[upto], (upto, call.state)
    if recording:
        sc.step(call.start_recording(sc.now))
    if offline:
        sc.step(s.connection_lost(sc.now))
    return sc


def callee_in(upto: str, *, via: str = "hangup") -> Scene:
    """A callee-side call driven into state ``upto``; ``via`` ``decline`` reaches ENDING/ENDED by
    declining the invitation, ``remote_bye`` reaches ENDED by the caller cancelling."""
    if upto == "IDLE":
        return _unstarted(False, CallType.MEDIA)
    s = scene_session()
    sc = Scene(s, Call(s, "unused", "x", "x"), 1.0)
    invite = wire.Invite(PEER_CALL, CallType.MEDIA, "their-offer", lifetime=60.0)
    sc.step(s.receive_envelope(from_peer(invite), sc.now))
    call = s.get_call(PEER_CALL)
    assert call is not None and call.invitation is not None
    sc.call = call
    inv = call.invitation
    cid = PEER_CALL

    def report(event: media.MediaEvent) -> None:
        sc.step(s.media_event(event, sc.now))

    def message(msg: wire.Message) -> None:
        sc.step(s.receive_envelope(from_peer(msg), sc.now))

    if via == "decline":
        sc.step(inv.decline(sc.now))
    elif via == "remote_bye":
        message(wire.Bye(cid, HangupReason.HANGUP_FROM_CALLER.value))
    elif upto != "RINGING":
        sc.step(inv.accept(sc.now))
        if upto != "ANSWERING":
            report(media.MediaAcquired(cid, "my-cam"))
            report(media.LocalDescriptionReady(cid, "answer", "my-answer"))
            message(wire.Ack(cid, "answer"))
            if upto != "CONNECTING":
                report(media.IceStateChanged(cid, "connected"))
                report(media.TrackAdded(cid, "t-a", "audio", "peer-cam"))
                if upto == "RECONNECTING":
                    report(media.IceStateChanged(cid, "failed"))
                elif upto in ("ENDING", "ENDED"):
                    sc.step(call.hangup(sc.now))
    if upto == "ENDED" and via != "remote_bye":
        message(wire.Ack(cid, "bye"))
    assert call.state is CallState[upto], (upto, via, call.state)
    return sc


SCENARIOS: dict[str, Callable[[], Scene]] = {
    "caller-IDLE": lambda: caller_in("IDLE"),
    "caller-PREPARING": lambda: caller_in("PREPARING"),
    "caller-audio-PREPARING": lambda: caller_in("PREPARING", call_type=CallType.AUDIO),
    "caller-INVITING": lambda: caller_in("INVITING"),
    "caller-INVITING-unacked": lambda: caller_in("INVITING", ack_invite=False),
    "caller-CONNECTING": lambda: caller_in("CONNECTING"),
    "caller-CONNECTED": lambda: caller_in("CONNECTED"),
    "caller-CONNECTED-recording": lambda: caller_in("CONNECTED", recording=True),
    "caller-CONNECTED-offline": lambda: caller_in("CONNECTED", offline=True),
    "caller-screen-CONNECTED": lambda: caller_in("CONNECTED", call_type=CallType.SCREEN_SHARING),
    "caller-RECONNECTING": lambda: caller_in("RECONNECTING"),
    "caller-ENDING": lambda: caller_in("ENDING"),
    "caller-ENDED": lambda: caller_in("ENDED"),
    "callee-IDLE": lambda: callee_in("IDLE"),
    "callee-RINGING": lambda: callee_in("RINGING"),
    "callee-ANSWERING": lambda: callee_in("ANSWERING"),
    "callee-CONNECTING": lambda: callee_in("CONNECTING"),
    "callee-CONNECTED": lambda: callee_in("CONNECTED"),
    "callee-RECONNECTING": lambda: callee_in("RECONNECTING"),
    "callee-ENDING": lambda: callee_in("ENDING"),
    "callee-ENDING-declined": lambda: callee_in("ENDING", via="decline"),
    "callee-ENDED": lambda: callee_in("ENDED"),
    "callee-ENDED-declined": lambda: callee_in("ENDED", via="decline"),
    "callee-ENDED-expired": lambda: callee_in("ENDED", via="remote_bye"),
}
"""Scenario name -> a fresh scene; together they reach every CallState on both sides."""


def invite_sender(channel: Any, tries: int) -> ReliableSender | None:
    """The sender of a data channel's invite after ``tries`` unacknowledged sends (None: the
    invite was never sent, or it was acknowledged), to put a channel in a given shape."""
    if tries == 0:
        return None
    return ReliableSender(ReliableState.WAITING, [channel._invite()], tries)
