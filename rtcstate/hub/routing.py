"""Routing inside one tenant's address space: addresses, devices, forked calls.

Theory of operation
-------------------
A :class:`Space` holds the addresses of one tenant (users of different tenants live in
different spaces, so they never see or reach each other): ``by_address`` (``"user/device"`` ->
connection), ``users`` (user -> its devices, sorted) and the forked calls. The hub binds and
unbinds addresses; routing and forks are decided here.

Routing. A message with ``to`` is re-sent with ``from`` stamped with the sending connection's
address (a client's own ``from`` is never trusted): ``to`` ``"user/device"`` names one device,
a bare ``"user"`` every device of that user except the sender itself. If nobody is there, a
message with a route id gets ``UserNotFound(ref_id, user)``, any other
``ServerError(user_not_found)``.

Forked calls. An ``Invite`` to a bare user rings every device of that user and opens a *fork*
for its ``call_id`` (caller, callee user, ringing devices, winner). The first ``Answer`` or
``Bye`` from a callee device wins: it goes to the caller as usual, and every other ringing
device gets a ``Bye`` that seems to come from the caller, with the seed reason
``"call take on other device"`` (an answer) or ``"bye on other device"`` (a decline). After
that the caller's messages to the bare user reach the winner only, and the losers' messages are
not forwarded: a late ``Answer`` is answered with the same ``Bye``, a ``Bye`` that crossed the
hub's one with the ``Ack`` the caller would have sent (carrying that reason, as crossing byes
are acknowledged), anything else is dropped. If the caller cancels (``Bye``) before anyone
answers, the first callee ``Answer``, ``Bye`` or ``Ack`` of that bye wins in the same way, and
the other devices get the caller's bye again from the hub.

A fork is *closed* when an ``Ack`` of a ``bye`` passes between the caller and the winner; it is
forgotten once closed and every loser has acknowledged its bye (or left), at the latest
``fork_linger`` seconds after closing; at once if the caller or the winner leaves, or if its
last ringing device leaves before anyone answered. Each message costs O(1) dict operations
besides the deliveries it produces; every fork is indexed by the addresses taking part in it.

Ringing cap. Each device may have at most ``max_ringing`` calls ringing (invited, not yet
answered or ended, for at most ``ring_timeout`` seconds); an ``Invite`` beyond that is answered
for the device with ``Bye(User_Busy)``, so one peer cannot make a session hold thousands of
ringing calls.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import attrs

from rtcstate import wire
from rtcstate.codes import HangupReason
from rtcstate.effects import Drop
from rtcstate.hub.effects import Deliver, HubDrop, HubEffect
from rtcstate.hub.presence import Presence

__all__ = ["Space", "server", "server_error"]

_TAKE = HangupReason.CALL_TAKE_ON_OTHER_DEVICE.value
_BYE_OTHER = HangupReason.BYE_ON_OTHER_DEVICE.value
_BUSY = HangupReason.USER_BUSY.value
_MAX_INFO = 200


_new = object.__new__
_set_message = wire.Envelope.__dict__["message"].__set__
_set_to = wire.Envelope.__dict__["to"].__set__
_set_sender = wire.Envelope.__dict__["sender"].__set__
_set_conn = Deliver.__dict__["conn"].__set__
_set_envelope = Deliver.__dict__["envelope"].__set__
_set_frame = Deliver.__dict__["frame"].__set__


def _stamped(message: wire.Message, to: str, sender: str) -> wire.Envelope:
    """``Envelope(message, to, sender)``, made through its slots (a routed message's hot path:
    the frozen class's ``__init__`` costs twice that)."""
    env: wire.Envelope = _new(wire.Envelope)
    _set_message(env, message)
    _set_to(env, to)
    _set_sender(env, sender)
    return env


def _deliver(conn: str, env: wire.Envelope) -> Deliver:
    """``Deliver(conn, env)``, made through its slots (as :func:`_stamped`)."""
    d: Deliver = _new(Deliver)
    _set_conn(d, conn)
    _set_envelope(d, env)
    _set_frame(d, None)
    return d


def server(conn: str, message: wire.Message) -> Deliver:
    """A message from the hub itself (no ``from``)."""
    return Deliver(conn, wire.Envelope(message))


def server_error(
    conn: str, code: wire.ServerErrorCode, info: str, refused: dict[str, Any] | None = None
) -> Deliver:
    return server(conn, wire.ServerError(code=code.value, info=info[:_MAX_INFO], refused=refused))


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
class Space:
    """One tenant's addresses, devices and forked calls."""

    tenant: str
    fork_linger: float = 30.0
    max_ringing: int = 32
    ring_timeout: float = 120.0
    #: address -> connection
    by_address: dict[str, str] = attrs.field(factory=dict, init=False)
    #: user -> {address: connection}, kept sorted by address
    users: dict[str, dict[str, str]] = attrs.field(factory=dict, init=False)
    #: call_id -> fork
    forks: dict[str, _Fork] = attrs.field(factory=dict, init=False)
    #: address -> call_ids of the forks it takes part in (caller, winner, ringing, owing)
    involved: dict[str, set[str]] = attrs.field(factory=dict, init=False)
    #: (deadline, fork) of closed forks still waiting for losers, in closing order
    expiring: deque[tuple[float, _Fork]] = attrs.field(factory=deque, init=False)
    #: who hears whose presence in this tenant
    presence: Presence = attrs.field(factory=Presence, init=False)
    #: address -> {call_id: deadline} of the calls ringing there
    ringing: dict[str, dict[str, float]] = attrs.field(factory=dict, init=False)

    def devices(self, user: str) -> tuple[str, ...]:
        return tuple(self.users.get(user, ()))

    def bind(self, address: str, conn: str) -> None:
        """``address`` is now held by ``conn``."""
        self.by_address[address] = conn
        user = address.partition("/")[0]
        devices = self.users.get(user, {})
        devices[address] = conn
        self.users[user] = dict(sorted(devices.items()))

    def unbind(self, address: str, conn: str) -> bool:
        """Free ``address`` if ``conn`` holds it (its forks and ringing calls go with it)."""
        if self.by_address.get(address) != conn:
            return False
        del self.by_address[address]
        user = address.partition("/")[0]
        devices = self.users[user]
        del devices[address]
        if not devices:
            del self.users[user]
        self.ringing.pop(address, None)
        for call_id in self.involved.pop(address, ()):
            fork = self.forks.get(call_id)
            if fork is None:
                continue
            if address in (fork.caller, fork.winner):
                self._forget(fork)
            else:
                self._release(fork, address)
        return True

    def empty(self) -> bool:
        return not self.by_address and not self.forks

    def dispatch(self, conn: str, sender: str, env: wire.Envelope, now: float) -> list[HubEffect]:
        """Route one message with a ``to`` from ``sender`` (held by ``conn``)."""
        msg = env.message
        call_id = getattr(msg, "call_id", None)
        if type(call_id) is str:
            self._settle_ringing(sender, env.to, msg, call_id)
            fork = self.forks.get(call_id)
            if fork is not None:
                return self._forked(conn, sender, env, fork, now)
            if type(msg) is wire.Invite:
                return self._invite(conn, sender, env, call_id, now)
        return self.route(conn, sender, env)

    # --- internals: the ringing cap ------------------------------------------------------------

    def _settle_ringing(self, sender: str, to: str | None, msg: wire.Message, call_id: str) -> None:
        kind = type(msg)
        if kind is wire.Answer or kind is wire.Bye or _is_bye_ack(msg):
            ringing = self.ringing.get(sender)  # the callee answered, declined or was told
            if ringing is not None:
                ringing.pop(call_id, None)
            if kind is wire.Bye and to is not None:  # the caller cancelled
                for address in [to] if "/" in to else list(self.users.get(to, ())):
                    ringing = self.ringing.get(address)
                    if ringing is not None:
                        ringing.pop(call_id, None)

    def _ring(self, address: str, call_id: str, now: float) -> bool:
        """Count ``call_id`` ringing on ``address``; False when the device is full."""
        ringing = self.ringing.setdefault(address, {})
        if call_id in ringing:
            return True  # a retransmission
        if len(ringing) >= self.max_ringing:
            for cid in [c for c, deadline in ringing.items() if deadline <= now]:
                del ringing[cid]
            if len(ringing) >= self.max_ringing:
                return False
        ringing[call_id] = now + self.ring_timeout
        return True

    def _busy(self, conn: str, sender: str, address: str, call_id: str) -> Deliver:
        """``address`` is ringing too much: the caller hears a busy decline from it."""
        return Deliver(
            conn, wire.Envelope(wire.Bye(call_id=call_id, reason=_BUSY), sender, address)
        )

    def _invite(
        self, conn: str, sender: str, env: wire.Envelope, call_id: str, now: float
    ) -> list[HubEffect]:
        to = env.to
        assert to is not None
        targets = self._targets(to, sender)
        if not targets:
            return [self._not_found(conn, env.message, to)]
        rung = [(a, c) for a, c in targets if self._ring(a, call_id, now)]
        if not rung:
            return [self._busy(conn, sender, to, call_id)]
        if "/" in to:
            stamped = wire.Envelope(env.message, to, sender)
            return [Deliver(c, stamped) for _, c in rung]
        return self._fork_invite(sender, env, call_id, rung)

    # --- internals: routing -------------------------------------------------------------------

    def _targets(self, to: str, sender: str) -> list[tuple[str, str]]:
        """(address, connection) of each destination of ``to``, sorted by address."""
        if "/" in to:
            conn = self.by_address.get(to)
            return [] if conn is None else [(to, conn)]
        return [(a, c) for a, c in self.users.get(to, {}).items() if a != sender]

    def route(self, conn: str, sender: str, env: wire.Envelope) -> list[HubEffect]:
        """Route a message outside any fork: to ``env.to`` (a device, or every device of a
        user but the sender's), ``from`` stamped, or ``not found`` back to ``conn``."""
        to = env.to
        assert to is not None
        if "/" in to:
            dest = self.by_address.get(to)
            if dest is not None:
                return [_deliver(dest, _stamped(env.message, to, sender))]
        else:
            devices = self.users.get(to)
            if devices:
                stamped = _stamped(env.message, to, sender)
                fx: list[HubEffect] = [
                    _deliver(c, stamped) for a, c in devices.items() if a != sender
                ]
                if fx:
                    return fx
        return [self._not_found(conn, env.message, to)]

    @staticmethod
    def _not_found(conn: str, msg: wire.Message, to: str) -> Deliver:
        ref_id = msg.route_id
        if ref_id is None:
            return server_error(conn, wire.ServerErrorCode.USER_NOT_FOUND, to)
        return server(conn, wire.UserNotFound(ref_id=ref_id, user=to))

    # --- internals: forked calls --------------------------------------------------------------

    def _fork_invite(
        self, sender: str, env: wire.Envelope, call_id: str, targets: list[tuple[str, str]]
    ) -> list[HubEffect]:
        to = env.to
        assert to is not None
        fork = _Fork(call_id, sender, to, dict.fromkeys(a for a, _ in targets))
        self.forks[call_id] = fork
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
        return self.route(conn, sender, env)  # a third party reusing the id: not the fork's

    def _from_caller(
        self, conn: str, sender: str, env: wire.Envelope, fork: _Fork, now: float
    ) -> list[HubEffect]:
        msg = env.message
        fx: list[HubEffect]
        if env.to != fork.user:  # to one device (or elsewhere): ordinary routing
            fx = self.route(conn, sender, env)
            if env.to == fork.winner and _is_bye_ack(msg):
                self._close(fork, now)
            return fx
        recipients = [fork.winner] if fork.winner is not None else list(fork.others)
        stamped = wire.Envelope(msg, env.to, sender)
        fx = [Deliver(c, stamped) for a in recipients if (c := self.by_address.get(a)) is not None]
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
                return self.route(conn, sender, env)  # Ack of the invite, ...: as usual
            fork.winner = sender
            fork.others.pop(sender, None)
            self._index(sender, fork.call_id)
            fx = self.route(conn, sender, env)
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
            fx = self.route(conn, sender, env)
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
                Drop(HubDrop.FORK_LOSER, f"bye of {fork.call_id} from {sender}: crossed the hub's"),
            ]
        if _is_bye_ack(msg):
            self._release(fork, sender)
        return [
            Drop(HubDrop.FORK_LOSER, f"{msg.TYPE} of {fork.call_id} from {sender}: not the winner")
        ]

    def _bye_from_caller(self, fork: _Fork, address: str) -> HubEffect:
        """The ``Bye`` ending ``fork`` on a losing device, as if the caller had sent it."""
        conn = self.by_address.get(address)
        if conn is None:  # (not expected: a device leaving leaves the fork)
            return Drop(HubDrop.FORK_LOSER, f"{address} left before its bye")
        bye = wire.Bye(call_id=fork.call_id, reason=fork.reason)
        return Deliver(conn, wire.Envelope(bye, address, fork.caller))

    # --- internals: fork bookkeeping ----------------------------------------------------------

    def _index(self, address: str, call_id: str) -> None:
        self.involved.setdefault(address, set()).add(call_id)

    def _unindex(self, address: str, call_id: str) -> None:
        ids = self.involved.get(address)
        if ids is not None:
            ids.discard(call_id)
            if not ids:
                del self.involved[address]

    def _forget(self, fork: _Fork) -> None:
        if self.forks.get(fork.call_id) is not fork:
            return  # already forgotten (its id may even name a newer fork now)
        del self.forks[fork.call_id]
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
            self.expiring.append((now + self.fork_linger, fork))
        else:
            self._forget(fork)

    def expire(self, now: float) -> None:
        """Forget the closed forks whose linger ended by ``now``."""
        expiring = self.expiring
        while expiring and expiring[0][0] <= now:
            self._forget(expiring.popleft()[1])
