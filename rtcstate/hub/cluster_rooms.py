"""The rooms of a cluster's room authority: persisted as they change, kept for a member whose
node died, handed over to the next authority.

Theory of operation
-------------------
One node of a cluster, the *room authority* (a lease in Redis, docs/cluster.md), holds every
conversation room. :class:`ClusterRooms` is that node's :class:`~rtcstate.hub.conversations.
HubRooms` with three more duties, each sans-I/O:

* **Persist.** While it is the authority (:meth:`ClusterRooms.take`, with the records its
  adapter read from Redis), the :class:`~rtcstate.rooms.RoomAuthority` keeps a journal of the
  rooms each request or departure changed; the hub turns it into one
  :class:`~rtcstate.hub.effects.RoomsChanged` effect placed *before* the step's other effects,
  and the adapter writes those rooms' records (:meth:`ClusterRooms.records`, as of the write)
  before it sends the step's notices to the other nodes: what a member on another node was told
  (a message's ``seq``, an admission, a ban) is in Redis first. Given up
  (:meth:`ClusterRooms.give_up`) when another node holds the lease: the rooms are forgotten here.
* **Hold.** When a node dies its addresses are freed everywhere (presence told, as for a
  closed connection), but a freed address that is in rooms keeps its place there for
  ``grace`` seconds (:attr:`ClusterRooms.holding`, set by the hub while it frees a dead node's
  addresses); the same for every member or waiter of a room taken over that no connection holds
  (its node died with the authority). It is the one-node rule for a connection the relay has not
  seen close: a reconnection of the same identity takes the address over and keeps its rooms and
  its role. An address registered again within the grace by the same identity (tenant, user,
  verified) is released (:meth:`ClusterRooms.release`) and stays; by another, or once the grace
  is over (:meth:`ClusterRooms.expire`), it leaves its rooms as a disconnection does.
* Notices meanwhile for a held address have no connection: dropped (``room-address-gone``).

Cost: one dict lookup per registration (a release) and per freed address of a dead node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from rtcstate.hub.conversations import HubRooms
from rtcstate.hub.effects import HubEffect, Log
from rtcstate.hub.routing import Space
from rtcstate.identity import Identity
from rtcstate.rooms_snapshot import restore, room_record

__all__ = ["ClusterRooms"]

_Key = tuple[str, str]


@attrs.define(slots=True, eq=False)
class ClusterRooms(HubRooms):
    """A cluster node's conversation rooms (module docstring)."""

    #: seconds a room member whose node died keeps its place, waiting for it to register again
    grace: float = 10.0
    #: while set, an address freed is held until this time rather than leaving its rooms
    holding: float | None = None
    #: (tenant, address) -> end of its grace
    held: dict[_Key, float] = attrs.field(factory=dict)

    @property
    def persisting(self) -> bool:
        """Whether this node holds the rooms, journaled for persistence."""
        return self.router.authority.journal is not None

    def freed(self, space: Space, address: str, now: float) -> list[HubEffect]:
        until = self.holding
        if until is not None and self.router.authority.rooms_of(address, space.tenant):
            self.held[(space.tenant, address)] = until
            return [Log("room-hold", address, (("tenant", space.tenant), ("until", until)))]
        return super().freed(space, address, now)

    def release(
        self, identity: Identity, address: str, space: Space, now: float
    ) -> list[HubEffect]:
        """``address`` was registered by ``identity``: a held place is its again (the same
        identity) or is left now (another one)."""
        if not self.held or self.held.pop((identity.tenant, address), None) is None:
            return []
        member = self.router.authority.identity_of(identity.tenant, address)
        if member is not None and member.same_owner(identity):
            return [Log("room-kept", address, (("tenant", identity.tenant),))]
        return super().freed(space, address, now)

    def next_deadline(self) -> float | None:
        return min(self.held.values()) if self.held else None

    def expire(self, now: float, spaces: Mapping[str, Space]) -> list[HubEffect]:
        """The held places whose grace is over leave their rooms (the members told)."""
        fx: list[HubEffect] = []
        for key, until in list(self.held.items()):
            if until <= now:
                del self.held[key]
                tenant, address = key
                space = spaces.get(tenant)
                table: Mapping[str, str] = {} if space is None else space.by_address
                fx.extend(self.router.disconnect(address, table, now, tenant))
        return fx

    # --- the authority's hand-overs -----------------------------------------------------------

    def take(
        self,
        records: Iterable[dict[str, Any]],
        bound: Mapping[str, Space],
        now: float,
        wall: float,
    ) -> list[str]:
        """Hold the rooms of ``records`` from now on (journaled); every member or waiter that no
        connection of ``bound`` (tenant -> space) holds is held for ``grace``. Return what was
        skipped (records that do not parse)."""
        authority = self.router.authority
        skipped = restore(authority, records, now, wall)
        authority.journal = {}
        self.held.clear()
        for tenant, name in authority.rooms():
            view = authority.room(tenant, name)
            assert view is not None
            space = bound.get(tenant)
            for address in (*(a for a, _ in view.members), *view.waiting):
                if space is None or address not in space.by_address:
                    self.held[(tenant, address)] = now + self.grace
        return skipped

    def give_up(self, now: float, wall: float) -> None:
        """Another node holds the rooms now: forget them here."""
        authority = self.router.authority
        restore(authority, (), now, wall)
        authority.journal = None
        self.held.clear()

    def records(
        self, keys: Iterable[_Key], now: float, wall: float
    ) -> list[tuple[_Key, dict[str, Any] | None]]:
        """The record of each room of ``keys`` as of now (None: nothing to keep)."""
        authority = self.router.authority
        return [(key, room_record(authority, key[0], key[1], now, wall)) for key in keys]
