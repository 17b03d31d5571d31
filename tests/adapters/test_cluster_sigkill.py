"""Three ``rtcstate serve --redis URL --node-id N`` processes; one is SIGKILLed mid-call.

Media is peer to peer (the fake backend, in this process): the call between alice (node n1)
and bob (node n3) goes on when n3 dies; the survivors notice n3's silence (heartbeat expiry),
one of them reaps it, once, and carol (node n2) is told bob is offline. A member of a room
held by the authority (n1) whose node died leaves the room once its grace (``--room-grace``,
short here) is over. Bounded in time.
"""

from __future__ import annotations

import asyncio
import signal

import redis
from adaptertools import FAST, Served, run, until
from clustertools import client, frame, node_processes
from redistools import RedisServer
from rtcstate_asyncio import FakeMediaNetwork, UserAgent

from rtcstate import wire
from rtcstate.wire_conversation import ConvContactLeft, ConvJoin, ConvJoined

TTL = 0.6
WAIT = 15.0  # every single wait, seconds (the machine may be loaded)


def _offline(m: wire.Message, user: str) -> bool:
    return isinstance(m, wire.Presence) and m.contact == user and not m.online


def test_a_node_sigkilled_mid_call_the_call_goes_on_and_presence_is_corrected(
    redis_server: RedisServer,
) -> None:
    url = redis_server.url
    args = ["--heartbeat", "0.1", "--node-ttl", str(TTL), "--presence-interval", "0",
            "--room-grace", "0.5"]  # fmt: skip
    with node_processes(url, ["n1", "n2", "n3"], *args) as n:
        run(lambda: _scenario(url, n), limit=150)


async def _scenario(redis_url: str, n: dict[str, Served]) -> None:
    for node in n.values():
        await node.ready()
    urls = {name: node.url for name, node in n.items()}
    victim = n["n3"].proc
    # n1 heartbeats first: it holds the room authority
    with redis.Redis.from_url(redis_url) as r:
        await until(lambda: r.get("rtc:rooms:authority") is not None, 10.0)
        authority = r.get("rtc:rooms:authority").decode()
    assert authority in urls
    net = FakeMediaNetwork()
    alice_ua = UserAgent("alice", media=net.backend("alice"), options=FAST)
    bob_ua = UserAgent("bob", media=net.backend("bob"), options=FAST)
    alice = await alice_ua.register(urls["n1"], timeout=WAIT)
    bob = await bob_ua.register(urls["n3"], timeout=WAIT)
    carol = await client(urls["n2"], "carol")
    heard: list[wire.Message] = []

    async def read() -> None:
        async for data in carol:
            heard.append(wire.decode(data).message)

    reader = asyncio.create_task(read())
    await until(lambda: alice.get_contact("bob").is_online, 10.0)
    # carol and bob in a room (the authority is on whichever node won the lease)
    await carol.send(frame(ConvJoin("room", "j1")))
    await until(lambda: any(isinstance(m, ConvJoined) for m in heard))
    bob_raw = await client(urls["n3"], "bob", "raw")
    await bob_raw.send(frame(ConvJoin("room", "j2")))
    await until(lambda: any(
        isinstance(m, wire.Presence) and m.contact == "bob" and len(m.devices) == 2 for m in heard
    ) and any(type(m).__name__ == "ConvContactJoined" for m in heard))  # fmt: skip
    bob.on("incomingCall", lambda invitation: invitation.accept())
    call = alice.get_contact("bob").call()
    await call.wait_for("accepted", WAIT)
    victim.send_signal(signal.SIGKILL)  # bob's node, mid-call, mid-conversation
    # the survivors reap n3: carol hears bob leave, and leave the room
    await until(lambda: any(_offline(m, "bob") for m in heard), 10.0)
    if authority != "n3":
        await until(lambda: any(isinstance(m, ConvContactLeft) for m in heard))
    with redis.Redis.from_url(redis_url) as r:
        assert r.hgetall("rtc:dir:default").keys() == {b"alice/default", b"carol/d"}
        assert r.smembers("rtc:nodes") == {b"n1", b"n2"}
    # media is peer to peer: the call is still up on alice's side
    assert not call.fired("hangup")
    assert "accepted" in call.fired()
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    await carol.close()
    await alice_ua.unregister()
    bob_ua_session = bob_ua.session
    if bob_ua_session is not None:
        await asyncio.wait_for(bob_ua.unregister(), WAIT)
