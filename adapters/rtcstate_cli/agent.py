"""``rtcstate agent --name bot``: a Python agent to call (from the web page, or another agent).

Theory of operation
-------------------
A :class:`Bot` is one ``UserAgent`` with an ``AiortcMedia`` backend (loopback host candidates
only, no STUN/TURN, unless ``ice_servers`` names a deployment's) registered on a relay. It
drives the apiRTC-shaped API only: it answers every call (sending aiortc's synthetic test
pattern and tone back, or ``media_file`` played in a loop, counting what it receives), accepts
every data channel and echoes each message (``echo: <text>``), and accepts every file,
keeping its sha256 (and announcing it on its open data channels, ``sha256 <name> <hex>``).
With ``busy=True`` it takes one call at a time (apiRTC's ``allowMultipleCalls(false)``), so a
second caller hears ``User_Busy``; with ``decline=True`` it refuses every call. Every event is
printed with the time since the start. Tests run a Bot in their own loop and read its
:attr:`Bot.files`, :attr:`Bot.calls` and its backend's frame counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
import time
from typing import Any, TextIO

import attrs

from rtcstate.codes import DataChannelStatus
from rtcstate.settings import CallSettings

__all__ = ["Bot", "run"]


class Bot:
    """An answering agent (see the module docstring)."""

    def __init__(
        self,
        name: str = "bot",
        *,
        decline: bool = False,
        busy: bool = True,
        out: TextIO | None = sys.stdout,
        ice_servers: list[str] | None = None,
        media_file: str | None = None,
    ) -> None:
        from rtcstate_aiortc import AiortcMedia
        from rtcstate_aiortc.feeds import file_source
        from rtcstate_aiortc.ice import ice_servers_from
        from rtcstate_asyncio import UserAgent

        self.name = name
        self.decline = decline
        self.out = out
        self.start = time.monotonic()
        servers = ice_servers_from(ice_servers or [])
        source = None if media_file is None else file_source(media_file, loop=True)
        # loopback only unless the deployment names its STUN/TURN servers
        self.media = AiortcMedia(
            loopback_only=not servers, ice_servers=servers, media_source=source
        )
        calls = CallSettings(ice_disconnection_timeout=5.0, no_answer_timeout=30.0)
        if busy:
            calls = attrs.evolve(calls, allow_multiple_calls=False)
        self.ua = UserAgent(name, media=self.media, options={"calls": calls})
        self.session: Any = None
        self.calls: list[Any] = []
        self.channels: list[Any] = []
        self.messages: list[str] = []
        self.files: list[dict[str, Any]] = []
        self.hangups: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def line(self, text: str) -> None:
        if self.out is not None:
            print(f"[{time.monotonic() - self.start:7.2f}s] {self.name}: {text}", file=self.out,
                  flush=True)  # fmt: skip

    async def register(self, url: str, timeout: float = 10.0) -> Any:
        session = await self.ua.register(url, timeout=timeout)
        self.session = session
        session.on_any(self._tap)
        session.on("incomingCall", self._incoming)
        session.on("dataChannelInvitation", self._channel)
        session.on("fileTransferInvitation", self._file)
        self.line(f"registered on {url}")
        return session

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
        if self.ua.session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ua.unregister(), 10)
        with contextlib.suppress(Exception):
            await self.media.close()

    # --- what the bot does --------------------------------------------------------------------

    def _tap(self, target: str, event: str, payload: Any) -> None:
        if event in {"progress", "fileTransferProgress", "statsUpdate", "transferProgress"}:
            return
        shown = payload if isinstance(payload, dict | str) else type(payload).__name__
        self.line(f"{target[:44]} {event} {str(shown)[:100]}")

    def _incoming(self, invitation: Any) -> None:
        if self.decline:
            invitation.decline()
            return
        call = invitation.accept()
        self.calls.append(call)
        call.on("hangup", lambda info: self.hangups.append(dict(info or {})))

    def _channel(self, invitation: Any) -> None:
        channel = invitation.accept()
        self.channels.append(channel)

        def echo(info: Any) -> None:
            data = info.get("data") if isinstance(info, dict) else None
            if isinstance(data, str):
                self.messages.append(data)
                channel.send_data(f"echo: {data}")

        channel.on("dataReceived", echo)

    def _file(self, invitation: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._take(invitation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _take(self, invitation: Any) -> None:
        try:
            file = await invitation.accept()
        except Exception as exc:
            self.line(f"file failed: {exc}")
            return
        digest = hashlib.sha256(file["file"]).hexdigest()
        self.files.append({**file, "digest": digest})
        self.line(f"file {file['name']}: {file['size']} bytes, sha256 {digest}")
        for channel in self.channels:
            if channel.status is DataChannelStatus.DATACHANNEL_STATUS_ONGOING:
                with contextlib.suppress(Exception):
                    channel.send_data(f"sha256 {file['name']} {digest}")


async def run(
    name: str,
    relay_url: str,
    *,
    decline: bool = False,
    busy: bool = True,
    ice_servers: list[str] | None = None,
    media_file: str | None = None,
) -> int:
    """Run a bot on the relay at ``relay_url`` until Ctrl-C."""
    bot = Bot(name, decline=decline, busy=busy, ice_servers=ice_servers, media_file=media_file)
    try:
        await bot.register(relay_url)
        await asyncio.Event().wait()
    finally:
        await bot.close()
    return 0  # pragma: no cover - ends by cancellation
