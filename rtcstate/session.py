"""Session: the UserAgent/Session server connection, and the parent of every other machine.

Theory of operation
-------------------
A :class:`Session` is built pure (no effects) from a :class:`SessionConfig` plus injected id
and random sources. ``register(now)`` asks the adapter to open the transport
(:class:`~rtcstate.effects.OpenTransport`); the adapter reports ``connection_made``,
``connection_failed`` or ``connection_lost``. Once the transport is open the session sends
``Register`` and arms the *register* timer; the server's ``Registered`` makes it CONNECTED and
fires the userAgent's ``ccsConnectionStatus {status: "connected"}`` (adapters resolve apiRTC's
``register()`` promise on it). Failing before the first connection ends in FAILED with
``ccsConnectionStatus error`` and a session ``error`` whose descriptor carries the apiRTC
number ``ERROR_APIRTC_INITIALISATION_FAILED``.

When a CONNECTED transport is lost (reported by the adapter, or detected by the keep-alive:
no ``Pong`` within ``keepalive_timeout``) the session fires ``disconnect`` and
``ccsConnectionStatus disconnected``, marks every contact offline, tells its children, and
asks the retry policy for a delay (the *retry* timer). When it fires: ``ccsConnectionStatus
retry``, ``reconnecting``, a new ``OpenTransport``; a new ``Registered`` (sent with
``resume=True``) gives ``reconnection`` and ``ccsConnectionStatus connected``, and children are
told so they can renegotiate. When the policy gives up: FAILED, ``ccsConnectionStatus error``
and a session ``error``. A ``ServerError`` whose code is in ``wire.FINAL_ERROR_CODES`` (a
refused token, a *conflict*: the same identity registered our address elsewhere) ends the
session in FAILED at once, its ``code`` and ``reason`` in the error's descriptor, with no
reconnection; a transport failure keeps its cause there (``cause``). ``unregister(now)`` closes
everything from any state (CLOSED is final); a second ``register`` raises
``ERROR_APIRTC_SESSION_ALREADY_ON``.

Timers owned: ``session:register``, ``session:retry``, ``session:keepalive``,
``session:pong``, ``presence:<contact>:offline`` (a contact that leaves stays online for
``contact_disconnection_delay``, apiRTC's 10 s, so brief drops do not flap), plus every
timer its children start (tracked per owner, so ending a child or the session cancels what
is left: no timer outlives its machine).

Routing: a received message whose class has ``ROUTE`` (``call_id``, ``invitation_id``,
``channel_id``, ``transfer_id``, ``ref_id``) goes to the child registered under that id, in
an O(1) dict; a session-level message is handled here; a message that creates an object
(``Invite``, ``DataChannelInvite``, ``FileOffer``) goes to the factory registered for its type.
Data calls and the messages describing them wait for each other under the ``hold_id`` route
(see :mod:`rtcstate.call_factory`).
A message naming an id the session does not hold gets the answer of :data:`UNKNOWN_ID_POLICY`
(an ``error`` event with the documented code, a reply, or a ``Drop``), never an exception.
Undecodable input gives ``error`` ``MESSAGE_DECODE_ERROR``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import attrs

from rtcstate import call_factory, datachannel, filetransfer, wire
from rtcstate.call import Call
from rtcstate.codes import (
    CallType,
    CcsConnectionStatus,
    ErrorCode,
    ErrorNumber,
    HangupFrom,
    HangupReason,
)
from rtcstate.datachannel import DataChannel
from rtcstate.effects import (
    SESSION,
    USER_AGENT,
    CancelTimer,
    CloseTransport,
    Drop,
    Effect,
    Emit,
    OpenTransport,
    ReleaseMedia,
    Send,
    StartTimer,
    target,
)
from rtcstate.errors import RtcError
from rtcstate.filetransfer import FileTransfer
from rtcstate.ids import CounterIds, IdSource, RandomSource, SplitMix64
from rtcstate.invitation import SentInvitation
from rtcstate.machine import machine, spec_of
from rtcstate.media import Capabilities, MediaAcquired, MediaEvent
from rtcstate.presence import PresenceScope
from rtcstate.retry import ExponentialBackoff, RetryPolicy
from rtcstate.settings import CallSettings
from rtcstate.transfer import DEFAULT_CHUNK_SIZE, DEFAULT_WINDOW, TransferSettings

__all__ = [
    "ROUTE_KINDS",
    "UNKNOWN_ID_POLICY",
    "Child",
    "Session",
    "SessionConfig",
    "SessionState",
]


class SessionState(enum.Enum):
    IDLE = "IDLE"  # built, register() not called yet
    CONNECTING = "CONNECTING"  # first transport being opened
    REGISTERING = "REGISTERING"  # first transport open, Register sent
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"  # lost; the retry timer is armed
    RECONNECTING = "RECONNECTING"  # transport being reopened
    REREGISTERING = "REREGISTERING"  # reopened, Register(resume=True) sent
    FAILED = "FAILED"  # gave up; register() may be called again
    CLOSED = "CLOSED"  # unregistered (final)


_RETRYABLE = ["RECONNECTING", "REREGISTERING"]
_OPEN = ["CONNECTING", "REGISTERING", "CONNECTED", "DISCONNECTED", *_RETRYABLE]

TRANSITIONS: list[dict[str, Any]] = [
    # application commands
    {"trigger": "register", "source": ["IDLE", "FAILED"], "dest": "CONNECTING",
     "after": "_open_transport"},
    {"trigger": "unregister", "source": ["IDLE", "FAILED", *_OPEN], "dest": "CLOSED",
     "before": "_close"},
    # transport reports
    {"trigger": "transport_open", "source": "CONNECTING", "dest": "REGISTERING",
     "after": "_send_register"},
    {"trigger": "transport_open", "source": "RECONNECTING", "dest": "REREGISTERING",
     "after": "_send_register"},
    {"trigger": "transport_failed", "source": ["CONNECTING", "REGISTERING"], "dest": "FAILED",
     "after": "_fail_initial"},
    {"trigger": "transport_failed", "source": _RETRYABLE, "dest": "DISCONNECTED",
     "conditions": "_will_retry", "after": "_schedule_retry"},
    {"trigger": "transport_failed", "source": _RETRYABLE, "dest": "FAILED",
     "after": "_give_up"},
    {"trigger": "transport_lost", "source": ["CONNECTING", "REGISTERING"], "dest": "FAILED",
     "after": "_fail_initial"},
    {"trigger": "transport_lost", "source": "CONNECTED", "dest": "DISCONNECTED",
     "conditions": "_will_retry", "after": ["_on_lost", "_schedule_retry"]},
    {"trigger": "transport_lost", "source": "CONNECTED", "dest": "FAILED",
     "after": ["_on_lost", "_give_up"]},
    {"trigger": "transport_lost", "source": _RETRYABLE, "dest": "DISCONNECTED",
     "conditions": "_will_retry", "after": "_schedule_retry"},
    {"trigger": "transport_lost", "source": _RETRYABLE, "dest": "FAILED",
     "after": "_give_up"},
    # server messages
    {"trigger": "registered", "source": "REGISTERING", "dest": "CONNECTED",
     "after": "_on_registered"},
    {"trigger": "registered", "source": "REREGISTERING", "dest": "CONNECTED",
     "after": "_on_reregistered"},
    # timers
    {"trigger": "register_timeout", "source": "REGISTERING", "dest": "FAILED",
     "after": ["_close_transport", "_fail_initial"]},
    {"trigger": "register_timeout", "source": "REREGISTERING", "dest": "DISCONNECTED",
     "conditions": "_will_retry", "after": ["_close_transport", "_schedule_retry"]},
    {"trigger": "register_timeout", "source": "REREGISTERING", "dest": "FAILED",
     "after": ["_close_transport", "_give_up"]},
    {"trigger": "retry_timer", "source": "DISCONNECTED", "dest": "RECONNECTING",
     "after": "_reconnect"},
    {"trigger": "keepalive_timer", "source": "CONNECTED", "dest": "CONNECTED",
     "after": "_send_ping"},
    {"trigger": "pong_timeout", "source": "CONNECTED", "dest": "DISCONNECTED",
     "conditions": "_will_retry", "after": ["_close_transport", "_on_lost", "_schedule_retry"]},
    {"trigger": "pong_timeout", "source": "CONNECTED", "dest": "FAILED",
     "after": ["_close_transport", "_on_lost", "_give_up"]},
    # the relay refused us for good (a refused token, a conflict: wire.FINAL_ERROR_CODES)
    {"trigger": "refused", "source": ["REGISTERING", "REREGISTERING"], "dest": "FAILED",
     "after": ["_close_transport", "_refused"]},
    {"trigger": "refused", "source": "CONNECTED", "dest": "FAILED",
     "after": ["_close_transport", "_on_lost", "_refused"]},
]  # fmt: skip

REGISTER_TIMER = "session:register"
RETRY_TIMER = "session:retry"
KEEPALIVE_TIMER = "session:keepalive"
PONG_TIMER = "session:pong"
_LOSS_TRIGGERS = frozenset(
    {"transport_failed", "transport_lost", "register_timeout", "pong_timeout"}
)
_SESSION_TIMERS = {
    REGISTER_TIMER: "register_timeout",
    RETRY_TIMER: "retry_timer",
    KEEPALIVE_TIMER: "keepalive_timer",
    PONG_TIMER: "pong_timeout",
}

ROUTE_KINDS: Mapping[str, str] = {
    "call_id": "call",
    "invitation_id": "invitation",
    "channel_id": "dataChannel",
    "transfer_id": "transfer",
    "request_id": "media",
    "hold_id": "hold",
}
"""Route field of a message or media report → the kind of child it addresses.

A child's timers are named ``<kind>:<id>:<name>`` so that expiries find their way back.
``hold_id`` is no message field: under it a data call or its describing message waits for the
other half (:class:`~rtcstate.call_factory.DataCallHold`, keyed by the call id)."""
_KIND_ROUTES = {kind: route for route, kind in ROUTE_KINDS.items()}


class Child(Protocol):
    """What a machine owned by the session implements (calls, invitations, channels, …)."""

    @property
    def ended(self) -> bool: ...

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]: ...

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]: ...

    def timer_fired(self, name: str, now: float) -> list[Effect]: ...

    def on_disconnected(self, now: float) -> list[Effect]: ...

    def on_reconnected(self, now: float) -> list[Effect]: ...


Factory = Callable[["Session", wire.Envelope, float], list[Effect]]
"""Creates a child for a message that opens a new object (``Invite``, ``FileOffer``, …)."""


def _error(code: ErrorCode, descriptor: Mapping[str, Any]) -> Emit:
    return Emit(
        SESSION,
        "error",
        {"errorCode": code.value, "errorInfo": code.info, "descriptor": dict(descriptor)},
    )


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
    # (an invite ack for a call that ended User_Not_Found is answered with a bye: _unknown_id)
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


def _presence_change(contacts: list[str], online: bool) -> list[Effect]:
    """apiRTC's events for contacts joining or leaving the default presence group."""
    joined: dict[str, list[str]] = {"default": contacts} if online else {}
    left: dict[str, list[str]] = {} if online else {"default": contacts}
    event = "joinGroup" if online else "leaveGroup"
    return [
        Emit(SESSION, "contactListUpdate",
             {"joinedGroup": joined, "leftGroup": left, "userDataChanged": []}),
        *(Emit(target("contact", c), event, "default") for c in contacts),
    ]  # fmt: skip


def _ccs(status: CcsConnectionStatus) -> Emit:
    """The userAgent's ``ccsConnectionStatus`` event."""
    return Emit(USER_AGENT, "ccsConnectionStatus", {"status": status.value})


@attrs.frozen(slots=True)
class SessionConfig:
    """Settings of a :class:`Session` (all durations in seconds)."""

    user: str
    server_url: str = "ws://127.0.0.1:8765"
    device: str = "default"
    token: str | None = None
    register_timeout: float = 10.0
    keepalive_interval: float | None = 20.0
    keepalive_timeout: float = 10.0
    contact_disconnection_delay: float = 10.0
    retry_policy: RetryPolicy = attrs.field(factory=ExponentialBackoff)
    max_message_size: int = wire.DEFAULT_MAX_SIZE
    calls: CallSettings = attrs.field(factory=CallSettings)

    def __attrs_post_init__(self) -> None:
        if not self.user:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "user must be a non-empty string")
        for name in ("register_timeout", "keepalive_timeout"):
            if getattr(self, name) <= 0:
                raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"{name} must be > 0")
        if self.contact_disconnection_delay < 0:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "contact_disconnection_delay < 0")
        if self.keepalive_interval is not None and self.keepalive_interval <= 0:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "keepalive_interval must be > 0")
        if self.max_message_size <= 0:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "max_message_size must be > 0")


@machine(
    SessionState,
    TRANSITIONS,
    initial=SessionState.IDLE,
    final=[SessionState.CLOSED],
    errors={
        "register": ErrorNumber.ERROR_APIRTC_SESSION_ALREADY_ON,
        ("register", "CLOSED"): ErrorNumber.ERROR_WRONG_STATE,
        "unregister": ErrorNumber.ERROR_OTHER,
    },
)
@attrs.define(slots=True, eq=False)
class Session:
    """The connection to the signaling server and the registry of every child machine."""

    config: SessionConfig
    ids: IdSource = attrs.field(
        default=attrs.Factory(
            lambda self: CounterIds(f"{self.config.user}/{self.config.device}"), takes_self=True
        )
    )
    rand: RandomSource = attrs.field(factory=SplitMix64)
    state: SessionState = SessionState.IDLE
    session_id: str | None = None
    attempt: int = 0
    lost_at: float | None = None
    ping_seq: int = 0
    capabilities: Capabilities = attrs.field(factory=Capabilities)
    contacts: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    #: the contacts and groups this session hears and the groups it is seen in (resent to the
    #: relay after each registration)
    presence_scope: PresenceScope = attrs.field(factory=PresenceScope)
    _routes: dict[str, dict[str, Child]] = attrs.field(factory=dict)
    _factories: dict[type[wire.Message], Factory] = attrs.field(factory=dict)
    _timers: dict[str, set[str]] = attrs.field(factory=dict)
    settings: CallSettings = attrs.field(
        default=attrs.Factory(lambda self: self.config.calls, takes_self=True)
    )
    #: call id -> the reason a crossing bye must be acknowledged with (see ``remember_ended``)
    _ended_calls: dict[str, str | None] = attrs.field(factory=dict)
    #: our calls that ended because the relay found no device of the callee (its invite or bye
    #: undelivered), with their reason (bounded, oldest forgotten first): a callee that still
    #: rings for one of them is answered with a bye carrying that reason
    _unreached: dict[str, str] = attrs.field(factory=dict)
    #: contact -> its newest ringing callee call; the others follow through ``peer_next``
    _ringing: dict[str, Call] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        for route in ROUTE_KINDS:
            self._routes.setdefault(route, {})
        # the factories of calls, data channels and file transfers (the children reach this
        # session through the narrow rtcstate.host.Host; they never import this module)
        call_factory.install(self)
        datachannel.install(self)
        filetransfer.install(self)

    # --- public: application commands ---------------------------------------------------------

    @property
    def address(self) -> str:
        """This device's address on the relay (``user/device``)."""
        return f"{self.config.user}/{self.config.device}"

    @property
    def connected(self) -> bool:
        """Whether the session is registered with the server (CONNECTED)."""
        return self.state is SessionState.CONNECTED

    def register(self, now: float) -> list[Effect]:
        """Connect and register; a second call raises ERROR_APIRTC_SESSION_ALREADY_ON."""
        return self._command("register", now)

    def unregister(self, now: float) -> list[Effect]:
        """Leave the server and close the transport; the session becomes CLOSED (final)."""
        return self._command("unregister", now)

    def set_option(self, name: str, value: object) -> None:
        """Change one apiRTC-style call option (``allow_multiple_calls``, …).

        A bad value raises :class:`~rtcstate.settings.ParameterError` carrying the option's
        ``PARAMETER_ERROR_*`` code; the settings are then unchanged.
        """
        self.settings = self.settings.with_option(name, value)

    def subscribe_presence(
        self, now: float, contacts: Iterable[str] = (), groups: Iterable[str] = ()
    ) -> list[Effect]:
        """Hear the presence of these users and of the members of these groups.

        Raises ERROR_WRONG_STATE unless CONNECTED, ERROR_BAD_PARAMETER for a bad or empty
        name or for no name at all; the scope is then unchanged. A relay refusal (too many
        subscriptions) comes back as an ``error`` event.
        """
        self._presence_ready("subscribe_presence")
        return [Send(None, self.presence_scope.subscribe(contacts, groups))]

    def unsubscribe_presence(
        self, now: float, contacts: Iterable[str] = (), groups: Iterable[str] = ()
    ) -> list[Effect]:
        """Stop hearing these users and groups (same errors as :meth:`subscribe_presence`)."""
        self._presence_ready("unsubscribe_presence")
        return [Send(None, self.presence_scope.unsubscribe(contacts, groups))]

    def subscribe_to_group(self, now: float, group: str) -> list[Effect]:
        """apiRTC ``subscribeToGroup``: hear the presence of ``group``'s members."""
        return self.subscribe_presence(now, groups=[group])

    def unsubscribe_to_group(self, now: float, group: str) -> list[Effect]:
        """apiRTC ``unsubscribeToGroup``: stop hearing ``group``."""
        return self.unsubscribe_presence(now, groups=[group])

    def join_group(self, now: float, group: str) -> list[Effect]:
        """apiRTC ``joinGroup``: be seen in ``group`` (by whoever subscribed to it)."""
        self._presence_ready("join_group")
        return [Send(None, self.presence_scope.join(group))]

    def leave_group(self, now: float, group: str) -> list[Effect]:
        """apiRTC ``leaveGroup``: stop being seen in ``group``."""
        self._presence_ready("leave_group")
        return [Send(None, self.presence_scope.leave(group))]

    def _presence_ready(self, command: str) -> None:
        if self.state is not SessionState.CONNECTED:
            raise RtcError(ErrorNumber.ERROR_WRONG_STATE, f"{command} in state {self.state.name}")

    def call(
        self,
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
        """``contact.call()``: start a call to user ``contact`` (or one device ``user/device``).

        Returns the new :class:`~rtcstate.call.Call` (WAITING_FOR_CALLEE) and the effects of
        starting it. Raises ERROR_WRONG_STATE unless CONNECTED, ERROR_BAD_PARAMETER for a bad
        argument (``ParameterError`` with PARAMETER_ERROR_SETCALLMEDIAROUTINGMODE for a bad
        media routing mode).
        """
        return call_factory.outgoing_call(
            self, contact, now, call_type=call_type, audio_only=audio_only,
            stream_id=stream_id, nickname=nickname, data=data,
            media_routing_mode=media_routing_mode,
        )  # fmt: skip

    def start_data_channel(
        self, contact: str, now: float, *, label: str = "data"
    ) -> tuple[DataChannel, list[Effect]]:
        """``contact.startDataChannel()``: open a data channel ``label`` to ``contact``.

        Returns the new :class:`~rtcstate.datachannel.DataChannel` (SEND, WAITING) and the
        effects of starting it: the ``data_channel_invite`` and the data call carrying it.
        Raises ERROR_WRONG_STATE unless CONNECTED, ERROR_BAD_PARAMETER for a bad argument,
        ERROR_OTHER when the adapter reported no data channels.
        """
        return datachannel.start_data_channel(self, contact, now, label=label)

    def send_file(
        self,
        contact: str,
        now: float,
        file_info: Mapping[str, Any],
        *,
        chunk_size: int | None = None,
        window: int | None = None,
        settings: TransferSettings | None = None,
    ) -> tuple[FileTransfer, list[Effect]]:
        """``contact.sendFile(fileInfo, data)``: offer a file ``{name, type, size}`` to ``contact``.

        Returns the :class:`~rtcstate.filetransfer.FileTransfer` (its ``invitation`` is apiRTC's
        SentInvitation of type sendFile, whose id is the transfer's) and the effects: the
        ``file_offer`` and the data call carrying the file. The bytes are asked for later with
        ``NeedData`` effects and given with ``FileTransfer.feed``. Raises ERROR_WRONG_STATE
        unless CONNECTED, ERROR_BAD_PARAMETER for a bad argument, ERROR_OTHER when the adapter
        reported no data channels; nothing changes then.
        """
        return filetransfer.send_file(
            self, contact, now, file_info,
            chunk_size=DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size,
            window=DEFAULT_WINDOW if window is None else window, settings=settings,
        )  # fmt: skip

    def calls(self) -> Mapping[str, Call]:
        """The calls this session holds, by id (``getCalls()``)."""
        return {k: c for k, c in self._routes["call_id"].items() if isinstance(c, Call)}

    def get_call(self, call_id: str) -> Call | None:
        """``getCall(id)`` (O(1))."""
        child = self._routes["call_id"].get(call_id)
        return child if isinstance(child, Call) else None

    def track_invitation(self, invitation: SentInvitation, now: float) -> list[Effect]:
        """Hold a :class:`~rtcstate.invitation.SentInvitation` its owner has just sent."""
        invitation.session = self
        self.attach("invitation_id", invitation.id, invitation)
        return self._track(invitation.start(now))

    def child_output(self, child: Child, fx: list[Effect], key: str | None = None) -> list[Effect]:
        """Book-keep the effects of a command a child ran (timers; detach once ended)."""
        self._track(fx)
        if child.ended:
            fx.extend(self._detach_child(child, key if key is not None else child_key(child)))
        return fx

    def timer_armed(self, timer_id: str) -> bool:
        """Whether ``timer_id`` is armed (as far as this session's effects say)."""
        armed = self._timers.get(timer_id.rpartition(":")[0])
        return armed is not None and timer_id in armed

    def watch_peer(self, call: Call) -> None:
        """Index a ringing callee ``call`` under its contact: the contact's presence reaches it.

        An intrusive doubly linked list per contact (two slots on the call, one dict entry per
        contact), so that a presence message costs O(ringing calls of that contact)."""
        head = self._ringing.get(call.contact)
        if head is call or call.peer_prev is not None:
            return  # already indexed
        call.peer_next = head
        if head is not None:
            head.peer_prev = call
        self._ringing[call.contact] = call

    def unwatch_peer(self, call: Call) -> None:
        """Drop ``call`` from the index of ringing callee calls (O(1); no-op if absent)."""
        prev, nxt = call.peer_prev, call.peer_next
        if prev is not None:
            prev.peer_next = nxt
        elif self._ringing.get(call.contact) is call:
            if nxt is None:
                del self._ringing[call.contact]
            else:
                self._ringing[call.contact] = nxt
        else:
            return
        if nxt is not None:
            nxt.peer_prev = prev
        call.peer_prev = call.peer_next = None

    def ringing_from(self, contact: str) -> list[Call]:
        """The ringing callee calls of ``contact``, newest first (O(their number))."""
        calls: list[Call] = []
        call = self._ringing.get(contact)
        while call is not None:
            calls.append(call)
            call = call.peer_next
        return calls

    def recently_ended(self, call_id: str) -> bool:
        """Whether ``call_id`` ended (or was refused) lately: late duplicates are ignored."""
        return call_id in self._ended_calls

    def remember_ended(self, call_id: str, reason: str | None = None) -> None:
        """Keep ``call_id`` among the recently ended calls (bounded, oldest forgotten first).

        ``reason``: the caller's own reason of a call it ended locally. A callee ``bye`` that
        crossed the caller's and comes again (the ``Ack`` carrying the winning reason was lost,
        and the caller's call ended meanwhile) is acknowledged with it, so both ends still agree.
        """
        if reason is None and call_id in self._ended_calls:
            return
        self._ended_calls[call_id] = reason
        if len(self._ended_calls) > _ENDED_CALLS_KEPT:
            del self._ended_calls[next(iter(self._ended_calls))]

    # --- public: transport reports ------------------------------------------------------------

    def connection_made(self, now: float) -> list[Effect]:
        """The transport asked for by ``OpenTransport`` is open."""
        return self._report("transport_open", now)

    def connection_failed(self, now: float, reason: str = "") -> list[Effect]:
        """The transport asked for by ``OpenTransport`` could not be opened."""
        return self._report("transport_failed", now, reason)

    def connection_lost(self, now: float, reason: str = "") -> list[Effect]:
        """An open transport closed without ``unregister``."""
        return self._report("transport_lost", now, reason)

    # --- public: the three other inputs -------------------------------------------------------

    def receive(self, data: bytes | str, now: float) -> list[Effect]:
        """Handle one signaling message from the wire; never raises."""
        try:
            env = wire.decode(data, max_size=self.config.max_message_size)
        except wire.DecodeError as exc:
            return [
                _error(
                    ErrorCode.MESSAGE_DECODE_ERROR,
                    {"reason": exc.reason.value, "detail": exc.detail},
                )
            ]
        return self.receive_envelope(env, now)

    def receive_envelope(self, env: wire.Envelope, now: float) -> list[Effect]:
        """Handle an already decoded message (the relay and tests use this); never raises."""
        msg = env.message
        if (
            self.state is not SessionState.CONNECTED
            and type(msg) is not wire.Registered
            and not _refusal_while_registering(self, msg)
        ):
            # only the server's Registered is meaningful before registration completes (and
            # nothing is after the transport closed): the relay routes nothing else to us then
            return [Drop("not-connected", f"{msg.TYPE} received in state {self.state.name}")]
        route = msg.ROUTE
        if route is None:
            handler = _SESSION_HANDLERS.get(type(msg))
            if handler is None:
                return [Drop("unexpected-message", f"{msg.TYPE} is not for a client session")]
            return handler(self, env, now)
        key = getattr(msg, route)
        routes = self._routes.get(route)
        child = None if routes is None else routes.get(key)
        if child is None and route == "ref_id":
            child = self._find_any(key)
        if child is not None:
            return self._from_child(route, key, child, child.receive(env, now))
        factory = self._factories.get(type(msg))
        if factory is not None:
            return self._track(factory(self, env, now))
        return self._unknown_id(env)

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        """Handle one media-stack report; never raises."""
        route = event.ROUTE
        if not route:
            if isinstance(event, Capabilities):
                self.capabilities = event  # calls consult it (DataChannel_Not_Supported, ...)
                return []
            return [Drop("unexpected-report", type(event).__name__)]
        key = getattr(event, route)
        child = self._routes[route].get(key) if route in self._routes else None
        if child is None:
            drop = Drop("unknown-id", f"{type(event).__name__} for unknown {route} {key}")
            if isinstance(event, MediaAcquired):
                # media that arrived after its call ended: release it, or the camera stays on
                return [ReleaseMedia(event.stream_id), drop]
            return [drop]
        return self._from_child(route, key, child, child.media_event(event, now))

    def timer_fired(self, timer_id: str, now: float) -> list[Effect]:
        """Handle the expiry of a timer started by one of this session's effects."""
        owner, _, name = timer_id.rpartition(":")
        armed = self._timers.get(owner)
        if armed is None or timer_id not in armed:
            return [Drop("stale-timer", timer_id)]
        armed.discard(timer_id)
        if not armed:
            del self._timers[owner]
        trigger = _SESSION_TIMERS.get(timer_id)
        if trigger is not None:
            return self._report(trigger, now)
        kind, _, key = owner.partition(":")
        if kind == "presence":
            return self._presence_timer(key)
        route = _KIND_ROUTES.get(kind)
        child = None if route is None else self._routes[route].get(key)
        if route is None or child is None:
            return [Drop("stale-timer", timer_id)]
        return self._from_child(route, key, child, child.timer_fired(name, now))

    # --- public: the child registry ----------------------------------------------------------

    def attach(self, route: str, key: str, child: Child) -> None:
        """Register ``child`` to receive messages whose ``route`` field equals ``key``."""
        if route not in self._routes:
            raise ValueError(f"unknown route {route!r}; known: {sorted(self._routes)}")
        self._routes[route][key] = child

    def detach(self, route: str, key: str) -> list[Effect]:
        """Forget a child and cancel every timer it left armed."""
        self._routes.get(route, {}).pop(key, None)
        owner = f"{ROUTE_KINDS.get(route, route)}:{key}"
        return [CancelTimer(t) for t in sorted(self._timers.pop(owner, ()))]

    def child(self, route: str, key: str) -> Child | None:
        """The child registered under ``route``/``key``, if any."""
        return self._routes.get(route, {}).get(key)

    def children(self, route: str) -> Mapping[str, Child]:
        """A read-only view of the children registered under ``route``."""
        return dict(self._routes.get(route, {}))

    def child_count(self, route: str) -> int:
        """How many children are registered under ``route`` (O(1))."""
        return len(self._routes.get(route, ()))

    def set_factory(self, message_type: type[wire.Message], factory: Factory) -> None:
        """Install the creator of children for messages that open a new object."""
        self._factories[message_type] = factory

    def armed_timers(self) -> frozenset[str]:
        """Every timer id this session believes is armed (for invariants in tests)."""
        return frozenset(t for ts in self._timers.values() for t in ts)

    # --- internals: dispatch ------------------------------------------------------------------

    def _command(self, trigger: str, now: float) -> list[Effect]:
        fx: list[Effect] = []
        spec_of(self).fire(self, trigger, fx, now)  # raises before any mutation
        return self._track(fx)

    def _report(self, trigger: str, now: float, reason: str = "") -> list[Effect]:
        spec = spec_of(self)
        if not spec.allowed(self.state, trigger):
            return [Drop("unexpected-report", f"{trigger} in state {self.state.name}")]
        # the retry policy is asked once, before firing, and its answer passed to the
        # conditions and callbacks (None: give up)
        delay = self._next_delay(now) if trigger in _LOSS_TRIGGERS else None
        fx: list[Effect] = []
        spec.fire(self, trigger, fx, now, reason=reason, delay=delay)
        return self._track(fx)

    def _track(self, fx: list[Effect]) -> list[Effect]:
        for e in fx:
            if type(e) is StartTimer:
                owner = e.timer_id.rpartition(":")[0]
                self._timers.setdefault(owner, set()).add(e.timer_id)
            elif type(e) is CancelTimer:
                owner = e.timer_id.rpartition(":")[0]
                armed = self._timers.get(owner)
                if armed is not None:
                    armed.discard(e.timer_id)
                    if not armed:
                        del self._timers[owner]
        return fx

    def _from_child(self, route: str, key: str, child: Child, fx: list[Effect]) -> list[Effect]:
        self._track(fx)
        if child.ended:
            fx.extend(self._detach_child(child, key))
        return fx

    def _detach_child(self, child: Child, key: str) -> list[Effect]:
        fx: list[Effect] = []
        for route, children in self._routes.items():
            if children.get(key) is child:
                if route in ("call_id", "invitation_id"):
                    self.remember_ended(key, _winning_reason(child))
                    reason = _unreached_reason(child) if route == "call_id" else None
                    if reason is not None:
                        self._unreached[key] = reason
                        if len(self._unreached) > _ENDED_CALLS_KEPT:
                            del self._unreached[next(iter(self._unreached))]
                fx.extend(self.detach(route, key))
        return fx

    def _find_any(self, key: str) -> Child | None:
        for children in self._routes.values():
            child = children.get(key)
            if child is not None:
                return child
        return None

    def _unknown_id(self, env: wire.Envelope) -> list[Effect]:
        msg = env.message
        if type(msg) is wire.Bye:
            self.remember_ended(msg.call_id)  # a delayed invite for it must not ring
        elif type(msg) is wire.InviteAnswer and self.recently_ended(msg.invitation_id):
            return [Drop("late-answer", f"answer to the finished invitation {msg.invitation_id}")]
        answer = UNKNOWN_ID_POLICY.get(type(msg), _DEFAULT_UNKNOWN)
        route = msg.ROUTE or ""
        fx: list[Effect] = []
        if answer.error is not None:
            fx.append(
                _error(
                    answer.error,
                    {"type": msg.TYPE, "id": getattr(msg, route, None), "from": env.sender},
                )
            )
        if (
            type(msg) is wire.Ack
            and msg.what == "invite"
            and env.sender is not None
            and msg.call_id in self._unreached
        ):
            # a callee rings for a call we ended when the relay found none of its devices (a
            # copy of the invite had reached it; it acknowledges again after reconnecting)
            reason = self._unreached[msg.call_id]
            fx.append(Send(env.sender, wire.Bye(call_id=msg.call_id, reason=reason)))
        elif (
            type(msg) is wire.Bye and env.sender is not None and self._ended_calls.get(msg.call_id)
        ):
            won = self._ended_calls[msg.call_id]  # our reason wins the crossing (we called)
            fx.append(Send(env.sender, wire.Ack(call_id=msg.call_id, what="bye", reason=won)))
        elif (
            type(msg) is wire.Update
            and env.sender is not None
            and (told := self._ended_calls.get(msg.call_id))
        ):
            # the far side renegotiates a call we ended (offline, our bye given up with it):
            # it hears our reason, not Call_not_found
            fx.append(Send(env.sender, wire.Bye(call_id=msg.call_id, reason=told)))
        elif answer.reply is not None or answer.ack is not None:
            fx.extend(_unknown_reply(env, answer.reply, answer.ack))
        if answer.drop is not None:
            fx.append(Drop("unknown-id", answer.drop))
        return fx

    def _each_child(self, method: str, now: float) -> list[Effect]:
        fx: list[Effect] = []
        told: set[int] = set()  # a call is registered twice (call_id, media request_id)
        for route, children in self._routes.items():
            for key, child in list(children.items()):
                if id(child) in told:
                    continue
                told.add(id(child))
                fx.extend(self._from_child(route, key, child, getattr(child, method)(now)))
        return fx

    def _next_delay(self, now: float) -> float | None:
        attempt = self.attempt + 1
        elapsed = 0.0 if self.lost_at is None else now - self.lost_at
        return self.config.retry_policy.next_delay(attempt, elapsed, self.rand())

    # --- internals: session-level messages ----------------------------------------------------

    def _msg_registered(self, env: wire.Envelope, now: float) -> list[Effect]:
        msg = env.message
        assert isinstance(msg, wire.Registered)
        if env.sender is not None:
            return [Drop("forged", "Registered must come from the server")]
        return self._report("registered", now, msg.session_id)

    def _msg_ping(self, env: wire.Envelope, now: float) -> list[Effect]:
        msg = env.message
        assert isinstance(msg, wire.Ping)
        return [Send(env.sender, wire.Pong(seq=msg.seq))]

    def _msg_pong(self, env: wire.Envelope, now: float) -> list[Effect]:
        msg = env.message
        assert isinstance(msg, wire.Pong)
        if msg.seq != self.ping_seq or PONG_TIMER not in self._timers.get("session", ()):
            return [Drop("stale-pong", str(msg.seq))]
        return self._track([CancelTimer(PONG_TIMER)])

    def _msg_presence(self, env: wire.Envelope, now: float) -> list[Effect]:
        """Presence with apiRTC's ``contactDisconnectionDelay``: no flapping on brief drops.

        A contact that goes offline stays online for ``contact_disconnection_delay`` seconds
        (timer ``presence:<contact>:offline``); coming back within it changes nothing visible.
        The contact's ringing callee calls hear the device list at once (a caller gone from the
        relay: :meth:`~rtcstate.call.Call.peer_presence`).
        """
        msg = env.message
        assert isinstance(msg, wire.Presence)
        if env.sender is not None:
            return [Drop("forged", "presence must come from the server")]
        fx = self._presence_event(msg, now)
        if msg.contact in self._ringing:
            devices = tuple(msg.devices) if msg.online else ()
            for call in self.ringing_from(msg.contact):
                fx.extend(self._from_child("call_id", call.call_id, call,
                                           call.peer_presence(devices, now)))  # fmt: skip
        return fx

    def _presence_event(self, msg: wire.Presence, now: float) -> list[Effect]:
        contact = msg.contact
        timer = f"presence:{contact}:offline"
        pending = timer in self._timers.get(f"presence:{contact}", ())
        if msg.online and msg.devices:
            was_online = contact in self.contacts
            self.contacts[contact] = tuple(msg.devices)
            if pending:
                return self._track([CancelTimer(timer)])
            return [] if was_online else _presence_change([contact], online=True)
        if contact not in self.contacts or pending:
            return []
        if self.config.contact_disconnection_delay > 0:
            return self._track([StartTimer(timer, now + self.config.contact_disconnection_delay)])
        del self.contacts[contact]
        return _presence_change([contact], online=False)

    def _presence_timer(self, contact: str) -> list[Effect]:
        if self.contacts.pop(contact, None) is None:
            return [Drop("stale-timer", f"presence:{contact}:offline")]
        return _presence_change([contact], online=False)

    def _msg_server_error(self, env: wire.Envelope, now: float) -> list[Effect]:
        msg = env.message
        assert isinstance(msg, wire.ServerError)
        if msg.code in wire.FINAL_ERROR_CODES and env.sender is None:
            fx: list[Effect] = []
            spec_of(self).fire(self, "refused", fx, now, reason=msg.info, code=msg.code)
            return self._track(fx)
        if self.state is not SessionState.CONNECTED:
            return [Drop("not-connected", f"{msg.TYPE} {msg.code} in state {self.state.name}")]
        return [_error(ErrorCode.SERVER_ERROR, {"code": msg.code, "info": msg.info})]

    def _msg_contact_message(self, env: wire.Envelope, now: float) -> list[Effect]:
        msg = env.message
        assert isinstance(msg, wire.ContactMessage)
        sender = env.sender or ""
        body = {"content": msg.content, "uuid": msg.uuid, "time": now}
        return [
            Emit(SESSION, "contactMessage", {"sender": sender, **body}),
            Emit(target("contact", sender), "message", body),
        ]

    def _msg_contact_data(self, env: wire.Envelope, now: float) -> list[Effect]:
        msg = env.message
        assert isinstance(msg, wire.ContactData)
        sender = env.sender or ""
        return [
            Emit(SESSION, "contactData", {"sender": sender, "content": msg.content}),
            Emit(target("contact", sender), "data", msg.content),
        ]

    # --- transition callbacks (signature: fx, now, **kw) -------------------------------------

    def _open_transport(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.attempt = 0
        self.lost_at = None
        fx.append(OpenTransport(self.config.server_url))

    def _send_register(self, fx: list[Effect], now: float, **_: Any) -> None:
        resume = self.state is SessionState.REREGISTERING
        register = wire.Register(
            user=self.config.user,
            device=self.config.device,
            token=self.config.token,
            resume=resume,
        )
        fx.append(Send(None, register))
        fx.append(StartTimer(REGISTER_TIMER, now + self.config.register_timeout))

    def _on_registered(self, fx: list[Effect], now: float, reason: str = "", **_: Any) -> None:
        self.session_id = reason
        fx.append(CancelTimer(REGISTER_TIMER))
        fx.append(_ccs(CcsConnectionStatus.CONNECTED))
        self._start_keepalive(fx, now)
        fx.extend(Send(None, m) for m in self.presence_scope.resend())

    def _on_reregistered(self, fx: list[Effect], now: float, reason: str = "", **_: Any) -> None:
        self.session_id = reason
        self.attempt = 0
        self.lost_at = None
        fx.append(CancelTimer(REGISTER_TIMER))
        fx.append(Emit(SESSION, "reconnection"))
        fx.append(_ccs(CcsConnectionStatus.CONNECTED))
        self._start_keepalive(fx, now)
        fx.extend(Send(None, m) for m in self.presence_scope.resend())
        fx.extend(self._each_child("on_reconnected", now))

    def _start_keepalive(self, fx: list[Effect], now: float) -> None:
        if self.config.keepalive_interval is not None:
            fx.append(StartTimer(KEEPALIVE_TIMER, now + self.config.keepalive_interval))

    def _send_ping(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.ping_seq += 1
        fx.append(Send(None, wire.Ping(seq=self.ping_seq)))
        fx.append(StartTimer(PONG_TIMER, now + self.config.keepalive_timeout))
        self._start_keepalive(fx, now)

    def _will_retry(
        self, fx: list[Effect], now: float, delay: float | None = None, **_: Any
    ) -> bool:
        return delay is not None

    def _on_lost(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.lost_at = now
        self.attempt = 0
        fx.extend(
            CancelTimer(t)
            for t in (KEEPALIVE_TIMER, PONG_TIMER)
            if t in self._timers.get("session", ())
        )
        fx.append(Emit(SESSION, "disconnect"))
        fx.append(_ccs(CcsConnectionStatus.DISCONNECTED))
        fx.extend(CancelTimer(t) for owner, armed in sorted(self._timers.items())
                  if owner.startswith("presence:") for t in sorted(armed))  # fmt: skip
        if self.contacts:
            fx.extend(_presence_change(sorted(self.contacts), online=False))
            self.contacts.clear()
        fx.extend(self._each_child("on_disconnected", now))

    def _schedule_retry(
        self, fx: list[Effect], now: float, delay: float | None = None, **_: Any
    ) -> None:
        if self.lost_at is None:
            self.lost_at = now
        self.attempt += 1
        if REGISTER_TIMER in self._timers.get("session", ()):
            fx.append(CancelTimer(REGISTER_TIMER))
        fx.append(StartTimer(RETRY_TIMER, now + (delay or 0.0)))

    def _reconnect(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(_ccs(CcsConnectionStatus.RETRY))
        fx.append(Emit(SESSION, "reconnecting"))
        fx.append(OpenTransport(self.config.server_url))

    def _close_transport(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(CloseTransport())

    def _fail_initial(self, fx: list[Effect], now: float, reason: str = "", **_: Any) -> None:
        self._fail(fx, ErrorNumber.ERROR_APIRTC_INITIALISATION_FAILED, 1, {"cause": reason})

    def _give_up(self, fx: list[Effect], now: float, reason: str = "", **_: Any) -> None:
        self._fail(fx, ErrorNumber.ERROR_NETWORK_UNAVAILABLE, self.attempt, {"cause": reason})

    def _refused(
        self, fx: list[Effect], now: float, reason: str = "", code: str = "", **_: Any
    ) -> None:
        # the relay's refusal, final: its code and its reason in words, no reconnection
        number = (
            ErrorNumber.ERROR_APIRTC_INITIALISATION_FAILED
            if self.session_id is None
            else ErrorNumber.ERROR_NETWORK_UNAVAILABLE
        )
        self._fail(fx, number, max(self.attempt, 1), {"code": code, "reason": reason})

    def _fail(
        self,
        fx: list[Effect],
        number: ErrorNumber,
        attempts: int,
        more: Mapping[str, str] | None = None,
    ) -> None:
        self._cancel_own(fx)
        fx.append(_ccs(CcsConnectionStatus.ERROR))
        descriptor: dict[str, Any] = {"errorNumber": int(number), "attempts": attempts}
        descriptor.update((k, v) for k, v in (more or {}).items() if v)
        fx.append(_error(ErrorCode.SERVER_CONNECTION_FAILED, descriptor))

    def _cancel_own(self, fx: list[Effect]) -> None:
        fx.extend(CancelTimer(t) for t in sorted(self._timers.get("session", ())))

    def _close(self, fx: list[Effect], now: float, **_: Any) -> None:
        # a ``before`` callback: ``self.state`` is still the state being left
        registered = self.state in (
            SessionState.CONNECTED,
            SessionState.REREGISTERING,
            SessionState.REGISTERING,
        )
        transport_open = registered or self.state in (
            SessionState.CONNECTING,
            SessionState.RECONNECTING,
        )
        for child in list(self._routes["call_id"].values()):
            close = getattr(child, "close", None)
            if close is not None:
                fx.extend(close(now))
        for route, children in self._routes.items():
            for key in list(children):
                fx.extend(self.detach(route, key))
        fx.extend(CancelTimer(t) for t in sorted(self.armed_timers()))
        self._timers.clear()
        self.contacts.clear()
        if registered:
            fx.append(Send(None, wire.Unregister()))
        if transport_open:
            fx.append(CloseTransport())


_ENDED_CALLS_KEPT = 4096


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


def child_key(child: object) -> str:
    """The id a child is registered under (its ``id`` attribute)."""
    key: str = getattr(child, "id")  # noqa: B009
    return key


def _refusal_while_registering(session: Session, msg: wire.Message) -> bool:
    """A ``ServerError`` the relay answers a ``Register`` with (a refused token...)."""
    return type(msg) is wire.ServerError and session.state in (
        SessionState.REGISTERING,
        SessionState.REREGISTERING,
    )


def _presence_batch(session: Session, env: wire.Envelope, now: float) -> list[Effect]:
    """The relay's initial presence, several contacts at once: one ``Presence`` each."""
    msg = env.message
    assert isinstance(msg, wire.PresenceBatch)
    if env.sender is not None:
        return [Drop("forged", "presence must come from the server")]
    by_user: dict[str, list[str]] = {}
    for address in msg.devices:
        by_user.setdefault(address.partition("/")[0], []).append(address)
    fx: list[Effect] = []
    for user, devices in by_user.items():
        presence = wire.Envelope(wire.Presence(user, True, devices))
        fx.extend(session._msg_presence(presence, now))
    return fx


_SESSION_HANDLERS: dict[type[wire.Message], Callable[[Session, wire.Envelope, float], list[Effect]]]
_SESSION_HANDLERS = {
    wire.Registered: Session._msg_registered,
    wire.Ping: Session._msg_ping,
    wire.Pong: Session._msg_pong,
    wire.Presence: Session._msg_presence,
    wire.ServerError: Session._msg_server_error,
    wire.ContactMessage: Session._msg_contact_message,
    wire.ContactData: Session._msg_contact_data,
    wire.PresenceBatch: _presence_batch,
}
