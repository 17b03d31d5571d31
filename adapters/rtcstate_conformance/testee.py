"""rtcstate's own testee driver: the asyncio API (``rtcstate_asyncio``) under the wire suite.

Theory of operation
-------------------
:func:`run_testee` connects to the conformance server's control endpoint, says ``hello`` with
its capabilities and then carries out each ``command`` (docs/conformance.md lists them) on the
apiRTC-shaped asyncio API only: ``UserAgent.register``, ``Contact.call``,
``ReceivedCallInvitation.accept``, ``Conversation.join``... A command's misuse error (the
core's ``RtcError``) is returned as a refused ``result``, never raised. Every event the
session emits is reported with its target and a JSON form of its payload (API objects become
``{"class", "id"}``, a call invitation also gives its ``call_id``). Media are the in-process
fake backend: the wire suite checks signaling, and its far side never sends a real SDP.
``reset`` unregisters and forgets everything (after each case).

Conversations: ``join_room`` / ``leave_room`` / ``send_room_message`` start the asyncio
conversation's coroutine (``join()``, ``leave()``, ``send_message()``) as a task and answer at
once: the relay's answer (a ``conv_joined``, a ``conv_ack``) is the suite's to send, after it
has seen the request. A task's failure is the application's business (the events tell it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from rtcstate_asyncio import UserAgent
from rtcstate_asyncio.fakemedia import FakeMediaNetwork
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rtcstate.errors import RtcError
from rtcstate.retry import ExponentialBackoff
from rtcstate.settings import CallSettings

__all__ = ["CAPABILITIES", "Testee", "run_testee"]

#: what this driver can do (cases needing anything else are reported unsupported)
CAPABILITIES = ("calls", "data_channels", "files", "reconnection", "conversations")


class CommandError(Exception):
    """A command that cannot be carried out (the result's ``error``)."""


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON form of an event payload (API objects by class and id)."""
    if depth > 6:
        return repr(value)[:80]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": len(value)}
    ident = getattr(value, "id", None)
    if isinstance(ident, str):
        shown: dict[str, Any] = {"class": getattr(value, "API_CLASS", type(value).__name__)}
        shown["id"] = ident
        core = getattr(value, "core", None)
        call = getattr(core, "call", None)
        call_id = getattr(call, "id", None)
        if isinstance(call_id, str):
            shown["call_id"] = call_id
        channel_id = getattr(core, "channel_id", None)
        if isinstance(channel_id, str):
            shown["channel_id"] = channel_id
        return shown
    return repr(value)[:200]


class Testee:
    """One client under test, driven by control commands."""

    def __init__(self, control: ClientConnection) -> None:
        self.control = control
        self.network = FakeMediaNetwork()
        self.ua: UserAgent | None = None
        self.objects: dict[str, Any] = {}  # ids -> API objects (invitations, calls, channels)
        self.tasks: set[asyncio.Task[Any]] = set()

    async def report(self, target: str, event: str, payload: Any) -> None:
        message = {"type": "event", "target": target, "event": event, "payload": payload}
        with contextlib.suppress(ConnectionClosed):
            await self.control.send(json.dumps(message))

    def _tap(self, target: str, event: str, payload: Any) -> None:
        for obj in _objects_in(payload):
            self.objects[obj.id] = obj
            core = getattr(obj, "core", None)
            call = getattr(core, "call", None)
            for key in (getattr(call, "id", None), getattr(core, "channel_id", None)):
                if isinstance(key, str):
                    self.objects.setdefault(key, obj)
        self._spawn(self.report(target, event, jsonable(payload)))

    def _spawn(self, job: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(job)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def find(self, ident: Any, *classes: str) -> Any:
        obj = self.objects.get(ident) if isinstance(ident, str) else None
        if obj is None or (classes and getattr(obj, "API_CLASS", "") not in classes):
            raise CommandError(f"no {' or '.join(classes) or 'object'} {ident!r}")
        return obj

    # --- the commands ---------------------------------------------------------------------------

    async def do(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = getattr(
            self, f"cmd_{name}", None
        )
        if handler is None:
            raise CommandError(f"unknown command {name!r}")
        return await handler(args)

    @property
    def session(self) -> Any:
        if self.ua is None or self.ua.session is None:
            raise CommandError("not registered")
        return self.ua.session

    async def cmd_register(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.ua is not None:
            raise CommandError("already registered")
        options: dict[str, Any] = {
            "calls": CallSettings(ice_disconnection_timeout=5.0, connect_timeout=30.0),
            "retry_policy": ExponentialBackoff(initial=0.2, maximum=1.0, max_elapsed=30.0),
        }
        if "keepalive_interval" in args:
            options["keepalive_interval"] = float(args["keepalive_interval"])
        if "keepalive_timeout" in args:
            options["keepalive_timeout"] = float(args["keepalive_timeout"])
        user, device = str(args["user"]), str(args.get("device", "default"))
        self.ua = UserAgent(
            user,
            device=device,
            media=lambda: self.network.backend(user),
            options=options,
        )
        try:
            session = await self.ua.register(str(args["url"]), timeout=10.0)
        except BaseException:
            self.ua = None
            raise
        session.on_any(self._tap)
        return {"session_id": session.id}

    async def cmd_unregister(self, args: dict[str, Any]) -> dict[str, Any]:
        ua, self.ua = self.ua, None
        if ua is None:
            raise CommandError("not registered")
        await ua.unregister()
        return {}

    async def cmd_reset(self, args: dict[str, Any]) -> dict[str, Any]:
        ua, self.ua = self.ua, None
        if ua is not None and ua.session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ua.unregister(), 5.0)
        self.objects.clear()
        self.network = FakeMediaNetwork()
        return {}

    async def cmd_call(self, args: dict[str, Any]) -> dict[str, Any]:
        contact = self.session.get_contact(str(args["contact"]))
        call = contact.call(call_type=str(args.get("call_type", "media")))
        self.objects[call.id] = call
        return {"call_id": call.id}

    async def cmd_accept(self, args: dict[str, Any]) -> dict[str, Any]:
        invitation = self.find(args.get("call_id"), "ReceivedCallInvitation")
        call = invitation.accept()
        self.objects[call.id] = call
        return {"call_id": call.id}

    async def cmd_decline(self, args: dict[str, Any]) -> dict[str, Any]:
        invitation = self.find(args.get("call_id"), "ReceivedCallInvitation")
        invitation.decline()
        return {}

    async def cmd_hangup(self, args: dict[str, Any]) -> dict[str, Any]:
        self.find(args.get("call_id"), "Call").hang_up()
        return {}

    async def cmd_open_channel(self, args: dict[str, Any]) -> dict[str, Any]:
        contact = self.session.get_contact(str(args["contact"]))
        channel = contact.start_data_channel(str(args.get("label", "data")))
        self.objects[channel.id] = channel
        return {"channel_id": channel.id}

    async def cmd_accept_channel(self, args: dict[str, Any]) -> dict[str, Any]:
        invitation = self.find(args.get("channel_id"), "ReceivedDataChannelInvitation")
        channel = invitation.accept()
        self.objects[channel.id] = channel
        return {"channel_id": channel.id}

    async def cmd_close_channel(self, args: dict[str, Any]) -> dict[str, Any]:
        self.find(args.get("channel_id"), "DataChannel").close()
        return {}

    async def cmd_send_file(self, args: dict[str, Any]) -> dict[str, Any]:
        contact = self.session.get_contact(str(args["contact"]))
        size = int(args.get("size", 1024))
        sent = contact.send_file(bytes(size), name=str(args.get("name", "file.bin")))
        self.objects[sent.id] = sent
        return {"transfer_id": sent.id}

    async def cmd_accept_file(self, args: dict[str, Any]) -> dict[str, Any]:
        invitation = self.find(args.get("transfer_id"), "ReceivedFileTransferInvitation")
        invitation.accept()
        return {}

    async def cmd_decline_file(self, args: dict[str, Any]) -> dict[str, Any]:
        invitation = self.find(args.get("transfer_id"), "ReceivedFileTransferInvitation")
        invitation.decline()
        return {}

    async def cmd_cancel_file(self, args: dict[str, Any]) -> dict[str, Any]:
        self.find(args.get("transfer_id"), "SentInvitation").cancel()
        return {}

    async def cmd_join_room(self, args: dict[str, Any]) -> dict[str, Any]:
        room = self.session.get_conversation(str(args["room"]))
        self._background(room.join())
        return {}

    async def cmd_leave_room(self, args: dict[str, Any]) -> dict[str, Any]:
        room = self.session.get_conversation(str(args["room"]))
        self._background(room.leave())
        return {}

    async def cmd_send_room_message(self, args: dict[str, Any]) -> dict[str, Any]:
        room = self.session.get_conversation(str(args["room"]))
        self._background(room.send_message(str(args["text"])))
        return {}

    def _background(self, request: Awaitable[Any]) -> None:
        """Run a conversation request the relay answers later (its outcome is not awaited:
        a refusal or an abandon is the application's business, the events tell it)."""

        async def run() -> None:
            with contextlib.suppress(RtcError, asyncio.CancelledError):
                await request

        self._spawn(run())

    async def close(self) -> None:
        await self.cmd_reset({})
        for task in list(self.tasks):
            task.cancel()


def _objects_in(payload: Any) -> list[Any]:
    if isinstance(getattr(payload, "id", None), str) and hasattr(payload, "API_CLASS"):
        return [payload]
    if isinstance(payload, dict):
        return [v for v in payload.values() if hasattr(v, "API_CLASS")]
    return []


async def run_testee(control_url: str, name: str = "rtcstate-asyncio") -> int:
    """Serve the conformance server at ``control_url`` until it says ``done``; 0 when it did."""
    async with connect(control_url, max_size=4 << 20, proxy=None) as control:
        testee = Testee(control)
        hello = {"type": "hello", "name": name, "capabilities": list(CAPABILITIES)}
        await control.send(json.dumps(hello))
        try:
            async for raw in control:
                msg = json.loads(raw)
                if msg.get("type") == "done":
                    return 0
                if msg.get("type") != "command":
                    continue
                reply: dict[str, Any] = {"type": "result", "id": msg.get("id")}
                try:
                    result = await testee.do(str(msg.get("command")), dict(msg.get("args", {})))
                    reply.update(ok=True, result=result)
                except (CommandError, RtcError, KeyError, ValueError, TimeoutError) as exc:
                    reply.update(ok=False, error=f"{type(exc).__name__}: {exc}")
                await control.send(json.dumps(reply))
        finally:
            await testee.close()
    return 1
