"""Typed handlers mypy --strict must accept (tests/test_typed_events.py runs mypy on it)."""

from __future__ import annotations

from rtcstate_asyncio import Call, DataChannel, ReceivedCallInvitation, Session, UserAgent
from rtcstate_asyncio.events import (
    ConversationMessageInfo,
    DataReceivedInfo,
    HangupInfo,
    StatusChangeInfo,
)


def on_hangup(info: HangupInfo) -> None:
    print(info["from"], info["reason"])


def on_accepted(payload: None) -> None:  # a payload-less event: the handler gets None
    assert payload is None


async def use(ua: UserAgent, session: Session, call: Call, channel: DataChannel) -> str:
    call.on("hangup", on_hangup).on("accepted", on_accepted)
    call.once("hangup", lambda info: print(info["reason"].upper()))

    @session.on("incomingCall")
    def ring(invitation: ReceivedCallInvitation) -> None:
        invitation.accept()

    @channel.once("dataReceived")
    def first(info: DataReceivedInfo) -> int:
        return len(info["data"])

    assert ring.__name__ == "ring"  # the decorator returns the function itself
    size: int = first({"uuid": "u", "data": "abc"})
    info: HangupInfo = await call.wait_for("hangup", timeout=5)
    status = await ua.wait_for("ccsConnectionStatus")
    if status["status"] == "connected":
        print(size, info["from"])
    async for event in channel.events("dataReceived"):
        data: str | bytes = event.payload["data"]
        print(event.name, data)
    async for any_event in call.events():
        print(any_event.name, any_event.payload)
    change: StatusChangeInfo = (await session.wait_for("incomingCall")).fired("statusChange")[0]
    return change["status"]


async def conversation(session: Session) -> int:
    room = session.get_conference("standup", moderated=True)
    room.on("participantEjected", lambda info: print(info["self"], info["contact"]))

    @room.on("message")
    def said(message: ConversationMessageInfo) -> str:
        return message["sender"] + message["content"]

    request = await session.wait_for("conversationJoinRequest")
    await request.accept()
    async for event in room.events("persistentDataUpdated"):
        version: int = event.payload["version"]
        print(version)
    await room.close()
    return await room.send_message("hello")
