"""Application misuse raises a typed error carrying the apiRTC number and changes nothing;
anything from the wire (arbitrary bytes, arbitrary well-formed messages, messages aimed at a
live call) never raises out of a session holding calls, whatever their states.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from calltools import ME, PEER, SCENARIOS, Net, Scene, call_state, invitation_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcstate import media, wire
from rtcstate.call import Call, CallState
from rtcstate.codes import CallStatus, CallType, ErrorCode, ErrorNumber
from rtcstate.effects import Drop, Effect, ReleaseMedia, Send
from rtcstate.errors import InvalidStateError, RtcError
from rtcstate.invitation import ReceivedCallInvitationState
from rtcstate.retry import FixedDelay
from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.settings import OPTION_CODES, ParameterError
from rtcstate.testing.exhaustive import snapshot
from rtcstate.testing.strategies import envelopes


def unchanged(scene: Scene) -> Callable[[], None]:
    """A check that nothing about the call, its invitation or the timers changed."""
    call, s = scene.call, scene.session
    before = (call_state(call), invitation_state(call.invitation), s.armed_timers(), s.state)

    def check() -> None:
        after = (call_state(call), invitation_state(call.invitation), s.armed_timers(), s.state)
        assert after == before

    return check


def raises(code: ErrorNumber, fn: Callable[[], Any], scene: Scene) -> RtcError:
    check = unchanged(scene)
    with pytest.raises(RtcError) as info:
        fn()
    assert info.value.code is code, (info.value, code)
    check()
    return info.value


ENDED = [n for n in SCENARIOS if n.endswith(("ENDED", "ENDED-declined", "ENDED-expired"))]
ENDING = [n for n in SCENARIOS if "ENDING" in n]
NOT_STANDBY = [
    "callee-ANSWERING", "callee-CONNECTING", "callee-CONNECTED", "callee-RECONNECTING",
    "callee-ENDING", "callee-ENDING-declined", "callee-ENDED", "callee-ENDED-declined",
    "callee-ENDED-expired",
]  # fmt: skip


@pytest.mark.parametrize("name", ENDED + ENDING)
def test_hangup_of_an_ended_call_raises_wrong_state(name: str) -> None:
    scene = SCENARIOS[name]()
    assert scene.call.status is CallStatus.CALL_STATUS_ENDED
    exc = raises(ErrorNumber.ERROR_WRONG_STATE, lambda: scene.call.hangup(scene.now), scene)
    assert int(exc.code) == 16
    assert isinstance(exc, InvalidStateError) and exc.trigger == "hangup"
    # the same for every command that needs a live call
    for command in (
        lambda: scene.call.mute(scene.now),
        lambda: scene.call.unmute(scene.now, "video"),
        lambda: scene.call.replace_published_stream(scene.now, "other"),
        lambda: scene.call.start_recording(scene.now),
    ):
        raises(ErrorNumber.ERROR_WRONG_STATE, command, scene)


@pytest.mark.parametrize("name", NOT_STANDBY)
def test_accept_of_a_decided_invitation_raises_10_and_decline_is_ignored(name: str) -> None:
    scene = SCENARIOS[name]()
    inv = scene.call.invitation
    assert inv is not None and inv.state is not ReceivedCallInvitationState.STANDBY
    exc = raises(ErrorNumber.ERROR_INVITATION_STATE_INVALID, lambda: inv.accept(scene.now), scene)
    assert int(exc.code) == 10
    raises(
        ErrorNumber.ERROR_INVITATION_STATE_INVALID,
        lambda: inv.accept(scene.now, audio_only=True),
        scene,
    )
    check = unchanged(scene)
    fx = inv.decline(scene.now, "changed my mind")
    assert fx and all(isinstance(e, Drop) for e in fx)  # silently ignored: nothing is sent
    check()


@pytest.mark.parametrize(
    "name",
    [n for n in SCENARIOS if SCENARIOS[n]().call.status is not CallStatus.CALL_STATUS_ONGOING],
)
def test_replace_published_stream_needs_an_ongoing_call(name: str) -> None:
    scene = SCENARIOS[name]()
    raises(
        ErrorNumber.ERROR_WRONG_STATE,
        lambda: scene.call.replace_published_stream(scene.now, "cam-2"),
        scene,
    )
    raises(ErrorNumber.ERROR_WRONG_STATE, lambda: scene.call.start_recording(scene.now), scene)


def test_replace_published_stream_while_the_callee_acquires_media() -> None:
    """ONGOING already (apiRTC), but nothing is published yet: the acquired stream would win."""
    scene = SCENARIOS["callee-ANSWERING"]()
    assert scene.call.status is CallStatus.CALL_STATUS_ONGOING
    raises(
        ErrorNumber.ERROR_WRONG_STATE,
        lambda: scene.call.replace_published_stream(scene.now, "cam-2"),
        scene,
    )
    for name in ("callee-CONNECTING", "callee-CONNECTED", "caller-CONNECTED"):
        other = SCENARIOS[name]()
        fx = other.call.replace_published_stream(other.now, "cam-2")
        assert any(isinstance(e, Send) for e in fx) and other.call.stream_id == "cam-2"


@pytest.mark.parametrize("name", ["caller-PREPARING", "callee-ANSWERING"])
def test_media_acquired_after_the_call_ended_is_released(name: str) -> None:
    scene = SCENARIOS[name]()
    scene.call.hangup(scene.now)
    late = media.MediaAcquired(scene.call.call_id, "late-cam")
    fx = scene.session.media_event(late, scene.now + 1)
    assert ReleaseMedia("late-cam") in fx


def test_bad_arguments_of_call_commands() -> None:
    scene = SCENARIOS["caller-CONNECTED"]()
    call = scene.call
    raises(ErrorNumber.ERROR_BAD_PARAMETER, lambda: call.replace_published_stream(1.0, ""), scene)
    for kind in ("speaker", "", "AUDIO"):
        raises(ErrorNumber.ERROR_BAD_PARAMETER, lambda k=kind: call.mute(1.0, k), scene)
        raises(ErrorNumber.ERROR_BAD_PARAMETER, lambda k=kind: call.unmute(1.0, k), scene)
    raises(ErrorNumber.ERROR_STREAM_RECORD, lambda: call.stop_recording(1.0), scene)
    call.start_recording(1.0)
    raises(ErrorNumber.ERROR_STREAM_RECORD, lambda: call.start_recording(1.1), scene)


def _session_in(state: SessionState) -> Session:
    s = Session(
        SessionConfig("me", device="d1", keepalive_interval=None, retry_policy=FixedDelay(1.0, 1))
    )
    steps: dict[SessionState, list[Callable[[], Any]]] = {
        SessionState.IDLE: [],
        SessionState.CONNECTING: [lambda: s.register(0.0)],
        SessionState.REGISTERING: [lambda: s.register(0.0), lambda: s.connection_made(0.0)],
        SessionState.FAILED: [lambda: s.register(0.0), lambda: s.connection_failed(0.0)],
    }
    registered = [
        lambda: s.register(0.0),
        lambda: s.connection_made(0.0),
        lambda: s.receive_envelope(wire.Envelope(wire.Registered("me", "d1", "sid")), 0.0),
    ]
    steps[SessionState.DISCONNECTED] = [*registered, lambda: s.connection_lost(1.0)]
    steps[SessionState.RECONNECTING] = [
        *steps[SessionState.DISCONNECTED],
        lambda: s.timer_fired("session:retry", 2.0),
    ]
    steps[SessionState.REREGISTERING] = [
        *steps[SessionState.RECONNECTING],
        lambda: s.connection_made(2.0),
    ]
    steps[SessionState.CLOSED] = [*registered, lambda: s.unregister(1.0)]
    for step in steps[state]:
        step()
    assert s.state is state
    return s


@pytest.mark.parametrize("state", [s for s in SessionState if s is not SessionState.CONNECTED])
def test_session_call_needs_a_connected_session(state: SessionState) -> None:
    s = _session_in(state)
    before = snapshot(s)
    with pytest.raises(InvalidStateError) as info:
        s.call("bob", 5.0)
    assert info.value.code is ErrorNumber.ERROR_WRONG_STATE and int(info.value.code) == 16
    assert snapshot(s) == before and s.calls() == {}


BAD_CALLS: list[tuple[dict[str, Any], ErrorNumber]] = [
    ({"contact": ""}, ErrorNumber.ERROR_BAD_PARAMETER),
    ({"contact": "/bob"}, ErrorNumber.ERROR_BAD_PARAMETER),
    ({"contact": 42}, ErrorNumber.ERROR_BAD_PARAMETER),
    ({"contact": None}, ErrorNumber.ERROR_BAD_PARAMETER),
    ({"call_type": "hologram"}, ErrorNumber.ERROR_BAD_PARAMETER),
    ({"call_type": 3}, ErrorNumber.ERROR_BAD_PARAMETER),
    ({"audio_only": "yes"}, ErrorNumber.ERROR_BAD_PARAMETER),
    ({"audio_only": 1}, ErrorNumber.ERROR_BAD_PARAMETER),
    ({"media_routing_mode": "carrier-pigeon"}, ErrorNumber.ERROR_BAD_PARAMETER),
    ({"media_routing_mode": 7}, ErrorNumber.ERROR_BAD_PARAMETER),
]


@pytest.mark.parametrize(("kwargs", "code"), BAD_CALLS)
def test_session_call_with_bad_arguments(kwargs: dict[str, Any], code: ErrorNumber) -> None:
    s = _connected()
    before = snapshot(s)
    contact = kwargs.pop("contact", "bob")
    with pytest.raises(RtcError) as info:
        s.call(contact, 1.0, **kwargs)
    assert info.value.code is code
    if "media_routing_mode" in kwargs:
        assert isinstance(info.value, ParameterError)
        assert info.value.error_code is ErrorCode.PARAMETER_ERROR_SETCALLMEDIAROUTINGMODE
    assert snapshot(s) == before and s.calls() == {}
    # the id source was not consumed: the next good call gets the first id
    call, _ = s.call("bob", 1.0)
    assert call.call_id == "me/d1-call-1"


def _connected() -> Session:
    s = Session(SessionConfig("me", device="d1", keepalive_interval=None))
    s.register(0.0)
    s.connection_made(0.0)
    s.receive_envelope(wire.Envelope(wire.Registered("me", "d1", "sid")), 0.0)
    return s


@pytest.mark.parametrize("name", sorted(OPTION_CODES))
@pytest.mark.parametrize("bad", ["yes", None, 0, 1.5, "TURN"])
def test_set_option_with_a_bad_value(name: str, bad: object) -> None:
    s = _connected()
    before = s.settings
    if "routing" in name and bad == "TURN":
        bad = "Turn-please"
    with pytest.raises(ParameterError) as info:
        s.set_option(name, bad)
    assert info.value.error_code is OPTION_CODES[name]
    assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    assert s.settings is before


def test_set_option_of_an_unknown_option() -> None:
    s = _connected()
    before = s.settings
    with pytest.raises(RtcError) as info:
        s.set_option("auto_answer", True)
    assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    assert not isinstance(info.value, ParameterError)
    assert s.settings is before
    s.set_option("media_routing_mode", "stun")  # a good value goes through
    assert s.settings.media_routing_mode.value == "stun"


# --- third parties ------------------------------------------------------------------------------

LIVE = [
    n for n in SCENARIOS if not n.endswith(("ENDED", "ENDED-declined", "ENDED-expired", "offline"))
]


def _messages(call_id: str) -> list[wire.Message]:
    return [
        wire.Answer(call_id, "evil-answer"),
        wire.Bye(call_id, "Hangup_From_Caller"),
        wire.Update(call_id, "evil-offer", seq=99),
        wire.UpdateOk(call_id, "evil-answer", seq=1),
        wire.Candidate(call_id, "candidate:evil"),
        wire.MediaState(call_id, "failed"),
        wire.StreamState(call_id, "evil", True, True, True, True),
        wire.Ack(call_id, "bye"),
        wire.Ack(call_id, "invite"),
        wire.Ack(call_id, "answer"),
        wire.Invite(call_id, CallType.MEDIA, "evil-offer"),
    ]


@pytest.mark.parametrize("name", LIVE)
def test_a_third_party_cannot_act_on_someone_elses_call(name: str) -> None:
    scene = SCENARIOS[name]()
    check = unchanged(scene)
    for msg in _messages(scene.call.call_id):
        fx = scene.session.receive_envelope(wire.Envelope(msg, ME, "mallory/m"), scene.now)
        assert len(fx) == 1 and isinstance(fx[0], Drop) and fx[0].reason == "stranger", fx
    check()


def test_a_third_party_through_the_relay_neither_answers_nor_ends_a_call() -> None:
    net = Net("alice/d1", "bob/d1", "mallory/m")
    net["bob/d1"].on_acquire = lambda e: None  # bob has not answered yet
    a = net.call("alice/d1", "bob")
    b = net["bob/d1"].session.get_call(a.call_id)
    assert b is not None and a.state is CallState.INVITING
    net.run("mallory/m", [Send("alice/d1", wire.Answer(a.call_id, "evil"))])
    net.run("mallory/m", [Send("bob/d1", wire.Bye(a.call_id, "Hangup_From_Caller"))])
    assert a.state is CallState.INVITING and a.remote == "bob"
    assert b.state is CallState.RINGING and net["bob/d1"].payloads("hangup") == []
    assert b.invitation is not None
    net["bob/d1"].on_acquire = None
    net.run("bob/d1", b.invitation.accept(net.now))
    assert a.state is CallState.CONNECTED and a.remote == "bob/d1"


# --- fuzz: nothing from the wire raises ---------------------------------------------------------


def _aimed(env: wire.Envelope, call_id: str) -> wire.Envelope:
    """``env`` with its route id replaced by the live call's (when it has one)."""
    msg = env.message
    for field in ("call_id", "ref_id"):
        if hasattr(msg, field):
            msg = attrs.evolve(msg, **{field: call_id})  # type: ignore[misc]
            break
    return wire.Envelope(msg, ME, env.sender)


def _mutate(data: bytes, cut: int, garbage: bytes) -> bytes:
    cut %= len(data) + 1
    return data[:cut] + garbage + data[cut:]


SENDERS = st.sampled_from([PEER, "peer", "stranger/x", None])


def _inputs(call_id: str) -> st.SearchStrategy[Any]:
    aimed = st.builds(
        lambda env, sender: _aimed(attrs.evolve(env, sender=sender), call_id), envelopes(), SENDERS
    )
    return st.one_of(
        st.binary(max_size=120),
        st.text(max_size=120),
        envelopes().map(wire.encode_envelope),
        aimed.map(wire.encode_envelope),
        aimed,
        st.builds(
            _mutate,
            aimed.map(wire.encode_envelope),
            st.integers(0, 10_000),
            st.binary(min_size=1, max_size=6),
        ),
    )


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_wire_input_never_raises_out_of_a_session_holding_a_call(name: str) -> None:
    probe = SCENARIOS[name]()

    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(items=st.lists(_inputs(probe.call.call_id), min_size=1, max_size=6))
    def run(items: list[Any]) -> None:
        scene = SCENARIOS[name]()
        s, call = scene.session, scene.call
        state = s.state
        for i, item in enumerate(items):
            now = scene.now + i
            if isinstance(item, wire.Envelope):
                fx = s.receive_envelope(item, now)
            else:
                fx = s.receive(item, now)
            assert isinstance(fx, list) and all(isinstance(e, Effect) for e in fx), fx
            assert s.state is state  # nothing from a peer moves the session
            assert isinstance(call.state, CallState)
            if call.ended:
                assert s.get_call(call.call_id) is None
                assert not any(t.startswith(f"call:{call.call_id}:") for t in s.armed_timers())
            for e in fx:  # whatever is sent goes to an address (or the server), never raises
                if isinstance(e, Send):
                    wire.encode_envelope(wire.Envelope(e.message, e.to, ME))
        # the call is never wedged: it can still be hung up, or it has ended already
        if call.status is not CallStatus.CALL_STATUS_ENDED and call.state is not CallState.IDLE:
            fx = call.hangup(scene.now + 10)
            assert call.state in (CallState.ENDING, CallState.ENDED)
            assert all(isinstance(e, Effect) for e in fx)

    run()


def test_a_call_object_fed_directly_never_raises() -> None:
    """The Child protocol methods of an ended call (an adapter holding a stale reference)."""
    scene = SCENARIOS["caller-ENDED"]()
    call: Call = scene.call

    @settings(max_examples=200, deadline=None, database=None)
    @given(env=envelopes(), name=st.text(max_size=12))
    def run(env: wire.Envelope, name: str) -> None:
        fx = call.receive(_aimed(env, call.call_id), 50.0)
        fx += call.timer_fired(name, 50.0)
        fx += call.on_disconnected(50.0) + call.on_reconnected(50.0)
        assert all(isinstance(e, Effect) for e in fx)
        assert call.state is CallState.ENDED

    run()
