"""ReliableSender through its owner's methods: what mutation testing found untested
(docs/testing.md, "Mutation testing").

The table tests fire the machine's triggers directly; these call the methods a Call calls
(``hold``, ``clear``, ``count_afresh``, ``pause``, ``holds``, ``spent``) and pin the selective
acknowledgement (one kind, or one ``seq`` of a kind, leaves the rest waiting)."""

from __future__ import annotations

import attrs

from rtcstate import wire
from rtcstate.codes import CallType
from rtcstate.effects import CancelTimer, Effect, Send, StartTimer
from rtcstate.reliable import ReliableSender, ReliableState, RtxOutcome
from rtcstate.settings import CallSettings

TID = "call:c1:rtx"
INVITE = wire.Invite("c1", CallType.MEDIA, sdp="o")
BYE = wire.Bye("c1", "r")
U1, U2 = wire.Update("c1", "u1", seq=1), wire.Update("c1", "u2", seq=2)


@attrs.frozen
class Owner:
    remote: str = "peer/p1"
    settings: CallSettings = attrs.field(factory=lambda: CallSettings(rtx_attempts=3))
    rtx_timer_id: str = TID


OWNER = Owner()


def waiting_with(*msgs: wire.Message, now: float = 0.0) -> ReliableSender:
    sender = ReliableSender()
    for msg in msgs:
        sender.send([], now, OWNER, msg)
    assert sender.state is ReliableState.WAITING
    return sender


def test_hold_while_connected_sends_only_the_held_message_and_arms_the_timer() -> None:
    sender = waiting_with(INVITE)
    fx: list[Effect] = []
    sender.hold(fx, 10.0, OWNER, BYE)
    assert fx == [Send("peer/p1", BYE), StartTimer(TID, 10.0 + OWNER.settings.rtx_initial)]
    assert sender.state is ReliableState.WAITING and sender.waiting == [BYE]
    assert sender.tries == 1 and sender.holds(wire.Bye) and not sender.holds(wire.Invite)


def test_clear_forgets_and_disarms_online_and_only_forgets_offline() -> None:
    sender = waiting_with(INVITE)
    fx: list[Effect] = []
    sender.clear(fx, 1.0, OWNER)
    assert fx == [CancelTimer(TID)]
    assert sender.state is ReliableState.IDLE and not sender.pending
    paused = waiting_with(INVITE)
    paused.pause([], 1.0, OWNER)
    fx = []
    paused.clear(fx, 2.0, OWNER)
    assert fx == [] and paused.state is ReliableState.OFFLINE and paused.waiting is None


def test_pause_disarms_the_timer_and_resume_counts_afresh() -> None:
    sender = waiting_with(INVITE)
    fx: list[Effect] = []
    sender.pause(fx, 1.0, OWNER)
    assert fx == [CancelTimer(TID)] and sender.state is ReliableState.PAUSED
    idle = ReliableSender()
    fx = []
    idle.pause(fx, 1.0, OWNER)
    assert fx == [] and idle.state is ReliableState.OFFLINE


def test_count_afresh_gives_the_full_schedule_again() -> None:
    sender = waiting_with(INVITE)
    assert sender.expire([], 1.0, OWNER) is RtxOutcome.RESENT
    assert sender.expire([], 2.0, OWNER) is RtxOutcome.RESENT
    assert sender.tries == 3 and sender.spent(OWNER)  # rtx_attempts sends: the next gives up
    sender.count_afresh([], 3.0, OWNER)
    assert sender.tries == 0 and not sender.spent(OWNER)
    outcomes = [sender.expire([], 4.0 + i, OWNER) for i in range(4)]
    assert outcomes == [RtxOutcome.RESENT] * 3 + [RtxOutcome.GAVE_UP]


def test_spent_exactly_at_rtx_attempts_sends() -> None:
    sender = waiting_with(INVITE)
    for n in range(1, 3):
        assert sender.tries == n and not sender.spent(OWNER)
        sender.expire([], float(n), OWNER)
    assert sender.tries == 3 and sender.spent(OWNER)
    assert sender.expire([], 9.0, OWNER) is RtxOutcome.GAVE_UP and not sender.spent(OWNER)


def test_an_acknowledgement_of_one_kind_leaves_the_others_waiting() -> None:
    sender = waiting_with(INVITE, BYE)
    assert sender.settle([], 1.0, OWNER, wire.Invite)
    assert sender.waiting == [BYE] and sender.state is ReliableState.WAITING
    assert sender.holds(wire.Bye) and not sender.holds(wire.Invite)


def test_an_acknowledgement_of_one_seq_leaves_the_other_seqs_waiting() -> None:
    sender = waiting_with(U1, U2)
    fx: list[Effect] = []
    assert sender.settle(fx, 1.0, OWNER, wire.Update, seq=1)
    assert sender.waiting == [U2] and sender.state is ReliableState.WAITING and fx == []
    assert sender.settle(fx, 2.0, OWNER, wire.Update, seq=2)
    assert sender.state is ReliableState.IDLE and fx == [CancelTimer(TID)]


def test_an_acknowledgement_with_a_seq_never_matches_a_message_without_one() -> None:
    sender = waiting_with(BYE)
    fx: list[Effect] = []
    assert not sender.settle(fx, 1.0, OWNER, wire.Bye, seq=3)
    assert sender.waiting == [BYE] and sender.state is ReliableState.WAITING and fx == []
