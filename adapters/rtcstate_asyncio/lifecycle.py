"""Running an agent as a program: register, work, and leave cleanly on SIGINT / SIGTERM.

Theory of operation
-------------------
:func:`catch_signals` replaces the handlers of the given signals (default SIGINT and SIGTERM)
with the event loop's own for the duration of a ``with`` block: the first signal resolves a
future instead of raising ``KeyboardInterrupt`` somewhere in the middle of a callback; the
previous handlers come back on exit. :func:`run_until_signal` is the whole life of a bot:
inside ``async with ua`` (which unregisters on the way out, whatever happens), it registers,
runs the application's ``main(session)`` if given, and returns when a signal arrives (the
signal) or when ``main`` returns (None); an exception of ``main`` propagates after the
agent unregistered. Signals are only caught in the main thread, where asyncio allows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from rtcstate_asyncio.agent import Session, UserAgent

__all__ = ["catch_signals", "run_until_signal"]

DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def catch_signals(
    signals: Iterable[signal.Signals] = DEFAULT_SIGNALS,
) -> Iterator[asyncio.Future[signal.Signals]]:
    """A future resolved with the first of ``signals`` received inside the block."""
    loop = asyncio.get_running_loop()
    caught: asyncio.Future[signal.Signals] = loop.create_future()
    installed: list[signal.Signals] = []

    def received(sig: signal.Signals) -> None:
        if not caught.done():
            caught.set_result(sig)

    try:
        for sig in signals:
            loop.add_signal_handler(sig, received, sig)
            installed.append(sig)
        yield caught
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if not caught.done():
            caught.cancel()


async def run_until_signal(
    ua: UserAgent,
    server_url: str = "ws://127.0.0.1:8765",
    main: Callable[[Session], Awaitable[Any]] | None = None,
    *,
    signals: Iterable[signal.Signals] = DEFAULT_SIGNALS,
    timeout: float | None = None,
) -> signal.Signals | None:
    """Register ``ua`` on ``server_url`` and run until a signal (returned) or until ``main``
    (given the session) returns (None); the agent is unregistered in every case.

    ``timeout`` bounds the registration (:class:`TimeoutError`); registration errors
    (:class:`~rtcstate_asyncio.agent.RegistrationError`) and ``main``'s exceptions propagate.
    """
    with catch_signals(signals) as caught:
        async with ua:
            session = await ua.register(server_url, timeout=timeout)
            if main is None:
                return await caught
            work = asyncio.ensure_future(main(session))
            try:
                await asyncio.wait({work, caught}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not work.done():
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await work
            if caught.done() and not caught.cancelled():
                return caught.result()
            work.result()  # main's exception, if it raised
            return None
