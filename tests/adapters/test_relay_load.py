"""Load, bounded in time: 10,000 registered users on one relay (socket-less hub connections, plus
a few real websockets), joins and leaves in churn, and a newcomer's registration time against
the same with 10 users (goal: ratio <= 2). Figures go to docs/security.md."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

from adaptertools import run
from rtcstate_asyncio import serve
from securitytools import recv
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtcstate import wire
from rtcstate.hub import Hub
from rtcstate.wire import Envelope

GROUPS = 500  # 20 users per presence group


def populate(hub: Hub, n: int) -> None:
    """``n`` socket-less users, each subscribed to two contacts and one group it is in."""
    for i in range(n):
        conn = f"load{i}"
        hub.connect(conn, 0.0)
        group = f"g{i % GROUPS}"
        for msg in (
            wire.Register(f"u{i}", "d"),
            wire.PresenceSubscribe([f"u{(i + 1) % n}", f"u{(i + 2) % n}"], [group]),
            wire.PresenceGroups([group], []),
        ):
            hub.receive_envelope(conn, Envelope(msg), 0.0)


def newcomer(hub: Hub, k: int) -> None:
    conn = f"new{k}"
    hub.connect(conn, 1.0)
    hub.receive_envelope(conn, Envelope(wire.Register(f"n{k}", "d")), 1.0)
    # its contacts only: the work is the same whatever the number of users online
    hub.receive_envelope(conn, Envelope(wire.PresenceSubscribe(["u1", "u2", "u3"], [])), 1.0)
    hub.disconnect(conn, 1.0)


def per_newcomer(hub: Hub) -> float:
    """Best of 5 batches of 200 newcomers, seconds per newcomer (sans-I/O)."""
    best = float("inf")
    for batch in range(5):
        start = time.perf_counter()
        for k in range(200):
            newcomer(hub, batch * 1000 + k)
        best = min(best, (time.perf_counter() - start) / 200)
    return best


def test_a_newcomer_registers_as_fast_with_10000_users_online_as_with_10() -> None:
    small, large = Hub(presence_group=None), Hub(presence_group=None)
    populate(small, 10)
    start = time.perf_counter()
    populate(large, 10_000)
    setup = time.perf_counter() - start
    assert len(large.devices("u9999")) == 1
    t_small, t_large = per_newcomer(small), per_newcomer(large)
    ratio = t_large / t_small
    print(f"\nhub: 10,000 users set up in {setup:.2f} s; a newcomer costs {t_small * 1e6:.0f} µs "
          f"with 10 users, {t_large * 1e6:.0f} µs with 10,000 (ratio {ratio:.2f})")  # fmt: skip
    assert ratio <= 2.0


def test_real_newcomers_under_churn_with_10000_users() -> None:
    async def registration_times(users: int) -> tuple[float, int]:
        # (the socket-less users were registered at hub time 0, far before the relay's clock:
        # without an idle timeout the relay's first tick does not close them all as idle)
        hub = Hub(presence_group=None, idle_timeout=None)
        populate(hub, users)
        churned = 0
        # a real websocket watches churning users: it hears their presence
        async with (
            await serve("127.0.0.1", 0, hub=hub) as relay,
            connect(relay.url, proxy=None) as watcher,
        ):
            await watcher.send(wire.encode(wire.Register("watcher", "d")))
            await recv(watcher)
            await watcher.send(wire.encode(wire.PresenceSubscribe([], ["g3"])))
            stop = asyncio.Event()

            async def listen() -> int:
                heard = 0
                with contextlib.suppress(ConnectionClosed):
                    async for data in watcher:
                        message = wire.decode(data).message
                        heard += isinstance(message, wire.Presence | wire.PresenceBatch)
                return heard

            listener = asyncio.create_task(listen())

            async def churn() -> None:
                nonlocal churned
                loop = asyncio.get_running_loop()
                i = 0
                while not stop.is_set():
                    for _ in range(10):  # 10 users leave and come back every 10 ms
                        conn = f"load{i % users}"
                        now = loop.time()
                        relay._apply(hub.receive_envelope(conn, Envelope(wire.Unregister()), now))
                        register = Envelope(wire.Register(f"u{i % users}", "d"))
                        relay._apply(hub.receive_envelope(conn, register, now))
                        groups = Envelope(wire.PresenceGroups([f"g{i % users % GROUPS}"], []))
                        relay._apply(hub.receive_envelope(conn, groups, now))
                        i += 1
                        churned += 1
                    await asyncio.sleep(0.01)

            task = asyncio.create_task(churn())
            times = []
            for k in range(20):
                start = time.perf_counter()
                async with connect(relay.url, proxy=None) as ws:
                    await ws.send(wire.encode(wire.Register(f"new{k}", "d")))
                    await ws.send(wire.encode(wire.PresenceSubscribe(["u1", "u2"], [])))
                    assert isinstance(await recv(ws), wire.Registered)
                    assert isinstance(await recv(ws), wire.PresenceBatch)
                    times.append(time.perf_counter() - start)
            stop.set()
            await task
            await watcher.close()
            heard = await listener
            assert heard > 0  # churning members of g3 were heard
        return statistics.median(times), churned

    async def test() -> None:
        small, _ = await registration_times(10)
        large, churned = await registration_times(10_000)
        ratio = large / small
        print(f"\nrelay: a real newcomer registers in {small * 1e3:.1f} ms with 10 users, "
              f"{large * 1e3:.1f} ms with 10,000 in churn ({churned} leaves and joins); "
              f"ratio {ratio:.2f}")  # fmt: skip
        # the goal (<= 2, measured 1.04 on a quiet machine: docs/security.md) is a figure for the
        # notes; over real sockets on a loaded 2-core CI machine the wall-clock ratio wanders, so
        # the test guards what matters with margin: a newcomer's cost does not grow with the
        # number of users (an O(n) registration would be hundreds of times slower here)
        assert ratio <= 4.0

    run(test, limit=60)


def test_real_newcomers_with_10000_users_all_in_the_default_group() -> None:
    """apiRTC's default (everyone joins and hears "default") with coalesced presence: a real
    newcomer registers as fast as with 10 users, then reads the whole list in bounded batches
    (never closed as a slow consumer) while users leave and join."""

    async def newcomers(users: int) -> tuple[float, int, int]:
        hub = Hub(presence_interval=0.1, idle_timeout=None, register_rate=None,
                  identity_rate_limit=None, max_queue_bytes=256 * 1024)  # fmt: skip
        for i in range(users):  # socket-less users, all in "default"
            conn = f"load{i}"
            hub.connect(conn, 0.0)
            hub.receive_envelope(conn, Envelope(wire.Register(f"u{i}", "d")), 0.0)
            hub.queued(conn, hub.feed_step + 1, 0.0)  # a backlog: not fed (they do not read)
        hub.tick(1.0)
        churned = 0
        async with await serve("127.0.0.1", 0, hub=hub) as relay:
            stop = asyncio.Event()

            async def churn() -> None:
                nonlocal churned
                loop = asyncio.get_running_loop()
                i = 0
                while not stop.is_set():
                    for _ in range(10):  # 10 users leave and come back every 10 ms
                        conn, now = f"load{i % users}", loop.time()
                        relay._apply(hub.receive_envelope(conn, Envelope(wire.Unregister()), now))
                        register = Envelope(wire.Register(f"u{i % users}", "d"))
                        relay._apply(hub.receive_envelope(conn, register, now))
                        i += 1
                        churned += 1
                    await asyncio.sleep(0.01)

            task = asyncio.create_task(churn())
            times = []
            batches = 0
            for k in range(10):
                start = time.perf_counter()
                async with connect(relay.url, proxy=None, max_size=hub.client_frame_limit) as ws:
                    await ws.send(wire.encode(wire.Register(f"new{k}", "d")))
                    assert isinstance(await recv(ws), wire.Registered)
                    times.append(time.perf_counter() - start)
                    heard: set[str] = set()
                    async with asyncio.timeout(30):
                        while len(heard) < users:
                            msg = wire.decode(await ws.recv()).message
                            if isinstance(msg, wire.PresenceBatch):
                                batches += 1
                                assert len(wire.encode(msg)) <= hub.client_frame_limit
                                heard.update(a.partition("/")[0] for a in msg.devices)
                                heard.difference_update(msg.left or [])
                                heard.discard(f"new{k}")
            stop.set()
            await task
            assert relay.peak_queued <= hub.max_queue_bytes
        return statistics.median(times), churned, batches

    async def test() -> None:
        small, _, _ = await newcomers(10)
        large, churned, batches = await newcomers(10_000)
        ratio = large / small
        print(f"\nrelay, all in 'default' (coalesced): a real newcomer registers in "
              f"{small * 1e3:.1f} ms with 10 users, {large * 1e3:.1f} ms with 10,000 in churn "
              f"({churned} leaves and joins), ratio {ratio:.2f}; the list came in "
              f"{batches / 10:.0f} batches per newcomer")  # fmt: skip
        # every newcomer read the whole list (the loop above), in bounded batches, and was
        # never closed as a slow consumer. The wall-clock ratio is a figure, not asserted: under
        # apiRTC's default every join is told to all 10,000 subscribers at the next flush, and
        # that fan-out shares the relay's one event loop with the newcomer's registration (the
        # hub's own cost of a registration is flat: test_hub_presence_coalesced.py)
        assert batches >= 10 * 2

    run(test, limit=120)
