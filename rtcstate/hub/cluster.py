"""One hub of a cluster: each node is the authority for its own connections.

Theory of operation
-------------------
A :class:`ClusterHub` is a :class:`~rtcstate.hub.Hub` that is node ``node`` of a cluster
(docs/cluster.md). It holds its own websockets exactly as a hub alone does; the addresses held
on the other nodes are told to it by its adapter from the shared directory
(:meth:`ClusterHub.remote_bind`, :meth:`ClusterHub.remote_unbind`, :meth:`ClusterHub.node_lost`)
and become *remote connections*: records in the hub's own tables, registered, whose id
(``@node/tenant/user/device``) no adapter uses. So every rule of one hub (routing by
``user/device`` or bare ``user``, forks, ringing caps, presence scoped by tenant, group and
contact, the takeover of an address by the same identity, ``max_devices``, rooms) applies
across nodes unchanged; what a remote connection is sent leaves as an effect for its node:

* a :class:`~rtcstate.hub.effects.Deliver` to a remote connection becomes
  :class:`~rtcstate.hub.effects.Forward` ``DELIVER`` (already routed and stamped; so does
  each remote connection of a :class:`~rtcstate.hub.effects.Fanout`), a
  :class:`~rtcstate.hub.effects.CloseConnection` of one (a takeover by the same identity here)
  ``CLOSE``;
* a message from a local connection to a ``user/device`` held on another node (and not part
  of a fork this node holds) is not routed here: it goes as ``ROUTE`` to that node, which
  routes it as if the sender were one of its remote connections
  (:meth:`ClusterHub.remote_receive`), so the destination's node applies its forks and caps;
  a message to a bare ``user`` is routed by the sender's node (which holds the fork of an
  ``Invite``; the callees' answers, addressed to the caller's device, come back to it);
* conversation requests go to the room authority (:attr:`ClusterHub.room_authority`, one node
  chosen by the adapter through a lease) as ``ROUTE``; its notices come back as ``DELIVER``;
* every change of a local address (registered, freed, its presence groups) is a
  :class:`~rtcstate.hub.effects.Directory` effect, for the adapter to write and publish;
* a local user's data (``user_data_set``) also goes as ``ROUTE`` (without ``to``) to every node
  holding an address of its tenant, whose listeners hear it there; the ringing-callee rule
  (:mod:`~rtcstate.hub.ringwatch`) is kept by the node that routed the invite, which sees the
  acknowledgements, answers and byes whichever node sends them;
* with :attr:`ClusterHub.shared_limits` (the adapter's link to Redis is up), the limits per
  identity and per source are the cluster's (:mod:`rtcstate.hub.shared`): a registration is
  parked behind an :class:`~rtcstate.hub.effects.Admit` until :meth:`ClusterHub.admitted`, the
  connections per source are told as :class:`~rtcstate.hub.effects.SourceCount`, and the
  message counts per identity go out by :meth:`ClusterHub.take_usage` and come back as
  allowances by :meth:`ClusterHub.shared_rates`;
* on the room authority, the rooms survive it and a member whose node died keeps its place for
  ``room_grace`` seconds (:mod:`rtcstate.hub.cluster_rooms`: :meth:`ClusterHub.take_rooms`,
  :meth:`ClusterHub.give_up_rooms`, :meth:`ClusterHub.room_records` and the
  :class:`~rtcstate.hub.effects.RoomsChanged` effect placed before a step's other effects).

The ``from`` of everything that crosses nodes is the address the sending node verified: a
client's own ``from`` is replaced on its node, and only nodes speak to each other. Inputs from
other nodes never raise: what cannot be carried out is a ``Drop`` (:class:`ClusterDrop`).
Cost: one dict lookup per effect to map remote connections (none when no address is remote).
"""

from __future__ import annotations

from typing import Any

import attrs

from rtcstate import wire
from rtcstate.drops import DropReason
from rtcstate.effects import Drop
from rtcstate.hub.cluster_rooms import ClusterRooms
from rtcstate.hub.conversations import is_conversation
from rtcstate.hub.core import _RELAY_ONLY, Hub
from rtcstate.hub.effects import (
    Admit,
    CloseCode,
    CloseConnection,
    Deliver,
    Directory,
    Fanout,
    Forward,
    ForwardKind,
    HubEffect,
    Log,
    RoomsChanged,
    SourceCount,
)
from rtcstate.hub.lifecycle import Connection, ConnState
from rtcstate.hub.limits import TokenBucket
from rtcstate.hub.routing import Space, server_error
from rtcstate.hub.shared import Admission, Parked, SharedLimits
from rtcstate.identity import Identity, Revocations
from rtcstate.machine import spec_of
from rtcstate.rooms_routing import RoomRouter
from rtcstate.wire_contact import UserDataSet

__all__ = ["ClusterDrop", "ClusterHub", "remote_id"]

Code = wire.ServerErrorCode
_CODES = frozenset(int(c) for c in CloseCode)
_BAD_NODE = frozenset('/"\\@ ') | frozenset(map(chr, range(0x21))) | {"\x7f"}


class ClusterDrop(DropReason):
    """Why a cluster hub ignored an input from another node."""

    UNKNOWN_SENDER = "unknown-sender"
    """A route from an address the directory does not place on that node (it left)."""
    NOT_ROUTABLE = "not-routable"
    """A route of a message a client may not send to another (relay-only, no ``to``)."""
    NO_RECIPIENT = "no-recipient"
    """A delivery or close for an address no local connection holds (any more)."""
    NOT_PARKED = "not-parked"
    """The cluster's answer to a registration that no longer waits for one."""
    NOT_AUTHORITY = "not-room-authority"
    """A conversation request routed here while another node holds the rooms (or before this
    one has loaded them): the client repeats it."""


def remote_id(node: str, tenant: str, address: str) -> str:
    """The hub connection id of ``address`` of ``tenant`` held on ``node``."""
    return f"@{node}/{tenant}/{address}"


@attrs.frozen(slots=True)
class _Remote:
    node: str
    tenant: str
    address: str


@attrs.define(slots=True, eq=False)
class ClusterHub(Hub):
    """A :class:`~rtcstate.hub.Hub` that is node ``node`` of a cluster (module docstring)."""

    node: str = "node"
    #: the node that holds the conversation rooms (None or ``node``: this one)
    room_authority: str | None = None
    #: limits per identity and per source counted across the cluster (set by the adapter while
    #: its link to Redis is up; False: this node counts them alone, as a hub alone does)
    shared_limits: bool = False
    #: seconds a room member whose node died keeps its place (:mod:`~rtcstate.hub.cluster_rooms`)
    room_grace: float = 10.0
    #: this node is draining (its clients told to move to other nodes): an address freed here
    #: stays in the directory until it registers elsewhere or the node leaves, and keeps its
    #: rooms for ``room_grace``, as a member of a node that died
    moving: bool = attrs.field(default=False, init=False)
    _remote: dict[str, _Remote] = attrs.field(factory=dict, init=False)
    _shared: SharedLimits = attrs.field(factory=SharedLimits, init=False)
    #: tenant -> node -> addresses it holds there (where a user's data is told)
    _nodes: dict[str, dict[str, int]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.room_grace < 0:
            raise ValueError("room_grace must be >= 0")
        self._conversations = ClusterRooms(RoomRouter(self.rooms, Deliver), self.room_grace)
        if not self.node or _BAD_NODE.intersection(self.node) or len(self.node) > 64:
            raise ValueError('node must be 1-64 printable characters without / \\ " @ or space')

    # --- queries --------------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Local connections (the remote ones are not counted)."""
        return len(self._conns) - len(self._remote)

    @property
    def remote_addresses(self) -> int:
        return len(self._remote)

    def held_state(self) -> dict[str, int]:
        held = super().held_state()
        held["connections"] -= len(self._remote)
        held["remote"] = len(self._remote)
        return held

    def local_bindings(self) -> list[Directory]:
        """A :class:`Directory` ``bound`` for every local registered address (to publish the
        whole of this node again, after it was taken for dead)."""
        return [
            self._bound(c)
            for c in self._conns.values()
            if c.id not in self._remote and c.state is ConnState.REGISTERED and c.address
        ]

    def remote_entries(self) -> list[tuple[str, str, str]]:
        """``(node, tenant, address)`` of every address held on another node, as known here."""
        return [(r.node, r.tenant, r.address) for r in self._remote.values()]

    def decide_alone(self, now: float) -> list[HubEffect]:
        """The cluster is unreachable: the limits are counted here alone until the adapter
        sets :attr:`shared_limits` again, and every registration waiting for the cluster's
        answer is decided here (within the local limits)."""
        self.shared_limits = False
        fx: list[HubEffect] = []
        for conn in list(self._shared.parked):
            fx.extend(self.admitted(conn, Admission(), now))
        self._shared.allow.clear()
        self._shared.usage.clear()
        return fx

    def is_remote(self, conn: str) -> bool:
        return conn in self._remote

    # --- transport inputs: the remote connections' effects mapped --------------------------------

    def connect(self, conn: str, now: float, source: str | None = None) -> list[HubEffect]:
        fx = self._out(super().connect(conn, now, source))
        c = self._conns.get(conn)
        if self.shared_limits and source is not None and c is not None and c.counted:
            fx.append(SourceCount(source, self._per_source.get(source, 0)))
        return fx

    def disconnect(self, conn: str, now: float) -> list[HubEffect]:
        if conn in self._remote:
            return []
        c = self._conns.get(conn)
        counted = None if c is None or not c.counted else c.source
        fx = self._out(super().disconnect(conn, now))
        self._shared.cleared.discard(conn)  # (a parked registration is released when answered)
        if self.shared_limits and counted is not None:
            fx.append(SourceCount(counted, self._per_source.get(counted, 0)))
        return fx

    def receive(self, conn: str, data: bytes | str, now: float) -> list[HubEffect]:
        return self._out(super().receive(conn, data, now))

    def receive_envelope(self, conn: str, env: wire.Envelope, now: float) -> list[HubEffect]:
        return self._out(super().receive_envelope(conn, env, now))

    def queued(self, conn: str, nbytes: int, now: float) -> list[HubEffect]:
        return self._out(super().queued(conn, nbytes, now))

    def revoke(self, revocations: Revocations, now: float) -> list[HubEffect]:
        return self._out(super().revoke(revocations, now))

    def tick(self, now: float) -> list[HubEffect]:
        fx = super().tick(now)
        rooms = self._rooms()
        if rooms.held:
            fx.extend(rooms.expire(now, self._spaces))
        return self._out(fx)

    def next_deadline(self) -> float | None:
        due = super().next_deadline()
        held = self._rooms().next_deadline()
        return held if due is None else due if held is None else min(due, held)

    # --- the room authority's rooms (rtcstate.hub.cluster_rooms) -------------------------------

    @property
    def held_places(self) -> dict[tuple[str, str], float]:
        """(tenant, address) -> end of its grace, for the room members whose node died."""
        return dict(self._rooms().held)

    def take_rooms(
        self, records: list[dict[str, Any]], now: float, wall: float
    ) -> tuple[list[HubEffect], list[str]]:
        """This node now holds the rooms (the lease), as ``records`` say (read from Redis;
        ``wall``: the clock they are dated by): it answers conversation requests from now on.
        Return the effects (none yet) and the records skipped (they did not parse)."""
        skipped = self._rooms().take(records, self._spaces, now, wall)
        self.room_authority = self.node
        return [], skipped

    def give_up_rooms(self, authority: str | None, now: float, wall: float) -> None:
        """``authority`` holds the rooms now: they are forgotten here."""
        self._rooms().give_up(now, wall)
        self.room_authority = authority

    def room_records(
        self, keys: tuple[tuple[str, str], ...], now: float, wall: float
    ) -> list[tuple[tuple[str, str], dict[str, Any] | None]]:
        """The records of rooms ``keys`` as of now, to persist (None: delete)."""
        return self._rooms().records(keys, now, wall)

    def _rooms(self) -> ClusterRooms:
        rooms = self._conversations
        assert isinstance(rooms, ClusterRooms)
        return rooms

    # --- limits shared through the cluster (rtcstate.hub.shared) ------------------------------

    def admitted(self, conn: str, verdict: Admission, now: float) -> list[HubEffect]:
        """The cluster's answer to this node's :class:`Admit` for ``conn``: the parked
        registration is refused as one hub refuses it, or goes on."""
        shared = self._shared
        parked = shared.parked.pop(conn, None)
        if parked is None:
            return [Drop(ClusterDrop.NOT_PARKED, f"no registration of {conn} waits")]
        c = self._conns.get(conn)
        if c is None or c.state is ConnState.CLOSING:  # gone meanwhile: nothing is held
            return self._release(parked) if verdict.ok else []
        user = parked.message.user
        if verdict.refused == "devices":
            info = f"{user} has {verdict.count} devices online (the limit)"
            return self._out(self._refuse(c, Code.TOO_MANY_DEVICES, info))
        if verdict.refused == "register":
            info = f"over {self.register_rate:g} registrations/s for {user}"
            return self._out(self._close(c, Code.RECONNECTING_TOO_FAST,
                                         CloseCode.TRY_AGAIN_LATER, info))  # fmt: skip
        if verdict.refused == "source":
            info = f"over {self.max_connections_per_source} connections from {c.source}"
            return self._out(self._close(c, Code.TOO_MANY_CONNECTIONS,
                                         CloseCode.TRY_AGAIN_LATER, info))  # fmt: skip
        shared.cleared.add(conn)
        fx = self._out(self._register(c, parked.message, now, parked.limited))
        shared.cleared.discard(conn)
        if c.address != parked.address or c.state is not ConnState.REGISTERED:
            fx.extend(self._release(parked))  # refused here after all
        return fx

    def take_usage(self) -> dict[tuple[str, str], int]:
        """The messages accepted per identity ``(tenant, user)`` and per source address
        ``("", source)`` since the last call (and 0 for each one this node holds an allowance
        for), to add to the shared buckets."""
        return self._shared.take_usage()

    def shared_rates(self, left: dict[tuple[str, str], float]) -> None:
        """The tokens ``left`` in the shared buckets just reported: this node's allowances
        until the next report."""
        self._shared.rates(left, self.identity_rate_burst, self.source_rate_burst)

    def source_counts(self) -> list[SourceCount]:
        """This node's open connections per source (to announce again after Redis lost them)."""
        return [SourceCount(s, n) for s, n in self._per_source.items()]

    @property
    def admitting(self) -> int:
        """Registrations waiting for the cluster's answer."""
        return len(self._shared.parked)

    def _release(self, parked: Parked) -> list[HubEffect]:
        """Give the device reserved for a registration that did not happen back (unless a
        connection here holds the address: the reservation is then its own)."""
        space = self._spaces.get(parked.tenant)
        holder = None if space is None else space.by_address.get(parked.address)
        if holder is not None and holder not in self._remote:
            return []
        return [Directory(parked.tenant, parked.address, False)]

    def _over_rate(self, c: Connection, now: float) -> str | None:
        if not self.shared_limits or c.state is not ConnState.REGISTERED:
            return super()._over_rate(c, now)
        shared = self._shared
        ident = c.identity
        ikey = None if ident is None or self.identity_rate_limit is None else ident.key
        skey = None if c.source is None or self.source_rate_limit is None else ("", c.source)
        if ikey is not None and ident is not None and not shared.allowed(ikey):
            return (
                f"over {self.identity_rate_limit:g} messages/s for {ident.user} "
                f"(burst {self.identity_rate_burst:g})"
            )
        if skey is not None and not shared.allowed(skey):
            return (
                f"over {self.source_rate_limit:g} messages/s from {c.source} "
                f"(burst {self.source_rate_burst:g})"
            )
        over = super()._over_rate(c, now)
        if over is None:
            if ikey is not None:
                shared.accept(ikey)
            if skey is not None:
                shared.accept(skey)
        return over

    # --- inputs from the other nodes ------------------------------------------------------------

    def remote_bind(
        self,
        node: str,
        tenant: str,
        address: str,
        groups: tuple[str, ...],
        verified: bool,
        now: float,
        registered: bool = True,
    ) -> list[HubEffect]:
        """The directory says ``node`` holds ``address`` of ``tenant`` (joined to ``groups``;
        ``registered``: by a registration, told to the audience again as one hub would)."""
        if node == self.node:
            return []
        pid = remote_id(node, tenant, address)
        user = address.partition("/")[0]
        existing = self._conns.get(pid)
        if existing is not None and existing.space is not None:  # its groups changed
            old = list(existing.presence.joined)
            join = [g for g in groups if g not in existing.presence.joined]
            leave = [g for g in old if g not in groups]
            if not registered:
                return self._out(self._move_groups(existing, existing.space, join, leave))
            # registered again (a takeover on its node): it leaves its groups and joins again
            self._drop_presence(existing)
            self._join(existing, existing.space, user, groups)
            again = self._told(existing.space, user, pid, now)
            again.extend(self._ringing_changed(existing.space, user, now))
            return self._out(again)
        space = self._spaces.get(tenant)
        if space is None:
            space = Space(tenant, self.fork_linger, self.max_ringing, self.ring_timeout)
            space.presence.coalesce = self.presence_interval is not None
            self._spaces[tenant] = space
        fx: list[HubEffect] = []
        holder_id = space.by_address.get(address)
        holder = None if holder_id is None else self._conns.get(holder_id)
        if holder is not None and holder.id in self._remote:
            # it moved from a third node, which that node's takeover closes
            self._drop_presence(holder)
            self._forget_remote(holder.id)
        elif holder is not None and holder.state is ConnState.REGISTERED:
            # the address moved to ``node``: it keeps its rooms and forks (nothing unbound)
            fx.extend(self._hand_over(holder, f"{address} registered on node {node}"))
        c = Connection(pid, None, TokenBucket.full(None, 1.0, now), since=now, last_seen=now)
        c.identity = Identity(user=user, tenant=tenant, verified=verified)
        c.address, c.space = address, space
        spec_of(c).fire(c, "register")
        self._conns[pid] = c
        self._remote[pid] = _Remote(node, tenant, address)
        held = self._nodes.setdefault(tenant, {})
        held[node] = held.get(node, 0) + 1
        space.bind(address, pid)
        self._join(c, space, user, groups)
        rooms = self._rooms()
        if rooms.held:
            fx.extend(rooms.release(c.identity, address, space, now))
        fx.extend(self._told(space, user, pid, now))
        fx.extend(self._ringing_changed(space, user, now))
        return self._out(fx)

    def remote_unbind(self, node: str, tenant: str, address: str, now: float) -> list[HubEffect]:
        """The directory says ``node`` no longer holds ``address`` of ``tenant``."""
        pid = remote_id(node, tenant, address)
        c = self._conns.get(pid)
        if c is None or pid not in self._remote:
            return []
        c.last_seen = now
        fx = self._unbind(c)
        self._forget_remote(pid)
        return self._out(fx)

    def node_lost(self, node: str, now: float) -> list[HubEffect]:
        """``node`` is dead: every address it held is freed here (presence told); on the room
        authority, one in rooms keeps its place there for ``room_grace`` seconds."""
        fx: list[HubEffect] = []
        rooms = self._rooms()
        rooms.holding = now + self.room_grace  # (rooms are only on the authority)
        try:
            for r in [r for r in self._remote.values() if r.node == node]:
                fx.extend(self.remote_unbind(r.node, r.tenant, r.address, now))
        finally:
            rooms.holding = None
        return fx

    def remote_receive(
        self, node: str, tenant: str, sender: str, env: wire.Envelope, now: float
    ) -> list[HubEffect]:
        """Route ``env`` from ``sender`` of ``tenant``, verified by ``node`` (a ``ROUTE``)."""
        c = self._conns.get(remote_id(node, tenant, sender))
        space = None if c is None else c.space
        if c is None or space is None or c.state is not ConnState.REGISTERED:
            return [Drop(ClusterDrop.UNKNOWN_SENDER, f"{sender} of {tenant} is not on {node}")]
        c.last_seen = now
        msg = env.message
        kind = type(msg)
        if is_conversation(msg):
            authority = self.room_authority
            if authority is not None and authority != self.node:
                return [Drop(ClusterDrop.NOT_AUTHORITY, f"{msg.TYPE} from {sender} via {node}")]
            return self._out(self._conversations.handle(c, space, msg, now))
        if kind is UserDataSet and env.to is None:  # its data, told to the listeners here
            assert isinstance(msg, UserDataSet)
            return self._out(self._set_user_data(c, space, sender, msg))
        if (
            env.to is None
            or kind in _RELAY_ONLY
            or kind is wire.Register
            or kind is wire.Unregister
        ):
            return [Drop(ClusterDrop.NOT_ROUTABLE, f"{msg.TYPE} from {sender} via {node}")]
        space.expire(now)
        fx = space.dispatch(c.id, sender, env, now)
        # the ringing-callee rule (rtcstate.hub.ringwatch), as for a local sender
        if kind is wire.Invite:
            self._watch_invite(space, sender, env, now)
        elif kind is wire.Ack or kind is wire.Answer or kind is wire.Bye:
            fx.extend(self._watch_ringing(c, space, sender, env, now))
        return self._out(fx)

    def remote_deliver(self, tenant: str, address: str, env: wire.Envelope) -> list[HubEffect]:
        """Deliver ``env`` (routed on another node) to the local holder of ``address``."""
        c = self._local(tenant, address)
        if c is None:
            return [Drop(ClusterDrop.NO_RECIPIENT, f"{address} of {tenant} is not here")]
        return [Deliver(c.id, env)]

    def remote_close(self, tenant: str, address: str, reason: str, code: int) -> list[HubEffect]:
        """Another node closed ``address`` of ``tenant``: close its local holder. A takeover
        (``code`` conflict) moves the address, nothing is unbound; any other close (a
        revocation there) frees it as a close here would."""
        c = self._local(tenant, address)
        if c is None:
            return [Drop(ClusterDrop.NO_RECIPIENT, f"{address} of {tenant} is not here")]
        if code == CloseCode.CONFLICT:
            return self._out(self._hand_over(c, reason, code, answer=False))
        why = Code.TOKEN_REVOKED if code == CloseCode.REVOKED else Code.FORBIDDEN
        return self._out(self._close(c, why, CloseCode(code) if code in _CODES else
                                     CloseCode.POLICY, reason, answer=False))  # fmt: skip

    # --- internals ------------------------------------------------------------------------------

    def _local(self, tenant: str, address: str) -> Connection | None:
        space = self._spaces.get(tenant)
        conn = None if space is None else space.by_address.get(address)
        c = None if conn is None or conn in self._remote else self._conns.get(conn)
        return c if c is not None and c.state is ConnState.REGISTERED else None

    def _hand_over(
        self, holder: Connection, info: str, code: int = CloseCode.CONFLICT, answer: bool = True
    ) -> list[HubEffect]:
        """``holder``'s address is now held elsewhere: it is closed, nothing is unbound."""
        fx: list[HubEffect] = []
        if answer:
            fx.append(server_error(holder.id, wire.ServerErrorCode.CONFLICT, info))
        self._drop_presence(holder)
        holder.address = None
        spec_of(holder).fire(holder, "close")
        fx.append(Log("closing", holder.id, (("code", "conflict"), ("reason", info))))
        fx.append(CloseConnection(holder.id, info, code))
        return fx

    @staticmethod
    def _join(c: Connection, space: Space, user: str, groups: tuple[str, ...]) -> None:
        for group in dict.fromkeys(groups):
            c.presence.joined[group] = None
            space.presence.join(user, group)

    def _told(self, space: Space, user: str, pid: str, now: float) -> list[HubEffect]:
        """``user``'s devices, told to its audience here (at the next flush if coalesced)."""
        if space.presence.coalesce:
            space.presence.touch(user)
            self._arm_flush(now)
            return []
        return self._tell(space, user, space.presence.audience(user), except_conn=pid)

    def _forget_remote(self, pid: str) -> None:
        r = self._remote.pop(pid, None)
        self._conns.pop(pid, None)
        held = None if r is None else self._nodes.get(r.tenant)
        if r is not None and held is not None:
            left = held.get(r.node, 0) - 1
            if left > 0:
                held[r.node] = left
            else:
                held.pop(r.node, None)
                if not held:
                    del self._nodes[r.tenant]

    def _bound(self, c: Connection, registered: bool = True) -> Directory:
        assert c.address is not None and c.identity is not None
        identity = c.identity
        joined = tuple(c.presence.joined)
        return Directory(identity.tenant, c.address, True, joined, identity.verified, registered)

    def _out(self, fx: list[HubEffect]) -> list[HubEffect]:
        """Map the effects on remote connections to :class:`Forward` for their nodes; put the
        rooms this step changed (on the room authority) before them all."""
        journal = self.rooms.journal
        if journal:
            fx = [RoomsChanged(tuple(self.rooms.changed())), *fx]
        remote = self._remote
        if not remote:
            return fx
        out: list[HubEffect] = []
        for e in fx:
            kind = type(e)
            if kind is Deliver:
                assert isinstance(e, Deliver)
                r = remote.get(e.conn)
                if r is not None:
                    e = Forward(r.node, ForwardKind.DELIVER, r.tenant, r.address, e.envelope)
            elif kind is Fanout:
                assert isinstance(e, Fanout)
                out.extend(self._fan_out(e))
                continue
            elif kind is CloseConnection:
                assert isinstance(e, CloseConnection)
                r = remote.get(e.conn)
                if r is not None:
                    self._forget_remote(e.conn)
                    e = Forward(r.node, ForwardKind.CLOSE, r.tenant, r.address, None, e.reason,
                                e.code)  # fmt: skip
            out.append(e)
        return out

    def _fan_out(self, e: Fanout) -> list[HubEffect]:
        """A :class:`Fanout`'s local connections (one effect still) and a ``DELIVER`` for
        each remote one."""
        remote = self._remote
        env = e.envelope
        forwards: list[HubEffect] = []
        local: list[str] = []
        for conn in e.conns:
            r = remote.get(conn)
            if r is None:
                local.append(conn)
            else:
                forwards.append(Forward(r.node, ForwardKind.DELIVER, r.tenant, r.address, env))
        if not forwards:
            return [e]
        return ([Fanout(tuple(local), env)] if local else []) + forwards

    def _move_groups(
        self, c: Connection, space: Space, join: list[str], leave: list[str]
    ) -> list[HubEffect]:
        return self._groups(c, space, join, leave) if join or leave else []

    # --- hooks in the hub's own steps -----------------------------------------------------------

    def _handle(
        self, c: Connection, env: wire.Envelope, now: float, limited: bool
    ) -> list[HubEffect]:
        space = c.space
        msg = env.message
        if c.state is ConnState.REGISTERED and space is not None and c.address is not None:
            sender = c.address
            if is_conversation(msg):
                authority = self.room_authority
                if authority is not None and authority != self.node:
                    stamped = wire.Envelope(msg, env.to, sender)  # (a client's own is not kept)
                    return [Forward(authority, ForwardKind.ROUTE, space.tenant, sender, stamped)]
            else:
                to = env.to
                kind = type(msg)
                if to is not None and "/" in to and kind not in _RELAY_ONLY:
                    holder = space.by_address.get(to)
                    r = None if holder is None else self._remote.get(holder)
                    call_id = getattr(msg, "call_id", None)
                    if r is not None and not (type(call_id) is str and call_id in space.forks):
                        if type(call_id) is str:
                            space._settle_ringing(sender, to, msg, call_id)
                        stamped = wire.Envelope(msg, to, sender)
                        fx: list[HubEffect] = [
                            Forward(r.node, ForwardKind.ROUTE, r.tenant, sender, stamped)
                        ]
                        if kind is wire.Ack or kind is wire.Answer or kind is wire.Bye:
                            # a watch of this node's (an invite routed here) is told or settled
                            fx.extend(self._watch_ringing(c, space, sender, stamped, now))
                        return fx
        return super()._handle(c, env, now, limited)

    def _register(
        self, c: Connection, msg: wire.Register, now: float, limited: bool
    ) -> list[HubEffect]:
        if self.shared_limits and c.id not in self._shared.cleared:
            admit = self._admit(c, msg, now, limited)
            if admit is not None:
                return admit
        fx = super()._register(c, msg, now, limited)
        if c.state is ConnState.REGISTERED and c.address == f"{msg.user}/{msg.device}":
            fx.append(self._bound(c))
            rooms = self._rooms()
            if rooms.held and c.identity is not None and c.space is not None:
                fx.extend(rooms.release(c.identity, c.address, c.space, now))
        return fx

    def _admit(
        self, c: Connection, msg: wire.Register, now: float, limited: bool
    ) -> list[HubEffect] | None:
        """Park a registration that takes a new address and ask the cluster (an
        :class:`Admit`); None: one the hub refuses or that takes nothing new, decided here."""
        if c.id in self._shared.parked:
            return self._refuse(c, Code.INVALID_REGISTER, "a registration is already pending")
        if self._bad_name(msg.user, msg.device) is not None:
            return None
        identity = self.verifier(msg, now)
        if not isinstance(identity, Identity) or identity.user != msg.user:
            return None
        address = f"{msg.user}/{msg.device}"
        if c.state is ConnState.REGISTERED and c.address == address:
            return None
        self._shared.park(c.id, Parked(msg, limited, identity.tenant, address))
        source = c.source if c.counted else None
        rate = self.register_rate if limited else None
        return [Admit(c.id, identity.tenant, msg.user, msg.device, self.max_devices, rate,
                      self.register_burst, source, self.max_connections_per_source)]  # fmt: skip

    def _set_user_data(
        self, c: Connection, space: Space, sender: str, msg: UserDataSet
    ) -> list[HubEffect]:
        """A local user's data, kept, is also sent to every node holding an address of its
        tenant (whose listeners hear it there; a node holding none has no listener)."""
        fx = super()._set_user_data(c, space, sender, msg)
        if c.id in self._remote or any(type(e) is Log and e.event == "refused" for e in fx):
            return fx
        env = wire.Envelope(msg, None, sender)
        for node in self._nodes.get(space.tenant, ()):
            fx.append(Forward(node, ForwardKind.ROUTE, space.tenant, sender, env))
        return fx

    def _unbind(self, c: Connection) -> list[HubEffect]:
        space, address = c.space, c.address
        held = space is not None and address is not None and space.by_address.get(address) == c.id
        local = c.id not in self._remote
        if not (self.moving and local):
            fx = super()._unbind(c)
            if held and local and space is not None and address is not None:
                fx.append(Directory(space.tenant, address, False))
            return fx
        rooms = self._rooms()  # a client told to move: its place in rooms is kept meanwhile
        rooms.holding = c.last_seen + self.room_grace
        try:
            return super()._unbind(c)
        finally:
            rooms.holding = None

    def _groups(
        self, c: Connection, space: Space, join: list[str], leave: list[str]
    ) -> list[HubEffect]:
        before = tuple(c.presence.joined)
        fx = super()._groups(c, space, join, leave)
        if c.id not in self._remote and tuple(c.presence.joined) != before:
            fx.append(self._bound(c, registered=False))
        return fx
