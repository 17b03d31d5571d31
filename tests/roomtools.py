"""Shared helpers for the room authority tests: identities, a world that records every delivery
per address, request builders and the refusal check."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

from rtcstate import wire
from rtcstate.identity import Identity
from rtcstate.rooms import (
    REFUSALS,
    Notify,
    Refused,
    RoomAuthority,
    RoomEffect,
    deliveries,
)
from rtcstate.wire_conversation import ConvError, ConvRequest, RoomRefusal

TENANT = "acme"


def ident(user: str, *roles: str, tenant: str = TENANT) -> Identity:
    return Identity(user, tenant, roles=frozenset(roles), verified=True)


class World:
    """An authority, the identity of each address, a clock and every address's inbox."""

    def __init__(self, **config: Any) -> None:
        self.auth = RoomAuthority(**config)
        self.now = 0.0
        self.ids: dict[str, Identity] = {}
        self.inbox: defaultdict[str, list[wire.Envelope]] = defaultdict(list)
        self._serial = itertools.count(1)

    def rid(self) -> str:
        return f"r{next(self._serial)}"

    def identity(self, address: str) -> Identity:
        found = self.ids.get(address)
        return found if found is not None else ident(address.partition("/")[0])

    def send(self, address: str, request: wire.Message) -> list[RoomEffect]:
        fx = self.auth.receive(self.identity(address), address, request, self.now)
        self._record(fx)
        return fx

    def disconnect(self, address: str) -> list[RoomEffect]:
        fx = self.auth.disconnect(address, self.now)
        self._record(fx)
        return fx

    def _record(self, fx: list[RoomEffect]) -> None:
        for address, env in deliveries(fx):
            self.inbox[address].append(env)

    def take(self, address: str) -> list[wire.Message]:
        """The messages ``address`` received since the last take."""
        got = [env.message for env in self.inbox.get(address, [])]
        self.inbox[address] = []
        return got

    def clear(self) -> None:
        self.inbox.clear()

    def of_type(self, address: str, kind: type[wire.Message]) -> list[Any]:
        return [env.message for env in self.inbox.get(address, []) if type(env.message) is kind]


def assert_refused(
    world: World, address: str, request: ConvRequest, reason: RoomRefusal
) -> ConvError:
    """``request`` from ``address`` is refused for ``reason``: only the requester hears of it
    (one ``ConvError`` with the catalogued number) and the authority is exactly as before."""
    before = world.auth.state(world.now)
    world.clear()
    fx = world.send(address, request)
    assert len(fx) == 2, fx
    notify, refused = fx
    assert type(notify) is Notify and notify.address == address, fx
    error = notify.envelope.message
    assert type(error) is ConvError, error
    assert error.reason is reason, error
    assert error.code == int(REFUSALS[reason][0])
    assert error.room == request.room and error.request_id == request.request_id
    assert type(refused) is Refused and refused.reason is reason and refused.request == request
    assert world.auth.state(world.now) == before
    assert set(world.inbox) == {address}, dict(world.inbox)
    world.clear()
    return error
