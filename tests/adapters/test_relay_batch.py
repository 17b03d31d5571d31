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
