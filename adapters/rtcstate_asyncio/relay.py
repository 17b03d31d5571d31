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
:class:`~rtcstate.hub.Deliver` encodes the envelope and queues it on that connection's single
writer task (so what one connection is sent stays in order) and reports the bytes waiting
(``queued``: past the hub's ``max_queue_bytes`` the hub closes a client that does not read,
so the relay never holds more than that for it; and again when the queue drains, so the hub
can feed the initial presence it owes as the client reads); :class:`~rtcstate.hub.CloseConnection`
queues a close (the hub's code and reason) behind what is already queued; :class:`~rtcstate.
hub.Log` is one structured log line (``INFO``); ``Drop`` is logged at debug level. Every
decision (who may register, presence, routing, forks, every limit) is the hub's; the
websocket's own frame limit is four times the hub's ``max_message_size`` so an oversized frame
reaches the hub, which answers it with ``ServerError(oversize)`` (a frame beyond that is
refused by websockets itself with close code 1009).

Revocation: given a :class:`~rtcstate_asyncio.revocation.RevocationFile` (``rtcstate serve
--revoked-tokens PATH``), the relay re-reads it on each tick when it changed, and on ``SIGHUP``
(:func:`run_relay`), and hands the new revocations to :meth:`Hub.revoke`.

:meth:`Relay.close` is the graceful shutdown: the server stops accepting, every connection is
closed with 1001 (going away), and every handler, writer and the ticker are awaited.
:func:`serve` starts a relay and returns it; :func:`run_relay` runs one until cancelled (or
SIGTERM), for the ``rtcstate serve`` command.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
import ssl as ssl_module
from collections.abc import Callable, Sequence

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from rtcstate import wire
from rtcstate.effects import Drop
from rtcstate.hub import CloseCode, CloseConnection, Deliver, Hub, HubEffect, Log
from rtcstate_asyncio.revocation import RevocationFile

__all__ = ["Relay", "run_relay", "serve"]

log = logging.getLogger(__name__)

#: ``process_request(connection, request)``: a ``Response`` to answer plain HTTP, ``None`` to
#: go on with the websocket handshake (websockets' hook).
ProcessRequest = Callable[[ServerConnection, Request], Response | None]

GOING_AWAY = int(CloseCode.GOING_AWAY)
POLICY_VIOLATION = int(CloseCode.POLICY)


class _Close:
    """A close queued behind a connection's pending frames."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason.encode()[:123].decode(errors="ignore")  # a close reason's limit


class _Peer:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | _Close] = asyncio.Queue()
        self.queued = 0  # bytes waiting in ``queue``
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
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        log.info("relay listening on %s", self.url)

    async def close(self) -> None:
        """Graceful shutdown: stop listening, close every connection (1001), await handlers."""
        server, self._server = self._server, None
        if server is None:
            return
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
        server.close(close_connections=True, code=GOING_AWAY, reason="relay shutting down")
        await server.wait_closed()

    async def __aenter__(self) -> Relay:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- per connection -----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        conn = f"ws{next(self._serial)}"
        self.accepted += 1
        peer = _Peer(ws)
        self._peers[conn] = peer
        writer = loop.create_task(self._write(conn, peer))
        remote = ws.remote_address
        source = str(remote[0]) if remote else None
        try:
            self._apply(self.hub.connect(conn, loop.time(), source))
            async for data in ws:
                if peer.closing:
                    continue  # closed by the hub: read on until the close completes
                self._apply(self.hub.receive(conn, data, loop.time()))
        except ConnectionClosed:
            pass
        finally:
            del self._peers[conn]
            if peer.watchdog is not None:
                peer.watchdog.cancel()
            self._apply(self.hub.disconnect(conn, loop.time()))
            if not writer.done():
                writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _apply(self, effects: list[HubEffect]) -> None:
        last: tuple[wire.Envelope | None, str] = (None, "")
        peers = self._peers  # (a presence flush is one Deliver per subscriber: 10,000 of them)
        for e in effects:
            if type(e) is Deliver:
                peer = peers.get(e.conn)
                if peer is None or peer.closing:
                    continue
                if last[0] is e.envelope:  # one envelope to many (a presence flush)
                    data = last[1]
                else:
                    data = wire.encode_envelope(e.envelope).decode()
                    last = (e.envelope, data)
                peer.queue.put_nowait(data)
                peer.queued += len(data)
                if peer.queued > self.peak_queued:
                    self.peak_queued = peer.queued
                now = asyncio.get_running_loop().time()
                self._apply(self.hub.queued(e.conn, peer.queued, now))
            elif type(e) is CloseConnection:
                peer = self._peers.get(e.conn)
                if peer is not None and not peer.closing:
                    peer.closing = True
                    if peer.queued > self.hub.max_queue_bytes:  # it does not read: drop it all
                        _discard(peer)
                    peer.queue.put_nowait(_Close(e.code, e.reason))
                    # a writer stuck on a client that does not read never reaches the close:
                    # the connection is aborted if it is still open a little later
                    loop = asyncio.get_running_loop()
                    peer.watchdog = loop.call_later(
                        self.close_timeout + 1.0, peer.ws.transport.abort
                    )
            elif type(e) is Log:
                log.info("%s", e.line())
            elif type(e) is Drop:
                log.debug("hub dropped: %s %s", e.reason, e.detail)

    async def _write(self, conn: str, peer: _Peer) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await peer.queue.get()
            try:
                if isinstance(item, _Close):
                    await peer.ws.close(item.code, item.reason)
                    return
                await peer.ws.send(item)
                peer.queued -= len(item)
            except ConnectionClosed:
                return
            if peer.queue.empty() and not peer.closing:
                # drained: the hub may send more of what it feeds as the backlog drains
                self._apply(self.hub.queued(conn, peer.queued, loop.time()))

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


def _discard(peer: _Peer) -> None:
    """Forget the frames a slow consumer has not read (the close goes out alone)."""
    while not peer.queue.empty():
        peer.queue.get_nowait()
    peer.queued = 0


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


async def run_relay(
    host: str | Sequence[str] = "127.0.0.1",
    port: int = 8765,
    *,
    hub: Hub | None = None,
    ssl: ssl_module.SSLContext | None = None,
    process_request: ProcessRequest | None = None,
    revocations: RevocationFile | None = None,
) -> None:
    """Run a relay until cancelled (Ctrl-C) or SIGTERM, then shut it down gracefully
    (``SIGHUP`` re-reads the revoked tokens file)."""
    relay = await serve(
        host, port, hub=hub, ssl=ssl, process_request=process_request, revocations=revocations
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGHUP, relay.reload_revocations, True)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)
            loop.remove_signal_handler(signal.SIGHUP)
        await relay.close()
