"""Recording: one recording of a published stream or a conversation, with apiRTC's timeouts.

Theory of operation
-------------------
``startRecording`` (IDLE -> STARTING) asks the adapter to record media ``media_id`` (a local
stream id, or a call id) with :class:`~rtcstate.effects.StartRecording` and arms the start
timer: apiRTC rejects a start not confirmed within 10 s. The adapter's
:class:`~rtcstate.media.RecordingReport` ``started`` makes it RECORDING (``recordingStarted``
with the RecordingInfo; the start resolved with it), ``failed`` or the start timer makes it
IDLE again (the start rejected: 12 ERROR_STREAM_RECORD / 11 ERROR_TIMED_OUT). ``stopRecording``
(RECORDING -> STOPPING) sends :class:`~rtcstate.effects.StopRecording` and arms the stop timer:
the report ``stopped`` gives ``recordingStopped`` and ``available`` (the file written: the info
now holds its ``mediaURL`` and ``recordedFileName``) gives ``recordingAvailable`` and resolves
the stop (IDLE); after 5 s without it the stop *resolves* anyway with the last info, as apiRTC
does. A second start while not IDLE raises 12 ERROR_STREAM_RECORD (apiRTC's
``START_RECORD_ALREADY_ON``), a stop while not RECORDING 16 ERROR_WRONG_STATE.

RecordingInfo (apiRTC §2.7): ``roomName, callId, recordType, convId, mediaId, mediaURL,
recordedFileName, audioOnly, videoOnly, mode, labelEnabled`` (``labels`` only for a composite).
The core fills what it knows; the adapter's reports add ``mediaURL`` and ``recordedFileName``
(a report's ``info`` is merged in). Events go to :attr:`Recording.target` (the conversation).
Inputs are data (:data:`RECORDING_INPUTS`: the report by ``status``, two timers); a late report
or timer is dropped (:class:`RecordingDrop`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from rtcstate.codes import ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import (
    CancelTimer,
    Drop,
    Effect,
    Emit,
    StartRecording,
    StartTimer,
    StopRecording,
)
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, machine, spec_of, stay
from rtcstate.media import RecordingReport

__all__ = [
    "RECORDING_INPUTS",
    "RECORDING_TRANSITIONS",
    "Recording",
    "RecordingDrop",
    "RecordingOutcome",
    "RecordingState",
    "RecordingTimer",
]

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class RecordingDrop(DropReason):
    UNEXPECTED = "unexpected-input"
    """A report status this state has no row for (``stopped`` while starting...)."""
    LATE = "late-report"
    """A report or a timer for a recording that is not in progress (after a timeout)."""


class RecordingState(enum.Enum):
    IDLE = "idle"
    STARTING = "starting"
    RECORDING = "recording"
    STOPPING = "stopping"


class RecordingTimer(enum.Enum):
    START = "start"
    STOP = "stop"


@attrs.frozen(slots=True)
class RecordingOutcome(Effect):
    """The promise of ``command`` (``start`` / ``stop``) settles: ``code`` None resolves it with
    ``info``, a number rejects it."""

    target: str
    command: str
    info: Mapping[str, Any]
    code: int | None = None


RECORDING_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "start", "source": "IDLE", "dest": "STARTING", "after": "_start"},
    {"trigger": "started", "source": "STARTING", "dest": "RECORDING", "after": "_started"},
    {"trigger": "failed", "source": "STARTING", "dest": "IDLE", "after": "_start_failed"},
    {"trigger": "failed", "source": ["RECORDING", "STOPPING"], "dest": "IDLE",
     "after": "_failed"},
    {"trigger": "start_timer", "source": "STARTING", "dest": "IDLE", "after": "_start_timeout"},
    {"trigger": "stop", "source": "RECORDING", "dest": "STOPPING", "after": "_stop"},
    *stay("stopped", ["RECORDING", "STOPPING"], after="_stopped"),
    {"trigger": "available", "source": ["RECORDING", "STOPPING"], "dest": "IDLE",
     "after": "_available"},
    {"trigger": "stop_timer", "source": "STOPPING", "dest": "IDLE", "after": "_stop_timeout"},
]  # fmt: skip

RECORDING_INPUTS = Inputs(
    unexpected=RecordingDrop.UNEXPECTED,
    media={
        RecordingReport: Classify(
            "status",
            {
                "started": "started",
                "stopped": "stopped",
                "available": "available",
                "failed": "failed",
            },
        ),
    },
    timers={RecordingTimer.START: "start_timer", RecordingTimer.STOP: "stop_timer"},
)

_LATE = Ignore(RecordingDrop.LATE)
RECORDING_VERDICTS: dict[str | tuple[str, str], Any] = {
    "start": ILLEGAL,
    "stop": ILLEGAL,
    "started": _LATE,
    "stopped": _LATE,
    "available": _LATE,
    "failed": _LATE,
    "start_timer": _LATE,
    "stop_timer": _LATE,
}


@machine(
    RecordingState,
    RECORDING_TRANSITIONS,
    initial=RecordingState.IDLE,
    inputs=RECORDING_INPUTS,
    verdicts=RECORDING_VERDICTS,
    errors={"start": ErrorNumber.ERROR_STREAM_RECORD},
)
@attrs.define(slots=True, eq=False)
class Recording:
    """The recording of one medium (see the module's theory of operation)."""

    #: what is recorded: a local stream id (published stream) or a call id
    media_id: str
    #: the Emit target (``conversation:<name>``)
    target: str
    room: str = ""
    record_type: str = "stream"
    audio_only: bool = False
    video_only: bool = False
    #: the first part of its timer ids (``<kind>:<media id>:start``): a conversation's
    #: recording uses its calls' kind so the session routes the expiry to its slot
    timer_kind: str = "recording"
    state: RecordingState = RecordingState.IDLE
    info: dict[str, Any] = attrs.field(factory=dict)
    timers: dict[RecordingTimer, float] = attrs.field(factory=dict)

    @property
    def recording(self) -> bool:
        return self.state is not RecordingState.IDLE

    def timer_id(self, timer: RecordingTimer) -> str:
        return f"{self.timer_kind}:{self.media_id}:{timer.value}"

    def start(self, now: float) -> list[Effect]:
        return self._command("start", now)

    def stop(self, now: float) -> list[Effect]:
        return self._command("stop", now)

    def media_event(self, event: object, now: float) -> list[Effect]:
        fx: list[Effect] = []
        spec_of(self).deliver(self, type(event), event, fx, now, msg=event)
        return fx

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        timer = next((t for t in RecordingTimer if self.timer_id(t) == name), None)
        if timer is None or timer not in self.timers:
            return [Drop(RecordingDrop.LATE, f"timer {name} is not armed")]
        del self.timers[timer]
        fx: list[Effect] = []
        spec_of(self).deliver(self, timer, timer, fx, now)
        return fx

    # --- internals -----------------------------------------------------------------------------

    def _command(self, trigger: str, now: float) -> list[Effect]:
        spec = spec_of(self)
        if not spec.allowed(self.state, trigger):
            raise spec.invalid(self, trigger)
        fx: list[Effect] = []
        spec.fire(self, trigger, fx, now)
        return fx

    def _arm(self, fx: list[Effect], timer: RecordingTimer, deadline: float) -> None:
        self.timers[timer] = deadline
        fx.append(StartTimer(self.timer_id(timer), deadline))

    def _disarm(self, fx: list[Effect]) -> None:
        for timer in list(self.timers):
            del self.timers[timer]
            fx.append(CancelTimer(self.timer_id(timer)))

    def _merge(self, msg: Any) -> dict[str, Any]:
        extra = msg.info if isinstance(getattr(msg, "info", None), Mapping) else {}
        for key in ("mediaURL", "recordedFileName"):
            value = extra.get(key)
            if isinstance(value, str):
                self.info[key] = value
        return dict(self.info)

    def _emit(self, fx: list[Effect], event: str) -> None:
        fx.append(Emit(self.target, event, dict(self.info)))

    def _start(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.info = {
            "roomName": self.room,
            "callId": self.media_id,
            "recordType": self.record_type,
            "convId": self.room,
            "mediaId": self.media_id,
            "mediaURL": None,
            "recordedFileName": None,
            "audioOnly": self.audio_only,
            "videoOnly": self.video_only,
            "mode": "complete",
            "labelEnabled": False,
        }
        fx.append(StartRecording(self.media_id))
        self._arm(fx, RecordingTimer.START, now + START_TIMEOUT)

    def _started(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._disarm(fx)
        self._merge(msg)
        self._emit(fx, "recordingStarted")
        fx.append(RecordingOutcome(self.target, "start", dict(self.info)))

    def _start_failed(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._disarm(fx)
        code = int(ErrorNumber.ERROR_STREAM_RECORD)
        fx.append(RecordingOutcome(self.target, "start", self._merge(msg), code))

    def _failed(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._disarm(fx)
        fx.append(
            RecordingOutcome(
                self.target, "stop", self._merge(msg), int(ErrorNumber.ERROR_STREAM_RECORD)
            )
        )

    def _start_timeout(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(StopRecording(self.media_id))  # whatever may have started
        code = int(ErrorNumber.ERROR_TIMED_OUT)
        fx.append(RecordingOutcome(self.target, "start", dict(self.info), code))

    def _stop(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(StopRecording(self.media_id))
        self._arm(fx, RecordingTimer.STOP, now + STOP_TIMEOUT)

    def _stopped(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._merge(msg)
        self._emit(fx, "recordingStopped")

    def _available(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._disarm(fx)
        self._merge(msg)
        self._emit(fx, "recordingAvailable")
        fx.append(RecordingOutcome(self.target, "stop", dict(self.info)))

    def _stop_timeout(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(RecordingOutcome(self.target, "stop", dict(self.info)))
