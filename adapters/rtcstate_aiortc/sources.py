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

A muted kind (``SetTrackEnabled``, per call), a kind of the stream disabled or released
(``SetStreamTrackEnabled``, ``ReleaseTrack``: :mod:`rtcstate_aiortc.streamcontrol`), or one the
published stream lacks or released, gives silence or black frames, as a disabled browser track
does. The video follows the stream's size and rate (``ApplyConstraints``) at its next frame.
Every frame handed to aiortc is counted in ``SourceControl.sent``.

*Real media in.* A stream may be *fed* by the application's own aiortc tracks (a microphone,
a bot's generated frames, the tracks of aiortc's ``MediaPlayer`` reading a file): its
``feeds`` hold one track per kind and an aiortc ``MediaRelay`` fans each out, so every call
publishing the stream (and every recorder) reads its own subscription. A call's track then
forwards the feed's frames instead of making its own, paced by the feed, re-stamped so the
track's timestamps stay continuous whatever it read before (video: the wall time since the
track's first frame, 90 kHz; audio: the samples sent so far). A feed that ends (a file played
out) leaves its kind ended in the stream: silence or black from then on, as a stopped device.
Muting still gives silence / black (the feed is not read meanwhile).
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct

import attrs
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

__all__ = [
    "AUDIO_PTIME",
    "AUDIO_RATE",
    "TONE_PEAK",
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
TONE_PEAK = _TONE_AMPLITUDE
"""The synthetic tone's peak sample (s16): what the audio meter reads."""
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
    #: the application's tracks feeding this stream, by kind (none: synthetic content)
    feeds: dict[str, MediaStreamTrack] = attrs.field(factory=dict)
    #: kinds whose feed ended (a file played out): silence / black from then on
    ended: set[str] = attrs.field(factory=set)
    #: fans the feeds out (one per backend: two relays reading one track would share its
    #: frames between them)
    relay: MediaRelay | None = None
    #: the feeds are the backend's (a file's player): released with the stream; the
    #: application's own tracks are left to it
    owns_feeds: bool = False
    #: kinds the application disabled (``SetStreamTrackEnabled``): silence / black meanwhile
    disabled: set[str] = attrs.field(factory=set)
    #: kinds released (``ReleaseTrack``): silence / black from then on
    stopped: set[str] = attrs.field(factory=set)

    def sends(self, kind: str) -> bool:
        """Whether ``kind`` carries content (has it, not released, disabled or stopped)."""
        return (
            self.has(kind)
            and not self.released
            and kind not in self.disabled
            and kind not in self.stopped
        )

    def set_enabled(self, kind: str, enabled: bool) -> None:
        if enabled:
            self.disabled.discard(kind)
        else:
            self.disabled.add(kind)

    def stop_track(self, kind: str) -> None:
        """``ReleaseTrack``: ``kind`` is over (a feed of it the stream owns is stopped)."""
        self.stopped.add(kind)
        feed = self.feeds.get(kind)
        if feed is not None and self.owns_feeds:
            feed.stop()

    def has(self, kind: str) -> bool:
        return self.audio if kind == "audio" else self.video if kind == "video" else False

    def subscribe(self, kind: str) -> MediaStreamTrack | None:
        """A new reader of the feed of ``kind`` (None: no live feed, synthetic content)."""
        feed = self.feeds.get(kind)
        if feed is None or kind in self.ended or self.released:
            return None
        if self.relay is None:
            self.relay = MediaRelay()
        return self.relay.subscribe(feed)

    def release(self) -> None:
        """Released (``ReleaseMedia``): its readers go silent / black; feeds it owns are
        stopped, as a released device's tracks are."""
        self.released = True
        if self.owns_feeds:
            for feed in self.feeds.values():
                feed.stop()


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
        return self.enabled.get(kind, False) and stream is not None and stream.sends(kind)

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
        self._reader: tuple[SyntheticStream, MediaStreamTrack] | None = None  # feed being read
        self._fed = False  # a feed was read once: timestamps from the wall clock on

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

    async def _fed_frame(self) -> AudioFrame | VideoFrame | None:
        """The next frame of the published stream's feed of this kind, or None when there is
        none to read (no feed, muted, released, ended): synthetic content then."""
        control, kind = self._control, self.kind
        stream = control.stream
        reader = self._reader
        if reader is not None and (reader[0] is not stream or not control.live(kind)):
            reader[1].stop()  # published another stream, muted, released: stop reading
            self._reader = reader = None
        if reader is None:
            track = None
            if stream is not None and control.live(kind):
                track = stream.subscribe(kind)
            if track is None:
                return None
            self._reader = reader = (stream, track)  # type: ignore[assignment]
        assert reader is not None
        try:
            frame = await reader[1].recv()
        except MediaStreamError:
            reader[0].ended.add(kind)  # the feed ended: silence / black from now on
            self._reader = None
            return None
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._count += 1
        self._fed = True
        control.sent[kind] += 1
        if not isinstance(frame, AudioFrame | VideoFrame):  # a track of packets: not usable
            reader[0].ended.add(kind)
            self._reader = None
            reader[1].stop()
            return None
        return frame

    def stop(self) -> None:
        super().stop()
        if self._reader is not None:
            self._reader[1].stop()
            self._reader = None

    def _repace(self) -> None:
        """After a fed frame, pace synthetic frames from now on (no burst to catch up)."""
        if self._start is not None:
            self._start = asyncio.get_running_loop().time() - self._count * self._period


class SyntheticAudioTrack(_PacedTrack):
    """48 kHz mono tone in 20 ms frames; silence while muted or without a source."""

    kind = "audio"

    def __init__(self, control: SourceControl, track_id: str) -> None:
        super().__init__(control, track_id, AUDIO_PTIME)
        self._samples = 0  # sent so far, at AUDIO_RATE: the next frame's timestamp

    async def recv(self) -> AudioFrame:
        fed = await self._fed_frame()
        if fed is not None:
            assert isinstance(fed, AudioFrame)
            rate = fed.sample_rate or AUDIO_RATE
            fed.pts = self._samples * rate // AUDIO_RATE
            fed.time_base = fractions.Fraction(1, rate)
            self._samples += fed.samples * AUDIO_RATE // rate
            self._repace()
            return fed
        await self._next()
        frame = AudioFrame(format="s16", layout="mono", samples=_AUDIO_SAMPLES)
        frame.planes[0].update(_TONE if self._control.live("audio") else _SILENCE)
        frame.pts = self._samples
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._samples += _AUDIO_SAMPLES
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
        self._last_pts = -1
        self._epoch: float | None = None  # loop time of pts 0
        self._wall = False  # the geometry changed once: pts from the wall clock

    def _luma(self, n: int) -> bytes:
        w, h = self._width, self._height
        bar = max(2, w // 16)
        x = (n * 4) % (w - bar)
        row = bytearray([96]) * w
        row[x : x + bar] = bytes([235]) * bar
        return bytes(row) * h

    def _follow(self) -> None:
        """The published stream's geometry changed (``ApplyConstraints``): frames of the new
        size and rate from the next one on, stamped from the wall clock (still increasing)."""
        stream = self._control.stream
        if stream is None or (stream.width, stream.height, stream.fps) == (
            self._width,
            self._height,
            self._fps,
        ):
            return
        self._width, self._height, self._fps = stream.width, stream.height, stream.fps
        self._chroma = bytes([128]) * ((self._width // 2) * (self._height // 2))
        self._black = bytes([16]) * (self._width * self._height)
        self._period = 1.0 / self._fps
        self._repace()
        self._wall = True

    async def recv(self) -> VideoFrame:
        fed = await self._fed_frame()
        if fed is not None:
            assert isinstance(fed, VideoFrame)
            self._stamp(fed, 0)
            self._repace()
            return fed
        self._follow()
        n = await self._next()
        frame = VideoFrame(self._width, self._height, "yuv420p")
        luma = self._luma(n) if self._control.live("video") else self._black
        frame.planes[0].update(luma)
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        self._stamp(frame, int(n * _VIDEO_CLOCK / self._fps))
        return frame

    def _stamp(self, frame: VideoFrame, pts: int) -> None:
        """``pts`` (90 kHz), or once a feed was read the wall time since the first frame:
        always increasing."""
        now = asyncio.get_running_loop().time()
        if self._epoch is None:
            self._epoch = now - pts / _VIDEO_CLOCK
        if self._fed or self._wall:
            pts = max(self._last_pts + 1, int((now - self._epoch) * _VIDEO_CLOCK))
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, _VIDEO_CLOCK)
        self._last_pts = pts
