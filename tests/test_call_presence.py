"""A ringing callee call whose caller vanished from the relay (its process killed, or away longer
than ``server_loss_window`` after its ``bye`` was lost) ends when the relay's presence says so.

``no_answer_timeout`` is None by default (as apiRTC): without this, the call would ring for
ever. The relay broadcasts the caller user's remaining devices; the callee's session hands them
to that contact's ringing callee calls at once, which arm ``peer_gone`` for
``server_loss_window`` and end with ``hangup {remote, disconnected}`` (invitation EXPIRED) if
the device does not come back. Established calls and outgoing calls ignore presence.
"""

from __future__ import annotations

from typing import Any

import pytest
from calltools import Device, Net

from rtcstate import wire
from rtcstate.call import Call, CallState
from rtcstate.codes import CallStatus, HangupReason, InvitationStatus
from rtcstate.datachannel import ReceivedDataChannelInvitationState
from rtcstate.effects import SESSION, Send, StartTimer, target
from rtcstate.session import ROUTE_KINDS

A, B = "alice/d1", "bob/d1"
GONE = {"from": "remote", "reason": HangupReason.DISCONNECTED.value}
WINDOW = 30.0  # CallSettings().server_loss_window


def settled(dev: Device) -> None:
    """Nothing is left on ``dev``: no timer armed, no child held."""
    assert dev.timers == {}, dev.timers
    assert dev.session.armed_timers() == frozenset()
    for route in ROUTE_KINDS:
        assert dev.session.child_count(route) == 0, route
    assert dev.session.ringing_from("alice") == []


def ring(net: Net) -> tuple[Call, Call]:
    a = net.call(A, "bob")
    b = net[B].session.get_call(a.call_id)
    assert b is not None and b.state is CallState.RINGING and b.invitation is not None
    return a, b


def kill(net: Net, address: str) -> None:
    """The device's process dies: the relay sees its connection close; nothing of it runs."""
    net.lose_server(address)
    net[address].timers.clear()


def hangups(dev: Device, call: Call) -> list[Any]:
    return dev.payloads("hangup", target("call", call.call_id))


def peer_gone_timers(dev: Device) -> list[str]:
    return [t for t in dev.session.armed_timers() if t.endswith(":peer_gone")]


def test_a_killed_callers_call_stops_ringing_after_the_window() -> None:
    net = Net(A, B)
    _, b = ring(net)
    inv = b.invitation
    assert inv is not None
    net.now = 10.0
    kill(net, A)
    # at once, not after contact_disconnection_delay (10 s)
    assert net[B].timers == {
        f"call:{b.call_id}:peer_gone": 10.0 + WINDOW,
        "presence:alice:offline": 20.0,
    }
    net.advance(10.0 + WINDOW - 0.1)
    assert b.state is CallState.RINGING and hangups(net[B], b) == []
    net.advance(10.0 + WINDOW)
    assert b.state is CallState.ENDED
    assert inv.status is InvitationStatus.INVITATION_STATUS_EXPIRED
    where = target("invitation", inv.id)
    assert net[B].payloads("statusChange", where) == [
        {"status": InvitationStatus.INVITATION_STATUS_EXPIRED.value, "id": inv.id}
    ]
    assert net[B].payloads("expired", where) == [None]
    assert hangups(net[B], b) == [GONE]
    # one best-effort bye; the relay's user_not_found for it is dropped (nothing loops)
    byes = [e for e in net[B].log if isinstance(e, Send) and isinstance(e.message, wire.Bye)]
    assert [(e.to, e.message.reason) for e in byes] == [(A, HangupReason.DISCONNECTED.value)]
    settled(net[B])
    assert net[B].session.recently_ended(b.call_id)  # a late invite for it never rings


def test_a_caller_away_beyond_the_window_and_its_callee_agree_on_disconnected() -> None:
    net = Net(A, B)
    a, b = ring(net)
    net.now = 10.0
    net.lose_server(A)  # alive, but away from the relay for good
    net.advance(10.0 + 2 * WINDOW + 1.0)
    assert hangups(net[A], a) == [{"from": "local", "reason": HangupReason.DISCONNECTED.value}]
    assert hangups(net[B], b) == [GONE]
    assert a.state is CallState.ENDED and b.state is CallState.ENDED
    settled(net[B])


def test_a_caller_back_within_the_window_keeps_the_call_ringing() -> None:
    net = Net(A, B)
    a, b = ring(net)
    net.now = 10.0
    net.lose_server(A)
    assert peer_gone_timers(net[B]) == [f"call:{b.call_id}:peer_gone"]
    net[A].reachable = True
    net.advance(20.0)
    assert net[A].session.state.name == "CONNECTED"
    assert peer_gone_timers(net[B]) == []  # the relay listed alice/d1 again
    net.advance(10.0 + 3 * WINDOW)
    assert b.state is CallState.RINGING and hangups(net[B], b) == []
    assert b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED


def test_another_device_of_the_caller_coming_or_going_changes_nothing() -> None:
    net = Net(A, B)
    _, b = ring(net)
    net.add("alice/d2")
    net.lose_server("alice/d2")
    assert peer_gone_timers(net[B]) == []
    net.advance(100.0)
    assert b.state is CallState.RINGING


def test_answering_cancels_the_timer() -> None:
    net = Net(A, B)
    _, b = ring(net)
    net.now = 10.0
    net.lose_server(A)
    assert peer_gone_timers(net[B]) == [f"call:{b.call_id}:peer_gone"]
    assert b.invitation is not None
    net.run(B, b.invitation.accept(net.now))  # accepted while the caller is away
    assert peer_gone_timers(net[B]) == []
    assert net[B].session.ringing_from("alice") == []
    assert b.state is not CallState.ENDED


def test_a_connected_call_ignores_its_peer_leaving_the_relay() -> None:
    net = Net(A, B)
    a, b = ring(net)
    assert b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    net.now = 10.0
    kill(net, A)  # media is peer to peer: ICE, not presence, watches a dead peer
    net.advance(200.0)
    assert b.state is CallState.CONNECTED and hangups(net[B], b) == []
    assert not any(
        isinstance(e, StartTimer) and e.timer_id.endswith(":peer_gone") for e in net[B].log
    )


def test_outgoing_calls_ignore_the_callees_presence() -> None:
    net = Net(A, B)
    a, _ = ring(net)
    kill(net, B)
    net.advance(200.0)
    assert a.state is CallState.INVITING  # unchanged (no_answer_timeout is the caller's bound)
    assert peer_gone_timers(net[A]) == []


def test_our_own_reconnection_rearms_until_the_relay_lists_the_caller() -> None:
    # bob's session is away while alice's process dies: no presence reaches bob then, and the
    # relay's presence after bob's Registered no longer lists alice/d1
    net = Net(A, B)
    _, b = ring(net)
    net.now = 10.0
    net.lose_server(B)
    kill(net, A)
    net[B].reachable = True
    net.advance(20.0)
    assert net[B].session.state.name == "CONNECTED"
    (gone,) = peer_gone_timers(net[B])
    assert 10.0 + WINDOW < net[B].timers[gone] <= 20.0 + WINDOW  # from the reconnection
    net.advance(100.0)
    assert b.state is CallState.ENDED and hangups(net[B], b) == [GONE]
    settled(net[B])
    # and with the caller still there, the relay's presence cancels it
    net = Net(A, B)
    _, b = ring(net)
    net.now = 10.0
    net.lose_server(B)
    net[B].reachable = True
    net.advance(20.0)
    assert net[B].session.state.name == "CONNECTED"
    assert peer_gone_timers(net[B]) == []
    net.advance(200.0)
    assert b.state is CallState.RINGING


def test_many_ringing_calls_of_one_contact_are_all_told() -> None:
    net = Net(A, B, "carol/d1")
    calls = [ring(net)[1] for _ in range(3)]
    carol = net.call("carol/d1", "bob")
    net.run(B, calls[1].hangup(net.now))  # unlinked from the middle of the list
    assert [c.call_id for c in net[B].session.ringing_from("alice")] == [
        calls[2].call_id,
        calls[0].call_id,
    ]
    net.now = 10.0
    kill(net, A)
    net.advance(10.0 + WINDOW)
    assert calls[0].state is calls[2].state is CallState.ENDED
    assert hangups(net[B], calls[0]) == hangups(net[B], calls[2]) == [GONE]
    bob_carol = net[B].session.get_call(carol.call_id)
    assert bob_carol is not None and bob_carol.state is CallState.RINGING  # carol is there
    assert [c.call_id for c in net[B].session.ringing_from("carol")] == [carol.call_id]


def test_a_ringing_data_channel_invitation_expires_the_same_way() -> None:
    net = Net(A, B)
    _, fx = net[A].session.start_data_channel("bob", net.now, label="chat")
    net.run(A, fx)
    (inv,) = net[B].payloads("dataChannelInvitation", SESSION)
    assert inv.state is ReceivedDataChannelInvitationState.STANDBY
    net.now = 10.0
    kill(net, A)
    net.advance(10.0 + WINDOW)
    assert inv.state is ReceivedDataChannelInvitationState.EXPIRED
    where = target("invitation", inv.id)
    assert [(e.event, e.payload) for e in net[B].emitted(on=where)] == [
        ("statusChange", {"status": "INVITATION_STATUS_EXPIRED", "id": inv.id}),
        ("expired", None),
    ]
    settled(net[B])


def test_a_ringing_file_transfer_invitation_is_cancelled() -> None:
    net = Net(A, B)
    info = {"name": "f.bin", "type": "application/octet-stream", "size": 10}
    _, fx = net[A].session.send_file("bob", net.now, info)
    net.run(A, fx)
    (inv,) = net[B].payloads("fileTransferInvitation", SESSION)
    net.now = 10.0
    kill(net, A)
    net.advance(10.0 + WINDOW)
    statuses = [p["status"] for p in net[B].payloads("statusChange", f"invitation:{inv.id}")]
    assert statuses == [InvitationStatus.INVITATION_STATUS_CANCELLED.value]
    settled(net[B])


def test_a_caller_that_gave_up_while_the_callee_was_away_is_told_by_the_callee() -> None:
    """Bob's acknowledgement of the invite is lost; alice resends the invite while bob's only
    device is briefly away from the relay, gets ``user_not_found`` and ends (User_Not_Found).
    Alice keeps her bye going to bob's user (an earlier copy of the invite may ring a device now
    away); bob, back, takes it and stops ringing: both report User_Not_Found (before: bob rang
    for ever)."""
    net = Net(A, B)
    acks: list[wire.Envelope] = []

    def lose_invite_acks(address: str, env: wire.Envelope) -> bool:
        if isinstance(env.message, wire.Ack) and env.message.what == "invite" and not acks:
            acks.append(env)
            return True
        return False

    net.lose = lose_invite_acks
    a = net.call(A, "bob")
    b = net[B].session.get_call(a.call_id)
    assert acks and b is not None and b.state is CallState.RINGING
    net.lose_server(B)  # bob's only device is away
    net.advance(net.now + 1.0)  # alice's invite is resent to the bare user: nobody is there
    not_found = {"from": "remote", "reason": HangupReason.USER_NOT_FOUND.value}
    # alice's application heard the end at once; the call keeps its bye for bob's user
    assert a.status is CallStatus.CALL_STATUS_ENDED and hangups(net[A], a) == [not_found]
    assert a.state is CallState.ENDING
    assert b.state is CallState.RINGING
    net[B].reachable = True
    net.advance(net.now + 20.0)  # bob reconnects and acknowledges the invite again
    assert net[B].session.state.name == "CONNECTED"
    assert b.state is CallState.ENDED and hangups(net[B], b) == [not_found]
    assert a.state is CallState.ENDED and hangups(net[A], a) == [not_found]
    assert wire.Bye(a.call_id, HangupReason.USER_NOT_FOUND.value) in net[A].sent(wire.Bye)
    assert b.invitation is not None
    assert b.invitation.status is InvitationStatus.INVITATION_STATUS_EXPIRED
    settled(net[B])


@pytest.mark.parametrize("away", [1.0, WINDOW - 5.0])
def test_the_callee_stops_ringing_even_when_its_second_invite_ack_is_lost(away: float) -> None:
    """The data-channel fuzz's counterexample on a plain call: bob's acknowledgement of the
    invite is lost, alice's resent invite finds none of bob's devices (he is away) and alice
    ends User_Not_Found; bob, back, acknowledges the invite again and that is lost too. Alice's
    bye, kept going to bob's user, still reaches him: he stops ringing with her reason (before:
    his invitation stayed STANDBY for ever)."""
    net = Net(A, B)
    acks: list[wire.Envelope] = []

    def lose_invite_acks(address: str, env: wire.Envelope) -> bool:
        if isinstance(env.message, wire.Ack) and env.message.what == "invite":
            acks.append(env)
            return True
        return False

    net.lose = lose_invite_acks
    a = net.call(A, "bob")
    b = net[B].session.get_call(a.call_id)
    assert b is not None and b.state is CallState.RINGING
    net.lose_server(B)
    net.advance(net.now + away)
    net[B].reachable = True
    net.advance(net.now + 20.0)
    assert len(acks) == 2 and net[B].session.state.name == "CONNECTED"  # both acks lost
    not_found = {"from": "remote", "reason": HangupReason.USER_NOT_FOUND.value}
    assert b.state is CallState.ENDED and hangups(net[B], b) == [not_found]
    assert b.invitation is not None
    assert b.invitation.status is InvitationStatus.INVITATION_STATUS_EXPIRED
    assert a.state is CallState.ENDED and hangups(net[A], a) == [not_found]
    settled(net[A])
    settled(net[B])


def test_a_bye_kept_for_invite_copies_gives_up_after_the_window() -> None:
    """A callee that never comes back: alice's bye to its user stops after the window; the
    relay's refusals of it cost no attempt and end nothing twice."""
    net = Net(A, B)
    net.lose = lambda address, env: isinstance(env.message, wire.Ack)
    a = net.call(A, "bob")
    kill(net, B)
    net.advance(net.now + 1.0)
    assert a.state is CallState.ENDING and a.status is CallStatus.CALL_STATUS_ENDED
    byes_before = len(net[A].sent(wire.Bye))
    net.advance(net.now + WINDOW + 1.0)
    assert a.state is CallState.ENDED and len(net[A].sent(wire.Bye)) > byes_before
    assert hangups(net[A], a) == [{"from": "remote", "reason": HangupReason.USER_NOT_FOUND.value}]
    settled(net[A])


def test_an_invite_ack_for_a_call_that_ended_otherwise_is_only_dropped() -> None:
    """A late duplicate of the callee's invite acknowledgement, for a call that ended in any
    other way, gets no bye (it would override how the callee's call is ending)."""
    net = Net(A, B)
    a, b = ring(net)
    net.run(B, b.invitation.decline(net.now) if b.invitation else [])
    assert a.state is CallState.ENDED
    late = wire.Envelope(wire.Ack(a.call_id, "invite"), A, B)
    fx = net[A].session.receive_envelope(late, net.now)
    assert not [e for e in fx if isinstance(e, Send)]


def test_a_bye_the_relay_could_not_deliver_reaches_the_callee_when_it_is_back() -> None:
    """Alice hangs up while bob rings; her bye to the bare user is lost, its retransmission
    finds none of bob's devices (he is briefly away) and alice's call ends. Bob, back,
    acknowledges the invite again and hears alice's own reason: both ends agree."""
    net = Net(A, B)
    byes: list[wire.Envelope] = []

    def lose_first_bye(address: str, env: wire.Envelope) -> bool:
        if isinstance(env.message, wire.Bye) and not byes:
            byes.append(env)
            return True
        return False

    a, b = ring(net)
    net.lose = lose_first_bye
    net.run(A, a.hangup(net.now))
    assert byes
    net.lose_server(B)
    net.advance(net.now + 1.0)  # the bye is resent: the relay finds none of bob's devices
    assert a.state is CallState.ENDED
    assert b.state is CallState.RINGING
    net[B].reachable = True
    net.advance(net.now + 20.0)
    assert b.state is CallState.ENDED
    assert hangups(net[A], a) == [{"from": "local", "reason": "Hangup_From_Caller"}]
    assert hangups(net[B], b) == [{"from": "remote", "reason": "Hangup_From_Caller"}]
    settled(net[B])
