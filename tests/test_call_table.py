"""Call, ReceivedCallInvitation and SentInvitation: every (state, trigger) pair of their tables,
agreement with ``transitions``, and every (state, public input) pair of a real call.

Table level: :func:`check_pair` forces each state and fires each trigger with Hypothesis-drawn
arguments (the keyword arguments the callbacks read), on a Call attached to a connected session;
:func:`check_differential` drives random trigger sequences through the compiled table and
through ``transitions``.

Input level (h2's "Hypothesis over every (state, input) pair"): scenario drivers bring a
caller-side and a callee-side Call into every :class:`CallState` through the public inputs;
for each, every public input kind (each wire message routed to a call, each media report, each
timer, the server connection going and coming back, each command) is drawn with Hypothesis and
its outcome checked against the table.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from calltools import (
    ICE_STATES,
    ME,
    PEER,
    SCENARIOS,
    Scene,
    call_state,
    invitation_state,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcstate import media, wire
from rtcstate.call import Call, CallState
from rtcstate.codes import CallStatus, CallType, ErrorNumber, HangupReason
from rtcstate.effects import Drop, Effect, StartTimer
from rtcstate.errors import RtcError
from rtcstate.invitation import (
    InvitationState,
    ReceivedCallInvitation,
    ReceivedCallInvitationState,
    SentInvitation,
)
from rtcstate.machine import spec_of
from rtcstate.session import Session, SessionConfig
from rtcstate.testing.exhaustive import check_differential, check_pair, pairs
from rtcstate.testing.strategies import strategy_for

# --- table level ------------------------------------------------------------------------------

NOW = st.floats(0, 1e6, allow_nan=False, allow_infinity=False)
TEXT = st.text(max_size=10)
REASON = st.sampled_from([r.value for r in HangupReason]) | TEXT
SENDER = st.none() | st.sampled_from(["peer/p1", "peer", "stranger/x"])


class PinnedSession(Session):
    """A session that deep copies as itself: ``snapshot(call)`` then compares the call's own
    fields (Session, an ``eq=False`` class, would otherwise never equal its copy)."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> PinnedSession:
        return self


class PinnedCall(Call):
    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> PinnedCall:
        return self


class PinnedInvitation(ReceivedCallInvitation):
    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> PinnedInvitation:
        return self


def _session() -> PinnedSession:
    s = PinnedSession(SessionConfig("me", device="d1", keepalive_interval=None))
    s.register(0.0)
    s.connection_made(0.0)
    s.receive_envelope(wire.Envelope(wire.Registered("me", "d1", "sid")), 0.0)
    return s


def _call(cls: type[Call] = Call) -> Call:
    """A Call attached to a connected session, as ``Session.call`` builds one (not started)."""
    s = _session()
    call = cls(s, s.ids("call"), "peer", "peer", CallType.MEDIA, outgoing=True)
    s.attach("call_id", call.call_id, call)
    s.attach("request_id", call.call_id, call)
    return call


def _args(trigger: str, **keywords: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``(now,)`` plus the keywords a trigger's callbacks read (and ``cause``, as ``_fire``)."""
    return st.builds(
        lambda now, kw: ((now,), {"cause": trigger, **kw}), NOW, st.fixed_dictionaries(keywords)
    )


_KEYWORDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "offered": {"msg": strategy_for(wire.Invite)},
    "accept": {"audio_only": st.booleans()},
    "decline": {"reason": REASON},
    "hangup": {"reason": st.none() | REASON},
    "media_ready": {"msg": st.builds(media.MediaAcquired, TEXT, TEXT)},
    "media_failed": {"reason": TEXT, "msg": st.builds(media.MediaFailed, TEXT, TEXT)},
    "local_offer": {"msg": st.builds(media.LocalDescriptionReady, TEXT, st.just("offer"), TEXT)},
    "local_answer": {"msg": st.builds(media.LocalDescriptionReady, TEXT, st.just("answer"), TEXT)},
    "description_failed": {
        "local": st.booleans(),
        "reason": TEXT,
        "msg": st.builds(media.DescriptionFailed, TEXT, st.booleans(), TEXT),
    },
    "answered": {"msg": strategy_for(wire.Answer), "sender": SENDER},
    "remote_bye": {"reason": REASON, "sender": SENDER},
    "bye_acked": {"msg": st.builds(wire.Ack, TEXT, st.just("bye"), st.none() | REASON)},
    "invite_acked": {"msg": st.builds(wire.Ack, TEXT, st.just("invite"), st.none() | REASON)},
    "answer_acked": {"msg": st.builds(wire.Ack, TEXT, st.just("answer"), st.none() | REASON)},
    "not_found": {"msg": strategy_for(wire.UserNotFound)},
    "invite_again": {"sender": SENDER},
    "remote_candidate": {"msg": strategy_for(wire.Candidate)},
    "far_media_state": {
        "msg": st.builds(wire.MediaState, TEXT, st.sampled_from(ICE_STATES) | TEXT)
    },
    "far_stream_state": {"msg": strategy_for(wire.StreamState)},
    "far_update": {"msg": strategy_for(wire.Update)},
    "far_update_ok": {"msg": strategy_for(wire.UpdateOk)},
    "local_candidate": {
        "msg": st.builds(media.IceCandidateFound, TEXT, TEXT, st.none() | TEXT, st.none())
    },
    "track_added": {"msg": st.builds(media.TrackAdded, TEXT, TEXT, TEXT, TEXT)},
    "remote_track_ended": {"msg": st.builds(media.TrackEnded, TEXT, TEXT, TEXT, st.just(True))},
    "local_track_ended": {"msg": st.builds(media.TrackEnded, TEXT, TEXT, TEXT, st.just(False))},
    "stats": {"msg": st.builds(media.StatsReport, TEXT, st.dictionaries(TEXT, TEXT, max_size=2))},
    "recording": {
        "msg": st.builds(
            media.RecordingReport,
            TEXT,
            st.sampled_from(["started", "stopped", "available", "failed"]) | TEXT,
            st.dictionaries(TEXT, TEXT, max_size=2),
        )
    },
}
CALL_ARGS = {t: _args(t, **_KEYWORDS.get(t, {})) for t in spec_of(Call).triggers}


@attrs.frozen
class Shape:
    """Fields the conditions read, set on the call before the trigger fires."""

    outgoing: bool
    restarts: int
    audio_only: bool
    call_type: CallType
    try_audio: bool
    restart_attempts: int
    invitation: ReceivedCallInvitationState | None


SHAPES = st.builds(
    Shape,
    st.booleans(),
    st.integers(0, 3),
    st.booleans(),
    st.sampled_from(list(CallType)),
    st.booleans(),
    st.integers(0, 2),
    st.none() | st.sampled_from(list(ReceivedCallInvitationState)),
)


def _shape(call: Call, shape: Shape) -> None:
    call.outgoing = shape.outgoing
    call._restarts = shape.restarts
    call.audio_only = shape.audio_only
    call.call_type = shape.call_type
    call.session.settings = attrs.evolve(
        call.session.settings,
        try_audio_only_after_user_media_error=shape.try_audio,
        ice_restart_attempts=shape.restart_attempts,
    )
    if shape.invitation is not None and not shape.outgoing:
        call.invitation = PinnedInvitation(call, shape.invitation)
    else:
        call.invitation = None


@pytest.mark.parametrize(("state", "trigger"), pairs(Call))
def test_call_every_state_trigger_pair(state: CallState, trigger: str) -> None:
    check_pair(
        Call, state, trigger, _call, CALL_ARGS, prepare=_shape, prepare_values=SHAPES,
        max_examples=8,
    )  # fmt: skip


def _invitation(cls: type[ReceivedCallInvitation] = ReceivedCallInvitation) -> Any:
    call = _call(PinnedCall)
    call.outgoing = False
    call.state = CallState.RINGING
    inv = cls(call)
    call.invitation = inv
    return inv


@pytest.mark.parametrize(("state", "trigger"), pairs(ReceivedCallInvitation))
def test_received_invitation_every_state_trigger_pair(
    state: ReceivedCallInvitationState, trigger: str
) -> None:
    check_pair(ReceivedCallInvitation, state, trigger, _invitation, max_examples=10)


SENT_ARGS = {t: _args(t, reason=st.none() | TEXT) for t in ("answer_accept", "answer_decline")}


def _expiry(inv: SentInvitation, value: float | None) -> None:
    inv.expiration_time = value


@pytest.mark.parametrize(("state", "trigger"), pairs(SentInvitation))
def test_sent_invitation_every_state_trigger_pair(state: InvitationState, trigger: str) -> None:
    check_pair(
        SentInvitation, state, trigger, lambda: SentInvitation("inv-1", "peer"), SENT_ARGS,
        prepare=_expiry, prepare_values=st.none() | st.floats(0.1, 100), max_examples=10,
    )  # fmt: skip


def test_compiled_call_table_agrees_with_transitions() -> None:
    check_differential(
        Call, _call, CALL_ARGS, prepare=_shape, prepare_values=SHAPES, max_steps=25,
        max_examples=120,
    )  # fmt: skip


def test_compiled_received_invitation_table_agrees_with_transitions() -> None:
    check_differential(ReceivedCallInvitation, _invitation, max_examples=60)


def test_compiled_sent_invitation_table_agrees_with_transitions() -> None:
    check_differential(
        SentInvitation, lambda cls: cls("inv-1", "peer"), SENT_ARGS, prepare=_expiry,
        prepare_values=st.none() | st.floats(0.1, 100), max_examples=80,
    )  # fmt: skip


# --- input level ------------------------------------------------------------------------------


def test_scenarios_reach_every_call_state() -> None:
    reached = {SCENARIOS[name]().call.state for name in SCENARIOS}
    assert reached == set(CallState)
    sides = {(SCENARIOS[n]().call.outgoing, SCENARIOS[n]().call.state) for n in SCENARIOS}
    # both sides reach IDLE, CONNECTING, CONNECTED, RECONNECTING, ENDING and ENDED
    for state in ("IDLE", "CONNECTING", "CONNECTED", "RECONNECTING", "ENDING", "ENDED"):
        assert (True, CallState[state]) in sides and (False, CallState[state]) in sides


# each public input kind -> the triggers it may fire on the call
TIMER_TRIGGERS = {
    "rtx": ("rtx_timer",), "no_answer": ("no_answer_timer",),
    "lifetime": ("lifetime_timer",), "connect": ("connect_timer",),
    "ice_warning": ("ice_warning_timer",), "ice_restart": ("ice_restart_timer",),
    "ice_timeout": ("ice_timeout_timer",), "server_loss": ("server_loss_timer",),
    "peer_gone": ("peer_gone_timer",), "bogus": (),
}  # fmt: skip
WIRE_KINDS: dict[str, tuple[str, ...]] = {
    "invite": (), "answer": ("answered",), "candidate": (), "update": (), "update_ok": (),
    "bye": ("remote_bye",), "ack_invite": ("bye_acked",), "ack_answer": ("bye_acked",),
    "ack_bye": ("bye_acked",), "ack_garbage": ("bye_acked",), "media_state": (),
    "stream_state": (), "user_not_found": ("not_found",),
}  # fmt: skip
MEDIA_KINDS: dict[str, tuple[str, ...]] = {
    "media_acquired": ("media_ready",), "media_failed": ("media_failed",),
    "local_description": ("local_offer", "local_answer"),
    "description_failed": ("description_failed",), "candidate_found": (),
    "ice_state": ("ice_connected", "ice_disconnected", "ice_failed"), "track_added": (),
    "track_ended": ("local_track_ended",), "stats": (), "recording": (),
}  # fmt: skip
COMMAND_KINDS: dict[str, tuple[str, ...]] = {
    "hangup": ("hangup",), "mute": (), "unmute": (), "replace_published_stream": (),
    "start_recording": (), "stop_recording": (), "accept": ("accept",), "decline": ("decline",),
}  # fmt: skip
KINDS: dict[str, tuple[str, ...]] = {
    **WIRE_KINDS,
    **MEDIA_KINDS,
    **{f"timer:{name}": trig for name, trig in TIMER_TRIGGERS.items()},
    "server_lost": (),
    "server_back": (),
    "presence": (),  # the far side's devices as the relay lists them: arms or cancels only
    **COMMAND_KINDS,
}

SMALL_INT = st.integers(-2, 6) | st.integers(-wire.MAX_SAFE_INT, wire.MAX_SAFE_INT)
MSG_SENDER = st.sampled_from([PEER, "peer", "stranger/x", None])


def _msg(kind: str) -> st.SearchStrategy[wire.Message]:
    """A message of ``kind`` with drawn fields (its call id is replaced by the scene's)."""
    x = "placeholder"
    if kind.startswith("ack_"):
        what = kind[4:]
        whats = st.just(what) if what != "garbage" else TEXT.filter(
            lambda w: w not in ("invite", "answer", "bye"))  # fmt: skip
        return st.builds(wire.Ack, st.just(x), whats, st.none() | REASON)
    return {
        "invite": strategy_for(wire.Invite),
        "answer": strategy_for(wire.Answer),
        "candidate": strategy_for(wire.Candidate),
        "update": st.builds(wire.Update, st.just(x), TEXT,
                            st.none() | st.sampled_from(list(CallType)), SMALL_INT),
        "update_ok": st.builds(wire.UpdateOk, st.just(x), TEXT, SMALL_INT),
        "bye": st.builds(wire.Bye, st.just(x), REASON),
        "media_state": st.builds(wire.MediaState, st.just(x),
                                 st.sampled_from(ICE_STATES) | TEXT),
        "stream_state": strategy_for(wire.StreamState),
        "user_not_found": strategy_for(wire.UserNotFound),
    }[kind]  # fmt: skip


def _with_id(msg: wire.Message, call_id: str) -> wire.Message:
    field = "ref_id" if isinstance(msg, wire.UserNotFound) else "call_id"
    return attrs.evolve(msg, **{field: call_id})  # type: ignore[misc]


KNOWN_TRACKS = st.sampled_from(["t-a", "t-v", "t-x"]) | TEXT


def _media(kind: str, cid: str) -> st.SearchStrategy[media.MediaEvent]:
    j = st.just(cid)
    return {
        "media_acquired": st.builds(media.MediaAcquired, j, TEXT, st.booleans(), st.booleans()),
        "media_failed": st.builds(media.MediaFailed, j, TEXT),
        "local_description": st.builds(
            media.LocalDescriptionReady, j, st.sampled_from(["offer", "answer"]) | TEXT, TEXT),
        "description_failed": st.builds(media.DescriptionFailed, j, st.booleans(), TEXT),
        "candidate_found": st.builds(media.IceCandidateFound, j, TEXT, st.none() | TEXT,
                                     st.none() | st.integers(0, 3)),
        "ice_state": st.builds(media.IceStateChanged, j, st.sampled_from(ICE_STATES) | TEXT),
        "track_added": st.builds(media.TrackAdded, j, KNOWN_TRACKS,
                                 st.sampled_from(["audio", "video"]) | TEXT,
                                 st.sampled_from(["peer-cam", "peer-screen"]) | TEXT),
        "track_ended": st.builds(media.TrackEnded, j, KNOWN_TRACKS,
                                 st.sampled_from(["audio", "video"]) | TEXT, st.booleans()),
        "stats": st.builds(media.StatsReport, j,
                           st.dictionaries(TEXT, st.integers() | TEXT, max_size=3)),
        "recording": st.builds(
            media.RecordingReport, j,
            st.sampled_from(["started", "stopped", "available", "failed"]) | TEXT,
            st.dictionaries(TEXT, TEXT, max_size=2)),
    }[kind]  # fmt: skip


def _reconnect(s: Session, now: float) -> list[Effect]:
    """The server connection goes and comes back (a full retry / re-register cycle)."""
    fx = s.connection_lost(now)
    retry = [e for e in fx if isinstance(e, StartTimer) and e.timer_id == "session:retry"]
    if s.timer_armed("session:retry"):
        deadline = retry[0].deadline if retry else now + 60.0
        fx += s.timer_fired("session:retry", deadline)
        fx += s.connection_made(deadline)
        fx += s.receive_envelope(wire.Envelope(wire.Registered("me", "d1", "sid2")), deadline)
    return fx


def _expected_error(call: Call, kind: str, arg: Any) -> ErrorNumber | None:
    """The apiRTC number a command must raise in the call's current state (None: succeeds)."""
    ended = call.status is CallStatus.CALL_STATUS_ENDED
    ongoing = call.status is CallStatus.CALL_STATUS_ONGOING
    if kind == "hangup":
        allowed = spec_of(Call).allowed(call.state, "hangup")
        return None if allowed else ErrorNumber.ERROR_WRONG_STATE
    if kind in ("mute", "unmute"):
        if arg not in ("audio", "video"):
            return ErrorNumber.ERROR_BAD_PARAMETER
        return ErrorNumber.ERROR_WRONG_STATE if ended else None
    if kind == "replace_published_stream":
        if not ongoing or call.state is CallState.ANSWERING:  # nothing published yet
            return ErrorNumber.ERROR_WRONG_STATE
        return None if arg else ErrorNumber.ERROR_BAD_PARAMETER
    if kind == "start_recording":
        if not ongoing:
            return ErrorNumber.ERROR_WRONG_STATE
        return ErrorNumber.ERROR_STREAM_RECORD if call._recording else None
    if kind == "stop_recording":
        return None if call._recording else ErrorNumber.ERROR_STREAM_RECORD
    if kind == "accept":
        inv = call.invitation
        assert inv is not None
        standby = inv.state is ReceivedCallInvitationState.STANDBY
        ok = standby and call.state is CallState.RINGING
        return None if ok else ErrorNumber.ERROR_INVITATION_STATE_INVALID
    assert kind == "decline"
    return None


def _command_arg(kind: str) -> st.SearchStrategy[Any]:
    return {
        "hangup": st.none() | REASON,
        "mute": st.sampled_from(["audio", "video"]) | TEXT,
        "unmute": st.sampled_from(["audio", "video"]) | TEXT,
        "replace_published_stream": st.just("") | TEXT,
        "accept": st.booleans(),
        "decline": REASON,
    }.get(kind, st.none())


def _run_command(call: Call, kind: str, arg: Any, now: float) -> list[Effect]:
    if kind == "hangup":
        return call.hangup(now, arg)
    if kind in ("mute", "unmute"):
        return getattr(call, kind)(now, arg)  # type: ignore[no-any-return]
    if kind == "replace_published_stream":
        return call.replace_published_stream(now, arg)
    if kind in ("start_recording", "stop_recording"):
        return getattr(call, kind)(now)  # type: ignore[no-any-return]
    inv = call.invitation
    assert inv is not None
    if kind == "accept":
        return inv.accept(now, audio_only=arg)
    return inv.decline(now, arg)


def _call_timers(s: Session, call: Call) -> set[str]:
    prefix = f"call:{call.call_id}:"
    return {t for t in s.armed_timers() if t.startswith(prefix)}


def _check_effects(fx: Any) -> None:
    assert isinstance(fx, list), fx
    assert all(isinstance(e, Effect) for e in fx), fx


def _apply(scene: Scene, kind: str, drawn: Any, dt: float) -> list[Effect]:
    """Feed one non-command input through the public path (and, for a call the session no
    longer holds, to the call directly too)."""
    s, call = scene.session, scene.call
    now = scene.now + dt
    held = s.get_call(call.call_id) is call
    direct: list[Effect] = []
    if kind in WIRE_KINDS:
        msg, sender = drawn
        env = wire.Envelope(_with_id(msg, call.call_id), ME, sender)
        fx = s.receive_envelope(env, now)
        if not held:
            direct = call.receive(env, now)
    elif kind in MEDIA_KINDS:
        fx = s.media_event(drawn, now)
        if not held:
            direct = call.media_event(drawn, now)
    elif kind.startswith("timer:"):
        name = kind.partition(":")[2]
        tid = f"call:{call.call_id}:{name}"
        if s.timer_armed(tid):
            fx = s.timer_fired(tid, now)
        else:  # fired late or never armed: the call itself must cope
            fx = s.child_output(call, call.timer_fired(name, now)) if held else []
            direct = [] if held else call.timer_fired(name, now)
    elif kind == "server_lost":
        fx = s.connection_lost(now)
        if not held:
            direct = call.on_disconnected(now)
    elif kind == "presence":
        online, devices = drawn
        fx = s.receive_envelope(wire.Envelope(wire.Presence("peer", online, devices)), now)
        if not held:
            direct = call.peer_presence(tuple(devices) if online else (), now)
    else:
        assert kind == "server_back"
        fx = _reconnect(s, now)
        if not held:
            direct = call.on_reconnected(now)
    _check_effects(fx)
    _check_effects(direct)
    # a call that has ended re-arms nothing
    assert not any(isinstance(e, StartTimer) for e in direct), direct
    return fx


def _drawn(kind: str, cid: str) -> st.SearchStrategy[Any]:
    if kind in WIRE_KINDS:
        # user_not_found comes from the relay (no sender), mostly
        sender = st.none() | MSG_SENDER if kind == "user_not_found" else MSG_SENDER
        return st.tuples(_msg(kind), sender)
    if kind in MEDIA_KINDS:
        return _media(kind, cid)
    if kind in COMMAND_KINDS:
        return _command_arg(kind)
    if kind == "presence":
        devices = st.lists(st.sampled_from([PEER, "peer/p2", "p1", "stranger/x"]), max_size=3)
        return st.tuples(st.booleans(), devices)
    return st.none()


def _applicable(scenario: str, kind: str) -> bool:
    # the invitation commands exist on the callee side only (an invitation was received)
    return kind not in ("accept", "decline") or (
        scenario.startswith("callee") and scenario != "callee-IDLE"
    )


INPUT_PAIRS = [
    pytest.param(sc, kind, id=f"{sc}-{kind}")
    for sc in SCENARIOS
    for kind in KINDS
    if _applicable(sc, kind)
]


@pytest.mark.parametrize(("scenario", "kind"), INPUT_PAIRS)
def test_every_call_state_input_pair(scenario: str, kind: str) -> None:
    probe = SCENARIOS[scenario]()
    strategy = _drawn(kind, probe.call.call_id)
    spec = spec_of(Call)

    @settings(
        max_examples=6,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(drawn=strategy, dt=st.sampled_from([0.0, 0.3, 2.0, 41.0]))
    def run(drawn: Any, dt: float) -> None:  # fmt: skip
        scene = SCENARIOS[scenario]()
        s, call = scene.session, scene.call
        before = call.state
        was_ended = call.ended
        if kind in COMMAND_KINDS:
            expected = _expected_error(call, kind, drawn)
            snap = call_state(call)
            inv_snap = invitation_state(call.invitation)
            inv_before = call.invitation.state if call.invitation is not None else None
            timers = s.armed_timers()
            try:
                fx = _run_command(call, kind, drawn, scene.now + dt)
            except RtcError as exc:
                assert expected is not None, f"{kind}({drawn!r}) raised {exc} in {before.name}"
                assert exc.code is expected, (kind, before.name, exc.code, expected)
                assert call_state(call) == snap, f"{kind} in {before.name} changed the call"
                assert invitation_state(call.invitation) == inv_snap
                assert s.armed_timers() == timers
                return
            assert expected is None, f"{kind}({drawn!r}) in {before.name} did not raise"
            _check_effects(fx)
            if kind == "decline" and inv_before is not ReceivedCallInvitationState.STANDBY:
                assert call_state(call) == snap, "a decline that is not STANDBY is ignored"
                assert all(isinstance(e, Drop) for e in fx), fx
        else:
            fx = _apply(scene, kind, drawn, dt)
        after = call.state
        allowed = {before}.union(*(spec.destinations(before, t) for t in KINDS[kind]))
        assert after in allowed, f"{kind}: {before.name} -> {after.name}, table allows {allowed}"
        if after is CallState.ENDED:
            assert _call_timers(s, call) == set(), "an ended call left a timer armed"
            assert s.get_call(call.call_id) is None, "an ended call is still held"
            if was_ended:
                prefix = f"call:{call.call_id}:"
                assert not any(
                    isinstance(e, StartTimer) and e.timer_id.startswith(prefix) for e in fx
                ), fx

    run()
