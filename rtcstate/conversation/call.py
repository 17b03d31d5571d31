"""ConversationCall: one mesh peer connection carrying one published stream to one subscriber.

Theory of operation
-------------------
In mesh mode every (stream, subscriber) pair has its own peer connection. The publisher's end
(:attr:`CallRole.PUBLISH`) is started when the relay says a member subscribed
(``conv_subscribed``): it creates the connection, puts the stream's tracks on it
(``PublishStream``) and makes the offer. The subscriber's end (:attr:`CallRole.SUBSCRIBE`) is
started by ``subscribeToStream``: it creates its connection and waits for the offer, answers
it, and reports the remote tracks to its owner (``streamAdded`` on the conversation). The two
ends signal through the relay (``conv_signal``; the relay forwards only between the two members
the subscription links): offer, answer, candidates, bye.

States: IDLE -> ``start`` -> CONNECTING -> ICE connected -> CONNECTED. The call is *lost*
when ICE fails, when ICE stays disconnected for ``disconnect_grace`` or when CONNECTING lasts
``setup_timeout`` (apiRTC's ``RTC_Setup_Timeout``): it closes the connection and goes to
RESTARTING (``disconnectionWarning {streamInfo}`` on the conversation; apiRTC suppresses the
``hangup`` of these reasons) and restarts after ``restart_delay``·2ⁿ (n: restarts since the
call was last connected; apiRTC's ``restartCallDelay`` 1 s): a new connection, and the
publisher offers again (a subscriber answers a new offer whatever its state). When the next
restart would begin later than ``max_retries_duration`` (150 s, ``maxCallsRetriesDuration``)
after the loss, the call ends instead with ``error {streamId, streamInfo, errorCode:
CALL_ABORTED, errorInfo, descriptor}`` and a bye to the far end. CONNECTED again resets n.

It ends (ENDED, final) by ``hangup`` (bye sent, ``hangup {from: "local", reason, streamId}``),
by the far end's bye (``hangup {from: "remote", reason, streamId}``), by ``abort`` (the relay
said the subscription is over: no bye, no event) or after the retries. Statistics reports give
``callStatsUpdate {streamId, callId, mesh: true, contact, stats}`` and, when the received or
sent packet loss ratio reaches ``slow_link_loss``, ``slowLink {callId, streamId}``.

Timers (``conversationCall:<call_id>:<name>``): ``setup`` (CONNECTING, and the disconnect
grace) and ``restart`` (RESTARTING). Inputs are data: :data:`CONVERSATION_CALL_INPUTS` (the
forwarded signal by ``kind``, media reports, timers) and :data:`CONVERSATION_CALL_VERDICTS`
(late inputs to an ended call, an offer to the publisher or an answer to the subscriber are
dropped with a :class:`ConversationCallDrop`); a wire or media input never raises. The owner
(the conversation's media book) hears of the call through :class:`CallOwner`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from rtcstate.codes import ErrorCode, ErrorNumber, HangupReason
from rtcstate.drops import DropReason
from rtcstate.effects import (
    AddIceCandidate,
    CancelTimer,
    ClosePeerConnection,
    CreateAnswer,
    CreateOffer,
    CreatePeerConnection,
    Drop,
    Effect,
    Emit,
    PublishStream,
    Send,
    SetRemoteDescription,
    StartTimer,
    target,
)
from rtcstate.errors import RtcError
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, machine, spec_of, stay
from rtcstate.media import (
    DescriptionFailed,
    IceCandidateFound,
    IceStateChanged,
    LocalDescriptionReady,
    StatsReport,
    TrackAdded,
)
from rtcstate.wire_streams import ConvPeerSignal, ConvSignal, SignalKind

__all__ = [
    "CONVERSATION_CALL_INPUTS",
    "CONVERSATION_CALL_TRANSITIONS",
    "CONVERSATION_CALL_VERDICTS",
    "CallOwner",
    "CallRole",
    "ConversationCall",
    "ConversationCallDrop",
    "ConversationCallSettings",
    "ConversationCallState",
    "ConversationCallTimer",
]


class ConversationCallDrop(DropReason):
    """Why a conversation call ignored an input on purpose."""

    UNEXPECTED = "unexpected-input"
    """An input this state has no row for (an answer before any offer, a report to an idle
    call)."""
    ENDED = "call-ended"
    """An input for a call that has ended (a late signal, report or timer)."""
    WRONG_END = "wrong-end"
    """An offer to the publisher's end or an answer to the subscriber's end."""
    NOT_CONNECTED = "not-connected"
    """An ICE report or a timer that does not apply now (a ``disconnected`` while not yet
    connected, a stale timer)."""


class ConversationCallState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RESTARTING = "restarting"
    ENDED = "ended"


class CallRole(enum.StrEnum):
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"


class ConversationCallTimer(enum.Enum):
    SETUP = "setup"
    RESTART = "restart"


@attrs.frozen(slots=True)
class ConversationCallSettings:
    """apiRTC's room-call timing (seconds)."""

    restart_delay: float = 1.0
    max_retries_duration: float = 150.0
    setup_timeout: float = 20.0
    disconnect_grace: float = 10.0
    #: packet loss ratio (0-1) from which a stats report gives ``slowLink``
    slow_link_loss: float = 0.1

    def __attrs_post_init__(self) -> None:
        if min(self.restart_delay, self.setup_timeout, self.disconnect_grace) <= 0:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "delays must be > 0")


class CallOwner(Protocol):
    """What a conversation call tells its owner (typed, with the real ``now``)."""

    def call_established(self, call: ConversationCall, now: float) -> list[Effect]: ...

    def call_ended(self, call: ConversationCall, now: float) -> list[Effect]: ...

    def call_track(self, call: ConversationCall, kind: str, now: float) -> list[Effect]: ...


_LIVE = ["CONNECTING", "CONNECTED", "RESTARTING"]

CONVERSATION_CALL_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "start", "source": "IDLE", "dest": "CONNECTING", "after": "_start"},
    {"trigger": "hangup", "source": _LIVE, "dest": "ENDED", "after": "_hangup"},
    {"trigger": "abort", "source": _LIVE, "dest": "ENDED", "after": "_close"},
    # signaling from the far end
    *stay("offer", "CONNECTING", conditions="_subscriber", after="_answer"),
    {"trigger": "offer", "source": ["CONNECTED", "RESTARTING"], "dest": "CONNECTING",
     "conditions": "_subscriber", "after": "_reanswer"},
    *stay("answer", "CONNECTING", conditions="_publisher", after="_apply_answer"),
    *stay("candidate", _LIVE, after="_candidate"),
    {"trigger": "bye", "source": _LIVE, "dest": "ENDED", "after": "_remote_bye"},
    # media reports
    *stay("local_description", ["CONNECTING", "CONNECTED"], after="_signal_description"),
    *stay("local_candidate", ["CONNECTING", "CONNECTED"], after="_signal_candidate"),
    {"trigger": "ice_connected", "source": "CONNECTING", "dest": "CONNECTED",
     "after": "_connected"},
    *stay("ice_connected", "CONNECTED", after="_reconnected"),
    *stay("ice_disconnected", "CONNECTED", after="_disconnected"),
    {"trigger": "ice_failed", "source": ["CONNECTING", "CONNECTED"], "dest": "RESTARTING",
     "after": "_lost"},
    {"trigger": "description_failed", "source": ["CONNECTING", "CONNECTED"],
     "dest": "RESTARTING", "after": "_lost"},
    *stay("track", ["CONNECTING", "CONNECTED"], conditions="_subscriber", after="_track"),
    *stay("stats", "CONNECTED", after="_stats"),
    # timers
    {"trigger": "setup_timer", "source": ["CONNECTING", "CONNECTED"], "dest": "RESTARTING",
     "after": "_lost"},
    {"trigger": "restart_timer", "source": "RESTARTING", "dest": "ENDED",
     "conditions": "_out_of_time", "after": "_aborted"},
    {"trigger": "restart_timer", "source": "RESTARTING", "dest": "CONNECTING",
     "after": "_restart"},
]  # fmt: skip
"""The conversation call's table."""

_D = ConversationCallDrop

CONVERSATION_CALL_INPUTS = Inputs(
    unexpected=_D.UNEXPECTED,
    wire={
        ConvPeerSignal: Classify(
            "kind",
            {
                SignalKind.OFFER: "offer",
                SignalKind.ANSWER: "answer",
                SignalKind.CANDIDATE: "candidate",
                SignalKind.BYE: "bye",
            },
        ),
    },
    media={
        LocalDescriptionReady: "local_description",
        IceCandidateFound: "local_candidate",
        IceStateChanged: Classify(
            "state",
            {
                "connected": "ice_connected",
                "completed": "ice_connected",
                "disconnected": "ice_disconnected",
                "failed": "ice_failed",
            },
            otherwise=Ignore(_D.NOT_CONNECTED, "an ICE state that changes nothing"),
        ),
        DescriptionFailed: "description_failed",
        TrackAdded: "track",
        StatsReport: "stats",
    },
    timers={
        ConversationCallTimer.SETUP: "setup_timer",
        ConversationCallTimer.RESTART: "restart_timer",
    },
)
"""How each forwarded signal, media report and timer becomes a trigger."""

_INPUT_TRIGGERS = (
    "offer", "answer", "candidate", "bye", "local_description", "local_candidate",
    "ice_connected", "ice_disconnected", "ice_failed", "description_failed", "track", "stats",
    "setup_timer", "restart_timer",
)  # fmt: skip
_LATE = Ignore(_D.ENDED)
_NOT_NOW = Ignore(_D.NOT_CONNECTED)

CONVERSATION_CALL_VERDICTS: dict[str | tuple[str, str], Any] = {
    **dict.fromkeys(("start", "hangup", "abort"), ILLEGAL),
    **dict.fromkeys(_INPUT_TRIGGERS, ILLEGAL),
    **{(t, "ENDED"): _LATE for t in _INPUT_TRIGGERS},
    **{(t, s): _NOT_NOW for t in ("setup_timer", "restart_timer", "ice_disconnected",
                                   "ice_failed", "description_failed", "ice_connected",
                                   "stats", "track", "local_description", "local_candidate")
       for s in ("IDLE", "CONNECTING", "CONNECTED", "RESTARTING")
       if not any(r["trigger"] == t and s in ([r["source"]] if isinstance(r["source"], str)
                                               else r["source"])
                  for r in CONVERSATION_CALL_TRANSITIONS)},
    **{(t, "IDLE"): _NOT_NOW for t in ("offer", "answer", "candidate", "bye")},
    ("answer", "CONNECTED"): Ignore(_D.WRONG_END, "an answer once connected"),
    ("answer", "RESTARTING"): Ignore(_D.WRONG_END, "an answer to a closed connection"),
}  # fmt: skip
"""Commands out of place raise 16 ERROR_WRONG_STATE; late or misplaced inputs are dropped."""


@machine(
    ConversationCallState,
    CONVERSATION_CALL_TRANSITIONS,
    initial=ConversationCallState.IDLE,
    final=[ConversationCallState.ENDED],
    inputs=CONVERSATION_CALL_INPUTS,
    verdicts=CONVERSATION_CALL_VERDICTS,
)
@attrs.define(slots=True, eq=False)
class ConversationCall:
    """One end of one mesh call (see the module's theory of operation)."""

    call_id: str
    room: str
    stream_id: str
    #: the far end's address
    peer: str
    role: CallRole
    owner: CallOwner
    #: the local stream sent (publisher's end)
    local_stream_id: str | None = None
    settings: ConversationCallSettings = attrs.field(factory=ConversationCallSettings)
    state: ConversationCallState = ConversationCallState.IDLE
    restarts: int = 0
    lost_at: float | None = None
    serial: int = 0
    #: how it ended: ("local" / "remote" / None for an abort, reason)
    ended_by: tuple[str | None, str] | None = None
    timers: dict[ConversationCallTimer, float] = attrs.field(factory=dict)

    @property
    def conversation_target(self) -> str:
        return target("conversation", self.room)

    def stream_info(self) -> dict[str, Any]:
        return {
            "streamId": self.stream_id,
            "callId": self.call_id,
            "isRemote": self.role is CallRole.SUBSCRIBE,
            "contact": self.peer,
        }

    def timer_id(self, timer: ConversationCallTimer) -> str:
        return f"conversationCall:{self.call_id}:{timer.value}"

    # --- commands --------------------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        return self._command("start", now)

    def hangup(
        self, now: float, reason: str = HangupReason.HANGUP_FROM_CALLER.value
    ) -> list[Effect]:
        return self._command("hangup", now, reason=reason)

    def abort(self, now: float) -> list[Effect]:
        """The relay ended the subscription (unsubscribed, unpublished, the peer gone): close
        without a bye."""
        return self._command("abort", now)

    def _command(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        spec = spec_of(self)
        if not spec.allowed(self.state, trigger):
            raise spec.invalid(self, trigger)
        fx: list[Effect] = []
        spec.fire(self, trigger, fx, now, **kw)
        return fx

    # --- inputs ---------------------------------------------------------------------------------

    def receive(self, message: ConvPeerSignal, now: float) -> list[Effect]:
        """A signal the far end sent (``CONVERSATION_CALL_INPUTS.wire``); never raises."""
        fx: list[Effect] = []
        handled = spec_of(self).deliver(self, ConvPeerSignal, message, fx, now, msg=message)
        if not handled and not fx:  # a row whose condition failed: the wrong end for it
            fx.append(Drop(_D.WRONG_END, f"{message.kind} to the {self.role} end"))
        return fx

    def media_event(self, event: object, now: float) -> list[Effect]:
        """A media report for this call (``CONVERSATION_CALL_INPUTS.media``); never raises."""
        fx: list[Effect] = []
        handled = spec_of(self).deliver(self, type(event), event, fx, now, msg=event)
        if not handled and not fx:
            fx.append(Drop(_D.WRONG_END, f"{type(event).__name__} to the {self.role} end"))
        return fx

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        fx: list[Effect] = []
        timer = next((t for t in ConversationCallTimer if self.timer_id(t) == name), None)
        if timer is None or timer not in self.timers:
            fx.append(Drop(_D.NOT_CONNECTED, f"timer {name} is not armed"))
            return fx
        del self.timers[timer]
        spec_of(self).deliver(self, timer, timer, fx, now)
        return fx

    # --- internals ------------------------------------------------------------------------------

    def _emit(self, fx: list[Effect], event: str, payload: Any) -> None:
        fx.append(Emit(self.conversation_target, event, payload))

    def _arm(self, fx: list[Effect], timer: ConversationCallTimer, deadline: float) -> None:
        self.timers[timer] = deadline
        fx.append(StartTimer(self.timer_id(timer), deadline))

    def _disarm(self, fx: list[Effect], timer: ConversationCallTimer) -> None:
        if self.timers.pop(timer, None) is not None:
            fx.append(CancelTimer(self.timer_id(timer)))

    def _signal(self, fx: list[Effect], kind: SignalKind, **kw: Any) -> None:
        self.serial += 1
        rid = f"{self.call_id}:{self.serial}"
        msg = ConvSignal(self.room, rid, self.peer, self.call_id, self.stream_id, kind, **kw)
        fx.append(Send(None, msg))

    def _subscriber(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return self.role is CallRole.SUBSCRIBE

    def _publisher(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return self.role is CallRole.PUBLISH

    def _open(self, fx: list[Effect], now: float) -> None:
        # the publisher names the stream first: the connection is created with its tracks
        if self.role is CallRole.PUBLISH:
            fx.append(PublishStream(self.call_id, self.local_stream_id or self.stream_id))
        fx.append(CreatePeerConnection(self.call_id, polite=self.role is CallRole.SUBSCRIBE))
        if self.role is CallRole.PUBLISH:
            fx.append(CreateOffer(self.call_id))
        self._arm(fx, ConversationCallTimer.SETUP, now + self.settings.setup_timeout)

    def _start(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._open(fx, now)

    def _close(self, fx: list[Effect], now: float, **_: Any) -> None:
        for timer in list(self.timers):
            self._disarm(fx, timer)
        fx.append(ClosePeerConnection(self.call_id))
        if self.ended_by is None:
            self.ended_by = (None, "aborted")
        fx.extend(self.owner.call_ended(self, now))

    def _hangup(self, fx: list[Effect], now: float, reason: Any = None, **_: Any) -> None:
        reason = str(reason or HangupReason.HANGUP_FROM_CALLER.value)
        self._signal(fx, SignalKind.BYE, reason=reason)
        self.ended_by = ("local", reason)
        self._emit(fx, "hangup", {"from": "local", "reason": reason, "streamId": self.stream_id})
        self._close(fx, now)

    def _remote_bye(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        reason = msg.reason or HangupReason.HANGUP_FROM_CALLER.value
        self.ended_by = ("remote", reason)
        self._emit(fx, "hangup", {"from": "remote", "reason": reason, "streamId": self.stream_id})
        self._close(fx, now)

    def _answer(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(SetRemoteDescription(self.call_id, "offer", msg.sdp or ""))
        fx.append(CreateAnswer(self.call_id))

    def _reanswer(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        """The publisher restarted: a new connection for its new offer."""
        self._disarm(fx, ConversationCallTimer.RESTART)
        if self.state is not ConversationCallState.RESTARTING:
            fx.append(ClosePeerConnection(self.call_id))
        self._disarm(fx, ConversationCallTimer.SETUP)
        self._open(fx, now)
        self._answer(fx, now, msg=msg)

    def _apply_answer(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(SetRemoteDescription(self.call_id, "answer", msg.sdp or ""))

    def _candidate(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        if self.state is ConversationCallState.RESTARTING:
            return  # for the closed connection
        fx.append(
            AddIceCandidate(self.call_id, msg.candidate or "", msg.sdp_mid, msg.sdp_mline_index)
        )

    def _signal_description(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        kind = SignalKind.OFFER if msg.sdp_type == "offer" else SignalKind.ANSWER
        self._signal(fx, kind, sdp=msg.sdp)

    def _signal_candidate(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._signal(
            fx,
            SignalKind.CANDIDATE,
            candidate=msg.candidate,
            sdp_mid=msg.sdp_mid,
            sdp_mline_index=msg.sdp_mline_index,
        )

    def _connected(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._disarm(fx, ConversationCallTimer.SETUP)
        self.restarts = 0
        self.lost_at = None
        fx.extend(self.owner.call_established(self, now))

    def _reconnected(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._disarm(fx, ConversationCallTimer.SETUP)  # the disconnect grace is over

    def _disconnected(self, fx: list[Effect], now: float, **_: Any) -> None:
        if ConversationCallTimer.SETUP not in self.timers:
            self._arm(fx, ConversationCallTimer.SETUP, now + self.settings.disconnect_grace)

    def _lost(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._disarm(fx, ConversationCallTimer.SETUP)
        fx.append(ClosePeerConnection(self.call_id))
        if self.lost_at is None:
            self.lost_at = now
        self._emit(fx, "disconnectionWarning", {"streamInfo": [self.stream_info()]})
        delay = self.settings.restart_delay * 2.0 ** min(self.restarts, 30)
        self._arm(fx, ConversationCallTimer.RESTART, now + delay)

    def _out_of_time(self, fx: list[Effect], now: float, **_: Any) -> bool:
        lost_at = self.lost_at if self.lost_at is not None else now
        return now - lost_at >= self.settings.max_retries_duration

    def _restart(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.restarts += 1
        self._open(fx, now)

    def _aborted(self, fx: list[Effect], now: float, **_: Any) -> None:
        code = ErrorCode.CALL_ABORTED
        self._emit(
            fx,
            "error",
            {
                "streamId": self.stream_id,
                "streamInfo": [self.stream_info()],
                "errorCode": code.value,
                "errorInfo": code.info,
                "descriptor": {
                    "iceState": "failed",
                    "callType": "media",
                    "context": "conf",
                    "mode": "mesh",
                    "type": self.role.value,
                    "remoteId": self.peer,
                },
            },
        )
        reason = HangupReason.UNABLE_TO_ESTABLISH.value
        self._signal(fx, SignalKind.BYE, reason=reason)
        self.ended_by = ("local", reason)
        for timer in list(self.timers):
            self._disarm(fx, timer)
        fx.extend(self.owner.call_ended(self, now))

    def _track(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.extend(self.owner.call_track(self, str(msg.kind), now))

    def _stats(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        stats: Mapping[str, Any] = msg.stats if isinstance(msg.stats, Mapping) else {}
        self._emit(
            fx,
            "callStatsUpdate",
            {
                "streamId": self.stream_id,
                "callId": self.call_id,
                "mesh": True,
                "contact": self.peer,
                "stats": dict(stats),
            },
        )
        if _worst_loss(stats) >= self.settings.slow_link_loss:
            self._emit(fx, "slowLink", {"callId": self.call_id, "streamId": self.stream_id})


def _worst_loss(stats: Mapping[str, Any]) -> float:
    worst = 0.0
    for key in ("audioSent", "videoSent", "audioReceived", "videoReceived"):
        part = stats.get(key)
        if isinstance(part, Mapping):
            ratio = part.get("packetLossRatio")
            if isinstance(ratio, int | float) and not isinstance(ratio, bool) and ratio == ratio:
                worst = max(worst, float(ratio))
    return worst
