"""The statuses rtcstate's machines report (``getStatus()``, ``statusChange``).

Call, invitation, data-channel and server-connection statuses; the statuses of machines
rtcstate does not build yet (conversations, whiteboards) are in :mod:`rtcstate.vocab.reference`.
"""

from __future__ import annotations

from rtcstate.vocab.base import (
    _K,
    _S,
    DocStrEnum,
    default_origin,
)

__all__ = [
    "CallStatus",
    "CcsConnectionStatus",
    "DataChannelStatus",
    "InvitationStatus",
]


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_K)
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


@default_origin(_S)
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
