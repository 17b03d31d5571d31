"""The relay server: the sans-I/O :class:`rtcstate.hub.Hub` behind a websockets server.

Theory of operation
-------------------
:class:`Relay` listens with ``websockets.asyncio.server`` (loopback by default; TLS when given
an ``ssl`` context) and gives each websocket one hub connection id (``ws1``, ``ws2``...). It
reports ``connect`` when the socket opens (with the peer's IP address, which the hub's
per-source limits count), every frame it reads (``receive``), ``disconnect`` when it closes,
and the passing of time (``tick``, every ``tick_interval`` seconds, or the hub's
``presence_interval`` if shorter: registration and idle timeouts, token expiry, presence flushes),
each with ``loop.time()``. It carries out the hub's answers in order:
:class:`~rtcstate.hub.Deliver` takes the hub's re-stamped frame (a routed message's own text,
:mod:`rtcstate.hub.restamp`) or encodes the envelope; a connection's frames of one turn of the
loop are written together at its end, in one socket write, when the socket takes them at once
(:mod:`rtcstate_asyncio.sockwrite`), else queued on that connection's single writer task, which
waits for the socket (what one connection is sent stays in order; frames waiting behind each
other leave in one socket write, up to 256); it reports the bytes waiting
(``queued``: past the hub's ``max_queue_bytes`` the hub closes a client that does not read,
so the relay never holds more than that for it; and again when the queue drains, so the hub
can feed the initial presence it owes as the client reads; after each step of that feed the
writer yields to the loop, so a newcomer's list of 10,000 names never holds the loop in one
go); :class:`~rtcstate.hub.Fanout` (a presence flush to a group's subscribers) is encoded
once and the same frame queued on each of its connections, as a Deliver each would be (in
order, bytes counted, closing connections skipped); one to more than 1,024 connections, on a
relay holding more than that many websockets, goes out in slices of 1,024, the loop serving
the others in between (a connection sent anything
meanwhile, or closed, gets the fan-out's frame first, so each connection's order is the
effects' order); :class:`~rtcstate.hub.CloseConnection`
queues a close (the hub's code and reason) behind what is already queued; :class:`~rtcstate.
hub.Log` is one structured log line (``INFO``); ``Drop`` is logged at debug level. Every
decision (who may register, presence, routing, forks, every limit) is the hub's; the
websocket's own frame limit is four times the hub's ``max_message_size`` so an oversized frame
reaches the hub, which answers it with ``ServerError(oversize)`` (a frame beyond that is
refused by websockets itself with close code 1009).

Revocation: given a :class:`~rtcstate_asyncio.revocation.RevocationFile` (``rtcstate serve
--revoked-tokens PATH``), the relay re-reads it on each tick when it changed, and on ``SIGHUP``
(:func:`run_relay`), and hands the new revocations to :meth:`Hub.revoke`.

:meth:`Relay.close` is the shutdown: the server stops accepting, every connection is
closed with 1001 (going away), and every handler, writer and the ticker are awaited.
:meth:`Relay.drain` comes first on ``SIGTERM``: the relay stops listening (a new connection is
refused, one being accepted is closed at once), closes every connection with
:attr:`~rtcstate.hub.CloseCode.DRAINING` (1012, behind what is queued for it: clients move to
another relay at once) and waits until they have left or ``drain_timeout`` passed.
:func:`serve` starts a relay and returns it; :func:`run_relay` runs one until cancelled (or
SIGTERM: drain, then close), for the ``rtcstate serve`` command, with its metrics and health
page (:mod:`rtcstate_asyncio.opshttp`) when given a port, and with a :class:`RelayLink` (a
cluster node's link to the others, ``rtcstate serve --redis``) started before the relay listens
and closed after it (the drained clients' addresses freed first).

Metrics: :attr:`Relay.metrics` (:class:`~rtcstate_asyncio.metrics.RelayMetrics`) counts where
the facts are: frames read, envelopes queued (routed ones: from a client; the hub's
``ServerError`` answers: refusals by code), the hub's log lines (registrations, closes by code)
and the relay's own drain closes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import signal
import ssl as ssl_module
from collections.abc import Callable, Sequence
from typing import Protocol

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from rtcstate import wire
from rtcstate.effects import Drop
from rtcstate.hub import (
    Admit,
    CloseCode,
    CloseConnection,
    Deliver,
    Directory,
    Fanout,
    Forward,
    Hub,
    HubEffect,
    Log,
    RoomsChanged,
    SourceCount,
)
from rtcstate_asyncio.metrics import Gauges, RelayMetrics
from rtcstate_asyncio.opshttp import OpsServer
from rtcstate_asyncio.revocation import RevocationFile
from rtcstate_asyncio.sockwrite import write_now

__all__ = ["Relay", "RelayLink", "run_relay", "serve"]

log = logging.getLogger(__name__)

#: ``process_request(connection, request)``: a ``Response`` to answer plain HTTP, ``None`` to
#: go on with the websocket handshake (websockets' hook).
ProcessRequest = Callable[[ServerConnection, Request], Response | None]

GOING_AWAY = int(CloseCode.GOING_AWAY)
DRAINING = int(CloseCode.DRAINING)
DRAIN_REASON = "relay draining: reconnect to another relay"
POLICY_VIOLATION = int(CloseCode.POLICY)
#: the effects a cluster node's link carries (rtcstate_cluster.ClusterLink)
_CLUSTER = frozenset((Forward, Directory, Admit, SourceCount, RoomsChanged))


class _Close:
    """A close queued behind a connection's pending frames."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason.encode()[:123].decode(errors="ignore")  # a close reason's limit


class _Peer:
    def __init__(self, conn: str, ws: ServerConnection) -> None:
        self.conn = conn
        self.ws = ws
        self.queue: asyncio.Queue[bytes | _Close] = asyncio.Queue()
        #: frames written at the end of this turn of the loop (nothing waits in ``queue``)
        self.pending: list[bytes] = []
        self.queued = 0  # bytes waiting in ``pending`` and ``queue``
        self.closing = False
        self.watchdog: asyncio.TimerHandle | None = None


class Relay:
    """A websocket relay around one :class:`~rtcstate.hub.Hub` (see the module docstring)."""

    def __init__(
        self,
        hub: Hub | None = None,
        *,
        close_timeout: float = 2.0,
        process_request: ProcessRequest | None = None,
        ssl: ssl_module.SSLContext | None = None,
        tick_interval: float = 0.5,
        revocations: RevocationFile | None = None,
    ) -> None:
        """``process_request``: answers a plain HTTP request on the relay's port (a ``Response``)
        or lets it through as a websocket (``None``), e.g. ``rtcstate_browser.web.WebApp``;
        ``revocations``: the revoked tokens file, watched while the relay runs."""
        self.hub = hub if hub is not None else Hub()
        self.revocations = revocations
        if revocations is not None:
            self.hub.revocations = revocations.current
        self.process_request = process_request
        self.close_timeout = close_timeout
        self.ssl = ssl
        self.tick_interval = tick_interval
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._peers: dict[str, _Peer] = {}
        self._serial = itertools.count(1)
        #: the most bytes ever queued for one connection (a measure for tests and docs)
        self.peak_queued = 0
        #: websockets accepted since the start
        self.accepted = 0
        #: the counters of ``/metrics``
        self.metrics = RelayMetrics()
        #: stopping: no new connection, every client told to move (:meth:`drain`)
        self.draining = False
        self._started = 0.0
        self._left: asyncio.Event | None = None  # set when the last connection left a drain
        #: fan-outs larger than ``_FANOUT_SLICE`` still going out, oldest first
        self._fans: collections.deque[_Fan] = collections.deque()
        self._fanning: asyncio.Task[None] | None = None
        #: carries a cluster hub's ``Forward``, ``Directory``, ``Admit``, ``SourceCount`` and
        #: ``RoomsChanged`` effects to the other nodes and Redis (set by
        #: ``rtcstate_cluster.ClusterLink``; a hub alone returns none)
        self.cluster: (
            Callable[[Forward | Directory | Admit | SourceCount | RoomsChanged], None] | None
        ) = None
        self._dirty: list[_Peer] = []  # the peers with ``pending`` frames

    @property
    def port(self) -> int:
        """The TCP port the relay listens on (useful after starting on port 0)."""
        assert self._server is not None, "the relay is not started"
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def url(self) -> str:
        assert self._server is not None, "the relay is not started"
        host = next(iter(self._server.sockets)).getsockname()[0]
        if ":" in host:
            host = f"[{host}]"
        return f"{'wss' if self.ssl is not None else 'ws'}://{host}:{self.port}"

    @property
    def connections(self) -> int:
        """How many websockets are open."""
        return len(self._peers)

    async def start(self, host: str | Sequence[str] = "127.0.0.1", port: int = 8765) -> None:
        """Listen on ``host`` (one address or several) : ``port`` (0: a free port)."""
        if self._server is not None:
            raise RuntimeError("the relay is already started")
        self._server = await ws_serve(
            self._handle,
            host,  # type: ignore[arg-type]  # create_server takes a sequence of hosts too
            port,
            max_size=4 * self.hub.max_message_size,
            close_timeout=self.close_timeout,
            compression=None,
            process_request=self.process_request,
            ssl=self.ssl,
        )
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        self._ticker = loop.create_task(self._tick())
        log.info("relay listening on %s", self.url)

    def gauges(self) -> Gauges:
        """What the relay holds now (``/metrics``, ``/healthz``): O(connections)."""
        peers = self._peers
        return Gauges(
            connections=len(peers),
            registered=sum(1 for conn in peers if self.hub.address(conn) is not None),
            queue_bytes=sum(p.queued for p in peers.values()),
            peak_queue_bytes=self.peak_queued,
            draining=self.draining,
            uptime=asyncio.get_running_loop().time() - self._started if self._started else 0.0,
        )

    async def drain(self, timeout: float = 30.0) -> bool:
        """Stop accepting, tell every client to move (close 1012), wait until every connection
        has left or ``timeout`` seconds passed; True when they all left. :meth:`close` after."""
        server = self._server
        if server is None:
            return True
        if not self.draining:
            self.draining = True
            log.info("relay draining: %d connections told to move", len(self._peers))
            server.server.close()  # the listening sockets only: open connections stay
            self._left = asyncio.Event()
            for peer in list(self._peers.values()):
                self._move(peer)
        left = self._left
        assert left is not None
        if self._peers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await left.wait()
        return not self._peers

    def _move(self, peer: _Peer) -> None:
        """Close ``peer`` with 1012 behind what is queued for it (a drain)."""
        if peer.closing:
            return
        peer.closing = True
        _spill(peer)
        peer.queue.put_nowait(_Close(DRAINING, DRAIN_REASON))
        self.metrics.closed_by_relay("draining")
        loop = asyncio.get_running_loop()
        peer.watchdog = loop.call_later(self.close_timeout + 1.0, peer.ws.transport.abort)

    async def close(self) -> None:
        """Graceful shutdown: stop listening, close every connection (1001), await handlers."""
        server, self._server = self._server, None
        if server is None:
            return
        ticker, self._ticker = self._ticker, None
        fanning, self._fanning = self._fanning, None
        self._fans.clear()
        # everything is stopped before the first await: a close cancelled midway leaves
        # neither the ticker, the slicing task nor the listening socket behind
        for task in (ticker, fanning):
            if task is not None:
                task.cancel()
        server.close(close_connections=True, code=GOING_AWAY, reason="relay shutting down")
        try:
            await server.wait_closed()
        finally:
            for task in (ticker, fanning):
                if task is not None:
                    await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> Relay:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- per connection -----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        conn = f"ws{next(self._serial)}"
        self.accepted += 1
        metrics = self.metrics
        metrics.accepted += 1
        peer = _Peer(conn, ws)
        self._peers[conn] = peer
        if self.draining:  # accepted while the drain began: moved at once
            self._move(peer)
        writer = loop.create_task(self._write(conn, peer))
        remote = ws.remote_address
        source = str(remote[0]) if remote else None
        try:
            self._apply(self.hub.connect(conn, loop.time(), source))
            recv, receive, apply = ws.recv, self.hub.receive, self._apply
            while True:
                data = await recv(decode=False)  # a text frame's UTF-8 is the hub's to check
                if peer.closing:
                    continue  # closed by the hub: read on until the close completes
                metrics.received += 1
                apply(receive(conn, data, loop.time()))
        except ConnectionClosed:
            pass
        finally:
            del self._peers[conn]
            if not self._peers and self._left is not None:
                self._left.set()
            if peer.watchdog is not None:
                peer.watchdog.cancel()
            self._apply(self.hub.disconnect(conn, loop.time()))
            if not writer.done():
                writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _apply(self, effects: list[HubEffect]) -> None:
        last: tuple[wire.Envelope | None, bytes] = (None, b"")
        peers = self._peers
        for e in effects:
            if type(e) is Deliver:
                peer = peers.get(e.conn)
                if peer is None or peer.closing:
                    continue
                if last[0] is e.envelope:  # one envelope to several connections
                    data = last[1]
                else:  # a routed frame comes re-stamped by the hub, the rest is encoded here
                    frame = e.frame
                    data = wire.encode_envelope(e.envelope) if frame is None else frame
                    last = (e.envelope, data)
                self._queue(e.conn, peer, data, e.envelope)
            elif type(e) is Fanout:
                if not self._fans and (
                    len(e.conns) <= _FANOUT_SLICE or len(peers) <= _FANOUT_SLICE
                ):  # (the connections it holds are what a fan-out costs the relay)
                    self._fanout(e)
                else:
                    self._slice(e)
            elif type(e) is CloseConnection:
                peer = self._peers.get(e.conn)
                if peer is not None and not peer.closing:
                    if self._fans:
                        self._pull(e.conn, peer)  # what a fan-out owes it goes before the close
                    peer.closing = True
                    if peer.queued > self.hub.max_queue_bytes:  # it does not read: drop it all
                        _discard(peer)
                    _spill(peer)
                    peer.queue.put_nowait(_Close(e.code, e.reason))
                    # a writer stuck on a client that does not read never reaches the close:
                    # the connection is aborted if it is still open a little later
                    loop = asyncio.get_running_loop()
                    peer.watchdog = loop.call_later(
                        self.close_timeout + 1.0, peer.ws.transport.abort
                    )
            elif type(e) is Log:
                self.metrics.log(e)
                log.info("%s", e.line())
            elif type(e) is Drop:
                log.debug("hub dropped: %s %s", e.reason, e.detail)
            elif type(e) in _CLUSTER and self.cluster is not None:
                self.cluster(e)  # type: ignore[arg-type]

    def _flush(self) -> None:
        """End of a turn of the loop: write each peer's pending frames in one socket write, or
        hand them to its writer task when the socket cannot take them now."""
        dirty, self._dirty = self._dirty, []
        now = asyncio.get_running_loop().time()
        for peer in dirty:
            frames = peer.pending
            if not frames:
                continue  # moved to the queue (a close) or discarded since
            peer.pending = []
            if write_now(peer.ws, frames):
                peer.queued -= sum(map(len, frames))
                if not peer.closing and self._peers.get(peer.conn) is peer:
                    self._apply(self.hub.queued(peer.conn, peer.queued, now))
            else:
                for frame in frames:
                    peer.queue.put_nowait(frame)

    def _queue(self, conn: str, peer: _Peer, data: bytes, env: wire.Envelope) -> None:
        """Queue the encoded ``env`` on ``peer``'s writer and report its backlog to the hub
        (after the frames of the fan-outs still going out that it has not been sent yet)."""
        if self._fans:
            self._pull(conn, peer)
        self._put(conn, peer, data, env)

    def _pull(self, conn: str, peer: _Peer) -> None:
        """Queue on ``peer`` now the frame of each fan-out in slices that has not reached it
        (oldest first): what it is sent next stays behind them, as in the effects' order."""
        for fan in self._fans:
            if conn in fan.left:
                fan.left.discard(conn)
                if not peer.closing:
                    self._put(conn, peer, fan.data, fan.envelope)

    def _put(self, conn: str, peer: _Peer, data: bytes, env: wire.Envelope) -> None:
        if peer.queue.empty():  # written at the end of this turn, with what follows
            if not peer.pending:
                if not self._dirty:
                    asyncio.get_running_loop().call_soon(self._flush)
                self._dirty.append(peer)
            peer.pending.append(data)
        else:  # behind what the writer has yet to send
            peer.queue.put_nowait(data)
        peer.queued += len(data)
        metrics = self.metrics
        metrics.sent += 1
        if env.sender is not None:
            metrics.routed += 1
        elif type(env.message) is wire.ServerError:  # a refusal, answered
            metrics.refused(env.message.code)
        if peer.queued > self.peak_queued:
            self.peak_queued = peer.queued
        more = self.hub.queued(conn, peer.queued, asyncio.get_running_loop().time())
        if more:
            self._apply(more)

    def _fanout(self, e: Fanout) -> None:
        """One frame to many connections (a presence flush to a group's subscribers): encoded
        once, the same string queued on each connection the relay still holds."""
        peers = self._peers
        data: bytes | None = None
        env = e.envelope
        for conn in e.conns:
            peer = peers.get(conn)
            if peer is None or peer.closing:
                continue
            if data is None:
                data = wire.encode_envelope(env)
            self._queue(conn, peer, data, env)

    def _slice(self, e: Fanout) -> None:
        """A large fan-out (a flush to 10,000 subscribers): queued ``_FANOUT_SLICE``
        connections at a time by :meth:`_fan_out_slices`, the loop serving the others between
        slices; a connection sent anything meanwhile gets the fan-out's frame first."""
        fan = _Fan(e.conns, wire.encode_envelope(e.envelope), e.envelope)
        self._fans.append(fan)
        if self._fanning is None or self._fanning.done():
            self._fanning = asyncio.get_running_loop().create_task(self._fan_out_slices())

    async def _fan_out_slices(self) -> None:
        peers, fans = self._peers, self._fans
        while fans:
            fan = fans[0]
            end = min(len(fan.conns), fan.pos + _FANOUT_SLICE)
            for conn in fan.conns[fan.pos : end]:
                if conn in fan.left:
                    fan.left.discard(conn)
                    peer = peers.get(conn)
                    if peer is not None and not peer.closing:
                        self._put(conn, peer, fan.data, fan.envelope)
            fan.pos = end
            if (end >= len(fan.conns) or not fan.left) and fans and fans[0] is fan:
                fans.popleft()  # reached every connection (by the slices or pulled forward)
            await asyncio.sleep(0)

    def apply(self, effects: list[HubEffect]) -> None:
        """Carry out effects of the hub computed outside the relay (inputs from other nodes)."""
        self._apply(effects)

    async def _write(self, conn: str, peer: _Peer) -> None:
        loop = asyncio.get_running_loop()
        ws, queue = peer.ws, peer.queue
        while True:
            item = await queue.get()
            try:
                if isinstance(item, _Close):
                    await ws.close(item.code, item.reason)
                    return
                if queue.empty():
                    await ws.send(item, text=True)
                    peer.queued -= len(item)
                else:  # several frames wait: one write to the socket for all of them
                    close = await _send_batch(ws, peer, item)
                    if close is not None:
                        await ws.close(close.code, close.reason)
                        return
            except ConnectionClosed:
                return
            if peer.queue.empty() and not peer.closing:
                # drained: the hub may send more of what it feeds as the backlog drains
                fed = self.hub.queued(conn, peer.queued, loop.time())
                if fed:
                    self._apply(fed)
                    # a step of initial presence (a newcomer's list of 10,000 names is several):
                    # let the loop serve the others before the next step (a socket write does
                    # not yield while the kernel takes the bytes)
                    await asyncio.sleep(0)

    def reload_revocations(self, force: bool = False) -> None:
        """Re-read the revoked tokens file (if it changed, or ``force``: ``SIGHUP``) and cut
        the live connections it now revokes."""
        if self.revocations is None:
            return
        new = self.revocations.reload(force=force)
        if new is not None:
            self._apply(self.hub.revoke(new, asyncio.get_running_loop().time()))

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            delay = self.tick_interval
            interval = self.hub.presence_interval
            if interval is not None:  # presence flushes are due that often
                delay = min(delay, interval)
            await asyncio.sleep(delay)
            self.reload_revocations()
            self._apply(self.hub.tick(loop.time()))


#: connections a :class:`~rtcstate.hub.Fanout` is queued on at once; a larger one goes out in
#: slices of this many, the loop serving the others (a newcomer's registration) in between,
#: when the relay holds more websockets than this (else queuing it at once costs little)
_FANOUT_SLICE = 1024


class _Fan:
    """A fan-out going out in slices: its frame, encoded once, and the connections it has not
    reached yet (``left``; ``pos``: how far the slices walked ``conns``)."""

    __slots__ = ("conns", "data", "envelope", "left", "pos")

    def __init__(self, conns: tuple[str, ...], data: bytes, envelope: wire.Envelope) -> None:
        self.conns = conns
        self.data = data
        self.envelope = envelope
        self.left = set(conns)
        self.pos = 0


#: frames written to a socket at once, at most (a batch is one ``send`` system call)
_BATCH = 256


async def _send_batch(ws: ServerConnection, peer: _Peer, first: bytes) -> _Close | None:
    """Write ``first`` and the frames queued behind it (up to a close, returned) in one go."""
    batch = [first]
    queue = peer.queue
    close: _Close | None = None
    while not queue.empty() and len(batch) < _BATCH:
        item = queue.get_nowait()
        if isinstance(item, _Close):
            close = item
            break
        batch.append(item)
    async with ws.send_context():  # websockets' own send(), for several messages
        send_text = ws.protocol.send_text
        for text in batch:
            send_text(text)
    peer.queued -= sum(map(len, batch))
    return close


def _discard(peer: _Peer) -> None:
    """Forget the frames a slow consumer has not read (the close goes out alone)."""
    while not peer.queue.empty():
        peer.queue.get_nowait()
    peer.pending.clear()
    peer.queued = 0


def _spill(peer: _Peer) -> None:
    """Hand ``peer``'s pending frames to its writer (a close is queued behind them)."""
    for frame in peer.pending:
        peer.queue.put_nowait(frame)
    peer.pending.clear()


async def serve(
    host: str | Sequence[str] = "127.0.0.1",
    port: int = 8765,
    *,
    hub: Hub | None = None,
    ssl: ssl_module.SSLContext | None = None,
    process_request: ProcessRequest | None = None,
    revocations: RevocationFile | None = None,
) -> Relay:
    """Start a relay on ``host``:``port`` (0: a free port); stop it with ``await relay.close()``."""
    relay = Relay(hub, ssl=ssl, process_request=process_request, revocations=revocations)
    await relay.start(host, port)
    return relay


class RelayLink(Protocol):
    """What :func:`run_relay` starts before the relay listens and closes after it (e.g.
    ``rtcstate_cluster.ClusterLink``: join the cluster, then leave it)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


async def run_relay(
    host: str | Sequence[str] = "127.0.0.1",
    port: int = 8765,
    *,
    hub: Hub | None = None,
    ssl: ssl_module.SSLContext | None = None,
    process_request: ProcessRequest | None = None,
    revocations: RevocationFile | None = None,
    drain_timeout: float = 30.0,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    node_id: str | None = None,
    link: Callable[[Relay], RelayLink] | None = None,
) -> None:
    """Run a relay until cancelled (Ctrl-C: closed at once) or SIGTERM (drained for at most
    ``drain_timeout`` seconds, then closed); ``SIGHUP`` re-reads the revoked tokens file.
    ``metrics_port``: also serve ``/healthz`` and ``/metrics`` on ``metrics_host`` (0: any
    free port), the page naming the relay ``node_id``. ``link``: made from the relay, started
    before it listens and closed after it (a cluster node's, ``rtcstate_cluster``)."""
    relay = Relay(hub, ssl=ssl, process_request=process_request, revocations=revocations)
    attached = link(relay) if link is not None else None
    if attached is not None:
        await attached.start()
    try:
        await relay.start(host, port)
    except BaseException:
        if attached is not None:
            await attached.close()
        raise
    ops: OpsServer | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGHUP, relay.reload_revocations, True)
    try:
        if metrics_port is not None:
            ops = OpsServer(relay, node_id=node_id or relay.url)
            await ops.start(metrics_host, metrics_port)
        await stop.wait()
        left = await relay.drain(drain_timeout)
        log.info("relay drained: %s", "every client left" if left else "drain timeout")
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)
            loop.remove_signal_handler(signal.SIGHUP)
        await relay.close()
        if attached is not None:
            await attached.close()
        if ops is not None:
            await ops.close()
