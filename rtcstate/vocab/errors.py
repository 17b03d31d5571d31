"""The error vocabulary rtcstate produces: numbered errors and ``error`` event codes.

:class:`ErrorNumber` is the numbered ``ApiRTCError.code`` (0-17) carried by the typed exception
a refused command raises; :class:`ErrorCode` is the ``errorCode`` (+ ``errorInfo``) of the
``error`` event. :data:`LOCAL_ERROR_TO_WIRE_REASON` and :data:`WIRE_REASON_TO_DISTANT_ERROR` map
between local errors and the wire's hangup reasons (:mod:`rtcstate.vocab.reasons`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Self, overload

from rtcstate.vocab.base import (
    _K,
    _NOT_YET,
    _R,
    _S,
    DocIntEnum,
    DocStrEnum,
    Origin,
    default_origin,
)
from rtcstate.vocab.reasons import HangupReason

__all__ = [
    "LOCAL_ERROR_TO_WIRE_REASON",
    "RTCSTATE_ERROR_CODES",
    "SDK_ONLY_ERROR_CODES",
    "SEED_ERROR_CODES",
    "WIRE_REASON_TO_DISTANT_ERROR",
    "ErrorCode",
    "ErrorNumber",
]


@default_origin(_K)
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


@default_origin(_S)
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
