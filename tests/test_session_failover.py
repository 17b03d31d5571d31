"""Failover in the core: which relay URL each ``OpenTransport`` names (the first registration
tries each once; reconnections go round robin), and a relay's drain (``transport_moved``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.codes import ErrorCode, ErrorNumber
from rtcstate.effects import SESSION, USER_AGENT, CloseTransport, Emit, OpenTransport, StartTimer
from rtcstate.errors import RtcError
from rtcstate.retry import ExponentialBackoff, FixedDelay
from rtcstate.session import Session, SessionConfig, SessionState

URLS = ("ws://127.0.0.1:1", "ws://127.0.0.1:2", "ws://127.0.0.1:3")


def make(urls: tuple[str, ...] = URLS, **kw: Any) -> Session:
    kw.setdefault("retry_policy", FixedDelay(1.0))
    config = SessionConfig("alice", server_url=urls[0], fallback_urls=urls[1:], device="d1", **kw)
    return Session(config)


def registered(s: Session, now: float) -> list[Any]:
    msg = wire.Registered(user="alice", device="d1", session_id="S")
    return s.receive(wire.encode(msg, to="alice/d1"), now)


def opened(fx: list[Any]) -> list[str]:
    return [e.url for e in fx if isinstance(e, OpenTransport)]


def test_the_first_registration_tries_every_url_once_then_fails() -> None:
    s = make()
    assert s.register(0.0) == [OpenTransport(URLS[0])]
    assert opened(s.connection_failed(1.0, "refused")) == [URLS[1]]
    assert s.state is SessionState.CONNECTING
    # the second one opens but never answers Register: the third is tried
    s.connection_made(2.0)
    fx = s.timer_fired("session:register", 12.0)
    assert fx[0] == CloseTransport() and opened(fx) == [URLS[2]]
    fx = s.connection_failed(13.0, "refused")
    assert s.state is SessionState.FAILED and not opened(fx)
    assert Emit(USER_AGENT, "ccsConnectionStatus", {"status": "error"}) in fx
    [error] = [e for e in fx if isinstance(e, Emit) and e.event == "error"]
    assert error.payload["errorCode"] == ErrorCode.SERVER_CONNECTION_FAILED.value
    assert (
        error.payload["descriptor"]["errorNumber"] == ErrorNumber.ERROR_APIRTC_INITIALISATION_FAILED
    )


def test_a_registration_after_a_failure_starts_again_at_the_first_url() -> None:
    s = make()
    s.register(0.0)
    for now in (1.0, 2.0, 3.0):
        s.connection_failed(now)
    assert s.state is SessionState.FAILED
    assert s.register(4.0) == [OpenTransport(URLS[0])]


@settings(max_examples=60, deadline=None)
@given(
    first=st.integers(0, 2),
    losses=st.lists(st.sampled_from(["failed", "lost", "moved", "timeout"]), max_size=12),
)
def test_reconnection_attempts_go_round_robin_from_the_relay_lost(
    first: int, losses: list[str]
) -> None:
    s = make()
    now = 0.0
    s.register(now)
    for _ in range(first):  # registered on URLS[first]
        s.connection_failed(now)
    s.connection_made(now)
    registered(s, now)
    assert s.connection.target == first and s.connection.url == URLS[first]
    fx = s.connection_lost(now, "closed 1006")
    visited: list[str] = []
    for kind in losses:
        now += 1.0
        visited += opened(s.timer_fired("session:retry", now))
        if kind == "failed":
            fx = s.connection_failed(now)
        elif kind == "timeout":
            s.connection_made(now)
            fx = s.timer_fired("session:register", now + 10.0)
            now += 10.0
        else:
            s.connection_made(now)
            fx = (s.connection_moved if kind == "moved" else s.connection_lost)(now)
        assert s.state is SessionState.DISCONNECTED
        retry = [e for e in fx if isinstance(e, StartTimer) and e.timer_id == "session:retry"]
        delay = 0.0 if kind == "moved" else 1.0  # a drain: at once
        assert [t.deadline for t in retry] == [now + delay], fx
    now += 1.0
    visited += opened(s.timer_fired("session:retry", now))
    expected = [URLS[(first + k) % 3] for k in range(1, len(visited) + 1)]
    assert visited == expected
    s.connection_made(now)
    fx = registered(s, now)
    assert s.state is SessionState.CONNECTED and Emit(SESSION, "reconnection") in fx
    assert s.connection.url == visited[-1]


def test_a_drain_moves_a_connected_session_at_once_to_the_next_url() -> None:
    s = make(retry_policy=ExponentialBackoff(initial=5.0, jitter=0.0))
    s.register(0.0)
    s.connection_made(0.0)
    registered(s, 0.0)
    fx = s.connection_moved(7.0, "closed 1012 relay draining")
    assert Emit(SESSION, "disconnect") in fx
    assert fx[-1] == StartTimer("session:retry", 7.0)  # no delay
    assert opened(s.timer_fired("session:retry", 7.0)) == [URLS[1]]
    # the next relay failing too: the backoff applies again
    assert s.connection_failed(7.5)[-1] == StartTimer("session:retry", 7.5 + 10.0)


def test_a_loss_keeps_the_backoff_and_moves_to_the_next_url() -> None:
    s = make(retry_policy=ExponentialBackoff(initial=5.0, jitter=0.0))
    s.register(0.0)
    s.connection_made(0.0)
    registered(s, 0.0)
    assert s.connection_lost(3.0)[-1] == StartTimer("session:retry", 8.0)
    assert opened(s.timer_fired("session:retry", 8.0)) == [URLS[1]]


def test_a_drain_still_gives_up_when_the_policy_does() -> None:
    s = make(retry_policy=FixedDelay(1.0, max_attempts=0))
    s.register(0.0)
    s.connection_made(0.0)
    registered(s, 0.0)
    fx = s.connection_moved(1.0)
    assert s.state is SessionState.FAILED
    assert Emit(USER_AGENT, "ccsConnectionStatus", {"status": "error"}) in fx


def test_one_url_never_changes() -> None:
    s = make(urls=(URLS[0],))
    assert s.register(0.0) == [OpenTransport(URLS[0])]
    fx = s.connection_failed(0.5)
    assert s.state is SessionState.FAILED and not opened(fx)
    s.register(1.0)
    s.connection_made(1.0)
    registered(s, 1.0)
    for now in (2.0, 4.0):
        s.connection_moved(now)
        assert opened(s.timer_fired("session:retry", now)) == [URLS[0]]
        s.connection_failed(now)


@pytest.mark.parametrize("urls", [("",), ("ws://a", ""), ("ws://a", 3)])
def test_an_empty_url_is_a_bad_parameter(urls: tuple[Any, ...]) -> None:
    with pytest.raises(RtcError) as info:
        SessionConfig("alice", server_url=urls[0], fallback_urls=urls[1:])
    assert info.value.code == ErrorNumber.ERROR_BAD_PARAMETER
