"""After a server reconnection a P2P call is renegotiated with an ICE restart, whichever side lost
the server, as apiRTC does (issue 16 point 2).

The caller restarts at once on its reconnection. The callee arms ``call:<id>:ice_restart`` for
``ice_restart_delay`` and restarts when it fires, unless the caller's update arrived meanwhile
(the caller lost the server too, a relay restart: its restart is enough, and two restarts do not
cross; over aiortc each is a new peer connection). When they still cross (the caller came back
later than the callee's delay), perfect negotiation settles it: the caller ignores the callee's
offer, the callee yields and answers; the call is never torn down.
"""

from __future__ import annotations

import pytest
from calltools import Net
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rtcstate import media, wire
from rtcstate.call import Call, CallState
from rtcstate.effects import (
    CancelTimer,
    CreateOffer,
    Drop,
    RestartIce,
    Send,
    StartTimer,
    target,
)
from rtcstate.negotiation import NegotiationDrop, NegotiationState
from rtcstate.settings import CallSettings

A, B = "alice/d1", "bob/d1"
DELAY = CallSettings().ice_restart_delay


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


def restart_times(net: Net, address: str, call: Call) -> list[float]:
    dev = net[address]
    return [t for t, e in zip(dev.at, dev.log, strict=True) if e == RestartIce(call.call_id)]


def reconnections(net: Net, address: str) -> list[float]:
    return [t for t, _ in net[address].timeline("reconnection", "session")]


def quiet(net: Net, address: str, call: Call) -> None:
    """No hangup, no error on ``call`` at ``address``."""
    on = target("call", call.call_id)
    assert net[address].payloads("hangup", on) == []
    assert net[address].payloads("error", on) == []


def glare(net: Net, address: str) -> list[Drop]:
    log = net[address].log
    return [e for e in log if isinstance(e, Drop) and e.reason is NegotiationDrop.GLARE]


def stable(call: Call) -> bool:
    neg = call._neg  # the call's negotiation sub-machine
    return neg is not None and neg.state is NegotiationState.STABLE


def end_cleanly(net: Net, a: Call, b: Call) -> None:
    net.run(A, a.hangup(net.now))
    net.advance(net.now + 60.0)
    assert a.state is CallState.ENDED and b.state is CallState.ENDED
    for dev in (net[A], net[B]):
        assert dev.session.armed_timers() == frozenset()


def test_a_callee_server_loss_alone_restarts_ice_after_the_delay() -> None:
    net = Net(A, B)
    a, b = connected(net)
    away(net, B)
    (back,) = reconnections(net, B)
    timer = f"call:{b.call_id}:ice_restart"
    assert StartTimer(timer, back + DELAY) in net[B].log
    assert restart_times(net, B, b) == [back + DELAY]
    assert CreateOffer(b.call_id, ice_restart=True) in net[B].log
    assert restarts(net, A, a) == 0
    # the callee's offer (its first renegotiation, seq 1) answered by the caller
    assert [m.seq for m in net[B].sent(wire.Update)] == [1]  # type: ignore[attr-defined]
    assert [m.seq for m in net[A].sent(wire.UpdateOk)] == [1]  # type: ignore[attr-defined]
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    assert stable(a) and stable(b)
    assert glare(net, A) == glare(net, B) == []
    quiet(net, A, a)
    quiet(net, B, b)
    end_cleanly(net, a, b)


def test_a_caller_server_loss_alone_restarts_at_once() -> None:
    net = Net(A, B)
    a, b = connected(net)
    away(net, A)
    (back,) = reconnections(net, A)
    assert restart_times(net, A, a) == [back]
    assert restarts(net, B, b) == 0
    assert f"call:{b.call_id}:ice_restart" not in {
        e.timer_id for e in net[B].log if isinstance(e, StartTimer)
    }
    assert stable(a) and stable(b)
    quiet(net, A, a)
    quiet(net, B, b)
    end_cleanly(net, a, b)


@pytest.mark.parametrize("first", [A, B])
def test_both_sides_reconnect_and_the_caller_alone_renegotiates(first: str) -> None:
    net = Net(A, B)
    a, b = connected(net)
    away(net, first, *(x for x in (A, B) if x != first))
    assert restarts(net, A, a) == 1 and restarts(net, B, b) == 0
    assert CreateOffer(a.call_id, ice_restart=True) in net[A].log
    # the callee armed its restart on its reconnection; the caller's update cancelled it
    timer = f"call:{b.call_id}:ice_restart"
    assert StartTimer(timer, reconnections(net, B)[0] + DELAY) in net[B].log
    assert CancelTimer(timer) in net[B].log
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    assert glare(net, A) == glare(net, B) == []
    assert [m.seq for m in net[B].sent(wire.UpdateOk)] == [1]  # type: ignore[attr-defined]
    quiet(net, A, a)
    quiet(net, B, b)
    net.run(B, b.hangup(net.now))
    assert a.state is CallState.ENDED and b.state is CallState.ENDED
    for dev in (net[A], net[B]):
        assert dev.session.armed_timers() == frozenset()


def test_crossing_restarts_the_caller_wins_and_the_call_stays_up() -> None:
    """The callee is back first and restarts after its delay; the caller comes back only then
    and restarts at once. Its offer reaches the callee first: the callee yields at once (its own
    offer withdrawn), answers and offers again, plainly; nothing is torn down."""
    net = Net(A, B)
    a, b = connected(net)
    net.lose_server(A)
    net.lose_server(B)
    net.advance(net.now + 2.0)
    net[B].reachable = True
    net.advance(net.now + DELAY + 1.5)  # bob back (0.1 s retry), his restart out, alice away
    assert restarts(net, B, b) == 1 and restarts(net, A, a) == 0
    net[A].reachable = True
    net.advance(net.now + 30.0)
    assert restarts(net, A, a) == 1
    assert glare(net, A) == glare(net, B) == []
    # alice's restart (her seq 1) answered by bob; bob's plain offer again (seq 2) by alice;
    # bob's restart (his seq 1) was withdrawn when he yielded
    assert [m.seq for m in net[B].sent(wire.UpdateOk)] == [1]  # type: ignore[attr-defined]
    assert [m.seq for m in net[A].sent(wire.UpdateOk)] == [2]  # type: ignore[attr-defined]
    assert CreateOffer(b.call_id, ice_restart=False) in net[B].log
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    assert stable(a) and stable(b)
    quiet(net, A, a)
    quiet(net, B, b)
    end_cleanly(net, a, b)


def test_restarts_crossing_on_the_wire_the_caller_ignores_the_callees() -> None:
    """As above, but the caller's offer is lost until the callee's retransmitted one reached
    the caller while its own was in flight: the impolite caller ignores it (glare), the callee
    then takes the caller's (its retransmission) and yields. One restart wins, the caller's."""
    net = Net(A, B)
    a, b = connected(net)
    net.lose_server(A)
    net.lose_server(B)
    net.advance(net.now + 2.0)
    net[B].reachable = True
    net.advance(net.now + DELAY + 1.5)
    net.lose = lambda sender, env: (
        sender == A and type(env.message) is wire.Update and not glare(net, A)
    )
    net[A].reachable = True
    net.advance(net.now + 30.0)
    assert restarts(net, A, a) == 1 and restarts(net, B, b) == 1
    assert [e.detail for e in glare(net, A)] == ["impolite side ignores update 1"]
    assert glare(net, B) == []
    assert [m.seq for m in net[B].sent(wire.UpdateOk)] == [1]  # type: ignore[attr-defined]
    assert [m.seq for m in net[A].sent(wire.UpdateOk)] == [2]  # type: ignore[attr-defined]
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    assert stable(a) and stable(b)
    quiet(net, A, a)
    quiet(net, B, b)
    end_cleanly(net, a, b)


def test_the_callee_restart_waits_for_ice_trouble_to_be_the_callers() -> None:
    """Back on the server while ICE is down (RECONNECTING): the callee does not restart, the
    caller's ICE restart (after ice_restart_delay of disconnection) does it."""
    net = Net(A, B)
    a, b = connected(net)
    net.lose_server(B)
    net.media(B, _ice(b, "disconnected"))
    net.media(A, _ice(a, "disconnected"))
    net[B].reachable = True
    net.advance(net.now + 20.0)
    assert restarts(net, B, b) == 0
    assert restarts(net, A, a) >= 1
    assert f"call:{b.call_id}:ice_restart" not in {
        e.timer_id for e in net[B].log if isinstance(e, StartTimer)
    }


def test_losing_the_server_again_before_the_delay_postpones_the_callee_restart() -> None:
    net = Net(A, B)
    a, b = connected(net)
    away(net, B, duration=1.0)  # restarts after its delay (within the 20 s away() waits)
    assert restarts(net, B, b) == 1
    net.lose_server(B)
    net.advance(net.now + 1.0)
    net[B].reachable = True
    net.advance(net.now + 0.5)  # back again: the restart is armed
    (_, back) = reconnections(net, B)
    net.lose_server(B)  # gone again before it fires: cancelled, no restart while away
    timer = f"call:{b.call_id}:ice_restart"
    assert net[B].log[-1] != StartTimer(timer, back + DELAY)
    net.advance(back + DELAY + 1.0)
    assert restarts(net, B, b) == 1
    net[B].reachable = True
    net.advance(net.now + 20.0)
    assert restarts(net, B, b) == 2
    assert stable(a) and stable(b)
    quiet(net, A, a)
    quiet(net, B, b)
    end_cleanly(net, a, b)


def _ice(call: Call, state: str) -> media.IceStateChanged:
    return media.IceStateChanged(call.call_id, state)


# --- property: any pattern of server losses within the window --------------------------------

LOSS = st.tuples(st.sampled_from([A, B]), st.floats(0.0, 12.0), st.floats(0.2, 20.0))


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(losses=st.lists(LOSS, min_size=1, max_size=5))
@example(losses=[(A, 0.0, 3.0), (B, 0.0, 3.0)])  # a relay restart
@example(losses=[(B, 0.0, 2.0), (A, 0.0, 10.0)])  # crossing restarts
def test_every_side_that_lost_the_server_is_renegotiated_and_the_call_stays_up(
    losses: list[tuple[str, float, float]],
) -> None:
    net = Net(A, B)
    a, b = connected(net)
    calls = {A: a, B: b}
    for side, wait, duration in losses:
        net.advance(net.now + wait)
        if net[side].session.state.name != "CONNECTED":
            continue  # still away from the last loss (each outage stays within the window)
        net.lose_server(side)
        net.advance(net.now + duration)
        net[side].reachable = True
    net.advance(net.now + 60.0)  # every side back; what follows settles
    for side in (A, B):
        assert net[side].session.state.name == "CONNECTED"
        assert calls[side].state is CallState.CONNECTED
        assert stable(calls[side])
        quiet(net, side, calls[side])
    assert glare(net, B) == []  # the polite callee never ignores an offer
    # each side that lost the server took part in an ICE restart that went through after its
    # last reconnection: one side restarted ICE, the far side answered its offer since then
    for side in (A, B):
        back = reconnections(net, side)
        if back:
            assert any(t >= back[-1] for t in _answered_restarts(net, calls)), (side, back)
    end_cleanly(net, a, b)


def _answered_restarts(net: Net, calls: dict[str, Call]) -> list[float]:
    """When an ICE restart (either side's) went through: the far side's answers to offers made
    after a ``RestartIce`` (every offer after a restart carries it)."""
    out: list[float] = []
    for side, far in ((A, B), (B, A)):
        fdev = net[far]
        answers = [
            t for t, e in zip(fdev.at, fdev.log, strict=True)
            if isinstance(e, Send) and type(e.message) is wire.UpdateOk
        ]  # fmt: skip
        restarted = restart_times(net, side, calls[side])
        out.extend(u for u in answers if restarted and u >= restarted[0])
    return out
