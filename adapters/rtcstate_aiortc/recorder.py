"""Recording for :class:`~rtcstate_aiortc.backend.AiortcMedia`: aiortc's ``MediaRecorder`` into
a real file.

Theory of operation
-------------------
``StartRecording(media_id)`` records what ``media_id`` names: a local stream the backend holds
(acquired, or given by the application) -- fresh tracks reading that stream, so every call
publishing it goes on untouched -- or a call whose remote tracks are relayed (the backend's
``relay_remote`` option: a call's remote tracks then go through aiortc's ``MediaRelay``, one
subscription drained as always, one per recorder). The file is ``<recordings_dir>/<media id>-
<n>.webm`` (VP8 + Opus); once the recorder has started the backend reports
``RecordingReport(media_id, "started", {mediaURL, recordedFileName})``. ``StopRecording``
stops the recorder (the file is finalised) and reports ``stopped`` then ``available`` with the
same info; anything that fails reports ``failed`` with the error. Nothing here raises into the
runtime.
"""

from __future__ import annotations

import asyncio
import fractions
import pathlib
import re
import tempfile
from typing import Any

import attrs
from aiortc.contrib.media import MediaRecorder, MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from rtcstate import media as m
from rtcstate_aiortc._base import _Base, _describe, log
from rtcstate_aiortc.sources import SourceControl

__all__ = ["_Recorders"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RECORDER_RATE = 30  # MediaRecorder's video stream rate: its codec's time base is 1/30


class _Retimed(MediaStreamTrack):
    """A video track whose frames are re-stamped in the recorder's 1/30 s time base (aiortc's
    ``MediaRecorder`` hands frames to the encoder as they come, and VP8 in a 1/30 time base
    keeps a single frame of a 90 kHz-stamped stream). Frames landing on an already used tick
    are skipped (a source above 30 fps)."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, opened: asyncio.Event) -> None:
        super().__init__()
        self._source = source
        self._last = -1
        self._opened = opened

    async def recv(self) -> Any:
        while True:
            frame = await self._source.recv()
            self._opened.set()
            base = frame.time_base or fractions.Fraction(1, 90_000)
            tick = round(float((frame.pts or 0) * base) * _RECORDER_RATE)
            if tick > self._last:
                self._last = tick
                frame.pts = tick
                frame.time_base = fractions.Fraction(1, _RECORDER_RATE)
                return frame

    def stop(self) -> None:
        super().stop()
        self._source.stop()


class _AfterVideo(MediaStreamTrack):
    """An audio track that yields its first frame only once the video track has yielded its
    own: aiortc's ``MediaRecorder`` sizes the video stream from the first video frame, and a
    container opened (by the first audio packet) before that refuses the size ("Cannot change
    width after codec is open")."""

    kind = "audio"

    def __init__(self, source: MediaStreamTrack, opened: asyncio.Event) -> None:
        super().__init__()
        self._source = source
        self._opened = opened

    async def recv(self) -> Any:
        await self._opened.wait()
        return await self._source.recv()

    def stop(self) -> None:
        super().stop()
        self._source.stop()


@attrs.define(slots=True, eq=False)
class _Recording:
    recorder: MediaRecorder
    path: pathlib.Path
    tracks: list[MediaStreamTrack]

    def info(self) -> dict[str, Any]:
        return {"mediaURL": self.path.as_uri(), "recordedFileName": self.path.name}


class _Recorders(_Base):
    """``StartRecording`` / ``StopRecording`` with aiortc's ``MediaRecorder``."""

    recordings_dir: pathlib.Path | None
    _recordings: dict[str, _Recording]
    _relays: dict[str, tuple[MediaRelay, dict[str, MediaStreamTrack]]]
    _recording_serial: int

    def _record_tracks(self, media_id: str) -> list[MediaStreamTrack]:
        stream = self._streams.get(media_id)
        if stream is not None and not stream.released:
            control = SourceControl(stream=stream)
            kinds = [k for k in ("audio", "video") if stream.has(k)]
            return control.tracks(kinds)
        relayed = self._relays.get(media_id)
        if relayed is not None:
            relay, originals = relayed
            return [relay.subscribe(track) for track in originals.values()]
        return []

    def _start_recording(self, media_id: str) -> None:
        if media_id in self._recordings:
            info = {"error": "START_RECORD_ALREADY_ON"}
            self._report_soon(m.RecordingReport(media_id, "failed", info))
            return
        tracks = self._record_tracks(media_id)
        if not tracks:
            info = {"error": "START_RECORD_MEDIA_FOUND: nothing to record"}
            self._report_soon(m.RecordingReport(media_id, "failed", info))
            return
        folder = self.recordings_dir
        if folder is None:
            folder = self.recordings_dir = pathlib.Path(tempfile.mkdtemp(prefix="rtcstate-rec-"))
        self._recording_serial += 1
        path = folder / f"{_SAFE.sub('_', media_id)}-{self._recording_serial}.webm"
        try:
            recorder = MediaRecorder(str(path))
            if any(t.kind == "video" for t in tracks):
                opened = asyncio.Event()
                tracks = [
                    _Retimed(t, opened) if t.kind == "video" else _AfterVideo(t, opened)
                    for t in tracks
                ]
            for track in tracks:
                recorder.addTrack(track)
        except Exception as exc:
            info = {"error": _describe(exc)}
            self._report_soon(m.RecordingReport(media_id, "failed", info))
            return
        record = _Recording(recorder, path, tracks)
        self._recordings[media_id] = record
        self._spawn(self._begin(media_id, record), f"rtcstate-aiortc:record:{media_id}")

    async def _begin(self, media_id: str, record: _Recording) -> None:
        try:
            await record.recorder.start()
        except Exception as exc:
            self._recordings.pop(media_id, None)
            self._emit(m.RecordingReport(media_id, "failed", {"error": _describe(exc)}))
            return
        self._emit(m.RecordingReport(media_id, "started", record.info()))

    def _stop_recording(self, media_id: str) -> None:
        record = self._recordings.pop(media_id, None)
        if record is None:
            log.debug("rtcstate_aiortc: StopRecording(%s): not recording", media_id)
            return
        self._spawn(self._finish(media_id, record), f"rtcstate-aiortc:unrecord:{media_id}")

    async def _finish(self, media_id: str, record: _Recording) -> None:
        try:
            await record.recorder.stop()
        except Exception as exc:
            self._emit(m.RecordingReport(media_id, "failed", {"error": _describe(exc)}))
            return
        finally:
            for track in record.tracks:
                track.stop()
        self._emit(m.RecordingReport(media_id, "stopped", record.info()))
        self._emit(m.RecordingReport(media_id, "available", record.info()))

    async def _stop_all_recordings(self) -> None:
        for media_id in list(self._recordings):
            record = self._recordings.pop(media_id)
            try:
                await record.recorder.stop()
            except Exception as exc:  # closing: nothing to report to
                log.debug("rtcstate_aiortc: recorder of %s: %s", media_id, _describe(exc))
