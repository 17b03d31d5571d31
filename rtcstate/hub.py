"""Hub: the relay's sans-I/O core (registration, presence, routing, forked calls).

Theory of operation
-------------------
A :class:`Hub` knows transport connections by opaque ids chosen by its adapter (one per
WebSocket, say). The adapter reports ``connect(conn)``, ``disconnect(conn)`` and every frame
received (``receive(conn, data)``); the hub answers with :data:`HubEffect` values, in order:
:class:`Deliver` (send this envelope on that connection), :class:`CloseConnection` and
:class:`~rtcstate.effects.Drop` (an input discarded on purpose, for logs). The hub never reads a
clock: ``now`` is the adapter's monotonic time, used only to bound how long a finished fork
waits for stragglers and to refill each connection's rate limit (see Limits).

Addresses. A connection becomes the device ``"user/device"`` with ``Register``; the hub answers
``Registered`` (``session_id`` is ``"<conn>:<n>"``), then tells the new connection who is online
(one ``Presence`` per user with a device other than itself), then tells every other registered
connection the user's new device list. Registering an address already held closes the older
connection (:class:`CloseConnection`) and moves the address to the new one (a reconnection:
calls in progress keep their routing). ``Unregister`` and ``disconnect`` free the address and
broadcast the user's remaining devices (``online=False`` when none is left). Before
``Register`` every message is answered with ``ServerError(not_registered)``.

Routing. A message with ``to`` is re-sent with ``from`` stamped with the sending connection's
address (a client's own ``from`` is never trusted): ``to`` ``"user/device"`` names one device,
a bare ``"user"`` every device of that user except the sender itself. If nobody is there, a
message with a route id (``call_id``, ``invitation_id``, ``channel_id``, ``transfer_id``) gets
``UserNotFound(ref_id, user)``, any other ``ServerError(user_not_found)``. Messages only the
relay may originate (``Registered``, ``Presence``, ``ServerError``, ``UserNotFound``) are
refused from clients (``ServerError(forbidden)``). Without ``to`` only ``Register``,
``Unregister``, ``Ping`` (answered with ``Pong``) and ``Pong`` (ignored) are meaningful; anything
else is ``ServerError(unexpected)``. Messages the hub itself sends carry no ``from``.

Limits. Every frame ``receive`` gets is checked before it is decoded, per connection: a
token bucket (``rate_limit`` messages per second on average, up to ``rate_burst`` at once,
refilled from the ``now`` of each input, so it needs no timer) and the size bound
``max_message_size``. A frame over either limit, or undecodable, is refused and answered with
a ``ServerError`` whose ``code`` says why: ``rate_limited``, ``oversize`` or ``decode_error``
(``info`` gives the limit). ``max_strikes`` refused frames in a row (with no accepted frame in
between) are abuse: the connection is closed (:class:`CloseConnection`) and what it sends until
its ``disconnect`` is dropped. ``receive_envelope`` (already decoded input, used by simulations)
is not limited.

Forked calls. An ``Invite`` to a bare user rings every device of that user and opens a *fork*
for its ``call_id`` (one dict entry: caller, callee user, ringing devices, winner). The first
``Answer`` or ``Bye`` from a callee device wins: it goes to the caller as usual, and every other
ringing device gets a ``Bye`` that seems to come from the caller, with the seed reason
``"call take on other device"`` (an answer) or ``"bye on other device"`` (a decline). After
that the caller's messages to the bare user reach the winner only, and the losers' messages are
not forwarded: a late ``Answer`` is answered with the same ``Bye``, a ``Bye`` that crossed the
hub's one with the ``Ack`` the caller would have sent (carrying that reason, as crossing byes
are acknowledged), anything else is dropped. So the caller hears about the call from exactly one
device. If the caller cancels (``Bye``) before anyone answers, the first callee ``Answer``,
``Bye`` or ``Ack`` of that bye wins in the same way, and the other devices get the caller's bye
again from the hub (the caller stops retransmitting at the first ack, so a lost copy would
leave a device ringing).

A fork is *closed* when an ``Ack`` of a ``bye`` passes between the caller and the winner; it is
forgotten once closed and every loser has acknowledged its bye (or left), at the latest
``fork_linger`` seconds after closing; at once if the caller or the winner disconnects, or if
its last ringing device leaves before anyone answered. Each message costs O(1) dict operations
besides the deliveries it produces; every fork is indexed by the addresses taking part in it,
so a disconnection finds its forks without a scan.
"""

from __future__ import annotations

from collections import deque

import attrs

from rtcstate import wire
from rtcstate.codes import HangupReason
from rtcstate.effects import Drop

__all__ = ["CloseConnection", "Deliver", "Hub", "HubEffect"]


@attrs.frozen(slots=True)
class Deliver:
    """Send ``envelope`` on connection ``conn`` (encode it with ``wire.encode_envelope``)."""

    conn: str
    envelope: wire.Envelope


@attrs.frozen(slots=True)
class CloseConnection:
    """Close connection ``conn`` (``reason`` is for logs or the close frame)."""

    conn: str
    reason: str = ""


HubEffect = Deliver | CloseConnection | Drop
"""What a :class:`Hub` asks its adapter to do."""

_TAKE = HangupReason.CALL_TAKE_ON_OTHER_DEVICE.value
_BYE_OTHER = HangupReason.BYE_ON_OTHER_DEVICE.value
#: Message types only the relay sends; a client may not route them to another client.
_RELAY_ONLY: frozenset[type[wire.Message]] = frozenset(
    {wire.Registered, wire.Presence, wire.ServerError, wire.UserNotFound}
)
_MAX_INFO = 200


def _server(conn: str, message: wire.Message) -> Deliver:
    """A message from the hub itself (no ``from``)."""
    return Deliver(conn, wire.Envelope(message))


def _error(conn: str, code: str, info: str) -> Deliver:
    return _server(conn, wire.ServerError(code=code, info=info[:_MAX_INFO]))


def _is_bye_ack(message: wire.Message) -> bool:
    return type(message) is wire.Ack and message.what == "bye"


@attrs.define(slots=True, eq=False)
class _Fork:
    """One forked call: an ``Invite`` to a bare user, ringing several devices."""

    call_id: str
    caller: str
    user: str
    #: Before settlement: the ringing devices. After: the losers that still owe an ``Ack`` of
    #: the ``Bye`` they were sent (by the hub, or by the caller cancelling).
    others: dict[str, None]
    winner: str | None = None
    #: The reason losers were given: the seed reason, or the caller's own if it cancelled.
    reason: str = ""
    cancelled: bool = False
    closed: bool = False


@attrs.define(slots=True, eq=False)
class _Bucket:
    """One connection's rate limiter (a token bucket) and count of refused frames in a row."""

    tokens: float
    last: float
    strikes: int = 0
    closing: bool = False


@attrs.define(slots=True, eq=False)
class Hub:
    """The relay: connections, addresses, presence, routing and forked calls."""

    max_message_size: int = wire.DEFAULT_MAX_SIZE
    fork_linger: float = 30.0
    #: messages per second a connection may send on average (``None``: no rate limit)
    rate_limit: float | None = 100.0
    #: messages a connection may send at once above the average (the bucket's size)
    rate_burst: float = 200.0
    #: refused frames in a row (oversize, undecodable, rate-limited) that close the connection
    max_strikes: int = 20
    _buckets: dict[str, _Bucket] = attrs.field(factory=dict, init=False)
    #: connection -> its address, or None while not registered
    _conns: dict[str, str | None] = attrs.field(factory=dict, init=False)
    #: address -> connection
    _by_address: dict[str, str] = attrs.field(factory=dict, init=False)
    #: user -> {address: connection}, kept sorted by address
    _users: dict[str, dict[str, str]] = attrs.field(factory=dict, init=False)
    _serial: int = attrs.field(default=0, init=False)
    #: call_id -> fork
    _forks: dict[str, _Fork] = attrs.field(factory=dict, init=False)
    #: address -> call_ids of the forks it takes part in (caller, winner, ringing, owing)
    _involved: dict[str, set[str]] = attrs.field(factory=dict, init=False)
    #: (deadline, fork) of closed forks still waiting for losers, in closing order
    _expiring: deque[tuple[float, _Fork]] = attrs.field(factory=deque, init=False)

    def __attrs_post_init__(self) -> None:
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be > 0 (or None)")
        if self.rate_burst < 1 or self.max_strikes < 1 or self.max_message_size <= 0:
            raise ValueError("rate_burst, max_strikes and max_message_size must be >= 1")

    # --- public: queries ----------------------------------------------------------------------

    def devices(self, user: str) -> tuple[str, ...]:
        """The connected device addresses (``"user/device"``) of ``user``, sorted."""
        return tuple(self._users.get(user, ()))

    def address(self, conn: str) -> str | None:
        """The address registered on ``conn``, or None."""
        return self._conns.get(conn)

    # --- public: transport reports ------------------------------------------------------------

    def connect(self, conn: str, now: float) -> list[HubEffect]:
        """A transport connection opened; it must ``Register`` before anything else."""
        self._expire(now)
        if conn in self._conns:
            return [Drop("duplicate-connection", f"connection {conn} is already open")]
        self._conns[conn] = None
        self._buckets[conn] = _Bucket(self.rate_burst, now)
        return []

    def disconnect(self, conn: str, now: float) -> list[HubEffect]:
        """A transport connection closed (for any reason, including a :class:`CloseConnection`)."""
        self._expire(now)
        self._buckets.pop(conn, None)
        if conn not in self._conns:
            return []
        address = self._conns.pop(conn)
        if address is None:
            return []
        return self._unbind(conn, address)

    def receive(self, conn: str, data: bytes | str, now: float) -> list[HubEffect]:
        """Handle one frame received on ``conn``; never raises."""
        if conn not in self._conns:
            self._expire(now)
            return [Drop("unknown-connection", f"frame on unknown connection {conn}")]
        bucket = self._buckets.setdefault(conn, _Bucket(self.rate_burst, now))
        if bucket.closing:
            self._expire(now)
            return [Drop("closing", f"frame on connection {conn} closed for abuse")]
        if not self._take_token(bucket, now):
            self._expire(now)
            info = f"over {self.rate_limit:g} messages/s (burst {self.rate_burst:g})"
            return self._refuse(conn, bucket, "rate_limited", info)
        try:
            env = wire.decode(data, max_size=self.max_message_size)
        except wire.DecodeError as exc:
            self._expire(now)
            code = "oversize" if exc.reason is wire.DecodeReason.OVERSIZE else "decode_error"
            return self._refuse(conn, bucket, code, f"{exc.reason.value}: {exc.detail}")
        bucket.strikes = 0
        return self.receive_envelope(conn, env, now)

    def receive_envelope(self, conn: str, env: wire.Envelope, now: float) -> list[HubEffect]:
        """Handle one decoded message received on ``conn`` (``env.sender`` is ignored)."""
        self._expire(now)
        if conn not in self._conns:
            return [Drop("unknown-connection", f"message on unknown connection {conn}")]
        msg = env.message
        kind = type(msg)
        if kind is wire.Register:
            assert isinstance(msg, wire.Register)
            return self._register(conn, msg)
        sender = self._conns[conn]
        if sender is None:
            return [
                _error(conn, "not_registered", f"{msg.TYPE} before register"),
                Drop("not-registered", f"{msg.TYPE} from unregistered connection {conn}"),
            ]
        if kind is wire.Unregister:
            self._conns[conn] = None
            return self._unbind(conn, sender)
        to = env.to
        if to is None:
            if kind is wire.Ping:
                assert isinstance(msg, wire.Ping)
                return [_server(conn, wire.Pong(seq=msg.seq))]
            if kind is wire.Pong:
                return []
            return [_error(conn, "unexpected", f"{msg.TYPE} needs a destination ('to')")]
        if kind in _RELAY_ONLY:
            return [_error(conn, "forbidden", f"{msg.TYPE} is sent by the relay only")]
        call_id = getattr(msg, "call_id", None)
        if type(call_id) is str:
            fork = self._forks.get(call_id)
            if fork is not None:
                return self._forked(conn, sender, env, fork, now)
            if kind is wire.Invite and "/" not in to:
                return self._fork_invite(conn, sender, env, call_id)
        return self._route(conn, sender, env)

    # --- internals: limits ---------------------------------------------------------------------

    def _take_token(self, bucket: _Bucket, now: float) -> bool:
        rate = self.rate_limit
        if rate is None:
            return True
        if now > bucket.last:
            bucket.tokens = min(self.rate_burst, bucket.tokens + (now - bucket.last) * rate)
            bucket.last = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def _refuse(self, conn: str, bucket: _Bucket, code: str, info: str) -> list[HubEffect]:
        """Answer a refused frame; close the connection at ``max_strikes`` in a row."""
        bucket.strikes += 1
        fx: list[HubEffect] = [_error(conn, code, info)]
        if bucket.strikes >= self.max_strikes:
            bucket.closing = True
            fx.append(CloseConnection(conn, f"{code}: {bucket.strikes} refused messages in a row"))
        return fx

    # --- internals: registration and presence -------------------------------------------------

    def _register(self, conn: str, msg: wire.Register) -> list[HubEffect]:
        user, device = msg.user, msg.device
        if not user or "/" in user or not device:
            info = "user must be non-empty and without '/', device non-empty"
            return [_error(conn, "invalid_register", info)]
        address = f"{user}/{device}"
        fx: list[HubEffect] = []
        current = self._conns[conn]
        if current is not None and current != address:
            self._conns[conn] = None
            fx.extend(self._unbind(conn, current))
        old = self._by_address.get(address)
        if old is not None and old != conn:
            # the address moves to the new connection (forks follow it: they hold addresses);
            # the old one is forgotten now, so its later disconnect() changes nothing
            fx.append(CloseConnection(old, f"{address} registered on another connection"))
            del self._conns[old]
            self._buckets.pop(old, None)
        self._conns[conn] = address
        self._by_address[address] = conn
        devices = self._users.get(user, {})
        devices[address] = conn
        self._users[user] = dict(sorted(devices.items()))
        self._serial += 1
        fx.append(_server(conn, wire.Registered(user, device, f"{conn}:{self._serial}")))
        for other, their in self._users.items():
            if other != user or len(their) > 1:
                fx.append(_server(conn, wire.Presence(other, True, list(their))))
        fx.extend(self._broadcast(user, except_conn=conn))
        return fx

    def _unbind(self, conn: str, address: str) -> list[HubEffect]:
        """Free ``address`` (held by ``conn``, whose own entry the caller already updated)."""
        if self._by_address.get(address) != conn:
            return []
        del self._by_address[address]
        user = address.partition("/")[0]
        devices = self._users[user]
        del devices[address]
        if not devices:
            del self._users[user]
        for call_id in self._involved.pop(address, ()):
            fork = self._forks.get(call_id)
            if fork is None:
                continue
            if address in (fork.caller, fork.winner):
                self._forget(fork)
            else:
                self._release(fork, address)
        return self._broadcast(user, except_conn=conn)

    def _broadcast(self, user: str, except_conn: str) -> list[HubEffect]:
        devices = list(self._users.get(user, ()))
        presence = wire.Envelope(wire.Presence(user, bool(devices), devices))
        return [Deliver(c, presence) for c in self._by_address.values() if c != except_conn]

    # --- internals: routing -------------------------------------------------------------------

    def _targets(self, to: str, sender: str) -> list[tuple[str, str]]:
        """(address, connection) of each destination of ``to``, sorted by address."""
        if "/" in to:
            conn = self._by_address.get(to)
            return [] if conn is None else [(to, conn)]
        return [(a, c) for a, c in self._users.get(to, {}).items() if a != sender]

    def _route(self, conn: str, sender: str, env: wire.Envelope) -> list[HubEffect]:
        to = env.to
        assert to is not None
        targets = self._targets(to, sender)
        if not targets:
            return [self._not_found(conn, env.message, to)]
        stamped = wire.Envelope(env.message, to, sender)
        return [Deliver(c, stamped) for _, c in targets]

    @staticmethod
    def _not_found(conn: str, msg: wire.Message, to: str) -> Deliver:
        ref_id = msg.route_id
        if ref_id is None:
            return _error(conn, "user_not_found", to)
        return _server(conn, wire.UserNotFound(ref_id=ref_id, user=to))

    # --- internals: forked calls --------------------------------------------------------------

    def _fork_invite(
        self, conn: str, sender: str, env: wire.Envelope, call_id: str
    ) -> list[HubEffect]:
        to = env.to
        assert to is not None
        targets = self._targets(to, sender)
        if not targets:
            return [self._not_found(conn, env.message, to)]
        fork = _Fork(call_id, sender, to, dict.fromkeys(a for a, _ in targets))
        self._forks[call_id] = fork
        self._index(sender, call_id)
        for address, _ in targets:
            self._index(address, call_id)
        stamped = wire.Envelope(env.message, to, sender)
        return [Deliver(c, stamped) for _, c in targets]

    def _forked(
        self, conn: str, sender: str, env: wire.Envelope, fork: _Fork, now: float
    ) -> list[HubEffect]:
        if sender == fork.caller:
            return self._from_caller(conn, sender, env, fork, now)
        if sender.partition("/")[0] == fork.user:
            return self._from_callee(conn, sender, env, fork, now)
        return self._route(conn, sender, env)  # a third party reusing the id: not the fork's

    def _from_caller(
        self, conn: str, sender: str, env: wire.Envelope, fork: _Fork, now: float
    ) -> list[HubEffect]:
        msg = env.message
        fx: list[HubEffect]
        if env.to != fork.user:  # to one device (or elsewhere): ordinary routing
            fx = self._route(conn, sender, env)
            if env.to == fork.winner and _is_bye_ack(msg):
                self._close(fork, now)
            return fx
        recipients = [fork.winner] if fork.winner is not None else list(fork.others)
        stamped = wire.Envelope(msg, env.to, sender)
        fx = [Deliver(c, stamped) for a in recipients if (c := self._by_address.get(a)) is not None]
        if not fx:  # (not expected: forks lose their devices only with the fork)
            self._forget(fork)
            return [self._not_found(conn, msg, fork.user)]
        if fork.winner is None:
            if type(msg) is wire.Bye and not fork.cancelled:
                fork.cancelled = True
                fork.reason = msg.reason
        elif _is_bye_ack(msg):
            self._close(fork, now)
        return fx

    def _from_callee(
        self, conn: str, sender: str, env: wire.Envelope, fork: _Fork, now: float
    ) -> list[HubEffect]:
        msg = env.message
        kind = type(msg)
        if fork.winner is None:
            settles = kind is wire.Answer or kind is wire.Bye
            if not settles and not (fork.cancelled and _is_bye_ack(msg)):
                return self._route(conn, sender, env)  # Ack of the invite, ...: as usual
            fork.winner = sender
            fork.others.pop(sender, None)
            self._index(sender, fork.call_id)
            fx = self._route(conn, sender, env)
            if not fork.cancelled:
                fork.reason = _TAKE if kind is wire.Answer else _BYE_OTHER
            # every other ringing device gets a bye from the hub itself, also after a cancel:
            # the caller stops retransmitting its cancel at the first ack, so a device whose
            # copy was lost would otherwise ring on
            fx.extend(self._bye_from_caller(fork, a) for a in fork.others)
            if not settles:  # the ack of the caller's cancelling bye
                self._close(fork, now)
            return fx
        if sender == fork.winner:
            fx = self._route(conn, sender, env)
            if _is_bye_ack(msg):
                self._close(fork, now)
            return fx
        # a loser: nothing it says reaches the caller
        if kind is wire.Answer:
            return [self._bye_from_caller(fork, sender)]
        if kind is wire.Bye:
            ack = wire.Ack(call_id=fork.call_id, what="bye", reason=fork.reason)
            return [
                Deliver(conn, wire.Envelope(ack, sender, fork.caller)),
                Drop("fork-loser", f"bye of {fork.call_id} from {sender}: crossed the hub's"),
            ]
        if _is_bye_ack(msg):
            self._release(fork, sender)
        return [Drop("fork-loser", f"{msg.TYPE} of {fork.call_id} from {sender}: not the winner")]

    def _bye_from_caller(self, fork: _Fork, address: str) -> HubEffect:
        """The ``Bye`` ending ``fork`` on a losing device, as if the caller had sent it."""
        conn = self._by_address.get(address)
        if conn is None:  # (not expected: a device leaving leaves the fork)
            return Drop("fork-loser", f"{address} left before its bye")
        bye = wire.Bye(call_id=fork.call_id, reason=fork.reason)
        return Deliver(conn, wire.Envelope(bye, address, fork.caller))

    # --- internals: fork bookkeeping ----------------------------------------------------------

    def _index(self, address: str, call_id: str) -> None:
        self._involved.setdefault(address, set()).add(call_id)

    def _unindex(self, address: str, call_id: str) -> None:
        ids = self._involved.get(address)
        if ids is not None:
            ids.discard(call_id)
            if not ids:
                del self._involved[address]

    def _forget(self, fork: _Fork) -> None:
        if self._forks.get(fork.call_id) is not fork:
            return  # already forgotten (its id may even name a newer fork now)
        del self._forks[fork.call_id]
        self._unindex(fork.caller, fork.call_id)
        if fork.winner is not None:
            self._unindex(fork.winner, fork.call_id)
        for address in fork.others:
            self._unindex(address, fork.call_id)

    def _release(self, fork: _Fork, address: str) -> None:
        """``address`` is done with ``fork`` (it acknowledged its bye, or left)."""
        if address in fork.others:
            del fork.others[address]
            self._unindex(address, fork.call_id)
        if not fork.others and (fork.closed or fork.winner is None):
            self._forget(fork)

    def _close(self, fork: _Fork, now: float) -> None:
        if fork.closed:
            return
        fork.closed = True
        if fork.others:
            self._expiring.append((now + self.fork_linger, fork))
        else:
            self._forget(fork)

    def _expire(self, now: float) -> None:
        expiring = self._expiring
        while expiring and expiring[0][0] <= now:
            self._forget(expiring.popleft()[1])
