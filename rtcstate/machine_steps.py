"""Compiled steps: one generated function per (state, input) pair of a machine's table.

Theory of operation
-------------------
:meth:`rtcstate.machine.MachineSpec.deliver` is the generic dispatch of every input: one
lookup, then a loop over the pair's rows that checks each row's guards, runs its ``before``
callbacks, assigns the state and runs its ``after`` callbacks, passing the keyword arguments
the caller gave. Its cost is the loop, the attribute reads of each compiled row and the keyword
dictionaries, paid on every message.

A *step* does exactly the same for one pair, written out: :func:`rows_step` generates, once per
(state, input, calling convention), a function whose body is the pair's rows unrolled, with the
callbacks, destinations and constant keywords bound as globals of the generated code, and the
keyword arguments passed as positional parameters (``names``, the calling convention, e.g.
``("msg", "sender")``). Each callback is called as ``deliver`` calls it: guards and ``before``
callbacks with every keyword, ``after`` callbacks per their calling plan (none, one, or every
keyword). The trigger keyword of a machine that declares one is a constant of the step.

A step is called ``step(obj, value, fx, now, *values_of_names)`` and returns what ``deliver``
returns (whether a row ran). The table stays the only decision point: steps are compiled from
it and from nothing else (:meth:`~rtcstate.machine.MachineSpec.steps`).
"""

from __future__ import annotations

import enum
import keyword
from collections.abc import Callable, Sequence
from typing import Any, Protocol

Step = Callable[..., bool]
"""``step(obj, value, fx, now, *values)`` -> whether a row ran."""

_RESERVED = frozenset({"obj", "value", "fx", "now", "step"})


class CompiledRow(Protocol):
    """What :func:`rows_step` reads of one compiled row (``rtcstate.machine._Compiled``)."""

    @property
    def dest(self) -> enum.Enum: ...
    @property
    def conditions(self) -> tuple[Callable[..., Any], ...]: ...
    @property
    def unless(self) -> tuple[Callable[..., Any], ...]: ...
    @property
    def before(self) -> tuple[Callable[..., Any], ...]: ...
    @property
    def after_plans(self) -> tuple[tuple[Callable[..., Any], Any], ...]: ...
    @property
    def trigger(self) -> str: ...


def check_names(names: tuple[str, ...]) -> None:
    """Refuse a calling convention the generated code could not take as parameters."""
    if len(set(names)) != len(names):
        raise ValueError(f"repeated keyword in {names!r}")
    for name in names:
        if (
            not name.isidentifier()
            or keyword.iskeyword(name)
            or name.startswith("_")
            or name in _RESERVED
        ):
            raise ValueError(f"{name!r} cannot be a step keyword")


def rows_step(
    rows: Sequence[CompiledRow], names: tuple[str, ...], trigger_keyword: str | None, label: str
) -> Step:
    """The step running ``rows`` (one pair's candidates, in declaration order) for callers
    passing the keywords ``names``; ``label`` names the generated code in tracebacks."""
    check_names(names)
    env: dict[str, Any] = {}
    given = [n for n in names if n != trigger_keyword]
    every = [f"{n}={n}" for n in given]
    if trigger_keyword is not None and rows:
        env["_T"] = rows[0].trigger  # deliver passes the first candidate's trigger
        every.append(f"{trigger_keyword}=_T")
    everything = "".join(f", {k}" for k in every)
    params = "".join(f", {n}" for n in names)
    lines = [f"def step(obj, value, fx, now{params}):"]

    def bind(prefix: str, value: object) -> str:
        var = f"_{prefix}{len(env)}"
        env[var] = value
        return var

    for row in rows:
        indent = "    "
        tests = [f"{bind('c', cb)}(obj, fx, now{everything})" for cb in row.conditions]
        tests += [f"not {bind('u', cb)}(obj, fx, now{everything})" for cb in row.unless]
        if tests:
            lines.append(f"    if {' and '.join(tests)}:")
            indent = "        "
        lines.extend(f"{indent}{bind('b', cb)}(obj, fx, now{everything})" for cb in row.before)
        lines.append(f"{indent}obj.state = {bind('d', row.dest)}")
        for cb, plan in row.after_plans:
            fn = bind("a", cb)
            if plan is None:
                lines.append(f"{indent}{fn}(obj, fx, now{everything})")
            elif plan:
                name, default = plan
                if name == trigger_keyword and rows:
                    arg = "_T"
                elif name in names:
                    arg = name
                else:
                    arg = bind("k", default)
                lines.append(f"{indent}{fn}(obj, fx, now, {arg})")
            else:
                lines.append(f"{indent}{fn}(obj, fx, now)")
        lines.append(f"{indent}return True")
    lines.append("    return False")
    exec(compile("\n".join(lines), f"<step {label}>", "exec"), env)
    step: Step = env["step"]
    return step
