"""Contact messaging: ``contact.sendMessage`` / ``sendData`` / ``sendCustomEvent`` outside any
conversation, acknowledged by the receiver.

Theory of operation
-------------------
Sender side. :func:`post` checks the command (CONNECTED, a non-empty text, a JSON object for
data, an event name; else it raises with the apiRTC number and nothing changes), sends one of
:data:`rtcstate.wire_contact.POSTS` to the contact (a bare user: every device; ``user/device``:
that one) and holds an :class:`OutgoingPost` (SENT) under the ``post_id`` route, with one timer,
``post:<id>:timeout`` (:data:`POST_TIMEOUT`, apiRTC's ``messageTimeOutTimer``). It ends:

* DELIVERED on the first :class:`~rtcstate.wire_contact.ContactAck` (from any device of the
  contact): :class:`~rtcstate.conversation.Resolve` of the request (a message resolves with its
  ``uuid``, as apiRTC's promise);
* NOT_DELIVERED when the relay answers ``user_not_found`` (nobody there; a user of another
  tenant looks the same), when the relay refuses the post itself (``ServerError`` naming its
  ``post_id`` in ``refused``: over a rate limit, handed over by the session), when the timer
  fires first, or when the server connection is lost before the acknowledgement:
  :class:`~rtcstate.conversation.Reject` with 8 ERROR_NOT_FOUND, 0 ERROR_OTHER (the SDK's
  delivery callback knows only ``destNotFound`` and its timeout: any other failure is 0; the
  relay's code is in the words), 11 ERROR_TIMED_OUT (the SDK's timeout rejects with 0 because
  of its ``timerReached`` bug; we keep the documented number) or 2
  ERROR_NETWORK_UNAVAILABLE, and ``messageNotDelivered``
  ``{error: {code, message}, contact, command}`` (+ ``event`` for a custom event) on
  ``contact:<user>`` (rtcstate's event on Contact: the payload of Conversation's).

The post is sent once: a post lost in the relay is reported, never repeated behind the
application's back (it may not be idempotent for the receiver).

Receiver side. The session's factories (:func:`install`) answer each post with a ``ContactAck``
to its sender and fire apiRTC's events: ``contactMessage {sender, content, uuid, time}`` on the
session and ``message {content, uuid, time, device}`` on ``contact:<user>`` (the contact is the
*user*, so ``get_contact(user).on("message")`` hears it; the sending device is in the payload);
``contactData {sender, content}`` and ``data`` (the content); ``customEvent {event, content,
sender}`` on the session and ``customEvent {event, content}`` on the contact. A post without a
sender (not from the relay's routing) is dropped. An acknowledgement for a post this session no
longer holds (a second device answering) is dropped.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

import attrs

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.conversation.machine import Reject, Resolve
from rtcstate.drops import DropReason
from rtcstate.effects import SESSION, CancelTimer, Drop, Effect, Emit, Send, StartTimer, target
from rtcstate.errors import RtcError
from rtcstate.machine import ILLEGAL, Ignore, Inputs, Verdict, machine, spec_of
from rtcstate.media import MediaEvent
from rtcstate.wire_contact import ContactAck, ContactEvent, ContactPayload, ContactText

__all__ = [
    "POST_INPUTS",
    "POST_TIMEOUT",
    "POST_TRANSITIONS",
    "ROUTE",
    "OutgoingPost",
    "PostCommand",
    "PostDrop",
    "PostState",
    "PostTimer",
    "install",
    "post",
]

ROUTE = "post_id"
POST_TIMEOUT = 10.0
"""Seconds a post waits for its acknowledgement (apiRTC's ``messageTimeOutTimer``, 10 000 ms)."""


class PostState(enum.Enum):
    SENT = "sent"
    DELIVERED = "delivered"
    NOT_DELIVERED = "not_delivered"


class PostTimer(enum.Enum):
    TIMEOUT = "timeout"


class PostCommand(enum.StrEnum):
    """What was posted (the ``command`` of its Resolve / Reject and of ``messageNotDelivered``)."""

    MESSAGE = "message"
    DATA = "data"
    CUSTOM_EVENT = "customEvent"


class PostDrop(DropReason):
    """Why contact messaging ignored an input on purpose."""

    UNEXPECTED = "unexpected-post-input"
    """An input a post does not take in its state (declared illegal)."""
    LATE_ACK = "late-ack"
    """An acknowledgement after the post was settled, or for a post no longer held (a second
    device of the contact answering)."""
    NO_SENDER = "post-without-sender"
    """A post without ``from``: only the relay's routing delivers posts, and stamps it."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A media report for a post, which owns no media."""
    STALE_TIMER = "stale-timer"
    """A timer of a post that is not armed (settled already)."""


POST_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "acked", "source": "SENT", "dest": "DELIVERED", "after": "_delivered"},
    {"trigger": "unreached", "source": "SENT", "dest": "NOT_DELIVERED", "after": "_failed"},
    {"trigger": "refused", "source": "SENT", "dest": "NOT_DELIVERED", "after": "_failed"},
    {"trigger": "timed_out", "source": "SENT", "dest": "NOT_DELIVERED", "after": "_failed"},
    {"trigger": "lost", "source": "SENT", "dest": "NOT_DELIVERED", "after": "_failed"},
]

POST_INPUTS = Inputs(
    unexpected=PostDrop.UNEXPECTED,
    wire={ContactAck: "acked", wire.UserNotFound: "unreached", wire.ServerError: "refused"},
    timers={PostTimer.TIMEOUT: "timed_out"},
)

_SETTLED = ["DELIVERED", "NOT_DELIVERED"]
POST_VERDICTS: dict[str | tuple[str, str], Verdict] = {
    **{("acked", s): Ignore(PostDrop.LATE_ACK) for s in _SETTLED},
    **{("unreached", s): Ignore(PostDrop.LATE_ACK) for s in _SETTLED},
    **{("refused", s): Ignore(PostDrop.LATE_ACK) for s in _SETTLED},
    **{("timed_out", s): Ignore(PostDrop.STALE_TIMER) for s in _SETTLED},
    **{("lost", s): ILLEGAL for s in _SETTLED},
}

#: how a post ends without delivery: trigger -> (apiRTC number, words)
_FAILURES: dict[str, tuple[ErrorNumber, str]] = {
    "unreached": (ErrorNumber.ERROR_NOT_FOUND, "the contact is not online"),
    "refused": (ErrorNumber.ERROR_OTHER, "refused by the relay"),
    "timed_out": (ErrorNumber.ERROR_TIMED_OUT, "no acknowledgement from the contact"),
    "lost": (ErrorNumber.ERROR_NETWORK_UNAVAILABLE, "the server connection was lost"),
}


@machine(
    PostState,
    POST_TRANSITIONS,
    initial=PostState.SENT,
    final=[PostState.DELIVERED, PostState.NOT_DELIVERED],
    inputs=POST_INPUTS,
    verdicts=POST_VERDICTS,
    trigger_keyword="trigger",
)
@attrs.define(slots=True, eq=False)
class OutgoingPost:
    """One message, data or custom event sent to a contact, until acknowledged or failed."""

    id: str
    contact: str  # the destination as given: a bare user or ``user/device``
    command: PostCommand
    value: Any = None  # what the promise resolves with (a message's uuid)
    event: str | None = None
    state: PostState = PostState.SENT

    @property
    def ended(self) -> bool:
        return self.state is not PostState.SENT

    @property
    def user(self) -> str:
        return self.contact.partition("/")[0]

    @property
    def target(self) -> str:
        return target("contact", self.user)

    @property
    def timer_id(self) -> str:
        return f"post:{self.id}:{PostTimer.TIMEOUT.value}"

    # --- Child protocol ----------------------------------------------------------------------

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        fx: list[Effect] = []
        msg = env.message
        spec_of(self).deliver(self, type(msg), msg, fx, now, msg=msg)
        return fx

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        return [Drop(PostDrop.UNEXPECTED_REPORT, type(event).__name__)]

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        if name != PostTimer.TIMEOUT.value:
            return [Drop(PostDrop.STALE_TIMER, f"{self.timer_id}: {name}")]
        fx: list[Effect] = []
        spec_of(self).deliver(self, PostTimer.TIMEOUT, None, fx, now)
        return fx

    def on_disconnected(self, now: float) -> list[Effect]:
        fx: list[Effect] = []
        if spec_of(self).allowed(self.state, "lost"):
            spec_of(self).fire(self, "lost", fx, now)
        return fx

    def on_reconnected(self, now: float) -> list[Effect]:
        return []

    # --- callbacks -----------------------------------------------------------------------------

    def _delivered(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(CancelTimer(self.timer_id))
        fx.append(Resolve(self.target, self.id, self.command.value, self.value))

    def _failed(
        self, fx: list[Effect], now: float, trigger: str = "", msg: Any = None, **_: Any
    ) -> None:
        if trigger != "timed_out":
            fx.append(CancelTimer(self.timer_id))
        code, info = _FAILURES[trigger]
        if isinstance(msg, wire.ServerError):
            info = f"{info}: {msg.code}"
        fx.append(Reject(self.target, self.id, self.command.value, code.value, info))
        payload: dict[str, Any] = {
            "error": {"code": code.value, "message": info},
            "contact": self.user,
            "command": self.command.value,
        }
        if self.event is not None:
            payload["event"] = self.event
        fx.append(Emit(self.target, "messageNotDelivered", payload))


class PostHost(Protocol):
    """What contact messaging needs of its session (no import of it)."""

    @property
    def connected(self) -> bool: ...

    @property
    def address(self) -> str: ...

    def attach(self, route: str, key: str, child: Any) -> None: ...

    def child_output(
        self, child: Any, fx: list[Effect], key: str | None = None
    ) -> list[Effect]: ...

    def set_factory(self, message_type: type[wire.Message], factory: Any) -> None: ...


def _check_contact(contact: object) -> str:
    if not isinstance(contact, str) or not contact or contact.count("/") > 1:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"not a contact: {contact!r}")
    user, _, device = contact.partition("/")
    if not user or ("/" in contact and not device):
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"not a contact: {contact!r}")
    return contact


def post(
    host: PostHost,
    post_id: str,
    contact: str,
    now: float,
    command: PostCommand,
    content: Any = None,
    *,
    uuid: int = 0,
    event: str | None = None,
) -> tuple[OutgoingPost, list[Effect]]:
    """Send a message (``content`` a non-empty str, resolves with ``uuid``), data (a dict) or a
    custom event (``event`` a non-empty name, ``content`` a dict or None) to ``contact``.

    Raises 16 ERROR_WRONG_STATE unless connected, 9 ERROR_BAD_PARAMETER for a bad argument
    (nothing sent, nothing held then).
    """
    _check_contact(contact)
    message: wire.Message
    value: Any = None
    if command is PostCommand.MESSAGE:
        if not isinstance(content, str) or not content:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "a message is a non-empty string")
        message, value = ContactText(post_id, uuid, content), uuid
    elif command is PostCommand.DATA:
        if not isinstance(content, dict):
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "data is a JSON object (a dict)")
        message = ContactPayload(post_id, content)
    else:
        if not isinstance(event, str) or not event:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "a custom event needs a name")
        if content is not None and not isinstance(content, dict):
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "an event's content is a dict")
        message = ContactEvent(post_id, event, content)
    if not host.connected:
        raise RtcError(ErrorNumber.ERROR_WRONG_STATE, f"{command.value} while not connected")
    try:
        wire.encode(message)
    except wire.EncodeError as exc:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"cannot be sent: {exc}") from None
    out = OutgoingPost(post_id, contact, command, value, event)
    host.attach(ROUTE, post_id, out)
    fx: list[Effect] = [
        Send(contact, message),
        StartTimer(out.timer_id, now + POST_TIMEOUT),
    ]
    return out, host.child_output(out, fx, post_id)


def install(host: PostHost) -> None:
    """Answer every post received (the session's factories for the post messages) and drop
    acknowledgements of posts no longer held."""
    host.set_factory(ContactText, _received)
    host.set_factory(ContactPayload, _received)
    host.set_factory(ContactEvent, _received)
    host.set_factory(ContactAck, _late_ack)


def _late_ack(host: PostHost, env: wire.Envelope, now: float) -> list[Effect]:
    msg = env.message
    assert isinstance(msg, ContactAck)
    return [Drop(PostDrop.LATE_ACK, f"ack of the settled post {msg.post_id}")]


def _received(host: PostHost, env: wire.Envelope, now: float) -> list[Effect]:
    msg = env.message
    frm = env.sender
    if frm is None:
        return [Drop(PostDrop.NO_SENDER, f"{msg.TYPE} without from")]
    contact = target("contact", frm.partition("/")[0])
    fx: list[Effect] = [Send(frm, ContactAck(getattr(msg, "post_id")))]  # noqa: B009
    if isinstance(msg, ContactText):
        body = {"content": msg.content, "uuid": msg.uuid, "time": now}
        fx.append(Emit(SESSION, "contactMessage", {"sender": frm, **body}))
        fx.append(Emit(contact, "message", {**body, "device": frm}))
    elif isinstance(msg, ContactPayload):
        fx.append(Emit(SESSION, "contactData", {"sender": frm, "content": msg.content}))
        fx.append(Emit(contact, "data", msg.content))
    elif isinstance(msg, ContactEvent):
        fx.append(
            Emit(SESSION, "customEvent", {"event": msg.event, "content": msg.content,
                                          "sender": frm})
        )  # fmt: skip
        fx.append(Emit(contact, "customEvent", {"event": msg.event, "content": msg.content}))
    return fx
