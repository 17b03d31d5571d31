"""Hypothesis strategies for the rtcstate wire format (part of the conformance kit).

Everything is derived from the message class declarations (:func:`rtcstate.wire.fields_of`), so
a newly registered message type is covered without touching this module.  Every value drawn here
is valid: ``decode(encode_envelope(env)) == env`` must hold for each drawn envelope.

Hypothesis is a test-time dependency: only tests import this module.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.wire import Envelope, FieldInfo, FieldKind, Message

__all__ = [
    "addresses",
    "envelopes",
    "field_values",
    "json_values",
    "messages",
    "payloads",
    "strategy_for",
]

_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1

_cache: dict[type[Message], st.SearchStrategy[Any]] = {}


def addresses() -> st.SearchStrategy[str]:
    """Opaque addresses such as ``"bob"`` or ``"bob/phone"`` (any text is legal on the wire)."""
    readable = st.from_regex(r"[a-z][a-z0-9._-]{0,11}(/[a-z0-9-]{1,8})?", fullmatch=True)
    return readable | st.text(max_size=16)


def _finite_floats() -> st.SearchStrategy[float]:
    return st.floats(allow_nan=False, allow_infinity=False)


def json_values(*, max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value the wire can carry in a payload (finite numbers, 64-bit integers)."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=_I64_MIN, max_value=_U64_MAX)
        | _finite_floats()
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def payloads() -> st.SearchStrategy[dict[str, Any]]:
    """Values for ``dict[str, Any]`` fields: a JSON object of arbitrary application data."""
    return st.dictionaries(st.text(max_size=8), json_values(), max_size=5)


def field_values(info: FieldInfo) -> st.SearchStrategy[Any]:
    """Valid values for one body field."""
    base: st.SearchStrategy[Any]
    kind = info.kind
    if kind is FieldKind.STR:
        base = st.text(max_size=40)
    elif kind is FieldKind.INT:
        base = st.integers(min_value=-wire.MAX_SAFE_INT, max_value=wire.MAX_SAFE_INT)
    elif kind is FieldKind.FLOAT:
        base = _finite_floats()
    elif kind is FieldKind.BOOL:
        base = st.booleans()
    elif kind is FieldKind.ENUM:
        assert info.enum_type is not None
        base = st.sampled_from(list(info.enum_type))
    elif kind is FieldKind.STR_LIST:
        base = st.lists(st.text(max_size=12), max_size=4)
    elif kind is FieldKind.PAYLOAD:
        base = payloads()
    else:  # pragma: no cover - new kinds must be added here
        raise AssertionError(f"no strategy for field kind {kind}")
    return st.none() | base if info.optional else base


def strategy_for(cls: type[Message]) -> st.SearchStrategy[Message]:
    """Valid instances of one registered message class."""
    strategy = _cache.get(cls)
    if strategy is None:
        kwargs = {info.name: field_values(info) for info in wire.fields_of(cls)}
        strategy = st.builds(cls, **kwargs)
        _cache[cls] = strategy
    return strategy


def messages() -> st.SearchStrategy[Message]:
    """Any message of any registered type (resolved when first drawn from)."""
    return st.deferred(
        lambda: st.one_of([strategy_for(cls) for cls in wire.MESSAGE_TYPES.values()])
    )


def envelopes() -> st.SearchStrategy[Envelope]:
    """Any message with optional ``to`` and ``sender`` addresses."""
    maybe_address = st.none() | addresses()
    return st.builds(Envelope, messages(), maybe_address, maybe_address)
