"""The session's connection table: every (state, trigger) pair, every (state, declared input)
pair (each wire message the session handles itself, from the server and from a peer, and each
of its timers), and agreement with `transitions`."""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.effects import Drop, Effect
from rtcstate.machine import spec_of
from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.session_connection import INPUTS, SessionConnection, SessionDrop, SessionTimer
from rtcstate.testing.exhaustive import check_differential, check_pair, pairs
from rtcstate.wire_contact import RingingPeer, UserDataUpdate

NOW = st.floats(0, 1e6, allow_nan=False)
REASON = st.text(max_size=8)
# what the public methods pass along: the retry policy's answer (None = give up)
DELAY = st.one_of(st.none(), st.floats(0, 60, allow_nan=False))
REPORT = st.builds(lambda now, r, d: ((now,), {"reason": r, "delay": d}), NOW, REASON, DELAY)
SENDER = st.one_of(st.none(), st.sampled_from(["bob/phone", "mallory/x"]))
CODE = st.one_of(st.sampled_from(sorted(wire.FINAL_ERROR_CODES)), st.text(max_size=6))
NAME = st.sampled_from(["bob", "carol"])
DEVICES = st.lists(st.sampled_from(["bob/phone", "bob/laptop", "carol/tab"]), max_size=3)

MESSAGES: dict[type[wire.Message], st.SearchStrategy[wire.Message]] = {
    wire.Registered: st.builds(wire.Registered, st.just("alice"), st.just("d1"), REASON),
    wire.ServerError: st.builds(wire.ServerError, CODE, REASON),
    wire.Ping: st.builds(wire.Ping, st.integers(0, 5)),
    wire.Pong: st.builds(wire.Pong, st.integers(0, 5)),
    wire.Presence: st.builds(wire.Presence, NAME, st.booleans(), DEVICES),
    wire.PresenceBatch: st.builds(wire.PresenceBatch, DEVICES),
    wire.ContactMessage: st.builds(wire.ContactMessage, st.integers(0, 9), REASON),
    wire.ContactData: st.builds(wire.ContactData, st.just({"k": 1})),
    UserDataUpdate: st.builds(UserDataUpdate, NAME, st.just({"nick": "b"})),
    RingingPeer: st.builds(RingingPeer, NAME, DEVICES),
}
TRIGGER_OF_MESSAGE = {
    "registered": wire.Registered,
    "server_error": wire.ServerError,
    "peer_error": wire.ServerError,
    "ping": wire.Ping,
    "pong": wire.Pong,
    "presence": wire.Presence,
    "presence_batch": wire.PresenceBatch,
    "contact_message": wire.ContactMessage,
    "contact_data": wire.ContactData,
    "user_data": UserDataUpdate,
    "ringing_peer": RingingPeer,
}


def _message_args(cls: type[wire.Message]) -> st.SearchStrategy[Any]:
    return st.builds(
        lambda now, m, s, d: ((now,), {"msg": m, "sender": s, "delay": d}),
        NOW,
        MESSAGES[cls],
        SENDER,
        DELAY,
    )


ARGS: dict[str, Any] = {
    **{trigger: REPORT
       for trigger in ("transport_failed", "transport_lost", "transport_moved", "register_timeout",
                       "pong_timeout", "transport_open", "retry_timer", "keepalive_timer")},
    **{trigger: _message_args(cls) for trigger, cls in TRIGGER_OF_MESSAGE.items()},
}  # fmt: skip


def _session() -> Session:
    return Session(SessionConfig("alice", device="d1"))


def _make() -> SessionConnection:
    return _session().connection


def test_every_declared_message_has_a_strategy() -> None:
    assert set(INPUTS.wire) == set(MESSAGES)
    assert set(TRIGGER_OF_MESSAGE) <= set(spec_of(SessionConnection).triggers)


@pytest.mark.parametrize(("state", "trigger"), pairs(SessionConnection))
def test_every_state_trigger_pair(state: SessionState, trigger: str) -> None:
    check_pair(SessionConnection, state, trigger, _make, ARGS, max_examples=15)


def test_compiled_session_table_agrees_with_transitions() -> None:
    check_differential(
        SessionConnection,
        lambda cls: cls(SessionConfig("alice", device="d1"), owner=_session()),
        ARGS,
        max_examples=150,
    )


def _input_pairs() -> list[tuple[SessionState, object]]:
    keys = [*INPUTS.wire, *INPUTS.timers]
    return [(s, k) for s in SessionState for k in keys]


@pytest.mark.parametrize(("state", "key"), _input_pairs(), ids=str)
def test_every_state_input_pair(state: SessionState, key: object) -> None:
    """Each declared input, delivered through the session's public entry points in each state:
    never raises, and does what the table declares (a trigger's destinations, or its Drop)."""
    spec = spec_of(SessionConnection)

    if isinstance(key, SessionTimer):
        values: st.SearchStrategy[Any] = st.just(key)
    else:
        assert isinstance(key, type)
        values = st.builds(wire.Envelope, MESSAGES[key], st.just("alice/d1"), SENDER)

    @settings(
        max_examples=10,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(value=values, now=NOW)
    def run(value: Any, now: float) -> None:
        s = _session()
        s.state = state
        outcome = spec.outcome(state, key, value)
        if isinstance(value, enum.Enum):
            s.timers.arm(value.value)  # as if the connection had armed it
            fx = s.timer_fired(value.value, now)
        else:
            fx = s.receive_envelope(value, now)
        assert all(isinstance(e, Effect) for e in fx), fx
        if isinstance(outcome, str):
            assert s.state in spec.destinations(state, outcome) | {state}, (outcome, s.state)
        else:
            assert s.state is state, (outcome, s.state)
            assert outcome in fx, (outcome, fx)

    run()


def test_a_forged_server_message_is_a_declared_drop_in_every_state() -> None:
    """A peer cannot register us, end our registration or fake presence: whatever the state,
    its ``Registered`` / ``Presence`` is ``forged`` and changes nothing."""
    spec = spec_of(SessionConnection)
    for state in SessionState:
        for msg in (wire.Registered("alice", "d1", "S"), wire.Presence("bob", True, ["bob/x"])):
            outcome = spec.outcome(state, type(msg), wire.Envelope(msg, sender="mallory/x"))
            assert isinstance(outcome, Drop) and outcome.reason is SessionDrop.FORGED
            s = _session()
            s.state = state
            fx = s.receive_envelope(wire.Envelope(msg, "alice/d1", "mallory/x"), 1.0)
            assert [type(e) for e in fx] == [Drop] and fx[0].reason == SessionDrop.FORGED
            assert s.state is state and s.contacts == {}
