"""Hub security rules, sans-I/O: who may register what, tenants, scoped presence, every limit
(per connection, identity and source), timeouts, refusals (typed, logged, nothing changed), and
the client session's handling of a final refusal."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.codes import CallType, ErrorCode, HangupReason
from rtcstate.drops import catalogue
from rtcstate.effects import Emit, OpenTransport, Send, StartTimer
from rtcstate.hub import (
    CloseCode,
    CloseConnection,
    ConnState,
    Deliver,
    Hub,
    HubDrop,
    HubEffect,
    Identity,
    Log,
    Refusal,
)
from rtcstate.hub.presence import batches
from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.wire import Envelope, ServerErrorCode

Code = ServerErrorCode


def reg(
    hub: Hub, conn: str, user: str, device: str = "d", now: float = 0.0, **kw: Any
) -> list[HubEffect]:
    if hub.state(conn) is None:
        hub.connect(conn, now, kw.pop("source", None))
    frame = wire.encode(wire.Register(user, device, **kw))
    return hub.receive(conn, frame, now)


def send(
    hub: Hub, conn: str, msg: wire.Message, to: str | None = None, now: float = 0.0
) -> list[HubEffect]:
    return hub.receive(conn, wire.encode(msg, to=to), now)


def codes(fx: list[HubEffect], conn: str | None = None) -> list[str]:
    return [
        e.envelope.message.code
        for e in fx
        if isinstance(e, Deliver)
        and isinstance(e.envelope.message, wire.ServerError)
        and (conn is None or e.conn == conn)
    ]


def closes(fx: list[HubEffect]) -> list[tuple[str, int]]:
    return [(e.conn, e.code) for e in fx if isinstance(e, CloseConnection)]


def messages(fx: list[HubEffect], conn: str) -> list[wire.Message]:
    return [e.envelope.message for e in fx if isinstance(e, Deliver) and e.conn == conn]


def logs(fx: list[HubEffect]) -> list[Log]:
    return [e for e in fx if isinstance(e, Log)]


def token_verifier(register: wire.Register, now: float) -> Identity | Refusal:
    """A verifier reading tokens of the form ``user[:tenant[:dev1,dev2[:expires]]]``."""
    if not register.token:
        return Refusal(Code.AUTH_REQUIRED, "a token is required")
    if register.token == "bad":
        return Refusal(Code.TOKEN_INVALID, "bad signature")
    user, _, rest = register.token.partition(":")
    tenant, _, rest = rest.partition(":")
    devices, _, expires = rest.partition(":")
    return Identity(
        user,
        tenant or "default",
        tuple(devices.split(",")) if devices else None,
        expires=float(expires) if expires else None,
        verified=True,
    )


# --- authentication and ownership ---------------------------------------------------------------


def test_a_refused_token_is_answered_closed_logged_and_changes_nothing() -> None:
    hub = Hub(verifier=token_verifier)
    for token, code in ((None, Code.AUTH_REQUIRED), ("bad", Code.TOKEN_INVALID),
                        ("mallory", Code.TOKEN_WRONG_USER)):  # fmt: skip
        conn = f"c-{token}"
        fx = reg(hub, conn, "bob", token=token)
        assert codes(fx) == [code.value]
        assert closes(fx) == [(conn, CloseCode.AUTH_FAILED)]
        assert hub.address(conn) is None and hub.state(conn) is ConnState.CLOSING
        assert any(
            log.event == "closing" and ("code", code.value) in log.fields for log in logs(fx)
        )
        # whatever it sends next is dropped, unanswered
        later = send(hub, conn, wire.Ping(1))
        assert later == [later[0]] and later[0].reason == HubDrop.CLOSING  # type: ignore[union-attr]
    assert hub.devices("bob") == ()
    words = [m.info for m in messages(reg(hub, "w", "bob", token="eve"), "w")]  # type: ignore[attr-defined]
    assert words == ["token for another user (eve)"]


def test_the_token_decides_the_devices_and_the_tenant() -> None:
    hub = Hub(verifier=token_verifier)
    fx = reg(hub, "c1", "bob", "phone", token="bob::laptop,tablet")
    assert codes(fx) == ["device_not_allowed"] and closes(fx) == [("c1", CloseCode.AUTH_FAILED)]
    fx = reg(hub, "c2", "bob", "laptop", token="bob::laptop,tablet")
    assert isinstance(messages(fx, "c2")[0], wire.Registered)
    assert hub.identity("c2") == Identity("bob", "default", ("laptop", "tablet"), verified=True)


def test_only_the_same_identity_takes_an_address_over_and_the_old_one_hears_conflict() -> None:
    def mixed(register: wire.Register, now: float) -> Identity:
        return Identity(register.user, verified=register.token == "real")

    hub = Hub(verifier=mixed)
    reg(hub, "bob1", "bob", token="real")
    reg(hub, "alice", "alice")
    # an unverified claim of bob's address is refused; bob keeps it, nothing else changes
    fx = reg(hub, "evil", "bob", token="forged")
    assert codes(fx) == ["address_taken"] and closes(fx) == []
    assert hub.address("bob1") == "bob/d" and hub.address("evil") is None
    assert [e for e in fx if isinstance(e, Deliver) and e.conn != "evil"] == []
    # bob again (a reconnection, or a second agent with the same name): the older connection
    # is told why, with a final code, and closed with the conflict close code
    fx = reg(hub, "bob2", "bob", token="real")
    assert messages(fx, "bob1") == [
        wire.ServerError("conflict", "bob/d registered on another connection")
    ]
    assert closes(fx) == [("bob1", CloseCode.CONFLICT)]
    assert hub.address("bob2") == "bob/d"
    assert "conflict" in wire.FINAL_ERROR_CODES
    # the old connection's report changes nothing
    assert [e for e in hub.disconnect("bob1", 1.0) if not isinstance(e, Log)] == []
    assert hub.devices("bob") == ("bob/d",)


def test_device_count_and_name_limits() -> None:
    hub = Hub(max_devices=2, max_name_length=8)
    reg(hub, "a", "bob", "d1")
    reg(hub, "b", "bob", "d2")
    fx = reg(hub, "c", "bob", "d3")
    assert codes(fx) == ["too_many_devices"] and hub.address("c") is None
    assert hub.devices("bob") == ("bob/d1", "bob/d2")
    assert codes(reg(hub, "a", "bob", "d1")) == []  # its own address again: fine
    assert codes(reg(hub, "e", "x" * 9)) == ["name_too_long"]
    assert codes(reg(hub, "e", "bob", "é" * 5)) == ["name_too_long"]  # bytes, not characters
    for bad in ('a"b', "a\\b", "a\nb", "a\x7fb"):
        assert codes(reg(hub, "e", bad)) == ["invalid_register"]
    assert hub.address("e") is None


def test_presence_never_exceeds_the_client_frame_limit() -> None:
    try:
        Hub(max_devices=500, max_name_length=64)
    except ValueError as exc:
        assert "client_frame_limit" in str(exc)
    else:
        raise AssertionError("a presence larger than a client's frame was allowed")
    worst = Hub(max_devices=8, max_name_length=64)
    for i in range(8):
        reg(worst, f"c{i}", "u" * 64, f"{i}" * 64)
    fx = reg(worst, "w", "w")
    biggest = max(len(wire.encode_envelope(e.envelope)) for e in fx if isinstance(e, Deliver))
    assert biggest <= worst.client_frame_limit


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FFF), min_size=1,
                        max_size=40), max_size=400), st.integers(200, 5000))  # fmt: skip
def test_batches_stay_within_the_limit_and_keep_everything(names: list[str], limit: int) -> None:
    names = [n.replace('"', "").replace("\\", "") or "x" for n in names]
    out = list(batches(names, limit))
    assert [a for b in out for a in b] == names
    for batch in out:
        assert batch
        assert len(wire.encode(wire.PresenceBatch(batch))) <= limit or len(batch) == 1


# --- tenants ------------------------------------------------------------------------------------


def test_tenants_never_see_or_reach_each_other() -> None:
    hub = Hub(verifier=token_verifier)
    reg(hub, "a1", "alice", token="alice:acme")
    fx = reg(hub, "b1", "bob", token="bob:acme")
    assert wire.PresenceBatch(["alice/d"]) in messages(fx, "b1")
    fx = reg(hub, "m1", "mallory", token="mallory:evil")
    assert messages(fx, "m1")[1:] == []  # no presence of acme users
    assert messages(fx, "a1") == messages(fx, "b1") == []
    fx = send(hub, "m1", wire.ContactMessage(1, "hi"), to="alice")
    assert codes(fx) == ["user_not_found"] and messages(fx, "a1") == []
    fx = send(hub, "m1", wire.Invite("m-1", CallType.MEDIA, "o"), to="alice/d")
    assert messages(fx, "m1") == [wire.UserNotFound("m-1", "alice/d")]
    # the same name in another tenant is another address
    fx = reg(hub, "b2", "bob", token="bob:evil")
    assert isinstance(messages(fx, "b2")[0], wire.Registered)
    assert hub.devices("bob", "acme") == ("bob/d",) and hub.devices("bob", "evil") == ("bob/d",)
    fx = send(hub, "b2", wire.ContactMessage(1, "hi"), to="alice/d")
    assert codes(fx) == ["user_not_found"] and messages(fx, "a1") == []


# --- scoped presence ----------------------------------------------------------------------------


def test_without_a_default_group_clients_hear_only_their_contacts_and_groups() -> None:
    hub = Hub(presence_group=None)
    for user in ("alice", "bob", "carol", "dave"):
        assert [m for m in messages(reg(hub, user, user), user)
                if not isinstance(m, wire.Registered)] == []  # fmt: skip
    fx = send(hub, "alice", wire.PresenceSubscribe(["bob", "nobody"], ["team"]))
    assert messages(fx, "alice") == [wire.PresenceBatch(["bob/d"])]
    fx = send(hub, "carol", wire.PresenceGroups(["team"], []))
    assert messages(fx, "alice") == [wire.Presence("carol", True, ["carol/d"])]
    assert messages(fx, "bob") == messages(fx, "dave") == []
    # dave's comings and goings reach nobody; bob's reach alice only
    assert [e for e in hub.disconnect("dave", 1.0) if isinstance(e, Deliver)] == []
    fx = hub.disconnect("bob", 1.0)
    assert [e.conn for e in fx if isinstance(e, Deliver)] == ["alice"]
    fx = send(hub, "carol", wire.PresenceGroups([], ["team"]))
    assert messages(fx, "alice") == [wire.Presence("carol", False, [])]
    fx = send(hub, "alice", wire.PresenceUnsubscribe([], ["team"]))
    assert fx == []
    assert [
        e for e in send(hub, "carol", wire.PresenceGroups(["team"], [])) if isinstance(e, Deliver)
    ] == []


def test_subscription_and_group_limits() -> None:
    hub = Hub(presence_group=None, max_subscriptions=3, max_groups=1)
    reg(hub, "a", "alice")
    assert codes(send(hub, "a", wire.PresenceSubscribe(["b", "c", "d", "e"], []))) == [
        "too_many_subscriptions"
    ]
    assert codes(send(hub, "a", wire.PresenceSubscribe(["b", "c", "d"], []))) == []
    assert codes(send(hub, "a", wire.PresenceSubscribe([], ["g"]))) == ["too_many_subscriptions"]
    assert codes(send(hub, "a", wire.PresenceGroups(["g1", "g2"], []))) == [
        "too_many_subscriptions"
    ]
    assert codes(send(hub, "a", wire.PresenceGroups(["g1"], []))) == []
    assert codes(send(hub, "a", wire.PresenceSubscribe(["x" * 65], []))) == ["name_too_long"]
    # presence messages are for the relay to send
    assert codes(send(hub, "a", wire.PresenceBatch(["x/y"]), to="bob")) == ["forbidden"]


def test_a_newcomer_costs_the_same_with_10_or_2000_users_online() -> None:
    def effects_of_newcomer(n: int) -> int:
        hub = Hub(presence_group=None)
        for i in range(n):
            reg(hub, f"c{i}", f"u{i}")
            send(hub, f"c{i}", wire.PresenceSubscribe([f"u{(i + 1) % n}"], [f"g{i % 50}"]))
            send(hub, f"c{i}", wire.PresenceGroups([f"g{i % 50}"], []))
        fx = reg(hub, "new", "newcomer")
        fx += send(hub, "new", wire.PresenceSubscribe(["u1", "u2", "u3"], []))
        return len(fx)

    assert effects_of_newcomer(10) == effects_of_newcomer(2000)


# --- limits across connections ------------------------------------------------------------------


def test_the_identity_rate_survives_reconnections() -> None:
    hub = Hub(rate_limit=1000.0, rate_burst=1000.0, identity_rate_limit=10.0,
              identity_rate_burst=5.0, register_burst=100.0, max_strikes=1000)  # fmt: skip
    reg(hub, "v", "victim")
    passed = 0
    for i in range(20):  # a flooder that reconnects after every refusal
        conn = f"f{i}"
        reg(hub, conn, "flooder")
        for _ in range(10):
            fx = send(hub, conn, wire.ContactMessage(1, "spam"), to="victim")
            if messages(fx, "v"):
                passed += 1
            elif "rate_limited" in codes(fx):
                hub.disconnect(conn, 0.0)
                break
    assert passed == 5  # the burst, once: reconnecting refills nothing


def test_registration_rate_per_identity_and_connections_per_source() -> None:
    hub = Hub(register_rate=1.0, register_burst=2.0, max_connections_per_source=3,
              connect_rate=100.0, connect_burst=100.0)  # fmt: skip
    assert codes(reg(hub, "a", "bob", "d1", source="10.0.0.1")) == []
    assert codes(reg(hub, "b", "bob", "d2", source="10.0.0.1")) == []
    fx = reg(hub, "c", "bob", "d3", source="10.0.0.1")
    assert codes(fx) == ["reconnecting_too_fast"] and closes(fx) == [
        ("c", CloseCode.TRY_AGAIN_LATER)
    ]
    assert codes(reg(hub, "c2", "bob", "d3", now=1.0, source="10.0.0.2")) == []  # refilled
    # a fourth connection from 10.0.0.1 (c is still open until its disconnect is reported)
    fx = hub.connect("d", 1.0, "10.0.0.1")
    assert codes(fx) == ["too_many_connections"] and closes(fx) == [
        ("d", CloseCode.TRY_AGAIN_LATER)
    ]
    hub.disconnect("d", 1.0)
    hub.disconnect("c", 1.0)
    assert hub.connect("e", 1.0, "10.0.0.1") == []  # counts are exact after disconnects
    assert hub.connect("f", 1.0, "10.0.0.9") == []  # other sources are not affected


def test_connection_rate_per_source() -> None:
    hub = Hub(connect_rate=1.0, connect_burst=3.0)
    for i in range(3):
        assert hub.connect(f"c{i}", 0.0, "10.0.0.1") == []
    assert codes(hub.connect("c3", 0.0, "10.0.0.1")) == ["reconnecting_too_fast"]
    assert hub.connect("c4", 1.0, "10.0.0.1") == []


def test_source_rate_is_shared_by_every_connection_of_an_address() -> None:
    hub = Hub(source_rate_limit=1.0, source_rate_burst=4.0)
    for i in range(4):
        reg(hub, f"c{i}", f"u{i}", source="10.0.0.1")  # 4 registrations: the burst is spent
    fx = send(hub, "c0", wire.Ping(1))
    assert codes(fx) == ["rate_limited"] and "10.0.0.1" in fx[0].envelope.message.info  # type: ignore[union-attr]
    reg(hub, "other", "x", source="10.0.0.2")
    assert messages(send(hub, "other", wire.Ping(1)), "other") == [wire.Pong(1)]


def test_registration_and_idle_timeouts_and_token_expiry() -> None:
    hub = Hub(register_timeout=5.0, idle_timeout=30.0, verifier=token_verifier)
    hub.connect("lurker", 0.0, "10.0.0.1")
    reg(hub, "bob", "bob", token="bob:::100")
    reg(hub, "alice", "alice", token="alice")
    assert hub.next_deadline() == 5.0
    assert hub.tick(4.9) == []
    fx = hub.tick(5.0)
    assert codes(fx) == ["register_timeout"] and closes(fx) == [
        ("lurker", CloseCode.TRY_AGAIN_LATER)
    ]
    send(hub, "alice", wire.Ping(1), now=25.0)  # alice speaks, bob does not
    fx = hub.tick(30.0)
    assert codes(fx, "bob") == ["idle_timeout"] and codes(fx, "alice") == []
    assert hub.address("bob") is None
    reg(hub, "bob2", "bob", token="bob:::100", now=31.0)
    send(hub, "bob2", wire.Ping(1), now=99.0)
    fx = send(hub, "bob2", wire.Ping(2), now=100.0)
    assert codes(fx) == ["token_expired"] and closes(fx) == [("bob2", CloseCode.AUTH_FAILED)]
    reg(hub, "carol", "carol", token="carol:::200", now=100.0)
    send(hub, "carol", wire.Ping(1), now=190.0)
    fx = hub.tick(200.0)
    assert codes(fx, "carol") == ["token_expired"]
    fx = reg(hub, "late", "dave", token="dave:::50", now=100.0)
    assert codes(fx) == ["token_expired"]


def test_a_slow_consumer_is_closed_past_the_queue_bytes() -> None:
    hub = Hub(max_queue_bytes=1000)
    reg(hub, "a", "alice")
    assert hub.queued("a", 1000, 0.0) == []
    fx = hub.queued("a", 1001, 0.0)
    assert closes(fx) == [("a", CloseCode.POLICY)] and codes(fx) == []
    assert any(("code", "slow_consumer") in log.fields for log in logs(fx))
    assert hub.queued("a", 5000, 0.0) == []  # once


def test_ringing_calls_per_device_are_capped_with_busy() -> None:
    hub = Hub(max_ringing=3, ring_timeout=60.0)
    reg(hub, "bob", "bob")
    reg(hub, "eve", "eve")
    busy = HangupReason.USER_BUSY.value
    for i in range(3):
        fx = send(hub, "eve", wire.Invite(f"c{i}", CallType.MEDIA, "o"), to="bob")
        assert [type(m) for m in messages(fx, "bob")] == [wire.Invite]
    send(hub, "eve", wire.Invite("c0", CallType.MEDIA, "o"), to="bob")  # a retransmission
    fx = send(hub, "eve", wire.Invite("c3", CallType.MEDIA, "o"), to="bob/d")
    assert messages(fx, "bob") == []
    assert [e.envelope for e in fx if isinstance(e, Deliver)] == [
        Envelope(wire.Bye("c3", busy), "eve/d", "bob/d")
    ]
    send(hub, "bob", wire.Bye("c1", "User_Refused_Call"), to="eve/d")  # one ends
    fx = send(hub, "eve", wire.Invite("c4", CallType.MEDIA, "o"), to="bob/d")
    assert [type(m) for m in messages(fx, "bob")] == [wire.Invite]
    fx = send(hub, "eve", wire.Invite("c5", CallType.MEDIA, "o"), to="bob/d", now=61.0)
    assert [type(m) for m in messages(fx, "bob")] == [wire.Invite]  # the old ones timed out


def test_counters_are_forgotten_once_they_no_longer_matter() -> None:
    hub = Hub()
    for i in range(500):
        reg(hub, f"c{i}", f"u{i}", source=f"10.0.{i // 250}.{i % 250}")
        send(hub, f"c{i}", wire.Ping(1))
        hub.disconnect(f"c{i}", 0.0)
    assert hub.held_state()["connections"] == 0 and hub.held_state()["sources"] == 0
    hub.tick(1000.0)
    held = hub.held_state()
    assert held["identity_buckets"] == held["source_buckets"] == held["deadlines"] == 0
    assert held["spaces"] == 0


def test_log_lines_are_one_line_key_values() -> None:
    line = Log("refused", "ws1", (("code", "x"), ("reason", "a b=c"), ("none", None))).line()
    assert line == "event=refused conn=ws1 code=x reason='a b=c' none=None"
    assert "\n" not in Log("x", "c", (("r", "a\nb"),)).line()


def test_hub_drop_reasons_are_catalogued() -> None:
    assert HubDrop in catalogue()
    assert HubDrop.CLOSING == "closing"


# --- the client session -------------------------------------------------------------------------


def registering() -> tuple[Session, list[Any]]:
    s = Session(SessionConfig("bob", token="t", keepalive_interval=None))
    s.register(0.0)
    fx = s.connection_made(0.0)
    assert [e.message for e in fx if isinstance(e, Send)] == [wire.Register("bob", "default", "t")]
    return s, fx


def test_a_refused_token_fails_the_session_with_the_reason_and_no_retry() -> None:
    s, _ = registering()
    fx = s.receive(wire.encode(wire.ServerError("token_expired", "expired token")), 1.0)
    assert s.state is SessionState.FAILED
    errors = [e.payload for e in fx if isinstance(e, Emit) and e.event == "error"]
    assert errors[0]["errorCode"] == ErrorCode.SERVER_CONNECTION_FAILED.value
    assert errors[0]["descriptor"]["code"] == "token_expired"
    assert errors[0]["descriptor"]["reason"] == "expired token"
    assert not any(isinstance(e, StartTimer | OpenTransport) for e in fx)


def test_a_conflict_ends_a_connected_session_for_good() -> None:
    s, _ = registering()
    s.receive(wire.encode(wire.Registered("bob", "default", "s1")), 0.0)
    s.receive(wire.encode(wire.PresenceBatch(["alice/a", "alice/b", "carol/c"])), 0.0)
    assert s.contacts == {"alice": ("alice/a", "alice/b"), "carol": ("carol/c",)}
    fx = s.receive(
        wire.encode(wire.ServerError("conflict", "bob/default registered on another connection")),
        2.0,
    )
    assert s.state is SessionState.FAILED
    events = [e.event for e in fx if isinstance(e, Emit)]
    assert "disconnect" in events and "error" in events
    assert not any(isinstance(e, StartTimer | OpenTransport) for e in fx)


def test_a_passing_refusal_does_not_end_the_session() -> None:
    s, _ = registering()
    fx = s.receive(wire.encode(wire.ServerError("rate_limited", "over")), 1.0)
    assert s.state is SessionState.REGISTERING and fx[0].reason == "not-connected"  # type: ignore[union-attr]
    s.receive(wire.encode(wire.Registered("bob", "default", "s1")), 0.0)
    fx = s.receive(wire.encode(wire.ServerError("rate_limited", "over")), 1.0)
    assert s.state is SessionState.CONNECTED
    assert fx[0].payload["descriptor"]["code"] == "rate_limited"  # type: ignore[union-attr]


def test_a_failed_connection_keeps_its_cause() -> None:
    s = Session(SessionConfig("bob"))
    s.register(0.0)
    fx = s.connection_failed(0.0, "ConnectionRefusedError: [Errno 111]")
    error = next(e.payload for e in fx if isinstance(e, Emit) and e.event == "error")
    assert error["descriptor"]["cause"] == "ConnectionRefusedError: [Errno 111]"
