"""What the adapter tests share: bounded runs that must leave no task behind, bounded waits,
relays on 127.0.0.1 (in this process, or ``rtcstate serve`` processes) and user agents
registered to them (fake or real media)."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from fractions import Fraction
from typing import Any

from redistools import free_port
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


#: after a test's bound: how long its clean-up, then the tasks it left, may take to end
GRACE = 10.0


def run(test: Callable[[], Awaitable[None]], limit: float = 20.0) -> None:
    """Run ``test`` in a fresh loop, bounded, and check that it leaves no task behind.

    A hang is a failure, never a hung suite: ``test`` has ``limit`` seconds, then (cancelled)
    :data:`GRACE` seconds for its clean-up; the tasks it left are cancelled (again and again:
    a library may swallow one cancellation) and have :data:`GRACE` seconds to end. Unlike
    ``asyncio.run``, whose final cancellation waits for every task without a bound, the loop
    is closed even if one of them never ends (and the test fails, naming it)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_bounded(test, limit))
    finally:
        try:
            loop.run_until_complete(_settled(loop.shutdown_asyncgens(), "async generators"))
            loop.run_until_complete(_settled(loop.shutdown_default_executor(), "threads"))
        finally:
            asyncio.set_event_loop(None)
            loop.close()


async def _bounded(test: Callable[[], Awaitable[None]], limit: float) -> None:
    me = asyncio.current_task()
    before = asyncio.all_tasks()
    task = asyncio.ensure_future(test())
    try:
        done, _ = await asyncio.wait({task}, timeout=limit)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=GRACE)
            if not done:
                raise AssertionError(f"the test, cancelled after {limit} s, did not end within "
                                     f"{GRACE} s: {_where(task)}")  # fmt: skip
            raise TimeoutError(f"the test took more than {limit} s")
        task.result()
        await asyncio.sleep(0)
        left = asyncio.all_tasks() - before - {me}
        assert not left, f"tasks left pending: {left}"
    finally:
        stuck = await _end(asyncio.all_tasks() - before - {me})
        assert not stuck, f"tasks that ignore cancellation: {[_where(t) for t in stuck]}"


async def _end(tasks: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Cancel ``tasks`` until they end (at most :data:`GRACE` s); those that did not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GRACE
    pending = {t for t in tasks if not t.done()}
    while pending and loop.time() < deadline:
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)
    return pending


async def _settled(work: Awaitable[None], what: str) -> None:
    try:
        async with asyncio.timeout(GRACE):
            await work
    except TimeoutError:
        raise AssertionError(f"{what} still running {GRACE} s after the test") from None


def _where(task: asyncio.Task[Any]) -> str:
    """The task and the line each of its awaits stands at."""
    lines = [repr(task)]
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            lines.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return "\n  ".join(lines)


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


@contextlib.asynccontextmanager
async def relays(n: int) -> AsyncIterator[list[Relay]]:
    """``n`` relays in this process (127.0.0.1, free ports), closed afterwards."""
    started: list[Relay] = []
    try:
        for _ in range(n):
            started.append(await serve("127.0.0.1", 0))
        yield started
    finally:
        for relay in started:
            await relay.close()


class Served:
    """An ``rtcstate serve`` process: its port, its URL and (once it ended) what it printed."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, scheme: str) -> None:
        self.proc = proc
        self.port = port
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.output = ""

    async def ready(self, limit: float = 60.0) -> None:
        """Wait (bounded) until the process listens (a node has joined its cluster by then)."""
        async with asyncio.timeout(limit):
            while True:
                assert self.proc.poll() is None, f"rtcstate serve exited {self.proc.returncode}"
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                writer.close()
                return


@contextlib.contextmanager
def serve_process(*args: str, scheme: str = "ws") -> Iterator[Served]:
    """``rtcstate serve --host 127.0.0.1 --port P ARGS`` (P free), killed afterwards if it still
    runs; its output (in a file: a pipe nobody reads could block it) in ``output`` then."""
    port = free_port()
    cmd = [sys.executable, "-m", "rtcstate_cli", "serve", "--host", "127.0.0.1",
           "--port", str(port), *args]  # fmt: skip
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        served = Served(proc, port, scheme)
        try:
            yield served
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
            out.seek(0)
            served.output = out.read().decode(errors="replace")


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
