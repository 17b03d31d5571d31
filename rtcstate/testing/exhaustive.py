"""Exhaustive (state, input) checks and the differential test against ``transitions``.

Two reusable checks for any machine built with :func:`rtcstate.machine.machine`:

* :func:`check_pair` puts a fresh object in ``state``, fires ``trigger`` with arguments drawn by
  Hypothesis and requires that the pair is either a legal transition (``True``: the new state is
  one the table allows; ``False``: every candidate's conditions failed and nothing changed) or a
  typed rejection (:class:`~rtcstate.errors.InvalidStateError` with the declared apiRTC error
  number) that left the object exactly as it was. :func:`pairs` lists every pair, for
  ``pytest.mark.parametrize``.
* :func:`check_differential` drives random trigger sequences, valid and invalid, through the
  compiled table and through a ``transitions.Machine`` built from the same declaration, and
  requires identical results, states and callback sequences at every step.

Both import Hypothesis, so this module is for tests only (the core never imports it).
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transitions.core import MachineError

from rtcstate.effects import Effect
from rtcstate.errors import InvalidStateError
from rtcstate.machine import MachineSpec, spec_of

__all__ = [
    "check_differential",
    "check_input_pair",
    "check_pair",
    "input_pairs",
    "pairs",
    "snapshot",
]

Args = tuple[tuple[Any, ...], dict[str, Any]]


def pairs(cls: type) -> list[tuple[enum.Enum, str]]:
    """Every (state, trigger) pair of machine class ``cls``."""
    spec = spec_of(cls)
    return [(s, t) for s in spec.states for t in spec.triggers]


def snapshot(obj: object) -> Any:
    """A comparable value of every attribute of an attrs object, recursively.

    attrs objects (machines are ``eq=False``) become ``(class name, ((field, value), ...))``,
    containers become tuples, so two snapshots are equal exactly when every reachable field
    is; a reference back to an object already being described (a call's session, which holds
    the call) is cut as ``("<cycle>", class name)``.
    """
    return _value(obj, frozenset())


def _value(obj: object, seen: frozenset[int]) -> Any:
    kind = type(obj)
    if attrs.has(kind):
        if id(obj) in seen:
            return ("<cycle>", kind.__name__)
        inner = seen | {id(obj)}
        fields = attrs.fields(kind)
        return (kind.__name__, tuple((f.name, _value(getattr(obj, f.name), inner)) for f in fields))
    if isinstance(obj, dict):
        return ("dict", tuple((_value(k, seen), _value(v, seen)) for k, v in obj.items()))
    if isinstance(obj, list | tuple):
        return (kind.__name__, tuple(_value(x, seen) for x in obj))
    if isinstance(obj, set | frozenset):
        return (kind.__name__, frozenset(_value(x, seen) for x in obj))
    return copy.deepcopy(obj)


def _default_args() -> st.SearchStrategy[Args]:
    return st.builds(lambda now: ((now,), {}), st.floats(0, 1e6, allow_nan=False))


def _fx_args(args: Args) -> Args:
    positional, keywords = args
    return ([], *positional), dict(keywords)


def check_pair(
    cls: type,
    state: enum.Enum,
    trigger: str,
    make: Callable[[], Any],
    args: Mapping[str, st.SearchStrategy[Args]] | None = None,
    prepare: Callable[[Any, Any], None] | None = None,
    prepare_values: st.SearchStrategy[Any] | None = None,
    max_examples: int = 25,
    outputs: tuple[type, ...] = (Effect,),
) -> None:
    """Check one (state, trigger) pair of ``cls`` over Hypothesis-drawn arguments.

    ``make()`` builds a fresh object; the check then forces ``state`` into it. ``args[trigger]``
    draws ``(positional, keyword)`` arguments *after* the effects list (default: ``(now,)``).
    ``prepare(obj, value)``, with ``value`` drawn from ``prepare_values``, may set up fields the
    conditions read before the trigger fires. ``outputs``: the types a callback may append (a
    sub-machine also hands its owner typed decisions, not only effects).
    """
    spec = spec_of(cls)
    arg_strategy = (args or {}).get(trigger, _default_args())
    value_strategy = prepare_values if prepare_values is not None else st.none()

    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
    )
    @given(drawn=arg_strategy, value=value_strategy)
    def run(drawn: Args, value: Any) -> None:
        obj = make()
        obj.state = state
        if prepare is not None:
            prepare(obj, value)
        before = snapshot(obj)
        positional, keywords = _fx_args(drawn)
        fx = positional[0]
        if not spec.allowed(state, trigger) and spec.ignored(state, trigger):
            assert spec.fire(obj, trigger, *positional, **keywords) is False
            assert snapshot(obj) == before, f"ignored {trigger} in {state.name} mutated"
            assert fx == []
            return
        if not spec.allowed(state, trigger):
            try:
                spec.fire(obj, trigger, *positional, **keywords)
            except InvalidStateError as exc:
                assert exc.code == spec.error_for(trigger, state), (exc.code, trigger, state)
                assert exc.trigger == trigger and exc.state == state.name
            else:  # pragma: no cover - the assertion is the point
                raise AssertionError(f"{spec.name}: {trigger} in {state.name} did not raise")
            assert snapshot(obj) == before, f"{trigger} in {state.name} mutated the object"
            assert fx == []
            return
        result = spec.fire(obj, trigger, *positional, **keywords)
        if result:
            assert obj.state in spec.destinations(state, trigger), (state, trigger, obj.state)
        else:
            assert snapshot(obj) == before, f"blocked {trigger} in {state.name} mutated"
            assert fx == []
        assert all(isinstance(e, outputs) for e in fx), fx

    run()


def input_pairs(cls: type) -> list[tuple[enum.Enum, object]]:
    """Every (state, declared input key) pair of machine class ``cls`` (wire message classes,
    media report classes and timer ids, as declared in its :class:`~rtcstate.machine.Inputs`)."""
    spec = spec_of(cls)
    return [(s, k) for s in spec.states for k in spec.input_keys()]


def check_input_pair(
    cls: type,
    state: enum.Enum,
    key: object,
    make: Callable[[], Any],
    values: st.SearchStrategy[Any],
    deliver: Callable[[Any, Any, float], list[Effect]],
    prepare: Callable[[Any, Any], None] | None = None,
    prepare_values: st.SearchStrategy[Any] | None = None,
    max_examples: int = 20,
    outputs: tuple[type, ...] = (Effect,),
) -> None:
    """Check one (state, input) pair: whatever the input's content, it never raises.

    ``values`` draws the input (a wire envelope, a media report, a timer id) for ``key``;
    ``deliver(obj, value, now)`` hands it to the machine's generic entry point. The declared
    outcome (:meth:`~rtcstate.machine.MachineSpec.outcome`) must hold: a declared ``Drop``
    appears in the effects and leaves the state as it was; a trigger leads to one of its
    destinations (or, every condition failing, stays). Effects are effects (or ``outputs``).
    """
    spec = spec_of(cls)
    value_strategy = prepare_values if prepare_values is not None else st.none()

    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
    )
    @given(value=values, prep=value_strategy, now=st.floats(0, 1e6, allow_nan=False))
    def run(value: Any, prep: Any, now: float) -> None:
        obj = make()
        obj.state = state
        if prepare is not None:
            prepare(obj, prep)
        outcome = spec.outcome(state, key, _inner(value))
        fx = deliver(obj, value, now)  # must not raise
        assert all(isinstance(e, outputs) for e in fx), fx
        where = f"{spec.name}: {key!r} in {state.name}"
        if isinstance(outcome, str):
            allowed = spec.destinations(state, outcome) | {state}
            assert obj.state in allowed, (where, outcome, obj.state)
        else:
            assert obj.state is state, (where, outcome, obj.state)
            assert outcome in fx or any(type(e).__name__ == "Drop" for e in fx), (where, fx)

    run()


def _inner(value: Any) -> Any:
    """The input a classifier reads: a wire envelope's message, else the value itself."""
    return getattr(value, "message", value)


class _Proxy:
    """A plain object for ``transitions`` that forwards state and callbacks to a target."""

    def __init__(self, target: Any, callbacks: frozenset[str]) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_callbacks", callbacks)

    @property
    def state(self) -> Any:
        return self._target.state

    @state.setter
    def state(self, value: Any) -> None:
        self._target.state = value

    def __getattr__(self, name: str) -> Any:
        if name in object.__getattribute__(self, "_callbacks"):
            return getattr(self._target, name)
        raise AttributeError(name)


def _callback_names(spec: MachineSpec) -> frozenset[str]:
    """Every condition and callback method the table names."""
    return frozenset(
        cb
        for t in spec.transitions
        for key in ("conditions", "unless", "before", "after")
        for cb in getattr(t, key)
    )


def _logging_subclass(spec: MachineSpec) -> type:
    """A subclass of the machine class whose callbacks append their calls to a log."""
    namespace: dict[str, Any] = {}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def logged(self: Any, *a: Any, **k: Any) -> Any:
            result = fn(self, *a, **k)
            log: list[Any] = _LOGS[id(self)]
            log.append((name, a[1:], tuple(sorted(k.items())), result))
            return result

        return logged

    for name in _callback_names(spec):
        namespace[name] = wrap(name, getattr(spec.cls, name))
    return type(f"Logged{spec.name}", (spec.cls,), namespace)


_LOGS: dict[int, list[Any]] = {}


def check_differential(
    cls: type,
    make: Callable[[type], Any],
    args: Mapping[str, st.SearchStrategy[Args]] | None = None,
    prepare: Callable[[Any, Any], None] | None = None,
    prepare_values: st.SearchStrategy[Any] | None = None,
    max_steps: int = 30,
    max_examples: int = 200,
) -> None:
    """Compiled table vs ``transitions.Machine``: identical behaviour on random sequences.

    ``make(klass)`` builds an object of ``klass`` (a logging subclass of ``cls``). At each step
    a trigger (any trigger, valid or not) and its arguments are drawn; ``prepare(obj, value)``
    is applied to both objects identically first. The two objects must agree on: raised or
    not, the return value, the state, the effects and every callback call with its result.
    """
    spec = spec_of(cls)
    sub = _logging_subclass(spec)
    compiled = spec.rebound(sub)
    callbacks = _callback_names(spec)
    arg_map = args or {}
    value_strategy = prepare_values if prepare_values is not None else st.none()
    step = st.sampled_from(spec.triggers).flatmap(
        lambda trig: st.tuples(st.just(trig), arg_map.get(trig, _default_args()), value_strategy)
    )

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(steps=st.lists(step, max_size=max_steps))
    def run(steps: list[tuple[str, Args, Any]]) -> None:
        a = make(sub)
        b = make(sub)
        _LOGS[id(a)] = []
        _LOGS[id(b)] = []
        try:
            twin = spec.transitions_twin(_Proxy(b, callbacks))
            proxy = twin.models[0]
            for trigger, drawn, value in steps:
                if prepare is not None:
                    prepare(a, value)
                    prepare(b, value)
                pa, ka = _fx_args(copy.deepcopy(drawn))
                pb, kb = _fx_args(copy.deepcopy(drawn))
                state_before = a.state
                assert a.state == b.state
                try:
                    ra: Any = compiled.fire(a, trigger, *pa, **ka)
                except InvalidStateError:
                    ra = "invalid"
                try:
                    rb: Any = twin.events[trigger].trigger(proxy, *pb, **kb)
                except MachineError:
                    rb = "invalid"
                where = f"{trigger} from {state_before.name}"
                if ra is False and rb == "invalid" and spec.ignored(state_before, trigger):
                    ra = "invalid"  # a declared ignore: transitions knows only "not allowed"
                assert ra == rb, f"{where}: compiled {ra!r}, transitions {rb!r}"
                assert a.state == b.state, f"{where}: {a.state} != {b.state}"
                assert pa[0] == pb[0], f"{where}: effects differ"
                assert _LOGS[id(a)] == _LOGS[id(b)], f"{where}: callbacks differ"
        finally:
            _LOGS.pop(id(a), None)
            _LOGS.pop(id(b), None)

    run()
