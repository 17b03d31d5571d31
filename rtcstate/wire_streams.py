"""Conversation streams on the wire: publish, subscribe, and the mesh calls' signaling.

Theory of operation
-------------------
apiRTC's conversation media model: a member *publishes* a stream (the relay adds it to the
room's stream list and tells every member: ``streamListChanged`` ``added``), another member
*subscribes* to it (the relay records the subscription and tells the publisher, who starts a
:class:`~rtcstate.conversation.call.ConversationCall` towards the subscriber: mesh mode, one
peer connection per (stream, subscriber)). The two ends of that call exchange their offer,
answer, candidates and bye as :class:`ConvSignal` requests through the relay, which forwards
each one as a :class:`ConvPeerSignal` only between the two members the subscription links:
nothing reaches a waiter, an ejected user or a stranger.

Requests (:data:`STREAM_REQUESTS`) are :class:`~rtcstate.wire_conversation.ConvRequest`\\ s:
answered once by a ``ConvAck`` (command ``publish``, ``subscribe``...) or a ``ConvError``
(reasons ``unknown_stream``, ``too_many_streams``, ``stream_taken`` besides the room's own),
repeated with the same ``request_id`` until answered. A :class:`ConvSignal` is not acknowledged
(candidates are many; the call's own timers cover a lost one) but a refused one is answered
with its ``ConvError``. Notices (:data:`STREAM_RELAY_ONLY`) are sent by the relay only.

:data:`ROOM_REQUESTS` / :data:`ROOM_RELAY_ONLY` are the conversation sets of
:mod:`rtcstate.wire_conversation` with these added: what the hub hands to the room authority.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import attrs

from rtcstate.wire import Message, register
from rtcstate.wire_conversation import RELAY_ONLY, REQUESTS, ConvCommand, ConvRequest

__all__ = [
    "ROOM_RELAY_ONLY",
    "ROOM_REQUESTS",
    "STREAM_RELAY_ONLY",
    "STREAM_REQUESTS",
    "ConvPeerSignal",
    "ConvPublish",
    "ConvReplaceStream",
    "ConvSignal",
    "ConvStreamList",
    "ConvSubscribe",
    "ConvSubscribed",
    "ConvUnpublish",
    "ConvUnsubscribe",
    "ConvUnsubscribed",
    "ConvUpdateStream",
    "SignalKind",
    "StreamListEvent",
]


class StreamListEvent(enum.StrEnum):
    """apiRTC's ``StreamInfo.listEventType``."""

    ADDED = "added"
    REMOVED = "removed"
    UPDATED = "updated"


class SignalKind(enum.StrEnum):
    """What a :class:`ConvSignal` carries."""

    OFFER = "offer"
    ANSWER = "answer"
    CANDIDATE = "candidate"
    BYE = "bye"


# ---- requests (client -> relay) -------------------------------------------------------------


@register
@attrs.frozen(slots=True)
class ConvPublish(ConvRequest):
    """Member: add stream ``stream_id`` to the room's stream list (``publish``)."""

    TYPE: ClassVar[str] = "conv_publish"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.PUBLISH
    room: str
    request_id: str
    stream_id: str
    audio: bool = True
    video: bool = True
    audio_muted: bool = False
    video_muted: bool = False
    context: dict[str, Any] | None = None


@register
@attrs.frozen(slots=True)
class ConvUnpublish(ConvRequest):
    """Publisher: remove its stream ``stream_id`` from the list (``unpublish``)."""

    TYPE: ClassVar[str] = "conv_unpublish"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.UNPUBLISH
    room: str
    request_id: str
    stream_id: str


@register
@attrs.frozen(slots=True)
class ConvReplaceStream(ConvRequest):
    """Publisher: stream ``stream_id`` is now ``new_stream_id`` (``replacePublishedStream``);
    its subscriptions carry over."""

    TYPE: ClassVar[str] = "conv_replace_stream"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.REPLACE_STREAM
    room: str
    request_id: str
    stream_id: str
    new_stream_id: str
    audio: bool = True
    video: bool = True


@register
@attrs.frozen(slots=True)
class ConvUpdateStream(ConvRequest):
    """Publisher: its stream's mute state changed (``streamListChanged`` ``updated``)."""

    TYPE: ClassVar[str] = "conv_update_stream"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.UPDATE_STREAM
    room: str
    request_id: str
    stream_id: str
    audio_muted: bool = False
    video_muted: bool = False


@register
@attrs.frozen(slots=True)
class ConvSubscribe(ConvRequest):
    """Member: receive stream ``stream_id`` over call ``call_id`` (``subscribeToStream``)."""

    TYPE: ClassVar[str] = "conv_subscribe"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.SUBSCRIBE
    room: str
    request_id: str
    stream_id: str
    call_id: str
    audio: bool = True
    video: bool = True


@register
@attrs.frozen(slots=True)
class ConvUnsubscribe(ConvRequest):
    """Subscriber: stop receiving ``stream_id`` (``unsubscribeToStream``)."""

    TYPE: ClassVar[str] = "conv_unsubscribe"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.UNSUBSCRIBE
    room: str
    request_id: str
    stream_id: str


@register
@attrs.frozen(slots=True)
class ConvSignal(ConvRequest):
    """One end of conversation call ``call_id`` (stream ``stream_id``) to the other, ``peer``
    (an address): an offer or answer (``sdp``), a candidate, or a bye (``reason``)."""

    TYPE: ClassVar[str] = "conv_signal"
    ROUTE: ClassVar[str | None] = "room"
    COMMAND: ClassVar[ConvCommand] = ConvCommand.SIGNAL
    room: str
    request_id: str
    peer: str
    call_id: str
    stream_id: str
    kind: SignalKind
    sdp: str | None = None
    candidate: str | None = None
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    reason: str | None = None


# ---- notices (relay -> members) -------------------------------------------------------------


@register
@attrs.frozen(slots=True)
class ConvStreamList(Message):
    """To members: the room's stream list changed (``streamListChanged``); ``owner`` is the
    publisher's address; ``previous``: the stream's former id after a replacement."""

    TYPE: ClassVar[str] = "conv_stream_list"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    event: StreamListEvent
    stream_id: str
    owner: str
    audio: bool = True
    video: bool = True
    audio_muted: bool = False
    video_muted: bool = False
    previous: str | None = None
    context: dict[str, Any] | None = None


@register
@attrs.frozen(slots=True)
class ConvSubscribed(Message):
    """To a publisher: ``subscriber`` (an address) subscribed to its ``stream_id`` over call
    ``call_id``: start that call."""

    TYPE: ClassVar[str] = "conv_subscribed"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    stream_id: str
    subscriber: str
    call_id: str
    audio: bool = True
    video: bool = True


@register
@attrs.frozen(slots=True)
class ConvUnsubscribed(Message):
    """To a publisher: ``subscriber`` no longer receives ``stream_id`` (it unsubscribed, left,
    disconnected or was ejected: ``reason``): end call ``call_id``."""

    TYPE: ClassVar[str] = "conv_unsubscribed"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    stream_id: str
    subscriber: str
    call_id: str
    reason: str


@register
@attrs.frozen(slots=True)
class ConvPeerSignal(Message):
    """A :class:`ConvSignal` forwarded to its ``peer`` (``from``: the sender, stamped)."""

    TYPE: ClassVar[str] = "conv_peer_signal"
    ROUTE: ClassVar[str | None] = "room"
    room: str
    call_id: str
    stream_id: str
    kind: SignalKind
    sdp: str | None = None
    candidate: str | None = None
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    reason: str | None = None


STREAM_REQUESTS: frozenset[type[ConvRequest]] = frozenset(
    {
        ConvPublish,
        ConvUnpublish,
        ConvReplaceStream,
        ConvUpdateStream,
        ConvSubscribe,
        ConvUnsubscribe,
        ConvSignal,
    }
)
"""The stream requests a client sends to the relay."""

STREAM_RELAY_ONLY: frozenset[type[Message]] = frozenset(
    {ConvStreamList, ConvSubscribed, ConvUnsubscribed, ConvPeerSignal}
)
"""The stream notices only the relay sends."""

ROOM_REQUESTS: frozenset[type[ConvRequest]] = REQUESTS | STREAM_REQUESTS
"""Every request the room authority handles."""

ROOM_RELAY_ONLY: frozenset[type[Message]] = RELAY_ONLY | STREAM_RELAY_ONLY
"""Every room notice only the relay sends."""
