"""Token revocation in the sans-I/O hub (attacker's tests): a revoked token cannot register, a
live connection holding one is cut with a final close, honest users are unaffected."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_hub_security import closes, codes, messages, reg, send

from rtcstate import wire
from rtcstate.effects import Emit, StartTimer
from rtcstate.hub import CloseCode, ConnState, Hub, Identity, Refusal, Revocations
from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.wire import ServerErrorCode

Code = ServerErrorCode


def jti_verifier(register: wire.Register, now: float) -> Identity | Refusal:
    """Tokens ``user:jti``: a verified identity whose token id is ``jti``."""
    if not register.token:
        return Refusal(Code.AUTH_REQUIRED, "a token is required")
    user, _, jti = register.token.partition(":")
    return Identity(user, verified=True, token_id=jti or None)


def test_a_revoked_token_cannot_register_and_the_close_is_final() -> None:
    hub = Hub(verifier=jti_verifier, revocations=Revocations(frozenset({"t-stolen"})))
    fx = reg(hub, "mallory", "bob", token="bob:t-stolen")
    assert codes(fx) == [Code.TOKEN_REVOKED.value]
    assert closes(fx) == [("mallory", CloseCode.REVOKED)]
    assert hub.devices("bob") == () and hub.state("mallory") is ConnState.CLOSING
    assert Code.TOKEN_REVOKED in wire.FINAL_ERROR_CODES
    # the same user with another token is unaffected
    fx = reg(hub, "bob", "bob", token="bob:t-new")
    assert isinstance(messages(fx, "bob")[0], wire.Registered)


def test_revoking_cuts_live_connections_only_those_and_registration_stays_refused() -> None:
    hub = Hub(verifier=jti_verifier)
    for conn, user, jti in (("a", "alice", "ja"), ("b1", "bob", "jb1"), ("b2", "bob", "jb2"),
                            ("c", "carol", "jc")):  # fmt: skip
        reg(hub, conn, user, device=conn, token=f"{user}:{jti}")
    assert hub.revoke(Revocations(), 1.0) == []  # nothing revoked: nothing happens
    fx = hub.revoke(Revocations(frozenset({"ja"}), frozenset({"bob"})), 1.0)
    assert sorted(closes(fx)) == [("a", CloseCode.REVOKED), ("b1", CloseCode.REVOKED),
                                  ("b2", CloseCode.REVOKED)]  # fmt: skip
    assert codes(fx, "a") == ["token_revoked"] and codes(fx, "b2") == ["token_revoked"]
    words = {m.info for m in messages(fx, "a") if isinstance(m, wire.ServerError)}
    assert words == {"token revoked"}
    assert hub.devices("alice") == () and hub.devices("bob") == ()
    # carol is unaffected: registered, heard (alice and bob's departures), still routing
    assert hub.address("c") == "carol/c"
    assert send(hub, "c", wire.Ping(1), now=1.0)[0].envelope.message == wire.Pong(1)  # type: ignore[union-attr]
    # bob cannot come back with any token while his user is revoked
    fx = reg(hub, "b3", "bob", device="b3", token="bob:jb3", now=2.0)
    assert closes(fx) == [("b3", CloseCode.REVOKED)]
    # lifting the revocation lets him in again
    hub.revoke(Revocations(), 3.0)
    fx = reg(hub, "b4", "bob", device="b4", token="bob:jb4", now=3.0)
    assert isinstance(messages(fx, "b4")[0], wire.Registered)


def test_an_unverified_name_is_not_a_token_and_is_never_revoked() -> None:
    hub = Hub(revocations=Revocations(users=frozenset({"bob"})))
    fx = reg(hub, "b", "bob")
    assert isinstance(messages(fx, "b")[0], wire.Registered)


def test_the_client_treats_a_revocation_as_final_with_the_cause_in_the_error() -> None:
    session = Session(SessionConfig("bob", token="t", keepalive_interval=None))
    session.register(0.0)
    session.connection_made(0.0)
    session.receive(wire.encode(wire.Registered("bob", "default", "s1")), 0.0)
    assert session.state is SessionState.CONNECTED
    fx = session.receive(wire.encode(wire.ServerError("token_revoked", "token revoked")), 1.0)
    assert session.state is SessionState.FAILED
    errors = [e.payload for e in fx if isinstance(e, Emit) and e.event == "error"]
    assert errors and "token revoked" in repr(errors[0])
    assert not [e for e in fx if isinstance(e, StartTimer)]  # no reconnection


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(["j1", "j2", "j3"])), max_size=8),
    st.frozensets(st.sampled_from(["j1", "j2", "j3"])),
    st.frozensets(st.sampled_from("abcd")),
)
def test_after_revoke_no_revoked_identity_holds_an_address(
    regs: list[tuple[str, str]], jtis: frozenset[str], users: frozenset[str]
) -> None:
    hub = Hub(verifier=jti_verifier, register_rate=None)
    for i, (user, jti) in enumerate(regs):
        reg(hub, f"c{i}", user, device=f"d{i}", token=f"{user}:{jti}")
    revocations = Revocations(jtis, users)
    hub.revoke(revocations, 1.0)
    for i, (user, jti) in enumerate(regs):
        held = hub.address(f"c{i}") is not None
        revoked = jti in jtis or user in users
        assert not (held and revoked)
        if not revoked:  # honest identities keep what they held
            assert held == (hub.state(f"c{i}") is ConnState.REGISTERED)
            assert held
