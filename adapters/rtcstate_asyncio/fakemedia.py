"""A fake media backend: peer connections and data channels paired in process, no real media.

Theory of operation
-------------------
:class:`FakeMediaNetwork` is the "network" between the fake stacks of one process: it pairs the
peer connections that different :class:`FakeMedia` backends create for the same ``call_id`` (the
call id is shared by both ends of a call). Each :class:`FakeMedia` is a
:class:`~rtcstate_asyncio.backend.MediaBackend`: it carries out the core's media effects at once
and reports their outcome through ``loop.call_soon`` (never from inside ``apply``, in the order
the effects came), the way a real stack reports asynchronously:

* ``AcquireMedia`` → ``MediaAcquired`` with a fresh stream id (``ReleaseMedia`` is recorded);
* ``CreateOffer`` / ``CreateAnswer`` → ``LocalDescriptionReady`` with a unique fake SDP, then one
  loopback host ``IceCandidateFound`` and the end of candidates; a description that makes no
  sense (no peer connection, an answer with no remote offer) → ``DescriptionFailed``;
* ``SetRemoteDescription`` applies at once (``DescriptionFailed`` if it cannot);
* two connections of one call are *paired* when each has applied the other's latest local
  description: both then report ``IceStateChanged("connected")`` (once per pairing, so an ICE
  restart reports it again) and, the first time, one ``TrackAdded`` per kind of the far side's
  acquired stream; ``RestartIce`` puts a connection back to ``checking``;
* ``OpenDataChannel`` opens the channel on both ends once the connections are paired
  (``DataChannelOpened`` on each side under the same channel id), ``SendData`` delivers
  ``DataChannelMessage`` to the far side, ``CloseDataChannel`` (or closing a connection)
  reports ``DataChannelClosed`` on both sides.

Everything it did is kept in :attr:`FakeMedia.applied` for assertions. ``close()`` closes every
connection and cancels the reports not yet delivered.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

from rtcstate import effects as fx
from rtcstate.media import (
    Capabilities,
    DataChannelClosed,
    DataChannelMessage,
    DataChannelOpened,
    DescriptionFailed,
    IceCandidateFound,
    IceStateChanged,
    LocalDescriptionReady,
    MediaAcquired,
    MediaEvent,
    TrackAdded,
)
from rtcstate_asyncio.backend import Reporter

__all__ = ["FakeMedia", "FakeMediaNetwork"]

log = logging.getLogger(__name__)


class _Pc:
    """One fake peer connection."""

    def __init__(self, owner: FakeMedia, call_id: str) -> None:
        self.owner = owner
        self.call_id = call_id
        self.local: str | None = None
        self.local_type: str | None = None
        self.remote: str | None = None
        self.remote_type: str | None = None
        self.ice = "new"
        self.open = True
        self.tracks_reported = False
        self.channels: set[str] = set()  # channel ids this side asked to open


class FakeMediaNetwork:
    """Pairs the fake peer connections and data channels of the backends of one process."""

    def __init__(self) -> None:
        self._pcs: dict[str, dict[int, _Pc]] = {}  # call_id -> id(backend) -> connection
        self._channels: dict[str, tuple[_Pc, _Pc]] = {}  # open channel id -> both ends

    def backend(self, name: str) -> FakeMedia:
        """A new backend on this network (``name`` shows in its stream ids and SDPs)."""
        return FakeMedia(self, name)

    # --- used by the backends -----------------------------------------------------------------

    def add(self, pc: _Pc) -> None:
        pcs = self._pcs.setdefault(pc.call_id, {})
        old = pcs.get(id(pc.owner))
        if old is not None:
            self.close(old)
        pcs[id(pc.owner)] = pc

    def pc(self, owner: FakeMedia, call_id: str) -> _Pc | None:
        pc = self._pcs.get(call_id, {}).get(id(owner))
        return pc if pc is not None and pc.open else None

    def close(self, pc: _Pc) -> None:
        if not pc.open:
            return
        pc.open = False
        pc.ice = "closed"
        pcs = self._pcs.get(pc.call_id, {})
        if pcs.get(id(pc.owner)) is pc:
            del pcs[id(pc.owner)]
            if not pcs:
                del self._pcs[pc.call_id]
        for channel_id, ends in list(self._channels.items()):
            if pc in ends:
                self.close_channel(channel_id)

    def partner(self, pc: _Pc) -> _Pc | None:
        if not pc.open or pc.local is None or pc.remote is None:
            return None
        for other in self._pcs.get(pc.call_id, {}).values():
            if other is not pc and other.local == pc.remote and other.remote == pc.local:
                return other
        return None

    def evaluate(self, call_id: str) -> None:
        """Connect every newly paired couple of connections of ``call_id``."""
        for pc in list(self._pcs.get(call_id, {}).values()):
            other = self.partner(pc)
            if other is None:
                continue
            for side, far in ((pc, other), (other, pc)):
                if side.ice != "connected":
                    side.ice = "connected"
                    side.owner.report(IceStateChanged(call_id, "connected"))
                    if not side.tracks_reported:
                        side.tracks_reported = True
                        far.owner.tracks(side, call_id)
            for side, far in ((pc, other), (other, pc)):
                for channel_id in sorted(side.channels):
                    if channel_id not in self._channels:
                        self._channels[channel_id] = (side, far)
                        side.owner.report(DataChannelOpened(channel_id))
                        far.owner.report(DataChannelOpened(channel_id))

    def far_end(self, owner: FakeMedia, channel_id: str) -> _Pc | None:
        ends = self._channels.get(channel_id)
        if ends is None:
            return None
        a, b = ends
        if a.owner is owner:
            return b
        return a if b.owner is owner else None

    def close_channel(self, channel_id: str) -> None:
        ends = self._channels.pop(channel_id, None)
        if ends is None:
            return
        for pc in ends:
            pc.channels.discard(channel_id)
            pc.owner.report(DataChannelClosed(channel_id))


class FakeMedia:
    """A :class:`~rtcstate_asyncio.backend.MediaBackend` on a :class:`FakeMediaNetwork`."""

    def __init__(self, network: FakeMediaNetwork, name: str) -> None:
        self.network = network
        self.name = name
        self.applied: list[fx.Effect] = []
        self.released: set[str] = set()
        self._report: Reporter | None = None
        self._streams: dict[str, tuple[str, bool, bool]] = {}  # request id -> stream
        self._serial = itertools.count(1)
        self._handles: set[asyncio.Handle] = set()
        self._closed = False

    # --- MediaBackend -------------------------------------------------------------------------

    def bind(self, report: Reporter) -> None:
        self._report = report
        self.report(Capabilities(data_channels=True, webrtc=True, restart_ice=False))

    def apply(self, effect: fx.Effect) -> None:
        if self._closed:
            return
        self.applied.append(effect)
        handler = _HANDLERS.get(type(effect))
        if handler is None:
            log.debug("%s: %r recorded only", self.name, effect)
        else:
            handler(self, effect)

    async def close(self) -> None:
        self._closed = True
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        for pcs in list(self.network._pcs.values()):
            pc = pcs.get(id(self))
            if pc is not None:
                self.network.close(pc)

    # --- reporting ----------------------------------------------------------------------------

    def report(self, event: MediaEvent) -> None:
        """Report ``event`` soon (from the event loop, never from inside ``apply``)."""
        if self._closed or self._report is None:
            return
        report = self._report
        handle: asyncio.Handle | None = None

        def deliver() -> None:
            assert handle is not None
            self._handles.discard(handle)
            if not self._closed:
                report(event)

        handle = asyncio.get_running_loop().call_soon(deliver)
        self._handles.add(handle)

    def tracks(self, viewer: _Pc, call_id: str) -> None:
        """Tell ``viewer`` (the far side) about the tracks of this side's stream for the call."""
        stream = self._streams.get(call_id)
        if stream is None:
            return
        stream_id, audio, video = stream
        for kind, on in (("audio", audio), ("video", video)):
            if on:
                viewer.owner.report(TrackAdded(call_id, f"{stream_id}/{kind}", kind, stream_id))

    # --- effects ------------------------------------------------------------------------------

    def _acquire(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.AcquireMedia)
        stream_id = f"{self.name}-stream-{next(self._serial)}"
        self._streams[e.request_id] = (stream_id, e.audio, e.video)
        self.report(MediaAcquired(e.request_id, stream_id, e.audio, e.video))

    def _release(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.ReleaseMedia)
        self.released.add(e.stream_id)

    def _create_pc(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.CreatePeerConnection)
        self.network.add(_Pc(self, e.call_id))

    def _close_pc(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.ClosePeerConnection)
        pc = self.network.pc(self, e.call_id)
        if pc is not None:
            self.network.close(pc)

    def _describe(self, call_id: str, sdp_type: str) -> None:
        pc = self.network.pc(self, call_id)
        if pc is None:
            self.report(DescriptionFailed(call_id, True, "no peer connection"))
            return
        if sdp_type == "answer" and pc.remote_type != "offer":
            self.report(DescriptionFailed(call_id, True, "no remote offer to answer"))
            return
        sdp = f"v=0 fake {self.name} {call_id} {sdp_type} {next(self._serial)}"
        pc.local, pc.local_type = sdp, sdp_type
        self.report(LocalDescriptionReady(call_id, sdp_type, sdp))
        self.report(IceCandidateFound(call_id, "candidate:1 1 udp 1 127.0.0.1 9 typ host", "0", 0))
        self.report(IceCandidateFound(call_id, "", "0", 0))
        self.network.evaluate(call_id)

    def _offer(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.CreateOffer)
        pc = self.network.pc(self, e.call_id)
        if pc is not None and e.ice_restart:
            pc.ice = "checking"
        self._describe(e.call_id, "offer")

    def _answer(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.CreateAnswer)
        self._describe(e.call_id, "answer")

    def _set_remote(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.SetRemoteDescription)
        pc = self.network.pc(self, e.call_id)
        if pc is None:
            self.report(DescriptionFailed(e.call_id, False, "no peer connection"))
            return
        if e.sdp_type == "answer" and pc.local_type != "offer":
            self.report(DescriptionFailed(e.call_id, False, "answer in stable state"))
            return
        if e.sdp_type == "offer" and pc.local_type == "offer":
            pc.local, pc.local_type = None, None  # rollback of our own offer (glare)
        pc.remote, pc.remote_type = e.sdp, e.sdp_type
        self.network.evaluate(e.call_id)

    def _restart_ice(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.RestartIce)
        pc = self.network.pc(self, e.call_id)
        if pc is not None:
            pc.ice = "checking"

    def _open_channel(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.OpenDataChannel)
        pc = self.network.pc(self, e.call_id)
        if pc is None:
            log.debug("%s: no connection for channel %s", self.name, e.channel_id)
            return
        pc.channels.add(e.channel_id)
        self.network.evaluate(e.call_id)

    def _close_channel(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.CloseDataChannel)
        self.network.close_channel(e.channel_id)

    def _send_data(self, e: fx.Effect) -> None:
        assert isinstance(e, fx.SendData)
        far = self.network.far_end(self, e.channel_id)
        if far is None:
            log.debug("%s: channel %s is not open, data dropped", self.name, e.channel_id)
            return
        far.owner.report(DataChannelMessage(e.channel_id, e.data))


_HANDLERS: dict[type[fx.Effect], Callable[[FakeMedia, fx.Effect], None]] = {
    fx.AcquireMedia: FakeMedia._acquire,
    fx.ReleaseMedia: FakeMedia._release,
    fx.CreatePeerConnection: FakeMedia._create_pc,
    fx.ClosePeerConnection: FakeMedia._close_pc,
    fx.CreateOffer: FakeMedia._offer,
    fx.CreateAnswer: FakeMedia._answer,
    fx.SetRemoteDescription: FakeMedia._set_remote,
    fx.RestartIce: FakeMedia._restart_ice,
    fx.OpenDataChannel: FakeMedia._open_channel,
    fx.CloseDataChannel: FakeMedia._close_channel,
    fx.SendData: FakeMedia._send_data,
}
