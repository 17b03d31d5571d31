"""The application API: apiRTC's UserAgent / Session / Contact / Call / DataChannel, on asyncio.

Theory of operation
-------------------
This module only re-exports the application-facing wrappers, so that ``from rtcstate_asyncio.api
import ...`` keeps working; each concern lives in its own module, with its own notes:
emitter.py (``on`` / ``off`` with the event whitelist, ``wait_for``, handler dispatch),
agent.py (``UserAgent``, ``Session``, ``Contact`` and the routing of the core's events to the
wrappers), calls.py (``Call``, ``ReceivedCallInvitation``), channels.py (``DataChannel``,
``ReceivedDataChannelInvitation``) and files.py (``SentInvitation``,
``ReceivedFileTransferInvitation``, ``FileTransferError`` and the file data sources and sinks).
"""

from rtcstate_asyncio.agent import Contact, RegistrationError, Session, UserAgent
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
from rtcstate_asyncio.files import (
    FileTransferError,
    ReadableFile,
    ReceivedFileTransferInvitation,
    SentInvitation,
    WritableFile,
)

__all__ = [
    "Call",
    "Conference",
    "Contact",
    "Conversation",
    "ConversationError",
    "DataChannel",
    "Emitter",
    "Event",
    "EventStream",
    "FileTransferError",
    "ReadableFile",
    "ReceivedCallInvitation",
    "ReceivedConversationInvitation",
    "ReceivedConversationJoinRequest",
    "ReceivedDataChannelInvitation",
    "ReceivedFileTransferInvitation",
    "RegistrationError",
    "SentConversationInvitation",
    "SentInvitation",
    "Session",
    "StreamEnded",
    "UserAgent",
    "WritableFile",
]
