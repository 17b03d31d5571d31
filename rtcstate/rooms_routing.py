"""Rooms routing: the relay's hub hands conversation requests to the room authority and sends
what it decides, as the hub's own delivery effects.

Theory of operation
-------------------
The hub knows connections and addresses; the :class:`~rtcstate.rooms.RoomAuthority` knows
rooms and addresses. A :class:`RoomRouter` sits between them, so that neither imports the
other: the hub gives it the request, the sender's verified identity and address, its
``address -> connection`` table and ``now``; it asks the authority and turns each
:class:`~rtcstate.rooms.Notify` and :class:`~rtcstate.rooms.Broadcast` into one delivery per
connection, built by the ``deliver(conn, envelope)`` function the hub gave it (the hub's
``Deliver``). A refusal becomes, after its ``conv_error`` delivery, a
:class:`~rtcstate.effects.Drop` (:attr:`RoutingDrop.REFUSED`) for the relay's log; an address
that has no connection any more gets nothing (:attr:`RoutingDrop.GONE`).

What the hub needs (a few lines in ``Hub``):

* build ``RoomRouter(RoomAuthority(...), Deliver)`` once;
* in ``receive_envelope``, once the sender is registered and before looking at ``to``:
  ``if router.is_request(msg): return router.request(identity, sender, msg, by_address, now)``
  (a conversation request goes to the relay, whatever its ``to``);
* refuse ``router.is_relay_only(msg)`` from clients like its other relay-only messages;
* when an address is freed (``Unregister``, ``disconnect``): ``router.disconnect(address,
  by_address, now, tenant)``; an address moving to a new connection (a reconnection) keeps its
  rooms.

Cost: O(1) per request besides one delivery per recipient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

import attrs

from rtcstate import wire
from rtcstate.drops import DropReason
from rtcstate.effects import Drop
from rtcstate.identity import Identity
from rtcstate.rooms import Broadcast, Notify, Refused, RoomAuthority, RoomEffect
from rtcstate.wire_streams import ROOM_RELAY_ONLY as RELAY_ONLY
from rtcstate.wire_streams import ROOM_REQUESTS as REQUESTS

__all__ = ["RoomRouter", "RoutingDrop"]

D = TypeVar("D")


class RoutingDrop(DropReason):
    """Why the router logs a room outcome instead of delivering it."""

    REFUSED = "room-refused"
    """The authority refused a request (the requester was sent a ``conv_error``)."""
    GONE = "room-address-gone"
    """A notice for an address that has no connection any more."""
    NOT_A_REQUEST = "not-a-room-request"
    """A message that is not a conversation request reached the router."""


@attrs.define(slots=True, eq=False)
class RoomRouter(Generic[D]):
    """The hub's side of conversations: requests in, deliveries out."""

    authority: RoomAuthority
    #: builds the hub's delivery effect (``Deliver(conn, envelope)``)
    deliver: Callable[[str, wire.Envelope], D]

    @staticmethod
    def is_request(message: wire.Message) -> bool:
        """Whether ``message`` is a conversation request (for the relay, whatever its ``to``)."""
        return type(message) in REQUESTS

    @staticmethod
    def is_relay_only(message: wire.Message) -> bool:
        """Whether ``message`` is a conversation notice only the relay may send."""
        return type(message) in RELAY_ONLY

    def request(
        self,
        identity: Identity,
        address: str,
        message: wire.Message,
        connections: Mapping[str, str],
        now: float,
    ) -> list[D | Drop]:
        """Hand one request from ``address`` to the authority; return what to send."""
        if type(message) not in REQUESTS:
            return [Drop(RoutingDrop.NOT_A_REQUEST, f"{message.TYPE} is not a room request")]
        fx = self.authority.receive(identity, address, message, now)
        return self._deliveries(fx, connections)

    def disconnect(
        self, address: str, connections: Mapping[str, str], now: float, tenant: str | None = None
    ) -> list[D | Drop]:
        """``address`` of ``tenant`` (None: of every tenant) was freed: it leaves its rooms;
        return the notices to send."""
        return self._deliveries(self.authority.disconnect(address, now, tenant), connections)

    def _deliveries(self, fx: list[RoomEffect], connections: Mapping[str, str]) -> list[D | Drop]:
        deliver = self.deliver
        get = connections.get
        out: list[D | Drop] = []
        for effect in fx:
            kind = type(effect)
            if kind is Broadcast:
                assert isinstance(effect, Broadcast)
                env = effect.envelope
                skip = effect.skip
                for address in effect.addresses:
                    if address != skip:
                        conn = get(address)
                        if conn is not None:
                            out.append(deliver(conn, env))
                        else:
                            out.append(Drop(RoutingDrop.GONE, f"{address} has no connection"))
            elif kind is Notify:
                assert isinstance(effect, Notify)
                conn = get(effect.address)
                if conn is not None:
                    out.append(deliver(conn, effect.envelope))
                else:
                    out.append(Drop(RoutingDrop.GONE, f"{effect.address} has no connection"))
            elif kind is Refused:
                assert isinstance(effect, Refused)
                detail = f"{effect.request.TYPE} from {effect.address}: {effect.reason.value}"
                out.append(Drop(RoutingDrop.REFUSED, f"{detail} ({effect.detail})"))
            else:
                assert isinstance(effect, Drop)
                out.append(effect)
        return out
