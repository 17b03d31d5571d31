"""Invitations: the received side of a call (ReceivedCallInvitation) and SentInvitation.

Theory of operation
-------------------
Every invitation starts in ``INVITATION_STATUS_STANDBY`` and fires ``statusChange {status, id}``
on every change (apiRTC's ``StatusChangeInfo``), plus the deprecated events where the seed has
them (``expired`` on a received call invitation, ``response`` on a sent one).

:class:`ReceivedCallInvitation` is created by the session next to the callee's
:class:`~rtcstate.call.Call` when an ``invite`` arrives, and is the payload of the session's
``incomingCall`` / ``incomingScreenSharingCallInvitation`` events. ``accept(now)`` makes it
ACCEPTED and the call ONGOING (the call then acquires media and answers); ``decline(now,
reason)`` makes it DECLINED and ends the call with a ``bye`` carrying ``reason``
(``User_Refused_Call`` by default). Accepting when not STANDBY raises
``ERROR_INVITATION_STATE_INVALID`` (10) and changes nothing; declining when not STANDBY is
silently ignored, as in apiRTC. The caller hanging up (or the invitation's lifetime running
out) while STANDBY makes it EXPIRED. It owns no timer and no wire message of its own: its call
does.

:class:`SentInvitation` is the sender's view of an invitation its owner (a file transfer, a
conversation invite) has sent: STANDBY → ACCEPTED / DECLINED when the ``invite_answer``
arrives, EXPIRED when its optional ``expiration_time`` runs out first (timer
``invitation:<id>:expire``, cancelled by the answer), ENDED when its owner ends (a file
transfer's data call hung up), CANCELLED on ``cancel()``. Answers arriving after a decision are
dropped.

Inputs are data: :data:`SENT_INPUTS` maps the ``invite_answer`` (by its ``answer``: accept or
decline) and the expiry timer (:class:`InvitationTimer`) to the sent invitation's triggers, and
:data:`SENT_VERDICTS` declares a late answer and a stale timer ignored (an
:class:`InvitationDrop`), ``cancel`` once decided illegal (10). A received call invitation takes
no input of its own (its call tells it ``expire``); :data:`RECEIVED_VERDICTS` declares
``decline`` once decided ignored and ``accept`` illegal (10).
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

import attrs

from rtcstate import wire
from rtcstate.codes import (
    CallType,
    ErrorNumber,
    HangupReason,
    InvitationStatus,
    InvitationType,
)
from rtcstate.drops import DropReason
from rtcstate.effects import CancelTimer, Drop, Effect, Emit, StartTimer, target
from rtcstate.host import Host
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, Verdict, machine, spec_of
from rtcstate.media import MediaEvent

__all__ = [
    "RECEIVED_VERDICTS",
    "SENT_INPUTS",
    "SENT_VERDICTS",
    "InvitationDrop",
    "InvitationOwner",
    "InvitationState",
    "InvitationTimer",
    "InvitedCall",
    "ReceivedCallInvitation",
    "ReceivedCallInvitationState",
    "SentInvitation",
]


class InvitationState(enum.Enum):
    STANDBY = "INVITATION_STATUS_STANDBY"
    ACCEPTED = "INVITATION_STATUS_ACCEPTED"
    DECLINED = "INVITATION_STATUS_DECLINED"
    EXPIRED = "INVITATION_STATUS_EXPIRED"
    CANCELLED = "INVITATION_STATUS_CANCELLED"
    ENDED = "INVITATION_STATUS_ENDED"


class ReceivedCallInvitationState(enum.Enum):
    STANDBY = "INVITATION_STATUS_STANDBY"
    ACCEPTED = "INVITATION_STATUS_ACCEPTED"
    DECLINED = "INVITATION_STATUS_DECLINED"
    EXPIRED = "INVITATION_STATUS_EXPIRED"


class InvitationDrop(DropReason):
    """Why an invitation ignored an input on purpose."""

    UNEXPECTED_MESSAGE = "unexpected-message"
    """A message an invitation does not take (only a sent one takes ``invite_answer``)."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A media report: invitations take none."""
    LATE_ANSWER = "late-answer"
    """An ``invite_answer`` once the invitation was decided."""
    STALE_TIMER = "stale-timer"
    """The expiry timer once the invitation was decided (a race in the adapter)."""
    IGNORED = "ignored"
    """``decline()`` of a received invitation no longer STANDBY (ignored, as apiRTC)."""


class InvitationTimer(enum.Enum):
    """The one timer a sent invitation owns: ``invitation:<id>:expire``."""

    EXPIRE = "expire"


def _status_change(inv_id: str, state: enum.Enum) -> Emit:
    return Emit(target("invitation", inv_id), "statusChange", {"status": state.value, "id": inv_id})


class InvitationOwner(Protocol):
    """What owns a :class:`SentInvitation` that cannot cancel by itself (a file transfer)."""

    def cancel(self, now: float) -> list[Effect]: ...


class InvitedCall(Protocol):
    """What a received invitation needs of the call it carries (a
    :class:`~rtcstate.call.Call`): a narrow view, so this module does not import the call's."""

    @property
    def call_id(self) -> str: ...

    @property
    def contact(self) -> str: ...

    @property
    def call_type(self) -> CallType: ...

    @property
    def state(self) -> enum.Enum: ...

    @property
    def ended(self) -> bool: ...

    def check_command(self, trigger: str) -> None:
        """Raise the apiRTC error ``trigger`` would give now."""

    def accepted_by_invitation(
        self, fx: list[Effect], now: float, *, audio_only: bool = False
    ) -> list[Effect]:
        """The invitation was accepted: answer the call."""

    def declined_by_invitation(self, fx: list[Effect], now: float, reason: str) -> list[Effect]:
        """The invitation was declined: end the call with ``reason``."""


class OnCall:
    """Mixin of the received invitations a call carries (a call, a data channel): their id is
    the call's id (as in apiRTC), their sender the caller's user id."""

    __slots__ = ()
    call: InvitedCall
    state: enum.Enum

    @property
    def id(self) -> str:
        """The invitation id (the call's id, as in apiRTC)."""
        return self.call.call_id

    @property
    def status(self) -> InvitationStatus:
        """``getStatus()``."""
        return InvitationStatus(self.state.value)

    @property
    def sender(self) -> str:
        """``getSender()``: the caller's user id."""
        return self.call.contact

    @property
    def target(self) -> str:
        return target("invitation", self.id)

    # transition callbacks shared by the received invitations (signature: fx, now, **kw)

    def _changed(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(_status_change(self.id, self.state))

    def _expired(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(Emit(self.target, "expired", None))


RECEIVED_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "accept", "source": "STANDBY", "dest": "ACCEPTED", "after": "_changed"},
    {"trigger": "decline", "source": "STANDBY", "dest": "DECLINED", "after": "_changed"},
    {"trigger": "expire", "source": "STANDBY", "dest": "EXPIRED",
     "after": ["_changed", "_expired"]},
]  # fmt: skip


RECEIVED_VERDICTS: dict[str | tuple[str, str], Verdict] = {
    "accept": ILLEGAL,
    "decline": Ignore(InvitationDrop.IGNORED),
    "expire": Ignore(InvitationDrop.STALE_TIMER),
}
"""A received call invitation takes no input of its own (its call does, and tells it with
``expire``); ``decline`` once decided is ignored, ``accept`` raises 10."""


@machine(
    ReceivedCallInvitationState,
    RECEIVED_TRANSITIONS,
    initial=ReceivedCallInvitationState.STANDBY,
    final=[ReceivedCallInvitationState.DECLINED, ReceivedCallInvitationState.EXPIRED],
    errors={"accept": ErrorNumber.ERROR_INVITATION_STATE_INVALID},
    inputs=Inputs(unexpected=InvitationDrop.UNEXPECTED_MESSAGE),
    verdicts=RECEIVED_VERDICTS,
)
@attrs.define(slots=True, eq=False)
class ReceivedCallInvitation(OnCall):
    """apiRTC's ReceivedCallInvitation: the callee's decision about one incoming call."""

    call: InvitedCall = attrs.field(repr=lambda c: f"<Call {c.call_id} {c.state.name}>")
    state: ReceivedCallInvitationState = ReceivedCallInvitationState.STANDBY

    @property
    def call_type(self) -> str:
        """``getCallType()``."""
        return self.call.call_type.value

    def accept(self, now: float, *, audio_only: bool = False) -> list[Effect]:
        """Accept the call: ACCEPTED, the call goes ONGOING and answers (raises 10 if not
        STANDBY, changing nothing)."""
        spec = spec_of(self)
        if not spec.allowed(self.state, "accept"):
            raise spec.invalid(self, "accept")
        self.call.check_command("accept")
        fx: list[Effect] = []
        spec.fire(self, "accept", fx, now)
        return self.call.accepted_by_invitation(fx, now, audio_only=audio_only)

    def decline(
        self, now: float, reason: str | HangupReason = HangupReason.USER_REFUSED_CALL
    ) -> list[Effect]:
        """Refuse the call with ``reason``; silently ignored when not STANDBY (as apiRTC)."""
        fx: list[Effect] = []
        if not spec_of(self).fire(self, "decline", fx, now):  # Ignore verdict: not STANDBY
            return [Drop(InvitationDrop.IGNORED, f"decline of a {self.state.name} invitation")]
        return self.call.declined_by_invitation(fx, now, str(reason))

    # --- used by the call ----------------------------------------------------------------------

    def refused_unseen(self, now: float) -> None:
        """The call was refused automatically before the application was given this
        invitation: DECLINED, with no event (nobody holds it to hear one)."""
        spec_of(self).fire(self, "decline", [], now)  # ignored once decided

    def expire(self, fx: list[Effect], now: float) -> None:
        """The caller hung up (or the lifetime ran out) while STANDBY (ignored once decided)."""
        spec_of(self).fire(self, "expire", fx, now)


SENT_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "answer_accept", "source": "STANDBY", "dest": "ACCEPTED", "after": "_decided"},
    {"trigger": "answer_decline", "source": "STANDBY", "dest": "DECLINED", "after": "_decided"},
    {"trigger": "expire", "source": "STANDBY", "dest": "EXPIRED", "after": "_decided"},
    {"trigger": "cancel", "source": ["STANDBY", "ACCEPTED"], "dest": "CANCELLED",
     "after": "_decided"},
    {"trigger": "end", "source": ["STANDBY", "ACCEPTED"], "dest": "ENDED", "after": "_decided"},
]  # fmt: skip


SENT_INPUTS = Inputs(
    unexpected=InvitationDrop.UNEXPECTED_MESSAGE,
    wire={
        wire.InviteAnswer: Classify(
            "answer",
            {
                wire.AnswerChoice.ACCEPT: "answer_accept",
                wire.AnswerChoice.DECLINE: "answer_decline",
            },
        )
    },
    timers={InvitationTimer.EXPIRE: "expire"},
)
"""A sent invitation's inputs: the far side's answer (by its choice) and its expiry timer."""

SENT_VERDICTS: dict[str | tuple[str, str], Verdict] = {
    "answer_accept": Ignore(InvitationDrop.LATE_ANSWER),
    "answer_decline": Ignore(InvitationDrop.LATE_ANSWER),
    "expire": Ignore(InvitationDrop.STALE_TIMER),
    "cancel": ILLEGAL,
    "end": Ignore(InvitationDrop.STALE_TIMER),
}
"""Answers once decided are late, the timer once decided is stale, ``cancel`` raises 10."""

_TIMER_BY_NAME = {t.value: t for t in InvitationTimer}


@machine(
    InvitationState,
    SENT_TRANSITIONS,
    initial=InvitationState.STANDBY,
    final=[
        InvitationState.DECLINED,
        InvitationState.EXPIRED,
        InvitationState.CANCELLED,
        InvitationState.ENDED,
    ],
    errors={"cancel": ErrorNumber.ERROR_INVITATION_STATE_INVALID},
    inputs=SENT_INPUTS,
    verdicts=SENT_VERDICTS,
)
@attrs.define(slots=True, eq=False)
class SentInvitation:
    """apiRTC's SentInvitation: the sender's view of an invitation (sendFile, conversation…).

    Built by its owner, which sends the invitation message itself and attaches this object to
    the session under ``invitation_id`` (see :meth:`Session.track_invitation`).
    """

    invitation_id: str
    contact: str
    kind: InvitationType = InvitationType.SEND_FILE
    expiration_time: float | None = None
    state: InvitationState = InvitationState.STANDBY
    reason: str | None = None
    session: Host | None = attrs.field(default=None, repr=False)
    owner: InvitationOwner | None = attrs.field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.invitation_id

    @property
    def status(self) -> InvitationStatus:
        """``getStatus()``."""
        return InvitationStatus(self.state.value)

    @property
    def ended(self) -> bool:
        return self.state is not InvitationState.STANDBY and self.state is not (
            InvitationState.ACCEPTED
        )

    def start(self, now: float) -> list[Effect]:
        """Arm the expiration timer (if any): call once, right after sending the invitation."""
        if self.expiration_time is None or self.state is not InvitationState.STANDBY:
            return []
        return [StartTimer(self._timer(), now + self.expiration_time)]

    def cancel(self, now: float) -> list[Effect]:
        """Withdraw the invitation (raises ERROR_INVITATION_STATE_INVALID once decided).

        With an owner (a file transfer) the owner withdraws what it sent and makes this
        CANCELLED."""
        if self.owner is not None:
            return self.owner.cancel(now)
        fx: list[Effect] = []
        spec_of(self).fire(self, "cancel", fx, now)
        return self._output(fx)

    def end(self, now: float) -> list[Effect]:
        """Its owner ended (a file transfer's data call was hung up)."""
        fx: list[Effect] = []
        spec_of(self).fire(self, "end", fx, now)  # ignored once decided
        return self._output(fx)

    def _output(self, fx: list[Effect]) -> list[Effect]:
        """A command's effects, booked by the session holding this invitation (if any)."""
        return fx if self.session is None else self.session.child_output(self, fx)

    # --- Child protocol ----------------------------------------------------------------------

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        """The far side's answer (``SENT_INPUTS.wire``); never raises."""
        msg = env.message
        fx: list[Effect] = []
        _SENT_SPEC.deliver(self, type(msg), msg, fx, now, reason=getattr(msg, "reason", None))
        return fx

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        """None is declared: invitations take no media report."""
        return [Drop(InvitationDrop.UNEXPECTED_REPORT, type(event).__name__)]

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        """The expiry (``SENT_INPUTS.timers``); a stale one is dropped."""
        timer = _TIMER_BY_NAME.get(name)
        if timer is None or not _SENT_SPEC.allowed(self.state, "expire"):
            return [Drop(InvitationDrop.STALE_TIMER, f"invitation:{self.id}:{name}")]
        fx: list[Effect] = []
        _SENT_SPEC.deliver(self, timer, timer, fx, now)
        return fx

    def on_disconnected(self, now: float) -> list[Effect]:
        return []

    def on_reconnected(self, now: float) -> list[Effect]:
        return []

    # --- callbacks ---------------------------------------------------------------------------

    def _timer(self) -> str:
        return f"invitation:{self.id}:{InvitationTimer.EXPIRE.value}"

    def _decided(self, fx: list[Effect], now: float, reason: str | None = None, **_: Any) -> None:
        self.reason = reason
        if self.expiration_time is not None and self.state is not InvitationState.EXPIRED:
            fx.append(CancelTimer(self._timer()))
        fx.append(_status_change(self.id, self.state))
        fx.append(Emit(target("invitation", self.id), "response", self.state.value))


_SENT_SPEC = spec_of(SentInvitation)
