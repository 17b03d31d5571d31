"""Calls that end across a server loss: both ends agree on who ended them.

A side whose session is offline when its call ends tells its application at once (``hangup
{from: "local"}``); its ``bye`` waits for the reconnection. When the far side learns of the end
(that ``bye``, or an acknowledgement carrying the reason), it reports ``from: "remote"`` with
the same reason, even if it hung up too meanwhile (before: both reported ``local``). A side
whose ``server_loss_window`` ran out tells ``{local, disconnected}`` at once and the far side
learns that reason too. Only two ends that each told their application before hearing from the
other (each ended while offline, or its window ran out) both say ``local``.
"""

from __future__ import annotations

from typing import Any

from calltools import Net
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rtcstate.call import Call, CallState
from rtcstate.effects import Emit, StartTimer, target

A, B = "alice/d1", "bob/d1"
WINDOW = 30.0

SIDES = st.sampled_from([A, B])
ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("loss"), SIDES, st.floats(0.1, 20.0) | st.floats(20.0, 45.0)),
        st.tuples(st.just("back"), SIDES, st.just(0.0)),
        st.tuples(st.just("hangup"), SIDES, st.just(0.0)),
        st.tuples(st.just("wait"), SIDES, st.floats(0.0, 10.0)),
    ),
    min_size=1,
    max_size=8,
)


def connected(net: Net) -> tuple[Call, Call]:
    a = net.call(A, "bob")
    b = net[B].session.get_call(a.call_id)
    assert b is not None and b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    return a, b


def hangup_of(net: Net, address: str, call: Call) -> tuple[float, dict[str, Any]]:
    (got,) = net[address].timeline("hangup", target("call", call.call_id))
    return got


def unilateral(net: Net, address: str, call: Call, at: float) -> bool:
    """Whether ``address`` told its application at ``at`` without word from the far side:
    while its session was offline, or when a ``server_loss`` window of the call ran out."""
    dev = net[address]
    offline = False
    for e in dev.log:
        if isinstance(e, Emit) and e.event == "hangup" and e.target == target("call", call.call_id):
            break
        if isinstance(e, Emit) and e.target == "session":
            if e.event == "disconnect":
                offline = True
            elif e.event == "reconnection":
                offline = False
    windows = {
        e.deadline
        for e in dev.log
        if isinstance(e, StartTimer) and e.timer_id == f"call:{call.call_id}:server_loss"
    }
    return offline or at in windows


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(actions=ACTIONS)
# alice (caller) hangs up while offline; bob hangs up meanwhile: bob learns alice's end
@example(actions=[("loss", A, 5.0), ("hangup", A, 0.0), ("hangup", B, 0.0)])
# bob (callee) hangs up while offline; alice hangs up meanwhile (before: both "local")
@example(actions=[("loss", B, 5.0), ("hangup", B, 0.0), ("hangup", A, 0.0)])
def test_both_ends_agree_on_who_ended_a_call_across_server_losses(
    actions: list[tuple[str, str, float]],
) -> None:
    net = Net(A, B)
    a, b = connected(net)
    calls = {A: a, B: b}
    for action, side, arg in actions:
        if action == "loss" and net[side].reachable:
            net.lose_server(side)
            net.now += arg
        elif action == "back":
            net[side].reachable = True
        elif action == "hangup" and calls[side].status.value != "CALL_STATUS_ENDED":
            net.run(side, calls[side].hangup(net.now))
        elif action == "wait":
            net.advance(net.now + arg)
    for side in (A, B):
        net[side].reachable = True
    net.advance(net.now + 60.0)  # everyone is back
    for side in (A, B):
        if calls[side].status.value != "CALL_STATUS_ENDED":
            net.run(side, calls[side].hangup(net.now))
    net.advance(net.now + 300.0)
    assert a.state is CallState.ENDED and b.state is CallState.ENDED
    (ta, ha), (tb, hb) = hangup_of(net, A, a), hangup_of(net, B, b)
    if unilateral(net, A, a, ta) and unilateral(net, B, b, tb):
        return  # each told its application before hearing from the other
    assert {ha["from"], hb["from"]} == {"local", "remote"}, (ha, hb)
    assert ha["reason"] == hb["reason"], (ha, hb)
    for dev in (net[A], net[B]):
        assert dev.session.armed_timers() == frozenset()
