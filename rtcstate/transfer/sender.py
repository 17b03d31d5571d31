"""FileSender: the sending side of one file transfer (protocol: :mod:`rtcstate.transfer`).

Theory of operation
-------------------
``start`` sends OFFER (repeated every ``offer_interval``, bounded by ``answer_timeout``) and
waits in OFFERING. ACCEPT moves it to SENDING: it asks the application for bytes
(:class:`~rtcstate.transfer.common.NeedData`), hashes what is fed once, keeps it until
acknowledged and sends it as CHUNK frames while less than ``window`` bytes are unacknowledged.
The channel's buffered-amount reports PAUSE and resume it. With every byte fed and sent it
sends DONE (size, sha256) and waits in FINISHING for COMPLETE. A closed channel INTERRUPTS it
(timer ``resume``); on a new channel it offers again as a hello and goes on from the offset the
receiver's RESUME names, with the bytes it kept. Timers: ``offer``, ``ack`` (no ACK progress for
``ack_timeout``), ``done`` (``done_attempts`` sends), ``resume``. It ends COMPLETED, REJECTED,
CANCELLED or FAILED and answers late frames with its last word. Reports never raise: what its
state cannot take is a protocol error (CANCEL, ``error``) or a :class:`SenderDrop`.

Inputs are data: :data:`SENDER_INPUTS` maps each frame type (CANCEL by its code), undecodable
bytes, channel report and :class:`SenderTimer` to a trigger; the table decides (its guarded
rows validate answers, ACKs and COMPLETE); :data:`SENDER_VERDICTS` gives every other (state,
trigger) pair its verdict, and :data:`SENDER_REPLIES` the methods of a finished sender's
answers. One generic dispatch (:func:`rtcstate.transfer.inputs.deliver`) runs them.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Any, ClassVar, Final

import attrs

from rtcstate.codes import DataChannelErrorType, ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect, SendData, target
from rtcstate.errors import InvalidStateError, RtcError
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, machine, spec_of
from rtcstate.media import (
    BufferedAmountHigh,
    BufferedAmountLow,
    DataChannelClosed,
    DataChannelOpened,
)
from rtcstate.transfer.codec import (
    SIZE_MAX,
    U32_MAX,
    Accept,
    Ack,
    Cancel,
    CancelCode,
    Complete,
    Done,
    Frame,
    FrameError,
    FrameType,
    Offer,
    Reject,
    RejectCode,
    Resume,
    decode_frame,
    encode_frame,
    header,
)
from rtcstate.transfer.common import (
    Digest,
    Endpoint,
    NeedData,
    Piece,
    TransferErrorCode,
    check_id,
    check_text,
)
from rtcstate.transfer.inputs import check_replies, deliver, flatten
from rtcstate.transfer.notices import (
    TransferAccepted,
    TransferCompleted,
    TransferDeclined,
    TransferInterrupted,
    TransferOwner,
    TransferProgress,
    TransferResumed,
)
from rtcstate.transfer.settings import DEFAULT_CHUNK_SIZE, DEFAULT_WINDOW, TransferSettings

__all__ = [
    "SENDER_INPUTS",
    "SENDER_REPLIES",
    "SENDER_TRANSITIONS",
    "SENDER_VERDICTS",
    "FileSender",
    "FileSenderState",
    "SenderDrop",
    "SenderTimer",
]


class SenderDrop(DropReason):
    """Why a :class:`FileSender` ignored an input on purpose."""

    OTHER_TRANSFER = "other-transfer"
    """A frame for another transfer id was handed to this machine."""
    WRONG_DIRECTION = "wrong-direction"
    """A frame that goes to a receiver (OFFER, CHUNK, DONE, CANCEL to the receiver)."""
    NOT_STARTED = "not-started"
    """A frame before ``start``: nothing was offered yet."""
    INTERRUPTED = "interrupted"
    """A frame (other than CANCEL) while the channel is down: it belongs to the old channel."""
    STALE_FRAME = "stale-frame"
    """A repeated ACCEPT / RESUME while already sending, or an ACK that does not advance."""
    FINISHED = "finished"
    """A frame after the transfer ended that needs no answer (CANCEL, COMPLETE, REJECT, or any
    frame once COMPLETED or REJECTED)."""
    LAST_WORD = "last-word"
    """A late ACCEPT, RESUME or ACK once CANCELLED or FAILED: answered with the final CANCEL
    again (the receiver may have missed it), no transition."""
    FINISHED_REOPENED = "finished-reopened"
    """A new channel once finished: noted, and the final CANCEL (if any) said again."""
    FINISHED_CLOSED = "finished-closed"
    """The channel closed once finished: noted (the last word waits for a new one)."""
    UNDECODABLE = "undecodable"
    """Bytes that do not decode and are not (or no longer) this live sender's concern."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A report its state does not take (a channel or buffer report, a timer, a frame whose
    trigger has no row from this state)."""
    STALE_TIMER = "stale-timer"
    """A timer that is not (or no longer) armed by this machine."""


class FileSenderState(enum.Enum):
    IDLE = "IDLE"  # built; start() not called
    OFFERING = "OFFERING"  # OFFER sent (first time, or as a hello on a new channel); waiting
    SENDING = "SENDING"  # accepted: requesting, sending, waiting for ACKs (window)
    PAUSED = "PAUSED"  # flow control: the channel's buffer is above its high mark
    INTERRUPTED = "INTERRUPTED"  # the channel is down (timer resume)
    FINISHING = "FINISHING"  # every byte sent and DONE sent; waiting for COMPLETE
    COMPLETED = "COMPLETED"  # final: the receiver verified the file
    REJECTED = "REJECTED"  # final: the receiver declined (or: too large, busy)
    CANCELLED = "CANCELLED"  # final: cancelled by either application
    FAILED = "FAILED"  # final: an error on either side, or a timeout


_S_LIVE = ["OFFERING", "SENDING", "PAUSED", "INTERRUPTED", "FINISHING"]
_S_UP = ["OFFERING", "SENDING", "PAUSED", "FINISHING"]
_S_FLOWING = ["SENDING", "PAUSED", "FINISHING"]
_S_FINAL = ["COMPLETED", "REJECTED", "CANCELLED", "FAILED"]

SENDER_TRANSITIONS: list[dict[str, Any]] = [
    # application commands
    {"trigger": "start", "source": "IDLE", "dest": "INTERRUPTED", "unless": "_is_up",
     "after": ["_start", "_await_channel"]},
    {"trigger": "start", "source": "IDLE", "dest": "OFFERING", "after": ["_start", "_send_offer"]},
    {"trigger": "feed", "source": "SENDING", "dest": "SENDING", "after": ["_take", "_pump"]},
    {"trigger": "feed", "source": "PAUSED", "dest": "PAUSED", "after": ["_take", "_send_unsent"]},
    {"trigger": "feed", "source": "INTERRUPTED", "dest": "INTERRUPTED", "after": "_take"},
    {"trigger": "feed", "source": "OFFERING", "dest": "OFFERING", "after": "_take"},
    {"trigger": "cancel", "source": ["OFFERING", "SENDING", "PAUSED", "INTERRUPTED"],
     "dest": "CANCELLED", "after": "_cancel_local"},
    # frames from the receiver: ACCEPT or RESUME (an answer to the OFFER, or to its hello)
    {"trigger": "answer", "source": "OFFERING", "dest": "FAILED", "conditions": "_bad_answer",
     "after": "_answer_violation"},
    {"trigger": "answer", "source": "OFFERING", "dest": "PAUSED",
     "conditions": ["_first_answer", "_is_congested"], "after": "_accepted"},
    {"trigger": "answer", "source": "OFFERING", "dest": "SENDING", "conditions": "_first_answer",
     "after": ["_accepted", "_pump"]},
    {"trigger": "answer", "source": "OFFERING", "dest": "PAUSED", "conditions": "_is_congested",
     "after": "_rewind"},
    {"trigger": "answer", "source": "OFFERING", "dest": "SENDING", "after": ["_rewind", "_pump"]},
    *({"trigger": "answer", "source": s, "dest": s, "after": "_stale_answer"}
      for s in _S_FLOWING),
    # ACK
    # (the hot path first: an ACK that advances, within what was sent)
    {"trigger": "ack", "source": "SENDING", "dest": "SENDING", "conditions": "_ack_advances",
     "after": ["_ack", "_pump"]},
    {"trigger": "ack", "source": ["OFFERING", *_S_FLOWING], "dest": "FAILED",
     "conditions": "_not_accepted", "after": "_early_ack"},
    {"trigger": "ack", "source": "OFFERING", "dest": "OFFERING", "after": "_stale_ack"},
    *({"trigger": "ack", "source": s, "dest": s, "conditions": "_ack_is_old",
       "after": "_stale_ack"} for s in _S_FLOWING),
    {"trigger": "ack", "source": _S_FLOWING, "dest": "FAILED", "conditions": "_ack_is_ahead",
     "after": "_ack_violation"},
    {"trigger": "ack", "source": "SENDING", "dest": "SENDING", "after": ["_ack", "_pump"]},
    {"trigger": "ack", "source": "PAUSED", "dest": "PAUSED", "after": "_ack"},
    {"trigger": "ack", "source": "FINISHING", "dest": "FINISHING", "after": "_ack"},
    # COMPLETE, REJECT, CANCEL, undecodable bytes
    {"trigger": "complete", "source": ["FINISHING", "OFFERING"], "dest": "COMPLETED",
     "conditions": "_completes", "after": "_completed"},
    {"trigger": "complete", "source": _S_UP, "dest": "FAILED", "after": "_complete_violation"},
    {"trigger": "reject", "source": "OFFERING", "dest": "REJECTED", "conditions": "_not_accepted",
     "after": "_rejected"},
    {"trigger": "reject", "source": ["OFFERING", "SENDING", "PAUSED", "FINISHING"],
     "dest": "FAILED", "after": "_reject_violation"},
    {"trigger": "remote_cancel", "source": _S_LIVE, "dest": "CANCELLED",
     "after": "_cancelled_by_peer"},
    {"trigger": "remote_failure", "source": _S_LIVE, "dest": "FAILED",
     "after": "_failed_by_peer"},
    {"trigger": "garbled", "source": _S_UP, "dest": "FAILED", "after": "_garbled"},
    {"trigger": "all_sent", "source": ["SENDING", "PAUSED"], "dest": "FINISHING",
     "after": "_send_done"},
    # the channel
    {"trigger": "channel_closed", "source": "IDLE", "dest": "IDLE", "after": "_channel_down"},
    {"trigger": "channel_closed", "source": _S_UP, "dest": "INTERRUPTED",
     "after": "_interrupted"},
    {"trigger": "channel_opened", "source": "IDLE", "dest": "IDLE", "after": "_channel_back"},
    {"trigger": "channel_opened", "source": "INTERRUPTED", "dest": "OFFERING",
     "after": ["_channel_back", "_send_offer"]},
    {"trigger": "buffered_high", "source": "SENDING", "dest": "PAUSED", "after": "_congestion"},
    *({"trigger": "buffered_high", "source": s, "dest": s, "after": "_congestion"}
      for s in ("IDLE", "OFFERING", "PAUSED", "FINISHING")),
    {"trigger": "buffered_low", "source": "PAUSED", "dest": "SENDING",
     "after": ["_relief", "_pump"]},
    {"trigger": "buffered_low", "source": "SENDING", "dest": "SENDING",
     "after": ["_relief", "_pump"]},
    *({"trigger": "buffered_low", "source": s, "dest": s, "after": "_relief"}
      for s in ("IDLE", "OFFERING", "FINISHING")),
    # timers
    {"trigger": "offer_timer", "source": "OFFERING", "dest": "FAILED",
     "conditions": "_answer_overdue", "after": "_timed_out"},
    {"trigger": "offer_timer", "source": "OFFERING", "dest": "OFFERING", "after": "_send_offer"},
    {"trigger": "ack_timer", "source": "SENDING", "dest": "FAILED", "conditions": "_ack_overdue",
     "after": "_timed_out"},
    {"trigger": "ack_timer", "source": "PAUSED", "dest": "FAILED", "conditions": "_ack_overdue",
     "after": "_timed_out"},
    {"trigger": "ack_timer", "source": "SENDING", "dest": "SENDING", "after": "_rearm_ack"},
    {"trigger": "ack_timer", "source": "PAUSED", "dest": "PAUSED", "after": "_rearm_ack"},
    {"trigger": "done_timer", "source": "FINISHING", "dest": "FINISHING",
     "conditions": "_may_repeat_done", "after": "_repeat_done"},
    {"trigger": "done_timer", "source": "FINISHING", "dest": "FAILED", "after": "_timed_out"},
    {"trigger": "resume_timer", "source": ["INTERRUPTED", "OFFERING"], "dest": "FAILED",
     "after": "_timed_out"},
]  # fmt: skip


class SenderTimer(enum.Enum):
    """The sender's timers (ids ``<target>:<value>``)."""

    OFFER = "offer"
    ACK = "ack"
    DONE = "done"
    RESUME = "resume"


_D = SenderDrop
_LAST_WORD = Ignore(_D.LAST_WORD)  # a finished sender repeats its last word (reply: _linger)
_FINISHED = Ignore(_D.FINISHED)
_BEFORE_START = Ignore(_D.NOT_STARTED)
_CHANNEL_DOWN = Ignore(_D.INTERRUPTED)

SENDER_INPUTS = Inputs(
    unexpected=_D.UNEXPECTED_REPORT,
    wire={
        Accept: "answer",
        Resume: "answer",
        Ack: "ack",
        Complete: "complete",
        Reject: "reject",
        Cancel: Classify(
            "code", {CancelCode.CANCELLED: "remote_cancel", CancelCode.FAILED: "remote_failure"}
        ),
        FrameError: "garbled",  # bytes for this sender that do not decode
    },
    media={
        DataChannelOpened: "channel_opened",
        DataChannelClosed: "channel_closed",
        BufferedAmountHigh: "buffered_high",
        BufferedAmountLow: "buffered_low",
    },
    timers={
        SenderTimer.OFFER: "offer_timer",
        SenderTimer.ACK: "ack_timer",
        SenderTimer.DONE: "done_timer",
        SenderTimer.RESUME: "resume_timer",
    },
)
"""How each input of a :class:`FileSender` becomes a trigger (frames by type, CANCEL by code)."""

SENDER_VERDICTS = flatten({
    # commands and the internal all_sent: illegal wherever the table has no row
    "start": ILLEGAL, "feed": ILLEGAL, "cancel": ILLEGAL, "all_sent": ILLEGAL,
    "answer": {"IDLE": _BEFORE_START, "INTERRUPTED": _CHANNEL_DOWN,
               ("COMPLETED", "REJECTED"): _FINISHED, ("CANCELLED", "FAILED"): _LAST_WORD},
    "ack": {"IDLE": _BEFORE_START, "INTERRUPTED": _CHANNEL_DOWN,
            ("COMPLETED", "REJECTED"): _FINISHED, ("CANCELLED", "FAILED"): _LAST_WORD},
    "complete": {"IDLE": _BEFORE_START, "INTERRUPTED": _CHANNEL_DOWN,
                 tuple(_S_FINAL): _FINISHED},
    "reject": {"IDLE": _BEFORE_START, "INTERRUPTED": _CHANNEL_DOWN, tuple(_S_FINAL): _FINISHED},
    "remote_cancel": {"IDLE": _BEFORE_START, tuple(_S_FINAL): _FINISHED},
    "remote_failure": {"IDLE": _BEFORE_START, tuple(_S_FINAL): _FINISHED},
    "garbled": {("IDLE", "INTERRUPTED", *_S_FINAL): Ignore(_D.UNDECODABLE)},
    "channel_opened": {tuple(_S_UP): ILLEGAL, tuple(_S_FINAL): Ignore(_D.FINISHED_REOPENED)},
    "channel_closed": {"INTERRUPTED": ILLEGAL, tuple(_S_FINAL): Ignore(_D.FINISHED_CLOSED)},
    # buffer reports and timers: illegal wherever the table has no row
    "buffered_high": ILLEGAL, "buffered_low": ILLEGAL, "offer_timer": ILLEGAL,
    "ack_timer": ILLEGAL, "done_timer": ILLEGAL, "resume_timer": ILLEGAL,
})  # fmt: skip
"""The verdict of every (state, trigger) pair the table has no row for."""

SENDER_REPLIES: Final[dict[DropReason, str]] = {
    _D.LAST_WORD: "_linger",
    _D.FINISHED_REOPENED: "_reopened",
    _D.FINISHED_CLOSED: "_gone",
}
"""Ignored pairs a finished sender still answers: the reason's method gives the effects."""

_S = FileSenderState
_SENDER_FINAL: Final = frozenset({_S.COMPLETED, _S.REJECTED, _S.CANCELLED, _S.FAILED})


@machine(
    FileSenderState,
    SENDER_TRANSITIONS,
    initial=FileSenderState.IDLE,
    final=_SENDER_FINAL,
    inputs=SENDER_INPUTS,
    verdicts=SENDER_VERDICTS,
)
@attrs.define(slots=True, eq=False)
class FileSender(Endpoint):
    """The sending side of one file transfer (see the module docstring).

    Commands (raise :class:`~rtcstate.errors.RtcError` and change nothing when refused):
    :meth:`start`, :meth:`feed`, :meth:`cancel`. Reports (never raise): :meth:`on_frame`,
    :meth:`receive_frame`, :meth:`channel_opened`, :meth:`channel_closed`,
    :meth:`buffered_high`, :meth:`buffered_low`, :meth:`timer_fired`.
    """

    _BY_RECEIVER: ClassVar[bool] = False
    _ERROR_KIND: ClassVar[DataChannelErrorType] = DataChannelErrorType.SEND_DATA_CHANNEL_ERROR

    transfer_id: str
    channel_id: str
    size: int
    name: str = ""
    mime: str = ""
    chunk_size: int = DEFAULT_CHUNK_SIZE
    window: int = DEFAULT_WINDOW
    settings: TransferSettings = attrs.field(factory=TransferSettings)
    target: str = ""
    state: FileSenderState = FileSenderState.IDLE
    _channel_up: bool = True
    owner: TransferOwner | None = attrs.field(default=None, kw_only=True, repr=False)
    _armed: dict[str, float] = attrs.field(factory=dict, init=False)
    _chunk: int = attrs.field(default=0, init=False)  # agreed chunk size (0: not accepted)
    _acked: int = attrs.field(default=0, init=False)  # receiver holds [0, acked)
    _next: int = attrs.field(default=0, init=False)  # next offset to send
    _fed: int = attrs.field(default=0, init=False)  # bytes the application gave
    _high: int = attrs.field(default=0, init=False)  # highest offset ever sent
    _pieces: deque[Piece] = attrs.field(factory=deque, init=False)  # [acked, fed), kept
    _request: tuple[int, int] | None = attrs.field(default=None, init=False)
    _hash: Digest = attrs.field(factory=Digest, init=False)
    _congested: bool = attrs.field(default=False, init=False)
    _done_sent: bool = attrs.field(default=False, init=False)
    _done_tries: int = attrs.field(default=0, init=False)
    _started: float = attrs.field(default=0.0, init=False)
    _offered_at: float | None = attrs.field(default=None, init=False)
    _ack_since: float = attrs.field(default=0.0, init=False)
    _acked_chunks: int = attrs.field(default=0, init=False)
    _end_code: CancelCode = attrs.field(default=CancelCode.CANCELLED, init=False)
    _end_reason: str = attrs.field(default="", init=False)
    _chunk_head: bytes = attrs.field(default=b"", init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        check_id(self.transfer_id)
        check_text("name", self.name)
        check_text("mime", self.mime)
        if not 0 <= self.size <= SIZE_MAX:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "size out of range")
        if not 1 <= self.chunk_size <= U32_MAX or not 1 <= self.window <= U32_MAX:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "chunk size and window: 1..2**32-1")
        if not self.target:
            self.target = target("outgoingTransfer", self.transfer_id)
        self._chunk_head = header(FrameType.CHUNK, self.transfer_id)

    # --- public: state ------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state in _SENDER_FINAL

    @property
    def acknowledged(self) -> int:
        """Bytes the receiver confirmed holding."""
        return self._acked

    @property
    def requested(self) -> tuple[int, int] | None:
        """The outstanding :class:`NeedData` ``(offset, size)``, if any."""
        return self._request

    @property
    def kept_bytes(self) -> int:
        """Bytes of the application's data held for a possible resend (bounded by the window)."""
        return self._fed - self._acked

    # --- public: commands ---------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        """Send the OFFER (or wait for the channel if it is down)."""
        return self._command("start", now)

    def feed(self, now: float, offset: int, data: bytes | bytearray | memoryview) -> list[Effect]:
        """Give the bytes a :class:`NeedData` asked for: ``offset`` exactly, 1..size bytes."""
        spec = spec_of(self)
        if not spec.allowed(self.state, "feed"):
            raise spec.invalid(self, "feed")
        request = self._request
        if request is None:
            raise InvalidStateError(
                ErrorNumber.ERROR_WRONG_STATE, "FileSender", "feed", self.state.name,
                "no data was requested",
            )  # fmt: skip
        if type(data) is not bytes:
            data = memoryview(data).cast("B")
        if offset != request[0] or not 0 < len(data) <= request[1]:
            raise RtcError(
                ErrorNumber.ERROR_BAD_PARAMETER,
                f"requested {request[1]} bytes at {request[0]}, got {len(data)} at {offset}",
            )
        fx: list[Effect] = []
        spec.fire(self, "feed", fx, now, data=data)
        self._settle(fx, now)
        return fx

    def cancel(self, now: float, reason: str = "cancelled") -> list[Effect]:
        """Cancel the transfer (refused once DONE is out: the receiver may hold the file)."""
        if self._done_sent and not self.finished:
            raise InvalidStateError(
                ErrorNumber.ERROR_WRONG_STATE, "FileSender", "cancel", self.state.name,
                "too late to cancel: every byte and the digest were sent",
            )  # fmt: skip
        check_text("reason", reason)
        return self._command("cancel", now, reason=reason)

    # --- public: reports (never raise): one generic dispatch, SENDER_INPUTS ----------------

    def on_frame(self, data: bytes | bytearray | memoryview | str, now: float) -> list[Effect]:
        """A data-channel message for this transfer."""
        try:
            frame = decode_frame(data)
        except FrameError as exc:
            if exc.transfer_id == self.transfer_id and exc.to_sender:
                return self._deliver(FrameError, exc, now, exc.reason, detail=exc.reason)
            return [Drop(SenderDrop.UNDECODABLE, exc.reason)]
        return self.receive_frame(frame, now)

    def receive_frame(self, frame: Frame, now: float) -> list[Effect]:
        """A decoded frame (the mux decodes once and routes)."""
        if frame.transfer_id != self.transfer_id:
            detail = f"{frame.transfer_id!r} is not {self.transfer_id!r}"
            return [Drop(SenderDrop.OTHER_TRANSFER, detail)]
        if not frame.to_sender:
            return [Drop(SenderDrop.WRONG_DIRECTION, f"{type(frame).__name__} is for a receiver")]
        return self._deliver(type(frame), frame, now, None, frame=frame)

    def channel_opened(self, now: float, channel_id: str | None = None) -> list[Effect]:
        """A (new) channel is open; ``channel_id`` if its id changed."""
        return self._deliver(DataChannelOpened, None, now, "", channel_id=channel_id)

    def channel_closed(self, now: float) -> list[Effect]:
        return self._deliver(DataChannelClosed, None, now, "")

    def buffered_high(self, now: float) -> list[Effect]:
        return self._deliver(BufferedAmountHigh, None, now, "")

    def buffered_low(self, now: float) -> list[Effect]:
        return self._deliver(BufferedAmountLow, None, now, "")

    def timer_fired(self, timer_id: str, now: float) -> list[Effect]:
        name = self._timer_name(timer_id)
        if name is None:
            return [Drop(SenderDrop.STALE_TIMER, timer_id)]
        del self._armed[name]
        return self._deliver(SenderTimer(name), None, now, "", timer=name)

    # --- dispatch -----------------------------------------------------------------------------

    def _deliver(
        self, key: object, value: object, now: float, why: str | None, **kw: Any
    ) -> list[Effect]:
        spec = spec_of(self)
        return deliver(spec, self, key, value, now, why, SENDER_REPLIES, self._settle, **kw)

    def _command(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        fx: list[Effect] = []
        spec_of(self).fire(self, trigger, fx, now, **kw)  # raises before any mutation
        self._settle(fx, now)
        return fx

    def _settle(self, fx: list[Effect], now: float) -> None:
        """Every byte fed and sent: DONE (the ``all_sent`` transition)."""
        if (
            self.state in (_S.SENDING, _S.PAUSED)
            and self._chunk
            and not self._done_sent
            and self._next == self._fed == self.size
        ):
            spec_of(self).fire(self, "all_sent", fx, now)

    # --- verdict replies: a finished sender -----------------------------------------------------

    def _linger(self, now: float, **kw: Any) -> list[Effect]:
        """A late frame: say the last word again (a receiver may have missed it)."""
        return self._announce()

    def _reopened(self, now: float, channel_id: str | None = None, **kw: Any) -> list[Effect]:
        self._channel_up = True
        if channel_id:
            self.channel_id = channel_id
        return self._announce()

    def _gone(self, now: float, **kw: Any) -> list[Effect]:
        self._channel_up = False
        return []

    def _announce(self) -> list[Effect]:
        """A finished sender's last word to a receiver that may have missed it."""
        if self.state in (_S.CANCELLED, _S.FAILED) and self._channel_up:
            frame = Cancel(self.transfer_id, False, self._end_code, self._end_reason)
            return [SendData(self.channel_id, encode_frame(frame))]
        return []

    # --- table callbacks: conditions ----------------------------------------------------------

    @staticmethod
    def _answer_of(frame: Frame | None) -> tuple[int, int]:
        if isinstance(frame, Accept | Resume):
            return frame.chunk_size, frame.offset
        return 0, -1

    def _first_answer(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        return not self._chunk

    def _not_accepted(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        return not self._chunk

    def _bad_answer(
        self, fx: list[Effect], now: float, frame: Frame | None = None, **kw: Any
    ) -> bool:
        chunk, offset = self._answer_of(frame)
        if not self._chunk:  # an acceptance: from offset 0, with a chunk size we can do
            return offset != 0 or not 1 <= chunk <= self.chunk_size
        # a resume: the chunk size agreed, from an offset between acknowledged and sent
        return chunk != self._chunk or not self._acked <= offset <= self._high

    @staticmethod
    def _offset_of(frame: Frame | None, offset: int = 0) -> int:
        return frame.offset if isinstance(frame, Ack) else offset

    def _ack_advances(
        self, fx: list[Effect], now: float, frame: Frame | None = None, offset: int = 0, **kw: Any
    ) -> bool:
        return self._chunk != 0 and self._acked < self._offset_of(frame, offset) <= self._high

    def _ack_is_old(
        self, fx: list[Effect], now: float, frame: Frame | None = None, offset: int = 0, **kw: Any
    ) -> bool:
        return self._offset_of(frame, offset) <= self._acked

    def _ack_is_ahead(
        self, fx: list[Effect], now: float, frame: Frame | None = None, offset: int = 0, **kw: Any
    ) -> bool:
        return self._offset_of(frame, offset) > self._high

    def _completes(
        self, fx: list[Effect], now: float, frame: Frame | None = None, **kw: Any
    ) -> bool:
        return isinstance(frame, Complete) and frame.size == self.size and self._done_sent

    def _is_congested(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        return self._congested

    def _answer_overdue(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        limit = self.settings.answer_timeout
        return (
            not self._chunk
            and limit is not None
            and self._offered_at is not None
            and now >= self._offered_at + limit
        )

    def _ack_overdue(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        return self._next > self._acked and now >= self._ack_since + self.settings.ack_timeout

    def _may_repeat_done(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        return self._done_tries < self.settings.done_attempts

    # --- table callbacks: actions -------------------------------------------------------------

    def _progress(self, now: float, offset: int) -> TransferProgress:
        return TransferProgress(self.size, offset, self._acked_chunks, now - self._started)

    def _start(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._started = now

    def _send_offer(self, fx: list[Effect], now: float, **kw: Any) -> None:
        if self._offered_at is None:
            self._offered_at = now
        offer = Offer(
            self.transfer_id, self.size, self.chunk_size, self.window, self.name, self.mime
        )
        self._send(fx, offer)
        self._arm(fx, "offer", now + self.settings.offer_interval)

    def _channel_down(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._channel_up = False
        self._congested = False

    def _channel_back(
        self, fx: list[Effect], now: float, channel_id: str | None = None, **kw: Any
    ) -> None:
        self._channel_up = True
        self._congested = False
        if channel_id:
            self.channel_id = channel_id
        if not self._chunk:  # nothing accepted yet: the answer timer bounds the wait
            self._disarm(fx, "resume")

    def _interrupted(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._channel_down(fx, now)
        self._disarm(fx, "offer", "ack", "done")
        self._arm(fx, "resume", now + self.settings.resume_timeout)
        self._tell(fx, now, TransferInterrupted(self._acked))

    def _congestion(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._congested = True

    def _relief(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._congested = False

    def _accepted(
        self, fx: list[Effect], now: float, chunk: int = 0, frame: Frame | None = None, **kw: Any
    ) -> None:
        if isinstance(frame, Accept | Resume):
            chunk = frame.chunk_size
        self._chunk = max(1, min(chunk or self.chunk_size, self.chunk_size))
        self._disarm(fx, "offer", "resume")
        self._tell(fx, now, TransferAccepted(self._chunk))

    def _rejected(
        self,
        fx: list[Effect],
        now: float,
        code: RejectCode = RejectCode.DECLINED,
        reason: str = "",
        frame: Frame | None = None,
        **kw: Any,
    ) -> None:
        if isinstance(frame, Reject):
            code, reason = frame.code, frame.reason
        self._end(fx)
        self._tell(fx, now, TransferDeclined(code.label, reason))

    def _take(
        self, fx: list[Effect], now: float, data: bytes | memoryview = b"", **kw: Any
    ) -> None:
        self._request = None
        if not data:
            return
        self._pieces.append(Piece(self._fed, data))
        self._hash.h.update(data)
        self._fed += len(data)

    def _send_unsent(self, fx: list[Effect], now: float, **kw: Any) -> None:
        if self._next >= self._fed:
            return
        head, channel, start = self._chunk_head, self.channel_id, self._next
        for piece in self._pieces:
            if piece.offset >= start:
                frame = b"".join((head, piece.offset.to_bytes(8, "big"), piece.data))
                fx.append(SendData(channel, frame))
        self._next = self._fed
        if self._next > self._high:
            self._high = self._next
        if "ack" not in self._armed:
            self._ack_since = now
            self._arm(fx, "ack", now + self.settings.ack_timeout)

    def _pump(self, fx: list[Effect], now: float, **kw: Any) -> None:
        """Send what is kept and unsent, then ask for more while the window allows."""
        if not self._channel_up or self._congested:
            return
        self._send_unsent(fx, now)
        fed = self._fed
        if (
            self._request is None
            and fed < self.size
            and (fed - self._acked < self.window or fed == self._acked)
        ):
            size = min(self._chunk or self.chunk_size, self.size - fed)
            self._request = (fed, size)
            fx.append(NeedData(self.transfer_id, fed, size))

    def _drop_acked(self, offset: int) -> None:
        pieces = self._pieces
        while pieces and pieces[0].end <= offset:
            pieces.popleft()
            self._acked_chunks += 1
        if pieces and pieces[0].offset < offset:  # only a confused peer acks mid-piece
            first = pieces[0]
            pieces[0] = Piece(offset, first.data[offset - first.offset :])

    def _ack(
        self, fx: list[Effect], now: float, offset: int = 0, frame: Frame | None = None, **kw: Any
    ) -> None:
        offset = min(self._offset_of(frame, offset), self._fed)
        if offset <= self._acked:
            return
        self._drop_acked(offset)
        self._acked = offset
        self._ack_since = now
        self._tell(fx, now, self._progress(now, offset))

    def _rewind(
        self, fx: list[Effect], now: float, offset: int = 0, frame: Frame | None = None, **kw: Any
    ) -> None:
        if isinstance(frame, Accept | Resume):
            offset = frame.offset
        offset = min(max(offset, self._acked), self._fed)
        advanced = offset > self._acked
        self._drop_acked(offset)
        self._acked = self._next = offset
        self._done_sent = False
        self._done_tries = 0
        self._disarm(fx, "offer", "resume")
        self._tell(fx, now, TransferResumed(offset))
        if advanced:
            self._tell(fx, now, self._progress(now, offset))

    def _rearm_ack(self, fx: list[Effect], now: float, **kw: Any) -> None:
        if self._next > self._acked:
            self._arm(fx, "ack", max(now, self._ack_since + self.settings.ack_timeout))

    def _done_frame(self) -> Done:
        return Done(self.transfer_id, self.size, self._hash.digest())

    def _send_done(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._done_sent = True
        self._done_tries = 1
        self._disarm(fx, "ack")
        self._send(fx, self._done_frame())
        self._arm(fx, "done", now + self.settings.done_interval)

    def _repeat_done(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._done_tries += 1
        self._send(fx, self._done_frame())
        self._arm(fx, "done", now + self.settings.done_interval)

    def _completed(self, fx: list[Effect], now: float, **kw: Any) -> None:
        chunks = self._acked_chunks + len(self._pieces)
        self._acked = self._next = self.size
        self._end(fx)
        self._tell(fx, now, TransferCompleted(self.size, self.size, chunks, now - self._started))

    # --- table callbacks: what the receiver got wrong, and what is stale --------------------

    def _answer_violation(
        self, fx: list[Effect], now: float, frame: Frame | None = None, **kw: Any
    ) -> None:
        chunk, offset = self._answer_of(frame)
        what = "resume" if self._chunk else "acceptance"
        detail = (
            f"bad {what}: chunk {chunk}, offset {offset} (acked {self._acked}, sent {self._high})"
        )
        self._fail(fx, now, TransferErrorCode.UNEXPECTED_MESSAGE, detail)

    def _stale_answer(self, fx: list[Effect], now: float, **kw: Any) -> None:
        fx.append(Drop(SenderDrop.STALE_FRAME, "acceptance or resume while already sending"))

    def _early_ack(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._fail(fx, now, TransferErrorCode.UNEXPECTED_MESSAGE, "ACK before acceptance")

    def _stale_ack(
        self, fx: list[Effect], now: float, frame: Frame | None = None, offset: int = 0, **kw: Any
    ) -> None:
        offset = self._offset_of(frame, offset)
        fx.append(Drop(SenderDrop.STALE_FRAME, f"ACK {offset} (acked {self._acked})"))

    def _ack_violation(
        self, fx: list[Effect], now: float, frame: Frame | None = None, offset: int = 0, **kw: Any
    ) -> None:
        offset = self._offset_of(frame, offset)
        detail = f"ACK {offset} beyond the {self._high} bytes sent"
        self._fail(fx, now, TransferErrorCode.UNEXPECTED_MESSAGE, detail)

    def _complete_violation(self, fx: list[Effect], now: float, **kw: Any) -> None:
        detail = "COMPLETE before DONE or for another size"
        self._fail(fx, now, TransferErrorCode.UNEXPECTED_MESSAGE, detail)

    def _reject_violation(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._fail(fx, now, TransferErrorCode.UNEXPECTED_MESSAGE, "REJECT after acceptance")

    def _garbled(self, fx: list[Effect], now: float, detail: str = "", **kw: Any) -> None:
        self._fail(fx, now, TransferErrorCode.MESSAGE_DECODE_ERROR, detail)

    def _end(
        self, fx: list[Effect], code: CancelCode = CancelCode.CANCELLED, reason: str = ""
    ) -> None:
        self._disarm_all(fx)
        self._pieces.clear()
        self._request = None
        self._end_code = code
        self._end_reason = reason


check_replies(spec_of(FileSender), SENDER_REPLIES)
