"""ConversationMedia: one device's streams in one conversation (publish, subscribe, the list).

Theory of operation
-------------------
The media book of a joined conversation. It keeps the room's stream list as the relay sends it
(``conv_stream_list``), the streams this device publishes there, its subscriptions and every
:class:`~rtcstate.conversation.call.ConversationCall` (one per (published stream, subscriber)
on the publisher's side, one per subscribed stream on the subscriber's side). It is not a
state machine of its own: the conversation's state (joined or not) gates its commands, and
each call is a machine.

Commands (each a request to the relay; a ``Resolve``/``Reject`` when it answers): ``publish``
(requires JOINED: 16 ERROR_WRONG_STATE otherwise; resolved on the relay's ack, since in mesh mode
a stream nobody subscribes to has no call to establish), ``unpublish``,
``replace_published_stream`` (8 ERROR_NOT_FOUND, apiRTC's ``CALL_NOT_FOUND``, for a stream
not published here; the calls carry on with the new stream's tracks), ``subscribe_to_stream``
(8 ERROR_NOT_FOUND for a stream not in the list or one's own), ``unsubscribe_to_stream``.

Events on ``conversation:<name>``: ``streamListChanged`` (StreamInfo + ``listEventType``),
``availableStreamsUpdated`` (map streamId -> StreamInfo, apiRTC's shape), ``streamAdded`` (a
subscribed stream's first remote track), ``streamRemoved`` (unsubscribed, unpublished, or its
publisher gone), ``remoteStreamIdUpdated``, ``roomModeChanged`` (once joined: ``mesh``), and
the calls' own (``hangup``, ``error``, ``disconnectionWarning``, ``callStatsUpdate``,
``slowLink``).

"Buffered until the first listener": apiRTC queues ``streamListChanged`` until the application
attaches its first listener for it, then replays the queue. The core has no listeners, so the
adapter says when the first one is attached (:meth:`ConversationMedia.listen`); until then the
events are kept (at most :attr:`ConversationMedia.max_buffered`, the oldest dropped first) and
``listen`` returns them, in order. ``availableStreamsUpdated`` and the rest are never buffered.
"""

from __future__ import annotations

from typing import Any

import attrs

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.conversation.call import (
    CallRole,
    ConversationCall,
    ConversationCallSettings,
    ConversationCallState,
)
from rtcstate.conversation.outcomes import Reject, Resolve
from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect, Emit, PublishStream, Send, target
from rtcstate.errors import RtcError
from rtcstate.ids import CounterIds, IdSource
from rtcstate.media import RecordingReport
from rtcstate.recording import Recording, RecordingState, RecordingTimer
from rtcstate.stream import Stream
from rtcstate.wire_conversation import ConvAck, ConvError, ConvRequest
from rtcstate.wire_streams import (
    ConvPeerSignal,
    ConvPublish,
    ConvReplaceStream,
    ConvStreamList,
    ConvSubscribe,
    ConvSubscribed,
    ConvUnpublish,
    ConvUnsubscribe,
    ConvUnsubscribed,
    StreamListEvent,
)

__all__ = ["ConversationMedia", "MediaDrop"]

_SLOT_KIND = "conversationCall"
_TIMER_PREFIX = f"{_SLOT_KIND}:"


class MediaDrop(DropReason):
    """Why a conversation's media book ignored an input on purpose."""

    UNKNOWN_CALL = "unknown-call"
    """A signal, report or timer for a call this device does not hold (ended already)."""
    NOT_THE_PEER = "not-the-peer"
    """A signal whose sender is not the call's far end."""
    UNKNOWN_STREAM = "unknown-stream"
    """A notice about a stream this device does not publish or know."""
    STALE_ANSWER = "stale-answer"
    """An answer to a request that is not outstanding."""
    UNEXPECTED = "unexpected-input"
    """A message that is not a stream notice."""


@attrs.define(slots=True, eq=False)
class ConversationMedia:
    """One device's media in one conversation (see the module's theory of operation)."""

    room: str
    me: str
    ids: IdSource = attrs.field(factory=CounterIds)
    settings: ConversationCallSettings = attrs.field(factory=ConversationCallSettings)
    max_buffered: int = 256
    #: the room's list: stream id -> StreamInfo (apiRTC's fields)
    available: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    listening: bool = False
    buffered: list[Effect] = attrs.field(factory=list)
    published: dict[str, Stream] = attrs.field(factory=dict)
    #: every call by id (both ends share the subscriber's call id)
    calls: dict[str, ConversationCall] = attrs.field(factory=dict)
    #: stream id -> the call receiving it (subscriber's end)
    subscribed: dict[str, str] = attrs.field(factory=dict)
    remote_streams: dict[str, Stream] = attrs.field(factory=dict)
    pending: dict[str, ConvRequest] = attrs.field(factory=dict)
    mode: str | None = None
    #: the relay connection was lost while in the room: :meth:`joined` publishes again
    resuming: bool = False
    #: recordings by media id (a published stream's id)
    recordings: dict[str, Recording] = attrs.field(factory=dict)

    @property
    def target(self) -> str:
        return target("conversation", self.room)

    # --- queries -------------------------------------------------------------------------------

    def get_available_stream_list(self) -> list[dict[str, Any]]:
        return [dict(info) for info in self.available.values()]

    def is_published_stream(self, stream_id: str) -> bool:
        return stream_id in self.published

    def get_conversation_call(self, stream_id: str) -> ConversationCall | None:
        call_id = self.subscribed.get(stream_id)
        if call_id is not None:
            return self.calls.get(call_id)
        return next((c for c in self.calls.values() if c.local_stream_id == stream_id), None)

    def receiving(self) -> dict[str, ConversationCall]:
        """Stream id -> the subscriber's call, for every subscription."""
        return {s: self.calls[c] for s, c in self.subscribed.items() if c in self.calls}

    # --- the conversation's state ----------------------------------------------------------------

    def joined(self, now: float) -> list[Effect]:
        """The conversation is JOINED: the room's mode (mesh) is known; streams kept across a
        lost relay connection (:meth:`suspend`) are published again."""
        fx: list[Effect] = []
        if self.mode != "mesh":
            old, self.mode = self.mode, "mesh"
            payload = {"oldMode": old, "newMode": "mesh", "state": "complete"}
            fx.append(Emit(self.target, "roomModeChanged", payload))
        elif not self.resuming:
            return []
        self.resuming = False
        for stream in list(self.published.values()):
            fx.extend(self._send(self._publish_request(stream)))
        return fx

    def suspend(self, now: float) -> list[Effect]:
        """The relay connection is lost (the relay forgets this member, its streams and its
        subscriptions): every call ends without a bye, unanswered requests are rejected with
        2 ERROR_NETWORK_UNAVAILABLE, the list is forgotten; the published streams are kept,
        to be published again by :meth:`joined`."""
        fx: list[Effect] = []
        for call in list(self.calls.values()):
            if call.state is not ConversationCallState.ENDED:
                fx.extend(call.abort(now))
        for request_id, request in list(self.pending.items()):
            del self.pending[request_id]
            if isinstance(request, ConvPublish):
                stream = self.published.pop(request.stream_id, None)
                if stream is not None:
                    stream.conversations.pop(self.room, None)
            info = "the relay connection was lost"
            code = ErrorNumber.ERROR_NETWORK_UNAVAILABLE
            fx.append(Reject(self.target, request_id, request.COMMAND.value, code, info))
        self.available.clear()
        self.resuming = True
        return fx

    def left(self, now: float) -> list[Effect]:
        """The conversation is no longer JOINED: every call ends, the list is forgotten."""
        fx: list[Effect] = []
        for call in list(self.calls.values()):
            if call.state is not ConversationCallState.ENDED:
                fx.extend(call.abort(now))
        for stream in self.published.values():
            stream.conversations.pop(self.room, None)
        self.published.clear()
        self.available.clear()
        for request_id, request in self.pending.items():
            info = "the conversation was left"
            code = ErrorNumber.ERROR_WRONG_STATE
            fx.append(Reject(self.target, request_id, request.COMMAND.value, code, info))
        self.pending.clear()
        self.mode = None
        self.resuming = False
        return fx

    def listen(self, event: str, now: float) -> list[Effect]:
        """The application attached a listener for ``event``: the first one for
        ``streamListChanged`` gets the buffered events."""
        if event != "streamListChanged" or self.listening:
            return []
        self.listening = True
        out, self.buffered = self.buffered, []
        return out

    # --- commands ------------------------------------------------------------------------------

    def publish(
        self, now: float, stream: Stream, *, joined: bool, context: dict[str, Any] | None = None
    ) -> list[Effect]:
        if not joined:
            raise RtcError(ErrorNumber.ERROR_WRONG_STATE, "publish requires a joined conversation")
        if stream.released or stream.is_remote:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "a live local stream is published")
        request = self._publish_request(stream, context)
        self.published[stream.stream_id] = stream
        stream.conversations[self.room] = None
        return self._send(request)

    def unpublish(self, now: float, stream_id: str) -> list[Effect]:
        stream = self.published.pop(stream_id, None)
        if stream is None:
            raise RtcError(ErrorNumber.ERROR_NOT_FOUND, f"stream {stream_id!r} is not published")
        stream.conversations.pop(self.room, None)
        fx = self._send(ConvUnpublish(self.room, self._rid(), stream_id))
        for call in list(self.calls.values()):
            if call.role is CallRole.PUBLISH and call.local_stream_id == stream_id:
                fx.extend(call.abort(now))
        return fx

    def replace_published_stream(self, now: float, old_id: str, new: Stream) -> list[Effect]:
        if old_id not in self.published:
            raise RtcError(ErrorNumber.ERROR_NOT_FOUND, "CALL_NOT_FOUND")
        old = self.published.pop(old_id)
        old.conversations.pop(self.room, None)
        self.published[new.stream_id] = new
        new.conversations[self.room] = None
        fx = self._send(
            ConvReplaceStream(
                self.room, self._rid(), old_id, new.stream_id, new.has_audio(), new.has_video()
            )
        )
        for call in self.calls.values():
            if call.role is CallRole.PUBLISH and call.local_stream_id == old_id:
                call.local_stream_id = call.stream_id = new.stream_id
                fx.append(PublishStream(call.call_id, new.stream_id))
        return fx

    def subscribe_to_stream(
        self, now: float, stream_id: str, *, audio: bool = True, video: bool = True
    ) -> list[Effect]:
        info = self.available.get(stream_id)
        if info is None or not info["isRemote"]:
            raise RtcError(ErrorNumber.ERROR_NOT_FOUND, f"no remote stream {stream_id!r}")
        if stream_id in self.subscribed:
            return []
        call_id = f"{self.me}#{self.ids('ccall')}"
        call = ConversationCall(
            call_id,
            self.room,
            stream_id,
            info["contact"],
            CallRole.SUBSCRIBE,
            self,
            settings=self.settings,
        )
        self.calls[call_id] = call
        self.subscribed[stream_id] = call_id
        fx = self._send(ConvSubscribe(self.room, self._rid(), stream_id, call_id, audio, video))
        fx.extend(call.start(now))
        return fx

    def unsubscribe_to_stream(self, now: float, stream_id: str) -> list[Effect]:
        call_id = self.subscribed.get(stream_id)
        if call_id is None:
            raise RtcError(ErrorNumber.ERROR_NOT_FOUND, f"not subscribed to {stream_id!r}")
        fx = self._send(ConvUnsubscribe(self.room, self._rid(), stream_id))
        call = self.calls.get(call_id)
        if call is not None and call.state is not ConversationCallState.ENDED:
            fx.extend(call.abort(now))
        return fx

    def start_recording(
        self,
        now: float,
        stream_id: str | None = None,
        *,
        audio_only: bool = False,
        video_only: bool = False,
    ) -> list[Effect]:
        """``startRecording`` of a published stream (``stream_id``; None: the conversation,
        recorded as the first stream this device publishes in it); RecordingOptions
        ``audioOnly`` / ``videoOnly`` go into its RecordingInfo."""
        sid = stream_id if stream_id is not None else next(iter(self.published), None)
        if sid is None or sid not in self.published:
            raise RtcError(ErrorNumber.ERROR_STREAM_RECORD, "START_RECORD_MEDIA_FOUND")
        recording = self.recordings.get(sid)
        kind = "stream" if stream_id is not None else "conversation"
        if recording is None:
            recording = Recording(sid, self.target, self.room, kind, timer_kind=_SLOT_KIND)
            self.recordings[sid] = recording
        if recording.state is RecordingState.IDLE:  # else start raises 12, nothing changed
            recording.record_type = kind
            recording.audio_only, recording.video_only = audio_only, video_only
        return recording.start(now)

    def stop_recording(self, now: float, stream_id: str | None = None) -> list[Effect]:
        live = [r for r in self.recordings.values() if r.recording]
        recording = self.recordings.get(stream_id) if stream_id is not None else None
        if recording is None and stream_id is None and live:
            recording = live[0]
        if recording is None:
            raise RtcError(ErrorNumber.ERROR_STREAM_RECORD, "STOP_RECORD_NOT_STARTED")
        return recording.stop(now)

    def is_recorded(self) -> bool:
        return any(r.recording for r in self.recordings.values())

    # --- inputs --------------------------------------------------------------------------------

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        """A stream notice, a forwarded signal or an answer to a media request; never
        raises."""
        msg = env.message
        kind = type(msg)
        if kind is ConvStreamList:
            return self._listed(msg, now)  # type: ignore[arg-type]
        if kind is ConvPeerSignal:
            assert isinstance(msg, ConvPeerSignal)
            call = self.calls.get(msg.call_id)
            if call is None:
                return [Drop(MediaDrop.UNKNOWN_CALL, msg.call_id)]
            if env.sender != call.peer:
                return [Drop(MediaDrop.NOT_THE_PEER, f"{env.sender} on {msg.call_id}")]
            return call.receive(msg, now)
        if kind is ConvSubscribed:
            return self._subscribed(msg, now)  # type: ignore[arg-type]
        if kind is ConvUnsubscribed:
            assert isinstance(msg, ConvUnsubscribed)
            call = self.calls.get(msg.call_id)
            if call is None or call.role is not CallRole.PUBLISH:
                return [Drop(MediaDrop.UNKNOWN_CALL, msg.call_id)]
            return call.abort(now) if call.state is not ConversationCallState.ENDED else []
        if kind is ConvAck or kind is ConvError:
            return self._answered(msg, now)
        return [Drop(MediaDrop.UNEXPECTED, msg.TYPE)]

    def owns_answer(self, request_id: str) -> bool:
        """Whether ``request_id`` is one of this book's requests (for the conversation's
        routing of ``conv_ack`` / ``conv_error``)."""
        return request_id in self.pending

    def media_event(self, event: object, now: float) -> list[Effect]:
        call_id = getattr(event, "call_id", None)
        if isinstance(event, RecordingReport) and call_id in self.recordings:
            return self.recordings[call_id].media_event(event, now)
        if isinstance(call_id, str):
            call = self.calls.get(call_id)
            if call is None:
                return [Drop(MediaDrop.UNKNOWN_CALL, call_id)]
            return call.media_event(event, now)
        stream_id = getattr(event, "stream_id", None)
        stream = self.published.get(stream_id) or self.remote_streams.get(stream_id)  # type: ignore[arg-type]
        if stream is None:
            return [Drop(MediaDrop.UNKNOWN_STREAM, str(stream_id))]
        return stream.media_event(event, now)

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        for recording in self.recordings.values():
            if name in (recording.timer_id(t) for t in RecordingTimer):
                return recording.timer_fired(name, now)
        call_id = name[len(_TIMER_PREFIX) :].rpartition(":")[0]
        call = self.calls.get(call_id) if name.startswith(_TIMER_PREFIX) else None
        if call is None:
            return [Drop(MediaDrop.UNKNOWN_CALL, name)]
        return call.timer_fired(name, now)

    # --- CallOwner -----------------------------------------------------------------------------

    def call_established(self, call: ConversationCall, now: float) -> list[Effect]:
        return []

    def call_ended(self, call: ConversationCall, now: float) -> list[Effect]:
        self.calls.pop(call.call_id, None)
        fx: list[Effect] = []
        if call.role is CallRole.SUBSCRIBE:
            if self.subscribed.get(call.stream_id) == call.call_id:
                del self.subscribed[call.stream_id]
            stream = self.remote_streams.pop(call.stream_id, None)
            if stream is not None:
                fx.append(Emit(self.target, "streamRemoved", stream.info()))
                if not stream.released:
                    fx.extend(stream.release(now))
        return fx

    def call_track(self, call: ConversationCall, kind: str, now: float) -> list[Effect]:
        if call.stream_id in self.remote_streams:
            return []
        info = self.available.get(call.stream_id, {})
        stream = Stream(
            call.stream_id,
            is_remote=True,
            audio=bool(info.get("hasAudio", True)),
            video=bool(info.get("hasVideo", True)),
            call_id=call.call_id,
            contact=call.peer,
            conversations={self.room: call.call_id},
        )
        self.remote_streams[call.stream_id] = stream
        return [Emit(self.target, "streamAdded", stream.info())]

    # --- internals -----------------------------------------------------------------------------

    def _publish_request(
        self, stream: Stream, context: dict[str, Any] | None = None
    ) -> ConvPublish:
        """The relay request publishing ``stream`` here (at publish, and again on rejoining)."""
        info = stream.info()
        return ConvPublish(
            self.room,
            self._rid(),
            stream.stream_id,
            stream.has_audio(),
            stream.has_video(),
            bool(info["isAudioMuted"]),
            bool(info["isVideoMuted"]),
            context,
        )

    def _rid(self) -> str:
        return self.ids("media-request")

    def _send(self, request: ConvRequest) -> list[Effect]:
        self.pending[request.request_id] = request
        return [Send(None, request)]

    def _answered(self, msg: wire.Message, now: float) -> list[Effect]:
        assert isinstance(msg, ConvAck | ConvError)
        request = self.pending.pop(msg.request_id, None)
        if request is None:
            return [Drop(MediaDrop.STALE_ANSWER, msg.request_id)]
        command = request.COMMAND.value
        if isinstance(msg, ConvAck):
            value = getattr(request, "stream_id", None)
            return [Resolve(self.target, msg.request_id, command, value)]
        fx: list[Effect] = [Reject(self.target, msg.request_id, command, msg.code, msg.info)]
        if isinstance(request, ConvPublish):  # not published after all
            stream = self.published.pop(request.stream_id, None)
            if stream is not None:
                stream.conversations.pop(self.room, None)
        elif isinstance(request, ConvSubscribe):
            call = self.calls.get(request.call_id)
            if call is not None and call.state is not ConversationCallState.ENDED:
                fx.extend(call.abort(now))
        return fx

    def _info(self, msg: ConvStreamList) -> dict[str, Any]:
        return {
            "streamId": msg.stream_id,
            "type": "regular",
            "isRemote": msg.owner != self.me,
            "contact": msg.owner,
            "hasAudio": msg.audio,
            "hasVideo": msg.video,
            "isAudioMuted": msg.audio_muted,
            "isVideoMuted": msg.video_muted,
            "isScreensharing": False,
            "context": msg.context,
        }

    def _listed(self, msg: ConvStreamList, now: float) -> list[Effect]:
        fx: list[Effect] = []
        sid = msg.stream_id
        info = self._info(msg)
        if msg.event is StreamListEvent.REMOVED:
            if self.available.pop(sid, None) is None:
                return [Drop(MediaDrop.UNKNOWN_STREAM, sid)]
            call_id = self.subscribed.get(sid)
            if call_id is not None and call_id in self.calls:
                fx.extend(self.calls[call_id].abort(now))
        else:
            previous = msg.previous
            if previous is not None and previous != sid:
                self.available.pop(previous, None)
                self._renamed(fx, previous, sid)
            self.available[sid] = info
        self._list_event(
            Emit(self.target, "streamListChanged", {**info, "listEventType": msg.event.value})
        )
        fx[:0] = self._flush_if_listening()
        fx.append(
            Emit(
                self.target,
                "availableStreamsUpdated",
                {k: dict(v) for k, v in self.available.items()},
            )
        )
        return fx

    def _list_event(self, emit: Emit) -> None:
        self.buffered.append(emit)
        if not self.listening and len(self.buffered) > self.max_buffered:
            del self.buffered[0]

    def _flush_if_listening(self) -> list[Effect]:
        if not self.listening:
            return []
        out, self.buffered = self.buffered, []
        return out

    def _renamed(self, fx: list[Effect], old: str, new: str) -> None:
        call_id = self.subscribed.pop(old, None)
        if call_id is None:
            return
        self.subscribed[new] = call_id
        call = self.calls.get(call_id)
        if call is not None:
            call.stream_id = new
        stream = self.remote_streams.pop(old, None)
        if stream is not None:
            self.remote_streams[new] = stream
        payload = {"callId": call_id, "newStreamId": new, "oldStreamId": old}
        fx.append(Emit(self.target, "remoteStreamIdUpdated", payload))

    def _subscribed(self, msg: ConvSubscribed, now: float) -> list[Effect]:
        stream = self.published.get(msg.stream_id)
        if stream is None:
            return [Drop(MediaDrop.UNKNOWN_STREAM, msg.stream_id)]
        existing = self.calls.get(msg.call_id)
        if existing is not None:
            return [Drop(MediaDrop.UNKNOWN_CALL, f"{msg.call_id} already running")]
        call = ConversationCall(
            msg.call_id,
            self.room,
            msg.stream_id,
            msg.subscriber,
            CallRole.PUBLISH,
            self,
            local_stream_id=msg.stream_id,
            settings=self.settings,
        )
        self.calls[msg.call_id] = call
        stream.conversations[self.room] = msg.call_id
        return call.start(now)
