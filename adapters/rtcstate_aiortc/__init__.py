"""aiortc media backend for rtcstate: carries media effects out on RTCPeerConnection.

:class:`AiortcMedia` implements the runtime's ``MediaBackend`` protocol
(``rtcstate_asyncio.backend``): one peer connection per call, synthetic audio/video sources,
data channels, ICE restart as a new connection, and (by default) loopback-only ICE. See
``docs/aiortc.md``.

It needs aiortc and aioice: ``pip install 'rtcstate[aiortc]'`` (importing it without gives
:class:`rtcstate.extras.MissingExtraError`, one line naming that extra).
"""

from rtcstate.extras import require

require("aiortc", "rtcstate_aiortc")

# ruff: noqa: E402 - the extra is checked before anything imports aiortc

from rtcstate_aiortc.backend import BOOTSTRAP_CHANNEL_ID, AiortcMedia
from rtcstate_aiortc.sources import SyntheticStream

__all__ = ["BOOTSTRAP_CHANNEL_ID", "AiortcMedia", "SyntheticStream"]
