"""Hub: the relay's sans-I/O core (connections, registration, presence, limits, routing).

Theory of operation
-------------------
A :class:`Hub` knows transport connections by opaque ids chosen by its adapter (one per
websocket, say). The adapter reports ``connect(conn, now, source)`` (``source``: the peer's
address, counted by the per-source limits), ``disconnect(conn, now)``, every frame received
(``receive(conn, data, now)``), how many bytes wait to be sent on a connection
(``queued(conn, nbytes, now)``) and the passing of time (``tick(now)``, at the latest at
``next_deadline()``); the hub answers with :data:`~rtcstate.hub.effects.HubEffect` values, in
order. It never reads a clock: ``now`` is the adapter's monotonic time.

Life of a connection: the table in :mod:`rtcstate.hub.lifecycle`. ``Register`` makes the
connection the device ``"user/device"`` of the :class:`~rtcstate.identity.Identity` that the
``verifier`` returns (without authentication: :func:`~rtcstate.identity.claimed`); the hub
answers ``Registered`` (``session_id`` is ``"<conn>:<n>"``), then the initial presence in
bounded ``PresenceBatch`` messages, then tells whoever hears the user (see
:mod:`rtcstate.hub.presence`) its new device list. Addresses live in one
:class:`~rtcstate.hub.routing.Space` per tenant: users of different tenants never see or reach
each other. An address held by a live connection can be taken over by the *same identity* only
(a reconnection): the older connection is sent ``ServerError(conflict)`` and closed with
:attr:`~rtcstate.hub.effects.CloseCode.CONFLICT`, which clients treat as final. ``Unregister``
and ``disconnect`` free the address and tell the audience the user's remaining devices.

Conversations: a registered connection's room requests go to the hub's ``rooms`` (a
:class:`~rtcstate.rooms.RoomAuthority`), see :mod:`rtcstate.hub.conversations`.

Refusals. Every refused request is answered with ``ServerError`` whose code is a
:class:`~rtcstate.wire.ServerErrorCode`, changes nothing else, and is logged (:class:`Log`).
A refused token also closes the connection (:attr:`CloseCode.AUTH_FAILED`).

Revocation: ``revocations`` (a :class:`~rtcstate.identity.Revocations`, token ids and users)
are checked at every registration (``ServerError(token_revoked)``, closed with
:attr:`CloseCode.REVOKED`, final for a client); :meth:`Hub.revoke` replaces them and closes
every live connection they now cover in the same way (O(connections), once per change).

Limits (defaults keep one hostile client from hurting anyone else; see docs/security.md):

* per frame, before decoding: the connection's token bucket (``rate_limit``/``rate_burst``),
  its identity's (``identity_rate_limit``/``identity_rate_burst``, shared by all its
  connections and kept after they close) and its source address's
  (``source_rate_limit``/``source_rate_burst``), and ``max_message_size``; ``max_strikes``
  refused frames in a row close the connection;
* per source address: ``max_connections_per_source`` open connections and a connection rate
  (``connect_rate``/``connect_burst``); per identity: a registration rate
  (``register_rate``/``register_burst``) and ``max_devices`` online devices;
* ``max_name_length`` bytes for users, devices, tenants and groups; ``max_subscriptions``
  contacts and groups subscribed and ``max_groups`` groups joined per connection;
* ``register_timeout`` (an unregistered connection is closed), ``idle_timeout`` (a connection
  that sends nothing is closed), the token's expiry (the connection is closed when it passes);
* ``max_queue_bytes``: a connection whose outgoing backlog exceeds it is closed (slow
  consumer) before it holds more;
* ``max_ringing`` calls ringing per device (more invites are answered ``User_Busy``).

``receive_envelope`` (already decoded input, used by simulations) skips the frame and rate
checks; every other rule applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from rtcstate import wire
from rtcstate.effects import Drop
from rtcstate.hub.conversations import HubRooms, is_conversation
from rtcstate.hub.effects import CloseCode, CloseConnection, Deliver, HubDrop, HubEffect, Log
from rtcstate.hub.lifecycle import Connection, ConnState
from rtcstate.hub.limits import Buckets, Deadlines, TokenBucket, take_one
from rtcstate.hub.presence import SnapshotJob, batches
from rtcstate.hub.presence_feed import delta_batches, feed, flush
from rtcstate.hub.restamp import with_frames
from rtcstate.hub.ringwatch import RingWatch, ringing_peer
from rtcstate.hub.routing import Space, server, server_error
from rtcstate.hub.userdata import DEFAULT_MAX_USER_DATA, UserDataStore
from rtcstate.identity import DEFAULT_TENANT, Identity, Refusal, Revocations, Verifier, claimed
from rtcstate.machine import spec_of
from rtcstate.rooms import RoomAuthority
from rtcstate.wire_contact import RELAY_ONLY as CONTACT_RELAY_ONLY
from rtcstate.wire_contact import ContactAck, ContactEvent, ContactPayload, ContactText, UserDataSet

__all__ = ["Hub"]

Code = wire.ServerErrorCode

#: Message types only the relay sends; a client may not route them to another client.
_RELAY_ONLY: frozenset[type[wire.Message]] = frozenset(
    {wire.Registered, wire.Presence, wire.PresenceBatch, wire.ServerError, wire.UserNotFound,
     *CONTACT_RELAY_ONLY}
)  # fmt: skip
#: Message types routed as they are when they have a ``to`` (no call, fork, room or hub state
#: of their own: :meth:`Hub._handle` sends them straight to :meth:`Space.route`).
_PLAIN_ROUTED: frozenset[type[wire.Message]] = frozenset(
    {wire.ContactMessage, wire.ContactData, wire.DataChannelAck, wire.FileCancel,
     wire.InviteAnswer, ContactText, ContactPayload, ContactEvent, ContactAck}
)  # fmt: skip
#: characters never accepted in a name (they would need escaping in JSON, or are separators)
_BAD_CHARS = frozenset('/"\\') | frozenset(map(chr, range(0x20))) | {"\x7f"}
_SWEEP_EVERY = 10.0


@attrs.define(slots=True, eq=False)
class Hub:
    """The relay: connections, identities, addresses, presence, limits, routing, forks."""

    max_message_size: int = wire.DEFAULT_MAX_SIZE
    fork_linger: float = 30.0
    #: messages per second a connection may send on average (``None``: no rate limit)
    rate_limit: float | None = 100.0
    #: messages a connection may send at once above the average (the bucket's size)
    rate_burst: float = 200.0
    #: refused frames in a row (oversize, undecodable, rate-limited) that close the connection
    max_strikes: int = 20
    #: who a registering connection is (a token verifier; default: whoever it claims)
    verifier: Verifier = claimed
    identity_rate_limit: float | None = 100.0
    identity_rate_burst: float = 200.0
    source_rate_limit: float | None = 1000.0
    source_rate_burst: float = 2000.0
    #: registrations per second per identity (reconnections included)
    register_rate: float | None = 1.0
    register_burst: float = 10.0
    #: new connections per second per source address
    connect_rate: float | None = 20.0
    connect_burst: float = 100.0
    max_connections_per_source: int | None = 200
    max_devices: int = 8
    max_name_length: int = 64
    max_subscriptions: int = 1000
    max_groups: int = 16
    register_timeout: float | None = 10.0
    idle_timeout: float | None = 120.0
    max_queue_bytes: int = 1 << 20
    max_ringing: int = 32
    ring_timeout: float = 120.0
    #: the frame size clients accept (their ``max_message_size``): no presence is larger
    client_frame_limit: int = wire.DEFAULT_MAX_SIZE
    #: the presence group every registration joins and subscribes to (None: none)
    presence_group: str | None = "default"
    #: coalesced presence: changes told every this many seconds, in one batch per group, and
    #: initial presence fed as the backlog drains (None: each change told at once)
    presence_interval: float | None = None
    #: the revoked tokens and users (replace with :meth:`revoke`)
    revocations: Revocations = attrs.field(factory=Revocations)
    #: the conversation rooms, their limits its fields (see :mod:`rtcstate.hub.conversations`)
    rooms: RoomAuthority = attrs.field(factory=RoomAuthority)
    #: bytes of one user's published data (apiRTC ``UserData``) at most (``oversize`` over it)
    max_user_data: int = DEFAULT_MAX_USER_DATA

    _conns: dict[str, Connection] = attrs.field(factory=dict, init=False)
    _spaces: dict[str, Space] = attrs.field(factory=dict, init=False)
    _per_source: dict[str, int] = attrs.field(factory=dict, init=False)
    _serial: int = attrs.field(default=0, init=False)
    _deadlines: Deadlines = attrs.field(factory=Deadlines, init=False)
    _id_msgs: Buckets[tuple[str, str]] = attrs.field(init=False)
    _src_msgs: Buckets[str] = attrs.field(init=False)
    _id_regs: Buckets[tuple[str, str]] = attrs.field(init=False)
    _src_conns: Buckets[str] = attrs.field(init=False)
    _next_sweep: float = attrs.field(default=0.0, init=False)
    _conversations: HubRooms = attrs.field(init=False)
    _next_flush: float | None = attrs.field(default=None, init=False)
    #: connections still owed initial presence (coalesced presence)
    _feeding: dict[str, None] = attrs.field(factory=dict, init=False)
    _user_data: UserDataStore = attrs.field(init=False)
    _ring_watch: RingWatch = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        for name in ("rate_limit", "identity_rate_limit", "source_rate_limit", "register_rate",
                     "connect_rate", "register_timeout", "idle_timeout",
                     "presence_interval"):  # fmt: skip
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 (or None)")
        if self.rate_burst < 1 or self.max_strikes < 1 or self.max_message_size <= 0:
            raise ValueError("rate_burst, max_strikes and max_message_size must be >= 1")
        for name in ("identity_rate_burst", "source_rate_burst", "register_burst",
                     "connect_burst", "max_devices", "max_name_length", "max_ringing",
                     "max_queue_bytes"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        # the largest Presence the hub can send must fit a client's frame
        worst = 96 + self.max_name_length + self.max_devices * (2 * self.max_name_length + 4)
        if worst > self.client_frame_limit:
            raise ValueError(
                f"max_devices x max_name_length allow a presence of {worst} bytes, over "
                f"client_frame_limit ({self.client_frame_limit})"
            )
        self._id_msgs = Buckets(self.identity_rate_limit, self.identity_rate_burst)
        self._src_msgs = Buckets(self.source_rate_limit, self.source_rate_burst)
        self._id_regs = Buckets(self.register_rate, self.register_burst)
        self._src_conns = Buckets(self.connect_rate, self.connect_burst)
        self._conversations = HubRooms.of(self.rooms)
        self._user_data = UserDataStore(self.max_user_data)
        self._ring_watch = RingWatch(self.ring_timeout)

    # --- public: queries ----------------------------------------------------------------------

    def devices(self, user: str, tenant: str = DEFAULT_TENANT) -> tuple[str, ...]:
        """The connected device addresses (``"user/device"``) of ``user``, sorted."""
        space = self._spaces.get(tenant)
        return () if space is None else space.devices(user)

    def address(self, conn: str) -> str | None:
        """The address registered on ``conn``, or None."""
        c = self._conns.get(conn)
        return None if c is None or c.state is not ConnState.REGISTERED else c.address

    def identity(self, conn: str) -> Identity | None:
        """The identity registered on ``conn``, or None."""
        c = self._conns.get(conn)
        return None if c is None or c.state is not ConnState.REGISTERED else c.identity

    def state(self, conn: str) -> ConnState | None:
        c = self._conns.get(conn)
        return None if c is None else c.state

    @property
    def connections(self) -> int:
        return len(self._conns)

    def held_state(self) -> dict[str, int]:
        """Sizes of everything the hub holds (for tests and metrics)."""
        return {
            "connections": len(self._conns),
            "sources": len(self._per_source),
            "identity_buckets": len(self._id_msgs) + len(self._id_regs),
            "source_buckets": len(self._src_msgs) + len(self._src_conns),
            "deadlines": len(self._deadlines),
            "spaces": len(self._spaces),
            "forks": sum(len(s.forks) for s in self._spaces.values()),
        }

    def next_deadline(self) -> float | None:
        """When :meth:`tick` has something to do next (None: nothing armed)."""
        due = self._deadlines.next()
        flush = self._next_flush
        if flush is not None and (self._feeding or self._dirty()):
            return flush if due is None else min(due, flush)
        return due

    @property
    def feed_window(self) -> int:
        """Bytes of initial presence sent to a connection at once (coalesced presence): more
        only once its backlog is back under this."""
        mq = self.max_queue_bytes
        return max(min(self.client_frame_limit, mq // 2), min(mq // 4, 256 * 1024))

    @property
    def feed_step(self) -> int:
        """Bytes of initial presence sent per step: when a connection owed some reports its
        backlog at or under this (and at each tick if it never reports), one more step (a
        small step keeps one newcomer's list from holding the relay's loop for long)."""
        return min(16 * 1024, self.feed_window)

    def _dirty(self) -> bool:
        return any(s.presence.dirty_groups or s.presence.dirty_users for s in self._spaces.values())

    # --- public: transport reports ------------------------------------------------------------

    def connect(self, conn: str, now: float, source: str | None = None) -> list[HubEffect]:
        """A transport connection opened from ``source``; it must ``Register`` in time."""
        if conn in self._conns:
            return [Drop(HubDrop.DUPLICATE_CONNECTION, f"connection {conn} is already open")]
        c = Connection(
            conn,
            source,
            TokenBucket.full(self.rate_limit, self.rate_burst, now),
            since=now,
            last_seen=now,
        )
        self._conns[conn] = c
        if source is not None:
            limit = self.max_connections_per_source
            if limit is not None and self._per_source.get(source, 0) >= limit:
                return self._close(
                    c,
                    Code.TOO_MANY_CONNECTIONS,
                    CloseCode.TRY_AGAIN_LATER,
                    f"over {limit} connections from {source}",
                )
            bucket = self._src_conns.get(source, now)
            if not bucket.ready(now):
                return self._close(
                    c,
                    Code.RECONNECTING_TOO_FAST,
                    CloseCode.TRY_AGAIN_LATER,
                    f"over {self.connect_rate:g} connections/s from {source}",
                )
            bucket.take()
            self._per_source[source] = self._per_source.get(source, 0) + 1
            c.counted = True
        if self.register_timeout is not None:
            self._deadlines.arm(now + self.register_timeout, conn, "register")
        if self.idle_timeout is not None:
            self._deadlines.arm(now + self.idle_timeout, conn, "idle")
        return []

    def disconnect(self, conn: str, now: float) -> list[HubEffect]:
        """A transport connection closed (for any reason, including a :class:`CloseConnection`)."""
        c = self._conns.pop(conn, None)
        if c is None:
            return []
        self._uncount(c)
        fx: list[HubEffect] = []
        if c.state is ConnState.REGISTERED and c.address is not None:
            fx.extend(self._unbind(c))
        fx.append(Log("disconnected", conn, (("address", c.address),)))
        return fx

    def receive(self, conn: str, data: bytes | str, now: float) -> list[HubEffect]:
        """Handle one frame received on ``conn``; never raises."""
        c = self._conns.get(conn)
        if c is None:
            return [Drop(HubDrop.UNKNOWN_CONNECTION, f"frame on unknown connection {conn}")]
        if c.state is ConnState.CLOSING:
            return [Drop(HubDrop.CLOSING, f"frame on connection {conn} being closed")]
        c.last_seen = now
        if self._expired(c, now):
            return self._close(c, Code.TOKEN_EXPIRED, CloseCode.AUTH_FAILED, "expired token")
        limited = self._over_rate(c, now)
        if limited is not None:
            return self._strike(c, Code.RATE_LIMITED, limited, self._named(data))
        try:
            env, keys = wire.decode_keys(data, max_size=self.max_message_size)
        except wire.DecodeError as exc:
            code = Code.OVERSIZE if exc.reason is wire.DecodeReason.OVERSIZE else Code.DECODE_ERROR
            return self._strike(c, code, f"{exc.reason.value}: {exc.detail}")
        c.strikes = 0
        sender = c.address
        fx = self._handle(c, env, now, limited=True)
        if sender is not None and env.to is not None:  # routed: the frame itself, re-stamped
            return with_frames(fx, env, keys, sender, data)
        return fx

    def receive_envelope(self, conn: str, env: wire.Envelope, now: float) -> list[HubEffect]:
        """Handle one decoded message received on ``conn`` (``env.sender`` is ignored)."""
        c = self._conns.get(conn)
        if c is None:
            return [Drop(HubDrop.UNKNOWN_CONNECTION, f"message on unknown connection {conn}")]
        if c.state is ConnState.CLOSING:
            return [Drop(HubDrop.CLOSING, f"message on connection {conn} being closed")]
        return self._handle(c, env, now, limited=False)

    def queued(self, conn: str, nbytes: int, now: float) -> list[HubEffect]:
        """``nbytes`` wait to be sent on ``conn``: over ``max_queue_bytes`` it is closed."""
        c = self._conns.get(conn)
        if c is None or c.state is ConnState.CLOSING:
            return []
        mine = c.presence
        mine.queued = nbytes
        if nbytes <= self.max_queue_bytes:
            if not mine.jobs:
                return []
            step = self.feed_step
            if nbytes > step:  # fed again when it reports its backlog drained
                self._feeding.pop(conn, None)
                return []
            self._feeding[conn] = None
            return self._feed(c, step)
        info = f"{nbytes} bytes unsent, over {self.max_queue_bytes}"
        return self._close(c, Code.SLOW_CONSUMER, CloseCode.POLICY, info, answer=False)

    def revoke(self, revocations: Revocations, now: float) -> list[HubEffect]:
        """From now on ``revocations`` hold: every registered connection they cover is sent
        ``ServerError(token_revoked)`` and closed with :attr:`CloseCode.REVOKED`."""
        self.revocations = revocations
        fx: list[HubEffect] = []
        if not revocations:
            return fx
        for c in list(self._conns.values()):
            identity = c.identity
            if c.state is not ConnState.REGISTERED or identity is None:
                continue
            why = revocations.revokes(identity)
            if why is not None:
                fx.extend(self._close(c, Code.TOKEN_REVOKED, CloseCode.REVOKED, why))
        return fx

    def tick(self, now: float) -> list[HubEffect]:
        """Time passed: close what timed out, forget lingering forks and idle counters."""
        fx: list[HubEffect] = []
        for _, conn, kind in list(self._deadlines.due(now)):
            c = self._conns.get(conn)
            if c is None or c.state is ConnState.CLOSING:
                continue
            if kind == "register":
                if c.state is ConnState.UNREGISTERED and self.register_timeout is not None:
                    due = c.since + self.register_timeout
                    if due <= now:
                        info = f"not registered within {self.register_timeout:g} s"
                        fx.extend(
                            self._close(c, Code.REGISTER_TIMEOUT, CloseCode.TRY_AGAIN_LATER, info)
                        )
                    else:
                        self._deadlines.arm(due, conn, kind)
            elif kind == "idle" and self.idle_timeout is not None:
                due = c.last_seen + self.idle_timeout
                if due <= now:
                    info = f"nothing received for {self.idle_timeout:g} s"
                    fx.extend(self._close(c, Code.IDLE_TIMEOUT, CloseCode.TRY_AGAIN_LATER, info))
                else:
                    self._deadlines.arm(due, conn, kind)
            elif kind == "expiry" and self._expired(c, now):
                fx.extend(
                    self._close(c, Code.TOKEN_EXPIRED, CloseCode.AUTH_FAILED, "expired token")
                )
        for space in self._spaces.values():
            space.expire(now)
        if self.presence_interval is not None:
            fx.extend(self._flush_presence(now))
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_EVERY
            self._ring_watch.sweep(now)
            for buckets in (self._id_msgs, self._src_msgs, self._id_regs):
                buckets.sweep(now)
            self._src_conns.sweep(now)
        return fx

    # --- internals: dispatch ------------------------------------------------------------------

    def _handle(
        self, c: Connection, env: wire.Envelope, now: float, limited: bool
    ) -> list[HubEffect]:
        msg = env.message
        kind = type(msg)
        space = c.space
        if space is not None:
            if space.expiring:
                space.expire(now)
            # the common case first: a plain message from a registered client to another
            if kind in _PLAIN_ROUTED and env.to is not None and c.state is ConnState.REGISTERED:
                sender = c.address
                if sender is not None:
                    return space.route(c.id, sender, env)
        if kind is wire.Register:
            assert isinstance(msg, wire.Register)
            return self._register(c, msg, now, limited)
        sender = c.address
        if c.state is not ConnState.REGISTERED or sender is None or space is None:
            return [
                server_error(c.id, Code.NOT_REGISTERED, f"{msg.TYPE} before register"),
                Drop(HubDrop.NOT_REGISTERED, f"{msg.TYPE} from unregistered connection {c.id}"),
            ]
        if kind is wire.Unregister:
            fx = self._unbind(c)
            spec_of(c).fire(c, "unregister")
            c.since = now
            if self.register_timeout is not None:
                self._deadlines.arm(now + self.register_timeout, c.id, "register")
            fx.append(Log("unregistered", c.id, (("address", sender),)))
            return fx
        if is_conversation(msg):  # rooms are the relay's, whatever the "to"
            return self._conversations.handle(c, space, msg, now)
        to = env.to
        if to is None:
            if kind is wire.Ping:
                assert isinstance(msg, wire.Ping)
                return [server(c.id, wire.Pong(seq=msg.seq))]
            if kind is wire.Pong:
                return []
            if kind is wire.PresenceSubscribe:
                assert isinstance(msg, wire.PresenceSubscribe)
                return self._subscribe(c, space, msg.contacts, msg.groups)
            if kind is wire.PresenceUnsubscribe:
                assert isinstance(msg, wire.PresenceUnsubscribe)
                return self._unsubscribe(c, space, msg.contacts, msg.groups)
            if kind is wire.PresenceGroups:
                assert isinstance(msg, wire.PresenceGroups)
                return self._groups(c, space, msg.join, msg.leave)
            if kind is UserDataSet:
                assert isinstance(msg, UserDataSet)
                return self._set_user_data(c, space, sender, msg)
            return [server_error(c.id, Code.UNEXPECTED, f"{msg.TYPE} needs a destination ('to')")]
        if kind in _RELAY_ONLY:
            return [server_error(c.id, Code.FORBIDDEN, f"{msg.TYPE} is sent by the relay only")]
        fx = space.dispatch(c.id, sender, env, now)
        if kind is wire.Invite:
            self._watch_invite(space, sender, env, now)
        elif kind is wire.Ack or kind is wire.Answer or kind is wire.Bye:
            fx.extend(self._watch_ringing(c, space, sender, env, now))
        return fx

    # --- internals: the ringing-callee presence rule (rtcstate.hub.ringwatch) -----------------

    def _watch_invite(self, space: Space, sender: str, env: wire.Envelope, now: float) -> None:
        """Note the devices the invite rings now (those whose ringing count holds it)."""
        msg = env.message
        assert isinstance(msg, wire.Invite) and env.to is not None
        callee_user, _, device = env.to.partition("/")
        devices = (env.to,) if device else space.users.get(callee_user, ())
        rang = [a for a in devices if msg.call_id in space.ringing.get(a, ())]
        caller = sender.partition("/")[0]
        self._ring_watch.invited(space.tenant, caller, rang, msg.call_id, now)

    def _watch_ringing(
        self, c: Connection, space: Space, sender: str, env: wire.Envelope, now: float
    ) -> list[HubEffect]:
        msg = env.message
        call_id: str = getattr(msg, "call_id")  # noqa: B009
        if type(msg) is not wire.Ack:
            self._ring_watch.settled(space.tenant, call_id)
            return []
        assert isinstance(msg, wire.Ack)
        if msg.what != "invite" or env.to is None:
            return []
        caller = env.to.partition("/")[0]
        return self._ring_watch.acked(space.tenant, sender, caller, call_id, now,
                                      self._ringing_peer(space))  # fmt: skip

    def _ringing_peer(self, space: Space) -> Callable[[str, str], HubEffect | None]:
        def tell(callee: str, user: str) -> HubEffect | None:
            conn = space.by_address.get(callee)
            c = None if conn is None else self._conns.get(conn)
            if c is None or conn is None or space.presence.sees(conn, c.presence, user):
                return None  # gone, or hears the user's presence anyway
            return ringing_peer(conn, user, list(space.users.get(user, ())))

        return tell

    def _ringing_changed(self, space: Space, user: str, now: float) -> list[HubEffect]:
        """A device of ``user`` registered or left: who rings for its calls is told."""
        return self._ring_watch.changed(space.tenant, user, now, self._ringing_peer(space))

    # --- internals: limits ---------------------------------------------------------------------

    def _over_rate(self, c: Connection, now: float) -> str | None:
        """Which message rate ``c``'s frame is over (None: within all; tokens taken)."""
        ident = c.identity if c.state is ConnState.REGISTERED else None
        id_bucket = None if ident is None else self._id_msgs.get(ident.key, now)
        src_bucket = None if c.source is None else self._src_msgs.get(c.source, now)
        empty = take_one(now, (c.bucket, id_bucket, src_bucket))
        if empty < 0:
            return None
        if empty == 0:
            return f"over {self.rate_limit:g} messages/s (burst {self.rate_burst:g})"
        if empty == 1 and ident is not None:
            return (
                f"over {self.identity_rate_limit:g} messages/s for {ident.user} "
                f"(burst {self.identity_rate_burst:g})"
            )
        return (
            f"over {self.source_rate_limit:g} messages/s from {c.source} "
            f"(burst {self.source_rate_burst:g})"
        )

    def _strike(
        self, c: Connection, code: Code, info: str, refused: dict[str, Any] | None = None
    ) -> list[HubEffect]:
        """Answer a refused frame (``refused``: the message it held, named); close the
        connection at ``max_strikes`` in a row."""
        c.strikes += 1
        # one line per refused frame: bounded, since max_strikes in a row close the connection
        fx: list[HubEffect] = self._refuse(c, code, info, refused)
        if c.strikes >= self.max_strikes:
            reason = f"{code.value}: {c.strikes} refused messages in a row"
            fx.extend(self._close(c, code, CloseCode.POLICY, reason, answer=False))
        return fx

    def _named(self, data: bytes | str) -> dict[str, Any] | None:
        """The message of a frame refused for its rate, named by its type and route id
        (``{"type": "contact_text", "post_id": ...}``), so that its sender settles what waits
        for it at once (a contact message: not delivered); None for a frame that does not
        decode or a message without a route id. Decoding costs what an accepted frame's does,
        for at most ``max_strikes`` refused frames in a row."""
        try:
            msg = wire.decode(data, max_size=self.max_message_size).message
        except wire.DecodeError:
            return None
        route = msg.ROUTE
        if route is None:
            return None
        key = getattr(msg, route, None)
        return {"type": msg.TYPE, route: key} if isinstance(key, str) else None

    def _expired(self, c: Connection, now: float) -> bool:
        identity = c.identity
        return (
            c.state is ConnState.REGISTERED
            and identity is not None
            and identity.expires is not None
            and identity.expires <= now
        )

    def _refuse(
        self, c: Connection, code: Code, info: str, refused: dict[str, Any] | None = None
    ) -> list[HubEffect]:
        """Refuse a request: answered (``refused``: what, for a presence request), logged,
        nothing changed."""
        return [
            server_error(c.id, code, info, refused),
            Log("refused", c.id, (("code", code.value), ("reason", info), ("source", c.source))),
        ]

    def _close(
        self, c: Connection, code: Code, close: CloseCode, info: str, answer: bool = True
    ) -> list[HubEffect]:
        """Close ``c``: its address is freed now, its record kept until ``disconnect``."""
        fx: list[HubEffect] = [server_error(c.id, code, info)] if answer else []
        if c.state is ConnState.REGISTERED:
            fx.extend(self._unbind(c))
        spec_of(c).fire(c, "close")
        fx.append(
            Log(
                "closing",
                c.id,
                (
                    ("code", code.value),
                    ("reason", info),
                    ("address", c.address),
                    ("source", c.source),
                ),
            )
        )
        fx.append(CloseConnection(c.id, f"{code.value}: {info}", close))
        return fx

    def _uncount(self, c: Connection) -> None:
        source = c.source
        if source is None or source not in self._per_source:
            return
        if not c.counted:
            return
        left = self._per_source[source] - 1
        if left > 0:
            self._per_source[source] = left
        else:
            del self._per_source[source]

    # --- internals: registration --------------------------------------------------------------

    def _bad_name(self, *names: str) -> tuple[Code, str] | None:
        for name in names:
            if not name or _BAD_CHARS.intersection(name):
                return Code.INVALID_REGISTER, (
                    "user must be non-empty and without '/', device non-empty"
                    if not name or "/" in name
                    else "names may not hold control characters, quotes or backslashes"
                )
            if len(name.encode()) > self.max_name_length:
                return Code.NAME_TOO_LONG, f"names are limited to {self.max_name_length} bytes"
        return None

    def _register(
        self, c: Connection, msg: wire.Register, now: float, limited: bool
    ) -> list[HubEffect]:
        user, device = msg.user, msg.device
        bad = self._bad_name(user, device)
        if bad is not None:
            return self._refuse(c, *bad)
        verdict = self.verifier(msg, now)
        if isinstance(verdict, Refusal):
            return self._close(c, verdict.code, CloseCode.AUTH_FAILED, verdict.reason)
        identity = verdict
        if identity.user != user:
            return self._close(
                c,
                Code.TOKEN_WRONG_USER,
                CloseCode.AUTH_FAILED,
                f"token for another user ({identity.user})",
            )
        if not identity.allows_device(device):
            return self._close(
                c,
                Code.DEVICE_NOT_ALLOWED,
                CloseCode.AUTH_FAILED,
                f"device {device!r} is not allowed by the token",
            )
        bad = self._bad_name(identity.tenant)
        if bad is not None:
            return self._refuse(c, *bad)
        if identity.expires is not None and identity.expires <= now:
            return self._close(c, Code.TOKEN_EXPIRED, CloseCode.AUTH_FAILED, "expired token")
        revoked = self.revocations.revokes(identity)
        if revoked is not None:
            return self._close(c, Code.TOKEN_REVOKED, CloseCode.REVOKED, revoked)
        address = f"{user}/{device}"
        space = self._spaces.get(identity.tenant)
        if space is None:
            space = Space(identity.tenant, self.fork_linger, self.max_ringing, self.ring_timeout)
            space.presence.coalesce = self.presence_interval is not None
        holder_id = space.by_address.get(address)
        holder = None if holder_id is None or holder_id == c.id else self._conns.get(holder_id)
        if (
            holder is not None
            and holder.identity is not None
            and not holder.identity.same_owner(identity)
        ):
            return self._refuse(c, Code.ADDRESS_TAKEN, f"{address} is held by another identity")
        mine = c.address if c.state is ConnState.REGISTERED and c.space is space else None
        if holder is None and mine != address:
            online = [a for a in space.users.get(user, ()) if a != mine]
            if len(online) >= self.max_devices:
                return self._refuse(
                    c, Code.TOO_MANY_DEVICES, f"{user} has {len(online)} devices online (the limit)"
                )
        if limited:
            bucket = self._id_regs.get(identity.key, now)
            if not bucket.ready(now):
                return self._close(
                    c,
                    Code.RECONNECTING_TOO_FAST,
                    CloseCode.TRY_AGAIN_LATER,
                    f"over {self.register_rate:g} registrations/s for {user}",
                )
            bucket.take()
        # accepted: from here on, state changes
        fx: list[HubEffect] = []
        if c.state is ConnState.REGISTERED and c.address != address:
            # (may forget the space if the old address was its last: it is held again below)
            fx.extend(self._unbind(c))
        self._spaces[identity.tenant] = space
        if holder is not None:
            info = f"{address} registered on another connection"
            fx.append(server_error(holder.id, Code.CONFLICT, info))
            self._drop_presence(holder)
            holder.address = None  # the address moves: forks follow it, nothing is unbound
            spec_of(holder).fire(holder, "close")
            fx.append(
                Log(
                    "closing",
                    holder.id,
                    (("code", Code.CONFLICT.value), ("reason", info), ("source", holder.source)),
                )
            )
            fx.append(CloseConnection(holder.id, info, CloseCode.CONFLICT))
        c.identity, c.address, c.space = identity, address, space
        spec_of(c).fire(c, "register")
        space.bind(address, c.id)
        if identity.expires is not None:
            self._deadlines.arm(identity.expires, c.id, "expiry")
        self._serial += 1
        fx.append(server(c.id, wire.Registered(user, device, f"{c.id}:{self._serial}")))
        group = self.presence_group
        joined = group is not None and group not in c.presence.joined
        if group is not None and joined:
            c.presence.joined[group] = None
            space.presence.join(user, group)
        fx.extend(self._subscribe(c, space, [], [] if group is None else [group], initial=True))
        fx.extend(self._ringing_changed(space, user, now))
        if space.presence.coalesce:
            space.presence.touch(user)  # told at the next flush: O(the user's groups)
            self._arm_flush(now)
        else:
            audience = space.presence.audience(user)
            fx.extend(self._tell(space, user, audience, except_conn=c.id))
        fx.append(
            Log(
                "registered",
                c.id,
                (
                    ("address", address),
                    ("tenant", identity.tenant),
                    ("verified", identity.verified),
                    ("source", c.source),
                ),
            )
        )
        return fx

    def _unbind(self, c: Connection) -> list[HubEffect]:
        """Free ``c``'s address and presence; tell who heard the user."""
        space, address = c.space, c.address
        if space is None or address is None:
            return []
        user = address.partition("/")[0]
        if space.presence.coalesce:
            return self._unbind_coalesced(c, space, address, user)
        before = space.presence.audience(user)
        self._drop_presence(c)
        if not space.unbind(address, c.id):
            return []
        if not space.users.get(user):
            self._user_data.forget(space.tenant, user)
        after = space.presence.audience(user)
        devices = list(space.users.get(user, ()))
        # its rooms (``last_seen`` only dates the expiry of bans: any past time will do)
        fx: list[HubEffect] = self._conversations.freed(space, address, c.last_seen)
        fx.extend(self._ringing_changed(space, user, c.last_seen))
        on = wire.Envelope(wire.Presence(user, bool(devices), devices))
        off = wire.Envelope(wire.Presence(user, False, []))
        for conn in before:
            if conn != c.id:
                fx.append(Deliver(conn, on if conn in after else off))
        if space.empty() and not space.expiring and self._spaces.get(space.tenant) is space:
            del self._spaces[space.tenant]
        return fx

    def _unbind_coalesced(
        self, c: Connection, space: Space, address: str, user: str
    ) -> list[HubEffect]:
        """:meth:`_unbind` with coalesced presence: the change is marked, told at the flush."""
        space.presence.touch(user)  # its groups now, before it leaves them
        self._drop_presence(c)
        if not space.unbind(address, c.id):
            return []
        if not space.users.get(user):
            self._user_data.forget(space.tenant, user)
        space.presence.touch(user)
        self._arm_flush(c.last_seen)
        fx: list[HubEffect] = self._conversations.freed(space, address, c.last_seen)
        fx.extend(self._ringing_changed(space, user, c.last_seen))
        if space.empty() and not space.expiring and self._spaces.get(space.tenant) is space:
            fx.extend(self._flush_space(space))  # its last words, before it is forgotten
            del self._spaces[space.tenant]
        return fx

    def _drop_presence(self, c: Connection) -> None:
        space, address = c.space, c.address
        if space is None or address is None:
            return
        user = address.partition("/")[0]
        mine = c.presence
        for group in mine.joined:
            space.presence.leave(user, group)
        space.presence.unsubscribe(c.id, mine, list(mine.contacts), list(mine.groups))
        mine.joined.clear()
        mine.jobs.clear()
        self._feeding.pop(c.id, None)

    # --- internals: presence ------------------------------------------------------------------

    def _arm_flush(self, now: float) -> None:
        interval = self.presence_interval
        if interval is not None and self._next_flush is None:
            self._next_flush = now + interval

    def _flush_space(self, space: Space) -> list[HubEffect]:
        return flush(space.presence, space.users, self.client_frame_limit)

    def _flush_presence(self, now: float) -> list[HubEffect]:
        """Coalesced presence at a tick: the changes (if the interval passed) and the initial
        presence of the connections whose backlog is low."""
        fx: list[HubEffect] = []
        due = self._next_flush
        if due is not None and due <= now:
            self._next_flush = None
            for space in list(self._spaces.values()):
                fx.extend(self._flush_space(space))
        step = self.feed_step
        # the connections owed initial presence whose backlog is not known to be high (an
        # adapter that reports its backlog gets the rest from ``queued`` as it drains)
        for conn in list(self._feeding):
            c = self._conns.get(conn)
            if c is None or c.state is not ConnState.REGISTERED:
                self._feeding.pop(conn, None)
            elif c.presence.queued <= step:
                fx.extend(self._feed(c, step))
        if self._feeding:
            self._arm_flush(now)
        return fx

    def _feed(self, c: Connection, budget: int, small_only: bool = False) -> list[HubEffect]:
        space = c.space
        if space is None:
            self._feeding.pop(c.id, None)
            return []
        fx = feed(c.id, c.address, c.presence, space.presence, space.users,
                  self.client_frame_limit, budget, small_only)  # fmt: skip
        if not c.presence.jobs:
            self._feeding.pop(c.id, None)
        return self._with_user_data(c.id, space, fx)

    def _with_user_data(self, conn: str, space: Space, fx: list[HubEffect]) -> list[HubEffect]:
        """``fx`` (presence for ``conn``) followed by the data of the users it lists."""
        if not self._user_data.users(space.tenant):
            return fx  # nobody published data: the batches need not be read again
        users: dict[str, None] = {}
        for e in fx:
            if type(e) is Deliver and type(e.envelope.message) is wire.PresenceBatch:
                batch = e.envelope.message
                assert isinstance(batch, wire.PresenceBatch)
                users.update(dict.fromkeys(a.partition("/")[0] for a in batch.devices))
        if users:
            fx.extend(self._user_data.initial(conn, space.tenant, users))
        return fx

    def _set_user_data(
        self, c: Connection, space: Space, sender: str, msg: UserDataSet
    ) -> list[HubEffect]:
        """``user_data_set``: kept and told to who hears the user (:mod:`.userdata`)."""
        user = sender.partition("/")[0]
        fx, refusal = self._user_data.set(c.id, space.tenant, user, msg, space.presence)
        if refusal is not None:
            return self._refuse(c, Code.OVERSIZE, refusal, refused={"type": UserDataSet.TYPE})
        return fx

    def _tell(
        self, space: Space, user: str, audience: Iterable[str], except_conn: str
    ) -> list[HubEffect]:
        devices = list(space.users.get(user, ()))
        presence = wire.Envelope(wire.Presence(user, bool(devices), devices))
        return [Deliver(conn, presence) for conn in audience if conn != except_conn]

    def _subscribe(
        self,
        c: Connection,
        space: Space,
        contacts: list[str],
        groups: list[str],
        initial: bool = False,
    ) -> list[HubEffect]:
        what = {"type": wire.PresenceSubscribe.TYPE, "contacts": contacts, "groups": groups}
        bad = self._bad_name(*contacts, *groups)
        if bad is not None:
            return self._refuse(c, *bad, refused=what)
        mine = c.presence
        new_contacts = [u for u in dict.fromkeys(contacts) if u not in mine.contacts]
        new_groups = [g for g in dict.fromkeys(groups) if g not in mine.groups]
        if mine.count() + len(new_contacts) + len(new_groups) > self.max_subscriptions:
            return self._refuse(
                c,
                Code.TOO_MANY_SUBSCRIPTIONS,
                f"at most {self.max_subscriptions} contacts and groups",
                refused=what,
            )
        presence = space.presence
        if presence.coalesce:
            presence.subscribe(c.id, mine, new_contacts, new_groups)
            if new_contacts:
                mine.jobs.append(SnapshotJob(None, new_contacts))
            mine.jobs.extend(SnapshotJob(g, None) for g in new_groups)
            if not mine.jobs:
                return []
            if mine.queued <= self.feed_step:  # else fed when it reports its backlog drained
                self._feeding[c.id] = None
            # what is small now (contacts, small groups), the rest as the backlog drains
            return self._feed(c, self.feed_step, small_only=True)
        seen = set() if initial else set(presence.visible_users(mine))
        presence.subscribe(c.id, mine, new_contacts, new_groups)
        address = c.address
        own = address.partition("/")[0] if address is not None else None
        devices: list[str] = []
        for user in presence.visible_users(mine):
            if user in seen:
                continue
            theirs = space.users.get(user)
            if not theirs or (user == own and len(theirs) == 1):
                continue
            devices.extend(theirs)
        fx: list[HubEffect] = [
            server(c.id, wire.PresenceBatch(b)) for b in batches(devices, self.client_frame_limit)
        ]
        return self._with_user_data(c.id, space, fx)

    def _unsubscribe(
        self, c: Connection, space: Space, contacts: list[str], groups: list[str]
    ) -> list[HubEffect]:
        """Stop hearing ``contacts`` and ``groups``; with coalesced presence the connection
        is told whom it no longer hears that way (a ``left`` batch per source)."""
        presence, mine = space.presence, c.presence
        if not presence.coalesce:
            presence.unsubscribe(c.id, mine, contacts, groups)
            return []
        # the group's members, and whoever left it since the last flush (not told yet)
        gone: list[tuple[str | None, list[str]]] = [
            (g, list({**presence.members.get(g, {}), **presence.dirty_groups.get(g, {})}))
            for g in dict.fromkeys(groups)
            if g in mine.groups
        ]
        gone.append((None, [u for u in dict.fromkeys(contacts) if u in mine.contacts]))
        presence.unsubscribe(c.id, mine, contacts, groups)
        return [
            server(c.id, msg)
            for group, users in gone
            for msg in delta_batches(group, [], users, self.client_frame_limit)
        ]

    def _groups(
        self, c: Connection, space: Space, join: list[str], leave: list[str]
    ) -> list[HubEffect]:
        what = {"type": wire.PresenceGroups.TYPE, "join": join, "leave": leave}
        bad = self._bad_name(*join, *leave)
        if bad is not None:
            return self._refuse(c, *bad, refused=what)
        mine = c.presence
        new = [g for g in dict.fromkeys(join) if g not in mine.joined]
        gone = [g for g in dict.fromkeys(leave) if g in mine.joined and g not in new]
        if len(mine.joined) + len(new) - len(gone) > self.max_groups:
            return self._refuse(
                c,
                Code.TOO_MANY_SUBSCRIPTIONS,
                f"at most {self.max_groups} groups joined",
                refused=what,
            )
        assert c.address is not None
        user = c.address.partition("/")[0]
        presence = space.presence
        fx: list[HubEffect] = []
        if presence.coalesce:  # marked, told at the next flush
            for group in gone:
                del mine.joined[group]
                presence.leave(user, group)
            for group in new:
                mine.joined[group] = None
                presence.join(user, group)
            self._arm_flush(c.last_seen)
            return fx
        for group in gone:
            del mine.joined[group]
            if presence.leave(user, group):
                off = wire.Envelope(wire.Presence(user, False, []))
                for conn in presence.group_subs.get(group, {}):
                    other = self._conns.get(conn)
                    if conn != c.id and other and not presence.sees(conn, other.presence, user):
                        fx.append(Deliver(conn, off))
        for group in new:
            mine.joined[group] = None
            if presence.join(user, group):
                fx.extend(self._tell(space, user, presence.group_subs.get(group, {}), c.id))
        return fx
