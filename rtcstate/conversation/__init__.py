"""Conversations on the client side: the Conversation and Conference machines (a device's view
of a room the relay holds, :mod:`rtcstate.rooms`), the moderator's join requests, and the
narrow interface a conversation needs of its session."""

from rtcstate.conversation.host import ConversationHost
from rtcstate.conversation.joinrequest import JoinRequestState, ReceivedConversationJoinRequest
from rtcstate.conversation.machine import (
    Conference,
    Conversation,
    ConversationDrop,
    ConversationSettings,
    ConversationState,
    ConversationTimer,
    Reject,
    Resolve,
)

__all__ = [
    "Conference",
    "Conversation",
    "ConversationDrop",
    "ConversationHost",
    "ConversationSettings",
    "ConversationState",
    "ConversationTimer",
    "JoinRequestState",
    "ReceivedConversationJoinRequest",
    "Reject",
    "Resolve",
]
