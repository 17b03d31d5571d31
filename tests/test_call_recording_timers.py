"""A 1-1 call's recording bounds live in the core (rtcstate.call): ``startRecording`` arms
``call:<id>:recording_start`` (10 s) and ``stopRecording`` ``call:<id>:recording_stop`` (5 s);
the report that confirms each cancels it and settles the application's promise with a
``RecordingOutcome``; a start not confirmed in time is rejected with 11 (and whatever began is
stopped), a stop without the file resolves with the last info, a failure rejects with 12, and
a call that ends settles what is pending. No timer decision is left to the adapter."""

from __future__ import annotations

from typing import Any

from calltools import Net
from test_call_codes import A, B, established

from rtcstate import media
from rtcstate.call import Call
from rtcstate.codes import ErrorNumber
from rtcstate.effects import StopRecording
from rtcstate.recording import RecordingOutcome

INFO = {"mediaId": "m1", "mediaURL": "file:///tmp/m1.webm"}


def _outcomes(net: Net) -> list[tuple[str, int | None, dict[str, Any]]]:
    return [
        (e.command, e.code, dict(e.info)) for e in net[A].log if isinstance(e, RecordingOutcome)
    ]


def _timers(net: Net, call: Call) -> set[str]:
    return {t for t in net[A].timers if t.startswith(f"call:{call.call_id}:recording_")}


def test_confirmed_start_and_stop_settle_at_once_and_disarm() -> None:
    net = Net(A, B)
    a, _ = established(net)
    net.run(A, a.start_recording(net.now))
    assert _timers(net, a) == {f"call:{a.call_id}:recording_start"}
    net.media(A, media.RecordingReport(a.call_id, "started", INFO))
    assert _timers(net, a) == set()
    net.run(A, a.stop_recording(net.now))
    assert _timers(net, a) == {f"call:{a.call_id}:recording_stop"}
    net.media(A, media.RecordingReport(a.call_id, "stopped", INFO))
    net.media(A, media.RecordingReport(a.call_id, "available", INFO))
    full = {"callId": a.call_id, **INFO}
    assert _outcomes(net) == [("start", None, full), ("stop", None, full)]
    assert _timers(net, a) == set()
    assert all(o.target == a.target for o in net[A].log if isinstance(o, RecordingOutcome))


def test_a_start_not_confirmed_in_10_s_is_rejected_timed_out() -> None:
    net = Net(A, B)
    a, _ = established(net)
    t0 = net.now
    net.run(A, a.start_recording(net.now))
    net.advance(t0 + 9.9)
    assert _outcomes(net) == []
    net.advance(t0 + 10.1)
    assert [(c, code) for c, code, _ in _outcomes(net)] == [("start", ErrorNumber.ERROR_TIMED_OUT)]
    assert StopRecording(a.call_id) in net[A].log and not a._recording
    # a late report settles nothing more; a new start is allowed
    net.media(A, media.RecordingReport(a.call_id, "started", INFO))
    assert len(_outcomes(net)) == 1
    net.run(A, a.start_recording(net.now))


def test_a_stop_without_the_file_resolves_after_5_s_with_the_last_info() -> None:
    net = Net(A, B)
    a, _ = established(net)
    net.run(A, a.start_recording(net.now))
    net.media(A, media.RecordingReport(a.call_id, "started", INFO))
    t0 = net.now
    net.run(A, a.stop_recording(net.now))
    net.advance(t0 + 4.9)
    assert len(_outcomes(net)) == 1
    net.advance(t0 + 5.1)
    assert _outcomes(net)[-1] == ("stop", None, {"callId": a.call_id, **INFO})
    assert _timers(net, a) == set()


def test_a_failure_rejects_the_pending_command_with_12() -> None:
    net = Net(A, B)
    a, _ = established(net)
    net.run(A, a.start_recording(net.now))
    net.media(A, media.RecordingReport(a.call_id, "failed", {"reason": "disk"}))
    assert [(c, code) for c, code, _ in _outcomes(net)] == [
        ("start", ErrorNumber.ERROR_STREAM_RECORD)
    ]
    assert _timers(net, a) == set()


def test_an_ending_call_settles_what_is_pending_and_leaves_no_timer() -> None:
    net = Net(A, B)
    a, _ = established(net)
    net.run(A, a.start_recording(net.now))
    net.run(A, a.hangup(net.now))
    assert [(c, code) for c, code, _ in _outcomes(net)] == [
        ("start", ErrorNumber.ERROR_STREAM_RECORD)
    ]
    assert _timers(net, a) == set()
    net.advance(net.now + 20.0)
    assert len(_outcomes(net)) == 1
