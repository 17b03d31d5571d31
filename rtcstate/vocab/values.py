"""The payload and option values rtcstate's machines produce or read.

Call and invitation types, data-channel kinds and error types, the media routing mode of the
settings and the desktop-capture event: enumerated string values of fields that the machines
put in their effects (every other apiRTC value set is in :mod:`rtcstate.vocab.reference`).
"""

from __future__ import annotations

from typing import Self, overload

from rtcstate.vocab.base import (
    _K,
    _NOT_YET,
    _S,
    DocStrEnum,
    default_origin,
)

__all__ = [
    "CallType",
    "DataChannelErrorType",
    "DataChannelOpenedType",
    "DataChannelType",
    "DesktopCaptureEvent",
    "InvitationType",
    "MediaRoutingMode",
]


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_S)
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


@default_origin(_K)
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


@default_origin(_K)
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
