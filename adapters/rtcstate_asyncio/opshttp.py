"""The relay's operations page: ``/healthz`` and ``/metrics`` over a tiny HTTP/1.1 server.

Theory of operation
-------------------
:class:`OpsServer` listens with ``asyncio.start_server`` on its own port (127.0.0.1 by
default: ``rtcstate serve --metrics-port P``), in the relay's event loop, and answers one
``GET`` per connection, then closes it (``Connection: close``):

* ``/healthz``: JSON ``{"status", "node", "uptime", "connections", "registered", "draining"}``;
  200 while the relay serves, 503 while it drains (a load balancer stops sending clients);
* ``/metrics``: the Prometheus text exposition of :class:`~rtcstate_asyncio.metrics.RelayMetrics`
  plus the gauges the relay reports at that moment;
* anything else: 404 (an unknown path), 405 (a method other than ``GET``/``HEAD``), 400 (not
  HTTP/1.x).

What a client of this port may cost the relay is bounded: the request head is at most
``max_request`` bytes (beyond it: 431, nothing more read, a body is never read), the whole
exchange at most ``timeout`` seconds (a slow or silent client is cut), and at most
``max_clients`` exchanges run at once (more are closed without an answer). A page is built in
O(connections) once per request, never per frame of the relay.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Protocol

from rtcstate_asyncio.metrics import Gauges, RelayMetrics

__all__ = ["OpsServer", "OpsSource"]

log = logging.getLogger(__name__)

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class OpsSource(Protocol):
    """What the page reads of the relay (:class:`~rtcstate_asyncio.relay.Relay` is one)."""

    @property
    def metrics(self) -> RelayMetrics: ...

    def gauges(self) -> Gauges: ...


class OpsServer:
    """``/healthz`` and ``/metrics`` of one relay (see the module docstring)."""

    def __init__(
        self,
        relay: OpsSource,
        *,
        node_id: str = "",
        max_request: int = 8192,
        timeout: float = 5.0,
        max_clients: int = 32,
    ) -> None:
        self.relay = relay
        self.node_id = node_id
        self.max_request = max_request
        self.timeout = timeout
        self.max_clients = max_clients
        #: exchanges refused (over ``max_clients``), cut (``timeout``) or too large (431)
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "the page is not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host``:``port`` (0: a free port)."""
        self._server = await asyncio.start_server(self._accept, host, port, limit=self.max_request)
        log.info("metrics and health on http://%s:%d/", host, self.port)

    async def close(self) -> None:
        """Stop listening and cut every exchange in progress."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._clients) >= self.max_clients:
            self.refused += 1
            writer.transport.abort()
            return
        self._clients.add(task)
        done = False
        try:
            async with asyncio.timeout(self.timeout):
                await self._exchange(reader, writer)
                writer.close()  # after the answer has left
                await writer.wait_closed()
                done = True
        except TimeoutError:
            self.refused += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._clients.discard(task)
            if not done:  # cut: whatever is left is dropped, nothing waits on the client
                writer.transport.abort()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            self.refused += 1
            await _answer(writer, 431, "text/plain", b"request too large\n")
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await _answer(writer, 400, "text/plain", b"bad request\n")
            return
        method, target, _ = parts
        if method not in ("GET", "HEAD"):
            await _answer(writer, 405, "text/plain", b"GET only\n", allow=True)
            return
        path = target.split("?", 1)[0]
        if path == "/healthz":
            status, ctype, body = self._health()
        elif path == "/metrics":
            gauges = self.relay.gauges()
            status, ctype = 200, "text/plain; version=0.0.4; charset=utf-8"
            body = self.relay.metrics.render(gauges).encode()
        else:
            status, ctype, body = 404, "text/plain", b"not found\n"
        await _answer(writer, status, ctype, body, head_only=method == "HEAD")

    def _health(self) -> tuple[int, str, bytes]:
        g = self.relay.gauges()
        page = {
            "status": "draining" if g.draining else "ok",
            "node": self.node_id,
            "uptime": round(g.uptime, 3),
            "connections": g.connections,
            "registered": g.registered,
            "draining": g.draining,
        }
        return (503 if g.draining else 200), "application/json", json.dumps(page).encode()


async def _answer(
    writer: asyncio.StreamWriter,
    status: int,
    ctype: str,
    body: bytes,
    *,
    head_only: bool = False,
    allow: bool = False,
) -> None:
    lines = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        f"Content-Type: {ctype}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        "Cache-Control: no-store",
    ]
    if allow:
        lines.append("Allow: GET, HEAD")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if not head_only:
        writer.write(body)
    await writer.drain()
