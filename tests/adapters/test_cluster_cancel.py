"""A cluster node cancelled while it starts or while it closes leaves nothing behind: no task
(a task that outlives its node keeps a loop such as the heartbeat alive, and ``asyncio.run``
then waits for it forever), no Redis connection. The cancellation is swept over the steps of
the event loop that a start and a close take, on a real Redis; every trial is bounded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from adaptertools import run, until
from clustertools import flush
from redistools import RedisServer
from rtcstate_cluster import ClusterNode, start_node

from rtcstate.hub import ClusterHub

#: at most this many trials per sweep (the stride grows past the first steps)
TRIALS = 40


def _steps() -> list[int]:
    """Cancellation points, in loop iterations: every one at first, then sparser."""
    points = list(range(12))
    while len(points) < TRIALS:
        points.append(points[-1] + len(points) // 6)
    return points


async def _cancel_after(work: Callable[[], Awaitable[Any]], steps: int) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(work())
    for _ in range(steps):
        if task.done():
            break
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5.0)
    assert done, f"a cancelled {work} did not end within 5 s"
    return task


async def _none_left(before: set[asyncio.Task[Any]], me: Any, where: str) -> None:
    """Every task started since ``before`` ends within a bound (what a close cancelled midway
    set going, such as the websocket server's own close, finishes by itself)."""
    with contextlib.suppress(TimeoutError):
        await until(lambda: not asyncio.all_tasks() - before - {me}, 3.0)
    assert asyncio.all_tasks() - before - {me} == set(), where


def _clients(r: redis.Redis) -> int:
    return len(r.client_list())


def test_a_node_cancelled_mid_start_or_mid_close_leaves_no_task_and_no_connection(
    redis_server: RedisServer,
) -> None:
    url = redis_server.url
    flush(url)
    hub = {"heartbeat": 0.05, "ttl": 0.5}

    async def start() -> ClusterNode:
        return await start_node(ClusterHub(node="a"), url, **hub)

    async def test() -> None:
        me = asyncio.current_task()
        with redis.Redis.from_url(url) as r:
            idle = _clients(r)
            cancelled = {"start": 0, "close": 0}
            for steps in _steps():
                before = asyncio.all_tasks()
                # mid-start
                task = await _cancel_after(start, steps)
                if task.cancelled():
                    cancelled["start"] += 1
                else:
                    await task.result().close()
                await _none_left(before, me, f"start, step {steps}")
                await until(lambda: _clients(r) == idle)
                # mid-close: the link's loops (heartbeat, reader, writer) end all the same
                node = await start()
                await asyncio.sleep(0.06)  # a heartbeat is due: its timer is armed
                task = await _cancel_after(node.close, steps + 1)  # (begun)
                cancelled["close"] += task.cancelled()
                await _none_left(before, me, f"close, step {steps}")
                assert node.relay.cluster is None
                await until(lambda: _clients(r) == idle)
            # the sweep did cut both paths in the middle, not only before or after them
            assert cancelled["start"] >= 5 and cancelled["close"] >= 3, cancelled

    run(test, limit=60)
