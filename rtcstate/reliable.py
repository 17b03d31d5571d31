"""ReliableSender: send, wait for the acknowledgement, retransmit, give up.

Theory of operation
-------------------
Signaling goes through a relay that may lose a message (a device reconnecting, a relay
restart), so what must arrive (a call's ``invite``, ``answer``, ``bye``, ``update``) is sent
*reliably*: kept until the far side acknowledges it, and sent again on a schedule while it
does not. One ReliableSender belongs to one owner (a Call today); it keeps the messages waiting
for their acknowledgement, counts the sends, and owns one timer, which the owner names and
routes back to :meth:`ReliableSender.expire`.

*Schedule.* The first message arms the timer at ``rtx_initial``; each expiry sends every waiting
message again and re-arms it for twice the previous delay, at most ``rtx_max``. After
``rtx_attempts`` sends in all the sender *gives up*: it forgets the messages and reports
:data:`RtxOutcome.GAVE_UP` to its owner, which decides what that means (a call ends with
``CALL_ABORTED``: see ``Call``'s table and ``END_CAUSES``). An acknowledgement (:meth:`settle`)
removes the messages it answers; the last one removed disarms the timer.

*The server away.* While the owner's session has lost the server (:meth:`pause`) nothing can be
delivered: the timer is disarmed and no attempt is counted, and a message sent meanwhile is
kept without arming it (PAUSED). :meth:`resume` (the session reconnected) sends everything
waiting again at once, counts afresh and re-arms the timer at ``rtx_initial``.

States: IDLE (nothing waiting), WAITING (something waiting, the timer armed), PAUSED
(something waiting, the server away), OFFLINE (nothing waiting, the server away). The table
below is the only decision point; the owner's commands are its triggers (there is no wire
input: the owner reads the acknowledgement, it knows which message kinds it answers).
The owner passes itself (:class:`ReliableOwner`: where messages go, the timer's id and the
schedule) to every command, so the sender holds three fields and no reference back.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

import attrs

from rtcstate import wire
from rtcstate.drops import DropReason
from rtcstate.effects import CancelTimer, Effect, Send, StartTimer
from rtcstate.machine import Ignore, Inputs, Verdict, machine, spec_of, stay

__all__ = [
    "TRANSITIONS",
    "VERDICTS",
    "ReliableDrop",
    "ReliableOwner",
    "ReliableSender",
    "ReliableState",
    "ReliableTimer",
    "RtxOutcome",
    "Schedule",
]


class Schedule(Protocol):
    """The retransmission schedule (a :class:`~rtcstate.settings.CallSettings` is one)."""

    @property
    def rtx_initial(self) -> float: ...
    @property
    def rtx_max(self) -> float: ...
    @property
    def rtx_attempts(self) -> int: ...


class ReliableOwner(Protocol):
    """What a sender needs of its owner, read at each command (the address may change)."""

    @property
    def remote(self) -> str:
        """Where the messages go."""

    @property
    def settings(self) -> Schedule:
        """The schedule."""

    @property
    def rtx_timer_id(self) -> str:
        """The id of the owner's retransmission timer (the owner routes it to ``expire``)."""


class ReliableDrop(DropReason):
    """Why a sender ignored a command on purpose (seen only in its own pair tests: the owner
    maps every outcome to its own drop reasons)."""

    STALE_TIMER = "stale-timer"
    """The timer fired with nothing waiting, or while the server is away."""
    NOTHING_WAITING = "nothing-waiting"
    """An acknowledgement with nothing waiting for one."""
    ALREADY = "already"
    """Paused while paused, resumed while connected."""


class ReliableTimer(enum.Enum):
    """The sender's one timer (its owner gives it an id of its own: ``rtx_timer_id``)."""

    RTX = "rtx"


class ReliableState(enum.Enum):
    IDLE = "IDLE"  # nothing waiting for an acknowledgement; the server reachable
    WAITING = "WAITING"  # messages waiting; the timer armed
    PAUSED = "PAUSED"  # messages waiting; the server away (no timer, no attempt counted)
    OFFLINE = "OFFLINE"  # nothing waiting; the server away


class RtxOutcome(enum.Enum):
    """What an expiry of the timer did (returned to the owner by :meth:`ReliableSender.expire`)."""

    RESENT = "resent"  # everything waiting sent again, the timer re-armed
    GAVE_UP = "gave-up"  # rtx_attempts sends went unanswered: the messages are forgotten
    STALE = "stale"  # nothing was waiting, or the server is away: nothing done


_ONLINE = ["IDLE", "WAITING"]
_OFFLINE = ["PAUSED", "OFFLINE"]

TRANSITIONS: list[dict[str, Any]] = [
    # send: keep the message, send it now; the first one arms the timer (not while away)
    {"trigger": "send", "source": "IDLE", "dest": "WAITING", "after": ["_keep", "_arm_first"]},
    *stay("send", "WAITING", after="_keep"),
    {"trigger": "send", "source": "OFFLINE", "dest": "PAUSED", "after": "_keep"},
    *stay("send", "PAUSED", after="_keep"),
    # hold: forget what waits, keep one message for the reconnection without sending it now
    {"trigger": "hold", "source": _OFFLINE, "dest": "PAUSED", "after": "_hold"},
    {"trigger": "hold", "source": _ONLINE, "dest": "WAITING",
     "after": ["_forget", "_keep", "_arm_first"]},
    # settle: an acknowledgement removes what it answers; the last one disarms the timer
    {"trigger": "settle", "source": "WAITING", "dest": "IDLE", "conditions": "_settles_all",
     "after": ["_forget", "_disarm"]},
    {"trigger": "settle", "source": "PAUSED", "dest": "OFFLINE", "conditions": "_settles_all",
     "after": "_forget"},
    *stay("settle", ["WAITING", "PAUSED"], conditions="_settles_some", after="_remove"),
    # the timer
    {"trigger": "expire", "source": "WAITING", "dest": "IDLE", "conditions": "_spent",
     "after": ["_forget", "_gave_up"]},
    *stay("expire", "WAITING", after="_retransmit"),
    # forget everything (the owner ended: only its final message matters, or nothing)
    {"trigger": "clear", "source": "WAITING", "dest": "IDLE", "after": ["_forget", "_disarm"]},
    {"trigger": "clear", "source": "PAUSED", "dest": "OFFLINE", "after": "_forget"},
    # the far side is known away for a while: the sends so far do not count
    *stay("count_afresh", ["WAITING", "PAUSED"], after="_count_afresh"),
    # the owner's session lost / found the server
    {"trigger": "pause", "source": "IDLE", "dest": "OFFLINE"},
    {"trigger": "pause", "source": "WAITING", "dest": "PAUSED", "after": "_disarm"},
    {"trigger": "resume", "source": "OFFLINE", "dest": "IDLE"},
    {"trigger": "resume", "source": "PAUSED", "dest": "WAITING", "after": "_resend_all"},
]  # fmt: skip

INPUTS = Inputs(unexpected=ReliableDrop.STALE_TIMER, timers={ReliableTimer.RTX: "expire"})
"""The sender's one input: its timer (the owner routes its own timer id here)."""

VERDICTS: dict[str | tuple[str, str], Verdict] = {
    "settle": Ignore(ReliableDrop.NOTHING_WAITING),
    "expire": Ignore(ReliableDrop.STALE_TIMER),
    "clear": Ignore(ReliableDrop.NOTHING_WAITING),
    "count_afresh": Ignore(ReliableDrop.NOTHING_WAITING),
    "pause": Ignore(ReliableDrop.ALREADY),
    "resume": Ignore(ReliableDrop.ALREADY),
}
"""What the (state, trigger) pairs without a row mean."""


@machine(
    ReliableState,
    TRANSITIONS,
    initial=ReliableState.IDLE,
    inputs=INPUTS,
    verdicts=VERDICTS,
)
@attrs.define(slots=True, eq=False)
class ReliableSender:
    """Messages waiting for their acknowledgement, and how many sends they had."""

    state: ReliableState = ReliableState.IDLE
    waiting: list[wire.Message] | None = None
    tries: int = 0  # sends so far of what waits (the first send counts 1)

    # --- the owner's commands ------------------------------------------------------------------

    def send(self, fx: list[Effect], now: float, owner: ReliableOwner, msg: wire.Message) -> None:
        """Send ``msg`` now and keep it until :meth:`settle` removes it."""
        _SPEC.fire(self, "send", fx, now, owner=owner, msg=msg)

    def settle(
        self,
        fx: list[Effect],
        now: float,
        owner: ReliableOwner,
        kind: type[wire.Message],
        seq: int | None = None,
    ) -> bool:
        """An acknowledgement: forget the waiting messages of class ``kind`` (with ``seq``, if
        given). False if none was waiting (a duplicate acknowledgement)."""
        return _SPEC.fire(self, "settle", fx, now, owner=owner, kind=kind, seq=seq)

    def expire(self, fx: list[Effect], now: float, owner: ReliableOwner) -> RtxOutcome:
        """The owner's retransmission timer fired."""
        if not _SPEC.allowed(self.state, "expire"):
            return RtxOutcome.STALE
        _SPEC.fire(self, "expire", fx, now, owner=owner)
        return RtxOutcome.RESENT if self.state is ReliableState.WAITING else RtxOutcome.GAVE_UP

    def spent(self, owner: ReliableOwner) -> bool:
        """Whether the next expiry gives up (``rtx_attempts`` sends went unanswered)."""
        return self.state is ReliableState.WAITING and self.tries >= owner.settings.rtx_attempts

    def hold(self, fx: list[Effect], now: float, owner: ReliableOwner, msg: wire.Message) -> None:
        """Forget what waits and keep only ``msg``, counted as sent once; while the server is
        away it is not sent now (the reconnection sends it)."""
        _SPEC.fire(self, "hold", fx, now, owner=owner, msg=msg)

    def clear(self, fx: list[Effect], now: float, owner: ReliableOwner) -> None:
        """Forget everything waiting (disarming the timer)."""
        _SPEC.fire(self, "clear", fx, now, owner=owner)

    def count_afresh(self, fx: list[Effect], now: float, owner: ReliableOwner) -> None:
        """The sends so far do not count (the far side is known to be away for a while)."""
        _SPEC.fire(self, "count_afresh", fx, now, owner=owner)

    def pause(self, fx: list[Effect], now: float, owner: ReliableOwner) -> None:
        """The server is away: disarm, count nothing until :meth:`resume`."""
        _SPEC.fire(self, "pause", fx, now, owner=owner)

    def resume(self, fx: list[Effect], now: float, owner: ReliableOwner) -> None:
        """The server is back: send everything waiting again, count afresh, re-arm."""
        _SPEC.fire(self, "resume", fx, now, owner=owner)

    @property
    def pending(self) -> bool:
        """Whether something waits for its acknowledgement."""
        return bool(self.waiting)

    def holds(self, kind: type[wire.Message]) -> bool:
        """Whether a message of class ``kind`` waits for its acknowledgement."""
        return any(type(m) is kind for m in self.waiting or ())

    # --- conditions and callbacks (signature: fx, now, owner=, ...) ----------------------------

    def _keep(self, fx: list[Effect], now: float, owner: ReliableOwner, msg: Any, **_: Any) -> None:
        if self.waiting is None:
            self.waiting = []
        self.waiting.append(msg)
        fx.append(Send(owner.remote, msg))

    def _arm_first(self, fx: list[Effect], now: float, owner: ReliableOwner, **_: Any) -> None:
        self.tries = 1
        fx.append(StartTimer(owner.rtx_timer_id, now + owner.settings.rtx_initial))

    def _hold(self, fx: list[Effect], now: float, owner: ReliableOwner, msg: Any, **_: Any) -> None:
        self.waiting = [msg]
        self.tries = 1

    def _kept(self, kind: type[wire.Message], seq: int | None) -> list[wire.Message]:
        if seq is None:
            return [m for m in self.waiting or () if type(m) is not kind]
        return [
            m
            for m in self.waiting or ()
            if not (type(m) is kind and getattr(m, "seq", None) == seq)
        ]

    def _settles_all(
        self, fx: list[Effect], now: float, kind: Any = None, seq: Any = None, **_: Any
    ) -> bool:
        return bool(self.waiting) and not self._kept(kind, seq)

    def _settles_some(
        self, fx: list[Effect], now: float, kind: Any = None, seq: Any = None, **_: Any
    ) -> bool:
        return len(self._kept(kind, seq)) != len(self.waiting or ())

    def _remove(
        self, fx: list[Effect], now: float, kind: Any = None, seq: Any = None, **_: Any
    ) -> None:
        self.waiting = self._kept(kind, seq)

    def _forget(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.waiting = None

    def _disarm(self, fx: list[Effect], now: float, owner: ReliableOwner, **_: Any) -> None:
        fx.append(CancelTimer(owner.rtx_timer_id))

    def _spent(self, fx: list[Effect], now: float, owner: ReliableOwner, **_: Any) -> bool:
        return self.tries >= owner.settings.rtx_attempts

    def _gave_up(self, fx: list[Effect], now: float, **_: Any) -> None:
        """Nothing to do here: :meth:`expire` reports GAVE_UP (``tries`` stays readable)."""

    def _retransmit(self, fx: list[Effect], now: float, owner: ReliableOwner, **_: Any) -> None:
        s = owner.settings
        delay = min(s.rtx_initial * 2**self.tries, s.rtx_max)
        self.tries += 1
        fx.extend(Send(owner.remote, m) for m in self.waiting or ())
        fx.append(StartTimer(owner.rtx_timer_id, now + delay))

    def _count_afresh(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.tries = 0

    def _resend_all(self, fx: list[Effect], now: float, owner: ReliableOwner, **_: Any) -> None:
        self.tries = 0
        fx.extend(Send(owner.remote, m) for m in self.waiting or ())
        fx.append(StartTimer(owner.rtx_timer_id, now + owner.settings.rtx_initial))


_SPEC = spec_of(ReliableSender)
