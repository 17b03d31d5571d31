"""Conversations held by a real Session (rtcstate.conversation.registry): the ``room`` route,
the repeat timer routed back by the session, disconnection and reconnection, the getters'
rules, and the catalogued drop for an unknown room; over the simulated network with the real
hub."""

from __future__ import annotations

from typing import Any

import pytest

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.conversation import Conference, Conversation, ConversationState, Reject, Resolve
from rtcstate.conversation.registry import RegistryDrop, conversations
from rtcstate.effects import Drop, Emit
from rtcstate.errors import RtcError
from rtcstate.session import Session, SessionConfig
from rtcstate.testing.network import Client, SimNetwork
from rtcstate.wire_conversation import ConvJoin, ConvMessage

ROOM = "standup"


def _net() -> tuple[SimNetwork, Client, Client]:
    net = SimNetwork(seed=1)
    alice = net.add_client(SessionConfig("alice"))
    bob = net.add_client(SessionConfig("bob"))
    net.run(until=1.0)
    assert alice.session.connected and bob.session.connected
    return net, alice, bob


def _events(client: Client, room: str = ROOM) -> list[str]:
    return [e.event for e in client.emits if e.target == f"conversation:{room}"]


def _payloads(client: Client, event: str, room: str = ROOM) -> list[Any]:
    return [
        e.payload for e in client.emits if e.target == f"conversation:{room}" and e.event == event
    ]


def _outcomes(client: Client) -> list[Resolve | Reject]:
    return [e for _, e in client.effects if type(e) in (Resolve, Reject)]  # type: ignore[misc]


def _join(net: SimNetwork, client: Client, at: float, room: str = ROOM) -> Conversation:
    conv = client.session.get_conversation(room)
    net.command(client, at, conv.join, "join")
    return conv


def test_get_conversation_is_get_or_create_and_makes_no_effect() -> None:
    s = Session(SessionConfig("alice"))
    conv = s.get_conversation(ROOM)
    assert s.get_conversation(ROOM) is conv and conv.state is ConversationState.NOT_JOINED
    assert conversations(s) == {ROOM: conv} and s.armed_timers() == frozenset()
    # a conference of the same name replaces the conversation while it is not joined
    conf = s.get_conference(ROOM)
    assert isinstance(conf, Conference) and s.get_conference(ROOM) is conf
    assert conversations(s) == {ROOM: conf}
    with pytest.raises(RtcError) as bad:
        s.get_conversation("")
    assert bad.value.code is ErrorNumber.ERROR_BAD_PARAMETER


def test_a_joined_conversation_is_not_replaced_by_another_kind() -> None:
    net, alice, _ = _net()
    conv = _join(net, alice, 1.0)
    net.run(until=2.0)
    assert conv.state is ConversationState.JOINED
    with pytest.raises(RtcError) as wrong:
        alice.session.get_conference(ROOM)
    assert wrong.value.code is ErrorNumber.ERROR_WRONG_STATE
    assert alice.session.get_conversation(ROOM) is conv  # nothing changed


def test_join_message_and_leave_through_the_session() -> None:
    net, alice, bob = _net()
    a = _join(net, alice, 1.0)
    b = _join(net, bob, 1.5)
    net.run(until=2.0)
    assert a.joined and b.joined and a.get_contacts() == ["bob/default"]
    net.command(alice, 2.0, lambda now: a.send_message(now, "hello"), "send")
    net.run(until=3.0)
    assert _payloads(bob, "message")[0]["content"] == "hello"
    assert _payloads(bob, "message")[0]["sender"] == "alice/default"
    sent = [o for o in _outcomes(alice) if o.command == "message"]
    assert [type(o) for o in sent] == [Resolve] and sent[0].value == 1
    net.command(bob, 3.0, b.leave, "leave")
    net.run(until=4.0)
    assert _events(alice)[-1] == "contactLeft" and not b.joined
    assert not alice.errors and not bob.errors and not net.hub_errors


def test_the_repeat_timer_is_routed_back_by_the_session() -> None:
    net, alice, _ = _net()
    net.lose_messages(lambda env: type(env.message) is ConvJoin)  # the first join is lost
    conv = _join(net, alice, 1.0)
    net.run(until=3.0)
    assert conv.state is ConversationState.JOINING
    assert "conversation:standup:repeat" in alice.session.armed_timers()
    net.run(until=8.0)
    assert conv.joined and "joined" in _events(alice)
    assert "conversation:standup:repeat" not in alice.session.armed_timers()
    fired = [t for t in alice.timers if t.action == "fire" and t.timer_id.startswith("conv")]
    assert len(fired) == 1


def test_a_reconnected_member_rejoins_and_the_others_see_it_come_back() -> None:
    net, alice, bob = _net()
    a = _join(net, alice, 1.0)
    b = _join(net, bob, 1.5)
    net.run(until=2.0)
    net.at(2.0, lambda now: net.lose_server(bob, 2.0))
    net.run(until=20.0)
    assert a.joined and b.joined
    assert a.get_contacts() == ["bob/default"] and b.get_contacts() == ["alice/default"]
    # alice saw bob leave (the relay forgot him at the disconnection) and come back
    assert _events(alice).count("contactLeft") == 1
    assert _events(alice).count("contactJoined") == 2
    # bob's own view was diffed, not announced again
    assert _events(bob).count("joined") == 1


def test_a_notice_for_an_unknown_room_is_a_catalogued_drop() -> None:
    net, alice, _ = _net()
    env = wire.Envelope(ConvMessage("elsewhere", 1, "hi"), None, "bob/default")
    fx = alice.session.receive_envelope(env, net.now)
    assert fx == [Drop(RegistryDrop.UNKNOWN_ROOM, "conv_message for room 'elsewhere'")]
    assert not any(type(e) is Emit for e in fx)


def test_unregister_forgets_conversations_and_their_timers() -> None:
    net, alice, _ = _net()
    net.lose_messages(lambda env: type(env.message) is ConvJoin, count=10)
    _join(net, alice, 1.0)
    net.run(until=2.0)
    assert alice.session.armed_timers()
    net.command(alice, 2.0, alice.session.unregister, "unregister")
    net.run(until=3.0)
    assert conversations(alice.session) == {} and alice.session.armed_timers() == frozenset()
