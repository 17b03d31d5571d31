"""The bridge's local streams and a conversation's media: createStream, publish, subscribe.

Theory of operation
-------------------
A local stream (apiRTC's ``ua.createStream()``) is the page's own camera and microphone, made
by the page's media backend: ``createStream`` answers a request id (``createStream:<n>``) and
hands the backend an ``AcquireMedia`` of that id. The backend's report (``MediaAcquired`` with
its stream id, or ``MediaFailed``) is taken here before the core session sees it (it belongs to
no call): a core :class:`~rtcstate.stream.Stream` is made and attached to the session under the
``stream_id`` route, and the request is settled like a conversation request, by a ``Resolve``
(``{streamId, audio, video}``) or a ``Reject`` (0 ERROR_OTHER with the backend's reason), which
the JavaScript runtime turns into the promise of ``createStream``. An acquisition nobody waits
for any more is released.

A conversation's media commands run the core's (``publish``, ``unpublish``,
``subscribeToStream``, ``unsubscribeToStream``): the calls they make are the core's
conversation calls, whose media effects the page's backend carries out like a 1-1 call's. Each
answers the request the relay will acknowledge (``{"request": <id>}``), found among the
messages the command sends.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rtcstate import effects as fx
from rtcstate import media
from rtcstate.codes import ErrorNumber
from rtcstate.conversation import Conversation, Reject, Resolve
from rtcstate.errors import RtcError
from rtcstate.stream import Stream
from rtcstate.wire_conversation import ConvRequest

if TYPE_CHECKING:
    from rtcstate_browser.bridge import Bridge

__all__ = ["STREAM_COMMANDS", "LocalStreams"]

_PREFIX = "createStream:"
_Result = tuple[Any, list[fx.Effect]]


class LocalStreams:
    """The acquisitions in flight and the local streams made, of one bridge."""

    def __init__(self) -> None:
        self._serial = itertools.count(1)
        self.pending: set[str] = set()
        self.streams: dict[str, Stream] = {}

    def create(self, audio: bool, video: bool, call_type: str) -> _Result:
        if not audio and not video:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "a stream has audio or video")
        request_id = f"{_PREFIX}{next(self._serial)}"
        self.pending.add(request_id)
        return {"request": request_id}, [fx.AcquireMedia(request_id, call_type, audio, video)]

    def take(self, b: Bridge, event: media.MediaEvent) -> list[fx.Effect] | None:
        """The effects answering ``event`` when it is one of these acquisitions, else None."""
        request_id = getattr(event, "request_id", None)
        if not isinstance(request_id, str) or not request_id.startswith(_PREFIX):
            return None
        if request_id not in self.pending:
            if isinstance(event, media.MediaAcquired):  # nobody waits any more
                return [fx.ReleaseMedia(event.stream_id)]
            return []
        self.pending.discard(request_id)
        if isinstance(event, media.MediaAcquired):
            stream = Stream(event.stream_id, audio=event.audio, video=event.video)
            self.streams[stream.stream_id] = stream
            b.session.attach("stream_id", stream.stream_id, stream)
            info = {"streamId": stream.stream_id, "audio": event.audio, "video": event.video}
            return [Resolve(f"stream:{stream.stream_id}", request_id, "createStream", info)]
        if isinstance(event, media.MediaFailed):
            code = int(ErrorNumber.ERROR_OTHER)
            return [Reject("userAgent", request_id, "createStream", code, event.error)]
        return []

    def get(self, stream_id: Any) -> Stream:
        stream = self.streams.get(str(stream_id))
        if stream is None:
            raise RtcError(ErrorNumber.ERROR_NOT_FOUND, f"no local stream {stream_id!r}")
        return stream


def _room(b: Bridge, args: Mapping[str, Any]) -> Conversation:
    obj = b._object(args)
    if not isinstance(obj, Conversation):
        raise TypeError(f"{type(obj).__name__} is not a conversation")
    return obj


def _media_requested(conv: Conversation, run: Callable[[], list[fx.Effect]]) -> _Result:
    """Run a media command; its result names the request the relay will acknowledge."""
    effects = run()
    for e in effects:
        message = getattr(e, "message", None)
        if isinstance(message, ConvRequest) and conv.media.owns_answer(message.request_id):
            return {"request": message.request_id}, effects
    return {"request": None}, effects


def _create_stream(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    audio, video = bool(args.get("audio", True)), bool(args.get("video", True))
    return b.streams.create(audio, video, str(args.get("callType", "media")))


def _publish(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv, stream = _room(b, args), b.streams.get(args.get("streamId"))
    context = args.get("context")
    return _media_requested(conv, lambda: conv.publish(now, stream, context))


def _unpublish(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return _media_requested(conv, lambda: conv.unpublish(now, str(args["streamId"])))


def _subscribe(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv, stream_id = _room(b, args), str(args["streamId"])
    audio, video = not args.get("videoOnly"), not args.get("audioOnly")
    return _media_requested(
        conv, lambda: conv.subscribe_to_stream(now, stream_id, audio=audio, video=video)
    )


def _unsubscribe(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return _media_requested(conv, lambda: conv.unsubscribe_to_stream(now, str(args["streamId"])))


def _streams(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return {"streams": conv.get_available_stream_list(), "calls": list(conv.call_ids())}, []


STREAM_COMMANDS: dict[str, Callable[[Bridge, Mapping[str, Any], float], _Result]] = {
    "createStream": _create_stream,
    "publish": _publish,
    "unpublish": _unpublish,
    "subscribeToStream": _subscribe,
    "unsubscribeToStream": _unsubscribe,
    "streamList": _streams,
}
"""The media commands by name."""
