"""Data channels of :class:`~rtcstate_aiortc.backend.AiortcMedia`: wiring and buffered-amount marks.

Theory of operation
-------------------
*Data channels.* ``OpenDataChannel`` creates an ordered, reliable channel labelled ``label``
whose ``protocol`` is the core's channel id; a channel the far side opens is reported under its
``protocol``. ``BufferedAmountHigh`` is reported when a send leaves more than ``buffered_high``
bytes queued, ``BufferedAmountLow`` when the queue drains to ``buffered_low`` (aiortc's
``bufferedamountlow`` event, the channel's ``bufferedAmountLowThreshold``).

A channel is the call's, not the connection's: an ICE restart re-creates the channels this side
opened on the new connection (same label and protocol) and data sent meanwhile waits in the
channel's ``pending`` queue until it is open again; before this side swaps a connection whose
association is still up, what its channels sent is first acknowledged (``_flush_channels``,
as long as acknowledgements progress: :data:`DRAIN_TIMEOUT`, :data:`DRAIN_LIMIT`). A channel
that closes because its SCTP association went down is not reported closed: the connection's
failure is, and a restart brings the channel back. An ICE restart this side starts keeps the
old connection receiving until the far side answers (what it sent on the old association
before its own drain is delivered); the far side drains its channels before it takes the new
offer, so nothing is lost either way. A channel closed under a live connection is reported
closed and may be opened again under the same id (a file transfer's is): the far side reports
the new one it receives.
"""

from __future__ import annotations

import asyncio

from aiortc import RTCDataChannel, RTCPeerConnection

from rtcstate import media as m
from rtcstate_aiortc._base import _Base, _Call, _Channel, log

#: longest a swap (ICE restart) waits without the far side acknowledging anything more of what
#: the call's channels sent (a slow association that makes progress is waited for)
DRAIN_TIMEOUT = 2.0
#: longest a swap waits in all for its channels' data to be acknowledged
DRAIN_LIMIT = 20.0


def _size(data: bytes | str) -> int:
    return len(data.encode("utf-8")) if isinstance(data, str) else len(data)


class _DataChannels(_Base):
    """Opening, wiring, sending on and closing a call's data channels."""

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
            if channel.dc is dc or channel.retiring_dc is dc:
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

    async def _flush_channels(self, call: _Call) -> None:
        """Before this side swaps a live connection: wait until the far side acknowledged every
        message sent on the call's channels, so that none is lost with the old SCTP association,
        as long as it makes progress (nothing more acknowledged for :data:`DRAIN_TIMEOUT`: a
        dead peer; :data:`DRAIN_LIMIT` in all). Later sends wait in the call's queue meanwhile."""
        dcs = [c.dc for c in call.channels.values() if c.dc is not None]
        loop = asyncio.get_running_loop()
        limit = loop.time() + DRAIN_LIMIT
        stall = loop.time() + DRAIN_TIMEOUT
        left: int | None = None
        while dcs and loop.time() < min(stall, limit) and not self._closed:
            if not self._association_up(call, dcs[0]):
                return  # nothing can be acknowledged any more
            sctp = dcs[0].transport
            # aiortc keeps the chunks not yet acknowledged in these queues (no public API)
            unsent = sum(int(dc.bufferedAmount) for dc in dcs if dc.readyState == "open")
            outstanding = unsent + len(sctp._outbound_queue) + len(sctp._sent_queue)
            if not outstanding:
                return
            if left is None or outstanding < left:
                stall = loop.time() + DRAIN_TIMEOUT  # progress: the association is alive
            left = outstanding
            await asyncio.sleep(0.01)

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
