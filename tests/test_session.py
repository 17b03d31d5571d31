"""Session: registration, loss, backoff, reconnection, keep-alive, routing, bad input."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.codes import ErrorCode, ErrorNumber
from rtcstate.effects import (
    SESSION,
    USER_AGENT,
    CancelTimer,
    CloseTransport,
    Drop,
    Effect,
    Emit,
    OpenTransport,
    Send,
    StartTimer,
)
from rtcstate.errors import RtcError
from rtcstate.media import IceStateChanged, MediaEvent
from rtcstate.retry import ExponentialBackoff, FixedDelay
from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.testing.clock import TimerWheel
from rtcstate.testing.exhaustive import snapshot

URL = "ws://127.0.0.1:9"


def make(**kw: Any) -> Session:
    kw.setdefault("retry_policy", FixedDelay(1.0, max_attempts=3))
    return Session(SessionConfig("alice", server_url=URL, device="d1", **kw))


def server(msg: wire.Message, sender: str | None = None) -> bytes:
    return wire.encode(msg, to="alice/d1", sender=sender)


def ccs(status: str) -> Emit:
    return Emit(USER_AGENT, "ccsConnectionStatus", {"status": status})


def connected(s: Session | None = None, now: float = 0.0) -> Session:
    s = s or make()
    s.register(now)
    s.connection_made(now)
    s.receive(server(wire.Registered(user="alice", device="d1", session_id="S1")), now)
    assert s.state is SessionState.CONNECTED
    return s


def test_construction_is_pure_and_register_opens_the_transport() -> None:
    s = make()
    assert s.state is SessionState.IDLE
    assert s.register(5.0) == [OpenTransport(URL)]
    assert s.state is SessionState.CONNECTING
    assert s.connection_made(5.5) == [
        Send(None, wire.Register(user="alice", device="d1", token=None, resume=False)),
        StartTimer("session:register", 15.5),
    ]
    fx = s.receive(server(wire.Registered(user="alice", device="d1", session_id="S1")), 6.0)
    assert fx == [
        CancelTimer("session:register"),
        ccs("connected"),
        StartTimer("session:keepalive", 26.0),
    ]
    assert s.state is SessionState.CONNECTED and s.session_id == "S1"


@pytest.mark.parametrize("state", [s for s in SessionState if s.name not in ("IDLE", "FAILED")])
def test_second_register_raises_typed_error_and_changes_nothing(state: SessionState) -> None:
    s = make()
    s.state = state
    before = snapshot(s)
    with pytest.raises(RtcError) as info:
        s.register(1.0)
    expected = (
        ErrorNumber.ERROR_WRONG_STATE
        if state is SessionState.CLOSED
        else ErrorNumber.ERROR_APIRTC_SESSION_ALREADY_ON
    )
    assert info.value.code is expected
    assert snapshot(s) == before


def test_loss_backoff_and_reconnection_with_the_apirtc_event_sequence() -> None:
    s = connected()
    fx = s.connection_lost(100.0)
    assert fx == [
        CancelTimer("session:keepalive"),
        Emit(SESSION, "disconnect"),
        ccs("disconnected"),
        StartTimer("session:retry", 101.0),
    ]
    assert s.state is SessionState.DISCONNECTED
    assert s.timer_fired("session:retry", 101.0) == [
        ccs("retry"),
        Emit(SESSION, "reconnecting"),
        OpenTransport(URL),
    ]
    assert s.connection_made(101.2) == [
        Send(None, wire.Register(user="alice", device="d1", token=None, resume=True)),
        StartTimer("session:register", 111.2),
    ]
    fx = s.receive(server(wire.Registered(user="alice", device="d1", session_id="S2")), 101.3)
    assert fx == [
        CancelTimer("session:register"),
        Emit(SESSION, "reconnection"),
        ccs("connected"),
        StartTimer("session:keepalive", 121.3),
    ]
    assert s.state is SessionState.CONNECTED and s.session_id == "S2" and s.attempt == 0


def test_retry_policy_gives_up_with_error() -> None:
    s = connected(make(retry_policy=FixedDelay(2.0, max_attempts=2)))
    s.connection_lost(10.0)
    s.timer_fired("session:retry", 12.0)
    fx = s.connection_failed(12.1)
    assert fx == [StartTimer("session:retry", 14.1)] and s.attempt == 2
    s.timer_fired("session:retry", 14.1)
    fx = s.connection_failed(14.2)
    assert s.state is SessionState.FAILED
    assert fx[0] == ccs("error")
    assert isinstance(fx[1], Emit) and fx[1].event == "error"
    assert fx[1].payload is not None
    assert fx[1].payload["errorCode"] == ErrorCode.SERVER_CONNECTION_FAILED
    assert fx[1].payload["descriptor"]["attempts"] == 2
    assert s.armed_timers() == frozenset()
    # a failed session may register again
    assert s.register(20.0) == [OpenTransport(URL)]


def test_exponential_backoff_uses_the_injected_random_source() -> None:
    draws = iter([0.0, 1.0, 0.5])
    policy = ExponentialBackoff(initial=1.0, factor=2.0, maximum=3.0, jitter=0.5)
    s = connected(Session(SessionConfig("alice", retry_policy=policy), rand=lambda: next(draws)))
    assert s.connection_lost(0.0)[-1] == StartTimer("session:retry", 1.0)  # 1 * (1 - 0)
    s.timer_fired("session:retry", 1.0)
    assert s.connection_failed(1.0) == [StartTimer("session:retry", 2.0)]  # 2 * (1 - .5)
    s.timer_fired("session:retry", 2.0)
    assert s.connection_failed(2.0) == [StartTimer("session:retry", 4.25)]  # 3 * (1 - .25)


def test_backoff_policy_limits() -> None:
    p = ExponentialBackoff(initial=0.5, factor=2, maximum=30, jitter=0, max_elapsed=60)
    assert [p.next_delay(n, 0, 0.3) for n in (1, 2, 3, 7, 100)] == [0.5, 1, 2, 30, 30]
    assert p.next_delay(1, 60.0, 0.0) is None
    assert ExponentialBackoff(max_attempts=2).next_delay(3, 0, 0) is None
    with pytest.raises(ValueError):
        ExponentialBackoff(jitter=2)


def test_initial_connection_failure_reports_initialisation_failed() -> None:
    s = make()
    s.register(0.0)
    fx = s.connection_failed(0.5, "refused")
    assert s.state is SessionState.FAILED
    assert fx[0] == ccs("error")
    assert isinstance(fx[1], Emit) and fx[1].payload is not None
    assert fx[1].payload["descriptor"]["errorNumber"] == 5  # ERROR_APIRTC_INITIALISATION_FAILED


def test_register_timeout() -> None:
    s = make()
    s.register(0.0)
    s.connection_made(0.0)
    fx = s.timer_fired("session:register", 10.0)
    assert s.state is SessionState.FAILED
    assert fx[0] == CloseTransport() and fx[1] == ccs("error")


def test_keepalive_ping_pong_and_dead_server_detection() -> None:
    s = connected()
    fx = s.timer_fired("session:keepalive", 20.0)
    assert fx == [
        Send(None, wire.Ping(seq=1)),
        StartTimer("session:pong", 30.0),
        StartTimer("session:keepalive", 40.0),
    ]
    assert s.receive(server(wire.Pong(seq=1)), 20.1) == [CancelTimer("session:pong")]
    assert isinstance(s.receive(server(wire.Pong(seq=1)), 20.2)[0], Drop)  # duplicate
    s.timer_fired("session:keepalive", 40.0)
    fx = s.timer_fired("session:pong", 50.0)  # no Pong: the server is dead
    assert fx[0] == CloseTransport()
    assert Emit(SESSION, "disconnect") in fx and ccs("disconnected") in fx
    assert s.state is SessionState.DISCONNECTED
    assert "session:keepalive" not in s.armed_timers()


@pytest.mark.parametrize("answered", [None, 1, 2])
def test_a_ping_sent_while_one_is_unanswered_keeps_the_first_deadline(answered: int | None) -> None:
    """``keepalive_interval`` at most ``keepalive_timeout``: the second ping does not push the
    pong deadline back (a lost pong is noticed whatever order two timers due at once fire in),
    and a pong to either outstanding ping is the awaited one."""
    s = connected(make(keepalive_interval=5.0, keepalive_timeout=10.0))
    fx = s.timer_fired("session:keepalive", 5.0)
    assert StartTimer("session:pong", 15.0) in fx
    fx = s.timer_fired("session:keepalive", 10.0)
    assert Send(None, wire.Ping(seq=2)) in fx
    assert not any(isinstance(e, StartTimer) and e.timer_id == "session:pong" for e in fx)
    if answered is None:  # nothing answered: lost at the first ping's deadline
        fx = s.timer_fired("session:pong", 15.0)
        assert fx[0] == CloseTransport()
        assert s.state is SessionState.DISCONNECTED
    else:
        assert s.receive(server(wire.Pong(seq=answered)), 12.0) == [CancelTimer("session:pong")]
        assert s.state is SessionState.CONNECTED


def test_server_ping_gets_a_pong() -> None:
    s = connected()
    assert s.receive(server(wire.Ping(seq=7)), 1.0) == [Send(None, wire.Pong(seq=7))]


def test_unregister_closes_everything_and_is_final() -> None:
    s = connected()
    fx = s.unregister(3.0)
    assert fx == [CancelTimer("session:keepalive"), Send(None, wire.Unregister()), CloseTransport()]
    assert s.state is SessionState.CLOSED and s.armed_timers() == frozenset()
    with pytest.raises(RtcError) as info:
        s.unregister(4.0)
    assert info.value.code is ErrorNumber.ERROR_OTHER
    with pytest.raises(RtcError) as info:
        s.register(4.0)
    assert info.value.code is ErrorNumber.ERROR_WRONG_STATE


def presence(contact: str, online: bool, devices: list[str] | None = None) -> bytes:
    msg = wire.Presence(contact=contact, online=online, devices=devices or [])
    return server(msg)


def joined(contact: str) -> list[Effect]:
    update = {"joinedGroup": {"default": [contact]}, "leftGroup": {}, "userDataChanged": []}
    return [
        Emit(SESSION, "contactListUpdate", update),
        Emit(f"contact:{contact}", "joinGroup", "default"),
    ]


def left(contact: str) -> list[Effect]:
    update = {"joinedGroup": {}, "leftGroup": {"default": [contact]}, "userDataChanged": []}
    return [
        Emit(SESSION, "contactListUpdate", update),
        Emit(f"contact:{contact}", "leaveGroup", "default"),
    ]


def test_presence_with_the_contact_disconnection_delay() -> None:
    s = connected()
    assert s.receive(presence("bob", True, ["p"]), 1.0) == joined("bob")
    assert s.receive(presence("bob", True, ["p", "laptop"]), 1.1) == []  # still online
    assert s.contacts == {"bob": ("p", "laptop")}
    # leaving starts apiRTC's contactDisconnectionDelay (10 s): nothing visible yet
    assert s.receive(presence("bob", False), 2.0) == [StartTimer("presence:bob:offline", 12.0)]
    assert s.receive(presence("bob", False), 3.0) == []  # duplicate: no second timer
    # back within the delay: the timer is cancelled, no event fired at all
    assert s.receive(presence("bob", True, ["p"]), 5.0) == [CancelTimer("presence:bob:offline")]
    s.receive(presence("bob", False), 6.0)
    assert s.timer_fired("presence:bob:offline", 16.0) == left("bob")
    assert s.contacts == {}
    assert s.receive(presence("bob", False), 17.0) == []  # already offline


def test_presence_without_delay_and_loss_marks_everyone_offline() -> None:
    s = connected(make(contact_disconnection_delay=0))
    s.receive(presence("bob", True, ["p"]), 1.0)
    assert s.receive(presence("bob", False), 2.0) == left("bob")
    s.receive(presence("bob", True, ["p"]), 3.0)
    s.receive(presence("carol", True, ["x"]), 3.0)
    fx = s.connection_lost(4.0)
    update = {"joinedGroup": {}, "leftGroup": {"default": ["bob", "carol"]}, "userDataChanged": []}
    assert Emit(SESSION, "contactListUpdate", update) in fx
    assert s.contacts == {}


def test_loss_cancels_pending_presence_timers() -> None:
    s = connected()
    s.receive(presence("bob", True, ["p"]), 1.0)
    s.receive(presence("bob", False), 2.0)
    fx = s.connection_lost(3.0)
    assert CancelTimer("presence:bob:offline") in fx
    assert not any(t.startswith("presence:") for t in s.armed_timers())


def test_presence_from_a_peer_is_dropped() -> None:
    s = connected()
    fx = s.receive(server(wire.Presence(contact="x", online=True, devices=["d"]), "bob/p"), 1.0)
    assert isinstance(fx[0], Drop) and s.contacts == {}


def test_contact_messages_fire_on_session_and_contact() -> None:
    s = connected()
    fx = s.receive(server(wire.ContactMessage(uuid=3, content="hi"), sender="bob/p"), 9.0)
    assert fx == [
        Emit(
            SESSION, "contactMessage", {"sender": "bob/p", "content": "hi", "uuid": 3, "time": 9.0}
        ),
        # the contact is the user (get_contact("bob") hears it), the device is in the payload
        Emit(
            "contact:bob", "message", {"content": "hi", "uuid": 3, "time": 9.0, "device": "bob/p"}
        ),
    ]


def test_server_error_message_becomes_an_error_event() -> None:
    s = connected()
    fx = s.receive(server(wire.ServerError(code="rate", info="slow down")), 1.0)
    assert len(fx) == 1 and isinstance(fx[0], Emit) and fx[0].payload is not None
    assert fx[0].payload["errorCode"] == "SERVER_ERROR"
    assert fx[0].payload["descriptor"] == {"code": "rate", "info": "slow down"}


def test_forged_registered_from_a_peer_is_dropped() -> None:
    s = make()
    s.register(0)
    s.connection_made(0)
    fx = s.receive(server(wire.Registered(user="x", device="y", session_id="z"), "mallory"), 1)
    assert isinstance(fx[0], Drop) and s.state is SessionState.REGISTERING


# --- bad input from the wire ------------------------------------------------------------------


def test_undecodable_input_becomes_an_error_event() -> None:
    s = connected()
    before = snapshot(s)
    fx = s.receive(b"{not json", 1.0)
    assert len(fx) == 1 and isinstance(fx[0], Emit)
    assert fx[0].target == SESSION and fx[0].event == "error"
    assert fx[0].payload is not None
    assert fx[0].payload["errorCode"] == ErrorCode.MESSAGE_DECODE_ERROR
    assert fx[0].payload["descriptor"]["reason"] == wire.DecodeReason.MALFORMED_JSON
    assert snapshot(s) == before


def test_oversize_input_is_refused_by_the_configured_limit() -> None:
    s = connected(make(max_message_size=200))
    fx = s.receive(server(wire.ContactMessage(uuid=1, content="x" * 500)), 1.0)
    assert isinstance(fx[0], Emit) and fx[0].payload is not None
    assert fx[0].payload["descriptor"]["reason"] == wire.DecodeReason.OVERSIZE


@pytest.mark.parametrize(
    ("message", "code", "reply"),
    [
        (wire.Answer(call_id="c9", sdp="v=0"), "NOT_MATCHING_CALLID_ON_200OK", None),
        (wire.Update(call_id="c9", sdp="v=0"), "CALL_NOT_FOUND_ON_UPDATE", "Call_not_found"),
        (wire.UpdateOk(call_id="c9", sdp="v=0"), "CALL_NOT_FOUND_ON_200UPDATE", None),
        (wire.InviteAnswer(invitation_id="i9", answer="accept"), "MESSAGE_FOR_UNKNOWN_ID", None),
        (wire.Bye(call_id="c9", reason="Hangup_From_Caller"), None, "ack"),
        (wire.Candidate(call_id="c9", candidate=""), None, None),
    ],
)
def test_message_for_unknown_id_gets_its_defined_answer(
    message: wire.Message, code: str | None, reply: str | None
) -> None:
    s = connected()
    before = snapshot(s)
    fx = s.receive(server(message, sender="bob/p"), 1.0)
    errors = [e for e in fx if isinstance(e, Emit)]
    sends = [e for e in fx if isinstance(e, Send)]
    drops = [e for e in fx if isinstance(e, Drop)]
    if code is None:
        assert errors == [] and len(drops) == 1
    else:
        assert len(errors) == 1 and errors[0].payload is not None
        assert errors[0].payload["errorCode"] == code
        assert errors[0].payload["descriptor"]["from"] == "bob/p"
    if reply == "ack":  # a late bye is acknowledged so its sender stops retransmitting
        assert sends == [Send("bob/p", wire.Ack(call_id="c9", what="bye"))]
        assert s.recently_ended("c9")  # and a delayed invite for it will not ring
        return
    if reply is not None:
        assert sends == [Send("bob/p", wire.Bye(call_id="c9", reason=reply))]
    else:
        assert sends == []
    assert snapshot(s) == before


# --- routing to children ----------------------------------------------------------------------


@attrs.define(eq=False)
class Probe:
    """A minimal child: records inputs, starts a timer, ends on a Bye."""

    key: str
    seen: list[Any] = attrs.field(factory=list)
    ended: bool = False

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        self.seen.append(env.message)
        if isinstance(env.message, wire.Bye):
            self.ended = True
            return [
                Emit(f"call:{self.key}", "hangup", {"from": "remote", "reason": env.message.reason})
            ]
        return [StartTimer(f"call:{self.key}:ice", now + 40), StartTimer(f"call:{self.key}:w", 2)]

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        self.seen.append(event)
        return [CancelTimer(f"call:{self.key}:w")]

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        self.seen.append(name)
        return []

    def on_disconnected(self, now: float) -> list[Effect]:
        self.seen.append("disconnected")
        return []

    def on_reconnected(self, now: float) -> list[Effect]:
        self.seen.append("reconnected")
        return []


def test_routing_by_id_timers_owned_by_children_and_cleanup() -> None:
    s = connected()
    probe = Probe("c1")
    s.attach("call_id", "c1", probe)
    cand = wire.Candidate(call_id="c1", candidate="candidate:1 1 udp 1 127.0.0.1 9 typ host")
    fx = s.receive(server(cand, sender="bob/p"), 1.0)
    assert fx == [StartTimer("call:c1:ice", 41.0), StartTimer("call:c1:w", 2)]
    assert s.armed_timers() == {"call:c1:ice", "call:c1:w", "session:keepalive"}
    assert s.media_event(IceStateChanged("c1", "connected"), 1.5) == [CancelTimer("call:c1:w")]
    assert s.timer_fired("call:c1:ice", 41.0) == [] and probe.seen[-1] == "ice"
    assert isinstance(s.timer_fired("call:c1:ice", 41.0)[0], Drop)  # already fired: stale
    s.receive(server(cand, sender="bob/p"), 50.0)
    s.connection_lost(51.0)
    s.timer_fired("session:retry", 52.0)
    s.connection_made(52.0)
    s.receive(server(wire.Registered(user="alice", device="d1", session_id="S3")), 52.0)
    assert probe.seen[-2:] == ["disconnected", "reconnected"]
    fx = s.receive(server(wire.Bye(call_id="c1", reason="Hangup_From_Callee"), "bob/p"), 53.0)
    assert fx[0] == Emit("call:c1", "hangup", {"from": "remote", "reason": "Hangup_From_Callee"})
    assert set(fx[1:]) == {CancelTimer("call:c1:ice"), CancelTimer("call:c1:w")}
    assert s.child("call_id", "c1") is None
    assert isinstance(s.media_event(IceStateChanged("c1", "closed"), 54.0)[0], Drop)


def test_factories_create_children_for_opening_messages() -> None:
    s = connected()

    def on_invite(session: Session, env: wire.Envelope, now: float) -> list[Effect]:
        assert isinstance(env.message, wire.Invite)
        session.attach("call_id", env.message.call_id, Probe(env.message.call_id))
        return [Emit(SESSION, "incomingCall", {"callId": env.message.call_id})]

    s.set_factory(wire.Invite, on_invite)
    invite = wire.Invite(call_id="c5", call_type="media")
    assert s.receive(server(invite, "bob/p"), 1.0) == [
        Emit(SESSION, "incomingCall", {"callId": "c5"})
    ]
    assert isinstance(s.child("call_id", "c5"), Probe)


def test_attach_rejects_unknown_routes() -> None:
    with pytest.raises(ValueError):
        make().attach("nope", "x", Probe("x"))


# --- properties -------------------------------------------------------------------------------

INPUTS = st.one_of(
    st.tuples(st.just("register")),
    st.tuples(st.just("unregister")),
    st.tuples(st.just("made")),
    st.tuples(st.just("failed")),
    st.tuples(st.just("lost")),
    st.tuples(st.just("registered")),
    st.tuples(st.just("pong"), st.integers(0, 3)),
    st.tuples(st.just("garbage"), st.binary(max_size=40)),
    st.tuples(st.just("presence"), st.sampled_from(["bob", "carol"]), st.booleans()),
    st.tuples(st.just("advance"), st.floats(0, 400)),
)


def _drive(s: Session, wheel: TimerWheel, step: tuple[Any, ...]) -> None:
    kind = step[0]
    now = wheel.now
    fx: list[Effect] = []
    if kind == "register":
        try:
            fx = s.register(now)
        except RtcError as exc:
            assert s.state not in (SessionState.IDLE, SessionState.FAILED)
            assert exc.code in (6, 16)
    elif kind == "unregister":
        try:
            fx = s.unregister(now)
        except RtcError as exc:
            assert s.state is SessionState.CLOSED and exc.code == 0
    elif kind == "made":
        fx = s.connection_made(now)
    elif kind == "failed":
        fx = s.connection_failed(now)
    elif kind == "lost":
        fx = s.connection_lost(now)
    elif kind == "registered":
        fx = s.receive(server(wire.Registered(user="alice", device="d1", session_id="S")), now)
    elif kind == "pong":
        fx = s.receive(server(wire.Pong(seq=step[1])), now)
    elif kind == "garbage":
        fx = s.receive(step[1], now)
    elif kind == "presence":
        fx = s.receive(presence(step[1], step[2], ["d"]), now)
    elif kind == "advance":
        for _, timer_id in wheel.pop_due(now + step[1]):
            wheel.apply(s.timer_fired(timer_id, wheel.now))
    wheel.apply(fx)
    assert all(isinstance(e, Effect) for e in fx)


@settings(max_examples=300, deadline=None)
@given(st.lists(INPUTS, max_size=40), st.integers(0, 2**32))
def test_random_runs_keep_timer_bookkeeping_exact(steps: list[Any], seed: int) -> None:
    from rtcstate.ids import SplitMix64

    s = Session(SessionConfig("alice", device="d1"), rand=SplitMix64(seed))
    wheel = TimerWheel()
    for step in steps:
        _drive(s, wheel, step)
        # the session's view of armed timers is exactly what the adapter has armed
        assert s.armed_timers() == set(wheel.armed), (step, s.state)
        if s.state in (SessionState.CLOSED, SessionState.FAILED, SessionState.IDLE):
            assert wheel.armed == {}
    if s.state is not SessionState.CLOSED:
        wheel.apply(s.unregister(wheel.now))
    assert wheel.armed == {}  # no timer outlives the session


def test_capabilities_are_kept_for_the_children() -> None:
    from rtcstate.media import Capabilities

    s = connected()
    assert s.capabilities == Capabilities()
    assert s.media_event(Capabilities(data_channels=False, restart_ice=True), 1.0) == []
    assert s.capabilities.data_channels is False and s.capabilities.restart_ice is True
