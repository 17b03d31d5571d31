"""A peer whose process dies mid-call: its media stops and it leaves the relay at once.

apiRTC ends such a call ``Ice_disconnected`` ``ice_disconnection_timeout`` (40 s) after the
disconnection; so must the survivor here, caller or callee: an ICE-restart ``update`` the dead
peer never answers does not abort the call (before: ``CALL_ABORTED`` / ``Unable_to_establish``
about 25 s after the disconnection), a later ICE ``failed`` does not push the deadline back, and
the ``bye`` the relay cannot deliver does not hold the ``hangup`` back for ``server_loss_window``
(before: 40 + 30 s).
"""

from __future__ import annotations

from typing import Any

import pytest
from calltools import Net

from rtcstate import media, wire
from rtcstate.call import Call, CallDrop, CallState
from rtcstate.codes import CallStatus, ErrorCode, HangupReason
from rtcstate.effects import Drop, RestartIce, target
from rtcstate.settings import CallSettings

A, B = "alice/d1", "bob/d1"
TIMEOUT = CallSettings().ice_disconnection_timeout
ICE_GONE = {"from": "local", "reason": HangupReason.ICE_DISCONNECTED.value}


def connected(net: Net) -> tuple[Call, Call]:
    a = net.call(A, "bob")
    b = net[B].session.get_call(a.call_id)
    assert b is not None and b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    return a, b


def kill(net: Net, address: str) -> None:
    """The process dies: the relay sees its connection close, nothing of it runs any more."""
    net.lose_server(address)
    net[address].timers.clear()


def hangups(net: Net, address: str, call: Call) -> list[tuple[float, Any]]:
    return net[address].timeline("hangup", target("call", call.call_id))


def errors(net: Net, address: str, call: Call) -> list[str]:
    return [p["errorCode"] for _, p in net[address].timeline("error", target("call", call.call_id))]


@pytest.mark.parametrize("survivor", ["caller", "callee"])
@pytest.mark.parametrize("failed_after", [None, 30.0])
def test_the_survivor_ends_ice_disconnected_at_the_ice_timeout(
    survivor: str, failed_after: float | None
) -> None:
    net = Net(A, B)
    a, b = connected(net)
    me, dead = (A, B) if survivor == "caller" else (B, A)
    call = a if survivor == "caller" else b
    net.now = 10.0
    kill(net, dead)
    net[me].auto_ice = False  # the dead peer answers nothing: ICE never comes back
    net.media(me, media.IceStateChanged(call.call_id, "disconnected"))  # the media stopped
    stopped = net.now
    if failed_after is not None:  # aiortc's consent expiry, about 30 s later
        net.advance(stopped + failed_after)
        net.media(me, media.IceStateChanged(call.call_id, "failed"))
    net.advance(stopped + TIMEOUT - 0.01)
    assert call.state is CallState.RECONNECTING and hangups(net, me, call) == []
    net.advance(stopped + TIMEOUT + 5.0)
    assert hangups(net, me, call) == [(stopped + TIMEOUT, ICE_GONE)]
    assert call.status is CallStatus.CALL_STATUS_ENDED
    assert ErrorCode.CALL_ABORTED.value not in errors(net, me, call)
    assert errors(net, me, call)[0] == ErrorCode.ICE_CONNECTION_STATE_DISCONNECTED.value
    if survivor == "caller":
        # it did restart ICE; the update went unanswered and was given up, nothing more
        assert RestartIce(call.call_id) in net[me].log
        assert any(
            isinstance(e, Drop) and e.reason is CallDrop.UPDATE_UNANSWERED for e in net[me].log
        )
    net.advance(net.now + 300.0)  # the bye kept for the window gives up; nothing is left
    assert call.state is CallState.ENDED and len(hangups(net, me, call)) == 1
    assert net[me].timers == {} and net[me].session.armed_timers() == frozenset()


def test_an_unanswered_restart_still_ends_a_call_that_never_connected() -> None:
    """The rows are per state: an answer never acknowledged during setup still aborts."""
    net = Net(A, B)
    a = net.call(A, "bob")
    b = net[B].session.get_call(a.call_id)
    assert b is not None and b.invitation is not None
    net.lose = lambda address, env: address == A and isinstance(env.message, wire.Ack)
    net[B].auto_ice = False
    net.run(B, b.invitation.accept(net.now))
    net.advance(net.now + 120.0)
    assert b.state is CallState.ENDED
    assert ErrorCode.CALL_ABORTED.value in errors(net, B, b)


def test_a_slow_peer_that_answers_the_restart_keeps_the_call() -> None:
    """Only a renegotiation given up while ICE is down is forgiven: a live peer answers it and
    the call recovers as before."""
    net = Net(A, B)
    a, b = connected(net)
    net.now = 10.0
    net.media(A, media.IceStateChanged(a.call_id, "disconnected"))
    net.advance(net.now + 10.0)  # the caller restarts ICE; bob answers; ICE connects again
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    assert hangups(net, A, a) == [] and hangups(net, B, b) == []
