"""The websocket relay: raw clients on 127.0.0.1, limits, ordering, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
from adaptertools import run
from rtcstate_asyncio import Relay, UserAgent, run_relay, serve
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rtcstate import wire
from rtcstate.codes import ErrorCode
from rtcstate.hub import Deliver, Hub

WAIT = 5.0


@contextlib.asynccontextmanager
async def client(relay_url: str, user: str | None = None) -> AsyncIterator[ClientConnection]:
    async with connect(relay_url, proxy=None, open_timeout=WAIT) as ws:
        if user is not None:
            await ws.send(wire.encode(wire.Register(user, "d")))
            assert isinstance(await recv(ws), wire.Registered)
        yield ws


async def recv(ws: ClientConnection) -> wire.Message:
    async with asyncio.timeout(WAIT):
        return wire.decode(await ws.recv()).message


async def recv_until(ws: ClientConnection, kind: type[wire.Message]) -> wire.Message:
    while True:
        msg = await recv(ws)
        if isinstance(msg, kind):
            return msg


def test_messages_are_relayed_in_order_with_the_sender_stamped() -> None:
    async def test() -> None:
        async with (
            await serve("127.0.0.1", 0) as relay,
            client(relay.url, "alice") as a,
            client(relay.url, "bob") as b,
        ):
            for i in range(50):
                await a.send(wire.encode(wire.ContactMessage(i, f"m{i}"), to="bob"))
            got = []
            while len(got) < 50:
                data = await asyncio.wait_for(b.recv(), WAIT)
                env = wire.decode(data)
                if isinstance(env.message, wire.ContactMessage):
                    assert env.sender == "alice/d"
                    got.append(env.message.uuid)
            assert got == list(range(50))

    run(test)


def test_size_and_rate_limits_answer_server_errors_then_close() -> None:
    hub = Hub(max_message_size=256, rate_limit=5.0, rate_burst=5.0, max_strikes=3)

    async def test() -> None:
        async with await serve("127.0.0.1", 0, hub=hub) as relay, client(relay.url, "eve") as ws:
            await ws.send(wire.encode(wire.ContactMessage(1, "x" * 400), to="bob"))
            err = await recv(ws)
            assert isinstance(err, wire.ServerError) and err.code == "oversize"
            assert "256" in err.info
            for seq in range(12):  # well over the burst, at once
                await ws.send(wire.encode(wire.Ping(seq=seq)))
            codes: list[str] = []
            with pytest.raises(ConnectionClosed):
                while True:
                    msg = await recv(ws)
                    if isinstance(msg, wire.ServerError):
                        codes.append(msg.code)
            assert codes == ["rate_limited"] * 3
            assert ws.close_code == 1008
            assert ws.close_reason.startswith("rate_limited")
        assert relay.connections == 0

    run(test)


def test_a_session_hears_the_relays_limit_as_a_server_error() -> None:
    hub = Hub(rate_limit=2.0, rate_burst=3.0, max_strikes=1000)

    async def test() -> None:
        async with await serve("127.0.0.1", 0, hub=hub) as relay:
            ua = UserAgent("alice", options={"keepalive_interval": 0.02})
            session = await ua.register(relay.url, timeout=WAIT)
            error = await session.wait_for("error", WAIT)
            assert error["errorCode"] == ErrorCode.SERVER_ERROR.value
            assert error["descriptor"]["code"] == "rate_limited"
            await ua.unregister()

    run(test)


def test_graceful_shutdown_sends_going_away_to_every_client() -> None:
    async def test() -> None:
        relay = Relay()
        await relay.start("127.0.0.1", 0)
        async with client(relay.url, "alice") as a, client(relay.url, "bob") as b:
            await recv_until(a, wire.Presence)
            await relay.close()
            for ws in (a, b):
                with pytest.raises(ConnectionClosed):
                    while True:
                        await recv(ws)
                assert ws.close_code == 1001
        assert relay.connections == 0

    run(test)


def test_run_relay_serves_until_cancelled() -> None:
    async def test() -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        task = asyncio.create_task(run_relay("127.0.0.1", port))
        url = f"ws://127.0.0.1:{port}"
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    async with client(url, "alice") as ws:
                        await ws.send(wire.encode(wire.Ping(seq=7)))
                        assert await recv(ws) == wire.Pong(seq=7)
                        break
                except OSError:
                    await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(test)


def test_a_new_registration_of_the_same_address_closes_the_old_connection() -> None:
    async def test() -> None:
        async with (
            await serve("127.0.0.1", 0) as relay,
            client(relay.url, "alice") as old,
            client(relay.url, "alice") as new,
        ):
            errors: list[wire.Message] = []
            with pytest.raises(ConnectionClosed):
                while True:
                    errors.append(await recv(old))
            assert old.close_code == 4409  # a conflict: final, the client does not reconnect
            taken = "alice/d registered on another connection"
            assert wire.ServerError("conflict", taken) in errors
            await new.send(wire.encode(wire.Ping(seq=1)))
            assert await recv_until(new, wire.Pong) == wire.Pong(seq=1)

    run(test)


def test_a_client_that_does_not_read_is_closed_instead_of_buffered() -> None:
    async def test() -> None:
        pong = wire.Envelope(wire.Pong(seq=1))
        size = len(wire.encode_envelope(pong))
        relay = await serve("127.0.0.1", 0, hub=Hub(max_queue_bytes=8 * size))
        async with relay, client(relay.url, "bob") as b:
            conn = next(iter(relay._peers))
            # as if bob had not read for a while: eight frames wait, a ninth comes
            relay._apply([Deliver(conn, pong)] * 9)
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv(b)
            assert b.close_code == 1008 and b.close_reason.startswith("slow_consumer")
        assert relay.connections == 0

    run(test)
