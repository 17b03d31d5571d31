"""The table compiler: validation at import, dispatch semantics, refusals, diagrams."""

from __future__ import annotations

import enum
import sys
from typing import Any

import attrs
import pytest
from hypothesis import strategies as st

from rtcstate.codes import ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import Drop
from rtcstate.errors import InvalidStateError, RtcError
from rtcstate.machine import (
    ILLEGAL,
    Classify,
    Ignore,
    Inputs,
    MachineDefinitionError,
    Verdict,
    machine,
    spec_of,
    stay,
)
from rtcstate.testing.exhaustive import (
    check_differential,
    check_input_pair,
    check_pair,
    input_pairs,
    pairs,
)


class Door(enum.Enum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    LOCKED = "LOCKED"
    GONE = "GONE"


DOOR = [
    {"trigger": "close", "source": "OPEN", "dest": "CLOSED", "after": "_note"},
    {"trigger": "open", "source": "CLOSED", "dest": "OPEN", "unless": "_jammed"},
    {"trigger": "lock", "source": "CLOSED", "dest": "LOCKED",
     "conditions": ["_has_key", "_even"], "before": "_note", "after": "_note"},
    {"trigger": "lock", "source": "CLOSED", "dest": "CLOSED", "conditions": "_has_key"},
    {"trigger": "unlock", "source": "LOCKED", "dest": "CLOSED", "after": "_note"},
    {"trigger": "burn", "source": ["OPEN", "CLOSED", "LOCKED"], "dest": "GONE"},
]  # fmt: skip


@machine(
    Door,
    DOOR,
    initial=Door.OPEN,
    final=[Door.GONE],
    errors={
        "unlock": ErrorNumber.ERROR_INVITATION_STATE_INVALID,
        ("burn", "GONE"): ErrorNumber.ERROR_OTHER,
    },
)
@attrs.define(slots=True, eq=False)
class DoorMachine:
    state: Door = Door.OPEN
    key: bool = True
    jammed: bool = False
    count: int = 0
    notes: list[str] = attrs.field(factory=list)

    def _note(self, fx: list[Any], now: float, **kw: Any) -> None:
        self.notes.append(f"{self.state.name}@{now}")
        fx.append(Drop("note", self.state.name))

    def _jammed(self, fx: list[Any], now: float, **kw: Any) -> bool:
        return self.jammed

    def _has_key(self, fx: list[Any], now: float, **kw: Any) -> bool:
        return self.key

    def _even(self, fx: list[Any], now: float, **kw: Any) -> bool:
        self.count += 1
        return self.count % 2 == 0


SPEC = spec_of(DoorMachine)


def test_dispatch_runs_callbacks_in_transitions_order() -> None:
    door = DoorMachine()
    fx: list[Any] = []
    assert SPEC.fire(door, "close", fx, 1.0) is True
    assert door.state is Door.CLOSED
    assert fx == [Drop("note", "CLOSED")]  # after: the state is already the destination
    fx = []
    # first lock candidate: _has_key true, _even false (count=1) -> second candidate wins
    assert SPEC.fire(door, "lock", fx, 2.0) is True
    assert door.state is Door.CLOSED and fx == []
    # now _even is true (count=2): before sees CLOSED, after sees LOCKED
    assert SPEC.fire(door, "lock", fx, 3.0) is True
    assert door.state is Door.LOCKED
    assert fx == [Drop("note", "CLOSED"), Drop("note", "LOCKED")]


def test_blocked_conditions_return_false_and_change_nothing() -> None:
    door = DoorMachine(state=Door.CLOSED, key=False)
    fx: list[Any] = []
    assert SPEC.fire(door, "lock", fx, 0.0) is False
    assert door.state is Door.CLOSED and fx == []
    door.jammed = True
    assert SPEC.fire(door, "open", fx, 0.0) is False
    assert door.state is Door.CLOSED


def test_invalid_trigger_raises_typed_error_before_any_mutation() -> None:
    door = DoorMachine()
    before = attrs.asdict(door)
    with pytest.raises(InvalidStateError) as info:
        SPEC.fire(door, "unlock", [], 0.0)
    assert info.value.code is ErrorNumber.ERROR_INVITATION_STATE_INVALID
    assert info.value.code == 10
    assert isinstance(info.value, RtcError)
    assert (info.value.machine, info.value.trigger, info.value.state) == (
        "DoorMachine",
        "unlock",
        "OPEN",
    )
    assert attrs.asdict(door) == before
    with pytest.raises(InvalidStateError) as info:
        SPEC.fire(door, "open", [], 0.0)
    assert info.value.code is ErrorNumber.ERROR_WRONG_STATE  # the default, 16
    door.state = Door.GONE
    with pytest.raises(InvalidStateError) as info:
        SPEC.fire(door, "burn", [], 0.0)
    assert info.value.code is ErrorNumber.ERROR_OTHER  # the (trigger, state) entry wins


def test_unknown_trigger_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no trigger"):
        SPEC.fire(DoorMachine(), "fly", [], 0.0)


def test_spec_queries() -> None:
    assert SPEC.triggers == ("close", "open", "lock", "unlock", "burn")
    assert SPEC.destinations(Door.CLOSED, "lock") == {Door.LOCKED, Door.CLOSED}
    assert SPEC.destinations(Door.OPEN, "lock") == frozenset()
    assert SPEC.allowed(Door.LOCKED, "burn") and not SPEC.allowed(Door.GONE, "burn")


def _define(rows: list[dict[str, Any]], **kw: Any) -> type:
    @machine(Door, rows, initial=kw.pop("initial", Door.OPEN), **kw)
    @attrs.define(slots=True)
    class M:
        state: Door = Door.OPEN

        def cb(self, *a: Any, **k: Any) -> bool:
            return True

    return M


ALL_REACHABLE = [
    {"trigger": "a", "source": "OPEN", "dest": "CLOSED"},
    {"trigger": "b", "source": "CLOSED", "dest": "LOCKED"},
    {"trigger": "c", "source": "LOCKED", "dest": "GONE"},
]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"trigger": "x", "source": "OPEN", "dest": "NOWHERE"}, "unknown state 'NOWHERE'"),
        ({"trigger": "x", "source": "ATTIC", "dest": "OPEN"}, "unknown state 'ATTIC'"),
        ({"trigger": "x", "source": "*", "dest": "OPEN"}, "wildcard"),
        ({"trigger": "x", "source": "OPEN", "dest": "="}, "reflexive"),
        ({"trigger": "x", "source": "OPEN", "dest": None}, "internal transitions"),
        ({"trigger": "x", "source": "OPEN", "dest": "OPEN", "prepare": "cb"}, "unsupported key"),
        ({"trigger": "x", "source": "OPEN", "dest": "OPEN", "after": print}, "callables"),
        ({"trigger": "x", "source": "OPEN", "dest": "OPEN", "after": "nope"}, "not a method"),
        ({"trigger": "x", "source": "GONE", "dest": "OPEN"}, "final state GONE"),
        ({"trigger": "x y", "source": "OPEN", "dest": "OPEN"}, "identifier"),
        ({"source": "OPEN", "dest": "OPEN"}, "missing 'trigger'"),
    ],
)
def test_definition_errors_are_refused_at_import(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(MachineDefinitionError, match=message):
        _define([*ALL_REACHABLE, extra], final=[Door.GONE])


def test_unreachable_state_is_refused() -> None:
    expected = r"unreachable state\(s\) \['LOCKED', 'GONE'\]"
    with pytest.raises(MachineDefinitionError, match=expected):
        _define([{"trigger": "a", "source": "OPEN", "dest": "CLOSED"}])


def test_error_mapping_must_name_a_trigger() -> None:
    with pytest.raises(MachineDefinitionError, match="error mapping"):
        _define(ALL_REACHABLE, errors={"zzz": ErrorNumber.ERROR_OTHER})


def test_class_without_state_is_refused() -> None:
    with pytest.raises(MachineDefinitionError, match="needs a 'state'"):

        @machine(Door, ALL_REACHABLE, initial=Door.OPEN)
        @attrs.define(slots=True)
        class NoState:
            value: int = 0


def test_objects_are_small_slots_objects() -> None:
    door = DoorMachine()
    assert not hasattr(door, "__dict__")
    assert sys.getsizeof(door) < 120


def test_mermaid_is_drawn_by_transitions_from_the_declaration() -> None:
    text = SPEC.mermaid()
    assert text.startswith("---\nDoorMachine\n---\nstateDiagram-v2")
    assert "OPEN --> CLOSED: close" in text
    assert "CLOSED --> LOCKED: lock [_has_key & _even]" in text
    assert "GONE --> [*]" in text


DOOR_ARGS = {
    t: st.builds(lambda now: ((now,), {}), st.floats(0, 100, allow_nan=False))
    for t in SPEC.triggers
}


def _prepare(obj: DoorMachine, value: tuple[bool, bool, int]) -> None:
    obj.key, obj.jammed, obj.count = value


PREPARE_VALUES = st.tuples(st.booleans(), st.booleans(), st.integers(0, 3))


@pytest.mark.parametrize(("state", "trigger"), pairs(DoorMachine))
def test_every_state_input_pair(state: Door, trigger: str) -> None:
    check_pair(DoorMachine, state, trigger, DoorMachine, DOOR_ARGS, _prepare, PREPARE_VALUES)


def test_compiled_table_agrees_with_transitions() -> None:
    check_differential(DoorMachine, lambda cls: cls(), DOOR_ARGS, _prepare, PREPARE_VALUES)


def test_differential_check_catches_a_divergence() -> None:
    """The differential harness is not vacuous: a compiled table that differs is caught.

    Deterministic: the door always has its key, so any sequence with ``close`` then ``lock``
    (no ``burn`` between) diverges (the two engines try the swapped candidates in different
    orders and log different callbacks), and Hypothesis runs derandomized (its seed is a hash
    of the test), so every run draws the same examples; the check itself is the ordinary one.
    """
    from hypothesis import Phase, settings

    spec = spec_of(DoorMachine)
    original = spec.table
    previous = settings.get_current_profile_name()
    # no shrinking: the first diverging sequence is the answer (shrinking it built a
    # transitions.Machine per attempt: 150 s on a loaded machine instead of about 1 s)
    settings.register_profile(
        "rtcstate-derandomized",
        parent=settings.get_profile(previous),
        derandomize=True,
        phases=(Phase.explicit, Phase.generate),
        report_multiple_bugs=False,
    )
    settings.load_profile("rtcstate-derandomized")
    try:
        # swap the order of the two `lock` candidates in the compiled table only
        patched = {s: dict(row) for s, row in original.items()}
        patched[Door.CLOSED]["lock"] = tuple(reversed(patched[Door.CLOSED]["lock"]))
        spec.table = patched
        with_key = st.tuples(st.just(True), st.booleans(), st.integers(0, 3))
        with pytest.raises((AssertionError, BaseExceptionGroup)):  # one or several failures
            check_differential(
                DoorMachine,
                lambda cls: cls(),
                DOOR_ARGS,
                _prepare,
                with_key,
                max_examples=300,
            )
    finally:
        spec.table = original
        settings.load_profile(previous)


def test_transitions_cannot_drive_slots_objects_so_the_twin_uses_a_proxy() -> None:
    """The measured trap behind the design: `transitions` sets attributes on its models."""
    from transitions import Machine

    with pytest.raises(AttributeError):
        Machine(
            model=DoorMachine(),
            states=Door,
            transitions=DOOR,
            initial=Door.OPEN,
            auto_transitions=False,
        )
    twin_target = DoorMachine()
    from rtcstate.testing.exhaustive import _Proxy

    proxy = _Proxy(twin_target, frozenset({"_note"}))
    twin = SPEC.transitions_twin(proxy)
    fx: list[Any] = []
    assert twin.events["close"].trigger(proxy, fx, 1.0) is True
    assert twin_target.state is Door.CLOSED and fx == [Drop("note", "CLOSED")]


# --- inputs as data ---------------------------------------------------------------------------


class Lamp(enum.Enum):
    OFF = "OFF"
    ON = "ON"
    BROKEN = "BROKEN"


class LampDrop(DropReason):
    UNEXPECTED = "lamp-unexpected"
    """An input that is illegal in the lamp's state, or not one it declares."""
    ALREADY_ON = "lamp-already-on"
    """A switch-on report for a lamp that is on."""
    FLICKER = "lamp-flicker"
    """A power report whose level is neither up nor down."""


class LampTimer(enum.Enum):
    BURN_OUT = "burn_out"


@attrs.frozen
class SwitchOn:
    pass


@attrs.frozen
class Power:
    level: str


LAMP = [
    {"trigger": "switch_on", "source": "OFF", "dest": "ON", "after": "_note"},
    {"trigger": "switch_off", "source": "ON", "dest": "OFF", "after": "_note"},
    *stay("power_up", ["ON"], after="_note"),
    {"trigger": "power_down", "source": "ON", "dest": "OFF"},
    {"trigger": "burn_out", "source": "ON", "dest": "BROKEN"},
    {"trigger": "repair", "source": "BROKEN", "dest": "OFF"},
]
LAMP_INPUTS = Inputs(
    unexpected=LampDrop.UNEXPECTED,
    wire={SwitchOn: "switch_on"},
    media={
        Power: Classify(
            "level", {"up": "power_up", "down": "power_down"}, otherwise=Ignore(LampDrop.FLICKER)
        )
    },
    timers={LampTimer.BURN_OUT: "burn_out"},
)
LAMP_VERDICTS: dict[str | tuple[str, str], Verdict] = {
    ("switch_on", "ON"): Ignore(LampDrop.ALREADY_ON),
    "switch_on": ILLEGAL,
    "switch_off": ILLEGAL,
    "power_up": Ignore(LampDrop.UNEXPECTED),
    "power_down": Ignore(LampDrop.UNEXPECTED),
    "burn_out": ILLEGAL,
    "repair": ILLEGAL,
}


@machine(Lamp, LAMP, initial=Lamp.OFF, final=[], inputs=LAMP_INPUTS, verdicts=LAMP_VERDICTS)
@attrs.define(slots=True, eq=False)
class LampMachine:
    state: Lamp = Lamp.OFF
    notes: list[str] = attrs.field(factory=list)

    def _note(self, fx: list[Any], now: float, **kw: Any) -> None:
        self.notes.append(f"{self.state.name}@{now}")


LAMP_SPEC = spec_of(LampMachine)


def test_inputs_dispatch_by_type_field_and_timer_id() -> None:
    lamp = LampMachine()
    fx: list[Any] = []
    assert LAMP_SPEC.deliver(lamp, SwitchOn, SwitchOn(), fx, 1.0) is True
    assert lamp.state is Lamp.ON and lamp.notes == ["ON@1.0"] and fx == []
    assert LAMP_SPEC.deliver(lamp, Power, Power("up"), fx, 2.0) is True
    assert lamp.state is Lamp.ON and lamp.notes == ["ON@1.0", "ON@2.0"]
    assert LAMP_SPEC.deliver(lamp, LampTimer.BURN_OUT, LampTimer.BURN_OUT, fx, 3.0) is True
    assert lamp.state is Lamp.BROKEN and fx == []


def test_ignore_and_illegal_inputs_become_declared_drops_never_exceptions() -> None:
    lamp = LampMachine(state=Lamp.ON)
    fx: list[Any] = []
    assert LAMP_SPEC.deliver(lamp, SwitchOn, SwitchOn(), fx, 1.0) is False
    assert fx == [Drop(LampDrop.ALREADY_ON, "switch_on in state ON")]
    fx.clear()
    assert LAMP_SPEC.deliver(lamp, Power, Power("flicker"), fx, 1.0) is False
    assert fx == [Drop(LampDrop.FLICKER, "Power in state ON")]
    lamp.state = Lamp.BROKEN
    fx.clear()
    LAMP_SPEC.deliver(lamp, SwitchOn, SwitchOn(), fx, 1.0)  # ILLEGAL verdict: a drop
    assert fx == [Drop(LampDrop.UNEXPECTED, "switch_on in state BROKEN")]
    fx.clear()
    LAMP_SPEC.deliver(lamp, Door, Door.OPEN, fx, 1.0)  # not declared at all
    assert fx == [Drop(LampDrop.UNEXPECTED, "Door in state BROKEN")]
    assert lamp.state is Lamp.BROKEN and lamp.notes == []


def test_commands_raise_on_illegal_pairs_and_do_nothing_on_ignored_ones() -> None:
    lamp = LampMachine(state=Lamp.ON)
    assert LAMP_SPEC.fire(lamp, "switch_on", [], 1.0) is False  # declared ignore
    assert lamp.state is Lamp.ON and LAMP_SPEC.ignored(Lamp.ON, "switch_on")
    with pytest.raises(InvalidStateError) as err:
        LAMP_SPEC.fire(lamp, "repair", [], 1.0)
    assert err.value.code == ErrorNumber.ERROR_WRONG_STATE and lamp.state is Lamp.ON


def test_outcome_answers_what_an_input_does_in_a_state() -> None:
    assert LAMP_SPEC.outcome(Lamp.OFF, SwitchOn) == "switch_on"
    assert LAMP_SPEC.outcome(Lamp.ON, Power, Power("down")) == "power_down"
    assert LAMP_SPEC.outcome(Lamp.OFF, Power, Power("up")) == Drop(
        LampDrop.UNEXPECTED, "power_up in state OFF"
    )
    assert set(LAMP_SPEC.input_keys()) == {SwitchOn, Power, LampTimer.BURN_OUT}


def _lamp(**changes: Any) -> None:
    kwargs: dict[str, Any] = {"initial": Lamp.OFF, "inputs": LAMP_INPUTS}
    kwargs["verdicts"] = changes.pop("verdicts", LAMP_VERDICTS)
    kwargs.update(changes)
    table = kwargs.pop("table", LAMP)

    @machine(Lamp, table, **kwargs)
    @attrs.define(slots=True, eq=False)
    class Broken:
        state: Lamp = Lamp.OFF

        def _note(self, fx: list[Any], now: float, **kw: Any) -> None:
            pass


def test_an_input_naming_an_unknown_trigger_is_refused() -> None:
    bad = attrs.evolve(LAMP_INPUTS, wire={SwitchOn: "switch_onn"})
    with pytest.raises(MachineDefinitionError, match="unknown trigger 'switch_onn'"):
        _lamp(inputs=bad)
    bad = attrs.evolve(LAMP_INPUTS, media={Power: Classify("level", {"up": "nope"})})
    with pytest.raises(MachineDefinitionError, match="unknown trigger 'nope'"):
        _lamp(inputs=bad)


def test_an_uncovered_pair_is_refused() -> None:
    verdicts = dict(LAMP_VERDICTS)
    del verdicts["repair"]
    with pytest.raises(MachineDefinitionError, match=r"\(repair, OFF\), \(repair, ON\)"):
        _lamp(verdicts=verdicts)


def test_a_verdict_on_a_pair_with_a_row_is_refused() -> None:
    verdicts = {**LAMP_VERDICTS, ("switch_on", "OFF"): ILLEGAL}
    with pytest.raises(MachineDefinitionError, match="has a row and a verdict"):
        _lamp(verdicts=verdicts)


def test_an_ignore_needs_a_catalogued_drop_reason() -> None:
    verdicts: Any = {**LAMP_VERDICTS, "repair": Ignore("free text")}
    with pytest.raises(MachineDefinitionError, match="DropReason member"):
        _lamp(verdicts=verdicts)
    verdicts = {**LAMP_VERDICTS, ("repair", "NOWHERE"): ILLEGAL}
    with pytest.raises(MachineDefinitionError, match="unknown state 'NOWHERE'"):
        _lamp(verdicts=verdicts)


def test_final_states_accept_nothing_and_need_no_verdict() -> None:
    verdicts = {k: v for k, v in LAMP_VERDICTS.items() if k != "repair"}

    @machine(Lamp, LAMP[:-1], initial=Lamp.OFF, final=[Lamp.BROKEN], inputs=LAMP_INPUTS,
             verdicts=verdicts)  # fmt: skip
    @attrs.define(slots=True, eq=False)
    class Fragile:
        state: Lamp = Lamp.OFF

        def _note(self, fx: list[Any], now: float, **kw: Any) -> None:
            pass

    spec = spec_of(Fragile)
    for trigger in spec.triggers:
        assert not spec.allowed(Lamp.BROKEN, trigger)
    fx: list[Any] = []
    spec.deliver(Fragile(state=Lamp.BROKEN), SwitchOn, SwitchOn(), fx, 0.0)
    assert fx == [Drop(LampDrop.UNEXPECTED, "switch_on in state BROKEN")]


@pytest.mark.parametrize(("state", "key"), input_pairs(LampMachine))
def test_every_lamp_state_input_pair(state: Lamp, key: object) -> None:
    values = {
        SwitchOn: st.just(SwitchOn()),
        Power: st.builds(Power, st.sampled_from(["up", "down", "flicker", ""])),
        LampTimer.BURN_OUT: st.just(LampTimer.BURN_OUT),
    }

    def deliver(lamp: LampMachine, value: Any, now: float) -> list[Any]:
        fx: list[Any] = []
        key_of = value if isinstance(value, enum.Enum) else type(value)
        LAMP_SPEC.deliver(lamp, key_of, value, fx, now)
        return fx

    check_input_pair(LampMachine, state, key, LampMachine, values[key], deliver)


def test_lamp_table_agrees_with_transitions_ignores_included() -> None:
    check_differential(LampMachine, lambda cls: cls(), max_examples=50)
