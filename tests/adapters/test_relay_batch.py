"""The relay's write path: frames queued behind each other for one connection leave in batches
(one socket write for several), in order, and a close queued behind them still comes last."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import rtcstate_asyncio.relay as relay_module
from adaptertools import run
from rtcstate_asyncio import serve
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtcstate import wire
from rtcstate.hub import CloseCode, CloseConnection, Deliver

WAIT = 5.0


def test_queued_frames_leave_in_batches_in_order_then_the_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches: list[int] = []
    real = relay_module._send_batch

    async def counting(ws: Any, peer: Any, first: str) -> Any:
        before = peer.queue.qsize()
        close = await real(ws, peer, first)
        batches.append(1 + before - peer.queue.qsize() - (close is not None))
        return close

    monkeypatch.setattr(relay_module, "_send_batch", counting)
    count = 2 * relay_module._BATCH + 10

    async def test() -> None:
        async with (
            await serve("127.0.0.1", 0) as relay,
            connect(relay.url, proxy=None, open_timeout=WAIT) as ws,
        ):
            await ws.send(wire.encode(wire.Register("bob", "d")))
            async with asyncio.timeout(WAIT):
                while not isinstance(wire.decode(await ws.recv()).message, wire.Registered):
                    pass
            [conn] = [c for c in relay._peers if relay.hub.address(c) == "bob/d"]
            frames: list[Any] = [
                Deliver(conn, wire.Envelope(wire.ContactMessage(n, "m"), "bob/d", "alice/d"))
                for n in range(count)
            ]
            # all queued at once, before the writer runs: it must batch them
            relay._apply([*frames, CloseConnection(conn, "enough", CloseCode.POLICY)])
            got: list[int] = []
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(WAIT):
                    while True:
                        msg = wire.decode(await ws.recv()).message
                        if isinstance(msg, wire.ContactMessage):
                            got.append(msg.uuid)
            assert got == list(range(count))
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.POLICY
            assert relay.metrics.routed == count

    run(test)
    assert batches == [relay_module._BATCH, relay_module._BATCH, 10]


def _bob(relay: Any) -> str:
    [conn] = [c for c in relay._peers if relay.hub.address(c) == "bob/d"]
    return conn


async def _register_bob(ws: Any) -> None:
    await ws.send(wire.encode(wire.Register("bob", "d")))
    async with asyncio.timeout(WAIT):
        while not isinstance(wire.decode(await ws.recv()).message, wire.Registered):
            pass


def _contact(conn: str, n: int) -> Deliver:
    return Deliver(conn, wire.Envelope(wire.ContactMessage(n, "m"), "bob/d", "alice/d"))


async def _uuids(ws: Any, count: int) -> list[int]:
    got: list[int] = []
    async with asyncio.timeout(WAIT):
        while len(got) < count:
            msg = wire.decode(await ws.recv()).message
            if isinstance(msg, wire.ContactMessage):
                got.append(msg.uuid)
    return got


def test_frames_of_one_turn_leave_in_one_write_without_the_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writes: list[int] = []
    real = relay_module.write_now

    def counting(ws: Any, frames: Any) -> bool:
        done = real(ws, frames)
        writes.append(len(frames) if done else -len(frames))
        return done

    monkeypatch.setattr(relay_module, "write_now", counting)

    async def test() -> None:
        async with (
            await serve("127.0.0.1", 0) as relay,
            connect(relay.url, proxy=None, open_timeout=WAIT) as ws,
        ):
            await _register_bob(ws)
            conn = _bob(relay)
            writes.clear()
            relay._apply([_contact(conn, n) for n in range(10)])
            assert relay._peers[conn].queued > 0  # counted as waiting until written
            assert await _uuids(ws, 10) == list(range(10))
            assert writes == [10]  # one socket write for the turn's ten frames
            assert relay._peers[conn].queued == 0 and relay._peers[conn].queue.empty()
            assert relay.hub.state(conn) is not None  # told its backlog drained, still open

    run(test)


def test_frames_the_socket_cannot_take_now_go_to_the_writer_and_keep_their_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declined: list[int] = []
    real = relay_module.write_now

    def busy_once(ws: Any, frames: Any) -> bool:
        if not declined:  # the first turn finds the socket's buffer full
            declined.append(len(frames))
            return False
        return real(ws, frames)

    monkeypatch.setattr(relay_module, "write_now", busy_once)

    async def test() -> None:
        async with (
            await serve("127.0.0.1", 0) as relay,
            connect(relay.url, proxy=None, open_timeout=WAIT) as ws,
        ):
            await _register_bob(ws)
            conn = _bob(relay)
            declined.clear()
            relay._apply([_contact(conn, n) for n in range(5)])
            await asyncio.sleep(0)  # the turn ends: declined, handed to the writer
            relay._apply([_contact(conn, n) for n in range(5, 8)])  # behind them, not first
            assert await _uuids(ws, 8) == list(range(8))
            assert declined == [5]

    run(test)


def test_over_real_sockets_a_routed_frame_says_the_verified_sender() -> None:
    head = '{"v":1,"type":"contact_message","to":"bob",'
    sent = [
        wire.encode(wire.ContactMessage(0, "hi"), to="bob").decode(),  # canonical: spliced
        head + '"from":"mallory/x","uuid":1,"content":"hi"}',
        head + '"uuid":2,"content":"hi","from":null}',
        head + '"uuid":3,"content":"hi","fr\\u006fm":"mallory/x"}',
    ]

    async def test() -> None:
        async with (
            await serve("127.0.0.1", 0) as relay,
            connect(relay.url, proxy=None, open_timeout=WAIT) as bob,
            connect(relay.url, proxy=None, open_timeout=WAIT) as alice,
        ):
            await _register_bob(bob)
            await alice.send(wire.encode(wire.Register("alice", "d")))
            async with asyncio.timeout(WAIT):
                while not isinstance(wire.decode(await alice.recv()).message, wire.Registered):
                    pass
            for text in sent:
                await alice.send(text)
            got: list[Any] = []
            async with asyncio.timeout(WAIT):
                while len(got) < len(sent):
                    frame = await bob.recv()
                    env = wire.decode(frame)
                    if isinstance(env.message, wire.ContactMessage):
                        got.append((env.message.uuid, env.sender, frame))
            assert [(n, s) for n, s, _ in got] == [(n, "alice/d") for n in range(4)]
            stamped = wire.Envelope(wire.ContactMessage(0, "hi"), "bob", "alice/d")
            assert got[0][2] == wire.encode_envelope(stamped).decode()  # a text frame, canonical

    run(test)
