"""Recording: every (state, trigger) and (state, input) pair; started -> stopped -> available
with RecordingInfo; apiRTC's start (10 s, rejects) and stop (5 s, resolves) timeouts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from rtcstate.codes import ErrorNumber
from rtcstate.conversation.media import ConversationMedia
from rtcstate.effects import Emit, StartRecording, StartTimer, StopRecording
from rtcstate.errors import RtcError
from rtcstate.media import RecordingReport
from rtcstate.recording import Recording, RecordingOutcome, RecordingState, RecordingTimer
from rtcstate.stream import Stream
from rtcstate.testing.exhaustive import check_input_pair, check_pair, input_pairs, pairs

INFO_KEYS = {
    "roomName",
    "callId",
    "recordType",
    "convId",
    "mediaId",
    "mediaURL",
    "recordedFileName",
    "audioOnly",
    "videoOnly",
    "mode",
    "labelEnabled",
}
REPORTS = st.builds(
    RecordingReport,
    st.just("s1"),
    st.sampled_from(["started", "stopped", "available", "failed", "weird"]),
    st.fixed_dictionaries({"mediaURL": st.text(max_size=5)}) | st.just({}),
)
NOW = st.floats(0, 1e6, allow_nan=False)
ARGS: dict[str, Any] = {
    t: st.builds(
        lambda now, m: ((now,), {"msg": m}), NOW, REPORTS.filter(lambda r, t=t: r.status == t)
    )
    for t in ("started", "stopped", "available", "failed")
}


def _make() -> Recording:
    return Recording("s1", "conversation:room", "room")


def test_every_state_trigger_pair() -> None:
    for state, trigger in pairs(Recording):
        check_pair(Recording, state, trigger, _make, args=ARGS, max_examples=8)


def _deliver(rec: Recording, value: Any, now: float) -> list[Any]:
    if isinstance(value, RecordingTimer):
        rec.timers[value] = now
        return rec.timer_fired(rec.timer_id(value), now)
    return rec.media_event(value, now)


def test_every_state_input_pair_never_raises() -> None:
    for state, key in input_pairs(Recording):
        values = st.just(key) if isinstance(key, RecordingTimer) else REPORTS
        check_input_pair(Recording, state, key, _make, values, _deliver, max_examples=8)


def _events(fx: list[Any]) -> list[str]:
    return [e.event for e in fx if isinstance(e, Emit)]


def test_started_stopped_available_with_recording_info() -> None:
    rec = _make()
    fx = rec.start(0.0)
    assert fx == [StartRecording("s1"), StartTimer("recording:s1:start", 10.0)]
    with pytest.raises(RtcError) as info:
        rec.start(1.0)
    assert info.value.code == ErrorNumber.ERROR_STREAM_RECORD
    fx = rec.media_event(RecordingReport("s1", "started", {"mediaURL": "file:///r.webm"}), 1.0)
    assert _events(fx) == ["recordingStarted"]
    [started] = [e for e in fx if isinstance(e, Emit)]
    assert set(started.payload) == INFO_KEYS and started.payload["mediaURL"] == "file:///r.webm"
    assert RecordingOutcome("conversation:room", "start", started.payload) in fx
    fx = rec.stop(5.0)
    assert StopRecording("s1") in fx and StartTimer("recording:s1:stop", 10.0) in fx
    fx = rec.media_event(RecordingReport("s1", "stopped"), 6.0)
    assert _events(fx) == ["recordingStopped"]
    info_ = {"mediaURL": "file:///r.webm", "recordedFileName": "r.webm"}
    fx = rec.media_event(RecordingReport("s1", "available", info_), 6.5)
    assert _events(fx) == ["recordingAvailable"]
    assert next(e for e in fx if isinstance(e, RecordingOutcome)).code is None
    assert rec.state is RecordingState.IDLE


def test_the_start_times_out_after_10_s_and_rejects() -> None:
    rec = _make()
    rec.start(0.0)
    fx = rec.timer_fired("recording:s1:start", 10.0)
    [outcome] = [e for e in fx if isinstance(e, RecordingOutcome)]
    assert outcome.code == ErrorNumber.ERROR_TIMED_OUT and StopRecording("s1") in fx
    assert rec.state is RecordingState.IDLE
    late = rec.media_event(RecordingReport("s1", "started"), 11.0)
    assert [type(e).__name__ for e in late] == ["Drop"]


def test_the_stop_times_out_after_5_s_and_resolves_with_the_last_info() -> None:
    rec = _make()
    rec.start(0.0)
    rec.media_event(RecordingReport("s1", "started", {"mediaURL": "u"}), 1.0)
    rec.stop(2.0)
    fx = rec.timer_fired("recording:s1:stop", 7.0)
    [outcome] = fx
    assert isinstance(outcome, RecordingOutcome)
    assert outcome.code is None and outcome.command == "stop" and outcome.info["mediaURL"] == "u"


def test_a_conversation_records_its_published_stream() -> None:
    book = ConversationMedia("room", "me/d")
    with pytest.raises(RtcError):
        book.start_recording(0.0)
    book.publish(0.0, Stream("s1"), joined=True)
    assert book.start_recording(0.0)[0] == StartRecording("s1")
    fx = book.media_event(RecordingReport("s1", "started"), 1.0)
    assert _events(fx) == ["recordingStarted"] and book.is_recorded()
    assert book.timer_fired("conversationCall:s1:start", 10.0)[0].reason == "late-report"  # type: ignore[attr-defined]
    assert StopRecording("s1") in book.stop_recording(2.0)
