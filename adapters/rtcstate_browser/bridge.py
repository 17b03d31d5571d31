"""The Python half of the browser adapter: a core Session behind a JSON interface for JavaScript.

Theory of operation
-------------------
In the page, Pyodide runs this module and the JavaScript adapter (``static/runtime.js``) is its
only caller. A :class:`Bridge` owns one core :class:`~rtcstate.session.Session` (uuid ids,
``random.random``, as docs/adapters.md asks) and turns every call into plain data: each input
(a websocket frame, a timer expiry, a media report, an application command) takes the caller's
``now`` and returns the effects as JSON text, in order, for the JavaScript side to carry out.
Bytes never go through JSON: they are put in :attr:`Bridge.blobs` (cleared by every call) and
the JSON holds ``{"$blob": index}``, which the JavaScript side replaces by a ``Uint8Array``.

*Effects as data.* ``{"k": <effect class name>, ...its fields}``; a ``Send`` carries the encoded
frame (``data``), a ``Drop`` is left out (it is logged by nobody in the page). Core objects
found in an ``Emit`` payload or returned by a command (a call, a received invitation, a data
channel, a file transfer) become references ``{"$ref": <emit target>, "class": ..., "id": ...}``
and are remembered under that target, so that a later command names them (``accept``,
``hangUp``...). A reference is the very string the core uses as the ``Emit`` target of the
object, so the JavaScript wrapper that receives the object's events is found the same way.
A conversation's reference (``conversation:<name>``) also carries its state (members, role,
status...); its commands are in :mod:`rtcstate_browser.bridge_rooms`, and the core's
``Resolve`` / ``Reject`` outcomes of its requests go out as effects like any other. Local
streams and a conversation's media: :mod:`rtcstate_browser.bridge_streams`.

*Commands* go to the core at once; a misuse raises the core's :class:`~rtcstate.errors.RtcError`
and nothing changes: the bridge answers ``{"error": {"number", "name", "message"}}`` instead of
effects, and JavaScript throws it. Reports from the world never raise (the core guarantees it);
a media report of an unknown kind or with bad fields is answered with no effect.

Nothing here touches the browser: the module runs (and is tested) natively as well.
"""

from __future__ import annotations

import enum
import json
import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from rtcstate import effects as fx
from rtcstate import media, wire
from rtcstate.call import Call
from rtcstate.codes import CallType
from rtcstate.conversation import Conversation, ReceivedConversationJoinRequest
from rtcstate.conversation.invitations import (
    ReceivedConversationInvitation,
    SentConversationInvitation,
)
from rtcstate.datachannel import DataChannel, ReceivedDataChannelInvitation
from rtcstate.errors import RtcError
from rtcstate.filetransfer import FileTransfer, ReceivedFileTransferInvitation
from rtcstate.invitation import ReceivedCallInvitation
from rtcstate.retry import ExponentialBackoff
from rtcstate.session import Session, SessionConfig
from rtcstate.settings import CallSettings
from rtcstate.transfer import NeedData, ReceivedData
from rtcstate_browser.bridge_rooms import (
    ROOM_COMMANDS,
    accept_invitation,
    close_conference,
    join_request,
    room_info,
    send_room_data,
)
from rtcstate_browser.bridge_streams import STREAM_COMMANDS, LocalStreams

__all__ = ["MEDIA_REPORTS", "Bridge", "session_settings"]

#: The media reports JavaScript may send, by class name.
MEDIA_REPORTS: dict[str, type[media.MediaEvent]] = {
    name: cls
    for name in media.__all__
    if isinstance(cls := getattr(media, name), type)
    and issubclass(cls, media.MediaEvent)
    and cls is not media.MediaEvent
}

_Core = Call | ReceivedCallInvitation | DataChannel | ReceivedDataChannelInvitation
_Rooms = Conversation | ReceivedConversationJoinRequest
_Invitations = SentConversationInvitation | ReceivedConversationInvitation
_Objects = _Core | FileTransfer | ReceivedFileTransferInvitation | _Rooms | _Invitations


def _ids(kind: str) -> str:
    return f"{kind}-{uuid.uuid4()}"


def session_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """:class:`~rtcstate.session.SessionConfig` fields from JSON: ``keepalive_interval``,
    ``keepalive_timeout``, ``register_timeout`` (seconds), ``retry`` (the fields of
    :class:`~rtcstate.retry.ExponentialBackoff`), ``calls`` (fields of
    :class:`~rtcstate.settings.CallSettings`) and ``fallback_urls`` (the relays to move to
    after the first, in order); any other key is a ``TypeError``."""
    settings: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _SECONDS:
            settings[name] = None if value is None else float(value)
        elif name == "fallback_urls" and isinstance(value, list):
            settings["fallback_urls"] = tuple(value)
        elif name == "retry" and isinstance(value, Mapping):
            settings["retry_policy"] = ExponentialBackoff(**value)
        elif name == "calls" and isinstance(value, Mapping):
            settings["calls"] = CallSettings(**value)
        else:
            raise TypeError(f"unknown session setting {name!r}")
    return settings


_SECONDS = frozenset({"keepalive_interval", "keepalive_timeout", "register_timeout"})


class Bridge:
    """One core session driven from JavaScript (see the module docstring)."""

    def __init__(
        self,
        user: str,
        server_url: str,
        device: str | None = None,
        options_json: str = "{}",
        config_json: str = "{}",
    ) -> None:
        """``options_json``: apiRTC's call options by their rtcstate names, e.g.
        ``{"allow_multiple_calls": false}`` (``allowMultipleCalls(false)``); a bad one raises
        the core's ``ParameterError``. ``config_json``: session settings (see
        :func:`session_settings`); a bad one raises the core's ``RtcError`` or ``TypeError``."""
        config = SessionConfig(
            user,
            server_url=server_url,
            device=device or _ids("tab"),
            **session_settings(json.loads(config_json)),
        )
        self.session = Session(config, ids=_ids, rand=random.random)
        for name, value in json.loads(options_json).items():
            self.session.set_option(str(name), value)
        self.blobs: list[bytes] = []
        self._objects: dict[str, _Objects] = {}
        self.streams = LocalStreams()

    # --- reports from the world (never raise) --------------------------------------------------

    def connection_made(self, now: float) -> str:
        return self._out(self.session.connection_made(now))

    def connection_failed(self, now: float, reason: str) -> str:
        return self._out(self.session.connection_failed(now, reason))

    def connection_lost(self, now: float, reason: str) -> str:
        return self._out(self.session.connection_lost(now, reason))

    def connection_moved(self, now: float, reason: str) -> str:
        """The relay closed the socket with 1012 (draining): the next relay, at once."""
        return self._out(self.session.connection_moved(now, reason))

    def receive(self, data: str, now: float) -> str:
        return self._out(self.session.receive(data, now))

    def timer_fired(self, timer_id: str, now: float) -> str:
        return self._out(self.session.timer_fired(timer_id, now))

    def media_event(self, kind: str, fields_json: str, now: float) -> str:
        """A media report ``kind`` (a class of :mod:`rtcstate.media`) with JSON fields."""
        cls = MEDIA_REPORTS.get(kind)
        try:
            fields = json.loads(fields_json)
            event = None if cls is None else cls(**fields)
        except (TypeError, ValueError):
            event = None
        if event is None:
            return self._out([])
        taken = self.streams.take(self, event)  # a stream the application created
        if taken is not None:
            return self._out(taken)
        return self._out(self.session.media_event(event, now))

    def channel_message(self, channel_id: str, data: bytes | str, now: float) -> str:
        """``DataChannelMessage``: bytes arrive as bytes, text as str."""
        if hasattr(data, "to_bytes"):  # a JavaScript Uint8Array under Pyodide
            data = data.to_bytes()
        elif not isinstance(data, str):
            data = bytes(data)
        return self._out(self.session.media_event(media.DataChannelMessage(channel_id, data), now))

    # --- application commands ------------------------------------------------------------------

    def command(self, name: str, args_json: str, now: float) -> str:
        """Run command ``name``; JSON ``{"result", "effects"}`` or ``{"error"}``."""
        handler = _COMMANDS.get(name)
        try:
            args = json.loads(args_json)
            if handler is None or not isinstance(args, dict):
                raise TypeError(f"unknown command {name!r}")
            result, effects = handler(self, args, now)
        except RtcError as exc:
            error = {"number": int(exc.code), "name": exc.code.name, "message": str(exc)}
            return json.dumps({"error": error})
        except (TypeError, ValueError, KeyError) as exc:
            error = {"number": -1, "name": type(exc).__name__, "message": str(exc)}
            return json.dumps({"error": error})
        self.blobs = []
        listed = [self._effect(e) for e in effects if type(e) is not fx.Drop]
        return json.dumps({"result": self._plain(result), "effects": listed})

    def feed(self, transfer_id: str, offset: int, data: bytes, now: float) -> str:
        """Answer a ``NeedData`` with bytes of the file (an input: never raises)."""
        transfer = self.session.child("transfer_id", transfer_id)
        if not isinstance(transfer, FileTransfer) or transfer.finished:
            return self._out([])
        if hasattr(data, "to_bytes"):  # a JavaScript Uint8Array under Pyodide
            data = data.to_bytes()
        try:
            return self._out(transfer.feed(now, offset, bytes(data)))
        except RtcError as exc:
            try:
                return self._out(transfer.cancel(now, f"bad data: {exc}"))
            except RtcError:
                return self._out([])

    # --- effects out ----------------------------------------------------------------------------

    def _out(self, effects: list[fx.Effect]) -> str:
        self.blobs = []
        return json.dumps([self._effect(e) for e in effects if type(e) is not fx.Drop])

    def _effect(self, e: fx.Effect) -> dict[str, Any]:
        kind = type(e).__name__
        if type(e) is fx.Send:
            frame = wire.encode(e.message, to=e.to).decode()
            return {"k": kind, "data": frame}
        if type(e) is fx.Emit:
            return {
                "k": kind,
                "target": e.target,
                "event": e.event,
                "payload": self._plain(e.payload),
            }
        if type(e) is NeedData:
            return {"k": kind, "transfer": e.transfer_id, "offset": e.offset, "size": e.size}
        if type(e) is ReceivedData:
            return {"k": kind, "transfer": e.transfer_id, "offset": e.offset,
                    "data": self._plain(bytes(e.data))}  # fmt: skip
        fields = {f.name: self._plain(getattr(e, f.name)) for f in attrs.fields(type(e))}
        return {"k": kind, **fields}

    def _plain(self, value: Any) -> Any:
        """A JSON-ready copy of ``value``; core objects become references, bytes blobs."""
        if value is None or isinstance(value, bool | int | float | str):
            return value.value if isinstance(value, enum.Enum) else value
        if isinstance(value, enum.Enum):
            return self._plain(value.value)
        if isinstance(value, bytes | bytearray | memoryview):
            self.blobs.append(bytes(value))
            return {"$blob": len(self.blobs) - 1}
        if isinstance(value, Mapping):
            return {str(k): self._plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._plain(v) for v in value]
        if isinstance(value, _Objects):
            return self._ref(value)
        if isinstance(value, wire.Message):
            return json.loads(wire.encode(value))
        return repr(value)

    def _ref(self, obj: _Objects) -> dict[str, Any]:
        if isinstance(obj, Conversation):  # its name is its id
            self._objects[obj.target] = obj
            room = {"$ref": obj.target, "class": type(obj).__name__, "id": obj.name}
            return {**room, **room_info(obj)}
        if isinstance(obj, _JoinRequest | _Invitations):  # events on invitation:<id>
            key = fx.target("invitation", obj.id)
        else:
            key = obj.target
        self._objects[key] = obj
        ref: dict[str, Any] = {"$ref": key, "class": type(obj).__name__, "id": obj.id}
        if isinstance(obj, _JoinRequest):
            ref.update(sender=obj.sender, conversation=obj.room)
        elif isinstance(obj, ReceivedConversationInvitation):
            ref.update(sender=obj.sender, conversation=obj.room, type=obj.kind.value)
        elif isinstance(obj, SentConversationInvitation):
            ref.update(contact=obj.invitation.contact, conversation=obj.room)
        elif isinstance(obj, Call):
            ref.update(contact=obj.contact, callType=obj.call_type, outgoing=obj.outgoing)
        elif isinstance(obj, ReceivedCallInvitation | ReceivedDataChannelInvitation):
            ref.update(sender=obj.sender, callId=obj.call.call_id)
            if isinstance(obj, ReceivedCallInvitation):
                ref["callType"] = obj.call_type
            else:
                ref["channelId"] = obj.channel_id
        elif isinstance(obj, ReceivedFileTransferInvitation | FileTransfer):
            ref.update(fileInfo=self._plain(obj.file_info), transferId=obj.transfer_id)
            if isinstance(obj, ReceivedFileTransferInvitation):
                ref["sender"] = obj.sender
        elif isinstance(obj, DataChannel):
            ref.update(contact=obj.contact, label=obj.label, channelId=obj.channel_id)
        return ref

    def _object(self, args: Mapping[str, Any]) -> _Objects:
        obj = self._objects.get(str(args.get("ref")))
        if obj is None:
            raise KeyError(f"no object {args.get('ref')!r}")
        return obj


_Result = tuple[Any, list[fx.Effect]]
_JoinRequest = ReceivedConversationJoinRequest


def _register(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    return None, b.session.register(now)


def _unregister(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    return None, b.session.unregister(now)


def _call(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    call_type = str(args.get("callType", CallType.MEDIA.value))
    audio_only = bool(args.get("audioOnly", False))
    contact = str(args["contact"])
    return b.session.call(contact, now, call_type=call_type, audio_only=audio_only)


def _start_data_channel(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    label = str(args.get("label", "data"))
    return b.session.start_data_channel(str(args["contact"]), now, label=label)


def _send_file(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    info = {"name": str(args["name"]), "type": str(args.get("type") or ""), "size": args["size"]}
    if not info["type"]:
        info["type"] = "application/octet-stream"
    return b.session.send_file(str(args["contact"]), now, info)


def _accept(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    obj = b._object(args)
    if isinstance(obj, _JoinRequest):
        return join_request(obj, lambda: obj.accept(now))
    if isinstance(obj, ReceivedConversationInvitation):
        return accept_invitation(obj, now)
    if isinstance(obj, ReceivedCallInvitation):
        effects = obj.accept(now, audio_only=bool(args.get("audioOnly", False)))
        return obj.call, effects
    if isinstance(obj, ReceivedDataChannelInvitation):
        return obj.accept(now)
    if isinstance(obj, ReceivedFileTransferInvitation):
        size = args.get("maxSize")
        return None, obj.accept(now, max_size=None if size is None else int(size))
    raise TypeError(f"{type(obj).__name__} has no accept()")


def _decline(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    obj = b._object(args)
    if not isinstance(
        obj,
        ReceivedCallInvitation
        | ReceivedDataChannelInvitation
        | ReceivedFileTransferInvitation
        | _JoinRequest
        | ReceivedConversationInvitation,
    ):
        raise TypeError(f"{type(obj).__name__} has no decline()")
    reason = args.get("reason")
    if isinstance(obj, _JoinRequest):
        return join_request(obj, lambda: obj.decline(now, None if reason is None else str(reason)))
    if isinstance(obj, ReceivedConversationInvitation):
        return None, obj.decline(now, None if reason is None else str(reason))
    return None, obj.decline(now) if reason is None else obj.decline(now, str(reason))


def _hang_up(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    obj = b._object(args)
    if not isinstance(obj, Call):
        raise TypeError(f"{type(obj).__name__} has no hangUp()")
    reason = args.get("reason")
    return None, obj.hangup(now, None if reason is None else str(reason))


def _send_data(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    obj = b._object(args)
    if isinstance(obj, Conversation):
        return send_room_data(b, args, now)
    if not isinstance(obj, DataChannel):
        raise TypeError(f"{type(obj).__name__} has no sendData()")
    return obj.send_data(now, str(args["data"]))


def _close(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    obj = b._object(args)
    if isinstance(obj, Conversation):
        return close_conference(b, args, now)
    if not isinstance(obj, DataChannel):
        raise TypeError(f"{type(obj).__name__} has no close()")
    return None, obj.close(now)


def _cancel(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    obj = b._object(args)
    if not isinstance(obj, FileTransfer | ReceivedFileTransferInvitation):
        raise TypeError(f"{type(obj).__name__} has no cancel()")
    return None, obj.cancel(now)


def _mute(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    obj = b._object(args)
    if not isinstance(obj, Call):
        raise TypeError(f"{type(obj).__name__} has no mute()")
    kind = str(args.get("kind", "audio"))
    return None, obj.mute(now, kind) if args.get("muted", True) else obj.unmute(now, kind)


def _contacts(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    return sorted(b.session.contacts), []


_COMMANDS: dict[str, Callable[[Bridge, Mapping[str, Any], float], _Result]] = {
    "register": _register,
    "unregister": _unregister,
    "call": _call,
    "startDataChannel": _start_data_channel,
    "sendFile": _send_file,
    "accept": _accept,
    "decline": _decline,
    "hangUp": _hang_up,
    "sendData": _send_data,
    "close": _close,
    "cancel": _cancel,
    "mute": _mute,
    "onlineContacts": _contacts,
    **ROOM_COMMANDS,
    **STREAM_COMMANDS,
}
