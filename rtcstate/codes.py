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
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Self, overload

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


# ------------------------------------------------------------------------------------------------
# Enum helpers
# ------------------------------------------------------------------------------------------------


_DEFAULT_ORIGIN: dict[type, Origin] = {}
"""Default origin of each set's members (filled from SETS at the end of the module)."""


class _Documented:
    """Attributes shared by every catalogue member: ``doc`` and ``origin``."""

    doc: str
    _origin: Origin | None

    @property
    def origin(self) -> Origin:
        """Where the value comes from (member override, else the set's default origin)."""
        if self._origin is not None:
            return self._origin
        return _DEFAULT_ORIGIN.get(type(self), Origin.RTCSTATE)


class DocStrEnum(_Documented, StrEnum):
    """A ``StrEnum`` whose members are declared as ``(value, doc[, origin])``."""

    _value_: str

    @overload
    def __new__(cls, value: str) -> Self: ...
    @overload
    def __new__(cls, value: str, doc: str, origin: Origin | None = None) -> Self: ...
    def __new__(cls, value: str, doc: str = "", origin: Origin | None = None) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.doc = doc
        member._origin = origin
        return member


class DocIntEnum(_Documented, IntEnum):
    """An ``IntEnum`` whose members are declared as ``(value, doc[, origin])``."""

    _value_: int

    @overload
    def __new__(cls, value: int) -> Self: ...
    @overload
    def __new__(cls, value: int, doc: str, origin: Origin | None = None) -> Self: ...
    def __new__(cls, value: int, doc: str = "", origin: Origin | None = None) -> Self:
        member = int.__new__(cls, value)
        member._value_ = value
        member.doc = doc
        member._origin = origin
        return member


class Origin(DocStrEnum):
    """Where a value comes from."""

    SEED = (
        "seed",
        "Documented by the apiRTC event documentation (the seed) and present in the SDK.",
    )
    SEED_ONLY = (
        "seed-only",
        "Documented by the seed but absent from the SDK (@apirtc/apirtc 5.0.35); rtcstate "
        "follows the seed and implements it.",
    )
    SDK_ONLY = (
        "SDK-only",
        "Found only in the SDK (declarations or bundle), not in the seed; rtcstate keeps the "
        "SDK's exact spelling.",
    )
    RTCSTATE = (
        "rtcstate",
        "An rtcstate extension, not part of apiRTC.",
    )


_S = Origin.SEED
_SO = Origin.SEED_ONLY
_K = Origin.SDK_ONLY
_R = Origin.RTCSTATE

_NOT_YET = "Not produced by rtcstate yet; "


# ------------------------------------------------------------------------------------------------
# Numbered errors (ApiRTCError.code)
# ------------------------------------------------------------------------------------------------


class ErrorNumber(DocIntEnum):
    """Numbered ``ApiRTCError.code`` of a rejected SDK promise; rtcstate's typed exceptions for
    local misuse carry the same number (the state is left unchanged)."""

    ERROR_OTHER = (
        0,
        "Catch-all. SDK: unregister without a session, join failure after an accepted "
        "conversation invitation, a peer-message timeout (because of the timeoutReached / "
        "timerReached bug). rtcstate: any machine, for local misuse without a more precise number.",
    )
    ERROR_INVALID_CREDENTIALS = (
        1,
        "SDK: UserAgent.register() with wrong credentials. " + _NOT_YET + "the Session machine "
        "will reject its connect command with it when the Hub refuses the credentials.",
    )
    ERROR_NETWORK_UNAVAILABLE = (
        2,
        "SDK: register() while the network is down. rtcstate: Session, the errorNumber of its "
        "SERVER_CONNECTION_FAILED error when the retry policy gives up reconnecting.",
    )
    ERROR_SERVER_UNAVAILABLE = (
        3,
        "SDK: register() cannot reach the server. " + _NOT_YET + "the Session machine will use "
        "it when the Hub refuses a registration as unavailable (a failed first connection "
        "reports ERROR_APIRTC_INITIALISATION_FAILED, an abandoned reconnection "
        "ERROR_NETWORK_UNAVAILABLE).",
    )
    ERROR_UNAUTHORIZED = (
        4,
        "Conversation: join refused (not public / access not GRANTED / server answer 'failed'), "
        "or a moderator-only command (allowEntry, denyEntry, eject, close) by a non-moderator.",
    )
    ERROR_APIRTC_INITIALISATION_FAILED = (
        5,
        "SDK: register() failed to initialise the session. rtcstate: Session, the errorNumber "
        "of its SERVER_CONNECTION_FAILED error when the first connection attempt fails.",
    )
    ERROR_APIRTC_SESSION_ALREADY_ON = (
        6,
        "Session: a connect/register command on a session that is already connected or "
        "connecting (SDK: a second UserAgent.register()).",
    )
    ERROR_REGISTRATION_URI_INVALID = (
        7,
        "SDK-only: the UserAgent uri has no known prefix (apzkey:, apiKey:, apizee:, apirtc:, "
        "token:). rtcstate has no registration URI; the Session machine would use it if one is "
        "added.",
    )
    ERROR_NOT_FOUND = (
        8,
        "Session: a command names a contact, call, invitation or conversation the session does "
        "not hold; also a peer message the Hub could not deliver (delivery reason destNotFound).",
    )
    ERROR_BAD_PARAMETER = (
        9,
        "Any machine: an application command got an invalid argument (SDK: e.g. sendMessage() "
        "with an empty string).",
    )
    ERROR_INVITATION_STATE_INVALID = (
        10,
        "ReceivedCallInvitation and every other received invitation (data channel, file "
        "transfer, join request, ...): accept() when the invitation is no longer STANDBY.",
    )
    ERROR_TIMED_OUT = (
        11,
        "A pending command whose deadline timer fired (SDK: e.g. recording start, eject; "
        "intended for the peer-message ack timeout, see DataDeliveryReason). rtcstate: "
        "Conversation and Session, when their command timers fire.",
    )
    ERROR_STREAM_RECORD = (
        12,
        "SDK-only: local stream recording failed. Media recording is an adapter concern; "
        "rtcstate's machines never produce it.",
    )
    ERROR_HTTP = (
        13,
        "SDK-only: a cloud HTTP request failed. rtcstate is sans-I/O and makes no HTTP request; "
        "only an adapter could report it.",
    )
    ERROR_NOT_ALLOWED = (
        14,
        "Conversation: the moderator denied entry from the waiting room; join() is rejected.",
    )
    ERROR_OPERATION_CANCELED = (
        15,
        "Conversation: cancelJoin() while WAITING in the waiting room; join() is rejected.",
    )
    ERROR_WRONG_STATE = (
        16,
        "Any machine: a command that is not valid in the current state (hang up an ended call, "
        "leave a conversation that is not joined, accept a conversation invitation twice).",
    )
    ERROR_ON_SAVE = (
        17,
        "SDK: saving conversation persistent data failed. " + _NOT_YET + "the Conversation "
        "machine will use it when the Hub refuses a persistent-data update.",
    )


class LogLevel(DocIntEnum):
    """SDK log levels (``apiRTC.setLogLevel``)."""

    LOG_LEVEL_OFF = 0, "No logging. Set by the application."
    LOG_LEVEL_ERROR = 1, "Errors only. Set by the application."
    LOG_LEVEL_WARN = 2, "Warnings and errors. Set by the application."
    LOG_LEVEL_INFO = 3, "Informational messages and above. Set by the application."
    LOG_LEVEL_DEBUG = 4, "Debug messages and above. Set by the application."
    LOG_LEVEL_TRACE = 5, "Everything. Set by the application."


class CloudMediaType(DocIntEnum):
    """SDK module constants ``MEDIA_TYPE_*`` (type of a media pushed to the cloud)."""

    MEDIA_TYPE_PHOTO = (
        0,
        "SDK-only: a photo pushed to the cloud. " + _NOT_YET + "Conversation would report it in "
        "newMediaAvailable.",
    )
    MEDIA_TYPE_VIDEO = (
        1,
        "SDK-only: a video pushed to the cloud. " + _NOT_YET + "Conversation would report it in "
        "newMediaAvailable.",
    )
    MEDIA_TYPE_AUDIO = (
        2,
        "SDK-only: an audio file pushed to the cloud. " + _NOT_YET + "Conversation would report "
        "it in newMediaAvailable.",
    )
    MEDIA_TYPE_DOC = (
        3,
        "SDK-only: a document pushed to the cloud. " + _NOT_YET + "Conversation would report it "
        "in newMediaAvailable.",
    )


# ------------------------------------------------------------------------------------------------
# Hangup / decline reasons (wire vocabulary)
# ------------------------------------------------------------------------------------------------


class HangupReason(DocStrEnum):
    """The ``reason`` of a ``bye`` on the wire and of the ``hangup`` / ``declined`` events."""

    HANGUP_FROM_CALLER = (
        "Hangup_From_Caller",
        "Call: the default reason of a local hangup() on the caller side "
        "(default_hangup_reason(is_caller=True)); the callee's Call emits hangup{from: remote} "
        "with it, or its ReceivedCallInvitation expires if the call was still ringing.",
        _S,
    )
    HANGUP_FROM_CALLEE = (
        "Hangup_From_Callee",
        "Call: the default reason of a local hangup() on the callee side "
        "(default_hangup_reason(is_caller=False)); the caller's Call emits hangup{from: remote}.",
        _S,
    )
    USER_REFUSED_CALL = (
        "User_Refused_Call",
        "ReceivedCallInvitation: decline() always sends it as the bye reason (so do the received "
        "data-channel and file-transfer invitations); the caller's Call, still "
        "WAITING_FOR_CALLEE, emits declined{reason} then hangup{from: remote}.",
        _S,
    )
    USER_BUSY = (
        "User_Busy",
        "Session: an incoming media call is refused automatically because another media call "
        "exists and multiple calls are disallowed (screen-sharing and data calls are exempt); "
        "the caller sees declined{User_Busy}. rtcstate also refuses with it an incoming data "
        "call when too many data calls already wait for their describing message "
        "(call_factory.MAX_HELD).",
        _S,
    )
    USER_MEDIA_ERROR = (
        "User_Media_Error",
        "Call: local media could not be acquired and the call cannot go on; sent after the "
        "local error USER_MEDIA_ERROR (SDK: also when an MCU callee refuses).",
        _S,
    )
    USER_NOT_FOUND = (
        "User_Not_Found",
        "Hub (the relay): the destination of an invite is unknown or offline; the relay answers "
        "with a user_not_found message and the caller's Call ends with this reason (declined "
        "while WAITING_FOR_CALLEE). If an earlier copy of the invite had reached the callee (its "
        "only device was briefly away when a copy was resent), the callee acknowledges the "
        "invite again once back and the caller answers with a bye carrying this reason: the "
        "ringing call ends with hangup{from: remote} and it too (a bye the relay could not "
        "deliver reaches it the same way, with the caller's reason). In the SDK it is "
        "server-sent only.",
        _S,
    )
    ICE_DISCONNECTED = (
        "Ice_disconnected",
        "Call: ICE stayed disconnected longer than the disconnection timer (SDK: 40 s); sent "
        "after the local error ICE_CONNECTION_STATE_DISCONNECTED. The far side emits error "
        "DISTANT_ICE_CONNECTION_STATE_DISCONNECTED, then hangup{from: remote}.",
        _S,
    )
    ICE_FAILED = (
        "Ice_failed",
        "Call: ICE failed; sent after the local error ICE_CONNECTION_STATE_FAILED. The far side "
        "emits error DISTANT_ICE_CONNECTION_STATE_FAILED, then hangup{from: remote}.",
        _S,
    )
    DISCONNECTED = (
        "disconnected",
        "Call: the server connection was lost and not recovered within "
        "CallSettings.server_loss_window (the call survives shorter losses and is renegotiated "
        "with an ICE restart); hangup{from: local} fires at once and the bye is sent if the "
        "session reconnects later. A ringing callee whose caller's device left the relay and "
        "did not come back within server_loss_window ends with hangup{from: remote} and this "
        "reason (its invitation EXPIRED). Conversation: a room stream was lost (ICE or server "
        "connection); like the SDK it is a transient room reason (ROOM_RESTART_REASONS): the "
        "stream is restarted and no hangup is emitted.",
        _S,
    )
    STOP_SCREEN_SHARING = (
        "stop_ScreenSharing",
        "Call: the local screen-sharing track ended (adapter report: track ended) on a "
        "screenSharing call, which then ends with this reason.",
        _S,
    )
    WEBRTC_PLUGIN_INSTALLATION_NEEDED = (
        "WebRTC_Plugin_Installation_needed",
        "Session: every incoming call (data calls included) is refused with it when the "
        "adapter reported Capabilities(webrtc=False) (SDK legacy: the IE/Safari WebRTC plugin is "
        "missing); the caller sees declined then hangup{from: remote}.",
        _S,
    )
    DATACHANNEL_NOT_SUPPORTED = (
        "DataChannel_Not_Supported",
        "Session: an incoming data call is refused with it when the adapter reported "
        "Capabilities(data_channels=False) (SDK: legacy Edge); the caller sees declined then "
        "hangup{from: remote}.",
        _S,
    )
    CALL_TAKE_ON_OTHER_DEVICE = (
        "call take on other device",
        "Hub (the relay), multi-device support: an invite rings every connected device of the "
        "callee; when one device answers, the others receive a bye with this reason and their "
        "ReceivedCallInvitation / Call end. Seed-only: absent from SDK 5.0.35.",
        _SO,
    )
    BYE_ON_OTHER_DEVICE = (
        "bye on other device",
        "Hub (the relay), multi-device support: the user ended (declined or hung up) the call on "
        "another of their devices; the devices still holding it receive a bye with this reason. "
        "Seed-only: absent from SDK 5.0.35.",
        _SO,
    )
    CALL_CANCELLED = (
        "Call_Cancelled",
        "Call: the caller hung up before its invite was sent; the hangup{from: local} carries "
        "it and nothing reaches the far side.",
        _K,
    )
    CALL_NOT_FOUND = (
        "Call_not_found",
        "Session: the reason of the bye it replies to an update or invite naming a call it does "
        "not hold (next to the local error CALL_NOT_FOUND_ON_UPDATE / MESSAGE_FOR_UNKNOWN_ID). "
        "SDK: bye for unknown media in a room publish.",
        _K,
    )
    LOCAL_DESCRIPTION_FAILURE = (
        "Local_Description_Failure",
        "Call: the adapter could not apply the local description; sent after the local error "
        "SET_LOCAL_DESCRIPTION_FAILURE.",
        _K,
    )
    REMOTE_DESCRIPTION_FAILURE = (
        "Remote_Description_Failure",
        "Call: the adapter could not apply the remote description; sent after the local error "
        "SET_REMOTE_DESCRIPTION_FAILURE.",
        _K,
    )
    MEDIA_ERROR = (
        "Media_Error",
        "Call: a media update (switching video / screen) failed; sent after the local error "
        "MEDIA_UPDATE_ERROR.",
        _K,
    )
    RESTARTED = (
        "restarted",
        "SDK room/MCU restart path. rtcstate has no media server and never sends it; "
        "Conversation treats a received one as transient (ROOM_RESTART_REASONS).",
        _K,
    )
    BROKEN_BY_MCU = (
        "Broken_by_MCU",
        "SDK: the media server broke the room call. rtcstate never sends it; Conversation "
        "treats a received one as transient (ROOM_RESTART_REASONS).",
        _K,
    )
    RTC_SETUP_TIMEOUT = (
        "RTC_Setup_Timeout",
        "SDK: the media server timed out setting up a room call. rtcstate never sends it; "
        "Conversation treats a received one as transient (ROOM_RESTART_REASONS).",
        _K,
    )
    UNABLE_TO_ESTABLISH = (
        "Unable_to_establish",
        "Call: establishment (or re-establishment) attempts gave up; sent after the local error "
        "CALL_ABORTED. Session: an incoming data call whose data_channel_invite never came "
        "within call_factory.HOLD_TIME is refused with it (the initiator's DataChannel sees "
        "ended{remote}, declined). SDK: room call restart path.",
        _K,
    )
    NO_ANSWER = (
        "No_Answer",
        "rtcstate extension (apiRTC has no ring timeout): the caller's no-answer timeout "
        "(CallSettings.no_answer_timeout, carried on the wire as the invite's lifetime) expired "
        "while WAITING_FOR_CALLEE; the callee's ReceivedCallInvitation becomes EXPIRED and both "
        "Calls end with this reason.",
        _R,
    )


SEED_HANGUP_REASONS: frozenset[HangupReason] = frozenset(
    r for r in HangupReason if r.origin in (Origin.SEED, Origin.SEED_ONLY)
)
"""The 14 reasons listed by the seed for ``declined`` / ``hangup``."""

SDK_ONLY_HANGUP_REASONS: frozenset[HangupReason] = frozenset(
    r for r in HangupReason if r.origin is Origin.SDK_ONLY
)
"""Reasons the SDK sends or accepts that the seed does not list."""

RTCSTATE_HANGUP_REASONS: frozenset[HangupReason] = frozenset(
    r for r in HangupReason if r.origin is Origin.RTCSTATE
)
"""rtcstate's own reasons (beyond apiRTC): ``No_Answer``."""

ROOM_RESTART_REASONS: frozenset[HangupReason] = frozenset(
    {
        HangupReason.RESTARTED,
        HangupReason.DISCONNECTED,
        HangupReason.BROKEN_BY_MCU,
        HangupReason.RTC_SETUP_TIMEOUT,
    }
)
"""Transient room reasons: a room stream ended with one of these is restarted (backoff) and no
Conversation ``hangup`` is emitted."""

DECLINE_REASONS: frozenset[HangupReason] = frozenset(HangupReason)
"""Reasons that, arriving in a bye while an outgoing call is still WAITING_FOR_CALLEE, produce
``declined{reason}`` (then ``hangup{from: remote}``). apiRTC emits ``declined`` for *any* remote
bye in that state, not only for refusals, so the set is every reason."""


class HangupFrom(DocStrEnum):
    """The ``from`` field of ``hangup`` / DataChannel ``ended``: which side ended it."""

    LOCAL = (
        "local",
        "Call / DataChannel / Conversation: this side ended it (local hangup() or close(), or a "
        "local failure that sends a bye).",
    )
    REMOTE = (
        "remote",
        "Call / DataChannel / Conversation: the far side ended it (a bye arrived, from the peer "
        "or from the Hub).",
    )


def complementary(f: HangupFrom) -> HangupFrom:
    """What the other side of the same hangup reports: ``local`` <-> ``remote``."""
    return HangupFrom.REMOTE if f is HangupFrom.LOCAL else HangupFrom.LOCAL


def default_hangup_reason(is_caller: bool) -> HangupReason:
    """The reason of a plain local hangup: ``Hangup_From_Caller`` or ``Hangup_From_Callee``."""
    return HangupReason.HANGUP_FROM_CALLER if is_caller else HangupReason.HANGUP_FROM_CALLEE


# ------------------------------------------------------------------------------------------------
# error event codes (local vocabulary)
# ------------------------------------------------------------------------------------------------


class ErrorCode(DocStrEnum):
    """``errorCode`` of the Call / Conversation ``error`` event; ``.info`` is its ``errorInfo``.
    Also used for Session ``error`` events raised by rtcstate's protocol checks."""

    info: str

    @overload
    def __new__(cls, value: str) -> Self: ...
    @overload
    def __new__(cls, value: str, info: str, doc: str, origin: Origin | None = None) -> Self: ...
    def __new__(
        cls, value: str, info: str = "", doc: str = "", origin: Origin | None = None
    ) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.info = info
        member.doc = doc
        member._origin = origin
        return member

    # --- the seed's 31 codes ---------------------------------------------------------------
    ICE_CONNECTION_STATE_DISCONNECTED = (
        "ICE_CONNECTION_STATE_DISCONNECTED",
        "ice disconnection detected",
        "Call (Conversation for a room stream): the adapter reports the ICE connection "
        "'disconnected'. The call stays up and emits disconnectionWarning{tries} (SDK: at 2 s "
        "then every 9 s); if ICE has not recovered when the disconnection timer fires (SDK: "
        "40 s) the Call ends with bye reason Ice_disconnected.",
        _S,
    )
    ICE_CONNECTION_STATE_FAILED = (
        "ICE_CONNECTION_STATE_FAILED",
        "ice connection failed detected",
        "Call (Conversation for a room stream): the adapter reports ICE 'failed'; the far side "
        "is told (media_state). While ICE restarts remain (CallSettings.ice_restart_attempts) "
        "the caller restarts ICE with a new offer; then the Call ends with bye reason "
        "Ice_failed.",
        _S,
    )
    DISTANT_ICE_CONNECTION_STATE_DISCONNECTED = (
        "DISTANT_ICE_CONNECTION_STATE_DISCONNECTED",
        "distant ice disconnection detected",
        "Call: the far side reported its ICE disconnected (media_state message), or a bye with "
        "reason Ice_disconnected arrived (emitted just before hangup{from: remote}).",
        _S,
    )
    DISTANT_ICE_CONNECTION_STATE_FAILED = (
        "DISTANT_ICE_CONNECTION_STATE_FAILED",
        "distant ice connection failed detected",
        "Call: the far side reported its ICE failed (media_state message), or a bye with reason "
        "Ice_failed arrived (emitted just before hangup{from: remote}).",
        _S,
    )
    NOT_MATCHING_CALLID_ON_200OK = (
        "NOT_MATCHING_CALLID_ON_200OK",
        "200OK received but callId is not matching, no process",
        "Session: a call answer (200OK) names a callId that matches no outgoing call of this "
        "session; the message is dropped and every machine is left unchanged.",
        _S,
    )
    CALL_NOT_FOUND_ON_UPDATE = (
        "CALL_NOT_FOUND_ON_UPDATE",
        "Cannot find call to process Update",
        "Session: a renegotiation offer (update) names a call this session does not hold; dropped.",
        _S,
    )
    CALL_NOT_FOUND_ON_200UPDATE = (
        "CALL_NOT_FOUND_ON_200UPDATE",
        "Cannot find call to process 200 Update",
        "Session: a renegotiation answer (200update) names a call this session does not hold; "
        "dropped.",
        _S,
    )
    CALL_ABORTED = (
        "CALL_ABORTED",
        "Call aborted after calls retries (maxCallsRetriesDuration reached)",
        "Call: establishment / re-establishment retries gave up (an invite, answer or update "
        "retransmitted CallSettings.rtx_attempts times without acknowledgement, or ICE not "
        "connected within connect_timeout after every ICE restart); the Call ends with bye "
        "reason Unable_to_establish. Conversation: a room stream's restarts exceeded "
        "maxCallsRetriesDuration (SDK: 150 s of exponential backoff from 1 s).",
        _S,
    )
    SET_LOCAL_DESCRIPTION_FAILURE = (
        "SET_LOCAL_DESCRIPTION_FAILURE",
        "Set local Description Failure",
        "Call: the adapter reports that the local description could not be set; the Call ends "
        "with bye reason Local_Description_Failure.",
        _S,
    )
    SET_REMOTE_DESCRIPTION_FAILURE = (
        "SET_REMOTE_DESCRIPTION_FAILURE",
        "Set remote Description Failure",
        "Call: the adapter reports that the remote description (offer or answer) could not be "
        "set; the Call ends with bye reason Remote_Description_Failure.",
        _S,
    )
    PARAMETER_ERROR_SETUNIDIRCALL = (
        "PARAMETER_ERROR_SETUNIDIRCALL",
        "parameter error when calling function: setUnidirectionalCall()",
        "SDK legacy engine setter got a bad parameter. rtcstate raises it: a bad value given to "
        "Session.set_option (or CallSettings) raises ParameterError (ERROR_BAD_PARAMETER, 9) "
        "whose error_code is this code; nothing changes.",
        _S,
    )
    PARAMETER_ERROR_SETNTONCONF = (
        "PARAMETER_ERROR_SETNTONCONF",
        "parameter error when calling function: setNtoNConf()",
        "SDK legacy engine setter got a bad parameter. rtcstate raises it: a bad value given to "
        "Session.set_option (or CallSettings) raises ParameterError (ERROR_BAD_PARAMETER, 9) "
        "whose error_code is this code; nothing changes.",
        _S,
    )
    PARAMETER_ERROR_SETRTPMEDIA = (
        "PARAMETER_ERROR_SETRTPMEDIA",
        "parameter error when calling function: setRTPMedia()",
        "SDK legacy engine setter got a bad parameter. rtcstate raises it: a bad value given to "
        "Session.set_option (or CallSettings) raises ParameterError (ERROR_BAD_PARAMETER, 9) "
        "whose error_code is this code; nothing changes.",
        _S,
    )
    PARAMETER_ERROR_SETMEDIAROUTINGMODE = (
        "PARAMETER_ERROR_SETMEDIAROUTINGMODE",
        "parameter error when calling function: setMediaRoutingMode()",
        "SDK legacy engine setter got a bad media routing mode. rtcstate raises it: an invalid "
        "MediaRoutingMode given to Session.set_option raises ParameterError "
        "(ERROR_BAD_PARAMETER, 9) whose error_code is this code; nothing changes.",
        _S,
    )
    PARAMETER_ERROR_SETUSERACCEPTONINCOCALL = (
        "PARAMETER_ERROR_SETUSERACCEPTONINCOCALL",
        "parameter error when calling function: setUserAcceptOnIncomingCall()",
        "SDK legacy engine setter got a bad parameter. rtcstate raises it: a bad value given to "
        "Session.set_option (or CallSettings) raises ParameterError (ERROR_BAD_PARAMETER, 9) "
        "whose error_code is this code; nothing changes.",
        _S,
    )
    UNKNOWN_EVENT_ON_ADDLISTENER = (
        "UNKNOWN_EVENT_ON_ADDLISTENER",
        "Trying to add a listener on an unknown event",
        "SDK: on() was given an event name outside the class whitelist. rtcstate's machines do "
        "not emit it; an adapter's emitter API rejects such names with is_known_event().",
        _S,
    )
    PARAMETER_ERROR_SETALLOWMULTIPLECALLS = (
        "PARAMETER_ERROR_SETALLOWMULTIPLECALLS",
        "parameter error when calling function: setAllowMultipleCalls()",
        "SDK legacy engine setter got a non-boolean. rtcstate raises it: a bad value given to "
        "Session.set_option (or CallSettings) raises ParameterError (ERROR_BAD_PARAMETER, 9) "
        "whose error_code is this code; nothing changes.",
        _S,
    )
    START_RECORD_ROOM_NOT_FOUND = (
        "START_RECORD_ROOM_NOT_FOUND",
        "Room not found when starting recording",
        "Server-sent refusal of a recording start. " + _NOT_YET + "the Conversation machine "
        "(and Call for recorded 1-1 calls) will relay it from the Hub.",
        _S,
    )
    START_RECORD_CALLER_NOT_FOUND = (
        "START_RECORD_CALLER_NOT_FOUND",
        "Caller not found when starting recording",
        "Server-sent refusal of a recording start. " + _NOT_YET + "the Conversation machine "
        "(and Call for recorded 1-1 calls) will relay it from the Hub.",
        _S,
    )
    START_RECORD_MEDIA_FOUND = (
        "START_RECORD_MEDIA_FOUND",
        "Media not found when starting recording",
        "Server-sent refusal of a recording start (the name lacks 'NOT', as in apiRTC). "
        + _NOT_YET
        + "the Conversation machine (and Call for recorded 1-1 calls) will relay it.",
        _S,
    )
    START_RECORD_ALREADY_ON = (
        "START_RECORD_ALREADY_ON",
        "Recording is already ongoing",
        "Server-sent refusal of a recording start. " + _NOT_YET + "the Conversation machine "
        "(and Call for recorded 1-1 calls) will relay it from the Hub.",
        _S,
    )
    STOP_RECORD_ROOM_NOT_FOUND = (
        "STOP_RECORD_ROOM_NOT_FOUND",
        "Room not found when stopping recording",
        "Server-sent refusal of a recording stop. " + _NOT_YET + "the Conversation machine "
        "(and Call for recorded 1-1 calls) will relay it from the Hub.",
        _S,
    )
    STOP_RECORD_CALLER_NOT_FOUND = (
        "STOP_RECORD_CALLER_NOT_FOUND",
        "Caller not found when stopping recording",
        "Server-sent refusal of a recording stop. " + _NOT_YET + "the Conversation machine "
        "(and Call for recorded 1-1 calls) will relay it from the Hub.",
        _S,
    )
    STOP_RECORD_MEDIA_FOUND = (
        "STOP_RECORD_MEDIA_FOUND",
        "Media not found when stopping recording",
        "Server-sent refusal of a recording stop (the name lacks 'NOT', as in apiRTC). "
        + _NOT_YET
        + "the Conversation machine (and Call for recorded 1-1 calls) will relay it.",
        _S,
    )
    STOP_RECORD_ENDPOINT_NOT_FOUND = (
        "STOP_RECORD_ENDPOINT_NOT_FOUND",
        "Recorder not found when stopping recording",
        "Server-sent refusal of a recording stop. " + _NOT_YET + "the Conversation machine "
        "(and Call for recorded 1-1 calls) will relay it from the Hub.",
        _S,
    )
    STOP_RECORD_NOT_STARTED = (
        "STOP_RECORD_NOT_STARTED",
        "Recording is not started stopping recording",
        "Server-sent refusal of a recording stop. " + _NOT_YET + "the Conversation machine "
        "(and Call for recorded 1-1 calls) will relay it from the Hub.",
        _S,
    )
    STOP_RECORD_RECORDER_NOT_READY = (
        "STOP_RECORD_RECORDER_NOT_READY",
        "Recorder is not ready yet, record is not started",
        "Server-sent refusal of a recording stop. " + _NOT_YET + "the Conversation machine "
        "(and Call for recorded 1-1 calls) will relay it from the Hub.",
        _S,
    )
    IOS_AUTOPLAY_PREVENTED = (
        "IOS_AUTOPLAY_PREVENTED",
        "Autoplay was prevented",
        "SDK: the browser (iOS) blocked autoplay of a remote stream. Not a protocol event: only "
        "an adapter that plays media can report it; rtcstate's machines never produce it.",
        _S,
    )
    MEDIA_UPDATE_ERROR = (
        "MEDIA_UPDATE_ERROR",
        "Error during media update on call",
        "Call: a media update (renegotiation adding or switching media) failed in the adapter; "
        "the Call ends with bye reason Media_Error.",
        _S,
    )
    USER_MEDIA_ERROR = (
        "USER_MEDIA_ERROR",
        "Error during media media access",
        "Call: the adapter could not acquire local media (the Call also emits userMediaError); "
        "if the call cannot go on it ends with bye reason User_Media_Error.",
        _S,
    )
    STREAM_NOT_AVAILABLE = (
        "STREAM_NOT_AVAILABLE",
        "Error during subscription",
        "Conversation: a subscription names a stream that is not (or no longer) in the "
        "available stream list.",
        _S,
    )

    # --- SDK-only codes ----------------------------------------------------------------------
    PARAMETER_ERROR_SETCALLMEDIAROUTINGMODE = (
        "PARAMETER_ERROR_SETCALLMEDIAROUTINGMODE",
        "bad setter parameter (call media routing mode)",
        "SDK-only engine setter validation. rtcstate raises it: a bad value given to "
        "Session.set_option raises ParameterError (ERROR_BAD_PARAMETER, 9) whose error_code "
        "is this code (Session.call's media_routing_mode too, for the call routing mode).",
        _K,
    )
    PARAMETER_ERROR_SETPREFERH264CODEC = (
        "PARAMETER_ERROR_SETPREFERH264CODEC",
        "bad setter parameter (prefer H264 codec)",
        "SDK-only engine setter validation. rtcstate raises it: a bad value given to "
        "Session.set_option raises ParameterError (ERROR_BAD_PARAMETER, 9) whose error_code "
        "is this code (Session.call's media_routing_mode too, for the call routing mode).",
        _K,
    )
    PARAMETER_ERROR_SETPREFERVP9CODEC = (
        "PARAMETER_ERROR_SETPREFERVP9CODEC",
        "bad setter parameter (prefer VP9 codec)",
        "SDK-only engine setter validation. rtcstate raises it: a bad value given to "
        "Session.set_option raises ParameterError (ERROR_BAD_PARAMETER, 9) whose error_code "
        "is this code (Session.call's media_routing_mode too, for the call routing mode).",
        _K,
    )
    PARAMETER_ERROR_SETRECVMEDIADEACTIVATED = (
        "PARAMETER_ERROR_SETRECVMEDIADEACTIVATED",
        "bad setter parameter (receive media deactivated)",
        "SDK-only engine setter validation. rtcstate raises it: a bad value given to "
        "Session.set_option raises ParameterError (ERROR_BAD_PARAMETER, 9) whose error_code "
        "is this code (Session.call's media_routing_mode too, for the call routing mode).",
        _K,
    )
    PARAMETER_ERROR_SETRECORDEDCALL = (
        "PARAMETER_ERROR_SETRECORDEDCALL",
        "bad setter parameter (recorded call)",
        "SDK-only engine setter validation. rtcstate raises it: a bad value given to "
        "Session.set_option raises ParameterError (ERROR_BAD_PARAMETER, 9) whose error_code "
        "is this code (Session.call's media_routing_mode too, for the call routing mode).",
        _K,
    )
    PARAMETER_ERROR_SETTRICKLEICE = (
        "PARAMETER_ERROR_SETTRICKLEICE",
        "bad setter parameter (trickle ICE)",
        "SDK-only engine setter validation. rtcstate raises it: a bad value given to "
        "Session.set_option raises ParameterError (ERROR_BAD_PARAMETER, 9) whose error_code "
        "is this code (Session.call's media_routing_mode too, for the call routing mode).",
        _K,
    )
    PARAMETER_ERROR_SETUSERACCEPTONINCOCALLBEFOREGUM = (
        "PARAMETER_ERROR_SETUSERACCEPTONINCOCALLBEFOREGUM",
        "bad setter parameter (user accept on incoming call before getUserMedia)",
        "SDK-only engine setter validation. rtcstate raises it: a bad value given to "
        "Session.set_option raises ParameterError (ERROR_BAD_PARAMETER, 9) whose error_code "
        "is this code (Session.call's media_routing_mode too, for the call routing mode).",
        _K,
    )
    PARAMETER_ERROR_SETUSERACCEPTONINCOSCREENSHARINGCALL = (
        "PARAMETER_ERROR_SETUSERACCEPTONINCOSCREENSHARINGCALL",
        "bad setter parameter (user accept on incoming screen-sharing call)",
        "SDK-only engine setter validation. rtcstate raises it: a bad value given to "
        "Session.set_option raises ParameterError (ERROR_BAD_PARAMETER, 9) whose error_code "
        "is this code (Session.call's media_routing_mode too, for the call routing mode).",
        _K,
    )
    RECORDING_FAILED = (
        "RECORDING_FAILED",
        "recording failed (the SDK removes the Call from its catalogue)",
        "Call: the adapter reported its recorder failed (RecordingReport 'failed') after "
        "startRecording(); the call goes on unrecorded. SDK-only (the SDK also removes the "
        "Call from its catalogue); the Conversation machine will relay room recording failures.",
        _K,
    )
    NO_AUDIO_DEVICE = (
        "NO_AUDIO_DEVICE",
        "no audio input device available",
        "SDK-only: media acquisition found no microphone. Device enumeration is an adapter "
        "concern; rtcstate's machines never produce it.",
        _K,
    )
    NO_VIDEO_DEVICE = (
        "NO_VIDEO_DEVICE",
        "no video input device available",
        "SDK-only: media acquisition found no camera. Device enumeration is an adapter concern; "
        "rtcstate's machines never produce it.",
        _K,
    )
    NO_AUDIO_NO_VIDEO_DEVICE = (
        "NO_AUDIO_NO_VIDEO_DEVICE",
        "neither audio nor video input device available",
        "SDK-only: media acquisition found neither microphone nor camera. Device enumeration is "
        "an adapter concern; rtcstate's machines never produce it.",
        _K,
    )
    PUBLISH_FAILURE = (
        "PUBLISH_FAILURE",
        "publish failed: the stream has neither audio nor video",
        "SDK-only: Conversation publish() of a stream without tracks. " + _NOT_YET + "the "
        "Conversation machine will, when publishing is supported.",
        _K,
    )
    INCORRECT_VIDEOID_FOR_SNAPSHOT = (
        "INCORRECT_VIDEOID_FOR_SNAPSHOT",
        "incorrect video element id for snapshot",
        "SDK-only: Stream.takeSnapshot() on a wrong video element. A DOM concern; rtcstate never "
        "produces it.",
        _K,
    )

    # --- rtcstate extensions (not apiRTC) ----------------------------------------------------
    MESSAGE_DECODE_ERROR = (
        "MESSAGE_DECODE_ERROR",
        "signaling message could not be decoded",
        "rtcstate extension (not apiRTC). Session.receive(): the data is not valid JSON, has an "
        "unknown version or type, a missing or mistyped field, or is oversize; emitted as a "
        "Session error and the message is dropped.",
        _R,
    )
    MESSAGE_FOR_UNKNOWN_ID = (
        "MESSAGE_FOR_UNKNOWN_ID",
        "signaling message for an unknown call, invitation, channel or transfer",
        "rtcstate extension (not apiRTC). Session: a decoded message names a call, invitation, "
        "data channel or file transfer this session does not hold (used where apiRTC has no "
        "specific code; answers and updates use NOT_MATCHING_CALLID_ON_200OK / "
        "CALL_NOT_FOUND_ON_UPDATE / CALL_NOT_FOUND_ON_200UPDATE; late byes, candidates and "
        "similar stragglers are dropped silently).",
        _R,
    )
    UNEXPECTED_MESSAGE = (
        "UNEXPECTED_MESSAGE",
        "signaling message not valid in the current state",
        "rtcstate extension (not apiRTC). Any machine receiving a message (Call, invitations, "
        "Conversation, DataChannel, FileTransfer): a well-formed message that its current state "
        "does not accept (out of order or duplicated); the machine is left unchanged.",
        _R,
    )
    TRANSFER_CHUNK_GAP = (
        "TRANSFER_CHUNK_GAP",
        "chunk beyond the expected offset (missing or reordered)",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): a file-transfer chunk arrived beyond the "
        "offset the receiver holds (a chunk was lost or reordered). The receiver fails the "
        "transfer (CANCEL frame), the sender reports TRANSFER_REMOTE_ERROR.",
        _R,
    )
    TRANSFER_CHUNK_DUPLICATE = (
        "TRANSFER_CHUNK_DUPLICATE",
        "chunk before the expected offset (duplicated)",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): a file-transfer chunk arrived again (before"
        " the offset the receiver holds). The receiver fails the transfer.",
        _R,
    )
    TRANSFER_CHUNK_OVERSIZE = (
        "TRANSFER_CHUNK_OVERSIZE",
        "chunk larger than agreed or past the file size",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): a file-transfer chunk is larger than the "
        "agreed chunk size or goes past the announced size. The receiver fails the transfer.",
        _R,
    )
    TRANSFER_SIZE_MISMATCH = (
        "TRANSFER_SIZE_MISMATCH",
        "bytes received differ from the announced size",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): the sender's DONE announces a size "
        "different from the offer's, or the receiver holds fewer or more bytes: nothing is "
        "reported complete.",
        _R,
    )
    TRANSFER_DIGEST_MISMATCH = (
        "TRANSFER_DIGEST_MISMATCH",
        "sha256 of the bytes received does not match",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): the sha256 of the bytes the receiver holds "
        "differs from the one in the sender's DONE: nothing is reported complete.",
        _R,
    )
    TRANSFER_TOO_LARGE = (
        "TRANSFER_TOO_LARGE",
        "offered file larger than the receiver accepts",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): the offered size exceeds the receiver's "
        "maximum (CallSettings.max_file_size): refused with REJECT before any byte moves.",
        _R,
    )
    TRANSFER_TIMED_OUT = (
        "TRANSFER_TIMED_OUT",
        "transfer peer silent for too long",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): a transfer timer ran out: no answer to the "
        "offer, no acknowledgement, no chunk, no COMPLETE, or the channel stayed down longer than "
        "resume_timeout.",
        _R,
    )
    TRANSFER_REMOTE_ERROR = (
        "TRANSFER_REMOTE_ERROR",
        "the peer ended the transfer with an error",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): the far side failed the transfer (it sent "
        "CANCEL with the failed code); its own error event names the cause.",
        _R,
    )
    TRANSFER_CANCELLED = (
        "TRANSFER_CANCELLED",
        "the peer cancelled the transfer",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): Contact fileTransferError (sending side): "
        "the receiving application cancelled the transfer (rtcstate's "
        "ReceivedFileTransferInvitation.cancel).",
        _R,
    )
    TRANSFER_DECLINED = (
        "TRANSFER_DECLINED",
        "the receiver refused the file",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): Contact fileTransferError (sending side): "
        "the receiver's transfer machine refused the offer (too large or too many transfers at "
        "once) after the data call was accepted.",
        _R,
    )
    TRANSFER_ABORTED = (
        "TRANSFER_ABORTED",
        "the transfer's data call ended before the file was complete",
        "rtcstate extension (not apiRTC). File transfer ``error`` (FileTransfer, "
        "ReceivedFileTransferInvitation, TransferMux): Contact fileTransferError (sending side): "
        "the data call carrying the transfer ended (hung up, ICE failure, server lost for good) "
        "before the receiver confirmed the file.",
        _R,
    )
    SERVER_ERROR = (
        "SERVER_ERROR",
        "the relay reported an error",
        "rtcstate extension (not apiRTC). Session: the Hub (the relay) answered with an error, "
        "e.g. a rate or message-size limit was exceeded.",
        _R,
    )
    SERVER_CONNECTION_FAILED = (
        "SERVER_CONNECTION_FAILED",
        "reconnection to the server abandoned",
        "rtcstate extension (not apiRTC). Session: the first connection to the server failed, "
        "or the retry policy gave up reconnecting (the SDK's ccsConnectionRetryNb exhausted); "
        "the payload carries the errorNumber and the number of attempts.",
        _R,
    )


SEED_ERROR_CODES: frozenset[ErrorCode] = frozenset(c for c in ErrorCode if c.origin is Origin.SEED)
"""The 31 ``errorCode`` values listed by the seed for Call / Conversation ``error``."""

SDK_ONLY_ERROR_CODES: frozenset[ErrorCode] = frozenset(
    c for c in ErrorCode if c.origin is Origin.SDK_ONLY
)
"""``errorCode`` values found only in the SDK bundle."""

RTCSTATE_ERROR_CODES: frozenset[ErrorCode] = frozenset(
    c for c in ErrorCode if c.origin is Origin.RTCSTATE
)
"""rtcstate's own codes for protocol errors (not apiRTC)."""


LOCAL_ERROR_TO_WIRE_REASON: Mapping[ErrorCode, HangupReason] = MappingProxyType(
    {
        ErrorCode.ICE_CONNECTION_STATE_FAILED: HangupReason.ICE_FAILED,
        ErrorCode.ICE_CONNECTION_STATE_DISCONNECTED: HangupReason.ICE_DISCONNECTED,
        ErrorCode.SET_LOCAL_DESCRIPTION_FAILURE: HangupReason.LOCAL_DESCRIPTION_FAILURE,
        ErrorCode.SET_REMOTE_DESCRIPTION_FAILURE: HangupReason.REMOTE_DESCRIPTION_FAILURE,
        ErrorCode.USER_MEDIA_ERROR: HangupReason.USER_MEDIA_ERROR,
        ErrorCode.MEDIA_UPDATE_ERROR: HangupReason.MEDIA_ERROR,
        ErrorCode.CALL_ABORTED: HangupReason.UNABLE_TO_ESTABLISH,
    }
)
"""The error a side emits locally when it ends a call for that cause -> the reason of its bye."""

WIRE_REASON_TO_DISTANT_ERROR: Mapping[HangupReason, ErrorCode] = MappingProxyType(
    {
        HangupReason.ICE_FAILED: ErrorCode.DISTANT_ICE_CONNECTION_STATE_FAILED,
        HangupReason.ICE_DISCONNECTED: ErrorCode.DISTANT_ICE_CONNECTION_STATE_DISCONNECTED,
    }
)
"""A reason received in a bye -> the error the receiving side emits before its ``hangup``."""


# ------------------------------------------------------------------------------------------------
# Status symbols (getStatus())
# ------------------------------------------------------------------------------------------------


class CallStatus(DocStrEnum):
    """``Call.getStatus()`` (SDK Symbols, here their names)."""

    CALL_STATUS_WAITING_FOR_CALLEE = (
        "CALL_STATUS_WAITING_FOR_CALLEE",
        "Call: initial status of an outgoing call (until the callee answers) and of the callee's "
        "Call while its ReceivedCallInvitation is STANDBY.",
    )
    CALL_STATUS_ONGOING = (
        "CALL_STATUS_ONGOING",
        "Call: caller side when the call is established (accepted); callee side as soon as its "
        "invitation is accepted, before media flows (as in the SDK); an auto-accepted "
        "screen-sharing call starts here.",
    )
    CALL_STATUS_ENDED = (
        "CALL_STATUS_ENDED",
        "Call: final; after any local or remote hangup, decline or fatal error. hangUp() on an "
        "ended call raises ERROR_WRONG_STATE.",
    )


class InvitationStatus(DocStrEnum):
    """Status of every invitation, sent or received; carried by ``statusChange{status, id}``."""

    INVITATION_STATUS_STANDBY = (
        "INVITATION_STATUS_STANDBY",
        "Initial status of every invitation (ReceivedCallInvitation, SentInvitation and the "
        "other received invitations, FileTransfer).",
    )
    INVITATION_STATUS_ACCEPTED = (
        "INVITATION_STATUS_ACCEPTED",
        "Received side: accept() (ReceivedCallInvitation and the others). Sent side: "
        "SentInvitation when the answer 'accept' arrives.",
    )
    INVITATION_STATUS_DECLINED = (
        "INVITATION_STATUS_DECLINED",
        "Received side: decline(reason). Sent side: SentInvitation when the answer 'decline' "
        "arrives.",
    )
    INVITATION_STATUS_EXPIRED = (
        "INVITATION_STATUS_EXPIRED",
        "ReceivedCallInvitation / ReceivedDataChannelInvitation: the caller hung up (or its "
        "data call ended otherwise) while STANDBY (with the deprecated expired event). "
        "SentInvitation: its expirationTime timer fired while STANDBY.",
    )
    INVITATION_STATUS_CANCELLED = (
        "INVITATION_STATUS_CANCELLED",
        "FileTransfer (receiving side): the transfer's data call was hung up before the "
        "transfer ended (sender cancel, or after a local decline); overrides ACCEPTED and "
        "DECLINED. The only path to CANCELLED in the SDK.",
    )
    INVITATION_STATUS_ENDED = (
        "INVITATION_STATUS_ENDED",
        "SentInvitation of type sendFile / FileTransfer: the transfer's data call ended (sender "
        "side), or a binary file was fully received (receiving side).",
    )


class ConversationStatus(DocStrEnum):
    """``Conversation.getStatus()`` (also its separate group-chat status)."""

    CONVERSATION_STATUS_NOT_JOINED = (
        "CONVERSATION_STATUS_NOT_JOINED",
        "Conversation: initial; again after leave(), a denied or cancelled waiting-room wait, a "
        "refused join, ejection or close by the moderator.",
    )
    CONVERSATION_STATUS_JOINING = (
        "CONVERSATION_STATUS_JOINING",
        "Conversation: join() in progress (access granted, waiting for the server's join "
        "answer), including right after entry is allowed from the waiting room.",
    )
    CONVERSATION_STATUS_WAITING = (
        "CONVERSATION_STATUS_WAITING",
        "Conversation: in the waiting room, join requests sent to the moderator "
        "(waitingForModeratorAcceptance emitted).",
    )
    CONVERSATION_STATUS_JOINED = (
        "CONVERSATION_STATUS_JOINED",
        "Conversation: the join answer was OK; joined emitted.",
    )


class DataChannelStatus(DocStrEnum):
    """``DataChannel.getStatus()``."""

    DATACHANNEL_STATUS_WAITING = (
        "DATACHANNEL_STATUS_WAITING",
        "DataChannel: initial; the data call is being set up, or it is established and the "
        "channel not open yet (the initiator has emitted accepted).",
    )
    DATACHANNEL_STATUS_ONGOING = (
        "DATACHANNEL_STATUS_ONGOING",
        "DataChannel: the adapter reports the channel open; opened{type} emitted. It stays "
        "ONGOING when the adapter reports the channel closed under a live data call (closed "
        "emitted, send_data refused) until that call ends.",
    )
    DATACHANNEL_STATUS_ENDED = (
        "DATACHANNEL_STATUS_ENDED",
        "DataChannel: at once on close() (ended{from: local} follows when the far side "
        "acknowledges), or when its data call ends (remote bye, failure: ended{from}).",
    )


class DataChannelType(DocStrEnum):
    """``DataChannel.getType()``."""

    DATACHANNEL_TYPE_RECEIVE = (
        "DATACHANNEL_TYPE_RECEIVE",
        "DataChannel: the constructor default in the SDK (receiving side), although both "
        "public creation paths set SEND. rtcstate follows the paths: it never produces it.",
    )
    DATACHANNEL_TYPE_SEND = (
        "DATACHANNEL_TYPE_SEND",
        "DataChannel: created by Session.start_data_channel() (startDataChannel) and by "
        "ReceivedDataChannelInvitation.accept(), as in the SDK; both sides may send_data().",
    )


class WhiteboardStatus(DocStrEnum):
    """Per-conversation whiteboard status (SDK only)."""

    CONVERSATION_WHITEBOARD_STARTED = (
        "CONVERSATION_WHITEBOARD_STARTED",
        "SDK: a whiteboard session runs in the conversation. " + _NOT_YET + "the Conversation "
        "machine will, if whiteboards are added.",
    )
    CONVERSATION_WHITEBOARD_NOT_STARTED = (
        "CONVERSATION_WHITEBOARD_NOT_STARTED",
        "SDK: initial, no whiteboard session. " + _NOT_YET + "the Conversation machine will, if "
        "whiteboards are added.",
    )


class PointerSharingState(DocStrEnum):
    """Per-conversation pointer-sharing state (SDK only)."""

    STATE_IDLE = (
        "STATE_IDLE",
        "SDK: initial, no pointer sharing. " + _NOT_YET + "the Conversation machine will, if "
        "pointer sharing is added.",
    )
    STATE_JOINING = (
        "STATE_JOINING",
        "SDK: joining the pointer-sharing room. " + _NOT_YET + "the Conversation machine will.",
    )
    STATE_ACTIVE = (
        "STATE_ACTIVE",
        "SDK: pointer sharing is active. " + _NOT_YET + "the Conversation machine will.",
    )
    STATE_LEAVING = (
        "STATE_LEAVING",
        "SDK: leaving the pointer-sharing room. " + _NOT_YET + "the Conversation machine will.",
    )


# ------------------------------------------------------------------------------------------------
# Connection and payload string sets
# ------------------------------------------------------------------------------------------------


class CcsConnectionStatus(DocStrEnum):
    """``status`` of the UserAgent ``ccsConnectionStatus`` event (server connection)."""

    CONNECTED = (
        "connected",
        "Session: the server connection is open (first connect and every reconnection).",
    )
    DISCONNECTED = (
        "disconnected",
        "Session: the adapter reports the server connection lost (Session disconnect follows).",
    )
    ERROR = (
        "error",
        "Session: the connection attempt or the open connection failed with an error "
        "(Session error follows).",
    )
    RETRY = (
        "retry",
        "Session: a reconnection attempt is starting under the retry policy (Session "
        "reconnecting follows).",
    )


class ExternalJsLoadingStatus(DocStrEnum):
    """``status`` of the UserAgent ``externalJsLoadingStatus`` event."""

    LOADED = (
        "loaded",
        "SDK-only behaviour: an external script loaded. rtcstate loads no scripts and never "
        "produces it.",
    )
    ERROR = (
        "error",
        "SDK-only behaviour: an external script failed to load. rtcstate never produces it.",
    )
    RETRY = (
        "retry",
        "SDK-only behaviour: an external script load is retried. rtcstate never produces it.",
    )


class RoomMode(DocStrEnum):
    """Conference room mode (``JoinResult.mode``, ``roomModeChanged`` old/new mode)."""

    MESH = (
        "mesh",
        "Conversation: participants exchange streams peer to peer. rtcstate's Hub only relays "
        "signaling, so a Conversation with streams is mesh.",
    )
    SFU = (
        "sfu",
        "SDK: streams go through the media server. rtcstate has no SFU and never produces it.",
    )


class RoomModeChangeState(DocStrEnum):
    """``state`` of ``roomModeChanged``."""

    ONGOING = (
        "ongoing",
        "SDK: a room mode change has started. " + _NOT_YET + "the Conversation machine will if "
        "mode switching is added.",
    )
    COMPLETE = (
        "complete",
        "SDK: a room mode change has completed. " + _NOT_YET + "the Conversation machine will if "
        "mode switching is added.",
    )


class ConversationRole(DocStrEnum):
    """Role of the user in a conversation (``getRole()``, access check)."""

    MODERATOR = (
        "moderator",
        "Conversation: the moderator; may allowEntry, denyEntry, eject and close.",
    )
    CONTRIBUTOR = (
        "contributor",
        "Conversation: a regular participant.",
    )
    GUEST = (
        "guest",
        "Conversation: a guest participant.",
    )


class ConversationAccess(DocStrEnum):
    """``access`` of the conversation access check."""

    GRANTED = (
        "GRANTED",
        "Conversation: the join may proceed directly (NOT_JOINED -> JOINING).",
    )
    NEED_MODERATOR_ACCEPTATION = (
        "NEED_MODERATOR_ACCEPTATION",
        "Conversation: the join goes through the waiting room (NOT_JOINED -> WAITING).",
    )


class ConversationType(DocStrEnum):
    """Conversation types (SDK ``getType``/``setType``)."""

    CHAT = "CHAT", "SDK: a chat conversation. Set by the application; rtcstate carries it."
    CALL = "CALL", "SDK: a call conversation. Set by the application; rtcstate carries it."
    GROUP_CHAT = (
        "GROUP_CHAT",
        "SDK: a group chat. Set by the application; rtcstate carries it.",
    )
    WEBCONF = "WEBCONF", "SDK: a web conference. Set by the application; rtcstate carries it."
    REPORT = "REPORT", "SDK: a report. Set by the application; rtcstate carries it."
    REPORT_PART = (
        "REPORT_PART",
        "SDK: a part of a report. Set by the application; rtcstate carries it.",
    )
    TICKET = "TICKET", "SDK: a ticket. Set by the application; rtcstate carries it."
    EVENT = "EVENT", "SDK: an event. Set by the application; rtcstate carries it."
    OTHER = "OTHER", "SDK: any other type. Set by the application; rtcstate carries it."
    BOT = "BOT", "SDK: a bot conversation. Set by the application; rtcstate carries it."


class InvitationConversationType(DocStrEnum):
    """``conversationTypes`` of a conversation invitation: what accept() joins."""

    WEBCONF = (
        "WEBCONF",
        "SentInvitation (conversation): the sender has joined the conversation, so accepting "
        "the ReceivedConversationInvitation joins it.",
    )
    GROUP_CHAT = (
        "GROUP_CHAT",
        "SentInvitation (conversation): the sender is in the group chat, so accepting joins the "
        "group chat.",
    )


class InvitationType(DocStrEnum):
    """The ``type`` field of an invitation."""

    NOT_DEFINED = "not_defined", "SDK: the Invitation base default before a type is set."
    CALL = (
        "call",
        "ReceivedCallInvitation: an incoming 1-1 call (media, audio, video or screen sharing).",
    )
    CONVERSATION = (
        "conversation",
        "SentInvitation / ReceivedConversationInvitation: an invitation to a conversation.",
    )
    CONFERENCE = (
        "conference",
        "SentInvitation / ReceivedConversationInvitation: an invitation to a conference "
        "(carries password / friendly name).",
    )
    CONVERSATION_JOIN_REQUEST = (
        "conversationJoinRequest",
        "Conversation: a waiting-room join request received by the moderator "
        "(ReceivedConversationJoinRequest).",
    )
    DATA_CHANNEL = (
        "dataChannel",
        "DataChannel: an invitation to a data channel (ReceivedDataChannelInvitation).",
    )
    SEND_FILE = (
        "sendFile",
        "FileTransfer / SentInvitation: a file offered by Contact.sendFile() "
        "(ReceivedFileTransferInvitation on the receiving side).",
    )
    WHITEBOARD = (
        "whiteboard",
        "SDK: a whiteboard invitation. " + _NOT_YET + "the SentInvitation / received-invitation "
        "machines will carry it if whiteboards are added.",
    )
    POINTER_SHARING = (
        "pointerSharing",
        "SDK: a pointer-sharing invitation. " + _NOT_YET + "the SentInvitation / "
        "received-invitation machines will carry it if pointer sharing is added.",
    )
    REMOTE_ACCESS = (
        "remoteAccess",
        "SDK: a remote-access invitation. " + _NOT_YET + "the SentInvitation / "
        "received-invitation machines will carry it if remote access is added.",
    )
    CONTACT_REMOTE_ACCESS_INVITE = (
        "contact_remote_access_invite",
        "SDK: the wire type of a remote-access invitation message. " + _NOT_YET + "see "
        "remoteAccess.",
    )


class InvitationDirection(DocStrEnum):
    """The ``invitationType`` field of an invitation."""

    SENT = "sent", "SentInvitation: an invitation this side sent."
    RECEIVED = "received", "Every received invitation: an invitation this side received."


class InvitationAnswer(DocStrEnum):
    """``answer`` of the ``invite_ans`` wire message."""

    ACCEPT = (
        "accept",
        "Sent by a received invitation's accept(); a SentInvitation receiving it becomes ACCEPTED.",
    )
    DECLINE = (
        "decline",
        "Sent by a received invitation's decline(reason) (with the reason); a SentInvitation "
        "receiving it becomes DECLINED.",
    )


class JoinAnswerCommand(DocStrEnum):
    """Waiting-room answer commands of ``conv_join_ans`` (moderator -> waiting user)."""

    ACCESS = (
        "access",
        "Conversation (moderator): allowEntry() answer to a join request.",
    )
    ACCESS_NEW = (
        "access-new",
        "Conversation (moderator): allowEntry() answer to a repeated join request "
        "(userWaiting-new), resent until acknowledged.",
    )
    ACCESS_ACK = (
        "access-ack",
        "Conversation (waiting user): acknowledgement of an access answer; stops the "
        "moderator's resends.",
    )


class JoinRequestCommand(DocStrEnum):
    """Waiting-room request commands of ``conv_join_req`` (waiting user -> moderator)."""

    USER_WAITING = (
        "userWaiting",
        "Conversation (waiting user): first join request on entering WAITING.",
    )
    USER_WAITING_NEW = (
        "userWaiting-new",
        "Conversation (waiting user): repeated join request while still WAITING (SDK: every "
        "5 s); each produces a new conversationJoinRequest at the moderator.",
    )


class CallType(DocStrEnum):
    """``callType`` of a call (``ReceivedCallInvitation.getCallType()``, userMediaError)."""

    MEDIA = (
        "media",
        "Call: an audio+video call (Contact.call() default).",
        _S,
    )
    AUDIO = (
        "audio",
        "Call: an audio-only call (call options audioOnly).",
    )
    VIDEO_ONLY = (
        "videoOnly",
        "Call: a video-only call.",
    )
    SCREEN_SHARING = (
        "screenSharing",
        "Call: a screen-sharing call (Contact.shareScreen()); auto-accepted by default and "
        "surfaced as incomingScreenSharingCall.",
        _S,
    )
    SCREEN_SHARING_WITH_AUDIO = (
        "screenSharingWithAudio",
        "Call: a screen-sharing call with audio.",
    )
    DATA = (
        "data",
        "DataChannel / FileTransfer: the data call underlying a data channel or a file transfer.",
    )


class MediaType(DocStrEnum):
    """``mediaTypeForOutgoingCall`` / ``mediaTypeForIncomingCall``."""

    VIDEO = "VIDEO", "Call: send audio and video (the default for outgoing calls)."
    AUDIO = "AUDIO", "Call: send audio only."
    VIDEOONLY = "VIDEOONLY", "Call: send video only."
    NONE = "NONE", "Call: send no media (answer option noStream)."
    DATA = "DATA", "DataChannel / FileTransfer: the media type of a data call."


class MutedOption(DocStrEnum):
    """The ``muted`` call option (start muted)."""

    VIDEO = "VIDEO", "Call: start with both audio and video muted (set by the application)."
    AUDIOONLY = "AUDIOONLY", "Call: start with audio muted (set by the application)."
    VIDEOONLY = "VIDEOONLY", "Call: start with video muted (set by the application)."


class MediaRoutingMode(DocStrEnum):
    """``mediaRoutingMode`` call option; ``.number`` is the SDK's numeric mode."""

    number: int

    @overload
    def __new__(cls, value: str) -> Self: ...
    @overload
    def __new__(cls, value: str, number: int, doc: str) -> Self: ...
    def __new__(cls, value: str, number: int = 0, doc: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.number = number
        member.doc = doc
        member._origin = None
        return member

    HOST_ONLY = (
        "hostOnly",
        1,
        "Call option set by the application: host ICE candidates only; the adapter restricts "
        "candidate gathering.",
    )
    STUN = (
        "stun",
        2,
        "Call option set by the application: host and STUN candidates; carried out by the adapter.",
    )
    STUN_ONLY = (
        "stunOnly",
        3,
        "Call option set by the application: STUN candidates only; carried out by the adapter.",
    )
    TURN = (
        "turn",
        4,
        "Call option, the default: all candidates including TURN relays; carried out by the "
        "adapter.",
    )
    TURN_ONLY = (
        "turnOnly",
        5,
        "Call option set by the application: TURN relay candidates only; carried out by the "
        "adapter.",
    )


class DesktopCaptureEvent(DocStrEnum):
    """``event`` of the Call ``desktopCapture`` event (screen capture failures)."""

    USER_MEDIA_ERROR_HTTPS_NEEDED = (
        "UserMediaError_HTTPS_needed",
        "SDK: screen capture needs HTTPS. Browser-only; an adapter could report it, rtcstate's "
        "Call relays adapter reports as desktopCapture.",
    )
    USER_MEDIA_ERROR = (
        "UserMediaError",
        "Call (from an adapter report): screen capture was refused or failed.",
    )
    EXTENSION_INSTALLATION_ERROR = (
        "Extension_installation_Error",
        "SDK legacy: the screen-capture browser extension failed to install. Browser-only; "
        "rtcstate never produces it.",
    )
    EXTENSION_NOT_INSTALLED = (
        "Extension_not_installed",
        "SDK legacy: the screen-capture browser extension is missing. Browser-only; rtcstate "
        "never produces it.",
    )
    BROWSER_NOT_COMPATIBLE = (
        "Browser_Not_Compatible",
        "SDK: the browser cannot capture the screen. Browser-only; rtcstate never produces it.",
    )


class StreamListEventType(DocStrEnum):
    """``listEventType`` of ``streamListChanged``."""

    ADDED = (
        "added",
        "Conversation: a participant published a stream that can be subscribed to.",
    )
    REMOVED = (
        "removed",
        "Conversation: a published stream was unpublished (or its publisher left).",
    )
    UPDATED = (
        "updated",
        "Conversation: properties of a published stream changed (e.g. mute state).",
    )


class LocalStreamUpdateCause(DocStrEnum):
    """``cause`` of ``localStreamUpdated`` / ``remoteStreamUpdated``."""

    ADAPTATION = (
        "adaptation",
        "SDK: the stream changed because of quality adaptation. rtcstate does no adaptation and "
        "never produces it.",
    )
    USER_ACTION = (
        "userAction",
        "Conversation: the stream changed because of an application command (mute, enable).",
    )


class SlowLinkAdvice(DocStrEnum):
    """``advice`` of the Conversation ``slowLink`` event."""

    SUBSCRIBE_TO_AUDIO_COMPOSITE = (
        "subscribeToAudioComposite",
        "SDK: subscribe to the audio composite instead of every stream. Needs a media server; "
        "rtcstate never produces it.",
    )


class SimulcastLevel(DocStrEnum):
    """``streamQuality`` / ``streamFrameRate`` of a simulcast selection."""

    HIGH = "high", "SDK: highest simulcast layer. SFU-only; rtcstate never produces it."
    MEDIUM = "medium", "SDK: middle simulcast layer. SFU-only; rtcstate never produces it."
    LOW = "low", "SDK: lowest simulcast layer. SFU-only; rtcstate never produces it."


class SimulcastMode(DocStrEnum):
    """Publish simulcast mode."""

    RID = "RID", "SDK: RID-based simulcast. SFU-only; rtcstate never produces it."
    SDP = "SDP", "SDK: SDP-munging simulcast (deprecated). SFU-only; rtcstate never produces it."


class StreamType(DocStrEnum):
    """SDK constants ``STREAM_TYPE_*``."""

    NO_INPUT = "no_input", "SDK: a stream with no input device. Adapter concern."
    AUDIO = "audio", "SDK: an audio stream. Adapter concern."
    VIDEO = "video", "SDK: a video stream. Adapter concern."


class StreamInfoType(DocStrEnum):
    """``StreamInfo.type``."""

    REGULAR = (
        "regular",
        "Conversation: a stream published by a participant.",
    )
    COMPOSITE = (
        "composite",
        "SDK: a media-server composite. rtcstate has no media server and never produces it.",
    )
    REPLAY = (
        "replay",
        "SDK: a media-server replay. rtcstate has no media server and never produces it.",
    )


class TrackKind(DocStrEnum):
    """``type`` of Stream track events (activeStateChange, muteStateChange, trackStopped)."""

    AUDIO = "audio", "Adapter: the event concerns the audio track."
    VIDEO = "video", "Adapter: the event concerns the video track."


class RemoteAccessStopCode(DocStrEnum):
    """``StopReason.code`` of a remote-access session."""

    USER_DECLINE = (
        "USER_DECLINE",
        "SDK: the user declined the remote-access invitation. " + _NOT_YET + "a remote-access "
        "invitation machine would.",
    )
    USER_LEFT = (
        "USER_LEFT",
        "SDK: the user left. " + _NOT_YET + "a remote-access invitation machine would.",
    )
    USER_STOP = (
        "USER_STOP",
        "SDK: the user stopped remote access. " + _NOT_YET + "a remote-access invitation "
        "machine would.",
    )
    AGENT_LEFT = (
        "AGENT_LEFT",
        "SDK: the agent left the conversation. " + _NOT_YET + "a remote-access invitation "
        "machine would.",
    )
    AGENT_STOP = (
        "AGENT_STOP",
        "SDK: the agent stopped remote access. " + _NOT_YET + "a remote-access invitation "
        "machine would.",
    )
    SCREEN_SHARING_STOP = (
        "SCREEN_SHARING_STOP",
        "SDK: the shared screen stopped. " + _NOT_YET + "a remote-access invitation machine would.",
    )
    CREATE_DISPLAY_MEDIA_ERROR = (
        "CREATE_DISPLAY_MEDIA_ERROR",
        "SDK: screen capture could not be created. " + _NOT_YET + "a remote-access invitation "
        "machine would.",
    )
    DISPLAY_MEDIA_PUBLISH_ERROR = (
        "DISPLAY_MEDIA_PUBLISH_ERROR",
        "SDK: the captured screen could not be published. " + _NOT_YET + "a remote-access "
        "invitation machine would.",
    )


class RemoteAccessAppStatus(DocStrEnum):
    """Remote-access application connection status events."""

    APP_CONNECTION_ONGOING = (
        "APP_CONNECTION_ONGOING",
        "SDK: the remote-access application is connecting. " + _NOT_YET + "a remote-access "
        "invitation machine would.",
    )
    APP_CONNECTION_OK = (
        "APP_CONNECTION_OK",
        "SDK: the remote-access application is connected. " + _NOT_YET + "a remote-access "
        "invitation machine would.",
    )


class RecordingMode(DocStrEnum):
    """``RecordingOptions.mode``."""

    COMPLETE = (
        "complete",
        "SDK default: record everything. " + _NOT_YET + "Conversation would pass it to the Hub.",
    )
    EFFICIENT = (
        "efficient",
        "SDK: space-efficient recording. " + _NOT_YET + "Conversation would pass it to the Hub.",
    )
    AUDIO_ONLY = (
        "audioOnly",
        "SDK: record audio only. " + _NOT_YET + "Conversation would pass it to the Hub.",
    )


class RecordMediaType(DocStrEnum):
    """Recorded media type."""

    AUDIO_VIDEO = (
        "AUDIO-VIDEO",
        "SDK: audio and video recorded. " + _NOT_YET + "Conversation would report it.",
    )
    AUDIO_ONLY = (
        "AUDIO-ONLY",
        "SDK: audio recorded. " + _NOT_YET + "Conversation would report it.",
    )
    VIDEO_ONLY = (
        "VIDEO-ONLY",
        "SDK: video recorded. " + _NOT_YET + "Conversation would report it.",
    )


class UpdateMediaStatus(DocStrEnum):
    """Result status of an SDK media update (renegotiation)."""

    ON_GOING = (
        "OnGoing",
        "SDK-internal: the media update was started. rtcstate's Call does not expose it.",
    )
    NOT_DONE = (
        "Not_Done",
        "SDK-internal: the media update was not started (see UpdateMediaReason) and is retried "
        "later. rtcstate's Call queues the update instead.",
    )


class UpdateMediaReason(DocStrEnum):
    """Reason accompanying an SDK media update result."""

    OK = "OK", "SDK-internal: the update was started."
    PC_NOT_EXIT = (
        "PC_Not_Exit",
        "SDK-internal: no peer connection exists (sic, 'Exit'). Not exposed by rtcstate.",
    )
    UPDATE_ALREADY_ONGOING = (
        "Update_already_ongoing",
        "SDK-internal: another update is in progress. rtcstate's Call queues the update.",
    )
    SIG_STATE_NOT_STABLE = (
        "Sig_state_not_stable",
        "SDK-internal: signaling state is not stable (renegotiation collision). rtcstate's Call "
        "queues the update.",
    )


class MediaDeviceUpdateReason(DocStrEnum):
    """``updateReason`` of the UserAgent ``mediaDeviceChanged`` event."""

    UPDATED_ON_DEVICE_CHANGE = (
        "updatedOnDeviceChange",
        "Adapter: the platform reported a device change. rtcstate's machines never produce it.",
    )
    UPDATED_AFTER_GET_USER_MEDIA_SUCCESS = (
        "updatedAfterGetUserMediaSuccess",
        "Adapter: the device list was refreshed after media access succeeded. rtcstate's "
        "machines never produce it.",
    )


class DataChannelOpenedType(DocStrEnum):
    """``type`` of the DataChannel ``opened`` event (SDK payload; the seed says Void)."""

    RECEIVE_DATA_CHANNEL_OPEN = (
        "receiveDataChannelOpen",
        "DataChannel of the side that accepted the invitation: the RTCDataChannel the "
        "initiator created opened here (adapter report DataChannelOpened).",
    )
    SEND_DATA_CHANNEL_OPEN = (
        "sendDataChannelOpen",
        "DataChannel of the initiator (startDataChannel): the RTCDataChannel it created "
        "opened (adapter report DataChannelOpened).",
    )


class DataChannelErrorType(DocStrEnum):
    """Payload of the DataChannel ``error`` event and of file-transfer errors."""

    RECEIVE_DATA_CHANNEL_ERROR = (
        "receiveDataChannelError",
        "DataChannel of the side that accepted the invitation: a frame received on the "
        "channel could not be decoded (dropped with its transfer). FileTransfer (receiving "
        "side): a channel error.",
    )
    SEND_DATA_CHANNEL_ERROR = (
        "sendDataChannelError",
        "DataChannel of the initiator (whose RTCDataChannel is the SDK's send channel): a "
        "frame received on the channel could not be decoded. FileTransfer (sending side): a "
        "channel error.",
    )


class DataDeliveryReason(DocStrEnum):
    """Outcome of a peer data message (delivery callback reason)."""

    ACK = (
        "ack",
        "Session: the peer acknowledged the message; the pending command resolves.",
    )
    TIMEOUT_REACHED = (
        "timeoutReached",
        "Session: no acknowledgement before the message timer (SDK: 10 s); rejects with "
        "ERROR_TIMED_OUT (the SDK checks 'timeoutReached' but maps 'timerReached', so it "
        "rejects with ERROR_OTHER; rtcstate follows the intent).",
    )
    DEST_NOT_FOUND = (
        "destNotFound",
        "Hub (the relay) reports the destination unknown; the Session rejects with "
        "ERROR_NOT_FOUND.",
    )


class WhiteboardMemberStatus(DocStrEnum):
    """``status`` of ``whiteboardRoomMemberUpdate``."""

    ONLINE = (
        "online",
        "SDK: members joined the whiteboard room. " + _NOT_YET + "Session/Conversation would.",
    )
    OFFLINE = (
        "offline",
        "SDK: members left the whiteboard room. " + _NOT_YET + "Session/Conversation would.",
    )


class IceState(DocStrEnum):
    """``descriptor.iceState`` of an ICE ``error`` event."""

    DISCONNECTED = "disconnected", "Call / Conversation: the ICE connection is disconnected."
    FAILED = "failed", "Call / Conversation: the ICE connection failed."
    UNKNOWN = "unknown", "Call / Conversation: the ICE state could not be determined."


class IceErrorContext(DocStrEnum):
    """``descriptor.context`` of an ICE ``error`` event."""

    CALL = "call", "Call: the error concerns a 1-1 call."
    CONF = "conf", "Conversation: the error concerns a room stream."


class IceErrorMode(DocStrEnum):
    """``descriptor.mode`` of an ICE ``error`` event."""

    P2P = "p2p", "Call: a peer-to-peer 1-1 call."
    MESH = "mesh", "Conversation: a mesh room stream."
    SFU = "sfu", "SDK: a media-server room stream; rtcstate never produces it."


class IceErrorStreamType(DocStrEnum):
    """``descriptor.type`` of a Conversation ICE ``error`` event."""

    PUBLISH = "publish", "Conversation: the failing stream is one this side publishes."
    SUBSCRIBE = "subscribe", "Conversation: the failing stream is one this side subscribed to."
    UNKNOWN = "unknown", "Conversation: the direction of the failing stream is unknown."


CONVERSATION_WAITING_ROOM_PREFIX = "waiting-room-"
"""Presence-group name prefix of a conversation's waiting room (``waiting-room-<room>``)."""


# ------------------------------------------------------------------------------------------------
# Event whitelists
# ------------------------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_CONVERSATION_SDK = _words(
    """
    adaptationTriggered audioAmplitude availableStreamsUpdated bandwidthLimited callStatsUpdate
    compositeListChanged contactJoined contactJoinedWaitingRoom contactLeft contactLeftWaitingRoom
    cpuLimited customEvent data disconnectionWarning entryAllowed entryDenied error hangup joined
    left localStreamUpdated message messageNotDelivered moderatorConnected newMediaAvailable
    newWhiteboardSession participantEjected persistentDataUpdated pointerLocationChanged
    pointerSharingEnabled recordingAvailable recordingStarted recordingStopped remoteStreamUpdated
    replayListChanged roomModeChanged simulcastFeedChanged slowLink streamAdded streamListChanged
    streamRemoved streamingStarted streamingStopped transferPending transferBegun transferEnded
    transferProgress whiteboardRoomMemberUpdate videoQualityChanged waitingForModeratorAcceptance
    remoteStreamIdUpdated
    """
)

_CONVERSATION_SEED = frozenset(
    _words(
        """
        audioAmplitude availableStreamsUpdated callStatsUpdate closed contactJoined
        contactJoinedWaitingRoom contactLeft contactLeftWaitingRoom customEvent data
        disconnectionWarning entryAllowed entryDenied error hangup joined left localStreamUpdated
        message messageNotDelivered moderatorConnected newMediaAvailable newWhiteboardSession
        participantEjected persistentDataUpdated pointerLocationChanged pointerSharingEnabled
        recordingAvailable recordingStarted recordingStopped remoteStreamUpdated roomModeChanged
        simulcastFeedChanged slowLink streamAdded streamListChanged streamRemoved transferBegun
        transferEnded transferPending transferProgress waitingForModeratorAcceptance
        """
    )
)

_RECEIVED_INVITATION_SDK = _words("statusChange messageDelivered messageNotDelivered")

SDK_EVENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "UserAgent": _words(
            "mediaDeviceChanged externalJsLoadingStatus ccsConnectionStatus userMediaError"
        ),
        "Session": _words(
            """
            rawData whiteboardInvitation fileTransferInvitation conversationMessage
            conversationData dataChannelInvitation contactMessage contactData customEvent
            conversationInvitation incomingCall disconnect error contactListUpdate reconnecting
            reconnection conversationJoinRequest newMediaAvailableFromContact
            whiteboardRoomMemberUpdate incomingScreenSharingCall pointerSharingInvitation
            pointerLocationChanged incomingScreenSharingCallInvitation cloudEventOccurred
            remoteAccessInvitation
            """
        ),
        "Contact": _words(
            """
            message conversationInvitation data joinGroup leaveGroup whiteboardInvitation
            fileSentSuccessfully fileTransferInvitation fileTransferProgress dataChannelInvitation
            incomingCall internalApiRTCdataChannelInvitation newMediaAvailable customEvent
            fileTransferError incomingScreenSharingCall incomingScreenSharingCallInvitation
            """
        ),
        "Call": _words(
            """
            streamAdded streamRemoved response accepted declined hangup localStreamAvailable
            recordAvailable statsUpdate error disconnectionWarning userMediaError desktopCapture
            remoteStreamUpdated recordingStarted recordingStopped recordingAvailable
            remoteStreamIdUpdated
            """
        ),
        "Conversation": _CONVERSATION_SDK,
        "Conference": (*_CONVERSATION_SDK, "closed"),
        "DataChannel": _words(
            """
            response accepted declined error opened closed transferProgress transferComplete
            dataReceived ended
            """
        ),
        "SentInvitation": _words("response receive statusChange"),
        "SentRemoteAccessInvitation": _words(
            """
            response receive remoteAccessStreamAdded stop application_connection_ongoing
            application_connection_ok
            """
        ),
        "ReceivedInvitation": _RECEIVED_INVITATION_SDK,
        "ReceivedCallInvitation": _words("expired statusChange"),
        "ReceivedConversationInvitation": _RECEIVED_INVITATION_SDK,
        "ReceivedConversationJoinRequest": _RECEIVED_INVITATION_SDK,
        "ReceivedDataChannelInvitation": _words("expired statusChange"),
        "ReceivedFileTransferInvitation": _words("error progress statusChange"),
        "ReceivedPointerSharingInvitation": _RECEIVED_INVITATION_SDK,
        "ReceivedWhiteboardInvitation": _RECEIVED_INVITATION_SDK,
        "ReceivedRemoteAccessInvitation": _words(
            """
            stop messageDelivered messageNotDelivered application_connection_ongoing
            application_connection_ok
            """
        ),
        "Stream": _words(
            """
            stopped trackStopped audioAmplitude audioAmplitudeInfo muteStateChange
            activeStateChange backgroundSubstractionStopVisibilityChange
            backgroundSubstractionStopComputeTime AIESnapshot AIELog flowStatusChanged
            audioFlowStatusChanged videoFlowStatusChanged remoteAudioFlowStatusChanged
            remoteVideoFlowStatusChanged release constraintsChanged
            """
        ),
        "ConversationCall": (),
    }
)
"""Each class's ``getAvailableEvents()`` whitelist in SDK 5.0.35 (SDK order, duplicates removed)."""

SEED_EVENTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "UserAgent": frozenset(
            _words("ccsConnectionStatus externalJsLoadingStatus mediaDeviceChanged")
        ),
        "Session": frozenset(
            _words(
                """
                contactData contactListUpdate contactMessage conversationData
                conversationInvitation conversationJoinRequest conversationMessage customEvent
                dataChannelInvitation disconnect error fileTransferInvitation incomingCall
                incomingScreenSharingCall incomingScreenSharingCallInvitation
                newMediaAvailableFromContact pointerLocationChanged pointerSharingInvitation
                rawData reconnecting reconnection whiteboardInvitation whiteboardRoomMemberUpdate
                """
            )
        ),
        "Contact": frozenset(
            _words(
                """
                conversationInvitation customEvent data dataChannelInvitation
                fileSentSuccessfully fileTransferError fileTransferInvitation
                fileTransferProgress incomingCall incomingScreenSharingCall
                incomingScreenSharingCallInvitation joinGroup leaveGroup message
                newMediaAvailable whiteboardInvitation
                """
            )
        ),
        "Call": frozenset(
            _words(
                """
                accepted declined desktopCapture disconnectionWarning error hangup
                localStreamAvailable recordAvailable recordingAvailable recordingStarted
                recordingStopped remoteStreamIdUpdated remoteStreamUpdated response statsUpdate
                streamAdded streamRemoved userMediaError
                """
            )
        ),
        "Conversation": _CONVERSATION_SEED,
        "Conference": _CONVERSATION_SEED,
        "DataChannel": frozenset(
            _words(
                """
                accepted closed dataReceived declined ended error opened response
                transferComplete transferProgress
                """
            )
        ),
        "SentInvitation": frozenset(_words("receive response statusChange")),
        "SentRemoteAccessInvitation": frozenset(_words("receive response statusChange")),
        "ReceivedInvitation": frozenset({"statusChange"}),
        "ReceivedCallInvitation": frozenset(_words("expired statusChange")),
        "ReceivedConversationInvitation": frozenset({"statusChange"}),
        "ReceivedConversationJoinRequest": frozenset({"statusChange"}),
        "ReceivedDataChannelInvitation": frozenset(_words("expired statusChange")),
        "ReceivedFileTransferInvitation": frozenset(_words("error progress statusChange")),
        "ReceivedPointerSharingInvitation": frozenset({"statusChange"}),
        "ReceivedWhiteboardInvitation": frozenset({"statusChange"}),
        "ReceivedRemoteAccessInvitation": frozenset({"statusChange"}),
        "Stream": frozenset(SDK_EVENTS["Stream"]),
        "ConversationCall": frozenset(),
    }
)
"""Event names the seed documents for each class (attribution reconstructed from the seed's
alphabetical class order, cross-checked with the SDK whitelists)."""

SEED_ONLY_EVENTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        cls: frozenset(SEED_EVENTS[cls] - set(sdk))
        for cls, sdk in SDK_EVENTS.items()
        if SEED_EVENTS[cls] - set(sdk)
    }
)
"""Events the seed documents that the SDK does not whitelist for that class (Conversation
``closed``, remote-access ``statusChange``); rtcstate follows the seed and allows them."""

AVAILABLE_EVENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        cls: (*sdk, *sorted(SEED_ONLY_EVENTS.get(cls, frozenset())))
        for cls, sdk in SDK_EVENTS.items()
    }
)
"""Each class's event whitelist in rtcstate: the SDK's list followed by the seed-only names."""


RTCSTATE_EVENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # the sans-I/O form of accept()'s promise resolving: {fileInfo, sha256,
        # transferInformation}, fired (before statusChange ENDED) once the file is verified
        "ReceivedFileTransferInvitation": ("transferComplete",),
    }
)
"""Events rtcstate fires beyond apiRTC's, per class (documented in ``docs/codes.md``)."""


def is_known_event(cls_name: str, event: str) -> bool:
    """Whether ``event`` may be listened to on class ``cls_name`` (False for unknown classes):
    apiRTC's whitelist (:data:`AVAILABLE_EVENTS`) plus rtcstate's (:data:`RTCSTATE_EVENTS`)."""
    return event in AVAILABLE_EVENTS.get(cls_name, ()) or event in RTCSTATE_EVENTS.get(cls_name, ())


# ------------------------------------------------------------------------------------------------
# Catalogue and rendering
# ------------------------------------------------------------------------------------------------

_Set = type[DocStrEnum] | type[DocIntEnum]
_Member = DocStrEnum | DocIntEnum

SETS: tuple[tuple[_Set, Origin], ...] = (
    (ErrorNumber, _K),
    (HangupReason, _S),
    (HangupFrom, _S),
    (ErrorCode, _S),
    (CallStatus, _K),
    (InvitationStatus, _K),
    (ConversationStatus, _K),
    (DataChannelStatus, _K),
    (DataChannelType, _K),
    (WhiteboardStatus, _K),
    (PointerSharingState, _K),
    (CcsConnectionStatus, _S),
    (ExternalJsLoadingStatus, _S),
    (MediaDeviceUpdateReason, _S),
    (RoomMode, _S),
    (RoomModeChangeState, _S),
    (ConversationRole, _K),
    (ConversationAccess, _K),
    (ConversationType, _K),
    (InvitationConversationType, _K),
    (InvitationType, _K),
    (InvitationDirection, _K),
    (InvitationAnswer, _K),
    (JoinAnswerCommand, _K),
    (JoinRequestCommand, _K),
    (CallType, _K),
    (MediaType, _K),
    (MutedOption, _K),
    (MediaRoutingMode, _K),
    (DesktopCaptureEvent, _S),
    (StreamListEventType, _S),
    (LocalStreamUpdateCause, _S),
    (SlowLinkAdvice, _S),
    (SimulcastLevel, _S),
    (SimulcastMode, _K),
    (StreamType, _K),
    (StreamInfoType, _K),
    (TrackKind, _S),
    (IceState, _K),
    (IceErrorContext, _K),
    (IceErrorMode, _K),
    (IceErrorStreamType, _K),
    (DataChannelOpenedType, _K),
    (DataChannelErrorType, _K),
    (DataDeliveryReason, _K),
    (WhiteboardMemberStatus, _S),
    (RemoteAccessStopCode, _K),
    (RemoteAccessAppStatus, _K),
    (RecordingMode, _K),
    (RecordMediaType, _K),
    (UpdateMediaStatus, _K),
    (UpdateMediaReason, _K),
    (LogLevel, _K),
    (CloudMediaType, _K),
)
"""Every catalogued set, in documentation order, with the origin of members that do not say."""

_DEFAULT_ORIGIN.update({cls: origin for cls, origin in SETS})


def _extra(member: _Member) -> dict[str, str | int]:
    extra: dict[str, str | int] = {"name": member.name, "origin": member.origin.value}
    if isinstance(member, ErrorCode):
        extra["info"] = member.info
    if isinstance(member, MediaRoutingMode):
        extra["number"] = member.number
    return extra


def catalogue() -> dict[str, list[tuple[str | int, str, dict[str, str | int]]]]:
    """Every set as plain data: set name -> list of ``(value, doc, extra)``.

    ``extra`` holds the member ``name`` and ``origin``, plus ``info`` (ErrorCode) or ``number``
    (MediaRoutingMode). Event whitelists appear as ``AVAILABLE_EVENTS.<Class>`` with the origin
    of each name (``seed`` = documented and whitelisted, ``SDK-only``, ``seed-only``)."""
    result: dict[str, list[tuple[str | int, str, dict[str, str | int]]]] = {}
    for cls, _origin in SETS:
        result[cls.__name__] = [(m.value, m.doc, _extra(m)) for m in cls]
    for cls_name, events in AVAILABLE_EVENTS.items():
        result[f"AVAILABLE_EVENTS.{cls_name}"] = [
            (event, _event_doc(cls_name, event), {"origin": _event_origin(cls_name, event).value})
            for event in events
        ]
    return result


def _event_origin(cls_name: str, event: str) -> Origin:
    if event in SEED_ONLY_EVENTS.get(cls_name, frozenset()):
        return Origin.SEED_ONLY
    if event in SEED_EVENTS.get(cls_name, frozenset()):
        return Origin.SEED
    return Origin.SDK_ONLY


def _event_doc(cls_name: str, event: str) -> str:
    origin = _event_origin(cls_name, event)
    if origin is Origin.SEED_ONLY:
        return f"Documented by the seed for {cls_name} but not whitelisted by SDK 5.0.35."
    if origin is Origin.SEED:
        return f"Documented by the seed and whitelisted by the SDK for {cls_name}."
    return f"Whitelisted by the SDK for {cls_name}; not documented by the seed."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: str | int) -> str:
    return f"`{value}`"


def _first_line(text: str | None) -> str:
    return " ".join((text or "").split()).replace("``", "`")


_INTRO = """\
This file is generated from `rtcstate/codes.py` by `rtcstate.codes.render_markdown()`; do not
edit it by hand (regenerate with `make docs`). `rtcstate codes` prints a compact listing.

Every value below is spelled exactly as apiRTC spells it: string sets are `StrEnum`s whose
members equal their string, numbered errors are `IntEnum`s. Each member's `.doc` (the *meaning*
column) says when it is produced and by which machine: **Session**, **Call**,
**ReceivedCallInvitation**, **SentInvitation**, **Conversation**, **DataChannel**,
**FileTransfer**, **Hub** (the relay), or the application / an adapter.

## Origins

| origin | meaning |
|---|---|
{origins}

## Where the seed and the SDK disagree, and what rtcstate follows

rtcstate follows the seed (the apiRTC event documentation) wherever it names something that must
exist, and the SDK (@apirtc/apirtc 5.0.35) where the seed is silent or evidently wrong.

- **Hangup reasons.** The seed lists 14 reasons; the SDK lacks `call take on other device` and
  `bye on other device`. rtcstate keeps them and produces them through its multi-device support
  (the Hub rings every device of a user and ends the others when one answers or hangs up). The
  SDK adds 9 reasons (`Call_Cancelled`, `Local_Description_Failure`, ...); rtcstate accepts all
  of them on the wire and sends those that fit a 1-1 call.
- **`declined`.** The seed says "contact decline call"; the SDK emits `declined{reason}` for any
  remote bye while the outgoing call is still WAITING_FOR_CALLEE, so `DECLINE_REASONS` is every
  reason.
- **Error codes.** The seed lists 31 `errorCode` values (with their odd spellings, e.g.
  `START_RECORD_MEDIA_FOUND`); the SDK adds 14. rtcstate adds 5 codes of its own for protocol
  errors from the wire, clearly marked `rtcstate`.
- **Local errors vs wire reasons.** apiRTC uses two vocabularies; rtcstate keeps them apart and
  maps them explicitly (`LOCAL_ERROR_TO_WIRE_REASON`, `WIRE_REASON_TO_DISTANT_ERROR`).
- **Payload shapes.** Call `statsUpdate`: the seed says `CallStats` (its description is a copy of
  `recordAvailable`), the SDK sends `{stats}`; rtcstate follows the SDK. Call `response`: the
  seed says Void, the SDK sends `"accepted"`/`"declined"`; rtcstate follows the SDK.
  DataChannel `opened` / `error`: the seed says Void, the SDK sends `{type}` /
  a string (`DataChannelOpenedType`, `DataChannelErrorType`); rtcstate follows the SDK.
  `moderatorConnected` / `waitingForModeratorAcceptance`: the seed says `{moderator}`, the SDK
  emits the Contact itself; rtcstate follows the seed.
- **Event whitelists.** The SDK refuses listeners for names outside a class's list. Where the
  seed documents an event the SDK does not list (Conversation `closed`, the remote-access
  invitations' `statusChange`) rtcstate allows it (`SEED_ONLY_EVENTS`).
- **Numbers and statuses.** The seed gives no numbers and no status names; they come from the SDK
  (`ErrorNumber`, `CallStatus`, `InvitationStatus`, ...). Status values are the SDK Symbols'
  names.
- **Delivery timeout.** The SDK checks `timeoutReached` but maps `timerReached`, so a delivery
  timeout rejects with ERROR_OTHER; the catalogue records the intended ERROR_TIMED_OUT.
"""


def _origins_table() -> str:
    return "\n".join(f"| `{o.value}` | {_cell(o.doc)} |" for o in Origin)


def _set_table(cls: _Set) -> list[str]:
    members: list[_Member] = list(cls)
    is_int = issubclass(cls, DocIntEnum)
    head = ["value"]
    if is_int:
        head.append("constant")
    if cls is ErrorCode:
        head.append("errorInfo")
    if cls is MediaRoutingMode:
        head.append("number")
    head += ["meaning / when produced", "origin"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in members:
        row = [_code(m.value)]
        if is_int:
            row.append(_code(m.name))
        if isinstance(m, ErrorCode):
            row.append(_cell(m.info))
        if isinstance(m, MediaRoutingMode):
            row.append(str(m.number))
        row += [_cell(m.doc), m.origin.value]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _mapping_sections() -> list[str]:
    out = ["## Mappings between local errors and wire reasons", ""]
    out.append("### LOCAL_ERROR_TO_WIRE_REASON")
    out.append("")
    out.append(_first_line(_DOC_LOCAL_TO_WIRE))
    out.append("")
    out.append("| local `errorCode` | `reason` sent in the bye |")
    out.append("|---|---|")
    for code, reason in LOCAL_ERROR_TO_WIRE_REASON.items():
        out.append(f"| {_code(code.value)} | {_code(reason.value)} |")
    out += ["", "### WIRE_REASON_TO_DISTANT_ERROR", ""]
    out.append(_first_line(_DOC_WIRE_TO_DISTANT))
    out.append("")
    out.append("| `reason` received in a bye | `errorCode` emitted by the far side |")
    out.append("|---|---|")
    for reason, code in WIRE_REASON_TO_DISTANT_ERROR.items():
        out.append(f"| {_code(reason.value)} | {_code(code.value)} |")
    out += ["", "### DECLINE_REASONS", ""]
    out.append(
        "A bye arriving while an outgoing Call is still `CALL_STATUS_WAITING_FOR_CALLEE` produces "
        "`declined{reason}` then `hangup{from: remote, reason}`. apiRTC does this for any "
        f"remote bye, so the set holds all {len(DECLINE_REASONS)} reasons."
    )
    out += ["", "### ROOM_RESTART_REASONS", ""]
    out.append(
        "Transient room reasons: a Conversation stream ended with one of "
        + ", ".join(_code(r.value) for r in HangupReason if r in ROOM_RESTART_REASONS)
        + " is restarted with backoff and no Conversation `hangup` is emitted."
    )
    out += ["", "### default_hangup_reason", ""]
    out.append(
        f"A plain local hangup sends {_code(default_hangup_reason(True).value)} on the caller "
        f"side and {_code(default_hangup_reason(False).value)} on the callee side; "
        "`complementary()` turns the `from` of one side into the other's "
        "(`local` <-> `remote`)."
    )
    out.append("")
    return out


_DOC_LOCAL_TO_WIRE = (
    "When a side ends a call because of a local error it first emits `error{errorCode}` and then "
    "sends a bye with the matching reason."
)
_DOC_WIRE_TO_DISTANT = (
    "When a bye carries one of these reasons the receiving side emits `error{errorCode}` before "
    "its `hangup{from: remote}`."
)


def _events_section() -> list[str]:
    out = ["## Event whitelists (AVAILABLE_EVENTS)", ""]
    out.append(
        "Per class: names both documented by the seed and whitelisted by the SDK, names only the "
        "SDK whitelists, and names only the seed documents (allowed by rtcstate)."
    )
    out.append("")
    out.append("| class | seed and SDK | SDK-only | seed-only |")
    out.append("|---|---|---|---|")
    for cls_name, events in AVAILABLE_EVENTS.items():
        groups: dict[Origin, list[str]] = {
            Origin.SEED: [],
            Origin.SDK_ONLY: [],
            Origin.SEED_ONLY: [],
        }
        for event in events:
            groups[_event_origin(cls_name, event)].append(event)
        cells = [
            ", ".join(_code(e) for e in sorted(groups[o], key=str.lower)) or "—"
            for o in (Origin.SEED, Origin.SDK_ONLY, Origin.SEED_ONLY)
        ]
        out.append(f"| {cls_name} | " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        "rtcstate extensions (RTCSTATE_EVENTS), also accepted by `on()` in the adapters: "
        + "; ".join(
            f"{cls_name}: " + ", ".join(_code(e) for e in events)
            for cls_name, events in RTCSTATE_EVENTS.items()
        )
        + "."
    )
    out.append("")
    return out


def render_markdown() -> str:
    """The catalogue as Markdown (the content of ``docs/codes.md``); deterministic."""
    out = ["# rtcstate codes: the apiRTC vocabulary", ""]
    out.append(_INTRO.replace("{origins}", _origins_table()))
    out.append("## Contents")
    out.append("")
    for cls, _origin in SETS:
        out.append(f"- [{cls.__name__}](#{cls.__name__.lower()}): {_first_line(cls.__doc__)}")
    out.append("- [Mappings](#mappings-between-local-errors-and-wire-reasons)")
    out.append("- [Event whitelists](#event-whitelists-available_events)")
    out.append("")
    for cls, _origin in SETS:
        out += [f"## {cls.__name__}", "", _first_line(cls.__doc__), ""]
        out += _set_table(cls)
        out.append("")
    out += _mapping_sections()
    out += _events_section()
    return "\n".join(out).rstrip("\n") + "\n"


def _shorten(text: str, width: int) -> str:
    text = _first_line(text).replace("`", "")
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def render_text() -> str:
    """A compact terminal listing of every set (``rtcstate codes``)."""
    lines: list[str] = []
    for cls, _origin in SETS:
        members: list[_Member] = list(cls)
        lines.append(f"{cls.__name__}  ({len(members)}) - {_shorten(cls.__doc__ or '', 70)}")
        width = max(len(str(m.value)) for m in members)
        for m in members:
            if isinstance(m, ErrorCode):
                note = m.info
            elif isinstance(m, DocIntEnum):
                note = m.name
            else:
                note = m.doc
            value = str(m.value).ljust(width)
            tag = f"[{m.origin.value}]".ljust(11)
            lines.append(f"  {value}  {tag}  {_shorten(note, 60)}")
        lines.append("")
    lines.append("Event whitelists (* = seed-only)")
    for cls_name, events in AVAILABLE_EVENTS.items():
        marked = [
            e + ("*" if _event_origin(cls_name, e) is Origin.SEED_ONLY else "") for e in events
        ]
        lines.append(
            textwrap.fill(
                f"{cls_name}: " + (", ".join(marked) or "-"),
                width=100,
                initial_indent="  ",
                subsequent_indent="      ",
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines) + "\n"
