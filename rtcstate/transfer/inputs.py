"""Inputs as data for the transfer machines: every input's trigger and every pair's verdict.

Theory of operation
-------------------
Next to its transition table, each transfer machine declares an :class:`InputTable`: which
trigger each of its inputs fires (frame types, undecodable bytes, channel reports, timers) and,
for every (state, input trigger) pair the table has no row for, a verdict:

* :class:`Ignore` — ignored on purpose: a ``Drop`` with a catalogued
  :class:`~rtcstate.drops.DropReason`, or, with ``reply``, the effects of that method instead
  (a finished side repeating its last word, or noting that its channel came back);
* *illegal* — the input makes no sense in that state: a report from the channel or a timer never
  raises, so it becomes ``Drop(illegal)`` (the machine's "unexpected report" reason); a command
  raises with its apiRTC number (the table compiler's :meth:`~rtcstate.machine.MachineSpec.fire`).

:meth:`InputTable.check` runs once per class, at import: every input trigger is one of the
machine's, every state is covered for every input trigger by exactly one of a row, an ignore
or an illegal verdict, and replies name methods of the class. :meth:`InputTable.dispatch` is the
machine's one generic entry for inputs: a dict lookup for the row (the compiled table), else
the declared verdict. The pair tests enumerate :meth:`InputTable.pairs`, so they cover every
input of every machine, not only table triggers.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect
from rtcstate.machine import MachineDefinitionError, MachineSpec, spec_of

__all__ = ["ILLEGAL", "Ignore", "InputTable", "input_table", "inputs"]


@attrs.frozen(slots=True)
class Ignore:
    """A pair ignored on purpose: ``Drop(reason)``, or the effects of method ``reply``."""

    reason: DropReason
    reply: str | None = None


ILLEGAL = "illegal"
"""The verdict of a pair that makes no sense (a report becomes ``Drop(illegal reason)``)."""

Verdict = Ignore | str
States = str | Iterable[str]


def _names(states: States) -> tuple[str, ...]:
    return (states,) if isinstance(states, str) else tuple(states)


class InputTable:
    """The declared inputs of one machine class (see the module docstring).

    ``triggers``: input name -> trigger (frame type names, ``garbled``, channel reports,
    timer names). ``verdicts``: trigger -> {state name(s): verdict} for the pairs the
    transition table has no row for. ``illegal``: the reason of an illegal report's ``Drop``.
    """

    def __init__(
        self,
        triggers: Mapping[str, str],
        verdicts: Mapping[str, Mapping[States, Verdict]],
        illegal: DropReason,
    ) -> None:
        self.triggers = dict(triggers)
        self.illegal = illegal
        self.verdicts: dict[str, dict[str, Verdict]] = {}
        for trigger, by_state in verdicts.items():
            flat: dict[str, Verdict] = {}
            for states, verdict in by_state.items():
                for name in _names(states):
                    if name in flat:
                        raise MachineDefinitionError(f"{trigger}: two verdicts for {name}")
                    flat[name] = verdict
            self.verdicts[trigger] = flat
        self._ignored: dict[tuple[enum.Enum, str], Ignore] = {}
        self._replies: dict[tuple[enum.Enum, str], Callable[..., list[Effect]]] = {}

    @property
    def input_triggers(self) -> tuple[str, ...]:
        """Every trigger an input may fire, in declaration order."""
        return tuple(dict.fromkeys([*self.triggers.values(), *self.verdicts]))

    def check(self, spec: MachineSpec) -> None:
        """Validate against the compiled table of ``spec`` and bind the replies."""
        names = spec.states.__members__
        for trigger in self.input_triggers:
            if trigger not in spec.triggers and trigger not in self.verdicts:
                raise MachineDefinitionError(f"{spec.name}: input trigger {trigger} is unknown")
            declared = self.verdicts.get(trigger, {})
            for name in declared:
                if name not in names:
                    raise MachineDefinitionError(f"{spec.name}: {trigger}: unknown state {name}")
            for state in spec.states:
                has_row = spec.allowed(state, trigger)
                verdict = declared.get(state.name)
                if has_row == (verdict is not None):
                    what = "both a row and a verdict" if has_row else "no row and no verdict"
                    raise MachineDefinitionError(
                        f"{spec.name}: ({state.name}, {trigger}) has {what}"
                    )
                if isinstance(verdict, Ignore):
                    self._ignored[(state, trigger)] = verdict
                    if verdict.reply is not None:
                        method = getattr(spec.cls, verdict.reply, None)
                        if not callable(method):
                            raise MachineDefinitionError(
                                f"{spec.name}: reply {verdict.reply} is not a method"
                            )
                        self._replies[(state, trigger)] = method
                elif verdict is not None and verdict != ILLEGAL:
                    raise MachineDefinitionError(f"{spec.name}: bad verdict {verdict!r}")

    def pairs(self, spec: MachineSpec) -> list[tuple[enum.Enum, str]]:
        """Every (state, input trigger) pair, for the pair tests."""
        return [(s, t) for s in spec.states for t in self.input_triggers]

    def verdict(self, state: enum.Enum, trigger: str) -> Ignore | None:
        """The declared ignore verdict of a pair with no row (None: illegal)."""
        return self._ignored.get((state, trigger))

    def dispatch(
        self,
        spec: MachineSpec,
        obj: Any,
        trigger: str,
        now: float,
        why: str,
        settle: Callable[[list[Effect], float], None] | None = None,
        **kw: Any,
    ) -> list[Effect]:
        """Run input ``trigger``: its row, else its verdict (never raises for a report);
        ``why`` is the detail of a ``Drop``."""
        state = obj.state
        if trigger in spec.table[state]:
            fx: list[Effect] = []
            spec.fire(obj, trigger, fx, now, **kw)
            if settle is not None:
                settle(fx, now)
            return fx
        ignored = self._ignored.get((state, trigger))
        if ignored is None:
            return [Drop(self.illegal, why or f"{trigger} in state {state.name}")]
        reply = self._replies.get((state, trigger))
        if reply is not None:
            out: list[Effect] = reply(obj, now, **kw)
            return out
        return [Drop(ignored.reason, why)]


_T = TypeVar("_T", bound=type)


def inputs(table: InputTable) -> Callable[[_T], _T]:
    """Class decorator (above ``@machine``): check ``table`` against the class's compiled
    table once, at import, and attach it (:func:`input_table`)."""

    def decorate(cls: _T) -> _T:
        table.check(spec_of(cls))
        cls.__rtc_inputs__ = table  # type: ignore[attr-defined]
        return cls

    return decorate


def input_table(obj_or_cls: object) -> InputTable:
    """The :class:`InputTable` of a transfer machine class or instance."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    table = getattr(cls, "__rtc_inputs__", None)
    if not isinstance(table, InputTable):
        raise TypeError(f"{cls.__name__} declares no inputs")
    return table
