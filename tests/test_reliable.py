"""ReliableSender: its table over every (state, trigger) and declared input, agreement with
`transitions`, and the schedule it keeps (send, acknowledge, retransmit, pause, give up)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.codes import CallType
from rtcstate.effects import CancelTimer, Effect, Send, StartTimer
from rtcstate.machine import all_machines, spec_of
from rtcstate.reliable import (
    ReliableSender,
    ReliableState,
    ReliableTimer,
    RtxOutcome,
)
from rtcstate.settings import CallSettings
from rtcstate.testing.exhaustive import (
    check_differential,
    check_input_pair,
    check_pair,
    input_pairs,
    pairs,
)

TID = "call:c1:rtx"


@attrs.frozen
class Owner:
    remote: str = "peer/p1"
    settings: CallSettings = attrs.field(factory=CallSettings)
    rtx_timer_id: str = TID


OWNER = Owner()
MSGS: st.SearchStrategy[wire.Message] = st.sampled_from(
    [
        wire.Invite("c1", CallType.MEDIA, sdp="o"),
        wire.Answer("c1", "a"),
        wire.Bye("c1", "r"),
        wire.Update("c1", "u1", seq=1),
        wire.Update("c1", "u2", seq=2),
    ]
)
KINDS = st.sampled_from([wire.Invite, wire.Answer, wire.Bye, wire.Update])
NOW = st.floats(0, 1e6, allow_nan=False)


def _plain(now: float) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (now,), {"owner": OWNER}


ARGS = {
    "send": st.builds(lambda n, m: ((n,), {"owner": OWNER, "msg": m}), NOW, MSGS),
    "hold": st.builds(lambda n, m: ((n,), {"owner": OWNER, "msg": m}), NOW, MSGS),
    "settle": st.builds(
        lambda n, k, s: ((n,), {"owner": OWNER, "kind": k, "seq": s}),
        NOW,
        KINDS,
        st.none() | st.integers(0, 3),
    ),
    **{t: st.builds(_plain, NOW) for t in ("expire", "clear", "count_afresh", "pause", "resume")},
}
# what a sender in a state holds: waiting messages (only where something waits) and tries
SHAPE = st.tuples(st.lists(MSGS, min_size=1, max_size=3), st.integers(0, 9))


def _make(cls: type = ReliableSender) -> Any:
    return cls()


def _shape(obj: ReliableSender, value: tuple[list[wire.Message], int]) -> None:
    waiting, tries = value
    if obj.state in (ReliableState.WAITING, ReliableState.PAUSED):
        obj.waiting = list(waiting)
        obj.tries = max(tries, 1)
    else:
        obj.waiting = None
        obj.tries = tries


def test_the_sender_is_a_registered_machine() -> None:
    assert all_machines()["ReliableSender"] is spec_of(ReliableSender)
    assert "WAITING" in spec_of(ReliableSender).mermaid()


@pytest.mark.parametrize(("state", "trigger"), pairs(ReliableSender))
def test_every_sender_state_trigger_pair(state: ReliableState, trigger: str) -> None:
    check_pair(ReliableSender, state, trigger, _make, ARGS, _shape, SHAPE, max_examples=15)


@pytest.mark.parametrize(("state", "key"), input_pairs(ReliableSender))
def test_every_sender_state_declared_input_pair(state: ReliableState, key: object) -> None:
    def deliver(obj: ReliableSender, value: Any, now: float) -> list[Effect]:
        fx: list[Effect] = []
        spec_of(ReliableSender).deliver(obj, value, value, fx, now, owner=OWNER)
        return fx

    check_input_pair(
        ReliableSender, state, key, _make, st.just(key), deliver, _shape, SHAPE, max_examples=10
    )


def test_compiled_sender_table_agrees_with_transitions() -> None:
    check_differential(ReliableSender, _make, ARGS, max_examples=120)


def _deadline(fx: list[Effect]) -> float | None:
    starts = [e.deadline for e in fx if isinstance(e, StartTimer)]
    assert all(isinstance(e, StartTimer | Send | CancelTimer) for e in fx), fx
    assert len(starts) <= 1
    return starts[0] if starts else None


@settings(max_examples=60, deadline=None, database=None)
@given(
    initial=st.floats(0.01, 2),
    factor=st.floats(1, 20),
    attempts=st.integers(1, 9),
    start=NOW,
)
def test_unanswered_sends_follow_the_doubling_schedule_then_give_up(
    initial: float, factor: float, attempts: int, start: float
) -> None:
    schedule = CallSettings(rtx_initial=initial, rtx_max=initial * factor, rtx_attempts=attempts)
    owner = Owner(settings=schedule)
    msg = wire.Invite("c1", CallType.MEDIA, sdp="o")
    rtx = ReliableSender()
    fx: list[Effect] = []
    rtx.send(fx, start, owner, msg)
    assert fx == [Send(owner.remote, msg), StartTimer(TID, start + initial)]
    sends, now, delay = 1, start + initial, initial
    for _ in range(attempts + 2):  # bounded: gives up after `attempts` sends
        fx = []
        outcome = rtx.expire(fx, now, owner)
        if outcome is RtxOutcome.GAVE_UP:
            assert fx == [] and rtx.state is ReliableState.IDLE and not rtx.pending
            break
        assert outcome is RtxOutcome.RESENT
        sends += 1
        delay = min(delay * 2, initial * factor)
        assert fx == [Send(owner.remote, msg), StartTimer(TID, now + delay)]
        now += delay
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("never gave up")
    assert sends == attempts == rtx.tries
    assert rtx.expire([], now, owner) is RtxOutcome.STALE


def test_an_acknowledgement_removes_only_what_it_answers() -> None:
    rtx = ReliableSender()
    fx: list[Effect] = []
    invite, upd1, upd2 = (
        wire.Invite("c1", CallType.MEDIA, sdp="o"),
        wire.Update("c1", "a", seq=1),
        wire.Update("c1", "b", seq=2),
    )
    for m in (invite, upd1, upd2):
        rtx.send(fx, 0.0, OWNER, m)
    assert [e for e in fx if isinstance(e, StartTimer)] == [StartTimer(TID, 0.5)]  # first only
    fx = []
    assert rtx.settle(fx, 1.0, OWNER, wire.Update, 2)
    assert rtx.waiting == [invite, upd1] and fx == []
    assert not rtx.settle(fx, 1.0, OWNER, wire.Update, 3)  # answers nothing waiting
    assert rtx.settle(fx, 1.0, OWNER, wire.Update, 1)
    assert rtx.settle(fx, 1.0, OWNER, wire.Invite)
    assert fx == [CancelTimer(TID)] and rtx.state is ReliableState.IDLE
    assert not rtx.settle(fx, 1.0, OWNER, wire.Invite)  # a duplicate acknowledgement


def test_the_server_away_pauses_and_the_reconnection_resends_counting_afresh() -> None:
    rtx = ReliableSender()
    bye = wire.Bye("c1", "r")
    fx: list[Effect] = []
    rtx.send(fx, 0.0, OWNER, bye)
    rtx.expire(fx, 0.5, OWNER)
    assert rtx.tries == 2
    fx = []
    rtx.pause(fx, 1.0, OWNER)
    assert fx == [CancelTimer(TID)] and rtx.state is ReliableState.PAUSED
    assert rtx.expire(fx, 1.5, OWNER) is RtxOutcome.STALE and not rtx.spent(OWNER)
    upd = wire.Update("c1", "u", seq=1)
    rtx.send(fx, 2.0, OWNER, upd)  # sent (best effort), no timer while away
    assert fx == [CancelTimer(TID), Send(OWNER.remote, upd)]
    fx = []
    rtx.resume(fx, 3.0, OWNER)
    assert fx == [Send(OWNER.remote, bye), Send(OWNER.remote, upd), StartTimer(TID, 3.5)]
    assert rtx.tries == 0 and rtx.state is ReliableState.WAITING


def test_hold_keeps_one_message_for_the_reconnection_without_sending_it() -> None:
    rtx = ReliableSender()
    fx: list[Effect] = []
    rtx.pause(fx, 0.0, OWNER)
    bye = wire.Bye("c1", "disconnected")
    rtx.hold(fx, 0.0, OWNER, bye)
    assert fx == [] and rtx.waiting == [bye] and rtx.tries == 1
    rtx.resume(fx, 5.0, OWNER)
    assert fx == [Send(OWNER.remote, bye), StartTimer(TID, 5.5)]


def test_the_timer_is_the_only_declared_input() -> None:
    assert spec_of(ReliableSender).input_keys() == (ReliableTimer.RTX,)
