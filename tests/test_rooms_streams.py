"""The relay's stream list: who may publish, subscribe and signal; what each change tells whom;
what a member's departure removes; and the attacker's tests (refusals change nothing, a flood is
bounded, nothing reaches a waiter, an ejected user or a third member)."""

from __future__ import annotations

import pytest
from hubroomtools import Relay, read, readers
from hubroomtools import assert_refused as hub_refused
from hypothesis import given, settings
from hypothesis import strategies as st
from roomtools import World, assert_refused

from rtcstate.wire_conversation import (
    ConvAck,
    ConvAllow,
    ConvContactLeft,
    ConvEject,
    ConvJoin,
    ConvJoined,
    ConvLeave,
    RoomRefusal,
)
from rtcstate.wire_streams import (
    STREAM_RELAY_ONLY,
    ConvPeerSignal,
    ConvPublish,
    ConvReplaceStream,
    ConvSignal,
    ConvStreamList,
    ConvSubscribe,
    ConvSubscribed,
    ConvUnpublish,
    ConvUnsubscribe,
    ConvUnsubscribed,
    ConvUpdateStream,
    SignalKind,
    StreamListEvent,
)

ROOM = "room"
A, B, C = "alice/a", "bob/b", "carol/c"


def _room(*members: str, **config: object) -> World:
    w = World(**config)
    for m in members:
        w.send(m, ConvJoin(ROOM, w.rid()))
    w.clear()
    return w


def _publish(w: World, who: str, sid: str) -> None:
    w.send(who, ConvPublish(ROOM, w.rid(), sid))


def _subscribe(w: World, who: str, sid: str, call: str) -> None:
    w.send(who, ConvSubscribe(ROOM, w.rid(), sid, call))


def test_a_publish_is_acked_and_listed_to_every_member_the_publisher_included() -> None:
    w = _room(A, B, C)
    w.send(A, ConvPublish(ROOM, "p1", "s1", video=False))
    [ack, listed] = w.take(A)
    assert type(ack) is ConvAck and ack.command == "publish"
    assert listed == ConvStreamList(ROOM, StreamListEvent.ADDED, "s1", A, video=False)
    assert w.take(B) == w.take(C) == [listed]
    assert w.auth.streams("acme", ROOM).streams == (("s1", A),)


def test_a_late_joiner_gets_the_current_list_after_its_joined() -> None:
    w = _room(A, B)
    _publish(w, A, "s1")
    _publish(w, B, "s2")
    w.clear()
    w.send(C, ConvJoin(ROOM, "j"))
    got = w.take(C)
    assert type(got[0]) is ConvJoined
    assert [(m.stream_id, m.owner, m.event) for m in got[1:]] == [
        ("s1", A, "added"),
        ("s2", B, "added"),
    ]


def test_subscribe_tells_the_publisher_and_signals_flow_between_the_two_only() -> None:
    w = _room(A, B, C)
    _publish(w, A, "s1")
    w.clear()
    w.send(B, ConvSubscribe(ROOM, "q", "s1", "call-b"))
    assert [type(m) for m in w.take(B)] == [ConvAck]
    assert w.take(A) == [ConvSubscribed(ROOM, "s1", B, "call-b")]
    assert w.take(C) == []
    fx = w.send(A, ConvSignal(ROOM, "x1", B, "call-b", "s1", SignalKind.OFFER, sdp="v=0"))
    [note] = fx
    assert note.address == B  # type: ignore[union-attr]
    assert note.envelope.sender == A  # type: ignore[union-attr]
    assert note.envelope.message == ConvPeerSignal(  # type: ignore[union-attr]
        ROOM, "call-b", "s1", SignalKind.OFFER, sdp="v=0"
    )
    w.send(B, ConvSignal(ROOM, "x2", A, "call-b", "s1", SignalKind.ANSWER, sdp="v=0"))
    assert [type(m) for m in w.take(A)] == [ConvPeerSignal]


def test_unsubscribe_and_unpublish() -> None:
    w = _room(A, B)
    _publish(w, A, "s1")
    _subscribe(w, B, "s1", "cb")
    w.clear()
    w.send(B, ConvUnsubscribe(ROOM, "u", "s1"))
    assert w.take(A) == [ConvUnsubscribed(ROOM, "s1", B, "cb", "unsubscribed")]
    _subscribe(w, B, "s1", "cb2")
    w.clear()
    w.send(A, ConvUnpublish(ROOM, "u2", "s1"))
    removed = ConvStreamList(ROOM, StreamListEvent.REMOVED, "s1", A)
    assert w.take(B) == [removed]
    assert w.auth.streams("acme", ROOM).subscriptions == ()
    assert_refused(w, B, ConvSubscribe(ROOM, "q9", "s1", "cb3"), RoomRefusal.UNKNOWN_STREAM)


def test_replace_keeps_the_subscriptions_and_update_changes_the_flags() -> None:
    w = _room(A, B)
    _publish(w, A, "s1")
    _subscribe(w, B, "s1", "cb")
    w.clear()
    w.send(A, ConvReplaceStream(ROOM, "r", "s1", "s2", audio=True, video=False))
    [listed] = w.take(B)
    assert (listed.event, listed.stream_id, listed.previous) == ("updated", "s2", "s1")
    assert w.auth.streams("acme", ROOM).subscriptions == (("s2", B, "cb"),)
    w.send(A, ConvUpdateStream(ROOM, "u", "s2", audio_muted=True))
    [updated] = w.take(B)
    assert updated.event == "updated" and updated.audio_muted
    # the signal for the old id no longer links them
    assert_refused(
        w, A, ConvSignal(ROOM, "x", B, "cb", "s1", SignalKind.CANDIDATE), RoomRefusal.UNKNOWN_STREAM
    )


@pytest.mark.parametrize("how", ["leave", "disconnect", "eject"])
def test_a_member_that_goes_takes_its_streams_and_subscriptions(how: str) -> None:
    w = _room(A, B, C)
    _publish(w, B, "sb")
    _publish(w, A, "sa")
    _subscribe(w, A, "sb", "c1")
    _subscribe(w, B, "sa", "c2")
    _subscribe(w, C, "sb", "c3")
    w.clear()
    if how == "leave":
        w.send(B, ConvLeave(ROOM, "l"))
    elif how == "disconnect":
        w.disconnect(B)
    else:
        w.send(A, ConvEject(ROOM, "e", "bob"))  # alice created the room: moderator
    got_c = w.take(C)
    assert any(type(m) is ConvContactLeft for m in got_c)
    assert ConvStreamList(ROOM, StreamListEvent.REMOVED, "sb", B) in got_c
    got_a = w.take(A)
    assert ConvStreamList(ROOM, StreamListEvent.REMOVED, "sb", B) in got_a
    reason = {"leave": "left", "disconnect": "disconnected", "eject": "ejected"}[how]
    assert ConvUnsubscribed(ROOM, "sa", B, "c2", reason) in got_a
    gone = w.take(B)  # the one who went hears nothing of streams (its ack / ejection only)
    assert not [m for m in gone if type(m) in STREAM_RELAY_ONLY], gone
    view = w.auth.streams("acme", ROOM)
    assert view.streams == (("sa", A),) and view.subscriptions == ()


# --- refusals (the attacker's tests) ---------------------------------------------------------


def test_a_non_member_and_a_waiter_may_not_publish_subscribe_or_signal() -> None:
    w = World()
    w.send(A, ConvJoin(ROOM, "j", moderated=True))
    _publish(w, A, "s1")
    w.send(B, ConvJoin(ROOM, "jb"))  # waits
    w.clear()
    for request in (
        ConvPublish(ROOM, "p", "sx"),
        ConvSubscribe(ROOM, "q", "s1", "cx"),
        ConvUnpublish(ROOM, "u", "s1"),
        ConvSignal(ROOM, "x", A, "cx", "s1", SignalKind.OFFER),
    ):
        assert_refused(w, B, request, RoomRefusal.WAITING)
        assert_refused(w, C, request, RoomRefusal.NOT_JOINED)


def test_an_ejected_user_is_refused_and_hears_nothing_more() -> None:
    w = _room(A, B)
    _publish(w, A, "s1")
    w.send(A, ConvEject(ROOM, "e", "bob"))
    w.clear()
    assert_refused(w, B, ConvSubscribe(ROOM, "q", "s1", "c"), RoomRefusal.NOT_JOINED)
    _publish(w, A, "s2")
    assert w.take(B) == []


def test_refusals_for_streams_change_nothing() -> None:
    w = _room(A, B, C)
    _publish(w, A, "s1")
    _subscribe(w, B, "s1", "cb")
    w.clear()
    assert_refused(w, B, ConvPublish(ROOM, "p", "s1"), RoomRefusal.STREAM_TAKEN)
    assert_refused(w, B, ConvUnpublish(ROOM, "p", "s1"), RoomRefusal.UNKNOWN_STREAM)
    assert_refused(w, B, ConvUpdateStream(ROOM, "p", "s1"), RoomRefusal.UNKNOWN_STREAM)
    assert_refused(w, B, ConvReplaceStream(ROOM, "p", "s1", "s9"), RoomRefusal.UNKNOWN_STREAM)
    assert_refused(w, C, ConvSubscribe(ROOM, "q", "nope", "cc"), RoomRefusal.UNKNOWN_STREAM)
    assert_refused(w, A, ConvSubscribe(ROOM, "q", "s1", "ca"), RoomRefusal.BAD_REQUEST)
    assert_refused(w, C, ConvSubscribe(ROOM, "q", "s1", "cb"), RoomRefusal.BAD_REQUEST)
    assert_refused(w, B, ConvSubscribe(ROOM, "q2", "s1", "other"), RoomRefusal.BAD_REQUEST)
    assert_refused(w, C, ConvUnsubscribe(ROOM, "q", "s1"), RoomRefusal.UNKNOWN_STREAM)
    assert_refused(w, C, ConvPublish(ROOM, "p", "x" * 129), RoomRefusal.BAD_REQUEST)
    _publish(w, C, "s3")
    assert_refused(w, A, ConvReplaceStream(ROOM, "p", "s1", "s3"), RoomRefusal.STREAM_TAKEN)
    w.clear()
    # a third member may not signal on the call of two others, nor to a non-member
    offer = ConvSignal(ROOM, "x", B, "cb", "s1", SignalKind.OFFER, sdp="v=0")
    assert_refused(w, C, offer, RoomRefusal.UNKNOWN_STREAM)
    stray = ConvSignal(ROOM, "x", "eve/e", "cb", "s1", SignalKind.OFFER)
    assert_refused(w, A, stray, RoomRefusal.UNKNOWN_CONTACT)


def test_a_publish_flood_is_bounded_per_member_and_per_room() -> None:
    w = _room(A, B, max_streams_per_member=3, max_streams_per_room=5)
    for i in range(3):
        _publish(w, A, f"a{i}")
    assert_refused(w, A, ConvPublish(ROOM, "p", "a3"), RoomRefusal.TOO_MANY_STREAMS)
    for i in range(2):
        _publish(w, B, f"b{i}")
    assert_refused(w, B, ConvPublish(ROOM, "p", "b2"), RoomRefusal.TOO_MANY_STREAMS)
    w.send(A, ConvPublish(ROOM, "again", "a0", audio_muted=True))  # a republish: an update
    assert len(w.auth.streams("acme", ROOM).streams) == 5


def test_a_subscription_flood_is_bounded() -> None:
    w = _room(A, B, max_subscriptions=2)
    for i in range(3):
        _publish(w, A, f"s{i}")
    _subscribe(w, B, "s0", "c0")
    _subscribe(w, B, "s1", "c1")
    assert_refused(w, B, ConvSubscribe(ROOM, "q", "s2", "c2"), RoomRefusal.TOO_MANY_STREAMS)


def test_a_repeated_subscribe_is_answered_again_and_changes_nothing() -> None:
    w = _room(A, B)
    _publish(w, A, "s1")
    request = ConvSubscribe(ROOM, "q", "s1", "cb")
    w.send(B, request)
    w.clear()
    before = w.auth.state(w.now)
    w.send(B, request)
    assert [type(m) for m in w.take(B)] == [ConvAck]
    assert w.take(A) == []  # the publisher is not told twice
    assert w.auth.state(w.now) == before


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["pub", "unpub", "sub", "unsub", "leave", "join", "signal"]),
            st.sampled_from([A, B, C]),
            st.sampled_from(["s1", "s2"]),
            st.sampled_from([A, B, C]),
        ),
        max_size=30,
    )
)
def test_signals_and_list_notices_reach_members_only(
    ops: list[tuple[str, str, str, str]],
) -> None:
    """Whatever the order: every stream-list notice and signal goes to a current member; every
    listed stream's owner is a member; every subscription links two members; a signal reaches
    only the other end of its subscription."""
    w = World()
    members: set[str] = set()
    for op, who, sid, peer in ops:
        w.clear()
        rid = w.rid()
        if op == "pub":
            w.send(who, ConvPublish(ROOM, rid, sid + who))
        elif op == "unpub":
            w.send(who, ConvUnpublish(ROOM, rid, sid + who))
        elif op == "sub":
            w.send(who, ConvSubscribe(ROOM, rid, sid + peer, f"{sid}{peer}>{who}"))
        elif op == "unsub":
            w.send(who, ConvUnsubscribe(ROOM, rid, sid + peer))
        elif op == "leave":
            w.send(who, ConvLeave(ROOM, rid))
        elif op == "join":
            w.send(who, ConvJoin(ROOM, rid))
        else:
            sig = ConvSignal(ROOM, rid, peer, f"{sid}{who}>{peer}", sid + who, SignalKind.OFFER)
            w.send(who, sig)
        view = w.auth.room("acme", ROOM)
        members = {a for a, _ in view.members} if view else set()
        for address, inbox in w.inbox.items():
            for env in inbox:
                if type(env.message) in STREAM_RELAY_ONLY:
                    assert address in members, (address, env.message)
                if type(env.message) is ConvPeerSignal:
                    assert op == "signal" and address == peer
        streams = w.auth.streams("acme", ROOM)
        assert all(owner in members for _, owner in streams.streams)
        owners = dict(streams.streams)
        for s, sub, _ in streams.subscriptions:
            assert sub in members and owners[s] in members and owners[s] != sub


# --- through the hub ------------------------------------------------------------------------


def test_the_hub_routes_stream_requests_and_refuses_stream_notices_from_clients() -> None:
    relay = Relay()
    relay.connect("c1", "alice", "a")
    relay.connect("c2", "bob", "b")
    relay.send("c1", ConvJoin(ROOM, "j1"))
    relay.send("c2", ConvJoin(ROOM, "j2"))
    fx = relay.send("c1", ConvPublish(ROOM, "p", "s1"))
    assert readers(fx) == {"c1", "c2"}
    assert type(read(fx, "c2")[0]) is ConvStreamList
    fx = relay.send("c2", ConvSubscribe(ROOM, "q", "s1", "cb"))
    assert read(fx, "c1") == [ConvSubscribed(ROOM, "s1", "bob/b", "cb")]
    hub_refused(relay, "c2", ConvPublish(ROOM, "p2", "s1"), RoomRefusal.STREAM_TAKEN)
    relay.connect("c3", "eve", "e")
    hub_refused(
        relay,
        "c3",
        ConvSignal(ROOM, "x", "bob/b", "cb", "s1", SignalKind.BYE),
        RoomRefusal.NOT_JOINED,
    )
    from hubroomtools import assert_forbidden

    forged = ConvPeerSignal(ROOM, "cb", "s1", SignalKind.OFFER, sdp="v=0")
    assert_forbidden(relay, "c3", forged, to="bob/b")
    assert_forbidden(relay, "c3", ConvStreamList(ROOM, StreamListEvent.ADDED, "x", "eve/e"), None)


def test_a_moderated_room_admits_then_lists() -> None:
    w = World()
    w.send(A, ConvJoin(ROOM, "j", moderated=True))
    _publish(w, A, "s1")
    w.send(B, ConvJoin(ROOM, "jb"))
    assert not w.of_type(B, ConvStreamList)  # a waiter sees no stream
    w.clear()
    w.send(A, ConvAllow(ROOM, "al", "bob"))
    assert [m.stream_id for m in w.of_type(B, ConvStreamList)] == ["s1"]
