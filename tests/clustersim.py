"""A cluster of :class:`~rtcstate.hub.ClusterHub` nodes over an in-memory directory and bus.

What Redis does for the real nodes (docs/cluster.md), done here in memory and in one order:
``Directory`` effects update the directory (a node removes only an entry it holds) and are told
to every other node; ``Forward`` effects are carried to their node; both through one FIFO,
drained by :meth:`SimCluster.run`, so the order of one node's effects is kept as Redis keeps
the order of one connection's commands. ``CloseConnection`` is followed by ``disconnect``, as
the relay's websocket close would be. ``RoomsChanged`` effects write the rooms' records to
:attr:`SimCluster.rooms` (Redis' ``rtc:rooms``) at once, before anything else that node said
next is carried; :meth:`SimCluster.take_rooms` makes a node the room authority from them.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from rtcstate import wire
from rtcstate.hub import (
    CloseConnection,
    ClusterHub,
    Deliver,
    Directory,
    Forward,
    ForwardKind,
    HubEffect,
    RoomsChanged,
    delivers,
)

Item = tuple[str, str, Forward | Directory]


class SimCluster:
    """Nodes by name; connections by a global name (``conn``), each on one node."""

    def __init__(self, nodes: list[str], **hub: Any) -> None:
        self.hubs = {n: ClusterHub(node=n, **hub) for n in nodes}
        #: (tenant, address) -> (node, groups, verified)
        self.directory: dict[tuple[str, str], tuple[str, tuple[str, ...], bool]] = {}
        self.bus: deque[Item] = deque()
        self.where: dict[str, str] = {}  # conn -> node
        self.inbox: dict[str, list[wire.Envelope]] = {}
        self.closed: dict[str, int] = {}
        self.now = 0.0
        self.carried = 0
        #: json [tenant, name] -> record: the persisted rooms
        self.rooms: dict[str, dict[str, Any]] = {}
        self.authority: str | None = None

    def take_rooms(self, node: str) -> list[str]:
        """``node`` takes the room lease: loads the persisted rooms; every node learns it."""
        fx, skipped = self.hubs[node].take_rooms(list(self.rooms.values()), self.now, self.now)
        for name, hub in self.hubs.items():
            if name != node:
                hub.room_authority = node
        self.authority = node
        self.apply(node, fx)
        self.run()
        return skipped

    def tick(self, seconds: float) -> None:
        self.now += seconds
        for name, hub in list(self.hubs.items()):
            self.apply(name, hub.tick(self.now))
        self.run()

    def connect(self, node: str, conn: str) -> None:
        self.where[conn] = node
        self.inbox.setdefault(conn, [])
        self.apply(node, self.hubs[node].connect(conn, self.now))

    def send(self, conn: str, msg: wire.Message, to: str | None = None, **kw: Any) -> None:
        node = self.where[conn]
        self.apply(node, self.hubs[node].receive(conn, wire.encode(msg, to=to, **kw), self.now))
        self.run()

    def register(self, node: str, conn: str, user: str, device: str = "d") -> None:
        self.connect(node, conn)
        self.send(conn, wire.Register(user, device))

    def disconnect(self, conn: str) -> None:
        node = self.where[conn]
        self.apply(node, self.hubs[node].disconnect(conn, self.now))
        self.run()

    def kill(self, node: str) -> None:
        """``node`` dies: its entries leave the directory, the others are told."""
        del self.hubs[node]
        for key, (owner, _, _) in list(self.directory.items()):
            if owner == node:
                del self.directory[key]
        for name, hub in self.hubs.items():
            self.apply(name, hub.node_lost(node, self.now))
        self.run()

    def apply(self, node: str, fx: list[HubEffect]) -> None:
        closing: list[str] = []
        for e in delivers(fx):
            if type(e) is Deliver:
                conn = self._conn(node, e.conn)
                if conn is not None and conn not in self.closed:
                    self.inbox[conn].append(wire.decode(wire.encode_envelope(e.envelope)))
            elif type(e) is CloseConnection:
                conn = self._conn(node, e.conn)
                if conn is not None and conn not in self.closed:
                    self.closed[conn] = e.code
                    closing.append(e.conn)
            elif type(e) is Directory:
                key = (e.tenant, e.address)
                if e.bound:
                    self.directory[key] = (node, e.groups, e.verified)
                elif self.directory.get(key, ("",))[0] == node:
                    del self.directory[key]
                else:
                    continue  # held elsewhere now: nothing is published
                self.bus.append(("dir", node, e))
            elif type(e) is Forward:
                self.bus.append(("fwd", node, e))
            elif type(e) is RoomsChanged and node == self.authority:
                for key, record in self.hubs[node].room_records(e.keys, self.now, self.now):
                    if record is None:
                        self.rooms.pop(json.dumps(key), None)
                    else:
                        self.rooms[json.dumps(key)] = json.loads(json.dumps(record))
        hub = self.hubs.get(node)
        for conn in closing:
            if hub is not None:
                self.apply(node, hub.disconnect(conn, self.now))

    def _conn(self, node: str, conn: str) -> str | None:
        return conn if self.where.get(conn) == node else None

    def run(self, limit: int = 100_000) -> None:
        """Carry everything in flight (bounded)."""
        for _ in range(limit):
            if not self.bus:
                return
            _, origin, e = self.bus.popleft()
            self.carried += 1
            if isinstance(e, Directory):
                for name, hub in list(self.hubs.items()):
                    if name == origin:
                        continue
                    if e.bound:
                        fx = hub.remote_bind(origin, e.tenant, e.address, e.groups, e.verified,
                                             self.now, e.registered)  # fmt: skip
                    else:
                        fx = hub.remote_unbind(origin, e.tenant, e.address, self.now)
                    self.apply(name, fx)
                continue
            hub = self.hubs.get(e.node)
            if hub is None:
                continue  # a dead node: lost, as pub/sub loses it
            if e.kind is ForwardKind.ROUTE:
                assert e.envelope is not None
                fx = hub.remote_receive(origin, e.tenant, e.address, e.envelope, self.now)
            elif e.kind is ForwardKind.DELIVER:
                assert e.envelope is not None
                fx = hub.remote_deliver(e.tenant, e.address, e.envelope)
            else:
                fx = hub.remote_close(e.tenant, e.address, e.reason, e.code)
            self.apply(e.node, fx)
        raise AssertionError("the cluster did not settle")

    def read(self, conn: str) -> list[wire.Message]:
        return [env.message for env in self.inbox[conn]]

    def take(self, conn: str) -> list[wire.Envelope]:
        got, self.inbox[conn] = self.inbox[conn], []
        return got
