"""The transfer machines' generic input dispatch, on the compiler's inputs as data.

Theory of operation
-------------------
Each transfer machine declares, next to its transition table, a
:class:`~rtcstate.machine.Inputs` (which trigger each frame type, channel report and timer
fires) and its verdicts (:class:`~rtcstate.machine.Ignore` with a catalogued reason, or
:data:`~rtcstate.machine.ILLEGAL`) for the pairs without a row; the compiler checks that every
(state, trigger) pair is covered. :func:`deliver` is the machines' one generic entry: one lookup
(:meth:`~rtcstate.machine.MachineSpec.deliver`), rows run, or the declared ``Drop``.

A finished transfer still answers a few inputs: it repeats its last word to a peer that missed
it and notes whether its channel is up. Final states take no rows, so those pairs are declared
ignored with a reason of their own, and ``replies`` (declared data too, next to the verdicts)
maps such a reason to the method that gives the effects instead of the ``Drop``. :func:`flatten`
turns the readable form of verdicts (trigger -> {state or states: verdict}) into the
compiler's keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect
from rtcstate.machine import MachineDefinitionError, MachineSpec, Verdict

__all__ = ["check_replies", "deliver", "flatten"]

States = str | Iterable[str]


def flatten(
    by_trigger: Mapping[str, Verdict | Mapping[States, Verdict]],
) -> dict[str | tuple[str, str], Verdict]:
    """``{trigger: verdict}`` (every state without a row) or ``{trigger: {state(s): verdict}}``
    -> the compiler's ``{trigger | (trigger, state): verdict}``."""
    out: dict[str | tuple[str, str], Verdict] = {}
    for trigger, value in by_trigger.items():
        if not isinstance(value, Mapping):
            out[trigger] = value
            continue
        for states, verdict in value.items():
            for state in (states,) if isinstance(states, str) else states:
                if (trigger, state) in out:
                    raise MachineDefinitionError(f"{trigger}: two verdicts for {state}")
                out[(trigger, state)] = verdict
    return out


def check_replies(spec: MachineSpec, replies: Mapping[DropReason, str]) -> None:
    """Every reply names a method of the machine class (run once, at import)."""
    for reason, name in replies.items():
        if not callable(getattr(spec.cls, name, None)):
            raise MachineDefinitionError(f"{spec.name}: reply {name} for {reason} is no method")


def deliver(
    spec: MachineSpec,
    obj: Any,
    key: object,
    value: object,
    now: float,
    why: str | None,
    replies: Mapping[DropReason, str],
    settle: Callable[[list[Effect], float], None] | None = None,
    **kw: Any,
) -> list[Effect]:
    """Run one input through the compiled routes; never raises for an input.

    Rows run with ``(fx, now, **kw)`` (then ``settle``); a declared ``Drop`` gets ``why`` as
    its detail when given (``None``: ``"<frame type> in <STATE>"`` for a frame), or, if its
    reason has a reply, is replaced by the reply's effects.
    """
    fx: list[Effect] = []
    if spec.deliver(obj, key, value, fx, now, **kw):
        if settle is not None:
            settle(fx, now)
        return fx
    if fx and type(fx[-1]) is Drop:
        drop = fx[-1]
        reply = replies.get(drop.reason)  # type: ignore[call-overload]
        if reply is not None:
            out: list[Effect] = getattr(obj, reply)(now, **kw)
            return out
        if why is None and "frame" in kw:
            why = f"{type(kw['frame']).__name__} in {obj.state.name}"
        if why:
            fx[-1] = Drop(drop.reason, why)
    return fx
