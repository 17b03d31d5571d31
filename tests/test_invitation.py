"""ReceivedCallInvitation and SentInvitation lifecycles: every status change fires exactly one
``statusChange {status, id}``, the deprecated ``expired`` / ``response`` events where the seed
has them, the expiry timer is cancelled by the answer, and answers after a decision are dropped.
"""

from __future__ import annotations

from typing import Any

import pytest
from calltools import (
    ME,
    PEER,
    PEER_CALL,
    Net,
    call_state,
    callee_in,
    connected_session,
    from_peer,
    invitation_state,
)

from rtcstate import media, wire
from rtcstate.call import Call, CallState
from rtcstate.codes import CallStatus, CallType, ErrorNumber, HangupReason, InvitationStatus
from rtcstate.effects import (
    SESSION,
    AcquireMedia,
    CancelTimer,
    Drop,
    Effect,
    Emit,
    Send,
    StartTimer,
    target,
)
from rtcstate.errors import RtcError
from rtcstate.invitation import (
    InvitationState,
    ReceivedCallInvitation,
    ReceivedCallInvitationState,
    SentInvitation,
)
from rtcstate.session import Session
from rtcstate.settings import CallSettings

A, B = "alice/d1", "bob/d1"
S = InvitationStatus


def status_changes(fx: list[Effect], inv_id: str) -> list[str]:
    return [
        e.payload["status"]
        for e in fx
        if isinstance(e, Emit) and e.event == "statusChange" and e.target == f"invitation:{inv_id}"
    ]


def ringing(net: Net, **kw: Any) -> tuple[Call, Call, ReceivedCallInvitation]:
    a = net.call(A, "bob", **kw)
    b = net[B].session.get_call(a.call_id)
    assert b is not None and b.invitation is not None
    return a, b, b.invitation


# --- ReceivedCallInvitation ---------------------------------------------------------------------


def test_incoming_call_invitation_properties() -> None:
    net = Net(A, B)
    a, b, inv = ringing(net, call_type=CallType.AUDIO)
    assert inv.id == a.call_id == b.call_id
    assert inv.sender == "alice" and inv.call_type == "audio"
    assert inv.status is S.INVITATION_STATUS_STANDBY and inv.call is b
    assert b.status is CallStatus.CALL_STATUS_WAITING_FOR_CALLEE
    # the same invitation on the session and on the contact (rtcstate builds one, not two)
    assert net[B].payloads("incomingCall", SESSION) == [inv]
    assert net[B].payloads("incomingCall", "contact:alice") == [inv]
    assert net[B].payloads("statusChange") == []  # nothing changed yet


def test_accept_makes_it_accepted_and_the_call_ongoing_at_once() -> None:
    net = Net(A, B)
    net[B].on_acquire = lambda e: None  # media pending: the call stays ANSWERING
    _, b, inv = ringing(net)
    fx = net.run(B, inv.accept(net.now))
    assert status_changes(fx, inv.id) == [S.INVITATION_STATUS_ACCEPTED.value]
    assert fx[0] == Emit(
        target("invitation", inv.id),
        "statusChange",
        {"status": S.INVITATION_STATUS_ACCEPTED.value, "id": inv.id},
    )
    assert inv.state is ReceivedCallInvitationState.ACCEPTED
    assert b.state is CallState.ANSWERING and b.status is CallStatus.CALL_STATUS_ONGOING
    assert [e for e in fx if isinstance(e, AcquireMedia)] == [
        AcquireMedia(b.call_id, "media", audio=True, video=True)
    ]


def test_accept_audio_only_asks_for_audio_only() -> None:
    net = Net(A, B)
    _, b, inv = ringing(net)
    fx = net.run(B, inv.accept(net.now, audio_only=True))
    assert [e for e in fx if isinstance(e, AcquireMedia)] == [
        AcquireMedia(b.call_id, "audio", audio=True, video=False)
    ]
    assert b.audio_only and b.state is CallState.CONNECTED


def test_accepted_invitation_stays_accepted_when_the_call_ends() -> None:
    net = Net(A, B)
    a, b, inv = ringing(net)
    net.run(B, inv.accept(net.now))
    net.run(A, a.hangup(net.now))
    assert b.state is CallState.ENDED
    assert inv.state is ReceivedCallInvitationState.ACCEPTED
    assert net[B].payloads("statusChange") == [
        {"status": S.INVITATION_STATUS_ACCEPTED.value, "id": inv.id}
    ]
    assert net[B].payloads("expired") == []


@pytest.mark.parametrize("reason", [None, "Not now", HangupReason.USER_BUSY])
def test_decline_carries_its_reason_to_the_caller(reason: str | None) -> None:
    net = Net(A, B)
    a, b, inv = ringing(net)
    fx = net.run(B, inv.decline(net.now) if reason is None else inv.decline(net.now, reason))
    sent = str(reason) if reason is not None else HangupReason.USER_REFUSED_CALL.value
    assert status_changes(fx, inv.id) == [S.INVITATION_STATUS_DECLINED.value]
    assert [m for m in net[B].sent(wire.Bye)] == [wire.Bye(b.call_id, sent)]
    assert net[A].payloads("declined", target("call", a.call_id)) == [{"reason": sent}]
    assert inv.state is ReceivedCallInvitationState.DECLINED
    assert b.state is CallState.ENDED and a.state is CallState.ENDED


def test_caller_hanging_up_expires_the_ringing_invitation() -> None:
    net = Net(A, B)
    a, b, inv = ringing(net)
    net.run(A, a.hangup(net.now))
    where = target("invitation", inv.id)
    events = [(e.event, e.payload) for e in net[B].emitted(on=where)]
    assert events == [
        ("statusChange", {"status": S.INVITATION_STATUS_EXPIRED.value, "id": inv.id}),
        ("expired", None),
    ]
    assert inv.status is S.INVITATION_STATUS_EXPIRED
    assert b.state is CallState.ENDED


def test_invite_lifetime_expires_the_invitation_on_both_sides() -> None:
    net = Net(A, B, calls=CallSettings(no_answer_timeout=20.0))
    a, b, inv = ringing(net)
    assert net[A].sent(wire.Invite)[0].lifetime == 20.0
    net.advance(19.9)
    assert inv.state is ReceivedCallInvitationState.STANDBY
    net.advance(20.0)
    assert inv.state is ReceivedCallInvitationState.EXPIRED
    assert net[B].payloads("expired", target("invitation", inv.id)) == [None]
    reason = HangupReason.NO_ANSWER.value
    assert [p["reason"] for p in net[A].payloads("hangup")] == [reason]
    assert [p["reason"] for p in net[B].payloads("hangup")] == [reason]
    assert a.state is CallState.ENDED and b.state is CallState.ENDED
    assert net[A].timers == {} and net[B].timers == {}


def test_accept_cancels_the_lifetime_timer() -> None:
    net = Net(A, B, calls=CallSettings(no_answer_timeout=20.0))
    a, b, inv = ringing(net)
    assert f"call:{b.call_id}:lifetime" in net[B].timers
    fx = net.run(B, inv.accept(net.now))
    assert CancelTimer(f"call:{b.call_id}:lifetime") in fx
    net.advance(100.0)
    assert inv.state is ReceivedCallInvitationState.ACCEPTED
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED


@pytest.mark.parametrize(
    ("via", "status"),
    [
        ("accept", ReceivedCallInvitationState.ACCEPTED),
        ("decline", ReceivedCallInvitationState.DECLINED),
        ("expire", ReceivedCallInvitationState.EXPIRED),
    ],
)
def test_decided_invitation_refuses_accept_and_ignores_decline(
    via: str, status: ReceivedCallInvitationState
) -> None:
    net = Net(A, B)
    net[B].on_acquire = lambda e: None
    a, b, inv = ringing(net)
    if via == "accept":
        net.run(B, inv.accept(net.now))
    elif via == "decline":
        net.run(B, inv.decline(net.now))
    else:
        net.run(A, a.hangup(net.now))
    assert inv.state is status
    before_call, before_inv = call_state(b), invitation_state(inv)
    log = len(net[B].log)
    with pytest.raises(RtcError) as info:
        inv.accept(net.now)
    assert info.value.code is ErrorNumber.ERROR_INVITATION_STATE_INVALID
    assert int(info.value.code) == 10
    fx = inv.decline(net.now, "again")
    assert all(isinstance(e, Drop) for e in fx) and fx
    assert call_state(b) == before_call and invitation_state(inv) == before_inv
    assert len(net[B].log) == log


def test_user_accept_off_accepts_at_once() -> None:
    net = Net(A, B)
    net[B].session.set_option("user_accept_on_incoming_call", False)
    a, b, inv = ringing(net)
    assert net[B].payloads("incomingCall", SESSION) == [inv]
    assert net[B].payloads("statusChange") == [
        {"status": S.INVITATION_STATUS_ACCEPTED.value, "id": inv.id}
    ]
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED


def test_screen_sharing_is_accepted_without_an_invitation_event() -> None:
    net = Net(A, B)
    a, b, inv = ringing(net, call_type=CallType.SCREEN_SHARING)
    assert inv.state is ReceivedCallInvitationState.ACCEPTED
    assert net[B].payloads("incomingCall") == []
    assert net[B].payloads("incomingScreenSharingCall", SESSION) == [b]
    assert a.state is CallState.CONNECTED


def test_duplicate_invite_does_not_ring_twice() -> None:
    sc = callee_in("RINGING")
    s = sc.session
    invite = wire.Invite(PEER_CALL, CallType.MEDIA, "their-offer", lifetime=60.0)
    fx = s.receive_envelope(from_peer(invite), sc.now)
    assert fx == [Send(PEER, wire.Ack(PEER_CALL, "invite"))]
    assert sc.call.invitation is not None
    assert sc.call.invitation.state is ReceivedCallInvitationState.STANDBY


def test_invite_after_its_bye_never_rings() -> None:
    s = connected_session("me", "d1")
    bye = s.receive_envelope(from_peer(wire.Bye(PEER_CALL, "Hangup_From_Caller")), 1.0)
    assert bye[0] == Send(PEER, wire.Ack(PEER_CALL, "bye"))
    fx = s.receive_envelope(from_peer(wire.Invite(PEER_CALL, CallType.MEDIA, "o")), 1.1)
    assert all(isinstance(e, Drop) for e in fx) and s.calls() == {}
    assert not any(isinstance(e, Emit) for e in fx)


def test_forged_invite_without_a_sender_is_dropped() -> None:
    s = connected_session("me", "d1")
    fx = s.receive_envelope(wire.Envelope(wire.Invite("x-1", CallType.MEDIA, "o"), ME), 1.0)
    assert fx == [Drop("forged", "an invite must come from a peer")] and s.calls() == {}


# --- SentInvitation ------------------------------------------------------------------------------


def tracked(
    expiration: float | None = 10.0, inv_id: str = "sent-1"
) -> tuple[Session, SentInvitation]:
    s = connected_session("me", "d1")
    inv = SentInvitation(inv_id, "peer", expiration_time=expiration)
    fx = s.track_invitation(inv, 0.0)
    assert fx == ([] if expiration is None else [wire_timer(inv_id, expiration)])
    assert s.children("invitation_id") == {inv_id: inv}
    return s, inv


def wire_timer(inv_id: str, deadline: float) -> Effect:
    return StartTimer(f"invitation:{inv_id}:expire", deadline)


def answer(s: Session, inv_id: str, choice: wire.AnswerChoice, now: float = 1.0,
           reason: str | None = None) -> list[Effect]:  # fmt: skip
    env = wire.Envelope(wire.InviteAnswer(inv_id, choice, reason), ME, PEER)
    return s.receive_envelope(env, now)


def decided(inv_id: str, state: InvitationState) -> list[Effect]:
    where = target("invitation", inv_id)
    return [
        Emit(where, "statusChange", {"status": state.value, "id": inv_id}),
        Emit(where, "response", state.value),
    ]


@pytest.mark.parametrize(
    ("choice", "state"),
    [(wire.AnswerChoice.ACCEPT, InvitationState.ACCEPTED),
     (wire.AnswerChoice.DECLINE, InvitationState.DECLINED)],
)  # fmt: skip
def test_answer_decides_and_cancels_the_expiry(
    choice: wire.AnswerChoice, state: InvitationState
) -> None:
    s, inv = tracked()
    fx = answer(s, inv.id, choice, reason="why")
    assert fx[0] == CancelTimer(f"invitation:{inv.id}:expire")
    assert fx[1:3] == decided(inv.id, state)
    assert inv.state is state and inv.reason == "why"
    assert inv.status.value == state.value
    assert "invitation:sent-1:expire" not in s.armed_timers()
    # the timer firing anyway (a race in the adapter) is stale
    assert s.timer_fired("invitation:sent-1:expire", 10.0) == [
        Drop("stale-timer", "invitation:sent-1:expire")
    ]
    assert inv.state is state


def test_expiry_timer_expires_a_standby_invitation() -> None:
    s, inv = tracked(5.0)
    fx = s.timer_fired("invitation:sent-1:expire", 5.0)
    assert fx == decided(inv.id, InvitationState.EXPIRED)  # no CancelTimer of itself
    assert inv.state is InvitationState.EXPIRED and inv.ended
    assert s.children("invitation_id") == {}  # final: the session forgets it


def test_late_answer_after_acceptance_is_dropped() -> None:
    s, inv = tracked(None)
    answer(s, inv.id, wire.AnswerChoice.ACCEPT)
    for choice in wire.AnswerChoice:
        fx = answer(s, inv.id, choice, now=2.0)
        assert len(fx) == 1 and isinstance(fx[0], Drop) and fx[0].reason == "late-answer"
    assert inv.state is InvitationState.ACCEPTED


def test_late_answer_after_expiry_is_dropped_quietly() -> None:
    s, inv = tracked(5.0)
    s.timer_fired("invitation:sent-1:expire", 5.0)
    fx = answer(s, inv.id, wire.AnswerChoice.ACCEPT, now=6.0)
    assert all(isinstance(e, Drop) for e in fx), fx
    assert inv.state is InvitationState.EXPIRED


@pytest.mark.parametrize("first", [None, wire.AnswerChoice.ACCEPT])
def test_cancel_from_standby_or_accepted(first: wire.AnswerChoice | None) -> None:
    s, inv = tracked()
    if first is not None:
        answer(s, inv.id, first)
    fx = s.child_output(inv, inv.cancel(3.0))
    assert decided(inv.id, InvitationState.CANCELLED)[0] in fx
    assert decided(inv.id, InvitationState.CANCELLED)[1] in fx
    assert inv.state is InvitationState.CANCELLED and inv.ended
    assert s.children("invitation_id") == {} and s.armed_timers() == frozenset()


@pytest.mark.parametrize(
    "state", [InvitationState.DECLINED, InvitationState.EXPIRED, InvitationState.CANCELLED,
              InvitationState.ENDED],
)  # fmt: skip
def test_cancel_once_final_raises_10_and_changes_nothing(state: InvitationState) -> None:
    inv = SentInvitation("sent-1", "peer", state=state, reason="r")
    with pytest.raises(RtcError) as info:
        inv.cancel(1.0)
    assert info.value.code is ErrorNumber.ERROR_INVITATION_STATE_INVALID
    assert inv.state is state and inv.reason == "r"
    assert inv.end(1.0) == [] and inv.state is state


@pytest.mark.parametrize("first", [None, wire.AnswerChoice.ACCEPT])
def test_end_when_its_owner_ends(first: wire.AnswerChoice | None) -> None:
    s, inv = tracked()
    if first is not None:
        answer(s, inv.id, first)
    fx = s.child_output(inv, inv.end(4.0))
    assert status_changes(fx, inv.id) == [InvitationState.ENDED.value]
    assert inv.state is InvitationState.ENDED
    assert s.armed_timers() == frozenset()


def test_cancel_alone_lets_the_session_forget_the_invitation() -> None:
    s, inv = tracked()
    inv.cancel(3.0)
    assert s.children("invitation_id") == {}
    assert s.armed_timers() == frozenset()


def test_sent_invitation_ignores_other_inputs() -> None:
    _, inv = tracked()
    assert inv.media_event(media.StatsReport("x"), 1.0) == [
        Drop("unexpected-report", "StatsReport")
    ]
    assert inv.timer_fired("bogus", 1.0)[0].reason == "stale-timer"
    env = wire.Envelope(wire.Bye("sent-1", "x"), ME, PEER)
    assert inv.receive(env, 1.0)[0].reason == "unexpected-message"
    assert inv.on_disconnected(1.0) == [] and inv.on_reconnected(1.0) == []
    assert inv.state is InvitationState.STANDBY and inv.start(2.0) == [wire_timer("sent-1", 12.0)]
    assert SentInvitation("n", "p").start(1.0) == []
