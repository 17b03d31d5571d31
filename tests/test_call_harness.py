"""Calls end to end over the simulated lossy network: invariants under drawn scenarios and faults.

The property tests draw scenarios (rtcstate.testing.harness.scenarios) and fault settings
(drop, duplicate, reorder, delay) and require every invariant of the harness; the examples pin
exact apiRTC event sequences for the classic situations.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.call import Call
from rtcstate.codes import HangupReason
from rtcstate.effects import CreateOffer, Effect, RestartIce
from rtcstate.session import SessionConfig
from rtcstate.settings import CallSettings
from rtcstate.testing.harness import (
    CALLEE,
    CALLER,
    Accept,
    CallRecord,
    Decline,
    Hangup,
    IceTrouble,
    InvariantViolation,
    MediaFailure,
    Outcome,
    Scenario,
    ServerLoss,
    call_records,
    check_call_ended,
    check_fork,
    check_hangups_agree,
    check_invariants,
    check_media,
    check_no_errors,
    check_timer_log,
    check_timers,
    fault_settings,
    multi_device,
    run,
    scenarios,
    two_party,
)
from rtcstate.testing.network import (
    Client,
    Faults,
    LivelockError,
    MediaModel,
    SimNetwork,
    TimerRecord,
)


def examples(n: int) -> settings:
    """Hypothesis settings of these tests: ``n`` examples, no deadline (runs are ~5 ms)."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


LOSSY = Faults(
    drop=0.3,
    duplicate=0.2,
    reorder=0.3,
    min_delay=0.001,
    max_delay=0.1,
    max_consecutive_drops=2,
    max_drops_per_message=3,
)
HAPPY_CALLER = ["localStreamAvailable", "accepted", "response", "streamAdded", "streamRemoved",
                "hangup"]  # fmt: skip
HAPPY_CALLEE = ["localStreamAvailable", "streamAdded", "streamRemoved", "hangup"]
BUSY = HangupReason.USER_BUSY.value
NOT_FOUND = HangupReason.USER_NOT_FOUND.value


def payloads(out: Outcome, event: str, party: str = CALLER) -> list[Any]:
    client = out.caller if party == CALLER else out.callee
    return [
        e.payload for e in client.emits if e.target == f"call:{out.call_id}" and e.event == event
    ]


# --- properties -------------------------------------------------------------------------------


@examples(1000)
@given(scenarios("two_party"))
def test_two_party_scenarios_keep_every_invariant(scenario: Scenario) -> None:
    out = run(scenario)
    out.check()
    assert out.network.stats.events < 2_000  # bounded (~200 seen; LivelockError far above)


@examples(300)
@given(scenarios("server_loss"))
def test_a_short_server_loss_does_not_end_the_call(scenario: Scenario) -> None:
    out = run(scenario)
    out.check()
    assert out.network.stats.events < 2_000
    # the call outlived the loss: it ended only with the scripted hang-up
    hangup = out.hangup(CALLER)
    assert hangup is not None
    assert hangup["reason"] in ("Hangup_From_Caller", "Hangup_From_Callee")
    loss = next(a for a in scenario.actions if isinstance(a, ServerLoss))
    if any("ServerLoss" in why for why in out.skipped):
        return  # the call was not established then (hung up first): no loss happened
    lost = out.caller if loss.party == CALLER else out.callee
    assert "reconnection" in lost.events("session")
    if loss.party == CALLER:  # the caller renegotiates with an ICE restart
        assert RestartIce(out.call_id or "") in lost.media_commands(RestartIce)


@examples(600)
@given(scenarios("multi_device", devices=(2, 4)))
def test_forked_calls_connect_exactly_one_device(scenario: Scenario) -> None:
    out = run(scenario)
    out.check()
    assert out.network.stats.events < 2_000
    connected = [d for d in out.devices if "CONNECTED" in d.call_states.get(out.call_id or "", [])]
    caller = call_records(out.caller)[out.call_id or ""]
    if caller.connected:
        assert [d.address for d in connected] == [caller.bound]


@examples(200)
@given(
    faults=fault_settings(),
    seed=st.integers(0, 2**32 - 1),
    at=st.floats(7.0, 12.0),
    delta=st.floats(0.0, 0.06),
    callee_first=st.booleans(),
)
def test_crossing_byes_agree_and_the_callers_reason_wins(
    faults: Faults, seed: int, at: float, delta: float, callee_first: bool
) -> None:
    caller_at, callee_at = (at + delta, at) if callee_first else (at, at + delta)
    out = two_party(
        [Accept(1.2), Hangup(caller_at, CALLER, reason="Caller_Reason"),
         Hangup(callee_at, CALLEE, reason="Callee_Reason")],
        faults=faults, seed=seed,
    )  # fmt: skip
    out.check()
    caller, callee = out.hangup(CALLER), out.hangup(CALLEE)
    assert caller is not None
    if callee is None:  # the invite was still being retransmitted: the callee never rang
        assert out.device_call() is None
        return
    crossed = bool(out.caller.sent(wire.Bye)) and bool(out.callee.sent(wire.Bye))
    if crossed:  # both sent a bye: the caller's reason wins on both ends
        assert caller == {"from": "local", "reason": "Caller_Reason"}
        assert callee == {"from": "remote", "reason": "Caller_Reason"}


@examples(100)
@given(faults=fault_settings(), seed=st.integers(0, 2**32 - 1))
def test_happy_path_events_are_the_same_on_any_network(faults: Faults, seed: int) -> None:
    out = two_party([Accept(1.5), Hangup(12.0, CALLER)], faults=faults, seed=seed)
    out.check()
    assert out.events(CALLER) == HAPPY_CALLER
    assert out.events(CALLEE) == HAPPY_CALLEE


# --- examples ---------------------------------------------------------------------------------


def test_happy_path_exact_caller_events() -> None:
    out = two_party([Accept(2.0), Hangup(10.0, CALLER)])
    out.check()
    assert out.events(CALLER) == HAPPY_CALLER
    assert payloads(out, "response") == ["accepted"]
    (added,) = payloads(out, "streamAdded")
    # the first remote track (audio) announces the stream; its video joins it silently
    assert added["isRemote"] and added["hasAudio"]
    assert added["contact"] == "bob"
    assert payloads(out, "hangup") == [{"from": "local", "reason": "Hangup_From_Caller"}]
    assert out.events(CALLEE) == HAPPY_CALLEE
    assert payloads(out, "hangup", CALLEE) == [{"from": "remote", "reason": "Hangup_From_Caller"}]
    assert "incomingCall" in out.callee.events("session")
    assert out.skipped == []
    # every timer started was cancelled or fired, on both sides
    for client in (out.caller, out.callee):
        assert client.armed == {} and client.session.armed_timers() == frozenset()


def test_callee_hangs_up() -> None:
    out = two_party([Accept(2.0), Hangup(10.0, CALLEE)])
    out.check()
    assert out.hangup(CALLER) == {"from": "remote", "reason": "Hangup_From_Callee"}
    assert out.hangup(CALLEE) == {"from": "local", "reason": "Hangup_From_Callee"}


def test_callee_declines() -> None:
    out = two_party([Decline(2.0)])
    out.check()
    reason = HangupReason.USER_REFUSED_CALL.value
    assert out.events(CALLER) == ["localStreamAvailable", "hangup", "declined", "response"]
    assert payloads(out, "declined") == [{"reason": reason}]
    assert payloads(out, "response") == ["declined"]
    assert out.hangup(CALLER) == {"from": "remote", "reason": reason}
    assert out.hangup(CALLEE) == {"from": "local", "reason": reason}


def test_no_answer_timeout_ends_both_sides() -> None:
    out = two_party(settings=CallSettings(no_answer_timeout=5.0), finish_at=None)
    out.check()
    reason = HangupReason.NO_ANSWER.value
    assert out.hangup(CALLER) == {"from": "local", "reason": reason}
    assert out.hangup(CALLEE) == {"from": "remote", "reason": reason}


def test_caller_media_failure_retries_audio_only_then_gives_up() -> None:
    out = two_party([MediaFailure(CALLER, count=2), Accept(2.0)])
    out.check()
    assert out.events(CALLER)[:2] == ["userMediaError", "userMediaError"]
    assert out.hangup(CALLER) is not None
    assert out.device_call() is None  # nothing reached the callee: the call never rang


def test_callee_media_failure_once_falls_back_to_audio() -> None:
    out = two_party([MediaFailure(CALLEE, count=1), Accept(2.0), Hangup(10.0, CALLER)])
    out.check()
    (added,) = payloads(out, "streamAdded")
    assert added["hasAudio"] and not added["hasVideo"]


def test_ice_failure_on_both_sides_without_recovery_ends_with_ice_failed() -> None:
    out = two_party([Accept(1.5), IceTrouble(5.0, "failed")])
    out.check()
    assert out.hangup(CALLER) == {"from": "local", "reason": "Ice_failed"}
    assert out.hangup(CALLEE) == {"from": "remote", "reason": "Ice_failed"}
    assert len(out.caller.media_commands(RestartIce)) == CallSettings().ice_restart_attempts


def test_a_second_ice_restart_replaces_the_first() -> None:
    """ICE fails twice in a row on the caller: two restarts, two updates. The second replaces
    the first (regression: the first stayed in the retransmissions until the call aborted) and
    the callee answers only the newest (regression: it answered the first one with the
    second's sequence number, and the peer connections never matched again)."""
    trouble = IceTrouble(3.0, "failed", (CALLER,), heal_after=1.0)
    out = two_party([Accept(1.5), trouble, trouble, Hangup(30.0, CALLER)])
    out.check()
    states = out.caller.call_states[out.call_id or ""]
    assert states[states.index("RECONNECTING") :][:2] == ["RECONNECTING", "CONNECTED"]
    assert [m.seq for m in out.caller.sent(wire.Update)] == [1, 2]
    assert [m.seq for m in out.callee.sent(wire.UpdateOk)] == [2]
    assert out.hangup(CALLER) == {"from": "local", "reason": "Hangup_From_Caller"}


def test_ice_disconnection_that_heals_keeps_the_call() -> None:
    out = two_party([Accept(1.5), IceTrouble(5.0, "disconnected", (CALLEE,), heal_after=1.0),
                     Hangup(20.0, CALLER)])  # fmt: skip
    out.check()
    assert "error" in out.events(CALLER)  # DISTANT_ICE_CONNECTION_STATE_DISCONNECTED
    assert out.hangup(CALLER) == {"from": "local", "reason": "Hangup_From_Caller"}


def test_user_not_found() -> None:
    out = two_party(callee_online=False)
    out.check()
    assert payloads(out, "declined") == [{"reason": NOT_FOUND}]
    assert out.hangup(CALLER) == {"from": "remote", "reason": NOT_FOUND}
    assert out.callee.calls == {}


def test_server_loss_recovered_renegotiates_with_an_ice_restart() -> None:
    out = two_party([Accept(1.5), ServerLoss(5.0, 3.0, CALLER), Hangup(40.0, CALLEE)])
    out.check()
    assert out.skipped == []
    caller = out.caller
    session = caller.events("session")
    assert session.index("disconnect") < session.index("reconnecting")
    assert session.index("reconnecting") < session.index("reconnection")
    call_id = out.call_id or ""
    assert RestartIce(call_id) in caller.media_commands(RestartIce)
    assert CreateOffer(call_id, ice_restart=True) in caller.media_commands(CreateOffer)
    (update,) = caller.sent(wire.Update)
    assert update.seq == 1
    assert [m.seq for m in out.callee.sent(wire.UpdateOk)] == [1]
    # the call went on until the callee hung up, 40 s in
    assert out.hangup(CALLER) == {"from": "remote", "reason": "Hangup_From_Callee"}
    hangup_time = next(e.time for e in caller.emits if e.event == "hangup")
    assert hangup_time > 40.0


def test_callee_hangs_up_while_the_caller_is_away() -> None:
    """The callee's bye meets a caller gone from the server (UserNotFound): it is retransmitted
    until the caller is back, so both ends agree (regression: the callee used to give up)."""
    out = two_party([Accept(1.5), ServerLoss(5.0, 6.0, CALLER), Hangup(6.0, CALLEE)])
    out.check()
    assert out.hangup(CALLER) == {"from": "remote", "reason": "Hangup_From_Callee"}
    assert any(isinstance(m, wire.UserNotFound) for _, env in out.callee.received
               for m in [env.message])  # fmt: skip


def test_lost_answer_ack_then_caller_away_keeps_the_call() -> None:
    """Every ack of the callee's answer is lost, then the caller leaves the server for 25 s
    (within its 60 s window):
    ICE connected already told the callee its answer arrived, so it stops retransmitting it
    (regression: the answer was retransmitted to exhaustion and the call aborted)."""

    def lose_answer_acks(out: Outcome) -> None:
        out.network.lose_messages(
            lambda env: isinstance(env.message, wire.Ack) and env.message.what == "answer", 20
        )

    out = two_party(
        [Accept(1.5), ServerLoss(3.0, 25.0, CALLER), Hangup(80.0, CALLEE)],
        prepare=lose_answer_acks,
        settings=CallSettings(server_loss_window=60.0),
    )
    out.check()
    assert out.hangup(CALLER) == {"from": "remote", "reason": "Hangup_From_Callee"}


@pytest.mark.parametrize("party", [CALLER, CALLEE])
def test_server_loss_beyond_the_window_ends_with_disconnected(party: str) -> None:
    out = two_party([Accept(1.5), ServerLoss(5.0, 60.0, party)])
    lost, other = (CALLER, CALLEE) if party == CALLER else (CALLEE, CALLER)
    assert out.hangup(lost) == {"from": "local", "reason": HangupReason.DISCONNECTED.value}
    # the far side ends on ICE (the peer connection closed) and its bye reaches the lost side
    # after that side forgot the call: the lost side told its application first, so its Ack
    # carries its reason and both agree, whichever side lost the server (issue 16 point 5;
    # before, a callee's end never won a crossing and both sides reported "local")
    assert out.hangup(other) == {"from": "remote", "reason": HangupReason.DISCONNECTED.value}
    out.check()
    lost_client = out.caller if party == CALLER else out.callee
    assert "reconnection" in lost_client.events("session")  # the session itself came back


@examples(40)
@given(
    faults=fault_settings(),
    devices=st.integers(1, 3),
    at=st.floats(3.0, 10.0),
    extra=st.floats(1.0, 40.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_caller_gone_from_the_relay_ends_every_ringing_device(
    faults: Faults, devices: int, at: float, extra: float, seed: int
) -> None:
    """Nobody answers and the caller loses the server beyond ``server_loss_window``: each
    ringing device learns it from the relay's presence (``peer_gone``), and both ends agree
    on ``disconnected`` (before, the devices rang for ever: no_answer_timeout is None)."""
    window = CallSettings().server_loss_window
    loss = ServerLoss(at, window + extra, CALLER, established_only=False)
    out = multi_device(devices, [loss], faults=faults, seed=seed)
    out.check()
    gone = HangupReason.DISCONNECTED.value
    assert out.hangup(CALLER) == {"from": "local", "reason": gone}
    # (a device the invite had not reached yet, through the lossy link, never rang)
    rang = [d for d in range(devices) if out.hangup(CALLEE, d) is not None]
    for d in rang:
        assert out.hangup(CALLEE, d) == {"from": "remote", "reason": gone}


def test_a_crossing_bye_repeated_after_the_caller_forgot_the_call_still_agrees() -> None:
    """Found by Hypothesis: the caller's cancel is lost, device 0 declines (its bye crosses),
    the caller's Ack carrying the winning reason is lost and the caller's call ends (device 1
    acknowledged the relay's ``bye on other device``). Device 0's bye, sent again, meets a
    call the caller forgot: its Ack must still carry the caller's reason."""
    out = multi_device(
        2,
        [Decline(2.75, device=0), Accept(2.781, device=1), Hangup(2.5, CALLER)],
        faults=Faults(drop=0.1, duplicate=0.1, reorder=0.0, min_delay=0.001, max_delay=0.05,
                      max_consecutive_drops=1, max_drops_per_message=1),
        media=MediaModel(acquire_delay=0.02, ice_connect_delay=0.1, ice_check_timeout=0.5,
                         peer_gone_delay=5.0, candidates=1),
        seed=0,
    )  # fmt: skip
    out.check()
    caller = {"from": "local", "reason": HangupReason.HANGUP_FROM_CALLER.value}
    assert out.hangup(CALLER) == caller
    assert out.hangup(CALLEE, 0) == {**caller, "from": "remote"}


def test_busy_callee_refuses_a_second_call() -> None:
    net = SimNetwork(LOSSY, seed=3)
    single = CallSettings(allow_multiple_calls=False)
    alice = net.add_client(SessionConfig("alice", keepalive_interval=None))
    bob = net.add_client(SessionConfig("bob", keepalive_interval=None, calls=single))
    carol = net.add_client(SessionConfig("carol", keepalive_interval=None))
    calls: dict[str, Call] = {}
    place(net, carol, "bob", 1.0, calls)
    net.at(8.0, lambda now: accept_all(net, bob))
    place(net, alice, "bob", 12.0, calls)
    net.at(30.0, lambda now: net.run_command(carol, calls["carol"].hangup))
    assert net.run(600.0)
    alice_call = call_records(alice)[calls["alice"].call_id]
    assert alice_call.hangup == {"from": "remote", "reason": BUSY}
    assert [e.payload for e in alice.emits if e.event == "declined"] == [{"reason": BUSY}]
    # bob never saw the second call: no second incomingCall
    assert bob.events("session").count("incomingCall") == 1
    first = call_records(carol)[calls["carol"].call_id]
    assert first.connected and first.hangup == {"from": "local", "reason": "Hangup_From_Caller"}
    check_hangups_agree(first, call_records(bob)[calls["carol"].call_id])
    check_network(net)


def test_glare_keeps_exactly_one_call_on_both_sides() -> None:
    net = SimNetwork(LOSSY, seed=11)
    single = CallSettings(allow_multiple_calls=False)
    alice = net.add_client(SessionConfig("alice", keepalive_interval=None, calls=single))
    bob = net.add_client(SessionConfig("bob", keepalive_interval=None, calls=single))
    calls: dict[str, Call] = {}
    place(net, alice, "bob", 1.0, calls)
    place(net, bob, "alice", 1.0, calls)
    # (with LOSSY an invite may need ~3.5 s of retransmissions to get through)
    net.at(8.0, lambda now: (accept_all(net, alice), accept_all(net, bob)))
    net.at(20.0, lambda now: net.run_command(alice, calls["alice"].hangup))
    assert net.run(600.0)
    check_network(net)
    kept, refused = sorted(calls.values(), key=lambda c: c.call_id)
    assert kept.call_id == calls["alice"].call_id  # the smaller id wins
    # each side held both calls for a while; exactly one got connected, on both sides
    for client in (alice, bob):
        connected = [r.call_id for r in call_records(client).values() if r.connected]
        assert connected == [kept.call_id]
    loser = call_records(bob)[refused.call_id]
    assert loser.hangup == {"from": "remote", "reason": BUSY}
    # alice refused it before her application saw it: no event at all on her side (issue 16)
    unseen = call_records(alice)[refused.call_id]
    assert unseen.ended and not unseen.surfaced and unseen.hangups == ()
    check_hangups_agree(call_records(alice)[kept.call_id], call_records(bob)[kept.call_id])


def test_several_devices_answering_at_once() -> None:
    out = multi_device(3, [Accept(2.0, 0), Accept(2.0, 1), Accept(2.001, 2), Hangup(9.0)],
                       faults=LOSSY, seed=5)  # fmt: skip
    out.check()
    caller = call_records(out.caller)[out.call_id or ""]
    winners = [d for d in out.devices if "CONNECTED" in d.call_states[out.call_id or ""]]
    assert [d.address for d in winners] == [caller.bound]
    take = HangupReason.CALL_TAKE_ON_OTHER_DEVICE.value
    losers = [out.hangup(CALLEE, i) for i, d in enumerate(out.devices) if d not in winners]
    assert losers == [{"from": "remote", "reason": take}] * 2


def test_a_decline_on_one_device_ends_the_others() -> None:
    out = multi_device(3, [Decline(2.0, 1)])
    out.check()
    other = HangupReason.BYE_ON_OTHER_DEVICE.value
    assert out.hangup(CALLER) == {"from": "remote", "reason": "User_Refused_Call"}
    assert out.hangup(CALLEE, 0) == {"from": "remote", "reason": other}
    assert out.hangup(CALLEE, 2) == {"from": "remote", "reason": other}


def test_runs_are_reproducible() -> None:
    actions = [Accept(1.5), IceTrouble(4.0, "disconnected", heal_after=3.0), Hangup(15.0, CALLEE)]
    a = two_party(actions, faults=LOSSY, seed=42)
    b = two_party(actions, faults=LOSSY, seed=42)
    assert a.network.trace() == b.network.trace()
    assert a.caller.timers == b.caller.timers and a.caller.emits == b.caller.emits
    c = two_party(actions, faults=LOSSY, seed=43)
    assert c.network.trace() != a.network.trace()


# --- the checkers catch what they should ------------------------------------------------------


def _record(party: str, *states: str, hangups: tuple[dict[str, str], ...] = (), bound: str = "x",
            outgoing: bool = False) -> CallRecord:  # fmt: skip
    return CallRecord(party, "c1", outgoing, states, hangups, bound)


def test_checkers_reject_broken_runs() -> None:
    local = {"from": "local", "reason": "Hangup_From_Caller"}
    remote = {"from": "remote", "reason": "Hangup_From_Caller"}
    caller = _record("alice/a", "INVITING", "CONNECTED", "ENDED", hangups=(local,),
                     bound="bob/b", outgoing=True)  # fmt: skip
    check_hangups_agree(caller, _record("bob/b", "RINGING", "ENDED", hangups=(remote,)))
    with pytest.raises(InvariantViolation, match="disagree"):
        check_hangups_agree(caller, _record("bob/b", "RINGING", "ENDED", hangups=(local,)))
    with pytest.raises(InvariantViolation, match="did not end"):
        check_hangups_agree(caller, _record("bob/b", "RINGING", hangups=(remote,)))
    with pytest.raises(InvariantViolation, match="2 times"):
        check_hangups_agree(caller, _record("bob/b", "ENDED", hangups=(remote, remote)))
    # forks: a second connected device, a connected device the caller is not bound to
    winner = _record("bob/b", "CONNECTED", "ENDED", hangups=(remote,))
    other = _record("bob/c", "CONNECTED", "ENDED", hangups=(remote,))
    check_fork(caller, [winner])
    with pytest.raises(InvariantViolation, match="several devices"):
        check_fork(caller, [winner, other])
    with pytest.raises(InvariantViolation, match="caller bound to"):
        check_fork(caller, [other])
    loser = _record("bob/c", "RINGING", "ENDED",
                    hangups=({"from": "remote", "reason": "User_Busy"},))  # fmt: skip
    with pytest.raises(InvariantViolation, match="lost the fork"):
        check_fork(caller, [winner, loser])
    # timers
    start = TimerRecord(0.0, "start", "call:c1:rtx", 0.5)
    check_timer_log([start, TimerRecord(0.5, "fire", "call:c1:rtx")])
    with pytest.raises(InvariantViolation, match="left armed"):
        check_timer_log([start], settled=False)
    with pytest.raises(InvariantViolation, match="while not armed"):
        check_timer_log([TimerRecord(0.5, "cancel", "call:c1:rtx")])
    # media
    check_media(["s1"], ["s1"], {})
    with pytest.raises(InvariantViolation, match="never released"):
        check_media(["s1", "s2"], ["s1"], {})
    with pytest.raises(InvariantViolation, match="left open"):
        check_media([], [], {"c1": "connected"})


def test_an_escaped_exception_is_caught() -> None:
    out = two_party([Accept(2.0), Hangup(5.0, CALLER)])
    # accepting twice is application misuse: it raises, and the harness records the escape
    out.network.run_command(out.callee, lambda now: accept_twice(out, now))
    with pytest.raises(InvariantViolation, match="escaped"):
        check_invariants(out)


def test_an_unbounded_run_is_reported() -> None:
    net = SimNetwork(max_events=50)
    client = net.add_client(SessionConfig("alice"))  # keep-alive on: the queue never empties
    with pytest.raises(LivelockError):
        net.run()
    assert client.session.state.name == "CONNECTED"


def test_a_lost_fanout_copy_of_a_cancel_does_not_leave_a_device_ringing() -> None:
    """Outside the fault model (``drop_fanout``): the caller cancels a forked call and the
    first device's ack stops the caller's retransmission; a device whose copy was lost gets
    the caller's bye again from the hub."""
    faults = Faults(drop=0.5, drop_fanout=True, max_consecutive_drops=3, max_drops_per_message=3)
    for seed in range(40):
        multi_device(3, [Hangup(1.8)], faults=faults, seed=seed, finish_at=None).check()


# --- helpers ----------------------------------------------------------------------------------


def place(net: SimNetwork, client: Client, contact: str, at: float, calls: dict[str, Call]) -> None:
    def start(now: float) -> list[Effect]:
        call, fx = client.session.call(contact, now)
        calls[client.user] = call
        return fx

    net.command(client, at, start, f"call {contact}")


def accept_all(net: SimNetwork, client: Client) -> None:
    for call in list(client.calls.values()):
        inv = call.invitation
        if inv is not None and inv.state.name == "STANDBY":
            net.run_command(client, inv.accept, "accept")


def accept_twice(out: Outcome, now: float) -> list[Effect]:
    call = out.device_call()
    assert call is not None and call.invitation is not None
    return call.invitation.accept(now)


def check_network(net: SimNetwork) -> None:
    """The invariants that do not depend on a scenario's roles."""
    check_no_errors(net.errors())
    for client in net.clients.values():
        check_timers(client)
        for record in call_records(client).values():
            check_call_ended(record)
        opened = net.peer_connections(client)
        check_media(client.streams, client.released, opened, who=client.address)
