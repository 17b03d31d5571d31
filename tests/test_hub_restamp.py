"""The hub's routed frames re-stamped on the received text (rtcstate.hub.restamp), the plain
routing lane and the fused token buckets: the same decisions as the general path, cheaper.

The attacker's view: whatever ``from`` a client writes (a spoofed address, ``null`` after
the body, a key spelled with escapes), what the recipient decodes says the sender's verified
address."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.hub import Deliver, Hub
from rtcstate.hub.conversations import is_conversation
from rtcstate.hub.core import _PLAIN_ROUTED, _RELAY_ONLY
from rtcstate.hub.limits import TokenBucket, take_one
from rtcstate.hub.restamp import restamped
from rtcstate.testing.strategies import envelopes, messages

NOW = 1.0


def _hub() -> Hub:
    hub = Hub(rate_limit=None, identity_rate_limit=None, source_rate_limit=None)
    for conn, user, device in (("a", "alice", "d"), ("b", "bob", "d"), ("c", "bob", "e")):
        hub.connect(conn, 0.0, "10.0.0.1")
        hub.receive(conn, wire.encode(wire.Register(user, device)), 0.0)
    return hub


def _sent(d: Deliver) -> bytes:
    """What the relay writes for ``d``."""
    return d.frame if d.frame is not None else wire.encode_envelope(d.envelope)


def _routed(fx: list[Any]) -> list[Deliver]:
    return [e for e in fx if type(e) is Deliver and e.envelope.sender == "alice/d"]


@settings(max_examples=150, deadline=None)
@given(
    msg=messages(),
    to=st.sampled_from(["bob", "bob/d", "bob/e"]),
    spoof=st.sampled_from([None, "mallory/x"]),
    style=st.sampled_from(["canonical", "spaced", "reordered", "null-from-last"]),
)
def test_what_a_recipient_decodes_is_the_message_stamped_with_the_verified_sender(
    msg: wire.Message, to: str, spoof: str | None, style: str
) -> None:
    hub = _hub()
    frame = wire.encode(msg, to=to, sender=spoof)
    if style != "canonical":
        obj = json.loads(frame)
        if style == "reordered":
            obj = dict(reversed(list(obj.items())))
        if style == "null-from-last":
            obj.pop("from", None)
            obj["from"] = None
        frame = json.dumps(obj, ensure_ascii=False).encode()  # ", " and ": " separators
    fx = hub.receive("a", frame, NOW)
    for d in (e for e in fx if type(e) is Deliver):
        assert wire.decode(_sent(d)) == d.envelope  # a frame given is the envelope's message
    plain = (
        spoof is None
        and style == "canonical"
        and b"\\u" not in frame
        and b'"from"' not in frame
        and type(msg) not in _RELAY_ONLY
        and not is_conversation(msg)
    )
    for d in _routed(fx):
        assert d.envelope.to == to
        if plain and d.envelope.message == msg:
            # the message itself, routed: canonical in, the canonical stamped frame out
            assert d.frame == wire.encode_envelope(d.envelope)
    if spoof is not None or style == "null-from-last":
        assert all(d.frame is None for d in fx if type(d) is Deliver)


def test_a_plain_canonical_message_leaves_as_the_canonical_frame_to_every_device() -> None:
    hub = _hub()
    frame = wire.encode(wire.ContactMessage(7, 'say "hi"\n'), to="bob")
    fx = hub.receive("a", frame, NOW)
    assert [d.conn for d in fx if type(d) is Deliver] == ["b", "c"]
    for d in fx:
        assert type(d) is Deliver and d.frame is not None
        assert d.frame == wire.encode_envelope(d.envelope)
        assert wire.decode(d.frame).sender == "alice/d"


def test_every_way_of_writing_from_ends_with_the_verified_sender() -> None:
    head = '{"v":1,"type":"contact_message","to":"bob/d",'
    spoofs = [
        head + '"from":"mallory/x","uuid":1,"content":"hi"}',
        head + '"uuid":1,"content":"hi","from":null}',
        head + '"uuid":1,"content":"hi","from":"mallory/x"}',
        head + '"uuid":1,"content":"hi","fr\\u006fm":null}',
        head + '"uuid":1,"content":"hi","fr\\u006fm":"mallory/x"}',
        head + '"uuid":1,"from":"x","from":null,"content":"hi"}',
    ]
    for text in spoofs:
        hub = _hub()
        for data in (text, text.encode()):
            [d] = hub.receive("a", data, NOW)
            assert type(d) is Deliver and d.conn == "b"
            assert wire.decode(_sent(d)).sender == "alice/d", text


def test_the_splice_declines_what_it_cannot_write_safely() -> None:
    def splice(data: Any) -> bytes | None:
        text = data if isinstance(data, str) else bytes(data)
        env, keys = wire.decode_keys(text)
        return restamped(data, env, keys, "alice/d")

    canonical = wire.encode(wire.ContactMessage(1, "hi"), to="bob")
    assert splice(canonical) == canonical.replace(b'"to":"bob",', b'"to":"bob","from":"alice/d",')
    assert splice(canonical.decode()) == splice(canonical)
    assert splice(bytearray(canonical)) is None
    assert splice(wire.encode(wire.ContactMessage(1, "hi"), to='bo"b')) is None
    spaced = b'{"v": 1, "type": "contact_message", "to": "bob", "uuid": 1, "content": "hi"}'
    assert splice(spaced) is None  # not the canonical head
    assert splice(wire.encode(wire.ContactMessage(1, "hi"))) is None  # no "to"
    for written in (b'"from":null', b'"fr\\u006fm":null', b'"from":"x","from":null'):
        assert splice(canonical[:-1] + b"," + written + b"}") is None


def test_plain_routed_types_have_no_call_room_or_relay_state() -> None:
    for cls in _PLAIN_ROUTED:
        names = {info.name for info in wire.fields_of(cls)}
        assert "call_id" not in names, cls
        assert cls not in _RELAY_ONLY and cls not in (wire.Register, wire.Unregister), cls
        example = wire.decode(
            json.dumps({"v": 1, "type": cls.TYPE, **_minimal(cls)}).encode()
        ).message
        assert not is_conversation(example), cls


def _minimal(cls: type[wire.Message]) -> dict[str, Any]:
    values = {
        wire.FieldKind.STR: "x",
        wire.FieldKind.INT: 1,
        wire.FieldKind.FLOAT: 1.0,
        wire.FieldKind.BOOL: True,
        wire.FieldKind.STR_LIST: [],
        wire.FieldKind.PAYLOAD: {},
    }
    out: dict[str, Any] = {}
    for info in wire.fields_of(cls):
        if info.has_default:
            continue
        if info.kind is wire.FieldKind.ENUM:
            assert info.enum_type is not None
            out[info.name] = next(iter(info.enum_type)).value
        else:
            out[info.name] = values[info.kind]
    return out


def test_a_plain_message_to_nobody_is_answered_as_before() -> None:
    hub = _hub()
    [d] = hub.receive("a", wire.encode(wire.ContactMessage(1, "hi"), to="carol"), NOW)
    assert type(d) is Deliver and d.conn == "a" and d.frame is None
    assert isinstance(d.envelope.message, wire.ServerError)
    [d] = hub.receive("a", wire.encode(wire.ContactMessage(1, "hi"), to="alice"), NOW)
    assert isinstance(d.envelope.message, wire.ServerError)  # the sender's own user: nobody else


_BUCKET = st.tuples(
    st.none() | st.floats(0.5, 50.0), st.floats(1.0, 5.0), st.floats(0.0, 5.0), st.floats(0, 2)
)


@settings(max_examples=100, deadline=None)
@given(
    specs=st.lists(st.none() | _BUCKET, min_size=1, max_size=3),
    steps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=12),
)
def test_take_one_is_ready_then_take_of_each_bucket(
    specs: list[tuple[float | None, float, float, float] | None], steps: list[float]
) -> None:
    def make() -> tuple[TokenBucket | None, ...]:
        return tuple(
            None if s is None else TokenBucket(s[0], s[1], min(s[2], s[1]), s[3]) for s in specs
        )

    fused, plain = make(), make()
    now = 2.0
    for step in steps:
        now += step
        got = take_one(now, fused)
        first_empty = next(
            (n for n, b in enumerate(plain) if b is not None and not b.ready(now)), -1
        )
        if first_empty < 0:
            for b in plain:
                if b is not None:
                    b.take()
        assert got == first_empty
        for a, b in zip(fused, plain, strict=True):
            assert (a is None and b is None) or (
                a is not None and b is not None and (a.tokens, a.last) == (b.tokens, b.last)
            )


def _outcome(fn: Any, data: bytes) -> tuple[str, Any]:
    try:
        return ("ok", fn(data))
    except wire.DecodeError as exc:
        return ("error", (exc.reason, exc.detail))


@settings(max_examples=150, deadline=None)
@given(
    env=envelopes(),
    cut=st.integers(0, 400),
    junk=st.binary(max_size=6),
    backend=st.sampled_from(wire.available_json_backends()),
)
def test_decode_keys_decides_as_decode_and_shows_the_keys_written(
    env: wire.Envelope, cut: int, junk: bytes, backend: str
) -> None:
    previous = wire.use_json_backend(backend)
    try:
        frame = wire.encode_envelope(env)
        for data in (frame, frame[:cut] + junk + frame[cut:]):
            got = _outcome(lambda d: wire.decode_keys(d), data)
            assert _outcome(wire.decode, data) == (got[0], got[1][0] if got[0] == "ok" else got[1])
            if got[0] == "ok" and data is frame:
                assert ("from" in got[1][1]) == (env.sender is not None)
    finally:
        wire.use_json_backend(previous)
