"""Creating calls: outgoing ones for ``Session.call``, incoming ones for each ``invite``.

Theory of operation
-------------------
An incoming ``invite`` reaches :func:`incoming_call` (the session's factory for
:class:`~rtcstate.wire.Invite`). It builds the callee's :class:`~rtcstate.call.Call` in RINGING
with its :class:`~rtcstate.invitation.ReceivedCallInvitation`, then decides, in this order:

1. a duplicate of a call that ended lately (or whose ``bye`` overtook its invite) is dropped;
2. the call is refused at once (a ``bye``, not surfaced to the application) with
   ``WebRTC_Plugin_Installation_needed`` when the adapter reported no WebRTC (any call),
   ``DataChannel_Not_Supported`` for a data call without data channels, or ``User_Busy`` when
   multiple calls are disallowed and another media call is live (screen sharing and data calls
   are exempt);
3. *glare*: when the other live call is our own unanswered call to the same user (both users
   called each other at once) the call with the smaller id is kept on both sides: ours is
   refused by the far side with ``User_Busy`` and theirs rings here, or the reverse — each side
   decides alone and both reach the same answer;
4. a screen-sharing call is accepted at once and surfaced as ``incomingScreenSharingCall``
   (the Call, ONGOING) unless ``user_accept_on_incoming_screen_sharing_call``, which gives
   ``incomingScreenSharingCallInvitation``; other calls give ``incomingCall`` (the
   invitation) on the session and on the contact, or are accepted at once when
   ``user_accept_on_incoming_call`` is False.
"""

from __future__ import annotations

from typing import Any

from rtcstate import wire
from rtcstate.call import Call, CallState
from rtcstate.codes import CallStatus, CallType, ErrorNumber, HangupReason
from rtcstate.effects import SESSION, Drop, Effect, Emit, target
from rtcstate.errors import InvalidStateError, RtcError
from rtcstate.session import Session, SessionState
from rtcstate.settings import validate_option

__all__ = ["incoming_call", "install", "outgoing_call"]

_EXEMPT = frozenset({CallType.SCREEN_SHARING, CallType.SCREEN_SHARING_WITH_AUDIO, CallType.DATA})
_UNANSWERED = frozenset({CallState.PREPARING, CallState.INVITING})


def install(session: Session) -> None:
    """Make ``session`` create calls for incoming invites."""
    session.set_factory(wire.Invite, incoming_call)


def outgoing_call(
    session: Session,
    contact: str,
    now: float,
    *,
    call_type: CallType | str = CallType.MEDIA,
    audio_only: bool = False,
    stream_id: str | None = None,
    nickname: str | None = None,
    data: dict[str, Any] | None = None,
    media_routing_mode: object = None,
) -> tuple[Call, list[Effect]]:
    """Build and start an outgoing call (see :meth:`Session.call`)."""
    if session.state is not SessionState.CONNECTED:
        raise InvalidStateError(
            ErrorNumber.ERROR_WRONG_STATE, "Session", "call", session.state.name,
            "Session.call needs a CONNECTED session",
        )  # fmt: skip
    if not isinstance(contact, str) or not contact or contact.startswith("/"):
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"bad contact {contact!r}")
    try:
        kind = CallType(call_type)
    except ValueError:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"bad call type {call_type!r}") from None
    if media_routing_mode is not None:
        validate_option("call_media_routing_mode", media_routing_mode)
    if type(audio_only) is not bool:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "audio_only must be a bool")
    if kind is CallType.MEDIA and audio_only:
        kind = CallType.AUDIO
    call_id = session.ids("call")
    call = Call(
        session, call_id, contact.partition("/")[0], contact, kind, outgoing=True,
        stream_id=stream_id, nickname=nickname, data=data,
    )  # fmt: skip
    session.attach("call_id", call_id, call)
    session.attach("request_id", call_id, call)
    return call, session.child_output(call, call.start(now))


def _live_media_calls(session: Session, exclude: str) -> list[Call]:
    return [
        c
        for c in session.calls().values()
        if c.call_id != exclude
        and c.call_type not in _EXEMPT
        and c.status is not CallStatus.CALL_STATUS_ENDED
    ]


def _refusal(session: Session, call: Call) -> HangupReason | None:
    caps = session.capabilities
    if not caps.webrtc:  # no call of any kind, data calls included, without WebRTC
        return HangupReason.WEBRTC_PLUGIN_INSTALLATION_NEEDED
    if call.call_type is CallType.DATA:
        return None if caps.data_channels else HangupReason.DATACHANNEL_NOT_SUPPORTED
    if session.settings.allow_multiple_calls or call.call_type in _EXEMPT:
        return None
    for other in _live_media_calls(session, call.call_id):
        glare = other.outgoing and other.contact == call.contact and other.state in _UNANSWERED
        if glare and call.call_id < other.call_id:
            continue  # theirs wins: the far side refuses ours
        return HangupReason.USER_BUSY
    return None


def incoming_call(session: Session, env: wire.Envelope, now: float) -> list[Effect]:
    """The session's factory for ``invite``: build, refuse or surface the callee's Call."""
    msg = env.message
    assert isinstance(msg, wire.Invite)
    if env.sender is None:
        return [Drop("forged", "an invite must come from a peer")]
    if session.recently_ended(msg.call_id):
        return [Drop("late-invite", f"call {msg.call_id} already ended")]
    call = Call(
        session, msg.call_id, env.sender.partition("/")[0], env.sender, msg.call_type,
        outgoing=False,
    )  # fmt: skip
    session.attach("call_id", call.call_id, call)
    session.attach("request_id", call.call_id, call)
    fx = call.offered(msg, now)
    refusal = _refusal(session, call)
    if refusal is not None:
        fx.extend(call.refuse(now, refusal))
        return session.child_output(call, fx)
    invitation = call.invitation
    assert invitation is not None
    contact = target("contact", call.contact)
    settings = session.settings
    if call.is_screen_sharing and not settings.user_accept_on_incoming_screen_sharing_call:
        session.child_output(call, fx)
        fx.extend(invitation.accept(now))
        fx.append(Emit(SESSION, "incomingScreenSharingCall", call))
        fx.append(Emit(contact, "incomingScreenSharingCall", call))
        return fx
    event = "incomingScreenSharingCallInvitation" if call.is_screen_sharing else "incomingCall"
    fx.append(Emit(SESSION, event, invitation))
    fx.append(Emit(contact, event, invitation))
    session.child_output(call, fx)
    if not settings.user_accept_on_incoming_call and not call.is_screen_sharing:
        fx.extend(invitation.accept(now))
    return fx
