"""SessionConnection: the session's link to the signaling server, as one table.

Theory of operation
-------------------
``register(now)`` asks the adapter to open the transport (:class:`~rtcstate.effects.OpenTransport`);
the adapter reports ``transport_open``, ``transport_failed`` or ``transport_lost``. Once the
transport is open the connection sends ``Register`` and arms ``session:register``; the server's
``Registered`` makes it CONNECTED and fires the userAgent's ``ccsConnectionStatus {status:
"connected"}``. Failing before the first connection ends in FAILED with ``ccsConnectionStatus
error`` and a session ``error`` (apiRTC's ``ERROR_APIRTC_INITIALISATION_FAILED``).

A CONNECTED transport that is lost (reported, or no ``Pong`` within ``keepalive_timeout`` of a
``Ping`` sent every ``keepalive_interval``: timers ``session:keepalive``, ``session:pong``) fires
``disconnect`` and ``ccsConnectionStatus disconnected``, and the retry policy gives a delay
(``session:retry``); its expiry reopens the transport (``reconnecting``) and a new
``Registered`` gives ``reconnection``. The policy giving up, or a ``ServerError`` whose code is
in ``wire.FINAL_ERROR_CODES`` from the server (a refused token, a conflict), ends in FAILED.
``unregister(now)`` closes everything from any state (CLOSED is final).

Failover: the relays the session may use are ``SessionConfig.targets`` (``server_url`` then
``fallback_urls``); ``target`` is the index of the one in use, and every ``OpenTransport`` names
``targets[target]``. The first registration tries each target once, in order, before it fails
(a transport that fails, closes or does not answer ``Register`` in time moves it on); every
reconnection attempt after a loss goes to the next target, round robin, with the retry
policy's delay. ``transport_moved`` is a loss the relay asked for (it is draining: websocket
close 1012): the same as ``transport_lost`` but without the delay, to the next target at once
(a policy that gave up still gives up). With one URL the target never changes.

Inputs as data
--------------
Every message the session handles itself (not routed to a child) is an input of this table
(:data:`INPUTS`): ``Registered``, ``Presence`` and ``PresenceBatch`` count only from the server
(classified by the envelope's ``sender``: a peer's copy is a ``forged`` drop), ``ServerError``
from the server may be final. Its three timers are inputs too (:class:`SessionTimer`). Every
(state, trigger) pair without a row has a verdict (:data:`VERDICTS`): session-level messages
before CONNECTED are dropped ``not-connected``, a transport report or a timer that no longer
applies is dropped, and the commands raise their apiRTC number. The dispatch is
:meth:`~rtcstate.machine.MachineSpec.deliver`, one lookup.

What the connection needs of the session that holds it (the children, presence, its timers) is
the narrow :class:`ConnectionOwner`; it tells it in typed calls (``registered``, ``lost``,
``closing``), never by writing its fields.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import attrs

from rtcstate import wire
from rtcstate.codes import CcsConnectionStatus, ErrorCode, ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import (
    SESSION,
    USER_AGENT,
    CancelTimer,
    CloseTransport,
    Drop,
    Effect,
    Emit,
    OpenTransport,
    Send,
    StartTimer,
    target,
)
from rtcstate.errors import RtcError
from rtcstate.ids import RandomSource, SplitMix64
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, Verdict, machine, stay
from rtcstate.retry import ExponentialBackoff, RetryPolicy
from rtcstate.session_timers import SESSION_KIND, TimerBook
from rtcstate.settings import CallSettings
from rtcstate.wire_contact import RingingPeer, UserDataUpdate

__all__ = [
    "INPUTS",
    "TRANSITIONS",
    "VERDICTS",
    "ConnectionOwner",
    "SessionConfig",
    "SessionConnection",
    "SessionDrop",
    "SessionState",
    "SessionTimer",
    "error_event",
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


class SessionTimer(enum.Enum):
    """The connection's own timers; the value is the timer id the adapter sees."""

    REGISTER = "session:register"
    RETRY = "session:retry"
    KEEPALIVE = "session:keepalive"
    PONG = "session:pong"


class SessionDrop(DropReason):
    """Why the session ignored an input (its own, and the router's)."""

    NOT_CONNECTED = "not-connected"
    """A message before registration completed or after the transport closed."""
    FORGED = "forged"
    """A message only the server may send (``Registered``, presence) came from a peer."""
    STALE_PONG = "stale-pong"
    """A ``Pong`` for no outstanding ``Ping`` (a duplicate, or late)."""
    UNEXPECTED_MESSAGE = "unexpected-message"
    """A message type a client session never receives."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A transport or media report that does not apply in the current state."""
    UNKNOWN_ID = "unknown-id"
    """A message or report for an id the session does not hold."""
    STALE_TIMER = "stale-timer"
    """A timer that is no longer armed (fired twice, cancelled, or of a forgotten machine)."""
    LATE_ANSWER = "late-answer"
    """An answer to an invitation that already finished."""


_RETRYABLE = ["RECONNECTING", "REREGISTERING"]
_OPEN = ["CONNECTING", "REGISTERING", "CONNECTED", "DISCONNECTED", *_RETRYABLE]
_REGISTERING = ["REGISTERING", "REREGISTERING"]

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
    # the first registration tries every target once before it fails
    *({"trigger": t, "source": ["CONNECTING", "REGISTERING"], "dest": "CONNECTING",
       "conditions": "_untried_target", "after": ["_close_transport", "_next_target"]}
      for t in ("transport_failed", "transport_lost", "transport_moved")),
    {"trigger": "register_timeout", "source": "REGISTERING", "dest": "CONNECTING",
     "conditions": "_untried_target", "after": ["_close_transport", "_next_target"]},
    {"trigger": "transport_failed", "source": ["CONNECTING", "REGISTERING"], "dest": "FAILED",
     "after": "_fail_initial"},
    {"trigger": "transport_failed", "source": _RETRYABLE, "dest": "DISCONNECTED",
     "conditions": "_will_retry", "after": "_schedule_retry"},
    {"trigger": "transport_failed", "source": _RETRYABLE, "dest": "FAILED",
     "after": "_give_up"},
    # a lost transport, or one the relay closed to move its clients (draining: no delay)
    *(row for t in ("transport_lost", "transport_moved") for row in (
        {"trigger": t, "source": ["CONNECTING", "REGISTERING"], "dest": "FAILED",
         "after": "_fail_initial"},
        {"trigger": t, "source": "CONNECTED", "dest": "DISCONNECTED",
         "conditions": "_will_retry", "after": ["_on_lost", "_schedule_retry"]},
        {"trigger": t, "source": "CONNECTED", "dest": "FAILED",
         "after": ["_on_lost", "_give_up"]},
        {"trigger": t, "source": _RETRYABLE, "dest": "DISCONNECTED",
         "conditions": "_will_retry", "after": "_schedule_retry"},
        {"trigger": t, "source": _RETRYABLE, "dest": "FAILED",
         "after": "_give_up"},
    )),
    # server messages
    {"trigger": "registered", "source": "REGISTERING", "dest": "CONNECTED",
     "after": "_on_registered"},
    {"trigger": "registered", "source": "REREGISTERING", "dest": "CONNECTED",
     "after": "_on_reregistered"},
    # the relay's error: a final code (a refused token, a conflict: wire.FINAL_ERROR_CODES)
    # ends the session; any other is an ``error`` event once connected
    {"trigger": "server_error", "source": _REGISTERING, "dest": "FAILED",
     "conditions": "_final_code", "after": ["_close_transport", "_refused"]},
    *stay("server_error", _REGISTERING, after="_too_early"),
    {"trigger": "server_error", "source": "CONNECTED", "dest": "FAILED",
     "conditions": "_final_code", "after": ["_close_transport", "_on_lost", "_refused"]},
    *stay("server_error", "CONNECTED", after="_error_event"),
    *stay("peer_error", "CONNECTED", after="_error_event"),
    *stay("ping", "CONNECTED", after="_answer_ping"),
    {"trigger": "pong", "source": "CONNECTED", "dest": "CONNECTED",
     "conditions": "_awaited_pong", "after": "_pong_arrived"},
    *stay("pong", "CONNECTED", after="_stale_pong"),
    *stay("presence", "CONNECTED", after="_presence"),
    *stay("presence_batch", "CONNECTED", after="_presence_batch"),
    *stay("contact_message", "CONNECTED", after="_contact_message"),
    *stay("contact_data", "CONNECTED", after="_contact_data"),
    *stay("user_data", "CONNECTED", after="_user_data"),
    *stay("ringing_peer", "CONNECTED", after="_ringing_peer"),
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
]  # fmt: skip


def _server_only(trigger: str) -> Classify:
    """A message that counts only from the server (the relay stamps a peer's ``sender``)."""
    return Classify("sender", {None: trigger}, otherwise=Ignore(SessionDrop.FORGED))


INPUTS = Inputs(
    unexpected=SessionDrop.UNEXPECTED_MESSAGE,
    wire={
        wire.Registered: _server_only("registered"),
        wire.ServerError: Classify("sender", {None: "server_error"}, otherwise="peer_error"),
        wire.Ping: "ping",
        wire.Pong: "pong",
        wire.Presence: _server_only("presence"),
        wire.PresenceBatch: _server_only("presence_batch"),
        wire.ContactMessage: "contact_message",
        wire.ContactData: "contact_data",
        UserDataUpdate: _server_only("user_data"),
        RingingPeer: _server_only("ringing_peer"),
    },
    timers={
        SessionTimer.REGISTER: "register_timeout",
        SessionTimer.RETRY: "retry_timer",
        SessionTimer.KEEPALIVE: "keepalive_timer",
        SessionTimer.PONG: "pong_timeout",
    },
)
"""The session's own inputs: wire messages (as classified) and timers -> triggers."""

_MESSAGES = ("ping", "pong", "presence", "presence_batch", "contact_message", "contact_data",
             "peer_error", "server_error", "registered", "user_data",
             "ringing_peer")  # fmt: skip
_REPORTS = ("transport_open", "transport_failed", "transport_lost", "transport_moved")
_TIMERS = ("register_timeout", "retry_timer", "keepalive_timer", "pong_timeout")

VERDICTS: Mapping[str | tuple[str, str], Verdict] = {
    "register": ILLEGAL,
    "unregister": ILLEGAL,
    **{m: Ignore(SessionDrop.NOT_CONNECTED) for m in _MESSAGES},
    "registered": Ignore(SessionDrop.UNEXPECTED_REPORT),  # not registering (a duplicate)
    **{r: Ignore(SessionDrop.UNEXPECTED_REPORT) for r in _REPORTS},
    **{t: Ignore(SessionDrop.STALE_TIMER) for t in _TIMERS},
}
"""Every pair without a row: messages before CONNECTED (or after) are dropped ``not-connected``,
reports and timers that no longer apply are dropped, the commands raise (``errors``)."""

_LOSS_TRIGGERS = frozenset(
    {"transport_failed", "transport_lost", "transport_moved", "register_timeout", "pong_timeout"}
)


def error_event(code: ErrorCode, descriptor: Mapping[str, Any]) -> Emit:
    """The session's ``error`` event carrying ``code``."""
    return Emit(
        SESSION,
        "error",
        {"errorCode": code.value, "errorInfo": code.info, "descriptor": dict(descriptor)},
    )


def _ccs(status: CcsConnectionStatus) -> Emit:
    """The userAgent's ``ccsConnectionStatus`` event."""
    return Emit(USER_AGENT, "ccsConnectionStatus", {"status": status.value})


def _urls(urls: Iterable[str]) -> tuple[str, ...]:
    return tuple(urls)


@attrs.frozen(slots=True)
class SessionConfig:
    """Settings of a :class:`~rtcstate.session.Session` (all durations in seconds)."""

    user: str
    server_url: str = "ws://127.0.0.1:8765"
    #: more relays, tried in turn after ``server_url`` (failover: see ``SessionConnection``)
    fallback_urls: tuple[str, ...] = attrs.field(default=(), converter=_urls)
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
        if not self.server_url or not all(isinstance(u, str) and u for u in self.fallback_urls):
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "server URLs must be non-empty strings")

    @property
    def targets(self) -> tuple[str, ...]:
        """The relays the session may use, in order: ``server_url``, then ``fallback_urls``."""
        return (self.server_url, *self.fallback_urls)


class ConnectionOwner(Protocol):
    """What the connection asks of the session holding it (typed notifications)."""

    @property
    def timers(self) -> TimerBook:
        """The session's timer book (the connection's own timers are in it)."""

    def registered(self, fx: list[Effect], now: float, resumed: bool) -> None:
        """Registration completed (``resumed``: after a reconnection)."""

    def lost(self, fx: list[Effect], now: float) -> None:
        """The registered connection was lost (contacts go offline, children are told)."""

    def closing(self, fx: list[Effect], now: float) -> None:
        """``unregister``: close and forget every child, cancel every timer."""

    def presence(self, msg: wire.Presence, fx: list[Effect], now: float) -> None:
        """The server's presence of one contact."""

    def group_batch(self, msg: wire.PresenceBatch, fx: list[Effect], now: float) -> None:
        """A coalesced presence batch (changes per group: :mod:`rtcstate.presence_groups`)."""

    def presence_refused(self, request: Mapping[str, Any]) -> None:
        """The relay refused a presence subscription or group (remembered, not asked again)."""

    def message_refused(self, msg: wire.ServerError, fx: list[Effect], now: float) -> None:
        """The relay refused a message it names by its route id (``refused``): the child
        waiting for its answer hears the refusal (a contact post: not delivered)."""

    def user_data_update(self, msg: UserDataUpdate, fx: list[Effect], now: float) -> None:
        """The relay's user data of one contact (apiRTC's ``UserData``)."""

    def ringing_peer(self, msg: RingingPeer, fx: list[Effect], now: float) -> None:
        """The devices of a contact whose calls ring here (not a presence: calls only)."""


def _no_owner() -> ConnectionOwner:
    raise TypeError("SessionConnection needs its owner")


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
    inputs=INPUTS,
    verdicts=VERDICTS,
)
@attrs.define(slots=True, eq=False)
class SessionConnection:
    """The server connection of one session (see the module docstring)."""

    config: SessionConfig
    owner: ConnectionOwner = attrs.field(factory=_no_owner, repr=False)
    rand: RandomSource = attrs.field(factory=SplitMix64, repr=False)
    state: SessionState = SessionState.IDLE
    session_id: str | None = None
    attempt: int = 0
    lost_at: float | None = None
    ping_seq: int = 0
    #: the seq of the oldest ping still unanswered (its pong timer runs; a later ping keeps it)
    pong_from: int = 0
    #: index in ``config.targets`` of the relay in use (or being tried)
    target: int = 0

    # --- helpers for the session ---------------------------------------------------------------

    def next_delay(self, trigger: str, now: float) -> float | None:
        """The retry policy's answer for a loss ``trigger`` (None: give up, or no loss)."""
        if trigger not in _LOSS_TRIGGERS:
            return None
        attempt = self.attempt + 1
        elapsed = 0.0 if self.lost_at is None else now - self.lost_at
        delay = self.config.retry_policy.next_delay(attempt, elapsed, self.rand())
        if trigger == "transport_moved" and delay is not None:
            return 0.0  # the relay asked its clients to move: at once, to the next target
        return delay

    @property
    def url(self) -> str:
        """The URL of the relay in use (or being tried)."""
        return self.config.targets[self.target]

    def _armed(self, timer: SessionTimer) -> bool:
        return self.owner.timers.armed(timer.value)

    # --- transition callbacks (signature: fx, now, **kw) -------------------------------------

    def _open_transport(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.attempt = 0
        self.lost_at = None
        self.target = 0
        fx.append(OpenTransport(self.url))

    def _untried_target(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return self.target + 1 < len(self.config.targets)

    def _next_target(self, fx: list[Effect], now: float, **_: Any) -> None:
        """The first registration moves on to the next target (each is tried once)."""
        if self._armed(SessionTimer.REGISTER):
            fx.append(CancelTimer(SessionTimer.REGISTER.value))
        self.target += 1
        fx.append(OpenTransport(self.url))

    def _send_register(self, fx: list[Effect], now: float, **_: Any) -> None:
        resume = self.state is SessionState.REREGISTERING
        register = wire.Register(
            user=self.config.user,
            device=self.config.device,
            token=self.config.token,
            resume=resume,
        )
        fx.append(Send(None, register))
        fx.append(StartTimer(SessionTimer.REGISTER.value, now + self.config.register_timeout))

    def _on_registered(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self.session_id = _session_id(msg)
        fx.append(CancelTimer(SessionTimer.REGISTER.value))
        fx.append(_ccs(CcsConnectionStatus.CONNECTED))
        self._start_keepalive(fx, now)
        self.owner.registered(fx, now, resumed=False)

    def _on_reregistered(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self.session_id = _session_id(msg)
        self.attempt = 0
        self.lost_at = None
        fx.append(CancelTimer(SessionTimer.REGISTER.value))
        fx.append(Emit(SESSION, "reconnection"))
        fx.append(_ccs(CcsConnectionStatus.CONNECTED))
        self._start_keepalive(fx, now)
        self.owner.registered(fx, now, resumed=True)

    def _start_keepalive(self, fx: list[Effect], now: float) -> None:
        if self.config.keepalive_interval is not None:
            deadline = now + self.config.keepalive_interval
            fx.append(StartTimer(SessionTimer.KEEPALIVE.value, deadline))

    def _send_ping(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.ping_seq += 1
        fx.append(Send(None, wire.Ping(seq=self.ping_seq)))
        if not self._armed(SessionTimer.PONG):
            # a ping sent while an earlier one is unanswered (``keepalive_interval`` at most
            # ``keepalive_timeout``) leaves the earlier deadline running: whatever order the
            # adapter fires two timers due at once in, a lost pong is noticed in time
            self.pong_from = self.ping_seq
            fx.append(StartTimer(SessionTimer.PONG.value, now + self.config.keepalive_timeout))
        self._start_keepalive(fx, now)

    def _answer_ping(
        self, fx: list[Effect], now: float, msg: Any = None, sender: str | None = None, **_: Any
    ) -> None:
        if isinstance(msg, wire.Ping):
            fx.append(Send(sender, wire.Pong(seq=msg.seq)))

    def _awaited_pong(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return (
            isinstance(msg, wire.Pong)
            and self.pong_from <= msg.seq <= self.ping_seq
            and self._armed(SessionTimer.PONG)
        )

    def _pong_arrived(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(CancelTimer(SessionTimer.PONG.value))

    def _stale_pong(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(Drop(SessionDrop.STALE_PONG, str(getattr(msg, "seq", ""))))

    def _final_code(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        # a refused presence request is not final for the session, whatever its code
        return (
            isinstance(msg, wire.ServerError)
            and msg.code in wire.FINAL_ERROR_CODES
            and msg.refused is None
        )

    def _too_early(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._remember_refusal(msg)
        code = getattr(msg, "code", "")
        detail = f"{wire.ServerError.TYPE} {code} in state {self.state.name}"
        fx.append(Drop(SessionDrop.NOT_CONNECTED, detail))

    def _error_event(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        code, info = getattr(msg, "code", ""), getattr(msg, "info", "")
        descriptor: dict[str, Any] = {"code": code, "info": info}
        refused = self._remember_refusal(msg)
        if refused is not None:
            descriptor["refused"] = refused
        fx.append(error_event(ErrorCode.SERVER_ERROR, descriptor))
        if refused is not None and isinstance(msg, wire.ServerError):
            self.owner.message_refused(msg, fx, now)

    def _remember_refusal(self, msg: Any) -> Mapping[str, Any] | None:
        """A presence request the relay refused is remembered (not asked again on reconnection)."""
        refused = getattr(msg, "refused", None)
        if isinstance(refused, Mapping):
            self.owner.presence_refused(refused)
            return refused
        return None

    def _presence(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        if isinstance(msg, wire.Presence):
            self.owner.presence(msg, fx, now)

    def _presence_batch(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        """The relay's initial presence, several contacts at once: one ``Presence`` each."""
        if not isinstance(msg, wire.PresenceBatch):
            return
        if msg.left is not None:  # coalesced presence: changes per group
            self.owner.group_batch(msg, fx, now)
            return
        by_user: dict[str, list[str]] = {}
        for address in msg.devices:
            by_user.setdefault(address.partition("/")[0], []).append(address)
        for user, devices in by_user.items():
            self.owner.presence(wire.Presence(user, True, devices), fx, now)

    def _contact_message(
        self, fx: list[Effect], now: float, msg: Any = None, sender: str | None = None, **_: Any
    ) -> None:
        if isinstance(msg, wire.ContactMessage):
            frm = sender or ""
            body = {"content": msg.content, "uuid": msg.uuid, "time": now}
            fx.append(Emit(SESSION, "contactMessage", {"sender": frm, **body}))
            # the contact is the user (``get_contact(user)`` hears it); the device is in the payload
            user = frm.partition("/")[0]
            fx.append(Emit(target("contact", user), "message", {**body, "device": frm}))

    def _contact_data(
        self, fx: list[Effect], now: float, msg: Any = None, sender: str | None = None, **_: Any
    ) -> None:
        if isinstance(msg, wire.ContactData):
            frm = sender or ""
            fx.append(Emit(SESSION, "contactData", {"sender": frm, "content": msg.content}))
            fx.append(Emit(target("contact", frm.partition("/")[0]), "data", msg.content))

    def _ringing_peer(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        if isinstance(msg, RingingPeer):
            self.owner.ringing_peer(msg, fx, now)

    def _user_data(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        if isinstance(msg, UserDataUpdate):
            self.owner.user_data_update(msg, fx, now)

    def _will_retry(
        self, fx: list[Effect], now: float, delay: float | None = None, **_: Any
    ) -> bool:
        return delay is not None

    def _on_lost(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.lost_at = now
        self.attempt = 0
        fx.extend(
            CancelTimer(t.value)
            for t in (SessionTimer.KEEPALIVE, SessionTimer.PONG)
            if self._armed(t)
        )
        fx.append(Emit(SESSION, "disconnect"))
        fx.append(_ccs(CcsConnectionStatus.DISCONNECTED))
        self.owner.lost(fx, now)

    def _schedule_retry(
        self, fx: list[Effect], now: float, delay: float | None = None, **_: Any
    ) -> None:
        if self.lost_at is None:
            self.lost_at = now
        self.attempt += 1
        if self._armed(SessionTimer.REGISTER):
            fx.append(CancelTimer(SessionTimer.REGISTER.value))
        fx.append(StartTimer(SessionTimer.RETRY.value, now + (delay or 0.0)))

    def _reconnect(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(_ccs(CcsConnectionStatus.RETRY))
        fx.append(Emit(SESSION, "reconnecting"))
        self.target = (self.target + 1) % len(self.config.targets)  # round robin
        fx.append(OpenTransport(self.url))

    def _close_transport(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(CloseTransport())

    def _fail_initial(self, fx: list[Effect], now: float, reason: str = "", **_: Any) -> None:
        self._fail(fx, ErrorNumber.ERROR_APIRTC_INITIALISATION_FAILED, 1, {"cause": reason})

    def _give_up(self, fx: list[Effect], now: float, reason: str = "", **_: Any) -> None:
        self._fail(fx, ErrorNumber.ERROR_NETWORK_UNAVAILABLE, self.attempt, {"cause": reason})

    def _refused(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        # the relay's refusal, final: its code and its reason in words, no reconnection
        number = (
            ErrorNumber.ERROR_APIRTC_INITIALISATION_FAILED
            if self.session_id is None
            else ErrorNumber.ERROR_NETWORK_UNAVAILABLE
        )
        more = {"code": getattr(msg, "code", ""), "reason": getattr(msg, "info", "")}
        self._fail(fx, number, max(self.attempt, 1), more)

    def _fail(
        self,
        fx: list[Effect],
        number: ErrorNumber,
        attempts: int,
        more: Mapping[str, str] | None = None,
    ) -> None:
        fx.extend(CancelTimer(t) for t in self.owner.timers.of(SESSION_KIND))
        fx.append(_ccs(CcsConnectionStatus.ERROR))
        descriptor: dict[str, Any] = {"errorNumber": int(number), "attempts": attempts}
        descriptor.update((k, v) for k, v in (more or {}).items() if v)
        fx.append(error_event(ErrorCode.SERVER_CONNECTION_FAILED, descriptor))

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
        self.owner.closing(fx, now)
        if registered:
            fx.append(Send(None, wire.Unregister()))
        if transport_open:
            fx.append(CloseTransport())


def _session_id(msg: Any) -> str | None:
    return msg.session_id if isinstance(msg, wire.Registered) else None
