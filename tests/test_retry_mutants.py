"""Retry policies: what mutation testing found untested (docs/testing.md, "Mutation testing").

The refusals say what was wrong, and the exponential step stops growing after attempt 65 (the
exponent is capped at 64, so a long outage never overflows)."""

from __future__ import annotations

import pytest

from rtcstate.retry import ExponentialBackoff


@pytest.mark.parametrize("kwargs", [{"initial": -1.0}, {"maximum": -1.0}, {"factor": 0.5}])
def test_a_refused_step_says_what_is_allowed(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"^initial and maximum must be >= 0 and factor >= 1$"):
        ExponentialBackoff(**kwargs)


@pytest.mark.parametrize("jitter", [-0.5, 1.5])
def test_a_refused_jitter_says_what_is_allowed(jitter: float) -> None:
    with pytest.raises(ValueError, match=r"^jitter must be within \[0, 1\]$"):
        ExponentialBackoff(jitter=jitter)


def test_the_step_stops_growing_after_attempt_65() -> None:
    p = ExponentialBackoff(initial=1e-30, factor=2.0, maximum=1.0, jitter=0.0, max_elapsed=None)
    assert p.next_delay(65, 0.0, 0.0) == 1e-30 * 2.0**64
    assert p.next_delay(66, 0.0, 0.0) == p.next_delay(10_000, 0.0, 0.0) == 1e-30 * 2.0**64
    assert p.next_delay(64, 0.0, 0.0) == 1e-30 * 2.0**63
