"""Stream: every (state, trigger) and (state, input) pair, and the events of each change."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcstate.codes import ErrorNumber
from rtcstate.effects import Drop, Emit, ReleaseMedia
from rtcstate.errors import InvalidStateError, RtcError
from rtcstate.machine import spec_of
from rtcstate.stream import (
    ApplyConstraints,
    AudioLevel,
    ConstraintsApplied,
    ReleaseTrack,
    RemoteFlowChanged,
    SetStreamTrackEnabled,
    Stream,
    StreamDrop,
    StreamState,
    StreamTrackEnded,
    StreamTrackMuted,
)
from rtcstate.testing.exhaustive import (
    check_differential,
    check_input_pair,
    check_pair,
    input_pairs,
    pairs,
)

KIND = st.sampled_from(["audio", "video", "data", ""])
NOW = st.floats(0, 1e6, allow_nan=False)


def _kw(
    **extra: st.SearchStrategy[Any],
) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
    return st.builds(
        lambda now, kw: ((now,), kw), NOW, st.fixed_dictionaries({"kind": KIND, **extra})
    )


REPORTS: dict[type, st.SearchStrategy[Any]] = {
    StreamTrackMuted: st.builds(StreamTrackMuted, st.just("s1"), KIND, st.booleans()),
    StreamTrackEnded: st.builds(StreamTrackEnded, st.just("s1"), KIND, st.text(max_size=4)),
    AudioLevel: st.builds(
        AudioLevel, st.just("s1"), st.floats(allow_nan=True) | st.integers(-5, 5)
    ),
    ConstraintsApplied: st.builds(
        ConstraintsApplied, st.just("s1"), st.dictionaries(st.text(max_size=3), st.integers())
    ),
    RemoteFlowChanged: st.builds(
        RemoteFlowChanged, st.just("s1"), KIND, st.booleans(), st.booleans()
    ),
}
TRIGGER_OF: dict[str, type] = {str(v): k for k, v in spec_of(Stream).inputs.media.items()}  # type: ignore[union-attr]

ARGS: dict[str, Any] = {
    **{t: _kw() for t in ("enable_audio", "disable_audio", "enable_video", "disable_video")},
    **{t: _kw() for t in ("mute_audio", "unmute_audio")},
    **{t: _kw() for t in ("mute_video", "unmute_video")},
    "release_track": _kw(),
    "apply_constraints": st.builds(
        lambda now, c: ((now,), {"constraints": c}), NOW, st.dictionaries(st.text(), st.integers())
    ),
    **{
        trigger: st.builds(
            lambda now, m: ((now,), {"msg": m, "kind": m.kind if hasattr(m, "kind") else None}),
            NOW,
            REPORTS[cls],
        )
        for trigger, cls in TRIGGER_OF.items()
    },
}


def _prepare(stream: Stream, value: tuple[bool, bool]) -> None:
    stream.tracks["audio"].available, stream.tracks["video"].available = value


PREP = st.tuples(st.booleans(), st.booleans())


def test_every_state_trigger_pair() -> None:
    for state, trigger in pairs(Stream):
        check_pair(
            Stream,
            state,
            trigger,
            lambda: Stream("s1", conversations={"room": "c1"}),
            args=ARGS,
            prepare=_prepare,
            prepare_values=PREP,
            max_examples=10,
        )


def test_every_state_input_pair_never_raises() -> None:
    for state, key in input_pairs(Stream):
        assert isinstance(key, type)
        check_input_pair(
            Stream,
            state,
            key,
            lambda: Stream("s1", is_remote=True, conversations={"room": "c1"}),
            REPORTS[key],
            lambda s, v, now: s.media_event(v, now),
            prepare=_prepare,
            prepare_values=PREP,
            max_examples=10,
        )


def test_compiled_table_agrees_with_transitions() -> None:
    check_differential(Stream, lambda klass: klass("s1"), args=ARGS, max_steps=12, max_examples=30)


def test_every_trigger_has_an_argument_strategy_or_takes_none() -> None:
    assert set(spec_of(Stream).triggers) == set(ARGS) | {"release"}


def _events(fx: list[Any]) -> list[tuple[str, str]]:
    return [(e.target, e.event) for e in fx if isinstance(e, Emit)]


def test_disable_then_enable_audio_flows_and_updates_the_conversations() -> None:
    s = Stream("s1", call_id="c1", conversations={"room": "c1"})
    fx = s.disable_audio(1.0)
    assert fx[0] == SetStreamTrackEnabled("s1", "audio", False)
    assert Emit("stream:s1", "flowStatusChanged", {"type": "audio", "enabled": False,
                                                   "muted": False}) in fx  # fmt: skip
    assert Emit("stream:s1", "audioFlowStatusChanged", {"enabled": False, "muted": False}) in fx
    update = [e for e in fx if isinstance(e, Emit) and e.event == "localStreamUpdated"]
    assert update[0].target == "conversation:room"
    assert update[0].payload["audioMuted"] is True and update[0].payload["cause"] == "userAction"
    assert not s.is_audio_enabled()
    assert s.disable_audio(2.0) == []  # already off: nothing
    assert s.unmute_audio(3.0)[0] == SetStreamTrackEnabled("s1", "audio", True)


def test_a_command_on_a_missing_kind_raises_bad_parameter_and_changes_nothing() -> None:
    s = Stream("s1", video=False)
    with pytest.raises(RtcError) as info:
        s.disable_video(0.0)
    assert info.value.code == ErrorNumber.ERROR_BAD_PARAMETER
    assert s.is_video_enabled()


def test_release_stops_every_track_and_then_every_command_raises_wrong_state() -> None:
    s = Stream("s1", call_id="c9")
    fx = s.release(0.0)
    assert fx == [
        ReleaseMedia("s1"),
        Emit("stream:s1", "release"),
        Emit("stream:s1", "stopped", {"streamId": "s1", "callId": "c9"}),
    ]
    assert s.state is StreamState.RELEASED
    with pytest.raises(InvalidStateError) as info:
        s.enable_audio(1.0)
    assert info.value.code == ErrorNumber.ERROR_WRONG_STATE
    assert s.media_event(AudioLevel("s1", 0.5), 2.0) == [
        Drop(StreamDrop.RELEASED, "audio_level in state RELEASED")
    ]


def test_releasing_the_last_track_releases_the_stream() -> None:
    s = Stream("s1")
    fx = s.release_video(0.0)
    stopped = Emit("stream:s1", "trackStopped", {"type": "video", "id": "s1:video"})
    assert fx == [ReleaseTrack("s1", "video"), stopped]
    assert s.state is StreamState.LIVE and not s.has_video()
    fx = s.release_audio(1.0)
    assert s.released
    assert _events(fx)[-1] == ("stream:s1", "stopped")


def test_the_last_track_ending_stops_the_stream() -> None:
    s = Stream("s1", video=False)
    fx = s.media_event(StreamTrackEnded("s1", "audio", "t7"), 0.0)
    assert fx == [
        Emit("stream:s1", "trackStopped", {"type": "audio", "id": "t7"}),
        Emit("stream:s1", "stopped", {"streamId": "s1", "callId": None}),
    ]
    assert s.released


def test_remote_flow_gives_active_state_change_and_remote_stream_updated() -> None:
    s = Stream("r1", is_remote=True, call_id="c2", conversations={"room": "c2"})
    fx = s.media_event(RemoteFlowChanged("r1", "video", enabled=False), 0.0)
    assert _events(fx) == [
        ("stream:r1", "remoteVideoFlowStatusChanged"),
        ("stream:r1", "activeStateChange"),
        ("stream:r1", "muteStateChange"),
        ("conversation:room", "remoteStreamUpdated"),
    ]
    active = fx[1]
    assert isinstance(active, Emit)
    assert active.payload == {"streamId": "r1", "callId": "c2", "type": "video", "active": False}
    assert s.media_event(RemoteFlowChanged("r1", "video", enabled=False), 1.0) == []


def test_a_remote_stream_switch_sends_no_track_command() -> None:
    s = Stream("r1", is_remote=True)
    assert not any(isinstance(e, SetStreamTrackEnabled) for e in s.disable_video(0.0))
    assert not any(isinstance(e, ReleaseMedia) for e in s.release(1.0))


@given(level=st.floats(allow_nan=True, allow_infinity=True), threshold=st.floats(0, 100))
def test_audio_level_gives_amplitude_in_0_100_and_speaking_by_threshold(
    level: float, threshold: float
) -> None:
    s = Stream("s1", speaking_threshold=threshold)
    fx = s.media_event(AudioLevel("s1", level), 0.0)
    amplitude = fx[0].payload  # type: ignore[attr-defined]
    assert 0.0 <= amplitude <= 100.0
    assert fx[1].payload == {"amplitude": amplitude, "isSpeaking": amplitude >= threshold}  # type: ignore[attr-defined]


def test_constraints_are_applied_then_reported() -> None:
    s = Stream("s1")
    assert s.apply_constraints(0.0, {"width": 640}) == [ApplyConstraints("s1", {"width": 640})]
    fx = s.media_event(ConstraintsApplied("s1", {"width": 640}), 1.0)
    assert fx == [Emit("stream:s1", "constraintsChanged", {"width": 640})]
    with pytest.raises(RtcError):
        s.apply_constraints(2.0, "wide")  # type: ignore[arg-type]


def test_a_report_for_an_unknown_kind_is_dropped() -> None:
    s = Stream("s1")
    assert s.media_event(StreamTrackMuted("s1", "data", True), 0.0)[0].reason is (  # type: ignore[attr-defined]
        StreamDrop.NO_SUCH_TRACK
    )
    s.release_video(1.0)
    fx = s.media_event(StreamTrackMuted("s1", "video", True), 2.0)
    assert [type(e) for e in fx] == [Drop]


def test_muted_report_changes_flow_status_once() -> None:
    s = Stream("s1")
    fx = s.media_event(StreamTrackMuted("s1", "video", True), 0.0)
    flows = [("stream:s1", "flowStatusChanged"), ("stream:s1", "videoFlowStatusChanged")]
    assert _events(fx) == flows
    assert s.is_video_muted() and s.info()["isVideoMuted"]
    assert s.media_event(StreamTrackMuted("s1", "video", True), 1.0) == []
