"""AiortcMedia: the core's media effects carried out on aiortc, one RTCPeerConnection per call.

Theory of operation
-------------------
The runtime hands every media effect to :meth:`AiortcMedia.apply` and feeds what the backend
reports (``rtcstate.media`` events) back into its session. ``apply`` never blocks and never
raises. What needs no peer connection is done at once: ``AcquireMedia`` creates a
:class:`~rtcstate_aiortc.sources.SyntheticStream` and reports ``MediaAcquired`` on the next loop
iteration (never from inside ``apply``: the runtime is still carrying out the input that
produced the effect), ``ReleaseMedia`` releases a stream (what still reads it sends silence or
black), ``SetTrackEnabled`` flips the call's mute flags, and the stream commands
(``SetStreamTrackEnabled``, ``ReleaseTrack``, ``ApplyConstraints``) change the stream every
call publishing it reads (:mod:`rtcstate_aiortc.streamcontrol`). Everything else about a call goes
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

The parts: :mod:`~rtcstate_aiortc.connection` (peer connections: descriptions, ICE, the
ICE-restart swap), :mod:`~rtcstate_aiortc.tracks` (remote tracks drained and watched),
:mod:`~rtcstate_aiortc.channels` (data channels, buffered-amount marks),
:mod:`~rtcstate_aiortc.stats` (``StatsReport``), :mod:`~rtcstate_aiortc._base` (the call records,
reporting, timers, tasks). This module holds :class:`AiortcMedia`: its options,
``bind``/``apply``/``close``, the effect dispatch and the per-call worker.

*Loopback.* With ``loopback_only`` (the default) every host candidate is 127.0.0.1 and remote
candidates elsewhere are ignored; see :mod:`rtcstate_aiortc.loopback`. No STUN/TURN
(``iceServers=[]``), no mDNS.

*Closing.* ``ClosePeerConnection`` closes the call's connection and cancels its consumers (and
its statistics task); :meth:`AiortcMedia.close` does so for every call (pending effects are
discarded), waits for every task the backend started and reports nothing more.

Recording (``StartRecording`` / ``StopRecording``) is :mod:`~rtcstate_aiortc.recorder`'s: aiortc's
``MediaRecorder`` into a real file. *Real media out*: with ``on_remote_track`` the application
gets each remote track (an aiortc ``MediaRelay`` subscription; the backend drains another).
``ice_servers`` configures STUN/TURN for deployments (refused with ``loopback_only``).

Not supported: call quality (MOS) in the statistics, renegotiation rollback (a colliding remote
offer on a connection with a local offer pending fails with ``DescriptionFailed``).
"""

from __future__ import annotations

import asyncio
import collections
import pathlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from aiortc import RTCIceServer, RTCPeerConnection
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from rtcstate import effects as fx
from rtcstate import media as m
from rtcstate.stream import AudioLevel
from rtcstate_aiortc import loopback
from rtcstate_aiortc._base import Reporter, _Call, _describe, log
from rtcstate_aiortc.connection import BOOTSTRAP_CHANNEL_ID, _PeerConnections
from rtcstate_aiortc.feeds import MediaSource, feeds_of
from rtcstate_aiortc.recorder import _Recorders
from rtcstate_aiortc.sources import SourceControl, SyntheticStream
from rtcstate_aiortc.streamcontrol import STREAM_COMMANDS, audio_level, carry_out

if TYPE_CHECKING:  # pragma: no cover
    from rtcstate_asyncio.backend import MediaBackend

__all__ = ["BOOTSTRAP_CHANNEL_ID", "AiortcMedia"]

_FINISHED_KEPT = 256


class AiortcMedia(_PeerConnections, _Recorders):
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
        :mod:`~rtcstate_aiortc.stats`), as apiRTC's ``enableCallStatsMonitoring`` interval (whose
        minimum is 1 s; any value > 0 is accepted here, tests use less).
    ``ice_servers`` (default none)
        STUN/TURN servers (``RTCIceServer`` values) for a deployment; only with
        ``loopback_only=False`` (loopback stays the default in tests, DESIGN.md §8).
    ``on_remote_track`` (default None)
        ``callback(call_id, track)`` for each remote track: the application's own aiortc
        track (a ``MediaRelay`` subscription that drops frames rather than queue them if the
        application reads slowly); the backend still drains and counts the original.
    ``relay_remote`` (default False; implied by ``on_remote_track``)
        relay remote tracks so that ``StartRecording(call_id)`` can record them.
    ``recordings_dir`` (default: a fresh temporary folder)
        where recordings are written.
    ``audio_level_interval`` (default None: off)
        seconds between two ``AudioLevel`` reports of each local stream whose audio is
        synthetic (the tone: about 0.65; disabled, released or stopped: 0.0;
        :func:`~rtcstate_aiortc.streamcontrol.audio_level`): the stream's ``audioAmplitude``.
        Streams fed by the application's audio are not measured.
    ``media_source`` (default None: synthetic content)
        ``source(call_type)`` called for each acquired stream, returning the aiortc tracks (or
        a ``MediaPlayer``) that feed it: :func:`~rtcstate_aiortc.feeds.file_source` plays a
        media file, :func:`~rtcstate_aiortc.feeds.tracks_source` relays the application's
        own tracks. A kind the source lacks stays synthetic; a source that raises fails the
        acquisition (``MediaFailed``).
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
        ice_servers: Sequence[RTCIceServer] = (),
        on_remote_track: Callable[[str, MediaStreamTrack], None] | None = None,
        relay_remote: bool = False,
        recordings_dir: str | pathlib.Path | None = None,
        media_source: MediaSource | None = None,
        audio_level_interval: float | None = None,
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
        if ice_servers and loopback_only:
            raise ValueError("ice_servers need loopback_only=False (nothing leaves loopback)")
        self.ice_servers = list(ice_servers)
        self.on_remote_track = on_remote_track
        self.relay_remote = relay_remote or on_remote_track is not None
        self.recordings_dir = None if recordings_dir is None else pathlib.Path(recordings_dir)
        self.media_source = media_source
        if audio_level_interval is not None and not audio_level_interval > 0:
            raise ValueError("audio_level_interval must be > 0 or None")
        self.audio_level_interval = audio_level_interval
        self._metering = False
        self._feed_relay = MediaRelay()
        self._recordings = {}
        self._recorded = {}
        self._relays = {}
        self._recording_serial = 0
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
        await self._stop_all_recordings()
        for pc in list(self._pcs):
            await pc.close()
        self._pcs.clear()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        self._tasks.clear()
        for stream in self._streams.values():
            stream.release()
        self._streams.clear()
        self._calls.clear()

    # --- real media in -------------------------------------------------------------------------

    def add_stream(
        self, source: Iterable[MediaStreamTrack] | MediaPlayer, stream_id: str | None = None
    ) -> str:
        """Hold a local stream fed by the application's ``source`` (its aiortc tracks, at most
        one per kind, or a ``MediaPlayer``) and return its id: what ``PublishStream`` (a
        call's or a conversation's publish) and ``StartRecording`` name. A player's tracks
        are stopped when the stream is released (``ReleaseMedia``), the application's own
        tracks are left to it. Raises ``ValueError`` for a bad source or a stream id in use."""
        feeds = feeds_of(source)
        if not feeds:
            raise ValueError("a stream needs an audio or a video track")
        sid = stream_id if stream_id is not None else f"stream-{uuid.uuid4().hex[:16]}"
        if sid in self._streams:
            raise ValueError(f"stream id {sid!r} is in use")
        width, height = self.video_size
        self._streams[sid] = SyntheticStream(
            sid,
            audio="audio" in feeds,
            video="video" in feeds,
            width=width,
            height=height,
            fps=self.video_fps,
            feeds=feeds,
            relay=self._feed_relay,
            owns_feeds=isinstance(source, MediaPlayer),
        )
        self._meter_soon()
        return sid

    # --- audio levels -------------------------------------------------------------------------

    def _meter_soon(self) -> None:
        interval = self.audio_level_interval
        if interval is None or self._metering:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a stream added before the loop runs): metered from the next one
        self._metering = True
        self._later(interval, self._meter)

    def _meter(self) -> None:
        """One ``AudioLevel`` per metered stream; again after the interval while any is held."""
        self._metering = False
        if self._closed or not self._streams:
            return
        for sid, stream in list(self._streams.items()):
            level = audio_level(stream)
            if level is not None:
                self._emit(AudioLevel(sid, level))
        self._meter_soon()

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

    def streams(self) -> list[str]:
        """Ids of the local streams the backend holds (acquired or added, not released)."""
        return list(self._streams)

    def stream(self, stream_id: str) -> SyntheticStream | None:
        """The local stream ``stream_id`` (its kinds, geometry, disabled and stopped kinds)."""
        return self._streams.get(stream_id)

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
                stream.release()  # its tracks end, as a stopped camera's do
        elif isinstance(effect, fx.SetTrackEnabled):
            call = self._call(effect.call_id, create=True)
            if call is not None and effect.kind in call.control.enabled:
                call.control.enabled[effect.kind] = effect.enabled
        elif isinstance(effect, STREAM_COMMANDS):
            report = carry_out(self._streams, effect)
            if report is not None:
                self._report_soon(report)
        elif isinstance(effect, fx.StartRecording):
            self._start_recording(effect.call_id)
        elif isinstance(effect, fx.StopRecording):
            self._stop_recording(effect.call_id)
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
        feeds: dict[str, MediaStreamTrack] = {}
        if self.media_source is not None:
            try:
                feeds = feeds_of(self.media_source(effect.call_type))
            except Exception as exc:  # the application's source: the acquisition fails
                self._report_soon(m.MediaFailed(effect.request_id, _describe(exc)))
                return
        stream = SyntheticStream(
            f"stream-{uuid.uuid4().hex[:16]}",
            audio=effect.audio,
            video=effect.video,
            call_type=effect.call_type,
            width=width,
            height=height,
            fps=self.video_fps,
            relay=self._feed_relay,
            owns_feeds=True,
        )
        for kind, feed in feeds.items():
            if stream.has(kind):
                stream.feeds[kind] = feed
            else:
                feed.stop()  # a kind the call did not ask for
        self._streams[stream.stream_id] = stream
        self._by_request[effect.request_id] = stream.stream_id
        self._meter_soon()
        acquired = m.MediaAcquired(effect.request_id, stream.stream_id, effect.audio, effect.video)
        self._report_soon(acquired)

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
                await self._replace_pc(call, keep=True)
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

    async def _shutdown(self, call: _Call) -> None:
        call.closing = True
        self._cancel_gone(call)
        for channel_id, channel in call.channels.items():
            channel.dc = None
            self._channel_calls.pop(channel_id, None)
        pc, call.pc = call.pc, None
        try:
            await self._retire(call)
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
            self._relays.pop(call.call_id, None)
            self._by_request.pop(call.call_id, None)
            self._finished[call.call_id] = None
            while len(self._finished) > _FINISHED_KEPT:  # counters of old calls go too
                old, _ = self._finished.popitem(last=False)
                self._sent.pop(old, None)
                self._received.pop(old, None)


if TYPE_CHECKING:  # pragma: no cover

    def _conforms(backend: AiortcMedia) -> MediaBackend:
        return backend
