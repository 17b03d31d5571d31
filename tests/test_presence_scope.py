"""Client-side scoped presence: subscriptions and groups, their errors, their resend."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.effects import Emit, Send
from rtcstate.errors import RtcError
from rtcstate.retry import FixedDelay
from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.testing.exhaustive import snapshot

URL = "ws://relay.test"


def make() -> Session:
    return Session(
        SessionConfig("alice", server_url=URL, device="d1", retry_policy=FixedDelay(1.0, 3))
    )


def registered(s: Session, sid: str, now: float) -> list[Any]:
    env = wire.encode(wire.Registered(user="alice", device="d1", session_id=sid), to="alice/d1")
    return s.receive(env, now)


def connected() -> Session:
    s = make()
    s.register(0.0)
    s.connection_made(0.0)
    registered(s, "S1", 0.0)
    assert s.state is SessionState.CONNECTED
    return s


def test_each_command_sends_exactly_its_wire_message() -> None:
    s = connected()
    assert s.subscribe_presence(1.0, contacts=["bob", "bob"], groups=["team"]) == [
        Send(None, wire.PresenceSubscribe(contacts=["bob"], groups=["team"]))
    ]
    assert s.subscribe_to_group(1.0, "ops") == [
        Send(None, wire.PresenceSubscribe(contacts=[], groups=["ops"]))
    ]
    assert s.join_group(1.0, "team") == [Send(None, wire.PresenceGroups(join=["team"], leave=[]))]
    assert s.leave_group(1.0, "team") == [Send(None, wire.PresenceGroups(join=[], leave=["team"]))]
    assert s.unsubscribe_to_group(1.0, "ops") == [
        Send(None, wire.PresenceUnsubscribe(contacts=[], groups=["ops"]))
    ]
    assert s.unsubscribe_presence(1.0, contacts=["carol"]) == [
        Send(None, wire.PresenceUnsubscribe(contacts=["carol"], groups=[]))
    ]
    scope = s.presence_scope
    assert list(scope.contacts) == ["bob"] and list(scope.groups) == ["team"]
    assert not scope.joined


def test_reconnection_resends_the_whole_scope_after_registered() -> None:
    s = connected()
    s.subscribe_presence(1.0, contacts=["bob"], groups=["team"])
    s.join_group(1.0, "team")
    s.join_group(1.0, "ops")
    s.connection_lost(2.0)
    s.timer_fired("session:retry", 3.0)
    assert not any(isinstance(e, Send) and e.message.TYPE.startswith("presence")
                   for e in s.connection_made(3.1))  # fmt: skip
    fx = registered(s, "S2", 3.2)
    sent = [e.message for e in fx if isinstance(e, Send)]
    assert sent == [
        wire.PresenceGroups(join=["team", "ops"], leave=[]),
        wire.PresenceSubscribe(contacts=["bob"], groups=["team"]),
    ]
    assert Emit("session", "reconnection") in fx


def test_nothing_is_resent_without_a_scope() -> None:
    s = make()
    s.register(0.0)
    s.connection_made(0.0)
    fx = registered(s, "S1", 0.0)
    assert not [e for e in fx if isinstance(e, Send)]


BAD = st.one_of(
    st.just(""),
    st.just("a/b"),
    st.integers(),
    st.none(),
)


@settings(max_examples=60, deadline=None)
@given(bad=BAD, command=st.sampled_from(["sub", "unsub", "join", "leave", "subg", "unsubg"]))
def test_bad_names_raise_bad_parameter_and_change_nothing(bad: Any, command: str) -> None:
    s = connected()
    s.subscribe_presence(0.5, contacts=["bob"], groups=["team"])
    s.join_group(0.5, "team")
    before = snapshot(s)
    calls = {
        "sub": lambda: s.subscribe_presence(1.0, contacts=["ok", bad]),
        "unsub": lambda: s.unsubscribe_presence(1.0, groups=[bad]),
        "join": lambda: s.join_group(1.0, bad),
        "leave": lambda: s.leave_group(1.0, bad),
        "subg": lambda: s.subscribe_to_group(1.0, bad),
        "unsubg": lambda: s.unsubscribe_to_group(1.0, bad),
    }
    with pytest.raises(RtcError) as info:
        calls[command]()
    assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    assert snapshot(s) == before


def test_empty_and_string_arguments_are_refused() -> None:
    s = connected()
    for call in (
        lambda: s.subscribe_presence(1.0),
        lambda: s.unsubscribe_presence(1.0, contacts=[], groups=[]),
        lambda: s.subscribe_presence(1.0, contacts="bob"),
    ):
        with pytest.raises(RtcError) as info:
            call()
        assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    assert not s.presence_scope.contacts


@pytest.mark.parametrize("stage", ["idle", "connecting", "disconnected"])
def test_commands_need_a_registered_session(stage: str) -> None:
    s = make()
    if stage != "idle":
        s.register(0.0)
    if stage == "disconnected":
        s.connection_made(0.0)
        registered(s, "S1", 0.0)
        s.connection_lost(1.0)
    for call in (
        lambda: s.subscribe_presence(2.0, contacts=["bob"]),
        lambda: s.join_group(2.0, "team"),
        lambda: s.subscribe_to_group(2.0, "team"),
    ):
        with pytest.raises(RtcError) as info:
            call()
        assert info.value.code is ErrorNumber.ERROR_WRONG_STATE
    assert not s.presence_scope.contacts and not s.presence_scope.joined


def test_a_relay_refusal_is_an_error_event_not_an_exception() -> None:
    s = connected()
    s.subscribe_presence(1.0, contacts=["bob"])
    refusal = wire.ServerError(code=wire.ServerErrorCode.TOO_MANY_SUBSCRIPTIONS, info="at most 1")
    fx = s.receive(wire.encode(refusal, to="alice/d1"), 1.1)
    assert len(fx) == 1 and isinstance(fx[0], Emit) and fx[0].payload is not None
    assert fx[0].event == "error"
    assert fx[0].payload["descriptor"] == {"code": "too_many_subscriptions", "info": "at most 1"}
    assert s.state is SessionState.CONNECTED
