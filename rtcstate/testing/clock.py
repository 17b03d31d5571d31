"""A fake clock and timer wheel for driving machines in tests (part of the conformance kit).

A :class:`TimerWheel` carries out ``StartTimer``/``CancelTimer`` effects the way an adapter
would, so a test can ask which timers are armed, advance time and get the expiries in deadline
order. Nothing here sleeps or reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from rtcstate.effects import CancelTimer, Effect, StartTimer

__all__ = ["TimerWheel"]


@attrs.define(slots=True)
class TimerWheel:
    """Armed timers by id; ``now`` only moves forward."""

    now: float = 0.0
    armed: dict[str, float] = attrs.field(factory=dict)
    started: int = 0
    cancelled: int = 0
    fired: int = 0

    def apply(self, effects: Iterable[Effect]) -> None:
        """Carry out the timer effects of ``effects`` (other effects are ignored)."""
        for e in effects:
            if isinstance(e, StartTimer):
                self.armed[e.timer_id] = e.deadline
                self.started += 1
            elif isinstance(e, CancelTimer) and self.armed.pop(e.timer_id, None) is not None:
                self.cancelled += 1

    def next_deadline(self) -> float | None:
        """The earliest armed deadline, if any."""
        return min(self.armed.values(), default=None)

    def pop_due(self, until: float) -> list[tuple[float, str]]:
        """Advance to ``until`` and return the timers due by then, earliest first.

        Each returned timer is disarmed; the caller feeds it to ``timer_fired`` (and applies
        the effects, which may arm new timers: call again to collect those).
        """
        due = sorted((d, t) for t, d in self.armed.items() if d <= until)
        for _, timer_id in due:
            del self.armed[timer_id]
            self.fired += 1
        self.now = max(self.now, until)
        return due
