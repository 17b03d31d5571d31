"""Injected sources of identifiers and randomness.

The core never draws a random number or reads a clock: a machine that needs an id or a
random draw takes an object built by the caller. The defaults here are deterministic, so a run
of the core is a pure function of its inputs; adapters inject real ones (``uuid4``,
``random.random``).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

__all__ = ["CounterIds", "IdSource", "RandomSource", "SplitMix64"]

IdSource = Callable[[str], str]
"""``ids(kind)`` returns a new id for an object of ``kind`` (``"call"``, ``"invitation"``, …)."""

RandomSource = Callable[[], float]
"""``rand()`` returns a uniform float in ``[0, 1)``."""

_MASK = (1 << 64) - 1


@attrs.define(slots=True)
class CounterIds:
    """``<prefix>-<kind>-<n>`` ids; unique as long as the prefix is (user and device)."""

    prefix: str = "local"
    _next: int = 0

    def __call__(self, kind: str) -> str:
        self._next += 1
        return f"{self.prefix}-{kind}-{self._next}"


@attrs.define(slots=True)
class SplitMix64:
    """A tiny deterministic PRNG (SplitMix64) returning floats in ``[0, 1)``."""

    state: int = 0

    def __call__(self) -> float:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        return (z >> 11) / float(1 << 53)
