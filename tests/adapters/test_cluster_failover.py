"""The room authority node dies mid-conversation; its rooms live on (three nodes, real Redis).

Three in-process nodes on one real Redis (127.0.0.1); the users are asyncio ``UserAgent``s.
A moderated room with members on every node, a waiter, a ban and persistent data; then the
room authority's node dies abruptly (its link stops without leaving the cluster, its sockets
are cut): the next node to take the lease loads the rooms from Redis, members on the other
nodes keep talking (the seq continues), the moderator keeps moderating (it admits the waiter),
the ban and the data hold, and a member of the dead node that reconnects to another node (its
second URL) is still a member: its conversation fires no new ``joined`` nor ``left`` and the
others hear no leave. Last, fencing: once another node holds the lease (with a new fencing
number), the deposed holder's writes are refused and it gives the rooms up. One cluster, one
test (cheap); every wait bounded.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis
from adaptertools import FAST, run, until
from clustertools import client, frame, nodes
from redistools import RedisServer
from rtcstate_asyncio import ConversationError, FakeMedia, FakeMediaNetwork, UserAgent
from rtcstate_cluster import ClusterNode

from rtcstate.wire_conversation import ConvJoin, ConvSendMessage

WAIT = 15.0
ROOM = "standup"


async def kill(node: ClusterNode) -> None:
    """``node`` dies: no more heartbeats or writes, no leaving; its clients' sockets cut."""
    node.link.abandon()  # no heartbeat, no write, no reconnection; closing it does not leave
    for peer in list(node.relay._peers.values()):
        peer.ws.transport.abort()
    await node.close()


def test_the_room_authority_dies_and_the_moderated_room_lives_on(
    redis_server: RedisServer,
) -> None:
    run(lambda: _scenario(redis_server.url), limit=120.0)


async def _scenario(url: str) -> None:
    net = FakeMediaNetwork()
    uas: dict[str, UserAgent] = {}
    # a lease of 1.5 s: a loaded machine that delays a heartbeat does not lose it meanwhile
    async with nodes(url, ["a", "b", "c"], ttl=1.5, room_grace=10.0) as n:
        assert all(x.relay.hub.room_authority == "a" for x in n.values())  # a heartbeat first

        async def user(name: str, *urls: str) -> Any:
            ua = uas[name] = UserAgent(name, media=FakeMedia(net, name), options=FAST)
            session = await ua.register(list(urls), timeout=WAIT)
            return session.get_conversation(ROOM, moderated=True)

        mod = await user("mod", n["b"].url)
        guest = await user("guest", n["c"].url)
        local = await user("local", n["a"].url, n["b"].url)  # on the authority's node
        waiter = await user("waiter", n["c"].url)
        eve = await user("eve", n["b"].url)
        try:
            assert await asyncio.wait_for(mod.join(), WAIT) == {"role": "moderator"}
            for conv, name in ((guest, "guest"), (local, "local"), (eve, "eve")):
                joining = asyncio.ensure_future(conv.join())
                await until(lambda name=name: f"{name}/default" in mod.get_waiting_room_contacts(),
                            WAIT)  # fmt: skip
                await mod.allow_entry(name)
                await asyncio.wait_for(joining, WAIT)
            waiting = asyncio.ensure_future(waiter.join())
            await until(lambda: "waiter/default" in mod.get_waiting_room_contacts(), WAIT)
            await mod.eject("eve")
            assert await mod.set_data({"topic": "failover"}) == 1
            assert await mod.send_message("one") == 1
            assert await guest.send_message("two") == 2
            assert await local.send_message("three") == 3
            with redis.Redis.from_url(url) as r:
                record = json.loads(r.hget("rtc:rooms", json.dumps(["default", ROOM])))
            assert record["room"]["seq"] == 3 and [m[0] for m in record["room"]["members"]] == [
                "mod/default", "guest/default", "local/default"
            ]  # fmt: skip
            assert [w[0] for w in record["room"]["waiting"]] == ["waiter/default"]
            assert [b[0] for b in record["bans"]] == ["eve"]

            await kill(n.pop("a"))
            survivors = (n["b"].relay.hub, n["c"].relay.hub)
            await until(lambda: survivors[0].room_authority == survivors[1].room_authority
                        in ("b", "c"), WAIT)  # fmt: skip
            holder = n[str(survivors[0].room_authority)]
            assert holder.link.fence is not None and holder.link.fence >= 2
            # local moved to b (its second URL) and is still a member, without a new join
            with redis.Redis.from_url(url) as r:
                await until(lambda: (r.hget("rtc:dir:default", "local/default") or b"")
                            .startswith(b"b\n"), WAIT)  # fmt: skip
            await until(local.is_joined, WAIT)
            assert local.fired("joined") == [local.fired("joined")[0]]
            assert local.fired("left") == []
            # members on the other nodes keep talking; the seq continues
            assert await asyncio.wait_for(guest.send_message("four"), WAIT) == 4
            assert await asyncio.wait_for(local.send_message("five"), WAIT) == 5
            heard = mod.events("message")
            assert await asyncio.wait_for(guest.send_message("six"), WAIT) == 6
            got = await heard.next(WAIT)
            assert got.payload["content"] == "six"
            assert "local/default" not in [p for p in mod.fired("contactLeft")]
            # the moderator keeps moderating; the ban and the data hold
            await mod.allow_entry("waiter")
            assert await asyncio.wait_for(waiting, WAIT) == {"role": "contributor"}
            try:
                await asyncio.wait_for(eve.join(), WAIT)
                raise AssertionError("a banned user joined again")
            except ConversationError:
                pass
            state = await asyncio.wait_for(guest.get_data(), WAIT)
            assert state["data"] == {"topic": "failover"} and state["version"] == 1

            # fencing: another node takes the lease; the deposed holder's writes are refused
            with redis.Redis.from_url(url) as r:
                r.set("rtc:rooms:authority", "z")
                r.incr("rtc:rooms:fence")
                before = r.hget("rtc:rooms", json.dumps(["default", ROOM]))
                fenced = holder.link.fenced
                await asyncio.wait_for(guest.send_message("seven"), WAIT)  # (the holder's)
                await until(lambda: holder.link.fenced > fenced, WAIT)
                assert r.hget("rtc:rooms", json.dumps(["default", ROOM])) == before
                await until(lambda: holder.relay.hub.room_authority == "z", WAIT)
                assert holder.relay.hub.rooms.rooms() == () and holder.link.fence is None
        finally:
            for ua in uas.values():
                if ua.session is not None:
                    await asyncio.wait_for(ua.unregister(), WAIT)


def test_a_lapsed_lease_taken_again_by_its_holder_writes_what_was_refused(
    redis_server: RedisServer,
) -> None:
    """The lease lapses (a late heartbeat: here the fence moves under the holder) and the holder
    takes it again with the very next fencing number: its refused write is written again, its
    rooms kept (nobody held them in between)."""

    async def test() -> None:
        url = redis_server.url
        async with nodes(url, ["solo"], ttl=30.0) as n:
            node = n["solo"]
            link = node.link
            # the heartbeats task's next heartbeat waits past the test (the test runs them by
            # hand below; ``ttl`` is 30 s)
            beat, me = link._beat, asyncio.current_task()

            async def held(*args: Any, **kwargs: Any) -> Any:
                if asyncio.current_task() is not me:
                    await asyncio.Event().wait()
                return await beat(*args, **kwargs)

            link._beat = held
            ws = await client(node.url, "ann")
            await ws.send(frame(ConvJoin(ROOM, "j1")))
            field = json.dumps(["default", ROOM])
            with redis.Redis.from_url(url) as r:
                await until(lambda: r.hget("rtc:rooms", field) is not None, WAIT)
                fence = link.fence
                assert fence is not None and int(r.get("rtc:rooms:fence")) == fence
                r.incr("rtc:rooms:fence")  # as if the lease had lapsed and been taken again
                await ws.send(frame(ConvSendMessage(ROOM, "m1", "hello")))
                await until(lambda: link.fenced == 1, WAIT)
                assert json.loads(r.hget("rtc:rooms", field))["room"]["seq"] == 0
                await link._heartbeat_once()
                assert link.fence == fence + 1
                await until(lambda: json.loads(r.hget("rtc:rooms", field))["room"]["seq"] == 1,
                            WAIT)  # fmt: skip
            view = node.relay.hub.rooms.room("default", ROOM)
            assert view is not None and view.seq == 1
            await ws.close()

    run(test, limit=60.0)
