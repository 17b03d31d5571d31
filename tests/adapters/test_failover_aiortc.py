"""Failover with real media (aiortc, loopback only): both ends of a call registered with two
relays move when theirs drains; media goes on peer to peer while they move and, after the
caller's ICE restart over the other relay, on the new connections; the hangup agrees."""

from __future__ import annotations

from typing import Any

from adaptertools import FAST
from rtcstate_aiortc import AiortcMedia
from rtcstate_asyncio import UserAgent, serve
from test_e2e_aiortc import (
    WAIT,
    assert_loopback_sdp,
    call_and_accept,
    flowing,
    hangup_agrees,
    run,
    until,
)

from rtcstate.codes import CallStatus, HangupReason


def test_a_drained_relay_moves_a_call_with_real_media_to_the_other() -> None:
    async def test() -> None:
        a, b = await serve("127.0.0.1", 0), await serve("127.0.0.1", 0)
        media = {user: AiortcMedia(loopback_only=True) for user in ("alice", "bob")}
        uas = {user: UserAgent(user, media=m, options=FAST) for user, m in media.items()}
        try:
            alice, bob = [await ua.register([a.url, b.url], timeout=WAIT) for ua in uas.values()]
            call, their = await call_and_accept(alice, bob)
            await until(flowing(media["alice"], call.id))
            await until(flowing(media["bob"], call.id))
            back: list[Any] = [s.wait_for("reconnection", WAIT) for s in (alice, bob)]
            assert await a.drain(WAIT) is True
            await until(flowing(media["alice"], call.id))  # peer to peer: no relay needed
            for wait in back:
                await wait
            assert b.hub.devices("alice") and b.hub.devices("bob") and a.connections == 0
            # the caller's ICE restart went through the other relay: new connections
            await until(
                lambda: (
                    media["alice"].connections_created == 2
                    and media["bob"].connections_created == 2
                )
            )
            await until(lambda: call.core.state.value == "CONNECTED")
            await until(flowing(media["alice"], call.id, audio=10, video=3))
            await until(flowing(media["bob"], call.id, audio=10, video=3))
            assert_loopback_sdp(media["alice"].local_description(call.id))
            assert call.status is their.status is CallStatus.CALL_STATUS_ONGOING
            assert not call.fired("error") and not their.fired("error")
            await hangup_agrees(call, their, HangupReason.HANGUP_FROM_CALLER)
        finally:
            for ua in uas.values():
                if ua.session is not None:
                    await ua.unregister()
            for m in media.values():
                await m.close()
            await a.close()
            await b.close()

    run(test)
