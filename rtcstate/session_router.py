"""The session's router: which child machine an input is for, declared as data.

Theory of operation
-------------------
A wire message class names its route field (``ROUTE``: ``call_id``, ``invitation_id``,
``channel_id``, ``transfer_id``, ``ref_id``), and so does a media report. :data:`ROUTE_KINDS`
lists the routes a session holds children under, each with the *kind* that spells its children's
timer ids (``call:<id>:<name>``); a new family of children is one line there. :class:`Router`
keeps one dict per route, so finding the child of an input is two O(1) lookups; ``ref_id`` (a
reference to any object) looks in every route. A message that opens a new object (``Invite``,
``DataChannelInvite``, ``FileOffer``) goes to the factory installed for its class.

A message naming an id no child holds gets the defined answer of :data:`UNKNOWN_ID_POLICY` (an
``error`` event with the documented code, a reply, an acknowledgement, or a ``Drop``), never an
exception. The router remembers the calls that ended lately (bounded), so that a late duplicate
(an ``InviteAnswer``, a crossing ``Bye``) is answered as the far side expects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from rtcstate import wire
from rtcstate.codes import ErrorCode, HangupFrom, HangupReason
from rtcstate.effects import Drop, Effect, Send
from rtcstate.media import MediaEvent
from rtcstate.session_connection import SessionDrop, error_event

__all__ = [
    "ROUTE_KINDS",
    "UNKNOWN_ID_POLICY",
    "Child",
    "Factory",
    "Router",
    "UnknownIdAnswer",
]

ROUTE_KINDS: Mapping[str, str] = {
    "call_id": "call",
    "invitation_id": "invitation",
    "channel_id": "dataChannel",
    "transfer_id": "transfer",
    "request_id": "media",
    "hold_id": "hold",
    "room": "conversation",  # conversations by room name (rtcstate.conversation.registry)
    "ccall_id": "conversationCall",  # a conversation's calls (rtcstate.conversation.slots)
    "post_id": "post",  # contact messages awaiting their ack (rtcstate.contact_post)
    "stream_id": "stream",  # streams the application created (rtcstate.stream: media reports)
}
"""Route field of a message or media report → the kind of child it addresses.

A child's timers are named ``<kind>:<id>:<name>``; the session files them under the child when
they are armed (:mod:`rtcstate.session_timers`). ``hold_id`` is no message field: under it a data
call or its describing message waits for the other half
(:class:`~rtcstate.call_factory.DataCallHold`, keyed by the call id)."""

KIND_ROUTES: Mapping[str, str] = {kind: route for route, kind in ROUTE_KINDS.items()}
"""The inverse of :data:`ROUTE_KINDS`: a timer id's kind → the route of its owner."""


class Child(Protocol):
    """What a machine owned by the session implements (calls, invitations, channels, …)."""

    @property
    def ended(self) -> bool: ...

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]: ...

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]: ...

    def timer_fired(self, name: str, now: float) -> list[Effect]: ...

    def on_disconnected(self, now: float) -> list[Effect]: ...

    def on_reconnected(self, now: float) -> list[Effect]: ...


Factory = Callable[[Any, wire.Envelope, float], list[Effect]]
"""Creates a child for a message that opens a new object (``Invite``, ``FileOffer``, …); called
with the session."""


@attrs.frozen(slots=True)
class UnknownIdAnswer:
    """What the session does with a message for an id it does not hold."""

    error: ErrorCode | None = None
    reply: HangupReason | None = None
    drop: str | None = None
    ack: str | None = None  # acknowledge (``Ack(what=...)``) so the sender stops retransmitting


UNKNOWN_ID_POLICY: Mapping[type[wire.Message], UnknownIdAnswer] = {
    wire.Answer: UnknownIdAnswer(error=ErrorCode.NOT_MATCHING_CALLID_ON_200OK),
    wire.Update: UnknownIdAnswer(
        error=ErrorCode.CALL_NOT_FOUND_ON_UPDATE, reply=HangupReason.CALL_NOT_FOUND
    ),
    wire.UpdateOk: UnknownIdAnswer(error=ErrorCode.CALL_NOT_FOUND_ON_200UPDATE),
    wire.Bye: UnknownIdAnswer(drop="late or duplicated bye", ack="bye"),
    # (an invite ack for a call that ended User_Not_Found is answered with a bye: unknown_id)
    wire.Ack: UnknownIdAnswer(drop="ack for an ended or unknown call"),
    wire.StreamState: UnknownIdAnswer(drop="stream state for an ended or unknown call"),
    wire.Candidate: UnknownIdAnswer(drop="candidate for an ended or unknown call"),
    wire.MediaState: UnknownIdAnswer(drop="media state for an ended or unknown call"),
    wire.UserNotFound: UnknownIdAnswer(drop="user-not-found for an ended object"),
    wire.FileCancel: UnknownIdAnswer(drop="cancel of an ended or unknown transfer"),
    wire.DataChannelAck: UnknownIdAnswer(drop="ack for an ended or unknown data channel"),
    wire.Invite: UnknownIdAnswer(
        error=ErrorCode.MESSAGE_FOR_UNKNOWN_ID, reply=HangupReason.CALL_NOT_FOUND
    ),
}
"""The defined answer to a message naming an unknown id, by message type.

Types not listed get an ``error`` event ``MESSAGE_FOR_UNKNOWN_ID``. An ``Invite`` only lands
here when no factory for calls is installed."""

_DEFAULT_UNKNOWN = UnknownIdAnswer(error=ErrorCode.MESSAGE_FOR_UNKNOWN_ID)
_ENDED_CALLS_KEPT = 4096


def _unknown_reply(
    env: wire.Envelope, reason: HangupReason | None, ack: str | None
) -> list[Effect]:
    call_id = getattr(env.message, "call_id", None)
    if env.sender is None or call_id is None:
        return []
    if ack is not None:
        return [Send(env.sender, wire.Ack(call_id=call_id, what=ack))]
    if reason is None:
        return []
    return [Send(env.sender, wire.Bye(call_id=call_id, reason=reason.value))]


def _unreached_reason(child: object) -> str | None:
    """The reason of a call we placed that ended because the relay found no device of the
    callee (its invite or its bye undelivered: a copy of the invite may ring somewhere)."""
    cause = getattr(child, "hangup_cause", None)
    if not getattr(child, "outgoing", False) or not getattr(child, "unreached", False):
        return None
    return None if cause is None else str(cause[1])


def _winning_reason(child: object) -> str | None:
    """The reason a crossing bye must be acknowledged with once ``child`` is gone: its own,
    if it is a call this side placed and ended locally (the caller's reason wins)."""
    cause = getattr(child, "hangup_cause", None)
    if cause is None or cause[0] is not HangupFrom.LOCAL:
        return None
    if not getattr(child, "outgoing", False) and not getattr(child, "told_first", False):
        return None  # a callee's end wins only if it told its application first (offline)
    reason: str = cause[1]
    return reason


def _bounded(memory: dict[str, Any], key: str, value: Any) -> None:
    memory[key] = value
    if len(memory) > _ENDED_CALLS_KEPT:
        del memory[next(iter(memory))]


@attrs.define(slots=True, eq=False)
class Router:
    """The children of a session by route and id, the factories, and the unknown-id answers."""

    routes: dict[str, dict[str, Child]] = attrs.field(
        factory=lambda: {route: {} for route in ROUTE_KINDS}
    )
    factories: dict[type[wire.Message], Factory] = attrs.field(factory=dict)
    #: call id -> the reason a crossing bye must be acknowledged with (see ``remember_ended``)
    ended_calls: dict[str, str | None] = attrs.field(factory=dict)
    #: our calls that ended because the relay found no device of the callee (its invite or bye
    #: undelivered), with their reason (bounded, oldest forgotten first): a callee that still
    #: rings for one of them is answered with a bye carrying that reason
    unreached: dict[str, str] = attrs.field(factory=dict)

    def attach(self, route: str, key: str, child: Child) -> None:
        if route not in self.routes:
            raise ValueError(f"unknown route {route!r}; known: {sorted(self.routes)}")
        self.routes[route][key] = child

    def find(self, route: str, key: str) -> Child | None:
        """The child for an input routed by ``route`` = ``key`` (``ref_id``: any route)."""
        children = self.routes.get(route)
        child = None if children is None else children.get(key)
        if child is None and route == "ref_id":
            for children in self.routes.values():
                child = children.get(key)
                if child is not None:
                    break
        return child

    def routes_of(self, child: Child, key: str) -> list[str]:
        """The routes ``child`` is registered under with ``key`` (a call: ``call_id`` and, while
        media is asked for, ``request_id``)."""
        return [route for route, children in self.routes.items() if children.get(key) is child]

    def ended(self, child: Child, route: str, key: str) -> None:
        """Remember what a late duplicate for the ended ``child`` must be answered with."""
        if route in ("call_id", "invitation_id"):
            self.remember_ended(key, _winning_reason(child))
            reason = _unreached_reason(child) if route == "call_id" else None
            if reason is not None:
                _bounded(self.unreached, key, reason)

    def recently_ended(self, call_id: str) -> bool:
        return call_id in self.ended_calls

    def remember_ended(self, call_id: str, reason: str | None = None) -> None:
        if reason is None and call_id in self.ended_calls:
            return
        _bounded(self.ended_calls, call_id, reason)

    def each_child(self) -> list[tuple[str, str, Child]]:
        """Every child once (a call registered under two routes is listed under the first)."""
        out: list[tuple[str, str, Child]] = []
        told: set[int] = set()
        for route, children in self.routes.items():
            for key, child in list(children.items()):
                if id(child) not in told:
                    told.add(id(child))
                    out.append((route, key, child))
        return out

    def unknown_id(self, env: wire.Envelope) -> list[Effect]:
        """The answer to ``env`` naming an id no child holds (:data:`UNKNOWN_ID_POLICY`)."""
        msg = env.message
        if type(msg) is wire.Bye:
            self.remember_ended(msg.call_id)  # a delayed invite for it must not ring
        elif type(msg) is wire.InviteAnswer and self.recently_ended(msg.invitation_id):
            detail = f"answer to the finished invitation {msg.invitation_id}"
            return [Drop(SessionDrop.LATE_ANSWER, detail)]
        answer = UNKNOWN_ID_POLICY.get(type(msg), _DEFAULT_UNKNOWN)
        route = msg.ROUTE or ""
        fx: list[Effect] = []
        if answer.error is not None:
            fx.append(
                error_event(
                    answer.error,
                    {"type": msg.TYPE, "id": getattr(msg, route, None), "from": env.sender},
                )
            )
        if (
            type(msg) is wire.Ack
            and msg.what == "invite"
            and env.sender is not None
            and msg.call_id in self.unreached
        ):
            # a callee rings for a call we ended when the relay found none of its devices (a
            # copy of the invite had reached it; it acknowledges again after reconnecting)
            reason = self.unreached[msg.call_id]
            fx.append(Send(env.sender, wire.Bye(call_id=msg.call_id, reason=reason)))
        elif type(msg) is wire.Bye and env.sender is not None and self.ended_calls.get(msg.call_id):
            won = self.ended_calls[msg.call_id]  # our reason wins the crossing (we called)
            fx.append(Send(env.sender, wire.Ack(call_id=msg.call_id, what="bye", reason=won)))
        elif (
            type(msg) is wire.Update
            and env.sender is not None
            and (told := self.ended_calls.get(msg.call_id))
        ):
            # the far side renegotiates a call we ended (offline, our bye given up with it):
            # it hears our reason, not Call_not_found
            fx.append(Send(env.sender, wire.Bye(call_id=msg.call_id, reason=told)))
        elif answer.reply is not None or answer.ack is not None:
            fx.extend(_unknown_reply(env, answer.reply, answer.ack))
        if answer.drop is not None:
            fx.append(Drop(SessionDrop.UNKNOWN_ID, answer.drop))
        return fx
