"""Limits: token buckets counted per connection, per identity and per source address, and the
deadlines of the connection timeouts.

Theory of operation
-------------------
A :class:`TokenBucket` allows ``rate`` events per second on average and ``burst`` at once; it
is refilled from the ``now`` of each input, so it needs no timer. :class:`Buckets` keeps one
bucket per key (an identity ``(tenant, user)``, a source address) for as long as it matters:
a bucket outlives the connections that drained it, so closing and reopening a connection does
not refill it (the reconnecting flooder's trick); :meth:`Buckets.sweep` forgets the buckets that
are full again, which is exactly when forgetting changes nothing. :class:`Deadlines` is a heap
of ``(deadline, conn, kind)`` checked by the hub's ``tick(now)``; entries are validated when
they fall due (a connection that registered or spoke since is simply re-armed), so arming costs
O(log n) and nothing is ever searched.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

import attrs

__all__ = ["Buckets", "Deadlines", "TokenBucket", "take_one"]

K = TypeVar("K", bound=Hashable)


@attrs.define(slots=True, eq=False)
class TokenBucket:
    """``rate`` per second on average, ``burst`` at once (``rate`` None: unlimited)."""

    rate: float | None
    burst: float
    tokens: float
    last: float

    @classmethod
    def full(cls, rate: float | None, burst: float, now: float) -> TokenBucket:
        return cls(rate, burst, burst, now)

    def refill(self, now: float) -> float:
        """Refill up to ``now``; the tokens available."""
        if self.rate is not None and now > self.last:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
        return self.tokens

    def ready(self, now: float) -> bool:
        """Whether one token is available at ``now`` (takes nothing)."""
        return self.rate is None or self.refill(now) >= 1.0

    def take(self) -> None:
        """Take one token (after :meth:`ready` said yes)."""
        if self.rate is not None:
            self.tokens -= 1.0

    def is_full(self, now: float) -> bool:
        return self.rate is None or self.refill(now) >= self.burst


def take_one(now: float, buckets: tuple[TokenBucket | None, ...]) -> int:
    """One token from each bucket (None: no bucket) if every one has it at ``now``: -1; else
    the index of the first that has none, and nothing is taken. (``ready`` then ``take`` of
    each, in one call: it runs for every frame a relay receives.)"""
    for n, b in enumerate(buckets):
        if b is None or b.rate is None:
            continue
        if now > b.last:
            b.tokens = min(b.burst, b.tokens + (now - b.last) * b.rate)
            b.last = now
        if b.tokens < 1.0:
            return n
    for b in buckets:
        if b is not None and b.rate is not None:
            b.tokens -= 1.0
    return -1


@attrs.define(slots=True, eq=False)
class Buckets(Generic[K]):
    """One :class:`TokenBucket` per key, made full on first use."""

    rate: float | None
    burst: float
    _by_key: dict[K, TokenBucket] = attrs.field(factory=dict, init=False)

    def get(self, key: K, now: float) -> TokenBucket:
        bucket = self._by_key.get(key)
        if bucket is None:
            bucket = self._by_key[key] = TokenBucket.full(self.rate, self.burst, now)
        return bucket

    def sweep(self, now: float) -> int:
        """Forget every bucket that is full again; returns how many are kept."""
        full = [k for k, b in self._by_key.items() if b.is_full(now)]
        for k in full:
            del self._by_key[k]
        return len(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)


@attrs.define(slots=True, eq=False)
class Deadlines:
    """A heap of ``(deadline, conn, kind)``; stale entries are dropped as they fall due."""

    _heap: list[tuple[float, int, str, str]] = attrs.field(factory=list, init=False)
    _serial: int = attrs.field(default=0, init=False)

    def arm(self, deadline: float, conn: str, kind: str) -> None:
        self._serial += 1
        heapq.heappush(self._heap, (deadline, self._serial, conn, kind))

    def due(self, now: float) -> Iterator[tuple[float, str, str]]:
        """Pop and yield ``(deadline, conn, kind)`` of every entry due at ``now``."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, conn, kind = heapq.heappop(heap)
            yield deadline, conn, kind

    def next(self) -> float | None:
        """The earliest deadline, or None."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)
