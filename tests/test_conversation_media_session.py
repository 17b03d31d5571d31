"""Conversation media wired into real sessions (rtcstate.conversation.slots): two sessions and
the real hub over the simulated network publish and subscribe, the mesh call reaches CONNECTED
with its media reports and timers routed by the session, and every way out of the room
(leave, ejection, a lost relay connection, unregister) ends the calls with no timer left."""

from __future__ import annotations

from typing import Any

import pytest

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.conversation import Conversation, ConversationDrop, ConversationState, Resolve
from rtcstate.conversation.call import ConversationCallSettings, ConversationCallState
from rtcstate.conversation.machine import ConversationSettings
from rtcstate.conversation.media import MediaDrop
from rtcstate.conversation.slots import ROUTE as CALL_ROUTE
from rtcstate.conversation.slots import CallSlot, SlotDrop
from rtcstate.drops import DropReason
from rtcstate.effects import ClosePeerConnection, CreatePeerConnection, Drop, Emit
from rtcstate.errors import RtcError
from rtcstate.media import IceStateChanged
from rtcstate.session import SessionConfig
from rtcstate.stream import Stream
from rtcstate.testing.network import Client, SimNetwork
from rtcstate.wire_streams import (
    ConvPeerSignal,
    ConvStreamList,
    ConvSubscribed,
    ConvUnsubscribed,
    SignalKind,
    StreamListEvent,
)

ROOM = "mesh"


def _net(*users: str) -> tuple[SimNetwork, list[Client]]:
    net = SimNetwork(seed=3)
    clients = [net.add_client(SessionConfig(u)) for u in users]
    net.run(until=1.0)
    assert all(c.session.connected for c in clients)
    return net, clients


def _joined(net: SimNetwork, client: Client, at: float) -> Conversation:
    conv = client.session.get_conversation(ROOM)
    net.command(client, at, conv.join, "join")
    net.run(until=at + 1.0)
    assert conv.state is ConversationState.JOINED
    return conv


def _payloads(client: Client, event: str) -> list[Any]:
    where = f"conversation:{ROOM}"
    return [e.payload for e in client.emits if e.target == where and e.event == event]


def _call_timers(client: Client) -> set[str]:
    return {t for t in client.session.armed_timers() if t.startswith("conversationCall:")}


def _publish_and_subscribe(
    net: SimNetwork, alice: Client, bob: Client, at: float
) -> tuple[Conversation, Conversation, Stream]:
    a, b = _joined(net, alice, at), _joined(net, bob, at + 1.0)
    stream = Stream("cam-a")
    net.command(alice, at + 3.0, lambda now: a.publish(now, stream), "publish")
    net.run(until=at + 4.0)
    assert [s["streamId"] for s in b.get_available_stream_list()] == ["cam-a"]
    net.command(bob, at + 5.0, lambda now: b.subscribe_to_stream(now, "cam-a"), "subscribe")
    net.run(until=at + 8.0)
    return a, b, stream


def test_publish_subscribe_reach_connected_through_the_sessions() -> None:
    net, (alice, bob) = _net("alice", "bob")
    a, b, _ = _publish_and_subscribe(net, alice, bob, 1.0)
    # alice's publish was resolved by the relay's acknowledgement
    assert any(
        type(e) is Resolve and e.command == "publish" and e.value == "cam-a"  # type: ignore[attr-defined]
        for _, e in alice.effects
    )
    (pub,) = a.media.calls.values()
    (sub,) = b.media.calls.values()
    assert pub.call_id == sub.call_id
    assert pub.state is sub.state is ConversationCallState.CONNECTED
    # the media reports were routed by the session to the slot of each end
    assert alice.session.child(CALL_ROUTE, pub.call_id) is not None
    assert bob.session.child(CALL_ROUTE, sub.call_id) is not None
    (added,) = _payloads(bob, "streamAdded")
    assert added["streamId"] == "cam-a" and added["isRemote"] is True
    assert added["contact"] == alice.session.address
    assert [p["newMode"] for p in _payloads(bob, "roomModeChanged")] == ["mesh"]
    # once connected no call timer is left armed (setup disarmed)
    assert _call_timers(alice) == set() and _call_timers(bob) == set()
    assert net.errors() == []


def test_call_timers_are_routed_back_by_the_session_and_restart_the_call() -> None:
    net, (alice, bob) = _net("alice", "bob")
    a, b, _ = _publish_and_subscribe(net, alice, bob, 1.0)
    (pub,) = a.media.calls.values()
    # ICE fails on the publisher: the call restarts after 1 s (a session-routed timer)
    fail = IceStateChanged(pub.call_id, "failed")
    net.command(alice, 10.0, lambda now: alice.session.media_event(fail, now), "ice")
    net.run(until=10.5)
    assert pub.state is ConversationCallState.RESTARTING
    assert _call_timers(alice) == {f"conversationCall:{pub.call_id}:restart"}
    warning = _payloads(alice, "disconnectionWarning")[-1]
    assert warning["streamInfo"][0]["streamId"] == "cam-a"
    net.run(until=20.0)
    assert pub.state is ConversationCallState.CONNECTED
    assert b.media.calls[pub.call_id].state is ConversationCallState.CONNECTED
    assert net.errors() == []


def test_the_call_is_aborted_past_the_bound_and_its_slot_is_detached() -> None:
    net = SimNetwork(seed=4)
    quick = ConversationSettings(call=ConversationCallSettings(max_retries_duration=5.0))
    alice = net.add_client(SessionConfig("alice"))
    bob = net.add_client(SessionConfig("bob"))
    net.run(until=1.0)
    a = alice.session.get_conversation(ROOM, settings=quick)
    _publish_and_subscribe(net, alice, bob, 1.0)
    (call_id,) = a.media.calls
    # the path breaks for good: restarts 1 s, 2 s, 4 s ... until past 5 s: CALL_ABORTED
    net.at(10.0, lambda now: net.ice_trouble(call_id, "failed"))
    net.run(until=40.0)
    (error,) = _payloads(alice, "error")
    assert error["errorCode"] == "CALL_ABORTED" and error["streamId"] == "cam-a"
    assert call_id not in a.media.calls and alice.session.child(CALL_ROUTE, call_id) is None
    assert _call_timers(alice) == set()
    # the subscriber heard the bye: hangup from remote, stream removed, slot gone
    hangup = _payloads(bob, "hangup")[-1]
    assert hangup["from"] == "remote" and hangup["streamId"] == "cam-a"
    assert [p["streamId"] for p in _payloads(bob, "streamRemoved")] == ["cam-a"]
    assert bob.session.child(CALL_ROUTE, call_id) is None and _call_timers(bob) == set()


@pytest.mark.parametrize("way", ["leave", "unpublish", "unsubscribe", "disconnect", "unregister"])
def test_every_way_out_ends_the_calls_and_leaves_no_timer(way: str) -> None:
    net, (alice, bob) = _net("alice", "bob")
    a, b, _ = _publish_and_subscribe(net, alice, bob, 1.0)
    (call_id,) = a.media.calls
    actions = {
        "leave": (bob, lambda now: b.leave(now)),
        "unpublish": (alice, lambda now: a.unpublish(now, "cam-a")),
        "unsubscribe": (bob, lambda now: b.unsubscribe_to_stream(now, "cam-a")),
        "disconnect": (bob, None),
        "unregister": (bob, lambda now: bob.session.unregister(now)),
    }
    who, act = actions[way]
    if act is None:
        net.at(10.0, lambda now: net.lose_server(bob, 3.0))
    else:
        net.command(who, 10.0, act, way)
    net.run(until=12.0)
    for client, conv in ((alice, a), (bob, b)):
        assert conv.media.calls == {}, (way, client.user)
        assert client.session.child_count(CALL_ROUTE) == 0
        assert _call_timers(client) == set()
        closes = [e for e in client.media_commands(ClosePeerConnection) if e.call_id == call_id]  # type: ignore[attr-defined]
        assert closes, (way, client.user)
    assert [p["streamId"] for p in _payloads(bob, "streamRemoved")] == ["cam-a"]
    if way == "disconnect":
        # back in the room: nothing subscribed, alice's stream listed again
        net.run(until=40.0)
        assert b.state is ConversationState.JOINED
        assert [s["streamId"] for s in b.get_available_stream_list()] == ["cam-a"]
    assert net.errors() == []


def test_a_disconnected_publisher_publishes_again_once_back_in_the_room() -> None:
    net, (alice, bob) = _net("alice", "bob")
    a, b, _ = _publish_and_subscribe(net, alice, bob, 1.0)
    net.at(10.0, lambda now: net.lose_server(alice, 3.0))
    net.run(until=12.0)
    assert b.get_available_stream_list() == [] and b.media.calls == {}
    net.run(until=40.0)
    assert a.state is ConversationState.JOINED and a.media.is_published_stream("cam-a")
    assert [s["streamId"] for s in b.get_available_stream_list()] == ["cam-a"]
    assert net.errors() == []


def test_media_commands_refused_change_nothing() -> None:
    net, (alice,) = _net("alice")
    conv = alice.session.get_conversation(ROOM)
    with pytest.raises(RtcError) as wrong:
        conv.publish(2.0, Stream("s"))
    assert wrong.value.code is ErrorNumber.ERROR_WRONG_STATE
    with pytest.raises(RtcError) as wrong:
        conv.subscribe_to_stream(2.0, "s")
    assert wrong.value.code is ErrorNumber.ERROR_WRONG_STATE
    conv = _joined(net, alice, 2.0)
    with pytest.raises(RtcError) as missing:
        conv.subscribe_to_stream(4.0, "nobody")
    assert missing.value.code is ErrorNumber.ERROR_NOT_FOUND
    with pytest.raises(RtcError) as missing:
        conv.unpublish(4.0, "nobody")
    assert missing.value.code is ErrorNumber.ERROR_NOT_FOUND
    assert conv.media.published == {} and conv.media.calls == {}
    assert alice.session.child_count(CALL_ROUTE) == 0


def test_stream_notices_never_reach_a_device_out_of_the_room() -> None:
    net, (alice, bob) = _net("alice", "bob")
    a = _joined(net, alice, 1.0)
    b = bob.session.get_conversation(ROOM)  # held, never joined
    net.command(alice, 3.0, lambda now: a.publish(now, Stream("cam-a")), "publish")
    net.run(until=5.0)
    assert b.get_available_stream_list() == [] and _payloads(bob, "streamListChanged") == []
    assert not bob.media_commands(CreatePeerConnection)


_NOTICES = [
    ConvStreamList(ROOM, StreamListEvent.ADDED, "s1", "bob/d"),
    ConvStreamList(ROOM, StreamListEvent.REMOVED, "s1", "bob/d"),
    ConvSubscribed(ROOM, "s1", "bob/d", "c1"),
    ConvUnsubscribed(ROOM, "s1", "bob/d", "c1", "left"),
    ConvPeerSignal(ROOM, "c1", "s1", SignalKind.OFFER, sdp="v=0"),
]


@pytest.mark.parametrize("state", list(ConversationState))
@pytest.mark.parametrize("notice", _NOTICES, ids=lambda m: f"{m.TYPE}")
def test_every_stream_notice_in_every_state_is_delivered_or_dropped(
    state: ConversationState, notice: Any
) -> None:
    conv = Conversation(ROOM, "alice/d")
    conv.state = state
    if state is ConversationState.JOINED:
        conv.media.joined(0.0)
    fx = conv.receive(wire.Envelope(notice, None, "bob/d"), 1.0)  # never raises
    drops = [e for e in fx if isinstance(e, Drop)]
    if state is not ConversationState.JOINED:
        # nothing reaches a device out of the room, and nothing changes
        assert [d.reason for d in drops] == [ConversationDrop.NOT_IN_ROOM]
        assert fx == drops and conv.media.available == {} and conv.media.calls == {}
    elif isinstance(notice, ConvStreamList) and notice.event is StreamListEvent.ADDED:
        assert conv.get_available_stream_list()[0]["streamId"] == "s1" and not drops
    else:  # a removal, subscription or signal naming nothing this device holds
        assert len(drops) == 1 and isinstance(drops[0].reason, DropReason)


def test_a_slot_drops_what_is_not_routed_to_it_and_ends_with_its_call() -> None:
    net, (alice, bob) = _net("alice", "bob")
    a, _, _ = _publish_and_subscribe(net, alice, bob, 1.0)
    (call_id,) = a.media.calls
    slot = alice.session.child(CALL_ROUTE, call_id)
    assert isinstance(slot, CallSlot) and not slot.ended
    env = wire.Envelope(ConvPeerSignal(ROOM, call_id, "cam-a", SignalKind.BYE), None, "x/y")
    assert [d.reason for d in slot.receive(env, 20.0)] == [SlotDrop.NOT_ROUTED]  # type: ignore[attr-defined]
    assert slot.on_disconnected(20.0) == [] and slot.on_reconnected(20.0) == []
    assert isinstance(slot.close(20.0)[-1], ClosePeerConnection | Emit)
    assert slot.ended and slot.close(21.0) == []
    late = slot.media_event(IceStateChanged(call_id, "connected"), 21.0)
    assert [d.reason for d in late] == [MediaDrop.UNKNOWN_CALL]  # type: ignore[attr-defined]
