"""Retry policies at their boundaries: each refused setting alone, the last allowed attempt,
the elapsed limit, the cap and the jitter arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcstate.retry import ExponentialBackoff, FixedDelay


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": -0.001},
        {"maximum": -0.001},
        {"factor": 0.999},
        {"jitter": -0.001},
        {"jitter": 1.001},
    ],
)
def test_each_refused_setting_alone(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ExponentialBackoff(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": 0.0}, {"maximum": 0.0}, {"factor": 1.0}, {"jitter": 0.0}, {"jitter": 1.0}],
)
def test_the_limits_themselves_are_accepted(kwargs: dict[str, float]) -> None:
    ExponentialBackoff(**kwargs)  # no error: the boundary is allowed


def test_last_allowed_attempt_still_retries() -> None:
    p = ExponentialBackoff(initial=1.0, factor=2.0, maximum=100.0, jitter=0.0, max_attempts=3)
    assert p.next_delay(3, 0.0, 0.0) == 4.0
    assert p.next_delay(4, 0.0, 0.0) is None
    f = FixedDelay(2.0, max_attempts=3)
    assert f.next_delay(3, 0.0, 0.0) == 2.0
    assert f.next_delay(4, 0.0, 0.0) is None


def test_elapsed_limit_is_exclusive() -> None:
    p = ExponentialBackoff(initial=1.0, jitter=0.0, max_elapsed=10.0)
    assert p.next_delay(1, 9.999, 0.0) == 1.0
    assert p.next_delay(1, 10.0, 0.0) is None
    unlimited = ExponentialBackoff(initial=1.0, jitter=0.0, max_elapsed=None)
    assert unlimited.next_delay(1, 1e9, 0.0) == 1.0


def test_growth_cap_and_jitter() -> None:
    p = ExponentialBackoff(initial=0.5, factor=3.0, maximum=10.0, jitter=0.5, max_elapsed=None)
    assert [p.next_delay(n, 0.0, 0.0) for n in (1, 2, 3, 4)] == [0.5, 1.5, 4.5, 10.0]
    # the draw takes up to `jitter` of the step away ("equal jitter")
    assert p.next_delay(2, 0.0, 0.5) == pytest.approx(1.5 * 0.75)
    assert p.next_delay(4, 0.0, 0.999999) == pytest.approx(5.0, rel=1e-5)


@given(
    attempt=st.integers(1, 10_000),
    rand=st.floats(0.0, 1.0, exclude_max=True),
    jitter=st.floats(0.0, 1.0),
)
def test_delay_is_within_its_band(attempt: int, rand: float, jitter: float) -> None:
    p = ExponentialBackoff(initial=0.25, factor=2.0, maximum=30.0, jitter=jitter, max_elapsed=None)
    delay = p.next_delay(attempt, 0.0, rand)
    assert delay is not None
    step = min(30.0, 0.25 * 2.0 ** min(attempt - 1, 64))
    assert step * (1.0 - jitter) - 1e-9 <= delay <= step + 1e-9
