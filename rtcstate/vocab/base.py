"""The machinery of every vocabulary set: documented enums and where a value comes from.

Every set of :mod:`rtcstate.vocab` is a :class:`DocStrEnum` or :class:`DocIntEnum` whose members
are declared ``(value, doc[, origin])``: the member *is* its apiRTC value and carries ``.doc``
(when it is produced and by which machine) and ``.origin`` (an :class:`Origin`; a member that
does not say takes its set's default, declared with :func:`default_origin`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum, StrEnum
from typing import Self, TypeVar, overload

__all__ = ["DocIntEnum", "DocStrEnum", "Origin", "default_origin"]

# ------------------------------------------------------------------------------------------------
# Enum helpers
# ------------------------------------------------------------------------------------------------


_DEFAULT_ORIGIN: dict[type, Origin] = {}
"""Default origin of each set's members (filled from SETS at the end of the module)."""


class _Documented:
    """Attributes shared by every catalogue member: ``doc`` and ``origin``."""

    doc: str
    _origin: Origin | None

    @property
    def origin(self) -> Origin:
        """Where the value comes from (member override, else the set's default origin)."""
        if self._origin is not None:
            return self._origin
        return _DEFAULT_ORIGIN.get(type(self), Origin.RTCSTATE)


class DocStrEnum(_Documented, StrEnum):
    """A ``StrEnum`` whose members are declared as ``(value, doc[, origin])``."""

    _value_: str

    @overload
    def __new__(cls, value: str) -> Self: ...
    @overload
    def __new__(cls, value: str, doc: str, origin: Origin | None = None) -> Self: ...
    def __new__(cls, value: str, doc: str = "", origin: Origin | None = None) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.doc = doc
        member._origin = origin
        return member


class DocIntEnum(_Documented, IntEnum):
    """An ``IntEnum`` whose members are declared as ``(value, doc[, origin])``."""

    _value_: int

    @overload
    def __new__(cls, value: int) -> Self: ...
    @overload
    def __new__(cls, value: int, doc: str, origin: Origin | None = None) -> Self: ...
    def __new__(cls, value: int, doc: str = "", origin: Origin | None = None) -> Self:
        member = int.__new__(cls, value)
        member._value_ = value
        member.doc = doc
        member._origin = origin
        return member


class Origin(DocStrEnum):
    """Where a value comes from."""

    SEED = (
        "seed",
        "Documented by the apiRTC event documentation (the seed) and present in the SDK.",
    )
    SEED_ONLY = (
        "seed-only",
        "Documented by the seed but absent from the SDK (@apirtc/apirtc 5.0.35); rtcstate "
        "follows the seed and implements it.",
    )
    SDK_ONLY = (
        "SDK-only",
        "Found only in the SDK (declarations or bundle), not in the seed; rtcstate keeps the "
        "SDK's exact spelling.",
    )
    RTCSTATE = (
        "rtcstate",
        "An rtcstate extension, not part of apiRTC.",
    )


_S = Origin.SEED
_SO = Origin.SEED_ONLY
_K = Origin.SDK_ONLY
_R = Origin.RTCSTATE

_NOT_YET = "Not produced by rtcstate yet; "


_E = TypeVar("_E", bound=type)


def default_origin(origin: Origin) -> Callable[[_E], _E]:
    """Class decorator: the origin of the set's members that do not declare their own."""

    def decorate(cls: _E) -> _E:
        _DEFAULT_ORIGIN[cls] = origin
        return cls

    return decorate
