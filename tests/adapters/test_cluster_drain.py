"""Three ``rtcstate serve --redis URL --node-id N`` processes; one is drained with SIGTERM.

The node runs the same runner as a relay alone: ``SIGTERM`` tells its client to move (1012),
the client moves to the next URL it was given (``register([n1, n2])``), a user on the third
node then calls it there; the drained node leaves the cluster at once (its key and its entries
gone long before its heartbeat would expire), exits 0, and its ``/healthz`` named it by its
node id while its ``/metrics`` counted its Redis round trips. The moving client stays a member
of its moderated room (held by the drained node, the first to take the room lease: the next
holder loads it): nobody hears it leave, its conversation fires no new ``joined``, and its next
message gets the next number. Bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time

import redis
from adaptertools import FAST, Served, run, until
from clustertools import node_processes
from redistools import RedisServer, free_port
from rtcstate_asyncio import FakeMediaNetwork, ReceivedCallInvitation, UserAgent

TTL = 30.0  # a node key expiring by itself would take this long: a leave is seen far sooner
WAIT = 15.0  # every single wait, seconds (the machine may be loaded)


async def scrape(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    async with asyncio.timeout(WAIT):
        data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def sample(page: bytes, name: str) -> float:
    for line in page.decode().splitlines():
        if line.startswith(f"rtcstate_{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not on the page")


def test_sigterm_drains_a_cluster_node_its_client_moves_and_is_called_there(
    redis_server: RedisServer,
) -> None:
    url = redis_server.url
    metrics = free_port()
    args = ["--heartbeat", "0.2", "--node-ttl", str(TTL), "--drain-timeout", "20"]
    more = {"n1": ["--metrics-port", str(metrics)]}
    with node_processes(url, ["n1", "n2", "n3"], *args, **more) as n:
        run(lambda: _scenario(url, n, metrics), limit=120)
    out = n["n1"].output
    assert "relay draining: 1 connections told to move" in out
    assert "relay drained: every client left" in out
    assert "node n1 left the cluster" in out


async def _scenario(redis_url: str, n: dict[str, Served], metrics: int) -> None:
    for node in n.values():
        await node.ready()
    n1, n1_url, n2_url, n3_url = n["n1"].proc, n["n1"].url, n["n2"].url, n["n3"].url
    net = FakeMediaNetwork()
    alice_ua = UserAgent("alice", media=net.backend("alice"), options=FAST)
    carol_ua = UserAgent("carol", media=net.backend("carol"), options=FAST)
    alice = await alice_ua.register([n1_url, n2_url], timeout=WAIT)
    carol = await carol_ua.register(n3_url, timeout=WAIT)
    try:
        assert alice.core.connection.url == n1_url
        await until(lambda: carol.get_contact("alice").is_online, WAIT)
        # a moderated room: carol (on n3) creates it, alice (on n1) is let in
        room = carol.get_conversation("room", moderated=True)
        await asyncio.wait_for(room.join(), WAIT)
        mine = alice.get_conversation("room")
        joining = asyncio.ensure_future(mine.join())
        await until(lambda: "alice/default" in room.get_waiting_room_contacts(), WAIT)
        await room.allow_entry("alice")
        await asyncio.wait_for(joining, WAIT)
        assert await asyncio.wait_for(mine.send_message("before"), WAIT) == 1
        # the node names itself by its id and has counted its round trips to Redis
        status, body = await scrape(metrics, "/healthz")
        health = json.loads(body)
        assert status == 200 and health["node"] == "n1" and health["registered"] == 1
        page = (await scrape(metrics, "/metrics"))[1]
        assert sample(page, "redis_round_trips_total") > 0
        with redis.Redis.from_url(redis_url) as r:
            assert r.exists("rtc:alive:n1") == 1
            assert r.hget("rtc:dir:default", "alice/default").startswith(b"n1\n")
        back = alice.wait_for("reconnection", WAIT)
        started = time.monotonic()
        n1.send_signal(signal.SIGTERM)
        await back
        assert alice.core.connection.url == n2_url
        code = await asyncio.to_thread(n1.wait, WAIT)
        assert code == 0
        assert time.monotonic() - started < 10.0  # no drain timeout (20 s), no TTL (30 s)
        with redis.Redis.from_url(redis_url) as r:
            # left at once: no key, not a member, no entry (alice is n2's now)
            assert r.exists("rtc:alive:n1") == 0
            assert r.smembers("rtc:nodes") == {b"n2", b"n3"}
            assert r.scard("rtc:addrs:n1") == 0
            await until(
                lambda: (r.hget("rtc:dir:default", "alice/default") or b"").startswith(b"n2\n"),
                WAIT,
            )
        # carol, on the third node, reaches alice on her new node
        incoming = alice.wait_for("incomingCall", WAIT)
        call = carol.get_contact("alice").call()
        accepted = call.wait_for("accepted", WAIT)
        invitation = await incoming
        assert isinstance(invitation, ReceivedCallInvitation)
        invitation.accept()
        await accepted
        assert not call.fired("error")
        # alice moved with her place in the room
        await until(mine.is_joined, WAIT)
        assert len(mine.fired("joined")) == 1 and mine.fired("left") == []
        heard = room.events("message")
        assert await asyncio.wait_for(mine.send_message("after"), WAIT) == 2
        assert (await heard.next(WAIT)).payload["content"] == "after"
        assert room.fired("contactLeft") == []
    finally:
        for ua in (alice_ua, carol_ua):
            if ua.session is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ua.unregister(), WAIT)
