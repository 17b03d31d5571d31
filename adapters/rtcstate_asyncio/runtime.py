"""Runtime: one core :class:`~rtcstate.session.Session` carried out on asyncio and a websocket.

Theory of operation
-------------------
A :class:`Runtime` owns a core ``Session`` (built with uuid ids and ``random.random``, as
docs/adapters.md asks) and is its only caller. It feeds it ``loop.time()`` and carries out the
effects it returns, and nothing else: every protocol decision stays in the core.

*Inputs.* Reports from the world (a timer expired, the websocket opened, failed, closed or
delivered a frame, the media backend reported something) are queued as *inputs*; application
commands (``register``, ``call``, ``hangup``...) go to the core at once, so that they can return
their object or raise the core's :class:`~rtcstate.errors.RtcError` unchanged, and their effects
join the effect queue. One synchronous drain loop applies queued effects strictly in order, and
takes the next input only when every effect produced so far is carried out: an input is never
fed while the previous one's effects are half done, even when a media backend reports from
inside ``apply`` or an application handler issues a command from inside an event.

*Effects.* ``StartTimer`` arms ``loop.call_at`` (re-arming replaces the handle), ``CancelTimer``
disarms it, and an expiry becomes ``timer_fired``. ``OpenTransport`` starts a *link*: a task that
opens a ``websockets`` client connection and reports ``connection_made`` /
``connection_failed``, then reads frames (``receive``) until the connection ends
(``connection_lost``, unless the core closed it itself with ``CloseTransport``, which expects no
report; ``connection_moved`` when the relay closed it with 1012, draining: the core then goes to
its next relay URL at once). ``Send`` encodes the message and queues it on the open link's
single writer task, so sends leave in the order the core produced them; a ``Send`` with no
open link is dropped (the core retransmits what matters after its reconnection).
``CloseTransport`` queues a close behind the pending sends (an ``Unregister`` still leaves).
Reconnection is the core's: it emits a new ``OpenTransport`` (naming the relay URL its
failover chose) when its retry policy says so. ``Emit`` goes to the ``on_emit`` callback (the
application API); an exception raised there is logged and the runtime goes on. Media effects
(:data:`~rtcstate_asyncio.backend.MEDIA_EFFECTS`) go to the :class:`MediaBackend`, whose reports
come back as ``media_event``; with no backend the runtime reports
``Capabilities(webrtc=False, data_channels=False)`` so the core refuses what it cannot do.
``Drop`` is logged at debug level. A conversation request's ``Resolve`` / ``Reject`` and a
conversation recording's ``RecordingOutcome`` go to the ``on_outcome`` callback (the API's
futures, conversations.py).

*File transfers.* The core never holds a file: it asks the sending application for bytes with
``NeedData`` and hands the receiving one what arrived with ``ReceivedData``. The runtime keeps a
*data source* per transfer it sent (:meth:`Runtime.send_file`: ``source(offset, size)`` returns
the bytes) and a *data sink* per transfer it accepted (:meth:`Runtime.accept_file`:
``sink(offset, data)``). A ``NeedData`` is answered like a report from the world: the read and
``FileTransfer.feed`` are queued as an input, fed once every effect before it is carried out,
so the chunk frames leave behind everything the core produced earlier. A source that raises,
returns nothing (the file is shorter than announced) or returns what ``feed`` refuses cancels
the transfer (logged); a ``NeedData`` for a transfer that ended meanwhile is dropped. A
``ReceivedData`` goes to the sink at once, in order (``data`` may be a view: the sink copies
what it keeps); a sink that raises is dropped (so are the next bytes) and the invitation is
cancelled (logged). Nothing of this raises out of the loop.

:meth:`Runtime.aclose` cancels every timer, closes the link, awaits every task it started and
closes the backend: nothing is left pending.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from ssl import SSLContext
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from rtcstate import effects as fx
from rtcstate import wire
from rtcstate.conversation import Reject, Resolve
from rtcstate.errors import RtcError
from rtcstate.filetransfer import FileTransfer, ReceivedFileTransferInvitation
from rtcstate.hub import CloseCode
from rtcstate.ids import IdSource, RandomSource
from rtcstate.media import Capabilities, MediaEvent
from rtcstate.recording import RecordingOutcome
from rtcstate.session import Session, SessionConfig
from rtcstate.transfer import NeedData, ReceivedData
from rtcstate_asyncio.backend import MEDIA_EFFECTS, MediaBackend

__all__ = ["DataSink", "DataSource", "EmitHandler", "Runtime", "uuid_ids"]

log = logging.getLogger(__name__)

T = TypeVar("T")
EmitHandler = Callable[[fx.Emit], None]
Input = Callable[[float], list[fx.Effect]]
DataSource = Callable[[int, int], bytes | bytearray | memoryview]
"""``source(offset, size)``: 1 to ``size`` bytes of the file from ``offset`` (b"" at its end)."""
DataSink = Callable[[int, bytes | memoryview], object]
"""``sink(offset, data)``: bytes of a received file, in order (``data`` may be a view)."""


def uuid_ids(kind: str) -> str:
    """Globally unique ids for the core's objects (``call-<uuid4>``, ...)."""
    return f"{kind}-{uuid.uuid4()}"


class _Link:
    """One websocket connection asked for by an ``OpenTransport``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.open = False  # connection_made reported: sends go out
        self.closing = False  # closed by the core (CloseTransport): no report
        self.task: asyncio.Task[None] | None = None


class Runtime:
    """Carries out one core session's effects on asyncio (see the module docstring)."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        media: MediaBackend | None = None,
        on_emit: EmitHandler | None = None,
        ids: IdSource | None = None,
        rand: RandomSource | None = None,
        open_timeout: float = 10.0,
        close_timeout: float = 2.0,
        close_media: bool = True,
        ssl: SSLContext | None = None,
    ) -> None:
        """``close_media``: whether :meth:`aclose` closes ``media`` too (False when its owner
        closes it, e.g. a backend the application gave a UserAgent)."""
        self.loop = asyncio.get_running_loop()
        self.session = Session(config, ids=ids or uuid_ids, rand=rand or random.random)
        self.on_emit = on_emit
        self.media = media
        self.close_media = close_media
        self.open_timeout = open_timeout
        self.ssl = ssl  # for wss:// URLs (None: the default context)
        self.close_timeout = close_timeout
        self._effects: deque[fx.Effect] = deque()
        self._inputs: deque[Input] = deque()
        self._draining = False
        self._closed = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._link: _Link | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sources: dict[str, DataSource] = {}
        self._sinks: dict[str, DataSink] = {}
        #: where a conversation request's outcome goes (Resolve / Reject: the API's futures)
        self.on_outcome: Callable[[fx.Effect], None] | None = None
        #: a media report the API takes before the session (True: taken)
        self.intercept: Callable[[MediaEvent], bool] | None = None
        if media is not None:
            media.bind(self._media_report)
        else:
            self.report(lambda now: self.session.media_event(_NO_MEDIA, now))

    # --- public -------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def now(self) -> float:
        """The clock every input gets (``loop.time()``)."""
        return self.loop.time()

    def command(self, fn: Callable[[float], tuple[T, list[fx.Effect]]]) -> T:
        """Run an application command returning ``(result, effects)``; errors propagate."""
        result, effects = fn(self.now())
        self._execute(effects)
        return result

    def run(self, fn: Input) -> None:
        """Run an application command returning only effects; errors propagate."""
        self._execute(fn(self.now()))

    def send_file(
        self,
        contact: str,
        file_info: Mapping[str, Any],
        source: DataSource,
        *,
        chunk_size: int | None = None,
        window: int | None = None,
    ) -> FileTransfer:
        """``Session.send_file`` with ``source`` answering its ``NeedData``; errors propagate."""
        transfer, effects = self.session.send_file(
            contact, self.now(), file_info, chunk_size=chunk_size, window=window
        )
        self._sources[transfer.id] = source
        self._execute(effects)
        return transfer

    def accept_file(
        self,
        invitation: ReceivedFileTransferInvitation,
        sink: DataSink,
        *,
        max_size: int | None = None,
    ) -> None:
        """Accept a received file, its bytes going to ``sink``; errors propagate."""
        effects = invitation.accept(self.now(), max_size=max_size)
        self._sinks[invitation.id] = sink
        self._execute(effects)

    def forget_transfer(self, transfer_id: str) -> None:
        """Drop the data source / sink of a transfer that is over."""
        self._sources.pop(transfer_id, None)
        self._sinks.pop(transfer_id, None)

    def report(self, fn: Input) -> None:
        """Queue a report from the world; it is fed once the effects before it are done."""
        if self._closed:
            return
        self._inputs.append(fn)
        if not self._draining:
            self._drain()

    async def aclose(self) -> None:
        """Cancel timers, close the link, await every task, close the media backend."""
        if self._closed:
            return
        self._closed = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._effects.clear()
        self._inputs.clear()
        self._sources.clear()
        self._sinks.clear()
        link, self._link = self._link, None
        if link is not None:
            self._close(link)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.close_timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self.media is not None and self.close_media:
            await self.media.close()

    async def wait_link_closed(self) -> None:
        """Wait until every link task has finished (e.g. after ``unregister``)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    # --- the drain loop -----------------------------------------------------------------------

    def _execute(self, effects: list[fx.Effect]) -> None:
        if self._closed:
            return
        self._effects.extend(effects)
        if not self._draining:
            self._drain()

    def _drain(self) -> None:
        self._draining = True
        try:
            while not self._closed:
                if self._effects:
                    effect = self._effects.popleft()
                    try:
                        self._apply(effect)
                    except Exception:
                        log.exception("carrying out %r failed", effect)
                elif self._inputs:
                    fn = self._inputs.popleft()
                    try:
                        self._effects.extend(fn(self.now()))
                    except Exception:
                        log.exception("the core raised on an input (a core bug)")
                else:
                    break
        finally:
            self._draining = False

    def _apply(self, e: fx.Effect) -> None:
        kind = type(e)
        if kind is fx.Send:
            assert isinstance(e, fx.Send)
            self._send(e)
        elif kind is fx.Emit:
            assert isinstance(e, fx.Emit)
            self._emit(e)
        elif kind is fx.StartTimer:
            assert isinstance(e, fx.StartTimer)
            self._cancel_timer(e.timer_id)
            self._timers[e.timer_id] = self.loop.call_at(e.deadline, self._timer, e.timer_id)
        elif kind is fx.CancelTimer:
            assert isinstance(e, fx.CancelTimer)
            self._cancel_timer(e.timer_id)
        elif kind is fx.OpenTransport:
            assert isinstance(e, fx.OpenTransport)
            self._open(e.url)
        elif kind is fx.CloseTransport:
            link, self._link = self._link, None
            if link is not None:
                self._close(link)
        elif kind is fx.Drop:
            log.debug("%s: dropped %r", self.session.address, e)
        elif kind is Resolve or kind is Reject or kind is RecordingOutcome:
            if self.on_outcome is not None:
                self.on_outcome(e)
        elif kind is NeedData:
            assert isinstance(e, NeedData)
            self.report(functools.partial(self._feed, e))
        elif kind is ReceivedData:
            assert isinstance(e, ReceivedData)
            self._received(e)
        elif isinstance(e, MEDIA_EFFECTS):
            if self.media is None:
                log.debug("no media backend for %r", e)
            else:
                self.media.apply(e)
        else:
            log.warning("unknown effect %r ignored", e)

    def _emit(self, e: fx.Emit) -> None:
        if self.on_emit is None:
            return
        try:
            self.on_emit(e)
        except Exception:
            log.exception("an application handler of %s %r raised", e.target, e.event)

    # --- file transfers -----------------------------------------------------------------------

    def _feed(self, need: NeedData, now: float) -> list[fx.Effect]:
        """Answer a ``NeedData`` from the transfer's source (an input: never raises)."""
        tid = need.transfer_id
        transfer = self.session.child("transfer_id", tid)
        if not isinstance(transfer, FileTransfer) or transfer.finished:
            self._sources.pop(tid, None)
            log.debug("%s: NeedData for transfer %s, which is over", self.session.address, tid)
            return []
        source = self._sources.get(tid)
        if source is None:
            log.error("%s: no data source for transfer %s", self.session.address, tid)
            return self._cancel_sent(transfer, now, "no data source")
        try:
            data = source(need.offset, need.size)
        except Exception:
            log.exception("%s: reading the data of transfer %s failed", self.session.address, tid)
            return self._cancel_sent(transfer, now, "reading the file failed")
        if not data:
            log.error(
                "%s: the source of transfer %s ended at %d of %d bytes",
                self.session.address, tid, need.offset, transfer.size,
            )  # fmt: skip
            return self._cancel_sent(transfer, now, "the file is shorter than announced")
        try:
            return transfer.feed(now, need.offset, data)
        except RtcError:
            if transfer.finished:
                return []
            log.exception("%s: the core refused the data of transfer %s", self.session.address, tid)
            return self._cancel_sent(transfer, now, "bad data from the source")

    def _cancel_sent(self, transfer: FileTransfer, now: float, reason: str) -> list[fx.Effect]:
        self._sources.pop(transfer.id, None)
        try:
            return transfer.cancel(now, reason)
        except RtcError:
            log.exception("%s: cancelling transfer %s failed", self.session.address, transfer.id)
            return []

    def _received(self, data: ReceivedData) -> None:
        tid = data.transfer_id
        sink = self._sinks.get(tid)
        if sink is None:
            log.debug("%s: no sink for transfer %s, bytes dropped", self.session.address, tid)
            return
        try:
            sink(data.offset, data.data)
        except Exception:
            log.exception("%s: storing the data of transfer %s failed", self.session.address, tid)
            del self._sinks[tid]
            self.report(functools.partial(self._cancel_received, tid, "storing the file failed"))

    def _cancel_received(self, tid: str, reason: str, now: float) -> list[fx.Effect]:
        invitation = self.session.child("transfer_id", tid)
        if not isinstance(invitation, ReceivedFileTransferInvitation) or invitation.ended:
            return []
        try:
            return invitation.cancel(now, reason)
        except RtcError:
            log.debug("%s: transfer %s could not be cancelled", self.session.address, tid)
            return []

    # --- timers -------------------------------------------------------------------------------

    def _cancel_timer(self, timer_id: str) -> None:
        handle = self._timers.pop(timer_id, None)
        if handle is not None:
            handle.cancel()

    def _timer(self, timer_id: str) -> None:
        self._timers.pop(timer_id, None)
        self.report(lambda now: self.session.timer_fired(timer_id, now))

    # --- media --------------------------------------------------------------------------------

    def _media_report(self, event: MediaEvent) -> None:
        if self.intercept is not None and self.intercept(event):
            return  # the API's own (a stream the application created: rtcstate_asyncio.streams)
        self.report(lambda now: self.session.media_event(event, now))

    # --- the transport ------------------------------------------------------------------------

    def _send(self, e: fx.Send) -> None:
        link = self._link
        if link is None or not link.open or link.closing:
            log.debug("%s: no open transport, %s not sent", self.session.address, e.message.TYPE)
            return
        link.queue.put_nowait(wire.encode(e.message, to=e.to).decode())

    def _open(self, url: str) -> None:
        old, self._link = self._link, None
        if old is not None:
            self._close(old)
        link = _Link(url)
        self._link = link
        link.task = self._spawn(self._run_link(link))

    def _close(self, link: _Link) -> None:
        link.closing = True
        if link.ws is None and link.task is not None:
            link.task.cancel()  # still connecting
        else:
            link.queue.put_nowait(None)  # after what is queued

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _current(self, link: _Link) -> bool:
        return self._link is link and not link.closing

    async def _run_link(self, link: _Link) -> None:
        max_size = 4 * self.session.config.max_message_size
        tls: dict[str, Any] = {} if self.ssl is None else {"ssl": self.ssl}
        try:
            ws = await connect(
                link.url,
                **tls,
                open_timeout=self.open_timeout,
                close_timeout=self.close_timeout,
                ping_interval=None,  # keep-alive is the core's (Ping/Pong, SessionConfig)
                max_size=max_size,
                proxy=None,
                compression=None,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._current(link):
                self._link = None
                reason = f"{type(exc).__name__}: {exc}"
                self.report(lambda now: self.session.connection_failed(now, reason))
            return
        link.ws = ws
        if not self._current(link):
            await ws.close()
            return
        writer = self.loop.create_task(self._write(link, ws))
        link.open = True
        self.report(self.session.connection_made)
        try:
            async for data in ws:
                self.report(functools.partial(_receive, self.session, data))
        except ConnectionClosed:
            pass
        finally:
            if not writer.done():
                writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            if ws.state is not State.CLOSED:
                await ws.close()
        if self._current(link):
            self._link = None
            reason = f"closed {ws.close_code} {ws.close_reason}".strip()
            if ws.close_code == _DRAINING:  # the relay moves its clients: elsewhere, now
                self.report(lambda now: self.session.connection_moved(now, reason))
            else:
                self.report(lambda now: self.session.connection_lost(now, reason))

    @staticmethod
    async def _write(link: _Link, ws: ClientConnection) -> None:
        while True:
            data = await link.queue.get()
            if data is None:
                await ws.close()
                return
            try:
                await ws.send(data)
            except ConnectionClosed:
                return


_DRAINING = int(CloseCode.DRAINING)


def _receive(session: Session, data: str | bytes, now: float) -> list[fx.Effect]:
    return session.receive(data, now)


_NO_MEDIA = Capabilities(data_channels=False, webrtc=False, restart_ice=False)
