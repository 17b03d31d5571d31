"""Recording: every effect of each outcome, field by field (docs/testing.md, "Mutation
testing": test_recording.py checked the events' names and some fields only)."""

from __future__ import annotations

from typing import Any, cast

from rtcstate.codes import ErrorNumber
from rtcstate.effects import CancelTimer, Drop, Emit, StartRecording, StartTimer, StopRecording
from rtcstate.media import RecordingReport
from rtcstate.recording import Recording, RecordingDrop, RecordingOutcome, RecordingState

TARGET = "conversation:room"
RECORD = int(ErrorNumber.ERROR_STREAM_RECORD)


def _info(**changed: Any) -> dict[str, Any]:
    info = {
        "roomName": "room",
        "callId": "s1",
        "recordType": "stream",
        "convId": "room",
        "mediaId": "s1",
        "mediaURL": None,
        "recordedFileName": None,
        "audioOnly": False,
        "videoOnly": False,
        "mode": "complete",
        "labelEnabled": False,
    }
    info.update(changed)
    return info


def _starting() -> Recording:
    rec = Recording("s1", TARGET, "room")
    assert rec.start(0.0) == [StartRecording("s1"), StartTimer("recording:s1:start", 10.0)]
    return rec


def _recording() -> Recording:
    rec = _starting()
    rec.media_event(RecordingReport("s1", "started", {"mediaURL": "u"}), 1.0)
    return rec


def test_a_start_reports_the_whole_recording_info() -> None:
    rec = _starting()
    fx = rec.media_event(RecordingReport("s1", "started", {"recordedFileName": "r.webm"}), 1.0)
    info = _info(recordedFileName="r.webm")
    assert fx == [
        CancelTimer("recording:s1:start"),
        Emit(TARGET, "recordingStarted", info),
        RecordingOutcome(TARGET, "start", info),
    ]


def test_a_failed_start_rejects_with_what_the_recorder_said() -> None:
    rec = _starting()
    fx = rec.media_event(RecordingReport("s1", "failed", {"recordedFileName": "half"}), 1.0)
    assert fx == [
        CancelTimer("recording:s1:start"),
        RecordingOutcome(TARGET, "start", _info(recordedFileName="half"), RECORD),
    ]
    assert rec.state is RecordingState.IDLE and rec.timers == {}


def test_a_recording_that_fails_rejects_its_stop() -> None:
    rec = _recording()
    fx = rec.media_event(RecordingReport("s1", "failed", {"mediaURL": "v"}), 2.0)
    assert fx == [RecordingOutcome(TARGET, "stop", _info(mediaURL="v"), RECORD)]
    rec = _recording()
    rec.stop(3.0)
    fx = rec.media_event(RecordingReport("s1", "failed"), 4.0)
    assert fx == [
        CancelTimer("recording:s1:stop"),
        RecordingOutcome(TARGET, "stop", _info(mediaURL="u"), RECORD),
    ]


def test_a_start_that_times_out_rejects_with_the_info_so_far() -> None:
    rec = _starting()
    assert rec.timer_fired("recording:s1:start", 10.0) == [
        StopRecording("s1"),
        RecordingOutcome(TARGET, "start", _info(), int(ErrorNumber.ERROR_TIMED_OUT)),
    ]


def test_stopped_then_available_resolves_the_stop_with_the_file() -> None:
    rec = _recording()
    rec.stop(3.0)
    fx = rec.media_event(RecordingReport("s1", "stopped", {"recordedFileName": "r"}), 4.0)
    assert fx == [Emit(TARGET, "recordingStopped", _info(mediaURL="u", recordedFileName="r"))]
    fx = rec.media_event(RecordingReport("s1", "available", {"mediaURL": "final"}), 5.0)
    info = _info(mediaURL="final", recordedFileName="r")
    assert fx == [
        CancelTimer("recording:s1:stop"),
        Emit(TARGET, "recordingAvailable", info),
        RecordingOutcome(TARGET, "stop", info),
    ]


def test_a_stop_that_times_out_resolves_with_the_last_info() -> None:
    rec = _recording()
    rec.stop(3.0)
    assert rec.timer_fired("recording:s1:stop", 8.0) == [
        RecordingOutcome(TARGET, "stop", _info(mediaURL="u"))
    ]


def test_an_unknown_timer_is_dropped_with_its_name() -> None:
    rec = _starting()
    assert rec.timer_fired("recording:s1:bogus", 1.0) == [
        Drop(RecordingDrop.LATE, "timer recording:s1:bogus is not armed")
    ]


def test_a_report_whose_info_is_not_a_mapping_changes_no_info() -> None:
    rec = _starting()
    odd = RecordingReport("s1", "started", cast(Any, ["mediaURL", "x"]))
    fx = rec.media_event(odd, 1.0)
    assert Emit(TARGET, "recordingStarted", _info()) in fx
