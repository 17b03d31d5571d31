"""DataChannel and ReceivedDataChannelInvitation: two-party flows through the real relay, every
(state, trigger) pair of both tables, agreement with ``transitions``, every (state, public input)
pair of a real channel, and a fuzz test over lossy signaling.

The media side is played by :class:`ChannelNet`, a :class:`~calltools.Net` whose fake adapter
also carries data channels: ``OpenDataChannel`` opens the channel on both ends (each adapter
reports ``DataChannelOpened`` under the same channel id), ``SendData`` delivers a
``DataChannelMessage`` to the other end, ``CloseDataChannel`` and ``ClosePeerConnection`` close
it on both ends.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from calltools import Device, Net, connected_session, invite_sender
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from rtcstate import media, wire
from rtcstate.call import Call, CallState
from rtcstate.call_factory import HOLD_TIME, MAX_HELD, DataCallHold, new_outgoing_call
from rtcstate.codes import (
    SEED_EVENTS,
    CallStatus,
    CallType,
    DataChannelStatus,
    DataChannelType,
    ErrorNumber,
    HangupFrom,
    HangupReason,
    InvitationStatus,
)
from rtcstate.datachannel import (
    CHUNK_SIZE,
    CLOSED_GRACE,
    FRAME_MAGIC,
    MAX_DATA,
    DataChannel,
    DataChannelState,
    ReceivedDataChannelInvitation,
    ReceivedDataChannelInvitationState,
    decode_frame,
    encode_frame,
)
from rtcstate.effects import (
    SESSION,
    CloseDataChannel,
    ClosePeerConnection,
    Drop,
    Effect,
    Emit,
    OpenDataChannel,
    Send,
    SendData,
    StartTimer,
)
from rtcstate.errors import RtcError
from rtcstate.machine import spec_of
from rtcstate.notices import CallDeclined, CallEnded
from rtcstate.session import ROUTE_KINDS, Session
from rtcstate.testing.exhaustive import check_differential, check_pair, pairs

A, B = "alice/d1", "bob/d1"
DS = DataChannelState
RS = ReceivedDataChannelInvitationState


class ChannelNet(Net):
    """A :class:`Net` whose fake adapter also carries data channels (see the module doc)."""

    def __init__(self, *addresses: str, auto_open: bool = True, **kw: Any) -> None:
        self.auto_open = auto_open
        self.ends: dict[str, tuple[str, ...]] = {}  # channel id -> the devices at its ends
        self.on_call: dict[str, str] = {}  # channel id -> its call id
        self.shut: set[str] = set()
        super().__init__(*addresses, **kw)

    def _carry(self, dev: Device, fx: list[Effect]) -> None:
        super()._carry(dev, fx)
        for e in fx:
            if isinstance(e, OpenDataChannel):
                self.shut.discard(e.channel_id)  # (opened again after a close)
                peers = [
                    a
                    for a, d in sorted(self.devices.items())
                    if a != dev.address
                    and (c := d.session.get_call(e.call_id)) is not None
                    and c.status is not CallStatus.CALL_STATUS_ENDED
                ]
                self.ends[e.channel_id] = (dev.address, *peers[:1])
                self.on_call[e.channel_id] = e.call_id
                if self.auto_open:
                    for a in self.ends[e.channel_id]:
                        self.queue.append((a, media.DataChannelOpened(e.channel_id)))
            elif isinstance(e, SendData):
                if e.channel_id in self.ends and e.channel_id not in self.shut:
                    for a in self.ends[e.channel_id]:
                        if a != dev.address:
                            self.queue.append((a, media.DataChannelMessage(e.channel_id, e.data)))
            elif isinstance(e, CloseDataChannel):
                self.close_channel(e.channel_id)
            elif isinstance(e, ClosePeerConnection):
                for ch, cid in list(self.on_call.items()):
                    if cid == e.call_id:
                        self.close_channel(ch)

    def close_channel(self, channel_id: str) -> None:
        """The channel closes: each end's adapter reports it (once)."""
        if channel_id in self.ends and channel_id not in self.shut:
            self.shut.add(channel_id)
            for a in self.ends[channel_id]:
                self.queue.append((a, media.DataChannelClosed(channel_id)))


def on(dc: DataChannel) -> str:
    return f"dataChannel:{dc.id}"


def events(dev: Device, dc: DataChannel) -> list[tuple[str, Any]]:
    """``(event, payload)`` of everything fired on ``dc`` on that device."""
    return [(e.event, e.payload) for e in dev.emitted(on=on(dc))]


def names(dev: Device, dc: DataChannel) -> list[str]:
    return [name for name, _ in events(dev, dc)]


def invitations(dev: Device, where: str = SESSION) -> list[ReceivedDataChannelInvitation]:
    return list(dev.payloads("dataChannelInvitation", where))


def start(net: Net, label: str = "chat", frm: str = A, to: str = "bob") -> DataChannel:
    dc, fx = net[frm].session.start_data_channel(to, net.now, label=label)
    net.run(frm, fx)
    return dc


def accepted(net: ChannelNet, label: str = "chat") -> tuple[DataChannel, DataChannel]:
    """alice starts a data channel to bob, bob accepts; both channels are ONGOING."""
    a = start(net, label)
    (inv,) = invitations(net[B])
    b, fx = inv.accept(net.now)
    net.run(B, fx)
    assert a.status is b.status is DataChannelStatus.DATACHANNEL_STATUS_ONGOING
    return a, b


def send(net: Net, frm: str, dc: DataChannel, data: str | bytes) -> tuple[str, list[Effect]]:
    uuid, fx = dc.send_data(net.now, data)
    net.run(frm, fx)
    return uuid, fx


def settled(net: Net) -> None:
    """Nothing is left: no timer armed, no child held, on any device."""
    for dev in net.devices.values():
        assert dev.timers == {}, (dev.address, dev.timers)
        assert dev.session.armed_timers() == frozenset()
        for route in ROUTE_KINDS:
            assert dev.session.child_count(route) == 0, (dev.address, route)


def info(uuid: str, size: int, sent: int, chunks: int, last: bool) -> dict[str, Any]:
    return {
        "uuid": uuid, "fileSize": size, "remainingSize": size - sent,
        "percentage": round(100.0 * sent / size, 2) if size else 100.0, "sendChunkNb": chunks,
        "transferDuration": 0.0, "lastPacket": last,
    }  # fmt: skip


# --- flows ------------------------------------------------------------------------------------

SCENARIOS: list[Callable[[], None]] = []


def scenario(fn: Callable[[], None]) -> Callable[[], None]:
    SCENARIOS.append(fn)
    return fn


@scenario
def test_open_send_both_ways_and_close() -> None:
    net = ChannelNet(A, B)
    a = start(net)
    assert a.type is DataChannelType.DATACHANNEL_TYPE_SEND
    assert a.status is DataChannelStatus.DATACHANNEL_STATUS_WAITING
    # the invite message went before the data call's invite, the SDK's order
    kinds = [type(m).__name__ for m in net[A].sent() if not isinstance(m, wire.Register)]
    assert kinds[:2] == ["DataChannelInvite", "Invite"]
    (inv,) = invitations(net[B])
    assert invitations(net[B], "contact:alice") == [inv]
    assert net[B].payloads("incomingCall") == []  # the data call is not surfaced
    assert inv.status is InvitationStatus.INVITATION_STATUS_STANDBY
    assert (inv.sender, inv.label, inv.channel_id, inv.id) == ("alice", "chat", a.id, a.call.id)
    assert events(net[A], a) == []  # nothing until bob answers
    b, fx = inv.accept(net.now)
    assert [e for e in fx if isinstance(e, Emit)] == [
        Emit(f"invitation:{inv.id}", "statusChange",
             {"status": "INVITATION_STATUS_ACCEPTED", "id": inv.id}),
    ]  # fmt: skip
    assert b.status is DataChannelStatus.DATACHANNEL_STATUS_WAITING
    assert b.type is DataChannelType.DATACHANNEL_TYPE_SEND  # as the SDK resolves it
    net.run(B, fx)
    assert events(net[A], a) == [
        ("accepted", None), ("response", None), ("opened", {"type": "sendDataChannelOpen"}),
    ]  # fmt: skip
    assert events(net[B], b) == [("opened", {"type": "receiveDataChannelOpen"})]
    assert OpenDataChannel(a.call.id, a.id, "chat") in net[A].log
    assert not any(isinstance(e, OpenDataChannel) for e in net[B].log)
    assert a.status is b.status is DataChannelStatus.DATACHANNEL_STATUS_ONGOING
    # alice -> bob, text
    uuid, fx = send(net, A, a, "hello")
    assert [e for e in fx if isinstance(e, Emit)] == [
        Emit(on(a), "transferProgress", info(uuid, 5, 5, 1, True)),
        Emit(on(a), "transferComplete", info(uuid, 5, 5, 1, True)),
    ]
    assert events(net[B], b)[-1] == ("dataReceived", {"uuid": uuid, "data": "hello"})
    # bob -> alice, bytes (the receiver's channel is SEND too)
    uuid2, _ = send(net, B, b, b"\x00\x01\xff")
    assert events(net[A], a)[-1] == ("dataReceived", {"uuid": uuid2, "data": b"\x00\x01\xff"})
    assert events(net[B], b)[-2:] == [
        ("transferProgress", info(uuid2, 3, 3, 1, True)),
        ("transferComplete", info(uuid2, 3, 3, 1, True)),
    ]
    # alice closes
    fx = a.close(net.now)
    assert a.status is DataChannelStatus.DATACHANNEL_STATUS_ENDED
    assert fx.index(CloseDataChannel(a.id)) < fx.index(ClosePeerConnection(a.call.id))
    net.run(A, fx)
    assert a.state is DS.ENDED and b.state is DS.ENDED
    assert events(net[A], a)[-2:] == [("closed", None), ("ended", {"from": "local"})]
    assert events(net[B], b)[-2:] == [("ended", {"from": "remote"}), ("closed", None)]
    assert a.call.state is CallState.ENDED and b.call.state is CallState.ENDED
    # the data call's own events never reached the application
    assert net[A].emitted(on=f"call:{a.call.id}") == []
    assert net[B].emitted(on=f"call:{b.call.id}") == []
    with pytest.raises(RtcError) as err:
        a.close(net.now)
    assert err.value.code is ErrorNumber.ERROR_WRONG_STATE
    settled(net)


@scenario
def test_receiver_closes() -> None:
    net = ChannelNet(A, B)
    a, b = accepted(net)
    net.run(B, b.close(net.now))
    assert events(net[B], b)[-2:] == [("closed", None), ("ended", {"from": "local"})]
    assert events(net[A], a)[-2:] == [("ended", {"from": "remote"}), ("closed", None)]
    assert names(net[A], a).count("closed") == 1 and names(net[B], b).count("closed") == 1
    settled(net)


@scenario
def test_data_call_first_then_the_invite_message() -> None:
    """The invite message is lost once: the data call arrives first and is held (no event),
    the retransmitted message pairs with it."""
    net = ChannelNet(A, B)
    lost: list[wire.Message] = []

    def lose_first_invite(address: str, env: wire.Envelope) -> bool:
        if isinstance(env.message, wire.DataChannelInvite) and not lost:
            lost.append(env.message)
            return True
        return False

    net.lose = lose_first_invite
    a = start(net)
    assert lost and invitations(net[B]) == []
    call = net[B].session.get_call(a.call.id)
    assert call is not None and call.state is CallState.RINGING and call.owner is None
    assert f"hold:{a.call.id}:expire" in net[B].timers
    assert net[B].emitted("incomingCall") == []
    net.advance(net.now + 0.5)  # the invite message is retransmitted
    (inv,) = invitations(net[B])
    assert call.owner is inv and call.invitation is None
    assert f"hold:{a.call.id}:expire" not in net[B].timers
    assert net[B].session.child_count("hold_id") == 0
    assert f"dataChannel:{a.id}:rtx" not in net[A].timers  # acknowledged
    b, fx = inv.accept(net.now)
    net.run(B, fx)
    assert b.state is DS.OPEN and a.state is DS.OPEN


def test_invite_message_first_is_held_until_the_data_call() -> None:
    s = connected_session("bob", "d1")
    peer = "alice/d1"
    invite_msg = wire.DataChannelInvite("ch-1", "call-1", "chat")
    fx = s.receive_envelope(wire.Envelope(invite_msg, "bob", peer), 1.0)
    assert fx == [Send(peer, wire.DataChannelAck("ch-1")), StartTimer("hold:call-1:expire", 31.0)]
    # a copy is acknowledged again, nothing else
    fx = s.receive_envelope(wire.Envelope(invite_msg, "bob", peer), 1.5)
    assert fx[0] == Send(peer, wire.DataChannelAck("ch-1")) and not any(
        isinstance(e, Emit) for e in fx
    )
    call_invite = wire.Invite("call-1", CallType.DATA, "offer")
    fx = s.receive_envelope(wire.Envelope(call_invite, "bob", peer), 2.0)
    emitted = [e for e in fx if isinstance(e, Emit)]
    assert [(e.target, e.event) for e in emitted] == [
        ("session", "dataChannelInvitation"), ("contact:alice", "dataChannelInvitation"),
    ]  # fmt: skip
    inv = emitted[0].payload
    assert isinstance(inv, ReceivedDataChannelInvitation) and emitted[1].payload is inv
    assert Send(peer, wire.Ack("call-1", "invite")) in fx
    assert "hold:call-1:expire" not in s.armed_timers()
    # copies after pairing are still acknowledged
    fx = s.receive_envelope(wire.Envelope(invite_msg, "bob", peer), 3.0)
    assert fx[0] == Send(peer, wire.DataChannelAck("ch-1"))


@scenario
def test_decline() -> None:
    net = ChannelNet(A, B)
    a = start(net)
    (inv,) = invitations(net[B])
    fx = inv.decline(net.now, "not now")
    assert inv.status is InvitationStatus.INVITATION_STATUS_DECLINED and inv.reason == "not now"
    byes = [e.message for e in fx if isinstance(e, Send) and isinstance(e.message, wire.Bye)]
    assert byes == [wire.Bye(inv.id, HangupReason.USER_REFUSED_CALL.value)]
    net.run(B, fx)
    assert net[B].payloads("statusChange", f"invitation:{inv.id}") == [
        {"status": "INVITATION_STATUS_DECLINED", "id": inv.id}
    ]
    # the SDK's order: ended (from the call's hangup), then declined and response
    assert events(net[A], a) == [
        ("ended", {"from": "remote"}), ("declined", None), ("response", None),
    ]  # fmt: skip
    assert a.state is DS.ENDED
    assert inv.decline(net.now) == [Drop("ignored", "decline of a DECLINED invitation")]
    with pytest.raises(RtcError) as err:
        inv.accept(net.now)
    assert err.value.code is ErrorNumber.ERROR_INVITATION_STATE_INVALID
    assert inv.state is RS.DECLINED
    settled(net)


@scenario
def test_initiator_hangs_up_while_standby_expires_the_invitation() -> None:
    net = ChannelNet(A, B)
    a = start(net)
    (inv,) = invitations(net[B])
    net.run(A, a.close(net.now))
    assert events(net[A], a) == [("ended", {"from": "local"})]  # never opened: no closed
    assert inv.status is InvitationStatus.INVITATION_STATUS_EXPIRED
    assert [(e.event, e.payload) for e in net[B].emitted(on=f"invitation:{inv.id}")] == [
        ("statusChange", {"status": "INVITATION_STATUS_EXPIRED", "id": inv.id}),
        ("expired", None),
    ]
    with pytest.raises(RtcError) as err:
        inv.accept(net.now)
    assert err.value.code is ErrorNumber.ERROR_INVITATION_STATE_INVALID
    assert inv.state is RS.EXPIRED and inv.data_channel is None
    settled(net)


@scenario
def test_closed_by_the_adapter_under_a_live_call() -> None:
    """bob's adapter reports the channel closed: ``closed``, still ONGOING but no sending,
    and after the grace bob hangs up; alice hears ``ended {remote}`` and ``closed``."""
    net = ChannelNet(A, B)
    a, b = accepted(net)
    net.media(B, media.DataChannelClosed(b.id))
    assert events(net[B], b)[-1] == ("closed", None)
    assert b.state is DS.CLOSED and b.status is DataChannelStatus.DATACHANNEL_STATUS_ONGOING
    with pytest.raises(RtcError) as err:
        b.send_data(net.now, "x")
    assert err.value.code is ErrorNumber.ERROR_OTHER
    assert f"dataChannel:{b.id}:grace" in net[B].timers
    net.advance(net.now + CLOSED_GRACE)
    assert events(net[B], b)[-1] == ("ended", {"from": "local"})
    assert names(net[B], b).count("closed") == 1
    assert events(net[A], a)[-2:] == [("ended", {"from": "remote"}), ("closed", None)]
    settled(net)


@scenario
def test_far_side_close_racing_its_bye_is_still_the_far_sides() -> None:
    """alice's adapter sees the channel close before bob's bye arrives: the bye, within the
    grace, decides: bob ended it."""
    net = ChannelNet(A, B)
    a, b = accepted(net)
    net.media(A, media.DataChannelClosed(a.id))
    assert a.state is DS.CLOSED and events(net[A], a)[-1] == ("closed", None)
    net.run(B, b.close(net.now))
    assert events(net[A], a)[-1] == ("ended", {"from": "remote"})
    assert events(net[B], b)[-1] == ("ended", {"from": "local"})
    assert names(net[A], a).count("closed") == 1
    settled(net)


@scenario
def test_undecodable_data_fires_the_sdk_error_of_each_role() -> None:
    net = ChannelNet(A, B)
    a, b = accepted(net)
    for frame in (b"junk", "a text message", bytes([FRAME_MAGIC]) + b"\x09" + bytes(20)):
        fx = net.media(B, media.DataChannelMessage(b.id, frame))
        assert fx[0] == Emit(on(b), "error", "receiveDataChannelError")
        assert isinstance(fx[1], Drop) and fx[1].reason == "undecodable-data"
    fx = net.media(A, media.DataChannelMessage(a.id, b"\xdc"))
    assert fx[0] == Emit(on(a), "error", "sendDataChannelError")
    # a chunk out of sequence drops its transfer; a good one after is delivered
    bad = encode_frame(2, True, "u-1", 3, 1, b"abc")
    assert net.media(B, media.DataChannelMessage(b.id, bad))[0].payload == (
        "receiveDataChannelError"
    )
    uuid, _ = send(net, A, a, "fine")
    assert events(net[B], b)[-1] == ("dataReceived", {"uuid": uuid, "data": "fine"})
    assert a.state is b.state is DS.OPEN


@scenario
def test_large_data_goes_in_chunks() -> None:
    net = ChannelNet(A, B)
    a, b = accepted(net)
    data = bytes(range(256)) * 160  # 40 960 bytes: three chunks
    uuid, fx = send(net, A, a, data)
    frames = [e.data for e in fx if isinstance(e, SendData)]
    assert len(frames) == 3 and all(isinstance(f, bytes) and f[0] == FRAME_MAGIC for f in frames)
    progress = [e.payload for e in fx if isinstance(e, Emit) and e.event == "transferProgress"]
    sizes = [CHUNK_SIZE, 2 * CHUNK_SIZE, len(data)]
    assert progress == [
        info(uuid, len(data), sent, n, n == 3) for n, sent in enumerate(sizes, start=1)
    ]
    assert events(net[B], b)[-1] == ("dataReceived", {"uuid": uuid, "data": data})
    # text is framed as UTF-8 and comes back as text
    text = "é" * CHUNK_SIZE
    uuid, _ = send(net, B, b, text)
    assert events(net[A], a)[-1] == ("dataReceived", {"uuid": uuid, "data": text})
    # the empty payload is one frame
    uuid, fx = send(net, A, a, b"")
    assert [e.payload for e in fx if isinstance(e, Emit)][-1] == info(uuid, 0, 0, 1, True)
    assert events(net[B], b)[-1] == ("dataReceived", {"uuid": uuid, "data": b""})


@scenario
def test_a_full_send_buffer_holds_the_chunks_back() -> None:
    net = ChannelNet(A, B)
    a, b = accepted(net)
    assert net.media(A, media.BufferedAmountHigh(a.id)) == []
    uuid, fx = send(net, A, a, "later")
    assert fx == []  # queued: nothing handed over, no progress yet
    net.now += 2.0
    fx = net.media(A, media.BufferedAmountLow(a.id))
    assert [type(e).__name__ for e in fx] == ["SendData", "Emit", "Emit"]
    assert fx[1].payload["transferDuration"] == 2.0
    assert events(net[B], b)[-1] == ("dataReceived", {"uuid": uuid, "data": "later"})


def test_send_data_misuse_raises_and_changes_nothing() -> None:
    net = ChannelNet(A, B, auto_open=False)
    a = start(net)
    for data in ("x", b"x"):
        with pytest.raises(RtcError) as err:
            a.send_data(net.now, data)  # WAITING
        assert err.value.code is ErrorNumber.ERROR_OTHER
    (inv,) = invitations(net[B])
    b, fx = inv.accept(net.now)
    net.run(B, fx)
    net.media(A, media.DataChannelOpened(a.id))
    ids_before = copy.deepcopy(net[A].session.ids)
    for bad in (3, None, ["x"], bytearray(MAX_DATA + 1)):
        with pytest.raises(RtcError) as err:
            a.send_data(net.now, bad)  # type: ignore[arg-type]
        assert err.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    assert net[A].session.ids == ids_before and a.state is DS.OPEN
    # bytearray and memoryview are bytes too
    uuid, _ = send(net, A, a, memoryview(b"mv"))
    net.media(B, media.DataChannelOpened(b.id))
    uuid, _ = send(net, A, a, bytearray(b"ba"))
    assert events(net[B], b)[-1] == ("dataReceived", {"uuid": uuid, "data": b"ba"})


def test_start_data_channel_misuse() -> None:
    s = Session(connected_session().config)
    with pytest.raises(RtcError) as err:
        s.start_data_channel("bob", 0.0)
    assert err.value.code is ErrorNumber.ERROR_WRONG_STATE
    s = connected_session()
    for contact in ("", "/x"):
        with pytest.raises(RtcError) as err:
            s.start_data_channel(contact, 0.0)
        assert err.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    with pytest.raises(RtcError) as err:
        s.start_data_channel("bob", 0.0, label=3)  # type: ignore[arg-type]
    assert err.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    s.media_event(media.Capabilities(data_channels=False), 0.0)
    with pytest.raises(RtcError) as err:
        s.start_data_channel("bob", 0.0)
    assert err.value.code is ErrorNumber.ERROR_OTHER
    assert s.calls() == {} and s.child_count("channel_id") == 0


@scenario
def test_no_data_channels_refuses_the_data_call() -> None:
    net = ChannelNet(A, B)
    net[B].session.media_event(media.Capabilities(data_channels=False), net.now)
    a = start(net)
    assert invitations(net[B]) == [] and net[B].emitted("incomingCall") == []
    assert events(net[A], a) == [
        ("ended", {"from": "remote"}), ("declined", None), ("response", None),
    ]  # fmt: skip
    refusals = [m for m in net[B].sent(wire.Bye)]
    assert refusals == [wire.Bye(a.call.id, HangupReason.DATACHANNEL_NOT_SUPPORTED.value)]
    net.advance(net.now + HOLD_TIME + 1)
    settled(net)


@scenario
def test_a_held_data_call_is_refused_when_its_message_never_comes() -> None:
    net = ChannelNet(A, B)
    net.lose = lambda address, env: isinstance(env.message, wire.DataChannelInvite)
    a = start(net)
    net.advance(net.now + HOLD_TIME)
    assert invitations(net[B]) == []
    assert wire.Bye(a.call.id, HangupReason.UNABLE_TO_ESTABLISH.value) in net[B].sent(wire.Bye)
    assert events(net[A], a) == [
        ("ended", {"from": "remote"}), ("declined", None), ("response", None),
    ]  # fmt: skip
    # the message was sent rtx_attempts times, then given up
    assert len(net[A].sent(wire.DataChannelInvite)) == 7
    settled(net)


def test_a_held_message_is_forgotten_silently() -> None:
    s = connected_session("bob", "d1")
    env = wire.Envelope(wire.DataChannelInvite("ch", "call-9", "l"), "bob", "alice/d1")
    s.receive_envelope(env, 0.0)
    # the relay's user_not_found naming the call id reaches the hold: nothing to do
    fx = s.receive_envelope(wire.Envelope(wire.UserNotFound("call-9", "alice")), 1.0)
    assert [type(e) for e in fx] == [Drop] and s.child_count("hold_id") == 1
    fx = s.timer_fired("hold:call-9:expire", HOLD_TIME)
    assert not any(isinstance(e, Emit | Send) for e in fx)
    assert s.child_count("hold_id") == 0 and s.armed_timers() == frozenset()


def test_what_is_held_is_bounded() -> None:
    s = connected_session("bob", "d1")
    peer = "alice/d1"
    for n in range(MAX_HELD):
        msg = wire.DataChannelInvite(f"ch-{n}", f"c-{n}", "l")
        assert s.receive_envelope(wire.Envelope(msg, "bob", peer), 0.0)[0] == Send(
            peer, wire.DataChannelAck(f"ch-{n}")
        )
    assert s.child_count("hold_id") == MAX_HELD
    # one more message: not held and not acknowledged (its sender retransmits it)
    fx = s.receive_envelope(
        wire.Envelope(wire.DataChannelInvite("ch-x", "c-x", "l"), "bob", peer), 0.0
    )
    assert fx == [Drop("too-many-held", "data_channel_invite for data call c-x not held")]
    # one more data call: refused as busy
    fx = s.receive_envelope(wire.Envelope(wire.Invite("c-y", CallType.DATA, "o"), "bob", peer), 0.0)
    assert Send(peer, wire.Bye("c-y", HangupReason.USER_BUSY.value)) in fx
    # a data call whose message waits pairs at once, and frees its place
    fx = s.receive_envelope(wire.Envelope(wire.Invite("c-3", CallType.DATA, "o"), "bob", peer), 0.0)
    assert [e.event for e in fx if isinstance(e, Emit)] == ["dataChannelInvitation"] * 2
    assert s.child_count("hold_id") == MAX_HELD - 1


def test_strangers_cannot_pair_or_acknowledge() -> None:
    s = connected_session("bob", "d1")
    peer, stranger = "alice/d1", "eve/x"
    s.receive_envelope(wire.Envelope(wire.Invite("c-1", CallType.DATA, "o"), "bob", peer), 0.0)
    fx = s.receive_envelope(
        wire.Envelope(wire.DataChannelInvite("ch", "c-1", "l"), "bob", stranger), 0.0
    )
    assert fx == [Drop("stranger", "eve/x named the data call c-1")]
    assert s.child_count("hold_id") == 1
    # nor may a forged message without a sender
    fx = s.receive_envelope(wire.Envelope(wire.DataChannelInvite("ch", "c-1", "l")), 0.0)
    assert fx == [Drop("forged", "a data_channel_invite must come from a peer")]
    # the initiator side ignores a stranger's ack
    alice = connected_session("alice", "d1")
    dc, _ = alice.start_data_channel("bob", 0.0)
    fx = alice.receive_envelope(wire.Envelope(wire.DataChannelAck(dc.id), "alice", stranger), 0.1)
    assert fx == [Drop("stranger", f"data_channel_ack from eve/x for data channel {dc.id}")]
    assert alice.timer_armed(f"dataChannel:{dc.id}:rtx")
    fx = alice.receive_envelope(wire.Envelope(wire.DataChannelAck(dc.id), "alice", "bob/p"), 0.2)
    assert not alice.timer_armed(f"dataChannel:{dc.id}:rtx")


@scenario
def test_an_unknown_contact_declines_at_once() -> None:
    net = ChannelNet(A, B)
    a = start(net, to="carol")
    assert events(net[A], a) == [
        ("ended", {"from": "remote"}), ("declined", None), ("response", None),
    ]  # fmt: skip
    assert a.state is DS.ENDED and net[A].sent(wire.DataChannelInvite) == [
        wire.DataChannelInvite(a.id, a.call.id, "chat")
    ]  # the relay's user_not_found stopped the retransmission
    settled(net)


@scenario
def test_bare_data_calls_are_never_incoming_calls() -> None:
    net = ChannelNet(A, B)
    call = net.call(A, "bob", call_type=CallType.DATA)
    assert net[B].emitted("incomingCall") == [] and invitations(net[B]) == []
    held = net[B].session.child("hold_id", call.call_id)
    assert isinstance(held, DataCallHold) and held.call is not None
    net.advance(net.now + HOLD_TIME)
    assert call.state is CallState.ENDED


@scenario
def test_multi_device_the_first_to_accept_wins() -> None:
    net = ChannelNet(A, "bob/d1", "bob/d2")
    a = start(net)
    (one,) = invitations(net["bob/d1"])
    (two,) = invitations(net["bob/d2"])
    b, fx = one.accept(net.now)
    net.run("bob/d1", fx)
    assert a.state is DS.OPEN and b.state is DS.OPEN
    assert two.state is RS.EXPIRED
    assert net["bob/d2"].payloads("expired", f"invitation:{two.id}") == [None]
    net.run(A, a.close(net.now))
    assert events(net["bob/d1"], b)[-2:] == [("ended", {"from": "remote"}), ("closed", None)]
    net.advance(net.now + 60)
    settled(net)


@scenario
def test_the_data_call_failing_ends_the_channel() -> None:
    net = ChannelNet(A, B, calls=None)
    a, b = accepted(net)
    net.media(A, media.IceStateChanged(a.call.id, "failed"))
    net.media(B, media.IceStateChanged(b.call.id, "failed"))
    net.advance(net.now + 60)
    assert a.state is DS.ENDED and b.state is DS.ENDED
    ends = [p for d, dc in ((net[A], a), (net[B], b)) for n, p in events(d, dc) if n == "ended"]
    assert sorted(p["from"] for p in ends) == ["local", "remote"]  # once each, complementary
    # the call's ICE errors stayed with the call: the application saw only its channel's events
    assert all(e.target.startswith(("dataChannel:", "session", "contact:", "userAgent"))
               for e in net[A].emitted())  # fmt: skip
    settled(net)


REQUIRED = {
    *{("DataChannel", e) for e in SEED_EVENTS["DataChannel"]},
    *{("ReceivedDataChannelInvitation", e) for e in SEED_EVENTS["ReceivedDataChannelInvitation"]},
    ("Session", "dataChannelInvitation"),
    ("Contact", "dataChannelInvitation"),
}


def test_every_data_channel_event_is_produced() -> None:
    nets: list[Net] = []
    Net.ALL = nets
    try:
        for run in SCENARIOS:
            run()
    finally:
        Net.ALL = None
    kinds = {"dataChannel": "DataChannel", "invitation": "ReceivedDataChannelInvitation",
             "session": "Session", "contact": "Contact"}  # fmt: skip
    produced = {
        (kinds.get(e.target.partition(":")[0], "?"), e.event)
        for net in nets
        for dev in net.devices.values()
        for e in dev.log
        if isinstance(e, Emit)
    }
    assert REQUIRED - produced == set()
    assert len(nets) >= len(SCENARIOS)


# --- frames -----------------------------------------------------------------------------------


@given(
    kind=st.sampled_from([1, 2]), last=st.booleans(), uuid=st.text(max_size=20),
    total=st.integers(0, 2**64 - 1), index=st.integers(0, 2**32 - 1), payload=st.binary(),
)  # fmt: skip
def test_frames_round_trip(
    kind: int, last: bool, uuid: str, total: int, index: int, payload: bytes
) -> None:
    uuid = uuid.encode("utf-8", "replace").decode("utf-8")
    frame = encode_frame(kind, last, uuid, total, index, payload)
    assert frame[0] == FRAME_MAGIC
    decoded = decode_frame(frame)
    assert not isinstance(decoded, str)
    assert (decoded.kind, decoded.last, decoded.uuid) == (kind, last, uuid)
    assert (decoded.total, decoded.index, decoded.payload) == (total, index, payload)


@given(data=st.binary(max_size=64) | st.text(max_size=20))
def test_decode_frame_never_raises(data: bytes | str) -> None:
    assert decode_frame(data) is not None


# --- table level ------------------------------------------------------------------------------

NOW = st.floats(0, 1e6, allow_nan=False, allow_infinity=False)


def _channel(cls: type[DataChannel] = DataChannel) -> DataChannel:
    """A DataChannel over an unstarted data call, attached as start_data_channel does."""
    s = connected_session("alice", "d1")
    call = new_outgoing_call(s, "bob", 0.0, call_type=CallType.DATA)
    dc = cls(s, "ch-1", call, "bob", "bob", "chat")
    call.owner = dc
    s.attach("channel_id", dc.id, dc)
    return dc


@attrs.frozen
class Shape:
    outgoing: bool
    requested: bool
    opened: bool
    told: bool
    rtx: int


SHAPES = st.builds(Shape, st.booleans(), st.booleans(), st.booleans(), st.booleans(),
                   st.integers(0, 3))  # fmt: skip


def _shape(dc: DataChannel, shape: Shape) -> None:
    dc.outgoing = shape.outgoing
    dc._requested = shape.requested
    dc._open = shape.opened
    dc._closed_told = shape.told
    dc._rtx = invite_sender(dc, shape.rtx)


CHANNEL_ARGS = {
    # the data call's notices (what it tells its owner), and the messages and reports the
    # rows read, as the generic dispatch passes them
    "call_ended": st.builds(
        lambda now, frm, reason: ((now,), {"notice": CallEnded.of(frm, reason)}),
        NOW, st.sampled_from(list(HangupFrom)), st.sampled_from(["Ice_failed", "x"]),
    ),
    "call_declined": st.builds(
        lambda now, reason: ((now,), {"notice": CallDeclined(reason)}),
        NOW, st.sampled_from(["User_Busy", "x"]),
    ),
    "invite_acked": st.builds(
        lambda now: ((now,), {"msg": wire.DataChannelAck("ch-1"), "sender": "bob/d1"}), NOW
    ),
    "invite_again": st.builds(
        lambda now, call: (
            (now,), {"msg": wire.DataChannelInvite("ch-1", call, "chat"), "sender": "bob/d1"}
        ),
        NOW, st.sampled_from(["alice/d1-call-1", "other"]),
    ),
    "data": st.builds(
        lambda now, data: ((now,), {"msg": media.DataChannelMessage("ch-1", data)}),
        NOW, st.binary(max_size=30),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("state", "trigger"), pairs(DataChannel))
def test_data_channel_every_state_trigger_pair(state: DataChannelState, trigger: str) -> None:
    check_pair(
        DataChannel, state, trigger, _channel, CHANNEL_ARGS, prepare=_shape,
        prepare_values=SHAPES, max_examples=10,
    )  # fmt: skip


def _invitation(cls: type[ReceivedDataChannelInvitation] = ReceivedDataChannelInvitation) -> Any:
    s = connected_session("bob", "d1")
    call = Call(s, "c-1", "alice", "alice/d1", CallType.DATA, outgoing=False)
    call.state = CallState.RINGING
    inv = cls(s, call, "ch-1", "chat", "alice/d1")
    call.owner = inv
    return inv


@pytest.mark.parametrize(("state", "trigger"), pairs(ReceivedDataChannelInvitation))
def test_received_invitation_every_state_trigger_pair(state: RS, trigger: str) -> None:
    check_pair(ReceivedDataChannelInvitation, state, trigger, _invitation, max_examples=10)


def test_compiled_data_channel_table_agrees_with_transitions() -> None:
    check_differential(
        DataChannel, _channel, CHANNEL_ARGS, prepare=_shape, prepare_values=SHAPES,
        max_examples=150,
    )  # fmt: skip


def test_compiled_received_invitation_table_agrees_with_transitions() -> None:
    check_differential(ReceivedDataChannelInvitation, _invitation, max_examples=60)


# --- input level ------------------------------------------------------------------------------


@attrs.define
class Scene:
    """A two-party net and the DataChannel under test on device ``at`` (the other is ``peer``)."""

    net: ChannelNet
    dc: DataChannel
    at: str
    peer: str

    @property
    def session(self) -> Session:
        return self.net[self.at].session


def _unstarted() -> Scene:
    net = ChannelNet(A, B, auto_open=False)
    s = net[A].session
    call = new_outgoing_call(s, "bob", net.now, call_type=CallType.DATA)
    dc = DataChannel(s, s.ids("dataChannel"), call, "bob", "bob", "chat")
    call.owner = dc
    s.attach("channel_id", dc.id, dc)
    return Scene(net, dc, A, B)


def side_in(side: str, upto: str) -> Scene:
    """The initiator's (``init``) or the receiver's (``recv``) DataChannel in state ``upto``,
    reached through the public inputs."""
    if upto == "IDLE":
        assert side == "init"
        return _unstarted()
    net = ChannelNet(A, B, auto_open=False)
    a = start(net)
    if upto == "INVITING":
        assert side == "init" and a.state is DS.INVITING
        return Scene(net, a, A, B)
    (inv,) = invitations(net[B])
    b, fx = inv.accept(net.now)
    net.run(B, fx)
    dc, at, peer = (a, A, B) if side == "init" else (b, B, A)
    if upto != "ACCEPTED":
        net.media(A, media.DataChannelOpened(a.id))
        net.media(B, media.DataChannelOpened(b.id))
        if upto == "CLOSED":
            net.media(at, media.DataChannelClosed(dc.id))
        elif upto == "ENDING":
            net.lose = lambda address, env: address == at and isinstance(env.message, wire.Bye)
            net.run(at, dc.close(net.now))
        elif upto == "ENDED":
            net.run(at, dc.close(net.now))
    assert dc.state is DS[upto], (side, upto, dc.state)
    return Scene(net, dc, at, peer)


STATE_SCENES = [
    ("init", "IDLE"), ("init", "INVITING"), ("init", "ACCEPTED"), ("init", "OPEN"),
    ("init", "CLOSED"), ("init", "ENDING"), ("init", "ENDED"), ("recv", "ACCEPTED"),
    ("recv", "OPEN"), ("recv", "CLOSED"), ("recv", "ENDING"), ("recv", "ENDED"),
]  # fmt: skip


def test_scenes_reach_every_data_channel_state() -> None:
    assert {DS[upto] for _, upto in STATE_SCENES} == set(DS)
    for side, upto in STATE_SCENES:
        assert side_in(side, upto).dc.outgoing is (side == "init")


# each input kind -> the triggers it may fire on the DataChannel (directly or through its call)
WIRE = {"dc_invite": (), "dc_ack": (), "user_not_found": ("call_ended",),
        "bye": ("call_ended",), "ack_bye": ("call_ended",)}  # fmt: skip
MEDIA = {"opened": ("opened",), "closed": ("channel_closed",), "message": (), "high": (),
         "low": (), "ice": ("call_ended",)}  # fmt: skip
TIMERS = {"timer:rtx": (), "timer:grace": ("grace_timer", "call_ended"), "timer:bogus": ()}
COMMANDS = {"close": ("close", "call_ended"), "send_data": ()}
KINDS = {**WIRE, **MEDIA, **TIMERS, "server_lost": (), "server_back": (), **COMMANDS}
TEXT = st.text(max_size=8)


def _closure(before: DataChannelState, triggers: tuple[str, ...]) -> set[DataChannelState]:
    spec = spec_of(DataChannel)
    reached, todo = {before}, [before]
    while todo:
        here = todo.pop()
        for t in triggers:
            for nxt in spec.destinations(here, t):
                if nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
    return reached


FRAMES = st.builds(
    encode_frame, st.sampled_from([1, 2, 7]), st.booleans(), st.sampled_from(["u", "v"]) | TEXT,
    st.integers(0, 40) | st.integers(0, 2**64 - 1), st.integers(0, 2) | st.integers(0, 2**32 - 1),
    st.binary(max_size=40),
)  # fmt: skip


def _drawn(kind: str, scene: Scene) -> st.SearchStrategy[Any]:
    ch, cid = scene.dc.id, scene.dc.call.call_id
    peer = st.sampled_from([scene.peer, scene.peer.partition("/")[0], "eve/x", None])
    ids = st.sampled_from([ch]) | TEXT
    calls = st.sampled_from([cid]) | TEXT
    msg: st.SearchStrategy[wire.Message]
    if kind in WIRE:
        msg = {
            "dc_invite": st.builds(wire.DataChannelInvite, st.just(ch), calls, TEXT),
            "dc_ack": st.builds(wire.DataChannelAck, st.just(ch)),
            "user_not_found": st.builds(wire.UserNotFound, st.just(ch), TEXT),
            "bye": st.builds(wire.Bye, st.just(cid), st.just("Hangup_From_Caller") | TEXT),
            "ack_bye": st.builds(wire.Ack, st.just(cid), st.just("bye"), st.none() | TEXT),
        }[kind]  # fmt: skip
        return st.tuples(msg, peer)
    if kind in MEDIA:
        return {
            "opened": st.builds(media.DataChannelOpened, ids),
            "closed": st.builds(media.DataChannelClosed, ids),
            "message": st.builds(media.DataChannelMessage, ids,
                                 FRAMES | st.binary(max_size=30) | TEXT),
            "high": st.builds(media.BufferedAmountHigh, ids),
            "low": st.builds(media.BufferedAmountLow, ids),
            "ice": st.builds(media.IceStateChanged, st.just(cid),
                             st.sampled_from(["connected", "disconnected", "failed", "closed"])),
        }[kind]  # fmt: skip
    if kind == "send_data":
        return TEXT | st.binary(max_size=40) | st.integers() | st.none()
    return st.none()


def _expected(dc: DataChannel, kind: str, data: Any) -> ErrorNumber | None:
    if kind == "close":
        return None if spec_of(DataChannel).allowed(dc.state, "close") else (
            ErrorNumber.ERROR_WRONG_STATE
        )  # fmt: skip
    if dc.state is not DS.OPEN or dc.call.status is CallStatus.CALL_STATUS_ENDED:
        return ErrorNumber.ERROR_OTHER
    return None if isinstance(data, str | bytes) else ErrorNumber.ERROR_BAD_PARAMETER


def _apply(scene: Scene, kind: str, drawn: Any, now: float) -> list[Effect]:
    s, dc = scene.session, scene.dc
    if kind in WIRE:
        msg, sender = drawn
        to_call = isinstance(msg, wire.Bye | wire.Ack)
        if sender is None and not isinstance(msg, wire.UserNotFound):
            sender = scene.peer if to_call else sender
        env = wire.Envelope(msg, scene.at, sender)
        return s.receive_envelope(env, now)
    if kind in MEDIA:
        return s.media_event(drawn, now)
    if kind.startswith("timer:"):
        name = kind.partition(":")[2]
        tid = f"dataChannel:{dc.id}:{name}"
        if s.timer_armed(tid):
            return s.timer_fired(tid, now)
        return dc.timer_fired(name, now)  # late or never armed: the channel itself copes
    if kind == "server_lost":
        return s.connection_lost(now)
    assert kind == "server_back"
    fx = s.connection_lost(now)
    if s.timer_armed("session:retry"):
        later = now + 60.0
        fx += s.timer_fired("session:retry", later)
        fx += s.connection_made(later)
        fx += s.receive_envelope(wire.Envelope(wire.Registered("x", "y", "sid2")), later)
    return fx


INPUT_PAIRS = [
    pytest.param(side, upto, kind, id=f"{side}-{upto}-{kind}")
    for side, upto in STATE_SCENES
    for kind in KINDS
]


@pytest.mark.parametrize(("side", "upto", "kind"), INPUT_PAIRS)
def test_every_data_channel_state_input_pair(side: str, upto: str, kind: str) -> None:
    probe = side_in(side, upto)

    @settings(
        max_examples=5, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )  # fmt: skip
    @given(drawn=_drawn(kind, probe), dt=st.sampled_from([0.0, 0.7, CLOSED_GRACE, 41.0]))
    def run(drawn: Any, dt: float) -> None:
        scene = side_in(side, upto)
        dc, s = scene.dc, scene.session
        now = scene.net.now + dt
        before = dc.state
        if kind in COMMANDS:
            expected = _expected(dc, kind, drawn)
            snap = snapshot(dc)
            timers = s.armed_timers()
            try:
                if kind == "close":
                    fx = dc.close(now)
                else:
                    _, fx = dc.send_data(now, drawn)
            except RtcError as exc:
                assert expected is not None, f"{kind}({drawn!r}) in {before.name} raised {exc}"
                assert exc.code is expected, (kind, before.name, exc.code, expected)
                assert snapshot(dc) == snap, f"{kind} in {before.name} changed the channel"
                assert s.armed_timers() == timers
                return
            assert expected is None, f"{kind}({drawn!r}) in {before.name} did not raise"
        else:
            fx = _apply(scene, kind, drawn, now)
        assert isinstance(fx, list) and all(isinstance(e, Effect) for e in fx), fx
        assert dc.state in _closure(before, KINDS[kind]), (kind, before, dc.state)
        if dc.state is DS.ENDED:
            assert s.child("channel_id", dc.id) is None, "an ended channel is still held"
            assert not any(t.startswith(f"dataChannel:{dc.id}:") for t in s.armed_timers())
        # what the application hears stays on the channel (the call's events never leak)
        assert not any(isinstance(e, Emit) and e.target.startswith("call:") for e in fx), fx

    run()


def snapshot(dc: DataChannel) -> Any:
    from rtcstate.testing.exhaustive import snapshot as snap

    return snap(dc)


INVITATION_STATES = ["STANDBY", "ACCEPTED", "DECLINED", "EXPIRED"]


def invitation_in(upto: str) -> tuple[ChannelNet, DataChannel, ReceivedDataChannelInvitation]:
    net = ChannelNet(A, B)
    a = start(net)
    (inv,) = invitations(net[B])
    if upto == "ACCEPTED":
        net.run(B, inv.accept(net.now)[1])
    elif upto == "DECLINED":
        net.run(B, inv.decline(net.now))
    elif upto == "EXPIRED":
        net.run(A, a.close(net.now))
    assert inv.state is RS[upto]
    return net, a, inv


@pytest.mark.parametrize("upto", INVITATION_STATES)
@pytest.mark.parametrize("kind", ["accept", "decline", "bye", "copy", "lifetime"])
def test_every_received_invitation_state_input_pair(upto: str, kind: str) -> None:
    net, _, inv = invitation_in(upto)
    before = inv.state
    snap = snapshot_inv(inv)
    if kind == "accept":
        if before is RS.STANDBY:
            dc, fx = inv.accept(net.now)
            assert inv.state is RS.ACCEPTED and inv.data_channel is dc
        else:
            with pytest.raises(RtcError) as err:
                inv.accept(net.now)
            assert err.value.code is ErrorNumber.ERROR_INVITATION_STATE_INVALID
            assert snapshot_inv(inv) == snap
        return
    if kind == "decline":
        fx = inv.decline(net.now)
        if before is RS.STANDBY:
            assert inv.state is RS.DECLINED
        else:
            assert all(isinstance(e, Drop) for e in fx) and snapshot_inv(inv) == snap
        return
    s = net[B].session
    if kind == "bye":
        env = wire.Envelope(wire.Bye(inv.id, "Hangup_From_Caller"), B, A)
        fx = s.receive_envelope(env, net.now)
        assert Send(A, wire.Ack(inv.id, "bye")) in fx
        assert inv.state is (RS.EXPIRED if before is RS.STANDBY else before)
    elif kind == "copy":
        env = wire.Envelope(wire.DataChannelInvite(inv.channel_id, inv.id, "chat"), B, A)
        fx = s.receive_envelope(env, net.now)
        assert fx[0] == Send(A, wire.DataChannelAck(inv.channel_id)) and inv.state is before
    else:  # the data call's lifetime (rtcstate's no-answer timeout) runs out
        fx = inv.call.timer_fired("lifetime", net.now)
        assert inv.state is before  # it expires when the call has ended (after the ack)
    assert not any(isinstance(e, Emit) and e.target.startswith("call:") for e in fx)


def snapshot_inv(inv: ReceivedDataChannelInvitation) -> Any:
    from rtcstate.testing.exhaustive import snapshot as snap

    return snap(inv)


# --- fuzz -------------------------------------------------------------------------------------

SIDES = st.sampled_from([A, B])
BULK = st.builds(lambda n, byte: bytes([byte]) * n, st.integers(0, 40_000), st.integers(0, 255))
SEND = st.tuples(st.just("send"), SIDES, st.text(max_size=30) | st.binary(max_size=30) | BULK)
ACTIONS = st.one_of(
    SEND,
    SEND,
    SEND,
    st.tuples(st.just("close"), SIDES, st.none()),
    st.tuples(st.just("channel_closed"), SIDES, st.none()),
    st.tuples(st.just("junk"), SIDES, st.binary(max_size=30)),
    st.tuples(st.just("high"), SIDES, st.none()),
    st.tuples(st.just("low"), SIDES, st.none()),
    st.tuples(st.just("wait"), SIDES, st.floats(0.0, 10.0)),
    st.tuples(st.just("server_loss"), SIDES, st.floats(0.1, 40.0)),
)


@settings(max_examples=600, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    drops=st.sets(st.integers(0, 14), max_size=3),
    answer=st.sampled_from(["accept", "accept", "accept", "decline", "ignore"]),
    answer_after=st.floats(0.0, 5.0),
    actions=st.lists(ACTIONS, min_size=1, max_size=12),
)
# bob away while ringing: the caller's invite retransmission gets user_not_found and the caller
# gives the call up (User_Not_Found); bob's re-ack after reconnecting is lost (drop 5)
@example(drops={3, 5}, answer="ignore", answer_after=0.0, actions=[("server_loss", B, 1.0)])
def test_fuzz_two_party_data_channels(
    drops: set[int], answer: str, answer_after: float, actions: list[tuple[str, str, Any]]
) -> None:
    net = ChannelNet(A, B)
    sent_count = [0]

    def lose(address: str, env: wire.Envelope) -> bool:
        if env.to is None:
            return False  # to the relay itself
        n = sent_count[0]
        sent_count[0] += 1
        return n in drops

    net.lose = lose
    a = start(net)
    net.advance(net.now + answer_after)
    chans: dict[str, DataChannel] = {A: a}
    sent: dict[str, list[Any]] = {A: [], B: []}
    invs = invitations(net[B])
    if invs and invs[0].state is RS.STANDBY and answer != "ignore":
        if answer == "accept":
            chans[B], fx = invs[0].accept(net.now)
        else:
            fx = invs[0].decline(net.now)
        net.run(B, fx)
        net.advance(net.now + 2.0)  # lost signaling is retransmitted by then
    for action, side, arg in actions:
        dc = chans.get(side)
        if action == "wait":
            net.advance(net.now + arg)
        elif action == "server_loss":
            net.lose_server(side)
            net.advance(net.now + arg)
            net[side].reachable = True
            net.advance(net.now + 60.0)  # the retry reconnects
        elif dc is None or dc.ended:
            continue
        elif (
            action == "send"
            and dc.state is DS.OPEN
            and dc.call.status is not (CallStatus.CALL_STATUS_ENDED)
        ):
            uuid, _ = send(net, side, dc, arg)
            sent[side].append((uuid, arg))
        elif action == "close" and spec_of(DataChannel).allowed(dc.state, "close"):
            net.run(side, dc.close(net.now))
        elif action == "channel_closed":
            net.close_channel(dc.id)
            net.pump()
        elif action == "junk":
            net.media(side, media.DataChannelMessage(dc.id, arg))
        elif action in ("high", "low"):
            report = media.BufferedAmountHigh if action == "high" else media.BufferedAmountLow
            net.media(side, report(dc.id))
    event(f"channels: {len(chans)}, data sent: {bool(sent[A] or sent[B])}")
    # wind down: whoever is still live closes, and every timer runs out
    net.lose = None
    for side, dc in chans.items():
        if spec_of(DataChannel).allowed(dc.state, "close"):
            net.run(side, dc.close(net.now))
    net.advance(net.now + 300.0)
    for dev in net.devices.values():
        dev.reachable = True
    net.advance(net.now + 300.0)
    away = any(action == "server_loss" for action, _, _ in actions)
    for inv in invitations(net[B]):
        # (a bye lost just before its sender stays away longer than server_loss_window is given
        # up with the call; the far side then stops ringing on the relay's presence)
        assert inv.state is not RS.STANDBY
    froms = []
    for side, dc in chans.items():
        assert dc.state is DS.ENDED, (side, dc.state)
        got = names(net[side], dc)
        assert got.count("ended") == 1 and got.count("closed") <= 1, got
        froms += [p["from"] for n, p in events(net[side], dc) if n == "ended"]
        other = B if side == A else A
        received = [p for n, p in events(net[other], chans[other]) if n == "dataReceived"] if (
            other in chans
        ) else []  # fmt: skip
        # what arrived was sent, in order, unaltered
        pairs_sent = [{"uuid": u, "data": d if isinstance(d, str) else bytes(d)}
                      for u, d in sent[side]]  # fmt: skip
        it = iter(pairs_sent)
        assert all(any(r == p for p in it) for r in received), (received, pairs_sent)
    # both ends agree on who ended it (the calls' promise: not when both ended while one of
    # them was away from the server, which announces its end at once)
    if len(chans) == 2 and not away:
        assert sorted(froms) == ["local", "remote"]
    for dev in net.devices.values():
        assert dev.timers == {}, dev.timers
        assert dev.session.armed_timers() == frozenset()
        assert not any(dev.session.child_count(r) for r in ROUTE_KINDS), dev.address
    # the data call's own events never reached the application once paired (a data call
    # never paired is a call nobody was told about, like one refused as busy)
    assert not any(e.target.startswith("call:") for e in net[A].emitted())
    if invitations(net[B]):
        assert not any(e.target.startswith("call:") for e in net[B].emitted())


def test_the_data_channels_guide_example_runs() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "datachannels.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2  # the toy relay and stack; the application's side
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, "datachannels.md", "exec"), namespace)
    channel, bob_channel = namespace["channel"], namespace["bob_channel"]
    assert channel.state is DS.ENDED and bob_channel.state is DS.ENDED
    assert namespace["invitation"].status is InvitationStatus.INVITATION_STATUS_ACCEPTED
