"""Statistics of :class:`~rtcstate_aiortc.backend.AiortcMedia`: getStats polling, apiRTC CallStats.

Theory of operation
-------------------
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
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiortc import RTCPeerConnection
from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
    RTCStatsReport,
)

from rtcstate import media as m
from rtcstate_aiortc._base import Counters, _Base, _Call, log

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


class _StatsPolling(_Base):
    """The call's poller, the RTP byte-counting wrapper, samples mapped to CallStats."""

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
