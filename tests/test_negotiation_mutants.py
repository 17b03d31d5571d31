"""Negotiation: the rules mutmut found unchecked (docs/testing.md, "Mutation testing").

Each test pins one thing a renegotiation depends on: the polite side's rolled-back offer is
dropped with its reason and made again exactly once, an answered offer leaves nothing in
flight, and every answer a newer offer replaced is skipped, however many there were."""

from __future__ import annotations

from typing import Any

from rtcstate import media, wire
from rtcstate.codes import CallType
from rtcstate.effects import CreateAnswer, CreateOffer, Drop, SetRemoteDescription
from rtcstate.negotiation import (
    Negotiation,
    NegotiationDrop,
    NegotiationState,
    SendOnce,
    SendReliably,
    Withdraw,
)

CID = "c1"


def _stable(polite: bool) -> Negotiation:
    neg = Negotiation(CID, polite)
    neg.remote_applied([], 0.0)
    return neg


def _take(neg: Negotiation, value: Any) -> list[Any]:
    out: list[Any] = []
    neg.take(out, 0.0, value, CallType.MEDIA)
    return out


def _local(kind: str, sdp: str) -> media.LocalDescriptionReady:
    return media.LocalDescriptionReady(CID, kind, sdp)


def test_the_polite_sides_offer_made_while_answering_is_dropped_and_made_again_once() -> None:
    neg = _stable(polite=True)
    _take(neg, wire.Update(CID, "theirs", seq=1))
    # our offer reported while we answer theirs: the stack rolled it back, it is never sent
    assert _take(neg, _local("offer", "rolled")) == [
        Drop(NegotiationDrop.ROLLED_BACK_OFFER, f"{CID}: offered again")
    ]
    assert neg.state is NegotiationState.HAVE_REMOTE_OFFER and neg.offering == 0
    # once our answer is out, the offer is made again
    assert _take(neg, _local("answer", "ok-1")) == [
        SendOnce(wire.UpdateOk(CID, "ok-1", seq=1)),
        CreateOffer(CID, ice_restart=False),
    ]
    # and only once: the next far-side offer is just answered
    _take(neg, wire.Update(CID, "theirs-2", seq=2))
    assert _take(neg, _local("answer", "ok-2")) == [SendOnce(wire.UpdateOk(CID, "ok-2", seq=2))]


def test_an_answered_offer_leaves_nothing_in_flight() -> None:
    neg = _stable(polite=False)
    assert _take(neg, _local("offer", "mine")) == [
        SendReliably(wire.Update(CID, "mine", CallType.MEDIA, seq=1))
    ]
    assert _take(neg, wire.UpdateOk(CID, "yes", seq=1)) == [
        Withdraw(1),
        SetRemoteDescription(CID, "answer", "yes"),
    ]
    assert neg.state is NegotiationState.STABLE
    assert neg.offering == 0  # documented: the number of our offer in flight, 0 for none


def test_a_yielded_offer_leaves_nothing_in_flight() -> None:
    neg = _stable(polite=True)
    _take(neg, _local("offer", "mine"))
    assert _take(neg, wire.Update(CID, "theirs", seq=1))[0] == Withdraw(1)
    assert neg.offering == 0


def test_every_answer_a_newer_offer_replaced_is_skipped() -> None:
    neg = _stable(polite=True)
    for seq in (1, 2, 3):  # three offers before our first answer is ready
        assert _take(neg, wire.Update(CID, f"offer-{seq}", seq=seq))[-1] == CreateAnswer(CID)
    assert neg.superseded == 2
    for stale in ("to-1", "to-2"):
        assert _take(neg, _local("answer", stale)) == [
            Drop(NegotiationDrop.SUPERSEDED_ANSWER, f"a newer update than {stale!r}")
        ]
    assert _take(neg, _local("answer", "to-3")) == [SendOnce(wire.UpdateOk(CID, "to-3", seq=3))]
    assert neg.state is NegotiationState.STABLE and neg.superseded == 0
