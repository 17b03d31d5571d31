"""Coalesced presence: the periodic flush of presence changes and the lazy initial presence.

Theory of operation
-------------------
With coalesced presence (the hub's ``presence_interval``) a change costs O(1) when it happens:
:class:`~rtcstate.hub.presence.Presence` only marks the user in the groups it is (or was) in
and for its contact subscribers. :func:`flush`, run by the hub's ``tick`` every
``presence_interval`` seconds, tells every subscriber of each marked group the group's changes
in ``PresenceBatch(group=...)`` messages (one per group per flush unless the changes exceed a
frame: every device of each user still in the group, and the users who left it); the same
envelope goes to every subscriber in one :class:`~rtcstate.hub.effects.Fanout` (the group's
subscribers, copied), so a flush costs the hub one effect per changed group and the adapter
one encoding and one queued frame per subscriber, however many joins and leaves happened in
the interval. Contact subscribers get their
contacts' changes in one ``PresenceBatch`` (``group`` None) per flush.

Initial presence is owed, not sent: subscribing queues a :class:`~rtcstate.hub.presence.
SnapshotJob` per group (and one for the contacts) on the connection, and :func:`feed` sends
the next batches, up to a byte budget, when the connection's backlog is low (the adapter
reports it with ``Hub.queued``; without reports, at each tick). A group's member list is copied
at its first batch, then read from the live indexes, so a batch always says the current state:
a change after the batch that covered a user reaches the newcomer as a delta. Nothing here is
O(users online) at registration, and no connection is sent more than its budget at once, so a
newcomer is never closed as a slow consumer for the size of the tenant.

A user's devices always travel in one batch (the hub's limits make one user's presence fit a
frame), so the client sees each user's full device list at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from rtcstate import wire
from rtcstate.hub.effects import Deliver, Fanout, HubEffect
from rtcstate.hub.presence import ConnPresence, Presence

__all__ = ["delta_batches", "feed", "flush"]

#: bytes of a PresenceBatch besides its names and group: {"v":1,"type":"presence_batch",...}
_OVERHEAD = 112
#: a group this small (or smaller) is listed at once when subscribed to
SMALL_GROUP = 64
#: names :func:`feed` measures at once
_CHUNK = 32


def delta_batches(
    group: str | None, present: Iterable[list[str]], left: Iterable[str], max_bytes: int
) -> Iterator[wire.PresenceBatch]:
    """``PresenceBatch`` messages of ``group`` within ``max_bytes`` each: every device list in
    ``present`` (one user's, kept whole) and every user in ``left``."""
    budget = max_bytes - _OVERHEAD - (0 if group is None else len(group.encode()))
    devices: list[str] = []
    gone: list[str] = []
    used = 0
    for item in _items(present, left):
        cost = sum(len(a.encode()) + 3 for a in item[1])
        if (devices or gone) and used + cost > budget:
            yield wire.PresenceBatch(devices, group, gone)
            devices, gone, used = [], [], 0
        if item[0]:
            devices.extend(item[1])
        else:
            gone.extend(item[1])
        used += cost
    if devices or gone:
        yield wire.PresenceBatch(devices, group, gone)


def _items(present: Iterable[list[str]], left: Iterable[str]) -> Iterator[tuple[bool, list[str]]]:
    for devs in present:
        yield True, devs
    for user in left:
        yield False, [user]


def flush(
    presence: Presence, users: Mapping[str, Mapping[str, str]], max_bytes: int
) -> list[HubEffect]:
    """Tell every subscriber the changes marked since the last flush (and forget them)."""
    fx: list[HubEffect] = []
    dirty_groups, presence.dirty_groups = presence.dirty_groups, {}
    for group, changed in dirty_groups.items():
        subs = presence.group_subs.get(group)
        if not subs:
            continue
        members = presence.members.get(group, {})
        present: list[list[str]] = []
        left: list[str] = []
        for user in changed:
            devs = users.get(user)
            if devs and user in members:
                present.append(list(devs))
            else:
                left.append(user)
        for msg in delta_batches(group, present, left, max_bytes):
            fx.append(Fanout(tuple(subs), wire.Envelope(msg)))  # one effect, one frame
    dirty_users, presence.dirty_users = presence.dirty_users, {}
    per_conn: dict[str, tuple[list[list[str]], list[str]]] = {}
    for user in dirty_users:
        subs = presence.contact_subs.get(user)
        if not subs:
            continue
        devs = users.get(user)
        for conn in subs:
            entry = per_conn.setdefault(conn, ([], []))
            if devs:
                entry[0].append(list(devs))
            else:
                entry[1].append(user)
    for conn, (present, left) in per_conn.items():
        fx.extend(Deliver(conn, wire.Envelope(m)) for m in delta_batches(None, present, left,
                                                                         max_bytes))  # fmt: skip
    return fx


def feed(
    conn: str,
    own: str | None,
    mine: ConnPresence,
    presence: Presence,
    users: Mapping[str, Mapping[str, str]],
    max_bytes: int,
    budget: int,
    small_only: bool = False,
) -> list[HubEffect]:
    """Send ``conn`` the next batches of the initial presence it is owed, about ``budget``
    bytes at most (``small_only``: stop at the first group larger than :data:`SMALL_GROUP`,
    whose list is left for later). ``own``: the connection's address (not told to itself
    when it is its user's only device)."""
    fx: list[HubEffect] = []
    jobs = mine.jobs
    sent = 0
    while jobs and sent < budget:
        job = jobs[0]
        group = job.group
        if group is not None and group not in mine.groups:
            jobs.popleft()  # unsubscribed meanwhile
            continue
        if job.names is None:
            members = presence.members.get(group, {}) if group is not None else {}
            if small_only and len(members) > SMALL_GROUP:
                break
            job.names = list(members)
        names = job.names
        flat: list[str] = []
        used = 0
        limit = min(max_bytes // 2, budget - sent)  # about one frame's worth per batch
        live = presence.members.get(group, {}) if group is not None else mine.contacts
        first, end = job.pos, len(names)
        pos = first
        while pos < end and used < limit:
            # a chunk of names at once, measured in one go; the chunk where the budget ends
            # is walked again name by name (so a batch stops where it would one by one)
            stop = min(end, pos + _CHUNK)
            mark = len(flat)
            for user in names[pos:stop]:
                devs = users.get(user)
                if devs and user in live and not (len(devs) == 1 and own in devs):
                    flat.extend(devs)
            added = len(flat) - mark
            cost = len("".join(flat[mark:]).encode()) + 3 * added
            if used + cost < limit:
                used += cost
                pos = stop
                continue
            del flat[mark:]
            while pos < stop and used < limit:
                user = names[pos]
                pos += 1
                devs = users.get(user)
                if not devs or user not in live or (len(devs) == 1 and own in devs):
                    continue
                flat.extend(devs)
                for address in devs:
                    used += len(address.encode()) + 3
        job.pos = pos
        room = max_bytes - _OVERHEAD - (0 if group is None else len(group.encode()))
        if flat and used <= room:
            # what delta_batches would say, without measuring every name again: one batch
            fx.append(Deliver(conn, wire.Envelope(wire.PresenceBatch(flat, group, []))))
        elif flat:  # more than a frame: split, each user's devices kept together
            present = [list(devs) for devs in _listed(names[first:pos], users, live, own)]
            for msg in delta_batches(group, present, [], max_bytes):
                fx.append(Deliver(conn, wire.Envelope(msg)))
        sent += max(used, 1)
        if job.pos >= len(names):
            jobs.popleft()
    return fx


def _listed(
    names: Iterable[str],
    users: Mapping[str, Mapping[str, str]],
    live: Mapping[str, object],
    own: str | None,
) -> Iterator[Mapping[str, str]]:
    """The device lists :func:`feed` sends of ``names``: online, still in ``live``, and not
    the connection's own address when it is its user's only device."""
    for user in names:
        devs = users.get(user)
        if devs and user in live and not (len(devs) == 1 and own in devs):
            yield devs
