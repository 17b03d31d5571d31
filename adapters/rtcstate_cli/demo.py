"""``rtcstate demo``: two agents call each other over real WebRTC on loopback.

Theory of operation
-------------------
One process runs everything on one asyncio loop: the relay (``rtcstate_asyncio.serve`` on
127.0.0.1), and two or three agents (``UserAgent`` with an ``AiortcMedia`` backend restricted to
loopback host candidates, no STUN/TURN). The scenario drives the agents through the apiRTC-shaped
API only; every apiRTC event any object fires is printed as it happens (``Session.on_any``),
with the time since the start. Every wait is bounded; a failure ends the demo with a clear
message and a non-zero exit code. Scenarios:

* ``call`` (the default): alice calls bob with synthetic audio and video, bob accepts, frames
  flow both ways (counted), they exchange data-channel messages, alice sends bob a generated
  file (with a progress bar and a sha256 check on both ends), alice hangs up;
* ``decline``: bob declines; ``busy``: bob is in a call with alice when carol calls him;
  ``notfound``: alice calls a user who is not registered;
* ``conference``: a moderator and three agents in a conference (waiting room, admitted and
  denied, an invitation, messages, eject, close), then the four in a mesh room with media
  (each publishing, each subscribing to all others, an unpublish, a kill):
  :mod:`rtcstate_cli.conference`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import attrs

from rtcstate.settings import CallSettings

SCENARIOS = ("call", "decline", "busy", "notfound", "conference")

#: events too frequent to print one by one (a progress bar shows them)
_QUIET = frozenset({"transferProgress", "fileTransferProgress", "progress", "statsUpdate"})


class DemoFailed(Exception):
    """A step of the demo did not happen as it should."""


class Printer:
    """Prints apiRTC events as they happen, and the progress bar."""

    def __init__(self, out: TextIO, start: float) -> None:
        self.out = out
        self.start = start
        self.counts: dict[str, int] = {}
        self._bar = False

    def tap(self, user: str) -> Callable[[str, str, Any], None]:
        def on_event(target: str, event: str, payload: Any) -> None:
            self.counts[event] = self.counts.get(event, 0) + 1
            if event in _QUIET:
                return
            self.line(f"{user:<6} {target[:40]:<40} {event}{_brief(event, payload)}")

        return on_event

    def line(self, text: str) -> None:
        self._end_bar()
        print(f"[{time.monotonic() - self.start:6.2f}s] {text}", file=self.out, flush=True)

    def progress(self, label: str, percentage: float) -> None:
        width = 30
        done = int(width * percentage / 100)
        bar = "#" * done + "." * (width - done)
        if self.out.isatty():
            print(f"\r  {label} [{bar}] {percentage:5.1f}%", end="", file=self.out, flush=True)
            self._bar = True
        elif percentage >= 100 or int(percentage) % 25 == 0:
            print(f"  {label} [{bar}] {percentage:5.1f}%", file=self.out, flush=True)

    def _end_bar(self) -> None:
        if self._bar:
            print(file=self.out)
            self._bar = False


def _brief(event: str, payload: Any) -> str:
    if isinstance(payload, dict):
        keys = ("status", "from", "reason", "type", "errorCode", "streamId", "uuid")
        shown = {k: payload[k] for k in keys if k in payload}
        if event == "dataReceived":
            shown["data"] = str(payload.get("data"))[:40]
        return f" {shown}" if shown else ""
    if isinstance(payload, str):
        return f" {payload}"
    return ""


async def _within(awaitable: Any, seconds: float, what: str) -> Any:
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise DemoFailed(f"{what}: nothing after {seconds:.0f} s") from None


async def run(
    scenario: str = "call",
    size: int = 4 << 20,
    out: TextIO = sys.stdout,
    relay_url: str | None = None,
) -> int:
    """Run one scenario; return the process exit code (0: every step happened).

    ``relay_url``: use a relay already running there (``rtcstate serve``) instead of starting
    one in this process."""
    if scenario == "conference":
        from rtcstate_cli import conference

        return await conference.run(out, relay_url)
    from rtcstate_aiortc import AiortcMedia
    from rtcstate_asyncio import UserAgent, serve

    start = time.monotonic()
    printer = Printer(out, start)
    relay = await serve("127.0.0.1", 0) if relay_url is None else None
    url = relay.url if relay is not None else str(relay_url)
    printer.line(f"relay {'listening on' if relay is not None else 'at'} {url}")
    # short timers: a dead peer is noticed in seconds, not aiortc's 30-60 s
    timers = CallSettings(ice_disconnection_timeout=5.0, no_answer_timeout=20.0)
    users = ("alice", "bob", "carol") if scenario == "busy" else ("alice", "bob")
    media = {u: AiortcMedia(loopback_only=True) for u in users}
    agents = {}
    for user in users:
        # busy: bob takes one call at a time (apiRTC's allowMultipleCalls(false))
        single = scenario == "busy" and user == "bob"
        calls = attrs.evolve(timers, allow_multiple_calls=False) if single else timers
        agents[user] = UserAgent(user, media=media[user], options={"calls": calls})
    summary: list[str] = []
    try:
        sessions = {}
        for user, ua in agents.items():
            sessions[user] = await _within(ua.register(url, timeout=10), 15, "register")
            sessions[user].on_any(printer.tap(user))
        await _scenario(scenario, sessions, media, printer, summary, size)
    except DemoFailed as exc:
        printer.line(f"DEMO FAILED: {exc}")
        return 1
    finally:
        for ua in agents.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ua.unregister(), 10)
        if relay is not None:
            await relay.close()
        for backend in media.values():
            with contextlib.suppress(Exception):
                await backend.close()
    printer.line("summary:")
    for item in summary:
        print(f"  - {item}", file=out)
    print(f"  - events seen: {sum(printer.counts.values())} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(printer.counts.items()))})",
          file=out)  # fmt: skip
    print("demo OK", file=out, flush=True)
    return 0


async def _scenario(
    scenario: str,
    sessions: dict[str, Any],
    media: dict[str, Any],
    printer: Printer,
    summary: list[str],
    size: int,
) -> None:
    alice, bob = sessions["alice"], sessions["bob"]
    if scenario == "notfound":
        call = alice.get_contact("nobody").call()
        info = await _within(call.wait_for("hangup"), 15, "hangup of a call to nobody")
        summary.append(f"call to an unregistered user ended: {info}")
        return
    answer = "decline" if scenario == "decline" else "accept"

    def on_incoming(invitation: Any) -> None:
        if answer == "accept":
            invitation.accept()
        else:
            invitation.decline()

    bob.on("incomingCall", on_incoming)
    call = alice.get_contact("bob").call()
    stream = call.wait_for("streamAdded")  # bob's stream may come before ``accepted``
    if answer == "decline":
        stream.cancel()
        info = await _within(call.wait_for("hangup"), 15, "hangup of a declined call")
        if info.get("reason") != "User_Refused_Call":
            raise DemoFailed(f"declined call ended with {info}")
        summary.append(f"bob declined: alice's call ended with {info}")
        return
    await _within(call.wait_for("accepted"), 20, "alice's call accepted")
    await _within(stream, 20, "bob's stream at alice")
    await asyncio.sleep(2.0)  # let frames flow
    sent, got = media["alice"].frames_sent(call.id), media["alice"].frames_received(call.id)
    b_got = media["bob"].frames_received(call.id)
    if not (got.get("video") and got.get("audio") and b_got.get("video") and b_got.get("audio")):
        raise DemoFailed(f"frames did not flow both ways: alice got {got}, bob got {b_got}")
    summary.append(f"media: alice sent {sent}, received {got}; bob received {b_got}")
    if scenario == "busy":
        carol_call = sessions["carol"].get_contact("bob").call()
        info = await _within(carol_call.wait_for("hangup"), 15, "carol's call to busy bob")
        if info.get("reason") != "User_Busy":
            raise DemoFailed(f"carol's call ended with {info}")
        summary.append(f"carol called busy bob: {info}")
    else:
        await _data_channel(alice, bob, summary)
        await _file(alice, bob, printer, summary, size)
    ended = call.wait_for("hangup")
    call.hangup()
    info = await _within(ended, 15, "hangup")
    summary.append(f"alice hung up: {info}")


async def _data_channel(alice: Any, bob: Any, summary: list[str]) -> None:
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def on_invitation(invitation: Any) -> None:
        channel = invitation.accept()
        channel.on("dataReceived", lambda info: channel.send_data(f"re: {info['data']}"))

    bob.on("dataChannelInvitation", on_invitation)
    channel = alice.get_contact("bob").start_data_channel("chat")

    def on_data(info: Any) -> None:
        if not got.done():
            got.set_result(info["data"])

    channel.on("dataReceived", on_data)
    await _within(channel.wait_for("opened"), 20, "data channel opened")
    channel.send_data("hello bob")
    answer = await _within(got, 10, "bob's answer on the data channel")
    if answer != "re: hello bob":
        raise DemoFailed(f"data channel answer {answer!r}")
    closed = channel.wait_for("ended")
    channel.close()
    await _within(closed, 10, "data channel ended")
    summary.append(f"data channel: sent 'hello bob', got {answer!r}")


async def _file(alice: Any, bob: Any, printer: Printer, summary: list[str], size: int) -> None:
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    received: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def take(invitation: Any) -> None:
        try:
            file = await invitation.accept()
        except Exception as exc:  # the transfer failed: the demo reports it
            if not received.done():
                received.set_exception(exc)
        else:
            if not received.done():
                received.set_result(file)

    tasks: set[asyncio.Task[None]] = set()

    def on_invitation(invitation: Any) -> None:
        task = asyncio.ensure_future(take(invitation))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    bob.on("fileTransferInvitation", on_invitation)
    contact = alice.get_contact("bob")
    contact.on(
        "fileTransferProgress",
        lambda info: printer.progress("file", info["transferInformation"]["percentage"]),
    )
    began = time.monotonic()
    sent = contact.send_file(data, name="demo.bin", type="application/octet-stream")
    result = await _within(received, 120, "the file at bob")
    await _within(sent.done(), 30, "fileSentSuccessfully")
    elapsed = time.monotonic() - began
    if hashlib.sha256(result["file"]).hexdigest() != digest:
        raise DemoFailed("the file bob received differs from the one alice sent")
    summary.append(
        f"file: {size} bytes in {elapsed:.2f} s ({size / elapsed / 1e6:.2f} MB/s), "
        f"sha256 {digest[:16]}... identical on both ends"
    )
