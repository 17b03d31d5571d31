"""Rooms as plain values: one room's record out of a :class:`~rtcstate.rooms.RoomAuthority`,
and every room put back into one (a cluster's next room authority), sans-I/O.

Theory of operation
-------------------
A cluster keeps its conversation rooms in Redis so that they survive the node that holds them
(docs/cluster.md). :func:`room_record` turns one room of an authority into a JSON-able dict --
its creator, settings, members (address, user, roles, verified, role) in order of entry, its
moderators, its waiting room (with each waiter's request id), its ``seq`` and message history,
its persistent data and version, its streams and subscriptions, and the bans from it still
running (as seconds left, dated by the caller's wall clock ``wall``) -- or None when there is
nothing left to keep (no room and no ban). The answers to the room's last accepted requests
(:data:`ANSWERS_PERSISTED`, those the authority still keeps for repeats) go with it, so that a
request repeated across a failover is answered again rather than done twice. :func:`restore`
replaces everything an authority holds by the records given, rebuilding its indexes (rooms per
address and per tenant, users per room); bans that ended meanwhile (``wall`` minus the
record's) are dropped.

A record that does not parse (another program on the same Redis) is skipped and named in the
returned list; restoring never raises on a record's content.

Cost: O(members + history + streams) per record, each way; the members' entries are built
once per membership and shared by the records written until it changes.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from rtcstate import wire
from rtcstate.codes import ConversationRole
from rtcstate.identity import Identity
from rtcstate.rooms import Notify, RoomAuthority, _add, _Member, _Room, _Waiter
from rtcstate.rooms_streams import RoomStreams, _Published
from rtcstate.wire_conversation import ConvAck, ConvCommand

__all__ = ["RECORD_VERSION", "restore", "room_record"]

RECORD_VERSION = 1
"""The record format's number (``"v"``): a record of another format is skipped."""

ANSWERS_PERSISTED = 16
"""The answers to a room's last accepted requests that go with its record (the requests that
may be in flight at a failover: a few per member at most)."""


#: room -> (its member tuple, its members' entries), while that room lives
_MEMBERS: weakref.WeakKeyDictionary[_Room, tuple[tuple[str, ...], list[list[Any]]]] = (
    weakref.WeakKeyDictionary()
)
_BAD_RECORD = (KeyError, TypeError, ValueError, IndexError, AttributeError)


def _who(identity: Identity) -> list[Any]:
    return [identity.user, sorted(identity.roles), identity.verified]


def room_record(
    authority: RoomAuthority, tenant: str, name: str, now: float, wall: float
) -> dict[str, Any] | None:
    """The record of room ``name`` of ``tenant`` (``now``: the authority's clock; ``wall``: a
    clock shared by the nodes, dating the bans), or None when nothing is left to keep."""
    authority._expire(now)
    bans = [
        [user, until - now]
        for (t, n, user), until in authority._bans.items()
        if t == tenant and n == name and until > now
    ]
    room = authority._rooms.get((tenant, name))
    if room is None and not bans:
        return None
    record: dict[str, Any] = {"v": RECORD_VERSION, "tenant": tenant, "name": name,
                              "at": wall, "bans": bans, "room": None}  # fmt: skip
    if room is not None:
        media = room.media
        record["room"] = {
            "creator": room.creator,
            "moderated": room.moderated,
            "password": room.password,
            "members": _members(room),
            "moderators": list(room.moderators),
            "waiting": [[a, *_who(w.identity), w.request_id] for a, w in room.waiting.items()],
            "seq": room.seq,
            "history": [list(h) for h in room.history],
            "data": room.data,
            "version": room.version,
            "streams": []
            if media is None
            else [
                [sid, p.owner, p.audio, p.video, p.audio_muted, p.video_muted, p.context]
                for sid, p in media.streams.items()
            ],
            "subs": [] if media is None else [[s, w, c] for (s, w), c in media.subs.items()],
            "answers": _answers(authority, room),
        }
    return record


def _members(room: _Room) -> list[list[Any]]:
    """[address, user, roles, verified, role] of each member, in order of entry; built once per
    membership (the member tuple is a new one at each change), shared by the records until."""
    everyone = room.everyone()
    cached = _MEMBERS.get(room)
    if cached is not None and cached[0] is everyone:
        return cached[1]
    members = [[a, *_who(m.identity), m.role.value] for a, m in room.members.items()]
    _MEMBERS[room] = (everyone, members)
    return members


def _answers(authority: RoomAuthority, room: _Room) -> list[list[Any]]:
    """[address, request id, command, seq, version] of the room's kept answers (each one
    ``ConvAck`` to its requester: what the authority keeps)."""
    out: list[list[Any]] = []
    tenant = room.key[0]
    answers = authority._answers
    recent = room.recent
    skip = len(recent) - ANSWERS_PERSISTED
    for n, (address, which) in enumerate(recent):
        if n < skip:
            continue
        kept = answers.get((tenant, address))
        answer = None if kept is None else kept.get(which)
        if answer is None or len(answer) != 1:
            continue
        note = answer[0]
        if type(note) is not Notify or note.address != address:
            continue
        ack = note.envelope.message
        if type(ack) is ConvAck:
            out.append([address, which[1], which[2], ack.seq, ack.version])
    return out


def restore(
    authority: RoomAuthority, records: Iterable[dict[str, Any]], now: float, wall: float
) -> list[str]:
    """Replace every room and ban of ``authority`` by ``records``; return what was skipped
    (a record that does not parse, with why)."""
    authority._rooms.clear()
    authority._per_tenant.clear()
    authority._where.clear()
    authority._answers.clear()
    authority._bans.clear()
    authority._ban_queue.clear()
    skipped: list[str] = []
    for record in records:
        try:
            _restore_one(authority, record, now, wall)
        except _BAD_RECORD as exc:
            skipped.append(f"room record {str(record)[:80]!r}: {exc!r}")
    queue = sorted((until, who) for who, until in authority._bans.items())
    authority._ban_queue.extend(queue)
    for kept in authority._answers.values():  # (an address's answers from several rooms)
        while len(kept) > authority.answers_kept:
            del kept[next(iter(kept))]
    return skipped


def _identity(tenant: str, user: Any, roles: Any, verified: Any) -> Identity:
    if not isinstance(user, str) or not isinstance(roles, list):
        raise TypeError("an identity is [user, roles, verified]")
    return Identity(user, tenant, roles=frozenset(map(str, roles)), verified=bool(verified))


def _restore_one(authority: RoomAuthority, record: dict[str, Any], now: float, wall: float) -> None:
    if record.get("v") != RECORD_VERSION:
        raise ValueError(f"record format {record.get('v')!r}")
    tenant, name = str(record["tenant"]), str(record["name"])
    key = (tenant, name)
    elapsed = max(0.0, wall - float(record["at"]))
    spec = record["room"]
    room: _Room | None = None
    if spec is not None:
        room = _room(key, spec)
    for user, left in record["bans"]:
        until = now + float(left) - elapsed
        if until > now:
            authority._bans[(tenant, name, str(user))] = until
    if room is None:
        return
    answers = [
        (str(address), (key, str(rid), str(command)),
         (Notify(str(address), wire.Envelope(ConvAck(key[1], str(rid), ConvCommand(command),
                                                     seq, version))),))
        for address, rid, command, seq, version in spec.get("answers", ())
    ]  # fmt: skip
    authority._rooms[key] = room
    authority._per_tenant[tenant] = authority._per_tenant.get(tenant, 0) + 1
    for address in (*room.members, *room.waiting):
        authority._where.setdefault((tenant, address), {})[key] = None
    for address, which, answer in answers:
        authority._answers.setdefault((tenant, address), {})[which] = answer
        room.recent.append((address, which))


def _room(key: tuple[str, str], spec: dict[str, Any]) -> _Room:
    tenant = key[0]
    password = spec["password"]
    room = _Room(key, str(spec["creator"]), bool(spec["moderated"]),
                 None if password is None else str(password))  # fmt: skip
    for address, user, roles, verified, role in spec["members"]:
        identity = _identity(tenant, user, roles, verified)
        room.members[str(address)] = _Member(identity, ConversationRole(role))
        _add(room.member_users, identity.user, str(address))
    for address in spec["moderators"]:
        if address in room.members:
            room.moderators[str(address)] = None
    for address, user, roles, verified, request_id in spec["waiting"]:
        identity = _identity(tenant, user, roles, verified)
        room.waiting[str(address)] = _Waiter(identity, str(request_id))
        _add(room.waiting_users, identity.user, str(address))
    room.seq = int(spec["seq"])
    for seq, sender, content in spec["history"]:
        room.history.append((int(seq), str(sender), str(content)))
        room.history_chars += len(str(content))
    data = spec["data"]
    if not isinstance(data, dict):
        raise TypeError("data must be an object")
    room.data = data
    room.version = int(spec["version"])
    streams, subs = spec["streams"], spec["subs"]
    if streams or subs:
        book = room.media = RoomStreams()
        for sid, owner, audio, video, audio_muted, video_muted, context in streams:
            flags = (bool(audio), bool(video), bool(audio_muted), bool(video_muted))
            book.streams[str(sid)] = _Published(str(owner), *flags, context)
            book.owned.setdefault(str(owner), {})[str(sid)] = None
        for sid, who, call in subs:
            book.subs[(str(sid), str(who))] = str(call)
            book.calls[str(call)] = (str(sid), str(who))
            book.receives.setdefault(str(who), {})[str(sid)] = None
    return room
