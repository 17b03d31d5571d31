"""Recording and real media out on the aiortc backend: the core's Recording machine drives
aiortc's MediaRecorder into a real file (decodable by PyAV, as long as the wall time the
recorder covered within 10 %); remote tracks reach the application."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import av
from adaptertools import recorded_video_seconds, until
from aiortc.mediastreams import MediaStreamTrack
from rtcstate_aiortc import AiortcMedia
from test_aiortc_backend import Net, connect_call, flowing, run

from rtcstate import effects as fx
from rtcstate import media as m
from rtcstate.effects import Effect, Emit, StartTimer
from rtcstate.recording import Recording, RecordingOutcome, RecordingState

WAIT = 10.0


class Driver:
    """The runtime's job for one Recording and one backend: effects out, reports in."""

    def __init__(self, backend: AiortcMedia, recording: Recording) -> None:
        self.backend = backend
        self.recording = recording
        self.emits: list[Emit] = []
        self.outcomes: list[RecordingOutcome] = []
        self.reports: list[m.MediaEvent] = []
        self.loop = asyncio.get_running_loop()
        self.handles: list[asyncio.TimerHandle] = []
        backend.bind(self.report)

    def report(self, event: m.MediaEvent) -> None:
        self.reports.append(event)
        if isinstance(event, m.RecordingReport):
            self.carry(self.recording.media_event(event, self.loop.time()))

    def carry(self, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, Emit):
                self.emits.append(e)
            elif isinstance(e, RecordingOutcome):
                self.outcomes.append(e)
            elif isinstance(e, StartTimer):
                name = e.timer_id
                self.handles.append(
                    self.loop.call_at(
                        e.deadline,
                        lambda n=name: self.carry(self.recording.timer_fired(n, self.loop.time())),  # type: ignore[misc]
                    )
                )
            elif isinstance(e, fx.CancelTimer):
                pass  # timer_fired drops a disarmed timer
            else:
                self.backend.apply(e)

    def close(self) -> None:
        for handle in self.handles:
            handle.cancel()


def test_a_published_stream_is_recorded_into_a_decodable_file_of_the_recorded_time(
    tmp_path: pathlib.Path,
) -> None:
    async def scenario(net: Net) -> None:
        backend = AiortcMedia(recordings_dir=tmp_path, video_fps=15.0)
        recording = Recording("pending", "conversation:room", "room")
        driver = Driver(backend, recording)
        try:
            backend.apply(fx.AcquireMedia("r1", "media"))
            await until(lambda: any(isinstance(r, m.MediaAcquired) for r in driver.reports))
            acquired = next(r for r in driver.reports if isinstance(r, m.MediaAcquired))
            recording.media_id = acquired.stream_id
            driver.carry(recording.start(driver.loop.time()))
            await until(lambda: recording.state is RecordingState.RECORDING, WAIT)
            await asyncio.sleep(2.0)
            driver.carry(recording.stop(driver.loop.time()))
            await until(lambda: recording.state is RecordingState.IDLE, WAIT)
            events = [e.event for e in driver.emits]
            assert events == ["recordingStarted", "recordingStopped", "recordingAvailable"]
            info = driver.emits[-1].payload
            assert info["mediaURL"].startswith("file://") and info["callId"] == acquired.stream_id
            path = tmp_path / info["recordedFileName"]
            assert info["mediaURL"] == path.as_uri()
            assert path.exists() and path.stat().st_size > 0
            # the wall time the recorder covered: its first frame to the stop (measured there,
            # not the test's sleep: on a loaded machine the first frame may come late)
            done = backend.recorded(acquired.stream_id)
            assert done is not None and done.path == path
            assert 1.0 < done.seconds < 2.0 + WAIT, done
            seconds, video, audio = recorded_video_seconds(path)
            assert video > 0 and audio > 0
            print(f"recorded: file {seconds:.3f} s, recorder's wall time {done.seconds:.3f} s")
            assert abs(seconds - done.seconds) <= 0.1 * done.seconds, (seconds, done.seconds)
            assert [o.code for o in driver.outcomes] == [None, None]
        finally:
            driver.close()
            await backend.close()

    run(scenario)


def test_recording_nothing_or_twice_fails_by_report() -> None:
    async def scenario(net: Net) -> None:
        reports: list[m.MediaEvent] = []
        backend = AiortcMedia()
        backend.bind(reports.append)
        try:
            backend.apply(fx.StartRecording("no-such-media"))
            backend.apply(fx.StopRecording("no-such-media"))  # not recording: nothing
            await until(lambda: any(isinstance(r, m.RecordingReport) for r in reports))
            (failed,) = [r for r in reports if isinstance(r, m.RecordingReport)]
            assert failed.status == "failed" and "START_RECORD_MEDIA_FOUND" in failed.info["error"]
        finally:
            await backend.close()

    run(scenario)


def test_remote_tracks_reach_the_application_and_are_still_drained() -> None:
    got: list[tuple[str, MediaStreamTrack]] = []

    async def scenario(net: Net) -> None:
        options: dict[str, Any] = {"on_remote_track": lambda cid, t: got.append((cid, t))}
        alice, bob, call, _callee = await connect_call(net, **options)
        await until(lambda: len(got) >= 4)  # two tracks on each side
        cid = call.call_id
        (video,) = [t for c, t in got if t.kind == "video" and c == cid][:1]
        frame = await asyncio.wait_for(video.recv(), WAIT)
        assert isinstance(frame, av.VideoFrame) and frame.width == 160
        await until(flowing(alice, cid))  # the backend's own drain goes on
        await until(flowing(bob, cid))

    run(scenario)
