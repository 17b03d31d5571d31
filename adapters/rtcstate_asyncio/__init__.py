"""asyncio runtime for rtcstate: session runner, websocket relay server, apiRTC-shaped API.

``Runtime`` (runtime.py) carries out one core session's effects on asyncio and a websocket;
``UserAgent`` and friends are the apiRTC-shaped application API over it (emitter.py, agent.py,
calls.py, channels.py, files.py; api.py re-exports them); ``Relay`` (relay.py) serves the hub
core over websockets; ``FakeMedia`` (fakemedia.py) is an in-process media backend for tests;
backend.py is the contract a media backend implements. See docs/asyncio.md.

It needs ``websockets``: ``pip install 'rtcstate[asyncio]'`` (importing it without gives
:class:`rtcstate.extras.MissingExtraError`, one line naming that extra).
"""

from rtcstate.extras import require

require("asyncio", "rtcstate_asyncio")

# ruff: noqa: E402 - the extra is checked before anything imports websockets

from rtcstate_asyncio.agent import (
    Contact,
    ContactMessageError,
    RegistrationError,
    Session,
    UserAgent,
)
from rtcstate_asyncio.backend import MEDIA_EFFECTS, MediaBackend
from rtcstate_asyncio.calls import Call, ReceivedCallInvitation
from rtcstate_asyncio.channels import DataChannel, ReceivedDataChannelInvitation
from rtcstate_asyncio.conversations import (
    Conference,
    Conversation,
    ConversationError,
    ReceivedConversationInvitation,
    ReceivedConversationJoinRequest,
    SentConversationInvitation,
)
from rtcstate_asyncio.emitter import Emitter, Event, EventStream, StreamEnded
from rtcstate_asyncio.fakemedia import FakeMedia, FakeMediaNetwork
from rtcstate_asyncio.files import (
    FileTransferError,
    ReadableFile,
    ReceivedFileTransferInvitation,
    SentInvitation,
    WritableFile,
)
from rtcstate_asyncio.lifecycle import catch_signals, run_until_signal
from rtcstate_asyncio.relay import Relay, run_relay, serve
from rtcstate_asyncio.runtime import Runtime
from rtcstate_asyncio.streams import Stream

__all__ = [
    "MEDIA_EFFECTS",
    "Call",
    "Conference",
    "Contact",
    "ContactMessageError",
    "Conversation",
    "ConversationError",
    "DataChannel",
    "Emitter",
    "Event",
    "EventStream",
    "FakeMedia",
    "FakeMediaNetwork",
    "FileTransferError",
    "MediaBackend",
    "ReadableFile",
    "ReceivedCallInvitation",
    "ReceivedConversationInvitation",
    "ReceivedConversationJoinRequest",
    "ReceivedDataChannelInvitation",
    "ReceivedFileTransferInvitation",
    "RegistrationError",
    "Relay",
    "Runtime",
    "SentConversationInvitation",
    "SentInvitation",
    "Session",
    "Stream",
    "StreamEnded",
    "UserAgent",
    "WritableFile",
    "catch_signals",
    "run_relay",
    "run_until_signal",
    "serve",
]
