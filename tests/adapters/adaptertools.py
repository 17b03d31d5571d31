"""What the adapter tests share: bounded runs that must leave no task behind, bounded waits,
and a relay on 127.0.0.1 with user agents registered to it (fake or real media)."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from fractions import Fraction
from typing import Any

from rtcstate_asyncio import Relay, Session, UserAgent, serve
from rtcstate_asyncio.backend import MediaBackend

from rtcstate.retry import FixedDelay

WAIT = 5.0  # the default bound of a single wait, seconds

#: small timers so that loss, reconnection and presence happen within a test
FAST: dict[str, Any] = {
    "retry_policy": FixedDelay(0.1),
    "contact_disconnection_delay": 0.1,
    "register_timeout": 2.0,
}


async def until(predicate: Callable[[], bool], limit: float = WAIT) -> None:
    """Wait (bounded) until ``predicate()`` holds."""
    async with asyncio.timeout(limit):
        while not predicate():
            await asyncio.sleep(0.01)


def run(test: Callable[[], Awaitable[None]], limit: float = 20.0) -> None:
    """Run ``test`` in a fresh loop, bounded, and check that it leaves no task behind."""

    async def main() -> None:
        before = asyncio.all_tasks()
        async with asyncio.timeout(limit):
            await test()
        await asyncio.sleep(0)
        left = asyncio.all_tasks() - before - {asyncio.current_task()}
        assert not left, f"tasks left pending: {left}"

    asyncio.run(main())


class World:
    """A relay and the user agents registered to it, each with the backend ``media_for`` makes
    (kept in :attr:`media`) and ``options`` (more SessionConfig fields)."""

    def __init__(
        self,
        relay: Relay,
        media_for: Callable[[str], MediaBackend],
        options: dict[str, Any],
        wait: float = WAIT,
    ) -> None:
        self.relay = relay
        self.media_for = media_for
        self.options = options
        self.wait = wait
        self.uas: dict[str, UserAgent] = {}
        self.media: dict[str, MediaBackend] = {}

    async def join(self, user: str, **options: Any) -> Session:
        media = self.media_for(user)
        ua = UserAgent(user, media=media, options={**self.options, **options})
        self.uas[user], self.media[user] = ua, media
        return await ua.register(self.relay.url, timeout=self.wait)

    async def pair(self) -> tuple[Session, Session]:
        """alice and bob, registered, alice seeing bob online."""
        alice, bob = await self.join("alice"), await self.join("bob")
        await until(lambda: alice.get_contact("bob").is_online, self.wait)
        return alice, bob

    async def close(self) -> None:
        for ua in self.uas.values():
            if ua.session is not None:
                await ua.unregister()
        await self.relay.close()


@contextlib.asynccontextmanager
async def world(
    media_for: Callable[[str], MediaBackend],
    options: dict[str, Any] | None = None,
    wait: float = WAIT,
) -> AsyncIterator[World]:
    """A :class:`World` on a fresh relay (127.0.0.1, a free port), closed afterwards."""
    w = World(await serve("127.0.0.1", 0), media_for, FAST if options is None else options, wait)
    try:
        yield w
    finally:
        await w.close()


def recorded_video_seconds(path: pathlib.Path) -> tuple[float, int, int]:
    """Seconds covered by a recorded file's decoded video frames (PyAV), and the frames of
    each kind: (seconds, video frames, audio frames)."""
    import av

    first: float | None = None
    last = 0.0
    counts = {"video": 0, "audio": 0}
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            kind = "video" if isinstance(frame, av.VideoFrame) else "audio"
            counts[kind] += 1
            if kind == "video" and frame.pts is not None:
                t = float(frame.pts * (frame.time_base or Fraction(1, 1000)))
                first = t if first is None else min(first, t)
                last = max(last, t)
    return last - (first or 0.0), counts["video"], counts["audio"]
