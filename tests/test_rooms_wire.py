"""The conversation messages on the wire: registered, strictly decoded, canonical round trips,
and split into requests (client -> relay) and notices (relay only)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtcstate.wire_conversation as wc
import rtcstate.wire_streams as ws
from rtcstate import wire
from rtcstate.testing.strategies import addresses, strategy_for

CONVERSATION = sorted(
    (cls for cls in wire.MESSAGE_TYPES.values() if cls.__module__ == wc.__name__),
    key=lambda cls: cls.TYPE,
)


def test_every_conversation_message_is_registered_and_is_a_request_or_a_notice() -> None:
    assert len(CONVERSATION) == 31
    assert set(CONVERSATION) == set(wc.REQUESTS) | set(wc.RELAY_ONLY)
    assert not set(wc.REQUESTS) & set(wc.RELAY_ONLY)
    for cls in CONVERSATION:
        assert cls.TYPE.startswith("conv_") and cls.ROUTE == "room"
        assert wire.MESSAGE_TYPES[cls.TYPE] is cls
    for request in wc.REQUESTS:
        names = [info.name for info in wire.fields_of(request)]
        assert names[:2] == ["room", "request_id"], request
        assert isinstance(request.COMMAND, wc.ConvCommand)
    # every command word names one request (the stream requests of wire_streams included)
    assert {r.COMMAND for r in ws.ROOM_REQUESTS} == set(wc.ConvCommand)
    assert len(ws.ROOM_REQUESTS) == len(wc.ConvCommand)


@pytest.mark.parametrize("cls", CONVERSATION, ids=[c.TYPE for c in CONVERSATION])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_canonical_round_trip(cls: type[wire.Message], data: st.DataObject) -> None:
    message = data.draw(strategy_for(cls))
    to = data.draw(st.none() | addresses())
    sender = data.draw(st.none() | addresses())
    encoded = wire.encode(message, to=to, sender=sender)
    env = wire.decode(encoded)
    assert env == wire.Envelope(message, to, sender)
    assert wire.encode_envelope(env) == encoded  # encode(decode(x)) == x


def _doc(**fields: object) -> bytes:
    base: dict[str, object] = {
        "v": 1,
        "type": "conv_error",
        "room": "r",
        "request_id": "q1",
        "reason": "banned",
        "code": 14,
        "info": "ejected",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"reason": "sorry"}, wire.DecodeReason.INVALID_VALUE),
        ({"code": "14"}, wire.DecodeReason.WRONG_TYPE),
        ({"code": True}, wire.DecodeReason.WRONG_TYPE),
        ({"room": ...}, wire.DecodeReason.MISSING_FIELD),
        ({"role": "moderator"}, wire.DecodeReason.UNEXPECTED_FIELD),
        ({"version": None}, None),
        ({"version": 1.5}, wire.DecodeReason.WRONG_TYPE),
    ],
)
def test_strict_decoding(fields: dict[str, object], reason: wire.DecodeReason | None) -> None:
    data = _doc(**fields)
    if reason is None:
        assert type(wire.decode(data).message) is wc.ConvError
    else:
        with pytest.raises(wire.DecodeError) as info:
            wire.decode(data)
        assert info.value.reason is reason


def test_a_join_canonical_bytes() -> None:
    assert wire.encode(wc.ConvJoin("standup", "q1", password="pw")) == (
        b'{"v":1,"type":"conv_join","room":"standup","request_id":"q1","password":"pw",'
        b'"moderated":false}'
    )
    text = wire.encode(wc.ConvJoined("r", "q", wc.ConversationRole.MODERATOR, [], [], 0, 0, True))
    assert b'"role":"moderator"' in text
