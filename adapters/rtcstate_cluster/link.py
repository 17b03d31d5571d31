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

* **Shared limits** (:mod:`rtcstate.hub.shared`): an ``Admit`` of the hub runs
  :data:`~rtcstate_cluster.scripts.ADMIT` in the writer's pipeline (after what this node said
  before it) and its answer goes back to the hub (``admitted``); a ``SourceCount`` sets this
  node's count in ``rtc:conns:<node>``. Every ``rate_tick`` seconds the hub's message counts
  per identity go to :data:`~rtcstate_cluster.scripts.RATES` and the tokens left come back
  (``shared_rates``).

Every pipeline and script call is one Redis round trip, counted in :attr:`ClusterLink.
round_trips` and in the relay's ``/metrics`` (``rtcstate_redis_round_trips_total``).

Nothing from Redis raises into the relay: a frame that does not parse is logged and dropped.
**A lost Redis connection** (any task failing, or a heartbeat slower than ``ttl``) is logged
(``failed``); the hub decides its limits alone meanwhile (the registrations waiting for Redis
are decided here), what was queued for the other nodes is dropped (``lost``), and the link
connects again with a bounded exponential backoff (``reconnect``, :class:`~rtcstate.retry.
ExponentialBackoff` without a limit in time: a node never gives the cluster up). Connected
again (``reconnects``, ``rtcstate_redis_reconnects_total``), it subscribes, publishes its
addresses and its connections per source again, loads the directory and heartbeats (which
follows the room lease again: still holding it, the node writes every room again, the writes
queued when Redis was lost having gone with it; deposed meanwhile, it gives them up); one
``ttl`` later (when every live node has had a heartbeat to publish its own again, Redis may
have restarted empty) it compares the directory with what its hub holds of the others and
frees what is no longer there, so no presence stays wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import deque
from typing import Any

import attrs
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from rtcstate_asyncio.relay import Relay

from rtcstate.hub import ClusterHub, Directory, Forward, ForwardKind, HubEffect, RoomsChanged
from rtcstate.hub.effects import Admit, SourceCount
from rtcstate.hub.shared import Admission
from rtcstate.retry import ExponentialBackoff
from rtcstate_cluster import frames, scripts

__all__ = ["ClusterLink"]

log = logging.getLogger(__name__)


class _ShareRates:
    """The writer's cue: the hub's message counts go to the shared buckets now."""


_RATES = _ShareRates()
#: what the link carries for its hub (and the writer's cue)
Carried = Forward | Directory | Admit | SourceCount | RoomsChanged | _ShareRates
#: reconnection to Redis: 0.1 s, doubling, at most 2 s between attempts, never giving up
RECONNECT = ExponentialBackoff(initial=0.1, factor=2.0, maximum=2.0, jitter=0.5, max_elapsed=None)


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
        rate_tick: float = 0.1,
        reconnect: ExponentialBackoff = RECONNECT,
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
        self.rate_tick = rate_tick
        self.reconnect = reconnect
        self._out: deque[Carried] = deque()
        self._connected = False
        self._rates_queued = False
        self._runner: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._flushing = False
        self._redis: Any = None
        self._pubsub: Any = None
        self._bind = ""
        self._free = ""
        self._admit = ""
        self._rates = ""
        self._beat: Any = None
        self._save = ""
        #: the fencing number this node took the room lease with (None: it does not hold it)
        self.fence: int | None = None
        #: rooms whose last write was refused (the lease had lapsed), to write again
        self._unsaved: set[tuple[str, str]] = set()
        #: the room writes queued when Redis was lost went with it: every room is written again
        #: if this node still holds the lease when it is connected again
        self._resave = False
        #: counters (for tests, metrics and the bench); ``published``: frames and directory changes
        self.published = 0
        self.received = 0
        self.round_trips = 0
        self.malformed = 0
        self.fenced = 0
        self.rooms_saved = 0
        self.reaped: list[str] = []
        self.failed: BaseException | None = None
        self.reconnects = 0
        #: frames for other nodes dropped while Redis was unreachable
        self.lost = 0

    # --- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the cluster (module docstring, *Start*); the relay may already be serving.
        Redis unreachable here raises (a node does not start without its cluster)."""
        await self._connect(first=True)
        self.relay.cluster = self._carry
        self._follow_drain()
        self._runner = asyncio.get_running_loop().create_task(self._run())
        log.info("node %s joined the cluster at %s", self.node, self.url)

    async def _connect(self, first: bool) -> None:
        """Connect to Redis, subscribe, publish this node again (``first``: reap what a
        previous process left instead), load the directory and heartbeat."""
        r: Any = aioredis.from_url(self.url, retry=None, retry_on_error=[])
        pubsub = None
        try:
            async with asyncio.timeout(max(self.ttl, 2.0)):
                # the scripts that run in the writer's pipelines: loaded, called by sha
                self._bind = await r.script_load(scripts.BIND)
                self._free = await r.script_load(scripts.FREE)
                self._admit = await r.script_load(scripts.ADMIT)
                self._beat = r.register_script(scripts.HEARTBEAT)
                self._rates = await r.script_load(scripts.RATES)
                self._save = await r.script_load(scripts.SAVE_ROOMS)
                self._redis = r
                if first:
                    stale = await r.register_script(scripts.FRESH)(args=[self.node])
                    if stale:
                        log.info("node %s: %s stale directory entries of a previous run "
                                 "removed", self.node, stale)  # fmt: skip
                pubsub = r.pubsub()
                await pubsub.subscribe(scripts.DIR_CHANNEL, scripts.node_channel(self.node))
                self._pubsub = pubsub
                if not first:  # this node's state, again, before anything newer
                    bound = self.hub.local_bindings()
                    held = [f"{d.tenant}\n{d.address}" for d in bound]
                    await r.register_script(scripts.PRUNE)(args=[self.node, *held])
                    again: list[Carried] = list(self.hub.source_counts())
                    again.extend(attrs.evolve(d, registered=False) for d in bound)
                    self._out.extendleft(reversed(again))
                await self._load()
                await self._heartbeat_once(first=True)
        except BaseException:
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            with contextlib.suppress(Exception):
                await r.aclose()
            raise
        self._connected = True
        self.hub.shared_limits = True
        self._wake.set()

    async def _run(self) -> None:
        """The link's tasks; when one fails (Redis lost), connect again (module docstring)."""
        loop = asyncio.get_running_loop()
        reconcile: asyncio.Task[None] | None = None
        while True:
            tasks = [
                loop.create_task(self._read()),
                loop.create_task(self._write()),
                loop.create_task(self._heartbeats()),
                loop.create_task(self._share_rates()),
            ]
            if self.reconnects:
                reconcile = loop.create_task(self._reconcile_later())
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in tasks:
                    t.cancel()
                if reconcile is not None:
                    reconcile.cancel()
                    tasks.append(reconcile)
                await _stop(tasks)
            exc = next((t.exception() for t in done if not t.cancelled() and t.exception()),
                       None)  # fmt: skip
            self._lost(exc or ConnectionError("the link's task ended"))
            await self._close_connections()
            await self._connect_again()

    def _lost(self, exc: BaseException) -> None:
        """Redis is unreachable: the hub decides alone, what was queued is dropped."""
        self.failed = exc
        self._connected = False
        log.error("node %s: lost Redis (%r): serving its own users alone, reconnecting",
                  self.node, exc)  # fmt: skip
        self.lost += sum(1 for e in self._out if type(e) is Forward)
        self._out.clear()
        self._resave = self.fence is not None
        self._rates_queued = False
        self._flushing = False
        loop = asyncio.get_running_loop()
        self.relay.apply(self.hub.decide_alone(loop.time()))

    async def _connect_again(self) -> None:
        loop = asyncio.get_running_loop()
        since = loop.time()
        attempt = 0
        while True:
            attempt += 1
            delay = self.reconnect.next_delay(attempt, loop.time() - since, random.random())
            await asyncio.sleep(self.reconnect.maximum if delay is None else delay)
            try:
                await self._connect(first=False)
            except Exception as exc:  # (whatever it is, the node tries again)
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # (closed meanwhile)
                    raise asyncio.CancelledError from exc
                log.debug("node %s: Redis still unreachable (%r)", self.node, exc)
                continue
            self.reconnects += 1
            self.relay.metrics.redis_reconnect()
            self.failed = None
            log.info("node %s: connected to Redis again (attempt %s)", self.node, attempt)
            return

    async def _close_connections(self) -> None:
        pubsub, r = self._pubsub, self._redis
        self._pubsub = None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        if r is not None:
            with contextlib.suppress(Exception):
                await r.aclose()

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
        the connections. A link that failed does not leave: the others reap it after ``ttl``.

        A close cancelled midway still stops the tasks and closes the connections (the
        ``finally`` below; :func:`_stop` cancels again a task that swallowed a cancellation),
        so none outlives its node."""
        loop = asyncio.get_running_loop()
        try:
            # what is queued still leaves (the writer sends it, in order), within a bound: a
            # deadline, not ``asyncio.timeout``, whose expiry in a task already cancelled (a
            # cleanup after a test's bound) raises CancelledError on Python 3.11
            deadline = loop.time() + 2.0
            while (self._out or self._flushing) and self._connected:
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(0.01)
        finally:
            runner, self._runner = self._runner, None
            if self.relay.cluster == self._carry:
                self.relay.cluster = None
            try:
                if runner is not None:  # cancelled once: its own clean-up stops its tasks
                    await _stop_runner(runner)
                if self._connected:
                    await self._leave()
            finally:
                self._connected = False
                await self._close_connections()

    def abandon(self) -> None:
        """Stop at once without leaving: no heartbeat, no reconnection (what a killed process
        does; the others reap this node after ``ttl``)."""
        if self._runner is not None:
            self._runner.cancel()  # (its tasks end as it does: awaited by close)
        self._connected = False
        if self.relay.cluster == self._carry:
            self.relay.cluster = None

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

    # --- out ------------------------------------------------------------------------------------

    def _carry(self, effect: Carried) -> None:
        if not self._connected:  # told again when connected (bindings, counts, rooms) or lost
            if type(effect) is Forward:
                self.lost += 1
            elif type(effect) is RoomsChanged:
                self._resave = self.fence is not None
            return
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

        admits: list[tuple[int, Admit]] = []
        rates: list[tuple[int, list[tuple[str, str]]]] = []
        saved: set[tuple[str, str]] = set()
        saves: list[tuple[int, tuple[tuple[str, str], ...]]] = []  # (pipeline index, rooms)
        commands = 0
        n = 0
        told = 0
        while out and n < self.batch:
            e = out.popleft()
            n += 1
            if type(e) is Forward:
                parts = pending.get(e.node)
                if parts is None:
                    parts = pending[e.node] = []
                parts.append(frames.encode_frame(node, e))
                told += 1
                continue
            if type(e) is RoomsChanged:
                fresh = tuple(k for k in e.keys if k not in saved)
                if fresh and self.fence is not None:
                    commands += len(pending)
                    publish()  # (what was decided before these changes leaves before them)
                    saved.update(fresh)
                    saves.append((commands, fresh))
                    pipe.evalsha(self._save, 0, node, str(self.fence), *self._records(fresh))
                    commands += 1
                continue
            commands += len(pending)
            publish()  # what was said before the change is read before it
            if type(e) is SourceCount:
                if e.count > 0:
                    pipe.hset(scripts.conns_key(node), e.source, e.count)
                else:
                    pipe.hdel(scripts.conns_key(node), e.source)
            elif type(e) is Admit:
                admits.append((commands, e))
                pipe.evalsha(self._admit, 0, *_admit_args(node, e))
            elif type(e) is _ShareRates:
                self._rates_queued = False
                hub = self.hub
                usage = hub.take_usage()
                for first, rate, burst in (
                    (True, hub.identity_rate_limit, hub.identity_rate_burst),
                    (False, hub.source_rate_limit, hub.source_rate_burst),
                ):
                    counted = [k for k in usage if bool(k[0]) is first]
                    if not counted or rate is None:
                        continue
                    args: list[Any] = [rate, burst]
                    for k in counted:
                        args += [f"{k[0]}\n{k[1]}", usage[k]]
                    rates.append((commands, counted))
                    pipe.evalsha(self._rates, 0, *args)
                    commands += 1
                continue
            else:
                assert isinstance(e, Directory)
                told += 1
                member = f"{e.tenant}\n{e.address}"
                keys = [scripts.dir_key(e.tenant), scripts.addrs_key(node)]
                if e.bound:
                    value = frames.directory_value(node, e)
                    event = frames.bound_event(node, e)
                    pipe.evalsha(self._bind, 3, *keys, scripts.TENANTS, e.address, value,
                                 member, e.tenant, event, node)  # fmt: skip
                else:
                    event = frames.freed_event(node, e)
                    pipe.evalsha(self._free, 2, *keys, e.address, f"{node}\n", member, event,
                                 e.tenant, node)  # fmt: skip
            commands += 1
        publish()
        results = await pipe.execute()  # (failing, the admits are the hub's alone: decide_alone)
        self.published += told
        self._trip()
        for i, counted in rates:
            left = results[i]
            self.hub.shared_rates({k: float(t) for k, t in zip(counted, left, strict=True)})
        if admits:
            now = asyncio.get_running_loop().time()
            for i, a in admits:
                refused, count = results[i]
                verdict = Admission(refused.decode() if isinstance(refused, bytes) else refused,
                                    int(count))  # fmt: skip
                self.relay.apply(self.hub.admitted(a.conn, verdict, now))
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

    async def _reconcile_later(self) -> None:
        """After a reconnection, once every live node has had ``ttl`` to publish its own
        addresses again: free what the hub holds of the others that the directory lacks."""
        await asyncio.sleep(self.ttl + self.heartbeat)
        r = self._redis
        before = set(self.hub.remote_entries())
        held: set[tuple[str, str, str]] = set()
        for raw_tenant in await r.smembers(scripts.TENANTS):
            tenant = raw_tenant.decode()
            for raw_address, raw_value in (await r.hgetall(scripts.dir_key(tenant))).items():
                address = raw_address.decode()
                held.add((raw_value.decode().partition("\n")[0], tenant, address))
        self._trip()
        now = asyncio.get_running_loop().time()
        gone = [e for e in self.hub.remote_entries() if e in before and e not in held]
        for node, tenant, address in gone:
            self.relay.apply(self.hub.remote_unbind(node, tenant, address, now))
        if gone:
            log.info("node %s: %s addresses no longer in the directory freed", self.node,
                     len(gone))  # fmt: skip

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
            async with asyncio.timeout(self.ttl):  # slower: Redis is taken for lost
                await self._heartbeat_once()

    async def _share_rates(self) -> None:
        """Every ``rate_tick``: the writer is asked to add this node's message counts per
        identity to the shared buckets (in its next pipeline; the tokens left go back to the
        hub as its allowances)."""
        while True:
            await asyncio.sleep(self.rate_tick)
            hub = self.hub
            limited = hub.identity_rate_limit is not None or hub.source_rate_limit is not None
            if not self._rates_queued and limited:
                self._rates_queued = True
                self._out.append(_RATES)
                self._wake.set()

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
        resave, self._resave = self._resave, False
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
        if self.fence == fence and not resave:
            return
        held = self.fence
        if held is not None and (fence == held + 1 or (resave and fence <= held)):
            # the lease lapsed (a late heartbeat) and this node took it again with nobody in
            # between (each taking adds one), or it still holds it after a reconnection (the
            # writes queued then were lost; a lower number: Redis restarted empty): its rooms
            # are the latest; what was refused or lost meanwhile is written again
            self.fence = fence
            keys = tuple(dict.fromkeys([*sorted(self._unsaved), *hub.rooms.rooms()]))
            self._unsaved.clear()
            if keys:  # (queued even while connecting again: the writer sends it once connected)
                self._out.append(RoomsChanged(keys))
                self._wake.set()
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


def _admit_args(node: str, a: Admit) -> list[Any]:
    return [node, a.tenant, a.user, a.device, a.max_devices,
            "" if a.register_rate is None else a.register_rate, a.register_burst,
            a.source or "", "" if a.max_connections is None else a.max_connections,
            f"{a.tenant}\n{a.user}/{a.device}"]  # fmt: skip


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` (leaves: nothing below them to clean up) until every one has ended,
    within a bound: a cancellation that lands as an ``asyncio.timeout`` around a Redis call
    expires may be taken for the timeout's own (CPython 3.11), and the task would go on;
    cancelled again, it ends."""
    for _ in range(50):
        pending = [t for t in tasks if not t.done()]
        if not pending:
            break
        for t in pending:
            t.cancel()
        await asyncio.wait(pending, timeout=0.1)
    for t in tasks:
        if t.done() and not t.cancelled():
            t.exception()  # retrieved: logged by the caller when it matters


async def _stop_runner(runner: asyncio.Task[None]) -> None:
    """Cancel the link's runner and wait for it to end: given 2 s for its own clean-up (which
    stops its tasks) before a cancellation is repeated, every 0.5 s up to 10 s (a library may
    swallow one: see :func:`_stop`)."""
    runner.cancel()
    await asyncio.wait([runner], timeout=2.0)
    for _ in range(16):
        if runner.done():
            break
        runner.cancel()
        await asyncio.wait([runner], timeout=0.5)
    if runner.done() and not runner.cancelled():
        runner.exception()  # retrieved: the runner logs what matters
    elif not runner.done():
        log.error("cluster link runner still running after 10 s: %s", runner)
