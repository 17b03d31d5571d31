"""Settings of a file transfer: the timers of both machines and the size defaults.

Plain frozen values shared by the sender, the receiver, the mux and the session's configuration
(:class:`~rtcstate.settings.CallSettings` does not carry them; ``SessionConfig.transfers`` does).
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_CHUNK_SIZE",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_WINDOW",
    "TransferSettings",
]

DEFAULT_CHUNK_SIZE: Final = 63 * 1024  # a CHUNK frame stays under 64 KiB (header <= 267 bytes)
DEFAULT_WINDOW: Final = 256 * 1024
"""Bytes in flight unacknowledged, by default. Measured over aiortc on loopback (2026-11-26):
a 1 MiB window bursts enough into SCTP to lose a tail packet now and then (a 1 s
retransmission stall on a 500 kB file); 256 KiB never stalled and moved 4 MiB at about
10 MB/s against 8.4 (see docs/performance.md)."""
DEFAULT_MAX_CHUNK_SIZE: Final = 256 * 1024
DEFAULT_MAX_SIZE: Final = 4 * 1024**3


@attrs.frozen(slots=True)
class TransferSettings:
    """Timers of both machines (seconds on the caller's clock)."""

    offer_interval: float = 5.0  # OFFER repeated while unanswered
    answer_timeout: float | None = None  # sender gives up waiting for accept/decline
    ack_timeout: float = 30.0  # sender: no ACK progress while bytes are in flight
    done_interval: float = 5.0  # DONE repeated while COMPLETE has not come
    done_attempts: int = 6
    idle_timeout: float = 60.0  # receiver: no chunk while receiving
    reack_interval: float = 10.0  # receiver: with no chunk for this long, repeat its ACK
    ack_delay: float = 1.0  # receiver: longest an ACK waits for a quarter window to fill
    resume_timeout: float = 60.0  # both: channel down (or, sender, no answer after it)
