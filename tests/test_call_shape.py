"""The call's declared shape: how it ends is a table, its drops are catalogued, its timers
are typed."""

from __future__ import annotations

import inspect

import attrs
import pytest
from calltools import SCENARIOS

from rtcstate import call as call_module
from rtcstate.call import END_CAUSES, Call, CallDrop, CallTimer, EndPhase
from rtcstate.codes import LOCAL_ERROR_TO_WIRE_REASON, ErrorCode, HangupReason
from rtcstate.drops import catalogue
from rtcstate.effects import Drop, Emit
from rtcstate.machine import spec_of

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
    names = {t.value for t in CallTimer}
    for timer_id in scene.session.armed_timers():
        if timer_id.startswith(prefix):
            assert timer_id[len(prefix) :] in names, timer_id
