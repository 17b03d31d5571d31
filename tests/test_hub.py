"""Hub (the relay core): registration, presence, routing, stamping, errors and forked calls."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.codes import CallType, HangupReason
from rtcstate.effects import Drop, Send
from rtcstate.hub import CloseCode, CloseConnection, Deliver, Hub, HubEffect, Log
from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.testing.strategies import addresses, envelopes
from rtcstate.wire import Envelope

TAKE = HangupReason.CALL_TAKE_ON_OTHER_DEVICE.value
BYE_OTHER = HangupReason.BYE_ON_OTHER_DEVICE.value
CALL = "alice/c-call-1"


def nolog(fx: list[HubEffect]) -> list[HubEffect]:
    """The effects without the log lines (tested in tests/test_hub_security.py)."""
    return [e for e in fx if not isinstance(e, Log)]


def forks(hub: Hub) -> dict[str, Any]:
    """Every tenant's forks, by call id."""
    return {k: f for space in hub._spaces.values() for k, f in space.forks.items()}


def involved(hub: Hub) -> dict[str, set[str]]:
    return {k: v for space in hub._spaces.values() for k, v in space.involved.items()}


def online(*addresses: str, hub: Hub | None = None) -> tuple[Hub, dict[str, str]]:
    """A hub with one registered connection per address; returns it and address -> conn."""
    hub = hub or Hub()
    conns: dict[str, str] = {}
    for address in addresses:
        conn = f"conn-{address}"
        user, _, device = address.partition("/")
        assert hub.connect(conn, 0.0) == []
        hub.receive_envelope(conn, Envelope(wire.Register(user, device)), 0.0)
        conns[address] = conn
    return hub, conns


def send(
    hub: Hub, conn: str, msg: wire.Message, to: str | None = None, now: float = 0.0
) -> list[HubEffect]:
    return nolog(hub.receive_envelope(conn, Envelope(msg, to), now))


def server(conn: str, msg: wire.Message) -> Deliver:
    return Deliver(conn, Envelope(msg))


def deliveries(fx: list[HubEffect], conn: str) -> list[Envelope]:
    return [e.envelope for e in fx if isinstance(e, Deliver) and e.conn == conn]


def invite(call_id: str = CALL) -> wire.Invite:
    return wire.Invite(call_id=call_id, call_type=CallType.MEDIA, sdp="offer")


# --- registration and presence ----------------------------------------------------------------


def test_register_replies_and_announces_presence() -> None:
    hub = Hub()
    assert hub.connect("c1", 0.0) == []
    fx = send(hub, "c1", wire.Register("alice", "d1"))
    assert fx == [server("c1", wire.Registered("alice", "d1", "c1:1"))]

    hub.connect("c2", 0.0)
    fx = send(hub, "c2", wire.Register("bob", "p"))
    assert fx == [
        server("c2", wire.Registered("bob", "p", "c2:2")),
        server("c2", wire.PresenceBatch(["alice/d1"])),
        server("c1", wire.Presence("bob", True, ["bob/p"])),
    ]

    hub.connect("c3", 0.0)
    fx = send(hub, "c3", wire.Register("alice", "d2", token="t", resume=True))
    both = ["alice/d1", "alice/d2"]
    assert fx == [
        server("c3", wire.Registered("alice", "d2", "c3:3")),
        server("c3", wire.PresenceBatch([*both, "bob/p"])),
        server("c1", wire.Presence("alice", True, both)),
        server("c2", wire.Presence("alice", True, both)),
    ]
    assert hub.devices("alice") == ("alice/d1", "alice/d2")
    assert hub.devices("nobody") == ()
    assert hub.address("c3") == "alice/d2"
    assert hub.address("nope") is None
    assert all(e.envelope.sender is None for e in fx if isinstance(e, Deliver))


def test_disconnect_announces_remaining_devices_then_offline() -> None:
    hub, c = online("alice/d1", "alice/d2", "bob/p")
    fx = nolog(hub.disconnect(c["alice/d1"], 1.0))
    assert fx == [
        server(c["alice/d2"], wire.Presence("alice", True, ["alice/d2"])),
        server(c["bob/p"], wire.Presence("alice", True, ["alice/d2"])),
    ]
    fx = nolog(hub.disconnect(c["alice/d2"], 2.0))
    assert fx == [server(c["bob/p"], wire.Presence("alice", False, []))]
    assert hub.devices("alice") == ()
    assert hub.disconnect(c["alice/d2"], 3.0) == []  # twice: nothing
    assert hub.disconnect("never-connected", 3.0) == []


def test_unregister_frees_the_address_without_closing() -> None:
    hub, c = online("alice/d1", "bob/p")
    fx = send(hub, c["alice/d1"], wire.Unregister())
    assert fx == [server(c["bob/p"], wire.Presence("alice", False, []))]
    assert hub.address(c["alice/d1"]) is None
    fx = send(hub, c["alice/d1"], wire.ContactMessage(1, "hi"), to="bob")
    assert fx[0] == server(
        c["alice/d1"], wire.ServerError("not_registered", "contact_message before register")
    )
    # it may register again on the same connection
    fx = send(hub, c["alice/d1"], wire.Register("alice", "d1"))
    assert isinstance(fx[0], Deliver) and isinstance(fx[0].envelope.message, wire.Registered)
    assert hub.devices("alice") == ("alice/d1",)


def test_unregistered_connection_gets_not_registered_and_message_is_dropped() -> None:
    hub = Hub()
    hub.connect("c1", 0.0)
    fx = send(hub, "c1", wire.Ping(1))
    assert fx == [
        server("c1", wire.ServerError("not_registered", "ping before register")),
        Drop("not-registered", "ping from unregistered connection c1"),
    ]
    assert hub.receive("unknown", b"{}", 0.0)[0] == Drop(
        "unknown-connection", "frame on unknown connection unknown"
    )


def test_invalid_register_is_refused() -> None:
    hub = Hub()
    hub.connect("c1", 0.0)
    for user, device in (("", "d"), ("a/b", "d"), ("alice", "")):
        fx = send(hub, "c1", wire.Register(user, device))
        assert len(fx) == 1 and isinstance(fx[0], Deliver)
        assert fx[0].envelope.message == wire.ServerError(
            "invalid_register", "user must be non-empty and without '/', device non-empty"
        )
    assert hub.address("c1") is None


def test_duplicate_address_closes_the_older_connection() -> None:
    hub, c = online("alice/d1", "bob/p")
    hub.connect("new", 1.0)
    fx = send(hub, "new", wire.Register("alice", "d1", resume=True))
    taken = "alice/d1 registered on another connection"
    assert fx[0] == server(c["alice/d1"], wire.ServerError("conflict", taken))
    assert fx[1] == CloseConnection(c["alice/d1"], taken, CloseCode.CONFLICT)
    assert fx[2] == server("new", wire.Registered("alice", "d1", "new:3"))
    assert hub.address("new") == "alice/d1"
    assert hub.address(c["alice/d1"]) is None
    assert hub.devices("alice") == ("alice/d1",)
    # the old connection's close changes nothing; messages now reach the new one
    assert nolog(hub.disconnect(c["alice/d1"], 2.0)) == []
    fx = send(hub, c["bob/p"], wire.ContactMessage(1, "hi"), to="alice/d1")
    assert fx == [Deliver("new", Envelope(wire.ContactMessage(1, "hi"), "alice/d1", "bob/p"))]


def test_registering_another_address_on_the_same_connection_moves_it() -> None:
    hub, c = online("alice/d1", "bob/p")
    fx = send(hub, c["alice/d1"], wire.Register("alice", "d2"))
    assert fx[0] == server(c["bob/p"], wire.Presence("alice", False, []))
    assert hub.devices("alice") == ("alice/d2",)
    assert hub.address(c["alice/d1"]) == "alice/d2"


def test_session_registers_through_the_hub() -> None:
    """A real client Session reaches CONNECTED and learns presence from the hub's replies."""
    hub, _ = online("bob/p")
    session = Session(SessionConfig("alice", device="d1", keepalive_interval=None))
    session.register(0.0)
    hub.connect("a", 0.0)
    sent = [e for e in session.connection_made(0.0) if isinstance(e, Send)]
    data = wire.encode(sent[0].message, to=sent[0].to, sender="forged")
    for effect in nolog(hub.receive("a", data, 0.0)):
        assert isinstance(effect, Deliver)
        if effect.conn == "a":
            session.receive(wire.encode_envelope(effect.envelope), 0.0)
    assert session.state is SessionState.CONNECTED
    assert session.session_id == "a:2"
    assert session.contacts == {"bob": ("bob/p",)}


# --- server-level messages and errors -----------------------------------------------------------


def test_ping_to_the_server_gets_pong() -> None:
    hub, c = online("alice/d1")
    assert send(hub, c["alice/d1"], wire.Ping(7)) == [server(c["alice/d1"], wire.Pong(7))]
    assert send(hub, c["alice/d1"], wire.Pong(7)) == []


def test_message_without_destination_is_unexpected() -> None:
    hub, c = online("alice/d1")
    fx = send(hub, c["alice/d1"], wire.ContactMessage(1, "hi"))
    assert fx == [
        server(
            c["alice/d1"],
            wire.ServerError("unexpected", "contact_message needs a destination ('to')"),
        )
    ]


def test_relay_only_messages_are_forbidden_from_clients() -> None:
    hub, c = online("alice/d1", "bob/p")
    for msg in (
        wire.Presence("x", True, []),
        wire.Registered("bob", "p", "s"),
        wire.ServerError("x", "y"),
        wire.UserNotFound("bob/p-call-1", "x"),
    ):
        fx = send(hub, c["alice/d1"], msg, to="bob/p")
        assert len(fx) == 1 and isinstance(fx[0], Deliver)
        assert fx[0].conn == c["alice/d1"]
        error = fx[0].envelope.message
        assert isinstance(error, wire.ServerError) and error.code == "forbidden"


def test_undecodable_and_oversize_input_get_server_errors() -> None:
    hub, c = online("alice/d1", hub=Hub(max_message_size=64))
    conn = c["alice/d1"]
    fx = hub.receive(conn, b"not json", 0.0)
    # the answer, then the refusal's log line
    assert len(fx) == 2 and isinstance(fx[0], Deliver) and fx[0].conn == conn
    assert isinstance(fx[1], Log) and fx[1].event == "refused" and fx[1].conn == conn
    err = fx[0].envelope.message
    assert isinstance(err, wire.ServerError) and err.code == "decode_error"
    assert err.info.startswith("malformed_json")
    fx = hub.receive(conn, wire.encode(wire.ContactMessage(1, "x" * 100), to="bob"), 0.0)
    err = fx[0].envelope.message  # type: ignore[union-attr]
    assert isinstance(err, wire.ServerError) and err.code == "oversize"
    # an unregistered connection gets decode errors too
    hub.connect("raw", 0.0)
    fx = hub.receive("raw", "\ud800", 0.0)
    assert fx[0].envelope.message.code == "decode_error"  # type: ignore[union-attr]


# --- routing ----------------------------------------------------------------------------------


def test_routing_to_one_device_and_to_all_devices() -> None:
    hub, c = online("alice/d1", "bob/p1", "bob/p2")
    msg = wire.ContactMessage(1, "hi")
    fx = send(hub, c["alice/d1"], msg, to="bob/p2")
    assert fx == [Deliver(c["bob/p2"], Envelope(msg, "bob/p2", "alice/d1"))]
    fx = send(hub, c["alice/d1"], msg, to="bob")
    assert fx == [
        Deliver(c["bob/p1"], Envelope(msg, "bob", "alice/d1")),
        Deliver(c["bob/p2"], Envelope(msg, "bob", "alice/d1")),
    ]
    # a bare user never includes the sending device itself
    fx = send(hub, c["bob/p1"], msg, to="bob")
    assert fx == [Deliver(c["bob/p2"], Envelope(msg, "bob", "bob/p1"))]


def test_forged_sender_is_replaced() -> None:
    hub, c = online("alice/d1", "bob/p")
    data = wire.encode(wire.ContactMessage(1, "hi"), to="bob/p", sender="mallory/x")
    fx = hub.receive(c["alice/d1"], data, 0.0)
    assert fx == [Deliver(c["bob/p"], Envelope(wire.ContactMessage(1, "hi"), "bob/p", "alice/d1"))]
    fx = hub.receive_envelope(
        c["alice/d1"], Envelope(wire.ContactData({"k": 1}), "bob", "bob/p"), 0.0
    )
    assert [e.envelope.sender for e in fx if isinstance(e, Deliver)] == ["alice/d1"]


def test_user_not_found_for_routed_messages_and_server_error_for_others() -> None:
    hub, c = online("alice/d1", "bob/p")
    conn = c["alice/d1"]
    assert send(hub, conn, invite(), to="carol") == [
        server(conn, wire.UserNotFound(ref_id=CALL, user="carol"))
    ]
    assert send(hub, conn, wire.Bye(CALL, "x"), to="bob/tablet") == [
        server(conn, wire.UserNotFound(ref_id=CALL, user="bob/tablet"))
    ]
    answer = wire.InviteAnswer("inv-1", wire.AnswerChoice.ACCEPT)
    assert send(hub, conn, answer, to="carol") == [
        server(conn, wire.UserNotFound(ref_id="inv-1", user="carol"))
    ]
    assert send(hub, conn, wire.FileCancel("t-1", "r"), to="carol/x") == [
        server(conn, wire.UserNotFound(ref_id="t-1", user="carol/x"))
    ]
    assert send(hub, conn, wire.ContactMessage(1, "hi"), to="carol") == [
        server(conn, wire.ServerError("user_not_found", "carol"))
    ]
    # alone on its user: a bare self-address reaches nobody
    assert send(hub, conn, wire.ContactMessage(1, "hi"), to="alice") == [
        server(conn, wire.ServerError("user_not_found", "alice"))
    ]


def test_invite_to_one_device_is_not_forked() -> None:
    hub, c = online("alice/c", "bob/d0", "bob/d1")
    fx = send(hub, c["alice/c"], invite(), to="bob/d0")
    assert fx == [Deliver(c["bob/d0"], Envelope(invite(), "bob/d0", "alice/c"))]
    fx = send(hub, c["bob/d0"], wire.Answer(CALL, "sdp"), to="alice/c")
    assert fx == [Deliver(c["alice/c"], Envelope(wire.Answer(CALL, "sdp"), "alice/c", "bob/d0"))]
    assert forks(hub) == {}


# --- forked calls -----------------------------------------------------------------------------

DEVICES = ("bob/d0", "bob/d1", "bob/d2")


def forked(n: int = 3) -> tuple[Hub, dict[str, str]]:
    hub, c = online("alice/c", *[f"bob/d{i}" for i in range(n)])
    fx = send(hub, c["alice/c"], invite(), to="bob")
    assert fx == [Deliver(c[f"bob/d{i}"], Envelope(invite(), "bob", "alice/c")) for i in range(n)]
    return hub, c


def from_caller(c: dict[str, str], device: str, msg: wire.Message) -> Deliver:
    """What a device receives from the caller (or from the hub in the caller's name)."""
    return Deliver(c[device], Envelope(msg, device, "alice/c"))


def to_caller(c: dict[str, str], device: str, msg: wire.Message) -> Deliver:
    return Deliver(c["alice/c"], Envelope(msg, "alice/c", device))


def test_fork_first_answer_wins_and_others_get_take_bye() -> None:
    hub, c = forked()
    # before settlement, ringing devices talk to the caller as usual
    ack = wire.Ack(CALL, "invite")
    assert send(hub, c["bob/d0"], ack, to="alice/c") == [to_caller(c, "bob/d0", ack)]
    assert send(hub, c["bob/d2"], ack, to="alice/c") == [to_caller(c, "bob/d2", ack)]

    answer = wire.Answer(CALL, "answer-sdp")
    fx = send(hub, c["bob/d1"], answer, to="alice/c")
    assert fx == [
        to_caller(c, "bob/d1", answer),
        from_caller(c, "bob/d0", wire.Bye(CALL, TAKE)),
        from_caller(c, "bob/d2", wire.Bye(CALL, TAKE)),
    ]
    # the winner goes on as usual; the caller's messages to "bob" reach the winner only
    cand = wire.Candidate(CALL, "candidate:1")
    assert send(hub, c["bob/d1"], cand, to="alice/c") == [to_caller(c, "bob/d1", cand)]
    fx = send(hub, c["alice/c"], cand, to="bob")
    assert fx == [Deliver(c["bob/d1"], Envelope(cand, "bob", "alice/c"))]
    # an Invite retransmission too
    fx = send(hub, c["alice/c"], invite(), to="bob")
    assert fx == [Deliver(c["bob/d1"], Envelope(invite(), "bob", "alice/c"))]


def test_fork_decline_on_one_device_ends_it_on_the_others() -> None:
    hub, c = forked()
    bye = wire.Bye(CALL, HangupReason.USER_REFUSED_CALL.value)
    fx = send(hub, c["bob/d2"], bye, to="alice/c")
    assert fx == [
        to_caller(c, "bob/d2", bye),
        from_caller(c, "bob/d0", wire.Bye(CALL, BYE_OTHER)),
        from_caller(c, "bob/d1", wire.Bye(CALL, BYE_OTHER)),
    ]
    # a later answer from another device does not reach the caller
    fx = send(hub, c["bob/d0"], wire.Answer(CALL, "sdp"), to="alice/c")
    assert fx == [from_caller(c, "bob/d0", wire.Bye(CALL, BYE_OTHER))]


def test_fork_late_answer_gets_the_take_bye() -> None:
    hub, c = forked()
    send(hub, c["bob/d0"], wire.Answer(CALL, "a0"), to="alice/c")
    fx = send(hub, c["bob/d1"], wire.Answer(CALL, "a1"), to="alice/c")
    assert fx == [from_caller(c, "bob/d1", wire.Bye(CALL, TAKE))]
    assert deliveries(fx, c["alice/c"]) == []


def test_fork_losers_are_not_forwarded() -> None:
    hub, c = forked()
    send(hub, c["bob/d0"], wire.Answer(CALL, "a0"), to="alice/c")
    for msg in (
        wire.Candidate(CALL, "c"),
        wire.Ack(CALL, "invite"),
        wire.MediaState(CALL, "failed"),
        wire.Ack(CALL, "bye", TAKE),
    ):
        fx = send(hub, c["bob/d1"], msg, to="alice/c")
        assert len(fx) == 1 and isinstance(fx[0], Drop) and fx[0].reason == "fork-loser"
    # a bye that crossed the hub's is acknowledged in the caller's name, not forwarded
    fx = send(hub, c["bob/d2"], wire.Bye(CALL, "User_Refused_Call"), to="alice/c")
    assert fx[0] == from_caller(c, "bob/d2", wire.Ack(CALL, "bye", TAKE))
    assert isinstance(fx[1], Drop)
    assert deliveries(fx, c["alice/c"]) == []


def test_fork_invite_retransmission_rings_every_device_while_unsettled() -> None:
    hub, c = forked()
    fx = send(hub, c["alice/c"], invite(), to="bob")
    assert [e.conn for e in fx if isinstance(e, Deliver)] == [c[d] for d in DEVICES]


def test_fork_is_forgotten_after_the_final_bye_ack_and_the_losers_acks() -> None:
    hub, c = forked()
    send(hub, c["bob/d1"], wire.Answer(CALL, "a"), to="alice/c")
    send(hub, c["bob/d0"], wire.Ack(CALL, "bye"), to="alice/c")  # d0 acked its take bye
    bye = wire.Bye(CALL, HangupReason.HANGUP_FROM_CALLER.value)
    assert send(hub, c["alice/c"], bye, to="bob") == [
        Deliver(c["bob/d1"], Envelope(bye, "bob", "alice/c"))
    ]
    send(hub, c["bob/d1"], wire.Ack(CALL, "bye"), to="alice/c")
    assert CALL in forks(hub)  # closed, but d2 still owes the ack of its bye
    fx = send(hub, c["bob/d2"], wire.Ack(CALL, "bye"), to="alice/c")
    assert isinstance(fx[0], Drop)  # not forwarded to the caller
    assert forks(hub) == {} and involved(hub) == {}
    # from now on the id routes as any other
    fx = send(hub, c["bob/d2"], wire.Candidate(CALL, "x"), to="alice/c")
    assert fx == [to_caller(c, "bob/d2", wire.Candidate(CALL, "x"))]


def test_closed_fork_waits_for_stragglers_at_most_fork_linger() -> None:
    hub, c = online("alice/c", "bob/d0", "bob/d1", hub=Hub(fork_linger=5.0))
    send(hub, c["alice/c"], invite(), to="bob")
    send(hub, c["bob/d0"], wire.Answer(CALL, "a"), to="alice/c")
    send(hub, c["alice/c"], wire.Bye(CALL, "Hangup_From_Caller"), to="bob/d0", now=10.0)
    send(hub, c["bob/d0"], wire.Ack(CALL, "bye"), to="alice/c", now=10.0)
    assert CALL in forks(hub)
    hub.receive_envelope(c["alice/c"], Envelope(wire.Ping(1)), 14.9)
    assert CALL in forks(hub)
    hub.receive_envelope(c["alice/c"], Envelope(wire.Ping(2)), 15.0)
    assert forks(hub) == {} and involved(hub) == {}


def test_fork_forgotten_when_caller_or_winner_disconnects() -> None:
    hub, c = forked()
    send(hub, c["bob/d1"], wire.Answer(CALL, "a"), to="alice/c")
    hub.disconnect(c["bob/d1"], 1.0)
    assert forks(hub) == {} and involved(hub) == {}

    hub, c = forked()
    hub.disconnect(c["alice/c"], 1.0)
    assert forks(hub) == {} and involved(hub) == {}


def test_fork_ringing_device_leaving_is_no_longer_rung() -> None:
    hub, c = forked()
    hub.disconnect(c["bob/d0"], 1.0)
    fx = send(hub, c["alice/c"], wire.Candidate(CALL, "x"), to="bob")
    assert [e.conn for e in fx if isinstance(e, Deliver)] == [c["bob/d1"], c["bob/d2"]]
    fx = send(hub, c["bob/d2"], wire.Answer(CALL, "a"), to="alice/c")
    assert fx[1:] == [from_caller(c, "bob/d1", wire.Bye(CALL, TAKE))]
    # when every ringing device has left before an answer, the fork is forgotten
    hub, c = forked(2)
    hub.disconnect(c["bob/d0"], 1.0)
    hub.disconnect(c["bob/d1"], 1.0)
    assert forks(hub) == {} and involved(hub) == {}


def test_fork_cancelled_by_the_caller_forwards_one_ack() -> None:
    hub, c = forked()
    cancel = wire.Bye(CALL, "Call_Cancelled")
    fx = send(hub, c["alice/c"], cancel, to="bob")
    assert fx == [Deliver(c[d], Envelope(cancel, "bob", "alice/c")) for d in DEVICES]
    ack = wire.Ack(CALL, "bye")
    # the first ack wins; the other devices get the cancel again from the hub (a copy of the
    # fan-out may have been lost, and the caller stops retransmitting at this ack)
    assert send(hub, c["bob/d2"], ack, to="alice/c") == [
        to_caller(c, "bob/d2", ack),
        from_caller(c, "bob/d0", cancel),
        from_caller(c, "bob/d1", cancel),
    ]
    assert isinstance(send(hub, c["bob/d0"], ack, to="alice/c")[0], Drop)
    # an answer that crossed the cancel gets the caller's reason back
    fx = send(hub, c["bob/d1"], wire.Answer(CALL, "a"), to="alice/c")
    assert fx == [from_caller(c, "bob/d1", cancel)]
    send(hub, c["bob/d1"], ack, to="alice/c")
    assert forks(hub) == {} and involved(hub) == {}


def test_fork_is_scoped_to_its_caller_and_callee() -> None:
    hub, c = forked()
    hub2_conn = "conn-carol/x"
    online("carol/x", hub=hub)
    # carol reusing the id is routed as usual and changes nothing
    fx = send(hub, hub2_conn, wire.Answer(CALL, "sdp"), to="alice/c")
    assert fx == [to_caller(c, "carol/x", wire.Answer(CALL, "sdp"))]
    assert forks(hub)[CALL].winner is None


# --- properties -------------------------------------------------------------------------------

ACTIONS = ("answer", "bye", "ack_invite", "candidate", "ack_bye", "caller_candidate")


def callee_message(kind: str) -> wire.Message:
    return {
        "answer": wire.Answer(CALL, "sdp"),
        "bye": wire.Bye(CALL, HangupReason.USER_REFUSED_CALL.value),
        "ack_invite": wire.Ack(CALL, "invite"),
        "candidate": wire.Candidate(CALL, "cand"),
        "ack_bye": wire.Ack(CALL, "bye"),
    }[kind]


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=4),
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=3), st.sampled_from(ACTIONS)), max_size=25
    ),
)
def test_caller_hears_from_exactly_one_device_after_settlement(
    n: int, steps: list[tuple[int, str]]
) -> None:
    hub, c = forked(n)
    caller = c["alice/c"]
    winner: str | None = None
    reason = ""
    heard_after: set[str] = set()
    byes_from_hub: dict[str, int] = {}
    for index, kind in steps:
        device = f"bob/d{index % n}"
        if kind == "caller_candidate":
            fx = send(hub, caller, wire.Candidate(CALL, "c"), to="bob")
            got = {e.conn for e in fx if isinstance(e, Deliver)}
            expected = {c[winner]} if winner else {c[f"bob/d{i}"] for i in range(n)}
            assert got == expected
            continue
        if kind == "ack_bye" and device == winner:
            continue  # the winner only acknowledges a bye the caller sent (never, here)
        fx = send(hub, c[device], callee_message(kind), to="alice/c")
        if winner is None and kind in ("answer", "bye"):
            winner = device
            reason = TAKE if kind == "answer" else BYE_OTHER
        for effect in fx:
            if not isinstance(effect, Deliver):
                continue
            env = effect.envelope
            if effect.conn == caller:
                if winner is not None:
                    heard_after.add(env.sender or "")
                continue
            # anything a callee device gets is in the caller's name, about this call
            assert env.sender == "alice/c"
            assert env.to in c and env.to.startswith("bob/") and effect.conn == c[env.to]
            if isinstance(env.message, wire.Bye):
                assert env.message.reason == reason
                byes_from_hub[env.to or ""] = byes_from_hub.get(env.to or "", 0) + 1
    if winner is None:
        assert heard_after == set()
        assert byes_from_hub == {}
        assert forks(hub)[CALL].winner is None
    else:
        assert heard_after == {winner}
        assert forks(hub)[CALL].winner == winner
        # every loser got at least its settlement bye, the winner none
        losers = {f"bob/d{i}" for i in range(n)} - {winner}
        assert set(byes_from_hub) == losers


def check_invariants(hub: Hub) -> None:
    for space in hub._spaces.values():
        for address, conn in space.by_address.items():
            assert hub.address(conn) == address
            assert space.users[address.partition("/")[0]][address] == conn
        for call_id, fork in space.forks.items():
            for address in (fork.caller, fork.winner, *fork.others):
                if address is not None:
                    assert call_id in space.involved[address]
                    assert address in space.by_address
        for address, ids in space.involved.items():
            assert ids and all(i in space.forks for i in ids), address
        # presence: every member and subscriber is a live registered connection of the space
        for group, members in space.presence.members.items():
            for user, count in members.items():
                assert 0 < count <= len(space.users.get(user, ())), (group, user)
        for subs in (*space.presence.group_subs.values(), *space.presence.contact_subs.values()):
            assert all(hub.address(conn) in space.by_address for conn in subs)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200) | st.text(max_size=200), max_size=10))
def test_receive_never_raises_on_arbitrary_input(frames: list[Any]) -> None:
    hub, c = online("alice/d1", "bob/p")
    hub.connect("raw", 0.0)
    for i, frame in enumerate(frames):
        for conn in (c["alice/d1"], "raw"):
            fx = hub.receive(conn, frame, float(i))
            assert isinstance(fx, list)
            assert all(isinstance(e, Deliver | CloseConnection | Drop | Log) for e in fx)
    check_invariants(hub)


CONNS = ("k0", "k1", "k2", "k3")
USERS = ("alice", "bob")
DEVS = ("d0", "d1")


def hub_steps() -> st.SearchStrategy[tuple[Any, ...]]:
    conn = st.sampled_from(CONNS)
    register = st.builds(wire.Register, st.sampled_from(USERS), st.sampled_from(DEVS))
    call_msgs = st.sampled_from(
        [invite("x"), wire.Answer("x", "s"), wire.Bye("x", "r"), wire.Ack("x", "bye")]
    )
    to = st.none() | st.sampled_from(["alice", "bob", "alice/d0", "bob/d1"]) | addresses()
    names = st.lists(st.sampled_from([*USERS, "g1", "g2"]), max_size=3)
    presence = st.one_of(
        st.builds(wire.PresenceSubscribe, names, names),
        st.builds(wire.PresenceUnsubscribe, names, names),
        st.builds(wire.PresenceGroups, names, names),
    )
    return st.one_of(
        st.tuples(st.just("connect"), conn),
        st.tuples(st.just("disconnect"), conn),
        st.tuples(st.just("env"), conn, st.builds(Envelope, register)),
        st.tuples(st.just("env"), conn, st.builds(Envelope, call_msgs, to)),
        st.tuples(st.just("env"), conn, envelopes()),
        st.tuples(st.just("env"), conn, st.builds(Envelope, presence)),
        st.tuples(st.just("tick"), st.floats(0, 200)),
        st.tuples(st.just("queued"), conn, st.integers(0, 2 << 20)),
    )


def test_a_connection_that_changes_device_keeps_its_tenant_space() -> None:
    """Found by the fuzz below: re-registering a connection under another device emptied the
    tenant's space (its old address was the last one), which was then forgotten while the new
    address was bound in it; the disconnect that followed raised KeyError."""
    hub = Hub()
    hub.connect("k0", 0.0)
    hub.receive_envelope("k0", wire.Envelope(wire.Register("alice", "d0")), 0.0)
    hub.receive_envelope("k0", wire.Envelope(wire.Register("alice", "d1")), 1.0)
    assert hub.devices("alice") == ("alice/d1",) and hub.held_state()["spaces"] == 1
    hub.connect("k1", 2.0)
    hub.receive_envelope("k1", wire.Envelope(wire.Register("bob", "d0")), 2.0)
    fx = hub.receive_envelope("k1", wire.Envelope(wire.ContactMessage(1, "hi"), to="alice"), 2.0)
    assert [e.conn for e in fx if isinstance(e, Deliver)] == ["k0"]  # routed in the same space
    hub.disconnect("k0", 3.0)
    hub.disconnect("k1", 3.0)
    assert hub.held_state()["spaces"] == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(hub_steps(), max_size=30))
def test_random_sessions_keep_the_hub_consistent(steps: list[tuple[Any, ...]]) -> None:
    hub = Hub(fork_linger=3.0)
    now = 0.0
    for step in steps:
        now += 1.0
        if step[0] == "connect":
            fx = hub.connect(step[1], now)
        elif step[0] == "disconnect":
            fx = hub.disconnect(step[1], now)
        elif step[0] == "tick":  # time passes: timeouts close connections, forks expire
            now += step[1]
            fx = hub.tick(now)
        elif step[0] == "queued":
            fx = hub.queued(step[1], step[2], now)
        else:
            fx = hub.receive_envelope(step[1], step[2], now)
        closed: set[str] = set()
        # a connection closed later in the same batch (its address taken over) may still get
        # what was addressed to it before the takeover, never anything after
        closing = {e.conn for e in fx if isinstance(e, CloseConnection)}
        for effect in fx:
            if isinstance(effect, CloseConnection):
                closed.add(effect.conn)
            if isinstance(effect, Deliver):
                assert effect.conn not in closed
                assert (
                    hub.address(effect.conn) is not None
                    or effect.conn in closing
                    or isinstance(effect.envelope.message, wire.ServerError)
                )
                wire.encode_envelope(effect.envelope)  # always sendable
        check_invariants(hub)


# --- limits: rate and size per connection -------------------------------------------------------


def ping_frame(seq: int = 1) -> bytes:
    return wire.encode(wire.Ping(seq=seq))


def server_error_codes(fx: list[HubEffect]) -> list[str]:
    return [
        e.envelope.message.code
        for e in fx
        if isinstance(e, Deliver) and isinstance(e.envelope.message, wire.ServerError)
    ]


def test_rate_limit_refuses_over_the_burst_and_refills_with_time() -> None:
    hub, c = online("alice/d1", hub=Hub(rate_limit=10.0, rate_burst=3.0))
    conn = c["alice/d1"]
    for seq in range(3):  # the burst passes
        assert server_error_codes(hub.receive(conn, ping_frame(seq), 0.0)) == []
    fx = hub.receive(conn, ping_frame(9), 0.0)
    assert server_error_codes(fx) == ["rate_limited"]
    err = fx[0].envelope.message  # type: ignore[union-attr]
    assert isinstance(err, wire.ServerError) and "10 messages/s" in err.info
    # 0.1 s later one token is back: the next ping is answered with a pong
    fx = hub.receive(conn, ping_frame(10), 0.1)
    assert fx == [server(conn, wire.Pong(seq=10))]


def test_repeated_abuse_closes_the_connection_and_later_frames_are_dropped() -> None:
    hub, c = online("alice/d1", "bob/d1", hub=Hub(rate_limit=1.0, rate_burst=1.0, max_strikes=3))
    conn = c["alice/d1"]
    hub.receive(conn, ping_frame(), 0.0)
    assert server_error_codes(hub.receive(conn, ping_frame(), 0.0)) == ["rate_limited"]
    assert server_error_codes(hub.receive(conn, ping_frame(), 0.0)) == ["rate_limited"]
    fx = hub.receive(conn, ping_frame(), 0.0)
    assert server_error_codes(fx) == ["rate_limited"]
    assert isinstance(fx[-1], CloseConnection) and fx[-1].conn == conn
    assert "rate_limited" in fx[-1].reason
    later = hub.receive(conn, ping_frame(), 100.0)
    assert len(later) == 1 and isinstance(later[0], Drop) and later[0].reason == "closing"
    # closing frees the address at once: bob hears it; the adapter's report changes nothing
    assert deliveries(fx, c["bob/d1"]) == [Envelope(wire.Presence("alice", False, []))]
    assert hub.address(conn) is None
    assert deliveries(hub.disconnect(conn, 100.0), c["bob/d1"]) == []


def test_an_accepted_frame_resets_the_strikes() -> None:
    hub, c = online("alice/d1", hub=Hub(max_message_size=64, max_strikes=2))
    conn = c["alice/d1"]
    big = wire.encode(wire.ContactMessage(1, "x" * 100), to="bob")
    assert server_error_codes(hub.receive(conn, big, 0.0)) == ["oversize"]
    assert hub.receive(conn, ping_frame(), 0.0) == [server(conn, wire.Pong(seq=1))]
    fx = hub.receive(conn, big, 0.0)
    assert server_error_codes(fx) == ["oversize"]
    assert not any(isinstance(e, CloseConnection) for e in fx)
    fx = hub.receive(conn, b"nope", 0.0)  # two refused in a row: closed
    assert server_error_codes(fx) == ["decode_error"]
    assert isinstance(fx[-1], CloseConnection)


def test_rate_limit_can_be_disabled_and_bad_limits_are_refused() -> None:
    unlimited = Hub(rate_limit=None, rate_burst=1.0, identity_rate_limit=None)
    hub, c = online("alice/d1", hub=unlimited)
    conn = c["alice/d1"]
    for seq in range(500):
        assert hub.receive(conn, ping_frame(seq), 0.0) == [server(conn, wire.Pong(seq=seq))]
    for bad in ({"rate_limit": 0.0}, {"rate_burst": 0.5}, {"max_strikes": 0}):
        try:
            Hub(**bad)  # type: ignore[arg-type]
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")
