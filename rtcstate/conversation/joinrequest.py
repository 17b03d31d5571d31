"""ReceivedConversationJoinRequest: a moderator's decision about one waiting device.

Theory of operation
-------------------
When a device enters the waiting room of a room whose moderator this device is, the relay sends
a ``conv_join_request``; the moderator's conversation builds one of these (STANDBY) and fires
it on the session (``conversationJoinRequest``). ``accept(now)`` asks the conversation to allow
the waiting user (``allowEntry``, repeated until the relay answers) and makes it ACCEPTED;
``decline(now, reason)`` denies it (``denyEntry``) and makes it DECLINED. Either raises
10 ERROR_INVITATION_STATE_INVALID once decided, and the conversation's own checks (JOINED,
moderator) apply first. The waiter leaving the waiting room first (cancelled
or disconnected) makes it CANCELLED; admitted or denied by another moderator (or by
``allowEntry`` / ``denyEntry`` directly) it becomes ACCEPTED / DECLINED. Every change fires
``statusChange {status, id}`` on ``invitation:<id>``. It owns no timer and no wire message:
its conversation does.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

import attrs

from rtcstate.codes import ErrorNumber, InvitationStatus
from rtcstate.effects import Effect, Emit, target
from rtcstate.machine import machine, spec_of
from rtcstate.wire_conversation import LeaveReason

__all__ = ["JoinRequestState", "ModeratedRoom", "ReceivedConversationJoinRequest"]


class JoinRequestState(enum.Enum):
    STANDBY = InvitationStatus.INVITATION_STATUS_STANDBY.value
    ACCEPTED = InvitationStatus.INVITATION_STATUS_ACCEPTED.value
    DECLINED = InvitationStatus.INVITATION_STATUS_DECLINED.value
    CANCELLED = InvitationStatus.INVITATION_STATUS_CANCELLED.value


class ModeratedRoom(Protocol):
    """What a join request needs of its conversation (a narrow view: no import of it)."""

    @property
    def name(self) -> str: ...

    def _check(self, trigger: str) -> None: ...

    def allow_entry(self, now: float, contact: str) -> list[Effect]: ...

    def deny_entry(self, now: float, contact: str, reason: str | None = None) -> list[Effect]: ...


JOIN_REQUEST_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "accept", "source": "STANDBY", "dest": "ACCEPTED", "after": "_changed"},
    {"trigger": "decline", "source": "STANDBY", "dest": "DECLINED", "after": "_changed"},
    {"trigger": "withdraw", "source": "STANDBY", "dest": "CANCELLED", "after": "_changed"},
    {"trigger": "admitted", "source": "STANDBY", "dest": "ACCEPTED", "after": "_changed"},
    {"trigger": "turned_away", "source": "STANDBY", "dest": "DECLINED", "after": "_changed"},
]

_LEFT_BY: dict[LeaveReason, str] = {
    LeaveReason.ALLOWED: "admitted",
    LeaveReason.DENIED: "turned_away",
}
"""How a waiter leaving the waiting room settles its request (other reasons: withdrawn)."""


@machine(
    JoinRequestState,
    JOIN_REQUEST_TRANSITIONS,
    initial=JoinRequestState.STANDBY,
    final=[JoinRequestState.ACCEPTED, JoinRequestState.DECLINED, JoinRequestState.CANCELLED],
    errors={
        "accept": ErrorNumber.ERROR_INVITATION_STATE_INVALID,
        "decline": ErrorNumber.ERROR_INVITATION_STATE_INVALID,
    },
)
@attrs.define(slots=True, eq=False)
class ReceivedConversationJoinRequest:
    """apiRTC's ReceivedConversationJoinRequest (the payload of ``conversationJoinRequest``)."""

    id: str
    room: str
    contact: str  # the waiting device's address
    conversation: ModeratedRoom | None = attrs.field(default=None, repr=False)
    state: JoinRequestState = JoinRequestState.STANDBY
    reason: str | None = None

    @property
    def status(self) -> InvitationStatus:
        """``getStatus()``."""
        return InvitationStatus(self.state.value)

    @property
    def sender(self) -> str:
        """``getSender()``: the waiting device's address."""
        return self.contact

    def accept(self, now: float) -> list[Effect]:
        """Admit the waiting user (``allowEntry``); raises 10 unless STANDBY."""
        self._checked("accept")
        fx: list[Effect] = []
        if self.conversation is not None:
            fx.extend(self.conversation.allow_entry(now, self.contact))
        spec_of(self).fire(self, "accept", fx, now)
        return fx

    def decline(self, now: float, reason: str | None = None) -> list[Effect]:
        """Refuse the waiting user (``denyEntry``); raises 10 unless STANDBY."""
        self._checked("decline")
        fx: list[Effect] = []
        if self.conversation is not None:
            fx.extend(self.conversation.deny_entry(now, self.contact, reason))
        self.reason = reason
        spec_of(self).fire(self, "decline", fx, now)
        return fx

    def withdrawn(self, fx: list[Effect], now: float, reason: LeaveReason | None = None) -> None:
        """The waiter left the waiting room (used by the conversation): admitted or denied by
        a moderator (ACCEPTED / DECLINED, if not decided here already), else CANCELLED."""
        trigger = "withdraw" if reason is None else _LEFT_BY.get(reason, "withdraw")
        if spec_of(self).allowed(self.state, trigger):
            spec_of(self).fire(self, trigger, fx, now)

    def _checked(self, trigger: str) -> None:
        spec = spec_of(self)
        if not spec.allowed(self.state, trigger):
            raise spec.invalid(self, trigger)
        if self.conversation is not None:
            self.conversation._check("allow_entry")

    def _changed(self, fx: list[Effect], now: float, **_: Any) -> None:
        payload = {"status": self.state.value, "id": self.id}
        fx.append(Emit(target("invitation", self.id), "statusChange", payload))
