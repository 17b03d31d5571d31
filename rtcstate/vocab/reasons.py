"""The wire vocabulary of ending: hangup / decline reasons and which side ended a call.

:class:`HangupReason` is the ``reason`` a side puts in its ``bye`` and the ``reason`` of the
``hangup`` / ``declined`` events; :class:`HangupFrom` is their ``from`` field.
"""

from __future__ import annotations

from rtcstate.vocab.base import (
    _K,
    _R,
    _S,
    _SO,
    DocStrEnum,
    Origin,
    default_origin,
)

__all__ = [
    "DECLINE_REASONS",
    "ROOM_RESTART_REASONS",
    "RTCSTATE_HANGUP_REASONS",
    "SDK_ONLY_HANGUP_REASONS",
    "SEED_HANGUP_REASONS",
    "HangupFrom",
    "HangupReason",
    "complementary",
    "default_hangup_reason",
]


@default_origin(_S)
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


@default_origin(_S)
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
