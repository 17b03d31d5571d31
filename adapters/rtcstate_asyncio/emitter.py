"""apiRTC's Observable for every wrapper: ``on`` / ``off`` with an event whitelist, plus waits.

Theory of operation
-------------------
Every wrapper is an emitter: ``obj.on(name, handler)`` / ``obj.off(name, handler)``. The name
must be in the class's apiRTC whitelist (:data:`rtcstate.codes.AVAILABLE_EVENTS`, or
rtcstate's own :data:`rtcstate.codes.RTCSTATE_EVENTS`), else
:class:`~rtcstate.settings.ParameterError` is raised (``ERROR_BAD_PARAMETER``, 9, with
``error_code`` ``UNKNOWN_EVENT_ON_ADDLISTENER``): apiRTC logs the same refusal and does not add
the listener; here it is an exception. ``await obj.wait_for(event)`` resolves with the payload
of the next such event. The session (agent.py) calls ``_fire`` with each event routed to the
object: a handler that raises is logged (logger ``rtcstate_asyncio.api``); a handler that
returns an awaitable has it handed to ``spawn`` (the UserAgent runs it as a task, awaited at
``unregister``). Each wrapper keeps its last events in :attr:`Emitter.history`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Self

from rtcstate.codes import ErrorCode, is_known_event
from rtcstate.settings import ParameterError

__all__ = ["Emitter", "Handler"]

log = logging.getLogger("rtcstate_asyncio.api")  # the logger name docs/asyncio.md documents

Handler = Callable[[Any], object]

_HISTORY = 256


class Emitter:
    """apiRTC's Observable: ``on`` / ``off`` with the class's event whitelist, plus waits."""

    API_CLASS: ClassVar[str] = ""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Handler]] = {}
        self._waiters: dict[str, list[asyncio.Future[Any]]] = {}
        self.history: deque[tuple[str, Any]] = deque(maxlen=_HISTORY)

    def on(self, event: str, handler: Handler) -> Self:
        """Call ``handler(payload)`` every time ``event`` fires; returns ``self``.

        Raises :class:`~rtcstate.settings.ParameterError` (``ERROR_BAD_PARAMETER``,
        ``UNKNOWN_EVENT_ON_ADDLISTENER``) for a name outside the class's whitelist.
        """
        self._check(event)
        self._listeners.setdefault(event, []).append(handler)
        return self

    def off(self, event: str, handler: Handler | None = None) -> Self:
        """Remove ``handler`` (every listener of ``event`` when None); returns ``self``."""
        self._check(event)
        if handler is None:
            self._listeners.pop(event, None)
        else:
            handlers = self._listeners.get(event, [])
            if handler in handlers:
                handlers.remove(handler)
        return self

    def wait_for(self, event: str, timeout: float | None = None) -> asyncio.Future[Any]:
        """A future resolved with the payload of the next ``event`` (listening starts now).

        With ``timeout`` (seconds) it fails with :class:`TimeoutError` if the event does not
        fire in time. Unknown names raise at once, as for :meth:`on`.
        """
        self._check(event)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        waiters = self._waiters.setdefault(event, [])
        waiters.append(future)
        handle: asyncio.TimerHandle | None = None
        if timeout is not None:

            def expire() -> None:
                if not future.done():
                    future.set_exception(
                        TimeoutError(f"{self.API_CLASS} {event!r} not fired within {timeout} s")
                    )

            handle = loop.call_later(timeout, expire)

        def done(_: asyncio.Future[Any]) -> None:
            if handle is not None:
                handle.cancel()
            if future in waiters:
                waiters.remove(future)

        future.add_done_callback(done)
        return future

    def events(self, name: str | None = None) -> list[Any]:
        """The payloads of the remembered events named ``name`` (every event's name if None)."""
        if name is None:
            return [e for e, _ in self.history]
        return [p for e, p in self.history if e == name]

    def _check(self, event: str) -> None:
        if not is_known_event(self.API_CLASS, event):  # apiRTC's names and rtcstate's
            raise ParameterError(ErrorCode.UNKNOWN_EVENT_ON_ADDLISTENER, "event", event)

    def _fire(self, event: str, payload: Any, spawn: Callable[[Awaitable[Any]], None]) -> None:
        self.history.append((event, payload))
        for handler in list(self._listeners.get(event, ())):
            try:
                result = handler(payload)
            except Exception:
                log.exception("%s %r handler %r raised", self.API_CLASS, event, handler)
                continue
            if inspect.isawaitable(result):
                spawn(result)
        for future in list(self._waiters.get(event, ())):
            if not future.done():
                future.set_result(payload)
