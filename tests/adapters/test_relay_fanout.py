"""The relay carries a :class:`~rtcstate.hub.Fanout` (a presence flush: one frame to many
connections) over real websockets: every connection gets it complete, in its place among what
else it is sent, the connections gone or closing are skipped, and its bytes count against
each connection's queue limit (a connection over it is still closed as a slow consumer)."""

from __future__ import annotations

import asyncio

import pytest
import rtcstate_asyncio.relay as relay_module
from adaptertools import run, until
from rtcstate_asyncio import serve
from securitytools import WAIT, recv, register
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rtcstate import wire
from rtcstate.hub import CloseCode, CloseConnection, Deliver, Fanout, Hub, HubEffect

ROUNDS = 40


async def _numbers(ws: ClientConnection, count: int) -> list[int]:
    """The uuids of the first ``count`` contact messages ``ws`` reads (presence skipped)."""
    got: list[int] = []
    while len(got) < count:
        msg = await recv(ws)
        if isinstance(msg, wire.ContactMessage):
            got.append(msg.uuid)
    return got


@pytest.mark.parametrize("sliced", [False, True])
def test_a_fanout_reaches_each_connection_once_in_order_among_its_other_frames(
    sliced: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sliced``: every fan-out goes out one connection at a time (as one to 10,000 does
    1,024 at a time), the frames sent to a connection meanwhile pulling it forward."""
    if sliced:
        monkeypatch.setattr(relay_module, "_FANOUT_SLICE", 1)

    async def test() -> None:
        async with await serve("127.0.0.1", 0, hub=Hub(register_rate=None)) as relay:
            clients = [await connect(relay.url, proxy=None, open_timeout=WAIT) for _ in range(3)]
            try:
                for i, ws in enumerate(clients):
                    assert isinstance(await register(ws, f"user{i}"), wire.Registered)
                conns = {relay.hub.address(c): c for c in relay._peers}
                mine = [conns[f"user{i}/d"] for i in range(3)]
                sent_before = relay.metrics.sent
                effects: list[HubEffect] = []
                for n in range(ROUNDS):  # even numbers to all, odd ones to each alone
                    shared = wire.Envelope(wire.ContactMessage(2 * n, "all"), None, "hub/x")
                    # ("gone": a connection the relay no longer holds, skipped)
                    effects.append(Fanout((mine[2], "gone", mine[0], mine[1]), shared))
                    for conn in mine:
                        own = wire.Envelope(wire.ContactMessage(2 * n + 1, conn), None, "hub/x")
                        effects.append(Deliver(conn, own))
                relay.apply(effects)  # queued at once, before any writer runs
                assert bool(relay._fans) == sliced
                for ws in clients:
                    assert await _numbers(ws, 2 * ROUNDS) == list(range(2 * ROUNDS))
                assert relay.metrics.sent - sent_before == 3 * 2 * ROUNDS
                await until(lambda: not relay._fans)  # every slice walked, the task done
            finally:
                for ws in clients:
                    await ws.close()

    run(test)


def test_a_fanout_counts_against_the_queue_limit_and_skips_a_closing_connection() -> None:
    limit = 64 * 1024
    frame = "x" * 8000
    count = 2 * limit // len(frame)  # twice the limit, queued at once

    async def test() -> None:
        hub = Hub(register_rate=None, max_queue_bytes=limit)
        async with (
            await serve("127.0.0.1", 0, hub=hub) as relay,
            connect(relay.url, proxy=None, open_timeout=WAIT) as slow,
            connect(relay.url, proxy=None, open_timeout=WAIT) as closing,
            connect(relay.url, proxy=None, open_timeout=WAIT) as other,
        ):
            for name, ws in (("slow", slow), ("closing", closing), ("other", other)):
                assert isinstance(await register(ws, name), wire.Registered)
            conns = {relay.hub.address(c): c for c in relay._peers}
            big = [
                Fanout((conns["slow/d"], conns["closing/d"]),
                       wire.Envelope(wire.ContactMessage(n, frame), None, "hub/x"))
                for n in range(count)
            ]  # fmt: skip
            # "closing" is being closed: the fan-out skips it, its close comes alone
            relay.apply([CloseConnection(conns["closing/d"], "bye", CloseCode.POLICY), *big])
            # "slow" was queued more than the limit at once: closed as a slow consumer
            for ws in (slow, closing):
                with pytest.raises(ConnectionClosed) as closed:
                    async with asyncio.timeout(WAIT):
                        while True:
                            msg = wire.decode(await ws.recv()).message
                            assert ws is slow or not isinstance(msg, wire.ContactMessage)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == CloseCode.POLICY
            # the relay never held more than the limit and one frame for it
            assert relay.peak_queued <= limit + len(frame) + 200
            # the others go on
            await other.send(wire.encode(wire.Ping(7)))
            while not isinstance(msg := await recv(other), wire.Pong):
                pass
            assert msg.seq == 7

    run(test)
