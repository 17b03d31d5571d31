"""Conversation messages on the wire: what clients ask the relay about rooms, and what it says.

Theory of operation
-------------------
A conversation (apiRTC's ``Conversation`` / ``Conference``) is a *room* held by the relay
(:mod:`rtcstate.rooms`): clients never talk to each other about a room, they send requests to
the relay (no ``to`` address) and the relay answers the requester and notifies the members.
Every message names its room in ``room`` (its ``ROUTE``: a client session routes it to the
Conversation of that name); the tenant is never on the wire, it comes from the connection's
verified identity.

Requests (:data:`REQUESTS`, client -> relay) carry a ``request_id`` chosen by the client. The
relay answers each one exactly once: :class:`ConvAck` (or :class:`ConvJoined` /
:class:`ConvWaiting` / :class:`ConvDataState` where there is a result) or :class:`ConvError`
(a refused request, with its catalogued reason, the apiRTC error number, and nothing changed).
A client repeats a request it got no answer for (join requests and allow answers every 5 s, as
apiRTC does) with the *same* ``request_id``: the relay answers a repeat again and changes
nothing, so a request takes effect at most once.

Notices (:data:`RELAY_ONLY`, relay -> client) are sent by the relay only; a client that tries to
send one to another client is refused. Member messages (:class:`ConvMessage`, :class:`ConvData`,
:class:`ConvCustomEvent`) carry the sender's address in the envelope's ``from``, stamped by the
relay. docs/wire.md lists every message; docs/conversations.md gives the relay's rules.

The messages are registered with :func:`rtcstate.wire.register` when this module is imported
(``import rtcstate`` does it), so :func:`rtcstate.wire.decode` knows them everywhere.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import attrs

from rtcstate.codes import ConversationRole
from rtcstate.wire import Message, register

__all__ = [
    "RELAY_ONLY",
    "REQUESTS",
    "ConvAck",
    "ConvAllow",
    "ConvCancelJoin",
    "ConvClose",
    "ConvClosed",
    "ConvCommand",
    "ConvContactJoined",
    "ConvContactLeft",
    "ConvCustomEvent",
    "ConvData",
    "ConvDataState",
    "ConvDataUpdated",
    "ConvDeny",
    "ConvEject",
    "ConvEjected",
    "ConvEntry",
    "ConvError",
    "ConvGetData",
    "ConvJoin",
    "ConvJoinRequest",
    "ConvJoined",
    "ConvLeave",
    "ConvMessage",
    "ConvModeratorConnected",
    "ConvModeratorLeft",
    "ConvRequest",
    "ConvSendData",
    "ConvSendEvent",
    "ConvSendMessage",
    "ConvSetData",
    "ConvUpdateData",
    "ConvWaiting",
    "ConvWaitingLeft",
    "LeaveReason",
    "RoomRefusal",
]


class ConvCommand(enum.StrEnum):
    """Which request a :class:`ConvAck` acknowledges."""

    JOIN = "join"
    CANCEL_JOIN = "cancel_join"
    LEAVE = "leave"
    ALLOW = "allow"
    DENY = "deny"
    EJECT = "eject"
    CLOSE = "close"
    MESSAGE = "message"
    DATA = "data"
    CUSTOM_EVENT = "custom_event"
    GET_DATA = "get_data"
    SET_DATA = "set_data"
    UPDATE_DATA = "update_data"
    # streams (rtcstate.wire_streams)
    PUBLISH = "publish"
    UNPUBLISH = "unpublish"
    REPLACE_STREAM = "replace_stream"
    UPDATE_STREAM = "update_stream"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    SIGNAL = "signal"


class RoomRefusal(enum.StrEnum):
    """Why the relay refused a conversation request (``ConvError.reason``); catalogued in
    :data:`rtcstate.rooms.REFUSALS` with the apiRTC error number each one carries."""

    NOT_JOINED = "not_joined"
    WAITING = "waiting"
    NOT_MODERATOR = "not_moderator"
    NOT_WAITING = "not_waiting"
    UNKNOWN_CONTACT = "unknown_contact"
    BANNED = "banned"
    WRONG_PASSWORD = "wrong_password"
    ROOM_FULL = "room_full"
    WAITING_ROOM_FULL = "waiting_room_full"
    TOO_MANY_ROOMS = "too_many_rooms"
    VERSION_CONFLICT = "version_conflict"
    DATA_TOO_LARGE = "data_too_large"
    BAD_REQUEST = "bad_request"
    # streams (rtcstate.wire_streams)
    UNKNOWN_STREAM = "unknown_stream"
    TOO_MANY_STREAMS = "too_many_streams"
    STREAM_TAKEN = "stream_taken"


class LeaveReason(enum.StrEnum):
    """Why an address left a room or its waiting room (``ConvContactLeft`` /
    ``ConvWaitingLeft``)."""

    LEFT = "left"
    CANCELLED = "cancelled"
    DISCONNECTED = "disconnected"
    ALLOWED = "allowed"
    DENIED = "denied"
    EJECTED = "ejected"


class ConvRequest(Message):
    """Base of the client -> relay conversation requests (each has ``room`` and
    ``request_id``)."""

    __slots__ = ()
    COMMAND: ClassVar[ConvCommand]
    room: str
    request_id: str


# ---- requests (client -> relay) -------------------------------------------------------------


@register
@attrs.frozen(slots=True)
class ConvJoin(ConvRequest):
    """Join ``room`` (creating it, with these settings, if it does not exist)."""

    TYPE: ClassVar[str] = "conv_join"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.JOIN
    room: str
    request_id: str
    password: str | None = None
    moderated: bool = False


@register
@attrs.frozen(slots=True)
class ConvCancelJoin(ConvRequest):
    """Leave the waiting room of ``room`` (apiRTC's ``cancelJoin``)."""

    TYPE: ClassVar[str] = "conv_cancel_join"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.CANCEL_JOIN
    room: str
    request_id: str


@register
@attrs.frozen(slots=True)
class ConvLeave(ConvRequest):
    """Leave ``room``."""

    TYPE: ClassVar[str] = "conv_leave"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.LEAVE
    room: str
    request_id: str


@register
@attrs.frozen(slots=True)
class ConvAllow(ConvRequest):
    """Moderator: admit every waiting device of user ``contact`` (``allowEntry``)."""

    TYPE: ClassVar[str] = "conv_allow"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.ALLOW
    room: str
    request_id: str
    contact: str


@register
@attrs.frozen(slots=True)
class ConvDeny(ConvRequest):
    """Moderator: refuse every waiting device of user ``contact`` (``denyEntry``)."""

    TYPE: ClassVar[str] = "conv_deny"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.DENY
    room: str
    request_id: str
    contact: str
    reason: str | None = None


@register
@attrs.frozen(slots=True)
class ConvEject(ConvRequest):
    """Moderator: remove user ``contact`` from the room and ban it for the relay's ban time."""

    TYPE: ClassVar[str] = "conv_eject"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.EJECT
    room: str
    request_id: str
    contact: str
    reason: str | None = None


@register
@attrs.frozen(slots=True)
class ConvClose(ConvRequest):
    """Moderator: close the room (apiRTC's ``Conference.close``) for everyone."""

    TYPE: ClassVar[str] = "conv_close"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.CLOSE
    room: str
    request_id: str


@register
@attrs.frozen(slots=True)
class ConvSendMessage(ConvRequest):
    """Member: a text message for every other member (``sendMessage``)."""

    TYPE: ClassVar[str] = "conv_send_message"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.MESSAGE
    room: str
    request_id: str
    content: str


@register
@attrs.frozen(slots=True)
class ConvSendData(ConvRequest):
    """Member: application data for every other member (``sendData``)."""

    TYPE: ClassVar[str] = "conv_send_data"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.DATA
    room: str
    request_id: str
    content: dict[str, Any]


@register
@attrs.frozen(slots=True)
class ConvSendEvent(ConvRequest):
    """Member: a custom event for every other member (``sendCustomEvent``)."""

    TYPE: ClassVar[str] = "conv_send_event"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.CUSTOM_EVENT
    room: str
    request_id: str
    event: str
    content: dict[str, Any]


@register
@attrs.frozen(slots=True)
class ConvGetData(ConvRequest):
    """Member: read the room's persistent data (answered with :class:`ConvDataState`)."""

    TYPE: ClassVar[str] = "conv_get_data"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.GET_DATA
    room: str
    request_id: str


@register
@attrs.frozen(slots=True)
class ConvSetData(ConvRequest):
    """Member: replace the persistent data, if its version is still ``version``."""

    TYPE: ClassVar[str] = "conv_set_data"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.SET_DATA
    room: str
    request_id: str
    version: int
    data: dict[str, Any]


@register
@attrs.frozen(slots=True)
class ConvUpdateData(ConvRequest):
    """Member: merge ``changes`` into the persistent data (a ``null`` value removes its key),
    if its version is still ``version``."""

    TYPE: ClassVar[str] = "conv_update_data"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.UPDATE_DATA
    room: str
    request_id: str
    version: int
    changes: dict[str, Any]


# ---- answers (relay -> requester) -----------------------------------------------------------


@register
@attrs.frozen(slots=True)
class ConvAck(Message):
    """The request ``request_id`` was carried out (``seq``: the number given to a message;
    ``version``: the persistent data's new version)."""

    TYPE: ClassVar[str] = "conv_ack"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    request_id: str
    command: ConvCommand
    seq: int | None = None
    version: int | None = None


@register
@attrs.frozen(slots=True)
class ConvError(Message):
    """The request ``request_id`` was refused and nothing changed (``code``: the apiRTC error
    number; ``version``: the current data version, for a ``version_conflict``)."""

    TYPE: ClassVar[str] = "conv_error"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    request_id: str
    reason: RoomRefusal
    code: int
    info: str
    version: int | None = None


@register
@attrs.frozen(slots=True)
class ConvJoined(Message):
    """The requester is a member of ``room`` (answer to its join, or after its admission)."""

    TYPE: ClassVar[str] = "conv_joined"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    request_id: str
    role: ConversationRole
    members: list[str]
    moderators: list[str]
    seq: int
    data_version: int
    moderated: bool


@register
@attrs.frozen(slots=True)
class ConvWaiting(Message):
    """The requester waits for a moderator (``waitingForModeratorAcceptance``); ``moderator``
    is a moderator's address, if one is there."""

    TYPE: ClassVar[str] = "conv_waiting"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    request_id: str
    moderator: str | None = None


@register
@attrs.frozen(slots=True)
class ConvDataState(Message):
    """The room's persistent data and its version (answer to ``conv_get_data``)."""

    TYPE: ClassVar[str] = "conv_data_state"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    request_id: str
    version: int
    data: dict[str, Any]


# ---- notices (relay -> members, moderators or waiters) --------------------------------------


@register
@attrs.frozen(slots=True)
class ConvEntry(Message):
    """To a waiter: a moderator allowed (``entryAllowed``) or denied (``entryDenied``) it."""

    TYPE: ClassVar[str] = "conv_entry"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    request_id: str
    allowed: bool
    reason: str | None = None


@register
@attrs.frozen(slots=True)
class ConvJoinRequest(Message):
    """To moderators: ``contact`` (an address) entered the waiting room
    (``contactJoinedWaitingRoom`` and ``conversationJoinRequest``)."""

    TYPE: ClassVar[str] = "conv_join_request"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    contact: str


@register
@attrs.frozen(slots=True)
class ConvWaitingLeft(Message):
    """To moderators: ``contact`` (an address) left the waiting room
    (``contactLeftWaitingRoom``)."""

    TYPE: ClassVar[str] = "conv_waiting_left"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    contact: str
    reason: LeaveReason


@register
@attrs.frozen(slots=True)
class ConvModeratorConnected(Message):
    """To waiters: moderator ``moderator`` (an address) joined (``moderatorConnected``)."""

    TYPE: ClassVar[str] = "conv_moderator_connected"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    moderator: str


@register
@attrs.frozen(slots=True)
class ConvModeratorLeft(Message):
    """To waiters: moderator ``moderator`` left; ``remaining`` moderators are still there.
    Nobody is admitted by the departure."""

    TYPE: ClassVar[str] = "conv_moderator_left"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    moderator: str
    remaining: int


@register
@attrs.frozen(slots=True)
class ConvContactJoined(Message):
    """To members: ``contact`` (an address) joined (``contactJoined``)."""

    TYPE: ClassVar[str] = "conv_contact_joined"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    contact: str
    role: ConversationRole


@register
@attrs.frozen(slots=True)
class ConvContactLeft(Message):
    """To members: ``contact`` (an address) left (``contactLeft``)."""

    TYPE: ClassVar[str] = "conv_contact_left"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    contact: str
    reason: LeaveReason


@register
@attrs.frozen(slots=True)
class ConvEjected(Message):
    """To members and the ejected user's devices: user ``contact`` was ejected
    (``participantEjected``: ``self`` when ``contact`` is the receiver's own user)."""

    TYPE: ClassVar[str] = "conv_ejected"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    contact: str
    reason: str | None = None


@register
@attrs.frozen(slots=True)
class ConvClosed(Message):
    """To members and waiters: a moderator closed the room (``closed``)."""

    TYPE: ClassVar[str] = "conv_closed"
    ROUTE: ClassVar[str | None] = "room"
    room: str


@register
@attrs.frozen(slots=True)
class ConvMessage(Message):
    """A member's text message (``from``: its address), number ``seq`` in the room;
    ``history``: replayed to a late joiner, not live."""

    TYPE: ClassVar[str] = "conv_message"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    seq: int
    content: str
    history: bool = False


@register
@attrs.frozen(slots=True)
class ConvData(Message):
    """A member's application data (``from``: its address)."""

    TYPE: ClassVar[str] = "conv_data"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    content: dict[str, Any]


@register
@attrs.frozen(slots=True)
class ConvCustomEvent(Message):
    """A member's custom event (``from``: its address)."""

    TYPE: ClassVar[str] = "conv_custom_event"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    event: str
    content: dict[str, Any]


@register
@attrs.frozen(slots=True)
class ConvDataUpdated(Message):
    """To members: the persistent data is now ``data`` at ``version``
    (``persistentDataUpdated``; ``from``: the member who changed it)."""

    TYPE: ClassVar[str] = "conv_data_updated"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    version: int
    data: dict[str, Any]


REQUESTS: frozenset[type[ConvRequest]] = frozenset(
    {
        ConvJoin,
        ConvCancelJoin,
        ConvLeave,
        ConvAllow,
        ConvDeny,
        ConvEject,
        ConvClose,
        ConvSendMessage,
        ConvSendData,
        ConvSendEvent,
        ConvGetData,
        ConvSetData,
        ConvUpdateData,
    }
)
"""The conversation messages a client sends to the relay (no ``to``)."""

RELAY_ONLY: frozenset[type[Message]] = frozenset(
    {
        ConvAck,
        ConvError,
        ConvJoined,
        ConvWaiting,
        ConvDataState,
        ConvEntry,
        ConvJoinRequest,
        ConvWaitingLeft,
        ConvModeratorConnected,
        ConvModeratorLeft,
        ConvContactJoined,
        ConvContactLeft,
        ConvEjected,
        ConvClosed,
        ConvMessage,
        ConvData,
        ConvCustomEvent,
        ConvDataUpdated,
    }
)
"""The conversation messages only the relay sends; a client may not route them to anyone."""
