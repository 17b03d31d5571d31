"""What nodes say to each other through Redis: node frames and directory events, as bytes.

Theory of operation
-------------------
Two kinds of payloads travel on Redis pub/sub (docs/cluster.md):

* a *node frame* carries one :class:`~rtcstate.hub.Forward`: ``kind \\n origin \\n tenant
  \\n address \\n`` then the envelope's JSON (``route``, ``deliver``) or ``code \\n reason``
  (``close``); the frames a node has for another in one write go as one message on the
  receiving node's channel (:func:`encode_batch`: each after its length);
* a *directory event*, published on the directory channel by the scripts that change the
  directory (:mod:`rtcstate_cluster.scripts`): ``B`` (bound: node, tenant, address, verified,
  registered, groups as JSON), ``U`` (freed: node, tenant, address) or ``L`` (node lost).

Names never hold a newline (the hub refuses control characters in users, devices, tenants and
groups, and node ids), so the first fields split on ``\\n``; the payload is the rest. A frame
that does not parse is :class:`Malformed` (the link logs and drops it): only nodes publish
(clients never reach Redis), so that means a bug or another program on the same Redis.
"""

from __future__ import annotations

import json

import attrs

from rtcstate import wire
from rtcstate.hub import Directory, Forward, ForwardKind

__all__ = [
    "Bound",
    "Freed",
    "Lost",
    "Malformed",
    "bound_event",
    "decode_batch",
    "decode_event",
    "decode_frame",
    "directory_value",
    "encode_batch",
    "encode_frame",
    "freed_event",
]

_KINDS = {k.value: k for k in ForwardKind}


class Malformed(ValueError):
    """A frame or event that does not parse."""


def encode_frame(origin: str, f: Forward) -> bytes:
    """The node frame carrying ``f`` from node ``origin``."""
    head = f"{f.kind.value}\n{origin}\n{f.tenant}\n{f.address}\n".encode()
    if f.envelope is not None:
        return head + wire.encode_envelope(f.envelope)
    return head + f"{int(f.code)}\n{f.reason}".encode()


def decode_frame(data: bytes, max_size: int = wire.DEFAULT_MAX_SIZE) -> tuple[str, Forward]:
    """``(origin, forward)`` of a node frame (``forward.node``: left empty, the receiver)."""
    try:
        kind, origin, tenant, address, rest = data.split(b"\n", 4)
        fk = _KINDS[kind.decode()]
        if fk is ForwardKind.CLOSE:
            code, reason = rest.split(b"\n", 1)
            f = Forward("", fk, tenant.decode(), address.decode(), None, reason.decode(), int(code))
        else:
            env = wire.decode(rest, max_size=4 * max_size)
            f = Forward("", fk, tenant.decode(), address.decode(), env)
    except (ValueError, KeyError, UnicodeDecodeError, wire.DecodeError) as exc:
        raise Malformed(f"node frame: {exc}") from None
    return origin.decode(), f


def encode_batch(parts: list[bytes]) -> bytes:
    """Node frames for one node as one payload: each one after its length and a newline."""
    return b"".join(b"%d\n%b" % (len(part), part) for part in parts)


def decode_batch(data: bytes) -> list[bytes]:
    """The node frames of a payload (:func:`encode_batch`)."""
    parts: list[bytes] = []
    pos, end = 0, len(data)
    try:
        while pos < end:
            eol = data.index(b"\n", pos)
            size = int(data[pos:eol])
            pos = eol + 1 + size
            if size < 0 or pos > end:
                raise ValueError("truncated")
            parts.append(data[eol + 1 : pos])
    except ValueError as exc:
        raise Malformed(f"node frames: {exc}") from None
    return parts


def directory_value(node: str, d: Directory) -> str:
    """The directory hash's value for ``d`` held on ``node`` (the node first, for scripts)."""
    return f"{node}\n{int(d.verified)}\n{json.dumps(list(d.groups))}"


def bound_event(node: str, d: Directory) -> str:
    groups = json.dumps(list(d.groups))
    return f"B\n{node}\n{d.tenant}\n{d.address}\n{int(d.verified)}\n{int(d.registered)}\n{groups}"


def freed_event(node: str, d: Directory) -> str:
    return f"U\n{node}\n{d.tenant}\n{d.address}"


@attrs.frozen
class Bound:
    node: str
    tenant: str
    address: str
    verified: bool
    registered: bool
    groups: tuple[str, ...]


@attrs.frozen
class Freed:
    node: str
    tenant: str
    address: str


@attrs.frozen
class Lost:
    node: str


def parse_value(tenant: str, address: str, value: str) -> Bound:
    """A directory hash entry as a :class:`Bound` (what a starting node loads)."""
    try:
        node, verified, groups = value.split("\n", 2)
        names = json.loads(groups)
        if not isinstance(names, list) or not all(isinstance(g, str) for g in names):
            raise ValueError("groups")
    except ValueError as exc:
        raise Malformed(f"directory entry {address}: {exc}") from None
    return Bound(node, tenant, address, verified == "1", True, tuple(names))


def decode_event(data: str) -> Bound | Freed | Lost:
    """A directory event."""
    kind, _, rest = data.partition("\n")
    try:
        if kind == "B":
            node, tenant, address, verified, registered, groups = rest.split("\n", 5)
            names = json.loads(groups)
            if not isinstance(names, list) or not all(isinstance(g, str) for g in names):
                raise ValueError("groups")
            return Bound(node, tenant, address, verified == "1", registered == "1", tuple(names))
        if kind == "U":
            node, tenant, address = rest.split("\n")
            return Freed(node, tenant, address)
        if kind == "L" and rest:
            return Lost(rest)
    except ValueError as exc:
        raise Malformed(f"directory event: {exc}") from None
    raise Malformed(f"directory event of kind {kind!r}")
