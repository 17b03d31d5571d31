"""Limits per identity and per source across nodes, and a Redis that restarts, with real Redis
and real websocket clients (docs/cluster.md, *Limits across nodes* and *A Redis outage*).

The attacker's view: an identity spread over two nodes gets no more devices, registrations or
messages than on one node (the same refusals), an honest user goes on meanwhile; a node that
lost Redis connects again, publishes itself again and corrects the presence it holds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from adaptertools import run
from adaptertools import until as _until
from clustertools import client, frame, nodes, recv
from redistools import RedisServer, require_redis
from rtcstate_cluster import scripts
from websockets.asyncio.client import ClientConnection, connect

from rtcstate import wire
from rtcstate.wire_conversation import ConvJoin, ConvSendMessage

WAIT = 15.0


async def until(predicate: object, limit: float = WAIT) -> None:
    await _until(predicate, limit)  # type: ignore[arg-type]


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    return redis_server.url


async def attempt(url: str, user: str, device: str) -> tuple[ClientConnection, wire.Message]:
    """Register ``user/device``; the connection and the answer (``Registered`` or the error)."""
    ws = await connect(url, proxy=None, max_size=None)
    await ws.send(wire.encode(wire.Register(user, device)))
    async with asyncio.timeout(WAIT):
        while True:
            msg = (await recv(ws)).message
            if isinstance(msg, wire.Registered | wire.ServerError):
                return ws, msg


def test_an_identity_gets_no_more_devices_or_registrations_over_two_nodes(url: str) -> None:
    async def test() -> None:
        hub = {"presence_group": None, "max_devices": 2, "register_rate": 0.01,
               "register_burst": 3.0}  # fmt: skip
        async with nodes(url, ["a", "b"], **hub) as n:
            first = await client(n["a"].url, "bob", "d1")
            # two registrations racing on two nodes for the last device: exactly one gets it
            (wa, ma), (wb, mb) = await asyncio.gather(
                attempt(n["a"].url, "bob", "d2"), attempt(n["b"].url, "bob", "d3")
            )
            answers = sorted([type(ma).__name__, type(mb).__name__])
            assert answers == ["Registered", "ServerError"]
            refused = ma if isinstance(ma, wire.ServerError) else mb
            assert isinstance(refused, wire.ServerError)
            # the refusal of one relay, word for word
            assert refused.code == "too_many_devices"
            assert refused.info == "bob has 2 devices online (the limit)"
            held = n["a"].relay.hub.devices("bob") + n["b"].relay.hub.devices("bob")
            await until(lambda: len(n["b"].relay.hub.devices("bob")) == 2)
            assert len(set(held)) == 2
            # the registration rate is the identity's, whichever node: its 3 tokens are spent
            # (d1, and d2 or d3; the refused one took none), one is left: the takeover of d1
            # on b takes it, the next one on a is closed as one relay closes it
            again, m = await attempt(n["b"].url, "bob", "d1")
            assert isinstance(m, wire.Registered)
            late, m = await attempt(n["a"].url, "bob", "d1")
            assert isinstance(m, wire.ServerError) and m.code == "reconnecting_too_fast"
            assert m.info == "over 0.01 registrations/s for bob"
            await asyncio.wait_for(late.wait_closed(), WAIT)
            assert late.close_code == 1013
            # an honest user meanwhile
            alice = await client(n["a"].url, "alice")
            await alice.send(frame(wire.ContactMessage(1, "hi"), to="bob/d1"))
            env = await asyncio.wait_for(recv(again), WAIT)
            assert env.message == wire.ContactMessage(1, "hi") and env.sender == "alice/d"
            for ws in (first, wa, wb, again, late, alice):
                await ws.close()

    run(test, limit=60.0)


def test_a_source_gets_no_more_connections_over_two_nodes(url: str) -> None:
    async def test() -> None:
        hub = {"presence_group": None, "max_connections_per_source": 3}
        async with nodes(url, ["a", "b"], **hub) as n:
            on_a = [await client(n["a"].url, "u1"), await client(n["a"].url, "u2")]
            on_b = await client(n["b"].url, "u3")
            with redis.Redis.from_url(url) as r:
                await until(lambda: r.hget(scripts.conns_key("a"), "127.0.0.1") == b"2")
                # node b alone holds 1 of the 3: the 4th connection from the same address
                # opens there, its registration is closed as one relay closes the 4th
                late, m = await attempt(n["b"].url, "u4", "d")
                assert isinstance(m, wire.ServerError) and m.code == "too_many_connections"
                assert m.info == "over 3 connections from 127.0.0.1"
                await asyncio.wait_for(late.wait_closed(), WAIT)
                assert late.close_code == 1013
                await on_a[0].close()  # one fewer on node a: room for one on node b
                await until(lambda: r.hget(scripts.conns_key("a"), "127.0.0.1") == b"1")
            again, m = await attempt(n["b"].url, "u4", "d")
            assert isinstance(m, wire.Registered)
            for ws in (on_a[1], on_b, again):
                await ws.close()

    run(test, limit=60.0)


def test_a_flooder_over_two_nodes_reaches_its_victim_at_its_budget_plus_one_burst(
    url: str,
) -> None:
    rate, burst = 20.0, 10.0

    async def test() -> None:
        # (every client is on 127.0.0.1: the source's own rate is not what is measured)
        hub = {"presence_group": None, "identity_rate_limit": rate, "identity_rate_burst": burst,
               "rate_limit": 1000.0, "rate_burst": 1000.0, "max_strikes": 10**6,
               "source_rate_limit": None}  # fmt: skip
        async with nodes(url, ["a", "b"], **hub) as n:
            victim = await client(n["b"].url, "victim")
            f1 = await client(n["a"].url, "flood", "1")
            f2 = await client(n["b"].url, "flood", "2")
            carol = await client(n["a"].url, "carol")
            await until(lambda: n["a"].relay.hub.devices("victim") == ("victim/d",))
            got: dict[str | None, int] = {}

            async def read() -> None:
                async for data in victim:
                    sender = wire.decode(data).sender
                    got[sender] = got.get(sender, 0) + 1

            async def drain(ws: ClientConnection) -> None:  # the flooders' refusals, read
                async for _ in ws:
                    pass

            async def flood(ws: ClientConnection, until_t: float) -> None:
                i = 0
                while loop.time() < until_t:
                    await ws.send(frame(wire.ContactMessage(i, "x"), to="victim/d"))
                    i += 1
                    await asyncio.sleep(0.002)

            async def honest(until_t: float) -> int:
                sent = 0
                while loop.time() < until_t:
                    await carol.send(frame(wire.ContactMessage(sent, "hello"), to="victim/d"))
                    sent += 1
                    await asyncio.sleep(0.1)
                return sent

            loop = asyncio.get_running_loop()
            reader = asyncio.create_task(read())
            drains = [asyncio.create_task(drain(ws)) for ws in (f1, f2, carol)]
            start = loop.time()
            end = start + 2.0
            *_, sent = await asyncio.gather(flood(f1, end), flood(f2, end), honest(end))
            flooded = loop.time() - start
            await asyncio.sleep(0.5)  # what is in flight arrives
            through = got.get("flood/1", 0) + got.get("flood/2", 0)
            # nominal budget over the flood, plus one burst for the other node
            assert through <= burst + rate * flooded + burst, (through, flooded)
            assert through >= rate * flooded * 0.5  # the flooder is limited, not cut off
            assert got.get("carol/d", 0) == sent  # the honest user lost nothing
            budget = burst + rate * flooded
            print(f"flood over 2 nodes: {through} through in {flooded:.2f} s "
                  f"(budget {budget:.0f}, bound {budget + burst:.0f})")  # fmt: skip
            for t in (reader, *drains):
                t.cancel()
            await asyncio.gather(reader, *drains, return_exceptions=True)
            for ws in (victim, f1, f2, carol):
                await ws.close()

    run(test, limit=60.0)


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this module's own, for restarting it."""
    require_redis()
    server = RedisServer(Path(tmp_path_factory.mktemp("redis-restart")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_restarted_redis_is_joined_again_and_presence_is_corrected(
    own_redis: RedisServer,
) -> None:
    async def test() -> None:
        async with nodes(own_redis.url, ["a", "b"], ttl=0.5, presence_group=None) as n:
            alice = await client(n["a"].url, "alice")
            bob = await client(n["b"].url, "bob")
            carol = await client(n["b"].url, "carol")
            await until(lambda: n["a"].relay.hub.devices("carol") == ("carol/d",))
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, own_redis.stop)
            await until(lambda: n["a"].link.failed is not None and n["b"].link.failed is not None)
            # meanwhile: carol leaves node b, dave arrives on it; each node serves its own
            await carol.close()
            dave = await client(n["b"].url, "dave")
            await loop.run_in_executor(None, own_redis.restart)  # the same port, empty
            lost = loop.time()
            await until(lambda: n["a"].link.reconnects >= 1 and n["b"].link.reconnects >= 1)
            # a cross-node message works again, and nobody's presence stays wrong
            await until(lambda: n["a"].relay.hub.devices("dave") == ("dave/d",))
            await until(lambda: n["a"].relay.hub.devices("carol") == ())
            assert n["a"].relay.hub.devices("bob") == ("bob/d",)
            await alice.send(frame(wire.ContactMessage(1, "back"), to="bob/d"))
            env = await asyncio.wait_for(recv(bob), WAIT)
            assert env.message == wire.ContactMessage(1, "back") and env.sender == "alice/d"
            print(f"cluster whole again {loop.time() - lost:.2f} s after Redis restarted")
            assert n["a"].relay.metrics.redis_reconnects >= 1
            for ws in (alice, bob, dave):
                await ws.close()

    run(test, limit=60.0)


def test_the_room_holder_joined_again_writes_its_rooms_again(own_redis: RedisServer) -> None:
    """A room changed while Redis was away (its write went with the connection), then Redis
    restarted empty: the holder, connected again and still holding the lease, writes every
    room again, so the room would survive its node again (docs/cluster.md, *A Redis outage*)."""

    async def test() -> None:
        async with nodes(own_redis.url, ["solo"], ttl=0.5) as n:
            node = n["solo"]
            field = json.dumps(["default", "standup"])
            ann = await client(node.url, "ann")
            await ann.send(frame(ConvJoin("standup", "j1")))
            with redis.Redis.from_url(own_redis.url) as r:
                await until(lambda: r.hget("rtc:rooms", field) is not None)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, own_redis.stop)
            await until(lambda: node.link.failed is not None)
            await ann.send(frame(ConvSendMessage("standup", "m1", "while away")))
            await until(lambda: getattr(node.relay.hub.rooms.room("default", "standup"),
                                        "seq", 0) == 1)  # fmt: skip
            await loop.run_in_executor(None, own_redis.restart)  # the same port, empty
            await until(lambda: node.link.reconnects >= 1)
            with redis.Redis.from_url(own_redis.url) as r:
                await until(lambda: r.hget("rtc:rooms", field) is not None)
                assert json.loads(r.hget("rtc:rooms", field))["room"]["seq"] == 1
            assert node.link.fence is not None and node.link.fenced == 0
            await ann.close()

    run(test, limit=60.0)
