"""Contact messaging outside conversations (rtcstate.contact_post) and user data.

* Sessions over the simulated network and the hub: a message, data or custom event reaches
  every device of the contact (``contactMessage`` / ``message`` on ``contact:<user>``, …), the
  sender's request resolves on the first acknowledgement, and fails (``messageNotDelivered``,
  the apiRTC number) for an offline user, a lost acknowledgement (timeout) or a lost server.
* Misuse raises with the apiRTC number and changes nothing.
* Every (state, trigger) and (state, input) pair of :class:`OutgoingPost`.
* The relay's rules (sans-I/O hub): spoofed senders re-stamped, other tenants unreachable, rate
  limits hold, user data oversize refused with a typed answer, user data seen by whoever hears
  the user and forgotten when it leaves.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.contact_post import (
    POST_TIMEOUT,
    OutgoingPost,
    PostCommand,
    PostDrop,
    PostState,
    PostTimer,
)
from rtcstate.conversation import Reject, Resolve
from rtcstate.effects import Drop, Effect, Emit, Send
from rtcstate.errors import RtcError
from rtcstate.hub import Deliver, Hub, HubEffect, Log
from rtcstate.identity import Identity, Refusal
from rtcstate.machine import spec_of
from rtcstate.session import Session, SessionConfig
from rtcstate.testing.exhaustive import check_input_pair, check_pair, input_pairs, pairs
from rtcstate.testing.network import Client, SimNetwork
from rtcstate.testing.strategies import strategy_for
from rtcstate.wire import Envelope
from rtcstate.wire_contact import (
    ContactAck,
    ContactEvent,
    ContactPayload,
    ContactText,
    UserDataSet,
    UserDataUpdate,
)

# --- helpers ----------------------------------------------------------------------------------


def _net(*addresses: str, hub: Hub | None = None) -> tuple[SimNetwork, dict[str, Client]]:
    net = SimNetwork(hub=hub)
    clients = {}
    for address in addresses:
        user, _, device = address.partition("/")
        clients[address] = net.add_client(SessionConfig(user, device=device))
    net.run(until=1.0)
    return net, clients


def _effects(client: Client, kind: type[Effect]) -> list[Any]:
    return [e for _, e in client.effects if isinstance(e, kind)]


def _emits(client: Client, target: str, event: str) -> list[Any]:
    return [r.payload for r in client.emits if r.target == target and r.event == event]


def _send(net: SimNetwork, client: Client, at: float, action: Any) -> list[OutgoingPost]:
    """Run a session command returning (post, effects) at ``at``; collect the post."""
    made: list[OutgoingPost] = []

    def run(now: float) -> list[Effect]:
        post, fx = action(now)
        made.append(post)
        return fx

    net.command(client, at, run)
    return made


# --- end to end over the simulated relay -----------------------------------------------------


def test_a_message_reaches_every_device_of_the_user_and_resolves_with_its_uuid() -> None:
    net, c = _net("alice/d", "bob/phone", "bob/laptop")
    alice = c["alice/d"]
    s = alice.session
    first = _send(net, alice, 2.0, lambda now: s.send_message("bob", now, "hello"))
    second = _send(net, alice, 3.0, lambda now: s.send_message("bob", now, "again"))
    net.run(until=20.0)
    assert [p.value for p in first + second] == [1, 2]
    for bob in (c["bob/phone"], c["bob/laptop"]):
        # the contact is the *user* (get_contact("alice").on("message") hears it)
        got = _emits(bob, "contact:alice", "message")
        assert [(m["content"], m["uuid"], m["device"]) for m in got] == [
            ("hello", 1, "alice/d"),
            ("again", 2, "alice/d"),
        ]
        on_session = _emits(bob, "session", "contactMessage")
        assert [(m["sender"], m["content"]) for m in on_session] == [
            ("alice/d", "hello"),
            ("alice/d", "again"),
        ]
        assert all(isinstance(m["time"], float) for m in on_session)
    resolved = _effects(alice, Resolve)
    assert [(r.target, r.command, r.value) for r in resolved] == [
        ("contact:bob", "message", 1),
        ("contact:bob", "message", 2),
    ]
    assert _effects(alice, Reject) == []
    assert _emits(alice, "contact:bob", "messageNotDelivered") == []
    # the second device's acknowledgement is dropped (the post was delivered already)
    assert sum(d.reason == PostDrop.LATE_ACK for d in alice.drops) == 2
    assert s.child_count("post_id") == 0 and not any("post:" in t for t in s.armed_timers())


def test_data_and_custom_events_reach_the_contact_with_apirtc_payloads() -> None:
    net, c = _net("alice/d", "bob/p")
    s = c["alice/d"].session
    _send(net, c["alice/d"], 2.0, lambda now: s.send_data("bob/p", now, {"k": [1, 2]}))
    _send(
        net,
        c["alice/d"],
        3.0,
        lambda now: s.send_custom_event("bob", now, "poke", {"n": 1}),
    )
    net.run(until=20.0)
    bob = c["bob/p"]
    data = {"sender": "alice/d", "content": {"k": [1, 2]}}
    assert _emits(bob, "session", "contactData") == [data]
    assert _emits(bob, "contact:alice", "data") == [{"k": [1, 2]}]
    assert _emits(bob, "session", "customEvent") == [
        {"event": "poke", "content": {"n": 1}, "sender": "alice/d"}
    ]
    assert _emits(bob, "contact:alice", "customEvent") == [{"event": "poke", "content": {"n": 1}}]
    assert [(r.command, r.value) for r in _effects(c["alice/d"], Resolve)] == [
        ("data", None),
        ("customEvent", None),
    ]


def test_a_message_to_an_offline_user_is_not_delivered_with_error_not_found() -> None:
    net, c = _net("alice/d", "bob/p")
    s = c["alice/d"].session
    _send(net, c["alice/d"], 2.0, lambda now: s.send_message("carol", now, "anyone?"))
    net.run(until=5.0)
    [reject] = _effects(c["alice/d"], Reject)
    assert (reject.target, reject.command, reject.code) == (
        "contact:carol",
        "message",
        ErrorNumber.ERROR_NOT_FOUND.value,
    )
    [payload] = _emits(c["alice/d"], "contact:carol", "messageNotDelivered")
    assert payload["contact"] == "carol" and payload["command"] == "message"
    assert payload["error"]["code"] == ErrorNumber.ERROR_NOT_FOUND.value
    assert s.child_count("post_id") == 0 and not any("post:" in t for t in s.armed_timers())


def test_a_lost_acknowledgement_times_out_after_ten_seconds() -> None:
    net, c = _net("alice/d", "bob/p")
    s = c["alice/d"].session
    net.lose_messages(lambda env: type(env.message) is ContactAck, count=1)
    _send(net, c["alice/d"], 2.0, lambda now: s.send_custom_event("bob", now, "poke"))
    net.run(until=30.0)
    poked = _emits(c["bob/p"], "contact:alice", "customEvent")
    assert poked == [{"event": "poke", "content": None}]
    [reject] = _effects(c["alice/d"], Reject)
    assert reject.code == ErrorNumber.ERROR_TIMED_OUT.value
    [payload] = _emits(c["alice/d"], "contact:bob", "messageNotDelivered")
    assert payload["event"] == "poke" and payload["command"] == "customEvent"
    [fired] = [t for t in c["alice/d"].timers if t.action == "fire" and "post:" in t.timer_id]
    assert fired.time == pytest.approx(2.0 + POST_TIMEOUT, abs=0.5)


def test_losing_the_server_fails_the_posts_in_flight() -> None:
    net, c = _net("alice/d", "bob/p")
    s = c["alice/d"].session
    net.lose_messages(lambda env: type(env.message) is ContactText, count=1)
    _send(net, c["alice/d"], 2.0, lambda now: s.send_message("bob", now, "x"))
    net.at(2.5, lambda now: net.lose_server(c["alice/d"], 1.0))
    net.run(until=30.0)
    [reject] = _effects(c["alice/d"], Reject)
    assert reject.code == ErrorNumber.ERROR_NETWORK_UNAVAILABLE.value
    assert s.child_count("post_id") == 0


# --- misuse -----------------------------------------------------------------------------------


def _connected() -> Session:
    s = Session(SessionConfig("alice"))
    s.register(0.0)
    s.connection_made(0.0)
    s.receive(wire.encode(wire.Registered("alice", "default", "sid")), 0.0)
    assert s.connected
    return s


@pytest.mark.parametrize(
    "command",
    [
        lambda s: s.send_message("bob", 1.0, ""),
        lambda s: s.send_message("bob", 1.0, 42),
        lambda s: s.send_message("", 1.0, "hi"),
        lambda s: s.send_message("bob/", 1.0, "hi"),
        lambda s: s.send_message("a/b/c", 1.0, "hi"),
        lambda s: s.send_data("bob", 1.0, [1]),
        lambda s: s.send_data("bob", 1.0, {"x": float("nan")}),
        lambda s: s.send_custom_event("bob", 1.0, ""),
        lambda s: s.send_custom_event("bob", 1.0, "ev", "not a dict"),
    ],
)
def test_bad_arguments_raise_bad_parameter_and_change_nothing(command: Any) -> None:
    s = _connected()
    before = (s.child_count("post_id"), s.armed_timers(), s._message_uuid)
    with pytest.raises(RtcError) as info:
        command(s)
    assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    assert (s.child_count("post_id"), s.armed_timers(), s._message_uuid) == before


def test_sending_while_not_connected_raises_wrong_state() -> None:
    s = Session(SessionConfig("alice"))
    with pytest.raises(RtcError) as info:
        s.send_message("bob", 0.0, "hi")
    assert info.value.code is ErrorNumber.ERROR_WRONG_STATE
    assert s.child_count("post_id") == 0 and s._message_uuid == 0


def test_a_post_without_a_sender_is_dropped_unanswered() -> None:
    s = _connected()
    fx = s.receive(wire.encode(ContactText("p1", 1, "hi")), 1.0)
    assert fx == [Drop(PostDrop.NO_SENDER, "contact_text without from")]


def test_a_received_post_is_acknowledged_to_its_sender() -> None:
    s = _connected()
    fx = s.receive(wire.encode(ContactPayload("p9", {"a": 1}), sender="bob/x"), 2.0)
    assert fx[0] == Send("bob/x", ContactAck("p9"))
    assert Emit("contact:bob", "data", {"a": 1}) in fx


# --- pairs --------------------------------------------------------------------------------------

_ARGS: dict[str, Any] = {
    t: st.builds(lambda now: ((now,), {}), st.floats(0, 1e6))
    for t in ("acked", "unreached", "refused", "timed_out", "lost")
}


def _make() -> OutgoingPost:
    return OutgoingPost("p1", "bob", PostCommand.MESSAGE, 7)


def test_every_state_trigger_pair() -> None:
    for state, trigger in pairs(OutgoingPost):
        check_pair(OutgoingPost, state, trigger, _make, args=_ARGS, max_examples=5)


def _inputs(key: object) -> st.SearchStrategy[Any]:
    if isinstance(key, enum.Enum):
        return st.just(key)
    assert isinstance(key, type)
    return st.builds(Envelope, strategy_for(key), st.none(), st.sampled_from([None, "bob/p"]))


def _deliver(post: OutgoingPost, value: Any, now: float) -> list[Effect]:
    if isinstance(value, enum.Enum):
        return post.timer_fired(value.value, now)
    return post.receive(value, now)


def test_every_state_input_pair_never_raises() -> None:
    for state, key in input_pairs(OutgoingPost):
        check_input_pair(OutgoingPost, state, key, _make, _inputs(key), _deliver, max_examples=5)


@settings(max_examples=60, deadline=None)
@given(
    first=st.sampled_from(["ack", "unreached", "refused", "timer", "lost"]),
    then=st.lists(st.sampled_from(["ack", "unreached", "refused", "timer", "lost"]), max_size=4),
)
def test_a_post_settles_exactly_once(first: str, then: list[str]) -> None:
    post = _make()
    outcomes: list[Effect] = []
    for step in [first, *then]:
        if step == "ack":
            fx = post.receive(Envelope(ContactAck("p1"), None, "bob/p"), 1.0)
        elif step == "unreached":
            fx = post.receive(Envelope(wire.UserNotFound("p1", "bob")), 1.0)
        elif step == "refused":
            named = {"type": "contact_text", "post_id": "p1"}
            fx = post.receive(Envelope(wire.ServerError("rate_limited", "", named)), 1.0)
        elif step == "timer":
            fx = post.timer_fired(PostTimer.TIMEOUT.value, 1.0)
        else:
            fx = post.on_disconnected(1.0)
        outcomes.extend(e for e in fx if isinstance(e, Resolve | Reject))
    assert len(outcomes) == 1
    assert post.ended and post.state is not PostState.SENT
    assert isinstance(outcomes[0], Resolve) == (first == "ack")
    assert spec_of(post).allowed(post.state, "acked") is False


# --- the relay (sans-I/O hub) -------------------------------------------------------------------


def _nolog(fx: list[HubEffect]) -> list[HubEffect]:
    return [e for e in fx if not isinstance(e, Log)]


def _verifier(register: wire.Register, now: float) -> Identity | Refusal:
    user, _, tenant = (register.token or register.user).partition(":")
    return Identity(user, tenant or "default", verified=True)


def _online(hub: Hub, *who: str) -> dict[str, str]:
    conns = {}
    for spec in who:
        address, _, tenant = spec.partition("@")
        user, _, device = address.partition("/")
        conn = f"c-{spec}"
        hub.connect(conn, 0.0)
        token = f"{user}:{tenant}" if tenant else None
        hub.receive_envelope(conn, Envelope(wire.Register(user, device, token)), 0.0)
        conns[spec] = conn
    return conns


def _to(fx: list[HubEffect], conn: str) -> list[Envelope]:
    return [e.envelope for e in fx if isinstance(e, Deliver) and e.conn == conn]


def test_the_relay_restamps_a_spoofed_sender_of_a_post() -> None:
    hub = Hub(verifier=_verifier)
    c = _online(hub, "alice/d", "bob/p")
    data = wire.encode(ContactText("p1", 1, "hi"), to="bob", sender="mallory/x")
    fx = _nolog(hub.receive(c["alice/d"], data, 0.0))
    assert _to(fx, c["bob/p"]) == [Envelope(ContactText("p1", 1, "hi"), "bob", "alice/d")]


def test_a_post_to_another_tenant_is_answered_user_not_found_and_goes_nowhere() -> None:
    hub = Hub(verifier=_verifier)
    c = _online(hub, "alice/d@acme", "mallory/m@evil")
    for msg in (ContactText("p1", 1, "hi"), ContactPayload("p2", {}), ContactEvent("p3", "e")):
        fx = _nolog(hub.receive_envelope(c["mallory/m@evil"], Envelope(msg, "alice"), 0.0))
        post_id = msg.post_id  # type: ignore[attr-defined]
        assert _to(fx, c["mallory/m@evil"]) == [Envelope(wire.UserNotFound(post_id, "alice"))]
        assert _to(fx, c["alice/d@acme"]) == []


def test_the_rate_limit_holds_for_posts() -> None:
    hub = Hub(rate_limit=10.0, rate_burst=5.0, identity_rate_limit=None, source_rate_limit=None)
    c = _online(hub, "alice/d", "bob/p")
    delivered = refused = 0
    for i in range(40):
        data = wire.encode(ContactText(f"p{i}", i, "x"), to="bob")
        fx = _nolog(hub.receive(c["alice/d"], data, 0.0))
        delivered += len(_to(fx, c["bob/p"]))
        refused += sum(
            type(e.message) is wire.ServerError and e.message.code == "rate_limited"
            for e in _to(fx, c["alice/d"])
        )
    # the burst, then refusals (max_strikes of them in a row close the connection)
    assert delivered <= 5 + 1 and refused == hub.max_strikes


def test_a_post_refused_for_its_rate_is_named_in_the_refusal() -> None:
    """Over the rate limit a frame is refused before it is routed; the refusal names the post
    (its type and ``post_id``) so that its sender settles it at once. A frame without a route
    id, or that does not decode, is refused unnamed."""
    hub = Hub(rate_limit=1.0, rate_burst=1.0, identity_rate_limit=None, source_rate_limit=None)
    c = _online(hub, "alice/d", "bob/p")
    frames = [
        wire.encode(ContactText("p0", 0, "x"), to="bob"),  # the burst: routed
        wire.encode(ContactText("p1", 1, "x"), to="bob"),
        wire.encode(ContactEvent("p2", "poke"), to="bob/p"),
        wire.encode(wire.ContactMessage(3, "x"), to="bob"),
        b"{not json",
    ]
    refusals = []
    for data in frames:
        fx = _nolog(hub.receive(c["alice/d"], data, 0.0))
        refusals += [e.message for e in _to(fx, c["alice/d"])]
    assert [type(r) for r in refusals] == [wire.ServerError] * 4
    assert all(isinstance(r, wire.ServerError) and r.code == "rate_limited" for r in refusals)
    assert [getattr(r, "refused", None) for r in refusals] == [
        {"type": "contact_text", "post_id": "p1"},
        {"type": "contact_event", "post_id": "p2"},
        None,
        None,
    ]


def test_a_post_the_relay_refuses_is_not_delivered_at_once() -> None:
    """The session's frames through the hub's bytes path: the second post is over the rate
    limit; its refusal settles it at once (not at its 10 s timeout): Reject 0 ERROR_OTHER
    (apiRTC's delivery callback maps nothing else), ``messageNotDelivered``, timer cancelled;
    the first post still waits for its acknowledgement."""
    hub = Hub(rate_limit=1.0, rate_burst=1.0, identity_rate_limit=None, source_rate_limit=None)
    conn = _online(hub, "alice/default", "bob/p")["alice/default"]
    s = _connected()
    replies: list[bytes] = []
    for text in ("first", "second"):
        _, fx = s.send_message("bob", 1.0, text)
        [send] = [e for e in fx if isinstance(e, Send)]
        out = hub.receive(conn, wire.encode(send.message, to=send.to), 1.0)
        replies += [wire.encode_envelope(e.envelope) for e in _nolog(out) if e.conn == conn]
    [refusal] = replies
    fx = s.receive(refusal, 1.5)
    [reject] = [e for e in fx if isinstance(e, Reject)]
    assert (reject.target, reject.command, reject.code) == (
        "contact:bob",
        "message",
        ErrorNumber.ERROR_OTHER.value,
    )
    assert "rate_limited" in reject.info
    [payload] = [e.payload for e in fx if isinstance(e, Emit) and e.event == "messageNotDelivered"]
    assert payload["error"]["code"] == ErrorNumber.ERROR_OTHER.value and payload["contact"] == "bob"
    assert any(isinstance(e, Emit) and e.event == "error" for e in fx)  # the session's, as before
    assert s.child_count("post_id") == 1  # the first one, still waiting
    assert len([t for t in s.armed_timers() if t.startswith("post:")]) == 1
    # a refusal naming a post this session does not hold changes nothing
    stray = wire.ServerError("rate_limited", "x", {"type": "contact_text", "post_id": "zz"})
    fx = s.receive(wire.encode(stray), 2.0)
    assert not [e for e in fx if isinstance(e, Reject)] and s.child_count("post_id") == 1


def test_a_client_cannot_send_a_user_data_update_to_another() -> None:
    hub = Hub()
    c = _online(hub, "alice/d", "bob/p")
    forged = Envelope(UserDataUpdate("bob", {"fake": 1}), "bob")
    fx = _nolog(hub.receive_envelope(c["alice/d"], forged, 0.0))
    assert _to(fx, c["bob/p"]) == []
    [answer] = _to(fx, c["alice/d"])
    assert type(answer.message) is wire.ServerError and answer.message.code == "forbidden"


def test_user_data_is_told_to_who_hears_the_user_and_to_newcomers() -> None:
    hub = Hub(verifier=_verifier)
    c = _online(hub, "alice/d", "bob/p", "eve/e@other")
    fx = _nolog(hub.receive_envelope(c["alice/d"], Envelope(UserDataSet({"mood": "ok"})), 0.0))
    told = Envelope(UserDataUpdate("alice", {"mood": "ok"}))
    assert _to(fx, c["bob/p"]) == [told]
    assert _to(fx, c["alice/d"]) == [] and _to(fx, c["eve/e@other"]) == []
    # the same data again tells nobody
    again = _nolog(hub.receive_envelope(c["alice/d"], Envelope(UserDataSet({"mood": "ok"})), 0.0))
    assert again == []
    # a newcomer hears it with the presence listing alice
    hub.connect("c-carol", 1.0)
    fx = _nolog(hub.receive_envelope("c-carol", Envelope(wire.Register("carol", "c")), 1.0))
    assert told in _to(fx, "c-carol")
    # alice's last device leaves: her data goes
    hub.disconnect(c["alice/d"], 2.0)
    assert hub._user_data.users("default") == 0


def test_oversized_user_data_is_refused_with_a_typed_answer_and_changes_nothing() -> None:
    hub = Hub(max_user_data=256)
    c = _online(hub, "alice/d", "bob/p")
    fx = _nolog(hub.receive_envelope(c["alice/d"], Envelope(UserDataSet({"x": "y" * 300})), 0.0))
    [answer] = _to(fx, c["alice/d"])
    assert answer.message == wire.ServerError(
        "oversize",
        answer.message.info,
        {"type": "user_data_set"},  # type: ignore[attr-defined]
    )
    assert _to(fx, c["bob/p"]) == [] and hub._user_data.users("default") == 0


# --- user data on the session -------------------------------------------------------------------


def test_user_data_is_seen_by_contacts_and_resent_after_reconnection() -> None:
    net, c = _net("alice/d", "bob/p")
    alice, bob = c["alice/d"], c["bob/p"]
    net.command(alice, 2.0, lambda now: alice.session.set_user_data(now, {"nick": "Al"}))
    net.run(until=5.0)
    assert bob.session.contact_user_data("alice") == {"nick": "Al"}
    assert alice.session.user_data == {"nick": "Al"}
    updates = _emits(bob, "session", "contactListUpdate")
    assert {"joinedGroup": {}, "leftGroup": {}, "userDataChanged": ["alice"]} in updates
    # carol registers later and sees it too
    carol = net.add_client(SessionConfig("carol", device="c"), register_at=6.0)
    net.run(until=8.0)
    assert carol.session.contact_user_data("alice") == {"nick": "Al"}
    # alice's session sends it again after a new registration
    sent_before = sum(type(m) is UserDataSet for m in alice.sent())
    net.at(9.0, lambda now: net.lose_server(alice, 2.0))
    net.run(until=40.0)
    assert alice.session.connected
    assert sum(type(m) is UserDataSet for m in alice.sent()) == sent_before + 1


def test_user_data_before_registration_is_kept_and_sent_once_registered() -> None:
    s = Session(SessionConfig("alice"))
    assert s.set_user_data(0.0, {"a": 1}) == []
    s.register(0.0)
    s.connection_made(0.0)
    fx = s.receive(wire.encode(wire.Registered("alice", "default", "sid")), 0.0)
    assert Send(None, UserDataSet({"a": 1})) in fx


def test_bad_user_data_raises_and_changes_nothing() -> None:
    s = _connected()
    s.set_user_data(0.0, {"a": 1})
    for bad in ([1], {"x": float("inf")}, {1: "x"}):
        with pytest.raises(RtcError) as info:
            s.set_user_data(0.0, bad)  # type: ignore[arg-type]
        assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    assert s.user_data == {"a": 1}


def test_a_refused_user_data_is_not_sent_again() -> None:
    s = _connected()
    s.set_user_data(0.0, {"x": "big"})
    refusal = wire.ServerError("oversize", "too big", {"type": "user_data_set"})
    fx = s.receive(wire.encode(refusal), 1.0)
    assert any(isinstance(e, Emit) and e.event == "error" for e in fx)
    assert s.user_data is None


def test_a_user_data_update_from_a_peer_is_dropped_as_forged() -> None:
    s = _connected()
    fx = s.receive(wire.encode(UserDataUpdate("bob", {"a": 1}), sender="bob/p"), 1.0)
    assert [type(e) for e in fx] == [Drop] and s.contact_user_data("bob") is None
