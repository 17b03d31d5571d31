"""AiortcMedia: the core's media effects carried out on aiortc, one RTCPeerConnection per call.

Theory of operation
-------------------
The runtime hands every media effect to :meth:`AiortcMedia.apply` and feeds what the backend
reports (``rtcstate.media`` events) back into its session. ``apply`` never blocks and never
raises. What needs no peer connection is done at once: ``AcquireMedia`` creates a
:class:`~rtcstate_aiortc.sources.SyntheticStream` and reports ``MediaAcquired`` on the next loop
iteration (never from inside ``apply``: the runtime is still carrying out the input that
produced the effect), ``ReleaseMedia`` releases a stream (what still reads it sends silence or
black), ``SetTrackEnabled`` flips the call's mute flags. Everything else about a call goes
into that call's queue and is carried out, strictly in order, by the call's worker task; a
failure becomes a report (``DescriptionFailed`` for descriptions, ``IceStateChanged("failed")``
for the connection, ``DataChannelClosed`` for a channel), never an exception. Data channel
effects are queued on the call whose connection carries the channel. ``apply`` must be called
from the loop the backend runs in.

*Which stream a call sends.* The core asks for a call's media with ``AcquireMedia`` whose
``request_id`` is the call id; the connection created for that call sends the stream acquired
for it, unless ``PublishStream`` named another one first. ``PublishStream`` later switches what
the call's tracks read, as ``replaceTrack`` does: same senders, same remote tracks, no
renegotiation (so a kind the connection has no transceiver for is not added). Each connection
gets fresh track objects with the call's stable track ids; the ``msid`` stream id is the
published stream's id, so the far side's ``TrackAdded.stream_id`` (and the application's
``streamAdded``) is the sender's stream id (see :mod:`rtcstate_aiortc.sources`).

*Descriptions and ICE.* ``CreateOffer`` / ``CreateAnswer`` create and apply the description and
report ``LocalDescriptionReady`` with the applied SDP. aiortc gathers every candidate inside
``setLocalDescription`` and writes them into that SDP, so no ``IceCandidateFound`` is ever
reported (a remote ``AddIceCandidate`` is still applied). A data call has no media, and an
offer without any media section would leave ICE nothing to connect, while the core opens the
channel only once the call is connected: the first offer of a connection with no track gets a
negotiated, never-used channel (id 1023) so that it carries an SCTP section. aiortc's
``connectionState`` (ICE *and* DTLS) is reported as ``IceStateChanged``: ``connecting`` →
``checking``, ``connected`` → ``connected``, ``failed`` → ``failed``. aiortc closes a connection
by itself when the far side closed its own (DTLS close); if the call has not closed it by
``peer_gone_delay`` seconds later (the far side's ``bye`` normally arrives first), ``failed`` is
reported.

*ICE restart: a new peer connection.* aiortc cannot restart ICE. ``RestartIce`` (and a
``CreateOffer(ice_restart=True)`` on a connection that has already negotiated) closes the
call's connection and builds a new one with the same tracks (same ids), the same SCTP section
and the data channels this side opened (re-created with the same label and protocol); the
offer that follows comes from it, with new ICE credentials and a new DTLS fingerprint. The side
that receives an offer whose ICE credentials or fingerprint differ from the applied remote
description does the same before applying it (a far side that restarted this way, which is how
the caller renegotiates after an ICE failure, a disconnection or a server reconnection). The
swap is invisible to the core: no ``TrackEnded``/``TrackAdded`` for the same remote track ids,
no ``DataChannelClosed``/``DataChannelOpened`` for the channels that come back; data sent
meanwhile waits in the backend and goes out when the channel is open again. The new
connection's ``connected`` is reported as usual (the core moves RECONNECTING → CONNECTED).

*Remote tracks* are always drained: one consumer task per track reads frames until the track
ends and counts them (:meth:`AiortcMedia.frames_received`); ``TrackAdded`` is reported when the
track appears, ``TrackEnded`` if it ended and, ``peer_gone_delay`` later, its connection is
still the call's current one and still up (aiortc ends remote tracks when the far side closes
its connection: that is the connection's failure, reported as such, and a restart brings the
same tracks back). Likewise a data channel that closes because its SCTP association went down
is not reported closed: the connection's failure is, and a restart brings the channel back.

*Data channels.* ``OpenDataChannel`` creates an ordered, reliable channel labelled ``label``
whose ``protocol`` is the core's channel id; a channel the far side opens is reported under its
``protocol``. ``BufferedAmountHigh`` is reported when a send leaves more than ``buffered_high``
bytes queued, ``BufferedAmountLow`` when the queue drains to ``buffered_low`` (aiortc's
``bufferedamountlow`` event, the channel's ``bufferedAmountLowThreshold``).

*Loopback.* With ``loopback_only`` (the default) every host candidate is 127.0.0.1 and remote
candidates elsewhere are ignored; see :mod:`rtcstate_aiortc.loopback`. No STUN/TURN
(``iceServers=[]``), no mDNS.

*Statistics.* With ``stats_interval`` set, a task owned by the call polls its connection's
``getStats()`` every ``stats_interval`` seconds while the connection is connected and reports
``StatsReport(call_id, stats)`` with apiRTC's CallStats keys ``audioSent`` / ``videoSent``
(kinds this side sends) and ``audioReceived`` / ``videoReceived`` (kinds received so far). Sent:
aiortc's outbound ``bytesSent`` / ``packetsSent``, ``timestamp`` (ms since the epoch), once the
far side's receiver reports arrived ``packetLossRatio`` (its fraction lost) and ``delay`` (RTT
in ms, when aiortc could estimate it), ``framesEncoded`` (video: frames handed to the encoder).
Received: ``bytesReceived`` / ``packetsReceived`` (RTP payload bytes and packets, counted by the
backend: aiortc's inbound statistics have no byte count), aiortc's ``packetsLost``,
``framesDecoded`` / ``width`` / ``height`` (video, from the drained frames). From the second
report on, the per-second rates (``packetsSentPerSecond``, ``bitsSentPerSecond``,
``packetsReceivedPerSecond``, ``packetsLostPerSecond``, ``bitsReceivedPerSecond``,
``framesDecodedPerSecond``) and the received ``packetLossRatio`` are computed from the previous
sample. Counters are the call's: they go on across an ICE restart's new connection. ``quality``
(MOS) is not computed. A ``getStats`` failure is logged and that sample skipped.

*Closing.* ``ClosePeerConnection`` closes the call's connection and cancels its consumers (and
its statistics task); :meth:`AiortcMedia.close` does so for every call (pending effects are
discarded), waits for every task the backend started and reports nothing more.

Not supported: recording (``StartRecording`` reports ``RecordingReport("failed")``), call quality
(MOS) in the statistics, renegotiation rollback (a colliding remote offer on a connection with a
local offer pending fails with ``DescriptionFailed``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp
from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
    RTCStatsReport,
)

from rtcstate import effects as fx
from rtcstate import media as m
from rtcstate_aiortc import loopback
from rtcstate_aiortc.sources import SourceControl, SyntheticStream

if TYPE_CHECKING:  # pragma: no cover
    from rtcstate_asyncio.backend import MediaBackend

__all__ = ["BOOTSTRAP_CHANNEL_ID", "AiortcMedia"]

log = logging.getLogger("rtcstate_aiortc")

Reporter = Callable[[m.MediaEvent], None]

#: SCTP stream id of the negotiated, never-used channel that gives a media-less offer its
#: SCTP section (high enough never to meet the ids aiortc allocates to announced channels).
BOOTSTRAP_CHANNEL_ID = 1023
_FINISHED_KEPT = 256
_ICE_STATES = {"connecting": "checking", "connected": "connected", "failed": "failed"}


@attrs.define(slots=True, eq=False)
class _Channel:
    channel_id: str
    call_id: str
    label: str
    local: bool  # opened by this side (re-created on a new connection)
    dc: RTCDataChannel | None = None  # the current RTCDataChannel (None while swapping)
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


def _sdp_values(sdp: str, prefix: str) -> set[str]:
    return {line[len(prefix) :].strip() for line in sdp.splitlines() if line.startswith(prefix)}


def _restarted(current: str, offer: str) -> bool:
    """Whether ``offer`` comes from a new connection (other ICE credentials or certificate)."""
    for prefix in ("a=ice-ufrag:", "a=fingerprint:"):
        old, new = _sdp_values(current, prefix), _sdp_values(offer, prefix)
        if old and new and old != new:
            return True
    return False


def _msids(sdp: str) -> dict[str, str]:
    """Remote track id -> stream id, from the ``a=msid:<stream> <track>`` lines."""
    out: dict[str, str] = {}
    for line in sdp.splitlines():
        if line.startswith("a=msid:"):
            parts = line[len("a=msid:") :].split()
            if len(parts) >= 2:
                out[parts[1]] = parts[0]
    return out


def _size(data: bytes | str) -> int:
    return len(data.encode("utf-8")) if isinstance(data, str) else len(data)


_RATES = {
    "Sent": (
        ("packetsSent", "packetsSentPerSecond", 1.0),
        ("bytesSent", "bitsSentPerSecond", 8.0),
    ),
    "Received": (
        ("packetsReceived", "packetsReceivedPerSecond", 1.0),
        ("packetsLost", "packetsLostPerSecond", 1.0),
        ("bytesReceived", "bitsReceivedPerSecond", 8.0),
        ("framesDecoded", "framesDecodedPerSecond", 1.0),
    ),
}


def _call_stats(
    totals: Counters,
    previous: tuple[float, Counters] | None,
    now: float,
    extra: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """apiRTC's CallStats from cumulative ``totals`` (and the previous report's, for rates)."""
    before, dt = (None, 0.0) if previous is None else (previous[1], now - previous[0])
    out: dict[str, Any] = {}
    for section, counters in totals.items():
        entry: dict[str, Any] = {key: int(value) for key, value in counters.items()}
        last = {} if before is None or dt <= 0 else before.get(section, {})
        direction = "Sent" if section.endswith("Sent") else "Received"
        for key, name, scale in _RATES[direction]:
            if key in counters and key in last:
                entry[name] = round(max(0.0, counters[key] - last[key]) * scale / dt, 1)
        if direction == "Received" and last:
            got = counters.get("packetsReceived", 0.0) - last.get("packetsReceived", 0.0)
            lost = counters.get("packetsLost", 0.0) - last.get("packetsLost", 0.0)
            got, lost = max(0.0, got), max(0.0, lost)
            entry["packetLossRatio"] = round(lost / (got + lost), 4) if got + lost else 0.0
        entry.update(extra.get(section, {}))
        out[section] = entry
    return out


class AiortcMedia:
    """A :class:`~rtcstate_asyncio.backend.MediaBackend` on aiortc (see the module docstring).

    Options (keyword-only):

    ``loopback_only`` (default True)
        offer only 127.0.0.1 host candidates and ignore remote candidates elsewhere, so that
        nothing leaves the machine's loopback interface (tests, demos). False offers aioice's
        usual host candidates (every interface address but loopback); there is still no
        STUN/TURN server.
    ``buffered_high`` / ``buffered_low`` (default 1 MiB / 256 KiB)
        the data channel send-buffer marks: above ``buffered_high`` bytes queued the core
        hears ``BufferedAmountHigh`` and holds its chunks; at ``buffered_low`` or below,
        ``BufferedAmountLow`` (aiortc's ``bufferedAmountLowThreshold``).
    ``video_size`` / ``video_fps`` (default 160x120, 15)
        the synthetic video (even width and height).
    ``peer_gone_delay`` (default 2.0 s)
        how long after aiortc closed a connection by itself (the far side closed its own) the
        call hears ``IceStateChanged("failed")``, unless it closed or replaced it meanwhile.
    ``media_timeout`` (default 3.0 s; None: off)
        aiortc has no ``disconnected`` state and notices a dead far side (a killed process)
        only when ICE consent expires, about 30 s later. A connected call that drains remote
        tracks but got no frame from them for ``media_timeout`` seconds hears
        ``IceStateChanged("disconnected")`` (so the core's ICE-disconnection timers run), and
        ``connected`` again at the next frame. Calls without remote tracks are not watched.
    ``stats_interval`` (default None: off)
        seconds between two ``StatsReport`` of a connected call (apiRTC's CallStats shape, see
        the module docstring), as apiRTC's ``enableCallStatsMonitoring`` interval (whose
        minimum is 1 s; any value > 0 is accepted here, tests use less).
    """

    def __init__(
        self,
        *,
        loopback_only: bool = True,
        buffered_high: int = 1 << 20,
        buffered_low: int = 256 << 10,
        video_size: tuple[int, int] = (160, 120),
        video_fps: float = 15.0,
        peer_gone_delay: float = 2.0,
        media_timeout: float | None = 3.0,
        stats_interval: float | None = None,
    ) -> None:
        if not 0 <= buffered_low < buffered_high:
            raise ValueError("need 0 <= buffered_low < buffered_high")
        width, height = video_size
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError("video_size must be positive and even")
        if not 0 < video_fps <= 60:
            raise ValueError("video_fps must be in (0, 60]")
        if peer_gone_delay < 0:
            raise ValueError("peer_gone_delay must be >= 0")
        if media_timeout is not None and not media_timeout > 0:
            raise ValueError("media_timeout must be > 0 or None")
        if stats_interval is not None and not stats_interval > 0:
            raise ValueError("stats_interval must be > 0 or None")
        self.loopback_only = loopback_only
        self.buffered_high = buffered_high
        self.buffered_low = buffered_low
        self.video_size = (width, height)
        self.video_fps = video_fps
        self.peer_gone_delay = peer_gone_delay
        self.media_timeout = media_timeout
        self.stats_interval = stats_interval
        if loopback_only:
            loopback.install()
        self._reporter: Reporter | None = None
        self._closed = False
        self._calls: dict[str, _Call] = {}
        self._finished: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._streams: dict[str, SyntheticStream] = {}
        self._by_request: dict[str, str] = {}  # AcquireMedia request id -> stream id
        self._channel_calls: dict[str, str] = {}  # channel id -> call id
        self._sent: dict[str, dict[str, int]] = {}
        self._received: dict[str, dict[str, int]] = {}
        self._pcs: set[RTCPeerConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._handles: set[asyncio.Handle] = set()
        self.connections_created = 0
        """How many RTCPeerConnections this backend built (ICE restarts build new ones)."""

    # --- MediaBackend -----------------------------------------------------------------------

    def bind(self, report: Reporter) -> None:
        """Set the reporter; ``Capabilities`` is reported at once (next loop iteration if a
        loop runs, else right here)."""
        self._reporter = report
        caps = m.Capabilities(data_channels=True, webrtc=True, restart_ice=False)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            report(caps)
        else:
            self._report_soon(caps)

    def apply(self, effect: fx.Effect) -> None:
        """Carry out one media effect (never blocks, never raises; ignored after close)."""
        if self._closed:
            return
        try:
            self._dispatch(effect)
        except Exception:  # a bug here must not reach the runtime
            log.exception("rtcstate_aiortc: cannot apply %r", effect)

    async def close(self) -> None:
        """Close every connection, end every stream; return once every task is finished."""
        if self._closed:
            return
        self._closed = True
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        workers: list[asyncio.Task[None]] = []
        for call in list(self._calls.values()):
            self._cancel_gone(call)
            while not call.queue.empty():
                call.queue.get_nowait()
            call.queue.put_nowait(fx.ClosePeerConnection(call.call_id))
            if call.worker is not None:
                workers.append(call.worker)
        if workers:
            _, late = await asyncio.wait(workers, timeout=10.0)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        for pc in list(self._pcs):
            await pc.close()
        self._pcs.clear()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        self._tasks.clear()
        for stream in self._streams.values():
            stream.released = True
        self._streams.clear()
        self._calls.clear()

    # --- introspection ------------------------------------------------------------------------

    def frames_sent(self, call_id: str) -> dict[str, int]:
        """Frames the call's synthetic tracks handed to aiortc, per kind (kept after the call
        closed, for the last 256 calls)."""
        return dict(self._sent.get(call_id, {}))

    def frames_received(self, call_id: str) -> dict[str, int]:
        """Remote frames drained on the call, per kind (kept after close)."""
        return dict(self._received.get(call_id, {}))

    def peer_connection(self, call_id: str) -> RTCPeerConnection | None:
        """The call's current connection (None before ``CreatePeerConnection``/after close)."""
        call = self._calls.get(call_id)
        return None if call is None else call.pc

    def local_description(self, call_id: str) -> str | None:
        """The SDP of the call's current local description, if any."""
        pc = self.peer_connection(call_id)
        desc = None if pc is None else pc.localDescription
        return None if desc is None else str(desc.sdp)

    def calls(self) -> list[str]:
        """Ids of the calls the backend holds (a connection or pending effects)."""
        return list(self._calls)

    # --- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, effect: fx.Effect) -> None:
        if isinstance(effect, fx.AcquireMedia):
            self._acquire(effect)
        elif isinstance(effect, fx.ReleaseMedia):
            stream = self._streams.pop(effect.stream_id, None)
            if stream is not None:
                stream.released = True  # its tracks end, as a stopped camera's do
        elif isinstance(effect, fx.SetTrackEnabled):
            call = self._call(effect.call_id, create=True)
            if call is not None and effect.kind in call.control.enabled:
                call.control.enabled[effect.kind] = effect.enabled
        elif isinstance(effect, fx.StartRecording):
            info = {"error": "recording is not supported by the aiortc backend"}
            self._report_soon(m.RecordingReport(effect.call_id, "failed", info))
        elif isinstance(effect, fx.StopRecording):
            log.debug("rtcstate_aiortc: StopRecording(%s) ignored", effect.call_id)
        elif isinstance(effect, fx.SendData | fx.CloseDataChannel):
            call_id = self._channel_calls.get(effect.channel_id)
            call = None if call_id is None else self._calls.get(call_id)
            if call is None:
                log.debug("rtcstate_aiortc: %r for an unknown channel", effect)
            else:
                call.queue.put_nowait(effect)
        elif isinstance(effect, fx.OpenDataChannel):
            call = self._calls.get(effect.call_id)
            if call is None:
                self._report_soon(m.DataChannelClosed(effect.channel_id))
            else:
                self._channel_calls[effect.channel_id] = effect.call_id
                call.queue.put_nowait(effect)
        elif isinstance(effect, fx.CreatePeerConnection | fx.PublishStream):
            call = self._call(effect.call_id, create=True)
            if call is not None:
                call.queue.put_nowait(effect)
        elif isinstance(
            effect,
            fx.ClosePeerConnection
            | fx.CreateOffer
            | fx.CreateAnswer
            | fx.SetRemoteDescription
            | fx.AddIceCandidate
            | fx.RestartIce,
        ):
            call = self._calls.get(effect.call_id)
            if call is not None:
                call.queue.put_nowait(effect)
            elif isinstance(effect, fx.CreateOffer | fx.CreateAnswer | fx.SetRemoteDescription):
                local = not isinstance(effect, fx.SetRemoteDescription)
                failure = m.DescriptionFailed(effect.call_id, local, "no peer connection")
                self._report_soon(failure)
        else:
            log.debug("rtcstate_aiortc: not a media effect: %r", effect)

    def _call(self, call_id: str, *, create: bool) -> _Call | None:
        call = self._calls.get(call_id)
        if call is not None or not create or call_id in self._finished:
            return call
        control = SourceControl()
        received = {"audio": 0, "video": 0}
        self._sent[call_id] = control.sent
        self._received[call_id] = received
        call = _Call(call_id, asyncio.Queue(), control, received)
        call.worker = self._spawn(self._run(call), f"rtcstate-aiortc:{call_id}")
        self._calls[call_id] = call
        return call

    def _acquire(self, effect: fx.AcquireMedia) -> None:
        if not effect.audio and not effect.video:
            self._report_soon(m.MediaFailed(effect.request_id, "neither audio nor video asked"))
            return
        width, height = self.video_size
        stream = SyntheticStream(
            f"stream-{uuid.uuid4().hex[:16]}",
            audio=effect.audio,
            video=effect.video,
            call_type=effect.call_type,
            width=width,
            height=height,
            fps=self.video_fps,
        )
        self._streams[stream.stream_id] = stream
        self._by_request[effect.request_id] = stream.stream_id
        acquired = m.MediaAcquired(effect.request_id, stream.stream_id, effect.audio, effect.video)
        self._report_soon(acquired)

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

    # --- the call's worker --------------------------------------------------------------------

    async def _run(self, call: _Call) -> None:
        # this task's context (and the gathering tasks aiortc starts from it) offers loopback only
        loopback.LOOPBACK_ONLY.set(self.loopback_only)
        while True:
            effect = await call.queue.get()
            try:
                if await self._carry(call, effect):
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(call, effect, exc)

    def _failed(self, call: _Call, effect: fx.Effect, exc: Exception) -> None:
        log.debug("rtcstate_aiortc: %r failed: %s", effect, _describe(exc))
        if isinstance(effect, fx.CreateOffer | fx.CreateAnswer):
            self._emit(m.DescriptionFailed(call.call_id, True, _describe(exc)))
        elif isinstance(effect, fx.SetRemoteDescription):
            self._emit(m.DescriptionFailed(call.call_id, False, _describe(exc)))
        elif isinstance(effect, fx.CreatePeerConnection | fx.RestartIce):
            call.ice = "failed"
            self._emit(m.IceStateChanged(call.call_id, "failed"))
        elif isinstance(effect, fx.OpenDataChannel | fx.SendData | fx.CloseDataChannel):
            channel = call.channels.get(effect.channel_id)
            if channel is None or not channel.ended:
                if channel is not None:
                    channel.ended = True
                    channel.dc = None
                self._emit(m.DataChannelClosed(effect.channel_id))
        elif isinstance(effect, fx.ClosePeerConnection):
            log.warning("rtcstate_aiortc: closing %s failed: %s", call.call_id, _describe(exc))

    async def _carry(self, call: _Call, effect: fx.Effect) -> bool:
        """Carry out one queued effect; True when the call is finished (its worker ends)."""
        if isinstance(effect, fx.ClosePeerConnection):
            await self._shutdown(call)
            return True
        if isinstance(effect, fx.CreatePeerConnection):
            call.polite = effect.polite
            if call.pc is None:
                if call.control.stream is None:
                    stream_id = self._by_request.get(call.call_id)
                    call.control.stream = (
                        None if stream_id is None else self._streams.get(stream_id)
                    )
                call.pc = self._new_pc(call)
        elif isinstance(effect, fx.PublishStream):
            self._publish(call, effect.stream_id)
        elif isinstance(effect, fx.RestartIce):
            if call.pc is not None and call.pc.localDescription is not None:
                await self._replace_pc(call)
        elif isinstance(effect, fx.CreateOffer):
            await self._offer(call, effect.ice_restart)
        elif isinstance(effect, fx.CreateAnswer):
            pc = self._pc(call)
            await pc.setLocalDescription(await pc.createAnswer())
            self._emit(m.LocalDescriptionReady(call.call_id, "answer", self._local_sdp(pc)))
        elif isinstance(effect, fx.SetRemoteDescription):
            await self._set_remote(call, effect.sdp_type, effect.sdp)
        elif isinstance(effect, fx.AddIceCandidate):
            await self._add_candidate(call, effect)
        elif isinstance(effect, fx.OpenDataChannel):
            self._open_channel(call, effect.channel_id, effect.label)
        elif isinstance(effect, fx.SendData):
            self._send(call, effect.channel_id, effect.data)
        elif isinstance(effect, fx.CloseDataChannel):
            self._close_channel(call, effect.channel_id)
        return False

    def _pc(self, call: _Call) -> RTCPeerConnection:
        if call.pc is None:
            raise RuntimeError(f"no peer connection for call {call.call_id}")
        return call.pc

    # --- peer connections ---------------------------------------------------------------------

    def _new_pc(self, call: _Call) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs.add(pc)
        self.connections_created += 1

        @pc.on("connectionstatechange")
        def on_state() -> None:
            self._on_state(call, pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._on_track(call, pc, track)

        @pc.on("datachannel")
        def on_datachannel(dc: RTCDataChannel) -> None:
            self._on_datachannel(call, pc, dc)

        stream = call.control.stream
        kinds = [
            kind
            for kind in ("audio", "video")
            if kind in call.control.track_ids  # sent before: the far side gets it back
            or (stream is not None and not stream.released and stream.has(kind))
        ]
        for track in call.control.tracks(kinds):
            sender = pc.addTrack(track)
            if stream is not None:
                # msid "<stream> <track>": the far side's streamAdded names our stream id
                sender._stream_id = stream.stream_id
        if call.bootstrap:
            self._add_bootstrap(pc)
        for channel in call.channels.values():
            if channel.local and not channel.ended:
                self._create_dc(call, pc, channel)
        return pc

    def _add_bootstrap(self, pc: RTCPeerConnection) -> None:
        pc.createDataChannel("rtcstate-sctp", negotiated=True, id=BOOTSTRAP_CHANNEL_ID)

    async def _replace_pc(self, call: _Call) -> None:
        """ICE restart: close the call's connection and build a new one (same tracks/channels)."""
        old = call.pc
        for channel in call.channels.values():
            channel.dc = None  # the old channels' events are ignored from now on
        call.pc = None
        call.ice = None
        self._cancel_gone(call)
        if old is not None:
            await self._dispose(call, old)
        call.pc = self._new_pc(call)

    async def _dispose(self, call: _Call, pc: RTCPeerConnection) -> None:
        await self._stop_stats(call)
        consumers = [task for task, owner in call.consumers.items() if owner is pc]
        for task in consumers:
            task.cancel()
        try:
            await pc.close()
        finally:
            self._pcs.discard(pc)
            if consumers:
                await asyncio.wait(consumers)
            for task in consumers:
                call.consumers.pop(task, None)

    async def _shutdown(self, call: _Call) -> None:
        call.closing = True
        self._cancel_gone(call)
        for channel_id, channel in call.channels.items():
            channel.dc = None
            self._channel_calls.pop(channel_id, None)
        pc, call.pc = call.pc, None
        try:
            if pc is not None:
                await self._dispose(call, pc)
        finally:
            left = list(call.consumers)
            for task in left:
                task.cancel()
            if left:
                await asyncio.wait(left)
            call.consumers.clear()
            self._calls.pop(call.call_id, None)
            self._by_request.pop(call.call_id, None)
            self._finished[call.call_id] = None
            while len(self._finished) > _FINISHED_KEPT:  # counters of old calls go too
                old, _ = self._finished.popitem(last=False)
                self._sent.pop(old, None)
                self._received.pop(old, None)

    def _local_sdp(self, pc: RTCPeerConnection) -> str:
        sdp = str(pc.localDescription.sdp)
        if self.loopback_only:
            bad = loopback.non_loopback_candidates(sdp)
            if bad:  # fail closed: never signal an address off the loopback interface
                raise RuntimeError(f"non-loopback candidates in a loopback-only SDP: {bad}")
        return sdp

    async def _offer(self, call: _Call, ice_restart: bool) -> None:
        pc = self._pc(call)
        if ice_restart and pc.localDescription is not None:
            await self._replace_pc(call)  # no RestartIce came first: restart here
            pc = self._pc(call)
        if not pc.getTransceivers() and not call.bootstrap and not call.channels:
            call.bootstrap = True  # a data call: give ICE an SCTP section to connect
            self._add_bootstrap(pc)
        await pc.setLocalDescription(await pc.createOffer())
        self._emit(m.LocalDescriptionReady(call.call_id, "offer", self._local_sdp(pc)))

    async def _set_remote(self, call: _Call, sdp_type: str, sdp: str) -> None:
        if self.loopback_only:
            sdp = loopback.filter_remote_sdp(sdp)
        pc = self._pc(call)
        current = pc.remoteDescription
        if sdp_type == "offer" and current is not None and _restarted(str(current.sdp), sdp):
            await self._replace_pc(call)  # the far side restarted with a new connection
            pc = self._pc(call)
        call.remote_msid.update(_msids(sdp))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=sdp_type))
        self._count_rtp(call, pc)

    async def _add_candidate(self, call: _Call, effect: fx.AddIceCandidate) -> None:
        pc = self._pc(call)
        text = effect.candidate.strip()
        if not text:
            await pc.addIceCandidate(None)  # end of candidates
            return
        if self.loopback_only and not loopback.is_loopback_candidate(text):
            log.debug("rtcstate_aiortc: non-loopback candidate ignored: %s", text)
            return
        if text.startswith("a="):
            text = text[2:]
        if text.startswith("candidate:"):
            text = text[len("candidate:") :]
        candidate = candidate_from_sdp(text)
        candidate.sdpMid = effect.sdp_mid
        candidate.sdpMLineIndex = effect.sdp_mline_index
        if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
            candidate.sdpMLineIndex = 0
        await pc.addIceCandidate(candidate)

    def _publish(self, call: _Call, stream_id: str) -> None:
        # the call's tracks now read this stream (replaceTrack semantics: same senders, same
        # remote tracks); an unknown or released stream sends silence / black
        stream = self._streams.get(stream_id)
        call.control.stream = stream
        if call.pc is None or stream is None:
            return
        for transceiver in call.pc.getTransceivers():
            if transceiver.sender.track is not None:
                transceiver.sender._stream_id = stream.stream_id  # the msid of later offers

    # --- aiortc events ------------------------------------------------------------------------

    def _on_state(self, call: _Call, pc: RTCPeerConnection) -> None:
        if call.pc is not pc or call.closing or self._closed:
            return
        state = pc.connectionState
        if state == "closed":  # aiortc closed it: the far side closed its connection
            if call.gone is None:
                call.gone = self._later(self.peer_gone_delay, lambda: self._peer_gone(call, pc))
            return
        mapped = _ICE_STATES.get(state)
        if mapped is None or mapped == call.ice:
            return
        call.ice = mapped
        self._emit(m.IceStateChanged(call.call_id, mapped))
        if mapped == "connected" and self.media_timeout is not None:
            call.heard = asyncio.get_running_loop().time()
            self._later(self.media_timeout, lambda: self._watch(call, pc))
        if mapped == "connected" and self.stats_interval is not None:
            self._start_stats(call, pc, self.stats_interval)

    def _watch(self, call: _Call, pc: RTCPeerConnection) -> None:
        """No remote frame for ``media_timeout`` on a connection draining tracks: the far
        side is silent (killed, unplugged), which aiortc would notice only ~30 s later."""
        timeout = self.media_timeout
        if (
            timeout is None
            or not self._live(call, pc)
            or call.ice not in ("connected", "disconnected")
        ):
            return
        now = asyncio.get_running_loop().time()
        draining = any(owner is pc for owner in call.consumers.values())
        if draining and call.ice == "connected" and now - call.heard >= timeout:
            call.ice = "disconnected"
            self._emit(m.IceStateChanged(call.call_id, "disconnected"))
        self._later(max(call.heard + timeout - now, timeout / 4), lambda: self._watch(call, pc))

    def _cancel_gone(self, call: _Call) -> None:
        if call.gone is not None:
            call.gone.cancel()
            self._handles.discard(call.gone)
            call.gone = None

    def _peer_gone(self, call: _Call, pc: RTCPeerConnection) -> None:
        call.gone = None
        if call.pc is pc and not call.closing and call.ice != "failed":
            call.ice = "failed"
            self._emit(m.IceStateChanged(call.call_id, "failed"))

    def _on_track(self, call: _Call, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        if call.pc is not pc or call.closing or self._closed:
            return
        task = self._spawn(self._drain(call, pc, track), f"rtcstate-aiortc:drain:{track.id}")
        call.consumers[task] = pc
        if track.id not in call.remote_tracks:  # a track back after a restart is not news
            call.remote_tracks[track.id] = track.kind
            stream_id = call.remote_msid.get(track.id, f"{call.call_id}-remote")
            self._emit(m.TrackAdded(call.call_id, track.id, track.kind, stream_id))

    async def _drain(self, call: _Call, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        kind = track.kind
        counts = call.received
        clock = asyncio.get_running_loop().time
        try:
            while True:
                frame = await track.recv()
                counts[kind] = counts.get(kind, 0) + 1
                if kind == "video" and self.stats_interval is not None:
                    width, height = getattr(frame, "width", None), getattr(frame, "height", None)
                    if isinstance(width, int) and isinstance(height, int):
                        call.stats.video_in = (width, height)
                call.heard = clock()
                if call.ice == "disconnected" and call.pc is pc:  # frames again: back
                    call.ice = "connected"
                    self._emit(m.IceStateChanged(call.call_id, "connected"))
        except MediaStreamError:
            pass
        except Exception as exc:  # a decoder error ends the drain like an ended track
            log.debug("rtcstate_aiortc: remote %s track failed: %s", kind, _describe(exc))
        call.consumers.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        if self._live(call, pc):
            # aiortc also ends remote tracks when the far side closes its connection (RTCP BYE,
            # then DTLS close): that is the connection's trouble, reported as such. Only a
            # track that ended while its connection stays up is reported as ended.
            self._later(self.peer_gone_delay, lambda: self._track_gone(call, pc, track.id, kind))

    def _live(self, call: _Call, pc: RTCPeerConnection) -> bool:
        """Whether ``pc`` is the call's current connection and neither closing nor closed."""
        return (
            call.pc is pc
            and not call.closing
            and not self._closed
            and pc.signalingState != "closed"
            and pc.connectionState != "closed"
        )

    def _track_gone(self, call: _Call, pc: RTCPeerConnection, track_id: str, kind: str) -> None:
        if self._live(call, pc) and track_id in call.remote_tracks:
            del call.remote_tracks[track_id]
            self._emit(m.TrackEnded(call.call_id, track_id, kind, remote=True))

    # --- statistics ---------------------------------------------------------------------------

    def _start_stats(self, call: _Call, pc: RTCPeerConnection, interval: float) -> None:
        if call.stats.task is not None and not call.stats.task.done():
            return
        self._count_rtp(call, pc)
        name = f"rtcstate-aiortc:stats:{call.call_id}"
        call.stats.task = self._spawn(self._poll_stats(call, pc, interval), name)

    async def _stop_stats(self, call: _Call) -> None:
        """Cancel and await the call's poller; its connection's counters go to the base."""
        stats = call.stats
        task, stats.task = stats.task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait([task])
        for section, counters in stats.current.items():
            kept = stats.base.setdefault(section, {})
            for key, value in counters.items():
                kept[key] = kept.get(key, 0.0) + value
        stats.current = {}

    def _count_rtp(self, call: _Call, pc: RTCPeerConnection) -> None:
        """Count the RTP packets and payload bytes each receiver of ``pc`` gets (aiortc's
        inbound statistics have no byte count): its packet handler is wrapped, once."""
        if self.stats_interval is None:
            return
        for transceiver in pc.getTransceivers():
            receiver = transceiver.receiver
            handle = getattr(receiver, "_handle_rtp_packet", None)
            if handle is None or getattr(receiver, "_rtcstate_counted", False):
                continue
            counts = call.stats.rtp_in.setdefault(transceiver.kind, [0, 0])

            async def counting(
                packet: Any, arrival_time_ms: int, handle: Any = handle, counts: list[int] = counts
            ) -> None:
                counts[0] += 1
                counts[1] += len(packet.payload)
                await handle(packet, arrival_time_ms=arrival_time_ms)

            setattr(receiver, "_handle_rtp_packet", counting)  # noqa: B010
            setattr(receiver, "_rtcstate_counted", True)  # noqa: B010

    async def _poll_stats(self, call: _Call, pc: RTCPeerConnection, interval: float) -> None:
        clock = asyncio.get_running_loop().time
        try:
            while True:
                await asyncio.sleep(interval)
                if not self._live(call, pc) or pc.connectionState != "connected":
                    return
                try:
                    report = await pc.getStats()
                    if not self._live(call, pc):
                        return
                    stats = self._sample(call, pc, report, clock())
                except Exception as exc:  # a sample lost, never an exception
                    level = logging.DEBUG if call.stats.warned else logging.WARNING
                    call.stats.warned = True
                    log.log(level, "rtcstate_aiortc: getStats on %s: %s", call.call_id, exc)
                    continue
                if stats:
                    self._emit(m.StatsReport(call.call_id, stats))
        finally:
            if call.stats.task is asyncio.current_task():
                call.stats.task = None

    def _sample(
        self, call: _Call, pc: RTCPeerConnection, report: RTCStatsReport, now: float
    ) -> dict[str, Any]:
        state = call.stats
        sending = {t.sender.track.kind for t in pc.getTransceivers() if t.sender.track is not None}
        current: Counters = {}
        extra: dict[str, dict[str, Any]] = {}
        for item in report.values():
            kind = getattr(item, "kind", None)
            if kind not in ("audio", "video"):
                continue
            if isinstance(item, RTCOutboundRtpStreamStats) and kind in sending:
                counters = current.setdefault(f"{kind}Sent", {})
                counters["bytesSent"] = counters.get("bytesSent", 0.0) + item.bytesSent
                counters["packetsSent"] = counters.get("packetsSent", 0.0) + item.packetsSent
                stamp = int(item.timestamp.timestamp() * 1000)
                extra.setdefault(f"{kind}Sent", {})["timestamp"] = stamp
            elif isinstance(item, RTCRemoteInboundRtpStreamStats) and kind in sending:
                far = extra.setdefault(f"{kind}Sent", {})
                if item.roundTripTime is not None:
                    far["delay"] = round(item.roundTripTime * 1000, 1)
                far["packetLossRatio"] = round(item.fractionLost / 256, 4)
            elif isinstance(item, RTCInboundRtpStreamStats):
                counters = current.setdefault(f"{kind}Received", {})
                lost = max(0, item.packetsLost)
                counters["packetsLost"] = counters.get("packetsLost", 0.0) + lost
        state.current = current
        totals: Counters = {}
        for source in (state.base, current):
            for section, counters in source.items():
                if section.endswith("Sent") and section[:5] not in sending:
                    continue  # a kind no longer sent
                kept = totals.setdefault(section, {})
                for key, value in counters.items():
                    kept[key] = kept.get(key, 0.0) + value
        for kind, (packets, size) in state.rtp_in.items():
            section = f"{kind}Received"
            if packets or section in totals:
                counters = totals.setdefault(section, {})
                counters.update(packetsReceived=packets, bytesReceived=size)
                counters.setdefault("packetsLost", 0.0)
        if "videoSent" in totals:
            totals["videoSent"]["framesEncoded"] = call.control.sent.get("video", 0)
        if "videoReceived" in totals:
            totals["videoReceived"]["framesDecoded"] = call.received.get("video", 0)
            if state.video_in is not None:
                width, height = state.video_in
                extra.setdefault("videoReceived", {}).update(width=width, height=height)
        for section in list(extra):
            if section not in totals:
                del extra[section]
        stats = _call_stats(totals, state.previous, now, extra)
        state.previous = (now, totals)
        return stats

    # --- data channels ------------------------------------------------------------------------

    def _open_channel(self, call: _Call, channel_id: str, label: str) -> None:
        pc = self._pc(call)
        negotiated = [d.sdp for d in (pc.localDescription, pc.remoteDescription) if d is not None]
        if not any("m=application" in sdp for sdp in negotiated):
            # no SCTP section was negotiated (a media call): opening one needs renegotiation
            raise RuntimeError("no SCTP association on this connection")
        channel = _Channel(channel_id, call.call_id, label, local=True)
        call.channels[channel_id] = channel
        self._create_dc(call, pc, channel)

    def _create_dc(self, call: _Call, pc: RTCPeerConnection, channel: _Channel) -> None:
        dc = pc.createDataChannel(channel.label, protocol=channel.channel_id, ordered=True)
        self._attach(call, channel, dc)

    def _on_datachannel(self, call: _Call, pc: RTCPeerConnection, dc: RTCDataChannel) -> None:
        if call.pc is not pc or call.closing or self._closed:
            return
        channel_id = str(dc.protocol or dc.label)
        channel = call.channels.get(channel_id)
        if channel is None or channel.ended:
            channel = _Channel(channel_id, call.call_id, str(dc.label), local=False)
            call.channels[channel_id] = channel
            self._channel_calls[channel_id] = call.call_id
        self._attach(call, channel, dc)
        self._channel_open(channel, dc)  # a received channel is open already

    def _attach(self, call: _Call, channel: _Channel, dc: RTCDataChannel) -> None:
        channel.dc = dc
        dc.bufferedAmountLowThreshold = self.buffered_low

        @dc.on("open")
        def on_open() -> None:
            if channel.dc is dc:
                self._channel_open(channel, dc)

        @dc.on("message")
        def on_message(data: bytes | str) -> None:
            if channel.dc is dc:
                self._emit(m.DataChannelMessage(channel.channel_id, data))

        @dc.on("close")
        def on_close() -> None:
            if channel.dc is not dc:
                return
            channel.dc = None
            if not self._association_up(call, dc):
                # the channel goes down with its connection: that is the connection's failure
                # (reported as such); a restart brings the channel back, data waits meanwhile
                return
            channel.pending.clear()
            channel.pending_bytes = 0
            if not channel.ended:
                channel.ended = True
                self._emit(m.DataChannelClosed(channel.channel_id))

        @dc.on("bufferedamountlow")
        def on_low() -> None:
            if channel.dc is dc:
                self._check_low(channel)

    def _association_up(self, call: _Call, dc: RTCDataChannel) -> bool:
        """Whether the SCTP association under ``dc`` (and its connection) is still up."""
        pc = call.pc
        if pc is None or pc.signalingState == "closed" or call.closing:
            return False
        sctp = dc.transport
        return bool(sctp.state == "connected" and sctp.transport.state == "connected")

    def _channel_open(self, channel: _Channel, dc: RTCDataChannel) -> None:
        while channel.pending and dc.readyState == "open":
            data = channel.pending.popleft()
            channel.pending_bytes -= _size(data)
            dc.send(data)
        if not channel.opened:
            channel.opened = True
            self._emit(m.DataChannelOpened(channel.channel_id))
        self._check_high(channel)
        self._check_low(channel)

    def _buffered(self, channel: _Channel) -> int:
        queued = 0 if channel.dc is None else int(channel.dc.bufferedAmount)
        return queued + channel.pending_bytes

    def _check_high(self, channel: _Channel) -> None:
        if not channel.high and self._buffered(channel) > self.buffered_high:
            channel.high = True
            self._emit(m.BufferedAmountHigh(channel.channel_id))

    def _check_low(self, channel: _Channel) -> None:
        if channel.high and self._buffered(channel) <= self.buffered_low:
            channel.high = False
            self._emit(m.BufferedAmountLow(channel.channel_id))

    def _send(self, call: _Call, channel_id: str, data: bytes | str) -> None:
        channel = call.channels.get(channel_id)
        if channel is None or channel.ended:
            log.debug("rtcstate_aiortc: data for closed channel %s dropped", channel_id)
            return
        dc = channel.dc
        if dc is not None and dc.readyState == "open" and not channel.pending:
            dc.send(data)
        else:  # not open yet, or back on a new connection soon: keep the order
            channel.pending.append(data)
            channel.pending_bytes += _size(data)
        self._check_high(channel)

    def _close_channel(self, call: _Call, channel_id: str) -> None:
        channel = call.channels.get(channel_id)
        if channel is None or channel.ended:
            return
        channel.pending.clear()
        channel.pending_bytes = 0
        dc = channel.dc
        if dc is not None and dc.readyState in ("connecting", "open"):
            dc.close()  # its "close" event reports DataChannelClosed
            return
        channel.ended = True
        channel.dc = None
        self._emit(m.DataChannelClosed(channel_id))


if TYPE_CHECKING:  # pragma: no cover

    def _conforms(backend: AiortcMedia) -> MediaBackend:
        return backend
