"""ConversationCall: every (state, trigger) and (state, input) pair, the restart backoff
(1 s·2ⁿ, then CALL_ABORTED past 150 s), hangups, stats and slowLink."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcstate.codes import ErrorNumber
from rtcstate.conversation.call import (
    CallRole,
    ConversationCall,
    ConversationCallState,
    ConversationCallTimer,
)
from rtcstate.effects import (
    ClosePeerConnection,
    CreateAnswer,
    CreateOffer,
    CreatePeerConnection,
    Drop,
    Effect,
    Emit,
    PublishStream,
    Send,
    StartTimer,
)
from rtcstate.errors import InvalidStateError
from rtcstate.machine import spec_of
from rtcstate.media import (
    DescriptionFailed,
    IceCandidateFound,
    IceStateChanged,
    LocalDescriptionReady,
    StatsReport,
    TrackAdded,
)
from rtcstate.testing.exhaustive import (
    check_differential,
    check_input_pair,
    check_pair,
    input_pairs,
    pairs,
)
from rtcstate.wire_streams import ConvPeerSignal, ConvSignal, SignalKind

NOW = st.floats(0, 1e6, allow_nan=False)


@attrs.define(eq=False)
class Owner:
    log: list[tuple[str, Any]] = attrs.field(factory=list)

    def call_established(self, call: ConversationCall, now: float) -> list[Effect]:
        self.log.append(("established", now))
        return []

    def call_ended(self, call: ConversationCall, now: float) -> list[Effect]:
        self.log.append(("ended", call.ended_by))
        return []

    def call_track(self, call: ConversationCall, kind: str, now: float) -> list[Effect]:
        self.log.append(("track", kind))
        return []


def _call(role: CallRole = CallRole.PUBLISH) -> ConversationCall:
    return ConversationCall("c1", "room", "s1", "bob/b", role, Owner(), local_stream_id="s1")


SIGNALS = st.builds(
    ConvPeerSignal,
    st.just("room"),
    st.just("c1"),
    st.just("s1"),
    st.sampled_from(list(SignalKind)),
    st.none() | st.text(max_size=5),
    st.none() | st.text(max_size=5),
    st.none() | st.text(max_size=2),
    st.none() | st.integers(0, 3),
    st.none() | st.text(max_size=5),
)
REPORTS: dict[object, st.SearchStrategy[Any]] = {
    LocalDescriptionReady: st.builds(
        LocalDescriptionReady, st.just("c1"), st.sampled_from(["offer", "answer"]), st.text()
    ),
    IceCandidateFound: st.builds(IceCandidateFound, st.just("c1"), st.text(max_size=5)),
    IceStateChanged: st.builds(
        IceStateChanged,
        st.just("c1"),
        st.sampled_from(["new", "checking", "connected", "completed", "disconnected", "failed"]),
    ),
    DescriptionFailed: st.builds(DescriptionFailed, st.just("c1"), st.booleans(), st.text()),
    TrackAdded: st.builds(
        TrackAdded, st.just("c1"), st.just("t"), st.sampled_from(["audio", "video"]), st.just("s1")
    ),
    StatsReport: st.builds(
        StatsReport,
        st.just("c1"),
        st.fixed_dictionaries(
            {"audioReceived": st.fixed_dictionaries({"packetLossRatio": st.floats(0, 1)})}
        )
        | st.dictionaries(st.text(max_size=3), st.integers()),
    ),
    ConvPeerSignal: SIGNALS,
    ConversationCallTimer.SETUP: st.just(ConversationCallTimer.SETUP),
    ConversationCallTimer.RESTART: st.just(ConversationCallTimer.RESTART),
}


def _msg_args(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(lambda now, m: ((now,), {"msg": m}), NOW, strategy)


ARGS: dict[str, Any] = {
    t: _msg_args(SIGNALS.filter(lambda m, t=t: m.kind == t))
    for t in ("offer", "answer", "candidate", "bye")
}
for key, strategy in REPORTS.items():
    route = spec_of(ConversationCall).inputs.routes()[key]  # type: ignore[union-attr]
    if isinstance(route, str):
        ARGS[route] = _msg_args(strategy)
for trigger, state in (
    ("ice_connected", "connected"),
    ("ice_disconnected", "disconnected"),
    ("ice_failed", "failed"),
):
    ARGS[trigger] = _msg_args(st.just(IceStateChanged("c1", state)))
ARGS["hangup"] = st.builds(lambda now, r: ((now,), {"reason": r}), NOW, st.none() | st.text())

ROLES = st.sampled_from(list(CallRole))


def _prepare(call: ConversationCall, value: tuple[CallRole, float | None]) -> None:
    call.role, call.lost_at = value


PREP = st.tuples(ROLES, st.none() | st.floats(0, 1e6))


def test_every_state_trigger_pair() -> None:
    for state, trigger in pairs(ConversationCall):
        check_pair(
            ConversationCall,
            state,
            trigger,
            _call,
            args=ARGS,
            prepare=_prepare,
            prepare_values=PREP,
            max_examples=8,
        )


def _deliver(call: ConversationCall, value: Any, now: float) -> list[Effect]:
    if isinstance(value, ConversationCallTimer):
        call.timers[value] = now
        return call.timer_fired(call.timer_id(value), now)
    if isinstance(value, ConvPeerSignal):
        return call.receive(value, now)
    return call.media_event(value, now)


def test_every_state_input_pair_never_raises() -> None:
    for state, key in input_pairs(ConversationCall):
        check_input_pair(
            ConversationCall,
            state,
            key,
            _call,
            REPORTS[key],
            _deliver,
            prepare=_prepare,
            prepare_values=PREP,
            max_examples=8,
        )


def test_compiled_table_agrees_with_transitions() -> None:
    check_differential(
        ConversationCall,
        lambda klass: klass("c1", "room", "s1", "bob/b", CallRole.PUBLISH, Owner()),
        args=ARGS,
        max_steps=12,
        max_examples=30,
    )


def test_every_trigger_has_an_argument_strategy_or_takes_none() -> None:
    plain = {"start", "abort", "setup_timer", "restart_timer"}
    assert set(spec_of(ConversationCall).triggers) == set(ARGS) | plain


def _sent(fx: list[Effect]) -> list[ConvSignal]:
    return [e.message for e in fx if isinstance(e, Send) and isinstance(e.message, ConvSignal)]


def test_the_publisher_offers_and_the_subscriber_answers() -> None:
    pub, sub = _call(CallRole.PUBLISH), _call(CallRole.SUBSCRIBE)
    fx = pub.start(0.0)
    assert fx[:3] == [PublishStream("c1", "s1"), CreatePeerConnection("c1"), CreateOffer("c1")]
    fx = sub.start(0.0)
    assert fx[0] == CreatePeerConnection("c1", polite=True) and CreateOffer("c1") not in fx
    [offer] = _sent(pub.media_event(LocalDescriptionReady("c1", "offer", "O"), 0.1))
    assert (offer.kind, offer.sdp, offer.peer) == ("offer", "O", "bob/b")
    fx = sub.receive(ConvPeerSignal("room", "c1", "s1", SignalKind.OFFER, sdp="O"), 0.2)
    assert CreateAnswer("c1") in fx
    assert sub.media_event(TrackAdded("c1", "t", "video", "s1"), 0.3) == []
    assert ("track", "video") in sub.owner.log  # type: ignore[attr-defined]
    assert pub.receive(ConvPeerSignal("room", "c1", "s1", SignalKind.OFFER), 0.3)[0] == Drop(
        "wrong-end", "offer to the publish end"
    )
    pub.media_event(IceStateChanged("c1", "connected"), 0.4)
    assert pub.state is ConversationCallState.CONNECTED


def test_restart_backoff_doubles_and_ends_with_call_aborted_after_150_s() -> None:
    call = _call()
    call.start(0.0)
    call.media_event(IceStateChanged("c1", "connected"), 1.0)
    now = 10.0
    fx = call.media_event(IceStateChanged("c1", "failed"), now)
    assert ClosePeerConnection("c1") in fx
    assert [e.event for e in fx if isinstance(e, Emit)] == ["disconnectionWarning"]
    assert "hangup" not in [e.event for e in fx if isinstance(e, Emit)]  # suppressed
    delays = []
    while call.state is not ConversationCallState.ENDED:
        [start] = [e for e in fx if isinstance(e, StartTimer) and e.timer_id.endswith("restart")]
        delays.append(start.deadline - now)
        now = start.deadline
        fx = call.timer_fired(start.timer_id, now)
        if call.state is ConversationCallState.CONNECTING:  # the new connection fails at once
            assert CreateOffer("c1") in fx
            fx = call.media_event(IceStateChanged("c1", "failed"), now)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
    [error] = [e for e in fx if isinstance(e, Emit) and e.event == "error"]
    assert error.payload["errorCode"] == "CALL_ABORTED" and error.payload["streamId"] == "s1"
    assert _sent(fx)[-1].kind == "bye"
    assert call.owner.log[-1] == ("ended", ("local", "Unable_to_establish"))  # type: ignore[attr-defined]


def test_connected_again_resets_the_backoff() -> None:
    call = _call()
    call.start(0.0)
    fx = call.media_event(IceStateChanged("c1", "failed"), 5.0)
    fx = call.timer_fired(call.timer_id(ConversationCallTimer.RESTART), 6.0)
    call.media_event(IceStateChanged("c1", "connected"), 6.5)
    assert call.restarts == 0 and call.lost_at is None
    fx = call.media_event(IceStateChanged("c1", "failed"), 100.0)
    [start] = [e for e in fx if isinstance(e, StartTimer)]
    assert start.deadline == 101.0


def test_setup_timeout_and_disconnect_grace_lose_the_call() -> None:
    call = _call()
    fx = call.start(0.0)
    [setup] = [e for e in fx if isinstance(e, StartTimer)]
    assert setup.deadline == 20.0
    call.timer_fired(setup.timer_id, 20.0)
    assert call.state is ConversationCallState.RESTARTING
    other = _call()
    other.start(0.0)
    other.media_event(IceStateChanged("c1", "connected"), 1.0)
    fx = other.media_event(IceStateChanged("c1", "disconnected"), 2.0)
    [grace] = [e for e in fx if isinstance(e, StartTimer)]
    assert grace.deadline == 12.0
    other.media_event(IceStateChanged("c1", "connected"), 3.0)  # healed: the grace is over
    assert other.timer_fired(grace.timer_id, 12.0)[0] == Drop(
        "not-connected", f"timer {grace.timer_id} is not armed"
    )
    assert other.state is ConversationCallState.CONNECTED


def test_hangups_local_and_remote() -> None:
    call = _call()
    call.start(0.0)
    fx = call.hangup(1.0, "Hangup_From_Caller")
    assert (
        Emit(
            "conversation:room",
            "hangup",
            {"from": "local", "reason": "Hangup_From_Caller", "streamId": "s1"},
        )
        in fx
    )
    assert _sent(fx)[0].kind == "bye"
    with pytest.raises(InvalidStateError) as info:
        call.hangup(2.0)
    assert info.value.code == ErrorNumber.ERROR_WRONG_STATE
    other = _call(CallRole.SUBSCRIBE)
    other.start(0.0)
    fx = other.receive(ConvPeerSignal("room", "c1", "s1", SignalKind.BYE, reason="x"), 1.0)
    assert (
        Emit("conversation:room", "hangup", {"from": "remote", "reason": "x", "streamId": "s1"})
        in fx
    )
    late = other.receive(ConvPeerSignal("room", "c1", "s1", SignalKind.CANDIDATE), 2.0)
    assert [type(e) for e in late] == [Drop]


@given(loss=st.floats(0, 1))
def test_stats_give_call_stats_update_and_slow_link_from_the_loss(loss: float) -> None:
    call = _call()
    call.start(0.0)
    call.media_event(IceStateChanged("c1", "connected"), 1.0)
    stats = {"videoReceived": {"packetLossRatio": loss}}
    fx = call.media_event(StatsReport("c1", stats), 2.0)
    events = [e.event for e in fx if isinstance(e, Emit)]
    assert events[0] == "callStatsUpdate"
    assert fx[0].payload == {
        "streamId": "s1",
        "callId": "c1",
        "mesh": True,  # type: ignore[attr-defined]
        "contact": "bob/b",
        "stats": stats,
    }
    assert ("slowLink" in events) == (loss >= 0.1)
