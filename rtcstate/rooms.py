"""Rooms: the relay's authority over conversation rooms (members, roles, waiting room, bans,
persistent data, message order), sans-I/O.

Theory of operation
-------------------
The relay holds every conversation; clients only ask. A :class:`RoomAuthority` takes one
request at a time -- a decoded :mod:`rtcstate.wire_conversation` request, the sender's verified
:class:`~rtcstate.identity.Identity`, its address (``"user/device"``) and the adapter's ``now``
-- and returns :data:`RoomEffect` values in order: :class:`Notify` (one envelope to one
address), :class:`Broadcast` (one envelope to many addresses, a room's member list shared, not
copied per message) and, for a refused request, :class:`Refused` (for logs) next to the
:class:`~rtcstate.wire_conversation.ConvError` the requester is sent. ``disconnect(address)``
removes an address from every room it is in. It never raises on a request and never reads a
clock; ``now`` only dates bans.

Rooms are keyed by (tenant, name): tenants never see each other's rooms. The first join creates
the room with the joiner's settings (``moderated``; ``password`` makes it private) and makes the
joiner's user its *creator*. A moderator is the creator's user or an identity whose roles hold
:attr:`RoomAuthority.moderator_role` -- never what a client says about itself. In a moderated
room every other joiner waits in the waiting room (``ConvWaiting`` to it, ``ConvJoinRequest`` to
the moderators present) until a moderator allows it (it becomes a member: ``ConvEntry`` then
``ConvJoined``) or denies it. When a moderator joins, the waiters are told
(``ConvModeratorConnected``) and it is sent their join requests; when one leaves or disconnects,
the waiters are told (``ConvModeratorLeft``) and nobody is admitted. A room is forgotten when
its last member and waiter are gone, or when a moderator closes it.

Refusals (:data:`REFUSALS`: reason -> apiRTC error number) leave everything as it was and tell
only the requester: allow/deny/eject/close by a non-moderator; messages, data, custom events and
persistent data from a waiter or a non-member; a join by a user ejected less than
:attr:`~RoomAuthority.ban_time` ago, to a private room without its password, beyond
:attr:`~RoomAuthority.max_members` (or the waiting room's, the tenant's or the address's room
limits); a data update whose version is not the current one (the loser is told the current
version: updates are compare-and-set, never silently overwritten).

Repeats. A client repeats a request it has no answer for with the same ``request_id`` (join
requests and allow answers every 5 s, as apiRTC does). The answer to every accepted request is
kept per address (the last :attr:`~RoomAuthority.answers_kept`, forgotten at disconnect) and a
repeat gets the same answer again and changes nothing: each request takes effect once. A
repeated join is answered as things are now: ``ConvJoined`` (today's member list) to a member,
``ConvWaiting`` to a waiter, and a ``ConvAck`` once the address has left. A refused request is
not kept: its repeat is judged again (it changed nothing).

Messages get the room's next ``seq`` and go to every member but the sender (who gets the ack
with the ``seq``), in ``seq`` order; the last :attr:`~RoomAuthority.history_size` (bounded in
bytes too) are replayed to each new member after its ``ConvJoined``, flagged ``history``.

Cost. Each request costs O(1) dict operations besides the notices it must produce; a room's
member tuple is built once per membership change and shared by every broadcast until the next
one, so a message to N members costs O(1) here (the adapter pays the N sends). A join copies the
member list once (the joiner's ``ConvJoined``).
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from rtcstate import wire
from rtcstate.codes import ConversationRole, ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import Drop
from rtcstate.identity import Identity
from rtcstate.rooms_streams import STREAM_HANDLERS, StreamView, catch_up, member_gone
from rtcstate.wire_conversation import (
    ConvAck,
    ConvAllow,
    ConvCancelJoin,
    ConvClose,
    ConvClosed,
    ConvContactJoined,
    ConvContactLeft,
    ConvCustomEvent,
    ConvData,
    ConvDataState,
    ConvDataUpdated,
    ConvDeny,
    ConvEject,
    ConvEjected,
    ConvEntry,
    ConvError,
    ConvGetData,
    ConvJoin,
    ConvJoined,
    ConvJoinRequest,
    ConvLeave,
    ConvMessage,
    ConvModeratorConnected,
    ConvModeratorLeft,
    ConvRequest,
    ConvSendData,
    ConvSendEvent,
    ConvSendMessage,
    ConvSetData,
    ConvUpdateData,
    ConvWaiting,
    ConvWaitingLeft,
    LeaveReason,
    RoomRefusal,
)

__all__ = [
    "REFUSALS",
    "Broadcast",
    "Notify",
    "Refused",
    "RoomAuthority",
    "RoomDrop",
    "RoomEffect",
    "RoomView",
    "deliveries",
]


class RoomDrop(DropReason):
    """Inputs the room authority ignores on purpose."""

    UNKNOWN_REQUEST = "unknown-request"
    """A message that is not a conversation request reached :meth:`RoomAuthority.receive`."""


REFUSALS: dict[RoomRefusal, tuple[ErrorNumber, str]] = {
    RoomRefusal.NOT_JOINED: (
        ErrorNumber.ERROR_WRONG_STATE,
        "a member-only request (leave, message, data, custom event, persistent data, and every "
        "moderator command) from an address that is not a member of the room",
    ),
    RoomRefusal.WAITING: (
        ErrorNumber.ERROR_WRONG_STATE,
        "a member-only request from an address still in the room's waiting room",
    ),
    RoomRefusal.NOT_MODERATOR: (
        ErrorNumber.ERROR_UNAUTHORIZED,
        "allow, deny, eject or close from a member that is not a moderator",
    ),
    RoomRefusal.NOT_WAITING: (
        ErrorNumber.ERROR_WRONG_STATE,
        "cancel join from an address that is not in the waiting room",
    ),
    RoomRefusal.UNKNOWN_CONTACT: (
        ErrorNumber.ERROR_NOT_FOUND,
        "allow or deny of a user with no device waiting, eject of a user with no device in the "
        "room",
    ),
    RoomRefusal.BANNED: (
        ErrorNumber.ERROR_NOT_ALLOWED,
        "a join by a user ejected from the room less than the ban time ago",
    ),
    RoomRefusal.WRONG_PASSWORD: (
        ErrorNumber.ERROR_UNAUTHORIZED,
        "a join to a private room without its password, or with another one",
    ),
    RoomRefusal.ROOM_FULL: (
        ErrorNumber.ERROR_NOT_ALLOWED,
        "a join, or an allow, that would make the room hold more members than the limit",
    ),
    RoomRefusal.WAITING_ROOM_FULL: (
        ErrorNumber.ERROR_NOT_ALLOWED,
        "a join that would make the waiting room hold more waiters than the limit",
    ),
    RoomRefusal.TOO_MANY_ROOMS: (
        ErrorNumber.ERROR_NOT_ALLOWED,
        "a join that would create a room beyond the tenant's limit, or put an address in more "
        "rooms than the per-address limit",
    ),
    RoomRefusal.VERSION_CONFLICT: (
        ErrorNumber.ERROR_ON_SAVE,
        "a persistent-data set or update whose version is not the current one (the answer "
        "carries the current version)",
    ),
    RoomRefusal.DATA_TOO_LARGE: (
        ErrorNumber.ERROR_BAD_PARAMETER,
        "persistent data that would exceed the size limit",
    ),
    RoomRefusal.BAD_REQUEST: (
        ErrorNumber.ERROR_BAD_PARAMETER,
        "an empty or over-long room name, or a moderator ejecting its own user; a subscription "
        "to one's own stream, an over-long stream or call id, a call id already in use",
    ),
    RoomRefusal.UNKNOWN_STREAM: (
        ErrorNumber.ERROR_NOT_FOUND,
        "a subscription to a stream not in the room's list, an unsubscription from a stream "
        "not subscribed to, an unpublish / replace / update of a stream the requester does not "
        "publish, a signal for a call that does not link the requester to its peer",
    ),
    RoomRefusal.TOO_MANY_STREAMS: (
        ErrorNumber.ERROR_NOT_ALLOWED,
        "a publish beyond the per-member or per-room stream limit, a subscription beyond the "
        "per-member subscription limit",
    ),
    RoomRefusal.STREAM_TAKEN: (
        ErrorNumber.ERROR_BAD_PARAMETER,
        "a publish (or a replacement) under a stream id another member publishes",
    ),
}
"""Every refusal reason, with the apiRTC error number its ``ConvError`` carries, and when."""


# --- effects ----------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Notify:
    """Send ``envelope`` to the connection holding ``address``."""

    address: str
    envelope: wire.Envelope


@attrs.frozen(slots=True)
class Broadcast:
    """Send ``envelope`` to every address of ``addresses`` except ``skip``.

    ``addresses`` may be shared with other effects and messages: it is never mutated."""

    addresses: Sequence[str]
    envelope: wire.Envelope
    skip: str | None = None

    def recipients(self) -> list[str]:
        """The addresses that get the envelope, in order."""
        skip = self.skip
        return [a for a in self.addresses if a != skip]


@attrs.frozen(slots=True)
class Refused:
    """A request was refused (the requester is sent a ``ConvError``); for logs and tests."""

    reason: RoomRefusal
    code: ErrorNumber
    address: str
    request: ConvRequest
    detail: str


RoomEffect = Notify | Broadcast | Refused | Drop
"""What a :class:`RoomAuthority` asks its relay to do."""


@attrs.frozen(slots=True)
class RoomView:
    """A room's state, as plain values (for tests, the docs and diagnostics)."""

    tenant: str
    name: str
    creator: str
    moderated: bool
    private: bool
    members: tuple[tuple[str, ConversationRole], ...]
    waiting: tuple[str, ...]
    seq: int
    history: tuple[int, ...]
    version: int
    data: tuple[tuple[str, Any], ...]


# --- state ------------------------------------------------------------------------------------

_Key = tuple[str, str]


@attrs.define(slots=True, eq=False)
class _Member:
    identity: Identity
    role: ConversationRole


@attrs.define(slots=True, eq=False)
class _Waiter:
    identity: Identity
    request_id: str


@attrs.define(slots=True, eq=False)
class _Room:
    key: _Key
    creator: str
    moderated: bool
    password: str | None
    members: dict[str, _Member] = attrs.field(factory=dict)
    member_users: dict[str, dict[str, None]] = attrs.field(factory=dict)
    moderators: dict[str, None] = attrs.field(factory=dict)
    waiting: dict[str, _Waiter] = attrs.field(factory=dict)
    waiting_users: dict[str, dict[str, None]] = attrs.field(factory=dict)
    seq: int = 0
    #: (seq, sender address, content) of the last messages
    history: deque[tuple[int, str, str]] = attrs.field(factory=deque)
    history_chars: int = 0
    data: dict[str, Any] = attrs.field(factory=dict)
    version: int = 0
    #: the member addresses as a tuple, shared by broadcasts until the membership changes
    snapshot: tuple[str, ...] | None = None
    #: the room's streams and subscriptions (:class:`rtcstate.rooms_streams.RoomStreams`)
    media: Any = None
    #: (address, answer key) of the last accepted requests in this room (at most
    #: ``answers_kept``): the answers a cluster persists with the room, for repeats
    recent: deque[tuple[str, tuple[_Key, str, str]]] = attrs.field(factory=deque)

    @property
    def name(self) -> str:
        return self.key[1]

    def everyone(self) -> tuple[str, ...]:
        snap = self.snapshot
        if snap is None:
            snap = self.snapshot = tuple(self.members)
        return snap


def _add(index: dict[str, dict[str, None]], key: str, value: str) -> None:
    index.setdefault(key, {})[value] = None


def _discard(index: dict[str, dict[str, None]], key: str, value: str) -> None:
    values = index.get(key)
    if values is not None:
        values.pop(value, None)
        if not values:
            del index[key]


def _note(address: str, message: wire.Message) -> Notify:
    return Notify(address, wire.Envelope(message))


_Handler = Callable[
    ["RoomAuthority", Identity, str, _Key, "_Room | None", Any, float], list[RoomEffect]
]


@attrs.define(slots=True, eq=False)
class RoomAuthority:
    """Every conversation room of a relay, and the rules for who may do what in them."""

    #: members a room may hold (``ROOM_FULL`` beyond)
    max_members: int = 1000
    #: addresses a room's waiting room may hold (``WAITING_ROOM_FULL`` beyond)
    max_waiting: int = 100
    #: rooms a tenant may hold at once (``TOO_MANY_ROOMS`` beyond)
    max_rooms: int = 10_000
    #: rooms one address may be in (member or waiting) at once (``TOO_MANY_ROOMS`` beyond)
    max_rooms_per_address: int = 50
    #: seconds an ejected user may not join the room again (0: no ban)
    ban_time: float = 600.0
    #: messages kept per room for late joiners, and their total length (characters)
    history_size: int = 50
    history_chars: int = 65536
    #: encoded size limit of a room's persistent data (``DATA_TOO_LARGE`` beyond)
    max_data_size: int = 16384
    max_name_length: int = 256
    #: answers to accepted requests kept per address, for repeats
    answers_kept: int = 64
    #: the identity role that makes a user a moderator of every room of its tenant
    moderator_role: str = ConversationRole.MODERATOR.value
    #: streams one member may publish in a room, streams a room may list, and streams one
    #: member may subscribe to in a room (``TOO_MANY_STREAMS`` beyond)
    max_streams_per_member: int = 8
    max_streams_per_room: int = 256
    max_subscriptions: int = 256
    _rooms: dict[_Key, _Room] = attrs.field(factory=dict, init=False)
    _per_tenant: dict[str, int] = attrs.field(factory=dict, init=False)
    #: (tenant, address) -> keys of the rooms it is in (member or waiting), in order of entry
    #: (an address names a device within its tenant: the same one in two tenants is two)
    _where: dict[_Key, dict[_Key, None]] = attrs.field(factory=dict, init=False)
    #: (tenant, address) -> (room key, request id, command) -> answer effects of an accepted
    #: request
    _answers: dict[_Key, dict[tuple[_Key, str, str], tuple[RoomEffect, ...]]] = attrs.field(
        factory=dict, init=False
    )
    #: (tenant, room, user) -> end of the ban
    _bans: dict[tuple[str, str, str], float] = attrs.field(factory=dict, init=False)
    _ban_queue: deque[tuple[float, tuple[str, str, str]]] = attrs.field(factory=deque, init=False)
    #: keys of the rooms a request or a departure may have changed since the last
    #: :meth:`changed` (None: not kept; a cluster's room authority keeps it, to persist them)
    journal: dict[_Key, None] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        if min(self.max_members, self.max_waiting, self.max_rooms, self.answers_kept) < 1:
            raise ValueError("room limits must be >= 1")
        if self.max_rooms_per_address < 1 or self.history_size < 0 or self.ban_time < 0:
            raise ValueError("max_rooms_per_address >= 1, history_size and ban_time >= 0")

    # --- public: queries -----------------------------------------------------------------------

    def room(self, tenant: str, name: str) -> RoomView | None:
        """The state of room ``name`` of ``tenant``, or None if it does not exist."""
        room = self._rooms.get((tenant, name))
        if room is None:
            return None
        return RoomView(
            tenant=tenant,
            name=name,
            creator=room.creator,
            moderated=room.moderated,
            private=room.password is not None,
            members=tuple((a, m.role) for a, m in room.members.items()),
            waiting=tuple(room.waiting),
            seq=room.seq,
            history=tuple(s for s, _, _ in room.history),
            version=room.version,
            data=tuple(room.data.items()),
        )

    def streams(self, tenant: str, name: str) -> StreamView:
        """The streams and subscriptions of room ``name`` of ``tenant`` (empty if none)."""
        room = self._rooms.get((tenant, name))
        media = room.media if room is not None else None
        return media.view() if media is not None else StreamView((), ())

    def rooms(self) -> tuple[tuple[str, str], ...]:
        """(tenant, name) of every room, in creation order."""
        return tuple(self._rooms)

    def rooms_of(self, address: str, tenant: str | None = None) -> tuple[tuple[str, str], ...]:
        """(tenant, name) of every room ``address`` of ``tenant`` (None: of any tenant) is a
        member or a waiter of."""
        if tenant is not None:
            return tuple(self._where.get((tenant, address), ()))
        return tuple(k for (_, a), keys in self._where.items() if a == address for k in keys)

    def identity_of(self, tenant: str, address: str) -> Identity | None:
        """The identity ``address`` of ``tenant`` joined (or waits) with, if it is in a room."""
        for key in self._where.get((tenant, address), ()):
            room = self._rooms[key]
            holder = room.members.get(address) or room.waiting.get(address)
            if holder is not None:
                return holder.identity
        return None

    def banned_until(self, tenant: str, name: str, user: str, now: float) -> float | None:
        """When the ban of ``user`` from room ``name`` ends, or None if it is not banned."""
        until = self._bans.get((tenant, name, user))
        return until if until is not None and until > now else None

    def state(self, now: float) -> tuple[object, ...]:
        """Everything the authority holds that a request may change, as a comparable value
        (bans over by ``now`` left out: they end with time, not with a request)."""
        rooms = tuple((self.room(t, n), self.streams(t, n)) for t, n in self._rooms)
        bans = tuple(sorted((k, u) for k, u in self._bans.items() if u > now))
        return (rooms, bans, tuple(sorted(self._where)))

    # --- public: inputs ------------------------------------------------------------------------

    def receive(
        self, identity: Identity, address: str, request: wire.Message, now: float
    ) -> list[RoomEffect]:
        """Handle one conversation request from ``address`` (holding ``identity``); never
        raises."""
        self._expire(now)
        handler = _HANDLERS.get(type(request))
        if handler is None or not isinstance(request, ConvRequest):
            return [Drop(RoomDrop.UNKNOWN_REQUEST, f"{request.TYPE} is not a room request")]
        name = request.room
        if not name or len(name) > self.max_name_length:
            info = f"room name must have 1 to {self.max_name_length} characters"
            return self._refuse(address, request, RoomRefusal.BAD_REQUEST, info)
        key = (identity.tenant, name)
        kept = self._answers.get((identity.tenant, address))
        if kept is not None:
            answer = kept.get((key, request.request_id, request.COMMAND.value))
            if answer is not None:  # a repeat: answered again, nothing changes
                room = self._rooms.get(key)
                if type(request) is ConvJoin and room is not None:
                    if address in room.members:  # the answer as of now, not a stale list
                        return [self._joined(room, address, request.request_id)]
                    if address in room.waiting:
                        return [self._waiting(room, address, request.request_id)]
                return list(answer)  # (a join the address has left since: acknowledged)
        fx = handler(self, identity, address, key, self._rooms.get(key), request, now)
        journal = self.journal
        if journal is not None and not (fx and type(fx[-1]) is Refused):
            journal[key] = None
        return fx

    def disconnect(self, address: str, now: float, tenant: str | None = None) -> list[RoomEffect]:
        """``address`` of ``tenant`` is gone (None: in every tenant, for single-tenant uses): it
        leaves every room and waiting room it is in."""
        self._expire(now)
        if tenant is not None:
            whos = [(tenant, address)]
        else:
            held = dict.fromkeys([*self._where, *self._answers])  # in a fixed order
            whos = [who for who in held if who[1] == address]
        fx: list[RoomEffect] = []
        journal = self.journal
        for who in whos:
            self._answers.pop(who, None)
            if journal is not None:
                journal.update(dict.fromkeys(self._where.get(who, ())))
            fx.extend(self._leave_all(who))
        return fx

    def changed(self) -> list[tuple[str, str]]:
        """The rooms changed since the last call (in the order of their first change), and the
        journal emptied (nothing if it is not kept)."""
        journal = self.journal
        if not journal:
            return []
        keys = list(journal)
        journal.clear()
        return keys

    def _leave_all(self, who: _Key) -> list[RoomEffect]:
        address = who[1]
        fx: list[RoomEffect] = []
        for key in list(self._where.get(who, ())):
            room = self._rooms[key]
            if address in room.members:
                fx.extend(self._remove_member(room, address, LeaveReason.DISCONNECTED))
            else:
                fx.extend(self._remove_waiter(room, address, LeaveReason.DISCONNECTED))
            self._forget_if_empty(room)
        return fx

    # --- internals: answers ----------------------------------------------------------------------

    def _refuse(
        self,
        address: str,
        request: ConvRequest,
        reason: RoomRefusal,
        info: str,
        version: int | None = None,
    ) -> list[RoomEffect]:
        code = REFUSALS[reason][0]
        error = ConvError(request.room, request.request_id, reason, int(code), info, version)
        return [_note(address, error), Refused(reason, code, address, request, info)]

    def _keep(
        self, address: str, key: _Key, request: ConvRequest, answer: list[RoomEffect]
    ) -> None:
        kept = self._answers.get((key[0], address))
        if kept is None:
            kept = self._answers[key[0], address] = {}
        elif len(kept) >= self.answers_kept:
            del kept[next(iter(kept))]
        which = (key, request.request_id, request.COMMAND.value)
        kept[which] = tuple(answer)
        room = self._rooms.get(key)
        if room is not None:
            recent = room.recent
            if len(recent) >= self.answers_kept:
                recent.popleft()
            recent.append((address, which))

    def _ack(
        self,
        address: str,
        key: _Key,
        request: ConvRequest,
        seq: int | None = None,
        version: int | None = None,
    ) -> Notify:
        ack = _note(address, ConvAck(key[1], request.request_id, request.COMMAND, seq, version))
        self._keep(address, key, request, [ack])
        return ack

    def _notice(self, address: str, envelope: wire.Envelope) -> Notify:
        return Notify(address, envelope)

    def _broadcast(self, addresses: Sequence[str], envelope: wire.Envelope) -> Broadcast:
        return Broadcast(addresses, envelope)

    def _member_only(
        self, address: str, room: _Room | None, request: ConvRequest
    ) -> list[RoomEffect] | None:
        """The refusal of a member-only request from a non-member, or None for a member."""
        if room is not None and address in room.members:
            return None
        if room is not None and address in room.waiting:
            return self._refuse(address, request, RoomRefusal.WAITING, "still in the waiting room")
        return self._refuse(address, request, RoomRefusal.NOT_JOINED, "not a member of the room")

    def _moderator_only(
        self, address: str, room: _Room | None, request: ConvRequest
    ) -> list[RoomEffect] | None:
        refusal = self._member_only(address, room, request)
        if refusal is not None:
            return refusal
        assert room is not None
        if address not in room.moderators:
            info = f"{request.COMMAND.value} needs the moderator role"
            return self._refuse(address, request, RoomRefusal.NOT_MODERATOR, info)
        return None

    # --- internals: membership ------------------------------------------------------------------

    def _is_moderator(self, room: _Room, identity: Identity) -> bool:
        return identity.user == room.creator or identity.has_role(self.moderator_role)

    def _joined(
        self, room: _Room, address: str, request_id: str, members: list[str] | None = None
    ) -> Notify:
        member = room.members[address]
        return _note(
            address,
            ConvJoined(
                room=room.name,
                request_id=request_id,
                role=member.role,
                members=list(room.members) if members is None else members,
                moderators=list(room.moderators),
                seq=room.seq,
                data_version=room.version,
                moderated=room.moderated,
            ),
        )

    def _waiting(self, room: _Room, address: str, request_id: str) -> Notify:
        moderator = next(iter(room.moderators), None)
        return _note(address, ConvWaiting(room.name, request_id, moderator))

    def _admit(
        self, room: _Room, address: str, identity: Identity, request_id: str
    ) -> list[RoomEffect]:
        """Make ``address`` a member: its ``ConvJoined`` and the history, then the notices."""
        moderator = self._is_moderator(room, identity)
        role = ConversationRole.MODERATOR if moderator else ConversationRole.CONTRIBUTOR
        name = room.name
        before = room.snapshot
        room.members[address] = _Member(identity, role)
        # the new member tuple: a copy of the old one (a memcpy) rather than a walk of the dict;
        # concatenation is twice as fast as unpacking at 1,000 members
        snapshot = before + (address,) if before is not None else tuple(room.members)  # noqa: RUF005
        room.snapshot = snapshot
        _add(room.member_users, identity.user, address)
        self._where.setdefault((room.key[0], address), {})[room.key] = None
        if moderator:
            room.moderators[address] = None
        fx: list[RoomEffect] = [self._joined(room, address, request_id, list(snapshot))]
        for seq, sender, content in room.history:
            replay = wire.Envelope(ConvMessage(name, seq, content, True), None, sender)
            fx.append(Notify(address, replay))
        if len(snapshot) > 1:
            joined = wire.Envelope(ConvContactJoined(name, address, role))
            fx.append(Broadcast(snapshot, joined, address))
        if moderator and room.waiting:
            connected = wire.Envelope(ConvModeratorConnected(name, address))
            fx.append(Broadcast(tuple(room.waiting), connected))
            fx.extend(_note(address, ConvJoinRequest(name, w)) for w in room.waiting)
        if room.media is not None:
            fx.extend(catch_up(self, room, address))
        return fx

    def _remove_member(self, room: _Room, address: str, reason: LeaveReason) -> list[RoomEffect]:
        return self._remove_members(room, [address], reason)

    def _remove_members(
        self, room: _Room, addresses: list[str], reason: LeaveReason
    ) -> list[RoomEffect]:
        """Remove ``addresses`` (all at once: none of them hears of the others leaving)."""
        moderators_gone: list[str] = []
        for address in addresses:
            member = room.members.pop(address)
            _discard(room.member_users, member.identity.user, address)
            self._unindex(address, room.key)
            if address in room.moderators:
                del room.moderators[address]
                moderators_gone.append(address)
        room.snapshot = None
        name = room.name
        fx: list[RoomEffect] = []
        if room.members:
            remaining = room.everyone()
            for address in addresses:
                left = wire.Envelope(ConvContactLeft(name, address, reason))
                fx.append(Broadcast(remaining, left))
        if room.media is not None:
            fx.extend(member_gone(self, room, addresses, reason.value))
        if room.waiting:
            waiters = tuple(room.waiting)
            for address in moderators_gone:
                gone = wire.Envelope(ConvModeratorLeft(name, address, len(room.moderators)))
                fx.append(Broadcast(waiters, gone))
        return fx

    def _remove_waiter(self, room: _Room, address: str, reason: LeaveReason) -> list[RoomEffect]:
        waiter = room.waiting.pop(address)
        _discard(room.waiting_users, waiter.identity.user, address)
        self._unindex(address, room.key)
        if not room.moderators:
            return []
        left = wire.Envelope(ConvWaitingLeft(room.name, address, reason))
        return [Broadcast(tuple(room.moderators), left)]

    def _unindex(self, address: str, key: _Key) -> None:
        who = (key[0], address)
        keys = self._where.get(who)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del self._where[who]

    def _forget_if_empty(self, room: _Room) -> None:
        if not room.members and not room.waiting:
            self._forget(room)

    def _forget(self, room: _Room) -> None:
        if self._rooms.pop(room.key, None) is None:
            return
        tenant = room.key[0]
        count = self._per_tenant[tenant] - 1
        if count:
            self._per_tenant[tenant] = count
        else:
            del self._per_tenant[tenant]
        for address in (*room.members, *room.waiting):
            self._unindex(address, room.key)

    def _expire(self, now: float) -> None:
        queue = self._ban_queue
        bans = self._bans
        while queue and queue[0][0] <= now:
            until, who = queue.popleft()
            if bans.get(who) == until:
                del bans[who]

    # --- internals: requests --------------------------------------------------------------------

    def _join(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvJoin,
        now: float,
    ) -> list[RoomEffect]:
        if room is not None:
            if address in room.members:  # a repeat after the answer was lost: say it again
                return [self._joined(room, address, request.request_id)]
            waiter = room.waiting.get(address)
            if waiter is not None:  # a new join while waiting: its admission answers this one
                waiter.request_id = request.request_id
                return [self._waiting(room, address, request.request_id)]
        until = self._bans.get((key[0], key[1], identity.user))
        if until is not None and until > now:
            info = f"ejected: banned for {until - now:.0f} more seconds"
            return self._refuse(address, request, RoomRefusal.BANNED, info)
        if len(self._where.get((key[0], address), ())) >= self.max_rooms_per_address:
            info = f"an address may be in {self.max_rooms_per_address} rooms at most"
            return self._refuse(address, request, RoomRefusal.TOO_MANY_ROOMS, info)
        if room is None:
            if self._per_tenant.get(key[0], 0) >= self.max_rooms:
                info = f"the tenant holds {self.max_rooms} rooms already"
                return self._refuse(address, request, RoomRefusal.TOO_MANY_ROOMS, info)
            room = _Room(key, identity.user, request.moderated, request.password)
            self._rooms[key] = room
            self._per_tenant[key[0]] = self._per_tenant.get(key[0], 0) + 1
        elif room.password is not None and not hmac.compare_digest(
            (request.password or "").encode("utf-8", "surrogatepass"),
            room.password.encode("utf-8", "surrogatepass"),
        ):
            info = "this room is private: its password is needed"
            return self._refuse(address, request, RoomRefusal.WRONG_PASSWORD, info)
        if room.moderated and not self._is_moderator(room, identity):
            if len(room.waiting) >= self.max_waiting:
                info = f"the waiting room holds {self.max_waiting} already"
                return self._refuse(address, request, RoomRefusal.WAITING_ROOM_FULL, info)
            room.waiting[address] = _Waiter(identity, request.request_id)
            _add(room.waiting_users, identity.user, address)
            self._where.setdefault((key[0], address), {})[key] = None
            answer = self._waiting(room, address, request.request_id)
            joined = ConvAck(key[1], request.request_id, request.COMMAND)
            self._keep(address, key, request, [_note(address, joined)])
            fx: list[RoomEffect] = [answer]
            fx.extend(_note(m, ConvJoinRequest(room.name, address)) for m in room.moderators)
            return fx
        if len(room.members) >= self.max_members:
            info = f"the room holds {self.max_members} members already"
            return self._refuse(address, request, RoomRefusal.ROOM_FULL, info)
        fx = self._admit(room, address, identity, request.request_id)
        # kept for a repeat after the address left: an ack (a member gets a fresh ConvJoined)
        self._keep(
            address,
            key,
            request,
            [_note(address, ConvAck(key[1], request.request_id, request.COMMAND))],
        )
        return fx

    def _cancel_join(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvCancelJoin,
        now: float,
    ) -> list[RoomEffect]:
        if room is None or address not in room.waiting:
            info = "not in the waiting room"
            return self._refuse(address, request, RoomRefusal.NOT_WAITING, info)
        fx: list[RoomEffect] = [self._ack(address, key, request)]
        fx.extend(self._remove_waiter(room, address, LeaveReason.CANCELLED))
        self._forget_if_empty(room)
        return fx

    def _leave(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvLeave,
        now: float,
    ) -> list[RoomEffect]:
        refusal = self._member_only(address, room, request)
        if refusal is not None:
            return refusal
        assert room is not None
        fx: list[RoomEffect] = [self._ack(address, key, request)]
        fx.extend(self._remove_member(room, address, LeaveReason.LEFT))
        self._forget_if_empty(room)
        return fx

    def _allow(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvAllow,
        now: float,
    ) -> list[RoomEffect]:
        refusal = self._moderator_only(address, room, request)
        if refusal is not None:
            return refusal
        assert room is not None
        waiting = room.waiting_users.get(request.contact)
        if waiting is None:
            if request.contact in room.member_users:  # admitted already (by another moderator)
                return [self._ack(address, key, request)]
            info = f"{request.contact} has no device waiting"
            return self._refuse(address, request, RoomRefusal.UNKNOWN_CONTACT, info)
        if len(room.members) + len(waiting) > self.max_members:
            info = f"the room holds {len(room.members)} of {self.max_members} members"
            return self._refuse(address, request, RoomRefusal.ROOM_FULL, info)
        fx: list[RoomEffect] = [self._ack(address, key, request)]
        for waiter_address in list(waiting):
            waiter = room.waiting[waiter_address]
            fx.extend(self._remove_waiter(room, waiter_address, LeaveReason.ALLOWED))
            fx.append(_note(waiter_address, ConvEntry(room.name, waiter.request_id, True)))
            fx.extend(self._admit(room, waiter_address, waiter.identity, waiter.request_id))
        return fx

    def _deny(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvDeny,
        now: float,
    ) -> list[RoomEffect]:
        refusal = self._moderator_only(address, room, request)
        if refusal is not None:
            return refusal
        assert room is not None
        waiting = room.waiting_users.get(request.contact)
        if waiting is None:
            info = f"{request.contact} has no device waiting"
            return self._refuse(address, request, RoomRefusal.UNKNOWN_CONTACT, info)
        fx: list[RoomEffect] = [self._ack(address, key, request)]
        for waiter_address in list(waiting):
            waiter = room.waiting[waiter_address]
            fx.extend(self._remove_waiter(room, waiter_address, LeaveReason.DENIED))
            entry = ConvEntry(room.name, waiter.request_id, False, request.reason)
            fx.append(_note(waiter_address, entry))
        return fx

    def _eject(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvEject,
        now: float,
    ) -> list[RoomEffect]:
        refusal = self._moderator_only(address, room, request)
        if refusal is not None:
            return refusal
        assert room is not None
        user = request.contact
        if user == identity.user:
            return self._refuse(address, request, RoomRefusal.BAD_REQUEST, "cannot eject yourself")
        members = list(room.member_users.get(user, ()))
        waiters = list(room.waiting_users.get(user, ()))
        if not members and not waiters:
            info = f"{user} is not in the room"
            return self._refuse(address, request, RoomRefusal.UNKNOWN_CONTACT, info)
        ejected = wire.Envelope(ConvEjected(room.name, user, request.reason))
        fx: list[RoomEffect] = [self._ack(address, key, request)]
        if members:
            fx.append(Broadcast(room.everyone(), ejected))
        fx.extend(Notify(w, ejected) for w in waiters)
        if members:
            fx.extend(self._remove_members(room, members, LeaveReason.EJECTED))
        for waiter_address in waiters:
            fx.extend(self._remove_waiter(room, waiter_address, LeaveReason.EJECTED))
        if self.ban_time > 0:
            who = (key[0], key[1], user)
            until = now + self.ban_time
            self._bans[who] = until
            self._ban_queue.append((until, who))
        return fx

    def _close(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvClose,
        now: float,
    ) -> list[RoomEffect]:
        refusal = self._moderator_only(address, room, request)
        if refusal is not None:
            return refusal
        assert room is not None
        closed = wire.Envelope(ConvClosed(room.name))
        fx: list[RoomEffect] = [self._ack(address, key, request)]
        fx.append(Broadcast(room.everyone(), closed))
        if room.waiting:
            fx.append(Broadcast(tuple(room.waiting), closed))
        self._forget(room)
        return fx

    def _message(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvSendMessage,
        now: float,
    ) -> list[RoomEffect]:
        refusal = self._member_only(address, room, request)
        if refusal is not None:
            return refusal
        assert room is not None
        seq = room.seq = room.seq + 1
        content = request.content
        if self.history_size:
            history = room.history
            history.append((seq, address, content))
            room.history_chars += len(content)
            while len(history) > self.history_size or room.history_chars > self.history_chars:
                room.history_chars -= len(history.popleft()[2])
        fx: list[RoomEffect] = [self._ack(address, key, request, seq=seq)]
        if len(room.members) > 1:
            message = wire.Envelope(ConvMessage(room.name, seq, content), None, address)
            fx.append(Broadcast(room.everyone(), message, address))
        return fx

    def _relay(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvSendData | ConvSendEvent,
        now: float,
    ) -> list[RoomEffect]:
        refusal = self._member_only(address, room, request)
        if refusal is not None:
            return refusal
        assert room is not None
        fx: list[RoomEffect] = [self._ack(address, key, request)]
        if len(room.members) > 1:
            message: wire.Message
            if isinstance(request, ConvSendEvent):
                message = ConvCustomEvent(room.name, request.event, request.content)
            else:
                message = ConvData(room.name, request.content)
            fx.append(Broadcast(room.everyone(), wire.Envelope(message, None, address), address))
        return fx

    def _get_data(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvGetData,
        now: float,
    ) -> list[RoomEffect]:
        refusal = self._member_only(address, room, request)
        if refusal is not None:
            return refusal
        assert room is not None
        return [
            _note(address, ConvDataState(room.name, request.request_id, room.version, room.data))
        ]

    def _put_data(
        self,
        identity: Identity,
        address: str,
        key: _Key,
        room: _Room | None,
        request: ConvSetData | ConvUpdateData,
        now: float,
    ) -> list[RoomEffect]:
        refusal = self._member_only(address, room, request)
        if refusal is not None:
            return refusal
        assert room is not None
        if request.version != room.version:
            info = f"version {request.version} is not the current one ({room.version})"
            return self._refuse(address, request, RoomRefusal.VERSION_CONFLICT, info, room.version)
        if isinstance(request, ConvSetData):
            data = dict(request.data)
        else:  # a merge: a new dict (the old one is held by the messages already sent)
            data = dict(room.data)
            for name, value in request.changes.items():
                if value is None:
                    data.pop(name, None)
                else:
                    data[name] = value
        version = room.version + 1
        updated = ConvDataUpdated(room.name, version, data)
        try:
            size = len(wire.encode(updated))
        except wire.EncodeError as exc:
            return self._refuse(address, request, RoomRefusal.BAD_REQUEST, str(exc)[:200])
        if size > self.max_data_size:
            info = f"{size} bytes exceeds the {self.max_data_size}-byte limit"
            return self._refuse(address, request, RoomRefusal.DATA_TOO_LARGE, info)
        room.data = data
        room.version = version
        fx: list[RoomEffect] = [self._ack(address, key, request, version=version)]
        if len(room.members) > 1:
            fx.append(Broadcast(room.everyone(), wire.Envelope(updated, None, address), address))
        return fx


_HANDLERS: dict[type[wire.Message], _Handler] = {
    ConvJoin: RoomAuthority._join,
    ConvCancelJoin: RoomAuthority._cancel_join,
    ConvLeave: RoomAuthority._leave,
    ConvAllow: RoomAuthority._allow,
    ConvDeny: RoomAuthority._deny,
    ConvEject: RoomAuthority._eject,
    ConvClose: RoomAuthority._close,
    ConvSendMessage: RoomAuthority._message,
    ConvSendData: RoomAuthority._relay,
    ConvSendEvent: RoomAuthority._relay,
    ConvGetData: RoomAuthority._get_data,
    ConvSetData: RoomAuthority._put_data,
    ConvUpdateData: RoomAuthority._put_data,
    **STREAM_HANDLERS,
}


def deliveries(effects: Iterable[RoomEffect]) -> list[tuple[str, wire.Envelope]]:
    """Every (address, envelope) the effects send, in order (Broadcasts expanded)."""
    out: list[tuple[str, wire.Envelope]] = []
    for effect in effects:
        if type(effect) is Notify:
            out.append((effect.address, effect.envelope))
        elif type(effect) is Broadcast:
            env = effect.envelope
            out.extend((a, env) for a in effect.recipients())
    return out
