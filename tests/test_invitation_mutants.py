"""Invitations: what mutmut found unchecked by test_invitation.py (docs/testing.md, "Mutation
testing"): the drops a decided or stale invitation answers with, a call refused before the
application saw it, an owner withdrawing at the caller's time, a message without a reason."""

from __future__ import annotations

from typing import Any

from calltools import ME, PEER, Net
from test_invitation import A, B, ringing, tracked

from rtcstate import wire
from rtcstate.effects import Drop, Effect
from rtcstate.invitation import (
    InvitationDrop,
    InvitationState,
    ReceivedCallInvitationState,
    SentInvitation,
)


def test_declining_a_decided_invitation_says_which_state_it_is_in() -> None:
    net = Net(A, B)
    net[B].on_acquire = lambda e: None
    _, _, inv = ringing(net)
    net.run(B, inv.accept(net.now))
    assert inv.decline(net.now, "again") == [
        Drop(InvitationDrop.IGNORED, "decline of a ACCEPTED invitation")
    ]


def test_a_call_refused_before_the_application_saw_it_declines_its_invitation_quietly() -> None:
    net = Net(A, B)
    _, _, inv = ringing(net)
    log = len(net[B].log)
    assert inv.refused_unseen(net.now) is None
    assert inv.state is ReceivedCallInvitationState.DECLINED
    assert len(net[B].log) == log  # nothing emitted: nobody holds the invitation
    inv.refused_unseen(net.now)  # ignored once decided
    assert inv.state is ReceivedCallInvitationState.DECLINED


def test_a_stale_expiry_names_the_timer() -> None:
    _, inv = tracked(inv_id="sent-9")
    inv.cancel(1.0)
    assert inv.timer_fired("expire", 20.0) == [
        Drop(InvitationDrop.STALE_TIMER, "invitation:sent-9:expire")
    ]


def test_a_message_without_a_reason_is_dropped_not_raised() -> None:
    _, inv = tracked()
    env = wire.Envelope(wire.Candidate("sent-1", "cand", None, 0), ME, PEER)
    fx = inv.receive(env, 1.0)
    assert [d.reason for d in fx if isinstance(d, Drop)] == [InvitationDrop.UNEXPECTED_MESSAGE]
    assert inv.state is InvitationState.STANDBY


class _Owner:
    """A file transfer's side of its invitation: withdraws at the time it is given."""

    def __init__(self) -> None:
        self.asked: list[Any] = []

    def cancel(self, now: float) -> list[Effect]:
        self.asked.append(now)
        return []


def test_an_owner_withdraws_the_invitation_at_the_callers_time() -> None:
    owner = _Owner()
    inv = SentInvitation("sent-2", "peer", owner=owner)
    assert inv.cancel(7.5) == []
    assert owner.asked == [7.5]
