"""A 1-1 call recorded through the asyncio API over real aiortc on loopback: the callee records
what it receives (``relay_remote``), the caller what it sends; ``startRecording`` resolves with
``recordingStarted``'s RecordingInfo, ``stopRecording`` with ``recordingAvailable``'s (the
file's ``mediaURL``), the file decodes; misuse raises the apiRTC numbers at once."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator

import adaptertools
import av
import pytest
from adaptertools import World
from rtcstate_aiortc import AiortcMedia
from test_e2e_aiortc import call_and_accept, flowing, until

from rtcstate.codes import ErrorNumber
from rtcstate.errors import RtcError

WAIT = 15.0


@contextlib.asynccontextmanager
async def world(folder: pathlib.Path) -> AsyncIterator[World]:
    def media_for(user: str) -> AiortcMedia:
        return AiortcMedia(recordings_dir=folder / user, relay_remote=user == "bob")

    async with adaptertools.world(media_for, wait=WAIT) as w:
        yield w


def decoded(url: str) -> tuple[int, int]:
    """Video and audio frames of the file at ``url`` (a ``file://`` URL)."""
    path = pathlib.Path(url.removeprefix("file://"))
    counts = [0, 0]
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            counts[0 if isinstance(frame, av.VideoFrame) else 1] += 1
    return counts[0], counts[1]


def test_both_sides_of_a_call_record_it_into_decodable_files(tmp_path: pathlib.Path) -> None:
    async def test() -> None:
        async with world(tmp_path) as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            call, their = await call_and_accept(alice, bob)
            await until(flowing(w.media["bob"], call.id), WAIT)
            with pytest.raises(RtcError) as refused:
                await their.stop_recording()  # not recording
            assert refused.value.code == ErrorNumber.ERROR_STREAM_RECORD
            infos = await asyncio.gather(call.start_recording(), their.start_recording())
            for info in infos:
                assert info["callId"] == call.id and info["mediaURL"].startswith("file://")
            with pytest.raises(RtcError) as twice:
                await call.start_recording()
            assert twice.value.code == ErrorNumber.ERROR_STREAM_RECORD
            await asyncio.sleep(1.0)
            done = await asyncio.gather(call.stop_recording(), their.stop_recording())
            for info, started, c in zip(done, infos, (call, their), strict=True):
                assert info["mediaURL"] == started["mediaURL"]
                assert c.fired("recordingStopped") and c.fired("recordingAvailable")
                video, audio = decoded(info["mediaURL"])
                assert video > 0 and audio > 0, (c, video, audio)
            assert pathlib.Path(done[1]["mediaURL"].removeprefix("file://")).parent == (
                tmp_path / "bob"
            )
            call.hangup()
            await until(lambda: w.media["alice"].calls() == w.media["bob"].calls() == [])

    adaptertools.run(test, 60.0)
