"""Stream-level media reports through the asyncio API (fake media, a real relay on 127.0.0.1):
the backend's reports about a stream the application created (``ua.create_stream``) fire that
stream's events; its track commands reach the backend as effects."""

from __future__ import annotations

from adaptertools import WAIT, run, until, world
from rtcstate_asyncio import FakeMedia, FakeMediaNetwork

from rtcstate.stream import (
    ApplyConstraints,
    AudioLevel,
    ConstraintsApplied,
    ReleaseTrack,
    SetStreamTrackEnabled,
    StreamTrackEnded,
)

_NET = FakeMediaNetwork()


def _media(user: str) -> FakeMedia:
    return _NET.backend(user)


def test_reports_about_a_created_stream_fire_its_events() -> None:
    async def test() -> None:
        async with world(_media) as w:
            await w.join("alice")
            backend = w.media["alice"]
            assert isinstance(backend, FakeMedia)
            cam = await w.uas["alice"].create_stream()
            sid = cam.stream_id
            events = cam.events("audioAmplitude", "audioAmplitudeInfo")
            backend.report(AudioLevel(sid, 0.42))
            first, second = await events.next(WAIT), await events.next(WAIT)
            assert (first.name, first.payload) == ("audioAmplitude", 42.0)
            assert second.payload == {"amplitude": 42.0, "isSpeaking": True}

            changed = cam.events("constraintsChanged")
            cam.apply_constraints({"width": 320, "height": 240})
            assert ApplyConstraints(sid, {"width": 320, "height": 240}) in backend.applied
            backend.report(ConstraintsApplied(sid, {"width": 320, "height": 240}))
            assert (await changed.next(WAIT)).payload == {"width": 320, "height": 240}

            cam.disable_video()
            assert SetStreamTrackEnabled(sid, "video", False) in backend.applied
            cam.release_audio()
            assert ReleaseTrack(sid, "audio") in backend.applied
            assert not cam.has_audio() and not cam.released

            stopped = cam.events("trackStopped", "stopped")
            backend.report(StreamTrackEnded(sid, "video", "cam-v"))
            ended = await stopped.next(WAIT)
            assert (ended.name, ended.payload) == ("trackStopped", {"type": "video", "id": "cam-v"})
            assert (await stopped.next(WAIT)).name == "stopped"
            await until(lambda: cam.released)
            session = w.uas["alice"].session
            assert session is not None
            assert session.core.child("stream_id", sid) is None  # detached once released

    run(test)
