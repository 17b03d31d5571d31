"""Every seed hangup reason, every call error code and every Call / invitation / session call
event, each produced where it belongs through the public inputs (commands, the relay, media
reports, timers), with the payload fields the seed names.

Each scenario is a test; the last test runs them all again and compares what they produced with
the required lists, so a reason, code or event that no scenario produces fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from calltools import Device, Net

from rtcstate import media, wire
from rtcstate.call import Call, CallState
from rtcstate.codes import (
    SEED_EVENTS,
    SEED_HANGUP_REASONS,
    CallStatus,
    CallType,
    DesktopCaptureEvent,
    ErrorCode,
    ErrorNumber,
    HangupReason,
    InvitationStatus,
)
from rtcstate.effects import (
    SESSION,
    AcquireMedia,
    CreateOffer,
    Effect,
    Emit,
    PublishStream,
    ReleaseMedia,
    RestartIce,
    Send,
    StartRecording,
    StopRecording,
    target,
)
from rtcstate.invitation import InvitationState, ReceivedCallInvitationState, SentInvitation
from rtcstate.settings import OPTION_CODES, CallSettings, ParameterError

A = "alice/d1"
B = "bob/d1"
R = HangupReason

SCENARIOS: list[Callable[[], None]] = []
RAISED: list[list[ParameterError]] = []  # set by the final test to collect raised errors


def scenario(fn: Callable[[], None]) -> Callable[[], None]:
    SCENARIOS.append(fn)
    return fn


def on(call: Call) -> str:
    return target("call", call.call_id)


def ring(net: Net, caller: str = A, callee: str = "bob", **kw: Any) -> tuple[Call, Call | None]:
    """``caller`` calls ``callee``; returns its Call and the callee device's (if it rings)."""
    call = net.call(caller, callee, **kw)
    device = callee if "/" in callee else f"{callee}/d1"
    other = net[device].session.get_call(call.call_id) if device in net.devices else None
    return call, other


def established(net: Net, caller: str = A, callee: str = B, **kw: Any) -> tuple[Call, Call]:
    call, other = ring(net, caller, callee.partition("/")[0], **kw)
    assert other is not None and other.invitation is not None
    if other.state is CallState.RINGING:
        net.run(callee, other.invitation.accept(net.now))
    assert call.state is CallState.CONNECTED and other.state is CallState.CONNECTED
    return call, other


def errors(dev: Device, where: str | None = None) -> list[dict[str, Any]]:
    return [p for p in dev.payloads("error", where)]


def codes(dev: Device, where: str | None = None) -> list[str]:
    return [p["errorCode"] for p in errors(dev, where)]


def hangups(dev: Device, call: Call) -> list[dict[str, str]]:
    return dev.payloads("hangup", on(call))


def assert_error_payload(payload: dict[str, Any], code: ErrorCode) -> None:
    assert payload["errorCode"] == code.value
    assert payload["errorInfo"] == code.info
    assert isinstance(payload["descriptor"], dict)


def assert_ended(*calls: Call) -> None:
    for call in calls:
        assert call.state is CallState.ENDED
        assert call.status is CallStatus.CALL_STATUS_ENDED
        assert call.session.get_call(call.call_id) is None
        assert not any(t.startswith(f"call:{call.call_id}:") for t in call.session.armed_timers())


def add_tracks(net: Net, device: str, call: Call, stream: str = "far-cam") -> None:
    net.media(device, media.TrackAdded(call.call_id, f"{stream}-a", "audio", stream))
    net.media(device, media.TrackAdded(call.call_id, f"{stream}-v", "video", stream))


# --- the 14 seed hangup reasons ---------------------------------------------------------------


@scenario
def test_hangup_from_caller_and_the_remote_side_sees_streams_removed_first() -> None:
    net = Net(A, B)
    a, b = established(net)
    add_tracks(net, B, b)
    assert [p["streamId"] for p in net[B].payloads("streamAdded", on(b))] == ["far-cam"]
    net.run(A, a.hangup(net.now))
    assert hangups(net[A], a) == [{"from": "local", "reason": R.HANGUP_FROM_CALLER.value}]
    assert hangups(net[B], b) == [{"from": "remote", "reason": R.HANGUP_FROM_CALLER.value}]
    tail = [e.event for e in net[B].emitted(on=on(b))][-2:]
    assert tail == ["streamRemoved", "hangup"]
    assert net[B].payloads("streamRemoved", on(b))[0]["streamId"] == "far-cam"
    assert net[A].payloads("declined") == []  # the call had been answered
    assert_ended(a, b)


@scenario
def test_hangup_from_callee() -> None:
    net = Net(A, B)
    a, b = established(net)
    net.run(B, b.hangup(net.now))
    assert hangups(net[B], b) == [{"from": "local", "reason": R.HANGUP_FROM_CALLEE.value}]
    assert hangups(net[A], a) == [{"from": "remote", "reason": R.HANGUP_FROM_CALLEE.value}]
    assert_ended(a, b)


@scenario
def test_user_refused_call_declined_response_and_invitation_status() -> None:
    net = Net(A, B)
    a, b = ring(net)
    assert b is not None and b.invitation is not None
    inv = b.invitation
    net.run(B, inv.decline(net.now))
    reason = R.USER_REFUSED_CALL.value
    assert [e.event for e in net[A].emitted(on=on(a))][-3:] == ["hangup", "declined", "response"]
    assert hangups(net[A], a) == [{"from": "remote", "reason": reason}]
    assert net[A].payloads("declined", on(a)) == [{"reason": reason}]
    assert net[A].payloads("response", on(a)) == ["declined"]
    assert hangups(net[B], b) == [{"from": "local", "reason": reason}]
    changes = net[B].payloads("statusChange", target("invitation", inv.id))
    assert changes == [{"status": InvitationStatus.INVITATION_STATUS_DECLINED.value, "id": inv.id}]
    assert inv.status is InvitationStatus.INVITATION_STATUS_DECLINED
    assert_ended(a, b)


@scenario
def test_user_busy_when_multiple_calls_are_disallowed_screen_sharing_exempt() -> None:
    net = Net(A, B, "carol/d1")
    net[B].session.set_option("allow_multiple_calls", False)
    established(net, "carol/d1", B)
    a, b = ring(net)
    assert b is None  # refused before reaching the application
    assert net[B].payloads("incomingCall", SESSION) != [] and all(
        inv.call.contact == "carol" for inv in net[B].payloads("incomingCall", SESSION)
    )
    assert hangups(net[A], a) == [{"from": "remote", "reason": R.USER_BUSY.value}]
    assert net[A].payloads("declined", on(a)) == [{"reason": R.USER_BUSY.value}]
    assert net[A].payloads("response", on(a)) == ["declined"]
    assert_ended(a)
    # a screen-sharing call is exempt: it is accepted at once
    shared, theirs = ring(net, callee="bob", call_type=CallType.SCREEN_SHARING)
    assert theirs is not None and shared.state is CallState.CONNECTED
    assert net[B].payloads("incomingScreenSharingCall", SESSION) == [theirs]


def _fail_media(error: str = "NotAllowedError") -> Callable[[AcquireMedia], media.MediaEvent]:
    return lambda e: media.MediaFailed(e.request_id, error)


@scenario
def test_user_media_error_on_an_audio_call_cannot_retry() -> None:
    net = Net(A, B)
    net[A].on_acquire = _fail_media()
    a, b = ring(net, call_type=CallType.AUDIO)
    assert b is None and net[A].sent(wire.Invite) == []  # nothing reached bob
    assert net[A].payloads("userMediaError", on(a)) == [
        {
            "onCallEstablishment": True, "callType": "audio", "error": "NotAllowedError",
            "userMediaStreamId": a.call_id, "tryAudioCallActivated": False,
        }
    ]  # fmt: skip
    (err,) = errors(net[A], on(a))
    assert_error_payload(err, ErrorCode.USER_MEDIA_ERROR)
    assert hangups(net[A], a) == [{"from": "local", "reason": R.USER_MEDIA_ERROR.value}]
    assert_ended(a)


@scenario
def test_user_media_error_on_the_callee_ends_the_call_for_the_caller() -> None:
    net = Net(A, B, bob_d1=CallSettings(try_audio_only_after_user_media_error=False))
    net[B].on_acquire = _fail_media("NotFoundError")
    a, b = ring(net)
    assert b is not None and b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    (ume,) = net[B].payloads("userMediaError", on(b))
    assert ume["tryAudioCallActivated"] is False and ume["callType"] == "media"
    assert codes(net[B], on(b)) == [ErrorCode.USER_MEDIA_ERROR.value]
    assert hangups(net[B], b) == [{"from": "local", "reason": R.USER_MEDIA_ERROR.value}]
    assert hangups(net[A], a) == [{"from": "remote", "reason": R.USER_MEDIA_ERROR.value}]
    assert net[A].payloads("declined", on(a)) == [{"reason": R.USER_MEDIA_ERROR.value}]
    assert_ended(a, b)


@scenario
def test_user_media_error_retries_audio_only_then_gives_up() -> None:
    net = Net(A, B)
    net[A].on_acquire = _fail_media()
    a, _ = ring(net)
    requests = [e for e in net[A].log if isinstance(e, AcquireMedia)]
    assert [(r.audio, r.video) for r in requests] == [(True, True), (True, False)]
    tries = [p["tryAudioCallActivated"] for p in net[A].payloads("userMediaError", on(a))]
    assert tries == [True, False]
    assert hangups(net[A], a) == [{"from": "local", "reason": R.USER_MEDIA_ERROR.value}]
    assert_ended(a)


@scenario
def test_user_media_error_retry_audio_only_succeeds() -> None:
    net = Net(A, B)
    failed: list[AcquireMedia] = []

    def once(e: AcquireMedia) -> media.MediaEvent:
        if not failed:
            failed.append(e)
            return media.MediaFailed(e.request_id, "OverconstrainedError")
        return media.MediaAcquired(e.request_id, "mic-only", video=False)

    net[A].on_acquire = once
    a, b = established(net)
    (ume,) = net[A].payloads("userMediaError", on(a))
    assert ume["tryAudioCallActivated"] is True and ume["error"] == "OverconstrainedError"
    assert a.audio_only and a.stream_id == "mic-only"
    (local,) = net[A].payloads("localStreamAvailable", on(a))
    assert local["hasVideo"] is False and local["hasAudio"] is True
    assert hangups(net[A], a) == [] and b.status is CallStatus.CALL_STATUS_ONGOING


@scenario
def test_user_not_found_from_the_server() -> None:
    net = Net(A, B)
    net[B].auto_ice = False
    net[B].on_acquire = lambda e: None  # bob's media never arrives: alice stays INVITING
    a, b = ring(net)
    assert b is not None and b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    assert a.state is CallState.INVITING
    net.deliver(A, wire.Envelope(wire.UserNotFound(ref_id=a.call_id, user="bob"), A, None))
    reason = R.USER_NOT_FOUND.value
    assert hangups(net[A], a) == [{"from": "remote", "reason": reason}]
    assert net[A].payloads("declined", on(a)) == [{"reason": reason}]
    assert_ended(a)
    # the relay itself answers an invite for a user nobody is registered as
    c = net.call(A, "nobody")
    assert hangups(net[A], c) == [{"from": "remote", "reason": reason}]
    assert net[A].payloads("declined", on(c)) == [{"reason": reason}]
    assert_ended(c)


@scenario
def test_ice_disconnected_warnings_timeout_and_distant_error() -> None:
    net = Net(A, B)
    a, b = established(net)
    net[A].auto_ice = net[B].auto_ice = False
    net.now = 100.0
    net.media(A, media.IceStateChanged(a.call_id, "disconnected"))
    (first,) = net[A].timeline("error", on(a))
    assert first[0] == 100.0
    assert_error_payload(first[1], ErrorCode.ICE_CONNECTION_STATE_DISCONNECTED)
    assert first[1]["descriptor"]["iceState"] == "disconnected"
    (distant, *_) = errors(net[B], on(b))
    assert_error_payload(distant, ErrorCode.DISTANT_ICE_CONNECTION_STATE_DISCONNECTED)
    assert a.status is CallStatus.CALL_STATUS_ONGOING  # reconnecting, still ongoing
    net.advance(139.9)
    warnings = net[A].timeline("disconnectionWarning", on(a))
    assert warnings == [(t, {"tries": n}) for n, t in enumerate([102.0, 111, 120, 129, 138], 1)]
    assert hangups(net[A], a) == []
    net.advance(140.0)
    assert hangups(net[A], a) == [{"from": "local", "reason": R.ICE_DISCONNECTED.value}]
    assert net[A].timeline("hangup", on(a))[0][0] == 140.0
    assert hangups(net[B], b) == [{"from": "remote", "reason": R.ICE_DISCONNECTED.value}]
    assert codes(net[B], on(b))[-1] == ErrorCode.DISTANT_ICE_CONNECTION_STATE_DISCONNECTED.value
    assert sum(isinstance(e, RestartIce) for e in net[A].log) == 1  # the caller tried once
    assert_ended(a, b)
    net.advance(400.0)  # nothing fires after the end
    assert len(net[A].payloads("disconnectionWarning", on(a))) == 5
    assert net[A].timers == {} and net[B].timers == {}


@scenario
def test_ice_failed_after_every_restart_failed() -> None:
    net = Net(A, B)
    a, b = established(net)
    net[A].auto_ice = net[B].auto_ice = False
    for _ in range(3):
        net.media(A, media.IceStateChanged(a.call_id, "failed"))
    assert sum(isinstance(e, RestartIce) for e in net[A].log) == 2
    assert [e.ice_restart for e in net[A].log if isinstance(e, CreateOffer)] == [
        False, True, True,
    ]  # fmt: skip
    failed = [p for p in errors(net[A], on(a))]
    assert len(failed) == 3
    for p in failed:
        assert_error_payload(p, ErrorCode.ICE_CONNECTION_STATE_FAILED)
    assert hangups(net[A], a) == [{"from": "local", "reason": R.ICE_FAILED.value}]
    assert hangups(net[B], b) == [{"from": "remote", "reason": R.ICE_FAILED.value}]
    assert ErrorCode.DISTANT_ICE_CONNECTION_STATE_FAILED.value in codes(net[B], on(b))
    assert_ended(a, b)


@scenario
def test_disconnected_when_the_server_stays_lost_beyond_the_window() -> None:
    net = Net(A, B)
    a, b = established(net)
    add_tracks(net, A, a)
    net.now = 10.0
    net.lose_server(A)
    assert a.state is CallState.CONNECTED  # losing the server does not end a call
    net.advance(39.9)
    assert hangups(net[A], a) == []
    net.advance(40.0)
    assert hangups(net[A], a) == [{"from": "local", "reason": R.DISCONNECTED.value}]
    assert [e.event for e in net[A].emitted(on=on(a))][-2:] == ["streamRemoved", "hangup"]
    assert b.state is CallState.CONNECTED  # nothing could reach bob
    # ENDED for the application; the bye waits one more window for a reconnection
    assert a.status.value == "CALL_STATUS_ENDED" and a.state is CallState.ENDING
    net.advance(70.0)
    assert_ended(a)
    assert hangups(net[A], a) == [{"from": "local", "reason": R.DISCONNECTED.value}]  # once


def test_the_far_side_hears_disconnected_once_the_session_reconnects() -> None:
    net = Net(A, B)
    _, b = established(net)
    net.now = 10.0
    net.lose_server(A)
    net.advance(40.0)
    net[A].reachable = True
    net.advance(400.0)
    assert net[A].session.state.name == "CONNECTED"
    assert hangups(net[B], b) == [{"from": "remote", "reason": R.DISCONNECTED.value}]


@scenario
def test_a_short_server_loss_keeps_the_call_and_renegotiates() -> None:
    net = Net(A, B)
    a, b = established(net)
    net.now = 10.0
    net.lose_server(A)
    net[A].reachable = True
    net.advance(20.0)
    assert net[A].session.state.name == "CONNECTED"
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    assert [e.ice_restart for e in net[A].log if isinstance(e, CreateOffer)] == [False, True]
    assert hangups(net[A], a) == [] and hangups(net[B], b) == []
    assert not any(t.endswith(":server_loss") for t in net[A].session.armed_timers())


@scenario
def test_stop_screen_sharing_when_the_local_screen_track_ends() -> None:
    net = Net(A, B)
    a, b = established(net, call_type=CallType.SCREEN_SHARING)
    assert net[B].payloads("incomingScreenSharingCall", SESSION) == [b]
    assert net[B].payloads("incomingCall", SESSION) == []
    net.media(A, media.TrackEnded(a.call_id, "screen", "video", remote=False))
    reason = R.STOP_SCREEN_SHARING.value
    assert hangups(net[A], a) == [{"from": "local", "reason": reason}]
    assert hangups(net[B], b) == [{"from": "remote", "reason": reason}]
    assert_ended(a, b)


@scenario
def test_screen_sharing_invitation_when_the_user_accepts_screen_sharing() -> None:
    net = Net(A, B)
    net[B].session.set_option("user_accept_on_incoming_screen_sharing_call", True)
    a, b = ring(net, call_type=CallType.SCREEN_SHARING_WITH_AUDIO)
    assert b is not None and b.invitation is not None and b.state is CallState.RINGING
    assert net[B].payloads("incomingScreenSharingCallInvitation", SESSION) == [b.invitation]
    assert net[B].payloads("incomingScreenSharingCallInvitation", "contact:alice") == [b.invitation]
    net.run(B, b.invitation.accept(net.now))
    assert a.state is CallState.CONNECTED


CAPABILITY_CASES = [
    (media.Capabilities(data_channels=False), CallType.DATA, R.DATACHANNEL_NOT_SUPPORTED),
    (media.Capabilities(webrtc=False), CallType.MEDIA, R.WEBRTC_PLUGIN_INSTALLATION_NEEDED),
    # data channels need WebRTC too
    (media.Capabilities(webrtc=False), CallType.DATA, R.WEBRTC_PLUGIN_INSTALLATION_NEEDED),
]


@pytest.mark.parametrize(("caps", "call_type", "reason"), CAPABILITY_CASES)
def test_missing_capabilities_refuse_incoming_calls(
    caps: media.Capabilities, call_type: CallType, reason: HangupReason
) -> None:
    net = Net(A, B)
    assert net[B].session.media_event(caps, net.now) == []
    a, b = ring(net, call_type=call_type)
    assert b is None and net[B].payloads("incomingCall") == []
    assert hangups(net[A], a) == [{"from": "remote", "reason": reason.value}]
    assert net[A].payloads("declined", on(a)) == [{"reason": reason.value}]
    assert_ended(a)
    # without data channels a media call still rings; without WebRTC nothing does
    other = CallType.MEDIA if call_type is CallType.DATA else CallType.DATA
    _, d = ring(net, call_type=other)
    if caps.webrtc:
        assert d is not None and d.state is CallState.RINGING
    else:
        assert d is None


for _caps, _kind, _reason in CAPABILITY_CASES:
    scenario(
        lambda c=_caps, k=_kind, r=_reason: test_missing_capabilities_refuse_incoming_calls(c, k, r)
    )


@scenario
def test_call_take_on_other_device() -> None:
    net = Net(A, "bob/d1", "bob/d2")
    a = net.call(A, "bob")
    one = net["bob/d1"].session.get_call(a.call_id)
    two = net["bob/d2"].session.get_call(a.call_id)
    assert one is not None and two is not None and one.invitation and two.invitation
    inv2 = two.invitation
    net.run("bob/d1", one.invitation.accept(net.now))
    take = R.CALL_TAKE_ON_OTHER_DEVICE.value
    assert hangups(net["bob/d2"], two) == [{"from": "remote", "reason": take}]
    assert inv2.state is ReceivedCallInvitationState.EXPIRED
    inv_target = target("invitation", inv2.id)
    assert net["bob/d2"].payloads("statusChange", inv_target) == [
        {"status": InvitationStatus.INVITATION_STATUS_EXPIRED.value, "id": inv2.id}
    ]
    assert net["bob/d2"].payloads("expired", inv_target) == [None]
    assert a.state is CallState.CONNECTED and one.state is CallState.CONNECTED
    assert a.remote == "bob/d1"
    assert hangups(net[A], a) == []
    assert_ended(two)


@scenario
def test_bye_on_other_device() -> None:
    net = Net(A, "bob/d1", "bob/d2")
    a = net.call(A, "bob")
    one = net["bob/d1"].session.get_call(a.call_id)
    two = net["bob/d2"].session.get_call(a.call_id)
    assert one is not None and two is not None and one.invitation and two.invitation
    net.run("bob/d1", one.invitation.decline(net.now))
    assert hangups(net["bob/d2"], two) == [
        {"from": "remote", "reason": R.BYE_ON_OTHER_DEVICE.value}
    ]
    assert two.invitation.state is ReceivedCallInvitationState.EXPIRED
    assert net[A].payloads("declined", on(a)) == [{"reason": R.USER_REFUSED_CALL.value}]
    assert_ended(a, one, two)


# --- error codes ------------------------------------------------------------------------------


@scenario
def test_not_matching_callid_on_200ok() -> None:
    net = Net(A, B)
    net.deliver(A, wire.Envelope(wire.Answer("no-such-call", "sdp"), A, B))
    (err,) = errors(net[A], SESSION)
    assert_error_payload(err, ErrorCode.NOT_MATCHING_CALLID_ON_200OK)
    assert err["descriptor"]["id"] == "no-such-call"


@scenario
def test_call_not_found_on_update_replies_with_a_bye() -> None:
    net = Net(A, B)
    net[B].auto_ice = False
    fx = net.deliver(A, wire.Envelope(wire.Update("gone", "sdp", seq=1), A, B))
    (err,) = errors(net[A], SESSION)
    assert_error_payload(err, ErrorCode.CALL_NOT_FOUND_ON_UPDATE)
    assert Send(B, wire.Bye("gone", R.CALL_NOT_FOUND.value)) in fx


@scenario
def test_call_not_found_on_200update() -> None:
    net = Net(A, B)
    net.deliver(A, wire.Envelope(wire.UpdateOk("gone", "sdp", seq=1), A, B))
    (err,) = errors(net[A], SESSION)
    assert_error_payload(err, ErrorCode.CALL_NOT_FOUND_ON_200UPDATE)


@scenario
def test_set_local_description_failure_on_the_callee() -> None:
    net = Net(A, B)
    net[B].on_describe = lambda e: media.DescriptionFailed(e.call_id, True, "InvalidStateError")
    a, b = ring(net)
    assert b is not None and b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    (err,) = errors(net[B], on(b))
    assert_error_payload(err, ErrorCode.SET_LOCAL_DESCRIPTION_FAILURE)
    reason = R.LOCAL_DESCRIPTION_FAILURE.value
    assert hangups(net[B], b) == [{"from": "local", "reason": reason}]
    assert hangups(net[A], a) == [{"from": "remote", "reason": reason}]
    assert_ended(a, b)


@scenario
def test_set_remote_description_failure_on_the_caller() -> None:
    net = Net(A, B)
    net[A].auto_ice = False
    a, b = ring(net)
    assert b is not None and b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    assert a.state is CallState.CONNECTING
    net.media(A, media.DescriptionFailed(a.call_id, False, "bad answer"))
    (err,) = errors(net[A], on(a))
    assert_error_payload(err, ErrorCode.SET_REMOTE_DESCRIPTION_FAILURE)
    reason = R.REMOTE_DESCRIPTION_FAILURE.value
    assert hangups(net[A], a) == [{"from": "local", "reason": reason}]
    assert hangups(net[B], b) == [{"from": "remote", "reason": reason}]
    assert_ended(a, b)


@scenario
def test_media_update_error_when_an_ice_restart_offer_fails() -> None:
    net = Net(A, B)
    a, b = established(net)
    net[A].auto_ice = net[B].auto_ice = False
    net[A].on_describe = lambda e: media.DescriptionFailed(e.call_id, True, "OperationError")
    net.media(A, media.IceStateChanged(a.call_id, "failed"))  # the caller restarts ICE
    assert [p["errorCode"] for p in errors(net[A], on(a))] == [
        ErrorCode.ICE_CONNECTION_STATE_FAILED.value, ErrorCode.MEDIA_UPDATE_ERROR.value,
    ]  # fmt: skip
    assert_error_payload(errors(net[A], on(a))[-1], ErrorCode.MEDIA_UPDATE_ERROR)
    assert hangups(net[A], a) == [{"from": "local", "reason": R.MEDIA_ERROR.value}]
    assert hangups(net[B], b) == [{"from": "remote", "reason": R.MEDIA_ERROR.value}]
    assert_ended(a, b)


@scenario
def test_media_update_error_when_the_callee_cannot_apply_an_update() -> None:
    net = Net(A, B)
    a, b = established(net)
    net[B].on_describe = lambda e: media.DescriptionFailed(e.call_id, False, "bad offer")
    net.run(A, net[A].session.media_event(media.IceStateChanged(a.call_id, "failed"), net.now))
    (err,) = errors(net[B], on(b))[-1:]
    assert_error_payload(err, ErrorCode.MEDIA_UPDATE_ERROR)
    assert hangups(net[B], b) == [{"from": "local", "reason": R.MEDIA_ERROR.value}]
    assert_ended(a, b)


@scenario
def test_description_failure_during_setup_is_not_a_media_update_error() -> None:
    net = Net(A, B)
    net[A].on_describe = lambda e: media.DescriptionFailed(e.call_id, True, "no codecs")
    a, _ = ring(net)
    assert codes(net[A], on(a)) == [ErrorCode.SET_LOCAL_DESCRIPTION_FAILURE.value]
    assert hangups(net[A], a) == [{"from": "local", "reason": R.LOCAL_DESCRIPTION_FAILURE.value}]
    assert net[A].sent(wire.Invite) == [] and net[A].sent(wire.Bye) == []


@scenario
def test_call_aborted_when_the_invite_is_never_acknowledged() -> None:
    net = Net(A, B)
    net.lose = lambda sender, env: sender == A and isinstance(env.message, wire.Invite)
    a, b = ring(net)
    assert b is None
    net.advance(100.0)
    settings = net[A].session.settings
    assert len(net[A].sent(wire.Invite)) == settings.rtx_attempts
    (err,) = errors(net[A], on(a))
    assert_error_payload(err, ErrorCode.CALL_ABORTED)
    reason = R.UNABLE_TO_ESTABLISH.value
    assert hangups(net[A], a) == [{"from": "local", "reason": reason}]
    # 0.5 s doubling to 4 s: sends at 0, .5, 1.5, 3.5, 7.5, 11.5, 15.5; gives up at 19.5
    assert net[A].timeline("hangup", on(a))[0][0] == 19.5
    assert_ended(a)


@scenario
def test_call_aborted_when_ice_never_connects_and_no_restart_is_left() -> None:
    calls = CallSettings(ice_restart_attempts=0)
    net = Net(A, B, calls=calls)
    net[A].auto_ice = net[B].auto_ice = False
    a, b = ring(net)
    assert b is not None and b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    assert a.state is CallState.CONNECTING
    net.advance(29.9)
    assert hangups(net[A], a) == []
    net.advance(30.0)
    (err,) = errors(net[A], on(a))
    assert_error_payload(err, ErrorCode.CALL_ABORTED)
    reason = R.UNABLE_TO_ESTABLISH.value
    assert hangups(net[A], a) == [{"from": "local", "reason": reason}]
    assert hangups(net[B], b) == [{"from": "remote", "reason": reason}]
    assert net[A].payloads("declined", on(a)) == []  # ended locally: no declined
    assert_ended(a, b)


@scenario
def test_call_aborted_when_ice_never_connects_even_after_a_restart() -> None:
    net = Net(A, B)
    net[A].auto_ice = net[B].auto_ice = False
    a, b = ring(net)
    assert b is not None and b.invitation is not None
    net.run(B, b.invitation.accept(net.now))
    net.advance(30.0)  # connect timeout: the caller restarts ICE once
    assert a.state is CallState.RECONNECTING
    assert [e.ice_restart for e in net[A].log if isinstance(e, CreateOffer)] == [False, True]
    assert errors(net[A], on(a)) == []
    net.advance(69.9)
    assert hangups(net[A], a) == []
    net.advance(70.0)  # + ice_disconnection_timeout: establishment gave up
    (err,) = errors(net[A], on(a))
    assert_error_payload(err, ErrorCode.CALL_ABORTED)
    reason = R.UNABLE_TO_ESTABLISH.value
    assert hangups(net[A], a) == [{"from": "local", "reason": reason}]
    assert hangups(net[B], b) == [{"from": "remote", "reason": reason}]
    assert_ended(a, b)


BAD_VALUES: dict[str, object] = {
    name: ("nowhere" if "routing" in name else "yes") for name in OPTION_CODES
}


@scenario
def test_parameter_errors_of_every_option_leave_settings_unchanged() -> None:
    net = Net(A)
    s = net[A].session
    for name, code in OPTION_CODES.items():
        for bad in (BAD_VALUES[name], None, 1):
            before = s.settings
            with pytest.raises(ParameterError) as info:
                s.set_option(name, bad)
            _note(info.value)
            assert info.value.error_code is code
            assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
            assert info.value.error_info == code.info and info.value.option == name
            assert s.settings is before
    # the same check when placing a call with a bad media routing mode
    with pytest.raises(ParameterError) as info:
        s.call("bob", net.now, media_routing_mode="carrier-pigeon")
    _note(info.value)
    assert info.value.error_code is ErrorCode.PARAMETER_ERROR_SETCALLMEDIAROUTINGMODE
    assert s.calls() == {}


def _note(exc: ParameterError) -> None:
    if RAISED:
        RAISED[-1].append(exc)


# --- events ----------------------------------------------------------------------------------


@scenario
def test_established_call_events_with_their_payloads() -> None:
    net = Net(A, B)
    a, b = established(net)
    assert net[B].payloads("incomingCall", SESSION) == [b.invitation]
    assert net[B].payloads("incomingCall", "contact:alice") == [b.invitation]
    assert net[A].payloads("accepted", on(a)) == [None]
    assert net[A].payloads("response", on(a)) == ["accepted"]
    assert net[B].payloads("accepted", on(b)) == []  # the callee was ONGOING already
    (local,) = net[A].payloads("localStreamAvailable", on(a))
    assert local["streamId"] == a.stream_id and local["callId"] == a.call_id
    assert local["isRemote"] is False and local["hasVideo"] and local["hasAudio"]
    # remote streams: one streamAdded per stream, streamRemoved when its last track ends
    add_tracks(net, A, a, "bob-cam")
    (added,) = net[A].payloads("streamAdded", on(a))
    # the first track (audio) announces the stream, with the tracks seen so far
    assert added == {
        "streamId": "bob-cam", "callId": a.call_id, "isRemote": True, "hasAudio": True,
        "hasVideo": False, "contact": "bob", "isScreensharing": False,
    }  # fmt: skip
    net.media(A, media.TrackEnded(a.call_id, "bob-cam-a", "audio"))
    assert net[A].payloads("streamRemoved", on(a)) == []
    net.media(A, media.TrackEnded(a.call_id, "bob-cam-v", "video"))
    (removed,) = net[A].payloads("streamRemoved", on(a))
    assert removed["streamId"] == "bob-cam" and removed["callId"] == a.call_id
    # statistics
    net.media(A, media.StatsReport(a.call_id, {"audioReceived": {"bytes": 10}}))
    assert net[A].payloads("statsUpdate", on(a)) == [{"stats": {"audioReceived": {"bytes": 10}}}]


@scenario
def test_mute_gives_remote_stream_updated_on_the_far_side() -> None:
    net = Net(A, B)
    a, b = established(net)
    net.run(A, a.mute(net.now, "audio"))
    net.run(A, a.mute(net.now, "video"))
    net.run(A, a.unmute(net.now, "audio"))
    assert net[B].payloads("remoteStreamUpdated", on(b)) == [
        {"callId": b.call_id, "audio": True, "audioMuted": m_a, "video": True, "videoMuted": m_v}
        for m_a, m_v in [(True, False), (True, True), (False, True)]
    ]


@pytest.mark.parametrize("side", ["caller", "callee"])
def test_a_mute_set_before_the_call_connects_reaches_the_far_side(side: str) -> None:
    net = Net(A, B)
    net[B].on_acquire = lambda e: None  # bob answers later
    a, b = ring(net)
    assert b is not None and b.invitation is not None
    if side == "caller":
        net.run(A, a.mute(net.now, "video"))  # INVITING: the callee's device is not known yet
    else:
        net.run(B, b.invitation.accept(net.now))
        net.run(B, b.mute(net.now, "video"))  # ANSWERING: nothing answered yet
    assert net[A].payloads("remoteStreamUpdated") == net[B].payloads("remoteStreamUpdated") == []
    net[B].on_acquire = None
    if side == "caller":
        net.run(B, b.invitation.accept(net.now))
    else:
        net.media(B, media.MediaAcquired(b.call_id, "bob-cam"))
    assert a.state is CallState.CONNECTED and b.state is CallState.CONNECTED
    far, call = (net[B], b) if side == "caller" else (net[A], a)
    (update,) = far.payloads("remoteStreamUpdated", on(call))
    assert update["videoMuted"] is True and update["audioMuted"] is False


@scenario
def test_replace_published_stream_gives_remote_stream_id_updated() -> None:
    net = Net(A, B)
    a, b = established(net)
    old = a.stream_id
    assert old is not None
    fx = net.run(A, a.replace_published_stream(net.now, "screen-2"))
    assert ReleaseMedia(old) in fx and PublishStream(a.call_id, "screen-2") in fx
    assert net[B].payloads("remoteStreamIdUpdated", on(b)) == [
        {"callId": b.call_id, "newStreamId": "screen-2", "oldStreamId": old}
    ]
    assert b.remote_stream_id == "screen-2"


@scenario
def test_recording_events() -> None:
    net = Net(A, B)
    a, _ = established(net)
    assert StartRecording(a.call_id) in net.run(A, a.start_recording(net.now))
    info = {"mediaId": "m1", "mediaURL": "https://rec/m1"}
    net.media(A, media.RecordingReport(a.call_id, "started", info))
    assert StopRecording(a.call_id) in net.run(A, a.stop_recording(net.now))
    net.media(A, media.RecordingReport(a.call_id, "stopped", info))
    net.media(A, media.RecordingReport(a.call_id, "available", info))
    full = {"callId": a.call_id, **info}
    assert net[A].payloads("recordingStarted", on(a)) == [full]
    assert net[A].payloads("recordingStopped", on(a)) == [full]
    assert net[A].payloads("recordingAvailable", on(a)) == [full]
    assert net[A].payloads("recordAvailable", on(a)) == [{"mediaURL": "https://rec/m1"}]


@scenario
def test_desktop_capture_when_the_screen_cannot_be_captured() -> None:
    net = Net(A, B)
    net[A].on_acquire = _fail_media("NotAllowedError")
    a, _ = ring(net, call_type=CallType.SCREEN_SHARING)
    assert net[A].payloads("desktopCapture", on(a)) == [
        {"event": DesktopCaptureEvent.USER_MEDIA_ERROR.value}
    ]
    assert codes(net[A], on(a)) == [ErrorCode.USER_MEDIA_ERROR.value]
    assert hangups(net[A], a) == [{"from": "local", "reason": R.USER_MEDIA_ERROR.value}]


@scenario
def test_ringing_invitation_expires_when_the_caller_hangs_up() -> None:
    net = Net(A, B)
    a, b = ring(net)
    assert b is not None and b.invitation is not None
    inv = b.invitation
    net.run(A, a.hangup(net.now))
    where = target("invitation", inv.id)
    assert net[B].payloads("statusChange", where) == [
        {"status": InvitationStatus.INVITATION_STATUS_EXPIRED.value, "id": inv.id}
    ]
    assert net[B].payloads("expired", where) == [None]
    assert hangups(net[B], b) == [{"from": "remote", "reason": R.HANGUP_FROM_CALLER.value}]
    assert inv.status is InvitationStatus.INVITATION_STATUS_EXPIRED
    assert_ended(a, b)


@scenario
def test_sent_invitation_response_and_status_change() -> None:
    net = Net(A, B)
    s = net[A].session
    for answer, status in (
        (wire.AnswerChoice.ACCEPT, InvitationState.ACCEPTED),
        (wire.AnswerChoice.DECLINE, InvitationState.DECLINED),
    ):
        inv = SentInvitation(f"sent-{answer.value}", "bob", expiration_time=10.0)
        net.run(A, s.track_invitation(inv, net.now))
        net.run(B, [Send(A, wire.InviteAnswer(inv.id, answer, "because"))])
        where = target("invitation", inv.id)
        assert inv.state is status and inv.reason == "because"
        assert net[A].payloads("statusChange", where) == [{"status": status.value, "id": inv.id}]
        assert net[A].payloads("response", where) == [status.value]
        assert f"invitation:{inv.id}:expire" not in net[A].timers


# --- the lists --------------------------------------------------------------------------------

REQUIRED_CODES = {
    ErrorCode.ICE_CONNECTION_STATE_DISCONNECTED,
    ErrorCode.ICE_CONNECTION_STATE_FAILED,
    ErrorCode.DISTANT_ICE_CONNECTION_STATE_DISCONNECTED,
    ErrorCode.DISTANT_ICE_CONNECTION_STATE_FAILED,
    ErrorCode.NOT_MATCHING_CALLID_ON_200OK,
    ErrorCode.CALL_NOT_FOUND_ON_UPDATE,
    ErrorCode.CALL_NOT_FOUND_ON_200UPDATE,
    ErrorCode.SET_LOCAL_DESCRIPTION_FAILURE,
    ErrorCode.SET_REMOTE_DESCRIPTION_FAILURE,
    ErrorCode.MEDIA_UPDATE_ERROR,
    ErrorCode.USER_MEDIA_ERROR,
    ErrorCode.CALL_ABORTED,
    *OPTION_CODES.values(),
}
REQUIRED_EVENTS = {
    *{("Call", e) for e in SEED_EVENTS["Call"]},
    ("ReceivedCallInvitation", "statusChange"),
    ("ReceivedCallInvitation", "expired"),
    ("SentInvitation", "statusChange"),
    ("SentInvitation", "response"),
    ("Session", "incomingCall"),
    ("Session", "incomingScreenSharingCall"),
    ("Session", "incomingScreenSharingCallInvitation"),
}


def _kind(e: Emit) -> str:
    kind, _, ident = e.target.partition(":")
    if kind == "invitation":
        return "SentInvitation" if ident.startswith("sent-") else "ReceivedCallInvitation"
    return {"call": "Call", "session": "Session"}.get(kind, kind)


def test_every_required_reason_code_and_event_is_produced() -> None:
    nets: list[Net] = []
    RAISED.append([])
    Net.ALL = nets
    try:
        for run in SCENARIOS:
            run()
    finally:
        Net.ALL = None
        raised = RAISED.pop()
    emits = [e for net in nets for d in net.devices.values() for e in d.log if isinstance(e, Emit)]
    reasons = {e.payload["reason"] for e in emits if e.event == "hangup"}
    assert {r.value for r in SEED_HANGUP_REASONS} - reasons == set()
    produced = {e.payload["errorCode"] for e in emits if e.event == "error"}
    produced |= {exc.error_code.value for exc in raised}
    assert {c.value for c in REQUIRED_CODES} - produced == set()
    events = {(_kind(e), e.event) for e in emits}
    assert REQUIRED_EVENTS - events == set()
    assert len(SEED_HANGUP_REASONS) == 14
    # every effect ever produced is an Effect and no scenario is skipped
    assert all(isinstance(e, Effect) for net in nets for d in net.devices.values() for e in d.log)
    assert len(nets) >= len(SCENARIOS)


def test_a_call_with_the_applications_stream_publishes_it() -> None:
    """``call(stream_id=...)``: no media is acquired; the stream is published on the peer
    connection before the offer, and the call never releases a stream it does not own."""
    net = Net("alice/d1", "bob/d1")
    call, fx = net["alice/d1"].session.call("bob", net.now, stream_id="my-camera")
    kinds = [type(e).__name__ for e in fx]
    assert "AcquireMedia" not in kinds
    assert (
        kinds.index("CreatePeerConnection")
        < kinds.index("PublishStream")
        < kinds.index("CreateOffer")
    )
    assert [e.stream_id for e in fx if type(e).__name__ == "PublishStream"] == ["my-camera"]
    net.run("alice/d1", fx)
    inv = net["bob/d1"].payloads("incomingCall", "session")[0]
    net.run("bob/d1", inv.accept(net.now))
    assert call.state is CallState.CONNECTED
    net.run("alice/d1", call.hangup(net.now))
    assert not any(
        type(e).__name__ == "ReleaseMedia" and e.stream_id == "my-camera"
        for e in net["alice/d1"].log
    )
