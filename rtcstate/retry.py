"""Retry policies: when to try the server connection again, and when to give up.

A policy is any object with ``next_delay(attempt, elapsed, rand) -> float | None``:
``attempt`` counts reconnection attempts since the connection was lost (1 for the first),
``elapsed`` is the time since it was lost (seconds, the caller's clock), and ``rand`` is a
uniform draw in ``[0, 1)`` from the random source injected into the session (so a run stays a
pure function of its inputs). It returns the delay before the next attempt, or ``None`` to give
up, after which the session reports ``ccsConnectionStatus`` ``error``.
"""

from __future__ import annotations

from typing import Protocol

import attrs

__all__ = ["ExponentialBackoff", "FixedDelay", "RetryPolicy"]


class RetryPolicy(Protocol):
    """The pluggable reconnection policy of a :class:`~rtcstate.session.Session`."""

    def next_delay(self, attempt: int, elapsed: float, rand: float) -> float | None: ...


@attrs.frozen(slots=True)
class ExponentialBackoff:
    """``initial * factor**(attempt-1)`` capped at ``maximum``, minus up to ``jitter`` of it.

    Gives up after ``max_attempts`` attempts or once ``max_elapsed`` seconds have passed since
    the loss (``None`` disables a limit). The defaults retry for five minutes, starting at half
    a second and never waiting more than 30 s; a jitter of 0.5 spreads a fleet of clients that
    lost the same server over half of each step ("equal jitter").
    """

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.5
    max_attempts: int | None = None
    max_elapsed: float | None = 300.0

    def __attrs_post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.factor < 1:
            raise ValueError("initial and maximum must be >= 0 and factor >= 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within [0, 1]")

    def next_delay(self, attempt: int, elapsed: float, rand: float) -> float | None:
        if self.max_attempts is not None and attempt > self.max_attempts:
            return None
        if self.max_elapsed is not None and elapsed >= self.max_elapsed:
            return None
        step = min(self.maximum, self.initial * self.factor ** min(attempt - 1, 64))
        return step * (1.0 - self.jitter * rand)


@attrs.frozen(slots=True)
class FixedDelay:
    """The same ``delay`` every time, for ``max_attempts`` attempts (``None``: forever)."""

    delay: float = 1.0
    max_attempts: int | None = None

    def next_delay(self, attempt: int, elapsed: float, rand: float) -> float | None:
        if self.max_attempts is not None and attempt > self.max_attempts:
            return None
        return self.delay
