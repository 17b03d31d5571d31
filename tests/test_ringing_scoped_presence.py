"""The ringing-callee presence rule with scoped presence (``presence_group=None``, ``serve
--presence-group ''``): a ringing callee that does not hear its caller's presence is told the
caller's devices by the relay itself (``ringing_peer``, rtcstate.hub.ringwatch), so a killed
caller's call stops ringing after ``server_loss_window``, as it does with the default group.

Also: the callee's contacts are untouched by it; a caller back within the window keeps the call
ringing; a callee that reconnects is told again when it acknowledges the invite again; a device
that hears the caller gets nothing more; nobody can make the relay watch a user for it (an
acknowledgement of an invite the relay did not ring there tells nothing); an answer or a bye
settles the watch, and the rest expires.
"""

from __future__ import annotations

from typing import Any

from calltools import Net

from rtcstate import wire
from rtcstate.call import Call, CallState
from rtcstate.codes import CallType, HangupReason
from rtcstate.effects import Emit, target
from rtcstate.hub import Deliver, Hub, HubEffect, Log
from rtcstate.wire import Envelope
from rtcstate.wire_contact import RingingPeer

A, B = "alice/d1", "bob/d1"
GONE = {"from": "remote", "reason": HangupReason.DISCONNECTED.value}
WINDOW = 30.0  # CallSettings().server_loss_window


class ScopedNet(Net):
    """A :class:`Net` whose relay has no default presence group; it records what reaches
    each device."""

    def __init__(self, group: str | None) -> None:
        super().__init__()
        self.hub = Hub(presence_group=group)
        self.got: dict[str, list[wire.Message]] = {}

    def _hub(self, dev: Any, fx: Any) -> None:
        fx = list(fx)
        for e in fx:
            if isinstance(e, Deliver):
                dest = self.hub.address(e.conn)
                if dest is not None:
                    self.got.setdefault(dest, []).append(e.envelope.message)
        super()._hub(dev, fx)


def scoped(*addresses: str, group: str | None = None) -> ScopedNet:
    net = ScopedNet(group)
    for address in addresses:
        net.add(address)
    return net


def restore(net: Net, address: str) -> None:
    """The device's transport works again (its session reconnects on its retry timer)."""
    net[address].reachable = True


def ring(net: Net) -> tuple[Call, Call]:
    a = net.call(A, "bob")
    b = net[B].session.get_call(a.call_id)
    assert b is not None and b.state is CallState.RINGING
    return a, b


def hangups(net: Net, call: Call) -> list[Any]:
    return net[B].payloads("hangup", target("call", call.call_id))


def told(net: ScopedNet) -> list[RingingPeer]:
    return [m for m in net.got.get(B, []) if isinstance(m, RingingPeer)]


def test_a_killed_callers_call_stops_ringing_with_scoped_presence() -> None:
    net = scoped(A, B)
    _, b = ring(net)
    assert told(net) == [RingingPeer("alice", [A])]  # at the invite's acknowledgement
    assert net[B].session.contacts == {}  # bob hears nobody's presence
    net.now = 10.0
    net.lose_server(A)
    net[A].timers.clear()
    assert net[B].timers == {f"call:{b.call_id}:peer_gone": 10.0 + WINDOW}
    net.advance(10.0 + WINDOW - 0.1)
    assert b.state is CallState.RINGING
    net.advance(10.0 + WINDOW)
    assert b.state is CallState.ENDED and hangups(net, b) == [GONE]
    # the contacts and their events are untouched: this is no presence
    assert net[B].session.contacts == {}
    assert not [e for e in net[B].log if isinstance(e, Emit) and e.event == "contactListUpdate"]


def test_a_caller_back_within_the_window_keeps_the_call_ringing() -> None:
    net = scoped(A, B)
    a, b = ring(net)
    net.now = 10.0
    net.lose_server(A)
    assert f"call:{b.call_id}:peer_gone" in net[B].timers
    assert told(net) == [RingingPeer("alice", [A]), RingingPeer("alice", [])]
    net.advance(15.0)
    restore(net, A)
    net.advance(16.0)
    assert told(net)[2:] == [RingingPeer("alice", [A])]
    assert f"call:{b.call_id}:peer_gone" not in net[B].timers
    net.advance(10.0 + 3 * WINDOW)
    assert b.state is CallState.RINGING and hangups(net, b) == []
    assert b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED


def test_a_callee_that_reconnects_is_told_again_and_keeps_ringing() -> None:
    net = scoped(A, B)
    _, b = ring(net)
    net.now = 10.0
    net.lose_server(B)
    net.advance(12.0)
    restore(net, B)
    net.advance(14.0)
    # its own reconnection armed peer_gone; the re-acknowledged invite got the caller's devices
    assert told(net) == [RingingPeer("alice", [A])] * 2
    assert f"call:{b.call_id}:peer_gone" not in net[B].timers
    net.advance(14.0 + 2 * WINDOW)
    assert b.state is CallState.RINGING and hangups(net, b) == []


def test_a_callee_that_hears_the_caller_is_not_told_twice() -> None:
    net = scoped(A, B, group="default")
    ring(net)
    assert told(net) == []


# --- the relay, sans-I/O -----------------------------------------------------------------------


def _nolog(fx: list[HubEffect]) -> list[HubEffect]:
    return [e for e in fx if not isinstance(e, Log)]


def _online(hub: Hub, *addresses: str) -> dict[str, str]:
    conns = {}
    for address in addresses:
        user, _, device = address.partition("/")
        conn = f"c-{address}"
        hub.connect(conn, 0.0)
        hub.receive_envelope(conn, Envelope(wire.Register(user, device)), 0.0)
        conns[address] = conn
    return conns


def _to(fx: list[HubEffect], conn: str) -> list[wire.Message]:
    return [e.envelope.message for e in fx if isinstance(e, Deliver) and e.conn == conn]


def _invite(hub: Hub, conn: str, call_id: str, to: str = "bob") -> None:
    hub.receive_envelope(conn, Envelope(wire.Invite(call_id, CallType.MEDIA, "o"), to), 0.0)


def _ack(hub: Hub, conn: str, call_id: str, to: str = A, now: float = 0.0) -> list[HubEffect]:
    msg = wire.Ack(call_id, "invite")
    return _nolog(hub.receive_envelope(conn, Envelope(msg, to), now))


def test_every_ringing_device_of_a_fork_is_told_and_an_answer_settles_the_watch() -> None:
    hub = Hub(presence_group=None)
    c = _online(hub, A, "bob/p1", "bob/p2")
    _invite(hub, c[A], "k1")
    for dev in ("bob/p1", "bob/p2"):
        assert _to(_ack(hub, c[dev], "k1"), c[dev]) == [RingingPeer("alice", [A])]
    assert hub._ring_watch.size() == 1
    fx = _nolog(hub.receive_envelope(c[A], Envelope(wire.Bye("k1", "x"), "bob"), 1.0))
    assert fx and hub._ring_watch.size() == 0
    # alice leaving now tells nobody
    fx = _nolog(hub.disconnect(c[A], 2.0))
    assert _to(fx, c["bob/p1"]) == [] and _to(fx, c["bob/p2"]) == []


def test_an_ack_of_an_invite_the_relay_did_not_ring_there_tells_nothing() -> None:
    hub = Hub(presence_group=None)
    c = _online(hub, A, B, "mallory/m")
    _invite(hub, c[A], "k1")
    # mallory acknowledges alice's call to bob, and a call that never was: nothing learnt
    assert _to(_ack(hub, c["mallory/m"], "k1"), c["mallory/m"]) == []
    assert _to(_ack(hub, c["mallory/m"], "nope"), c["mallory/m"]) == []
    fx = _nolog(hub.disconnect(c[A], 1.0))
    assert _to(fx, c["mallory/m"]) == []
    # and a client may not send one itself
    forged = Envelope(RingingPeer("alice", []), B)
    fx = _nolog(hub.receive_envelope(c["mallory/m"], forged, 1.0))
    assert _to(fx, c[B]) == []
    [answer] = _to(fx, c["mallory/m"])
    assert isinstance(answer, wire.ServerError) and answer.code == "forbidden"


def test_the_watch_expires_after_the_ring_timeout() -> None:
    hub = Hub(presence_group=None, ring_timeout=50.0)
    c = _online(hub, A, B)
    _invite(hub, c[A], "k1")
    _ack(hub, c[B], "k1")
    assert hub._ring_watch.size() == 1
    hub.tick(100.0)
    assert hub._ring_watch.size() == 0
    fx = _nolog(hub.disconnect(c[A], 101.0))
    assert _to(fx, c[B]) == []


def test_a_ringing_peer_from_a_device_is_dropped_as_forged() -> None:
    net = scoped(A, B)
    _, b = ring(net)
    fx = net[B].session.receive(wire.encode(RingingPeer("alice", []), sender="eve/x"), 1.0)
    assert [type(e).__name__ for e in fx] == ["Drop"]
    assert f"call:{b.call_id}:peer_gone" not in net[B].session.armed_timers()
