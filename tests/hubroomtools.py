"""Shared helpers for the hub's conversation tests: a Hub whose verifier reads a test token
(``tenant`` or ``tenant:role,role``), bytes in, what each connection reads out, and the check
that a request was refused with nothing changed and nobody else told."""

from __future__ import annotations

import json
from typing import Any

from rtcstate import wire
from rtcstate.hub import CloseConnection, Deliver, Hub, HubEffect, Identity, Log, Refusal
from rtcstate.rooms import REFUSALS, RoomAuthority
from rtcstate.wire_conversation import ConvError, ConvRequest, RoomRefusal


def verify(register: wire.Register, now: float) -> Identity | Refusal:
    """The token ``tenant[:role,role]`` (no token: the default tenant, no role)."""
    if not register.token:
        return Identity(register.user, verified=True)
    tenant, _, roles = register.token.partition(":")
    return Identity(
        register.user, tenant, roles=frozenset(r for r in roles.split(",") if r), verified=True
    )


class Relay:
    """A Hub fed with bytes; ``conns`` maps each address to its connection."""

    def __init__(self, hub: dict[str, Any] | None = None, **rooms: Any) -> None:
        # no presence group: what a test reads is what the rooms send
        config: dict[str, Any] = {"presence_group": None, **(hub or {})}
        self.hub = Hub(verifier=verify, rooms=RoomAuthority(**rooms), **config)
        self.now = 0.0

    def connect(self, conn: str, user: str, device: str = "d", token: str | None = None) -> None:
        if self.hub.state(conn) is None:
            self.hub.connect(conn, self.now)
        fx = self.hub.receive(conn, wire.encode(wire.Register(user, device, token)), self.now)
        assert type(read(fx, conn)[0]) is wire.Registered, fx

    def send(
        self, conn: str, msg: wire.Message, to: str | None = None, **kw: Any
    ) -> list[HubEffect]:
        return self.hub.receive(conn, wire.encode(msg, to=to, **kw), self.now)

    def raw(self, conn: str, frame: dict[str, Any]) -> list[HubEffect]:
        return self.hub.receive(conn, json.dumps(frame).encode(), self.now)

    def state(self) -> tuple[object, ...]:
        return self.hub.rooms.state(self.now)


def envelopes(fx: list[HubEffect], conn: str) -> list[wire.Envelope]:
    """What ``conn`` reads: the bytes of its deliveries, decoded again."""
    return [
        wire.decode(wire.encode_envelope(e.envelope))
        for e in fx
        if type(e) is Deliver and e.conn == conn
    ]


def read(fx: list[HubEffect], conn: str) -> list[wire.Message]:
    return [env.message for env in envelopes(fx, conn)]


def readers(fx: list[HubEffect]) -> set[str]:
    return {e.conn for e in fx if type(e) is Deliver}


def assert_refused(
    relay: Relay,
    conn: str,
    request: ConvRequest,
    reason: RoomRefusal,
    to: str | None = None,
    **kw: Any,
) -> ConvError:
    """``request`` (bytes, from ``conn``) is refused for ``reason``: ``conn`` alone reads one
    ``ConvError`` with the catalogued apiRTC number, the hub logs the refusal, closes nothing,
    and the rooms are exactly as before."""
    before = relay.state()
    fx = relay.send(conn, request, to=to, **kw)
    assert readers(fx) == {conn}, fx
    [error] = read(fx, conn)
    assert type(error) is ConvError, error
    assert error.reason is reason, error
    assert error.code == int(REFUSALS[reason][0])
    assert (error.room, error.request_id) == (request.room, request.request_id)
    assert [e.event for e in fx if type(e) is Log] == ["refused"]
    assert not [e for e in fx if type(e) is CloseConnection]
    assert relay.state() == before
    return error


def assert_forbidden(relay: Relay, conn: str, msg: wire.Message, to: str | None) -> None:
    """A relay-only message from a client: ``ServerError(forbidden)`` to it alone, logged,
    nothing changed."""
    before = relay.state()
    fx = relay.send(conn, msg, to=to)
    assert readers(fx) == {conn}, fx
    [error] = read(fx, conn)
    assert type(error) is wire.ServerError and error.code == "forbidden", error
    assert [e.event for e in fx if type(e) is Log] == ["refused"]
    assert relay.state() == before
