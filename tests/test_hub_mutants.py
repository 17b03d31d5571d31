"""The hub: what mutation testing found untested (docs/testing.md, "Mutation testing").

Each connection has its own message bucket (one flooder does not silence the others), the
bucket refills at its rate from where it was last read and never above its burst; and the fork
bookkeeping of a forked call: the caller's ack of the winner's bye (to the bare user or to the
winner's device) closes the fork, what the caller sends inside a fork is stamped with its
address, and an invite to one's own bare user rings one's other devices only."""

from __future__ import annotations

from test_hub import forks, invite, online, send, server_error_codes

from rtcstate import wire
from rtcstate.hub import Deliver, Hub, HubEffect
from rtcstate.wire import Envelope

CALL = "alice/c-call-1"


def ping(seq: int) -> bytes:
    return wire.encode(wire.Ping(seq=seq))


def passes(hub: Hub, conn: str, seq: int, now: float) -> bool:
    """Whether a ping is answered (not refused by a rate limit)."""
    fx = hub.receive(conn, ping(seq), now)
    codes = server_error_codes(fx)
    assert codes in ([], ["rate_limited"]), codes
    return not codes


def limited() -> Hub:
    return Hub(rate_limit=10.0, rate_burst=3.0, identity_rate_limit=None, source_rate_limit=None)


def test_each_connection_has_its_own_bucket() -> None:
    hub, c = online("alice/d1", "bob/d1", "carol/d1", hub=limited())
    for conn in c.values():  # each one its whole burst, at the same instant
        assert [passes(hub, conn, n, 0.0) for n in range(4)] == [True, True, True, False]


def test_the_bucket_refills_at_its_rate_from_its_last_reading_up_to_its_burst() -> None:
    hub, c = online("alice/d1", hub=limited())
    conn = c["alice/d1"]
    assert [passes(hub, conn, n, 0.0) for n in range(4)] == [True, True, True, False]
    # 0.25 s at 10/s: 2.5 tokens
    assert [passes(hub, conn, n, 0.25) for n in range(3)] == [True, True, False]
    # 0.125 s more: the half token left plus 1.25 (times exact in binary)
    assert [passes(hub, conn, n, 0.375) for n in range(2)] == [True, False]
    # a long pause gives the burst back, not more
    assert [passes(hub, conn, n, 100.0) for n in range(4)] == [True, True, True, False]


def deliveries(fx: list[HubEffect], conn: str) -> list[Envelope]:
    return [e.envelope for e in fx if isinstance(e, Deliver) and e.conn == conn]


def answered_fork() -> tuple[Hub, dict[str, str]]:
    """alice/d1 calls bob (two devices); bob/p1 answers, then hangs up."""
    hub, c = online("alice/d1", "bob/p1", "bob/p2")
    send(hub, c["alice/d1"], invite(CALL), to="bob")
    send(hub, c["bob/p1"], wire.Answer(CALL, "answer"), to="alice/d1")
    send(hub, c["bob/p1"], wire.Bye(CALL, "Hangup_From_Callee"), to="alice/d1")
    return hub, c


def test_the_callers_ack_of_the_winners_bye_to_the_bare_user_closes_the_fork() -> None:
    hub, c = answered_fork()
    ack = wire.Ack(CALL, "bye")
    fx = send(hub, c["alice/d1"], ack, to="bob")
    assert deliveries(fx, c["bob/p1"]) == [Envelope(ack, "bob", "alice/d1")]  # stamped
    assert deliveries(fx, c["bob/p2"]) == []
    assert forks(hub)[CALL].closed
    # the loser acknowledges the hub's bye: nothing holds the fork any more
    send(hub, c["bob/p2"], wire.Ack(CALL, "bye"), to="alice/d1")
    assert forks(hub) == {}


def test_the_callers_ack_of_the_winners_bye_to_its_device_closes_the_fork() -> None:
    hub, c = answered_fork()
    ack = wire.Ack(CALL, "bye")
    fx = send(hub, c["alice/d1"], ack, to="bob/p1")
    assert deliveries(fx, c["bob/p1"]) == [Envelope(ack, "bob/p1", "alice/d1")]
    assert forks(hub)[CALL].closed
    send(hub, c["bob/p2"], wire.Ack(CALL, "bye"), to="alice/d1")
    assert forks(hub) == {}


def test_another_message_of_the_caller_does_not_close_the_fork() -> None:
    hub, c = answered_fork()
    send(hub, c["alice/d1"], wire.Ack(CALL, "answer"), to="bob")
    send(hub, c["alice/d1"], wire.Ack(CALL, "answer"), to="bob/p1")
    assert not forks(hub)[CALL].closed
    send(hub, c["bob/p2"], wire.Ack(CALL, "bye"), to="alice/d1")
    assert CALL in forks(hub)  # the winner's bye is not acknowledged yet


def test_what_the_caller_sends_a_ringing_fork_reaches_every_device_stamped() -> None:
    hub, c = online("alice/d1", "bob/p1", "bob/p2")
    send(hub, c["alice/d1"], invite(CALL), to="bob")
    cand = wire.Candidate(CALL, "candidate:1 1 udp 1 127.0.0.1 9 typ host")
    fx = send(hub, c["alice/d1"], cand, to="bob")
    for device in ("bob/p1", "bob/p2"):
        assert deliveries(fx, c[device]) == [Envelope(cand, "bob", "alice/d1")]


def test_an_invite_to_ones_own_user_rings_the_other_devices_only() -> None:
    hub, c = online("alice/d1", "alice/d2", "alice/d3")
    inv = invite(CALL)
    fx = send(hub, c["alice/d1"], inv, to="alice")
    assert deliveries(fx, c["alice/d1"]) == []
    for device in ("alice/d2", "alice/d3"):
        assert deliveries(fx, c[device]) == [Envelope(inv, "alice", "alice/d1")]
    assert set(forks(hub)[CALL].others) == {"alice/d2", "alice/d3"}
    alone, a = online("dave/d1")
    fx = send(alone, a["dave/d1"], invite("dave/c-call-2"), to="dave")
    assert deliveries(fx, a["dave/d1"]) == [Envelope(wire.UserNotFound("dave/c-call-2", "dave"))]


# --- rtcstate.hub.limits: the bucket and deadline primitives -----------------------------------


def test_an_unlimited_bucket_is_never_refilled_and_always_full() -> None:
    from rtcstate.hub.limits import TokenBucket

    bucket = TokenBucket.full(None, 3.0, 0.0)
    bucket.tokens = 1.0
    assert bucket.refill(10.0) == 1.0 and bucket.last == 0.0
    assert bucket.is_full(10.0) and bucket.ready(10.0)


def test_a_sweep_keeps_the_buckets_still_draining() -> None:
    from rtcstate.hub.limits import Buckets

    buckets: Buckets[str] = Buckets(10.0, 3.0)
    for _ in range(3):
        buckets.get("flooder", 0.0).take()
    buckets.get("idle", 0.0)
    assert buckets.sweep(0.0) == 1  # the idle (full) one goes, the drained one stays
    assert buckets.sweep(0.25) == 1  # 2.5 tokens back out of three: still kept
    assert buckets.sweep(0.5) == 0  # full again (times exact in binary)
    unlimited: Buckets[str] = Buckets(None, 3.0)
    unlimited.get("x", 0.0).take()
    assert unlimited.sweep(0.0) == 0


def test_deadlines_fall_due_in_arming_order_at_equal_times() -> None:
    from rtcstate.hub.limits import Deadlines

    deadlines = Deadlines()
    assert deadlines.next() is None
    deadlines.arm(5.0, "conn-b", "idle")
    deadlines.arm(5.0, "conn-a", "register")
    deadlines.arm(5.0, "conn-c", "idle")
    deadlines.arm(1.0, "conn-z", "idle")
    assert deadlines.next() == 1.0
    assert list(deadlines.due(5.0)) == [
        (1.0, "conn-z", "idle"),
        (5.0, "conn-b", "idle"),
        (5.0, "conn-a", "register"),
        (5.0, "conn-c", "idle"),
    ]
    assert deadlines.next() is None and len(deadlines) == 0


# --- rtcstate.hub.routing: the ringing cap, fork losers, replies inside a fork ----------------

BUSY = "User_Busy"


def ringing_hub() -> tuple[Hub, dict[str, str]]:
    return online("alice/d1", "bob/p1", "bob/p2", hub=Hub(max_ringing=1, ring_timeout=10.0))


def busy(fx: list[HubEffect], conn: str, call_id: str) -> bool:
    """Whether the caller (on ``conn``) heard a busy decline for ``call_id``."""
    return any(e.message == wire.Bye(call_id, BUSY) for e in deliveries(fx, conn))


def test_a_full_device_answers_busy_to_the_caller_until_its_call_settles() -> None:
    for settle in ("answer", "decline", "ack", "cancel-device", "cancel-user"):
        hub, c = ringing_hub()
        a, p1 = c["alice/d1"], c["bob/p1"]
        send(hub, a, invite("alice/c-1"), to="bob/p1")
        fx = send(hub, a, invite("alice/c-2"), to="bob/p1")
        assert busy(fx, a, "alice/c-2"), settle  # to the caller's connection
        assert not busy(send(hub, a, invite("alice/c-1"), to="bob/p1"), a, "alice/c-1")
        send(hub, p1, wire.Ack("alice/c-1", "invite"), to="alice/d1")  # settles nothing
        assert busy(send(hub, a, invite("alice/c-3"), to="bob/p1"), a, "alice/c-3")
        if settle == "answer":
            send(hub, p1, wire.Answer("alice/c-1", "sdp"), to="alice/d1")
        elif settle == "decline":
            send(hub, p1, wire.Bye("alice/c-1", "User_Refused_Call"), to="alice/d1")
        elif settle == "ack":
            send(hub, p1, wire.Ack("alice/c-1", "bye"), to="alice/d1")
        else:
            to = "bob/p1" if settle == "cancel-device" else "bob"
            send(hub, a, wire.Bye("alice/c-1", "Hangup_From_Caller"), to=to)
        fx = send(hub, a, invite("alice/c-4"), to="bob/p1")
        assert not busy(fx, a, "alice/c-4"), settle
        assert deliveries(fx, p1), settle


def test_a_cancel_to_an_unknown_user_is_routed_as_not_found() -> None:
    hub, c = ringing_hub()
    fx = send(hub, c["alice/d1"], wire.Bye("alice/c-9", "Hangup_From_Caller"), to="ghost")
    assert deliveries(fx, c["alice/d1"]) == [Envelope(wire.UserNotFound("alice/c-9", "ghost"))]


def test_a_ringing_call_stops_counting_at_its_deadline() -> None:
    hub, c = ringing_hub()
    a = c["alice/d1"]
    send(hub, a, invite("alice/c-1"), to="bob/p1", now=0.0)
    assert busy(send(hub, a, invite("alice/c-2"), to="bob/p1", now=9.5), a, "alice/c-2")
    assert not busy(send(hub, a, invite("alice/c-3"), to="bob/p1", now=10.0), a, "alice/c-3")


def test_a_device_that_leaves_forgets_what_rang_on_it() -> None:
    hub, c = ringing_hub()
    a = c["alice/d1"]
    send(hub, a, invite("alice/c-1"), to="bob/p1")
    hub.disconnect(c["bob/p1"], 0.0)
    online("bob/p1", hub=hub)
    fx = send(hub, a, invite("alice/c-2"), to="bob/p1")
    assert not busy(fx, a, "alice/c-2")


def test_a_device_registered_after_the_invite_may_answer_the_fork() -> None:
    hub, c = online("alice/d1", "bob/p1")
    send(hub, c["alice/d1"], invite(CALL), to="bob")
    hub, late = online("bob/p9", hub=hub)
    fx = send(hub, late["bob/p9"], wire.Answer(CALL, "sdp"), to="alice/d1")
    assert deliveries(fx, c["alice/d1"]) == [
        Envelope(wire.Answer(CALL, "sdp"), "alice/d1", "bob/p9")
    ]
    assert forks(hub)[CALL].winner == "bob/p9"


def test_a_closed_fork_with_no_loser_is_forgotten_at_once() -> None:
    hub, c = online("alice/d1", "bob/p1")
    send(hub, c["alice/d1"], invite(CALL), to="bob")
    send(hub, c["bob/p1"], wire.Answer(CALL, "sdp"), to="alice/d1")
    send(hub, c["bob/p1"], wire.Bye(CALL, "Hangup_From_Callee"), to="alice/d1")
    send(hub, c["alice/d1"], wire.Ack(CALL, "bye"), to="bob")
    assert forks(hub) == {}


def test_what_a_loser_says_is_dropped_with_the_fork_loser_reason() -> None:
    from rtcstate.effects import Drop
    from rtcstate.hub.effects import HubDrop

    hub, c = online("alice/d1", "bob/p1", "bob/p2")
    send(hub, c["alice/d1"], invite(CALL), to="bob")
    send(hub, c["bob/p1"], wire.Answer(CALL, "sdp"), to="alice/d1")
    p2 = c["bob/p2"]
    for msg in (wire.Bye(CALL, "User_Refused_Call"), wire.Candidate(CALL, "")):
        drops = [e for e in send(hub, p2, msg, to="alice/d1") if isinstance(e, Drop)]
        assert len(drops) == 1 and drops[0].reason == HubDrop.FORK_LOSER, msg
        assert CALL in drops[0].detail and "bob/p2" in drops[0].detail


def test_a_message_inside_a_fork_to_an_unknown_address_is_answered_not_found() -> None:
    hub, c = online("alice/d1", "bob/p1", "bob/p2", "carol/d1")
    send(hub, c["alice/d1"], invite(CALL), to="bob")
    nf = Envelope(wire.UserNotFound(CALL, "ghost/x"))
    # the caller, a ringing device before and the winner after the answer, a third party
    assert deliveries(send(hub, c["alice/d1"], wire.Candidate(CALL, ""), to="ghost/x"),
                      c["alice/d1"]) == [nf]  # fmt: skip
    assert deliveries(send(hub, c["bob/p1"], wire.Ack(CALL, "invite"), to="ghost/x"),
                      c["bob/p1"]) == [nf]  # fmt: skip
    assert deliveries(send(hub, c["bob/p1"], wire.Answer(CALL, "sdp"), to="ghost/x"),
                      c["bob/p1"]) == [nf]  # fmt: skip
    assert deliveries(send(hub, c["bob/p1"], wire.Candidate(CALL, ""), to="ghost/x"),
                      c["bob/p1"]) == [nf]  # fmt: skip
    assert deliveries(send(hub, c["carol/d1"], wire.Candidate(CALL, ""), to="ghost/x"),
                      c["carol/d1"]) == [nf]  # fmt: skip


def test_a_tenant_space_outlives_a_leaving_connection_while_others_remain() -> None:
    hub, c = online("alice/d1", "carol/d1")
    hub.disconnect(c["carol/d1"], 0.0)
    hub, d = online("dave/d1", hub=hub)
    fx = send(hub, d["dave/d1"], invite("dave/c-1"), to="alice")
    assert deliveries(fx, c["alice/d1"]) == [Envelope(invite("dave/c-1"), "alice", "dave/d1")]
