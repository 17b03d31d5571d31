"""Conversations in the hub: a registered connection's room requests go to the room authority.

Theory of operation
-------------------
The :class:`~rtcstate.hub.Hub` holds one :class:`~rtcstate.rooms.RoomAuthority` (its
``rooms``, whose fields are the rooms' limits) behind a
:class:`~rtcstate.rooms_routing.RoomRouter`; :class:`HubRooms` is the hub's side of it, so the
hub's dispatch needs one test (:func:`is_conversation`) and one call:

* a conversation *request* from a registered connection (whatever its ``to``: rooms are the
  relay's) is handed to the authority with the connection's verified identity and address and
  its tenant's ``address -> connection`` table, so tenants never meet in a room; what the
  authority decides comes back as the hub's own :class:`~rtcstate.hub.effects.Deliver`
  effects, a refusal as its ``ConvError`` and a ``refused`` :class:`~rtcstate.hub.effects.Log`
  line (like the hub's other refusals);
* a conversation *notice* (a message only the relay sends, ``ConvJoined``, ``ConvEjected``...)
  sent by a client is refused with ``ServerError(forbidden)``, logged, and goes nowhere;
* when an address is freed (``Unregister``, a closed connection, a move to another address) it
  leaves its rooms and waiting rooms (:meth:`HubRooms.freed`); an address taken over by a
  reconnection of the same identity is not freed, and keeps its rooms.

Cost: what the authority costs (O(1) per request) plus one delivery per recipient.
"""

from __future__ import annotations

import attrs

from rtcstate import wire
from rtcstate.effects import Drop
from rtcstate.hub.effects import Deliver, HubEffect, Log
from rtcstate.hub.lifecycle import Connection
from rtcstate.hub.routing import Space, server_error
from rtcstate.rooms import RoomAuthority
from rtcstate.rooms_routing import RoomRouter, RoutingDrop
from rtcstate.wire_streams import ROOM_RELAY_ONLY as RELAY_ONLY
from rtcstate.wire_streams import ROOM_REQUESTS as REQUESTS

__all__ = ["HubRooms", "is_conversation"]

_CONVERSATION: frozenset[type[wire.Message]] = REQUESTS | RELAY_ONLY


def is_conversation(message: wire.Message) -> bool:
    """Whether ``message`` is a conversation request or notice (handled by :class:`HubRooms`,
    whatever its ``to``)."""
    return type(message) in _CONVERSATION


@attrs.define(slots=True, eq=False)
class HubRooms:
    """The hub's conversation rooms: requests in, the hub's effects out."""

    router: RoomRouter[Deliver]

    @classmethod
    def of(cls, authority: RoomAuthority) -> HubRooms:
        return cls(RoomRouter(authority, Deliver))

    def handle(
        self, c: Connection, space: Space, message: wire.Message, now: float
    ) -> list[HubEffect]:
        """A conversation message from registered connection ``c`` (of tenant ``space``)."""
        identity, address = c.identity, c.address
        assert identity is not None and address is not None
        if RoomRouter.is_relay_only(message):
            info = f"{message.TYPE} is sent by the relay only"
            return [
                server_error(c.id, wire.ServerErrorCode.FORBIDDEN, info),
                Log(
                    "refused", c.id, (("code", "forbidden"), ("reason", info), ("source", c.source))
                ),
            ]
        out: list[HubEffect] = []
        for effect in self.router.request(identity, address, message, space.by_address, now):
            if type(effect) is Drop and effect.reason is RoutingDrop.REFUSED:
                out.append(Log("refused", c.id, (("reason", effect.detail), ("source", c.source))))
            else:
                out.append(effect)
        return out

    def freed(self, space: Space, address: str, now: float) -> list[HubEffect]:
        """``address`` of tenant ``space`` was freed: it leaves its rooms; the notices."""
        return list(self.router.disconnect(address, space.by_address, now, space.tenant))
