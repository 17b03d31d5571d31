"""Call: one 1-1 call, caller or callee side, with apiRTC's events, reasons and error codes.

Theory of operation
-------------------
*Caller.* ``Session.call(contact, now)`` builds a Call and starts it (PREPARING): it asks the
adapter for local media (``AcquireMedia``; a data call skips it), then for a peer connection
and an offer. When the offer is ready the ``invite`` goes out to the callee's *user* address
(the relay rings every device of that user) and the call is INVITING. The first ``answer``
binds the call to the answering device (CONNECTING); ICE ``connected`` makes it CONNECTED and
fires ``accepted`` and ``response("accepted")``. Until then the public status is
``CALL_STATUS_WAITING_FOR_CALLEE``.

*Callee.* An ``invite`` makes the session build a Call in RINGING plus its
:class:`~rtcstate.invitation.ReceivedCallInvitation` (``incomingCall``). Accepting makes the
call ONGOING at once (ANSWERING, as apiRTC does), acquires media, applies the offer and sends the
``answer`` (CONNECTING); ICE ``connected`` makes it CONNECTED. Declining, or an automatic refusal
(``User_Busy``, missing capabilities), ends it with a ``bye``.

*Reliability.* ``invite``, ``answer``, ``bye`` and ``update`` are retransmitted (timer
``call:<id>:rtx``, exponential from ``rtx_initial`` to ``rtx_max``) until the far side's ``ack``
(or ``update_ok``) arrives; duplicates are recognised by state and acknowledged again. When
``rtx_attempts`` sends go unanswered the call gives up: ``error CALL_ABORTED`` and hang-up
``Unable_to_establish``. Retransmission pauses while the session is disconnected from the
server and resumes (at once) on reconnection. The exchange is a sub-machine of its own
(:class:`~rtcstate.reliable.ReliableSender`, made on first use): the call hands it what to send,
the acknowledgements and its ``rtx`` timer, and maps the sender's ``RtxOutcome`` in its table
(``rtx_timer`` rows; ``END_CAUSES`` says how giving up ends a call).

Messages whose (relay-stamped) sender is not a device of the far side's user are dropped:
knowing a call id is not enough to answer, renegotiate or end someone else's call.

*Ending.* A remote ``bye`` ends the call at once (ENDED): the ``DISTANT_*`` error its reason
maps to, ``streamRemoved`` per remote stream, ``hangup {from: "remote", reason}`` (and, while
the caller was still waiting, ``declined {reason}`` and ``response("declined")``; a ringing
invitation becomes EXPIRED). A local end (``hangup()``, a refusal, a fatal media error, a
timer) tears the media down at once, makes the status ENDED and sends a ``bye`` (ENDING); the
``hangup {from: "local"}`` event is fired when the ``bye`` is acknowledged, so that when both
ends hang up at once (crossing ``bye``s) they still agree: the caller's reason wins, the caller
reports ``from: local`` and the callee ``from: remote`` -- unless one side already told its
application (it ended while its session was offline, its ``server_loss_window`` ran out, its
``bye`` went unanswered): that side's end wins, and its session still answers a late ``bye``
with its reason once the call is forgotten (``told_first``). (A ``bye`` that cannot be
delivered still ends the call after the retransmissions.)

*Media trouble.* ICE ``disconnected`` → ``error ICE_CONNECTION_STATE_DISCONNECTED``, a
``media_state`` to the far side (its ``error DISTANT_…``), ``disconnectionWarning {tries}`` at
``ice_warning_first`` then every ``ice_warning_interval``, an ICE restart by the caller after
``ice_restart_delay`` and hang-up ``Ice_disconnected`` at ``ice_disconnection_timeout``
(apiRTC: 2 s, 9 s, 40 s). That deadline governs: an ICE-restart ``update`` unanswered while
RECONNECTING (a dead peer) is given up without ending the call, a later ``failed`` does not
move it, and a ``bye`` the relay cannot deliver (the peer's device gone) does not hold the
``hangup`` back (``EndCause.away_ends_now``). A call whose ICE never connected
(``connect_timeout`` ran out, the ICE restart that follows did not help either) ends at that
same timeout with ``error CALL_ABORTED`` and ``Unable_to_establish`` instead. ICE ``failed`` →
``error ICE_CONNECTION_STATE_FAILED`` then an ICE restart while attempts remain (the caller
sends an ``update`` with a fresh offer; the adapter builds a new peer connection where the
stack cannot restart ICE), else hang-up ``Ice_failed``.
Renegotiation follows perfect negotiation: the callee is *polite* (on colliding offers it
yields and answers), the caller *impolite* (it ignores the callee's colliding offer). That
exchange, and the remote candidates kept until a remote description is applied, is the
sub-machine :class:`~rtcstate.negotiation.Negotiation` (made on first use): the call's rows for
``update``, ``update_ok``, candidates and local descriptions once media is up hand the input
over, and the call carries out the typed decisions it returns (send our offer reliably,
withdraw it, send our answer, adopt the far side's call type). A
description that fails during setup gives ``error SET_LOCAL_DESCRIPTION_FAILURE`` (or
``SET_REMOTE_…``) and ends the call; one that fails in a media update (any description once
the call was established, or once an update or ICE restart began) gives ``error
MEDIA_UPDATE_ERROR`` and ends the call with ``Media_Error`` (the peer connection is in an
unknown state; apiRTC hangs up with that reason when switching media fails).

*Server connection.* Losing the server does not end a call (media is peer to peer): the call
arms ``server_loss`` (``server_loss_window``); the session's reconnection cancels it, resends
what was unacknowledged and renegotiates an established call with an ICE restart, as apiRTC
does whichever side reconnected: the caller at once, the callee after ``ice_restart_delay``
(timer ``ice_restart``, CONNECTED) unless the caller's ``update`` came first (both lost the
server: one restart is enough; crossing ones are settled by the negotiation, the callee
yielding). A ``user_not_found`` for the far device while the media flows keeps the ``update``
going (attempts not counted). If the window runs
out the call ends with reason ``disconnected``: the application hears ``hangup {local,
disconnected}`` at once, and a call the far side knows keeps its ``bye`` (ENDING) for one more
window, sent if the session reconnects. A ``user_not_found`` for a device of the far side
briefly away from the relay does not end a call. One for the callee's user ends an inviting
call ``User_Not_Found`` at once; when it refuses a *resent* invite, an earlier copy may ring a
device now away (its ack lost), so the bye goes on to the user (ENDING) until a device takes it
or ``server_loss_window`` runs out.

*The caller gone from the relay.* A ringing callee call has nothing of its own to notice a
caller whose process died, or whose ``bye`` was lost before it stayed away longer than
``server_loss_window`` (``no_answer_timeout`` is None by default, as in apiRTC). The relay
tells: the session hands every ``Presence`` of the caller's user to that user's ringing callee
calls (:meth:`Call.peer_presence`, at once, whatever ``contact_disconnection_delay``). The
caller's device (``remote``) missing from the list arms ``peer_gone`` (``server_loss_window``,
the time the caller's own call would survive its server loss); listed again, it is cancelled;
after a reconnection of our own session it is armed until the relay's presence lists the
device again. When it fires while still RINGING the call ends as if the caller had hung up:
the invitation EXPIRED, ``hangup {from: "remote", reason: "disconnected"}`` (a data call's
owner hears it and expires), one best-effort ``bye``. Answering cancels it; a call past
RINGING ignores presence (media is peer to peer and survives a relay restart; ICE watches a
dead peer).

*Owned calls.* A data call may carry something else (a data channel, a file transfer): its
``owner`` (see :class:`CallOwner`) is then told the call's life as typed notices
(:mod:`rtcstate.notices`, with the real ``now``) through :meth:`CallOwner.call_notice`, and the
application hears none of the call's events: :class:`~rtcstate.notices.CallEstablished` where
it would hear ``accepted``, then exactly one of :class:`~rtcstate.notices.CallEnded` (``hangup
{from, reason}``) or :class:`~rtcstate.notices.CallDeclined` (``hangup`` then ``declined``:
the far side ended a caller's call that was still waiting). A
:class:`~rtcstate.datachannel.DataChannel` declares these as inputs of its table and turns them
into its own ``accepted``, ``ended {from}`` and ``declined``. Nothing else changes: an owned call is
signaled, retransmitted, ICE-monitored and ended exactly like any other, and the session holds
and detaches it as usual. The owner of a callee's data call is set once the call is paired with
the message saying what it carries; the call's own ReceivedCallInvitation is then dropped
(``invitation`` is None): the owner's invitation replaces it.

Timers owned (:class:`CallTimer`, seen by the adapter as ``call:<id>:<name>``): ``rtx``,
``no_answer`` (caller), ``lifetime`` (callee, from the invite's lifetime), ``connect``,
``ice_warning``, ``ice_timeout``, ``ice_restart`` (caller: ICE trouble; callee: after its own
reconnection), ``server_loss``, ``peer_gone`` (callee,
ringing). Every one is cancelled when the call ends (the session cancels what is left when it
detaches the call), so none outlives it.

*The table is the only decision point.* Every input is declared next to the table
(:data:`INPUTS`: each wire message type, media report and timer maps to a trigger, an ``ack``
by what it acknowledges, an ICE report by its state, a track's end by its side), and so is what
a (state, trigger) pair without a row means (:data:`VERDICTS`: ignored on purpose, a
:class:`CallDrop`, or illegal). ``receive``, ``media_event`` and ``timer_fired`` are one generic
dispatch each; inputs that keep the state (a candidate, a renegotiation, a track) are rows
from a state to itself. How a local end reads (reason, error code) is :data:`END_CAUSES`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from rtcstate import wire
from rtcstate.codes import (
    LOCAL_ERROR_TO_WIRE_REASON,
    WIRE_REASON_TO_DISTANT_ERROR,
    CallStatus,
    CallType,
    DesktopCaptureEvent,
    ErrorCode,
    ErrorNumber,
    HangupFrom,
    HangupReason,
    default_hangup_reason,
)
from rtcstate.drops import DropReason
from rtcstate.effects import (
    AcquireMedia,
    CancelTimer,
    ClosePeerConnection,
    CreateAnswer,
    CreateOffer,
    CreatePeerConnection,
    Drop,
    Effect,
    Emit,
    PublishStream,
    ReleaseMedia,
    RestartIce,
    Send,
    SetRemoteDescription,
    SetTrackEnabled,
    StartRecording,
    StartTimer,
    StopRecording,
    target,
)
from rtcstate.errors import RtcError
from rtcstate.host import Host
from rtcstate.invitation import ReceivedCallInvitation
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, Verdict, machine, spec_of, stay
from rtcstate.media import (
    DescriptionFailed,
    IceCandidateFound,
    IceStateChanged,
    LocalDescriptionReady,
    MediaAcquired,
    MediaEvent,
    MediaFailed,
    RecordingReport,
    StatsReport,
    TrackAdded,
    TrackEnded,
)
from rtcstate.negotiation import AdoptCallType, Negotiation, SendOnce, SendReliably, Withdraw
from rtcstate.notices import CallDeclined, CallEnded, CallEstablished, CallNotice
from rtcstate.recording import START_TIMEOUT as RECORDING_START_TIMEOUT
from rtcstate.recording import STOP_TIMEOUT as RECORDING_STOP_TIMEOUT
from rtcstate.recording import RecordingOutcome
from rtcstate.reliable import ReliableSender, RtxOutcome
from rtcstate.settings import CallSettings

__all__ = [
    "END_CAUSES",
    "INPUTS",
    "TRANSITIONS",
    "VERDICTS",
    "Call",
    "CallDrop",
    "CallHost",
    "CallOwner",
    "CallRecordingTimer",
    "CallState",
    "CallTimer",
    "EndCause",
    "EndPhase",
]


class CallHost(Host, Protocol):
    """What a call needs of its session beyond :class:`~rtcstate.host.Host`: the index of
    ringing callee calls by contact, which the far side's presence reaches."""

    def watch_peer(self, call: Call) -> None:
        """Index a ringing callee ``call`` under its contact."""

    def unwatch_peer(self, call: Call) -> None:
        """Drop ``call`` from that index (no-op if absent)."""


class CallOwner(Protocol):
    """What owns a data call (a data channel, its invitation, a file transfer): it is told the
    call's life as typed notices (:mod:`rtcstate.notices`) in place of the application's
    events, which are then not fired at all."""

    def call_notice(self, fx: list[Effect], notice: CallNotice, now: float) -> None:
        """The owned call was established, ended or declined (``notice``), at ``now``: append
        the owner's own effects to ``fx``. Called from inside the call's transitions: the owner
        may change its own state, but must not command the call."""


class CallDrop(DropReason):
    """Why a call ignored an input on purpose (``Drop.reason``)."""

    UNEXPECTED_INPUT = "unexpected-input"
    """An input the call's table declares illegal in its state (or does not declare)."""
    UNEXPECTED_MESSAGE = "unexpected-message"
    """A message a call never takes (an invite for our own outgoing call, an answer on the
    callee side, an ack of something that is not acknowledged)."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A media report or timer that makes no sense in the call's state (media acquired after
    the call moved on, a description of the wrong kind)."""
    STRANGER = "stranger"
    """A message whose relay-stamped sender is not a device of the far side's user."""
    OTHER_DEVICE = "other-device"
    """A bye from a device of the far side other than the one that answered (a forked call)."""
    DUPLICATE_ACK = "duplicate-ack"
    """An ack for a message no longer waiting for one."""
    LATE_ANSWER = "late-answer"
    """An answer the call can no longer use."""
    LATE_CANDIDATE = "late-candidate"
    """A candidate (received or found) once the call ended, or while ringing."""
    MEDIA_STATE = "media-state"
    """The far side's ICE report that needs no event (recovered, unknown, or the call ended)."""
    LATE_STREAM_STATE = "late-stream-state"
    """The far side's stream state once the call ended."""
    UPDATE_UNANSWERED = "update-unanswered"
    """A renegotiation (an ICE restart) unanswered after every retransmission while ICE is down:
    given up, the call goes on until ICE recovers or ``ice_disconnection_timeout`` ends it."""
    UNEXPECTED_UPDATE = "unexpected-update"
    """A renegotiation offer before media is up or once the call ended."""
    STALE_UPDATE_OK = "stale-update-ok"
    """An answer to a renegotiation that is not the one in flight."""
    USER_NOT_FOUND = "user-not-found"
    """The relay found no device of the far side, in a state where that ends nothing."""
    ICE_STATE = "ice-state"
    """An ICE state that changes nothing (``new``, ``checking``, ``closed``)."""
    LATE_TRACK = "late-track"
    """A remote track once the call ended."""
    LOCAL_TRACK_ENDED = "local-track-ended"
    """A local track ended (not a screen share of the caller's)."""
    UNKNOWN_TRACK = "unknown-track"
    """A remote track that ended but was never added."""
    LATE_STATS = "late-stats"
    """Statistics once the call ended."""
    STALE_TIMER = "stale-timer"
    """A timer the call no longer knows or no longer needs."""


class CallTimer(enum.Enum):
    """The timers a call owns; the adapter sees ``call:<call id>:<value>``."""

    RTX = "rtx"  # retransmission of invite / answer / bye / update
    NO_ANSWER = "no_answer"  # caller: no_answer_timeout
    LIFETIME = "lifetime"  # callee: the invite's lifetime
    CONNECT = "connect"  # ICE must connect after the descriptions are exchanged
    ICE_WARNING = "ice_warning"  # disconnectionWarning ticks
    ICE_TIMEOUT = "ice_timeout"  # ICE stayed disconnected too long
    ICE_RESTART = "ice_restart"  # caller: restart ICE after ice_restart_delay
    SERVER_LOSS = "server_loss"  # the server stayed away server_loss_window
    PEER_GONE = "peer_gone"  # callee, ringing: the caller's device left the relay


_TIMER_BY_NAME: dict[str, CallTimer] = {t.value: t for t in CallTimer}


class CallRecordingTimer(enum.Enum):
    """The recording's timers (``call:<call id>:recording_start|stop``): outside the table,
    they settle the application's recording promise (``RecordingOutcome``) and never change
    the call's state."""

    START = "recording_start"  # apiRTC's 10 s start bound
    STOP = "recording_stop"  # apiRTC's 5 s stop bound


_RECORDING_TIMERS = frozenset(t.value for t in CallRecordingTimer)


class CallState(enum.Enum):
    IDLE = "IDLE"  # built; start() / offered() not called yet
    PREPARING = "PREPARING"  # caller: acquiring media, creating the offer (nothing sent yet)
    INVITING = "INVITING"  # caller: invite sent, waiting for an answer
    RINGING = "RINGING"  # callee: invitation STANDBY
    ANSWERING = "ANSWERING"  # callee: accepted; acquiring media, creating the answer
    CONNECTING = "CONNECTING"  # descriptions exchanged, ICE not connected yet
    CONNECTED = "CONNECTED"
    RECONNECTING = "RECONNECTING"  # ICE disconnected or failed; restarting / waiting
    ENDING = "ENDING"  # ended locally; bye sent, waiting for its ack (status ENDED)
    ENDED = "ENDED"  # final


_LIVE = ["INVITING", "RINGING", "ANSWERING", "CONNECTING", "CONNECTED", "RECONNECTING"]
_MEDIA_UP = ["CONNECTING", "CONNECTED", "RECONNECTING"]
_AFTER_OFFER = ["INVITING", "ANSWERING", *_MEDIA_UP]
_NOT_FINAL = ["IDLE", "PREPARING", *_LIVE, "ENDING"]

TRANSITIONS: list[dict[str, Any]] = [
    # application commands
    {"trigger": "start", "source": "IDLE", "dest": "PREPARING", "after": "_start"},
    {"trigger": "offered", "source": "IDLE", "dest": "RINGING", "after": "_offered"},
    {"trigger": "accept", "source": "RINGING", "dest": "ANSWERING", "after": "_accept"},
    {"trigger": "decline", "source": "RINGING", "dest": "ENDING", "after": "_end_local"},
    {"trigger": "hangup", "source": "PREPARING", "dest": "ENDED", "after": "_end_silently"},
    {"trigger": "hangup", "source": _LIVE, "dest": "ENDING", "after": "_end_local"},
    # local media
    {"trigger": "media_ready", "source": "PREPARING", "dest": "PREPARING",
     "after": "_media_ready"},
    {"trigger": "media_ready", "source": "ANSWERING", "dest": "ANSWERING",
     "after": "_media_ready"},
    {"trigger": "media_failed", "source": "PREPARING", "dest": "PREPARING",
     "conditions": "_can_retry_audio", "after": "_retry_audio"},
    {"trigger": "media_failed", "source": "PREPARING", "dest": "ENDED",
     "after": "_end_silently"},
    {"trigger": "media_failed", "source": "ANSWERING", "dest": "ANSWERING",
     "conditions": "_can_retry_audio", "after": "_retry_audio"},
    {"trigger": "media_failed", "source": "ANSWERING", "dest": "ENDING", "after": "_end_local"},
    {"trigger": "local_track_ended", "source": "PREPARING", "dest": "ENDED",
     "conditions": "_sharing_screen", "after": "_end_silently"},
    {"trigger": "local_track_ended", "source": _AFTER_OFFER, "dest": "ENDING",
     "conditions": "_sharing_screen", "after": "_end_local"},
    # descriptions
    {"trigger": "local_offer", "source": "PREPARING", "dest": "INVITING",
     "after": "_send_invite"},
    {"trigger": "local_answer", "source": "ANSWERING", "dest": "CONNECTING",
     "after": "_send_answer"},
    {"trigger": "description_failed", "source": "PREPARING", "dest": "ENDED",
     "after": "_end_silently"},
    {"trigger": "description_failed", "source": _AFTER_OFFER, "dest": "ENDING",
     "after": "_end_local"},
    # signaling
    {"trigger": "answered", "source": "INVITING", "dest": "CONNECTING", "after": "_on_answer"},
    *stay("remote_bye", ["PREPARING", *_LIVE, "ENDING"], conditions="_from_other_device",
          after="_ack_other_device"),
    {"trigger": "remote_bye", "source": ["PREPARING", *_LIVE], "dest": "ENDED",
     "before": "_end_remote"},
    {"trigger": "remote_bye", "source": "ENDING", "dest": "ENDING",
     "conditions": "_wins_crossing", "after": "_crossed_and_won"},
    {"trigger": "remote_bye", "source": "ENDING", "dest": "ENDED", "before": "_end_remote"},
    {"trigger": "bye_acked", "source": "ENDING", "dest": "ENDED", "conditions": "_bye_in_flight",
     "before": "_take_ack", "after": "_announce"},
    *stay("bye_acked", "ENDING", after="_take_ack"),
    *stay("invite_acked", _NOT_FINAL, after="_take_ack"),
    *stay("answer_acked", _NOT_FINAL, after="_take_ack"),
    *stay("not_found", "ENDING", conditions="_device_away", after="_keep_bye_going"),
    # the far device reconnecting to the server: a renegotiation (an ICE restart after our own
    # reconnection) waits for it while the media flows (RECONNECTING: the ICE timeout governs)
    *stay("not_found", ["CONNECTING", "CONNECTED"], conditions="_device_away",
          after="_keep_update_going"),
    # a resent invite unreached: an earlier copy may ring a device now away; keep the bye going
    {"trigger": "not_found", "source": "INVITING", "dest": "ENDING",
     "conditions": "_invite_resent", "before": ["_mark_unreached", "_end_unreached"],
     "after": "_bye_to_copies"},
    {"trigger": "not_found", "source": "INVITING", "dest": "ENDED",
     "before": ["_mark_unreached", "_end_unreached"]},
    {"trigger": "not_found", "source": "ENDING", "dest": "ENDED", "before": "_mark_unreached",
     "after": "_announce"},
    # messages that keep the state (what they do depends on their content)
    *stay("invite_again", _NOT_FINAL, after="_reack_invite"),
    *stay("answered", _MEDIA_UP, after="_reack_answer"),
    *stay("remote_candidate", ["IDLE", "PREPARING", *_LIVE], after="_take_candidate"),
    *stay("far_media_state", ["IDLE", "PREPARING", *_LIVE], after="_far_media_state"),
    *stay("far_stream_state", ["IDLE", "PREPARING", *_LIVE], after="_far_stream_state"),
    *stay("far_update", _MEDIA_UP, after="_take_update"),
    *stay("far_update_ok", _MEDIA_UP, after="_take_update_ok"),
    # media reports that keep the state
    *stay("media_ready", ["IDLE", "INVITING", "RINGING", *_MEDIA_UP, "ENDING"],
          after="_release_late_media"),
    *stay("local_offer", _MEDIA_UP, after="_send_update"),
    *stay("local_answer", _MEDIA_UP, after="_send_update_ok"),
    *stay("local_candidate", ["IDLE", "PREPARING", "INVITING", "ANSWERING", *_MEDIA_UP],
          after="_send_candidate"),
    *stay("track_added", ["IDLE", "PREPARING", *_LIVE], after="_track_added"),
    *stay("remote_track_ended", _NOT_FINAL, after="_remote_track_ended"),
    *stay("local_track_ended", _NOT_FINAL, after="_local_track_ended"),
    *stay("stats", ["IDLE", "PREPARING", *_LIVE], after="_stats"),
    *stay("recording", _NOT_FINAL, after="_recording_report"),
    # ICE
    {"trigger": "ice_connected", "source": "CONNECTING", "dest": "CONNECTED",
     "after": "_established"},
    {"trigger": "ice_connected", "source": "RECONNECTING", "dest": "CONNECTED",
     "after": "_recovered"},
    {"trigger": "ice_disconnected", "source": ["CONNECTING", "CONNECTED"],
     "dest": "RECONNECTING", "after": "_ice_disconnected"},
    {"trigger": "ice_failed", "source": _MEDIA_UP, "dest": "RECONNECTING",
     "conditions": "_can_restart", "before": "_ice_failed_restart"},
    {"trigger": "ice_failed", "source": _MEDIA_UP, "dest": "ENDING", "after": "_end_local"},
    # timers
    {"trigger": "no_answer_timer", "source": "INVITING", "dest": "ENDING",
     "after": "_end_local"},
    {"trigger": "lifetime_timer", "source": "RINGING", "dest": "ENDING", "after": "_end_local"},
    {"trigger": "connect_timer", "source": "CONNECTING", "dest": "RECONNECTING",
     "conditions": "_can_restart", "before": "_ice_failed_restart"},
    {"trigger": "connect_timer", "source": "CONNECTING", "dest": "ENDING",
     "after": "_end_local"},
    {"trigger": "ice_warning_timer", "source": "RECONNECTING", "dest": "RECONNECTING",
     "after": "_warn"},
    {"trigger": "ice_restart_timer", "source": "RECONNECTING", "dest": "RECONNECTING",
     "conditions": "_can_restart", "after": "_restart_ice"},
    # the callee's own server loss: no update from the caller since it came back
    *stay("ice_restart_timer", "CONNECTED", conditions="_callee", after="_restart_after_loss"),
    {"trigger": "ice_timeout_timer", "source": "RECONNECTING", "dest": "ENDING",
     "after": "_end_local"},
    # an ICE-restart update unanswered while ICE is down (a dead peer): the ICE timeout governs
    *stay("rtx_timer", "RECONNECTING", conditions="_update_given_up", before="_give_up_rtx",
          after="_update_unanswered"),
    {"trigger": "rtx_timer", "source": ["INVITING", *_MEDIA_UP, "ANSWERING"], "dest": "ENDED",
     "conditions": "_rtx_spent", "before": "_give_up_rtx", "after": "_aborted"},
    {"trigger": "rtx_timer", "source": "ENDING", "dest": "ENDED",
     "conditions": "_rtx_spent", "before": "_give_up_rtx", "after": "_announce"},
    *stay("rtx_timer", _NOT_FINAL, after="_retransmit"),
    {"trigger": "server_loss_timer", "source": "PREPARING", "dest": "ENDED",
     "after": "_server_gone"},
    {"trigger": "server_loss_timer", "source": _LIVE, "dest": "ENDING", "after": "_server_gone"},
    {"trigger": "server_loss_timer", "source": "ENDING", "dest": "ENDED", "after": "_announce"},
    # presence: the caller's device left the relay and did not come back (callee, ringing)
    {"trigger": "peer_gone_timer", "source": "RINGING", "dest": "ENDED", "after": "_peer_gone"},
    # the session is closing (unregister)
    {"trigger": "close", "source": ["IDLE", "PREPARING", *_LIVE, "ENDING"], "dest": "ENDED",
     "before": "_closed"},
]  # fmt: skip

_TIMER_TRIGGERS: dict[enum.Enum, str] = {
    CallTimer.NO_ANSWER: "no_answer_timer",
    CallTimer.LIFETIME: "lifetime_timer",
    CallTimer.CONNECT: "connect_timer",
    CallTimer.ICE_WARNING: "ice_warning_timer",
    CallTimer.ICE_RESTART: "ice_restart_timer",
    CallTimer.ICE_TIMEOUT: "ice_timeout_timer",
    CallTimer.SERVER_LOSS: "server_loss_timer",
    CallTimer.PEER_GONE: "peer_gone_timer",
}
"""Timer -> trigger (``rtx`` is the reliable exchange's own: see ``_retransmit``)."""


@attrs.frozen(slots=True)
class EndCause:
    """How a local end caused by one trigger reads: the bye/hangup reason and the local error.

    ``reason`` None: the wire reason of ``code`` (``LOCAL_ERROR_TO_WIRE_REASON``), or, with no
    code either, the side's default (``default_hangup_reason``). ``given``: a reason the
    command was given wins.
    """

    reason: HangupReason | None = None
    code: ErrorCode | None = None
    given: bool = False
    #: the relay finds the far device away when the bye goes out: the application hears the end
    #: at once (the media is down too: the far side most likely died) rather than when the bye
    #: is acknowledged or ``server_loss_window`` runs out; the bye is still kept going
    away_ends_now: bool = False


class EndPhase(enum.Enum):
    """What a trigger's end cause may depend on (see ``_end_phase``)."""

    ANY = "any"
    SETUP = "setup"  # the call was never established and no media update began
    UPDATE = "update"  # established, or a renegotiation / ICE restart began
    SETUP_LOCAL = "setup-local"  # a description failed during setup, the local one
    SETUP_REMOTE = "setup-remote"  # ... the remote one
    SILENT = "silent"  # ended before anything reached the far side (PREPARING)


END_CAUSES: Mapping[tuple[str, EndPhase], EndCause] = {
    ("hangup", EndPhase.ANY): EndCause(given=True),
    ("decline", EndPhase.ANY): EndCause(HangupReason.USER_REFUSED_CALL, given=True),
    ("media_failed", EndPhase.ANY): EndCause(code=ErrorCode.USER_MEDIA_ERROR),
    ("ice_failed", EndPhase.ANY): EndCause(code=ErrorCode.ICE_CONNECTION_STATE_FAILED),
    ("connect_timer", EndPhase.ANY): EndCause(code=ErrorCode.CALL_ABORTED),
    # ICE never connected: establishment gave up
    ("ice_timeout_timer", EndPhase.SETUP): EndCause(
        code=ErrorCode.CALL_ABORTED, away_ends_now=True
    ),
    ("ice_timeout_timer", EndPhase.UPDATE): EndCause(
        code=ErrorCode.ICE_CONNECTION_STATE_DISCONNECTED, away_ends_now=True
    ),
    ("description_failed", EndPhase.SETUP_LOCAL): EndCause(
        code=ErrorCode.SET_LOCAL_DESCRIPTION_FAILURE
    ),
    ("description_failed", EndPhase.SETUP_REMOTE): EndCause(
        code=ErrorCode.SET_REMOTE_DESCRIPTION_FAILURE
    ),
    ("description_failed", EndPhase.UPDATE): EndCause(code=ErrorCode.MEDIA_UPDATE_ERROR),
    ("local_track_ended", EndPhase.ANY): EndCause(HangupReason.STOP_SCREEN_SHARING),
    ("no_answer_timer", EndPhase.ANY): EndCause(HangupReason.NO_ANSWER),
    ("lifetime_timer", EndPhase.ANY): EndCause(HangupReason.NO_ANSWER),
    ("hangup", EndPhase.SILENT): EndCause(HangupReason.CALL_CANCELLED),
    # the reliable exchange gave up (RtxOutcome.GAVE_UP) in a state whose row ends the call
    ("rtx_timer", EndPhase.ANY): EndCause(code=ErrorCode.CALL_ABORTED),
}
"""How a call ends locally, per trigger (and the phase it fired in): reason and error code.

Read by ``_local_reason``; a test checks every trigger whose rows end the call is listed."""

_PHASED_TRIGGERS = frozenset(t for (t, p) in END_CAUSES if p not in (EndPhase.ANY, EndPhase.SILENT))
INPUTS = Inputs(
    unexpected=CallDrop.UNEXPECTED_INPUT,
    wire={
        wire.Invite: "invite_again",
        wire.Answer: "answered",
        wire.Bye: "remote_bye",
        wire.Ack: Classify(
            "what",
            {"invite": "invite_acked", "answer": "answer_acked", "bye": "bye_acked"},
            otherwise=Ignore(CallDrop.UNEXPECTED_MESSAGE),
        ),
        wire.Candidate: "remote_candidate",
        wire.MediaState: "far_media_state",
        wire.StreamState: "far_stream_state",
        wire.Update: "far_update",
        wire.UpdateOk: "far_update_ok",
        wire.UserNotFound: "not_found",
    },
    media={
        MediaAcquired: "media_ready",
        MediaFailed: "media_failed",
        LocalDescriptionReady: Classify(
            "sdp_type",
            {"offer": "local_offer", "answer": "local_answer"},
            otherwise=Ignore(CallDrop.UNEXPECTED_REPORT),
        ),
        DescriptionFailed: "description_failed",
        IceCandidateFound: "local_candidate",
        IceStateChanged: Classify(
            "state",
            {
                "connected": "ice_connected",
                "completed": "ice_connected",
                "disconnected": "ice_disconnected",
                "failed": "ice_failed",
            },
            otherwise=Ignore(CallDrop.ICE_STATE),
        ),
        TrackAdded: "track_added",
        TrackEnded: Classify("remote", {True: "remote_track_ended", False: "local_track_ended"}),
        StatsReport: "stats",
        RecordingReport: "recording",
    },
    timers={CallTimer.RTX: "rtx_timer", **_TIMER_TRIGGERS},
)
"""Every input of a call: wire message, media report and timer -> its trigger."""

_STALE = Ignore(CallDrop.STALE_TIMER)
VERDICTS: dict[str | tuple[str, str], Verdict] = {
    # application commands (and the session's): raise with their apiRTC number
    **{t: ILLEGAL for t in ("start", "offered", "accept", "decline", "hangup", "close")},
    # media reports and timers that come too late or too early for the state
    "media_failed": Ignore(CallDrop.UNEXPECTED_REPORT),
    "description_failed": Ignore(CallDrop.UNEXPECTED_REPORT),
    "local_offer": Ignore(CallDrop.UNEXPECTED_REPORT),
    "local_answer": Ignore(CallDrop.UNEXPECTED_REPORT),
    "local_candidate": Ignore(CallDrop.LATE_CANDIDATE),
    "ice_connected": Ignore(CallDrop.ICE_STATE),
    "ice_disconnected": Ignore(CallDrop.ICE_STATE),
    "ice_failed": Ignore(CallDrop.ICE_STATE),
    "track_added": Ignore(CallDrop.LATE_TRACK),
    "stats": Ignore(CallDrop.LATE_STATS),
    "rtx_timer": _STALE,
    **{t: _STALE for t in _TIMER_TRIGGERS.values()},
    # messages
    "invite_again": ILLEGAL,
    "answered": Ignore(CallDrop.LATE_ANSWER),
    "remote_bye": ILLEGAL,  # IDLE: nothing was sent, nobody can end it
    "bye_acked": Ignore(CallDrop.DUPLICATE_ACK),
    "invite_acked": ILLEGAL,
    "answer_acked": ILLEGAL,
    "not_found": Ignore(CallDrop.USER_NOT_FOUND),
    "remote_candidate": Ignore(CallDrop.LATE_CANDIDATE),
    "far_media_state": Ignore(CallDrop.MEDIA_STATE),
    "far_stream_state": Ignore(CallDrop.LATE_STREAM_STATE),
    "far_update": Ignore(CallDrop.UNEXPECTED_UPDATE),
    "far_update_ok": Ignore(CallDrop.STALE_UPDATE_OK),
    "media_ready": ILLEGAL,
    "remote_track_ended": ILLEGAL,
    "local_track_ended": ILLEGAL,
    "recording": ILLEGAL,
}
"""What the (state, trigger) pairs without a row mean: ignored on purpose or illegal."""

_RELIABLE_ACKS = {"invite": wire.Invite, "answer": wire.Answer, "bye": wire.Bye}
_DISTANT_ICE = {
    "disconnected": ErrorCode.DISTANT_ICE_CONNECTION_STATE_DISCONNECTED,
    "failed": ErrorCode.DISTANT_ICE_CONNECTION_STATE_FAILED,
}
_VIDEO_TYPES = frozenset({CallType.MEDIA, CallType.VIDEO_ONLY})
_SCREEN_TYPES = frozenset({CallType.SCREEN_SHARING, CallType.SCREEN_SHARING_WITH_AUDIO})


def _error(code: ErrorCode, descriptor: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"errorCode": code.value, "errorInfo": code.info, "descriptor": dict(descriptor or {})}


@machine(
    CallState,
    TRANSITIONS,
    initial=CallState.IDLE,
    final=[CallState.ENDED],
    errors={
        "accept": ErrorNumber.ERROR_INVITATION_STATE_INVALID,
        "decline": ErrorNumber.ERROR_INVITATION_STATE_INVALID,
    },
    inputs=INPUTS,
    verdicts=VERDICTS,
    trigger_keyword="cause",
)
@attrs.define(slots=True, eq=False)
class Call:
    """One 1-1 call (apiRTC's Call); commands go through the owning session's bookkeeping."""

    session: CallHost = attrs.field(repr=False)
    call_id: str
    contact: str  # the peer's user id
    remote: str  # address messages go to: the user (caller, before the answer) or a device
    call_type: CallType = CallType.MEDIA
    outgoing: bool = True
    state: CallState = CallState.IDLE
    invitation: ReceivedCallInvitation | None = None
    stream_id: str | None = None  # local stream
    owns_stream: bool = False  # acquired by the call (released at the end)
    audio_only: bool = False  # audio-only after a media error, or asked for
    remote_stream_id: str | None = None
    nickname: str | None = None
    data: dict[str, Any] | None = None
    established: bool = False
    #: hears the call's events instead of the application (a data call's data channel)
    owner: CallOwner | None = attrs.field(default=None, repr=False)
    # the far side's offer, kept from invite to accept (callee)
    _offer: str | None = None
    _pc: bool = False  # a peer connection exists
    # offer/answer, candidates kept before the remote description (made on first use)
    _neg: Negotiation | None = None
    _streams: dict[str, set[str]] | None = None  # remote stream id -> track kinds
    _tracks: dict[str, str] | None = None  # remote track id -> stream id
    _rtx: ReliableSender | None = None  # sent, not yet acknowledged (made on first use)
    _offline: bool = False  # the session lost the server
    _end: tuple[HangupFrom, str] | None = None  # hangup to fire when the bye is acked
    _announced: bool = False
    _hidden: bool = False  # refused before the application was given it: emits nothing
    _warnings: int = 0
    _restarts: int = 0
    _muted: tuple[bool, bool] = (False, False)  # audio, video
    _distant: ErrorCode | None = None  # the far side's ICE trouble we reported (DISTANT_*)
    _recording: bool = False
    #: the recording command whose promise is pending (``start`` / ``stop``), its last info
    _rec_pending: str | None = None
    _rec_info: dict[str, Any] | None = None
    _away_ends_now: bool = False  # the end's EndCause.away_ends_now
    _told_alone: bool = False  # announced a local end before the far side acknowledged it
    #: ended because the relay found no device of the far side (its invite or bye undelivered)
    unreached: bool = False
    # the session's index of ringing callee calls by contact (an intrusive list: 16 bytes)
    peer_prev: Call | None = attrs.field(default=None, repr=False)
    peer_next: Call | None = attrs.field(default=None, repr=False)

    # --- public ------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.call_id

    @property
    def settings(self) -> CallSettings:
        return self.session.settings

    @property
    def status(self) -> CallStatus:
        """``getStatus()``: WAITING_FOR_CALLEE, ONGOING or ENDED over the finer states."""
        state = self.state
        if state is CallState.ENDED or state is CallState.ENDING:
            return CallStatus.CALL_STATUS_ENDED
        if state in (CallState.CONNECTED, CallState.RECONNECTING, CallState.ANSWERING) or (
            state is CallState.CONNECTING and not self.outgoing
        ):
            return CallStatus.CALL_STATUS_ONGOING
        return CallStatus.CALL_STATUS_WAITING_FOR_CALLEE

    @property
    def ended(self) -> bool:
        """True once final (the session then forgets the call and cancels its timers)."""
        return self.state is CallState.ENDED

    @property
    def told_first(self) -> bool:
        """Its application heard a local end before the far side acknowledged the bye (ended
        while offline, ``server_loss_window`` ran out, the far device away or unreachable): a
        crossing bye then learns this side's reason (docs/calls.md: "Ending across a server
        loss")."""
        return self._announced and self._told_alone

    @property
    def hangup_cause(self) -> tuple[HangupFrom, str] | None:
        """``(from, reason)`` of the hangup, once the call knows how it ends (else None)."""
        return self._end

    @property
    def is_screen_sharing(self) -> bool:
        return self.call_type in _SCREEN_TYPES

    @property
    def target(self) -> str:
        return target("call", self.call_id)

    def hangup(self, now: float, reason: str | HangupReason | None = None) -> list[Effect]:
        """``hangUp()``: end the call (raises ERROR_WRONG_STATE once ended)."""
        chosen = str(reason) if reason is not None else None
        return self._command("hangup", now, reason=chosen)

    def mute(self, now: float, kind: str = "audio") -> list[Effect]:
        """Mute the local ``audio`` or ``video``; the far side gets ``remoteStreamUpdated``."""
        return self._set_muted(now, kind, True)

    def unmute(self, now: float, kind: str = "audio") -> list[Effect]:
        """Unmute the local ``audio`` or ``video``."""
        return self._set_muted(now, kind, False)

    def replace_published_stream(self, now: float, stream_id: str) -> list[Effect]:
        """``replacePublishedStreams``: send ``stream_id`` instead (ONGOING only, and not while
        the callee is still acquiring its media: nothing is published yet, and the acquired
        stream would silently win); the far side gets ``remoteStreamIdUpdated``."""
        self._require_ongoing("replace_published_stream")
        if self.state is CallState.ANSWERING:
            raise RtcError(
                ErrorNumber.ERROR_WRONG_STATE, "Call.replace_published_stream before media is up"
            )
        if not stream_id:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "stream_id must be non-empty")
        fx: list[Effect] = []
        if self.owns_stream and self.stream_id is not None and self.stream_id != stream_id:
            fx.append(ReleaseMedia(self.stream_id))
        self.stream_id = stream_id
        self.owns_stream = False
        fx.append(PublishStream(self.call_id, stream_id))
        fx.append(self._stream_state())
        return self.session.child_output(self, fx)

    def start_recording(self, now: float) -> list[Effect]:
        """``startRecording()`` (ONGOING only); ``recordingStarted`` follows the report."""
        self._require_ongoing("start_recording")
        if self._recording:
            raise RtcError(ErrorNumber.ERROR_STREAM_RECORD, "recording is already on")
        self._recording = True
        self._rec_info = {"callId": self.call_id}
        fx: list[Effect] = [StartRecording(self.call_id)]
        self._rec_await(fx, "start", now + RECORDING_START_TIMEOUT)
        return self.session.child_output(self, fx)

    def stop_recording(self, now: float) -> list[Effect]:
        """``stopRecording()``; ``recordingStopped`` then ``recordingAvailable`` follow."""
        if not self._recording:
            raise RtcError(ErrorNumber.ERROR_STREAM_RECORD, "recording is not on")
        self._recording = False
        fx: list[Effect] = []
        self._rec_settle(fx, int(ErrorNumber.ERROR_STREAM_RECORD))  # a start still pending
        fx.append(StopRecording(self.call_id))
        self._rec_await(fx, "stop", now + RECORDING_STOP_TIMEOUT)
        return self.session.child_output(self, fx)

    def check_command(self, trigger: str) -> None:
        """Raise the apiRTC error ``trigger`` would give now (used by the invitation)."""
        spec = spec_of(self)
        if not spec.allowed(self.state, trigger):
            raise spec.invalid(self, trigger)

    # --- used by the session and the invitation ----------------------------------------------

    def start(self, now: float) -> list[Effect]:
        """Caller: begin (acquire media, create the offer); effects not yet tracked."""
        fx: list[Effect] = []
        self._fire(fx, "start", now)
        return fx

    def offered(self, invite: wire.Invite, now: float) -> list[Effect]:
        """Callee: the invite arrived (RINGING); effects not yet tracked."""
        fx: list[Effect] = []
        self._fire(fx, "offered", now, msg=invite)
        return fx

    @property
    def surfaced(self) -> bool:
        """False for a call refused automatically before the application was given it."""
        return not self._hidden

    def refuse(self, now: float, reason: HangupReason) -> list[Effect]:
        """Callee: refuse automatically (busy, glare loser, missing capabilities) right after
        ``offered``. The application was never given the call nor its invitation: neither emits
        anything from now on (the invitation ends DECLINED); the far side hears ``reason``."""
        fx: list[Effect] = []
        self._hidden = True
        if self.invitation is not None:
            self.invitation.refused_unseen(now)
        self._fire(fx, "decline", now, reason=reason.value)
        return fx

    def close(self, now: float) -> list[Effect]:
        """The session is closing (unregister): hang up now, without waiting for an ack."""
        fx: list[Effect] = []
        if spec_of(self).allowed(self.state, "close"):
            self._fire(fx, "close", now)
        return fx

    def accepted_by_invitation(
        self, fx: list[Effect], now: float, *, audio_only: bool = False
    ) -> list[Effect]:
        self._fire(fx, "accept", now, audio_only=audio_only)
        return self.session.child_output(self, fx)

    def declined_by_invitation(self, fx: list[Effect], now: float, reason: str) -> list[Effect]:
        self._fire(fx, "decline", now, reason=reason)
        return self.session.child_output(self, fx)

    # --- Child protocol ----------------------------------------------------------------------

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        """A message for this call (``INPUTS.wire`` says which trigger); never raises."""
        msg = env.message
        sender = env.sender
        # (``remote`` is always a device of ``contact``, or the contact itself: the common case
        # costs one comparison)
        if (
            sender is not None
            and sender != self.remote
            and sender.partition("/")[0] != self.contact
        ):
            # the relay stamps senders: only the far side's user may act on this call (ids
            # are guessable; a third party must not answer, renegotiate or end it)
            return [Drop(CallDrop.STRANGER, f"{msg.TYPE} from {sender} for {self.call_id}")]
        state = self.state
        if state is not CallState.RINGING:  # the hot path: the pair's compiled step
            fx: list[Effect] = []
            step = _STEPS[id(state)].get(type(msg))
            if step is None:
                _SPEC.undeclared(fx, type(msg), state)
            else:
                step(self, msg, fx, now, msg, sender)
            return fx
        return self._deliver(type(msg), msg, now, sender)

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        """A media-stack report for this call (``INPUTS.media``); never raises."""
        return self._deliver(type(event), event, now, None)

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        """One of this call's timers expired (``INPUTS.timers``, or a recording's); never
        raises."""
        if name in _RECORDING_TIMERS:
            return self._rec_timeout(name)
        timer = _TIMER_BY_NAME.get(name)
        if timer is None:
            return [Drop(CallDrop.STALE_TIMER, f"call:{self.call_id}:{name}")]
        return self._deliver(timer, timer, now, None)

    def _deliver(self, key: object, value: object, now: float, sender: str | None) -> list[Effect]:
        fx: list[Effect] = []
        ringing = self.state is CallState.RINGING
        _SPEC.deliver(self, key, value, fx, now, msg=value, sender=sender)
        if ringing and self.state is not CallState.RINGING:
            self._left_ringing(fx)
        return fx

    def on_disconnected(self, now: float) -> list[Effect]:
        if self.state is CallState.ENDED or self.state is CallState.IDLE:
            return []
        self._offline = True
        fx: list[Effect] = []
        if not self.outgoing:
            self._cancel(fx, CallTimer.ICE_RESTART)  # armed again on the reconnection
        if self._rtx is not None:
            self._rtx.pause(fx, now, self)
        fx.append(
            StartTimer(self._tid(CallTimer.SERVER_LOSS), now + self.settings.server_loss_window)
        )
        return fx

    def on_reconnected(self, now: float) -> list[Effect]:
        if not self._offline or self.state is CallState.ENDED:
            return []
        self._offline = False
        fx: list[Effect] = [CancelTimer(self._tid(CallTimer.SERVER_LOSS))]
        if self._rtx is not None:
            self._rtx.resume(fx, now, self)
        if self.outgoing and self.state in (CallState.CONNECTED, CallState.RECONNECTING):
            # renegotiate with an ICE restart, as apiRTC does after a server reconnection
            fx.append(RestartIce(self.call_id))
            fx.append(CreateOffer(self.call_id, ice_restart=True))
        elif self.state is CallState.CONNECTED and self.settings.ice_restart_attempts > 0:
            # the callee renegotiates too (apiRTC: whichever side lost the server), unless the
            # caller does first: it lost the server too (a relay restart) and restarts at once
            # on its reconnection. Waiting ice_restart_delay for its update keeps the two
            # restarts from crossing (over aiortc each is a new peer connection)
            deadline = now + self.settings.ice_restart_delay
            fx.append(StartTimer(self._tid(CallTimer.ICE_RESTART), deadline))
        if self.state is CallState.RINGING and not self.outgoing:
            # while we were away the caller may have left the relay for good: unknown until the
            # presence the relay sends after Registered lists its device again (cancelling this)
            self._arm_peer_gone(fx, now)
            # ... or given the call up: a copy of its invite got user_not_found while we were
            # away. Acknowledged again, the invite is a harmless duplicate for a caller that
            # still holds the call, and answered with a bye by one that gave it up that way
            fx.append(Send(self.remote, wire.Ack(self.call_id, "invite")))
        return fx

    def peer_presence(self, devices: tuple[str, ...], now: float) -> list[Effect]:
        """The relay's device list of the far side's user changed (``()``: offline).

        Only a ringing callee call listens (the session indexes those by contact): its caller's
        device missing arms ``peer_gone`` (``server_loss_window``), listed again cancels it.
        An established call ignores presence (media is peer to peer, ICE watches the peer).
        """
        fx: list[Effect] = []
        if self.state is not CallState.RINGING or self.outgoing:
            return fx
        if self.remote in devices or self.remote.partition("/")[2] in devices:
            self._cancel(fx, CallTimer.PEER_GONE)
        else:
            self._arm_peer_gone(fx, now)
        return fx

    def _arm_peer_gone(self, fx: list[Effect], now: float) -> None:
        if not self._has_timer(fx, CallTimer.PEER_GONE):
            deadline = now + self.settings.server_loss_window
            fx.append(StartTimer(self._tid(CallTimer.PEER_GONE), deadline))

    # --- internals: dispatch -------------------------------------------------------------------

    def _fire(self, fx: list[Effect], trigger: str, now: float, **kw: Any) -> bool:
        """Fire ``trigger``; callbacks learn which one through the ``cause`` keyword."""
        ringing = self.state is CallState.RINGING
        fired = _SPEC.fire(self, trigger, fx, now, **kw)
        if ringing and self.state is not CallState.RINGING:
            self._left_ringing(fx)
        return fired

    def _left_ringing(self, fx: list[Effect]) -> None:
        """Answered or ended: presence no longer concerns it."""
        self.session.unwatch_peer(self)
        self._cancel(fx, CallTimer.PEER_GONE)

    def _command(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        fx: list[Effect] = []
        self._fire(fx, trigger, now, **kw)  # raises before any mutation
        return self.session.child_output(self, fx)

    def _report(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        if not spec_of(self).allowed(self.state, trigger):
            return [Drop(CallDrop.UNEXPECTED_REPORT, f"{trigger} in state {self.state.name}")]
        fx: list[Effect] = []
        self._fire(fx, trigger, now, **kw)
        return fx

    # --- recording: apiRTC's 10 s start / 5 s stop bounds --------------------------------------

    def _rec_await(self, fx: list[Effect], command: str, deadline: float) -> None:
        self._rec_pending = command
        fx.append(StartTimer(f"call:{self.call_id}:recording_{command}", deadline))

    def _rec_settle(self, fx: list[Effect], code: int | None = None) -> None:
        """Settle the pending recording command (if any): resolved with the last info, or
        rejected with ``code``; its timer is cancelled."""
        command, self._rec_pending = self._rec_pending, None
        if command is None:
            return
        fx.append(CancelTimer(f"call:{self.call_id}:recording_{command}"))
        info = dict(self._rec_info or {"callId": self.call_id})
        fx.append(RecordingOutcome(self.target, command, info, code))

    def _rec_timeout(self, name: str) -> list[Effect]:
        command = name.removeprefix("recording_")
        if self._rec_pending != command:
            return [Drop(CallDrop.STALE_TIMER, f"call:{self.call_id}:{name}")]
        self._rec_pending = None
        info = dict(self._rec_info or {"callId": self.call_id})
        if command == "stop":  # apiRTC resolves a stop with the last info it has
            return [RecordingOutcome(self.target, "stop", info)]
        self._recording = False  # a start not confirmed in time: whatever began is stopped
        code = int(ErrorNumber.ERROR_TIMED_OUT)
        return [StopRecording(self.call_id), RecordingOutcome(self.target, "start", info, code)]

    def _tid(self, timer: CallTimer) -> str:
        return f"call:{self.call_id}:{timer.value}"

    def _cancel(self, fx: list[Effect], *timers: CallTimer) -> None:
        for timer in timers:
            if self._has_timer(fx, timer):
                fx.append(CancelTimer(self._tid(timer)))

    def _emit(self, fx: list[Effect], event: str, payload: Any = None) -> None:
        """Fire apiRTC event ``event`` on this call (an owned call fires none: its owner is
        told the call's life by :meth:`_tell`)."""
        if self._hidden or self.owner is not None:
            return
        fx.append(Emit(self.target, event, payload))

    def _tell(
        self, fx: list[Effect], now: float, notice: CallNotice, *events: tuple[str, Any]
    ) -> None:
        """Tell the owner ``notice``; without one, fire ``events`` for the application."""
        if self._hidden:
            return
        owner = self.owner
        if owner is not None:
            owner.call_notice(fx, notice, now)
        else:
            fx.extend(Emit(self.target, event, payload) for event, payload in events)

    def _event(self, event: str, payload: Any = None) -> list[Effect]:
        fx: list[Effect] = []
        self._emit(fx, event, payload)
        return fx

    def _require_ongoing(self, what: str) -> None:
        if self.status is not CallStatus.CALL_STATUS_ONGOING:
            raise RtcError(
                ErrorNumber.ERROR_WRONG_STATE, f"Call.{what} needs an ONGOING call ({self.state})"
            )

    # --- internals: the sub-machines (negotiation, reliable messages) -------------------------

    @property
    def rtx_timer_id(self) -> str:
        """The retransmission timer's id (:class:`~rtcstate.reliable.ReliableOwner`)."""
        return self._tid(CallTimer.RTX)

    def _sender(self, fx: list[Effect], now: float) -> ReliableSender:
        rtx = self._rtx
        if rtx is None:
            rtx = self._rtx = ReliableSender()
            if self._offline:
                rtx.pause(fx, now, self)
        return rtx

    def _send_reliably(self, fx: list[Effect], now: float, msg: wire.Message) -> None:
        self._sender(fx, now).send(fx, now, self, msg)

    def _acked(self, fx: list[Effect], now: float, kind: type[wire.Message]) -> bool:
        return self._rtx is not None and self._rtx.settle(fx, now, self, kind)

    def _clear_rtx(self, fx: list[Effect], now: float) -> None:
        if self._rtx is not None:
            self._rtx.clear(fx, now, self)

    def _rtx_spent(self, fx: list[Effect], now: float, **_: Any) -> bool:
        """``rtx_attempts`` sends went unanswered (the session is connected)."""
        return self._rtx is not None and self._rtx.spent(self)

    def _give_up_rtx(self, fx: list[Effect], now: float, **_: Any) -> None:
        assert self._rtx is not None  # _rtx_spent
        self._rtx.expire(fx, now, self)

    def _update_given_up(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        """Only renegotiations are unanswered, after ``rtx_attempts`` sends."""
        rtx = self._rtx
        return (
            rtx is not None
            and rtx.spent(self)
            and all(type(m) is wire.Update for m in rtx.waiting or ())
        )

    def _update_unanswered(self, fx: list[Effect], now: float, **_: Any) -> None:
        # the negotiation keeps its offer in flight: the next offer (an ICE restart) replaces it
        fx.append(Drop(CallDrop.UPDATE_UNANSWERED, f"{self.call_id}: the ICE timeout governs"))

    def _retransmit(self, fx: list[Effect], now: float, **_: Any) -> None:
        rtx = self._rtx
        outcome = RtxOutcome.STALE if rtx is None else rtx.expire(fx, now, self)
        if outcome is RtxOutcome.STALE:
            fx.append(Drop(CallDrop.STALE_TIMER, self._tid(CallTimer.RTX)))
        elif outcome is RtxOutcome.GAVE_UP:  # given up where nothing ends
            fx.append(Drop(CallDrop.UNEXPECTED_REPORT, f"rtx given up in {self.state.name}"))

    def _negotiation(self) -> Negotiation:
        neg = self._neg
        if neg is None:
            neg = self._neg = Negotiation(self.call_id, polite=not self.outgoing)
        return neg

    def _negotiate(self, fx: list[Effect], now: float, msg: Any) -> None:
        """Hand ``msg`` to the negotiation; carry its decisions out, in order."""
        out: list[Any] = []
        self._negotiation().take(out, now, msg, self.call_type)
        for item in out:
            kind = type(item)
            if kind is SendReliably:
                self._send_reliably(fx, now, item.message)
            elif kind is SendOnce:
                fx.append(Send(self.remote, item.message))
            elif kind is Withdraw:
                if self._rtx is not None:
                    self._rtx.settle(fx, now, self, wire.Update, item.seq)
            elif kind is AdoptCallType:
                self.call_type = item.call_type
            else:
                fx.append(item)

    # --- internals: transition callbacks (signature: fx, now, **kw) ---------------------------

    def _start(self, fx: list[Effect], now: float, **_: Any) -> None:
        if self.call_type is CallType.DATA or self.stream_id is not None:
            self._open_pc(fx)
            if self.stream_id is not None:  # the application's stream: send it
                self._local_stream_available(fx)
                fx.append(PublishStream(self.call_id, self.stream_id))
            fx.append(CreateOffer(self.call_id))
        else:
            self._acquire(fx)

    def _acquire(self, fx: list[Effect]) -> None:
        audio, video = True, True
        if self.call_type is CallType.AUDIO or self.audio_only:
            video = False
        elif self.call_type in (CallType.VIDEO_ONLY, CallType.SCREEN_SHARING):
            audio = False
        kind = CallType.AUDIO if self.audio_only else self.call_type
        fx.append(AcquireMedia(self.call_id, kind.value, audio=audio, video=video))

    def _open_pc(self, fx: list[Effect]) -> None:
        if not self._pc:
            self._pc = True
            fx.append(CreatePeerConnection(self.call_id, polite=not self.outgoing))

    def _local_stream_available(self, fx: list[Effect]) -> None:
        video = not self.audio_only and self.call_type is not CallType.AUDIO
        audio = self.call_type not in (CallType.VIDEO_ONLY, CallType.SCREEN_SHARING)
        self._emit(fx, "localStreamAvailable", {
            "streamId": self.stream_id, "callId": self.call_id, "isRemote": False,
            "hasAudio": audio, "hasVideo": video, "isScreensharing": self.is_screen_sharing,
        })  # fmt: skip

    def _offered(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        invite: wire.Invite = msg
        self._offer = invite.sdp
        self.remote_stream_id = invite.stream_id
        self.nickname = invite.nickname
        self.data = invite.data
        self.invitation = ReceivedCallInvitation(self)
        if not self.outgoing:
            self.session.watch_peer(self)
        fx.append(Send(self.remote, wire.Ack(self.call_id, "invite")))
        if invite.lifetime is not None and invite.lifetime > 0:
            fx.append(StartTimer(self._tid(CallTimer.LIFETIME), now + invite.lifetime))

    def _accept(self, fx: list[Effect], now: float, audio_only: bool = False, **_: Any) -> None:
        self.audio_only = self.audio_only or audio_only
        self._cancel(fx, CallTimer.LIFETIME)
        if self.call_type is CallType.DATA or self.stream_id is not None:
            if self.stream_id is not None:  # the application's stream: send it
                self._open_pc(fx)
                fx.append(PublishStream(self.call_id, self.stream_id))
            self._answer_offer(fx, now)
        else:
            self._acquire(fx)

    def _answer_offer(self, fx: list[Effect], now: float) -> None:
        self._open_pc(fx)
        fx.append(SetRemoteDescription(self.call_id, "offer", self._offer or ""))
        self._offer = None
        self._negotiation().remote_applied(fx, now)
        fx.append(CreateAnswer(self.call_id))

    def _media_ready(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        acquired: MediaAcquired = msg
        self.stream_id = acquired.stream_id
        self.owns_stream = True
        self._local_stream_available(fx)
        if self.outgoing:
            self._open_pc(fx)
            fx.append(CreateOffer(self.call_id))
        else:
            self._answer_offer(fx, now)

    def _can_retry_audio(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return (
            self.settings.try_audio_only_after_user_media_error
            and not self.audio_only
            and self.call_type in _VIDEO_TYPES
        )

    def _user_media_error(self, fx: list[Effect], error: str, retry: bool) -> None:
        self._emit(fx, "userMediaError", {
            "onCallEstablishment": True, "callType": self.call_type.value, "error": error,
            "userMediaStreamId": self.call_id, "tryAudioCallActivated": retry,
        })  # fmt: skip

    def _retry_audio(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._user_media_error(fx, str(_inputs(kw).get("reason", "")), retry=True)
        self.audio_only = True
        self._acquire(fx)

    def _send_invite(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        ready: LocalDescriptionReady = msg
        lifetime = self.settings.no_answer_timeout
        invite = wire.Invite(
            call_id=self.call_id,
            call_type=self.call_type,
            sdp=ready.sdp,
            lifetime=lifetime,
            nickname=self.nickname,
            stream_id=self.stream_id,
            data=self.data,
        )
        self._send_reliably(fx, now, invite)
        if lifetime is not None:
            fx.append(StartTimer(self._tid(CallTimer.NO_ANSWER), now + lifetime))

    def _send_answer(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        ready: LocalDescriptionReady = msg
        self._send_reliably(fx, now, wire.Answer(self.call_id, ready.sdp))
        fx.append(StartTimer(self._tid(CallTimer.CONNECT), now + self.settings.connect_timeout))
        self._tell_muted(fx)

    def _on_answer(self, fx: list[Effect], now: float, msg: Any = None, **kw: Any) -> None:
        answer: wire.Answer = msg
        sender = kw.get("sender")
        if sender:
            self.remote = sender
        fx.append(Send(self.remote, wire.Ack(self.call_id, "answer")))
        self._acked(fx, now, wire.Invite)
        self._cancel(fx, CallTimer.NO_ANSWER)
        fx.append(SetRemoteDescription(self.call_id, "answer", answer.sdp))
        self._negotiation().remote_applied(fx, now)
        fx.append(StartTimer(self._tid(CallTimer.CONNECT), now + self.settings.connect_timeout))
        self._tell_muted(fx)

    def _tell_muted(self, fx: list[Effect]) -> None:
        """Entering CONNECTING: a mute set earlier (nothing was sent then) reaches the far side."""
        if self._muted != (False, False):
            fx.append(self._stream_state())

    def _established(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._cancel(fx, CallTimer.CONNECT)
        if not self.outgoing:
            # ICE connected: the caller applied our answer, whether or not its ack got here (a
            # caller gone from the server would otherwise see it retransmitted to exhaustion)
            self._acked(fx, now, wire.Answer)
        if not self.established:
            self.established = True
            if self.outgoing:
                notice = CallEstablished()
                self._tell(fx, now, notice, ("accepted", None), ("response", "accepted"))

    def _ice_descriptor(self, ice_state: str) -> dict[str, Any]:
        return {
            "iceState": ice_state, "callType": self.call_type.value, "context": "call",
            "mode": "p2p", "clientId": self.session.address, "remoteId": self.remote,
        }  # fmt: skip

    def _ice_disconnected(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._cancel(fx, CallTimer.CONNECT)
        if not self.outgoing:
            self._cancel(fx, CallTimer.ICE_RESTART)  # ICE trouble: the caller's restarts
        self._warnings = 0
        desc = self._ice_descriptor("disconnected")
        self._emit(fx, "error", _error(ErrorCode.ICE_CONNECTION_STATE_DISCONNECTED, desc))
        fx.append(Send(self.remote, wire.MediaState(self.call_id, "disconnected")))
        s = self.settings
        fx.append(StartTimer(self._tid(CallTimer.ICE_WARNING), now + s.ice_warning_first))
        fx.append(StartTimer(self._tid(CallTimer.ICE_TIMEOUT), now + s.ice_disconnection_timeout))
        if self.outgoing and self.settings.ice_restart_attempts > 0:
            fx.append(StartTimer(self._tid(CallTimer.ICE_RESTART), now + s.ice_restart_delay))

    def _can_restart(self, fx: list[Effect], now: float, **_: Any) -> bool:
        # the callee waits for the caller's restart (bounded by ice_timeout)
        return self._restarts < self.settings.ice_restart_attempts

    def _ice_failed_restart(self, fx: list[Effect], now: float, **kw: Any) -> None:
        was_reconnecting = self.state is CallState.RECONNECTING
        trigger = kw.get("cause", "ice_failed")
        if trigger == "ice_failed":
            self._ice_failed(fx)
        self._cancel(fx, CallTimer.CONNECT)
        if not self._has_timer(fx, CallTimer.ICE_TIMEOUT) and not was_reconnecting:
            fx.append(
                StartTimer(
                    self._tid(CallTimer.ICE_TIMEOUT), now + self.settings.ice_disconnection_timeout
                )
            )
        if self.outgoing:
            self._restart_ice(fx, now)
        else:
            self._cancel(fx, CallTimer.ICE_RESTART)  # ICE trouble: the caller's restarts
            self._restarts += 1  # the callee counts the caller's restarts it waits for

    def _has_timer(self, fx: list[Effect], timer: CallTimer) -> bool:
        tid = self._tid(timer)
        return self.session.timer_armed(tid) or any(
            type(e) is StartTimer and e.timer_id == tid for e in fx
        )

    def _restart_ice(self, fx: list[Effect], now: float, **_: Any) -> None:
        if not self.outgoing:
            return
        self._restarts += 1
        fx.append(RestartIce(self.call_id))
        fx.append(CreateOffer(self.call_id, ice_restart=True))

    def _callee(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return not self.outgoing

    def _restart_after_loss(self, fx: list[Effect], now: float, **_: Any) -> None:
        """The callee's session came back ``ice_restart_delay`` ago and the caller sent no
        update meanwhile (it kept the server): the callee renegotiates with an ICE restart."""
        fx.append(RestartIce(self.call_id))
        fx.append(CreateOffer(self.call_id, ice_restart=True))

    def _warn(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._warnings += 1
        self._emit(fx, "disconnectionWarning", {"tries": self._warnings})
        fx.append(
            StartTimer(self._tid(CallTimer.ICE_WARNING), now + self.settings.ice_warning_interval)
        )

    def _recovered(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._cancel(
            fx,
            CallTimer.ICE_WARNING,
            CallTimer.ICE_TIMEOUT,
            CallTimer.ICE_RESTART,
            CallTimer.CONNECT,
        )
        self._warnings = 0
        self._restarts = 0
        fx.append(Send(self.remote, wire.MediaState(self.call_id, "connected")))
        self._established(fx, now)

    # --- internals: ending --------------------------------------------------------------------

    def _end_phase(self, trigger: str, kw: Mapping[str, Any]) -> EndPhase:
        """The phase a phased end cause is looked up under (``END_CAUSES``)."""
        if trigger not in _PHASED_TRIGGERS:
            return EndPhase.ANY
        if trigger == "ice_timeout_timer":
            return EndPhase.UPDATE if self.established else EndPhase.SETUP
        if self._renegotiated():
            return EndPhase.UPDATE
        return EndPhase.SETUP_LOCAL if kw.get("local", True) else EndPhase.SETUP_REMOTE

    def _end_cause(self, trigger: str, kw: Mapping[str, Any], silent: bool = False) -> EndCause:
        return (
            (END_CAUSES.get((trigger, EndPhase.SILENT)) if silent else None)
            or END_CAUSES.get((trigger, self._end_phase(trigger, kw)))
            or EndCause()
        )

    def _local_reason(
        self, trigger: str, kw: Mapping[str, Any], silent: bool = False
    ) -> tuple[str, ErrorCode | None]:
        """The bye reason (and local error, if any) of a local end caused by ``trigger``
        (``silent``: nothing reached the far side yet), as ``END_CAUSES`` declares it."""
        cause = self._end_cause(trigger, kw, silent)
        given = kw.get("reason")
        if cause.given and given:
            return str(given), None
        if cause.code is not None:
            return LOCAL_ERROR_TO_WIRE_REASON[cause.code].value, cause.code
        if cause.reason is not None:
            return cause.reason.value, None
        return default_hangup_reason(self.outgoing).value, None

    def _renegotiated(self) -> bool:
        """Whether a description now belongs to a media update (not to the call's setup)."""
        neg = self._neg
        return self.established or (neg is not None and neg.began) or bool(self._restarts)

    def _ice_failed(self, fx: list[Effect]) -> None:
        """ICE failed here: the local error, and the far side told (its DISTANT_* error)."""
        desc = self._ice_descriptor("failed")
        self._emit(fx, "error", _error(ErrorCode.ICE_CONNECTION_STATE_FAILED, desc))
        fx.append(Send(self.remote, wire.MediaState(self.call_id, "failed")))

    def _local_error(self, fx: list[Effect], code: ErrorCode, kw: Mapping[str, Any]) -> None:
        """The error event of a local end (ICE_CONNECTION_STATE_DISCONNECTED was emitted when
        ICE went disconnected, so it is not repeated)."""
        if code is ErrorCode.ICE_CONNECTION_STATE_DISCONNECTED:
            return
        if code is ErrorCode.USER_MEDIA_ERROR:
            if self.is_screen_sharing:
                self._emit(fx, "desktopCapture", {"event": DesktopCaptureEvent.USER_MEDIA_ERROR})
            else:
                self._user_media_error(fx, str(kw.get("reason", "")), retry=False)
            self._emit(fx, "error", _error(code, {"error": kw.get("reason", "")}))
        elif code is ErrorCode.ICE_CONNECTION_STATE_FAILED:
            self._ice_failed(fx)
        else:
            self._emit(fx, "error", _error(code, {"error": kw.get("reason", "")}))

    def _teardown(self, fx: list[Effect], now: float) -> None:
        self._cancel(
            fx,
            CallTimer.NO_ANSWER,
            CallTimer.LIFETIME,
            CallTimer.CONNECT,
            CallTimer.ICE_WARNING,
            CallTimer.ICE_TIMEOUT,
            CallTimer.ICE_RESTART,
        )
        if self._recording:
            self._recording = False
            fx.append(StopRecording(self.call_id))
        # the call ends: a pending start is rejected, a pending stop resolved with what is known
        self._rec_settle(
            fx, int(ErrorNumber.ERROR_STREAM_RECORD) if self._rec_pending == "start" else None
        )
        if self._pc:
            self._pc = False
            fx.append(ClosePeerConnection(self.call_id))
        if self.owns_stream and self.stream_id is not None:
            fx.append(ReleaseMedia(self.stream_id))
            self.owns_stream = False
        self._offer = None
        if self._neg is not None:
            self._neg.close(fx, now)

    def _end_local(self, fx: list[Effect], now: float, **kw: Any) -> None:
        kw = _inputs(kw)
        trigger = kw.get("cause", "hangup")
        reason, code = self._local_reason(trigger, kw)
        if code is not None:
            self._local_error(fx, code, kw)
        if self.invitation is not None:
            self.invitation.expire(fx, now)
        self._teardown(fx, now)
        self._end = (HangupFrom.LOCAL, reason)
        self._away_ends_now = self._end_cause(trigger, kw).away_ends_now
        self._clear_rtx(fx, now)  # nothing else matters now
        self._send_reliably(fx, now, wire.Bye(self.call_id, reason))
        if self._offline:
            # the bye waits for the reconnection; the application hears now
            self._announce(fx, now)

    def _end_silently(self, fx: list[Effect], now: float, **kw: Any) -> None:
        """A local end before anything reached the far side (PREPARING)."""
        kw = _inputs(kw)
        trigger = kw.get("cause", "hangup")
        reason, code = self._local_reason(trigger, kw, silent=True)
        if code is not None:
            self._local_error(fx, code, kw)
        self._teardown(fx, now)
        self._clear_rtx(fx, now)
        self._cancel(fx, CallTimer.SERVER_LOSS)
        self._end = (HangupFrom.LOCAL, reason)
        self._announce(fx, now)

    def _end_remote(self, fx: list[Effect], now: float, **kw: Any) -> None:
        kw = _inputs(kw)
        reason = str(kw.get("reason") or "")
        sender = kw.get("sender")
        if sender:
            fx.append(Send(sender, wire.Ack(self.call_id, "bye")))
        distant = (
            WIRE_REASON_TO_DISTANT_ERROR.get(HangupReason(reason)) if _is_reason(reason) else None
        )
        if distant is not None and distant is not self._distant:  # not told already
            kind = "disconnected" if "DISCONNECTED" in distant.name else "failed"
            self._emit(fx, "error", _error(distant, self._ice_descriptor(kind)))
        waiting = self.outgoing and not self.established and self.state in (
            CallState.PREPARING, CallState.INVITING, CallState.CONNECTING
        )  # fmt: skip
        if self.invitation is not None:
            self.invitation.expire(fx, now)
        self._teardown(fx, now)
        self._clear_rtx(fx, now)
        self._cancel(fx, CallTimer.SERVER_LOSS)
        self._end = (HangupFrom.REMOTE, reason)
        self._announce(fx, now, declined=waiting)

    def _wins_crossing(self, fx: list[Effect], now: float, **_: Any) -> bool:
        """Crossing byes: the side that already told its application (it ended while away
        from the server) keeps its word; otherwise the caller's reason wins."""
        return self.outgoing or self._announced

    def _crossed_and_won(self, fx: list[Effect], now: float, **kw: Any) -> None:
        """Both ends sent a bye: the caller's reason wins; tell the callee which one it was."""
        sender = kw.get("sender")
        own = self._end[1] if self._end is not None else ""
        if sender:
            fx.append(Send(sender, wire.Ack(self.call_id, "bye", reason=own)))

    def _announce(self, fx: list[Effect], now: float, declined: bool = False, **kw: Any) -> None:
        """Fire streamRemoved per remote stream then hangup (once), and ``declined`` for a
        caller's call the far side ended while it waited; or tell the owner which end it was."""
        crossed = _inputs(kw).get("reason") if kw.get("cause") == "bye_acked" else None
        if crossed and not self._announced:
            self._end = (HangupFrom.REMOTE, crossed)
        if self.state is CallState.ENDED:
            self._clear_rtx(fx, now)
            self._cancel(fx, CallTimer.SERVER_LOSS)
        if self._announced or self._end is None:
            return
        self._announced = True
        frm, reason = self._end
        # a local end told without the far side's acknowledgement: this side's word stands
        self._told_alone = frm is HangupFrom.LOCAL and kw.get("cause") != "bye_acked"
        for sid, kinds in sorted((self._streams or {}).items()):
            self._emit(fx, "streamRemoved", self._stream_info(sid, kinds))
        self._streams = None
        self._tracks = None
        hangup = ("hangup", {"from": frm.value, "reason": reason})
        if declined:
            declines = (("declined", {"reason": reason}), ("response", "declined"))
            self._tell(fx, now, CallDeclined(reason), hangup, *declines)
        else:
            self._tell(fx, now, CallEnded.of(frm, reason), hangup)

    def _aborted(self, fx: list[Effect], now: float, **kw: Any) -> None:
        """The reliable exchange gave up: the error and reason ``END_CAUSES`` declares."""
        tries = self._rtx.tries if self._rtx is not None else 0
        reason, code = self._local_reason(kw.get("cause", "rtx_timer"), kw)
        if code is not None:
            self._emit(fx, "error", _error(code, {"attempts": tries}))
        if self.invitation is not None:
            self.invitation.expire(fx, now)
        self._teardown(fx, now)
        self._cancel(fx, CallTimer.SERVER_LOSS)
        fx.append(Send(self.remote, wire.Bye(self.call_id, reason)))  # best effort
        self._end = (HangupFrom.LOCAL, reason)
        self._announce(fx, now)

    def _closed(self, fx: list[Effect], now: float, **_: Any) -> None:
        if self._end is None:
            reason = default_hangup_reason(self.outgoing).value
            if self.invitation is not None:
                self.invitation.expire(fx, now)
            if self._pc or self.state is not CallState.PREPARING:
                fx.append(Send(self.remote, wire.Bye(self.call_id, reason)))
            self._end = (HangupFrom.LOCAL, reason)
        self._teardown(fx, now)
        self._clear_rtx(fx, now)
        self._cancel(fx, CallTimer.SERVER_LOSS)
        self._announce(fx, now)

    def _server_gone(self, fx: list[Effect], now: float, **_: Any) -> None:
        """The server stayed away for the whole window: hang up now, tell the far side later.

        The application hears ``hangup {local, disconnected}`` at once; a call the far side
        knows (ENDING) keeps its ``bye`` for the reconnection and lingers one more window.
        """
        if self.invitation is not None:
            self.invitation.expire(fx, now)
        self._teardown(fx, now)
        self._clear_rtx(fx, now)
        reason = HangupReason.DISCONNECTED.value
        self._end = (HangupFrom.LOCAL, reason)
        self._announce(fx, now)
        if self.state is CallState.ENDING:
            # kept for the reconnection (the server is away: not sent now)
            self._sender(fx, now).hold(fx, now, self, wire.Bye(self.call_id, reason))
            fx.append(
                StartTimer(self._tid(CallTimer.SERVER_LOSS), now + self.settings.server_loss_window)
            )

    def _peer_gone(self, fx: list[Effect], now: float, **_: Any) -> None:
        """The caller's device left the relay and stayed away ``server_loss_window``: end as if
        it had hung up without reaching us (``hangup {remote, disconnected}``, the invitation
        EXPIRED). Its bye will never come; ours is sent once, best effort (a device back under
        the same address learns it; a vanished one gets ``user_not_found``, which is dropped).
        """
        reason = HangupReason.DISCONNECTED.value
        self._end_remote(fx, now, reason=reason, cause="peer_gone_timer")
        fx.append(Send(self.remote, wire.Bye(self.call_id, reason)))

    # --- internals: streams --------------------------------------------------------------------

    def _stream_info(self, sid: str, kinds: set[str]) -> dict[str, Any]:
        # the tracks seen so far: streamAdded fires on a stream's first track (the call type
        # cannot tell, a far side may have fallen back to audio only)
        return {
            "streamId": sid, "callId": self.call_id, "isRemote": True,
            "hasAudio": "audio" in kinds, "hasVideo": "video" in kinds,
            "contact": self.contact, "isScreensharing": self.is_screen_sharing,
        }  # fmt: skip

    def _stream_state(self) -> Send:
        audio = self.call_type not in (CallType.VIDEO_ONLY, CallType.SCREEN_SHARING)
        video = self.call_type is not CallType.AUDIO and not self.audio_only
        return Send(
            self.remote,
            wire.StreamState(
                call_id=self.call_id,
                stream_id=self.stream_id or "",
                audio=audio,
                audio_muted=self._muted[0],
                video=video,
                video_muted=self._muted[1],
            ),
        )

    def _set_muted(self, now: float, kind: str, muted: bool) -> list[Effect]:
        if kind not in ("audio", "video"):
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"kind must be audio or video: {kind}")
        if self.status is CallStatus.CALL_STATUS_ENDED:
            raise RtcError(ErrorNumber.ERROR_WRONG_STATE, "the call has ended")
        audio, video = self._muted
        self._muted = (muted, video) if kind == "audio" else (audio, muted)
        fx: list[Effect] = [SetTrackEnabled(self.call_id, kind, not muted)]
        if self.state in (CallState.CONNECTING, CallState.CONNECTED, CallState.RECONNECTING):
            fx.append(self._stream_state())
        return self.session.child_output(self, fx)

    # --- input callbacks: rows that keep the state (signature: fx, now, msg=, sender=) -----

    def _reack_invite(self, fx: list[Effect], now: float, **kw: Any) -> None:
        if self.outgoing:
            fx.append(Drop(CallDrop.UNEXPECTED_MESSAGE, "invite for our own outgoing call"))
            return
        # a retransmission: acknowledge again
        fx.append(Send(kw.get("sender") or self.remote, wire.Ack(self.call_id, "invite")))

    def _reack_answer(self, fx: list[Effect], now: float, **kw: Any) -> None:
        sender = kw.get("sender")
        if not self.outgoing:
            fx.append(Drop(CallDrop.UNEXPECTED_MESSAGE, "answer on the callee side"))
        elif sender is None or sender == self.remote:
            fx.append(Send(self.remote, wire.Ack(self.call_id, "answer")))
        else:
            fx.append(Drop(CallDrop.LATE_ANSWER, f"answer from {sender} in {self.state.name}"))

    def _from_other_device(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        sender = kw.get("sender")
        return bool(
            self.outgoing
            and sender is not None
            and self.remote != sender
            and self.remote != self.contact
        )

    def _ack_other_device(self, fx: list[Effect], now: float, **kw: Any) -> None:
        """A device that lost a forked call (or a stranger): not the one we talk to."""
        sender = kw["sender"]
        fx.append(Send(sender, wire.Ack(self.call_id, "bye")))
        fx.append(Drop(CallDrop.OTHER_DEVICE, f"bye from {sender}"))

    def _bye_in_flight(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return self._rtx is not None and self._rtx.holds(wire.Bye)

    def _take_ack(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        kind = _RELIABLE_ACKS[msg.what]
        if not self._acked(fx, now, kind):
            fx.append(Drop(CallDrop.DUPLICATE_ACK, msg.what))

    def _device_away(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        # a device we talk to, or the user of an invite copy that may still ring (unreached)
        return ("/" in msg.user or self.unreached) and self._rtx is not None and self._rtx.pending

    def _invite_resent(self, fx: list[Effect], now: float, **_: Any) -> bool:
        """The relay refused a resent invite: an earlier copy may have reached a device that is
        now away (its acknowledgement lost) and rings until it hears how the call ended."""
        return self._rtx is not None and self._rtx.tries > 1 and self._rtx.holds(wire.Invite)

    def _bye_to_copies(self, fx: list[Effect], now: float, **_: Any) -> None:
        """Ended User_Not_Found (announced already): the bye goes to the callee's user until one
        of its devices takes it or ``server_loss_window`` runs out (as long as a ringing copy
        survives its own server loss), so that a callee back on the relay stops ringing."""
        assert self._end is not None
        self._sender(fx, now).hold(fx, now, self, wire.Bye(self.call_id, self._end[1]))
        fx.append(
            StartTimer(self._tid(CallTimer.SERVER_LOSS), now + self.settings.server_loss_window)
        )

    def _keep_bye_going(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        """The one device we talk to is away (reconnecting to the server, say): keep the bye
        going, attempts not counted, as long as its call survives a server loss, so that it
        still learns how the call ended (the hangup fires at the latest then)."""
        assert self._rtx is not None  # _device_away
        self._rtx.count_afresh(fx, now, self)
        if not self._has_timer(fx, CallTimer.SERVER_LOSS):
            deadline = now + self.settings.server_loss_window
            fx.append(StartTimer(self._tid(CallTimer.SERVER_LOSS), deadline))
        fx.append(Drop(CallDrop.USER_NOT_FOUND, f"{msg.user} away: the bye is retransmitted"))
        if self._away_ends_now:  # END_CAUSES: such an end is heard now (an ICE timeout)
            self._announce(fx, now)

    def _keep_update_going(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        """The device we talk to is away from the server (reconnecting): what waits for its
        acknowledgement (an ``update``) is retransmitted on, attempts not counted; ICE, not the
        retransmission, says whether the peer is gone."""
        assert self._rtx is not None  # _device_away
        self._rtx.count_afresh(fx, now, self)
        fx.append(Drop(CallDrop.USER_NOT_FOUND, f"{msg.user} away: retransmitted on"))

    def _mark_unreached(self, fx: list[Effect], now: float, **_: Any) -> None:
        # the far side may hold a copy of our invite and never hear how the call ended
        self.unreached = True

    def _end_unreached(self, fx: list[Effect], now: float, **kw: Any) -> None:
        reason = HangupReason.USER_NOT_FOUND.value
        self._end_remote(fx, now, reason=reason, cause=kw.get("cause", "not_found"))

    def _take_candidate(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        # the hot path of a call's messages: straight to the negotiation's dispatch (a
        # candidate gives effects and drops only, no decision)
        neg = self._neg or self._negotiation()
        _NEG_STEPS[id(neg.state)][wire.Candidate](neg, msg, fx, now, msg)

    def _far_media_state(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        code = _DISTANT_ICE.get(msg.ice_state)
        if code is None:
            if msg.ice_state == "connected":
                self._distant = None  # the far side recovered
            fx.append(Drop(CallDrop.MEDIA_STATE, msg.ice_state))
            return
        self._distant = code
        self._emit(fx, "error", _error(code, self._ice_descriptor(msg.ice_state)))

    def _far_stream_state(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        old = self.remote_stream_id
        if old != msg.stream_id:
            self.remote_stream_id = msg.stream_id
            if old is not None:
                self._emit(fx, "remoteStreamIdUpdated", {
                    "callId": self.call_id, "newStreamId": msg.stream_id, "oldStreamId": old,
                })  # fmt: skip
        self._emit(fx, "remoteStreamUpdated", {
            "callId": self.call_id, "audio": msg.audio, "audioMuted": msg.audio_muted,
            "video": msg.video, "videoMuted": msg.video_muted,
        })  # fmt: skip

    def _take_update(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        if not self.outgoing:
            self._cancel(fx, CallTimer.ICE_RESTART)  # the caller renegotiates: no need to
        self._negotiate(fx, now, msg)

    def _take_update_ok(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._negotiate(fx, now, msg)

    def _release_late_media(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        # media that arrived after the call moved on (hung up while acquiring): release it
        fx.append(ReleaseMedia(msg.stream_id))
        fx.append(Drop(CallDrop.UNEXPECTED_REPORT, f"media_ready in state {self.state.name}"))

    def _send_update(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        """A renegotiation offer is ready (an ICE restart, or ours after yielding)."""
        self._negotiate(fx, now, msg)

    def _send_update_ok(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        """The answer to the far side's renegotiation is ready."""
        self._negotiate(fx, now, msg)

    def _send_candidate(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(
            Send(
                self.remote,
                wire.Candidate(self.call_id, msg.candidate, msg.sdp_mid, msg.sdp_mline_index),
            )
        )

    def _track_added(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        if self._streams is None:
            self._streams = {}
            self._tracks = {}
        assert self._tracks is not None
        kinds = self._streams.get(msg.stream_id)
        self._tracks[msg.track_id] = msg.stream_id
        if kinds is None:
            kinds = self._streams[msg.stream_id] = {msg.kind}
            self._emit(fx, "streamAdded", self._stream_info(msg.stream_id, kinds))
        else:
            kinds.add(msg.kind)

    def _sharing_screen(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return self.is_screen_sharing and self.outgoing

    def _local_track_ended(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(Drop(CallDrop.LOCAL_TRACK_ENDED, msg.track_id))

    def _remote_track_ended(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        sid = (self._tracks or {}).pop(msg.track_id, None)
        if sid is None or self._streams is None:
            fx.append(Drop(CallDrop.UNKNOWN_TRACK, msg.track_id))
            return
        kinds = self._streams.get(sid, set())
        kinds.discard(msg.kind)
        if not kinds:
            del self._streams[sid]
            self._emit(fx, "streamRemoved", self._stream_info(sid, {msg.kind}))

    def _stats(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._emit(fx, "statsUpdate", {"stats": dict(msg.stats)})

    def _recording_report(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        info = {"callId": self.call_id, **msg.info}
        if msg.status in ("started", "stopped", "available"):
            self._rec_info = dict(info)
        if msg.status == "started":
            self._emit(fx, "recordingStarted", info)
            if self._rec_pending == "start":
                self._rec_settle(fx)
        elif msg.status == "stopped":
            self._recording = False
            self._emit(fx, "recordingStopped", info)
        elif msg.status == "available":
            self._emit(fx, "recordingAvailable", info)
            self._emit(fx, "recordAvailable", {"mediaURL": info.get("mediaURL")})
            if self._rec_pending == "stop":
                self._rec_settle(fx)
        elif msg.status == "failed":
            self._recording = False
            self._emit(fx, "error", _error(ErrorCode.RECORDING_FAILED, info))
            self._rec_settle(fx, int(ErrorNumber.ERROR_STREAM_RECORD))
        else:
            fx.append(Drop(CallDrop.UNEXPECTED_REPORT, f"recording {msg.status}"))


def _is_reason(value: str) -> bool:
    try:
        HangupReason(value)
    except ValueError:
        return False
    return True


_SPEC = spec_of(Call)
#: the compiled steps of a message for the call (``deliver(..., msg=, sender=)``)
_STEPS = _SPEC.steps("msg", "sender")
#: the negotiation's steps (``deliver(..., msg=)``): a candidate is declared in every state
_NEG_STEPS = spec_of(Negotiation).steps("msg")


def _inputs(kw: dict[str, Any]) -> dict[str, Any]:
    """The keywords of a transition with ``reason`` / ``local`` read from the input that fired
    it (a command passes them itself)."""
    msg = kw.get("msg")
    if msg is None or "reason" in kw:
        return kw
    out = dict(kw)
    if isinstance(msg, MediaFailed | DescriptionFailed):
        out["reason"] = msg.error
        if isinstance(msg, DescriptionFailed):
            out.setdefault("local", msg.local)
    elif isinstance(msg, wire.Bye | wire.Ack):
        out["reason"] = msg.reason
    return out
