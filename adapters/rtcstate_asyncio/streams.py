"""apiRTC's Stream on asyncio, and ``ua.create_stream`` (apiRTC's ``createStream``).

Theory of operation
-------------------
A :class:`Stream` wraps the core's :class:`rtcstate.stream.Stream` (its state and events,
target ``stream:<id>``). A *local* stream is made by :meth:`LocalStreams.create`: the runtime
hands the media backend an ``AcquireMedia`` whose request id is the stream's own
(``createStream:<n>``); the backend makes the source (the aiortc backend: a synthetic audio and
video source, :class:`rtcstate_aiortc.sources.SyntheticStream`) and reports ``MediaAcquired``
with the backend's stream id, which this module takes before the session sees it (it belongs
to no call: the session would release it). A stream so made can be published in conversations
(``conversation.publish``) and sent in a 1-1 call (``contact.call(stream_id=stream.stream_id)``):
the backend sends a stream it holds by id (``PublishStream``). A *remote* stream is the one a
subscription or a call received (``streamAdded``); its tracks belong to the peer connection.
A local stream is attached to the session under the ``stream_id`` route: the backend's reports
about it (``AudioLevel``, ``StreamTrackEnded``, ``StreamTrackMuted``, ``ConstraintsApplied``)
reach it and fire its events (``audioAmplitude``, ``trackStopped``, ``flowStatusChanged``,
``constraintsChanged``).

Commands (``enable_audio``, ``disable_video``, ``release``...) run the core's at once: a misuse
(a kind the stream lacks: 9; a released stream: 16) raises before anything changes. Creation
fails with :class:`~rtcstate.errors.RtcError` 0 ERROR_OTHER (the backend's reason) when the
backend could not make the media or there is no backend, 11 ERROR_TIMED_OUT after
``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from typing import TYPE_CHECKING, Any

from rtcstate import effects as fx
from rtcstate import stream as core_stream
from rtcstate.codes import ErrorNumber
from rtcstate.errors import RtcError
from rtcstate.media import MediaAcquired, MediaEvent, MediaFailed
from rtcstate_asyncio.typed import StreamEvents

if TYPE_CHECKING:
    from rtcstate_asyncio.agent import Session

__all__ = ["LocalStreams", "Stream"]

_REQUEST_PREFIX = "createStream:"


class Stream(StreamEvents):
    """apiRTC's Stream: a local stream (``ua.create_stream``) or a remote one (``streamAdded``)."""

    API_CLASS = "Stream"

    def __init__(self, session: Session, core: core_stream.Stream) -> None:
        super().__init__()
        self.session = session
        self.core = core

    # --- queries ------------------------------------------------------------------------------

    @property
    def stream_id(self) -> str:
        """``getId()``."""
        return self.core.stream_id

    @property
    def is_remote(self) -> bool:
        return self.core.is_remote

    @property
    def contact(self) -> str | None:
        """The address a remote stream comes from."""
        return self.core.contact

    @property
    def call_id(self) -> str | None:
        """The call carrying it (remote: the one it arrived on)."""
        return self.core.call_id

    @property
    def released(self) -> bool:
        return self.core.released

    def has_audio(self) -> bool:
        return self.core.has_audio()

    def has_video(self) -> bool:
        return self.core.has_video()

    def is_audio_enabled(self) -> bool:
        return self.core.is_audio_enabled()

    def is_video_enabled(self) -> bool:
        return self.core.is_video_enabled()

    def is_audio_muted(self) -> bool:
        return self.core.is_audio_muted()

    def is_video_muted(self) -> bool:
        return self.core.is_video_muted()

    def get_audio_flow_status(self) -> dict[str, bool]:
        return self.core.get_audio_flow_status()

    def get_video_flow_status(self) -> dict[str, bool]:
        return self.core.get_video_flow_status()

    def info(self) -> dict[str, Any]:
        """apiRTC's StreamInfo of this stream."""
        return self.core.info()

    def get_published_in_conversations(self) -> list[str]:
        """``getPublishedInConversations()``: the rooms a local stream is published in."""
        return list(self.core.conversations)

    # --- commands -----------------------------------------------------------------------------

    def enable_audio(self) -> None:
        self._run(self.core.enable_audio)

    def disable_audio(self) -> None:
        self._run(self.core.disable_audio)

    def enable_video(self) -> None:
        self._run(self.core.enable_video)

    def disable_video(self) -> None:
        self._run(self.core.disable_video)

    def release(self) -> None:
        """``release()``: its tracks stop (``release``, then ``stopped``)."""
        self._run(self.core.release)

    def release_audio(self) -> None:
        """``releaseAudio()``: the audio track stops (``trackStopped``)."""
        self._run(self.core.release_audio)

    def release_video(self) -> None:
        """``releaseVideo()``: the video track stops (``trackStopped``)."""
        self._run(self.core.release_video)

    def apply_constraints(self, constraints: dict[str, Any]) -> None:
        """``applyConstraints()``: the backend applies what it can (``width``, ``height``,
        ``frameRate`` over aiortc) and ``constraintsChanged`` tells what applies."""
        self._run(functools.partial(_constrain, self.core, constraints))

    def _run(self, command: Any) -> None:
        self.session.runtime.run(command)

    def __repr__(self) -> str:
        where = "remote" if self.is_remote else "local"
        return f"<Stream {self.stream_id} {where}{' released' if self.released else ''}>"


def _constrain(core: core_stream.Stream, constraints: Any, now: float) -> list[fx.Effect]:
    return core.apply_constraints(now, constraints)


class LocalStreams:
    """The streams the application created on one session, and their acquisitions in flight."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._serial = itertools.count(1)
        self._pending: dict[str, tuple[asyncio.Future[Stream], bool, bool]] = {}

    async def create(
        self,
        *,
        audio: bool = True,
        video: bool = True,
        call_type: str = "media",
        timeout: float | None = 10.0,
    ) -> Stream:
        """Acquire a local stream from the media backend (see the module's theory)."""
        if not audio and not video:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "a stream has audio or video")
        runtime = self.session.runtime
        if runtime.media is None:
            raise RtcError(ErrorNumber.ERROR_OTHER, "no media backend to create a stream")
        request_id = f"{_REQUEST_PREFIX}{next(self._serial)}"
        future: asyncio.Future[Stream] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, audio, video)
        acquire = fx.AcquireMedia(request_id, call_type, audio, video)
        runtime.run(lambda now: [acquire])
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise RtcError(
                ErrorNumber.ERROR_TIMED_OUT, "the media backend did not answer"
            ) from None
        finally:
            self._pending.pop(request_id, None)

    def intercept(self, event: MediaEvent) -> bool:
        """A media report: True when it answers one of these acquisitions (taken here)."""
        request_id = getattr(event, "request_id", None)
        if not isinstance(request_id, str) or not request_id.startswith(_REQUEST_PREFIX):
            return False
        pending = self._pending.get(request_id)
        if pending is None:
            if isinstance(event, MediaAcquired):  # nobody waits any more: let it go
                self.session.runtime.run(lambda now: [fx.ReleaseMedia(event.stream_id)])
            return True
        future, _, _ = pending
        if future.done():
            return True
        if isinstance(event, MediaAcquired):
            core = core_stream.Stream(event.stream_id, audio=event.audio, video=event.video)
            self.session.runtime.run(functools.partial(self._attach, core))
            future.set_result(self.session._wrap_stream(core))
        elif isinstance(event, MediaFailed):
            future.set_exception(RtcError(ErrorNumber.ERROR_OTHER, event.error))
        return True

    def _attach(self, core: core_stream.Stream, now: float) -> list[fx.Effect]:
        """The session routes the stream's media reports (``stream_id``) to it from now on."""
        self.session.core.attach("stream_id", core.stream_id, core)
        return []
