"""The reference catalogue of apiRTC's vocabulary: every code, reason, status and event name.

Everything rtcstate says to an application or puts on the wire is spelled here, once. Each set is
an enum whose members *are* their apiRTC value (``StrEnum`` members compare equal to the exact
string, ``IntEnum`` members to the exact number), so ``HangupReason.ICE_FAILED == "Ice_failed"``
and ``ErrorNumber.ERROR_WRONG_STATE == 16``. Every member also carries, at runtime:

* ``.doc``: when it is produced and by which machine (Session, Call, ReceivedCallInvitation,
  SentInvitation, Conversation, DataChannel, FileTransfer, Hub = the relay) or by the
  application / an adapter; values only the apiRTC SDK produces say so, and values rtcstate
  does not produce yet name the machine that will;
* ``.origin``: an :class:`Origin` saying where the value comes from: the apiRTC event
  documentation (``seed``, the document rtcstate was created from), the real SDK only
  (``SDK-only``, @apirtc/apirtc 5.0.35), the seed only (``seed-only``, absent from the SDK), or an
  rtcstate extension (``rtcstate``);
* ``ErrorCode`` members also carry ``.info`` (the ``errorInfo`` text of the ``error`` event) and
  ``MediaRoutingMode`` members ``.number`` (the SDK's numeric mode).

How the sets relate
-------------------
Three vocabularies must not be confused, and rtcstate keeps them as separate sets:

1. :class:`HangupReason` is the *wire* vocabulary: the ``reason`` a side puts in its ``bye`` and
   the ``reason`` field of the ``hangup`` / ``declined`` events (with :class:`HangupFrom` saying
   which side ended the call).
2. :class:`ErrorCode` is the *local* vocabulary of the ``error`` event (``errorCode`` +
   ``errorInfo``) of Call and Conversation, plus rtcstate's own codes for protocol errors coming
   from the wire.
3. :class:`ErrorNumber` is the numbered ``ApiRTCError.code`` carried by a rejected promise in the
   SDK and by the typed exception rtcstate raises on local misuse.

When a side ends a call because of a local error, it emits the error locally and sends the
matching reason (:data:`LOCAL_ERROR_TO_WIRE_REASON`); the far side turns some reasons back into
an error of its own (:data:`WIRE_REASON_TO_DISTANT_ERROR`) before its ``hangup``. Statuses
(:class:`CallStatus`, :class:`InvitationStatus`, :class:`ConversationStatus`,
:class:`DataChannelStatus`, ...) are what ``getStatus()`` returns; invitation statuses travel in
``statusChange`` events. The remaining sets are the enumerated string values of payload fields,
options and wire commands. :data:`AVAILABLE_EVENTS` is each class's event whitelist: the SDK's
own list unioned with every name the seed documents for that class.

This module is pure data (stdlib only): :func:`catalogue` gives every set as plain data,
:func:`render_markdown` writes ``docs/codes.md`` and :func:`render_text` is ``rtcstate codes``.

Where the sets live
-------------------
``rtcstate.codes`` is the stable import path; the sets are declared in :mod:`rtcstate.vocab`,
one concern per module: what the machines produce (:mod:`~rtcstate.vocab.errors`,
:mod:`~rtcstate.vocab.reasons`, :mod:`~rtcstate.vocab.statuses`,
:mod:`~rtcstate.vocab.values`), event names (:mod:`~rtcstate.vocab.events`), the reference-only
sets no machine produces (:mod:`~rtcstate.vocab.reference`), the enum machinery
(:mod:`~rtcstate.vocab.base`) and the catalogue with its renderings
(:mod:`~rtcstate.vocab.catalogue`).
"""

from __future__ import annotations

from rtcstate.vocab.base import (
    DocIntEnum,
    DocStrEnum,
    Origin,
)
from rtcstate.vocab.catalogue import (
    SETS,
    catalogue,
    render_markdown,
    render_text,
)
from rtcstate.vocab.errors import (
    LOCAL_ERROR_TO_WIRE_REASON,
    RTCSTATE_ERROR_CODES,
    SDK_ONLY_ERROR_CODES,
    SEED_ERROR_CODES,
    WIRE_REASON_TO_DISTANT_ERROR,
    ErrorCode,
    ErrorNumber,
)
from rtcstate.vocab.events import (
    AVAILABLE_EVENTS,
    RTCSTATE_EVENTS,
    SDK_EVENTS,
    SEED_EVENTS,
    SEED_ONLY_EVENTS,
    is_known_event,
)
from rtcstate.vocab.reasons import (
    DECLINE_REASONS,
    ROOM_RESTART_REASONS,
    RTCSTATE_HANGUP_REASONS,
    SDK_ONLY_HANGUP_REASONS,
    SEED_HANGUP_REASONS,
    HangupFrom,
    HangupReason,
    complementary,
    default_hangup_reason,
)
from rtcstate.vocab.reference import (
    CONVERSATION_WAITING_ROOM_PREFIX,
    CloudMediaType,
    ConversationAccess,
    ConversationRole,
    ConversationStatus,
    ConversationType,
    DataDeliveryReason,
    ExternalJsLoadingStatus,
    IceErrorContext,
    IceErrorMode,
    IceErrorStreamType,
    IceState,
    InvitationAnswer,
    InvitationConversationType,
    InvitationDirection,
    JoinAnswerCommand,
    JoinRequestCommand,
    LocalStreamUpdateCause,
    LogLevel,
    MediaDeviceUpdateReason,
    MediaType,
    MutedOption,
    PointerSharingState,
    RecordingMode,
    RecordMediaType,
    RemoteAccessAppStatus,
    RemoteAccessStopCode,
    RoomMode,
    RoomModeChangeState,
    SimulcastLevel,
    SimulcastMode,
    SlowLinkAdvice,
    StreamInfoType,
    StreamListEventType,
    StreamType,
    TrackKind,
    UpdateMediaReason,
    UpdateMediaStatus,
    WhiteboardMemberStatus,
    WhiteboardStatus,
)
from rtcstate.vocab.statuses import (
    CallStatus,
    CcsConnectionStatus,
    DataChannelStatus,
    InvitationStatus,
)
from rtcstate.vocab.values import (
    CallType,
    DataChannelErrorType,
    DataChannelOpenedType,
    DataChannelType,
    DesktopCaptureEvent,
    InvitationType,
    MediaRoutingMode,
)

__all__ = [
    "AVAILABLE_EVENTS",
    "CONVERSATION_WAITING_ROOM_PREFIX",
    "DECLINE_REASONS",
    "LOCAL_ERROR_TO_WIRE_REASON",
    "ROOM_RESTART_REASONS",
    "RTCSTATE_ERROR_CODES",
    "RTCSTATE_EVENTS",
    "RTCSTATE_HANGUP_REASONS",
    "SDK_EVENTS",
    "SDK_ONLY_ERROR_CODES",
    "SDK_ONLY_HANGUP_REASONS",
    "SEED_ERROR_CODES",
    "SEED_EVENTS",
    "SEED_HANGUP_REASONS",
    "SEED_ONLY_EVENTS",
    "SETS",
    "WIRE_REASON_TO_DISTANT_ERROR",
    "CallStatus",
    "CallType",
    "CcsConnectionStatus",
    "CloudMediaType",
    "ConversationAccess",
    "ConversationRole",
    "ConversationStatus",
    "ConversationType",
    "DataChannelErrorType",
    "DataChannelOpenedType",
    "DataChannelStatus",
    "DataChannelType",
    "DataDeliveryReason",
    "DesktopCaptureEvent",
    "DocIntEnum",
    "DocStrEnum",
    "ErrorCode",
    "ErrorNumber",
    "ExternalJsLoadingStatus",
    "HangupFrom",
    "HangupReason",
    "IceErrorContext",
    "IceErrorMode",
    "IceErrorStreamType",
    "IceState",
    "InvitationAnswer",
    "InvitationConversationType",
    "InvitationDirection",
    "InvitationStatus",
    "InvitationType",
    "JoinAnswerCommand",
    "JoinRequestCommand",
    "LocalStreamUpdateCause",
    "LogLevel",
    "MediaDeviceUpdateReason",
    "MediaRoutingMode",
    "MediaType",
    "MutedOption",
    "Origin",
    "PointerSharingState",
    "RecordMediaType",
    "RecordingMode",
    "RemoteAccessAppStatus",
    "RemoteAccessStopCode",
    "RoomMode",
    "RoomModeChangeState",
    "SimulcastLevel",
    "SimulcastMode",
    "SlowLinkAdvice",
    "StreamInfoType",
    "StreamListEventType",
    "StreamType",
    "TrackKind",
    "UpdateMediaReason",
    "UpdateMediaStatus",
    "WhiteboardMemberStatus",
    "WhiteboardStatus",
    "catalogue",
    "complementary",
    "default_hangup_reason",
    "is_known_event",
    "render_markdown",
    "render_text",
]
