"""The link between one relay node and the others: the cluster hub's effects over Redis.

Theory of operation
-------------------
A :class:`ClusterLink` joins a :class:`~rtcstate_asyncio.relay.Relay` whose hub is a
:class:`~rtcstate.hub.ClusterHub` to the cluster (docs/cluster.md), with ``redis.asyncio``:

* **Out.** The relay hands it every ``Forward`` and ``Directory`` effect, in the hub's order;
  they wait in one queue, and one writer task sends what is queued as one pipeline (node
  frames as ``PUBLISH rtc:to:<node>``, those for one node between two directory changes in
  one message, directory changes as the :data:`~rtcstate_cluster.
  scripts.BIND` / :data:`~rtcstate_cluster.scripts.FREE` scripts, which publish the change)
  on one connection: Redis runs one connection's commands in order, so what one node says
  (a registration, then the messages of that user) reaches every other node in that order.
* **In.** One pub/sub connection subscribes to the directory channel and to the node's own
  channel; one reader task hands each event or frame to the hub (``remote_bind``,
  ``remote_unbind``, ``node_lost``, ``remote_receive``, ``remote_deliver``, ``remote_close``)
  and the relay carries out the effects. Both channels share that connection, so a user's
  registration is known before its first message.
* **Start.** Reap what a previous process with this node id left, subscribe, load the
  directory (the events published meanwhile are applied after it: binding twice changes
  nothing), heartbeat once.
* **Heartbeat** every ``heartbeat`` seconds (:data:`~rtcstate_cluster.scripts.HEARTBEAT`):
  refresh ``rtc:alive:<node>`` (expiry ``ttl``), reap the nodes whose key expired (their
  entries leave the directory and their users' presence is corrected everywhere, once), and
  learn the room authority (held by lease; the hub routes conversation requests to it). A node
  told it had been reaped (it stalled for longer than ``ttl``) publishes its addresses again.
* **Rooms.** A node that takes the lease (a new fencing number) reads every room record
  (``HGETALL rtc:rooms``) and only then answers conversation requests
  (:meth:`~rtcstate.hub.ClusterHub.take_rooms`; until then a request routed to it is dropped
  and the client repeats it). While it holds the lease, each ``RoomsChanged`` effect is written
  in the writer's pipeline at its place (before the notices that follow it), each room once per
  pipeline, as of the write, by :data:`~rtcstate_cluster.scripts.SAVE_ROOMS` with the fencing
  number: a write refused (this node was deposed while it stalled) is counted
  (:attr:`ClusterLink.fenced`) and the rooms are given up at the next heartbeat, unless this
  node took the lease again with the very next fencing number (nobody held it in between):
  then its rooms are the latest, and every one of them is written again.

* **Drain** (``SIGTERM``): the hub is told its clients move (``ClusterHub.moving``): an address
  freed then stays in the directory until its client registers on another node (which takes
  it over) or this node leaves, and its places in rooms are kept for the room grace.
* **Leave** (:meth:`ClusterLink.close`, after the relay drained and closed): what is queued
  is sent, then :data:`~rtcstate_cluster.scripts.LEAVE` removes the node's key and what is
  left of its entries at once (the others hear ``U`` and ``L`` without waiting for ``ttl``).

Every pipeline and script call is one Redis round trip, counted in :attr:`ClusterLink.
round_trips` and in the relay's ``/metrics`` (``rtcstate_redis_round_trips_total``).

Nothing from Redis raises into the relay: a frame that does not parse is logged and dropped;
a lost Redis connection stops the link's tasks with an error in the log (``failed``), and the
node goes on serving its own users alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from rtcstate_asyncio.relay import Relay

from rtcstate.hub import ClusterHub, Directory, Forward, ForwardKind, HubEffect, RoomsChanged
from rtcstate_cluster import frames, scripts

__all__ = ["ClusterLink"]

log = logging.getLogger(__name__)


class ClusterLink:
    """One node's link to the others (see the module docstring)."""

    def __init__(
        self,
        relay: Relay,
        url: str,
        *,
        heartbeat: float = 1.0,
        ttl: float = 3.0,
        batch: int = 512,
    ) -> None:
        hub = relay.hub
        if not isinstance(hub, ClusterHub):
            raise TypeError("the relay's hub must be a ClusterHub (its node id)")
        if not 0 < heartbeat < ttl:
            raise ValueError("heartbeat must be > 0 and shorter than ttl")
        self.relay = relay
        self.hub: ClusterHub = hub
        self.node = hub.node
        self.url = url
        self.heartbeat = heartbeat
        self.ttl = ttl
        self.batch = batch
        self._out: deque[Forward | Directory | RoomsChanged] = deque()
        self._wake = asyncio.Event()
        self._flushing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._redis: Any = None
        self._pubsub: Any = None
        self._bind = ""
        self._free = ""
        self._beat: Any = None
        self._save = ""
        #: the fencing number this node took the room lease with (None: it does not hold it)
        self.fence: int | None = None
        #: rooms whose last write was refused (the lease had lapsed), to write again
        self._unsaved: set[tuple[str, str]] = set()
        #: counters (for tests, metrics and the bench)
        self.published = 0
        self.received = 0
        self.round_trips = 0
        self.malformed = 0
        self.fenced = 0
        self.rooms_saved = 0
        self.reaped: list[str] = []
        self.failed: BaseException | None = None

    # --- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the cluster (module docstring, *Start*); the relay may already be serving."""
        self._redis = aioredis.from_url(self.url)
        r = self._redis
        # the directory's scripts run in the writer's pipelines: loaded once, called by sha
        self._bind = await r.script_load(scripts.BIND)
        self._free = await r.script_load(scripts.FREE)
        self._save = await r.script_load(scripts.SAVE_ROOMS)
        self._beat = r.register_script(scripts.HEARTBEAT)
        fresh = r.register_script(scripts.FRESH)
        stale = await fresh(args=[self.node])
        if stale:
            log.info("node %s: %s stale directory entries of a previous run removed", self.node,
                     stale)  # fmt: skip
        self._pubsub = r.pubsub()
        await self._pubsub.subscribe(scripts.DIR_CHANNEL, scripts.node_channel(self.node))
        await self._load()
        await self._heartbeat_once(first=True)
        self.relay.cluster = self._carry
        self._follow_drain()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._guard(self._read())),
            loop.create_task(self._guard(self._write())),
            loop.create_task(self._guard(self._heartbeats())),
        ]
        log.info("node %s joined the cluster at %s", self.node, self.url)

    def _follow_drain(self) -> None:
        """When the relay drains, the hub knows its clients move (their places kept)."""
        relay, hub = self.relay, self.hub
        drain = relay.drain

        async def draining(timeout: float = 30.0) -> bool:
            hub.moving = True
            return await drain(timeout)

        relay.drain = draining  # type: ignore[method-assign]

    async def close(self) -> None:
        """Leave: send what is queued, stop the tasks, remove this node from the cluster
        (:data:`~rtcstate_cluster.scripts.LEAVE`: its key and its remaining entries) and close
        the connections. A link that failed does not leave: the others reap it after ``ttl``."""
        # what is queued still leaves (the writer sends it, in order), within a bound
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                while (self._out or self._flushing) and self._tasks and not self.failed:
                    await asyncio.sleep(0.01)
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        if self.relay.cluster == self._carry:
            self.relay.cluster = None
        if self._beat is not None and self.failed is None:
            await self._leave()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()

    async def _leave(self) -> None:
        try:
            async with asyncio.timeout(2.0):
                freed = await self._redis.eval(scripts.LEAVE, 0, self.node)
            self._trip()
        except (TimeoutError, OSError, RedisError) as exc:
            log.warning("node %s: could not leave the cluster (%r): reaped after %g s",
                        self.node, exc, self.ttl)  # fmt: skip
            return
        log.info("node %s left the cluster (%s directory entries left behind freed)",
                 self.node, freed)  # fmt: skip

    def _trip(self) -> None:
        """One more round trip to Redis (a pipeline or a script call)."""
        self.round_trips += 1
        self.relay.metrics.redis_round_trip()

    async def _guard(self, work: Any) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a lost Redis: logged, the node serves its own users
            self.failed = exc
            log.error("node %s: cluster link failed: %r", self.node, exc)

    # --- out ------------------------------------------------------------------------------------

    def _carry(self, effect: Forward | Directory | RoomsChanged) -> None:
        self._out.append(effect)
        self._wake.set()

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._flushing = True
            try:
                while self._out:
                    await self._flush()
            finally:
                self._flushing = False

    async def _flush(self) -> None:
        """Send up to ``batch`` queued effects as one pipeline, in order: the frames for one
        node between two directory changes go as one message on its channel."""
        out = self._out
        pipe = self._redis.pipeline(transaction=False)
        node = self.node
        pending: dict[str, list[bytes]] = {}

        def publish() -> None:
            for target, parts in pending.items():
                pipe.publish(scripts.node_channel(target), frames.encode_batch(parts))
            pending.clear()

        saved: set[tuple[str, str]] = set()
        saves: list[tuple[int, tuple[tuple[str, str], ...]]] = []  # (pipeline index, rooms)
        n = 0
        while out and n < self.batch:
            e = out.popleft()
            n += 1
            if type(e) is Forward:
                parts = pending.get(e.node)
                if parts is None:
                    parts = pending[e.node] = []
                parts.append(frames.encode_frame(node, e))
                continue
            if type(e) is RoomsChanged:
                fresh = tuple(k for k in e.keys if k not in saved)
                if fresh and self.fence is not None:
                    publish()  # (what was decided before these changes leaves before them)
                    saved.update(fresh)
                    saves.append((len(pipe), fresh))
                    pipe.evalsha(self._save, 0, node, str(self.fence), *self._records(fresh))
                continue
            assert isinstance(e, Directory)
            publish()  # what was said before the change is read before it
            member = f"{e.tenant}\n{e.address}"
            keys = [scripts.dir_key(e.tenant), scripts.addrs_key(node)]
            if e.bound:
                value = frames.directory_value(node, e)
                event = frames.bound_event(node, e)
                pipe.evalsha(self._bind, 3, *keys, scripts.TENANTS, e.address, value, member,
                             e.tenant, event)  # fmt: skip
            else:
                event = frames.freed_event(node, e)
                pipe.evalsha(self._free, 2, *keys, e.address, f"{node}\n", member, event)
        publish()
        results = await pipe.execute()
        self.published += n
        self._trip()
        refused = 0
        for i, rooms in saves:
            if not results[i]:
                refused += 1
                self._unsaved.update(rooms)
        self.rooms_saved += len(saves) - refused
        if refused:
            self.fenced += refused
            log.warning("node %s: %s room writes refused: the room lease is another's",
                        self.node, refused)  # fmt: skip

    def _records(self, keys: tuple[tuple[str, str], ...]) -> list[str]:
        """``field, record`` for each room of ``keys`` as of now (an empty record: deleted)."""
        now = asyncio.get_running_loop().time()
        out: list[str] = []
        for key, record in self.hub.room_records(keys, now, time.time()):
            out.append(json.dumps(key, ensure_ascii=False))
            out.append("" if record is None else json.dumps(record, ensure_ascii=False))
        return out

    # --- in -------------------------------------------------------------------------------------

    async def _load(self) -> None:
        """The directory as it is now, bound in the hub."""
        r = self._redis
        loop = asyncio.get_running_loop()
        for raw_tenant in await r.smembers(scripts.TENANTS):
            tenant = raw_tenant.decode()
            entries = await r.hgetall(scripts.dir_key(tenant))
            for raw_address, raw_value in entries.items():
                try:
                    b = frames.parse_value(tenant, raw_address.decode(), raw_value.decode())
                except (frames.Malformed, UnicodeDecodeError) as exc:
                    self.malformed += 1
                    log.warning("node %s: %s", self.node, exc)
                    continue
                if b.node != self.node:
                    self.relay.apply(self.hub.remote_bind(
                        b.node, b.tenant, b.address, b.groups, b.verified, loop.time()
                    ))  # fmt: skip

    async def _read(self) -> None:
        pubsub = self._pubsub
        mine = scripts.node_channel(self.node).encode()
        loop = asyncio.get_running_loop()
        hub, apply = self.hub, self.relay.apply
        max_size = hub.max_message_size
        async for msg in pubsub.listen():
            if msg.get("type") != "message":
                continue
            self.received += 1
            data: bytes = msg["data"]
            now = loop.time()
            try:
                if msg["channel"] == mine:
                    for part in frames.decode_batch(data):
                        origin, f = frames.decode_frame(part, max_size)
                        apply(self._forwarded(origin, f, now))
                else:
                    apply(self._event(frames.decode_event(data.decode()), now))
            except (frames.Malformed, UnicodeDecodeError) as exc:
                self.malformed += 1
                log.warning("node %s: dropped: %s", self.node, exc)

    def _forwarded(self, origin: str, f: Forward, now: float) -> list[HubEffect]:
        hub = self.hub
        if f.kind is ForwardKind.ROUTE:
            assert f.envelope is not None
            return hub.remote_receive(origin, f.tenant, f.address, f.envelope, now)
        if f.kind is ForwardKind.DELIVER:
            assert f.envelope is not None
            return hub.remote_deliver(f.tenant, f.address, f.envelope)
        return hub.remote_close(f.tenant, f.address, f.reason, f.code)

    def _event(self, e: frames.Bound | frames.Freed | frames.Lost, now: float) -> list[HubEffect]:
        hub = self.hub
        if isinstance(e, frames.Bound):
            return hub.remote_bind(e.node, e.tenant, e.address, e.groups, e.verified, now,
                                   e.registered)  # fmt: skip
        if isinstance(e, frames.Freed):
            return hub.remote_unbind(e.node, e.tenant, e.address, now)
        if e.node != self.node:
            return hub.node_lost(e.node, now)
        return []

    # --- heartbeats -----------------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            await self._heartbeat_once()

    async def _heartbeat_once(self, first: bool = False) -> None:
        ttl_ms = max(1, int(self.ttl * 1000))
        out = await self._beat(args=[self.node, ttl_ms, ttl_ms])
        self._trip()
        was_reaped, authority, fence, *reaped = (
            x.decode() if isinstance(x, bytes) else x for x in out
        )
        for node in reaped:
            self.reaped.append(str(node))
            log.info("node %s: node %s is dead (no heartbeat for %g s): reaped", self.node,
                     node, self.ttl)  # fmt: skip
        await self._room_lease(str(authority) or None, int(fence))
        if int(was_reaped) and not first:
            log.warning("node %s was taken for dead: its addresses are published again",
                        self.node)  # fmt: skip
            for d in self.hub.local_bindings():
                self._carry(d)

    # --- the room lease ---------------------------------------------------------------------------

    async def _room_lease(self, authority: str | None, fence: int) -> None:
        """Follow the room lease: take the rooms when this node took it (a new fencing
        number), give them up when another holds it."""
        hub = self.hub
        loop = asyncio.get_running_loop()
        if authority != self.node:
            if self.fence is not None:
                self.fence = None
                self._unsaved.clear()
                hub.give_up_rooms(authority, loop.time(), time.time())
                log.warning("node %s: the room lease is %s's now: rooms given up", self.node,
                            authority)  # fmt: skip
            else:
                hub.room_authority = authority
            return
        if self.fence == fence:
            return
        if self.fence is not None and fence == self.fence + 1:
            # the lease lapsed (a late heartbeat) and this node took it again with nobody in
            # between (each taking adds one): its rooms are the latest; what was refused
            # meanwhile is written again
            self.fence = fence
            keys = tuple(dict.fromkeys([*sorted(self._unsaved), *hub.rooms.rooms()]))
            self._unsaved.clear()
            if keys:
                self._carry(RoomsChanged(keys))
            log.warning("node %s took the room lease again (fence %s): %s rooms written again",
                        self.node, fence, len(keys))  # fmt: skip
            return
        self._unsaved.clear()
        raw = await self._redis.hgetall(scripts.ROOMS)
        self._trip()
        records: list[dict[str, Any]] = []
        for value in raw.values():
            try:
                record = json.loads(value)
            except (ValueError, UnicodeDecodeError) as exc:
                self.malformed += 1
                log.warning("node %s: room record dropped: %r", self.node, exc)
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                self.malformed += 1
        self.fence = fence
        fx, skipped = hub.take_rooms(records, loop.time(), time.time())
        for why in skipped:
            self.malformed += 1
            log.warning("node %s: %s", self.node, why)
        self.relay.apply(fx)
        log.info("node %s holds the rooms (fence %s): %s loaded", self.node, fence, len(records))
