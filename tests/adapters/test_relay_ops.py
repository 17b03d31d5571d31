"""The relay's operations page: ``/healthz`` and ``/metrics`` scraped over real HTTP on
127.0.0.1, the counters moving with real clients; and what a hostile client of the metrics port
can cost (a huge request, a silent one, many at once): bounded, the relay routing on."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from adaptertools import run, until
from rtcstate_asyncio import serve
from rtcstate_asyncio.metrics import RelayMetrics
from rtcstate_asyncio.opshttp import OpsServer
from rtcstate_asyncio.relay import Relay
from websockets.asyncio.client import ClientConnection, connect

from rtcstate import wire
from rtcstate.hub import Hub, Log

WAIT = 5.0


async def http(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP exchange: (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(WAIT):
            data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


async def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    return await http(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())


def sample(page: str, name: str, labels: str = "") -> float:
    """The value of one sample of a Prometheus page (0 when absent)."""
    key = f"rtcstate_{name}{{{labels}}}" if labels else f"rtcstate_{name}"
    for line in page.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@contextlib.asynccontextmanager
async def relay_with_page(
    hub: Hub | None = None, **kw: float
) -> AsyncIterator[tuple[Relay, OpsServer]]:
    relay = await serve("127.0.0.1", 0, hub=hub)
    ops = OpsServer(relay, node_id="node-a", **kw)  # type: ignore[arg-type]
    await ops.start("127.0.0.1", 0)
    try:
        yield relay, ops
    finally:
        await relay.close()
        await ops.close()


@contextlib.asynccontextmanager
async def client(url: str, user: str) -> AsyncIterator[ClientConnection]:
    async with connect(url, proxy=None, open_timeout=WAIT) as ws:
        await ws.send(wire.encode(wire.Register(user, "d")))
        async with asyncio.timeout(WAIT):
            while not isinstance(wire.decode(await ws.recv()).message, wire.Registered):
                pass
        yield ws


async def received(ws: ClientConnection, kind: type[wire.Message], n: int) -> list[wire.Message]:
    got: list[wire.Message] = []
    async with asyncio.timeout(WAIT):
        while len(got) < n:
            msg = wire.decode(await ws.recv()).message
            if isinstance(msg, kind):
                got.append(msg)
    return got


def test_healthz_and_metrics_move_with_real_clients() -> None:
    async def test() -> None:
        async with relay_with_page() as (relay, ops):
            status, headers, body = await get(ops.port, "/healthz")
            assert status == 200 and headers["content-type"] == "application/json"
            health = json.loads(body)
            assert health["node"] == "node-a" and health["status"] == "ok"
            assert health["connections"] == 0 and health["draining"] is False
            assert health["uptime"] >= 0
            status, headers, body = await get(ops.port, "/metrics")
            assert status == 200 and headers["content-type"].startswith("text/plain")
            before = body.decode()
            assert sample(before, "messages_routed_total") == 0
            assert sample(before, "redis_round_trips_total") == 0
            assert "# TYPE rtcstate_refusals_total counter" in before

            async with client(relay.url, "alice") as a, client(relay.url, "bob") as b:
                for i in range(7):
                    await a.send(wire.encode(wire.ContactMessage(i, "hi"), to="bob"))
                await received(b, wire.ContactMessage, 7)
                # a refusal: a message to nobody, and one only the relay may send
                await a.send(wire.encode(wire.ContactMessage(99, "x"), to="nobody"))
                await a.send(wire.encode(wire.Registered("a", "b", "c"), to="bob"))
                await received(a, wire.ServerError, 1)
                health = json.loads((await get(ops.port, "/healthz"))[2])
                assert health["connections"] == 2 and health["registered"] == 2
                page = (await get(ops.port, "/metrics"))[2].decode()
                assert sample(page, "connections") == 2
                assert sample(page, "registered_connections") == 2
                assert sample(page, "registrations_total") == 2
                assert sample(page, "connections_accepted_total") == 2
                assert sample(page, "messages_routed_total") == 7
                assert sample(page, "frames_received_total") >= 2 + 7 + 2
                assert sample(page, "messages_sent_total") > 7
                assert sample(page, "refusals_total", 'reason="forbidden"') == 1
            # the two left: the gauges fall back, the counters stay
            await until(lambda: relay.connections == 0)
            page = (await get(ops.port, "/metrics"))[2].decode()
            assert sample(page, "connections") == 0 and sample(page, "queue_bytes") == 0
            assert sample(page, "messages_routed_total") == 7

    run(test)


def test_closes_by_reason_and_the_redis_hook_are_counted() -> None:
    async def test() -> None:
        # a tiny frame limit: oversize frames strike the client out (close, "oversize")
        async with relay_with_page(Hub(max_message_size=256, max_strikes=2)) as (relay, ops):
            async with client(relay.url, "mallory") as m:
                for _ in range(2):
                    await m.send("x" * 300)
                await until(lambda: relay.connections == 0)
            relay.metrics.redis_round_trip(3)
            page = (await get(ops.port, "/metrics"))[2].decode()
            assert sample(page, "refusals_total", 'reason="oversize"') == 2  # both answered
            assert sample(page, "closes_total", 'reason="oversize"') == 1
            assert sample(page, "redis_round_trips_total") == 3

    run(test)


def test_labels_come_from_a_closed_set() -> None:
    m = RelayMetrics()
    m.refused('evil"\n{label}')
    m.refused("rate_limited")
    m.log(Log("closing", "ws1", (("code", "x" * 100), ("reason", "x"))))
    m.log(Log("closing", "ws1", (("code", "rate_limited"),)))
    m.log(Log("closing", "ws1", ()))
    assert m.refusals == {"other": 1, "rate_limited": 1}
    assert m.closes == {"rate_limited": 1, "other": 2}


def test_unknown_paths_methods_and_garbage_are_answered_without_harm() -> None:
    async def test() -> None:
        async with relay_with_page() as (_, ops):
            assert (await get(ops.port, "/nope"))[0] == 404
            status, headers, _ = await http(ops.port, b"POST /metrics HTTP/1.1\r\n\r\n")
            assert status == 405 and headers["allow"] == "GET, HEAD"
            assert (await http(ops.port, b"\x16\x03\x01 garbage\r\n\r\n"))[0] == 400
            status, headers, body = await http(ops.port, b"HEAD /metrics HTTP/1.1\r\n\r\n")
            assert status == 200 and body == b"" and int(headers["content-length"]) > 0

    run(test)


def test_a_huge_request_is_refused_after_max_request_bytes_and_the_relay_routes_on() -> None:
    async def test() -> None:
        async with (
            relay_with_page(max_request=4096) as (relay, ops),
            client(relay.url, "alice") as a,
            client(relay.url, "bob") as b,
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", ops.port)
            with contextlib.suppress(ConnectionError):
                writer.write(b"GET /metrics HTTP/1.1\r\nX: ")
                for _ in range(256):  # 1 MiB of header: never read past 4 KiB
                    writer.write(b"a" * 4096)
                    await asyncio.wait_for(writer.drain(), WAIT)
            async with asyncio.timeout(WAIT):
                answer = await _read_to_end(reader)  # (a reset may eat the 431)
            writer.close()
            assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")
            assert ops.refused == 1
            await a.send(wire.encode(wire.ContactMessage(1, "still here"), to="bob"))
            assert len(await received(b, wire.ContactMessage, 1)) == 1
            assert (await get(ops.port, "/healthz"))[0] == 200

    run(test)


def test_slow_and_silent_clients_are_cut_and_bounded_in_number() -> None:
    async def test() -> None:
        async with relay_with_page(timeout=0.5, max_clients=4) as (relay, ops):
            silent = [await asyncio.open_connection("127.0.0.1", ops.port) for _ in range(6)]
            for _, w in silent[:2]:
                w.write(b"GET /metr")  # a slow request that never ends
            await until(lambda: ops.refused >= 2)  # over max_clients: closed at once
            async with client(relay.url, "alice") as a, client(relay.url, "bob") as b:
                await a.send(wire.encode(wire.ContactMessage(1, "meanwhile"), to="bob"))
                assert len(await received(b, wire.ContactMessage, 1)) == 1
            # every silent one is cut within the timeout: their reads end
            async with asyncio.timeout(WAIT):
                for r, _ in silent:
                    assert await _read_to_end(r) == b""
            for _, w in silent:
                w.close()
            assert ops.refused == 6
            assert (await get(ops.port, "/healthz"))[0] == 200

    run(test)


async def _read_to_end(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server cut the connection (a reset counts as the end)."""
    try:
        return await reader.read()
    except ConnectionError:
        return b""
