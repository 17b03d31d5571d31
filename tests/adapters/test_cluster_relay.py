"""Three relay nodes through a real Redis (127.0.0.1), real websocket clients.

The nodes are in-process ``Relay`` objects, each with its own Redis connections (what
``rtcstate serve --redis URL --node-id N`` runs); the users are apiRTC-shaped ``UserAgent``s
with the fake media backend (signalling through the nodes, media in process) or raw wire
clients. Every wait is bounded, every test checks it leaves no task behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis
from adaptertools import FAST, run
from adaptertools import until as _until
from clustertools import client, frame, nodes, recv
from redistools import RedisServer
from rtcstate_asyncio import FakeMediaNetwork, UserAgent
from rtcstate_asyncio.api import ReceivedDataChannelInvitation, ReceivedFileTransferInvitation
from rtcstate_cluster import frames, scripts

from rtcstate import wire
from rtcstate.codes import HangupFrom, HangupReason, InvitationStatus
from rtcstate.hub import ClusterHub
from rtcstate.wire_conversation import (
    ConvAllow,
    ConvEject,
    ConvEjected,
    ConvJoin,
    ConvJoined,
    ConvJoinRequest,
    ConvMessage,
    ConvSendMessage,
    ConvWaiting,
)

ABC = ["a", "b", "c"]
#: every single wait, seconds: generous, the machine running these may be shared and loaded
WAIT = 15.0


async def until(predicate: Callable[[], bool], limit: float = WAIT) -> None:
    await _until(predicate, limit)


_TAKE = HangupReason.CALL_TAKE_ON_OTHER_DEVICE.value


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    return redis_server.url


def test_call_data_channel_and_file_between_users_on_two_nodes(url: str) -> None:
    async def test() -> None:
        net = FakeMediaNetwork()
        async with nodes(url, ABC) as n:
            alice_ua = UserAgent("alice", media=net.backend("alice"), options=FAST)
            bob_ua = UserAgent("bob", media=net.backend("bob"), options=FAST)
            alice = await alice_ua.register(n["a"].url, timeout=WAIT)
            bob = await bob_ua.register(n["b"].url, timeout=WAIT)
            await until(lambda: alice.get_contact("bob").is_online)
            # a call
            bob.on("incomingCall", lambda invitation: invitation.accept())
            call = alice.get_contact("bob").call()
            await call.wait_for("accepted", WAIT)
            call.hangup()
            await call.wait_for("hangup", WAIT)
            # a data channel
            invited = bob.wait_for("dataChannelInvitation", WAIT)
            mine = alice.get_contact("bob").start_data_channel("chat")
            invitation = await invited
            assert isinstance(invitation, ReceivedDataChannelInvitation)
            theirs = invitation.accept()
            await mine.wait_for("opened", WAIT)
            mine.send_data("over two nodes")
            got = await theirs.wait_for("dataReceived", WAIT)
            assert got["data"] == "over two nodes"
            # a file
            offered = bob.wait_for("fileTransferInvitation", WAIT)
            data = bytes(range(256)) * 400
            contact = alice.get_contact("bob")
            sent_ok = contact.wait_for("fileSentSuccessfully", WAIT)
            contact.send_file(data, name="f.bin", type="application/octet-stream")
            received = await offered
            assert isinstance(received, ReceivedFileTransferInvitation)
            result = await asyncio.wait_for(received.accept(), WAIT)
            assert result["file"] == data
            await sent_ok
            # both nodes carried it: the signalling crossed Redis both ways
            assert n["a"].link.published > 0 and n["b"].link.published > 0
            await alice_ua.unregister()
            await bob_ua.unregister()

    run(test, limit=80.0)


def test_presence_across_nodes_is_scoped_by_tenant_and_corrected_on_leave(url: str) -> None:
    async def test() -> None:
        from rtcstate.identity import Identity

        def verify(register: wire.Register, now: float) -> Identity:
            return Identity(register.user, tenant=register.token or "t1", verified=True)

        async with nodes(url, ABC, verifier=verify) as n:
            alice = await client(n["a"].url, "alice")
            bob_ws = await client(n["b"].url, "bob")
            # another tenant, on the third node: never seen
            other = await client_with_token(n["c"].url, "eve", "t2")
            seen: list[wire.Presence] = []
            async with asyncio.timeout(WAIT):
                while not seen:
                    env = await recv(alice)
                    if isinstance(env.message, wire.Presence):
                        seen.append(env.message)
            assert seen == [wire.Presence("bob", True, ["bob/d"])]
            await bob_ws.close()
            async with asyncio.timeout(WAIT):
                while True:
                    env = await recv(alice)
                    if isinstance(env.message, wire.Presence):
                        assert env.message == wire.Presence("bob", False, [])
                        break
            hub_c = n["c"].relay.hub
            assert hub_c.devices("alice", "t1") == ("alice/d",) and hub_c.devices("bob", "t1") == ()
            assert (
                hub_c.devices("alice", "t2") == () and n["a"].relay.hub.devices("eve", "t1") == ()
            )
            # eve (tenant t2) heard nobody of t1, alice nobody of t2
            await other.send(frame(wire.ContactMessage(1, "x"), to="alice/d"))
            env = await asyncio.wait_for(recv(other), WAIT)
            assert (
                isinstance(env.message, wire.ServerError) and env.message.code == "user_not_found"
            )
            for ws in (alice, other):
                await ws.close()

    run(test, limit=60.0)


async def client_with_token(url: str, user: str, token: str) -> Any:
    from websockets.asyncio.client import connect

    ws = await connect(url, proxy=None)
    await ws.send(wire.encode(wire.Register(user, "d", token)))
    env = await recv(ws)
    assert isinstance(env.message, wire.Registered)
    return ws


def test_a_forked_call_across_nodes_the_first_answer_wins(url: str) -> None:
    async def test() -> None:
        net = FakeMediaNetwork()
        async with nodes(url, ABC) as n:
            alice_ua = UserAgent("alice", media=net.backend("alice"), options=FAST)
            phone = UserAgent("bob", device="phone", media=net.backend("bob-phone"), options=FAST)
            laptop = UserAgent("bob", device="laptop", media=net.backend("bob-lap"), options=FAST)
            alice = await alice_ua.register(n["a"].url, timeout=WAIT)
            bob_phone = await phone.register(n["b"].url, timeout=WAIT)
            bob_laptop = await laptop.register(n["c"].url, timeout=WAIT)
            await until(lambda: n["a"].relay.hub.devices("bob") == ("bob/laptop", "bob/phone"))
            rang_laptop = bob_laptop.wait_for("incomingCall", WAIT)
            rang_phone = bob_phone.wait_for("incomingCall", WAIT)
            call = alice.get_contact("bob").call()
            lost, won = await rang_laptop, await rang_phone
            won.accept()
            await call.wait_for("accepted", WAIT)
            # the laptop's invitation ends with the seed's bye, sent by node a (apiRTC makes
            # "call take on other device" an expiry of the invitation)
            await until(lambda: lost.status is InvitationStatus.INVITATION_STATUS_EXPIRED)
            assert lost.core.call is not None
            assert lost.core.call._end == (HangupFrom.REMOTE, _TAKE)
            assert not lost.fired("accepted")
            call.hangup()
            await call.wait_for("hangup", WAIT)
            for ua in (alice_ua, phone, laptop):
                await ua.unregister()

    run(test, limit=80.0)


def test_a_moderated_conversation_with_members_on_three_nodes(url: str) -> None:
    async def test() -> None:
        from rtcstate.identity import Identity

        def verify(register: wire.Register, now: float) -> Identity:
            roles = frozenset({"moderator"}) if register.token == "mod" else frozenset()
            return Identity(register.user, roles=roles, verified=True)

        async with nodes(url, ABC, verifier=verify, presence_group=None) as n:
            await until(lambda: all(x.relay.hub.room_authority == "a" for x in n.values()) or
                        len({x.relay.hub.room_authority for x in n.values()}) == 1)  # fmt: skip
            mod = await client_with_token(n["b"].url, "mod", "mod")
            guest = await client(n["c"].url, "guest")
            local = await client(n["a"].url, "local")
            clients = {"mod": mod, "guest": guest, "local": local}
            inbox: dict[str, list[wire.Message]] = {k: [] for k in clients}

            async def pump(name: str) -> None:
                async for data in clients[name]:
                    inbox[name].append(wire.decode(data).message)

            pumps = [asyncio.create_task(pump(k)) for k in clients]

            def has(name: str, kind: type) -> bool:
                return any(isinstance(m, kind) for m in inbox[name])

            await mod.send(frame(ConvJoin("r", "j1", moderated=True)))
            await until(lambda: has("mod", ConvJoined))
            await guest.send(frame(ConvJoin("r", "j2")))
            await until(lambda: has("guest", ConvWaiting) and has("mod", ConvJoinRequest))
            await local.send(frame(ConvJoin("r", "j3")))
            await until(lambda: has("local", ConvWaiting))
            await mod.send(frame(ConvAllow("r", "a1", "guest")))
            await mod.send(frame(ConvAllow("r", "a2", "local")))
            await until(lambda: has("guest", ConvJoined) and has("local", ConvJoined))
            senders = ["mod", "guest", "local", "mod", "guest"]
            for i, who in enumerate(senders):
                await clients[who].send(frame(ConvSendMessage("r", f"s{i}", f"m{i}")))

            def heard(name: str) -> list[tuple[int, str]]:
                return [(m.seq, m.content) for m in inbox[name] if isinstance(m, ConvMessage)]

            await until(lambda: sum(len(heard(k)) for k in clients) == 2 * len(senders))
            numbered = sorted({e for k in clients for e in heard(k)})
            assert len(numbered) == len(senders)
            for name in clients:  # one order: every member hears the others' in seq order
                mine = [f"m{i}" for i, who in enumerate(senders) if who == name]
                assert heard(name) == [(s, c) for s, c in numbered if c not in mine]
            await mod.send(frame(ConvEject("r", "e1", "guest")))
            await until(lambda: has("guest", ConvEjected))
            authority = n["a"].relay.hub.room_authority
            assert authority is not None
            view = n[authority].relay.hub.rooms.room("default", "r")
            assert view is not None and sorted(a for a, _ in view.members) == ["local/d", "mod/d"]
            for ws in clients.values():
                await ws.close()
            await asyncio.gather(*pumps, return_exceptions=True)

    run(test, limit=60.0)


def test_a_forged_from_is_restamped_and_clients_cannot_reach_the_node_channels(url: str) -> None:
    """Only nodes speak to Redis: a client's ``from`` is replaced on its node, a relay-only
    message is refused there and never forwarded; a frame on a node channel that does not
    parse (another program on the same Redis) is dropped and counted, and the node goes on."""

    async def test() -> None:
        async with nodes(url, ["a", "b"], presence_group=None) as n:
            mallory = await client(n["a"].url, "mallory")
            bob = await client(n["b"].url, "bob")
            await until(lambda: n["a"].relay.hub.devices("bob") == ("bob/d",))
            await mallory.send(frame(wire.ContactMessage(1, "x"), to="bob/d", sender="alice/d"))
            env = await asyncio.wait_for(recv(bob), WAIT)
            assert env.sender == "mallory/d"
            before = n["a"].link.published
            await mallory.send(frame(wire.Registered("bob", "d", "s"), to="bob/d"))
            env = await asyncio.wait_for(recv(mallory), WAIT)
            assert isinstance(env.message, wire.ServerError) and env.message.code == "forbidden"
            assert n["a"].link.published == before
            with redis.Redis.from_url(url) as r:
                bad = b"route\na\ndefault\nmallory/d\n{not json"
                r.publish(scripts.node_channel("b"), frames.encode_batch([bad]))
                r.publish(scripts.node_channel("b"), b"999\ntruncated")
                r.publish(scripts.DIR_CHANNEL, b"B\nz\nnothing")
            await until(lambda: n["b"].link.malformed == 3)
            await mallory.send(frame(wire.ContactMessage(2, "still"), to="bob/d"))
            env = await asyncio.wait_for(recv(bob), WAIT)
            assert env.message == wire.ContactMessage(2, "still")
            assert n["b"].link.failed is None
            for ws in (mallory, bob):
                await ws.close()

    run(test, limit=60.0)


def test_a_flood_to_another_node_costs_at_most_the_senders_burst(url: str) -> None:
    async def test() -> None:
        # a slow refill: however late node a reads the flood, few tokens come back meanwhile
        hub = {"presence_group": None, "rate_limit": 0.1, "rate_burst": 10.0, "max_strikes": 10**6}
        async with nodes(url, ["a", "b"], **hub) as n:
            flood = await client(n["a"].url, "flood")
            bob = await client(n["b"].url, "bob")
            await until(lambda: n["a"].relay.hub.devices("bob") == ("bob/d",))
            before = n["a"].link.published
            loop = asyncio.get_running_loop()
            start = loop.time()
            for i in range(300):
                await flood.send(frame(wire.ContactMessage(i, "x"), to="bob/d"))
            got: list[wire.Message] = []

            async def read() -> None:
                async for data in bob:
                    got.append(wire.decode(data).message)

            reader = asyncio.create_task(read())
            await until(lambda: len(got) >= 9, 15.0)
            await asyncio.sleep(0.5)
            # the burst (10, less its registration's token) and what the rate refilled while
            # it sent crossed; the rest was refused on node a and never published
            refilled = 0.1 * (loop.time() - start + 1.0)
            assert 9 <= len(got) <= 10 + refilled
            assert n["a"].link.published - before == len(got)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            for ws in (flood, bob):
                await ws.close()

    run(test, limit=60.0)


def test_a_dead_node_is_reaped_once_and_its_users_leave_everywhere(url: str) -> None:
    async def test() -> None:
        async with nodes(url, ABC, presence_group=None) as n:
            bob = await client(n["b"].url, "bob")
            await until(lambda: n["a"].relay.hub.devices("bob") == ("bob/d",))
            # b stops heartbeating (as a SIGKILLed process would): its link is cut
            n["b"].link.abandon()
            await until(lambda: n["a"].relay.hub.devices("bob") == (), limit=5.0)
            await until(lambda: n["c"].relay.hub.devices("bob") == (), limit=5.0)
            assert n["a"].link.reaped + n["c"].link.reaped == ["b"]
            with redis.Redis.from_url(url) as r:
                assert r.hget(scripts.dir_key("default"), "bob/d") is None
            await bob.close()

    run(test, limit=60.0)


def test_serve_without_redis_is_a_hub_alone() -> None:
    import argparse

    from rtcstate_cli import serve

    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    hub = serve.build_hub(p.parse_args([]))
    assert type(hub).__name__ == "Hub"
    hub = serve.build_hub(p.parse_args(["--redis", "redis://127.0.0.1:1/0", "--node-id", "n1"]))
    assert isinstance(hub, ClusterHub) and hub.node == "n1"
    from rtcstate_cli import errors

    with pytest.raises(errors.UsageError):
        serve.build_hub(p.parse_args(["--node-id", "n1"]))
    with pytest.raises(errors.UsageError):
        serve.build_hub(p.parse_args(["--redis", "redis://x", "--node-id", "a/b"]))


def test_an_aiortc_call_between_users_on_two_nodes_media_flows_then_hangup_agrees(
    url: str,
) -> None:
    """Real media (aiortc, 127.0.0.1 only): the signalling crosses Redis, the media does not."""
    from rtcstate_aiortc import AiortcMedia

    async def test() -> None:
        async with nodes(url, ["a", "b"]) as n:
            alice_ua = UserAgent("alice", media=AiortcMedia(loopback_only=True), options=FAST)
            bob_media = AiortcMedia(loopback_only=True)
            bob_ua = UserAgent("bob", media=bob_media, options=FAST)
            alice = await alice_ua.register(n["a"].url, timeout=WAIT)
            bob = await bob_ua.register(n["b"].url, timeout=WAIT)
            await until(lambda: alice.get_contact("bob").is_online)
            incoming = bob.wait_for("incomingCall", 30.0)
            call = alice.get_contact("bob").call()
            accepted = call.wait_for("accepted", 30.0)
            invitation = await incoming
            theirs = invitation.accept()
            await accepted

            def flowing() -> bool:
                got = bob_media.frames_received(theirs.id)
                return got.get("audio", 0) >= 5 and got.get("video", 0) >= 2

            await until(flowing, 30.0)
            ended = theirs.wait_for("hangup", 30.0)
            call.hangup()
            assert (await ended)["from"] == "remote"
            await alice_ua.unregister()
            await bob_ua.unregister()

    run(test, limit=120.0)
