"""Negotiation: its table over every (state, trigger) and declared input, agreement with
`transitions`, perfect negotiation's rules, and the candidates kept before the remote
description (handed over in order, each with its own fields)."""

from __future__ import annotations

from typing import Any

import pytest
from calltools import PEER_CALL, SCENARIOS, callee_in, from_peer
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import media, wire
from rtcstate.codes import CallType
from rtcstate.effects import (
    AddIceCandidate,
    CancelTimer,
    CreateAnswer,
    CreateOffer,
    Drop,
    Effect,
    Send,
    SetRemoteDescription,
    StartTimer,
)
from rtcstate.machine import all_machines, spec_of
from rtcstate.negotiation import (
    MAX_BUFFERED_CANDIDATES,
    AdoptCallType,
    Negotiation,
    NegotiationDrop,
    NegotiationState,
    SendOnce,
    SendReliably,
    Withdraw,
)
from rtcstate.testing.exhaustive import (
    check_differential,
    check_input_pair,
    check_pair,
    input_pairs,
    pairs,
)

CID = "c1"
NOW = st.floats(0, 1e6, allow_nan=False)
SEQ = st.integers(0, 4)
SDP = st.sampled_from(["s1", "s2", ""])
TYPES = st.none() | st.sampled_from([CallType.MEDIA, CallType.AUDIO])
UPDATE = st.builds(lambda sdp, t, n: wire.Update(CID, sdp, t, seq=n), SDP, TYPES, SEQ)
UPDATE_OK = st.builds(lambda sdp, n: wire.UpdateOk(CID, sdp, seq=n), SDP, SEQ)
CANDIDATE = st.builds(
    wire.Candidate, st.just(CID), st.sampled_from(["a", "b", ""]), st.none() | SDP,
    st.none() | st.integers(0, 2),
)  # fmt: skip
OFFER = st.builds(lambda sdp: media.LocalDescriptionReady(CID, "offer", sdp), SDP)
ANSWER = st.builds(lambda sdp: media.LocalDescriptionReady(CID, "answer", sdp), SDP)


def _with(msgs: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(
        lambda n, m, t: ((n,), {"msg": m, "call_type": t}), NOW, msgs, st.sampled_from(CallType)
    )


ARGS = {
    "remote_offer": _with(UPDATE),
    "remote_answer": _with(UPDATE_OK),
    "remote_candidate": _with(CANDIDATE),
    "local_offer": _with(OFFER),
    "local_answer": _with(ANSWER),
}
# the numbers a negotiation in a state may hold: polite, remote_seq, offering, superseded
SHAPE = st.tuples(st.booleans(), SEQ, st.integers(1, 4), st.integers(0, 2), st.lists(CANDIDATE))


OUTPUTS = (Effect, SendReliably, Withdraw, SendOnce, AdoptCallType)


def _make(cls: type = Negotiation) -> Any:
    return cls(CID, polite=False)


def _shape(neg: Negotiation, value: tuple[bool, int, int, int, list[wire.Candidate]]) -> None:
    polite, remote_seq, offering, superseded, candidates = value
    neg.polite = polite
    state = neg.state
    neg.remote_seq = remote_seq
    if state in (NegotiationState.HAVE_LOCAL_OFFER, NegotiationState.CROSSED):
        neg.seq = neg.offering = offering
    if state in (NegotiationState.HAVE_REMOTE_OFFER, NegotiationState.CROSSED):
        neg.remote_seq = max(remote_seq, 1)
        neg.superseded = superseded
    elif remote_seq:
        neg.last_ok = wire.UpdateOk(CID, "ok", seq=remote_seq)
    if state is NegotiationState.NEW:
        neg.candidates = list(dict.fromkeys(candidates)) or None


def test_the_negotiation_is_a_registered_machine() -> None:
    assert all_machines()["Negotiation"] is spec_of(Negotiation)
    assert "HAVE_LOCAL_OFFER" in spec_of(Negotiation).mermaid()


@pytest.mark.parametrize(("state", "trigger"), pairs(Negotiation))
def test_every_negotiation_state_trigger_pair(state: NegotiationState, trigger: str) -> None:
    check_pair(
        Negotiation, state, trigger, _make, ARGS, _shape, SHAPE, max_examples=15, outputs=OUTPUTS
    )


_INPUT_VALUES: dict[object, st.SearchStrategy[Any]] = {
    wire.Update: UPDATE,
    wire.UpdateOk: UPDATE_OK,
    wire.Candidate: CANDIDATE,
    media.LocalDescriptionReady: st.builds(
        media.LocalDescriptionReady,
        st.just(CID),
        st.sampled_from(["offer", "answer", "pranswer"]),
        SDP,
    ),
}


def _take(neg: Negotiation, value: Any, now: float) -> list[Any]:
    out: list[Any] = []
    neg.take(out, now, value, CallType.MEDIA)
    return out


@pytest.mark.parametrize(("state", "key"), input_pairs(Negotiation))
def test_every_negotiation_state_declared_input_pair(state: NegotiationState, key: object) -> None:
    check_input_pair(
        Negotiation, state, key, _make, _INPUT_VALUES[key], _take, _shape, SHAPE,
        max_examples=15, outputs=OUTPUTS,
    )  # fmt: skip


def test_every_input_a_call_hands_over_is_declared() -> None:
    assert set(spec_of(Negotiation).input_keys()) == set(_INPUT_VALUES)


def test_compiled_negotiation_table_agrees_with_transitions() -> None:
    check_differential(Negotiation, _make, ARGS, _shape, SHAPE, max_examples=120)


# --- behaviour ------------------------------------------------------------------------------


def _stable(polite: bool) -> Negotiation:
    neg = Negotiation(CID, polite)
    neg.remote_applied([], 0.0)
    return neg


def _offer(neg: Negotiation, sdp: str = "mine") -> list[Any]:
    return _take(neg, media.LocalDescriptionReady(CID, "offer", sdp), 0.0)


def test_candidates_kept_before_the_remote_description_go_in_order_field_by_field() -> None:
    neg = Negotiation(CID, polite=True)
    kept = [
        wire.Candidate(CID, "cand-1", "mid-a", 0),
        wire.Candidate(CID, "cand-2", None, 1),
        wire.Candidate(CID, "cand-3", "mid-c", None),
    ]
    for c in (*kept, kept[0]):  # a duplicate is kept once
        assert _take(neg, c, 0.0) == []
    out: list[Any] = []
    neg.remote_applied(out, 1.0)
    assert out == [AddIceCandidate(CID, c.candidate, c.sdp_mid, c.sdp_mline_index) for c in kept]
    assert out[1] == AddIceCandidate(CID, "cand-2", None, 1)
    assert neg.candidates is None and neg.state is NegotiationState.STABLE
    late = wire.Candidate(CID, "cand-4", "mid-d", 2)
    assert _take(neg, late, 2.0) == [AddIceCandidate(CID, "cand-4", "mid-d", 2)]


def test_the_candidates_kept_are_bounded() -> None:
    neg = Negotiation(CID, polite=True)
    for i in range(MAX_BUFFERED_CANDIDATES):
        assert _take(neg, wire.Candidate(CID, f"c{i}"), 0.0) == []
    assert _take(neg, wire.Candidate(CID, "one-too-many"), 0.0) == [
        Drop(NegotiationDrop.TOO_MANY_CANDIDATES, CID)
    ]
    neg.close([], 0.0)
    assert neg.candidates is None
    assert _take(neg, wire.Candidate(CID, "late"), 0.0) == [
        Drop(NegotiationDrop.LATE_CANDIDATE, "remote_candidate in state CLOSED")
    ]


def test_a_callee_call_hands_the_candidates_kept_while_ringing_to_the_stack_on_accept() -> None:
    scene = SCENARIOS["callee-RINGING"]()
    s, call = scene.session, scene.call
    kept = [wire.Candidate(PEER_CALL, "x1", "m0", 0), wire.Candidate(PEER_CALL, "x2", "m1", 1)]
    for c in kept:
        assert not [e for e in s.receive_envelope(from_peer(c), scene.now) if e.__class__ is Drop]
    assert call.invitation is not None
    call.invitation.accept(scene.now)
    fx = s.media_event(media.MediaAcquired(PEER_CALL, "cam"), scene.now)
    added = [e for e in fx if isinstance(e, AddIceCandidate)]
    assert added == [
        AddIceCandidate(PEER_CALL, c.candidate, c.sdp_mid, c.sdp_mline_index) for c in kept
    ]
    remote = [i for i, e in enumerate(fx) if isinstance(e, SetRemoteDescription)]
    assert remote and remote[0] < fx.index(added[0])  # after the offer is applied


def test_the_impolite_side_ignores_a_colliding_offer() -> None:
    neg = _stable(polite=False)
    sent = _offer(neg)
    assert sent == [SendReliably(wire.Update(CID, "mine", CallType.MEDIA, seq=1))]
    out = _take(neg, wire.Update(CID, "theirs", seq=1), 0.0)
    assert out == [Drop(NegotiationDrop.GLARE, "impolite side ignores update 1")]
    assert neg.state is NegotiationState.HAVE_LOCAL_OFFER
    assert _take(neg, wire.UpdateOk(CID, "their-answer", seq=1), 0.0) == [
        Withdraw(1),
        SetRemoteDescription(CID, "answer", "their-answer"),
    ]
    assert neg.state is NegotiationState.STABLE


def test_the_polite_side_yields_answers_and_offers_again() -> None:
    neg = _stable(polite=True)
    _offer(neg)
    out = _take(neg, wire.Update(CID, "theirs", CallType.AUDIO, seq=1), 0.0)
    assert out == [
        Withdraw(1),
        AdoptCallType(CallType.AUDIO),
        SetRemoteDescription(CID, "offer", "theirs"),
        CreateAnswer(CID),
    ]
    assert neg.state is NegotiationState.HAVE_REMOTE_OFFER
    out = _take(neg, media.LocalDescriptionReady(CID, "answer", "ours"), 0.0)
    assert out == [SendOnce(wire.UpdateOk(CID, "ours", seq=1)), CreateOffer(CID, ice_restart=False)]
    assert neg.state is NegotiationState.STABLE
    # the far side's update again (our answer was lost): the same answer, nothing re-applied
    assert _take(neg, wire.Update(CID, "theirs", seq=1), 0.0) == [
        SendOnce(wire.UpdateOk(CID, "ours", seq=1))
    ]
    assert _take(neg, wire.Update(CID, "older", seq=0), 0.0) == [
        Drop(NegotiationDrop.STALE_UPDATE, "0")
    ]


def test_an_answer_to_an_offer_a_newer_one_replaced_is_skipped() -> None:
    neg = _stable(polite=True)
    _take(neg, wire.Update(CID, "first", seq=1), 0.0)
    _take(neg, wire.Update(CID, "second", seq=2), 0.0)
    assert neg.superseded == 1
    skipped = _take(neg, media.LocalDescriptionReady(CID, "answer", "to-first"), 0.0)
    assert skipped == [Drop(NegotiationDrop.SUPERSEDED_ANSWER, "a newer update than 'to-first'")]
    assert _take(neg, media.LocalDescriptionReady(CID, "answer", "to-second"), 0.0) == [
        SendOnce(wire.UpdateOk(CID, "to-second", seq=2))
    ]


def test_an_offer_made_while_answering_crosses_and_each_side_completes() -> None:
    neg = _stable(polite=False)
    _take(neg, wire.Update(CID, "theirs", seq=1), 0.0)
    assert _offer(neg, "restart") == [SendReliably(wire.Update(CID, "restart", CallType.MEDIA, 1))]
    assert neg.state is NegotiationState.CROSSED
    _take(neg, media.LocalDescriptionReady(CID, "answer", "ours"), 0.0)
    assert neg.state is NegotiationState.HAVE_LOCAL_OFFER
    # a second offer replaces the first in flight
    assert _offer(neg, "again") == [
        Withdraw(1),
        SendReliably(wire.Update(CID, "again", CallType.MEDIA, 2)),
    ]
    assert _take(neg, wire.UpdateOk(CID, "x", seq=1), 0.0) == [
        Drop(NegotiationDrop.STALE_UPDATE_OK, "1")
    ]


STEP = st.one_of(UPDATE, UPDATE_OK, CANDIDATE, OFFER, ANSWER, st.just("applied"), st.just("close"))


@settings(max_examples=200, deadline=None, database=None)
@given(polite=st.booleans(), steps=st.lists(STEP, max_size=25))
def test_any_sequence_keeps_the_state_and_its_numbers_in_agreement(
    polite: bool, steps: list[Any]
) -> None:
    neg = Negotiation(CID, polite)
    in_flight: set[int] = set()
    for step in steps:
        out: list[Any] = []
        if step == "applied":
            if neg.state is not NegotiationState.NEW:
                continue
            neg.remote_applied(out, 0.0)
        elif step == "close":
            neg.close(out, 0.0)
        else:
            neg.take(out, 0.0, step, CallType.MEDIA)
        for item in out:
            if isinstance(item, SendReliably):
                in_flight.add(item.message.seq)
            elif isinstance(item, Withdraw):
                assert item.seq in in_flight, (item, in_flight)  # only what was sent
                in_flight.discard(item.seq)
        state = neg.state
        offering = state in (NegotiationState.HAVE_LOCAL_OFFER, NegotiationState.CROSSED)
        answering = state in (NegotiationState.HAVE_REMOTE_OFFER, NegotiationState.CROSSED)
        if state is NegotiationState.CLOSED:  # the owner forgets what it sent
            assert neg.candidates is None
            continue
        assert (neg.offering != 0) == offering and (in_flight == {neg.offering}) == offering
        assert (neg.remote_seq != 0 and neg.last_ok is None) == answering
        assert neg.candidates is None or state is NegotiationState.NEW
        assert neg.superseded == 0 or answering


def test_a_polite_call_withdraws_its_crossed_update_and_offers_again_after_answering() -> None:
    scene = callee_in("CONNECTED")
    s, call, now = scene.session, scene.call, scene.now
    rtx = f"call:{PEER_CALL}:rtx"
    fx = s.media_event(media.LocalDescriptionReady(PEER_CALL, "offer", "ours"), now)
    ours = wire.Update(PEER_CALL, "ours", call.call_type, seq=1)
    assert Send(call.remote, ours) in fx and StartTimer(rtx, now + 0.5) in fx
    fx = s.receive_envelope(from_peer(wire.Update(PEER_CALL, "theirs", CallType.AUDIO, 1)), now)
    assert fx.index(CancelTimer(rtx)) < fx.index(SetRemoteDescription(PEER_CALL, "offer", "theirs"))
    assert call.call_type is CallType.AUDIO
    assert s.timer_fired(rtx, now + 1) == [Drop("stale-timer", rtx)]  # ours is not resent
    fx = s.media_event(media.LocalDescriptionReady(PEER_CALL, "answer", "ok"), now)
    assert fx == [
        Send(call.remote, wire.UpdateOk(PEER_CALL, "ok", seq=1)),
        CreateOffer(PEER_CALL, ice_restart=False),
    ]
