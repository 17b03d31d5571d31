"""A conversation recorded through the asyncio API over real aiortc on loopback (issue 13 point
4): two agents in a room, one publishes synthetic audio and video, the other subscribes; the
publisher's ``startRecording`` resolves with ``recordingStarted``'s RecordingInfo and
``stopRecording`` with ``recordingAvailable``'s, whose ``mediaURL`` is the ``file://`` URL of a
real file; the file decodes with PyAV and its video covers the recorded wall time within 10 %.
Misuse raises apiRTC's numbers at once."""

from __future__ import annotations

import asyncio
import pathlib

import adaptertools
import pytest
from rtcstate_aiortc import AiortcMedia

from rtcstate.codes import ErrorNumber
from rtcstate.errors import RtcError

WAIT = 30.0
ROOM = "recorded"


def test_a_conversation_is_recorded_into_a_decodable_file_of_the_recorded_time(
    tmp_path: pathlib.Path,
) -> None:
    def media_for(user: str) -> AiortcMedia:
        return AiortcMedia(
            loopback_only=True,
            video_size=(64, 48),
            video_fps=15.0,
            recordings_dir=tmp_path / user,
        )

    async def test() -> None:
        async with adaptertools.world(media_for, wait=WAIT) as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            a, b = alice.get_conversation(ROOM), bob.get_conversation(ROOM)
            await a.join()
            await b.join()
            with pytest.raises(RtcError) as nothing:
                await a.start_recording()  # nothing published yet
            assert nothing.value.code == ErrorNumber.ERROR_STREAM_RECORD
            cam = await w.uas["alice"].create_stream()
            await a.publish(cam)
            await adaptertools.until(lambda: len(b.get_available_stream_list()) == 1, WAIT)
            await b.subscribe_to_stream(cam.stream_id)
            with pytest.raises(RtcError) as not_started:
                await a.stop_recording()
            assert not_started.value.code == ErrorNumber.ERROR_STREAM_RECORD

            started = await a.start_recording()
            assert started["mediaId"] == cam.stream_id and started["roomName"] == ROOM
            assert started["recordType"] == "conversation"
            assert started["mediaURL"].startswith("file://") and a.is_recorded()
            with pytest.raises(RtcError) as twice:
                await a.start_recording()
            assert twice.value.code == ErrorNumber.ERROR_STREAM_RECORD
            await asyncio.sleep(2.0)
            info = await a.stop_recording()
            assert not a.is_recorded()
            for event in ("recordingStarted", "recordingStopped", "recordingAvailable"):
                assert len(a.fired(event)) == 1, event
            assert a.fired("recordingAvailable")[-1]["mediaURL"] == info["mediaURL"]
            path = pathlib.Path(info["mediaURL"].removeprefix("file://"))
            assert path.parent == tmp_path / "alice" and path.name == info["recordedFileName"]
            assert path.exists() and path.stat().st_size > 0
            media = w.media["alice"]
            assert isinstance(media, AiortcMedia)
            done = media.recorded(cam.stream_id)
            assert done is not None and done.path == path
            assert 1.0 < done.seconds < 2.0 + WAIT, done
            seconds, video, audio = adaptertools.recorded_video_seconds(path)
            assert video > 0 and audio > 0
            print(f"recorded: file {seconds:.3f} s, recorder's wall time {done.seconds:.3f} s")
            assert abs(seconds - done.seconds) <= 0.1 * done.seconds, (seconds, done.seconds)
            # a published stream recorded on its own, by its id
            again = await a.start_recording_published_stream(cam, {"audioOnly": True})
            assert again["audioOnly"] is True and again["recordType"] == "stream"
            assert (await a.stop_recording_published_stream(cam))["mediaURL"].startswith("file")
            with pytest.raises(RtcError) as bobs:
                await b.start_recording()  # bob publishes nothing
            assert bobs.value.code == ErrorNumber.ERROR_STREAM_RECORD

    adaptertools.run(test, 90.0)
