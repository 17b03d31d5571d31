"""A conversation's recording wired into a real session (rtcstate.conversation.slots
``RecordingSlot``): the adapter's reports (named by the recorded stream's id) and apiRTC's 10 s
start / 5 s stop timers are routed by the session to the recording, which settles the
application's promise with a ``RecordingOutcome``; the slot is gone once it is idle."""

from __future__ import annotations

from typing import Any

import pytest

from rtcstate.codes import ErrorNumber
from rtcstate.conversation import Conversation, ConversationState
from rtcstate.conversation.slots import ROUTE as CALL_ROUTE
from rtcstate.conversation.slots import RecordingSlot
from rtcstate.effects import StartRecording, StopRecording
from rtcstate.errors import RtcError
from rtcstate.media import RecordingReport
from rtcstate.recording import RecordingOutcome, RecordingState
from rtcstate.session import SessionConfig
from rtcstate.stream import Stream
from rtcstate.testing.network import Client, SimNetwork

ROOM = "rec"
URL = {"mediaURL": "file:///tmp/cam-a-1.webm", "recordedFileName": "cam-a-1.webm"}


def _published() -> tuple[SimNetwork, Client, Conversation]:
    net = SimNetwork(seed=5)
    alice = net.add_client(SessionConfig("alice"))
    net.run(until=1.0)
    conv = alice.session.get_conversation(ROOM)
    net.command(alice, 1.0, conv.join, "join")
    net.run(until=2.0)
    assert conv.state is ConversationState.JOINED
    net.command(alice, 2.0, lambda now: conv.publish(now, Stream("cam-a")), "publish")
    net.run(until=3.0)
    return net, alice, conv


def _do(net: SimNetwork, alice: Client, at: float, action: Any, label: str) -> None:
    net.command(alice, at, action, label)
    net.run(until=at + 0.1)


def _report(net: SimNetwork, alice: Client, at: float, status: str, info: Any = None) -> None:
    event = RecordingReport("cam-a", status, info or {})
    _do(net, alice, at, lambda now: alice.session.media_event(event, now), status)


def _outcomes(alice: Client) -> list[RecordingOutcome]:
    return [e for _, e in alice.effects if isinstance(e, RecordingOutcome)]


def _events(alice: Client) -> list[tuple[str, dict[str, Any]]]:
    where = f"conversation:{ROOM}"
    return [
        (e.event, e.payload) for e in alice.emits if e.target == where and "ecording" in e.event
    ]


def _recording_timers(alice: Client) -> set[str]:
    return {t for t in alice.session.armed_timers() if t.startswith("conversationCall:cam-a:")}


def test_start_stop_available_through_the_session() -> None:
    net, alice, conv = _published()
    _do(net, alice, 4.0, conv.start_recording, "start")
    assert alice.media_commands(StartRecording) == [StartRecording("cam-a")]
    assert isinstance(alice.session.child(CALL_ROUTE, "cam-a"), RecordingSlot)
    assert _recording_timers(alice) == {"conversationCall:cam-a:start"}
    _report(net, alice, 5.0, "started", URL)
    assert _recording_timers(alice) == set()
    _do(net, alice, 6.0, conv.stop_recording, "stop")
    assert alice.media_commands(StopRecording) == [StopRecording("cam-a")]
    assert _recording_timers(alice) == {"conversationCall:cam-a:stop"}
    _report(net, alice, 7.0, "stopped", URL)
    _report(net, alice, 7.5, "available", URL)
    names = [name for name, _ in _events(alice)]
    assert names == ["recordingStarted", "recordingStopped", "recordingAvailable"]
    info = _events(alice)[-1][1]
    assert info["mediaURL"] == URL["mediaURL"] and info["mediaId"] == "cam-a"
    assert info["roomName"] == ROOM and info["recordType"] == "conversation"
    assert [(o.command, o.code) for o in _outcomes(alice)] == [("start", None), ("stop", None)]
    # idle again: the slot is gone, no timer left, and a new recording attaches a new slot
    assert alice.session.child(CALL_ROUTE, "cam-a") is None and _recording_timers(alice) == set()
    _do(net, alice, 8.0, conv.start_recording, "start again")
    assert isinstance(alice.session.child(CALL_ROUTE, "cam-a"), RecordingSlot)
    assert net.errors() == []


def test_start_not_confirmed_within_10_s_is_rejected_timed_out() -> None:
    net, alice, conv = _published()
    _do(net, alice, 4.0, conv.start_recording, "start")
    net.run(until=13.9)
    assert _outcomes(alice) == []
    net.run(until=14.1)
    (outcome,) = _outcomes(alice)
    assert outcome.command == "start" and outcome.code == ErrorNumber.ERROR_TIMED_OUT
    assert conv.media.recordings["cam-a"].state is RecordingState.IDLE
    assert alice.media_commands(StopRecording) == [StopRecording("cam-a")]
    assert alice.session.child(CALL_ROUTE, "cam-a") is None
    # a report after the timeout reaches nothing and raises nothing
    _report(net, alice, 15.0, "started", URL)
    assert len(_outcomes(alice)) == 1 and net.errors() == []


def test_stop_without_the_file_resolves_after_5_s_with_the_last_info() -> None:
    net, alice, conv = _published()
    _do(net, alice, 4.0, conv.start_recording, "start")
    _report(net, alice, 4.5, "started", URL)
    _do(net, alice, 6.0, conv.stop_recording, "stop")
    net.run(until=10.9)
    assert len(_outcomes(alice)) == 1
    net.run(until=11.1)
    stop = _outcomes(alice)[-1]
    assert stop.command == "stop" and stop.code is None
    assert stop.info["mediaURL"] == URL["mediaURL"]
    assert alice.session.child(CALL_ROUTE, "cam-a") is None and _recording_timers(alice) == set()


@pytest.mark.parametrize("when", ["nothing published", "already on", "stop not started"])
def test_misuse_raises_12_and_changes_nothing(when: str) -> None:
    net, alice, conv = _published()
    if when == "nothing published":
        conv = alice.session.get_conversation("other")
        command = conv.start_recording
    elif when == "already on":
        _do(net, alice, 4.0, conv.start_recording, "start")
        command = conv.start_recording
    else:
        command = conv.stop_recording
    before = {k: r.state for k, r in conv.media.recordings.items()}
    with pytest.raises(RtcError) as raised:
        command(5.0)
    assert raised.value.code == ErrorNumber.ERROR_STREAM_RECORD
    assert {k: r.state for k, r in conv.media.recordings.items()} == before
