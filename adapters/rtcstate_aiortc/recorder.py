"""Recording for :class:`~rtcstate_aiortc.backend.AiortcMedia`: aiortc's ``MediaRecorder`` into
a real file.

Theory of operation
-------------------
``StartRecording(media_id)`` records what ``media_id`` names: a local stream the backend holds
(acquired, or given by the application) -- fresh tracks reading that stream, so every call
publishing it goes on untouched -- or a call: its remote tracks when they are relayed (the
backend's ``relay_remote`` option: a call's remote tracks then go through aiortc's
``MediaRelay``, one subscription drained as always, one per recorder), else the stream it
sends. The file is ``<recordings_dir>/<media id>-
<n>.webm`` (VP8 + Opus); once the recorder has started the backend reports
``RecordingReport(media_id, "started", {mediaURL, recordedFileName})``. ``StopRecording``
stops the recorder (the file is finalised) and reports ``stopped`` then ``available`` with the
same info; anything that fails reports ``failed`` with the error. Nothing here raises into the
runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import pathlib
import re
import tempfile
from typing import Any

import attrs
from aiortc.contrib.media import MediaRecorder, MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame

from rtcstate import media as m
from rtcstate_aiortc._base import _Base, _describe, log
from rtcstate_aiortc.sources import SourceControl

__all__ = ["RecordedFile", "_Recorders"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RECORDED_KEPT = 256
_AUDIO_LATE = 0.2  # seconds behind the wall clock past which an audio frame is dropped
_CLOSING_WAIT = 1.0  # seconds a stop waits for the video frame that closes the file
_RECORDER_RATE = 30  # MediaRecorder's video stream rate: its codec's time base is 1/30


@attrs.define(slots=True, eq=False)
class _Clock:
    """The wall clock of one recording (the loop's): ``began`` is when its first frame reached
    the recorder (tick 0 of the file), ``ended`` when the recording was told to stop; ``closed``
    is set once a video frame at or after ``ended`` closed the file's video (stamped at
    ``ended``), so the file covers up to the stop even when the last frames came late."""

    began: float | None = None
    ended: float | None = None
    closed: asyncio.Event = attrs.field(factory=asyncio.Event)

    def since(self, now: float) -> float:
        if self.began is None:
            self.began = now
        return now - self.began


class _Retimed(MediaStreamTrack):
    """A video track whose frames are stamped, in the recorder's 1/30 s time base, with the
    wall time they reached the recorder. aiortc's ``MediaRecorder`` hands frames to the encoder
    with their own timestamps, and VP8 in a 1/30 time base keeps a single frame of a
    90 kHz-stamped stream; wall-time stamps also keep the file's length equal to the time
    recorded when frames come late or in bursts (a loaded machine). A frame landing on an
    already used tick is skipped (a source above 30 fps, or a burst)."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, clock: _Clock, opened: asyncio.Event) -> None:
        super().__init__()
        self._source = source
        self._clock = clock
        self._last = -1
        self._opened = opened

    async def recv(self) -> Any:
        loop = asyncio.get_running_loop()
        clock = self._clock
        while True:
            if clock.closed.is_set():  # the stop's frame is in: nothing after it
                await asyncio.Future()  # the recorder cancels this task when it stops
            await asyncio.sleep(0)  # a source catching up never suspends: let the loop run
            frame = await self._source.recv()
            now = loop.time()
            if clock.ended is not None and now >= clock.ended:
                now = clock.ended
                clock.closed.set()
            tick = round(clock.since(now) * _RECORDER_RATE)
            if tick > self._last:
                self._last = tick
                frame.pts = tick
                frame.time_base = fractions.Fraction(1, _RECORDER_RATE)
                self._opened.set()
                return frame

    def stop(self) -> None:
        super().stop()
        self._source.stop()


class _Aligned(MediaStreamTrack):
    """An audio track placed on the recording's clock. With video it yields its first frame
    only once the video track has yielded its own: aiortc's ``MediaRecorder`` sizes the video
    stream from the first video frame, and a container opened (by the first audio packet)
    before that refuses the size ("Cannot change width after codec is open"). Its first frame
    is stamped with the wall time it arrived; the next ones follow on (audio stays
    continuous; a frame more than 0.2 s behind the wall clock -- a backlog on a slow machine,
    which would otherwise be encoded without end -- is dropped)."""

    kind = "audio"

    def __init__(
        self, source: MediaStreamTrack, clock: _Clock, opened: asyncio.Event | None
    ) -> None:
        super().__init__()
        self._source = source
        self._clock = clock
        self._opened = opened
        self._offset: int | None = None

    async def recv(self) -> Any:
        if self._opened is not None:
            await self._opened.wait()
        loop = asyncio.get_running_loop()
        clock = self._clock
        while True:
            await asyncio.sleep(0)  # a source catching up never suspends: let the loop run
            frame = await self._source.recv()
            assert isinstance(frame, AudioFrame)  # the recorder's audio tracks carry frames
            now = loop.time()
            if clock.ended is not None and now >= clock.ended:
                await asyncio.Future()  # past the stop: the recorder cancels this task
            rate = frame.sample_rate or 48_000
            wall = round(clock.since(now) * rate)  # where the wall clock is, in samples
            if self._offset is None:
                self._offset = wall - (frame.pts or 0)
            pts = (frame.pts or 0) + self._offset
            if wall - pts > _AUDIO_LATE * rate:
                continue  # a backlog (the machine is slow): dropped, not encoded late
            frame.pts = pts
            frame.time_base = fractions.Fraction(1, rate)
            return frame

    def stop(self) -> None:
        super().stop()
        self._source.stop()


@attrs.frozen(slots=True)
class RecordedFile:
    """A finished recording: the file, and the wall time (the loop's clock) it covers, from
    the first frame that reached the recorder to the stop."""

    media_id: str
    path: pathlib.Path
    began: float | None
    ended: float

    @property
    def seconds(self) -> float:
        """Wall time recorded (0 when no frame ever came)."""
        return 0.0 if self.began is None else max(0.0, self.ended - self.began)


@attrs.define(slots=True, eq=False)
class _Recording:
    recorder: MediaRecorder
    path: pathlib.Path
    tracks: list[MediaStreamTrack]
    clock: _Clock

    def info(self) -> dict[str, Any]:
        return {"mediaURL": self.path.as_uri(), "recordedFileName": self.path.name}


class _Recorders(_Base):
    """``StartRecording`` / ``StopRecording`` with aiortc's ``MediaRecorder``."""

    recordings_dir: pathlib.Path | None
    _recordings: dict[str, _Recording]
    _recorded: dict[str, RecordedFile]
    _relays: dict[str, tuple[MediaRelay, dict[str, MediaStreamTrack]]]
    _recording_serial: int

    def recorded(self, media_id: str) -> RecordedFile | None:
        """The last finished recording of ``media_id`` (the last 256 media are kept)."""
        return self._recorded.get(media_id)

    def _record_tracks(self, media_id: str) -> list[MediaStreamTrack]:
        stream = self._streams.get(media_id)
        if stream is not None and not stream.released:
            control = SourceControl(stream=stream)
            kinds = [k for k in ("audio", "video") if stream.has(k)]
            return control.tracks(kinds)
        relayed = self._relays.get(media_id)
        if relayed is not None:  # a call's received media (relay_remote)
            relay, originals = relayed
            return [relay.subscribe(track) for track in originals.values()]
        call = self._calls.get(media_id)
        published = None if call is None else call.control.stream
        if published is not None and not published.released:  # a call's sent media
            return self._record_tracks(published.stream_id)
        return []

    def _start_recording(self, media_id: str) -> None:
        if media_id in self._recordings:
            info = {"error": "START_RECORD_ALREADY_ON"}
            self._report_soon(m.RecordingReport(media_id, "failed", info))
            return
        sources = self._record_tracks(media_id)
        if not sources:
            info = {"error": "START_RECORD_MEDIA_FOUND: nothing to record"}
            self._report_soon(m.RecordingReport(media_id, "failed", info))
            return
        folder = self.recordings_dir
        if folder is None:
            folder = self.recordings_dir = pathlib.Path(tempfile.mkdtemp(prefix="rtcstate-rec-"))
        self._recording_serial += 1
        path = folder / f"{_SAFE.sub('_', media_id)}-{self._recording_serial}.webm"
        clock = _Clock()
        video = any(t.kind == "video" for t in sources)
        opened = asyncio.Event() if video else None
        tracks: list[MediaStreamTrack] = [
            _Retimed(t, clock, opened) if opened is not None and t.kind == "video"
            else _Aligned(t, clock, opened)
            for t in sources
        ]  # fmt: skip
        try:
            folder.mkdir(parents=True, exist_ok=True)
            recorder = MediaRecorder(str(path))
            for track in tracks:
                recorder.addTrack(track)
        except Exception as exc:
            for track in tracks:
                track.stop()
            info = {"error": _describe(exc)}
            self._report_soon(m.RecordingReport(media_id, "failed", info))
            return
        record = _Recording(recorder, path, tracks, clock)
        self._recordings[media_id] = record
        self._spawn(self._begin(media_id, record), f"rtcstate-aiortc:record:{media_id}")

    async def _begin(self, media_id: str, record: _Recording) -> None:
        try:
            await record.recorder.start()
        except Exception as exc:
            if self._recordings.get(media_id) is record:
                del self._recordings[media_id]
            self._emit(m.RecordingReport(media_id, "failed", {"error": _describe(exc)}))
            return
        self._emit(m.RecordingReport(media_id, "started", record.info()))

    def _stop_recording(self, media_id: str) -> None:
        record = self._recordings.pop(media_id, None)
        if record is None:
            log.debug("rtcstate_aiortc: StopRecording(%s): not recording", media_id)
            return
        record.clock.ended = asyncio.get_running_loop().time()
        self._spawn(self._finish(media_id, record), f"rtcstate-aiortc:unrecord:{media_id}")

    async def _finish(self, media_id: str, record: _Recording) -> None:
        if any(t.kind == "video" for t in record.tracks) and record.clock.began is not None:
            # the video frame due at the stop closes the file (a late frame is waited for)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(record.clock.closed.wait(), _CLOSING_WAIT)
        try:
            await record.recorder.stop()
        except Exception as exc:
            self._emit(m.RecordingReport(media_id, "failed", {"error": _describe(exc)}))
            return
        finally:
            for track in record.tracks:
                track.stop()
        ended = record.clock.ended
        assert ended is not None  # set by _stop_recording
        self._recorded[media_id] = RecordedFile(media_id, record.path, record.clock.began, ended)
        while len(self._recorded) > _RECORDED_KEPT:
            del self._recorded[next(iter(self._recorded))]
        self._emit(m.RecordingReport(media_id, "stopped", record.info()))
        self._emit(m.RecordingReport(media_id, "available", record.info()))

    async def _stop_all_recordings(self) -> None:
        for media_id in list(self._recordings):
            record = self._recordings.pop(media_id)
            try:
                await record.recorder.stop()
            except Exception as exc:  # closing: nothing to report to
                log.debug("rtcstate_aiortc: recorder of %s: %s", media_id, _describe(exc))
            for track in record.tracks:
                track.stop()
