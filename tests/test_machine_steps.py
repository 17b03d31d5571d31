"""Compiled steps (rtcstate.machine_steps): each does exactly what MachineSpec.deliver does."""

from __future__ import annotations

import enum
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtcstate.session  # noqa: F401 (registers the core's machines)
from rtcstate.drops import DropReason
from rtcstate.effects import Drop
from rtcstate.machine import (
    ILLEGAL,
    Classify,
    Ignore,
    Inputs,
    Verdict,
    all_machines,
    machine,
    spec_of,
    stay,
)
from rtcstate.machine_steps import check_names


class Valve(enum.Enum):
    SHUT = "SHUT"
    AJAR = "AJAR"
    OPEN = "OPEN"
    STUCK = "STUCK"


class ValveDrop(DropReason):
    UNEXPECTED = "valve-unexpected"
    """An input that is illegal in the valve's state, or not one it declares."""
    NOISE = "valve-noise"
    """A pressure report of no known level."""
    ALREADY = "valve-already"
    """A turn for a valve already open."""


class ValveTimer(enum.Enum):
    SEIZE = "seize"


@attrs.frozen
class Turn:
    by: int


@attrs.frozen
class Pressure:
    level: str


@attrs.frozen
class Kick:
    pass


VALVE = [
    # guards (conditions and unless), before and every calling plan of the after callbacks;
    # two candidates for one pair, tried in order
    {"trigger": "turn", "source": "SHUT", "dest": "OPEN", "conditions": ["_strong", "_count"],
     "unless": "_locked", "before": "_all", "after": ["_plain", "_one", "_all", "_trig"]},
    {"trigger": "turn", "source": "SHUT", "dest": "AJAR", "conditions": "_strong",
     "after": "_one"},
    {"trigger": "turn", "source": "AJAR", "dest": "OPEN", "unless": "_locked", "after": "_all"},
    *stay("rise", ["OPEN", "AJAR"], after=["_plain", "_other"]),
    {"trigger": "fall", "source": "OPEN", "dest": "SHUT", "after": "_trig"},
    {"trigger": "fall", "source": "AJAR", "dest": "SHUT"},
    {"trigger": "seize", "source": ["AJAR", "OPEN"], "dest": "STUCK", "before": "_one"},
    {"trigger": "free", "source": "STUCK", "dest": "SHUT", "after": "_all"},
]  # fmt: skip
VALVE_INPUTS = Inputs(
    unexpected=ValveDrop.UNEXPECTED,
    wire={Turn: "turn", Kick: "free"},
    media={
        Pressure: Classify(
            "level", {"high": "rise", "low": "fall"}, otherwise=Ignore(ValveDrop.NOISE)
        ),
    },
    timers={ValveTimer.SEIZE: "seize"},
)
VALVE_VERDICTS: dict[str | tuple[str, str], Verdict] = {
    ("turn", "OPEN"): Ignore(ValveDrop.ALREADY),
    "turn": ILLEGAL,
    "rise": ILLEGAL,
    "fall": Ignore(ValveDrop.UNEXPECTED),
    "seize": ILLEGAL,
    "free": ILLEGAL,
}


@machine(
    Valve,
    VALVE,
    initial=Valve.SHUT,
    final=[],
    inputs=VALVE_INPUTS,
    verdicts=VALVE_VERDICTS,
    trigger_keyword="why",
)
@attrs.define(slots=True, eq=False)
class ValveMachine:
    state: Valve = Valve.SHUT
    locked: bool = False
    calls: int = 0
    log: list[object] = attrs.field(factory=list)

    def _strong(self, fx: list[Any], now: float, **kw: Any) -> bool:
        self.log.append(("strong", self.state, now, sorted(kw.items(), key=repr)))
        msg = kw.get("msg")
        return not isinstance(msg, Turn) or msg.by > 0

    def _count(self, fx: list[Any], now: float, **kw: Any) -> bool:
        self.calls += 1
        return self.calls % 2 == 1

    def _locked(self, fx: list[Any], now: float, **_: Any) -> bool:
        return self.locked

    def _all(self, fx: list[Any], now: float, **kw: Any) -> None:
        self.log.append(("all", self.state, now, sorted(kw.items(), key=repr)))
        fx.append(Drop(ValveDrop.NOISE, f"all {self.state.name}"))

    def _plain(self, fx: list[Any], now: float, **_: Any) -> None:
        self.log.append(("plain", self.state, now))

    def _one(self, fx: list[Any], now: float, msg: Any = "none", **_: Any) -> None:
        self.log.append(("one", self.state, now, msg))

    def _other(self, fx: list[Any], now: float, extra: Any = "absent", **_: Any) -> None:
        self.log.append(("other", self.state, now, extra))

    def _trig(self, fx: list[Any], now: float, why: str = "", **_: Any) -> None:
        self.log.append(("trig", self.state, why))


SPEC = spec_of(ValveMachine)

INPUTS = st.one_of(
    st.builds(Turn, st.integers(-1, 2)),
    st.builds(Pressure, st.sampled_from(["high", "low", "odd"])),
    st.just(Kick()),
    st.just(ValveTimer.SEIZE),
    st.just(Valve.OPEN),  # not a declared input at all
)
CONVENTIONS: list[tuple[str, ...]] = [(), ("msg",), ("msg", "sender"), ("msg", "extra", "why")]


def _key(value: object) -> object:
    return value if isinstance(value, enum.Enum) else type(value)


def _run_both(
    start: Valve, locked: bool, names: tuple[str, ...], script: list[tuple[object, float]]
) -> None:
    by_deliver = ValveMachine(state=start, locked=locked)
    by_step = ValveMachine(state=start, locked=locked)
    steps = SPEC.steps(*names)
    for n, (value, now) in enumerate(script):
        values = tuple(f"{name}-{n}" if name != "msg" else value for name in names)
        fx_d: list[Any] = []
        fx_s: list[Any] = []
        key = _key(value)
        given = dict(zip(names, values, strict=True))
        ran_d = SPEC.deliver(by_deliver, key, value, fx_d, now, **given)
        step = steps[id(by_step.state)].get(key)
        if step is None:
            ran_s = SPEC.undeclared(fx_s, key, by_step.state)
        else:
            ran_s = step(by_step, value, fx_s, now, *values)
        assert ran_s is ran_d
        assert fx_s == fx_d
        assert by_step.state is by_deliver.state
        assert by_step.log == by_deliver.log
        assert by_step.calls == by_deliver.calls


@settings(max_examples=60, deadline=None)
@given(
    start=st.sampled_from(list(Valve)),
    locked=st.booleans(),
    names=st.sampled_from(CONVENTIONS),
    script=st.lists(st.tuples(INPUTS, st.floats(0, 100, allow_nan=False)), max_size=8),
)
def test_a_step_does_what_deliver_does(
    start: Valve, locked: bool, names: tuple[str, ...], script: list[tuple[object, float]]
) -> None:
    _run_both(start, locked, names, script)


def test_steps_see_every_keyword_plan_and_the_trigger_keyword() -> None:
    valve = ValveMachine(calls=0)
    fx: list[Any] = []
    step = SPEC.steps("msg", "extra")[id(Valve.SHUT)][Turn]
    assert step(valve, Turn(1), fx, 5.0, Turn(1), "x") is True
    assert valve.state is Valve.OPEN
    every = [("extra", "x"), ("msg", Turn(1)), ("why", "turn")]
    assert valve.log == [
        ("strong", Valve.SHUT, 5.0, every),
        ("all", Valve.SHUT, 5.0, every),  # before: the state is still the source
        ("plain", Valve.OPEN, 5.0),
        ("one", Valve.OPEN, 5.0, Turn(1)),
        ("all", Valve.OPEN, 5.0, every),
        ("trig", Valve.OPEN, "turn"),
    ]
    assert fx == [Drop(ValveDrop.NOISE, "all SHUT"), Drop(ValveDrop.NOISE, "all OPEN")]
    # a keyword the caller does not pass takes the callback's default
    valve = ValveMachine(state=Valve.OPEN)
    assert SPEC.steps()[id(Valve.OPEN)][Pressure](valve, Pressure("high"), [], 1.0) is True
    assert valve.log == [("plain", Valve.OPEN, 1.0), ("other", Valve.OPEN, 1.0, "absent")]


def test_refusals_are_the_declared_drops() -> None:
    steps = SPEC.steps("msg")
    fx: list[Any] = []
    valve = ValveMachine(state=Valve.OPEN)
    assert steps[id(Valve.OPEN)][Turn](valve, Turn(1), fx, 0.0, Turn(1)) is False
    assert steps[id(Valve.OPEN)][Pressure](valve, Pressure("odd"), fx, 0.0, None) is False
    assert steps[id(Valve.SHUT)][Pressure](valve, Pressure("high"), fx, 0.0, None) is False
    assert SPEC.undeclared(fx, Valve.AJAR, Valve.OPEN) is False
    assert fx == [
        Drop(ValveDrop.ALREADY, "turn in state OPEN"),
        Drop(ValveDrop.NOISE, "Pressure in state OPEN"),
        Drop(ValveDrop.UNEXPECTED, "rise in state SHUT"),
        Drop(ValveDrop.UNEXPECTED, "Valve.AJAR in state OPEN"),
    ]
    assert valve.state is Valve.OPEN and valve.log == []


def test_steps_are_compiled_once_per_convention_and_per_rebound_spec() -> None:
    assert SPEC.steps("msg") is SPEC.steps("msg")
    assert SPEC.steps("msg") is not SPEC.steps("msg", "sender")

    class Louder(ValveMachine):
        def _plain(self, fx: list[Any], now: float, **_: Any) -> None:
            self.log.append("louder")

    rebound = SPEC.rebound(Louder)
    valve = Louder(state=Valve.OPEN)
    rebound.steps()[id(Valve.OPEN)][Pressure](valve, Pressure("high"), [], 0.0)
    assert valve.log[0] == "louder"


@pytest.mark.parametrize(
    "names", [("msg", "msg"), ("_private",), ("obj",), ("fx",), ("class",), ("not a name",)]
)
def test_a_convention_the_generated_code_cannot_take_is_refused(names: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"repeated|cannot be a step keyword"):
        check_names(names)


def test_every_machine_compiles_its_steps() -> None:
    specs = all_machines()
    assert {"Call", "Negotiation", "SessionConnection", "DataChannel"} <= set(specs)
    for spec in specs.values():
        steps = spec.steps("msg", "sender")
        assert set(steps) == {id(s) for s in spec.states}
        for state in spec.states:
            assert set(steps[id(state)]) == set(spec.input_keys())
