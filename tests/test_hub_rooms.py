"""Conversation rooms through the Hub, sans-I/O: bytes in, ``Deliver`` effects out. Every
refusal of the relay's authority (issue 12, point 6) -- the typed answer, nothing changed,
nobody else told -- and what one client may cost everyone else."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hubroomtools import Relay, assert_forbidden, assert_refused, read, readers
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.codes import ConversationRole
from rtcstate.hub import CloseConnection
from rtcstate.wire_conversation import (
    RELAY_ONLY,
    ConvAck,
    ConvAllow,
    ConvClose,
    ConvClosed,
    ConvCommand,
    ConvContactJoined,
    ConvContactLeft,
    ConvCustomEvent,
    ConvData,
    ConvDataState,
    ConvDataUpdated,
    ConvDeny,
    ConvEject,
    ConvEjected,
    ConvEntry,
    ConvError,
    ConvGetData,
    ConvJoin,
    ConvJoined,
    ConvJoinRequest,
    ConvLeave,
    ConvMessage,
    ConvModeratorConnected,
    ConvModeratorLeft,
    ConvRequest,
    ConvSendData,
    ConvSendEvent,
    ConvSendMessage,
    ConvSetData,
    ConvUpdateData,
    ConvWaiting,
    ConvWaitingLeft,
    LeaveReason,
    RoomRefusal,
)

ROOM = "room"


def joined(
    relay: Relay, conn: str, request_id: str, room: str = ROOM, **kw: Any
) -> list[wire.Message]:
    """Join ``room``: what the joiner reads (its ConvJoined or ConvWaiting first)."""
    fx = relay.send(conn, ConvJoin(room, request_id, **kw))
    got = read(fx, conn)
    assert got and type(got[0]) in (ConvJoined, ConvWaiting), got
    return got


@pytest.fixture
def room() -> Relay:
    """mod/d created a moderated room; ann/d is a member (allowed), wai/d waits; out/d is
    registered and not in it."""
    relay = Relay()
    for conn, user in (("m", "mod"), ("a", "ann"), ("w", "wai"), ("o", "out")):
        relay.connect(conn, user)
    joined(relay, "m", "j1", moderated=True)
    joined(relay, "a", "j2")
    fx = relay.send("m", ConvAllow(ROOM, "al1", "ann"))
    assert type(read(fx, "a")[-1]) is ConvJoined
    assert type(joined(relay, "w", "j3")[0]) is ConvWaiting
    view = relay.hub.rooms.room("default", ROOM)
    assert view is not None and [a for a, _ in view.members] == ["mod/d", "ann/d"]
    assert view.waiting == ("wai/d",)
    return relay


MODERATOR_ONLY: list[ConvRequest] = [
    ConvAllow(ROOM, "x1", "wai"),
    ConvDeny(ROOM, "x2", "wai", "no"),
    ConvEject(ROOM, "x3", "mod"),
    ConvClose(ROOM, "x4"),
]

MEMBER_ONLY: list[ConvRequest] = [
    ConvSendMessage(ROOM, "y1", "hello"),
    ConvSendData(ROOM, "y2", {"k": 1}),
    ConvSendEvent(ROOM, "y3", "raise-hand", {"k": 1}),
    ConvGetData(ROOM, "y4"),
    ConvSetData(ROOM, "y5", 0, {"k": 1}),
    ConvUpdateData(ROOM, "y6", 0, {"k": 1}),
    ConvLeave(ROOM, "y7"),
]


# --- who may do what ------------------------------------------------------------------------


@pytest.mark.parametrize("request_", MODERATOR_ONLY, ids=lambda r: r.TYPE)
def test_moderator_commands_from_a_non_moderator_are_refused(
    room: Relay, request_: ConvRequest
) -> None:
    assert_refused(room, "a", request_, RoomRefusal.NOT_MODERATOR)
    # a client's own "from" (the moderator's address) changes nothing: the hub stamps it
    assert_refused(room, "a", request_, RoomRefusal.NOT_MODERATOR, sender="mod/d")
    assert_refused(room, "w", request_, RoomRefusal.WAITING)
    assert_refused(room, "o", request_, RoomRefusal.NOT_JOINED)
    # ... whatever its "to" (rooms are the relay's)
    assert_refused(room, "o", request_, RoomRefusal.NOT_JOINED, to="mod/d")


@pytest.mark.parametrize("request_", MEMBER_ONLY, ids=lambda r: r.TYPE)
def test_member_requests_from_a_waiter_or_a_non_member_are_refused(
    room: Relay, request_: ConvRequest
) -> None:
    assert_refused(room, "w", request_, RoomRefusal.WAITING)
    assert_refused(room, "o", request_, RoomRefusal.NOT_JOINED)
    assert_refused(room, "o", request_, RoomRefusal.NOT_JOINED, to="ann/d")


def test_the_moderator_role_comes_from_the_verified_identity_only() -> None:
    relay = Relay()
    relay.connect("c", "creator")
    relay.connect("a", "ann")
    relay.connect("r", "rita", token="default:moderator")  # the role, in the (verified) token
    joined(relay, "c", "j1", moderated=True)
    assert type(joined(relay, "a", "j2")[0]) is ConvWaiting
    # a role claimed on the wire is no message at all: refused before anything is looked at
    before = relay.state()
    frame = {"v": 1, "type": "conv_join", "room": ROOM, "request_id": "j3", "role": "moderator"}
    fx = relay.raw("a", frame)
    assert readers(fx) == {"a"}
    [error] = read(fx, "a")
    assert type(error) is wire.ServerError and error.code == "decode_error"
    assert relay.state() == before
    claim = {"v": 1, "type": "register", "user": "ann", "device": "e", "roles": ["moderator"]}
    relay.hub.connect("a2", relay.now)
    assert [type(m) for m in read(relay.raw("a2", claim), "a2")] == [wire.ServerError]
    assert relay.hub.address("a2") is None
    # the token's role makes rita a moderator of a room she did not create
    [answer, *_] = joined(relay, "r", "j4")
    assert type(answer) is ConvJoined and answer.role is ConversationRole.MODERATOR
    fx = relay.send("r", ConvAllow(ROOM, "al", "ann"))
    assert type(read(fx, "a")[-1]) is ConvJoined
    # and the creator's: a member that says it is the creator is not
    assert_refused(relay, "a", ConvEject(ROOM, "e1", "rita"), RoomRefusal.NOT_MODERATOR)
    assert_refused(relay, "a", ConvClose(ROOM, "e2"), RoomRefusal.NOT_MODERATOR, sender="creator/d")


def test_a_relay_notice_sent_by_a_client_is_refused(room: Relay) -> None:
    notices: list[wire.Message] = [
        ConvAck(ROOM, "x", ConvCommand.ALLOW),
        ConvError(ROOM, "x", RoomRefusal.BANNED, 14, "forged"),
        ConvJoined(ROOM, "x", ConversationRole.MODERATOR, ["wai/d"], ["wai/d"], 0, 0, True),
        ConvWaiting(ROOM, "x", "mod/d"),
        ConvDataState(ROOM, "x", 9, {"k": 1}),
        ConvEntry(ROOM, "x", True),
        ConvJoinRequest(ROOM, "out/d"),
        ConvWaitingLeft(ROOM, "wai/d", LeaveReason.ALLOWED),
        ConvModeratorConnected(ROOM, "out/d"),
        ConvModeratorLeft(ROOM, "mod/d", 0),
        ConvContactJoined(ROOM, "out/d", ConversationRole.MODERATOR),
        ConvContactLeft(ROOM, "mod/d", LeaveReason.LEFT),
        ConvEjected(ROOM, "ann", "forged"),
        ConvClosed(ROOM),
        ConvMessage(ROOM, 1, "forged"),
        ConvData(ROOM, {"k": 1}),
        ConvCustomEvent(ROOM, "e", {"k": 1}),
        ConvDataUpdated(ROOM, 9, {"k": 1}),
    ]
    assert {type(n) for n in notices} == RELAY_ONLY  # every notice the relay sends
    for notice in notices:
        for sender in ("a", "w", "o"):
            for to in (None, "ann/d", "wai/d", "ann"):
                assert_forbidden(room, sender, notice, to)


# --- joins the relay refuses -------------------------------------------------------------------


def test_an_ejected_user_may_not_rejoin_within_the_ban() -> None:
    relay = Relay(ban_time=60.0)
    relay.connect("m", "mod")
    relay.connect("a", "ann")
    relay.connect("a2", "ann", "phone")
    joined(relay, "m", "j1")
    joined(relay, "a", "j2")
    fx = relay.send("m", ConvEject(ROOM, "e1", "ann", "spam"))
    assert ConvEjected(ROOM, "ann", "spam") in read(fx, "a")
    assert_refused(relay, "a", ConvJoin(ROOM, "j3"), RoomRefusal.BANNED)
    assert_refused(relay, "a2", ConvJoin(ROOM, "j4"), RoomRefusal.BANNED)  # any of its devices
    relay.hub.disconnect("a", relay.now)  # a new connection is the same user
    relay.connect("a3", "ann")
    relay.now = 59.0
    assert_refused(relay, "a3", ConvJoin(ROOM, "j5"), RoomRefusal.BANNED)
    relay.now = 60.5
    assert type(joined(relay, "a3", "j6")[0]) is ConvJoined


def test_a_private_room_needs_its_password() -> None:
    relay = Relay()
    for conn, user in (("m", "mod"), ("a", "ann")):
        relay.connect(conn, user)
    joined(relay, "m", "j1", password="s3cret")
    view = relay.hub.rooms.room("default", ROOM)
    assert view is not None and view.private
    assert_refused(relay, "a", ConvJoin(ROOM, "j2"), RoomRefusal.WRONG_PASSWORD)
    assert_refused(relay, "a", ConvJoin(ROOM, "j3", password="guess"), RoomRefusal.WRONG_PASSWORD)
    assert_refused(relay, "a", ConvJoin(ROOM, "j4", password="s3cret "), RoomRefusal.WRONG_PASSWORD)
    assert type(joined(relay, "a", "j5", password="s3cret")[0]) is ConvJoined


def test_no_more_members_than_the_limit() -> None:
    relay = Relay(max_members=2, max_waiting=1)
    for conn in "mabc":
        relay.connect(conn, f"user{conn}")
    joined(relay, "m", "j1")
    joined(relay, "a", "j2")
    assert_refused(relay, "b", ConvJoin(ROOM, "j3"), RoomRefusal.ROOM_FULL)
    # a moderated room: admitting a waiter would go over it too; the waiting room has its own
    other = "r2"
    relay.connect("n", "modn")
    joined(relay, "n", "k1", room=other, moderated=True)
    joined(relay, "a", "k2", room=other)
    fx = relay.send("n", ConvAllow(other, "k3", "usera"))
    assert type(read(fx, "a")[-1]) is ConvJoined
    assert type(joined(relay, "b", "k4", room=other)[0]) is ConvWaiting
    error = assert_refused(relay, "n", ConvAllow(other, "k5", "userb"), RoomRefusal.ROOM_FULL)
    assert "2 of 2 members" in error.info
    assert_refused(relay, "c", ConvJoin(other, "k6"), RoomRefusal.WAITING_ROOM_FULL)


# --- tenants ----------------------------------------------------------------------------------


def test_tenants_never_meet_in_a_room() -> None:
    relay = Relay()
    relay.connect("a1", "ann", token="acme")
    relay.connect("b1", "bob", token="acme")
    relay.connect("a2", "ann", token="globex")  # the same address, in another tenant
    relay.connect("e2", "eve", token="globex:moderator")
    joined(relay, "a1", "j1", moderated=True)
    joined(relay, "b1", "j2")  # waits for ann of acme
    [answer, *_] = joined(relay, "a2", "j3")  # the same room name: another room
    assert type(answer) is ConvJoined and answer.members == ["ann/d"]
    assert answer.role is ConversationRole.MODERATOR  # the creator of globex's room
    fx = relay.send("e2", ConvJoin(ROOM, "j4"))
    assert readers(fx) == {"e2", "a2"}  # a moderator of globex is nobody in acme's room
    assert_refused(relay, "e2", ConvAllow(ROOM, "al", "bob"), RoomRefusal.UNKNOWN_CONTACT)
    assert_refused(relay, "e2", ConvEject(ROOM, "ej", "bob"), RoomRefusal.UNKNOWN_CONTACT)
    fx = relay.send("a2", ConvSendMessage(ROOM, "m1", "globex only"))
    assert readers(fx) == {"a2", "e2"}
    fx = relay.send("e2", ConvClose(ROOM, "c1"))
    assert readers(fx) == {"e2", "a2"}
    acme = relay.hub.rooms.room("acme", ROOM)
    assert acme is not None and acme.waiting == ("bob/d",) and acme.members[0][0] == "ann/d"
    assert relay.hub.rooms.room("globex", ROOM) is None
    # ann/d of globex going away takes nothing from ann/d of acme
    relay.send("a2", ConvJoin("other", "j5"))
    fx = relay.hub.disconnect("a2", relay.now)
    assert not readers(fx) & {"a1", "b1"}
    assert relay.hub.rooms.rooms_of("ann/d", "acme") == (("acme", ROOM),)
    fx = relay.send("a1", ConvAllow(ROOM, "al2", "bob"))
    assert type(read(fx, "b1")[-1]) is ConvJoined


def test_room_limits_per_address_are_per_tenant() -> None:
    relay = Relay(max_rooms_per_address=2)
    relay.connect("a1", "ann", token="acme")
    relay.connect("a2", "ann", token="globex")
    for n in range(2):
        joined(relay, "a2", f"g{n}", room=f"r{n}")
    assert_refused(relay, "a2", ConvJoin("r9", "g9"), RoomRefusal.TOO_MANY_ROOMS)
    for n in range(2):  # ann/d of acme is another address
        joined(relay, "a1", f"a{n}", room=f"r{n}")


# --- disconnects --------------------------------------------------------------------------------


def test_a_moderator_that_disconnects_tells_the_waiters_and_admits_nobody(room: Relay) -> None:
    before = room.hub.rooms.room("default", ROOM)
    fx = room.hub.disconnect("m", room.now)
    assert read(fx, "w") == [ConvModeratorLeft(ROOM, "mod/d", 0)]
    assert read(fx, "a") == [ConvContactLeft(ROOM, "mod/d", LeaveReason.DISCONNECTED)]
    assert "o" not in readers(fx)
    after = room.hub.rooms.room("default", ROOM)
    assert before is not None and after is not None
    assert after.waiting == ("wai/d",) and [a for a, _ in after.members] == ["ann/d"]
    assert_refused(room, "w", ConvSendMessage(ROOM, "m1", "let me in"), RoomRefusal.WAITING)
    assert_refused(room, "a", ConvAllow(ROOM, "al", "wai"), RoomRefusal.NOT_MODERATOR)
    # when it comes back it is a moderator again and is sent the join request
    room.connect("m2", "mod")
    msgs = joined(room, "m2", "j9")
    assert ConvJoinRequest(ROOM, "wai/d") in msgs


def test_unregister_and_a_hub_close_free_the_rooms_a_reconnection_keeps_them(
    room: Relay,
) -> None:
    # the same identity takes its address over on a new connection: still the moderator
    room.connect("m2", "mod")
    view = room.hub.rooms.room("default", ROOM)
    assert view is not None and ("mod/d", ConversationRole.MODERATOR) in view.members
    fx = room.send("m2", ConvAllow(ROOM, "al", "wai"))
    assert type(read(fx, "w")[-1]) is ConvJoined
    # Unregister frees the address: it leaves
    fx = room.send("a", wire.Unregister())
    assert ConvContactLeft(ROOM, "ann/d", LeaveReason.DISCONNECTED) in read(fx, "m2")
    # a connection the hub closes (here: idle) leaves too
    assert room.hub.idle_timeout is not None
    fx = room.hub.tick(room.hub.idle_timeout)
    assert {"m2", "w"} <= {e.conn for e in fx if type(e) is CloseConnection}
    assert room.hub.rooms.rooms() == ()


def test_an_ejected_member_receives_nothing_more(room: Relay) -> None:
    room.connect("b", "bob")
    joined(room, "b", "jb")
    room.send("m", ConvAllow(ROOM, "alb", "bob"))
    fx = room.send("m", ConvEject(ROOM, "ej", "ann"))
    assert ConvEjected(ROOM, "ann", None) in read(fx, "a")
    for request in (
        ConvSendMessage(ROOM, "m1", "hello"),
        ConvSendData(ROOM, "m2", {"k": 1}),
        ConvSendEvent(ROOM, "m3", "ev", {}),
        ConvSetData(ROOM, "m4", 0, {"k": 1}),
        ConvAllow(ROOM, "m5", "wai"),
        ConvEject(ROOM, "m6", "bob"),
    ):
        fx = room.send("m", request)
        assert "a" not in readers(fx)
        fx = room.send("b", request)
        assert "a" not in readers(fx)
    assert_refused(room, "a", ConvSendMessage(ROOM, "x", "still here?"), RoomRefusal.NOT_JOINED)
    assert_refused(room, "a", ConvJoin(ROOM, "x2"), RoomRefusal.BANNED)
    fx = room.send("m", ConvClose(ROOM, "cl"))
    assert "a" not in readers(fx)


# --- what one client may cost everyone else ---------------------------------------------------


def test_one_client_creating_rooms_is_bounded() -> None:
    relay = Relay(max_rooms_per_address=5, max_rooms=8)
    relay.connect("a", "ann")
    relay.connect("b", "bob")
    for n in range(5):
        joined(relay, "a", f"j{n}", room=f"a{n}")
    assert_refused(relay, "a", ConvJoin("a9", "j9"), RoomRefusal.TOO_MANY_ROOMS)
    for n in range(3):
        joined(relay, "b", f"k{n}", room=f"b{n}")
    # the tenant's limit: others may still join existing rooms, not create more
    assert_refused(relay, "b", ConvJoin("b9", "k9"), RoomRefusal.TOO_MANY_ROOMS)
    assert type(joined(relay, "b", "k10", room="a0")[0]) is ConvJoined
    # leaving frees the count
    relay.send("a", ConvLeave("a1", "l1"))
    assert type(joined(relay, "b", "k11", room="b9")[0]) is ConvJoined


def test_huge_persistent_data_and_messages_are_bounded() -> None:
    relay = Relay(max_data_size=1000, history_size=3, history_chars=100)
    relay.connect("a", "ann")
    relay.connect("b", "bob")
    joined(relay, "a", "j1")
    joined(relay, "b", "j2")
    assert_refused(
        relay, "a", ConvSetData(ROOM, "d1", 0, {"k": "x" * 1000}), RoomRefusal.DATA_TOO_LARGE
    )
    fx = relay.send("a", ConvSetData(ROOM, "d2", 0, {"k": "x" * 500}))
    assert read(fx, "a") == [ConvAck(ROOM, "d2", ConvCommand.SET_DATA, version=1)]
    assert_refused(
        relay, "a", ConvUpdateData(ROOM, "d3", 1, {"j": "y" * 500}), RoomRefusal.DATA_TOO_LARGE
    )
    # a frame over the hub's size limit is refused before it is decoded
    fx = relay.hub.receive("b", b"x" * (relay.hub.max_message_size + 1), relay.now)
    [error] = read(fx, "b")
    assert type(error) is wire.ServerError and error.code == "oversize"
    # the history kept for late joiners is bounded in messages and characters
    for n in range(10):
        relay.send("a", ConvSendMessage(ROOM, f"m{n}", "z" * 40))
    view = relay.hub.rooms.room("default", ROOM)
    assert view is not None and view.history == (9, 10)


def test_a_connection_moving_to_another_address_leaves_its_rooms_and_stays_in_its_tenant() -> None:
    relay = Relay()
    relay.connect("k", "alice", "d0")
    joined(relay, "k", "j0")
    relay.connect("k", "alice", "d1")  # the same connection, another device: d0 is freed
    assert relay.hub.rooms.rooms() == ()  # (alice/d0 was its only member)
    relay.connect("b", "bob")
    joined(relay, "b", "j1")
    [answer, *_] = joined(relay, "k", "j2")
    assert type(answer) is ConvJoined and answer.members == ["bob/d", "alice/d1"]
    fx = relay.send("b", ConvSendMessage(ROOM, "m1", "hi"))
    assert read(fx, "k") == [ConvMessage(ROOM, 1, "hi")]
    relay.hub.disconnect("k", relay.now)  # (the tenant's space was once forgotten too early)
    relay.hub.disconnect("b", relay.now)
    assert relay.hub.held_state()["spaces"] == 0 and relay.hub.rooms.rooms() == ()


# --- any sequence of requests, through the hub -------------------------------------------------

CONNS = {  # conn -> (user, device, token): two tenants, one address in both, a moderator role
    "a": ("ann", "d", "acme"),
    "a2": ("ann", "p", "acme"),
    "b": ("bob", "d", "acme:moderator"),
    "g": ("ann", "d", "globex"),
    "e": ("eve", "d", "globex"),
}
TENANT_OF = {conn: t.partition(":")[0] for conn, (_, _, t) in CONNS.items()}
_names = st.sampled_from(["r1", "r2"])
_users = st.sampled_from(["ann", "bob", "eve"])
_rid = st.sampled_from(["q1", "q2", "q3"])
_requests = st.one_of(
    st.builds(ConvJoin, _names, _rid, st.sampled_from([None, "pw"]), st.booleans()),
    st.builds(ConvLeave, _names, _rid),
    st.builds(ConvAllow, _names, _rid, _users),
    st.builds(ConvDeny, _names, _rid, _users),
    st.builds(ConvEject, _names, _rid, _users),
    st.builds(ConvClose, _names, _rid),
    st.builds(ConvSendMessage, _names, _rid, st.sampled_from(["hi", "x" * 30])),
    st.builds(ConvSendData, _names, _rid, st.just({"k": 1})),
    st.builds(ConvSetData, _names, _rid, st.integers(0, 2), st.just({"k": 1})),
)
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from(sorted(CONNS)), _requests),
        st.tuples(st.just("drop"), st.sampled_from(sorted(CONNS)), st.none()),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(_steps)
def test_any_requests_through_the_hub_stay_in_their_tenant(
    steps: list[tuple[str, str, ConvRequest | None]],
) -> None:
    relay = Relay(max_members=3, max_waiting=2, max_rooms_per_address=2, ban_time=5.0)
    for conn, (user, device, tok) in CONNS.items():
        relay.connect(conn, user, device, token=tok)
    for kind, conn, request in steps:
        relay.now += 1.0
        if kind == "drop":  # the connection goes, and comes back
            others = {c: rooms_of(relay, c) for c in CONNS if c != conn}
            fx = relay.hub.disconnect(conn, relay.now)
            assert rooms_of(relay, conn) == ()
            assert others == {c: rooms_of(relay, c) for c in CONNS if c != conn}
            user, device, tok = CONNS[conn]
            relay.connect(conn, user, device, token=tok)
        else:
            assert request is not None
            before = relay.state()
            fx = relay.send(conn, request)
            answers = [
                m
                for m in read(fx, conn)
                if type(m) in (ConvAck, ConvError, ConvJoined, ConvWaiting)
                and m.request_id == request.request_id  # type: ignore[attr-defined]
            ]
            assert len(answers) == 1, fx  # exactly one answer, to the requester
            if type(answers[0]) is ConvError:
                assert readers(fx) == {conn} and relay.state() == before
        # nothing crosses tenants, nothing is closed, every delivery is a room's
        assert all(TENANT_OF[c] == TENANT_OF[conn] for c in readers(fx)), fx
        assert not [e for e in fx if type(e) is CloseConnection]
        assert all(m.TYPE.startswith("conv_") for c in readers(fx) for m in read(fx, c))
    for tenant, _ in relay.hub.rooms.rooms():
        assert tenant in ("acme", "globex")


def rooms_of(relay: Relay, conn: str) -> tuple[tuple[str, str], ...]:
    user, device, _ = CONNS[conn]
    return relay.hub.rooms.rooms_of(f"{user}/{device}", TENANT_OF[conn])


def test_a_flooding_waiter_costs_a_bounded_amount(room: Relay) -> None:
    """At the default limits a waiter's flood is refused (waiting) up to its burst, then
    rate-limited, then closed: nobody else reads a thing but its leaving. Prints
    the hub's cost per refused request against an honest message (run with ``-s``)."""
    hub = room.hub
    assert (hub.rate_limit, hub.rate_burst, hub.max_strikes) == (100.0, 200.0, 20)
    before = room.state()
    frames = [wire.encode(ConvSendMessage(ROOM, f"f{n}", "buy now")) for n in range(1000)]
    got: list[Any] = []
    start = time.perf_counter()
    for frame in frames[:198]:  # (refused as a waiter's: the cost measured)
        got.extend(hub.receive("w", frame, room.now))
    refused = (time.perf_counter() - start) / 198
    for frame in frames[198:]:
        got.extend(hub.receive("w", frame, room.now))
    # when it is closed it leaves the waiting room: the moderator alone hears that
    assert readers(got) == {"w", "m"}
    assert read(got, "m") == [ConvWaitingLeft(ROOM, "wai/d", LeaveReason.DISCONNECTED)]
    errors = read(got, "w")
    waiting = [m for m in errors if type(m) is ConvError and m.reason is RoomRefusal.WAITING]
    limited = [m for m in errors if type(m) is wire.ServerError and m.code == "rate_limited"]
    # its burst of 200, less the two frames it sent already (register, join)
    assert (len(waiting), len(limited), len(errors)) == (198, 20, 218)
    assert [(e.conn, e.code) for e in got if type(e) is CloseConnection] == [("w", 1008)]
    after = room.hub.rooms.room("default", ROOM)
    assert after is not None and after.waiting == () and before != room.state()  # it left
    # an honest message to the room, for comparison (a fresh hub: no rate limit in the way)
    honest = Relay(hub={"rate_limit": None, "identity_rate_limit": None})
    for conn in "ab":
        honest.connect(conn, f"user{conn}")
        joined(honest, conn, "j")
    start = time.perf_counter()
    for frame in frames:
        honest.hub.receive("a", frame, honest.now)
    member = (time.perf_counter() - start) / len(frames)
    print(f"\nhub cost: refused request {refused * 1e6:.1f} us, message {member * 1e6:.1f} us")
