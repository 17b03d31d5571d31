"""The call's declared shape: how it ends is a table, its drops are catalogued, its timers
are typed."""

from __future__ import annotations

import inspect
from typing import Any

import attrs
import pytest
from calltools import SCENARIOS
from hypothesis import strategies as st

from rtcstate import call as call_module
from rtcstate import media, wire
from rtcstate.call import (
    END_CAUSES,
    Call,
    CallDrop,
    CallRecordingTimer,
    CallState,
    CallTimer,
    EndPhase,
)
from rtcstate.codes import LOCAL_ERROR_TO_WIRE_REASON, CallType, ErrorCode, HangupReason
from rtcstate.drops import catalogue
from rtcstate.effects import Drop, Effect, Emit
from rtcstate.machine import spec_of
from rtcstate.session import Session, SessionConfig
from rtcstate.testing.exhaustive import check_input_pair, input_pairs
from rtcstate.testing.strategies import strategy_for

_ENDERS = ("_end_local", "_end_silently")


def test_every_trigger_that_ends_a_call_locally_has_a_declared_end_cause() -> None:
    declared = {t for (t, _) in END_CAUSES}
    enders = {t.trigger for t in spec_of(Call).transitions if set(t.after) & set(_ENDERS)}
    assert enders, "the table names its ending callbacks"
    assert enders <= declared, enders - declared
    assert declared <= set(spec_of(Call).triggers), declared - set(spec_of(Call).triggers)


def test_phased_end_causes_cover_every_phase_they_can_fire_in() -> None:
    phases = {
        "ice_timeout_timer": {EndPhase.SETUP, EndPhase.UPDATE},
        "description_failed": {EndPhase.SETUP_LOCAL, EndPhase.SETUP_REMOTE, EndPhase.UPDATE},
    }
    for trigger, needed in phases.items():
        assert {p for (t, p) in END_CAUSES if t == trigger} == needed, trigger


def test_the_end_cause_table_is_what_the_far_side_hears() -> None:
    """A connect timeout ends the call with CALL_ABORTED's wire reason, as the table says."""
    scene = SCENARIOS["caller-CONNECTING"]()
    tid = f"call:{scene.call.call_id}:{CallTimer.CONNECT.value}"
    scene.session.settings = attrs.evolve(scene.session.settings, ice_restart_attempts=0)
    fx = scene.session.timer_fired(tid, scene.now + 100)
    expected = LOCAL_ERROR_TO_WIRE_REASON[ErrorCode.CALL_ABORTED].value
    assert END_CAUSES[("connect_timer", EndPhase.ANY)].code is ErrorCode.CALL_ABORTED
    assert scene.call.hangup_cause is not None and scene.call.hangup_cause[1] == expected
    errors = [e for e in fx if isinstance(e, Emit) and e.event == "error"]
    assert errors and errors[0].payload["errorCode"] == ErrorCode.CALL_ABORTED.value


def test_a_hangup_before_anything_was_sent_is_a_cancel() -> None:
    scene = SCENARIOS["caller-PREPARING"]()
    scene.call.hangup(scene.now)
    assert scene.call.hangup_cause is not None
    assert scene.call.hangup_cause[1] == HangupReason.CALL_CANCELLED.value


def test_call_drops_are_catalogued_members_never_free_strings() -> None:
    source = inspect.getsource(call_module)
    assert 'Drop("' not in source
    assert CallDrop in catalogue()
    scene = SCENARIOS["caller-CONNECTED"]()
    fx = scene.call.timer_fired("bogus", scene.now)
    assert fx == [Drop(CallDrop.STALE_TIMER, f"call:{scene.call.call_id}:bogus")]
    assert fx[0].reason is CallDrop.STALE_TIMER


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_timer_a_call_arms_is_one_of_its_typed_timers(name: str) -> None:
    scene = SCENARIOS[name]()
    prefix = f"call:{scene.call.call_id}:"
    names = {t.value for t in CallTimer} | {t.value for t in CallRecordingTimer}
    for timer_id in scene.session.armed_timers():
        if timer_id.startswith(prefix):
            assert timer_id[len(prefix) :] in names, timer_id


# --- every (state, declared input) pair of the call ---------------------------------------

_PEER = "peer/p1"
_TEXT = st.text(max_size=8)
_REASON = st.sampled_from([r.value for r in HangupReason]) | _TEXT


def _wire(cls: type[wire.Message]) -> st.SearchStrategy[Any]:
    if cls is wire.Ack:
        what = st.sampled_from(["invite", "answer", "bye"]) | _TEXT
        msgs: st.SearchStrategy[Any] = st.builds(wire.Ack, _TEXT, what, st.none() | _REASON)
    elif cls is wire.Bye:
        msgs = st.builds(wire.Bye, _TEXT, _REASON)
    else:
        msgs = strategy_for(cls)
    senders = st.sampled_from([_PEER, "peer", None, "peer/p2"])
    return st.builds(wire.Envelope, msgs, st.just("me/d1"), senders)


_MEDIA: dict[type, st.SearchStrategy[Any]] = {
    media.MediaAcquired: st.builds(media.MediaAcquired, _TEXT, _TEXT),
    media.MediaFailed: st.builds(media.MediaFailed, _TEXT, _TEXT),
    media.LocalDescriptionReady: st.builds(
        media.LocalDescriptionReady, _TEXT, st.sampled_from(["offer", "answer"]) | _TEXT, _TEXT
    ),
    media.DescriptionFailed: st.builds(media.DescriptionFailed, _TEXT, st.booleans(), _TEXT),
    media.IceCandidateFound: st.builds(media.IceCandidateFound, _TEXT, _TEXT, st.none(), st.none()),
    media.IceStateChanged: st.builds(
        media.IceStateChanged,
        _TEXT,
        st.sampled_from(["new", "checking", "connected", "completed", "disconnected", "failed"]),
    ),
    media.TrackAdded: st.builds(media.TrackAdded, _TEXT, _TEXT, _TEXT, _TEXT),
    media.TrackEnded: st.builds(media.TrackEnded, _TEXT, _TEXT, _TEXT, st.booleans()),
    media.StatsReport: st.builds(media.StatsReport, _TEXT, st.dictionaries(_TEXT, _TEXT)),
    media.RecordingReport: st.builds(
        media.RecordingReport,
        _TEXT,
        st.sampled_from(["started", "stopped", "available", "failed"]) | _TEXT,
        st.dictionaries(_TEXT, _TEXT, max_size=2),
    ),
}


def _values(key: object) -> st.SearchStrategy[Any]:
    if isinstance(key, CallTimer):
        return st.just(key)
    assert isinstance(key, type)
    if issubclass(key, wire.Message):
        return _wire(key)
    return _MEDIA[key]


def _fresh_call() -> Call:
    s = Session(SessionConfig("me", device="d1", keepalive_interval=None))
    s.register(0.0)
    s.connection_made(0.0)
    s.receive_envelope(wire.Envelope(wire.Registered("me", "d1", "sid")), 0.0)
    call = Call(s, s.ids("call"), "peer", _PEER, CallType.MEDIA, outgoing=True)
    s.attach("call_id", call.call_id, call)
    return call


def _prepare(call: Call, outgoing: bool) -> None:
    call.outgoing = outgoing


def _deliver(call: Call, value: Any, now: float) -> list[Effect]:
    if isinstance(value, CallTimer):
        return call.timer_fired(value.value, now)
    if isinstance(value, wire.Envelope):
        msg = value.message
        field = "ref_id" if isinstance(msg, wire.UserNotFound) else "call_id"
        msg = attrs.evolve(msg, **{field: call.call_id})
        return call.receive(attrs.evolve(value, message=msg), now)
    return call.media_event(attrs.evolve(value, **{value.ROUTE: call.call_id}), now)


def test_every_declared_input_of_a_call_is_mapped_and_covered() -> None:
    keys = set(spec_of(Call).input_keys())
    routed = {cls for cls in wire.MESSAGE_TYPES.values() if cls.ROUTE in ("call_id", "ref_id")}
    assert routed - {wire.UserNotFound} <= keys | {wire.InviteAnswer}, routed - keys
    assert set(CallTimer) <= keys and set(_MEDIA) <= keys


@pytest.mark.parametrize(
    ("state", "key"),
    [pytest.param(s, k, id=f"{s.name}-{getattr(k, '__name__', k)}") for s, k in input_pairs(Call)],
)
def test_every_call_state_declared_input_pair(state: CallState, key: object) -> None:
    check_input_pair(
        Call,
        state,
        key,
        _fresh_call,
        _values(key),
        _deliver,
        prepare=_prepare,
        prepare_values=st.booleans(),
        max_examples=8,
    )
