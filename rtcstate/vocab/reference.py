"""Reference-only value sets: apiRTC's vocabulary that no rtcstate machine produces (yet).

Documentation of the SDK and the seed, kept exact so that an application, an adapter or a
future machine spells each value right: conversation and room statuses and roles, stream,
simulcast, recording, remote-access and ICE-descriptor values, log levels. A set moves to
:mod:`rtcstate.vocab.statuses` or :mod:`rtcstate.vocab.values` when a machine starts producing
it; ``tests/test_codes.py`` checks every set against the reference documents either way.
"""

from __future__ import annotations

from rtcstate.vocab.base import (
    _K,
    _NOT_YET,
    _S,
    DocIntEnum,
    DocStrEnum,
    default_origin,
)

__all__ = [
    "CONVERSATION_WAITING_ROOM_PREFIX",
    "CloudMediaType",
    "ConversationAccess",
    "ConversationRole",
    "ConversationStatus",
    "ConversationType",
    "DataDeliveryReason",
    "ExternalJsLoadingStatus",
    "IceErrorContext",
    "IceErrorMode",
    "IceErrorStreamType",
    "IceState",
    "InvitationAnswer",
    "InvitationConversationType",
    "InvitationDirection",
    "JoinAnswerCommand",
    "JoinRequestCommand",
    "LocalStreamUpdateCause",
    "LogLevel",
    "MediaDeviceUpdateReason",
    "MediaType",
    "MutedOption",
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
]


@default_origin(_K)
class LogLevel(DocIntEnum):
    """SDK log levels (``apiRTC.setLogLevel``)."""

    LOG_LEVEL_OFF = 0, "No logging. Set by the application."
    LOG_LEVEL_ERROR = 1, "Errors only. Set by the application."
    LOG_LEVEL_WARN = 2, "Warnings and errors. Set by the application."
    LOG_LEVEL_INFO = 3, "Informational messages and above. Set by the application."
    LOG_LEVEL_DEBUG = 4, "Debug messages and above. Set by the application."
    LOG_LEVEL_TRACE = 5, "Everything. Set by the application."


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_S)
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


@default_origin(_S)
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


@default_origin(_S)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
class InvitationDirection(DocStrEnum):
    """The ``invitationType`` field of an invitation."""

    SENT = "sent", "SentInvitation: an invitation this side sent."
    RECEIVED = "received", "Every received invitation: an invitation this side received."


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
class MediaType(DocStrEnum):
    """``mediaTypeForOutgoingCall`` / ``mediaTypeForIncomingCall``."""

    VIDEO = "VIDEO", "Call: send audio and video (the default for outgoing calls)."
    AUDIO = "AUDIO", "Call: send audio only."
    VIDEOONLY = "VIDEOONLY", "Call: send video only."
    NONE = "NONE", "Call: send no media (answer option noStream)."
    DATA = "DATA", "DataChannel / FileTransfer: the media type of a data call."


@default_origin(_K)
class MutedOption(DocStrEnum):
    """The ``muted`` call option (start muted)."""

    VIDEO = "VIDEO", "Call: start with both audio and video muted (set by the application)."
    AUDIOONLY = "AUDIOONLY", "Call: start with audio muted (set by the application)."
    VIDEOONLY = "VIDEOONLY", "Call: start with video muted (set by the application)."


@default_origin(_S)
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


@default_origin(_S)
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


@default_origin(_S)
class SlowLinkAdvice(DocStrEnum):
    """``advice`` of the Conversation ``slowLink`` event."""

    SUBSCRIBE_TO_AUDIO_COMPOSITE = (
        "subscribeToAudioComposite",
        "SDK: subscribe to the audio composite instead of every stream. Needs a media server; "
        "rtcstate never produces it.",
    )


@default_origin(_S)
class SimulcastLevel(DocStrEnum):
    """``streamQuality`` / ``streamFrameRate`` of a simulcast selection."""

    HIGH = "high", "SDK: highest simulcast layer. SFU-only; rtcstate never produces it."
    MEDIUM = "medium", "SDK: middle simulcast layer. SFU-only; rtcstate never produces it."
    LOW = "low", "SDK: lowest simulcast layer. SFU-only; rtcstate never produces it."


@default_origin(_K)
class SimulcastMode(DocStrEnum):
    """Publish simulcast mode."""

    RID = "RID", "SDK: RID-based simulcast. SFU-only; rtcstate never produces it."
    SDP = "SDP", "SDK: SDP-munging simulcast (deprecated). SFU-only; rtcstate never produces it."


@default_origin(_K)
class StreamType(DocStrEnum):
    """SDK constants ``STREAM_TYPE_*``."""

    NO_INPUT = "no_input", "SDK: a stream with no input device. Adapter concern."
    AUDIO = "audio", "SDK: an audio stream. Adapter concern."
    VIDEO = "video", "SDK: a video stream. Adapter concern."


@default_origin(_K)
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


@default_origin(_S)
class TrackKind(DocStrEnum):
    """``type`` of Stream track events (activeStateChange, muteStateChange, trackStopped)."""

    AUDIO = "audio", "Adapter: the event concerns the audio track."
    VIDEO = "video", "Adapter: the event concerns the video track."


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_S)
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


@default_origin(_K)
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


@default_origin(_S)
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


@default_origin(_K)
class IceState(DocStrEnum):
    """``descriptor.iceState`` of an ICE ``error`` event."""

    DISCONNECTED = "disconnected", "Call / Conversation: the ICE connection is disconnected."
    FAILED = "failed", "Call / Conversation: the ICE connection failed."
    UNKNOWN = "unknown", "Call / Conversation: the ICE state could not be determined."


@default_origin(_K)
class IceErrorContext(DocStrEnum):
    """``descriptor.context`` of an ICE ``error`` event."""

    CALL = "call", "Call: the error concerns a 1-1 call."
    CONF = "conf", "Conversation: the error concerns a room stream."


@default_origin(_K)
class IceErrorMode(DocStrEnum):
    """``descriptor.mode`` of an ICE ``error`` event."""

    P2P = "p2p", "Call: a peer-to-peer 1-1 call."
    MESH = "mesh", "Conversation: a mesh room stream."
    SFU = "sfu", "SDK: a media-server room stream; rtcstate never produces it."


@default_origin(_K)
class IceErrorStreamType(DocStrEnum):
    """``descriptor.type`` of a Conversation ICE ``error`` event."""

    PUBLISH = "publish", "Conversation: the failing stream is one this side publishes."
    SUBSCRIBE = "subscribe", "Conversation: the failing stream is one this side subscribed to."
    UNKNOWN = "unknown", "Conversation: the direction of the failing stream is unknown."


CONVERSATION_WAITING_ROOM_PREFIX = "waiting-room-"
"""Presence-group name prefix of a conversation's waiting room (``waiting-room-<room>``)."""
