"""apiRTC's Observable for every wrapper: ``on`` / ``once`` / ``off``, waits, event streams.

Theory of operation
-------------------
Every wrapper is an emitter. ``obj.on(name, handler)`` / ``obj.once(name, handler)`` /
``obj.off(name, handler)``; without a handler ``on`` and ``once`` return a decorator. The name
must be in the class's apiRTC whitelist (:data:`rtcstate.codes.AVAILABLE_EVENTS`, or
rtcstate's own :data:`rtcstate.codes.RTCSTATE_EVENTS`), else
:class:`~rtcstate.settings.ParameterError` is raised (``ERROR_BAD_PARAMETER``, 9, with
``error_code`` ``UNKNOWN_EVENT_ON_ADDLISTENER``): apiRTC logs the same refusal and does not add
the listener; here it is an exception.

Two ways to wait, with different guarantees:

* ``await obj.wait_for(name)`` resolves with the payload of the *next* such event after the
  call. Awaiting it in a loop loses the events fired while the code between two waits runs.
* ``obj.events(*names)`` returns an :class:`EventStream` subscribed *when it is created*: every
  event fired from then on (of those names; every name when none is given) is queued, in order,
  and never dropped, until the stream is read with ``async for event in stream`` or
  ``await stream.next(timeout)``. Create it before the action whose events you want
  ("subscribe, then act"). The stream ends (the ``async for`` loop finishes once the queue is
  drained) when its object ends (a call after ``hangup``, a data channel after ``ended``, an
  invitation in a final status; the user agent, its session and contacts at ``unregister()``)
  or when :meth:`EventStream.close` is called (``async with obj.events() as stream:`` closes on
  exit). An emitter holds its streams weakly: a stream nobody references is dropped with
  what it queued.

The session (agent.py) calls ``_fire`` with each event routed to the object: history first,
then handlers (a handler that raises is logged, logger ``rtcstate_asyncio.api``; one that
returns an awaitable has it handed to ``spawn``, run as a task awaited at ``unregister``), then
the ``wait_for`` futures, then the streams. Each wrapper keeps its last events (256) in
:attr:`Emitter.history`; :meth:`Emitter.fired` queries them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, ClassVar, Generic, NamedTuple, Self, TypeVar

from rtcstate.codes import ErrorCode, is_known_event
from rtcstate.settings import ParameterError

__all__ = ["Emitter", "Event", "EventStream", "Handler", "StreamEnded"]

log = logging.getLogger("rtcstate_asyncio.api")  # the logger name docs/asyncio.md documents

Handler = Callable[[Any], object]
H = TypeVar("H", bound=Callable[..., object])
P = TypeVar("P")

_HISTORY = 256


class Event(NamedTuple, Generic[P]):
    """One event an object fired: its apiRTC ``name`` and its ``payload`` (None for a
    payload-less event)."""

    name: str
    payload: P


class StreamEnded(Exception):
    """:meth:`EventStream.next` on a stream that ended and has nothing left queued."""


class EventStream(Generic[P]):
    """The events an object fires from the stream's creation on, queued, never dropped.

    ``async for event in stream`` yields :class:`Event` values until the stream ends (its
    object ended, or :meth:`close`) and the queue is drained. See the module notes.
    """

    def __init__(self, source: Emitter, names: frozenset[str] | None) -> None:
        self.source = source
        self.names = names
        self._queue: deque[Event[P]] = deque()
        self._ended = False
        self._wakeup: asyncio.Future[None] | None = None

    @property
    def pending(self) -> int:
        """How many events are queued, not read yet."""
        return len(self._queue)

    @property
    def ended(self) -> bool:
        """Whether the stream ended (events already queued can still be read)."""
        return self._ended

    def close(self) -> None:
        """Stop listening; what is queued can still be read, then iteration stops."""
        self.source._streams.discard(self)
        self._end()

    async def next(self, timeout: float | None = None) -> Event[P]:
        """The next event; :class:`TimeoutError` after ``timeout`` seconds (the stream goes on),
        :class:`StreamEnded` once the stream ended and is drained."""
        async with asyncio.timeout(timeout):
            while not self._queue:
                if self._ended:
                    raise StreamEnded(f"{self.source!r}: the event stream ended")
                self._wakeup = asyncio.get_running_loop().create_future()
                try:
                    await self._wakeup
                finally:
                    self._wakeup = None
            return self._queue.popleft()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event[P]:
        try:
            return await self.next()
        except StreamEnded:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _push(self, event: Event[P]) -> None:
        if self._ended or (self.names is not None and event.name not in self.names):
            return
        self._queue.append(event)
        self._wake()

    def _end(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def __repr__(self) -> str:
        names = "every event" if self.names is None else ", ".join(sorted(self.names))
        state = "ended" if self._ended else "open"
        return f"<EventStream {self.source!r} ({names}) {state}, {self.pending} pending>"


class _Listener:
    __slots__ = ("handler", "once")

    def __init__(self, handler: Handler, once: bool) -> None:
        self.handler = handler
        self.once = once


class Emitter:
    """apiRTC's Observable: ``on`` / ``once`` / ``off`` with the class's event whitelist,
    ``wait_for`` and :class:`EventStream`\\ s (``events()``)."""

    API_CLASS: ClassVar[str] = ""

    def __init__(self) -> None:
        self._listeners: dict[str, list[_Listener]] = {}
        self._waiters: dict[str, list[asyncio.Future[Any]]] = {}
        self._streams: weakref.WeakSet[EventStream[Any]] = weakref.WeakSet()
        self.history: deque[tuple[str, Any]] = deque(maxlen=_HISTORY)

    # The public ``on`` / ``once`` / ``wait_for`` / ``events`` are typed per class in typed.py
    # (event names as Literals, payloads as TypedDicts) and call these implementations.

    def off(self, event: str, handler: Handler | None = None) -> Self:
        """Remove ``handler`` (every listener of ``event`` when None); returns ``self``."""
        self._check(event)
        if handler is None:
            self._listeners.pop(event, None)
        else:
            listeners = self._listeners.get(event, [])
            for listener in listeners:
                if listener.handler == handler:
                    listeners.remove(listener)
                    break
        return self

    def _wait_for(self, event: str, timeout: float | None) -> asyncio.Future[Any]:
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

    def _events(self, *names: str) -> EventStream[Any]:
        for name in names:
            self._check(name)
        stream: EventStream[Any] = EventStream(self, frozenset(names) if names else None)
        self._streams.add(stream)
        return stream

    def remove_listener(self, event: str, handler: Handler) -> Self:
        """apiRTC's ``removeListener(eventType, listener)``: :meth:`off` with a handler."""
        return self.off(event, handler)

    def fired(self, name: str | None = None) -> list[Any]:
        """What :attr:`history` remembers: the payloads of the events named ``name``, or every
        event's name in order when ``name`` is None."""
        if name is None:
            return [e for e, _ in self.history]
        return [p for e, p in self.history if e == name]

    # --- internals ----------------------------------------------------------------------------

    def _add(self, event: str, handler: Handler | None, *, once: bool) -> Any:
        self._check(event)
        if handler is None:

            def decorator(function: H) -> H:
                self._listeners.setdefault(event, []).append(_Listener(function, once))
                return function

            return decorator
        self._listeners.setdefault(event, []).append(_Listener(handler, once))
        return self

    def _check(self, event: str) -> None:
        if not is_known_event(self.API_CLASS, event):  # apiRTC's names and rtcstate's
            raise ParameterError(ErrorCode.UNKNOWN_EVENT_ON_ADDLISTENER, "event", event)

    def _fire(self, event: str, payload: Any, spawn: Callable[[Awaitable[Any]], None]) -> None:
        self.history.append((event, payload))
        listeners = self._listeners.get(event, [])
        for listener in list(listeners):
            if listener.once:
                if listener not in listeners:
                    continue  # a once-listener removed by an earlier handler of this event
                listeners.remove(listener)
            try:
                result = listener.handler(payload)
            except Exception:
                log.exception("%s %r handler %r raised", self.API_CLASS, event, listener.handler)
                continue
            if inspect.isawaitable(result):
                spawn(result)
        for future in list(self._waiters.get(event, ())):
            if not future.done():
                future.set_result(payload)
        item: Event[Any] = Event(event, payload)
        for stream in list(self._streams):
            stream._push(item)

    def _end_streams(self) -> None:
        """The object ended: its streams stop once drained."""
        streams: Iterable[EventStream[Any]] = list(self._streams)
        self._streams.clear()
        for stream in streams:
            stream._end()
