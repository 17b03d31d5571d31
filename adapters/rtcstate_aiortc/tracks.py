"""Remote tracks of :class:`~rtcstate_aiortc.backend.AiortcMedia`: drained, counted, watched.

Theory of operation
-------------------
*Remote tracks* are always drained: one consumer task per track reads frames until the track
ends and counts them (:meth:`AiortcMedia.frames_received`); ``TrackAdded`` is reported when the
track appears, ``TrackEnded`` if it ended and, ``peer_gone_delay`` later, its connection is
still the call's current one and still up (aiortc ends remote tracks when the far side closes
its connection: that is the connection's failure, reported as such, and a restart brings the
same tracks back).

*Silence watch.* aiortc has no ``disconnected`` state and notices a dead far side (a killed
process) only when ICE consent expires, about 30 s later. With ``media_timeout`` set, a
connected call that drains remote tracks but got no frame from them for ``media_timeout``
seconds hears ``IceStateChanged("disconnected")`` (so the core's ICE-disconnection timers run),
and ``connected`` again at the next frame. Calls without remote tracks are not watched.
"""

from __future__ import annotations

import asyncio

from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from rtcstate import media as m
from rtcstate_aiortc._base import _Base, _Call, _describe, log


class _RemoteTracks(_Base):
    _relays: dict[str, tuple[MediaRelay, dict[str, MediaStreamTrack]]]

    """One consumer task per remote track, frame counters, the ``media_timeout`` watch."""

    def _on_track(self, call: _Call, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        if call.pc is not pc or call.closing or self._closed:
            return
        source = track
        if self.relay_remote:  # one relay subscription drained, others for the app, recorders
            relay, originals = self._relays.setdefault(call.call_id, (MediaRelay(), {}))
            originals[track.kind] = track
            source = relay.subscribe(track)
            if self.on_remote_track is not None:
                try:
                    self.on_remote_track(call.call_id, relay.subscribe(track, buffered=False))
                except Exception:  # the application's problem: the call goes on
                    log.exception("rtcstate_aiortc: on_remote_track failed")
        task = self._spawn(self._drain(call, pc, source), f"rtcstate-aiortc:drain:{track.id}")
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

    def _track_gone(self, call: _Call, pc: RTCPeerConnection, track_id: str, kind: str) -> None:
        if self._live(call, pc) and track_id in call.remote_tracks:
            del call.remote_tracks[track_id]
            self._emit(m.TrackEnded(call.call_id, track_id, kind, remote=True))

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
