"""Typed events: each API class's event names as ``Literal``\\ s, each payload a ``TypedDict``.

Theory of operation
-------------------
:data:`PAYLOADS` says, for every class of the asyncio API and every event name its apiRTC
whitelist accepts (:data:`rtcstate.codes.AVAILABLE_EVENTS`, plus rtcstate's extensions), the
type of the payload its handlers get: a ``TypedDict`` below for the dictionaries rtcstate
produces, a wrapper class for the objects (an invitation, a call), ``None`` for the events
without a payload (``accepted``, ``disconnect``, ``expired``...: the handler still takes one
argument, which is None), and ``Any`` for the names apiRTC whitelists but rtcstate never fires
(whiteboard, pointer sharing...). From it :func:`render_typed_module` writes ``typed.py``:
one mixin per class whose ``on`` / ``once`` / ``wait_for`` / ``events`` are overloaded per
event name, so a type checker (mypy ``--strict``) checks a handler against its event's payload
and refuses an unknown name. A test keeps ``typed.py`` equal to its rendering; regenerate it
with ``python -m rtcstate_asyncio.events``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

from rtcstate.codes import AVAILABLE_EVENTS, RTCSTATE_EVENTS

__all__ = [
    "PAYLOADS",
    "CcsConnectionStatusInfo",
    "ContactCustomEventInfo",
    "ContactDataInfo",
    "ContactListUpdateInfo",
    "ContactMessageInfo",
    "ConversationCustomEventInfo",
    "ConversationDataInfo",
    "ConversationHangupInfo",
    "ConversationMessageInfo",
    "DataReceivedInfo",
    "DeclinedInfo",
    "DeliveryError",
    "DesktopCaptureInfo",
    "DisconnectionWarningInfo",
    "EndedInfo",
    "ErrorInfo",
    "FileInfo",
    "FileProgressInfo",
    "FileTransferErrorInfo",
    "HangupInfo",
    "InvitationReceiveInfo",
    "MessageInfo",
    "MessageNotDeliveredInfo",
    "ModeratorInfo",
    "OpenedInfo",
    "ParticipantEjectedInfo",
    "PersistentDataInfo",
    "RecordAvailableInfo",
    "RemoteStreamIdUpdatedInfo",
    "RemoteStreamUpdatedInfo",
    "RoomModeInfo",
    "SessionConversationInfo",
    "SessionCustomEventInfo",
    "StatsUpdateInfo",
    "StatusChangeInfo",
    "StreamInfo",
    "StreamListInfo",
    "TransferCompleteInfo",
    "TransferErrorInfo",
    "TransferInformation",
    "UserMediaErrorInfo",
    "render_typed_module",
]


class CcsConnectionStatusInfo(TypedDict):
    """UserAgent ``ccsConnectionStatus``."""

    status: Literal["connected", "disconnected", "retry", "error"]


class ErrorInfo(TypedDict):
    """Session, Call ``error``: an apiRTC error code with its ``errorInfo`` text."""

    errorCode: str
    errorInfo: str
    descriptor: dict[str, Any]


# ``from`` is a keyword: these two use the functional syntax
HangupInfo = TypedDict("HangupInfo", {"from": Literal["local", "remote"], "reason": str})
HangupInfo.__doc__ = """Call ``hangup``: ``from`` is ``"local"`` or ``"remote"``."""
EndedInfo = TypedDict("EndedInfo", {"from": Literal["local", "remote"]})
EndedInfo.__doc__ = """DataChannel ``ended``: ``from`` is ``"local"`` or ``"remote"``."""


class DeclinedInfo(TypedDict):
    """Call ``declined``."""

    reason: str


class StreamInfo(TypedDict):
    """Call ``localStreamAvailable``, ``streamAdded``, ``streamRemoved``."""

    callId: str
    streamId: str
    hasAudio: bool
    hasVideo: bool
    isRemote: bool
    isScreensharing: bool
    contact: NotRequired[str]


class UserMediaErrorInfo(TypedDict):
    """Call ``userMediaError``."""

    onCallEstablishment: bool
    callType: str
    error: Any
    userMediaStreamId: str
    tryAudioCallActivated: bool


class DisconnectionWarningInfo(TypedDict):
    """Call ``disconnectionWarning``."""

    tries: int


class StatsUpdateInfo(TypedDict):
    """Call ``statsUpdate``."""

    stats: dict[str, Any]


class DesktopCaptureInfo(TypedDict):
    """Call ``desktopCapture``."""

    event: str


class RemoteStreamIdUpdatedInfo(TypedDict):
    """Call ``remoteStreamIdUpdated``."""

    callId: str
    newStreamId: str
    oldStreamId: str | None


class RemoteStreamUpdatedInfo(TypedDict):
    """Call ``remoteStreamUpdated``."""

    callId: str
    audio: bool
    audioMuted: bool
    video: bool
    videoMuted: bool


class RecordAvailableInfo(TypedDict):
    """Call ``recordAvailable``."""

    mediaURL: str | None


class StatusChangeInfo(TypedDict):
    """Invitations' ``statusChange``: ``status`` is an ``INVITATION_STATUS_*`` value."""

    id: str
    status: str


class TransferInformation(TypedDict):
    """DataChannel ``transferProgress`` / ``transferComplete``, ReceivedFileTransferInvitation
    ``progress``, and ``transferInformation`` in the file events."""

    uuid: str
    fileSize: int
    remainingSize: int
    percentage: float
    sendChunkNb: int
    lastPacket: bool
    transferDuration: float


class DataReceivedInfo(TypedDict):
    """DataChannel ``dataReceived``."""

    uuid: str
    data: str | bytes


class OpenedInfo(TypedDict):
    """DataChannel ``opened``: ``sendDataChannelOpen`` or ``receiveDataChannelOpen``."""

    type: str


class FileInfo(TypedDict):
    """A file's description (``fileInfo``)."""

    name: str
    type: str
    size: NotRequired[int]


class FileProgressInfo(TypedDict):
    """Contact ``fileTransferProgress`` and ``fileSentSuccessfully``."""

    fileInfo: FileInfo
    transferInformation: TransferInformation


class TransferErrorInfo(TypedDict):
    """ReceivedFileTransferInvitation ``error``, and ``error`` in ``fileTransferError``."""

    uuid: str
    errorCode: str
    errorInfo: str
    detail: str
    type: str


class FileTransferErrorInfo(TypedDict):
    """Contact ``fileTransferError``."""

    error: TransferErrorInfo
    invitationId: str


class TransferCompleteInfo(TypedDict):
    """ReceivedFileTransferInvitation ``transferComplete`` (rtcstate's)."""

    fileInfo: FileInfo
    sha256: str
    transferInformation: TransferInformation


class ContactListUpdateInfo(TypedDict):
    """Session ``contactListUpdate``: group name -> user ids."""

    joinedGroup: dict[str, list[str]]
    leftGroup: dict[str, list[str]]
    userDataChanged: list[Any]


class ContactMessageInfo(TypedDict):
    """Session ``contactMessage``."""

    sender: str
    content: Any
    uuid: str
    time: float


class MessageInfo(TypedDict):
    """Contact ``message`` (``device``: the sending device's address, rtcstate's)."""

    content: Any
    uuid: str
    time: float
    device: str


class ContactDataInfo(TypedDict):
    """Session ``contactData``."""

    sender: str
    content: Any


class ModeratorInfo(TypedDict):
    """Conversation ``waitingForModeratorAcceptance`` and ``moderatorConnected``."""

    moderator: str | None


# ``self`` reads better as a key than as a field name: the functional syntax
class ParticipantEjectedInfo(TypedDict):
    self: bool
    contact: str


ParticipantEjectedInfo.__doc__ = """Conversation ``participantEjected``: ``self`` is True when
this device's user was ejected, ``contact`` the ejected user."""


class ConversationMessageInfo(TypedDict):
    """Conversation ``message``: ``sender`` is the member's address; ``history`` is set on the
    messages replayed to a late joiner."""

    content: str
    sender: str
    time: float
    history: NotRequired[bool]


class DeliveryError(TypedDict):
    """The ``error`` of ``messageNotDelivered``: the apiRTC number and its reason."""

    code: int
    message: str


class MessageNotDeliveredInfo(TypedDict):
    """Conversation and Contact ``messageNotDelivered`` (``event``: a custom event's name)."""

    error: DeliveryError
    contact: str | None
    command: str
    event: NotRequired[str]


class ConversationDataInfo(TypedDict):
    """Conversation ``data``."""

    content: dict[str, Any]
    sender: str


class ConversationCustomEventInfo(TypedDict):
    """Conversation ``customEvent``."""

    event: str
    sender: str
    content: dict[str, Any]


class PersistentDataInfo(TypedDict):
    """Conversation ``persistentDataUpdated``: the data and its version after the change."""

    data: dict[str, Any]
    version: int
    sender: str | None


class SessionConversationInfo(TypedDict):
    """Session ``conversationMessage`` / ``conversationData``: ``conversation`` is the room."""

    sender: str
    content: Any
    conversation: str


class SessionCustomEventInfo(TypedDict):
    """Session ``customEvent`` (``conversation``: from a conversation; absent: from a contact,
    whose ``content`` may be None)."""

    event: str
    sender: str
    content: dict[str, Any] | None
    conversation: NotRequired[str]


class ContactCustomEventInfo(TypedDict):
    """Contact ``customEvent`` (``contact.sendCustomEvent`` of that user)."""

    event: str
    content: dict[str, Any] | None


class StreamListInfo(TypedDict):
    """Conversation ``streamListChanged``: a StreamInfo of the room's list and what happened
    to it (``listEventType``)."""

    streamId: str
    type: str
    isRemote: bool
    contact: str
    hasAudio: bool
    hasVideo: bool
    isAudioMuted: bool
    isVideoMuted: bool
    isScreensharing: bool
    context: dict[str, Any] | None
    listEventType: Literal["added", "removed", "updated"]


class ConversationHangupInfo(TypedDict):
    """Conversation ``hangup``: a conversation call ended (``from``: ``local``/``remote``)."""

    reason: str
    streamId: str


class RoomModeInfo(TypedDict):
    """Conversation ``roomModeChanged`` (rtcstate's rooms are ``mesh``)."""

    oldMode: str | None
    newMode: str
    state: str


class InvitationReceiveInfo(TypedDict):
    """SentInvitation ``receive`` (a conversation invitation reached a device of the contact)."""

    contact: str | None


_CONVERSATION = {
    "contactJoined": "str",
    "contactJoinedWaitingRoom": "str",
    "contactLeft": "str",
    "contactLeftWaitingRoom": "str",
    "customEvent": "ConversationCustomEventInfo",
    "data": "ConversationDataInfo",
    "entryAllowed": "None",
    "entryDenied": "None",
    "joined": "None",
    "left": "None",
    "message": "ConversationMessageInfo",
    "messageNotDelivered": "MessageNotDeliveredInfo",
    "moderatorConnected": "ModeratorInfo",
    "participantEjected": "ParticipantEjectedInfo",
    "persistentDataUpdated": "PersistentDataInfo",
    "waitingForModeratorAcceptance": "ModeratorInfo",
    # media (rtcstate.conversation.media)
    "availableStreamsUpdated": "dict[str, dict[str, Any]]",
    "callStatsUpdate": "dict[str, Any]",
    "disconnectionWarning": "dict[str, Any]",
    "error": "dict[str, Any]",
    "hangup": "ConversationHangupInfo",
    "localStreamUpdated": "dict[str, Any]",
    "remoteStreamIdUpdated": "RemoteStreamIdUpdatedInfo",
    "remoteStreamUpdated": "dict[str, Any]",
    "roomModeChanged": "RoomModeInfo",
    "slowLink": "dict[str, Any]",
    "streamAdded": "Stream",
    "streamListChanged": "StreamListInfo",
    "streamRemoved": "Stream",
}

_FILE_EVENTS = {
    "fileSentSuccessfully": "FileProgressInfo",
    "fileTransferProgress": "FileProgressInfo",
    "fileTransferError": "FileTransferErrorInfo",
    "fileTransferInvitation": "ReceivedFileTransferInvitation",
}
_INVITATION = {"statusChange": "StatusChangeInfo", "expired": "None"}

#: class -> event name -> payload type (a name of this module, of the API, ``None``, ``Any``);
#: names a class whitelists but rtcstate never fires are absent here and typed ``Any``
PAYLOADS: dict[str, dict[str, str]] = {
    "UserAgent": {"ccsConnectionStatus": "CcsConnectionStatusInfo"},
    "Session": {
        "contactData": "ContactDataInfo",
        "contactListUpdate": "ContactListUpdateInfo",
        "contactMessage": "ContactMessageInfo",
        "conversationData": "SessionConversationInfo",
        "conversationInvitation": "ReceivedConversationInvitation",
        "conversationJoinRequest": "ReceivedConversationJoinRequest",
        "conversationMessage": "SessionConversationInfo",
        "customEvent": "SessionCustomEventInfo",
        "dataChannelInvitation": "ReceivedDataChannelInvitation",
        "disconnect": "None",
        "error": "ErrorInfo",
        "fileTransferInvitation": "ReceivedFileTransferInvitation",
        "incomingCall": "ReceivedCallInvitation",
        "incomingScreenSharingCall": "Call",
        "incomingScreenSharingCallInvitation": "ReceivedCallInvitation",
        "reconnecting": "None",
        "reconnection": "None",
    },
    "Contact": {
        **_FILE_EVENTS,
        "conversationInvitation": "ReceivedConversationInvitation",
        "data": "Any",
        "dataChannelInvitation": "ReceivedDataChannelInvitation",
        "incomingCall": "ReceivedCallInvitation",
        "incomingScreenSharingCall": "Call",
        "incomingScreenSharingCallInvitation": "ReceivedCallInvitation",
        "joinGroup": "str",
        "leaveGroup": "str",
        "message": "MessageInfo",
        "customEvent": "ContactCustomEventInfo",
        "messageNotDelivered": "MessageNotDeliveredInfo",
    },
    "Call": {
        "accepted": "None",
        "declined": "DeclinedInfo",
        "desktopCapture": "DesktopCaptureInfo",
        "disconnectionWarning": "DisconnectionWarningInfo",
        "error": "ErrorInfo",
        "hangup": "HangupInfo",
        "localStreamAvailable": "StreamInfo",
        "recordAvailable": "RecordAvailableInfo",
        "recordingAvailable": "dict[str, Any]",
        "recordingStarted": "dict[str, Any]",
        "recordingStopped": "dict[str, Any]",
        "remoteStreamIdUpdated": "RemoteStreamIdUpdatedInfo",
        "remoteStreamUpdated": "RemoteStreamUpdatedInfo",
        "response": "str",
        "statsUpdate": "StatsUpdateInfo",
        "streamAdded": "StreamInfo",
        "streamRemoved": "StreamInfo",
        "userMediaError": "UserMediaErrorInfo",
    },
    "DataChannel": {
        "accepted": "None",
        "closed": "None",
        "dataReceived": "DataReceivedInfo",
        "declined": "None",
        "ended": "EndedInfo",
        "error": "str",
        "opened": "OpenedInfo",
        "response": "None",
        "transferComplete": "TransferInformation",
        "transferProgress": "TransferInformation",
    },
    "SentInvitation": {
        "receive": "InvitationReceiveInfo",
        "response": "str",
        "statusChange": "StatusChangeInfo",
    },
    "ReceivedCallInvitation": dict(_INVITATION),
    "ReceivedDataChannelInvitation": dict(_INVITATION),
    "ReceivedFileTransferInvitation": {
        "error": "TransferErrorInfo",
        "progress": "TransferInformation",
        "statusChange": "StatusChangeInfo",
        "transferComplete": "TransferCompleteInfo",
    },
    "Conversation": dict(_CONVERSATION),
    "Conference": {**_CONVERSATION, "closed": "None"},
    "ReceivedConversationJoinRequest": {"statusChange": "StatusChangeInfo"},
    "ReceivedConversationInvitation": {"statusChange": "StatusChangeInfo"},
    "Stream": {
        "activeStateChange": "dict[str, Any]",
        "audioAmplitude": "float",
        "audioAmplitudeInfo": "dict[str, Any]",
        "audioFlowStatusChanged": "dict[str, bool]",
        "constraintsChanged": "dict[str, Any]",
        "flowStatusChanged": "dict[str, Any]",
        "muteStateChange": "dict[str, Any]",
        "release": "None",
        "remoteAudioFlowStatusChanged": "dict[str, bool]",
        "remoteVideoFlowStatusChanged": "dict[str, bool]",
        "stopped": "dict[str, Any]",
        "trackStopped": "dict[str, Any]",
        "videoFlowStatusChanged": "dict[str, bool]",
    },
}

#: the API's classes whose payloads are objects (typed.py imports them for type checking)
_API_CLASSES = {
    "Call": "rtcstate_asyncio.calls",
    "ReceivedCallInvitation": "rtcstate_asyncio.calls",
    "ReceivedDataChannelInvitation": "rtcstate_asyncio.channels",
    "ReceivedFileTransferInvitation": "rtcstate_asyncio.files",
    "ReceivedConversationJoinRequest": "rtcstate_asyncio.conversations",
    "ReceivedConversationInvitation": "rtcstate_asyncio.conversations",
    "Stream": "rtcstate_asyncio.streams",
}


def event_names(api_class: str) -> list[str]:
    """Every name ``api_class`` accepts: apiRTC's whitelist and rtcstate's extensions."""
    names = set(AVAILABLE_EVENTS[api_class]) | set(RTCSTATE_EVENTS.get(api_class, ()))
    return sorted(names)


def payload_type(api_class: str, name: str) -> str:
    return PAYLOADS[api_class].get(name, "Any")


def _literal(names: list[str]) -> str:
    return "Literal[" + ", ".join(f'"{n}"' for n in names) + "]"


def _groups(api_class: str) -> list[tuple[str, list[str]]]:
    """(payload type, event names) of a class, grouped so each overload takes a union."""
    groups: dict[str, list[str]] = {}
    for name in event_names(api_class):
        groups.setdefault(payload_type(api_class, name), []).append(name)
    return sorted(groups.items())


_DOCS = {
    "on": '"""Call ``handler(payload)`` each time ``event`` fires; returns self. Without a '
    'handler: a decorator. An unknown name raises ParameterError (ERROR_BAD_PARAMETER)."""',
    "once": '"""As ``on``, for the next ``event`` only."""',
    "wait_for": '"""A future of the payload of the next ``event`` (listening starts now); '
    'TimeoutError after ``timeout`` s. Only the next one: read ``events()`` for a sequence."""',
    "events": '"""An EventStream of the events named ``names`` (all when none), subscribed now: '
    'create it before the action, read it after (``async for``); nothing is dropped."""',
}


def _mixin(api_class: str) -> list[str]:
    alias = f"{api_class}EventName"
    out = [f"{alias} = {_literal(event_names(api_class))}", "", ""]
    out.append(f"class {api_class}Events(Emitter):")
    out.append(f'    """The typed ``on`` / ``once`` / ``wait_for`` / ``events`` of {api_class}."""')
    out.append("")
    for method in ("on", "once"):
        for payload, names in _groups(api_class):
            lit = _literal(names)
            out += [
                "    @overload",
                f"    def {method}(",
                f"        self, event: {lit}, handler: Callable[[{payload}], object]",
                "    ) -> Self: ...",
                "    @overload",
                f"    def {method}(",
                f"        self, event: {lit}, handler: None = None",
                f"    ) -> Callable[[Callable[[{payload}], T]], Callable[[{payload}], T]]: ...",
            ]
        out += [
            f"    def {method}(self, event: {alias}, handler: Handler | None = None) -> Any:",
            f"        {_DOCS[method]}",
            f"        return self._add(event, handler, once={method == 'once'})",
            "",
        ]
    for payload, names in _groups(api_class):
        out += [
            "    @overload",
            "    def wait_for(",
            f"        self, event: {_literal(names)}, timeout: float | None = None",
            f"    ) -> asyncio.Future[{payload}]: ...",
        ]
    out += [
        "    def wait_for(self, event: str, timeout: float | None = None) -> Any:",
        f"        {_DOCS['wait_for']}",
        "        return self._wait_for(event, timeout)",
        "",
    ]
    for payload, names in _groups(api_class):
        out += [
            "    @overload",
            f"    def events(self, name: {_literal(names)}, /) -> EventStream[{payload}]: ...",
        ]
    out += [
        "    @overload",
        f"    def events(self, *names: {alias}) -> EventStream[Any]: ...",
        "    def events(self, *names: str) -> EventStream[Any]:",
        f"        {_DOCS['events']}",
        "        return self._events(*names)",
        "",
        "",
    ]
    return out


def render_typed_module() -> str:
    """The text of ``typed.py``."""
    lines = [
        '"""Generated by ``python -m rtcstate_asyncio.events`` from ``events.PAYLOADS``: do not',
        "edit. One mixin per API class: ``on`` / ``once`` / ``wait_for`` / ``events`` overloaded",
        "per event name (a ``Literal``), so a type checker checks each handler against its",
        'event\'s payload (see events.py)."""',
        "",
        "# fmt: off",
        "from __future__ import annotations",
        "",
        "import asyncio",
        "from collections.abc import Callable",
        "from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload",
        "",
        "from rtcstate_asyncio.emitter import Emitter, EventStream, Handler",
        "from rtcstate_asyncio.events import (",
    ]
    used = sorted(
        {t for c in PAYLOADS.values() for t in c.values() if t[0].isupper()}
        - set(_API_CLASSES)
        - {"Any", "None"}
    )
    lines += [f"    {name}," for name in used]
    lines += [")", "", "if TYPE_CHECKING:"]
    modules: dict[str, list[str]] = {}
    for name, module in _API_CLASSES.items():
        modules.setdefault(module, []).append(name)
    for module, names in sorted(modules.items()):
        line = f"    from {module} import {', '.join(sorted(names))}"
        if len(line) > 100:  # as ruff format would wrap it
            line = (
                f"    from {module} import (\n"
                + "".join(f"        {n},\n" for n in sorted(names))
                + "    )"
            )
        lines.append(line)
    lines += ["", 'T = TypeVar("T")', "", ""]
    for api_class in PAYLOADS:
        lines += _mixin(api_class)
    while lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


TYPED_PATH = Path(__file__).with_name("typed.py")

if __name__ == "__main__":  # pragma: no cover - the regeneration command
    TYPED_PATH.write_text(render_typed_module(), encoding="utf-8")
    print(f"wrote {TYPED_PATH}")
