"""The relay's room authority, sans-I/O: every refusal (reason, number, nothing changed, nobody
else told) and the happy paths (create, join, waiting room, eject and ban, close, moderators
leaving, message order and history, compare-and-set persistent data, repeats)."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from roomtools import TENANT, World, assert_refused, ident

from rtcstate import drops, wire
from rtcstate.codes import ConversationRole, ErrorNumber
from rtcstate.effects import Drop
from rtcstate.rooms import REFUSALS, Broadcast, Notify, RoomAuthority, RoomDrop
from rtcstate.wire_conversation import (
    ConvAck,
    ConvAllow,
    ConvCancelJoin,
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

MOD = "mod/1"
ANN = "ann/1"
BOB = "bob/1"
EVE = "eve/1"
ROOM = "room"
MODERATOR = ConversationRole.MODERATOR
CONTRIBUTOR = ConversationRole.CONTRIBUTOR


def members(world: World, room: str = ROOM, tenant: str = TENANT) -> list[str]:
    view = world.auth.room(tenant, room)
    return [] if view is None else [a for a, _ in view.members]


def waiting(world: World, room: str = ROOM) -> list[str]:
    view = world.auth.room(TENANT, room)
    return [] if view is None else list(view.waiting)


def join(world: World, address: str, room: str = ROOM, **kw: object) -> list[wire.Message]:
    world.send(address, ConvJoin(room, world.rid(), **kw))  # type: ignore[arg-type]
    return world.take(address)


@pytest.fixture
def open_room() -> World:
    """A public room: MOD created it, ANN joined."""
    world = World()
    join(world, MOD)
    join(world, ANN)
    world.clear()
    return world


@pytest.fixture
def moderated() -> World:
    """A moderated room created by MOD; ANN is a member (admitted), BOB waits."""
    world = World()
    join(world, MOD, moderated=True)
    join(world, ANN)
    world.send(MOD, ConvAllow(ROOM, world.rid(), "ann"))
    join(world, BOB)
    world.clear()
    assert members(world) == [MOD, ANN] and waiting(world) == [BOB]
    return world


# --- refusals ---------------------------------------------------------------------------------

MODERATOR_COMMANDS: dict[str, Callable[[World], ConvRequest]] = {
    "allow": lambda w: ConvAllow(ROOM, w.rid(), "bob"),
    "deny": lambda w: ConvDeny(ROOM, w.rid(), "bob", "no"),
    "eject": lambda w: ConvEject(ROOM, w.rid(), "mod"),
    "close": lambda w: ConvClose(ROOM, w.rid()),
}
MEMBER_COMMANDS: dict[str, Callable[[World], ConvRequest]] = {
    "message": lambda w: ConvSendMessage(ROOM, w.rid(), "hi"),
    "data": lambda w: ConvSendData(ROOM, w.rid(), {"k": 1}),
    "custom_event": lambda w: ConvSendEvent(ROOM, w.rid(), "wave", {}),
    "get_data": lambda w: ConvGetData(ROOM, w.rid()),
    "set_data": lambda w: ConvSetData(ROOM, w.rid(), 0, {"k": 1}),
    "update_data": lambda w: ConvUpdateData(ROOM, w.rid(), 0, {"k": 1}),
    "leave": lambda w: ConvLeave(ROOM, w.rid()),
}


@pytest.mark.parametrize("command", sorted(MODERATOR_COMMANDS))
def test_moderator_commands_from_a_member_that_is_not_moderator(
    moderated: World, command: str
) -> None:
    request = MODERATOR_COMMANDS[command](moderated)
    error = assert_refused(moderated, ANN, request, RoomRefusal.NOT_MODERATOR)
    assert error.code == ErrorNumber.ERROR_UNAUTHORIZED == 4


@pytest.mark.parametrize("command", sorted(MODERATOR_COMMANDS))
def test_moderator_commands_from_a_waiter_or_a_stranger(moderated: World, command: str) -> None:
    request = MODERATOR_COMMANDS[command](moderated)
    assert_refused(moderated, BOB, request, RoomRefusal.WAITING)
    # the room's creator, on a device that has not joined, is not a moderator of the room yet
    request = MODERATOR_COMMANDS[command](moderated)
    assert_refused(moderated, "mod/2", request, RoomRefusal.NOT_JOINED)
    request = MODERATOR_COMMANDS[command](moderated)
    assert_refused(moderated, EVE, request, RoomRefusal.NOT_JOINED)


def test_a_client_cannot_make_itself_moderator(moderated: World) -> None:
    """Roles come from the verified identity only: a moderator role of another tenant is not
    one here (its rooms are other rooms), and nothing on the wire claims a role."""
    moderated.ids["boss/1"] = ident("boss", "moderator", tenant="other")
    moderated.send("boss/1", ConvJoin(ROOM, moderated.rid()))
    assert moderated.auth.room("other", ROOM) is not None  # another room, of its own tenant
    assert members(moderated) == [MOD, ANN]
    # in its own tenant's room of that name it is the creator; in ours it is nobody
    moderated.ids["boss/2"] = ident("boss", tenant=TENANT)
    request = ConvAllow(ROOM, moderated.rid(), "bob")
    assert_refused(moderated, "boss/2", request, RoomRefusal.NOT_JOINED)


@pytest.mark.parametrize("command", sorted(MEMBER_COMMANDS))
def test_member_commands_from_a_waiter(moderated: World, command: str) -> None:
    error = assert_refused(moderated, BOB, MEMBER_COMMANDS[command](moderated), RoomRefusal.WAITING)
    assert error.code == ErrorNumber.ERROR_WRONG_STATE


@pytest.mark.parametrize("command", sorted(MEMBER_COMMANDS))
def test_member_commands_from_a_stranger(moderated: World, command: str) -> None:
    assert_refused(moderated, EVE, MEMBER_COMMANDS[command](moderated), RoomRefusal.NOT_JOINED)
    # the same request about a room that does not exist
    other = attrs.evolve(MEMBER_COMMANDS[command](moderated), room="nowhere")
    assert_refused(moderated, EVE, other, RoomRefusal.NOT_JOINED)


def test_rejoin_by_an_ejected_user_within_the_ban_time() -> None:
    world = World(ban_time=60.0)
    join(world, MOD)
    join(world, ANN)
    world.ids["ann/2"] = ident("ann")
    world.send(MOD, ConvEject(ROOM, world.rid(), "ann", "rude"))
    assert members(world) == [MOD]
    world.now = 59.0
    error = assert_refused(world, ANN, ConvJoin(ROOM, world.rid()), RoomRefusal.BANNED)
    assert error.code == ErrorNumber.ERROR_NOT_ALLOWED == 14
    # the ban is the user's, not the device's
    assert_refused(world, "ann/2", ConvJoin(ROOM, world.rid()), RoomRefusal.BANNED)
    assert world.auth.banned_until(TENANT, ROOM, "ann", world.now) == 60.0
    world.now = 60.0
    got = join(world, ANN)
    assert [type(m) for m in got] == [ConvJoined]
    assert members(world) == [MOD, ANN]


def test_the_ban_survives_the_room() -> None:
    """Closing (or emptying) the room does not lift the ban: the banned user cannot come back
    as the creator of a new room of that name."""
    world = World(ban_time=60.0)
    join(world, MOD)
    join(world, ANN)
    world.send(MOD, ConvEject(ROOM, world.rid(), "ann"))
    world.send(MOD, ConvClose(ROOM, world.rid()))
    assert world.auth.room(TENANT, ROOM) is None
    assert_refused(world, ANN, ConvJoin(ROOM, world.rid()), RoomRefusal.BANNED)


@pytest.mark.parametrize("password", [None, "", "guess", "s3cret "])
def test_private_room_without_its_password(password: str | None) -> None:
    world = World()
    join(world, MOD, password="s3cret")
    error = assert_refused(
        world, ANN, ConvJoin(ROOM, world.rid(), password=password), RoomRefusal.WRONG_PASSWORD
    )
    assert error.code == ErrorNumber.ERROR_UNAUTHORIZED
    assert [type(m) for m in join(world, ANN, password="s3cret")] == [ConvJoined]


def test_more_members_than_the_limit() -> None:
    world = World(max_members=2)
    join(world, MOD)
    join(world, ANN)
    error = assert_refused(world, BOB, ConvJoin(ROOM, world.rid()), RoomRefusal.ROOM_FULL)
    assert error.code == ErrorNumber.ERROR_NOT_ALLOWED


def test_allowing_beyond_the_limit() -> None:
    world = World(max_members=2)
    join(world, MOD, moderated=True)
    join(world, ANN)
    join(world, BOB)
    world.send(MOD, ConvAllow(ROOM, world.rid(), "ann"))
    assert_refused(world, MOD, ConvAllow(ROOM, world.rid(), "bob"), RoomRefusal.ROOM_FULL)
    assert waiting(world) == [BOB]


def test_waiting_room_limit() -> None:
    world = World(max_waiting=1)
    join(world, MOD, moderated=True)
    join(world, ANN)
    assert_refused(world, BOB, ConvJoin(ROOM, world.rid()), RoomRefusal.WAITING_ROOM_FULL)


def test_room_limits_per_tenant_and_per_address() -> None:
    world = World(max_rooms=3, max_rooms_per_address=2)
    join(world, MOD, "a")
    join(world, MOD, "b")
    assert [type(m) for m in join(world, ANN, "c")] == [ConvJoined]
    # an address in two rooms may not enter a third, even an existing one
    assert_refused(world, MOD, ConvJoin("c", world.rid()), RoomRefusal.TOO_MANY_ROOMS)
    # the tenant holds three rooms: nobody creates a fourth
    assert_refused(world, EVE, ConvJoin("d", world.rid()), RoomRefusal.TOO_MANY_ROOMS)
    # another tenant has its own count
    world.ids["x/1"] = ident("x", tenant="other")
    assert [type(m) for m in join(world, "x/1", "d")] == [ConvJoined]
    world.send(MOD, ConvLeave("b", world.rid()))  # b is empty: forgotten
    world.clear()
    assert [type(m) for m in join(world, MOD, "c")] == [ConvJoined]
    assert [type(m) for m in join(world, EVE, "d")] == [ConvJoined]


def test_persistent_data_version_conflict(open_room: World) -> None:
    world = open_room
    world.send(MOD, ConvSetData(ROOM, world.rid(), 0, {"topic": "a"}))
    error = assert_refused(
        world, ANN, ConvSetData(ROOM, world.rid(), 0, {"topic": "b"}), RoomRefusal.VERSION_CONFLICT
    )
    assert error.version == 1 and error.code == ErrorNumber.ERROR_ON_SAVE
    assert_refused(
        world, ANN, ConvUpdateData(ROOM, world.rid(), 7, {"x": 1}), RoomRefusal.VERSION_CONFLICT
    )


def test_persistent_data_too_large(open_room: World) -> None:
    world = open_room
    big = {"blob": "x" * world.auth.max_data_size}
    assert_refused(world, ANN, ConvSetData(ROOM, world.rid(), 0, big), RoomRefusal.DATA_TOO_LARGE)


def test_bad_requests(open_room: World) -> None:
    world = open_room
    assert_refused(world, ANN, ConvJoin("", world.rid()), RoomRefusal.BAD_REQUEST)
    assert_refused(world, ANN, ConvJoin("r" * 257, world.rid()), RoomRefusal.BAD_REQUEST)
    assert_refused(world, MOD, ConvEject(ROOM, world.rid(), "mod"), RoomRefusal.BAD_REQUEST)


def test_unknown_contacts_and_wrong_states(moderated: World) -> None:
    world = moderated
    assert_refused(world, MOD, ConvAllow(ROOM, world.rid(), "eve"), RoomRefusal.UNKNOWN_CONTACT)
    assert_refused(world, MOD, ConvDeny(ROOM, world.rid(), "ann"), RoomRefusal.UNKNOWN_CONTACT)
    assert_refused(world, MOD, ConvEject(ROOM, world.rid(), "eve"), RoomRefusal.UNKNOWN_CONTACT)
    assert_refused(world, ANN, ConvCancelJoin(ROOM, world.rid()), RoomRefusal.NOT_WAITING)
    assert_refused(world, EVE, ConvCancelJoin(ROOM, world.rid()), RoomRefusal.NOT_WAITING)


def test_every_refusal_is_catalogued_with_an_apirtc_number() -> None:
    assert set(REFUSALS) == set(RoomRefusal)
    for number, doc in REFUSALS.values():
        assert isinstance(number, ErrorNumber) and doc


def test_a_message_that_is_not_a_request_is_dropped() -> None:
    world = World()
    fx = world.send(MOD, ConvClosed(ROOM))
    assert fx == [Drop(RoomDrop.UNKNOWN_REQUEST, "conv_closed is not a room request")]
    assert RoomDrop in drops.catalogue()


def test_bad_configuration() -> None:
    with pytest.raises(ValueError):
        RoomAuthority(max_members=0)
    with pytest.raises(ValueError):
        RoomAuthority(ban_time=-1)


# --- happy paths ------------------------------------------------------------------------------


def test_create_and_join_a_public_room() -> None:
    world = World()
    [joined] = join(world, MOD)
    assert type(joined) is ConvJoined
    assert joined.role is MODERATOR and joined.members == [MOD] and joined.moderators == [MOD]
    assert (joined.seq, joined.data_version, joined.moderated) == (0, 0, False)
    [joined] = join(world, ANN)
    assert joined.role is CONTRIBUTOR and joined.members == [MOD, ANN]
    assert world.take(MOD) == [ConvContactJoined(ROOM, ANN, CONTRIBUTOR)]
    view = world.auth.room(TENANT, ROOM)
    assert view is not None and view.creator == "mod" and not view.private
    assert world.auth.rooms_of(ANN) == ((TENANT, ROOM),)


def test_a_moderator_by_role_and_the_creator_on_another_device() -> None:
    world = World()
    join(world, MOD, moderated=True)
    world.ids["boss/1"] = ident("boss", "moderator")
    [joined] = join(world, "boss/1")
    assert joined.role is MODERATOR and joined.moderators == [MOD, "boss/1"]
    [joined] = join(world, "mod/2")
    assert joined.role is MODERATOR


def test_join_a_private_room() -> None:
    world = World()
    join(world, MOD, password="pw")
    view = world.auth.room(TENANT, ROOM)
    assert view is not None and view.private
    [joined] = join(world, ANN, password="pw")
    assert type(joined) is ConvJoined and joined.members == [MOD, ANN]


def test_waiting_room_then_allowed() -> None:
    world = World()
    join(world, MOD, moderated=True)
    request = ConvJoin(ROOM, "j1")
    world.send(ANN, request)
    assert world.take(ANN) == [ConvWaiting(ROOM, "j1", MOD)]
    assert world.take(MOD) == [ConvJoinRequest(ROOM, ANN)]
    assert members(world) == [MOD] and waiting(world) == [ANN]
    world.send(MOD, ConvAllow(ROOM, "a1", "ann"))
    assert world.take(MOD) == [
        ConvAck(ROOM, "a1", ConvCommand.ALLOW),
        ConvWaitingLeft(ROOM, ANN, LeaveReason.ALLOWED),
        ConvContactJoined(ROOM, ANN, CONTRIBUTOR),
    ]
    got = world.take(ANN)
    assert got[0] == ConvEntry(ROOM, "j1", True)
    assert type(got[1]) is ConvJoined and got[1].request_id == "j1"
    assert got[1].members == [MOD, ANN] and len(got) == 2
    assert members(world) == [MOD, ANN] and waiting(world) == []


def test_waiting_room_then_denied() -> None:
    world = World()
    join(world, MOD, moderated=True)
    world.send(ANN, ConvJoin(ROOM, "j1"))
    world.clear()
    world.send(MOD, ConvDeny(ROOM, "d1", "ann", "not today"))
    assert world.take(ANN) == [ConvEntry(ROOM, "j1", False, "not today")]
    assert world.take(MOD) == [
        ConvAck(ROOM, "d1", ConvCommand.DENY),
        ConvWaitingLeft(ROOM, ANN, LeaveReason.DENIED),
    ]
    assert waiting(world) == [] and members(world) == [MOD]


def test_cancel_join() -> None:
    world = World()
    join(world, MOD, moderated=True)
    join(world, ANN)
    world.clear()
    world.send(ANN, ConvCancelJoin(ROOM, "c1"))
    assert world.take(ANN) == [ConvAck(ROOM, "c1", ConvCommand.CANCEL_JOIN)]
    assert world.take(MOD) == [ConvWaitingLeft(ROOM, ANN, LeaveReason.CANCELLED)]
    assert waiting(world) == [] and world.auth.rooms_of(ANN) == ()


def test_eject_ban_and_rejoin_after_the_ban() -> None:
    world = World(ban_time=30.0)
    join(world, MOD)
    join(world, ANN)
    join(world, BOB)
    world.ids["ann/2"] = ident("ann")
    join(world, "ann/2")
    world.clear()
    world.send(MOD, ConvEject(ROOM, "e1", "ann", "spam"))
    ejected = ConvEjected(ROOM, "ann", "spam")
    assert world.take(ANN) == [ejected] and world.take("ann/2") == [ejected]
    assert world.take(BOB) == [
        ejected,
        ConvContactLeft(ROOM, ANN, LeaveReason.EJECTED),
        ConvContactLeft(ROOM, "ann/2", LeaveReason.EJECTED),
    ]
    assert world.take(MOD)[0] == ConvAck(ROOM, "e1", ConvCommand.EJECT)
    assert members(world) == [MOD, BOB]
    world.now = 29.9
    assert_refused(world, ANN, ConvJoin(ROOM, world.rid()), RoomRefusal.BANNED)
    world.now = 30.0
    assert [type(m) for m in join(world, ANN)] == [ConvJoined]
    assert world.auth.banned_until(TENANT, ROOM, "ann", world.now) is None


def test_eject_a_waiter_bans_it_too() -> None:
    world = World()
    join(world, MOD, moderated=True)
    join(world, ANN)
    world.clear()
    world.send(MOD, ConvEject(ROOM, "e1", "ann"))
    assert world.take(ANN) == [ConvEjected(ROOM, "ann")]
    assert world.take(MOD) == [
        ConvAck(ROOM, "e1", ConvCommand.EJECT),
        ConvWaitingLeft(ROOM, ANN, LeaveReason.EJECTED),
    ]
    assert_refused(world, ANN, ConvJoin(ROOM, world.rid()), RoomRefusal.BANNED)


def test_close() -> None:
    world = World()
    join(world, MOD, moderated=True)
    join(world, ANN)
    world.send(MOD, ConvAllow(ROOM, world.rid(), "ann"))
    join(world, BOB)
    world.clear()
    world.send(MOD, ConvClose(ROOM, "x1"))
    assert world.take(MOD) == [ConvAck(ROOM, "x1", ConvCommand.CLOSE), ConvClosed(ROOM)]
    assert world.take(ANN) == [ConvClosed(ROOM)] and world.take(BOB) == [ConvClosed(ROOM)]
    assert world.auth.room(TENANT, ROOM) is None and world.auth.rooms() == ()
    assert world.auth.rooms_of(ANN) == () and world.auth.rooms_of(BOB) == ()
    # the name is free again: a new room, with a new creator
    [joined] = join(world, ANN)
    assert joined.role is MODERATOR and joined.members == [ANN]


@pytest.mark.parametrize("how", ["leave", "disconnect"])
def test_moderator_leaves_waiters_are_told_and_nobody_is_admitted(how: str) -> None:
    world = World()
    join(world, MOD, moderated=True)
    join(world, ANN)
    world.send(MOD, ConvAllow(ROOM, world.rid(), "ann"))
    join(world, BOB)
    join(world, EVE)
    world.clear()
    if how == "leave":
        world.send(MOD, ConvLeave(ROOM, world.rid()))
    else:
        world.disconnect(MOD)
    reason = LeaveReason.LEFT if how == "leave" else LeaveReason.DISCONNECTED
    assert world.take(BOB) == [ConvModeratorLeft(ROOM, MOD, 0)]
    assert world.take(EVE) == [ConvModeratorLeft(ROOM, MOD, 0)]
    assert world.take(ANN) == [ConvContactLeft(ROOM, MOD, reason)]
    assert members(world) == [ANN] and waiting(world) == [BOB, EVE]
    # the waiters stay waiting; a new join waits with no moderator named
    world.send("cat/1", ConvJoin(ROOM, "c1"))
    assert world.take("cat/1") == [ConvWaiting(ROOM, "c1", None)]
    assert world.take(ANN) == []
    # the moderator comes back: the waiters are told and it gets their join requests
    world.clear()
    got = join(world, "mod/3")
    assert type(got[0]) is ConvJoined and got[0].role is MODERATOR
    assert got[1:] == [ConvJoinRequest(ROOM, w) for w in (BOB, EVE, "cat/1")]
    assert world.take(BOB) == [ConvModeratorConnected(ROOM, "mod/3")]
    assert members(world) == [ANN, "mod/3"]


def test_the_last_one_out_forgets_the_room() -> None:
    world = World()
    join(world, MOD)
    join(world, ANN)
    world.send(MOD, ConvSetData(ROOM, world.rid(), 0, {"a": 1}))
    world.send(MOD, ConvLeave(ROOM, world.rid()))
    world.disconnect(ANN)
    assert world.auth.rooms() == () and world.auth.state(world.now) == ((), (), ())
    [joined] = join(world, BOB)
    assert joined.data_version == 0 and joined.role is MODERATOR


def test_messages_are_numbered_and_replayed_to_late_joiners() -> None:
    world = World(history_size=2)
    join(world, MOD)
    join(world, ANN)
    world.clear()
    for n in range(3):
        world.send(ANN, ConvSendMessage(ROOM, f"m{n}", f"hello {n}"))
    acks = world.take(ANN)
    assert acks == [ConvAck(ROOM, f"m{n}", ConvCommand.MESSAGE, seq=n + 1) for n in range(3)]
    got = world.inbox[MOD]
    assert [env.message for env in got] == [
        ConvMessage(ROOM, n + 1, f"hello {n}") for n in range(3)
    ]
    assert all(env.sender == ANN for env in got)
    world.clear()
    world.send(BOB, ConvJoin(ROOM, "j1"))
    got_bob = world.inbox[BOB]
    assert type(got_bob[0].message) is ConvJoined and got_bob[0].message.seq == 3
    assert [env.message for env in got_bob[1:]] == [
        ConvMessage(ROOM, 2, "hello 1", True),
        ConvMessage(ROOM, 3, "hello 2", True),
    ]
    assert [env.sender for env in got_bob] == [None, ANN, ANN]
    view = world.auth.room(TENANT, ROOM)
    assert view is not None and view.history == (2, 3)


def test_nothing_but_waiting_room_notices_reaches_a_waiter(moderated: World) -> None:
    world = moderated
    world.send(ANN, ConvSendMessage(ROOM, "m1", "hi"))
    world.send(ANN, ConvSendData(ROOM, "d1", {}))
    world.send(ANN, ConvSendEvent(ROOM, "e1", "x", {}))
    world.send(ANN, ConvSetData(ROOM, "s1", 0, {"a": 1}))
    join(world, "mod/2")
    world.send("mod/2", ConvLeave(ROOM, "l1"))
    assert world.take(BOB) == [
        ConvModeratorConnected(ROOM, "mod/2"),
        ConvModeratorLeft(ROOM, "mod/2", 1),
    ]


def test_history_is_bounded_in_characters_too() -> None:
    world = World(history_size=10, history_chars=10)
    join(world, MOD)
    for n in range(4):
        world.send(MOD, ConvSendMessage(ROOM, f"m{n}", "abcd"))
    view = world.auth.room(TENANT, ROOM)
    assert view is not None and view.history == (3, 4)


def test_data_and_custom_events_reach_the_other_members() -> None:
    world = World()
    join(world, MOD)
    join(world, ANN)
    join(world, BOB)
    world.clear()
    world.send(ANN, ConvSendData(ROOM, "d1", {"x": [1, 2]}))
    world.send(ANN, ConvSendEvent(ROOM, "e1", "wave", {"hand": "left"}))
    expected = [ConvData(ROOM, {"x": [1, 2]}), ConvCustomEvent(ROOM, "wave", {"hand": "left"})]
    assert world.take(MOD) == expected and world.take(BOB) == expected
    assert world.take(ANN) == [
        ConvAck(ROOM, "d1", ConvCommand.DATA),
        ConvAck(ROOM, "e1", ConvCommand.CUSTOM_EVENT),
    ]


def test_persistent_data_compare_and_set() -> None:
    world = World()
    join(world, MOD)
    join(world, ANN)
    world.clear()
    world.send(MOD, ConvGetData(ROOM, "g0"))
    assert world.take(MOD) == [ConvDataState(ROOM, "g0", 0, {})]
    # both read version 0 and write: the first wins, the second is told the current version
    world.send(MOD, ConvSetData(ROOM, "s1", 0, {"topic": "a", "n": 1}))
    assert world.take(MOD) == [ConvAck(ROOM, "s1", ConvCommand.SET_DATA, version=1)]
    assert world.take(ANN) == [ConvDataUpdated(ROOM, 1, {"topic": "a", "n": 1})]
    error = assert_refused(
        world, ANN, ConvSetData(ROOM, "s2", 0, {"topic": "b"}), RoomRefusal.VERSION_CONFLICT
    )
    assert error.version == 1
    # the loser rereads and merges: a null removes a key
    world.send(ANN, ConvUpdateData(ROOM, "u1", 1, {"topic": "b", "n": None, "m": 2}))
    assert world.take(ANN) == [ConvAck(ROOM, "u1", ConvCommand.UPDATE_DATA, version=2)]
    assert world.take(MOD) == [ConvDataUpdated(ROOM, 2, {"topic": "b", "m": 2})]
    world.send(MOD, ConvGetData(ROOM, "g1"))
    assert world.take(MOD) == [ConvDataState(ROOM, "g1", 2, {"topic": "b", "m": 2})]


def test_updates_never_change_data_already_sent() -> None:
    world = World()
    join(world, MOD)
    join(world, ANN)
    world.send(MOD, ConvSetData(ROOM, "s1", 0, {"a": 1}))
    world.clear()
    world.send(MOD, ConvGetData(ROOM, "g1"))
    [state] = world.take(MOD)
    world.send(MOD, ConvUpdateData(ROOM, "u1", 1, {"a": 2}))
    assert state == ConvDataState(ROOM, "g1", 1, {"a": 1})


# --- repeats ----------------------------------------------------------------------------------


def test_a_repeated_join_request_is_answered_again_and_changes_nothing() -> None:
    world = World()
    join(world, MOD, moderated=True)
    world.send(ANN, ConvJoin(ROOM, "j1"))
    world.clear()
    before = world.auth.state(world.now)
    for _ in range(3):
        world.send(ANN, ConvJoin(ROOM, "j1"))
    assert world.take(ANN) == [ConvWaiting(ROOM, "j1", MOD)] * 3
    assert world.take(MOD) == [] and world.auth.state(world.now) == before
    world.send(MOD, ConvDeny(ROOM, "d1", "ann"))
    world.clear()
    world.send(ANN, ConvJoin(ROOM, "j1"))  # a stale repeat after the answer: not a new request
    assert waiting(world) == [] and world.take(MOD) == []
    assert world.take(ANN) == [ConvAck(ROOM, "j1", ConvCommand.JOIN)]
    # a member repeating its join gets the member list as it is now
    world.send(BOB, ConvJoin("pub", "b1"))
    world.send(EVE, ConvJoin("pub", "e1"))
    world.clear()
    world.send(BOB, ConvJoin("pub", "b1"))
    [again] = world.take(BOB)
    assert type(again) is ConvJoined and again.members == [BOB, EVE]
    assert world.take(EVE) == []


def test_a_repeated_allow_is_acknowledged_again_and_admits_once() -> None:
    world = World()
    join(world, MOD, moderated=True)
    world.send(ANN, ConvJoin(ROOM, "j1"))
    world.send(MOD, ConvAllow(ROOM, "a1", "ann"))
    world.clear()
    before = world.auth.state(world.now)
    world.send(MOD, ConvAllow(ROOM, "a1", "ann"))
    assert world.take(MOD) == [ConvAck(ROOM, "a1", ConvCommand.ALLOW)]
    assert world.take(ANN) == [] and world.auth.state(world.now) == before
    # another moderator's allow of an admitted user: acknowledged, nothing else
    world.ids["boss/1"] = ident("boss", "moderator")
    join(world, "boss/1")
    world.clear()
    world.send("boss/1", ConvAllow(ROOM, "a9", "ann"))
    assert world.take("boss/1") == [ConvAck(ROOM, "a9", ConvCommand.ALLOW)]
    assert world.take(ANN) == []


def test_a_repeated_message_is_delivered_once() -> None:
    world = World()
    join(world, MOD)
    join(world, ANN)
    world.clear()
    for _ in range(3):
        world.send(ANN, ConvSendMessage(ROOM, "m1", "once"))
    assert world.take(MOD) == [ConvMessage(ROOM, 1, "once")]
    assert world.take(ANN) == [ConvAck(ROOM, "m1", ConvCommand.MESSAGE, seq=1)] * 3


def test_a_repeated_refused_request_is_judged_again() -> None:
    world = World(max_members=1)
    join(world, MOD)
    assert_refused(world, ANN, ConvJoin(ROOM, "j1"), RoomRefusal.ROOM_FULL)
    world.send(MOD, ConvLeave(ROOM, world.rid()))
    assert [type(m) for m in join(world, ANN)] == [ConvJoined]


def test_answers_kept_are_bounded_and_forgotten_at_disconnect() -> None:
    world = World(answers_kept=2)
    join(world, MOD)
    for n in range(3):
        world.send(MOD, ConvSendMessage(ROOM, f"m{n}", "x"))
    # the oldest answer was forgotten: its repeat is a new message
    world.send(MOD, ConvSendMessage(ROOM, "m0", "x"))
    view = world.auth.room(TENANT, ROOM)
    assert view is not None and view.seq == 4
    world.send(MOD, ConvSendMessage(ROOM, "m2", "x"))
    view = world.auth.room(TENANT, ROOM)
    assert view is not None and view.seq == 4


def test_broadcasts_share_the_member_tuple_until_it_changes() -> None:
    world = World()
    join(world, MOD)
    join(world, ANN)
    join(world, BOB)
    first = world.send(ANN, ConvSendMessage(ROOM, "m1", "a"))[1]
    second = world.send(BOB, ConvSendMessage(ROOM, "m2", "b"))[1]
    assert type(first) is Broadcast and type(second) is Broadcast
    assert first.addresses is second.addresses
    assert first.recipients() == [MOD, BOB] and second.recipients() == [MOD, ANN]
    join(world, EVE)
    third = world.send(BOB, ConvSendMessage(ROOM, "m3", "c"))[1]
    assert type(third) is Broadcast and third.addresses == (MOD, ANN, BOB, EVE)
    assert type(world.send(EVE, ConvGetData(ROOM, "g"))[0]) is Notify


def test_the_example_of_the_docs_runs_and_prints_what_it_says() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "conversations.md").read_text()
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match is not None
    source = match.group(1)
    expected = [line[2:] for line in source.splitlines() if line.startswith("# ")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "conversations.md", "exec"), {})
    assert out.getvalue().splitlines() == expected


def test_one_address_in_two_tenants_is_two_addresses() -> None:
    auth = RoomAuthority(max_rooms_per_address=1)
    acme, globex = ident("ann"), ident("ann", tenant="globex")
    auth.receive(acme, "ann/d", ConvJoin("r", "j1"), 0.0)
    fx = auth.receive(globex, "ann/d", ConvJoin("r2", "j1"), 0.0)  # its own per-address count
    assert type(fx[0]) is Notify and type(fx[0].envelope.message) is ConvJoined
    assert auth.disconnect("ann/d", 1.0, "globex") == []
    assert auth.rooms_of("ann/d", TENANT) == ((TENANT, "r"),)
    assert auth.rooms_of("ann/d", "globex") == () and auth.rooms() == ((TENANT, "r"),)
    assert auth.rooms_of("ann/d") == ((TENANT, "r"),)
    auth.disconnect("ann/d", 2.0)  # no tenant: the address in every tenant
    assert auth.rooms() == ()
