"""aiortc media backend for rtcstate: carries media effects out on RTCPeerConnection.

:class:`AiortcMedia` implements the runtime's ``MediaBackend`` protocol
(``rtcstate_asyncio.backend``): one peer connection per call, synthetic audio/video sources,
data channels, ICE restart as a new connection, and (by default) loopback-only ICE. See
``docs/aiortc.md``.
"""

from rtcstate_aiortc.backend import BOOTSTRAP_CHANNEL_ID, AiortcMedia
from rtcstate_aiortc.sources import SyntheticStream

__all__ = ["BOOTSTRAP_CHANNEL_ID", "AiortcMedia", "SyntheticStream"]
