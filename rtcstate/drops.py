"""Catalogued reasons for :class:`~rtcstate.effects.Drop`: why an input was ignored on purpose.

Theory of operation
-------------------
A machine that ignores an input (a late report, a duplicate, a stale timer, a message from a
stranger) returns ``Drop(reason, detail)``. ``reason`` is never a free string: each machine
module declares its own enum of reasons next to its transition table, as a subclass of
:class:`DropReason` (an enum with no members of its own), and documents when each is produced::

    class CallDrop(DropReason):
        LATE_CANDIDATE = "late-candidate"
        '''A candidate arrived after the call ended.'''

Members are ``str`` enums, so ``Drop(CallDrop.LATE_CANDIDATE) == Drop("late-candidate")``:
tests written against the wire word keep their meaning. :func:`catalogue` collects every
subclass so the docs and a test can list (and check) them all; two modules may reuse a word
(``"stale-timer"``) but then must mean the same thing by it.
"""

from __future__ import annotations

import enum

__all__ = ["DropReason", "catalogue"]


class DropReason(enum.StrEnum):
    """Base of every module's drop-reason enum (no members here: subclass it)."""


def _walk(cls: type[DropReason]) -> list[type[DropReason]]:
    out: list[type[DropReason]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_walk(sub))
    return out


def catalogue() -> dict[type[DropReason], tuple[DropReason, ...]]:
    """Every drop-reason enum defined so far (import the machine modules first), with its
    members, in definition order."""
    return {cls: tuple(cls) for cls in _walk(DropReason)}
