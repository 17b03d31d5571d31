"""Real media in and out on the aiortc backend: a media file (aiortc's MediaPlayer) and the
application's own track as the sources of a call's stream, seen decoded on the far side; the
far side's received track consumed by the test's own code; an application stream recorded."""

from __future__ import annotations

import asyncio
import fractions
import pathlib
from typing import Any

import av
import pytest
from adaptertools import until
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from rtcstate_aiortc import AiortcMedia
from rtcstate_aiortc.feeds import feeds_of, file_source, tracks_source
from test_aiortc_backend import Net, Peer, flowing, run, the_call

from rtcstate import effects as fx
from rtcstate import media as m
from rtcstate.call import Call, CallState

WAIT = 15.0


def write_clip(path: pathlib.Path, size: tuple[int, int], seconds: float, luma: int) -> None:
    """A small webm: ``size`` video of flat ``luma`` at 15 fps and a 48 kHz silent track."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libvpx", rate=15)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("libopus", rate=48_000)
        for n in range(round(seconds * 15)):
            frame = av.VideoFrame(size[0], size[1], "yuv420p")
            frame.planes[0].update(bytes([luma]) * frame.planes[0].buffer_size)
            for plane in frame.planes[1:]:
                plane.update(bytes([128]) * plane.buffer_size)
            frame.pts, frame.time_base = n, fractions.Fraction(1, 15)
            out.mux(video.encode(frame))
        for n in range(round(seconds * 50)):
            sound = av.AudioFrame(format="s16", layout="stereo", samples=960)
            sound.planes[0].update(bytes(sound.planes[0].buffer_size))
            sound.sample_rate, sound.pts = 48_000, n * 960
            sound.time_base = fractions.Fraction(1, 48_000)
            out.mux(audio.encode(sound))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


class Pattern(MediaStreamTrack):
    """The application's own video track: flat frames of one size, paced at 20 fps."""

    kind = "video"

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size
        self.made = 0

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(0.05)
        if self.readyState != "live":
            raise MediaStreamError
        frame = av.VideoFrame(self.size[0], self.size[1], "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([200]) * plane.buffer_size)
        frame.pts, frame.time_base = self.made * 4500, fractions.Fraction(1, 90_000)
        self.made += 1
        return frame


async def call_between(
    net: Net, caller: dict[str, Any], callee: dict[str, Any]
) -> tuple[Peer, Peer, Call]:
    alice = await net.add("alice", **caller)
    bob = await net.add("bob", **callee)
    call, effects = alice.session.call("bob", net.now())
    net.carry(alice, effects)
    await until(lambda: bool(bob.events(name="incomingCall")), WAIT)
    net.carry(bob, bob.events(name="incomingCall")[0].payload.accept(net.now()))
    callee_call = the_call(bob)
    connected = CallState.CONNECTED
    await until(lambda: call.state is connected and callee_call.state is connected, WAIT)
    return alice, bob, call


async def video_sizes(track: MediaStreamTrack, count: int) -> list[tuple[int, int]]:
    """The sizes of the next ``count`` frames the test's own code reads from ``track``."""
    sizes = []
    for _ in range(count):
        frame = await asyncio.wait_for(track.recv(), WAIT)
        assert isinstance(frame, av.VideoFrame)
        sizes.append((frame.width, frame.height))
    return sizes


def test_a_media_file_played_into_a_call_is_what_the_far_side_decodes(
    tmp_path: pathlib.Path,
) -> None:
    clip = tmp_path / "clip.webm"
    write_clip(clip, (96, 64), 1.0, 200)
    got: list[tuple[str, MediaStreamTrack]] = []

    async def scenario(net: Net) -> None:
        caller = {"media_source": file_source(clip)}
        callee = {"on_remote_track": lambda cid, t: got.append((cid, t))}
        alice, bob, call = await call_between(net, caller, callee)
        await until(lambda: any(t.kind == "video" for _, t in got), WAIT)
        video = next(t for c, t in got if t.kind == "video" and c == call.call_id)
        # the file's frames, decoded on the far side by the test's own code
        assert (96, 64) in await video_sizes(video, 5)
        await until(flowing(bob, call.call_id), WAIT)  # audio from the file too
        # the file played out (1 s, no loop): the stream goes on, black, in the synthetic size
        async with asyncio.timeout(WAIT):
            while (160, 120) not in await video_sizes(video, 1):
                pass
        assert alice.media.frames_sent(call.call_id)["video"] > 0

    run(scenario)


def test_the_applications_own_track_feeds_the_call_and_a_recording(
    tmp_path: pathlib.Path,
) -> None:
    own = Pattern((64, 48))
    got: list[tuple[str, MediaStreamTrack]] = []

    async def scenario(net: Net) -> None:
        caller = {"media_source": tracks_source(own), "recordings_dir": tmp_path}
        callee = {"on_remote_track": lambda cid, t: got.append((cid, t))}
        alice, _bob, call = await call_between(net, caller, callee)
        await until(lambda: any(t.kind == "video" for _, t in got), WAIT)
        video = next(t for c, t in got if t.kind == "video" and c == call.call_id)
        assert (64, 48) in await video_sizes(video, 5)
        assert own.readyState == "live" and own.made > 0
        # the same track as a stream of its own, recorded into a file
        reports: list[m.MediaEvent] = []
        sid = alice.media.add_stream([own])
        alice.media.bind(reports.append)
        alice.media.apply(fx.StartRecording(sid))
        await until(lambda: any(getattr(r, "status", "") == "started" for r in reports), WAIT)
        await asyncio.sleep(1.0)
        alice.media.apply(fx.StopRecording(sid))
        await until(lambda: any(getattr(r, "status", "") == "available" for r in reports), WAIT)
        done = alice.media.recorded(sid)
        assert done is not None
        with av.open(str(done.path)) as container:
            sizes = {(f.width, f.height) for f in container.decode(video=0)}
        assert sizes == {(64, 48)}
        alice.media.apply(fx.ReleaseMedia(sid))  # the application's track is left to it
        await asyncio.sleep(0.1)
        assert own.readyState == "live"
        own.stop()  # the application's: the backend's relay stops reading it
        await asyncio.sleep(0.2)

    run(scenario)


def test_sources_are_checked_at_once(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_source(tmp_path / "nothing.webm")
    with pytest.raises(ValueError, match="two video"):
        tracks_source(Pattern((8, 8)), Pattern((8, 8)))
    clip = tmp_path / "clip.webm"
    write_clip(clip, (32, 32), 0.2, 50)
    player = MediaPlayer(str(clip))
    assert set(feeds_of(player)) == {"audio", "video"}
    backend = AiortcMedia()
    with pytest.raises(ValueError, match="needs an audio or a video"):
        backend.add_stream([])
    sid = backend.add_stream(player, "mine")
    with pytest.raises(ValueError, match="in use"):
        backend.add_stream([Pattern((8, 8))], "mine")
    assert sid == "mine"


def test_a_source_that_raises_fails_the_acquisition() -> None:
    def broken(call_type: str) -> list[MediaStreamTrack]:
        raise OSError("no camera")

    async def scenario(net: Net) -> None:
        reports: list[m.MediaEvent] = []
        backend = AiortcMedia(media_source=broken)
        backend.bind(reports.append)
        try:
            backend.apply(fx.AcquireMedia("r1", "media"))
            await until(lambda: any(isinstance(r, m.MediaFailed) for r in reports), WAIT)
            (failed,) = [r for r in reports if isinstance(r, m.MediaFailed)]
            assert failed.request_id == "r1" and "no camera" in failed.error
        finally:
            await backend.close()

    run(scenario)
