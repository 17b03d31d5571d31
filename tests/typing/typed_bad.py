"""Mistakes mypy must refuse: each line marked ``# error`` is expected to be reported."""

from __future__ import annotations

from rtcstate_asyncio import Call, DataChannel
from rtcstate_asyncio.events import DataReceivedInfo, HangupInfo


def on_hangup(info: HangupInfo) -> None: ...


def on_data(info: DataReceivedInfo) -> None: ...


async def use(call: Call, channel: DataChannel) -> None:
    call.on("hangUp", on_hangup)  # error: no such event (apiRTC spells it hangup)
    call.on("accepted", on_hangup)  # error: accepted has no payload
    channel.on("dataReceived", on_hangup)  # error: the payload is DataReceivedInfo
    info = await call.wait_for("hangup")
    info["nope"]  # error: HangupInfo has no such key
    async for event in channel.events("dataReceived"):
        event.payload["size"]  # error: DataReceivedInfo has no such key
    channel.on("opened", on_data)  # error: opened's payload is OpenedInfo
