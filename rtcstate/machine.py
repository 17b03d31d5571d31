"""The table compiler: one declaration feeds runtime, validation, diagrams and tests.

Theory of operation
-------------------
Every rtcstate machine declares its behaviour as data: a states ``enum.Enum`` and a list of
transitions in the dict format the ``transitions`` package takes (``trigger``, ``source``,
``dest``, ``conditions``, ``unless``, ``before``, ``after``; callbacks are method *names*).
The :func:`machine` class decorator runs once per class, at import:

1. it refuses any ``transitions`` feature the compiler does not reproduce (wildcard or
   reflexive shorthands, internal transitions, ``prepare``, callables instead of names, unknown
   keys), so behaviour is never silently changed;
2. it checks what ``transitions`` does not: every ``source``/``dest`` is a declared state, every
   state is reachable from the initial state, no transition leaves a state declared final, and
   every callback names a method of the class;
3. it hands the same declaration to ``transitions.Machine`` once, which validates it again and
   later draws the Mermaid diagram (:meth:`MachineSpec.mermaid`);
4. it compiles a dispatch table ``{state: {trigger: (transition, ...)}}`` with callbacks
   resolved to plain functions.

At run time :meth:`MachineSpec.fire` looks the (state, trigger) pair up in that table. A pair
that is not in the table raises :class:`~rtcstate.errors.InvalidStateError` carrying the apiRTC
error number declared for the trigger (``ERROR_WRONG_STATE`` by default) *before* any callback
runs, so the object is untouched. Otherwise the transitions for the pair are tried in
declaration order exactly as ``transitions`` does: all ``conditions`` true and all ``unless``
false selects one; its ``before`` callbacks run, ``state`` is assigned, its ``after`` callbacks
run, and ``fire`` returns ``True``. If no candidate passes its conditions, nothing changes and
``fire`` returns ``False`` (``transitions`` returns ``False`` too). All positional and keyword
arguments of ``fire`` are passed to every condition and callback, as ``transitions`` does with
``send_event=False``.

Objects keep their state in a ``state`` attribute holding an enum member; they are ordinary
attrs ``slots`` classes, so a call costs a few hundred bytes, not a ``transitions.Machine``
(DESIGN.md §3 measured 33–69 KB and 9–15 µs per event for that). A differential test drives
random trigger sequences through both engines and requires identical states, results and
callback sequences (:meth:`MachineSpec.transitions_twin`).
"""

from __future__ import annotations

import copy
import enum
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from rtcstate.codes import ErrorNumber
from rtcstate.errors import InvalidStateError

__all__ = [
    "MachineDefinitionError",
    "MachineSpec",
    "StateMachine",
    "Transition",
    "all_machines",
    "machine",
    "spec_of",
]

Callback = Callable[..., Any]

_ALLOWED_KEYS = frozenset({"trigger", "source", "dest", "conditions", "unless", "before", "after"})
_CALLBACK_KEYS = ("conditions", "unless", "before", "after")


class MachineDefinitionError(Exception):
    """A transition table is invalid or uses a feature the compiler does not reproduce."""


class StateMachine(Protocol):
    """What the compiler needs of an object: a ``state`` attribute holding an enum member."""

    state: Any


@attrs.frozen(slots=True)
class Transition:
    """One normalised row of a declaration (a single source state)."""

    trigger: str
    source: str
    dest: str
    conditions: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@attrs.frozen(slots=True)
class _Compiled:
    row: Transition
    dest: enum.Enum
    conditions: tuple[Callback, ...]
    unless: tuple[Callback, ...]
    before: tuple[Callback, ...]
    after: tuple[Callback, ...]


def _names(value: object, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise MachineDefinitionError(
        f"{where}: {key!r} must be a method name or a list of names, got {value!r} "
        "(callables are refused: the table is data)"
    )


class MachineSpec:
    """The compiled form of one machine class's declaration."""

    def __init__(
        self,
        cls: type,
        states: type[enum.Enum],
        declaration: Sequence[Mapping[str, Any]],
        initial: enum.Enum,
        final: Iterable[enum.Enum],
        errors: Mapping[str | tuple[str, str], ErrorNumber],
        default_error: ErrorNumber,
    ) -> None:
        self.cls = cls
        self.name = cls.__name__
        self.states = states
        self.initial = initial
        self.final = frozenset(final)
        self.errors = dict(errors)
        self.default_error = default_error
        self.declaration = [dict(row) for row in declaration]
        self.transitions = self._normalise(self.declaration)
        self.triggers = tuple(dict.fromkeys(t.trigger for t in self.transitions))
        self._validate()
        self._check_with_transitions()
        self.table = self._compile()

    # --- construction -------------------------------------------------------------------------

    def _normalise(self, declaration: Sequence[Mapping[str, Any]]) -> tuple[Transition, ...]:
        by_name = self.states.__members__
        rows: list[Transition] = []
        for index, row in enumerate(declaration):
            where = f"{self.name} transition #{index}"
            unknown = set(row) - _ALLOWED_KEYS
            if unknown:
                raise MachineDefinitionError(
                    f"{where}: unsupported key(s) {sorted(unknown)}; the compiler reproduces "
                    f"only {sorted(_ALLOWED_KEYS)}"
                )
            for key in ("trigger", "source", "dest"):
                if key not in row:
                    raise MachineDefinitionError(f"{where}: missing {key!r}")
            trigger = row["trigger"]
            if not isinstance(trigger, str) or not trigger.isidentifier():
                raise MachineDefinitionError(f"{where}: trigger must be an identifier")
            dest = row["dest"]
            if not isinstance(dest, str):
                raise MachineDefinitionError(
                    f"{where}: dest must be a state name (internal transitions, dest=None, "
                    "are refused)"
                )
            if dest == "=":
                raise MachineDefinitionError(f"{where}: reflexive dest '=' is refused")
            sources = row["source"]
            if sources == "*":
                raise MachineDefinitionError(f"{where}: wildcard source '*' is refused")
            source_names = _names(sources, "source", where)
            if not source_names:
                raise MachineDefinitionError(f"{where}: empty source")
            for state_name in (*source_names, dest):
                if state_name not in by_name:
                    raise MachineDefinitionError(f"{where}: unknown state {state_name!r}")
            callbacks = {key: _names(row.get(key), key, where) for key in _CALLBACK_KEYS}
            for source in source_names:
                rows.append(Transition(trigger, source, dest, **callbacks))
        return tuple(rows)

    def _validate(self) -> None:
        names = self.states.__members__
        if self.initial not in self.states:
            raise MachineDefinitionError(f"{self.name}: initial state not in {self.states}")
        for t in self.transitions:
            if names[t.source] in self.final:
                raise MachineDefinitionError(
                    f"{self.name}: final state {t.source} has an outgoing transition "
                    f"({t.trigger} -> {t.dest})"
                )
            for key in _CALLBACK_KEYS:
                for cb in getattr(t, key):
                    if not callable(getattr(self.cls, cb, None)):
                        raise MachineDefinitionError(
                            f"{self.name}: {key} callback {cb!r} of {t.trigger} is not a "
                            "method of the class"
                        )
            if t.trigger in self.cls.__dict__ and not callable(self.cls.__dict__[t.trigger]):
                raise MachineDefinitionError(f"{self.name}: trigger {t.trigger} shadows a field")
        reached = {self.initial.name}
        queue = deque([self.initial.name])
        while queue:
            here = queue.popleft()
            for t in self.transitions:
                if t.source == here and t.dest not in reached:
                    reached.add(t.dest)
                    queue.append(t.dest)
        unreachable = [s.name for s in self.states if s.name not in reached]
        if unreachable:
            raise MachineDefinitionError(f"{self.name}: unreachable state(s) {unreachable}")
        for entry in self.errors:
            trigger, state = entry if isinstance(entry, tuple) else (entry, "")
            if trigger not in self.triggers or (state and state not in names):
                raise MachineDefinitionError(f"{self.name}: error mapping for unknown {entry}")

    def _transitions_kwargs(self) -> dict[str, Any]:
        return {
            "states": self.states,
            "transitions": [dict(row) for row in self.declaration],
            "initial": self.initial,
            "auto_transitions": False,
            "send_event": False,
            "ignore_invalid_triggers": False,
            "queued": False,
        }

    def _check_with_transitions(self) -> None:
        from transitions import Machine

        try:
            Machine(model=None, **self._transitions_kwargs())
        except Exception as exc:  # transitions raises ValueError/MachineError variously
            raise MachineDefinitionError(f"{self.name}: transitions refused it: {exc}") from exc

    @staticmethod
    def _bind(cls: type, t: Transition, dest: enum.Enum) -> _Compiled:
        def resolve(names: tuple[str, ...]) -> tuple[Callback, ...]:
            return tuple(getattr(cls, n) for n in names)

        return _Compiled(
            t, dest, resolve(t.conditions), resolve(t.unless), resolve(t.before), resolve(t.after)
        )

    def _compile(self) -> dict[enum.Enum, dict[str, tuple[_Compiled, ...]]]:
        members = self.states.__members__
        table: dict[enum.Enum, dict[str, list[_Compiled]]] = {s: {} for s in self.states}
        for t in self.transitions:
            table[members[t.source]].setdefault(t.trigger, []).append(
                self._bind(self.cls, t, members[t.dest])
            )
        return {s: {k: tuple(v) for k, v in row.items()} for s, row in table.items()}

    def rebound(self, cls: type) -> MachineSpec:
        """This compiled table with its callbacks looked up on ``cls`` (a subclass).

        The table itself (candidate order, destinations) is this spec's, so tests that wrap
        callbacks in a subclass still exercise the very table the runtime uses.
        """
        clone = copy.copy(self)
        clone.cls = cls
        clone.table = {
            s: {k: tuple(self._bind(cls, c.row, c.dest) for c in v) for k, v in row.items()}
            for s, row in self.table.items()
        }
        return clone

    # --- run time -----------------------------------------------------------------------------

    def allowed(self, state: enum.Enum, trigger: str) -> bool:
        """Whether ``trigger`` has at least one transition from ``state``."""
        return trigger in self.table[state]

    def destinations(self, state: enum.Enum, trigger: str) -> frozenset[enum.Enum]:
        """Every state ``trigger`` may lead to from ``state`` (empty if not allowed)."""
        return frozenset(c.dest for c in self.table[state].get(trigger, ()))

    def error_for(self, trigger: str, state: enum.Enum | None = None) -> ErrorNumber:
        """The apiRTC error number raised when ``trigger`` is not allowed (in ``state``)."""
        if state is not None:
            code = self.errors.get((trigger, state.name))
            if code is not None:
                return code
        return self.errors.get(trigger, self.default_error)

    def invalid(self, obj: StateMachine, trigger: str) -> InvalidStateError:
        """The error :meth:`fire` raises for ``trigger`` in ``obj``'s current state."""
        return InvalidStateError(
            self.error_for(trigger, obj.state), self.name, trigger, obj.state.name
        )

    def fire(self, obj: StateMachine, trigger: str, *args: Any, **kwargs: Any) -> bool:
        """Run ``trigger`` on ``obj``; see the module docstring for the exact semantics."""
        candidates = self.table[obj.state].get(trigger)
        if candidates is None:
            if trigger not in self.triggers:
                raise ValueError(f"{self.name} has no trigger {trigger!r}")
            raise self.invalid(obj, trigger)
        for c in candidates:
            if (c.conditions or c.unless) and not self._passes(c, obj, args, kwargs):
                continue
            for cb in c.before:
                cb(obj, *args, **kwargs)
            obj.state = c.dest
            for cb in c.after:
                cb(obj, *args, **kwargs)
            return True
        return False

    @staticmethod
    def _passes(c: _Compiled, obj: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        for cond in c.conditions:
            if not cond(obj, *args, **kwargs):
                return False
        return all(not unl(obj, *args, **kwargs) for unl in c.unless)

    # --- diagrams and differential twin ------------------------------------------------------

    def transitions_twin(self, model: object) -> Any:
        """A ``transitions.Machine`` driving ``model`` with this very declaration.

        ``model`` must be an ordinary (non-slots) object whose ``state`` attribute the twin
        may set and whose callbacks it may call; tests wrap a real machine object in a proxy.
        Drive it with ``twin.events[trigger].trigger(model, *args)``.
        """
        from transitions import Machine

        return Machine(model=model, **self._transitions_kwargs())

    def mermaid(self) -> str:
        """The Mermaid ``stateDiagram-v2`` source, drawn by ``transitions``."""
        from transitions.extensions.diagrams import GraphMachine

        class _Model:
            pass

        model = _Model()
        kwargs = self._transitions_kwargs()
        GraphMachine(
            model=model,
            graph_engine="mermaid",
            show_conditions=True,
            title=self.name,
            **kwargs,
        )
        graph = model.get_graph()  # type: ignore[attr-defined]
        text: str = graph.draw(None)
        # drop transitions' styling of the "current" state: a class diagram has no current state
        lines = [
            line.rstrip()
            for line in text.splitlines()
            if not line.lstrip().startswith(("classDef ", "Class "))
        ]
        if self.final:
            lines.extend(f"  {s.name} --> [*]" for s in self.states if s in self.final)
        return "\n".join(lines) + "\n"


_T = TypeVar("_T", bound=type)
_REGISTRY: dict[str, MachineSpec] = {}


def machine(
    states: type[enum.Enum],
    transitions: Sequence[Mapping[str, Any]],
    *,
    initial: enum.Enum,
    final: Iterable[enum.Enum] = (),
    errors: Mapping[str | tuple[str, str], ErrorNumber] | None = None,
    default_error: ErrorNumber = ErrorNumber.ERROR_WRONG_STATE,
) -> Callable[[_T], _T]:
    """Class decorator: validate and compile ``transitions`` for the decorated class.

    Put it *above* ``@attrs.define(slots=True)`` so it sees the final class. The class must
    have a ``state`` attribute. ``errors`` maps a trigger, or a ``(trigger, state name)`` pair, to
    the apiRTC error number raised when the trigger is not allowed in the current state (the
    pair wins over the bare trigger; otherwise ``default_error``).
    """

    def decorate(cls: _T) -> _T:
        has_state = "state" in getattr(cls, "__slots__", ()) or any(
            "state" in getattr(base, "__slots__", ()) for base in cls.__mro__
        )
        if attrs.has(cls):
            has_state = has_state or "state" in attrs.fields_dict(cls)
        if not has_state:
            raise MachineDefinitionError(f"{cls.__name__} needs a 'state' attribute")
        spec = MachineSpec(cls, states, transitions, initial, final, errors or {}, default_error)
        cls.__rtc_spec__ = spec  # type: ignore[attr-defined]
        _REGISTRY[spec.name] = spec
        return cls

    return decorate


def spec_of(obj_or_cls: object) -> MachineSpec:
    """The :class:`MachineSpec` of a machine class or instance."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    spec = getattr(cls, "__rtc_spec__", None)
    if not isinstance(spec, MachineSpec):
        raise TypeError(f"{cls.__name__} is not an rtcstate machine")
    return spec


def all_machines() -> dict[str, MachineSpec]:
    """Every machine class compiled so far, by name (import the modules first)."""
    return dict(_REGISTRY)
