"""Conversation invitations: SentConversationInvitation and ReceivedConversationInvitation.

Theory of operation
-------------------
A member of a conversation invites a user (apiRTC's ``conversation.sendInvitation(contact,
{expirationTime})``): :func:`send_invitation` sends ``conv_invitation``
(:mod:`rtcstate.wire_conv_invitation`) to the user, through the relay like call signaling, and
returns a :class:`SentConversationInvitation`, held by the session under ``invitation_id``.
It is the sender's :class:`~rtcstate.invitation.SentInvitation` (type ``conversation`` or
``conference``: STANDBY -> ACCEPTED / DECLINED on the invitee's ``invite_answer``, EXPIRED when
``expiration`` seconds pass first, timer ``invitation:<id>:expire``; ``statusChange`` and
``response``) plus apiRTC's ``receive`` event, fired once, when a device of the invitee
acknowledges the invitation (``conv_invitation_received``). The relay answering
``user_not_found`` (the user has no device online) makes it DECLINED with that reason.

On the invitee's devices the session's factory builds a :class:`ReceivedConversationInvitation`
(STANDBY), acknowledges it to the sender, and fires ``conversationInvitation`` on the session
and on ``contact:<inviter>``; a duplicate of the message is acknowledged again and dropped.
``accept(now)`` (STANDBY only, else 16 ERROR_WRONG_STATE, as apiRTC) answers ``accept`` and
joins the conversation (``get_conversation`` / ``get_conference`` of the room, with the
invitation's password): ACCEPTED; whether the join succeeds is the conversation's business (its
promise), the invitation stays ACCEPTED either way, as in apiRTC. ``decline(now, reason)``
answers ``decline``: DECLINED; declining a decided invitation does nothing (apiRTC ignores it).
No expiry timer on the receiving side (apiRTC has none); a session holds at most
:data:`MAX_PENDING` undecided ones, and declines any more at once (``Too_Many_Invitations``:
what one stranger may cost a device is bounded). Each change fires ``statusChange
{status, id}`` on ``invitation:<id>``. Once decided it ends and the session forgets it.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from rtcstate import wire
from rtcstate.codes import ErrorNumber, InvitationStatus, InvitationType
from rtcstate.conversation import registry
from rtcstate.conversation.host import ConversationHost
from rtcstate.conversation.machine import Conference, Conversation, user_of
from rtcstate.drops import DropReason
from rtcstate.effects import SESSION, Drop, Effect, Emit, Send, target
from rtcstate.errors import RtcError
from rtcstate.invitation import SentInvitation
from rtcstate.machine import machine, spec_of
from rtcstate.media import MediaEvent
from rtcstate.wire_conv_invitation import ConvInvitation, ConvInvitationReceived

__all__ = [
    "MAX_PENDING",
    "ConvInvitationDrop",
    "ReceivedConversationInvitation",
    "ReceivedConversationInvitationState",
    "SentConversationInvitation",
    "install",
    "send_invitation",
]

ROUTE = "invitation_id"
TOO_MANY = "Too_Many_Invitations"


class ConvInvitationDrop(DropReason):
    """Why a conversation invitation ignored an input on purpose."""

    DUPLICATE_INVITATION = "duplicate-invitation"
    """A copy of an invitation already received (acknowledged again, not shown twice)."""
    LATE_RECEIPT = "late-receipt"
    """A receipt after the first one (another device of the invitee, or a duplicate)."""
    NOT_FOR_INVITEE = "not-for-invitee"
    """A message a received invitation does not take (only the invitation itself)."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A media report or a timer for an invitation, which owns neither."""
    TOO_MANY = "too-many-invitations"
    """A new invitation while ``MAX_PENDING`` received ones wait for a decision: declined at
    once (``Too_Many_Invitations``), so a stranger cannot grow a session without bound."""


MAX_PENDING = 64
"""Received conversation invitations a session holds undecided at most."""


# --- the sender's side ----------------------------------------------------------------------


@attrs.define(slots=True, eq=False)
class SentConversationInvitation:
    """The sender's invitation to a conversation: a SentInvitation plus ``receive``."""

    invitation: SentInvitation
    room: str
    received: bool = False

    @property
    def id(self) -> str:
        return self.invitation.id

    @property
    def status(self) -> InvitationStatus:
        return self.invitation.status

    @property
    def ended(self) -> bool:
        return self.invitation.ended

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        msg = env.message
        if type(msg) is ConvInvitationReceived:
            if self.received:
                return [Drop(ConvInvitationDrop.LATE_RECEIPT, f"receipt of {self.id}")]
            self.received = True
            return [Emit(target("invitation", self.id), "receive", {"contact": env.sender})]
        if type(msg) is wire.UserNotFound:
            # nobody got it: it will never be answered
            answer = wire.InviteAnswer(self.id, wire.AnswerChoice.DECLINE, "User_Not_Found")
            return self.invitation.receive(wire.Envelope(answer), now)
        return self.invitation.receive(env, now)

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        return self.invitation.media_event(event, now)

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        return self.invitation.timer_fired(name, now)

    def on_disconnected(self, now: float) -> list[Effect]:
        return []

    def on_reconnected(self, now: float) -> list[Effect]:
        return []


def send_invitation(
    host: ConversationHost,
    conversation: Conversation,
    contact: str,
    now: float,
    expiration: float | None = None,
) -> tuple[SentConversationInvitation, list[Effect]]:
    """Invite user ``contact`` to ``conversation`` (``sendInvitation``); ``expiration``:
    seconds until EXPIRED without an answer. Raises 9 for a bad argument and 16 when the
    session is not connected, before anything is sent."""
    if not isinstance(contact, str) or not contact:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "a contact is a non-empty user id")
    if expiration is not None and not expiration > 0:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "expiration must be > 0 seconds")
    if not host.connected:
        raise RtcError(ErrorNumber.ERROR_WRONG_STATE, "the session is not connected")
    kind = (
        InvitationType.CONFERENCE if isinstance(conversation, Conference) else
        InvitationType.CONVERSATION
    )  # fmt: skip
    inner = SentInvitation(host.ids("invitation"), user_of(contact), kind, expiration)
    inner.session = host
    sent = SentConversationInvitation(inner, conversation.name)
    host.attach(ROUTE, sent.id, sent)
    message = ConvInvitation(sent.id, conversation.name, kind, conversation.password)
    fx: list[Effect] = [Send(user_of(contact), message), *inner.start(now)]
    return sent, host.child_output(sent, fx)


# --- the invitee's side ---------------------------------------------------------------------


class ReceivedConversationInvitationState(enum.Enum):
    STANDBY = InvitationStatus.INVITATION_STATUS_STANDBY.value
    ACCEPTED = InvitationStatus.INVITATION_STATUS_ACCEPTED.value
    DECLINED = InvitationStatus.INVITATION_STATUS_DECLINED.value


RECEIVED_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "accept", "source": "STANDBY", "dest": "ACCEPTED", "after": "_answer"},
    {"trigger": "decline", "source": "STANDBY", "dest": "DECLINED", "after": "_answer"},
]

_S = ReceivedConversationInvitationState


@machine(
    ReceivedConversationInvitationState,
    RECEIVED_TRANSITIONS,
    initial=_S.STANDBY,
    final=[_S.ACCEPTED, _S.DECLINED],
    errors={"accept": ErrorNumber.ERROR_WRONG_STATE, "decline": ErrorNumber.ERROR_WRONG_STATE},
)
@attrs.define(slots=True, eq=False)
class ReceivedConversationInvitation:
    """apiRTC's ReceivedConversationInvitation (payload of ``conversationInvitation``)."""

    id: str
    room: str
    sender: str  # the inviting device's address
    kind: InvitationType = InvitationType.CONVERSATION
    password: str | None = attrs.field(default=None, repr=False)
    host: ConversationHost | None = attrs.field(default=None, repr=False)
    state: ReceivedConversationInvitationState = _S.STANDBY
    reason: str | None = None

    @property
    def status(self) -> InvitationStatus:
        """``getStatus()``."""
        return InvitationStatus(self.state.value)

    @property
    def ended(self) -> bool:
        return self.state is not _S.STANDBY

    @property
    def target(self) -> str:
        return target("invitation", self.id)

    def conversation(self) -> Conversation | None:
        """``getConversation()``: the conversation held for the room (once accepted)."""
        if self.host is None:
            return None
        found = self.host.child(registry.ROUTE, self.room)
        return found if isinstance(found, Conversation) else None

    def accept(self, now: float) -> list[Effect]:
        """Answer ``accept`` and join the room (16 ERROR_WRONG_STATE unless STANDBY)."""
        spec = spec_of(self)
        if not spec.allowed(self.state, "accept"):
            raise spec.invalid(self, "accept")
        conv: Conversation | None = None
        if self.host is not None:  # raises (nothing changed) if the room is held otherwise
            get = (
                registry.get_conference if self.kind is InvitationType.CONFERENCE else
                registry.get_conversation
            )  # fmt: skip
            conv = get(self.host, self.room, password=self.password)
        fx: list[Effect] = []
        spec.fire(self, "accept", fx, now)
        if conv is not None and conv.state.name == "NOT_JOINED":
            fx.extend(conv.join(now, password=self.password))
        return self._output(fx)

    def decline(self, now: float, reason: str | None = None) -> list[Effect]:
        """Answer ``decline`` (nothing once decided: apiRTC ignores it)."""
        if self.state is not _S.STANDBY:
            return []
        self.reason = reason
        fx: list[Effect] = []
        spec_of(self).fire(self, "decline", fx, now)
        return self._output(fx)

    # --- Child protocol (duplicates of the invitation find it) ---------------------------------

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        if type(env.message) is ConvInvitation and env.sender is not None:
            return [
                Send(env.sender, ConvInvitationReceived(self.id)),
                Drop(ConvInvitationDrop.DUPLICATE_INVITATION, f"invitation {self.id} again"),
            ]
        return [Drop(ConvInvitationDrop.NOT_FOR_INVITEE, f"{env.message.TYPE} for {self.id}")]

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        return [Drop(ConvInvitationDrop.UNEXPECTED_REPORT, type(event).__name__)]

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        return [Drop(ConvInvitationDrop.UNEXPECTED_REPORT, f"timer {name}")]

    def on_disconnected(self, now: float) -> list[Effect]:
        return []

    def on_reconnected(self, now: float) -> list[Effect]:
        return []

    # --- internals ---------------------------------------------------------------------------

    def _answer(self, fx: list[Effect], now: float, **_: Any) -> None:
        choice = (
            wire.AnswerChoice.ACCEPT if self.state is _S.ACCEPTED else wire.AnswerChoice.DECLINE
        )
        fx.append(Send(self.sender, wire.InviteAnswer(self.id, choice, self.reason)))
        fx.append(Emit(self.target, "statusChange", {"status": self.state.value, "id": self.id}))

    def _output(self, fx: list[Effect]) -> list[Effect]:
        return fx if self.host is None else self.host.child_output(self, fx)


def install(host: ConversationHost) -> None:
    """Build a :class:`ReceivedConversationInvitation` for each new ``conv_invitation`` (and
    drop a receipt for an invitation the session no longer holds)."""
    host.set_factory(ConvInvitation, _received)
    host.set_factory(ConvInvitationReceived, _late_receipt)


def _late_receipt(host: ConversationHost, env: wire.Envelope, now: float) -> list[Effect]:
    msg = env.message
    assert isinstance(msg, ConvInvitationReceived)
    return [Drop(ConvInvitationDrop.LATE_RECEIPT, f"receipt of the forgotten {msg.invitation_id}")]


def _received(host: ConversationHost, env: wire.Envelope, now: float) -> list[Effect]:
    msg = env.message
    assert isinstance(msg, ConvInvitation)
    if env.sender is None:
        return [Drop(ConvInvitationDrop.NOT_FOR_INVITEE, "an invitation must come from a user")]
    pending = sum(
        isinstance(c, ReceivedConversationInvitation) for c in host.children(ROUTE).values()
    )
    if pending >= MAX_PENDING:
        answer = wire.InviteAnswer(msg.invitation_id, wire.AnswerChoice.DECLINE, TOO_MANY)
        detail = f"{pending} invitations wait already; {msg.invitation_id} declined"
        return [Send(env.sender, answer), Drop(ConvInvitationDrop.TOO_MANY, detail)]
    inv = ReceivedConversationInvitation(
        msg.invitation_id, msg.room, env.sender, msg.kind, msg.password, host
    )
    host.attach(ROUTE, inv.id, inv)
    return [
        Send(env.sender, ConvInvitationReceived(inv.id)),
        Emit(SESSION, "conversationInvitation", inv),
        Emit(target("contact", user_of(env.sender)), "conversationInvitation", inv),
    ]
