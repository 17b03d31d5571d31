"""Negotiation: one peer connection's offer/answer exchange, perfect negotiation style.

Theory of operation
-------------------
A call's first offer and answer travel in its ``invite`` and ``answer`` (the Call's own table
sends them); every later exchange is a *renegotiation*: an ``update`` carrying an offer
(numbered ``seq`` by its sender) answered by an ``update_ok`` carrying the same ``seq``. Both
sides may offer at once (an ICE restart on one side, a media change on the other): perfect
negotiation settles the collision by role. The *polite* side (the callee) yields: it drops its
own offer (the stack rolls it back), answers the far side's, and offers again once its answer is
out. The *impolite* side (the caller) ignores the colliding offer: its own wins.

States (the signaling state of RFC 8829, plus what the owner needs):

* NEW: no remote description applied yet. Remote candidates are kept (at most
  ``MAX_BUFFERED_CANDIDATES``, duplicates once) until the owner applies the far side's setup
  description (``remote_applied``), then handed to the stack in arrival order.
* STABLE: descriptions applied, no renegotiation in flight; candidates go to the stack at once.
* HAVE_LOCAL_OFFER: our ``update`` is out, waiting for its ``update_ok``.
* HAVE_REMOTE_OFFER: the far side's offer is applied, our answer is being made.
* CROSSED: both at once (the impolite side made an offer while answering theirs, an ICE
  restart say). On the polite side an offer reported while answering was made before the far
  side's offer was applied, so the stack rolled it back: it is dropped and made again once the
  answer is out (``rolled-back-offer``), never sent.
* CLOSED: the owner tore the peer connection down; nothing is taken any more.

Duplicates and stale messages are decided here too: an ``update`` at or below the last one
processed is a retransmission (the answer already sent goes again) or stale (dropped); an
``update_ok`` that does not answer the offer in flight is stale; an answer the stack made for an
offer a newer one replaced is skipped (``superseded``).

The negotiation never sends a message itself and does not know where the far side is: its
callbacks append, in order, the media-stack effects (``SetRemoteDescription``,
``CreateAnswer``, ``CreateOffer``, ``AddIceCandidate``), its ``Drop``\\ s, and typed
:data:`Decision`\\ s for the owner: :class:`SendReliably` (our offer, until answered),
:class:`Withdraw` (stop retransmitting offer ``seq``: answered or rolled back),
:class:`SendOnce` (our answer, repeated on the far side's retransmission) and
:class:`AdoptCallType` (the far side's accepted offer changes the call type). The owner
(:class:`~rtcstate.call.Call`) keeps its own table, delegates its ``update``, ``update_ok``,
candidate and local-description inputs here, and carries the decisions out through its
:class:`~rtcstate.reliable.ReliableSender`.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from rtcstate import wire
from rtcstate.codes import CallType
from rtcstate.drops import DropReason
from rtcstate.effects import AddIceCandidate, CreateAnswer, CreateOffer, Drop, SetRemoteDescription
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, Verdict, machine, spec_of, stay
from rtcstate.media import LocalDescriptionReady

__all__ = [
    "INPUTS",
    "MAX_BUFFERED_CANDIDATES",
    "TRANSITIONS",
    "VERDICTS",
    "AdoptCallType",
    "Decision",
    "Negotiation",
    "NegotiationDrop",
    "NegotiationState",
    "SendOnce",
    "SendReliably",
    "Withdraw",
]

MAX_BUFFERED_CANDIDATES = 64
"""Remote candidates kept before the remote description (a bound on what a peer may cost)."""


class NegotiationDrop(DropReason):
    """Why a negotiation ignored an input on purpose (the words a call used before)."""

    UNEXPECTED_INPUT = "unexpected-input"
    """An input the negotiation's table declares illegal in its state."""
    UNEXPECTED_UPDATE = "unexpected-update"
    """A renegotiation offer before any remote description, or once closed."""
    STALE_UPDATE = "stale-update"
    """A renegotiation offer older than one already processed."""
    GLARE = "glare"
    """The far side's offer crossing ours, on the impolite side: ours wins."""
    STALE_UPDATE_OK = "stale-update-ok"
    """An answer to a renegotiation that is not the one in flight."""
    SUPERSEDED_ANSWER = "superseded-answer"
    """A local answer to a far-side offer a newer one replaced."""
    ROLLED_BACK_OFFER = "rolled-back-offer"
    """Polite: a local offer made before the far side's offer was applied (the stack rolled it
    back when it took theirs); offered again once our answer is out."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A local description with no exchange to put it in (an answer with no offer to answer)."""
    LATE_CANDIDATE = "late-candidate"
    """A candidate once the negotiation closed."""
    TOO_MANY_CANDIDATES = "too-many-candidates"
    """A candidate over the bound of those kept before the remote description."""
    CLOSED = "closed"
    """A command once the negotiation closed."""


class NegotiationState(enum.Enum):
    NEW = "NEW"  # no remote description yet: candidates are kept
    STABLE = "STABLE"
    HAVE_LOCAL_OFFER = "HAVE_LOCAL_OFFER"  # our update out, waiting for its update_ok
    HAVE_REMOTE_OFFER = "HAVE_REMOTE_OFFER"  # their update applied, our answer being made
    CROSSED = "CROSSED"  # both: our update out while our answer to theirs is being made
    CLOSED = "CLOSED"  # final: the peer connection is gone


@attrs.frozen(slots=True)
class SendReliably:
    """Decision: send ``message`` (our offer) reliably, until answered or withdrawn."""

    message: wire.Update


@attrs.frozen(slots=True)
class Withdraw:
    """Decision: offer ``seq`` needs no answer any more (answered, or rolled back)."""

    seq: int


@attrs.frozen(slots=True)
class SendOnce:
    """Decision: send ``message`` (our answer) once; it is repeated if the offer is."""

    message: wire.UpdateOk


@attrs.frozen(slots=True)
class AdoptCallType:
    """Decision: the far side's offer, now applied, changes the call type."""

    call_type: CallType


Decision = SendReliably | Withdraw | SendOnce | AdoptCallType
"""What a negotiation asks of its owner (next to the media effects it appends)."""

_APPLIED = ["STABLE", "HAVE_LOCAL_OFFER", "HAVE_REMOTE_OFFER", "CROSSED"]
_OFFERING = ["HAVE_LOCAL_OFFER", "CROSSED"]

TRANSITIONS: list[dict[str, Any]] = [
    # the owner applied the far side's setup description (invite or answer)
    {"trigger": "remote_applied", "source": "NEW", "dest": "STABLE", "after": "_flush"},
    # remote candidates: kept until a remote description exists
    *stay("remote_candidate", "NEW", after="_keep_candidate"),
    *stay("remote_candidate", _APPLIED, after="_add_candidate"),
    # the far side's offer: a retransmission or stale first, then glare, then applied
    *stay("remote_offer", _APPLIED, conditions="_stale", after="_repeat_answer"),
    *stay("remote_offer", _OFFERING, unless="_polite", after="_glare"),
    {"trigger": "remote_offer", "source": "STABLE", "dest": "HAVE_REMOTE_OFFER",
     "after": "_apply_offer"},
    {"trigger": "remote_offer", "source": _OFFERING, "dest": "HAVE_REMOTE_OFFER",
     "before": "_roll_back", "after": "_apply_offer"},
    {"trigger": "remote_offer", "source": "HAVE_REMOTE_OFFER", "dest": "HAVE_REMOTE_OFFER",
     "before": "_supersede", "after": "_apply_offer"},
    # the far side's answer to our offer
    {"trigger": "remote_answer", "source": "HAVE_LOCAL_OFFER", "dest": "STABLE",
     "conditions": "_answers_ours", "after": "_apply_answer"},
    {"trigger": "remote_answer", "source": "CROSSED", "dest": "HAVE_REMOTE_OFFER",
     "conditions": "_answers_ours", "after": "_apply_answer"},
    *stay("remote_answer", _APPLIED, after="_stale_answer"),
    # our offer is ready (an ICE restart, or ours again after yielding); it replaces one in flight
    {"trigger": "local_offer", "source": "STABLE", "dest": "HAVE_LOCAL_OFFER",
     "after": "_send_offer"},
    {"trigger": "local_offer", "source": "HAVE_LOCAL_OFFER", "dest": "HAVE_LOCAL_OFFER",
     "before": "_withdraw_ours", "after": "_send_offer"},
    *stay("local_offer", "HAVE_REMOTE_OFFER", conditions="_polite", after="_offer_rolled_back"),
    {"trigger": "local_offer", "source": "HAVE_REMOTE_OFFER", "dest": "CROSSED",
     "after": "_send_offer"},
    {"trigger": "local_offer", "source": "CROSSED", "dest": "CROSSED",
     "before": "_withdraw_ours", "after": "_send_offer"},
    # our answer is ready
    *stay("local_answer", ["HAVE_REMOTE_OFFER", "CROSSED"], conditions="_superseded",
          after="_skip_answer"),
    {"trigger": "local_answer", "source": "HAVE_REMOTE_OFFER", "dest": "STABLE",
     "after": "_send_answer"},
    {"trigger": "local_answer", "source": "CROSSED", "dest": "HAVE_LOCAL_OFFER",
     "after": "_send_answer"},
    # the owner tore the peer connection down
    {"trigger": "close", "source": ["NEW", *_APPLIED], "dest": "CLOSED", "after": "_close"},
]  # fmt: skip

INPUTS = Inputs(
    unexpected=NegotiationDrop.UNEXPECTED_INPUT,
    wire={
        wire.Update: "remote_offer",
        wire.UpdateOk: "remote_answer",
        wire.Candidate: "remote_candidate",
    },
    media={
        LocalDescriptionReady: Classify(
            "sdp_type",
            {"offer": "local_offer", "answer": "local_answer"},
            otherwise=Ignore(NegotiationDrop.UNEXPECTED_REPORT),
        ),
    },
)
"""Every input a negotiation takes from its owner: the far side's messages and the local
descriptions the stack made."""

VERDICTS: dict[str | tuple[str, str], Verdict] = {
    "remote_applied": ILLEGAL,  # once only: a second setup description is the owner's bug
    "remote_offer": Ignore(NegotiationDrop.UNEXPECTED_UPDATE),
    "remote_answer": Ignore(NegotiationDrop.STALE_UPDATE_OK),
    "remote_candidate": Ignore(NegotiationDrop.LATE_CANDIDATE),
    "local_offer": Ignore(NegotiationDrop.UNEXPECTED_REPORT),
    "local_answer": Ignore(NegotiationDrop.UNEXPECTED_REPORT),
    ("close", "CLOSED"): Ignore(NegotiationDrop.CLOSED),
}
"""What the (state, trigger) pairs without a row mean."""


@machine(
    NegotiationState,
    TRANSITIONS,
    initial=NegotiationState.NEW,
    final=[NegotiationState.CLOSED],
    inputs=INPUTS,
    verdicts=VERDICTS,
)
@attrs.define(slots=True, eq=False)
class Negotiation:
    """The offer/answer state of one peer connection (``polite``: the callee's side)."""

    call_id: str
    polite: bool
    state: NegotiationState = NegotiationState.NEW
    candidates: list[wire.Candidate] | None = None  # kept before the remote description
    seq: int = 0  # our last offer's number (offers made so far)
    offering: int = 0  # the number of our offer in flight (0: none)
    remote_seq: int = 0  # the last far-side offer processed
    last_ok: wire.UpdateOk | None = None  # our answer to it, once sent
    superseded: int = 0  # answers being made to far-side offers a newer one replaced
    reoffer: bool = False  # we yielded: offer again once our answer is out

    @property
    def began(self) -> bool:
        """Whether any renegotiation began (a description now belongs to a media update)."""
        return bool(self.seq or self.remote_seq)

    @property
    def has_remote(self) -> bool:
        """Whether a remote description is applied (candidates go to the stack at once)."""
        return self.state is not NegotiationState.NEW and self.state is not NegotiationState.CLOSED

    def take(self, out: list[Any], now: float, msg: object, call_type: CallType) -> bool:
        """Deliver one input (a wire message or a local description): effects, drops and
        :data:`Decision`\\ s are appended to ``out`` in order."""
        return _SPEC.deliver(self, type(msg), msg, out, now, msg=msg, call_type=call_type)

    def remote_applied(self, out: list[Any], now: float) -> None:
        """The owner applied the far side's setup description: kept candidates go now."""
        _SPEC.fire(self, "remote_applied", out, now)

    def close(self, out: list[Any], now: float) -> None:
        """The peer connection is gone: forget the kept candidates, take nothing more."""
        _SPEC.fire(self, "close", out, now)

    # --- conditions -------------------------------------------------------------------------

    def _stale(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> bool:
        return bool(msg.seq <= self.remote_seq)

    def _polite(self, out: list[Any], now: float, **_: Any) -> bool:
        return self.polite

    def _answers_ours(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> bool:
        return bool(msg.seq == self.offering)

    def _superseded(self, out: list[Any], now: float, **_: Any) -> bool:
        return self.superseded > 0

    # --- callbacks (signature: out, now, msg=, call_type=) -----------------------------------

    def _keep_candidate(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> None:
        if self.candidates is None:
            self.candidates = []
        if len(self.candidates) >= MAX_BUFFERED_CANDIDATES:
            out.append(Drop(NegotiationDrop.TOO_MANY_CANDIDATES, self.call_id))
        elif msg not in self.candidates:
            self.candidates.append(msg)

    def _add_candidate(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> None:
        out.append(AddIceCandidate(self.call_id, msg.candidate, msg.sdp_mid, msg.sdp_mline_index))

    def _flush(self, out: list[Any], now: float, **_: Any) -> None:
        for c in self.candidates or ():
            out.append(AddIceCandidate(self.call_id, c.candidate, c.sdp_mid, c.sdp_mline_index))
        self.candidates = None

    def _repeat_answer(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> None:
        if self.last_ok is not None and msg.seq == self.last_ok.seq:
            out.append(SendOnce(self.last_ok))
        else:
            out.append(Drop(NegotiationDrop.STALE_UPDATE, str(msg.seq)))

    def _glare(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> None:
        out.append(Drop(NegotiationDrop.GLARE, f"impolite side ignores update {msg.seq}"))

    def _roll_back(self, out: list[Any], now: float, **kw: Any) -> None:
        """Polite: give up our offer (the stack rolls it back), offer again after answering."""
        self._withdraw_ours(out, now)
        self.reoffer = True
        if self.state is NegotiationState.CROSSED:
            self.superseded += 1  # our answer to their previous offer is not ready: skip it

    def _offer_rolled_back(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> None:
        """Polite, answering: our offer was made before theirs was applied, so the stack rolled
        it back (a renegotiation of ours crossing theirs, an ICE restart say); sending it would
        ask the far side to answer an offer we no longer hold. Offer again after answering."""
        self.reoffer = True
        out.append(Drop(NegotiationDrop.ROLLED_BACK_OFFER, f"{self.call_id}: offered again"))

    def _supersede(self, out: list[Any], now: float, **_: Any) -> None:
        self.superseded += 1  # the answer to the previous offer is not ready: skip it

    def _apply_offer(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> None:
        self.remote_seq = msg.seq
        self.last_ok = None
        if msg.call_type is not None:
            out.append(AdoptCallType(msg.call_type))
        out.append(SetRemoteDescription(self.call_id, "offer", msg.sdp))
        out.append(CreateAnswer(self.call_id))

    def _apply_answer(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> None:
        self._withdraw_ours(out, now)
        out.append(SetRemoteDescription(self.call_id, "answer", msg.sdp))

    def _stale_answer(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> None:
        out.append(Drop(NegotiationDrop.STALE_UPDATE_OK, str(msg.seq)))

    def _withdraw_ours(self, out: list[Any], now: float, **_: Any) -> None:
        out.append(Withdraw(self.offering))
        self.offering = 0

    def _send_offer(
        self, out: list[Any], now: float, msg: Any = None, call_type: Any = None, **_: Any
    ) -> None:
        self.seq += 1
        self.offering = self.seq
        out.append(SendReliably(wire.Update(self.call_id, msg.sdp, call_type, seq=self.seq)))

    def _skip_answer(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> None:
        self.superseded -= 1
        out.append(Drop(NegotiationDrop.SUPERSEDED_ANSWER, f"a newer update than {msg.sdp!r}"))

    def _send_answer(self, out: list[Any], now: float, msg: Any = None, **_: Any) -> None:
        self.last_ok = wire.UpdateOk(self.call_id, msg.sdp, seq=self.remote_seq)
        out.append(SendOnce(self.last_ok))
        if self.reoffer:
            self.reoffer = False
            out.append(CreateOffer(self.call_id, ice_restart=False))

    def _close(self, out: list[Any], now: float, **_: Any) -> None:
        self.candidates = None


_SPEC = spec_of(Negotiation)
