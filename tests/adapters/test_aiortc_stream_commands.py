"""Stream commands carried out by the aiortc backend (rtcstate_aiortc.streamcontrol): a disabled
kind sends black / silence on a live track, a released track stops for good and is reported,
constraints change the synthetic video's size on the far side and are reported."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import av
import pytest
from adaptertools import run as run_async
from adaptertools import until, world
from aiortc.mediastreams import MediaStreamTrack
from hypothesis import given
from hypothesis import strategies as st
from rtcstate_aiortc import AiortcMedia
from rtcstate_aiortc.sources import SourceControl, SyntheticAudioTrack, SyntheticStream
from rtcstate_aiortc.streamcontrol import audio_level, carry_out, constraint_value
from test_aiortc_backend import Net, run
from test_aiortc_feeds import call_between

from rtcstate import effects as fx
from rtcstate import media as m
from rtcstate.stream import (
    ApplyConstraints,
    AudioLevel,
    ConstraintsApplied,
    ReleaseTrack,
    SetStreamTrackEnabled,
    StreamTrackEnded,
)

WAIT = 15.0


def brightest(frame: av.VideoFrame) -> int:
    return max(bytes(frame.planes[0]))


def bright(frame: av.VideoFrame) -> bool:
    return brightest(frame) > 200  # the synthetic bar (235) on grey (96)


def dark(frame: av.VideoFrame) -> bool:
    return brightest(frame) < 60  # black (16), after the codec


async def frames_until(track: MediaStreamTrack, seen: Callable[[av.VideoFrame], bool]) -> int:
    """Read ``track`` (the far side's decoded frames) until one satisfies ``seen``."""
    read = 0
    async with asyncio.timeout(WAIT):
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.VideoFrame)
            read += 1
            if seen(frame):
                return read


def test_enable_disable_constraints_and_release_over_a_call() -> None:
    got: list[tuple[str, MediaStreamTrack]] = []

    async def scenario(net: Net) -> None:
        callee = {"on_remote_track": lambda cid, t: got.append((cid, t))}
        alice, _bob, call = await call_between(net, {}, callee)
        await until(lambda: any(t.kind == "video" for _, t in got), WAIT)
        video = next(t for c, t in got if t.kind == "video" and c == call.call_id)
        (sid,) = alice.media.streams()
        source = alice.media.stream(sid)
        assert source is not None
        await frames_until(video, bright)

        alice.media.apply(SetStreamTrackEnabled(sid, "video", False))
        await frames_until(video, dark)
        assert video.readyState == "live" and not source.sends("video")
        alice.media.apply(SetStreamTrackEnabled(sid, "video", True))
        await frames_until(video, bright)

        asked = {"width": 96, "height": {"ideal": 64}, "frameRate": 10, "zoom": 2}
        alice.media.apply(ApplyConstraints(sid, asked))
        await frames_until(video, lambda f: (f.width, f.height) == (96, 64) and bright(f))
        applied = ConstraintsApplied(sid, {"width": 96, "height": 64, "frameRate": 10.0})
        await until(lambda: applied in alice.reports, WAIT)

        alice.media.apply(ReleaseTrack(sid, "video"))
        ended = StreamTrackEnded(sid, "video", f"{sid}-video")
        await until(lambda: ended in alice.reports, WAIT)
        await frames_until(video, dark)
        sent = alice.media.frames_sent(call.call_id)["video"]
        alice.media.apply(SetStreamTrackEnabled(sid, "video", True))  # released: stays black
        alice.media.apply(ReleaseTrack(sid, "video"))  # once only
        assert await frames_until(video, dark) == 1
        await asyncio.sleep(0.3)
        assert alice.media.frames_sent(call.call_id)["video"] > sent  # the track goes on
        assert [r for r in alice.reports if isinstance(r, StreamTrackEnded)] == [ended]

    run(scenario)


def test_a_disabled_or_released_audio_kind_sends_silence() -> None:
    async def scenario(net: Net) -> None:
        reports: list[m.MediaEvent] = []
        backend = AiortcMedia()
        backend.bind(reports.append)
        backend.apply(fx.AcquireMedia("r1", "media", audio=True, video=True))
        await until(lambda: any(isinstance(r, m.MediaAcquired) for r in reports))
        (sid,) = backend.streams()
        stream = backend.stream(sid)
        assert stream is not None
        (audio,) = SourceControl(stream=stream).tracks(["audio"])
        silence = bytes(2 * 960)

        async def samples() -> bytes:
            frame = await asyncio.wait_for(audio.recv(), WAIT)
            assert isinstance(frame, av.AudioFrame)
            return bytes(frame.planes[0])[: 2 * 960]

        assert await samples() != silence
        backend.apply(SetStreamTrackEnabled(sid, "audio", False))
        assert await samples() == silence
        backend.apply(SetStreamTrackEnabled(sid, "audio", True))
        assert await samples() != silence
        backend.apply(ReleaseTrack(sid, "audio"))
        assert await samples() == silence
        await until(lambda: StreamTrackEnded(sid, "audio", f"{sid}-audio") in reports)
        assert stream.sends("video")  # the other kind goes on
        backend.apply(ReleaseTrack("no-such-stream", "audio"))  # nothing held: nothing done
        audio.stop()
        await backend.close()

    run(scenario)


_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.dictionaries(
        st.sampled_from(["exact", "ideal", "max", "min", "other"]),
        st.one_of(st.floats(allow_nan=True), st.integers(-10, 10**5), st.text(max_size=2)),
        max_size=3,
    ),
)


@given(width=_VALUE, height=_VALUE, rate=_VALUE)
def test_any_constraints_give_a_sane_geometry_and_report_what_applies(
    width: object, height: object, rate: object
) -> None:
    stream = SyntheticStream("s1", audio=True, video=True)
    before = (stream.width, stream.height, stream.fps)
    report = carry_out(
        {"s1": stream},
        ApplyConstraints("s1", {"width": width, "height": height, "frameRate": rate}),
    )
    assert isinstance(report, ConstraintsApplied) and report.stream_id == "s1"
    assert set(report.constraints) <= {"width", "height", "frameRate"}
    assert 2 <= stream.width <= 4096 and stream.width % 2 == 0
    assert 2 <= stream.height <= 4096 and stream.height % 2 == 0
    assert 1.0 <= stream.fps <= 60.0
    now = {"width": stream.width, "height": stream.height, "frameRate": stream.fps}
    for key, value in report.constraints.items():
        assert now[key] == value  # what is reported is what applies
    for key, old in zip(("width", "height", "frameRate"), before, strict=True):
        if key not in report.constraints:
            assert now[key] == old  # what is not reported did not change
    asked = {"width": width, "height": height, "frameRate": rate}
    for key in report.constraints:
        assert constraint_value(asked[key]) is not None


def test_synthetic_audio_is_metered_and_a_created_stream_fires_audio_amplitude() -> None:
    async def test() -> None:
        async with world(lambda user: AiortcMedia(audio_level_interval=0.05)) as w:
            await w.join("alice")
            cam = await w.uas["alice"].create_stream()
            backend = w.media["alice"]
            assert isinstance(backend, AiortcMedia)
            amplitudes = cam.events("audioAmplitudeInfo")
            tone = (await amplitudes.next(WAIT)).payload
            assert 60.0 <= tone["amplitude"] <= 70.0 and tone["isSpeaking"] is True
            cam.disable_audio()
            async with asyncio.timeout(WAIT):
                while (await amplitudes.next(WAIT)).payload["amplitude"] != 0.0:
                    pass
            assert cam.is_audio_enabled() is False
            sid = cam.stream_id
            cam.release()
            await until(lambda: sid not in backend.streams(), WAIT)

    run_async(test)


def test_a_fed_stream_is_not_metered_and_metering_stops_with_the_streams() -> None:
    async def scenario(net: Net) -> None:
        reports: list[m.MediaEvent] = []
        backend = AiortcMedia(audio_level_interval=0.02)
        backend.bind(reports.append)
        feed = SyntheticAudioTrack(SourceControl(), "own-audio")
        fed = backend.add_stream([feed])
        backend.apply(fx.AcquireMedia("r1", "media", audio=True, video=False))
        await until(lambda: any(isinstance(r, AudioLevel) for r in reports))
        (sid,) = [s for s in backend.streams() if s != fed]
        levels = [r for r in reports if isinstance(r, AudioLevel)]
        assert {r.stream_id for r in levels} == {sid}
        assert levels[0].level == audio_level(backend.stream(sid))  # type: ignore[arg-type]
        backend.apply(fx.ReleaseMedia(sid))
        backend.apply(fx.ReleaseMedia(fed))
        await asyncio.sleep(0.1)
        count = len(reports)
        await asyncio.sleep(0.1)
        assert len(reports) == count  # nothing held: no meter running
        feed.stop()
        await backend.close()

    run(scenario)
    with pytest.raises(ValueError):
        AiortcMedia(audio_level_interval=0)
