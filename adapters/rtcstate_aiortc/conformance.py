"""The aiortc backend as the media-backend conformance suite takes it (one line to run it).

``pytest --pyargs rtcstate_asyncio.conformance --rtcstate-backend
rtcstate_aiortc.conformance:AiortcBackends`` runs the suite on two :class:`AiortcMedia` on
loopback. The send-buffer marks are lowered (64 KiB / 16 KiB) so that the flow-control case
crosses them with little data.
"""

from __future__ import annotations

from rtcstate_aiortc.backend import AiortcMedia

__all__ = ["AiortcBackends"]


class AiortcBackends:
    """A :class:`~rtcstate_asyncio.conformance.BackendFactory` of :class:`AiortcMedia`."""

    buffered_high = 64 << 10
    buffered_low = 16 << 10

    def backend(self, name: str) -> AiortcMedia:
        """A new backend (every aiortc backend of the process reaches the others on loopback)."""
        return AiortcMedia(buffered_high=self.buffered_high, buffered_low=self.buffered_low)
