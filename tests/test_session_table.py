"""Session's transition table: every (state, input) pair, and agreement with `transitions`."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.testing.exhaustive import check_differential, check_pair, pairs

NOW = st.floats(0, 1e6, allow_nan=False)
ARGS = {
    "registered": st.builds(lambda now, sid: ((now,), {"reason": sid}), NOW, st.text(max_size=8)),
    "transport_failed": st.builds(lambda now, r: ((now,), {"reason": r}), NOW, st.text(max_size=8)),
    "transport_lost": st.builds(lambda now, r: ((now,), {"reason": r}), NOW, st.text(max_size=8)),
}
# what the public methods compute before firing: the retry policy's answer (None = give up)
PREPARE = st.one_of(st.none(), st.floats(0, 60, allow_nan=False))


def _prepare(session: Session, delay: Any) -> None:
    session._pending_delay = delay


def _make() -> Session:
    return Session(SessionConfig("alice", device="d1"))


@pytest.mark.parametrize(("state", "trigger"), pairs(Session))
def test_every_state_input_pair(state: SessionState, trigger: str) -> None:
    check_pair(Session, state, trigger, _make, ARGS, _prepare, PREPARE, max_examples=15)


def test_compiled_session_table_agrees_with_transitions() -> None:
    check_differential(
        Session,
        lambda cls: cls(SessionConfig("alice", device="d1")),
        ARGS,
        _prepare,
        PREPARE,
        max_examples=150,
    )
