"""What every part of :class:`~rtcstate_aiortc.backend.AiortcMedia` shares: the call records
and the reporting / timer / task plumbing.

Theory of operation
-------------------
A call the backend holds is a :class:`_Call`: its effect queue and worker, its current
``RTCPeerConnection`` (replaced by an ICE restart), the remote tracks reported and their
consumers, its data channels (:class:`_Channel`, which outlive a connection swap) and its
statistics state (:class:`_Stats`, whose counters go on across connections). :class:`_Base`
declares the backend's state and carries what the mixins (:mod:`~rtcstate_aiortc.channels`,
:mod:`~rtcstate_aiortc.tracks`, :mod:`~rtcstate_aiortc.stats`,
:mod:`~rtcstate_aiortc.connection`) all use: reports go out through ``_emit`` (nothing after
close, a reporter's exception is logged), ``_report_soon`` reports on the next loop iteration,
``_later`` arms a timer and ``_spawn`` starts a task that ``close()`` cancels and awaits.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any

import attrs
from aiortc import RTCDataChannel, RTCPeerConnection

from rtcstate import effects as fx
from rtcstate import media as m
from rtcstate_aiortc.sources import SourceControl, SyntheticStream

log = logging.getLogger("rtcstate_aiortc")

Reporter = Callable[[m.MediaEvent], None]


@attrs.define(slots=True, eq=False)
class _Channel:
    channel_id: str
    call_id: str
    label: str
    local: bool  # opened by this side (re-created on a new connection)
    dc: RTCDataChannel | None = None  # the current RTCDataChannel (None while swapping)
    #: the RTCDataChannel on the connection this side is replacing (ICE restart it started):
    #: what the far side still sends on it is delivered until the far side answered
    retiring_dc: RTCDataChannel | None = None
    pending: collections.deque[bytes | str] = attrs.field(factory=collections.deque)
    pending_bytes: int = 0
    opened: bool = False  # DataChannelOpened reported
    high: bool = False  # BufferedAmountHigh reported, Low not yet
    ended: bool = False  # DataChannelClosed reported (or closed by us)


Counters = dict[str, dict[str, float]]  # CallStats section -> counter name -> value


@attrs.define(slots=True, eq=False)
class _Stats:
    """A call's statistics state (``stats_interval``)."""

    task: asyncio.Task[None] | None = None  # the poller of the current connection
    base: Counters = attrs.field(factory=dict)  # aiortc counters of the former connections
    current: Counters = attrs.field(factory=dict)  # those of the current one, last sample
    previous: tuple[float, Counters] | None = None  # (loop time, totals) of the last report
    rtp_in: dict[str, list[int]] = attrs.field(factory=dict)  # kind -> [packets, bytes]
    video_in: tuple[int, int] | None = None  # size of the last remote video frame
    warned: bool = False


@attrs.define(slots=True, eq=False)
class _Call:
    call_id: str
    queue: asyncio.Queue[fx.Effect]
    control: SourceControl
    received: dict[str, int]
    polite: bool = False
    worker: asyncio.Task[None] | None = None
    pc: RTCPeerConnection | None = None
    #: the connection an ICE restart of this side replaced, kept (receiving) until the far side
    #: answers on the new one, so that nothing it sent on the old one is lost
    retiring: RTCPeerConnection | None = None
    bootstrap: bool = False  # connections of this call carry the bootstrap SCTP channel
    ice: str | None = None  # last IceStateChanged reported for the current connection
    remote_tracks: dict[str, str] = attrs.field(factory=dict)  # reported track id -> kind
    remote_msid: dict[str, str] = attrs.field(factory=dict)  # remote track id -> stream id
    consumers: dict[asyncio.Task[None], RTCPeerConnection] = attrs.field(factory=dict)
    channels: dict[str, _Channel] = attrs.field(factory=dict)
    closing: bool = False
    gone: asyncio.TimerHandle | None = None
    heard: float = 0.0  # loop time of the last remote frame (or of the last `connected`)
    stats: _Stats = attrs.field(factory=_Stats)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Base:
    """The backend's state (set by ``AiortcMedia.__init__``) and the helpers every part uses."""

    loopback_only: bool
    buffered_high: int
    buffered_low: int
    peer_gone_delay: float
    media_timeout: float | None
    stats_interval: float | None
    ice_servers: list[Any]
    on_remote_track: Callable[[str, Any], None] | None
    relay_remote: bool
    connections_created: int
    _reporter: Reporter | None
    _closed: bool
    _calls: dict[str, _Call]
    _streams: dict[str, SyntheticStream]
    _channel_calls: dict[str, str]
    _pcs: set[RTCPeerConnection]
    _tasks: set[asyncio.Task[None]]
    _handles: set[asyncio.Handle]

    # --- reporting and tasks ------------------------------------------------------------------

    def _emit(self, event: m.MediaEvent) -> None:
        if self._closed or self._reporter is None:
            return
        try:
            self._reporter(event)
        except Exception:  # the runtime's problem; our worker goes on
            log.exception("rtcstate_aiortc: reporting %r failed", event)

    def _report_soon(self, event: m.MediaEvent) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.Handle

        def fire() -> None:
            self._handles.discard(handle)
            self._emit(event)

        handle = loop.call_soon(fire)
        self._handles.add(handle)

    def _later(self, delay: float, action: Callable[[], None]) -> asyncio.TimerHandle:
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._handles.discard(handle)
            action()

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._handles.add(handle)
        return handle

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _pc(self, call: _Call) -> RTCPeerConnection:
        if call.pc is None:
            raise RuntimeError(f"no peer connection for call {call.call_id}")
        return call.pc

    def _live(self, call: _Call, pc: RTCPeerConnection) -> bool:
        """Whether ``pc`` is the call's current connection and neither closing nor closed."""
        return (
            call.pc is pc
            and not call.closing
            and not self._closed
            and pc.signalingState != "closed"
            and pc.connectionState != "closed"
        )
