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

Inputs as data
--------------
A machine may also declare, next to its table, how its *inputs* become triggers
(:class:`Inputs`): each wire message type, media report type, timer id and owner notice type
(:mod:`rtcstate.notices`) maps to a trigger,
or to a :class:`Classify` that picks the trigger by one field of the input
(``IceStateChanged.state``). ``verdicts`` says what the pairs without a row mean: an
:class:`Ignore` carrying a :class:`~rtcstate.drops.DropReason` member (ignored on purpose) or
:data:`ILLEGAL` (a command raises :class:`~rtcstate.errors.InvalidStateError` with its apiRTC
number; an input becomes ``Drop(inputs.unexpected)``, never an exception). A verdict is keyed by
trigger (the default for every state without a row) or by ``(trigger, state name)``. The
compiler then requires that every declared input names a known trigger, that every
(state, trigger) pair is a row, an ignore or an illegal verdict, and that a pair with a row has
no verdict; final states accept nothing (their pairs are ILLEGAL unless declared ignored).

At run time :meth:`MachineSpec.deliver` makes one dict lookup, ``{state: {input key:
outcome}}`` compiled at import, and either runs the rows (as :meth:`MachineSpec.fire` does) or
appends the declared ``Drop``. A machine's generic ``receive`` / ``media_event`` /
``timer_fired`` is that one call. :meth:`MachineSpec.outcome` answers "what does this input do
in this state" for the pair tests and the docs. :meth:`MachineSpec.steps` compiles the same
routes into one generated function per (state, input) pair, for the hottest inputs
(:mod:`rtcstate.machine_steps`): the same rows, unrolled, with the keywords passed positionally.
"""

from __future__ import annotations

import copy
import enum
import inspect
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from rtcstate.codes import ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import Drop
from rtcstate.errors import InvalidStateError
from rtcstate.machine_steps import Step, check_names, rows_step

__all__ = [
    "ILLEGAL",
    "Classify",
    "Ignore",
    "Illegal",
    "Inputs",
    "MachineDefinitionError",
    "MachineDrop",
    "MachineSpec",
    "StateMachine",
    "Transition",
    "Verdict",
    "all_machines",
    "machine",
    "spec_of",
    "stay",
]

Callback = Callable[..., Any]

_ALLOWED_KEYS = frozenset({"trigger", "source", "dest", "conditions", "unless", "before", "after"})
_CALLBACK_KEYS = ("conditions", "unless", "before", "after")


class MachineDrop(DropReason):
    """Drop reasons of the compiler itself."""

    UNDECLARED = "undeclared-input"
    """An input reached a machine that declares no inputs at all."""


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


_ALL_KEYWORDS = None
"""Calling plan of a callback that must be given every keyword argument (``cb(obj, *args,
**kwargs)``): it names several of them, or keeps ``**kw`` for reading."""


def _calling_plan(cb: Callback) -> tuple[str, object] | tuple[()] | None:
    """How :meth:`MachineSpec.deliver` may call ``cb(obj, fx, now, ...)`` without rebuilding
    the keyword arguments for it (the hot path of every input; signatures are unchanged).

    ``()``: the callback names no keyword argument (it has at most ``**_``, ignored) and is
    called ``cb(obj, fx, now)``. ``(name, default)``: it names exactly one, as its fourth
    positional parameter, and is called ``cb(obj, fx, now, kwargs.get(name, default))``.
    ``None``: anything else (several names, keyword-only parameters, ``**kw`` that is read):
    ``cb(obj, fx, now, **kwargs)``, exactly as :meth:`MachineSpec.fire` calls it.
    """
    try:
        params = list(inspect.signature(cb).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return _ALL_KEYWORDS
    if len(params) < 3 or any(p.kind is not p.POSITIONAL_OR_KEYWORD for p in params[:3]):
        return _ALL_KEYWORDS
    named: list[inspect.Parameter] = []
    for p in params[3:]:
        if p.kind is p.VAR_KEYWORD:
            if p.name != "_":
                return _ALL_KEYWORDS  # ``**kw``: the callback may read any keyword
        elif p.kind is p.POSITIONAL_OR_KEYWORD:
            named.append(p)
        else:
            return _ALL_KEYWORDS
    if not params[3:] or params[-1].kind is not inspect.Parameter.VAR_KEYWORD:
        return _ALL_KEYWORDS  # no ``**_``: an unexpected keyword must still raise TypeError
    if not named:
        return ()
    if len(named) == 1 and named[0].default is not inspect.Parameter.empty:
        return (named[0].name, named[0].default)
    return _ALL_KEYWORDS


@attrs.frozen(slots=True)
class _Compiled:
    row: Transition
    dest: enum.Enum
    conditions: tuple[Callback, ...]
    unless: tuple[Callback, ...]
    before: tuple[Callback, ...]
    after: tuple[Callback, ...]
    trigger: str = attrs.field(init=False)
    guarded: bool = attrs.field(init=False)
    #: ``after`` with each callback's calling plan (:func:`_calling_plan`), for ``deliver``
    after_plans: tuple[tuple[Callback, Any], ...] = attrs.field(init=False)
    #: no guard and no ``before``: ``deliver`` runs it without the general loop
    plain: bool = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "trigger", self.row.trigger)
        object.__setattr__(self, "guarded", bool(self.conditions or self.unless))
        plans = tuple((cb, _calling_plan(cb)) for cb in self.after)
        object.__setattr__(self, "after_plans", plans)
        object.__setattr__(self, "plain", not (self.guarded or self.before))


@attrs.frozen(slots=True)
class Ignore:
    """Verdict: the pair is ignored on purpose; an input gives ``Drop(reason, detail)``.

    ``detail`` defaults to ``"<trigger> in state <STATE>"``. A command fired on an ignored pair
    changes nothing and returns ``False`` (it does not raise).
    """

    reason: DropReason
    detail: str | None = None


@attrs.frozen(slots=True)
class Illegal:
    """Verdict: the pair is not allowed. A command raises ``InvalidStateError`` with the
    trigger's apiRTC number; an input (wire, media, timer) gives ``Drop(inputs.unexpected)``."""


ILLEGAL = Illegal()
"""The one :class:`Illegal` verdict."""

Verdict = Ignore | Illegal


@attrs.frozen(slots=True)
class Classify:
    """One input type mapped to several triggers by the value of one of its fields.

    ``triggers`` maps a value of ``field`` to a trigger; a value not listed takes ``otherwise``:
    a trigger, an :class:`Ignore` (declared drop) or ``None`` (``Drop(inputs.unexpected)``).
    """

    field: str
    triggers: Mapping[object, str]
    otherwise: str | Ignore | None = None


Route = str | Classify


@attrs.frozen(slots=True)
class Inputs:
    """How a machine's inputs become triggers (see "Inputs as data" above).

    ``wire``, ``media`` and ``notices`` are keyed by message / report / owner-notice class
    (:mod:`rtcstate.notices`: what an owned child tells its owner), ``timers`` by timer id (an
    enum member of the machine's own timer enum); ``unexpected`` is the drop reason of an input
    that is illegal in the current state or not declared at all.
    """

    unexpected: DropReason
    wire: Mapping[type, Route] = attrs.field(factory=dict)
    media: Mapping[type, Route] = attrs.field(factory=dict)
    timers: Mapping[enum.Enum, str] = attrs.field(factory=dict)
    notices: Mapping[type, Route] = attrs.field(factory=dict)

    def routes(self) -> dict[object, Route]:
        """Every declared input key with its route (wire, media, timers, then notices)."""
        out: dict[object, Route] = {}
        for group in (self.wire, self.media, self.timers, self.notices):
            for key, route in group.items():
                if key in out:
                    raise MachineDefinitionError(f"input {key!r} declared twice")
                out[key] = route
        return out


def stay(trigger: str, sources: str | Sequence[str], **callbacks: Any) -> list[dict[str, Any]]:
    """Rows for an input that keeps the state it arrives in (one explicit row per state).

    ``transitions``' internal transitions (``dest: None``) and reflexive shorthand (``"="``)
    are refused by the compiler; this writes the equivalent rows out, ``dest`` = ``source``.
    """
    names = [sources] if isinstance(sources, str) else list(sources)
    return [{"trigger": trigger, "source": n, "dest": n, **callbacks} for n in names]


@attrs.frozen(slots=True)
class _Pick:
    """A compiled :class:`Classify` for one state: field value -> outcome."""

    field: str
    outcomes: Mapping[object, Any]
    otherwise: Any


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
        inputs: Inputs | None = None,
        verdicts: Mapping[str | tuple[str, str], Verdict] | None = None,
        trigger_keyword: str | None = None,
    ) -> None:
        self.cls = cls
        self.trigger_keyword = trigger_keyword
        self.name = cls.__name__
        self.states = states
        self.initial = initial
        self.final = frozenset(final)
        self.errors = dict(errors)
        self.default_error = default_error
        self.declaration = [dict(row) for row in declaration]
        self.transitions = self._normalise(self.declaration)
        self.triggers = tuple(dict.fromkeys(t.trigger for t in self.transitions))
        self.inputs = inputs
        self._validate()
        self._check_with_transitions()
        self.table = self._compile()
        self.verdicts = self._compile_verdicts(verdicts, strict=inputs is not None)
        self.unexpected: DropReason = (
            MachineDrop.UNDECLARED if inputs is None else inputs.unexpected
        )
        self.routes = self._compile_routes()
        # keyed by id(): an Enum's __hash__ is a Python-level call, id() is not
        self._by_state = {id(s): r for s, r in self.routes.items()}
        self._steps: dict[tuple[str, ...], dict[int, dict[object, Step]]] = {}

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

    def _verdict_key(self, key: object) -> tuple[str, str | None]:
        if isinstance(key, str):
            trigger, state = key, None
        elif isinstance(key, tuple) and len(key) == 2:
            trigger, raw = key
            state = raw.name if isinstance(raw, enum.Enum) else raw
        else:
            raise MachineDefinitionError(f"{self.name}: verdict key {key!r}")
        if trigger not in self.triggers:
            raise MachineDefinitionError(f"{self.name}: verdict for unknown trigger {trigger!r}")
        if state is not None and state not in self.states.__members__:
            raise MachineDefinitionError(f"{self.name}: verdict for unknown state {state!r}")
        return trigger, state

    def _compile_verdicts(
        self, declared: Mapping[str | tuple[str, str], Verdict] | None, *, strict: bool
    ) -> dict[enum.Enum, dict[str, Verdict]]:
        """``{state: {trigger: verdict}}`` for every pair without a row (see the docstring)."""
        defaults: dict[str, Verdict] = {}
        pairs: dict[tuple[str, str], Verdict] = {}
        for key, verdict in (declared or {}).items():
            if not isinstance(verdict, Ignore | Illegal):
                raise MachineDefinitionError(f"{self.name}: verdict {verdict!r} for {key!r}")
            if isinstance(verdict, Ignore) and not isinstance(verdict.reason, DropReason):
                raise MachineDefinitionError(
                    f"{self.name}: ignore verdict for {key!r} needs a DropReason member, "
                    f"got {verdict.reason!r}"
                )
            trigger, where = self._verdict_key(key)
            if where is None:
                defaults[trigger] = verdict
            else:
                if trigger in self.table[self.states[where]]:
                    raise MachineDefinitionError(
                        f"{self.name}: ({trigger}, {where}) has a row and a verdict"
                    )
                pairs[(trigger, where)] = verdict
        out: dict[enum.Enum, dict[str, Verdict]] = {s: {} for s in self.states}
        missing: list[str] = []
        for state in self.states:
            rows = self.table[state]
            for trigger in self.triggers:
                if trigger in rows:
                    continue
                found = pairs.get((trigger, state.name), defaults.get(trigger))
                if found is None:
                    if strict and state not in self.final:
                        missing.append(f"({trigger}, {state.name})")
                    found = ILLEGAL
                out[state][trigger] = found
        if missing:
            raise MachineDefinitionError(
                f"{self.name}: pair(s) with neither a row nor a verdict: {', '.join(missing)}"
            )
        return out

    def refusal(self, state: enum.Enum, trigger: str) -> Drop:
        """The ``Drop`` an input firing ``trigger`` gets in ``state`` where it has no row (its
        declared :class:`Ignore`, else ``Drop(inputs.unexpected)``)."""
        return self._refusal(state, trigger)

    def _refusal(self, state: enum.Enum, trigger: str) -> Drop:
        verdict = self.verdicts[state][trigger]
        detail = f"{trigger} in state {state.name}"
        if isinstance(verdict, Ignore):
            return Drop(verdict.reason, detail if verdict.detail is None else verdict.detail)
        return Drop(self.unexpected, detail)

    def _outcome_of(self, state: enum.Enum, trigger: str) -> Any:
        rows = self.table[state].get(trigger)
        return rows if rows is not None else self._refusal(state, trigger)

    def _compile_routes(self) -> dict[enum.Enum, dict[object, Any]]:
        """``{state: {input key: rows | Drop | _Pick}}`` from the inputs declaration."""
        if self.inputs is None:
            return {s: {} for s in self.states}
        declared = self.inputs.routes()

        def check(trigger: object, key: object) -> None:
            if not isinstance(trigger, str) or trigger not in self.triggers:
                raise MachineDefinitionError(
                    f"{self.name}: input {key!r} maps to unknown trigger {trigger!r}"
                )

        for key, route in declared.items():
            if isinstance(route, Classify):
                for trigger in route.triggers.values():
                    check(trigger, key)
                if isinstance(route.otherwise, str):
                    check(route.otherwise, key)
                elif route.otherwise is not None and not isinstance(route.otherwise, Ignore):
                    raise MachineDefinitionError(f"{self.name}: {key!r}: bad otherwise")
            else:
                check(route, key)
        out: dict[enum.Enum, dict[object, Any]] = {}
        for state in self.states:
            compiled: dict[object, Any] = {}
            for key, route in declared.items():
                if isinstance(route, Classify):
                    other = route.otherwise
                    if isinstance(other, str):
                        fallback: Any = self._outcome_of(state, other)
                    elif isinstance(other, Ignore):
                        fallback = Drop(other.reason, other.detail or _describe(key, state))
                    else:
                        fallback = None
                    compiled[key] = _Pick(
                        route.field,
                        {v: self._outcome_of(state, t) for v, t in route.triggers.items()},
                        fallback,
                    )
                else:
                    compiled[key] = self._outcome_of(state, route)
            out[state] = compiled
        return out

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
        clone.routes = clone._compile_routes()
        clone._by_state = {id(s): r for s, r in clone.routes.items()}
        clone._steps = {}
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
            if type(self.verdicts[obj.state][trigger]) is Ignore:
                return False
            raise self.invalid(obj, trigger)
        return self._run(candidates, obj, args, kwargs)

    def ignored(self, state: enum.Enum, trigger: str) -> bool:
        """Whether the pair has an :class:`Ignore` verdict (a command there is a no-op)."""
        return type(self.verdicts[state].get(trigger)) is Ignore

    def deliver(
        self,
        obj: StateMachine,
        key: object,
        value: object,
        fx: list[Any],
        now: float,
        **kwargs: Any,
    ) -> bool:
        """Dispatch one input (``key``: its class or timer id; ``value``: the input itself).

        One lookup in the compiled routes; rows run as in :meth:`fire` with ``(fx, now,
        **kwargs)``; a verdict appends its ``Drop`` to ``fx``. Never raises for an input that
        is illegal here or not declared at all (``Drop(inputs.unexpected)``).
        """
        outcome = self._by_state[id(obj.state)].get(key)
        if outcome is None:
            fx.append(Drop(self.unexpected, _describe(key, obj.state)))
            return False
        if type(outcome) is _Pick:
            picked = outcome.outcomes.get(getattr(value, outcome.field), outcome.otherwise)
            if picked is None:
                fx.append(Drop(self.unexpected, _describe(key, obj.state)))
                return False
            outcome = picked
        if type(outcome) is not tuple:
            fx.append(outcome)
            return False
        # the rows, as _run runs them (inlined: this is the hot path of every input)
        if self.trigger_keyword is not None:
            kwargs[self.trigger_keyword] = outcome[0].trigger  # kwargs is this call's own
        for c in outcome:
            if not c.plain:
                if c.guarded and not self._passes(c, obj, (fx, now), kwargs):
                    continue
                for cb in c.before:
                    cb(obj, fx, now, **kwargs)
            obj.state = c.dest
            # each callback called as its plan says: the same values, no keyword dict rebuilt
            # for a callback that names none or one of them (see _calling_plan)
            for cb, plan in c.after_plans:
                if plan is None:
                    cb(obj, fx, now, **kwargs)
                elif plan:
                    cb(obj, fx, now, kwargs.get(plan[0], plan[1]))
                else:
                    cb(obj, fx, now)
            return True
        return False

    def steps(self, *names: str) -> dict[int, dict[object, Step]]:
        """The compiled steps of every declared input, ``{id(state): {input key: step}}``, for
        callers passing the keywords ``names`` (see :mod:`rtcstate.machine_steps`).

        ``steps(*names)[id(obj.state)][key](obj, value, fx, now, *values)`` does what
        ``deliver(obj, key, value, fx, now, **dict(zip(names, values)))`` does, and returns the
        same; a key without a step (not declared) is :meth:`undeclared`'s. Compiled once per
        convention and cached.
        """
        compiled = self._steps.get(names)
        if compiled is None:
            check_names(names)
            compiled = {
                id(state): {
                    key: self._step(state, key, outcome, names) for key, outcome in row.items()
                }
                for state, row in self.routes.items()
            }
            self._steps[names] = compiled
        return compiled

    def undeclared(self, fx: list[Any], key: object, state: enum.Enum) -> bool:
        """What :meth:`deliver` does for an input ``key`` with no route at all: a ``Drop``."""
        fx.append(Drop(self.unexpected, _describe(key, state)))
        return False

    def _step(self, state: enum.Enum, key: object, outcome: Any, names: tuple[str, ...]) -> Step:
        if type(outcome) is tuple:
            label = f"{self.name}.{state.name}.{_key_name(key)}"
            return rows_step(outcome, names, self.trigger_keyword, label)
        if type(outcome) is _Pick:
            field = outcome.field
            picks = {v: self._step(state, key, o, names) for v, o in outcome.outcomes.items()}
            other = (
                None
                if outcome.otherwise is None
                else self._step(state, key, outcome.otherwise, names)
            )
            unexpected = self.unexpected

            def pick(obj: Any, value: Any, fx: list[Any], now: float, *args: Any) -> bool:
                chosen = picks.get(getattr(value, field), other)
                if chosen is None:
                    fx.append(Drop(unexpected, _describe(key, state)))
                    return False
                return chosen(obj, value, fx, now, *args)

            return pick
        drop = outcome

        def refuse(obj: Any, value: Any, fx: list[Any], now: float, *args: Any) -> bool:
            fx.append(drop)
            return False

        return refuse

    def outcome(self, state: enum.Enum, key: object, value: object = None) -> str | Drop:
        """What input ``key`` (with ``value`` for a classified one) does in ``state``: the
        trigger whose rows run, or the ``Drop`` it gives."""
        outcome = self.routes[state].get(key)
        if outcome is None:
            return Drop(self.unexpected, _describe(key, state))
        if type(outcome) is _Pick:
            outcome = outcome.outcomes.get(getattr(value, outcome.field), outcome.otherwise)
            if outcome is None:
                return Drop(self.unexpected, _describe(key, state))
        if type(outcome) is tuple:
            return str(outcome[0].row.trigger)
        assert isinstance(outcome, Drop)
        return outcome

    def input_keys(self) -> tuple[object, ...]:
        """Every declared input key (message classes, report classes, timer ids)."""
        return () if self.inputs is None else tuple(self.inputs.routes())

    def _run(
        self,
        candidates: tuple[_Compiled, ...],
        obj: StateMachine,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> bool:
        if self.trigger_keyword is not None:
            kwargs[self.trigger_keyword] = candidates[0].trigger  # fire's own kwargs dict
        for c in candidates:
            if c.guarded and not self._passes(c, obj, args, kwargs):
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


def _describe(key: object, state: enum.Enum) -> str:
    return f"{_key_name(key)} in state {state.name}"


def _key_name(key: object) -> str:
    return key.__name__ if isinstance(key, type) else str(key)


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
    inputs: Inputs | None = None,
    verdicts: Mapping[str | tuple[str, str], Verdict] | None = None,
    trigger_keyword: str | None = None,
) -> Callable[[_T], _T]:
    """Class decorator: validate and compile ``transitions`` for the decorated class.

    Put it *above* ``@attrs.define(slots=True)`` so it sees the final class. The class must
    have a ``state`` attribute. ``errors`` maps a trigger, or a ``(trigger, state name)`` pair, to
    the apiRTC error number raised when the trigger is not allowed in the current state (the
    pair wins over the bare trigger; otherwise ``default_error``). ``inputs`` and ``verdicts``
    declare the inputs and the pairs without a row (module docstring, "Inputs as data"); with
    ``inputs`` every (state, trigger) pair must be covered. ``trigger_keyword``: callbacks and
    conditions are also given the trigger that fired, under that keyword.
    """

    def decorate(cls: _T) -> _T:
        has_state = "state" in getattr(cls, "__slots__", ()) or any(
            "state" in getattr(base, "__slots__", ()) for base in cls.__mro__
        )
        if attrs.has(cls):
            has_state = has_state or "state" in attrs.fields_dict(cls)
        if not has_state:
            raise MachineDefinitionError(f"{cls.__name__} needs a 'state' attribute")
        spec = MachineSpec(
            cls,
            states,
            transitions,
            initial,
            final,
            errors or {},
            default_error,
            inputs,
            verdicts,
            trigger_keyword,
        )
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
