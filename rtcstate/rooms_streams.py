"""Rooms' streams: the relay's authority over each room's stream list and subscriptions.

Theory of operation
-------------------
Part of :class:`~rtcstate.rooms.RoomAuthority` (its handlers for the requests of
:mod:`rtcstate.wire_streams`, and two hooks: a new member is sent the current list, a member
that goes takes its streams and subscriptions with it). Each room holds a :class:`RoomStreams`:
the published streams (id -> owner address and flags), the subscriptions ((stream, subscriber)
-> call id) and, per address, what it publishes and subscribes to.

Who may do what (every refusal is a ``ConvError`` to the requester, a ``Refused`` for the logs,
and nothing changed):

* publish, unpublish, replace, update, subscribe, unsubscribe and signal are member-only: a
  waiter (``waiting``), a non-member or an ejected user (``not_joined``) is refused;
* a stream id is the publisher's within the room: publishing an id another member holds is
  ``stream_taken``; unpublish / replace / update of a stream the requester does not own,
  subscribe to a stream not in the list, unsubscribe from a stream not subscribed to, and a
  signal for a call the subscription does not link to its peer are ``unknown_stream``;
* one member publishes at most :attr:`~rtcstate.rooms.RoomAuthority.max_streams_per_member`
  streams, subscribes to at most :attr:`~rtcstate.rooms.RoomAuthority.max_subscriptions`, and a
  room lists at most :attr:`~rtcstate.rooms.RoomAuthority.max_streams_per_room`
  (``too_many_streams``): a publish flood costs the others a bounded list;
* subscribing to one's own stream, an over-long id, or a call id already in use is
  ``bad_request``.

Notices: every change of the list goes to every member, the publisher included (apiRTC's
``streamListChanged`` fires for one's own streams, ``isRemote`` false); a subscription and its
end go to the publisher (``conv_subscribed`` / ``conv_unsubscribed``), who runs the call; a
signal goes to its peer only. When a member leaves, disconnects or is ejected, its streams
leave the list (``removed`` to the remaining members) and its subscriptions end
(``conv_unsubscribed`` to each publisher): in the same step as its ``conv_contact_left``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import attrs

from rtcstate import wire
from rtcstate.identity import Identity
from rtcstate.wire_conversation import ConvRequest, RoomRefusal
from rtcstate.wire_streams import (
    ConvPeerSignal,
    ConvPublish,
    ConvReplaceStream,
    ConvSignal,
    ConvStreamList,
    ConvSubscribe,
    ConvSubscribed,
    ConvUnpublish,
    ConvUnsubscribe,
    ConvUnsubscribed,
    ConvUpdateStream,
    StreamListEvent,
)


class _Room(Protocol):
    """What the handlers need of a room (a narrow view: this module never imports rooms)."""

    media: Any
    members: Any

    @property
    def name(self) -> str: ...

    def everyone(self) -> tuple[str, ...]: ...


class RoomAuthority(Protocol):
    """What the handlers need of :class:`rtcstate.rooms.RoomAuthority`."""

    max_streams_per_member: int
    max_streams_per_room: int
    max_subscriptions: int

    def _refuse(
        self, address: str, request: ConvRequest, reason: RoomRefusal, info: str
    ) -> list[Any]: ...

    def _ack(self, address: str, key: _Key, request: ConvRequest) -> Any: ...

    def _member_only(self, address: str, room: Any, request: ConvRequest) -> list[Any] | None: ...

    def _notice(self, address: str, envelope: wire.Envelope) -> Any: ...

    def _broadcast(self, addresses: Sequence[str], envelope: wire.Envelope) -> Any: ...


RoomEffect = Any
__all__ = ["STREAM_HANDLERS", "RoomStreams", "StreamView", "catch_up", "member_gone"]

_Key = tuple[str, str]
MAX_ID_LENGTH = 128


@attrs.define(slots=True, eq=False)
class _Published:
    owner: str
    audio: bool
    video: bool
    audio_muted: bool
    video_muted: bool
    context: dict[str, Any] | None


@attrs.frozen(slots=True)
class StreamView:
    """A room's streams as plain values (tests, diagnostics)."""

    #: (stream id, owner address) in publication order
    streams: tuple[tuple[str, str], ...]
    #: (stream id, subscriber address, call id)
    subscriptions: tuple[tuple[str, str, str], ...]


@attrs.define(slots=True, eq=False)
class RoomStreams:
    """One room's published streams and subscriptions."""

    streams: dict[str, _Published] = attrs.field(factory=dict)
    #: (stream id, subscriber) -> call id
    subs: dict[tuple[str, str], str] = attrs.field(factory=dict)
    #: call id -> (stream id, subscriber)
    calls: dict[str, tuple[str, str]] = attrs.field(factory=dict)
    #: owner -> its stream ids; subscriber -> the stream ids it receives
    owned: dict[str, dict[str, None]] = attrs.field(factory=dict)
    receives: dict[str, dict[str, None]] = attrs.field(factory=dict)

    def view(self) -> StreamView:
        return StreamView(
            tuple((s, p.owner) for s, p in self.streams.items()),
            tuple((s, who, call) for (s, who), call in self.subs.items()),
        )

    def subscribers(self, stream_id: str) -> list[str]:
        return [who for (s, who) in self.subs if s == stream_id]

    def unsubscribe(self, stream_id: str, subscriber: str) -> str | None:
        call = self.subs.pop((stream_id, subscriber), None)
        if call is not None:
            self.calls.pop(call, None)
            mine = self.receives.get(subscriber)
            if mine is not None:
                mine.pop(stream_id, None)
                if not mine:
                    del self.receives[subscriber]
        return call


def _streams(room: _Room) -> RoomStreams:
    media = room.media
    if media is None:
        media = room.media = RoomStreams()
    assert isinstance(media, RoomStreams)
    return media


def _listed(
    room: _Room, event: StreamListEvent, stream_id: str, p: _Published, previous: str | None = None
) -> ConvStreamList:
    return ConvStreamList(
        room.name,
        event,
        stream_id,
        p.owner,
        p.audio,
        p.video,
        p.audio_muted,
        p.video_muted,
        previous,
        p.context,
    )


def _broadcast(auth: RoomAuthority, room: _Room, message: wire.Message) -> RoomEffect:
    return auth._broadcast(room.everyone(), wire.Envelope(message))


def _note(
    auth: RoomAuthority, address: str, message: wire.Message, sender: str | None = None
) -> RoomEffect:
    return auth._notice(address, wire.Envelope(message, None, sender))


def _bad_id(auth: RoomAuthority, address: str, request: ConvRequest, *ids: str) -> list[Any]:
    for ident in ids:
        if not ident or len(ident) > MAX_ID_LENGTH:
            info = f"stream and call ids must have 1 to {MAX_ID_LENGTH} characters"
            return auth._refuse(address, request, RoomRefusal.BAD_REQUEST, info)
    return []


def _owned(
    auth: RoomAuthority, address: str, room: _Room, request: ConvRequest, stream_id: str
) -> tuple[RoomStreams, _Published | None, list[RoomEffect]]:
    book = _streams(room)
    published = book.streams.get(stream_id)
    if published is None or published.owner != address:
        info = f"no stream {stream_id!r} published by the requester"
        return book, None, auth._refuse(address, request, RoomRefusal.UNKNOWN_STREAM, info)
    return book, published, []


# --- handlers (RoomAuthority's, for the stream requests) ---------------------------------------


def _publish(
    auth: RoomAuthority,
    identity: Identity,
    address: str,
    key: _Key,
    room: _Room | None,
    request: ConvPublish,
    now: float,
) -> list[RoomEffect]:
    refusal = auth._member_only(address, room, request) or _bad_id(
        auth, address, request, request.stream_id
    )
    if refusal:
        return refusal
    assert room is not None
    book = _streams(room)
    sid = request.stream_id
    existing = book.streams.get(sid)
    if existing is not None and existing.owner != address:
        return auth._refuse(address, request, RoomRefusal.STREAM_TAKEN, f"{sid!r} is taken")
    fresh = _Published(
        address,
        request.audio,
        request.video,
        request.audio_muted,
        request.video_muted,
        request.context,
    )
    if existing is not None:  # published again: an update of its flags
        book.streams[sid] = fresh
        return [
            auth._ack(address, key, request),
            _broadcast(auth, room, _listed(room, StreamListEvent.UPDATED, sid, fresh)),
        ]
    mine = book.owned.get(address, {})
    if len(mine) >= auth.max_streams_per_member or len(book.streams) >= auth.max_streams_per_room:
        info = (
            f"{auth.max_streams_per_member} streams per member, "
            f"{auth.max_streams_per_room} per room"
        )
        return auth._refuse(address, request, RoomRefusal.TOO_MANY_STREAMS, info)
    book.streams[sid] = fresh
    book.owned.setdefault(address, {})[sid] = None
    return [
        auth._ack(address, key, request),
        _broadcast(auth, room, _listed(room, StreamListEvent.ADDED, sid, fresh)),
    ]


def _remove_stream(
    auth: RoomAuthority, room: _Room, book: RoomStreams, sid: str, notify: bool
) -> list[RoomEffect]:
    published = book.streams.pop(sid)
    owned = book.owned.get(published.owner)
    if owned is not None:
        owned.pop(sid, None)
        if not owned:
            del book.owned[published.owner]
    for who in book.subscribers(sid):
        book.unsubscribe(sid, who)
    if not notify or not room.members:
        return []
    return [_broadcast(auth, room, _listed(room, StreamListEvent.REMOVED, sid, published))]


def _unpublish(
    auth: RoomAuthority,
    identity: Identity,
    address: str,
    key: _Key,
    room: _Room | None,
    request: ConvUnpublish,
    now: float,
) -> list[RoomEffect]:
    refusal = auth._member_only(address, room, request)
    if refusal is not None:
        return refusal
    assert room is not None
    book, published, refusal = _owned(auth, address, room, request, request.stream_id)
    if published is None:
        return refusal
    return [
        auth._ack(address, key, request),
        *_remove_stream(auth, room, book, request.stream_id, True),
    ]


def _replace(
    auth: RoomAuthority,
    identity: Identity,
    address: str,
    key: _Key,
    room: _Room | None,
    request: ConvReplaceStream,
    now: float,
) -> list[RoomEffect]:
    refusal = auth._member_only(address, room, request) or _bad_id(
        auth, address, request, request.new_stream_id
    )
    if refusal:
        return refusal
    assert room is not None
    old, new = request.stream_id, request.new_stream_id
    book, published, refusal = _owned(auth, address, room, request, old)
    if published is None:
        return refusal
    if new != old and new in book.streams:
        return auth._refuse(address, request, RoomRefusal.STREAM_TAKEN, f"{new!r} is taken")
    del book.streams[old]
    published.audio, published.video = request.audio, request.video
    book.streams[new] = published
    owned = book.owned[address]
    del owned[old]
    owned[new] = None
    for who in book.subscribers(old):
        call = book.subs.pop((old, who))
        book.subs[(new, who)] = call
        book.calls[call] = (new, who)
        receives = book.receives[who]
        del receives[old]
        receives[new] = None
    return [
        auth._ack(address, key, request),
        _broadcast(
            auth, room, _listed(room, StreamListEvent.UPDATED, new, published, previous=old)
        ),
    ]


def _update(
    auth: RoomAuthority,
    identity: Identity,
    address: str,
    key: _Key,
    room: _Room | None,
    request: ConvUpdateStream,
    now: float,
) -> list[RoomEffect]:
    refusal = auth._member_only(address, room, request)
    if refusal is not None:
        return refusal
    assert room is not None
    _book, published, refusal = _owned(auth, address, room, request, request.stream_id)
    if published is None:
        return refusal
    published.audio_muted, published.video_muted = request.audio_muted, request.video_muted
    return [
        auth._ack(address, key, request),
        _broadcast(
            auth, room, _listed(room, StreamListEvent.UPDATED, request.stream_id, published)
        ),
    ]


def _subscribe(
    auth: RoomAuthority,
    identity: Identity,
    address: str,
    key: _Key,
    room: _Room | None,
    request: ConvSubscribe,
    now: float,
) -> list[RoomEffect]:
    refusal = auth._member_only(address, room, request) or _bad_id(
        auth, address, request, request.call_id
    )
    if refusal:
        return refusal
    assert room is not None
    book = _streams(room)
    sid = request.stream_id
    published = book.streams.get(sid)
    if published is None:
        return auth._refuse(address, request, RoomRefusal.UNKNOWN_STREAM, f"no stream {sid!r}")
    if published.owner == address:
        return auth._refuse(address, request, RoomRefusal.BAD_REQUEST, "one's own stream")
    current = book.subs.get((sid, address))
    if current is not None:  # subscribed already (under this call or another): said again
        if current == request.call_id:
            return [auth._ack(address, key, request)]
        info = f"already subscribed to {sid!r} over call {current!r}"
        return auth._refuse(address, request, RoomRefusal.BAD_REQUEST, info)
    if request.call_id in book.calls:
        info = f"call id {request.call_id!r} is in use"
        return auth._refuse(address, request, RoomRefusal.BAD_REQUEST, info)
    if len(book.receives.get(address, ())) >= auth.max_subscriptions:
        info = f"{auth.max_subscriptions} subscriptions per member"
        return auth._refuse(address, request, RoomRefusal.TOO_MANY_STREAMS, info)
    book.subs[(sid, address)] = request.call_id
    book.calls[request.call_id] = (sid, address)
    book.receives.setdefault(address, {})[sid] = None
    told = ConvSubscribed(room.name, sid, address, request.call_id, request.audio, request.video)
    return [auth._ack(address, key, request), _note(auth, published.owner, told)]


def _unsubscribe(
    auth: RoomAuthority,
    identity: Identity,
    address: str,
    key: _Key,
    room: _Room | None,
    request: ConvUnsubscribe,
    now: float,
) -> list[RoomEffect]:
    refusal = auth._member_only(address, room, request)
    if refusal is not None:
        return refusal
    assert room is not None
    book = _streams(room)
    sid = request.stream_id
    call = book.unsubscribe(sid, address)
    if call is None:
        info = f"not subscribed to {sid!r}"
        return auth._refuse(address, request, RoomRefusal.UNKNOWN_STREAM, info)
    owner = book.streams[sid].owner
    told = ConvUnsubscribed(room.name, sid, address, call, "unsubscribed")
    return [auth._ack(address, key, request), _note(auth, owner, told)]


def _signal(
    auth: RoomAuthority,
    identity: Identity,
    address: str,
    key: _Key,
    room: _Room | None,
    request: ConvSignal,
    now: float,
) -> list[RoomEffect]:
    refusal = auth._member_only(address, room, request)
    if refusal is not None:
        return refusal
    assert room is not None
    peer = request.peer
    if peer not in room.members:
        info = f"{peer!r} is not a member of the room"
        return auth._refuse(address, request, RoomRefusal.UNKNOWN_CONTACT, info)
    book = _streams(room)
    link = book.calls.get(request.call_id)
    published = book.streams.get(request.stream_id)
    if (
        link is None
        or published is None
        or link[0] != request.stream_id
        or {address, peer} != {published.owner, link[1]}
    ):
        info = f"call {request.call_id!r} does not link the requester to {peer!r}"
        return auth._refuse(address, request, RoomRefusal.UNKNOWN_STREAM, info)
    forwarded = ConvPeerSignal(
        room.name,
        request.call_id,
        request.stream_id,
        request.kind,
        request.sdp,
        request.candidate,
        request.sdp_mid,
        request.sdp_mline_index,
        request.reason,
    )
    return [_note(auth, peer, forwarded, address)]


STREAM_HANDLERS: dict[type[wire.Message], Any] = {
    ConvPublish: _publish,
    ConvUnpublish: _unpublish,
    ConvReplaceStream: _replace,
    ConvUpdateStream: _update,
    ConvSubscribe: _subscribe,
    ConvUnsubscribe: _unsubscribe,
    ConvSignal: _signal,
}
"""The room authority's handlers for the stream requests."""


# --- hooks ---------------------------------------------------------------------------------------


def catch_up(auth: RoomAuthority, room: _Room, address: str) -> list[RoomEffect]:
    """What a new member is sent after its ``conv_joined``: the current list, one ``added``
    each."""
    book = room.media
    if not isinstance(book, RoomStreams):
        return []
    return [
        _note(auth, address, _listed(room, StreamListEvent.ADDED, sid, p))
        for sid, p in book.streams.items()
    ]


def member_gone(
    auth: RoomAuthority, room: _Room, addresses: list[str], reason: str
) -> list[RoomEffect]:
    """``addresses`` left the room (already removed from its members): their streams leave the
    list and their subscriptions end."""
    book = room.media
    if not isinstance(book, RoomStreams):
        return []
    fx: list[RoomEffect] = []
    for address in addresses:
        for sid in list(book.owned.get(address, ())):
            fx.extend(_remove_stream(auth, room, book, sid, True))
        for sid in list(book.receives.get(address, ())):
            call = book.unsubscribe(sid, address)
            owner = book.streams[sid].owner
            if call is not None and owner in room.members:
                fx.append(
                    _note(auth, owner, ConvUnsubscribed(room.name, sid, address, call, reason))
                )
    return fx
