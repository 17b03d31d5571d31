"""Synthetic media sources: headless audio and video tracks for aiortc.

Theory of operation
-------------------
A :class:`SyntheticStream` stands in for what ``getUserMedia`` would return: an id, which
kinds it has (audio, video), the video geometry and a ``released`` flag. It holds no device.

The tracks a peer connection sends belong to the *call*, not to a stream: each reads the
call's :class:`SourceControl`, which names the stream the call currently publishes, the mute
flags and the sent-frame counters. Publishing another stream (``PublishStream``) only changes
``SourceControl.stream``: the tracks go on, as ``RTCRtpSender.replaceTrack`` would (aiortc's
sender stops for good once its track's ``recv`` raises, so a track never ends because its
stream was released or replaced). A connection gets fresh track objects (aiortc stops a
sender's track when the sender stops, and an ICE restart builds a new connection) with the
call's stable track ids, so the far side keeps seeing the same remote tracks.

The tracks pace themselves on the loop's clock and produce:

* audio (:class:`SyntheticAudioTrack`): 20 ms frames of 48 kHz mono s16, a 400 Hz tone
  (exactly 8 periods per frame, so one precomputed frame serves them all);
* video (:class:`SyntheticVideoTrack`): small yuv420p frames (160x120 at 15 fps by default)
  with a bright vertical bar sliding across a grey background. A frame is one row repeated,
  built with ``bytes`` multiplication: no numpy, little CPU.

A muted kind (``SetTrackEnabled``), or one the published stream lacks or released, gives
silence or black frames, as a disabled browser track does. Every frame handed to aiortc is
counted in ``SourceControl.sent``.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct

import attrs
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

__all__ = [
    "AUDIO_PTIME",
    "AUDIO_RATE",
    "SourceControl",
    "SyntheticAudioTrack",
    "SyntheticStream",
    "SyntheticVideoTrack",
]

AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020
_AUDIO_SAMPLES = int(AUDIO_RATE * AUDIO_PTIME)  # 960
_TONE_HZ = 400.0  # 8 whole periods per 20 ms frame
_TONE_AMPLITUDE = 3000
_VIDEO_CLOCK = 90_000


def _tone_frame() -> bytes:
    step = 2 * math.pi * _TONE_HZ / AUDIO_RATE
    samples = (int(_TONE_AMPLITUDE * math.sin(i * step)) for i in range(_AUDIO_SAMPLES))
    return struct.pack(f"<{_AUDIO_SAMPLES}h", *samples)


_TONE = _tone_frame()
_SILENCE = bytes(2 * _AUDIO_SAMPLES)


@attrs.define(slots=True, eq=False)
class SyntheticStream:
    """A local stream (what ``AcquireMedia`` acquires): an id and the kinds it carries."""

    stream_id: str
    audio: bool
    video: bool
    call_type: str = "media"
    width: int = 160
    height: int = 120
    fps: float = 15.0
    released: bool = False

    def has(self, kind: str) -> bool:
        return self.audio if kind == "audio" else self.video if kind == "video" else False


@attrs.define(slots=True, eq=False)
class SourceControl:
    """Per-call source state shared by the call's tracks: what they send, and counters."""

    stream: SyntheticStream | None = None
    enabled: dict[str, bool] = attrs.field(factory=lambda: {"audio": True, "video": True})
    sent: dict[str, int] = attrs.field(factory=lambda: {"audio": 0, "video": 0})
    #: the call's track id per kind, fixed by the first connection that sent that kind
    track_ids: dict[str, str] = attrs.field(factory=dict)

    def live(self, kind: str) -> bool:
        """Whether ``kind`` carries content now (else silence / black)."""
        stream = self.stream
        return (
            self.enabled.get(kind, False)
            and stream is not None
            and not stream.released
            and stream.has(kind)
        )

    def tracks(self, kinds: list[str]) -> list[MediaStreamTrack]:
        """Fresh track objects for ``kinds`` (audio first), with the call's stable ids."""
        stream = self.stream
        prefix = stream.stream_id if stream is not None else "track"
        out: list[MediaStreamTrack] = []
        for kind in ("audio", "video"):
            if kind not in kinds:
                continue
            track_id = self.track_ids.setdefault(kind, f"{prefix}-{kind}")
            if kind == "audio":
                out.append(SyntheticAudioTrack(self, track_id))
            else:
                size = (stream.width, stream.height, stream.fps) if stream else (160, 120, 15.0)
                out.append(SyntheticVideoTrack(self, track_id, *size))
        return out


class _PacedTrack(MediaStreamTrack):
    """A track that paces ``recv`` on the running loop's clock (frame ``n`` at start + n/rate)."""

    def __init__(self, control: SourceControl, track_id: str, period: float) -> None:
        super().__init__()
        self._control = control
        self._track_id = track_id
        self._period = period
        self._count = 0
        self._start: float | None = None

    @property
    def id(self) -> str:
        # stable across peer connections: the far side keeps seeing the same remote track
        return self._track_id

    async def _next(self) -> int:
        """Wait for the next frame's time; return its index (raises once stopped)."""
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._count += 1
            delay = self._start + self._count * self._period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        if self.readyState != "live":
            raise MediaStreamError
        self._control.sent[self.kind] += 1
        return self._count


class SyntheticAudioTrack(_PacedTrack):
    """48 kHz mono tone in 20 ms frames; silence while muted or without a source."""

    kind = "audio"

    def __init__(self, control: SourceControl, track_id: str) -> None:
        super().__init__(control, track_id, AUDIO_PTIME)

    async def recv(self) -> AudioFrame:
        n = await self._next()
        frame = AudioFrame(format="s16", layout="mono", samples=_AUDIO_SAMPLES)
        frame.planes[0].update(_TONE if self._control.live("audio") else _SILENCE)
        frame.pts = n * _AUDIO_SAMPLES
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


class SyntheticVideoTrack(_PacedTrack):
    """A bar sliding across a small grey yuv420p picture; black while muted or without a
    source."""

    kind = "video"

    def __init__(
        self, control: SourceControl, track_id: str, width: int, height: int, fps: float
    ) -> None:
        super().__init__(control, track_id, 1.0 / fps)
        self._width, self._height, self._fps = width, height, fps
        self._chroma = bytes([128]) * ((width // 2) * (height // 2))
        self._black = bytes([16]) * (width * height)

    def _luma(self, n: int) -> bytes:
        w, h = self._width, self._height
        bar = max(2, w // 16)
        x = (n * 4) % (w - bar)
        row = bytearray([96]) * w
        row[x : x + bar] = bytes([235]) * bar
        return bytes(row) * h

    async def recv(self) -> VideoFrame:
        n = await self._next()
        frame = VideoFrame(self._width, self._height, "yuv420p")
        luma = self._luma(n) if self._control.live("video") else self._black
        frame.planes[0].update(luma)
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts = int(n * _VIDEO_CLOCK / self._fps)
        frame.time_base = fractions.Fraction(1, _VIDEO_CLOCK)
        return frame
