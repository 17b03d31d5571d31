"""A real Redis started by the tests, through ``redis.asyncio`` (the ``[cluster]`` extra): the
two primitives the cluster design uses (docs/cluster.md), publish/subscribe and keys with an
expiry; and the fixture's own rules (skip or CI failure when missing, bounded stop)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import redistools
from redistools import RedisServer

#: every network wait below is bounded by this many seconds
LIMIT = 5.0


async def _pubsub_round_trip(url: str) -> tuple[int, list[bytes]]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub()
    try:
        async with asyncio.timeout(LIMIT):
            await pubsub.subscribe("node:b")
            confirmed = await pubsub.get_message(timeout=LIMIT)
            assert confirmed is not None and confirmed["type"] == "subscribe"
            receivers = 0
            for i in range(3):
                receivers += await client.publish("node:b", f"frame {i}".encode())
            got: list[bytes] = []
            while len(got) < 3:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=LIMIT)
                if message is not None:
                    got.append(message["data"])
            return receivers, got
    finally:
        await pubsub.aclose()
        await client.aclose()


async def _key_with_expiry(url: str) -> tuple[bytes | None, int, bytes | None, float]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(LIMIT):
            assert await client.set("heartbeat:node-a", b"alive", px=300)
            before = await client.get("heartbeat:node-a")
            ttl = await client.pttl("heartbeat:node-a")
            start = loop.time()
            after = before
            while after is not None:
                await asyncio.sleep(0.05)
                after = await client.get("heartbeat:node-a")
            return before, ttl, after, loop.time() - start
    finally:
        await client.aclose()


def test_publish_subscribe_round_trip_in_order(redis_server: RedisServer) -> None:
    receivers, got = asyncio.run(_pubsub_round_trip(redis_server.url))
    assert receivers == 3  # one subscriber got each of the three
    assert got == [b"frame 0", b"frame 1", b"frame 2"]  # in the order published


def test_a_key_with_an_expiry_disappears_on_time(redis_server: RedisServer) -> None:
    before, ttl, after, waited = asyncio.run(_key_with_expiry(redis_server.url))
    assert before == b"alive"
    assert 0 < ttl <= 300
    assert after is None
    assert waited < 2.0  # gone soon after its 300 ms, not merely at the bound


async def _config(url: str) -> dict[str, str]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        async with asyncio.timeout(LIMIT):
            config: dict[str, str] = await client.config_get("*")
            return config
    finally:
        await client.aclose()


def test_the_server_listens_on_loopback_only_and_writes_nothing(redis_server: RedisServer) -> None:
    assert redis_server.url.startswith("redis://127.0.0.1:")
    config = asyncio.run(_config(redis_server.url))
    assert config["bind"] == "127.0.0.1"
    assert config["port"] == str(redis_server.port)
    assert config["save"] == ""  # no snapshots
    assert config["appendonly"] == "no"
    assert Path(config["dir"]).resolve() == redis_server.directory.resolve()
    assert not [p for p in redis_server.directory.iterdir() if p.name != "redis.log"]


def test_stop_ends_the_process_and_frees_the_port(tmp_path: Path) -> None:
    redistools.require_redis()
    server = RedisServer(tmp_path)
    server.start()
    process = server.process
    assert process is not None and redistools.ping(server.port)
    server.stop()
    assert process.returncode is not None
    assert server.process is None
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), 0.5):
        pass
    server.stop()  # idempotent


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_missing_redis_server_is_a_skip_or_under_ci_a_failure(
    monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setattr(redistools, "REDIS_SERVER", "/nonexistent/redis-server")
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected) as info:
        redistools.require_redis()
    assert "apt-get install -y redis-server" in str(info.value)
