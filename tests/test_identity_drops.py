"""The shared vocabulary seeds: catalogued drop reasons and the hub's Identity value."""

from __future__ import annotations

from rtcstate.drops import DropReason, catalogue
from rtcstate.effects import Drop
from rtcstate.identity import DEFAULT_TENANT, Identity


class _ExampleDrop(DropReason):
    LATE = "late-example"


def test_drop_reasons_compare_as_their_word_and_are_catalogued() -> None:
    assert Drop(_ExampleDrop.LATE, "x") == Drop("late-example", "x")
    assert str(_ExampleDrop.LATE) == "late-example"
    assert catalogue()[_ExampleDrop] == (_ExampleDrop.LATE,)


def test_identity_device_rules() -> None:
    anyone = Identity("bob")
    assert anyone.tenant == DEFAULT_TENANT and not anyone.verified
    assert anyone.allows_device("phone")
    limited = Identity("bob", devices=("phone",), roles=frozenset({"moderator"}), verified=True)
    assert limited.allows_device("phone") and not limited.allows_device("evil")
    assert limited.has_role("moderator") and not anyone.has_role("moderator")
