"""Peer connections of :class:`~rtcstate_aiortc.backend.AiortcMedia`: built, negotiated, swapped.

Theory of operation
-------------------
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
and the data channels this side opened (re-created with the same label and protocol); the offer
that follows comes from it, with new ICE credentials and a new DTLS fingerprint. The side that
receives an offer whose ICE credentials or fingerprint differ from the applied remote
description does the same before applying it (a far side that restarted this way, which is how
the caller renegotiates after an ICE failure, a disconnection or a server reconnection), and so
does the polite side (the callee) whose own offer crossed the far side's (both restarted after
a server loss; aiortc has no rollback). The swap is invisible to the core: no
``TrackEnded``/``TrackAdded`` for the same remote track ids, no
``DataChannelClosed``/``DataChannelOpened`` for the channels that come back; data sent
meanwhile waits in the backend and goes out when the channel is open again. When this side
restarts while the old SCTP association is still up (after a server reconnection), it first
waits (at most ``DRAIN_TIMEOUT``) until the far side acknowledged what the call's channels sent
on it, so that none of it is lost with the old association, and keeps the old connection
receiving (``retiring``) until the far side's answer is applied; the side that takes such an
offer drains its own channels the same way before swapping, so a restart over a live
association (after a server reconnection, by either side) loses nothing. A data call whose
channels the far side opened gets the bootstrap SCTP section on its new connection. The new
connection's ``connected`` is reported as usual (the core moves RECONNECTING → CONNECTED).
"""

from __future__ import annotations

import asyncio

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from rtcstate import effects as fx
from rtcstate import media as m
from rtcstate_aiortc import loopback
from rtcstate_aiortc._base import _Call, log
from rtcstate_aiortc.channels import _DataChannels
from rtcstate_aiortc.stats import _StatsPolling
from rtcstate_aiortc.tracks import _RemoteTracks

#: SCTP stream id of the negotiated, never-used channel that gives a media-less offer its
#: SCTP section (high enough never to meet the ids aiortc allocates to announced channels).
BOOTSTRAP_CHANNEL_ID = 1023
_ICE_STATES = {"connecting": "checking", "connected": "connected", "failed": "failed"}


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


class _PeerConnections(_RemoteTracks, _StatsPolling, _DataChannels):
    """A call's connection: built with its tracks and channels, descriptions, candidates, the
    ICE-restart swap, aiortc's connection state."""

    def _new_pc(self, call: _Call) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self.ice_servers)))
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

    async def _replace_pc(self, call: _Call, *, drain: bool = True, keep: bool = False) -> None:
        """ICE restart: close the call's connection and build a new one (same tracks/channels).

        ``drain``: first let the far side acknowledge what the call's channels sent on the old
        connection, if it is still up (``_flush_channels``). ``keep`` (this side starts the
        restart): the old connection keeps receiving (``retiring``) until the far side answers,
        so that what the far side sent on it before draining its own channels arrives."""
        old = call.pc
        if drain and old is not None:
            await self._flush_channels(call)
        await self._retire(call)
        for channel in call.channels.values():
            channel.retiring_dc = channel.dc if keep else None
            channel.dc = None  # sends wait for the new channel; only messages come from the old
        call.pc = None
        call.ice = None
        self._cancel_gone(call)
        if old is not None and keep:
            await self._stop_stats(call)
            call.retiring = old
        elif old is not None:
            await self._dispose(call, old)
        call.pc = self._new_pc(call)

    async def _retire(self, call: _Call) -> None:
        """Close the connection a restart replaced (the far side answered on the new one)."""
        old, call.retiring = call.retiring, None
        for channel in call.channels.values():
            channel.retiring_dc = None
        if old is not None:
            await self._dispose(call, old)

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
            await self._replace_pc(call, keep=True)  # no RestartIce came first: restart here
            pc = self._pc(call)
        if not pc.getTransceivers() and pc.sctp is None:
            # a data call with no channel of this side's on this connection (none yet, or the
            # far side opened them and this side restarts ICE): an SCTP section to connect
            call.bootstrap = True
            self._add_bootstrap(pc)
        await pc.setLocalDescription(await pc.createOffer())
        self._emit(m.LocalDescriptionReady(call.call_id, "offer", self._local_sdp(pc)))

    async def _set_remote(self, call: _Call, sdp_type: str, sdp: str) -> None:
        if self.loopback_only:
            sdp = loopback.filter_remote_sdp(sdp)
        pc = self._pc(call)
        current = pc.remoteDescription
        if sdp_type == "offer" and pc.signalingState == "have-local-offer" and call.polite:
            # our offer crossed the far side's (both restarted ICE after a server loss): the
            # polite side yields; aiortc has no rollback, so a new connection takes the offer
            await self._replace_pc(call)
            pc = self._pc(call)
        elif sdp_type == "offer" and current is not None and _restarted(str(current.sdp), sdp):
            # the far side restarted with a new connection, keeping its old one receiving: what
            # this side sent on it is acknowledged first (drained), then the swap
            await self._replace_pc(call)
            pc = self._pc(call)
        call.remote_msid.update(_msids(sdp))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=sdp_type))
        if sdp_type == "answer":
            await self._retire(call)  # the far side is on the new connection
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
