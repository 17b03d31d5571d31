"""Session's transition table: every (state, input) pair, and agreement with `transitions`."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.testing.exhaustive import check_differential, check_pair, pairs

NOW = st.floats(0, 1e6, allow_nan=False)
REASON = st.text(max_size=8)
# what the public methods pass along: the retry policy's answer (None = give up)
DELAY = st.one_of(st.none(), st.floats(0, 60, allow_nan=False))
REPORT = st.builds(lambda now, r, d: ((now,), {"reason": r, "delay": d}), NOW, REASON, DELAY)
ARGS = {
    trigger: REPORT
    for trigger in ("registered", "transport_failed", "transport_lost", "register_timeout",
                    "pong_timeout", "transport_open", "retry_timer", "keepalive_timer")
}  # fmt: skip


def _make() -> Session:
    return Session(SessionConfig("alice", device="d1"))


@pytest.mark.parametrize(("state", "trigger"), pairs(Session))
def test_every_state_input_pair(state: SessionState, trigger: str) -> None:
    check_pair(Session, state, trigger, _make, ARGS, max_examples=15)


def test_compiled_session_table_agrees_with_transitions() -> None:
    check_differential(
        Session, lambda cls: cls(SessionConfig("alice", device="d1")), ARGS, max_examples=150
    )
