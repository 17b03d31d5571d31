"""Conversation and Conference against a real RoomAuthority: the lifecycle, the waiting room,
moderation, messaging, persistent data with compare-and-set, repeats, and every misuse (a
typed error with the apiRTC number, nothing changed)."""

from __future__ import annotations

from typing import Any

import pytest
from convtools import Device, Relay

from rtcstate import wire
from rtcstate.codes import ConversationRole, ErrorNumber
from rtcstate.conversation import (
    Conference,
    Conversation,
    ConversationDrop,
    ConversationState,
    JoinRequestState,
    ReceivedConversationJoinRequest,
    Reject,
    Resolve,
)
from rtcstate.effects import Drop, Emit, Send, StartTimer
from rtcstate.errors import RtcError
from rtcstate.testing.exhaustive import snapshot
from rtcstate.wire_conversation import ConvClosed, ConvJoin, ConvMessage, ConvSendMessage

ROOM = "standup"


def events(device: Device, *names: str) -> list[tuple[str, Any]]:
    return [(e, p) for _, e, p, _ in device.events if not names or e in names]


def two(moderated: bool = False, conference: bool = False) -> tuple[Relay, Device, Device]:
    relay = Relay()
    alice, bob = relay.device("alice/laptop"), relay.device("bob/phone")
    alice.conv(ROOM, conference).moderated = moderated
    bob.conv(ROOM, conference)
    relay.command(alice, ROOM, "join")
    relay.settle()
    relay.command(bob, ROOM, "join")
    relay.settle()
    return relay, alice, bob


def test_join_message_leave() -> None:
    relay, alice, bob = two()
    a, b = alice.convs[ROOM], bob.convs[ROOM]
    assert a.state is b.state is ConversationState.JOINED
    assert a.get_role() == "moderator" and b.get_role() == "contributor"
    assert a.get_contacts() == ["bob/phone"] and b.get_contacts() == ["alice/laptop"]
    assert b.get_moderator() == "alice/laptop" and a.get_moderator() == "alice/laptop"
    assert events(alice, "joined", "contactJoined") == [
        ("joined", None),
        ("contactJoined", "bob/phone"),
    ]
    relay.command(alice, ROOM, "send_message", "hello")
    relay.settle()
    assert events(bob, "message") == [
        ("message", {"content": "hello", "sender": "alice/laptop", "time": 0.0})
    ]
    relay.command(bob, ROOM, "send_data", {"x": 1})
    relay.command(bob, ROOM, "send_custom_event", "wave", {"hand": "left"})
    relay.settle()
    assert events(alice, "data", "customEvent") == [
        ("data", {"content": {"x": 1}, "sender": "bob/phone"}),
        ("customEvent", {"event": "wave", "sender": "bob/phone", "content": {"hand": "left"}}),
    ]
    relay.command(bob, ROOM, "leave")
    relay.settle()
    assert b.state is ConversationState.NOT_JOINED and ("left", None) in events(bob)
    assert events(alice, "contactLeft") == [("contactLeft", "bob/phone")]
    assert a.get_contacts() == [] and not a.outstanding() and not b.outstanding()


def test_a_message_is_acknowledged_with_its_number() -> None:
    conv = Conversation(ROOM, "alice/laptop")
    conv.state = ConversationState.JOINED
    conv.role = ConversationRole.CONTRIBUTOR
    fx = conv.send_message(1.0, "hi")
    send = fx[0]
    assert isinstance(send, Send) and isinstance(send.message, ConvSendMessage)
    assert StartTimer("conversation:standup:repeat", 6.0) in fx
    rid = send.message.request_id
    from rtcstate.wire_conversation import ConvAck, ConvCommand

    done = conv.receive(wire.Envelope(ConvAck(ROOM, rid, ConvCommand.MESSAGE, seq=4)), 2.0)
    assert Resolve(conv.target, rid, "message", 4) in done and not conv.outstanding()


def test_waiting_room_allow_deny_and_join_requests() -> None:
    relay, alice, bob = two(moderated=True)
    a, b = alice.convs[ROOM], bob.convs[ROOM]
    assert b.state is ConversationState.WAITING
    assert events(bob) == [("waitingForModeratorAcceptance", {"moderator": "alice/laptop"})]
    assert a.get_waiting_room_contacts() == ["bob/phone"]
    (request,) = [p for e, p in events(alice, "session.conversationJoinRequest")]
    assert isinstance(request, ReceivedConversationJoinRequest)
    assert ("contactJoinedWaitingRoom", "bob/phone") in events(alice)
    # bob may not talk while waiting
    with pytest.raises(RtcError) as info:
        b.send_message(relay.now, "let me in")
    assert info.value.code == ErrorNumber.ERROR_WRONG_STATE
    relay.run(alice, ROOM, request.accept(relay.now), a.state)
    relay.settle()
    assert request.state is JoinRequestState.ACCEPTED
    assert b.state is ConversationState.JOINED
    assert [e for e, _ in events(bob)][1:3] == ["entryAllowed", "joined"]
    assert ("contactLeftWaitingRoom", "bob/phone") in events(alice)
    with pytest.raises(RtcError) as info:
        request.accept(relay.now)
    assert info.value.code == ErrorNumber.ERROR_INVITATION_STATE_INVALID

    carol = relay.device("carol/x")
    relay.command(carol, ROOM, "join")
    relay.settle()
    relay.command(alice, ROOM, "deny_entry", "carol", "not today")
    relay.settle()
    c = carol.convs[ROOM]
    assert c.state is ConversationState.NOT_JOINED
    assert [e for e, _ in events(carol)] == ["waitingForModeratorAcceptance", "entryDenied"]


def test_denied_join_is_rejected_with_14_and_cancelled_with_15() -> None:
    conv = Conversation(ROOM, "bob/phone")
    fx = conv.join(0.0)
    rid = fx[0].message.request_id  # type: ignore[attr-defined]
    from rtcstate.wire_conversation import ConvEntry, ConvWaiting

    conv.receive(wire.Envelope(ConvWaiting(ROOM, rid, "alice/laptop")), 1.0)
    fx = conv.receive(wire.Envelope(ConvEntry(ROOM, rid, False, "no")), 2.0)
    assert conv.state is ConversationState.NOT_JOINED
    assert Emit(conv.target, "entryDenied") in fx
    assert any(isinstance(e, Reject) and e.code == 14 and e.request_id == rid for e in fx)
    fx = conv.join(3.0)
    rid = fx[0].message.request_id  # type: ignore[attr-defined]
    conv.receive(wire.Envelope(ConvWaiting(ROOM, rid)), 4.0)
    fx = conv.cancel_join(5.0)
    assert conv.state is ConversationState.NOT_JOINED
    assert any(isinstance(e, Reject) and e.code == 15 and e.request_id == rid for e in fx)


def test_join_is_repeated_every_5s_with_the_same_id_while_waiting() -> None:
    conv = Conversation(ROOM, "bob/phone")
    join = conv.join(0.0)[0]
    from rtcstate.wire_conversation import ConvWaiting

    conv.receive(wire.Envelope(ConvWaiting(ROOM, join.message.request_id)), 0.5)  # type: ignore[attr-defined]
    for tick in range(1, 20):  # far beyond max_repeats: a waiting join never gives up
        fx = conv.timer_fired("repeat", 5.0 * tick)
        assert fx == [join, StartTimer("conversation:standup:repeat", 5.0 * tick + 5.0)]
    assert conv.state is ConversationState.WAITING


def test_an_unanswered_message_gives_up_with_11_and_message_not_delivered() -> None:
    conv = Conversation(ROOM, "bob/phone")
    conv.state = ConversationState.JOINED
    conv.role = ConversationRole.CONTRIBUTOR
    conv.send_message(0.0, "hello?")
    now, fx = 0.0, []
    for _ in range(conv.settings.max_repeats + 1):
        now += 5.0
        fx = conv.timer_fired("repeat", now)
    assert any(isinstance(e, Reject) and e.code == ErrorNumber.ERROR_TIMED_OUT for e in fx)
    (nd,) = [e for e in fx if isinstance(e, Emit) and e.event == "messageNotDelivered"]
    assert nd.payload["error"]["code"] == ErrorNumber.ERROR_TIMED_OUT
    assert not conv.outstanding() and conv.state is ConversationState.JOINED
    assert conv.timer_fired("repeat", now + 5.0) == [
        Drop(ConversationDrop.STALE_TIMER, "conversation:standup:repeat")
    ]


def test_persistent_data_compare_and_set_tells_the_loser() -> None:
    relay, alice, bob = two()
    a, b = alice.convs[ROOM], bob.convs[ROOM]
    relay.command(alice, ROOM, "set_data", {"topic": "a"})
    relay.command(bob, ROOM, "set_data", {"topic": "b"})  # same version: one of them loses
    relay.settle()
    updates = [e for d in (alice, bob) for e in d.events if e[1] == "persistentDataUpdated"]
    assert len(updates) == 1  # the loser saw the winner's update
    view = relay.auth.room("acme", ROOM)
    assert view is not None and view.version == 1
    assert a.data_version == b.data_version == 1
    assert a.data == b.data == dict(view.data)
    outcomes = [(type(o).__name__, o.command) for d in (alice, bob) for o in d.outcomes[-1:]]
    assert sorted(outcomes) == [("Reject", "set_data"), ("Resolve", "set_data")]
    loser = next(o for d in (alice, bob) for o in d.outcomes if isinstance(o, Reject))
    assert loser.code == ErrorNumber.ERROR_ON_SAVE and loser.version == 1


def test_the_loser_of_a_concurrent_update_gets_17() -> None:
    conv = Conversation(ROOM, "bob/phone")
    conv.state = ConversationState.JOINED
    conv.role = ConversationRole.CONTRIBUTOR
    rid = conv.update_data(0.0, {"k": 1})[0].message.request_id  # type: ignore[attr-defined]
    from rtcstate.wire_conversation import ConvError, RoomRefusal

    refusal = ConvError(ROOM, rid, RoomRefusal.VERSION_CONFLICT, 17, "version 0 is not 3", 3)
    fx = conv.receive(wire.Envelope(refusal), 1.0)
    assert Reject(conv.target, rid, "update_data", 17, "version 0 is not 3", 3) in fx
    assert conv.data_version == 3 and conv.data is None


def test_eject_and_close() -> None:
    relay, alice, bob = two(conference=True)
    carol = relay.device("carol/x")
    carol.conv(ROOM, conference=True)
    relay.command(carol, ROOM, "join")
    relay.settle()
    relay.command(alice, ROOM, "eject", "bob/phone")
    relay.settle()
    assert bob.convs[ROOM].state is ConversationState.NOT_JOINED
    assert events(bob)[-2:] == [
        ("left", None),
        ("participantEjected", {"self": True, "contact": "bob"}),
    ]
    assert ("participantEjected", {"self": False, "contact": "bob"}) in events(carol)
    relay.command(bob, ROOM, "join")  # banned: refused with 14
    relay.settle()
    assert bob.convs[ROOM].state is ConversationState.NOT_JOINED
    with pytest.raises(RtcError) as info:
        carol.convs[ROOM].close(relay.now)  # type: ignore[attr-defined]
    assert info.value.code == ErrorNumber.ERROR_UNAUTHORIZED
    relay.command(alice, ROOM, "close")
    relay.settle()
    for device in (alice, carol):
        assert device.convs[ROOM].state is ConversationState.NOT_JOINED
        assert [e for e, _ in events(device)][-2:] == ["closed", "left"]
    assert relay.auth.room("acme", ROOM) is None


def test_a_plain_conversation_closed_only_says_left() -> None:
    conv = Conversation(ROOM, "bob/phone")
    conv.state = ConversationState.JOINED
    conv.role = ConversationRole.CONTRIBUTOR
    fx = conv.receive(wire.Envelope(ConvClosed(ROOM)), 1.0)
    assert fx == [Emit(conv.target, "left")] and conv.state is ConversationState.NOT_JOINED


def test_reconnection_rejoins_and_diffs_the_member_list() -> None:
    relay, _alice, bob = two()
    relay.disconnect(bob)
    carol = relay.device("carol/x")
    relay.command(carol, ROOM, "join")
    relay.settle()
    relay.reconnect(bob)
    relay.settle()
    b = bob.convs[ROOM]
    assert b.state is ConversationState.JOINED
    assert set(b.get_contacts()) == {"alice/laptop", "carol/x"}
    assert events(bob)[-1] == ("contactJoined", "carol/x")
    assert [e for e, _ in events(bob)].count("joined") == 1


def _joined(conv: Conversation, role: ConversationRole) -> Conversation:
    conv.state = ConversationState.JOINED
    conv.role = role
    return conv


MISUSE: list[tuple[str, Any, tuple[Any, ...], ErrorNumber]] = [
    ("leave", ConversationState.NOT_JOINED, (), ErrorNumber.ERROR_WRONG_STATE),
    ("leave", ConversationState.WAITING, (), ErrorNumber.ERROR_WRONG_STATE),
    ("join", ConversationState.JOINED, (), ErrorNumber.ERROR_WRONG_STATE),
    ("join", ConversationState.WAITING, (), ErrorNumber.ERROR_WRONG_STATE),
    ("cancel_join", ConversationState.JOINING, (), ErrorNumber.ERROR_WRONG_STATE),
    ("cancel_join", ConversationState.JOINED, (), ErrorNumber.ERROR_WRONG_STATE),
    ("send_message", ConversationState.WAITING, ("x",), ErrorNumber.ERROR_WRONG_STATE),
    ("send_message", ConversationState.JOINED, ("",), ErrorNumber.ERROR_BAD_PARAMETER),
    ("send_data", ConversationState.JOINED, ("x",), ErrorNumber.ERROR_BAD_PARAMETER),
    ("get_data", ConversationState.NOT_JOINED, (), ErrorNumber.ERROR_WRONG_STATE),
    ("allow_entry", ConversationState.JOINED, ("bob",), ErrorNumber.ERROR_UNAUTHORIZED),
    ("deny_entry", ConversationState.JOINED, ("bob",), ErrorNumber.ERROR_UNAUTHORIZED),
    ("eject", ConversationState.JOINED, ("bob",), ErrorNumber.ERROR_UNAUTHORIZED),
    ("close", ConversationState.JOINED, (), ErrorNumber.ERROR_UNAUTHORIZED),
    ("close", ConversationState.WAITING, (), ErrorNumber.ERROR_WRONG_STATE),
]


@pytest.mark.parametrize(("command", "state", "args", "code"), MISUSE)
def test_misuse_raises_its_number_and_changes_nothing(
    command: str, state: ConversationState, args: tuple[Any, ...], code: ErrorNumber
) -> None:
    conv = Conference(ROOM, "carol/x")
    conv.state = state
    if state is ConversationState.JOINED:
        conv.role = ConversationRole.CONTRIBUTOR
    before = snapshot(conv)
    with pytest.raises(RtcError) as info:
        getattr(conv, command)(1.0, *args)
    assert info.value.code == code
    assert snapshot(conv) == before


def test_a_moderator_may_not_eject_itself() -> None:
    conv = _joined(Conversation(ROOM, "alice/laptop"), ConversationRole.MODERATOR)
    before = snapshot(conv)
    with pytest.raises(RtcError) as info:
        conv.eject(1.0, "alice/phone")
    assert info.value.code == ErrorNumber.ERROR_BAD_PARAMETER and snapshot(conv) == before


def test_wire_input_never_raises_and_drops_with_a_reason() -> None:
    conv = Conversation(ROOM, "bob/phone")
    assert conv.receive(wire.Envelope(ConvClosed("elsewhere")), 0.0)[0].reason == "other-room"
    fx = conv.receive(wire.Envelope(ConvMessage(ROOM, 1, "hi")), 0.0)
    assert fx == [Drop(ConversationDrop.NOT_IN_ROOM, "message in state NOT_JOINED")]
    assert conv.receive(wire.Envelope(ConvJoin(ROOM, "r1")), 0.0)[0].reason == "unexpected-input"
    _joined(conv, ConversationRole.CONTRIBUTOR)
    conv.last_seq = 3
    fx = conv.receive(wire.Envelope(ConvMessage(ROOM, 3, "again"), None, "x/y"), 0.0)
    assert fx[0].reason == ConversationDrop.DUPLICATE  # type: ignore[attr-defined]
    assert conv.media_event(object(), 0.0)[0].reason == "unexpected-input"  # type: ignore[attr-defined]


def test_every_drop_reason_is_produced() -> None:
    from rtcstate.wire_conversation import (
        ConvAck,
        ConvCommand,
        ConvEjected,
        ConvModeratorLeft,
        ConvWaiting,
    )

    seen: set[str] = set()

    def note(fx: list[Any]) -> None:
        seen.update(e.reason for e in fx if isinstance(e, Drop))

    conv = Conversation(ROOM, "bob/phone")
    note(conv.receive(wire.Envelope(ConvClosed("elsewhere")), 0.0))  # other-room
    note(conv.receive(wire.Envelope(ConvJoin(ROOM, "r")), 0.0))  # unexpected-input
    note(conv.receive(wire.Envelope(ConvMessage(ROOM, 1, "x")), 0.0))  # not-in-room
    note(conv.receive(wire.Envelope(ConvModeratorLeft(ROOM, "a/b", 0)), 0.0))  # not-waiting
    note(conv.receive(wire.Envelope(ConvWaiting(ROOM, "r")), 0.0))  # stale-answer
    note(conv.timer_fired("repeat", 0.0))  # stale-timer
    rid = conv.join(0.0)[0].message.request_id  # type: ignore[attr-defined]
    note(conv.receive(wire.Envelope(ConvEjected(ROOM, "eve")), 0.0))  # not-for-us
    note(conv.receive(wire.Envelope(ConvAck(ROOM, "zz", ConvCommand.MESSAGE)), 0.0))
    _joined(conv, ConversationRole.CONTRIBUTOR)
    conv.last_seq = 2
    note(conv.receive(wire.Envelope(ConvMessage(ROOM, 2, "x")), 0.0))  # duplicate
    assert rid
    assert seen == {str(r) for r in ConversationDrop}


def test_the_conversation_modules_do_not_import_the_session() -> None:
    from test_import_graph import find_cycle, import_graph

    graph = import_graph()
    for name in ("machine", "joinrequest", "host"):
        deps = graph[f"rtcstate.conversation.{name}"]
        assert "rtcstate.session" not in deps and "rtcstate.rooms" not in deps
    assert "rtcstate.host" in graph["rtcstate.conversation.host"]
    assert find_cycle(graph) is None


def test_a_join_request_declined_denies_the_user() -> None:
    relay, alice, bob = two(moderated=True)
    (request,) = [p for _, p in events(alice, "session.conversationJoinRequest")]
    relay.run(alice, ROOM, request.decline(relay.now, "full"), ConversationState.JOINED)
    relay.settle()
    assert request.state is JoinRequestState.DECLINED and request.reason == "full"
    assert bob.convs[ROOM].state is ConversationState.NOT_JOINED
    (reject,) = [o for o in bob.outcomes if isinstance(o, Reject)]
    assert reject.command == "join" and reject.code == ErrorNumber.ERROR_NOT_ALLOWED
    with pytest.raises(RtcError) as info:
        request.decline(relay.now)
    assert info.value.code == ErrorNumber.ERROR_INVITATION_STATE_INVALID
