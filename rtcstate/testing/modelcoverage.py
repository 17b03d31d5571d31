"""Coverage of the model: which (machine, state, input) pairs and which codes a test run exercised.

Theory of operation
-------------------
Line coverage says which lines ran; it cannot say that ``hangup`` was never tried while a call
was ``RINGING``, or that no test ever saw ``Drop("late-candidate")``. Every rtcstate machine
goes through two entry points of its :class:`~rtcstate.machine.MachineSpec`: :meth:`fire` (a
trigger, from a command or from the machine's own code) and :meth:`deliver` (a declared input:
a wire message class, a media report class, a timer id). :class:`ModelCoverage` wraps those two
methods on the class while it is installed (nothing is wrapped otherwise: a run without it pays
nothing) and records, for each call, the machine, the state it was in, the trigger or input and
what happened (``ran``: a transition was taken; ``blocked``: every candidate's conditions
failed; ``ignored``: a declared ignore; ``refused``: an ``InvalidStateError``; ``dropped``: an
input answered with a ``Drop``). It also wraps the constructors of the ``Drop`` and ``Emit``
effects, wherever they are made (a machine, the session, the hub), to record every drop reason
and the codes the application is told (the ``reason`` / ``errorCode`` / ``code`` fields of an
``Emit`` payload); a refusal gives its apiRTC error number.

:meth:`ModelCoverage.report` compares that with the model's universe (every machine compiled so
far: its table rows, its declared inputs, every :class:`~rtcstate.drops.DropReason` member, the
:class:`~rtcstate.codes.HangupReason`, :class:`~rtcstate.codes.ErrorCode` and
:class:`~rtcstate.codes.ErrorNumber` members) and lists what was never exercised;
:func:`summary` renders it in a few lines. The pytest plugin's ``--rtcstate-coverage PATH``
does all of this around a test run (docs/testing.md).
"""

from __future__ import annotations

import enum
import importlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from rtcstate.codes import ErrorCode, ErrorNumber, HangupReason
from rtcstate.drops import catalogue
from rtcstate.effects import Drop, Emit
from rtcstate.errors import InvalidStateError
from rtcstate.machine import MachineSpec, all_machines
from rtcstate.machine_steps import Step

__all__ = ["MACHINE_MODULES", "ModelCoverage", "summary"]

#: modules whose machines make the universe (imported by :meth:`ModelCoverage.report`)
MACHINE_MODULES = (
    "rtcstate.session",
    "rtcstate.call",
    "rtcstate.invitation",
    "rtcstate.datachannel",
    "rtcstate.filetransfer",
    "rtcstate.hub",
    "rtcstate.transfer",
)

_PAYLOAD_CODES = ("reason", "errorCode", "code")

Pair = tuple[str, str, str]  # machine, state, trigger or input


def _key_name(key: object) -> str:
    return key.__name__ if isinstance(key, type) else str(key)


class ModelCoverage:
    """Records what the machines did while installed (see the module docstring)."""

    def __init__(self) -> None:
        #: (machine, state, trigger) -> outcome -> count
        self.triggers: dict[Pair, Counter[str]] = {}
        #: (machine, state, input) -> outcome -> count
        self.inputs: dict[Pair, Counter[str]] = {}
        self.drops: Counter[str] = Counter()
        self.codes: Counter[str] = Counter()
        self.numbers: Counter[int] = Counter()
        self._saved: tuple[Any, Any, Any, Any] | None = None
        self._steps_saved: list[tuple[dict[object, Step], object, Step]] = []
        self._quiet = False

    # --- recording ----------------------------------------------------------------------------

    def install(self) -> None:
        """Wrap :meth:`MachineSpec.fire` and :meth:`MachineSpec.deliver` (once)."""
        if self._saved is not None:
            return
        fire, deliver = MachineSpec.fire, MachineSpec.deliver
        drop_init, emit_init = Drop.__init__, Emit.__init__
        self._saved = (fire, deliver, drop_init, emit_init)
        recorder = self

        def drop_recorded(effect: Drop, *args: Any, **kwargs: Any) -> None:
            drop_init(effect, *args, **kwargs)
            if not recorder._quiet:
                recorder.drops[str(effect.reason)] += 1

        def emit_recorded(effect: Emit, *args: Any, **kwargs: Any) -> None:
            emit_init(effect, *args, **kwargs)
            recorder.emitted(effect)

        def fire_recorded(
            spec: MachineSpec, obj: Any, trigger: str, *args: Any, **kwargs: Any
        ) -> bool:
            state = obj.state
            try:
                result = fire(spec, obj, trigger, *args, **kwargs)
            except InvalidStateError as exc:
                recorder._trigger(spec, state, trigger, "refused")
                recorder.numbers[int(exc.code)] += 1
                raise
            if result:
                outcome = "ran"
            elif spec.ignored(state, trigger):
                outcome = "ignored"
            else:
                outcome = "blocked"
            recorder._trigger(spec, state, trigger, outcome)
            return bool(result)

        def deliver_recorded(
            spec: MachineSpec,
            obj: Any,
            key: object,
            value: object,
            fx: list[Any],
            *args: Any,
            **kwargs: Any,
        ) -> bool:
            state = obj.state
            result = deliver(spec, obj, key, value, fx, *args, **kwargs)
            recorder._quiet = True  # the Drop that outcome() describes is not one more drop
            try:
                outcome = spec.outcome(state, key, value)
            finally:
                recorder._quiet = False
            if isinstance(outcome, str):
                recorder._trigger(spec, state, outcome, "ran" if result else "blocked")
                label = "ran" if result else "blocked"
            else:
                label = "dropped"
            pair = (spec.name, state.name, _key_name(key))
            recorder.inputs.setdefault(pair, Counter())[label] += 1
            return bool(result)

        MachineSpec.fire = fire_recorded  # type: ignore[method-assign,assignment]
        MachineSpec.deliver = deliver_recorded  # type: ignore[method-assign,assignment]
        Drop.__init__ = drop_recorded  # type: ignore[method-assign,assignment]
        Emit.__init__ = emit_recorded  # type: ignore[method-assign,assignment]
        self._wrap_steps()

    def _wrap_steps(self) -> None:
        """The compiled steps (:meth:`MachineSpec.steps`, the hot paths' dispatch) go through
        :meth:`MachineSpec.deliver` while recording: the same rows, so the same outcome, seen.
        Replaced in place in the step tables the machines hold (put back by uninstall)."""
        for name in MACHINE_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:  # pragma: no cover - a module renamed by a refactor
                continue
        for spec in all_machines().values():
            for names, compiled in spec._steps.items():
                for row in compiled.values():
                    for key, step in list(row.items()):
                        self._steps_saved.append((row, key, step))
                        row[key] = _through_deliver(spec, key, names)

    def uninstall(self) -> None:
        """Put the wrapped methods back."""
        if self._saved is None:
            return
        fire, deliver, drop_init, emit_init = self._saved
        MachineSpec.fire = fire  # type: ignore[method-assign]
        MachineSpec.deliver = deliver  # type: ignore[method-assign]
        Drop.__init__ = drop_init  # type: ignore[method-assign]
        Emit.__init__ = emit_init  # type: ignore[method-assign]
        for row, key, step in reversed(self._steps_saved):
            row[key] = step
        self._steps_saved.clear()
        self._saved = None

    def _trigger(self, spec: MachineSpec, state: enum.Enum, trigger: str, outcome: str) -> None:
        self.triggers.setdefault((spec.name, state.name, trigger), Counter())[outcome] += 1

    def emitted(self, effect: Emit) -> None:
        """Record the codes of an ``Emit`` payload."""
        if isinstance(effect.payload, Mapping):
            for field in _PAYLOAD_CODES:
                value = effect.payload.get(field)
                if isinstance(value, str | int) and not isinstance(value, bool):
                    self.codes[str(value)] += 1

    # --- reporting ----------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """The JSON-able report: per machine, rows and inputs exercised and missed; reasons
        and codes seen and never seen."""
        for name in MACHINE_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:  # pragma: no cover - a module renamed by a refactor
                continue
        machines: dict[str, Any] = {}
        for name, spec in sorted(all_machines().items()):
            rows = sorted(
                (s.name, t) for s, row in spec.table.items() for t in row if not _final(spec, s)
            )
            inputs = sorted((s.name, _key_name(k)) for s in spec.states for k in spec.input_keys())
            hit_rows = {(s, t) for (m, s, t), c in self.triggers.items() if m == name and c["ran"]}
            hit_inputs = {(s, k) for (m, s, k) in self.inputs if m == name}
            machines[name] = {
                "rows": len(rows),
                "rows_exercised": len([r for r in rows if r in hit_rows]),
                "rows_missed": [f"{s} --{t}-->" for s, t in rows if (s, t) not in hit_rows],
                "inputs": len(inputs),
                "inputs_exercised": len([i for i in inputs if i in hit_inputs]),
                "inputs_missed": [f"{s} <- {k}" for s, k in inputs if (s, k) not in hit_inputs],
                "refused": sorted(
                    f"{s} --{t}-->"
                    for (m, s, t), c in self.triggers.items()
                    if m == name and c["refused"]
                ),
            }
        reasons = sorted({str(r) for members in catalogue().values() for r in members})
        codes = sorted({str(c.value) for c in (*HangupReason, *ErrorCode)})
        numbers = sorted(int(n) for n in ErrorNumber)
        return {
            "machines": machines,
            "drop_reasons": _seen(reasons, self.drops),
            "codes": _seen(codes, self.codes),
            "error_numbers": _seen(numbers, self.numbers),
        }


def _through_deliver(spec: MachineSpec, key: object, names: tuple[str, ...]) -> Step:
    def step(obj: Any, value: Any, fx: list[Any], now: float, *values: Any) -> bool:
        return spec.deliver(obj, key, value, fx, now, **dict(zip(names, values, strict=True)))

    return step


def _final(spec: MachineSpec, state: enum.Enum) -> bool:
    return not spec.table.get(state)


def _seen(universe: list[Any], counts: Mapping[Any, int]) -> dict[str, Any]:
    return {
        "total": len(universe),
        "exercised": len([u for u in universe if counts.get(u)]),
        "missed": [u for u in universe if not counts.get(u)],
        "outside": sorted(str(k) for k in counts if k not in universe),
    }


def summary(report: Mapping[str, Any], *, width: int = 6) -> list[str]:
    """A readable summary of :meth:`ModelCoverage.report`: one line per machine, then the
    reasons and codes, then the first few missed items of each."""
    lines = ["model coverage (rtcstate): exercised / declared"]
    rows = inputs = rows_hit = inputs_hit = 0
    for name, m in report["machines"].items():
        rows += m["rows"]
        rows_hit += m["rows_exercised"]
        inputs += m["inputs"]
        inputs_hit += m["inputs_exercised"]
        lines.append(
            f"  {name:<30} transitions {m['rows_exercised']:>{width}}/{m['rows']:<{width}}"
            f" (state, input) {m['inputs_exercised']:>{width}}/{m['inputs']}"
        )
    lines.append(
        f"  {'all machines':<30} transitions {rows_hit:>{width}}/{rows:<{width}}"
        f" (state, input) {inputs_hit:>{width}}/{inputs}"
    )
    for key, title in (
        ("drop_reasons", "drop reasons"),
        ("codes", "hangup reasons and error codes"),
        ("error_numbers", "apiRTC error numbers"),
    ):
        part = report[key]
        missed = ", ".join(str(x) for x in part["missed"][:8])
        more = "" if len(part["missed"]) <= 8 else f", ... ({len(part['missed'])} in all)"
        lines.append(f"  {title}: {part['exercised']}/{part['total']}")
        if missed:
            lines.append(f"    never seen: {missed}{more}")
    return lines
