"""What nodes say to each other (rtcstate_cluster.frames): every frame and event reads back as
written, and what does not parse is ``Malformed`` (never another exception)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("redis", reason="the [cluster] extra (redis-py) is not installed")

from rtcstate_cluster import frames

from rtcstate import wire
from rtcstate.hub import Directory, Forward, ForwardKind

name = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FF, exclude_characters='/"\\'),
               min_size=1, max_size=12)  # fmt: skip
address = st.builds(lambda u, d: f"{u}/{d}", name, name)


@given(name, name, address, st.integers(0, 2**31), st.text(max_size=50),
       st.sampled_from(list(ForwardKind)))  # fmt: skip
def test_a_node_frame_reads_back_as_written(
    origin: str, tenant: str, addr: str, uuid: int, text: str, kind: ForwardKind
) -> None:
    if kind is ForwardKind.CLOSE:
        f = Forward("x", kind, tenant, addr, None, text, 4409)
    else:
        f = Forward("x", kind, tenant, addr, wire.Envelope(wire.ContactMessage(uuid, text), addr))
    parts = [frames.encode_frame(origin, f)] * 3
    batch = frames.decode_batch(frames.encode_batch(parts))
    assert batch == parts
    assert frames.decode_frame(batch[0]) == (origin, attrs_evolve(f))


def attrs_evolve(f: Forward) -> Forward:
    import attrs

    return attrs.evolve(f, node="")


@given(name, name, address, st.booleans(), st.booleans(), st.lists(name, max_size=4))
def test_a_directory_event_reads_back_as_written(
    node: str, tenant: str, addr: str, verified: bool, registered: bool, groups: list[str]
) -> None:
    d = Directory(tenant, addr, True, tuple(groups), verified, registered)
    assert frames.decode_event(frames.bound_event(node, d)) == frames.Bound(
        node, tenant, addr, verified, registered, tuple(groups)
    )
    assert frames.decode_event(frames.freed_event(node, d)) == frames.Freed(node, tenant, addr)
    assert frames.parse_value(tenant, addr, frames.directory_value(node, d)) == frames.Bound(
        node, tenant, addr, verified, True, tuple(groups)
    )


@given(st.binary(max_size=80))
def test_garbage_is_malformed_and_nothing_else(data: bytes) -> None:
    for parse in (frames.decode_frame, frames.decode_batch):
        with contextlib.suppress(frames.Malformed):
            parse(data)
    with contextlib.suppress(frames.Malformed):
        frames.decode_event(data.decode(errors="replace"))
