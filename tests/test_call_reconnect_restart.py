"""After its session reconnects to the relay, either side renegotiates its established calls
with an ICE restart, as apiRTC does for P2P calls whichever side lost the server (before: only
the caller did). When both reconnect at once their offers cross and perfect negotiation picks
one: the callee (polite) yields to the caller's."""

from __future__ import annotations

import pytest
from calltools import Net

from rtcstate import wire
from rtcstate.call import Call, CallState
from rtcstate.effects import CreateOffer, Drop, RestartIce, target
from rtcstate.negotiation import NegotiationDrop

A, B = "alice/d1", "bob/d1"


def connected(net: Net) -> tuple[Call, Call]:
    a = net.call(A, "bob")
    b = net[B].session.get_call(a.call_id)
    assert b is not None and b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    return a, b


def away(net: Net, *addresses: str, duration: float = 3.0) -> None:
    for address in addresses:
        net.lose_server(address)
    net.advance(net.now + duration)
    for address in addresses:
        net[address].reachable = True
    net.advance(net.now + 20.0)  # the retry reconnects; what follows settles
    for address in addresses:
        assert net[address].session.state.name == "CONNECTED"


def restarts(net: Net, address: str, call: Call) -> int:
    return net[address].log.count(RestartIce(call.call_id))


def quiet(net: Net, address: str, call: Call) -> None:
    """No hangup, no error on ``call`` at ``address``."""
    on = target("call", call.call_id)
    assert net[address].payloads("hangup", on) == []
    assert net[address].payloads("error", on) == []


def test_the_callee_restarts_ice_after_its_own_reconnection() -> None:
    net = Net(A, B)
    a, b = connected(net)
    sent_before = len(net[B].sent(wire.Update))
    away(net, B)
    assert restarts(net, B, b) == 1 and restarts(net, A, a) == 0
    assert CreateOffer(b.call_id, ice_restart=True) in net[B].log
    (update,) = net[B].sent(wire.Update)[sent_before:]
    assert isinstance(update, wire.Update) and update.seq == 1
    assert wire.UpdateOk(a.call_id, "answer-of-alice", seq=1) in net[A].sent(wire.UpdateOk)
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    quiet(net, A, a)
    quiet(net, B, b)
    net.run(A, a.hangup(net.now))
    assert a.state is CallState.ENDED and b.state is CallState.ENDED


@pytest.mark.parametrize("first", [A, B])
def test_both_sides_reconnect_and_one_renegotiation_wins(first: str) -> None:
    net = Net(A, B)
    a, b = connected(net)
    away(net, first, *(x for x in (A, B) if x != first))
    assert restarts(net, A, a) == 1 and restarts(net, B, b) == 1
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    # the offers crossed: the caller (impolite) ignored the callee's, the callee (polite)
    # yielded, answered the caller's restart, then made its own offer again, answered in turn
    glare = [e for e in net[A].log if isinstance(e, Drop) and e.reason is NegotiationDrop.GLARE]
    assert len(glare) == 1
    assert [m.seq for m in net[B].sent(wire.UpdateOk)] == [1]  # type: ignore[attr-defined]
    assert [m.seq for m in net[A].sent(wire.UpdateOk)] == [2]  # type: ignore[attr-defined]
    quiet(net, A, a)
    quiet(net, B, b)
    net.run(B, b.hangup(net.now))
    assert a.state is CallState.ENDED and b.state is CallState.ENDED
    for dev in (net[A], net[B]):
        assert dev.session.armed_timers() == frozenset()
