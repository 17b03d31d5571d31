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
4. a *data* call is never surfaced as ``incomingCall``: it only carries something another
   message describes (``data_channel_invite`` for a data channel), and the two may arrive in
   either order. The first to arrive is *held* (a :class:`DataCallHold`, see below); when its
   other half comes, the pairing function of that message builds the application's object
   (a :class:`~rtcstate.datachannel.ReceivedDataChannelInvitation`, surfaced as
   ``dataChannelInvitation``);
5. a screen-sharing call is accepted at once and surfaced as ``incomingScreenSharingCall``
   (the Call, ONGOING) unless ``user_accept_on_incoming_screen_sharing_call``, which gives
   ``incomingScreenSharingCallInvitation``; other calls give ``incomingCall`` (the
   invitation) on the session and on the contact, or are accepted at once when
   ``user_accept_on_incoming_call`` is False.

Holding. A :class:`DataCallHold` is a small child of the session under the ``hold_id`` route,
keyed by the data call's id, holding either the ringing data call or the message that
describes it (with the function that pairs the two). At most :data:`MAX_HELD` are held at
once (a data call beyond that is refused with ``User_Busy``; a message beyond that is dropped
unacknowledged, so its sender retransmits it later), each for at most :data:`HOLD_TIME`
seconds (timer ``hold:<call id>:expire``): a message left alone is forgotten, a data call still
ringing unpaired is refused with ``Unable_to_establish``. Both halves must come from the same
user. A held call rings (its invite is acknowledged) but is not surfaced; the owner its pairing
gives it then hears its events (:class:`~rtcstate.call.CallOwner`). Other message kinds
(a file offer) pair with data calls the same way: :func:`held`, :func:`hold_message` and
:meth:`DataCallHold.release`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from rtcstate import wire
from rtcstate.call import Call, CallHost, CallState
from rtcstate.codes import CallStatus, CallType, ErrorNumber, HangupReason
from rtcstate.drops import DropReason
from rtcstate.effects import SESSION, Drop, Effect, Emit, StartTimer, target
from rtcstate.errors import InvalidStateError, RtcError
from rtcstate.machine import Ignore, Inputs, machine, spec_of
from rtcstate.media import MediaEvent
from rtcstate.settings import validate_option

__all__ = [
    "HOLD_INPUTS",
    "HOLD_TIME",
    "HOLD_TRANSITIONS",
    "MAX_HELD",
    "DataCallHold",
    "FactoryDrop",
    "FactoryHost",
    "HoldState",
    "HoldTimer",
    "Pairing",
    "held",
    "hold_message",
    "incoming_call",
    "install",
    "new_outgoing_call",
    "outgoing_call",
]

_EXEMPT = frozenset({CallType.SCREEN_SHARING, CallType.SCREEN_SHARING_WITH_AUDIO, CallType.DATA})
_UNANSWERED = frozenset({CallState.PREPARING, CallState.INVITING})

HOLD_TIME = 30.0
"""Seconds a data call or its describing message waits for the other (the initiator
retransmits its message for about 15 s: 0.5 s doubling to 4 s, 7 sends)."""
MAX_HELD = 64
"""Data calls and describing messages held at once, per session."""
HOLD_ROUTE = "hold_id"


class FactoryHost(CallHost, Protocol):
    """What the factories of calls, data channels and file transfers need of their session
    beyond :class:`~rtcstate.call.CallHost`: looking calls up."""

    def calls(self) -> Mapping[str, Call]:
        """The calls the session holds, by id."""

    def get_call(self, call_id: str) -> Call | None:
        """The call ``call_id`` (None if not held)."""


Pairing = Callable[[FactoryHost, Call, wire.Envelope, float], list[Effect]]
"""Builds what a data call carries once the call and its describing message (``env``) are both
here; returns the effects (the application event announcing it)."""


def install(session: FactoryHost) -> None:
    """Make ``session`` create calls for incoming invites (the session also installs the
    factories of data channels and file transfers: :mod:`rtcstate.datachannel`,
    :mod:`rtcstate.filetransfer`)."""
    session.set_factory(wire.Invite, incoming_call)


class FactoryDrop(DropReason):
    """Why the call factory (or a hold) dropped an input on purpose."""

    UNEXPECTED_MESSAGE = "unexpected-message"
    """A message for a held data call (its call takes its messages once paired)."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A media report for a hold (the held call takes those)."""
    STALE_TIMER = "stale-timer"
    """The hold's timer once it was released, or a name it does not own."""
    HOLD_EXPIRED = "hold-expired"
    """The hold ran out with nothing to refuse (a message alone, or a call that went on)."""
    FORGED = "forged"
    """An ``invite`` that did not come from a peer."""
    LATE_INVITE = "late-invite"
    """An ``invite`` for a call that ended lately (or whose ``bye`` overtook it)."""
    STRANGER = "stranger"
    """A held message whose sender is not the data call's caller."""
    TOO_MANY_HELD = "too-many-held"
    """A data call beyond ``MAX_HELD`` held halves (refused ``User_Busy``)."""


class HoldState(enum.Enum):
    HELD = "HELD"  # waiting for the other half (timer ``expire``)
    RELEASED = "RELEASED"  # the other half came, or the hold is moot (final)
    EXPIRED = "EXPIRED"  # the timer ran out (final)


class HoldTimer(enum.Enum):
    """The one timer a hold owns: ``hold:<call id>:expire``."""

    EXPIRE = "expire"


HOLD_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "release", "source": "HELD", "dest": "RELEASED"},
    {"trigger": "expire", "source": "HELD", "dest": "EXPIRED", "after": "_expired"},
]
"""A hold: released by its other half, or expired by its timer."""

HOLD_INPUTS = Inputs(unexpected=FactoryDrop.STALE_TIMER, timers={HoldTimer.EXPIRE: "expire"})
"""A hold's one input is its timer: messages and reports reach the call, never the hold."""


@machine(
    HoldState,
    HOLD_TRANSITIONS,
    initial=HoldState.HELD,
    final=[HoldState.RELEASED, HoldState.EXPIRED],
    inputs=HOLD_INPUTS,
    verdicts={
        "release": Ignore(FactoryDrop.STALE_TIMER),
        "expire": Ignore(FactoryDrop.STALE_TIMER),
    },
)
@attrs.define(slots=True, eq=False)
class DataCallHold:
    """A data call, or the message describing one, waiting for the other half.

    A child of the session under ``hold_id`` (key: the call id); its only timer is
    ``hold:<call id>:expire`` (:class:`HoldTimer`). Wire messages and media reports never reach
    it. Its table: HELD until released (the other half came) or expired (the timer).
    """

    session: FactoryHost = attrs.field(repr=False)
    call_id: str
    user: str  # the far side's user: the other half must come from it too
    call: Call | None = None
    env: wire.Envelope | None = None
    pair: Pairing | None = attrs.field(default=None, repr=False)
    state: HoldState = HoldState.HELD

    @property
    def id(self) -> str:
        return self.call_id

    @property
    def ended(self) -> bool:
        return self.state is not HoldState.HELD

    def release(self) -> list[Effect]:
        """The other half came (or the hold is moot): forget it and cancel its timer."""
        spec_of(self).fire(self, "release")  # ignored once released or expired
        if self.session.child(HOLD_ROUTE, self.call_id) is not self:
            return []
        return self.session.detach(HOLD_ROUTE, self.call_id)

    # --- Child protocol ----------------------------------------------------------------------

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        return [Drop(FactoryDrop.UNEXPECTED_MESSAGE, f"{env.message.TYPE} for a held data call")]

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        return [Drop(FactoryDrop.UNEXPECTED_REPORT, type(event).__name__)]

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        """The hold's timer (``HOLD_INPUTS``); a stale one is dropped."""
        fx: list[Effect] = []
        timer = _HOLD_TIMERS.get(name)
        if timer is None or self.ended:
            return [Drop(FactoryDrop.STALE_TIMER, f"hold:{self.call_id}:{name}")]
        spec_of(self).deliver(self, timer, timer, fx, now)
        return fx

    def _expired(self, fx: list[Effect], now: float, **_: Any) -> None:
        """Nothing came: a call still ringing unpaired is refused, a message is forgotten."""
        call = self.call
        if call is None:
            what = f"no data call {self.call_id} came for its message"
            fx.append(Drop(FactoryDrop.HOLD_EXPIRED, what))
        elif call.state is CallState.RINGING and call.owner is None:
            reason = HangupReason.UNABLE_TO_ESTABLISH
            fx.extend(self.session.child_output(call, call.refuse(now, reason)))
        else:
            what = f"data call {self.call_id} went on unpaired"
            fx.append(Drop(FactoryDrop.HOLD_EXPIRED, what))

    def on_disconnected(self, now: float) -> list[Effect]:
        return []

    def on_reconnected(self, now: float) -> list[Effect]:
        return []


_HOLD_TIMERS = {t.value: t for t in HoldTimer}


def held(session: FactoryHost, call_id: str) -> DataCallHold | None:
    """The hold of data call ``call_id`` (its call or its message), if any."""
    hold = session.child(HOLD_ROUTE, call_id)
    return hold if isinstance(hold, DataCallHold) else None


def _hold(session: FactoryHost, hold: DataCallHold, now: float) -> list[Effect] | None:
    if session.child_count(HOLD_ROUTE) >= MAX_HELD:
        return None
    session.attach(HOLD_ROUTE, hold.call_id, hold)
    return [StartTimer(f"hold:{hold.call_id}:{HoldTimer.EXPIRE.value}", now + HOLD_TIME)]


def hold_message(
    session: FactoryHost, call_id: str, env: wire.Envelope, pair: Pairing, now: float
) -> list[Effect] | None:
    """Hold ``env`` (from a peer) until data call ``call_id`` arrives, then ``pair`` them.

    Returns the effects of holding, or None when :data:`MAX_HELD` are held already. The
    caller checked first that nothing is held for ``call_id`` (:func:`held`).
    """
    user = (env.sender or "").partition("/")[0]
    return _hold(session, DataCallHold(session, call_id, user, env=env, pair=pair), now)


def new_outgoing_call(
    session: FactoryHost,
    contact: str,
    now: float,
    *,
    call_type: CallType | str = CallType.MEDIA,
    audio_only: bool = False,
    stream_id: str | None = None,
    nickname: str | None = None,
    data: dict[str, Any] | None = None,
    media_routing_mode: object = None,
) -> Call:
    """Check the arguments, build an outgoing call and attach it (not started: no effects).

    Raises as :meth:`Session.call` does, before anything changes."""
    if not session.connected:
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
    return call


def outgoing_call(
    session: FactoryHost, contact: str, now: float, **options: Any
) -> tuple[Call, list[Effect]]:
    """Build and start an outgoing call (:meth:`Session.call`; ``options`` as
    :func:`new_outgoing_call` takes them)."""
    call = new_outgoing_call(session, contact, now, **options)
    return call, session.child_output(call, call.start(now))


def _live_media_calls(session: FactoryHost, exclude: str) -> list[Call]:
    return [
        c
        for c in session.calls().values()
        if c.call_id != exclude
        and c.call_type not in _EXEMPT
        and c.status is not CallStatus.CALL_STATUS_ENDED
    ]


def _refusal(session: FactoryHost, call: Call) -> HangupReason | None:
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


def incoming_call(session: FactoryHost, env: wire.Envelope, now: float) -> list[Effect]:
    """The session's factory for ``invite``: build, refuse or surface the callee's Call."""
    msg = env.message
    assert isinstance(msg, wire.Invite)
    if env.sender is None:
        return [Drop(FactoryDrop.FORGED, "an invite must come from a peer")]
    if session.recently_ended(msg.call_id):
        return [Drop(FactoryDrop.LATE_INVITE, f"call {msg.call_id} already ended")]
    call = Call(
        session, msg.call_id, env.sender.partition("/")[0], env.sender, msg.call_type,
        outgoing=False,
    )  # fmt: skip
    session.attach("call_id", call.call_id, call)
    session.attach("request_id", call.call_id, call)
    fx = call.offered(msg, now)
    refusal = _refusal(session, call)
    if refusal is not None:
        hold = held(session, call.call_id)
        if hold is not None:  # its message waits: nothing will come of it
            fx.extend(hold.release())
        fx.extend(call.refuse(now, refusal))
        return session.child_output(call, fx)
    if call.call_type is CallType.DATA:
        fx.extend(_pair_or_hold(session, call, now))
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


def _pair_or_hold(session: FactoryHost, call: Call, now: float) -> list[Effect]:
    """An incoming data call: pair it with its waiting message, or hold it for the message."""
    fx: list[Effect] = []
    hold = held(session, call.call_id)
    if hold is not None:
        fx.extend(hold.release())
        env, pair = hold.env, hold.pair
        if hold.user == call.contact and env is not None and pair is not None:
            fx.extend(pair(session, call, env, now))
            return fx
        if env is not None:
            fx.append(Drop(FactoryDrop.STRANGER, f"{hold.user} named data call {call.call_id}"))
    held_fx = _hold(session, DataCallHold(session, call.call_id, call.contact, call=call), now)
    if held_fx is None:
        fx.extend(call.refuse(now, HangupReason.USER_BUSY))
        fx.append(Drop(FactoryDrop.TOO_MANY_HELD, f"data call {call.call_id} refused"))
        return fx
    fx.extend(held_fx)
    return fx
