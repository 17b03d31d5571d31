"""Scoped presence: who hears whose presence, inside one tenant.

Theory of operation
-------------------
apiRTC's presence groups: a device *joins* groups (its user's presence is published there) and
*subscribes* to groups (it hears the presence of every user with a device in them); it may also
subscribe to single users (its contacts). A device hears the presence of a user when it
subscribed to that user or to a group the user is in; nobody else's. By default the hub makes
every registration join and subscribe to one group (``"default"``, as apiRTC does), so a small
deployment behaves as if presence were broadcast within the tenant; a large one turns that off
(``presence_group=None``) and clients subscribe to their contacts and groups.

:class:`Presence` keeps the indexes both ways (group -> users -> member count, user -> groups,
group -> subscribed connections, user -> subscribed connections), so the audience of a change
costs O(its size), never O(users online). Initial presence (on registration or subscription)
is a list of online device addresses, split by :func:`batches` into ``PresenceBatch``
messages no larger than the frame limit.

Coalesced presence (``coalesce``, the hub's ``presence_interval``): a change only *marks* the
user in the groups it is (or was) in and for its contact subscribers, O(its groups); the
flush (:mod:`rtcstate.hub.presence_feed`) tells each marked group's subscribers in one
bounded ``PresenceBatch`` per group per flush, whatever the number of changes, and a
connection's initial presence is a queue of :class:`SnapshotJob` fed as its backlog drains.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import attrs

__all__ = ["ConnPresence", "Presence", "SnapshotJob", "batches"]

#: bytes of a PresenceBatch without its devices: {"v":1,"type":"presence_batch","devices":[]}
_BATCH_OVERHEAD = 64


def batches(addresses: Iterable[str], max_bytes: int) -> Iterator[list[str]]:
    """Split ``addresses`` in lists whose ``PresenceBatch`` encodes within ``max_bytes``
    (names hold no character JSON escapes: the hub refuses them at registration)."""
    budget = max_bytes - _BATCH_OVERHEAD
    batch: list[str] = []
    used = 0
    for address in addresses:
        cost = len(address.encode()) + 3  # quotes and comma
        if batch and used + cost > budget:
            yield batch
            batch, used = [], 0
        batch.append(address)
        used += cost
    if batch:
        yield batch


@attrs.define(slots=True)
class SnapshotJob:
    """Initial presence still owed to a connection: the members of ``group`` (None: the users
    ``names``), listed lazily (``names`` None until the first batch), sent from ``pos`` on."""

    group: str | None
    names: list[str] | None
    pos: int = 0


@attrs.define(slots=True, eq=False)
class ConnPresence:
    """One connection's groups joined, groups subscribed and contacts subscribed; with
    coalesced presence, the initial presence it is still owed and its last reported backlog."""

    joined: dict[str, None] = attrs.field(factory=dict)
    groups: dict[str, None] = attrs.field(factory=dict)
    contacts: dict[str, None] = attrs.field(factory=dict)
    jobs: deque[SnapshotJob] = attrs.field(factory=deque)
    #: bytes waiting to be sent to it, as last reported (``Hub.queued``)
    queued: int = 0

    def count(self) -> int:
        return len(self.groups) + len(self.contacts)


@attrs.define(slots=True, eq=False)
class Presence:
    """The presence indexes of one tenant."""

    #: group -> user -> number of that user's connections in the group
    members: dict[str, dict[str, int]] = attrs.field(factory=dict)
    #: user -> groups it is in (any of its devices)
    groups_of: dict[str, dict[str, None]] = attrs.field(factory=dict)
    #: group -> subscribed connections (in subscription order)
    group_subs: dict[str, dict[str, None]] = attrs.field(factory=dict)
    #: user -> connections subscribed to it
    contact_subs: dict[str, dict[str, None]] = attrs.field(factory=dict)
    #: coalesced presence: changes are marked here and told at the next flush
    coalesce: bool = False
    #: group -> users whose presence in it changed since the last flush
    dirty_groups: dict[str, dict[str, None]] = attrs.field(factory=dict)
    #: users whose devices changed since the last flush (for their contact subscribers)
    dirty_users: dict[str, None] = attrs.field(factory=dict)

    def touch(self, user: str) -> None:
        """``user``'s devices changed: mark it in its groups and for its contacts (O(its
        groups)); a no-op unless coalescing."""
        if not self.coalesce:
            return
        for group in self.groups_of.get(user, ()):
            self.dirty_groups.setdefault(group, {})[user] = None
        self.dirty_users[user] = None

    def audience(self, user: str) -> dict[str, None]:
        """The connections that hear ``user``'s presence, in a stable order."""
        out: dict[str, None] = {}
        for group in self.groups_of.get(user, ()):
            out.update(self.group_subs.get(group, {}))
        out.update(self.contact_subs.get(user, {}))
        return out

    def sees(self, conn: str, mine: ConnPresence, user: str) -> bool:
        """Whether connection ``conn`` (with subscriptions ``mine``) hears ``user``."""
        if user in mine.contacts:
            return True
        return any(g in mine.groups for g in self.groups_of.get(user, ()))

    def visible_users(self, mine: ConnPresence) -> dict[str, None]:
        """Every user ``mine`` hears (contacts first, then group members), in a stable order."""
        out: dict[str, None] = dict.fromkeys(mine.contacts)
        for group in mine.groups:
            out.update(dict.fromkeys(self.members.get(group, {})))
        return out

    def join(self, user: str, group: str) -> bool:
        """One more connection of ``user`` in ``group``; True if the user just entered it."""
        members = self.members.setdefault(group, {})
        count = members.get(user, 0)
        members[user] = count + 1
        if count == 0:
            self.groups_of.setdefault(user, {})[group] = None
            if self.coalesce:
                self.dirty_groups.setdefault(group, {})[user] = None
        return count == 0

    def leave(self, user: str, group: str) -> bool:
        """One connection of ``user`` fewer in ``group``; True if the user just left it."""
        members = self.members.get(group)
        if members is None or user not in members:
            return False
        members[user] -= 1
        if members[user] > 0:
            return False
        del members[user]
        if not members:
            del self.members[group]
        if self.coalesce:
            self.dirty_groups.setdefault(group, {})[user] = None
        groups = self.groups_of[user]
        del groups[group]
        if not groups:
            del self.groups_of[user]
        return True

    def subscribe(
        self, conn: str, mine: ConnPresence, contacts: list[str], groups: list[str]
    ) -> None:
        for user in contacts:
            mine.contacts[user] = None
            self.contact_subs.setdefault(user, {})[conn] = None
        for group in groups:
            mine.groups[group] = None
            self.group_subs.setdefault(group, {})[conn] = None

    def unsubscribe(
        self, conn: str, mine: ConnPresence, contacts: Iterable[str], groups: Iterable[str]
    ) -> None:
        for user in list(contacts):
            if mine.contacts.pop(user, 0) is None:
                _discard(self.contact_subs, user, conn)
        for group in list(groups):
            if mine.groups.pop(group, 0) is None:
                _discard(self.group_subs, group, conn)


def _discard(index: dict[str, dict[str, None]], key: str, conn: str) -> None:
    subs = index.get(key)
    if subs is not None:
        subs.pop(conn, None)
        if not subs:
            del index[key]
