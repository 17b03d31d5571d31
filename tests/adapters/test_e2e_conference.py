"""Conversation media end to end over loopback: the real relay, four real runtimes, real aiortc
media in mesh mode.

Four agents join one room; each publishes a stream of synthetic audio and video
(``ua.create_stream``) and subscribes to the three others': twelve subscriptions, each its own
peer connection (iceServers=[], 127.0.0.1 host candidates only). Frames are counted both ways on
every agent (each receives from each other, each sends to each other). Then one agent is killed
(its websocket aborted, its media closed without a word): the relay notices the dropped
connection at once and withdraws its stream, so it leaves every other agent's list and their
calls from it end (``streamRemoved``) within :data:`GONE_WITHIN` seconds; the others' media
carries on. Every wait is bounded; the whole test stays well under a minute on a loaded
machine."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import adaptertools
from adaptertools import World
from rtcstate_aiortc import AiortcMedia
from rtcstate_asyncio import Conversation, Session, Stream, UserAgent

CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ (\S+)", re.M)
WAIT = 30.0  # the bound of the mesh setup on a loaded machine, seconds
GONE_WITHIN = 2.0  # a killed agent's streams leave the others' lists within this (docs)
ROOM = "conference"
USERS = ("ann", "ben", "cat", "dan")


def _media(user: str) -> AiortcMedia:
    # small synthetic video keeps twelve encoders affordable on two loaded cores
    return AiortcMedia(loopback_only=True, video_size=(64, 48), video_fps=10.0)


@asynccontextmanager
async def _world() -> AsyncIterator[World]:
    async with adaptertools.world(_media, wait=WAIT) as w:
        yield w


async def until(predicate: Callable[[], bool], limit: float = WAIT) -> None:
    await adaptertools.until(predicate, limit)


def _backend(w: World, user: str) -> AiortcMedia:
    media = w.media[user]
    assert isinstance(media, AiortcMedia)
    return media


def _received(w: World, conv: Conversation, user: str) -> dict[str, tuple[int, int]]:
    """Frames (audio, video) ``user`` received, by the publisher it subscribed to."""
    out: dict[str, tuple[int, int]] = {}
    for sid, call_id in conv.core.media.subscribed.items():
        got = _backend(w, user).frames_received(call_id)
        publisher = conv.core.media.available.get(sid, {}).get("contact", sid)
        out[str(publisher).partition("/")[0]] = (got.get("audio", 0), got.get("video", 0))
    return out


def _sent(w: World, conv: Conversation, user: str) -> dict[str, tuple[int, int]]:
    """Frames (audio, video) ``user`` sent, by subscriber."""
    out: dict[str, tuple[int, int]] = {}
    for call in conv.core.media.calls.values():
        if call.role.value == "publish":
            got = _backend(w, user).frames_sent(call.call_id)
            out[call.peer.partition("/")[0]] = (got.get("audio", 0), got.get("video", 0))
    return out


def _kill(ua: UserAgent) -> asyncio.Task[None]:
    """The agent dies: its websocket is aborted (no close frame, no unregister) and its media
    stops without a bye; nothing of it runs once this returns (the task closing what is left
    is returned)."""
    session = ua.session
    assert session is not None
    runtime = session.runtime
    link = runtime._link
    assert link is not None and link.ws is not None
    link.ws.transport.abort()
    ua._session = None  # the world must not unregister it

    async def remains() -> None:
        await runtime.aclose()
        if runtime.media is not None:  # the backend given to the agent: closed with it
            await runtime.media.close()

    return asyncio.ensure_future(remains())


def test_four_agents_mesh_twelve_subscriptions_then_one_is_killed() -> None:
    async def test() -> None:
        started = time.monotonic()
        async with _world() as w:
            sessions: dict[str, Session] = {u: await w.join(u) for u in USERS}
            convs = {u: s.get_conversation(ROOM) for u, s in sessions.items()}
            for conv in convs.values():
                await conv.join()
            streams: dict[str, Stream] = {}
            for user, conv in convs.items():
                streams[user] = await w.uas[user].create_stream()
                await conv.publish(streams[user])
            await until(
                lambda: all(len(c.get_available_stream_list()) == 4 for c in convs.values())
            )
            added = {u: c.events("streamAdded", "streamRemoved") for u, c in convs.items()}
            for user, conv in convs.items():
                for other in USERS:
                    if other != user:
                        await conv.subscribe_to_stream(streams[other].stream_id)
            for user in USERS:  # three remote streams each: twelve subscriptions
                got = [await added[user].next(WAIT) for _ in range(3)]
                assert {e.name for e in got} == {"streamAdded"}
                assert {e.payload.contact.partition("/")[0] for e in got} == set(USERS) - {user}
            assert sum(len(c.core.media.subscribed) for c in convs.values()) == 12

            def flowing() -> bool:
                for user, conv in convs.items():
                    others = set(USERS) - {user}
                    rx, tx = _received(w, conv, user), _sent(w, conv, user)
                    if set(rx) != others or set(tx) != others:
                        return False
                    if any(a < 5 or v < 2 for a, v in (*rx.values(), *tx.values())):
                        return False
                return True

            await until(flowing)
            for user, conv in convs.items():  # iceServers=[]: 127.0.0.1 host candidates only
                for call_id in conv.core.media.calls:
                    sdp = _backend(w, user).local_description(call_id)
                    found = CANDIDATE.findall(sdp or "")
                    assert found and set(found) == {("127.0.0.1", "host")}, (user, found)
            for user, conv in convs.items():  # each received from each, and sent to each
                print(user, "received", _received(w, conv, user), "sent", _sent(w, conv, user))

            # dan dies: his stream leaves everyone's list, the others carry on
            dan_stream = streams["dan"].stream_id
            survivors = {u: c for u, c in convs.items() if u != "dan"}
            killed = time.monotonic()
            closing = _kill(w.uas["dan"])
            await until(
                lambda: all(
                    dan_stream not in {s["streamId"] for s in c.get_available_stream_list()}
                    and dan_stream not in c.core.media.subscribed
                    for c in survivors.values()
                ),
                GONE_WITHIN * 4,
            )
            gone_after = time.monotonic() - killed
            print(f"dan's stream left every list {gone_after:.3f} s after his death")
            await closing
            assert gone_after < GONE_WITHIN, gone_after
            for user in survivors:
                removed = await added[user].next(WAIT)
                assert removed.name == "streamRemoved" and removed.payload.stream_id == dan_stream
            before = {u: _received(w, c, u) for u, c in survivors.items()}

            def still_flowing() -> bool:
                for user, conv in survivors.items():
                    rx = _received(w, conv, user)
                    if set(rx) != set(survivors) - {user}:
                        return False
                    if any(rx[o][1] < before[user][o][1] + 2 for o in rx):
                        return False
                return True

            await until(still_flowing)
            for conv in survivors.values():
                assert len(conv.core.media.subscribed) == 2 and len(conv.core.media.calls) == 4
        assert time.monotonic() - started < 60.0

    adaptertools.run(test, 90.0)
