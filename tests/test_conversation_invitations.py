"""Conversation invitations (rtcstate.conversation.invitations): every (state, trigger) pair of
ReceivedConversationInvitation, and sessions with the real hub over the simulated network:
receive, accept (the invitee joins), decline, expiry, an offline invitee, duplicates."""

from __future__ import annotations

from typing import Any

import pytest

from rtcstate import wire
from rtcstate.codes import ErrorNumber, InvitationStatus, InvitationType
from rtcstate.conversation import Conference, Conversation
from rtcstate.conversation.invitations import (
    MAX_PENDING,
    ConvInvitationDrop,
    ReceivedConversationInvitation,
    SentConversationInvitation,
    send_invitation,
)
from rtcstate.effects import SESSION, Drop, Emit, Send
from rtcstate.errors import RtcError
from rtcstate.session import Session, SessionConfig
from rtcstate.testing.exhaustive import check_pair, pairs
from rtcstate.testing.network import Client, SimNetwork
from rtcstate.wire_conv_invitation import ConvInvitation, ConvInvitationReceived

ROOM = "standup"


def test_received_invitation_pairs() -> None:
    for state, trigger in pairs(ReceivedConversationInvitation):
        check_pair(
            ReceivedConversationInvitation,
            state,
            trigger,
            lambda: ReceivedConversationInvitation("i1", ROOM, "alice/default"),
        )


def _net(*users: str) -> tuple[SimNetwork, list[Client]]:
    net = SimNetwork(seed=3)
    clients = [net.add_client(SessionConfig(u)) for u in users]
    net.run(until=1.0)
    assert all(c.session.connected for c in clients)
    return net, clients


def _emits(client: Client, target: str, event: str) -> list[Any]:
    return [e.payload for e in client.emits if e.target == target and e.event == event]


def _invite(
    net: SimNetwork, alice: Client, contact: str, expiration: float | None = None,
    conference: bool = False,
) -> tuple[Conversation, SentConversationInvitation]:  # fmt: skip
    s = alice.session
    conv: Conversation = s.get_conference(ROOM) if conference else s.get_conversation(ROOM)
    net.command(alice, net.now, conv.join, "join")
    net.run(until=net.now + 1.0)
    assert conv.joined
    box: list[SentConversationInvitation] = []

    def send(now: float) -> list[Any]:
        sent, fx = send_invitation(s, conv, contact, now, expiration)
        box.append(sent)
        return fx

    net.command(alice, net.now, send, "invite")
    net.run(until=net.now + 0.5)
    return conv, box[0]


def test_accepting_joins_the_conversation_and_the_inviter_hears_it() -> None:
    net, (alice, bob) = _net("alice", "bob")
    conv, sent = _invite(net, alice, "bob", expiration=30.0, conference=True)
    target = f"invitation:{sent.id}"
    assert _emits(alice, target, "receive") == [{"contact": "bob/default"}]
    [inv] = _emits(bob, SESSION, "conversationInvitation")
    assert isinstance(inv, ReceivedConversationInvitation)
    assert _emits(bob, "contact:alice", "conversationInvitation") == [inv]
    assert inv.kind is InvitationType.CONFERENCE and inv.sender == "alice/default"
    assert sent.invitation.kind is InvitationType.CONFERENCE
    net.command(bob, net.now, inv.accept, "accept")
    net.run(until=net.now + 1.0)
    assert inv.status is InvitationStatus.INVITATION_STATUS_ACCEPTED
    joined = inv.conversation()
    assert isinstance(joined, Conference) and joined.joined
    assert conv.get_contacts() == ["bob/default"]
    assert _emits(alice, target, "response") == ["INVITATION_STATUS_ACCEPTED"]
    assert sent.status is InvitationStatus.INVITATION_STATUS_ACCEPTED
    # the expiry timer was cancelled by the answer: nothing fires later
    net.run(until=net.now + 60.0)
    assert sent.status is InvitationStatus.INVITATION_STATUS_ACCEPTED
    with pytest.raises(RtcError) as twice:
        inv.accept(net.now)
    assert twice.value.code is ErrorNumber.ERROR_WRONG_STATE
    assert inv.decline(net.now) == []  # ignored once decided, as apiRTC
    assert not alice.errors and not bob.errors and not net.hub_errors


def test_declining_answers_with_the_reason_and_joins_nothing() -> None:
    net, (alice, bob) = _net("alice", "bob")
    _, sent = _invite(net, alice, "bob")
    [inv] = _emits(bob, SESSION, "conversationInvitation")
    net.command(bob, net.now, lambda now: inv.decline(now, "busy"), "decline")
    net.run(until=net.now + 1.0)
    assert sent.status is InvitationStatus.INVITATION_STATUS_DECLINED
    assert sent.invitation.reason == "busy"
    assert inv.conversation() is None
    changes = _emits(bob, f"invitation:{inv.id}", "statusChange")
    assert changes == [{"status": "INVITATION_STATUS_DECLINED", "id": inv.id}]


def test_an_unanswered_invitation_expires() -> None:
    net, (alice, _bob) = _net("alice", "bob")
    _, sent = _invite(net, alice, "bob", expiration=10.0)
    net.run(until=net.now + 5.0)
    assert sent.status is InvitationStatus.INVITATION_STATUS_STANDBY
    net.run(until=net.now + 6.0)
    assert sent.status is InvitationStatus.INVITATION_STATUS_EXPIRED
    assert alice.session.child("invitation_id", sent.id) is None  # forgotten, timer gone
    assert not any(t.startswith("invitation:") for t in alice.session.armed_timers())


def test_an_offline_invitee_declines_at_once() -> None:
    net, (alice,) = _net("alice")
    _, sent = _invite(net, alice, "nobody", expiration=10.0)
    assert sent.status is InvitationStatus.INVITATION_STATUS_DECLINED
    assert sent.invitation.reason == "User_Not_Found"


def test_a_duplicate_invitation_is_acknowledged_again_and_shown_once() -> None:
    net, (_alice, bob) = _net("alice", "bob")
    env = wire.Envelope(ConvInvitation("i7", ROOM), None, "alice/default")
    first = bob.session.receive_envelope(env, net.now)
    assert Send("alice/default", ConvInvitationReceived("i7")) in first
    assert sum(type(e) is Emit for e in first) == 2
    again = bob.session.receive_envelope(env, net.now)
    assert again == [
        Send("alice/default", ConvInvitationReceived("i7")),
        Drop(ConvInvitationDrop.DUPLICATE_INVITATION, "invitation i7 again"),
    ]
    late = bob.session.receive_envelope(
        wire.Envelope(ConvInvitationReceived("gone"), None, "carol/default"), net.now
    )
    assert [type(e) for e in late] == [Drop]


def test_misuse_raises_before_sending() -> None:
    s = Session(SessionConfig("alice"))
    conv = s.get_conversation(ROOM)
    with pytest.raises(RtcError) as offline:
        send_invitation(s, conv, "bob", 0.0)
    assert offline.value.code is ErrorNumber.ERROR_WRONG_STATE
    with pytest.raises(RtcError) as bad:
        send_invitation(s, conv, "bob", 0.0, expiration=0)
    assert bad.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    assert s.child_count("invitation_id") == 0


def test_a_flood_of_invitations_is_bounded_and_answered() -> None:
    """An attacker inviting a device again and again: at most MAX_PENDING wait, the others
    are declined at once with the reason (the sender is told), and the honest flow goes on."""
    net, (_alice, bob) = _net("alice", "bob")
    s = bob.session
    for i in range(MAX_PENDING):
        env = wire.Envelope(ConvInvitation(f"spam{i}", ROOM), None, "mallory/default")
        s.receive_envelope(env, net.now)
    extra = wire.Envelope(ConvInvitation("spam-extra", ROOM), None, "mallory/default")
    fx = s.receive_envelope(extra, net.now)
    answer = wire.InviteAnswer("spam-extra", wire.AnswerChoice.DECLINE, "Too_Many_Invitations")
    assert fx[0] == Send("mallory/default", answer)
    assert type(fx[1]) is Drop and fx[1].reason is ConvInvitationDrop.TOO_MANY
    assert s.child("invitation_id", "spam-extra") is None
    assert s.child_count("invitation_id") == MAX_PENDING
    # deciding one frees a place
    first = s.child("invitation_id", "spam0")
    assert isinstance(first, ReceivedConversationInvitation)
    first.decline(net.now)
    again = wire.Envelope(ConvInvitation("honest", ROOM), None, "alice/default")
    assert any(type(e) is Emit for e in s.receive_envelope(again, net.now))
