"""The naive reference for ``transitions_naive_speedup``: the same Call, one ``transitions.Machine``
per call.

:class:`NaiveCall` is :class:`rtcstate.call.Call` with the dispatch engine swapped and nothing
else: the very same table (``rtcstate.call.TRANSITIONS``, unchanged), states (``CallState``),
callbacks (inherited, named in the table and resolved by ``transitions`` on each event, as it does
for any model), message and media handlers and session bookkeeping. What differs is what a
straightforward ``transitions`` user writes: every call builds its own ``transitions.Machine`` in
its constructor, and every trigger goes through ``model.trigger(name, ...)`` instead of
rtcstate's compiled ``{state: {trigger: candidates}}`` table.

Why a subclass: ``transitions`` sets attributes on its models (a bound trigger, ``may_*`` and
``is_*`` per event and state) and cannot register an attrs slots class; a plain subclass of the
slots class gets a ``__dict__`` for them while keeping the slotted fields. The four triggers
whose names are already methods of ``Call`` (``start``, ``offered``, ``hangup``, ``close``) are
not bound by ``transitions`` (it logs a warning, silenced here) and are fired through
``model.trigger``, which is what :meth:`NaiveCall._fire` uses for every trigger anyway.

:func:`naive_calls` makes the session's call factory (``rtcstate.call_factory``) build
``NaiveCall`` instead of ``Call`` for the duration of a ``with`` block, so outgoing
(``Session.call``) and incoming (``invite``) calls take exactly rtcstate's code path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transitions import Machine, MachineError

import rtcstate.call_factory as call_factory
from rtcstate.call import TRANSITIONS, Call, CallState
from rtcstate.effects import Drop, Effect
from rtcstate.machine import spec_of

__all__ = ["NaiveCall", "naive_calls"]

# "Model already contains an attribute 'hangup'. Skip binding." four times per call otherwise
logging.getLogger("transitions").setLevel(logging.ERROR)


class NaiveCall(Call):
    """A ``Call`` driven by its own ``transitions.Machine`` (built per object)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the same keyword arguments rtcstate hands to `transitions` once per class
        self.machine = Machine(
            model=self,
            states=CallState,
            transitions=TRANSITIONS,
            initial=CallState.IDLE,
            auto_transitions=False,
            send_event=False,
            ignore_invalid_triggers=False,
            queued=False,
        )

    # --- the four places where Call consults its compiled table --------------------------------

    def _fire(self, fx: list[Effect], trigger: str, now: float, **kw: Any) -> bool:
        try:
            result: bool = self.trigger(trigger, fx, now, cause=trigger, **kw)  # type: ignore[attr-defined]
        except MachineError:  # not allowed in this state: raise what Call raises
            raise spec_of(self).invalid(self, trigger) from None
        return result

    def _allowed(self, trigger: str) -> bool:
        # the cheapest check `transitions` offers (may_<trigger> would also run the conditions)
        return self.state.name in self.machine.events[trigger].transitions

    def _report(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        if not self._allowed(trigger):
            return [Drop("unexpected-report", f"{trigger} in state {self.state.name}")]
        fx: list[Effect] = []
        self._fire(fx, trigger, now, **kw)
        return fx

    def check_command(self, trigger: str) -> None:
        if not self._allowed(trigger):
            super().check_command(trigger)  # raises the same apiRTC error as Call

    def close(self, now: float) -> list[Effect]:
        fx: list[Effect] = []
        if self._allowed("close"):
            self._fire(fx, "close", now)
        return fx


@contextmanager
def naive_calls() -> Iterator[None]:
    """Within the block, sessions build :class:`NaiveCall` for every new call."""
    namespace = vars(call_factory)  # the factory looks `Call` up in its module globals
    previous = namespace["Call"]
    namespace["Call"] = NaiveCall
    try:
        yield
    finally:
        namespace["Call"] = previous
