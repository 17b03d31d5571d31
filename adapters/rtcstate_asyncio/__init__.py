"""asyncio runtime for rtcstate: session runner, websocket relay server, apiRTC-shaped API.

``Runtime`` (runtime.py) carries out one core session's effects on asyncio and a websocket;
``UserAgent`` and friends (api.py) are the apiRTC-shaped application API over it; ``Relay``
(relay.py) serves the hub core over websockets; ``FakeMedia`` (fakemedia.py) is an in-process
media backend for tests; backend.py is the contract a media backend implements. See
docs/asyncio.md.
"""

from rtcstate_asyncio.api import (
    Call,
    Contact,
    DataChannel,
    Emitter,
    ReceivedCallInvitation,
    ReceivedDataChannelInvitation,
    RegistrationError,
    Session,
    UserAgent,
)
from rtcstate_asyncio.backend import MEDIA_EFFECTS, MediaBackend
from rtcstate_asyncio.fakemedia import FakeMedia, FakeMediaNetwork
from rtcstate_asyncio.relay import Relay, run_relay, serve
from rtcstate_asyncio.runtime import Runtime

__all__ = [
    "MEDIA_EFFECTS",
    "Call",
    "Contact",
    "DataChannel",
    "Emitter",
    "FakeMedia",
    "FakeMediaNetwork",
    "MediaBackend",
    "ReceivedCallInvitation",
    "ReceivedDataChannelInvitation",
    "RegistrationError",
    "Relay",
    "Runtime",
    "Session",
    "UserAgent",
    "run_relay",
    "serve",
]
