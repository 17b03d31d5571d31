"""Conversations through the asyncio API against a real relay on 127.0.0.1, with real websocket
clients: join, the waiting room (admitted and denied, with the apiRTC number), messages with
their acknowledgement, data and custom events, persistent data compare-and-set, eject, close,
join requests, and the typed errors of misuse."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from adaptertools import WAIT, run, until, world
from rtcstate_asyncio import (
    Conference,
    Conversation,
    ConversationError,
    FakeMedia,
    FakeMediaNetwork,
    ReceivedConversationInvitation,
    ReceivedConversationJoinRequest,
    SentConversationInvitation,
)

from rtcstate.codes import ConversationStatus, ErrorNumber, InvitationStatus
from rtcstate.errors import RtcError

ROOM = "standup"


_NET = FakeMediaNetwork()


def _media(user: str) -> FakeMedia:
    return FakeMedia(_NET, user)


def test_join_messages_data_and_leave() -> None:
    async def test() -> None:
        async with world(_media) as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            a = alice.get_conversation(ROOM)
            assert alice.get_conversation(ROOM) is a and isinstance(a, Conversation)
            assert await a.join() == {"role": "moderator"}  # the room's creator
            b = bob.get_conversation(ROOM)
            joined = a.events("contactJoined")
            assert await b.join() == {"role": "contributor"}
            event = await joined.next(WAIT)
            assert event.payload == "bob/default" and a.get_contacts() == ["bob/default"]
            assert b.status is ConversationStatus.CONVERSATION_STATUS_JOINED

            received = b.events("message", "data", "customEvent")
            session_messages = bob.events("conversationMessage")
            assert await a.send_message("hello") == 1
            assert await a.send_message("again") == 2
            await a.send_data({"x": 1})
            await a.send_custom_event("raise-hand", {"who": "alice"})
            got = [await received.next(WAIT) for _ in range(4)]
            assert [e.name for e in got] == ["message", "message", "data", "customEvent"]
            assert [got[0].payload["content"], got[1].payload["content"]] == ["hello", "again"]
            assert got[0].payload["sender"] == "alice/default"
            assert got[2].payload == {"content": {"x": 1}, "sender": "alice/default"}
            assert got[3].payload["event"] == "raise-hand"
            assert (await session_messages.next(WAIT)).payload["conversation"] == ROOM

            left = a.events("contactLeft")
            await b.leave()
            assert (await left.next(WAIT)).payload == "bob/default"
            assert not b.is_joined() and b.fired("left") == [None]

    run(test)


def test_persistent_data_compare_and_set_tells_the_loser() -> None:
    async def test() -> None:
        async with world(_media) as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            a, b = alice.get_conversation(ROOM), bob.get_conversation(ROOM)
            await a.join()
            await b.join()
            updated = b.events("persistentDataUpdated")
            version = await a.set_data({"topic": "release"})
            assert version == 1
            assert (await updated.next(WAIT)).payload["data"] == {"topic": "release"}
            # a races b, both from version 1: exactly one wins, the loser is told the version
            await until(lambda: b.data_version == 1)
            race = [a.update_data({"topic": "retro"}), b.update_data({"topic": "demo"})]
            results = await asyncio.gather(*race, return_exceptions=True)
            won = [r for r in results if r == 2]
            lost = [r for r in results if isinstance(r, ConversationError)]
            assert len(won) == 1 and len(lost) == 1, results
            assert lost[0].code is ErrorNumber.ERROR_ON_SAVE and lost[0].version == 2
            topic = "retro" if results[0] == 2 else "demo"
            assert await b.get_data() == {"data": {"topic": topic}, "version": 2}

    run(test)


def test_waiting_room_one_admitted_one_denied_then_eject_and_close() -> None:
    async def test() -> None:
        async with world(_media) as w:
            mod = await w.join("mod")
            ann, ben, cid = await w.join("ann"), await w.join("ben"), await w.join("cid")
            room = mod.get_conference(ROOM, moderated=True)
            assert isinstance(room, Conference)
            assert await room.join() == {"role": "moderator"}

            requests: asyncio.Queue[ReceivedConversationJoinRequest] = asyncio.Queue()
            mod.on("conversationJoinRequest", requests.put_nowait)
            a, b = ann.get_conference(ROOM), ben.get_conference(ROOM)
            waiting_a = a.events("waitingForModeratorAcceptance")
            join_a = asyncio.ensure_future(a.join())
            first = await asyncio.wait_for(requests.get(), WAIT)
            assert first.sender == "ann/default" and first.conversation is room
            assert (await waiting_a.next(WAIT)).payload == {"moderator": "mod/default"}
            assert a.status is ConversationStatus.CONVERSATION_STATUS_WAITING
            assert room.get_waiting_room_contacts() == ["ann/default"]
            await first.accept()
            assert await asyncio.wait_for(join_a, WAIT) == {"role": "contributor"}
            assert a.fired("entryAllowed") == [None]

            join_b = asyncio.ensure_future(b.join())
            second = await asyncio.wait_for(requests.get(), WAIT)
            await second.decline("not today")
            with pytest.raises(ConversationError) as denied:
                await asyncio.wait_for(join_b, WAIT)
            assert denied.value.code is ErrorNumber.ERROR_NOT_ALLOWED
            assert b.fired("entryDenied") == [None] and not b.is_joined()
            with pytest.raises(RtcError) as twice:
                await second.accept()
            assert twice.value.code is ErrorNumber.ERROR_INVITATION_STATE_INVALID

            # a member that is not a moderator: refused locally with the apiRTC number
            with pytest.raises(RtcError) as unauthorized:
                await a.eject("mod")
            assert unauthorized.value.code is ErrorNumber.ERROR_UNAUTHORIZED

            # cid waits then cancels: its join raises 15
            c = cid.get_conference(ROOM)
            join_c = asyncio.ensure_future(c.join())
            await asyncio.wait_for(requests.get(), WAIT)
            await until(lambda: c.status is ConversationStatus.CONVERSATION_STATUS_WAITING)
            assert c.cancel_join() is True
            with pytest.raises(ConversationError) as cancelled:
                await asyncio.wait_for(join_c, WAIT)
            assert cancelled.value.code is ErrorNumber.ERROR_OPERATION_CANCELED

            # eject ann: she is out, and her rejoin is refused while banned
            ejected = a.events("participantEjected")
            await room.eject("ann")
            assert (await ejected.next(WAIT)).payload == {"self": True, "contact": "ann"}
            assert not a.is_joined()
            with pytest.raises(ConversationError) as banned:
                await a.join()
            assert banned.value.code is ErrorNumber.ERROR_NOT_ALLOWED

            # a message after the ejection reaches nobody who left
            await room.close()
            assert room.fired("closed") == [None] and not room.is_joined()

    run(test)


def test_close_reaches_every_member_and_misuse_raises_before_sending() -> None:
    async def test() -> None:
        async with world(_media) as w:
            mod, ann = await w.join("mod"), await w.join("ann")
            room = mod.get_conference(ROOM)
            await room.join()
            a = ann.get_conference(ROOM)
            await a.join()
            events: list[tuple[str, Any]] = []
            for name in ("closed", "left"):
                a.on(name, lambda payload, name=name: events.append((name, payload)))
            await room.close()
            await until(lambda: len(events) == 2)
            assert events == [("closed", None), ("left", None)]
            with pytest.raises(RtcError) as not_joined:
                await a.send_message("late")
            assert not_joined.value.code is ErrorNumber.ERROR_WRONG_STATE
            with pytest.raises(RtcError) as not_joined_leave:
                await a.leave()
            assert not_joined_leave.value.code is ErrorNumber.ERROR_WRONG_STATE

    run(test)


def test_pending_requests_are_rejected_when_the_session_closes() -> None:
    async def test() -> None:
        async with world(_media) as w:
            mod, ann = await w.join("mod"), await w.join("ann")
            room = mod.get_conversation(ROOM, moderated=True)
            await room.join()
            a = ann.get_conversation(ROOM)
            join = asyncio.ensure_future(a.join())
            await until(lambda: a.status is ConversationStatus.CONVERSATION_STATUS_WAITING)
            await w.uas["ann"].unregister()
            with pytest.raises(ConversationError) as gone:
                await asyncio.wait_for(join, WAIT)
            assert gone.value.code is ErrorNumber.ERROR_NETWORK_UNAVAILABLE

    run(test)


def test_invitations_accepted_declined_and_expired() -> None:
    async def test() -> None:
        async with world(_media) as w:
            alice, bob, cid = await w.join("alice"), await w.join("bob"), await w.join("cid")
            room = alice.get_conference(ROOM)
            await room.join()
            invitations = bob.events("conversationInvitation")
            sent = room.send_invitation("bob", expiration=30.0)
            assert isinstance(sent, SentConversationInvitation) and sent.type == "conference"
            received = sent.events("receive", "response")
            inv = (await invitations.next(WAIT)).payload
            assert isinstance(inv, ReceivedConversationInvitation)
            assert inv.sender == "alice/default" and inv.room == ROOM
            assert (await received.next(WAIT)).payload == {"contact": "bob/default"}
            joined = await inv.accept()
            assert isinstance(joined, Conference) and joined.is_joined()
            assert joined is bob.get_conference(ROOM)
            assert (await received.next(WAIT)).payload == "INVITATION_STATUS_ACCEPTED"
            assert sent.status is InvitationStatus.INVITATION_STATUS_ACCEPTED
            await until(lambda: room.get_contacts() == ["bob/default"])

            declined = room.send_invitation("cid")
            cid_inv = await cid.wait_for("conversationInvitation", WAIT)
            cid_inv.decline("busy")
            assert await declined.answer(WAIT) is InvitationStatus.INVITATION_STATUS_DECLINED

            expiring = room.send_invitation("cid", expiration=0.3)
            assert await expiring.answer(WAIT) is InvitationStatus.INVITATION_STATUS_EXPIRED

    run(test)
