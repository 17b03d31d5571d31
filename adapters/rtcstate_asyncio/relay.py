"""The relay server: the sans-I/O :class:`rtcstate.hub.Hub` behind a websockets server.

Theory of operation
-------------------
:class:`Relay` listens with ``websockets.asyncio.server`` (loopback by default) and gives each
websocket one hub connection id (``ws1``, ``ws2``...). It reports ``connect`` when the socket
opens, every frame it reads (``receive``) and ``disconnect`` when it closes, each with
``loop.time()``, and carries out the hub's answers in order: :class:`~rtcstate.hub.Deliver`
encodes the envelope and queues it on that connection's single writer task (so what one
connection is sent stays in order), :class:`~rtcstate.hub.CloseConnection` queues a close
(code 1008, the hub's reason) behind what is already queued, and ``Drop`` is logged. A
connection that does not read what it is sent is closed (1008, ``slow consumer``) once
``max_queue`` frames wait for it, rather than buffered without bound. Every
decision (registration, presence, routing, forks, the size and rate limits) is the hub's; the
websocket's own frame limit is set to four times the hub's ``max_message_size`` so an oversized
frame reaches the hub, which answers it with ``ServerError(oversize)`` (a frame beyond that is
refused by websockets itself with close code 1009).

:meth:`Relay.close` is the graceful shutdown: the server stops accepting, every connection is
closed with 1001 (going away), and every handler and writer task is awaited. :func:`serve`
starts a relay and returns it; :func:`run_relay` runs one until cancelled (or SIGTERM), for
the ``rtcstate serve`` command.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
from collections.abc import Callable

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from rtcstate import wire
from rtcstate.effects import Drop
from rtcstate.hub import CloseConnection, Deliver, Hub, HubEffect

__all__ = ["Relay", "run_relay", "serve"]

log = logging.getLogger(__name__)

#: ``process_request(connection, request)``: a ``Response`` to answer plain HTTP, ``None`` to
#: go on with the websocket handshake (websockets' hook).
ProcessRequest = Callable[[ServerConnection, Request], Response | None]

GOING_AWAY = 1001
POLICY_VIOLATION = 1008


class _Close:
    """A close queued behind a connection's pending frames."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason.encode()[:123].decode(errors="ignore")  # a close reason's limit


class _Peer:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | _Close] = asyncio.Queue()
        self.closing = False


class Relay:
    """A websocket relay around one :class:`~rtcstate.hub.Hub` (see the module docstring)."""

    def __init__(
        self,
        hub: Hub | None = None,
        *,
        close_timeout: float = 2.0,
        max_queue: int = 4096,
        process_request: ProcessRequest | None = None,
    ) -> None:
        """``process_request``: answers a plain HTTP request on the relay's port (a ``Response``)
        or lets it through as a websocket (``None``), e.g. ``rtcstate_browser.web.WebApp``."""
        self.hub = hub if hub is not None else Hub()
        self.process_request = process_request
        self.close_timeout = close_timeout
        self.max_queue = max_queue
        self._server: Server | None = None
        self._peers: dict[str, _Peer] = {}
        self._serial = itertools.count(1)

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
        return f"ws://{host}:{self.port}"

    @property
    def connections(self) -> int:
        """How many websockets are open."""
        return len(self._peers)

    async def start(self, host: str = "127.0.0.1", port: int = 8765) -> None:
        """Listen on ``host``:``port`` (0: a free port)."""
        if self._server is not None:
            raise RuntimeError("the relay is already started")
        self._server = await ws_serve(
            self._handle,
            host,
            port,
            max_size=4 * self.hub.max_message_size,
            close_timeout=self.close_timeout,
            compression=None,
            process_request=self.process_request,
        )
        log.info("relay listening on %s", self.url)

    async def close(self) -> None:
        """Graceful shutdown: stop listening, close every connection (1001), await handlers."""
        server, self._server = self._server, None
        if server is None:
            return
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
        peer = _Peer(ws)
        self._peers[conn] = peer
        writer = loop.create_task(self._write(peer))
        try:
            self._apply(self.hub.connect(conn, loop.time()))
            async for data in ws:
                self._apply(self.hub.receive(conn, data, loop.time()))
        except ConnectionClosed:
            pass
        finally:
            del self._peers[conn]
            self._apply(self.hub.disconnect(conn, loop.time()))
            if not writer.done():
                writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _apply(self, effects: list[HubEffect]) -> None:
        for e in effects:
            if type(e) is Deliver:
                peer = self._peers.get(e.conn)
                if peer is None or peer.closing:
                    continue
                if peer.queue.qsize() >= self.max_queue:  # it does not read: do not buffer
                    peer.closing = True
                    log.warning("%s: %d frames unsent, closing", e.conn, self.max_queue)
                    peer.queue.put_nowait(_Close(POLICY_VIOLATION, "slow consumer"))
                    continue
                peer.queue.put_nowait(wire.encode_envelope(e.envelope).decode())
            elif type(e) is CloseConnection:
                peer = self._peers.get(e.conn)
                if peer is not None and not peer.closing:
                    peer.closing = True
                    peer.queue.put_nowait(_Close(POLICY_VIOLATION, e.reason))
            elif type(e) is Drop:
                log.debug("hub dropped: %s %s", e.reason, e.detail)

    @staticmethod
    async def _write(peer: _Peer) -> None:
        while True:
            item = await peer.queue.get()
            try:
                if isinstance(item, _Close):
                    await peer.ws.close(item.code, item.reason)
                    return
                await peer.ws.send(item)
            except ConnectionClosed:
                return


async def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    hub: Hub | None = None,
    max_queue: int = 4096,
    process_request: ProcessRequest | None = None,
) -> Relay:
    """Start a relay on ``host``:``port`` (0: a free port); stop it with ``await relay.close()``."""
    relay = Relay(hub, max_queue=max_queue, process_request=process_request)
    await relay.start(host, port)
    return relay


async def run_relay(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    hub: Hub | None = None,
    process_request: ProcessRequest | None = None,
) -> None:
    """Run a relay until cancelled (Ctrl-C) or SIGTERM, then shut it down gracefully."""
    relay = await serve(host, port, hub=hub, process_request=process_request)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)
        await relay.close()
