"""User data on the relay: what each user published (apiRTC's ``UserData``), and who hears it.

Theory of operation
-------------------
A device sends ``user_data_set`` (no ``to``); :class:`UserDataStore` keeps the last data per
user of each tenant, as the one ``user_data_update`` envelope every listener gets (encoded
once), and tells at once everyone who hears the user's presence (its presence audience, O(its
size)), the sender's own connection excepted. Data over ``max_bytes`` (encoded) is refused with
``server_error`` ``oversize`` (``refused``: ``{"type": "user_data_set"}``) and nothing changes.
A connection that starts hearing users (a contact or group subscription, its initial presence)
is sent the data of the users listed, by :meth:`UserDataStore.initial`, with the presence that
lists them. A user's data is forgotten when its last device leaves: a user's data costs the
relay at most ``max_bytes`` while it is online, nothing after. Tenants never see each other's.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from rtcstate import wire
from rtcstate.hub.effects import Deliver, HubEffect
from rtcstate.hub.presence import Presence
from rtcstate.wire_contact import UserDataSet, UserDataUpdate

__all__ = ["DEFAULT_MAX_USER_DATA", "UserDataStore"]

DEFAULT_MAX_USER_DATA = 4096
"""Bytes of a user's data (its encoded ``user_data_update``) the relay keeps at most."""


@attrs.define(slots=True, eq=False)
class UserDataStore:
    """The user data of every online user, per tenant."""

    max_bytes: int = DEFAULT_MAX_USER_DATA
    #: tenant -> user -> the ``user_data_update`` envelope its listeners get
    _by_tenant: dict[str, dict[str, wire.Envelope]] = attrs.field(factory=dict, init=False)

    def get(self, tenant: str, user: str) -> wire.Envelope | None:
        """The envelope telling ``user``'s data in ``tenant`` (None: nothing published)."""
        mine = self._by_tenant.get(tenant)
        return None if mine is None else mine.get(user)

    def set(
        self, conn: str, tenant: str, user: str, msg: UserDataSet, presence: Presence
    ) -> tuple[list[HubEffect], str | None]:
        """``user`` (on ``conn``) publishes ``msg.data``: kept and told to its presence
        audience. Returns the deliveries, and the refusal's words (None: accepted)."""
        update = UserDataUpdate(user, msg.data)
        size = len(wire.encode(update))
        if size > self.max_bytes:
            return [], f"user data of {size} bytes, over {self.max_bytes}"
        env = wire.Envelope(update)
        mine = self._by_tenant.setdefault(tenant, {})
        old = mine.get(user)
        mine[user] = env
        if old is not None and old.message == update:
            return [], None
        return [Deliver(c, env) for c in presence.audience(user) if c != conn], None

    def initial(self, conn: str, tenant: str, users: Iterable[str]) -> list[HubEffect]:
        """The data of ``users`` (those that published some) for ``conn``, which just started
        hearing them."""
        mine = self._by_tenant.get(tenant)
        if not mine:
            return []
        out: list[HubEffect] = []
        for user in users:
            env = mine.get(user)
            if env is not None:
                out.append(Deliver(conn, env))
        return out

    def forget(self, tenant: str, user: str) -> None:
        """``user`` has no device left in ``tenant``: its data goes."""
        mine = self._by_tenant.get(tenant)
        if mine is not None and mine.pop(user, None) is not None and not mine:
            del self._by_tenant[tenant]

    def users(self, tenant: str) -> int:
        """How many users of ``tenant`` have data kept (for tests and metrics)."""
        return len(self._by_tenant.get(tenant, ()))
