"""Failover over real websockets on 127.0.0.1: two independent relays (no cluster), clients
given both URLs (``register([url1, url2])``). A relay that drains (close 1012) or dies moves its
clients to the other within the documented time; a peer there reaches them; an ongoing call
survives (media is peer to peer) and what was in flight reaches the far application once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

from adaptertools import FAST, relays, run, serve_process, until
from redistools import free_port
from rtcstate_asyncio import FakeMediaNetwork, ReceivedCallInvitation, Session, UserAgent
from rtcstate_asyncio.calls import Call

from rtcstate.codes import CallStatus
from rtcstate.retry import ExponentialBackoff, FixedDelay
from rtcstate.session import SessionState

WAIT = 5.0


class Agents:
    """User agents on fake media, closed at the end."""

    def __init__(self) -> None:
        self.net = FakeMediaNetwork()
        self.uas: list[UserAgent] = []

    async def join(self, user: str, urls: str | list[str], **options: Any) -> Session:
        ua = UserAgent(user, media=self.net.backend(user), options={**FAST, **options})
        self.uas.append(ua)
        return await ua.register(urls, timeout=WAIT)

    async def close(self) -> None:
        for ua in self.uas:
            if ua.session is not None:
                await ua.unregister()


@contextlib.asynccontextmanager
async def agents() -> AsyncIterator[Agents]:
    a = Agents()
    try:
        yield a
    finally:
        await a.close()


async def call_and_accept(caller: Session, callee: Session) -> tuple[Call, Call]:
    incoming = callee.wait_for("incomingCall", WAIT)
    call = caller.get_contact(callee.user_id).call()
    accepted = call.wait_for("accepted", WAIT)
    invitation = await incoming
    assert isinstance(invitation, ReceivedCallInvitation)
    their = invitation.accept()
    await accepted
    return call, their


def test_a_drain_moves_both_ends_of_a_call_at_once_and_the_call_goes_on() -> None:
    async def test() -> None:
        async with relays(2) as (a, b), agents() as ag:
            urls = [a.url, b.url]
            # a backoff of 3 s: a move that took it would miss the bound below
            slow = {"retry_policy": FixedDelay(3.0)}
            alice = await ag.join("alice", urls, **slow)
            bob = await ag.join("bob", urls, **slow)
            assert a.hub.devices("alice") and a.hub.devices("bob")
            call, their = await call_and_accept(alice, bob)
            back = alice.wait_for("reconnection", WAIT), bob.wait_for("reconnection", WAIT)
            started = time.monotonic()
            assert await a.drain(WAIT) is True  # both left
            await asyncio.gather(*back)
            assert time.monotonic() - started < 2.0  # at once, not after the 3 s backoff
            assert a.connections == 0 and b.hub.devices("alice") and b.hub.devices("bob")
            assert alice.core.connection.url == b.url
            assert call.status is CallStatus.CALL_STATUS_ONGOING
            assert their.status is CallStatus.CALL_STATUS_ONGOING
            assert not call.fired("error") and not their.fired("error")
            # the call's signaling goes on through the other relay: both agree on its end
            ended = call.wait_for("hangup", WAIT), their.wait_for("hangup", WAIT)
            call.hangup()
            mine, theirs = await asyncio.gather(*ended)
            assert (mine["from"], theirs["from"]) == ("local", "remote")
            assert len(their.fired("hangup")) == 1

    run(test)


def test_a_hangup_sent_while_moving_reaches_the_far_side_once() -> None:
    async def test() -> None:
        async with relays(2) as (a, b), agents() as ag:
            urls = [a.url, b.url]
            alice = await ag.join("alice", urls)
            bob = await ag.join("bob", urls)
            call, their = await call_and_accept(alice, bob)
            lost = alice.wait_for("disconnect", WAIT)
            ended = their.wait_for("hangup", WAIT)
            drained = asyncio.ensure_future(a.drain(WAIT))
            await lost
            assert alice.core.state is not SessionState.CONNECTED
            call.hangup()  # no relay right now: kept, sent again after the move
            theirs = await ended
            assert theirs["from"] == "remote"
            assert await drained is True
            await until(lambda: alice.core.state is SessionState.CONNECTED)
            await asyncio.sleep(0.3)  # a retransmission would land by now
            assert len(their.fired("hangup")) == 1
            assert their.status is CallStatus.CALL_STATUS_ENDED

    run(test)


def test_a_relay_that_dies_moves_its_client_to_the_other_and_a_peer_there_reaches_it() -> None:
    with serve_process() as dying:

        async def test() -> None:
            async with relays(1) as (b,), agents() as ag:
                await dying.ready()
                # the default backoff: the documented bound (docs/operations.md)
                alice = await ag.join(
                    "alice", [dying.url, b.url], retry_policy=ExponentialBackoff()
                )
                carol = await ag.join("carol", b.url)
                assert not b.hub.devices("alice")
                back = alice.wait_for("reconnection", WAIT)
                killed = time.monotonic()
                dying.proc.send_signal(signal.SIGKILL)
                await back
                assert time.monotonic() - killed < 2.0
                assert b.hub.devices("alice") == ("alice/default",)
                # carol, on the surviving relay, reaches alice
                incoming = alice.wait_for("incomingCall", WAIT)
                call = carol.get_contact("alice").call()
                accepted = call.wait_for("accepted", WAIT)
                invitation = await incoming
                assert isinstance(invitation, ReceivedCallInvitation)
                invitation.accept()
                await accepted

        run(test, limit=30)


async def scrape(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    async with asyncio.timeout(WAIT):
        data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_sigterm_drains_rtcstate_serve_its_clients_move_and_it_exits_0() -> None:
    clients = 2
    metrics = free_port()
    with serve_process("--metrics-port", str(metrics), "--drain-timeout", "20") as served:

        async def test() -> None:
            async with relays(1) as (b,), agents() as ag:
                url = served.url
                await served.ready()
                async with asyncio.timeout(15):
                    while True:  # the metrics port may open a little after the relay's
                        with contextlib.suppress(OSError):
                            status, body = await scrape(metrics, "/healthz")
                            break
                        await asyncio.sleep(0.1)
                assert status == 200 and json.loads(body)["draining"] is False
                sessions = [await ag.join(f"u{i}", [url, b.url]) for i in range(clients)]
                health = json.loads((await scrape(metrics, "/healthz"))[1])
                assert health["registered"] == clients and health["node"] == url
                back = [s.wait_for("reconnection", WAIT) for s in sessions]
                started = time.monotonic()
                served.proc.send_signal(signal.SIGTERM)
                await asyncio.gather(*back)
                assert len(b.hub.devices("u0")) == 1
                code = await asyncio.to_thread(served.proc.wait, 10)
                assert code == 0
                assert time.monotonic() - started < 10  # they left: no 20 s drain timeout

        run(test, limit=40)
    assert "relay draining: 2 connections told to move" in served.output
    assert "relay drained: every client left" in served.output
