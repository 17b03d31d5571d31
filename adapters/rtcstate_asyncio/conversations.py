"""apiRTC's Conversation, Conference and ReceivedConversationJoinRequest, on asyncio.

Theory of operation
-------------------
Thin wrappers over the core's :class:`rtcstate.conversation.Conversation` /
:class:`~rtcstate.conversation.Conference` (held by the core session under the ``room`` route,
:mod:`rtcstate.conversation.registry`) and over each moderator's
:class:`~rtcstate.conversation.ReceivedConversationJoinRequest`. ``session.get_conversation
(name)`` makes (or finds) the core object and its one wrapper; events come back through the
session's routing (target ``conversation:<name>``).

Every command calls the core at once through the runtime: a misuse raises the core's
:class:`~rtcstate.errors.RtcError` (16 ERROR_WRONG_STATE, 4 ERROR_UNAUTHORIZED...) before
anything is sent. The commands the relay answers are coroutines: the core names each request
(``last_request``) and later returns a :class:`~rtcstate.conversation.Resolve` or
:class:`~rtcstate.conversation.Reject` effect for it, which the runtime hands to
:class:`Outcomes`, which settles the request's future. A rejection raises
:class:`ConversationError` carrying the apiRTC number the relay or the core gave (14
ERROR_NOT_ALLOWED for a denied entry, 15 ERROR_OPERATION_CANCELED after ``cancel_join``, 11
ERROR_TIMED_OUT, 17 ERROR_ON_SAVE with the current ``version`` for a lost compare-and-set...).
When the session closes, every request still waiting is rejected (2 ERROR_NETWORK_UNAVAILABLE).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from rtcstate import conversation as cc
from rtcstate.codes import ConversationStatus, ErrorNumber, InvitationStatus
from rtcstate.conversation import invitations as core_inv
from rtcstate.effects import Effect
from rtcstate.errors import RtcError
from rtcstate.recording import RecordingOutcome
from rtcstate.wire_conversation import ConvRequest
from rtcstate_asyncio.emitter import EventStream, Handler
from rtcstate_asyncio.streams import Stream
from rtcstate_asyncio.typed import (
    ConferenceEvents,
    ConversationEvents,
    ReceivedConversationInvitationEvents,
    ReceivedConversationJoinRequestEvents,
    SentInvitationEvents,
)

if TYPE_CHECKING:
    from rtcstate_asyncio.agent import Session

__all__ = [
    "Conference",
    "Conversation",
    "ConversationError",
    "Outcomes",
    "ReceivedConversationInvitation",
    "ReceivedConversationJoinRequest",
    "SentConversationInvitation",
]


class ConversationError(RtcError):
    """A conversation request failed: ``code`` is its apiRTC number, ``command`` the request
    (``join``, ``message``, ``set_data``...), ``version`` the persistent data's current version
    when a compare-and-set lost."""

    def __init__(self, code: int, info: str, command: str, version: int | None = None) -> None:
        super().__init__(ErrorNumber(code), info or command)
        self.command = command
        self.version = version


class Outcomes:
    """The futures of the requests in flight, settled by the core's Resolve / Reject."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[Any]] = {}
        #: outcomes that arrived before their future was registered (a request answered in
        #: the same drain that sent it)
        self._early: dict[str, cc.Resolve | cc.Reject] = {}

    def expect(self, request_id: str | None) -> asyncio.Future[Any]:
        """The future of request ``request_id`` (just sent)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if request_id is None:
            future.set_result(None)
            return future
        early = self._early.pop(request_id, None)
        if early is not None:
            _settle(future, early)
        else:
            self._futures[request_id] = future
        return future

    def expect_recording(self, target: str, command: str) -> asyncio.Future[Any]:
        """The future of a recording ``command`` (``start`` / ``stop``) of ``target``, settled
        by the core's ``RecordingOutcome`` (its 10 s / 5 s timers included)."""
        key = _recording_key(target, command)
        self._early.pop(key, None)  # an outcome nobody awaited (a core command) is stale
        return self.expect(key)

    def forget_recording(self, target: str, command: str) -> None:
        """Drop an expectation whose command raised (nothing will settle it)."""
        self._futures.pop(_recording_key(target, command), None)

    def settle(self, effect: Effect) -> None:
        """A Resolve / Reject / RecordingOutcome from the core (the runtime calls this)."""
        if isinstance(effect, RecordingOutcome):
            effect = _from_recording(effect)
        if not isinstance(effect, cc.Resolve | cc.Reject):
            return
        future = self._futures.pop(effect.request_id, None)
        if future is None:
            self._early[effect.request_id] = effect
            if len(self._early) > 256:  # outcomes nobody awaits (fire-and-forget commands)
                del self._early[next(iter(self._early))]
        elif not future.done():
            _settle(future, effect)

    def abandon(self, info: str) -> None:
        """Reject every request still waiting (the session closed)."""
        futures, self._futures = self._futures, {}
        for future in futures.values():
            if not future.done():
                code = ErrorNumber.ERROR_NETWORK_UNAVAILABLE
                future.set_exception(ConversationError(code, info, "abandoned"))
                future.exception()  # retrieved: an unawaited one is no error


def _recording_key(target: str, command: str) -> str:
    return f"recording:{target}:{command}"


def _from_recording(effect: RecordingOutcome) -> cc.Resolve | cc.Reject:
    key = _recording_key(effect.target, effect.command)
    command = f"{effect.command}Recording"
    if effect.code is None:
        return cc.Resolve(effect.target, key, command, dict(effect.info))
    info = "RECORDING_FAILED" if effect.code == ErrorNumber.ERROR_STREAM_RECORD else "timed out"
    return cc.Reject(effect.target, key, command, effect.code, info)


def _settle(future: asyncio.Future[Any], effect: cc.Resolve | cc.Reject) -> None:
    if isinstance(effect, cc.Resolve):
        future.set_result(effect.value)
    else:
        future.set_exception(
            ConversationError(effect.code, effect.info, effect.command, effect.version)
        )


class _Room:
    """What Conversation and Conference share."""

    core: cc.Conversation

    def __init__(self, session: Session, conv: cc.Conversation) -> None:
        super().__init__()
        self.session = session
        self.core = conv
        #: remote streams by id, as handed to ``streamAdded`` (``streamRemoved`` gets the same)
        self._remote: dict[str, Stream] = {}

    # --- queries ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """``getName()``: the room."""
        return self.core.name

    @property
    def status(self) -> ConversationStatus:
        """``getStatus()``."""
        return self.core.status

    def is_joined(self) -> bool:
        """``isJoined()``."""
        return self.core.joined

    def get_contacts(self) -> list[str]:
        """``getContacts()``: the other members' addresses."""
        return self.core.get_contacts()

    def get_role(self) -> str | None:
        """``getRole()``."""
        return self.core.get_role()

    def get_moderator(self) -> str | None:
        """``getModerator()``."""
        return self.core.get_moderator()

    def get_waiting_room_contacts(self) -> list[str]:
        """``getWaitingRoomContacts()`` (moderator)."""
        return self.core.get_waiting_room_contacts()

    @property
    def data(self) -> dict[str, Any] | None:
        """The persistent data as last known (None: unknown, ``await get_data()``)."""
        return self.core.data

    @property
    def data_version(self) -> int:
        return self.core.data_version

    # --- membership ---------------------------------------------------------------------------

    async def join(self, *, password: str | None = None) -> dict[str, Any]:
        """``join()``: resolves with ``{"role": ...}`` once in the room (after the waiting room
        of a moderated room); raises :class:`ConversationError` 14 when denied or ejected, 15
        after :meth:`cancel_join`, the relay's number when refused (a wrong password: 4)."""
        result: dict[str, Any] = await self._request(
            lambda now: self.core.join(now, password=password)
        )
        return result

    def cancel_join(self) -> bool:
        """``cancelJoin()``: leave the waiting room (the join raises 15)."""
        self.session.runtime.run(self.core.cancel_join)
        return True

    async def leave(self) -> None:
        """``leave()``: ``left`` fires at once; resolves when the relay has it."""
        await self._request(self.core.leave)

    # --- messaging and data -------------------------------------------------------------------

    async def send_message(self, content: str) -> int:
        """``sendMessage()``: resolves with the room's number of the message once the relay
        has it; raises :class:`ConversationError` (and ``messageNotDelivered`` fires) when not
        delivered."""
        seq: int = await self._request(lambda now: self.core.send_message(now, content))
        return seq

    async def send_data(self, content: dict[str, Any]) -> None:
        """``sendData()``: ``data`` on every other member."""
        await self._request(lambda now: self.core.send_data(now, content))

    async def send_custom_event(self, event: str, content: dict[str, Any] | None = None) -> None:
        """``sendCustomEvent()``: ``customEvent`` on every other member."""
        await self._request(lambda now: self.core.send_custom_event(now, event, content))

    async def get_data(self) -> dict[str, Any]:
        """Read the persistent data: ``{"data": ..., "version": ...}``."""
        result: dict[str, Any] = await self._request(self.core.get_data)
        return result

    async def set_data(self, data: dict[str, Any]) -> int:
        """Replace the persistent data if nobody changed it since the version held here;
        resolves with the new version, raises 17 ERROR_ON_SAVE (``version``: the current one)
        when another change won."""
        version: int = await self._request(lambda now: self.core.set_data(now, data))
        return version

    async def update_data(self, changes: dict[str, Any]) -> int:
        """Merge ``changes`` (None removes a key), compare-and-set as :meth:`set_data`."""
        version: int = await self._request(lambda now: self.core.update_data(now, changes))
        return version

    # --- moderation ---------------------------------------------------------------------------

    async def allow_entry(self, contact: str) -> None:
        """``allowEntry()`` (moderator): admit the waiting user ``contact``."""
        await self._request(lambda now: self.core.allow_entry(now, contact))

    async def deny_entry(self, contact: str, reason: str | None = None) -> None:
        """``denyEntry()`` (moderator): its join raises 14."""
        await self._request(lambda now: self.core.deny_entry(now, contact, reason))

    async def eject(self, contact: str, reason: str | None = None) -> None:
        """``eject()`` (moderator): remove user ``contact`` (banned for a while by the relay)."""
        await self._request(lambda now: self.core.eject(now, contact, reason))

    # --- invitations --------------------------------------------------------------------------

    def send_invitation(
        self, contact: str, expiration: float | None = None
    ) -> SentConversationInvitation:
        """``sendInvitation(contact, {expirationTime})``: invite user ``contact``;
        ``expiration`` in seconds (EXPIRED without an answer by then)."""
        session = self.session
        sent = session.runtime.command(
            lambda now: core_inv.send_invitation(session.core, self.core, contact, now, expiration)
        )
        return session._wrap_sent_conversation(sent)

    # --- media (publish / subscribe: rtcstate.conversation.media) ------------------------------

    def get_available_stream_list(self) -> list[dict[str, Any]]:
        """``getAvailableStreamList()``: the room's streams (StreamInfo; ``isRemote`` False for
        this device's own)."""
        return self.core.get_available_stream_list()

    def is_published_stream(self, stream: Stream | str) -> bool:
        return self.core.media.is_published_stream(_sid(stream))

    def get_remote_stream(self, stream_id: str) -> Stream | None:
        """The remote stream ``stream_id`` received here (after ``streamAdded``)."""
        found = self.core.media.remote_streams.get(stream_id)
        return None if found is None else self.session._wrap_stream(found)

    def get_conversation_call_id(self, stream: Stream | str) -> str | None:
        """The id of the mesh call carrying ``stream`` (published: the first one), if any."""
        call = self.core.media.get_conversation_call(_sid(stream))
        return None if call is None else call.call_id

    async def publish(self, stream: Stream, options: dict[str, Any] | None = None) -> Stream:
        """``publish(stream, options)``: list a local stream in the room (``options``:
        ``{"context": {...}}`` handed to the others in StreamInfo); resolves once the relay has
        it. Every member that subscribes gets its own peer connection (mesh)."""
        context = (options or {}).get("context")
        await self._media_request(lambda now: self.core.publish(now, stream.core, context))
        return stream

    def unpublish(self, stream: Stream | str) -> None:
        """``unpublish(stream)``: withdraw it; its calls end (8 ERROR_NOT_FOUND if it is not
        published here)."""
        sid = _sid(stream)
        self.session.runtime.run(lambda now: self.core.unpublish(now, sid))

    async def replace_published_stream(self, old: Stream | str, new: Stream) -> Stream:
        """``replacePublishedStream(old, new)``: the calls carry on with ``new``'s tracks."""
        sid = _sid(old)
        await self._media_request(
            lambda now: self.core.replace_published_stream(now, sid, new.core)
        )
        return new

    async def subscribe_to_stream(
        self, stream_id: str, options: dict[str, Any] | None = None
    ) -> None:
        """``subscribeToStream(streamId, options)``: receive a listed remote stream
        (``options``: ``{"audioOnly": True}`` / ``{"videoOnly": True}``); resolves once the relay
        has the subscription; ``streamAdded`` fires with the :class:`Stream` when its media
        arrives. 8 ERROR_NOT_FOUND for a stream not listed."""
        opts = options or {}
        audio = not opts.get("videoOnly", False)
        video = not opts.get("audioOnly", False)
        await self._media_request(
            lambda now: self.core.subscribe_to_stream(now, stream_id, audio=audio, video=video)
        )

    def unsubscribe_to_stream(self, stream_id: str) -> None:
        """``unsubscribeToStream(streamId)``: stop receiving it (``streamRemoved``)."""
        self.session.runtime.run(lambda now: self.core.unsubscribe_to_stream(now, stream_id))

    async def start_recording(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """``startRecording(options)``: record the conversation -- the first stream this agent
        publishes in it (``options``: RecordingOptions ``audioOnly`` / ``videoOnly``). Resolves
        with the RecordingInfo of ``recordingStarted``; raises 12 ``ERROR_STREAM_RECORD`` at
        once when nothing is published or it is already recorded, and when the media stack
        fails it; 11 ``ERROR_TIMED_OUT`` when not started within 10 s (the core's timer)."""
        return await self._recording("start", None, options)

    async def stop_recording(self) -> dict[str, Any]:
        """``stopRecording()``: the RecordingInfo of ``recordingAvailable`` (``mediaURL``: the
        file); after 5 s without it, the last info known (as apiRTC does). 12 when not
        recording, 16 while the start is still pending."""
        return await self._recording("stop", None, None)

    async def start_recording_published_stream(
        self, stream: Stream | str, options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``ConversationCall.startRecordingPublishedStream(options)``: record one stream
        published here (as :meth:`start_recording`)."""
        return await self._recording("start", _sid(stream), options)

    async def stop_recording_published_stream(self, stream: Stream | str) -> dict[str, Any]:
        """``ConversationCall.stopRecordingPublishedStream()`` (as :meth:`stop_recording`)."""
        return await self._recording("stop", _sid(stream), None)

    def is_recorded(self) -> bool:
        """``isRecorded()``: a recording of a stream published here is in progress."""
        return self.core.media.is_recorded()

    # --- internals ----------------------------------------------------------------------------

    def _media_request(self, command: Any) -> asyncio.Future[Any]:
        sent: list[str] = []

        def run(now: float) -> list[Effect]:
            fx: list[Effect] = command(now)
            for e in fx:
                message = getattr(e, "message", None)
                if isinstance(message, ConvRequest) and self.core.media.owns_answer(
                    message.request_id
                ):
                    sent.append(message.request_id)
            return fx

        self.session.runtime.run(run)
        return self.session._outcomes.expect(sent[0] if sent else None)

    async def _recording(
        self, command: str, stream_id: str | None, options: dict[str, Any] | None
    ) -> dict[str, Any]:
        opts = options or {}
        outcomes = self.session._outcomes
        target = self.core.target
        future = outcomes.expect_recording(target, command)

        def run(now: float) -> list[Effect]:
            if command == "stop":
                return self.core.stop_recording(now, stream_id)
            audio, video = bool(opts.get("audioOnly")), bool(opts.get("videoOnly"))
            return self.core.start_recording(now, stream_id, audio_only=audio, video_only=video)

        try:
            self.session.runtime.run(run)
        except BaseException:
            outcomes.forget_recording(target, command)
            future.cancel()
            raise
        info: dict[str, Any] = await future
        return info

    def _listened(self) -> None:
        """A listener for ``streamListChanged`` is attached: the buffered ones are replayed."""
        self.session.runtime.run(lambda now: self.core.listen("streamListChanged", now))

    def _add(self, event: str, handler: Handler | None, *, once: bool) -> Any:
        if event != "streamListChanged":
            return super()._add(event, handler, once=once)  # type: ignore[misc]
        if handler is None:
            attach = super()._add(event, None, once=once)  # type: ignore[misc]

            def decorator(function: Any) -> Any:
                attach(function)
                self._listened()
                return function

            return decorator
        result = super()._add(event, handler, once=once)  # type: ignore[misc]
        self._listened()
        return result

    def _events(self, *names: str) -> EventStream[Any]:
        stream: EventStream[Any] = super()._events(*names)  # type: ignore[misc]
        if not names or "streamListChanged" in names:
            self._listened()
        return stream

    def _fire(self, event: str, payload: Any, spawn: Any) -> None:
        if event in ("streamAdded", "streamRemoved") and isinstance(payload, dict):
            sid = payload.get("streamId")
            if event == "streamAdded":
                found = self.core.media.remote_streams.get(str(sid))
                if found is not None:
                    payload = self._remote[str(sid)] = self.session._wrap_stream(found)
            else:
                payload = self._remote.pop(str(sid), payload)
        super()._fire(event, payload, spawn)  # type: ignore[misc]

    def _request(self, command: Any) -> asyncio.Future[Any]:
        conv = self.core
        before = conv.last_request
        self.session.runtime.run(command)
        request = conv.last_request
        return self.session._outcomes.expect(request if request != before else None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.status.value}>"


def _sid(stream: Stream | str) -> str:
    return stream if isinstance(stream, str) else stream.stream_id


class Conversation(_Room, ConversationEvents):
    """apiRTC's Conversation."""

    API_CLASS = "Conversation"


class Conference(_Room, ConferenceEvents):
    """apiRTC's Conference: a Conversation its moderator may :meth:`close`."""

    API_CLASS = "Conference"

    async def close(self) -> None:
        """``close()`` (moderator): ``closed`` then ``left`` on every member."""
        conf = self.core
        assert isinstance(conf, cc.Conference)
        await self._request(conf.close)


class _ReceivedCore(Protocol):
    """What a received request or invitation of a room shows (the core object)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> InvitationStatus: ...
    @property
    def sender(self) -> str: ...


class _Received:
    """The common face of a received join request and a received invitation: the session
    that holds it and its core object's id, status and sender (``getSender()``)."""

    session: Session
    core: _ReceivedCore

    @property
    def id(self) -> str:
        return self.core.id

    @property
    def status(self) -> InvitationStatus:
        return self.core.status

    @property
    def sender(self) -> str:
        """``getSender()``: the device's address."""
        return self.core.sender


class ReceivedConversationJoinRequest(_Received, ReceivedConversationJoinRequestEvents):
    """apiRTC's ReceivedConversationJoinRequest (payload of ``conversationJoinRequest``)."""

    API_CLASS = "ReceivedConversationJoinRequest"

    def __init__(self, session: Session, request: cc.ReceivedConversationJoinRequest) -> None:
        super().__init__()
        self.session = session
        self.core: cc.ReceivedConversationJoinRequest = request

    @property
    def conversation(self) -> Conversation | Conference | None:
        """``getConversation()``."""
        room = self.session.core.child("room", self.core.room)
        return None if not isinstance(room, cc.Conversation) else self.session._wrap_room(room)

    async def accept(self) -> None:
        """Admit the waiter (``allowEntry``); raises 10 unless STANDBY."""
        await self._decide(self.core.accept)

    async def decline(self, reason: str | None = None) -> None:
        """Refuse the waiter (``denyEntry``); raises 10 unless STANDBY."""
        await self._decide(lambda now: self.core.decline(now, reason))

    def _decide(self, command: Any) -> asyncio.Future[Any]:
        room = self.session.core.child("room", self.core.room)
        before = room.last_request if isinstance(room, cc.Conversation) else None
        self.session.runtime.run(command)
        after = room.last_request if isinstance(room, cc.Conversation) else None
        return self.session._outcomes.expect(after if after != before else None)

    def _ended(self) -> bool:
        return self.core.state is not cc.JoinRequestState.STANDBY

    def __repr__(self) -> str:
        return f"<ReceivedConversationJoinRequest {self.id} {self.status.value}>"


_DECIDED = frozenset(
    {
        InvitationStatus.INVITATION_STATUS_ACCEPTED,
        InvitationStatus.INVITATION_STATUS_DECLINED,
        InvitationStatus.INVITATION_STATUS_EXPIRED,
        InvitationStatus.INVITATION_STATUS_CANCELLED,
        InvitationStatus.INVITATION_STATUS_ENDED,
    }
)


class SentConversationInvitation(SentInvitationEvents):
    """apiRTC's SentInvitation of type ``conversation`` / ``conference``: ``receive`` when a
    device of the contact got it, ``response`` and ``statusChange`` on the answer or expiry."""

    API_CLASS = "SentInvitation"

    def __init__(self, session: Session, sent: core_inv.SentConversationInvitation) -> None:
        super().__init__()
        self.session = session
        self.core = sent

    @property
    def id(self) -> str:
        return self.core.id

    @property
    def status(self) -> InvitationStatus:
        return self.core.status

    @property
    def type(self) -> str:
        """``getType()``: ``conversation`` or ``conference``."""
        return self.core.invitation.kind.value

    @property
    def contact(self) -> str:
        """The invited user."""
        return self.core.invitation.contact

    async def answer(self, timeout: float | None = None) -> InvitationStatus:
        """Wait for the decision (ACCEPTED, DECLINED or EXPIRED): rtcstate's."""
        if self.status not in _DECIDED:
            await self.wait_for("statusChange", timeout)
        return self.status

    def _ended(self) -> bool:
        return self.core.ended

    def __repr__(self) -> str:
        return f"<SentInvitation {self.id} {self.status.value}>"


class ReceivedConversationInvitation(_Received, ReceivedConversationInvitationEvents):
    """apiRTC's ReceivedConversationInvitation (payload of ``conversationInvitation``)."""

    API_CLASS = "ReceivedConversationInvitation"

    def __init__(self, session: Session, inv: core_inv.ReceivedConversationInvitation) -> None:
        super().__init__()
        self.session = session
        self.core: core_inv.ReceivedConversationInvitation = inv

    @property
    def room(self) -> str:
        return self.core.room

    async def accept(self) -> Conversation | Conference:
        """``accept()``: answer and join; resolves with the joined conversation. Raises 16
        unless STANDBY, and :class:`ConversationError` when the join fails (the invitation
        stays ACCEPTED, as apiRTC)."""
        core_conv = self.session.core.child("room", self.core.room)
        before = core_conv.last_request if isinstance(core_conv, cc.Conversation) else None
        self.session.runtime.run(self.core.accept)
        conv = self.core.conversation()
        assert conv is not None
        room = self.session._wrap_room(conv)
        request = conv.last_request
        await self.session._outcomes.expect(request if request != before else None)
        return room

    def decline(self, reason: str | None = None) -> None:
        """``decline(reason)`` (ignored once decided, as apiRTC)."""
        self.session.runtime.run(lambda now: self.core.decline(now, reason))

    def _ended(self) -> bool:
        return self.core.ended

    def __repr__(self) -> str:
        return f"<ReceivedConversationInvitation {self.id} {self.status.value}>"
