"""The session routes stream-level media reports (route ``stream_id``) to the streams the
application created, attached under that route; unknown or released streams' reports drop."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from rtcstate.conversation import ConversationState
from rtcstate.effects import Drop, Effect, Emit
from rtcstate.session import ROUTE_KINDS, Session, SessionConfig
from rtcstate.session_connection import SessionDrop
from rtcstate.stream import (
    AudioLevel,
    ConstraintsApplied,
    RemoteFlowChanged,
    Stream,
    StreamDrop,
    StreamTrackEnded,
    StreamTrackMuted,
)
from rtcstate.testing.network import Client, SimNetwork

SID = "stream-1"


def _session_with(stream: Stream) -> Session:
    s = Session(SessionConfig("alice", device="d1"))
    s.attach("stream_id", stream.stream_id, stream)
    return s


def _emits(fx: list[Effect], event: str) -> list[Any]:
    return [e.payload for e in fx if isinstance(e, Emit) and e.event == event]


def test_stream_id_is_a_route_of_the_session() -> None:
    assert ROUTE_KINDS["stream_id"] == "stream"


@given(level=st.floats(0, 1, allow_nan=False))
def test_a_reported_level_gives_audio_amplitude(level: float) -> None:
    stream = Stream(SID)
    s = _session_with(stream)
    fx = s.media_event(AudioLevel(SID, level), 1.0)
    assert _emits(fx, "audioAmplitude") == [round(level * 100.0, 1)]
    info = _emits(fx, "audioAmplitudeInfo")
    assert info == [{"amplitude": round(level * 100, 1), "isSpeaking": stream.speaking}]
    assert all(e.target == "stream:" + SID for e in fx if isinstance(e, Emit))


def test_a_stopped_track_gives_track_stopped_and_the_last_one_detaches() -> None:
    stream = Stream(SID)
    s = _session_with(stream)
    fx = s.media_event(StreamTrackEnded(SID, "audio", "t-a"), 1.0)
    assert _emits(fx, "trackStopped") == [{"type": "audio", "id": "t-a"}]
    assert s.child("stream_id", SID) is stream and not stream.has_audio()
    fx = s.media_event(StreamTrackEnded(SID, "video"), 2.0)
    assert _emits(fx, "trackStopped") == [{"type": "video", "id": f"{SID}:video"}]
    assert _emits(fx, "stopped") == [{"streamId": SID, "callId": None}]
    assert stream.released and s.child("stream_id", SID) is None
    late = s.media_event(AudioLevel(SID, 0.5), 3.0)
    assert [type(e) for e in late] == [Drop] and late[0].reason is SessionDrop.UNKNOWN_ID  # type: ignore[attr-defined]


def test_mute_and_constraints_reports_reach_the_stream() -> None:
    stream = Stream(SID)
    s = _session_with(stream)
    fx = s.media_event(StreamTrackMuted(SID, "video", True), 1.0)
    assert _emits(fx, "videoFlowStatusChanged") == [{"enabled": True, "muted": True}]
    fx = s.media_event(ConstraintsApplied(SID, {"width": 320}), 2.0)
    assert _emits(fx, "constraintsChanged") == [{"width": 320}]
    assert stream.constraints == {"width": 320}


def test_a_stream_released_by_the_app_is_detached_at_its_next_report() -> None:
    stream = Stream(SID)
    s = _session_with(stream)
    stream.release(1.0)
    fx = s.media_event(AudioLevel(SID, 0.5), 2.0)
    assert [type(e) for e in fx] == [Drop] and fx[0].reason is StreamDrop.RELEASED  # type: ignore[attr-defined]
    assert s.child("stream_id", SID) is None


@given(sid=st.text(min_size=1, max_size=8), level=st.floats(allow_nan=True))
def test_reports_for_unknown_streams_drop_and_never_raise(sid: str, level: float) -> None:
    assume(sid != SID)
    s = _session_with(Stream(SID))
    fx = s.media_event(AudioLevel(sid, level), 1.0)
    assert len(fx) == 1 and isinstance(fx[0], Drop) and fx[0].reason is SessionDrop.UNKNOWN_ID


def test_a_stream_child_ignores_wire_timers_and_connection_changes() -> None:
    stream = Stream(SID)
    assert stream.on_disconnected(1.0) == [] and stream.on_reconnected(1.0) == []
    (drop,) = stream.timer_fired("x", 1.0)
    assert isinstance(drop, Drop) and drop.reason is StreamDrop.UNEXPECTED
    assert stream.state.value == "live"


# --- streams held by a conversation (published or received there), through real sessions ---

ROOM = "mesh"


def _room_with_stream() -> tuple[SimNetwork, Client, Client, Stream]:
    net = SimNetwork(seed=5)
    alice, bob = (net.add_client(SessionConfig(u)) for u in ("alice", "bob"))
    net.run(until=1.0)
    convs = []
    for at, client in ((1.0, alice), (2.0, bob)):
        conv = client.session.get_conversation(ROOM)
        net.command(client, at, conv.join, "join")
        net.run(until=at + 1.0)
        assert conv.state is ConversationState.JOINED
        convs.append(conv)
    a, b = convs
    cam = Stream("cam-a")
    net.command(alice, 4.0, lambda now: a.publish(now, cam), "publish")
    net.run(until=5.0)
    net.command(bob, 6.0, lambda now: b.subscribe_to_stream(now, "cam-a"), "subscribe")
    net.run(until=9.0)
    assert "cam-a" in b.media.remote_streams and a.holds_stream("cam-a")
    return net, alice, bob, cam


def _stream_emits(fx: list[Effect], event: str) -> list[Any]:
    return [e.payload for e in fx if isinstance(e, Emit) and e.event == event]


def test_reports_about_a_rooms_streams_reach_them_through_the_session() -> None:
    _net, alice, bob, cam = _room_with_stream()
    # the publisher's stream (not attached: the room holds it)
    fx = alice.session.media_event(AudioLevel("cam-a", 0.3), 10.0)
    assert _stream_emits(fx, "audioAmplitude")[0] == 30.0
    fx = alice.session.media_event(StreamTrackMuted("cam-a", "audio", True), 10.0)
    assert _stream_emits(fx, "audioFlowStatusChanged") == [{"enabled": True, "muted": True}]
    assert cam.is_audio_muted()
    # the subscriber's remote stream: the far side's switch
    fx = bob.session.media_event(RemoteFlowChanged("cam-a", "video", False), 10.0)
    (active,) = _stream_emits(fx, "activeStateChange")
    assert active["active"] is False and active["type"] == "video"
    assert _stream_emits(fx, "remoteStreamUpdated")[0]["videoMuted"] is True
    # a stream no room holds
    (drop,) = bob.session.media_event(AudioLevel("cam-z", 0.3), 10.0)
    assert isinstance(drop, Drop) and drop.reason is SessionDrop.UNKNOWN_ID
