"""FileReceiver: the receiving side of one file transfer (protocol: :mod:`rtcstate.transfer`).

Theory of operation
-------------------
Built in NEW by a mux for an OFFER with an unknown id; the OFFER moves it to OFFERED (or, over
``max_size``, straight to DECLINED with REJECT "too large"). ``accept`` answers ACCEPT with the
agreed chunk size and RECEIVES: a CHUNK is taken only at exactly the offset it holds, hashed,
handed over (:class:`~rtcstate.transfer.common.ReceivedData`) and acknowledged cumulatively
(ACK each quarter window, or ``ack_delay`` after an unacknowledged chunk). DONE completes it
only if the size and its own sha256 match (COMPLETE, ``transferComplete``); anything else fails
it. A closed channel INTERRUPTS it (timer ``resume``); on a new channel it sends RESUME with the
offset it holds. Timers: ``idle`` (no chunk for ``idle_timeout``; every ``reack_interval`` it
repeats its ACK), ``ack`` (delayed ACK), ``resume``. It ends COMPLETED, DECLINED, CANCELLED or
FAILED and answers late frames with its last word. Reports never raise: what its state cannot
take is a protocol error (CANCEL, ``error``) or a :class:`ReceiverDrop`.

Inputs are data: :data:`RECEIVER_INPUTS` maps each frame type (CANCEL by its code), undecodable
bytes, channel report and :class:`ReceiverTimer` to a trigger; the table decides (its guarded
rows check each CHUNK's offset and size, DONE's size and digest, a repeated OFFER);
:data:`RECEIVER_VERDICTS` gives every other pair its verdict and :data:`RECEIVER_REPLIES` the
methods of a finished receiver's answers.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar, Final

import attrs

from rtcstate.codes import DataChannelErrorType, ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect, SendData, target
from rtcstate.errors import RtcError
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, machine, spec_of
from rtcstate.media import (
    BufferedAmountHigh,
    BufferedAmountLow,
    DataChannelClosed,
    DataChannelOpened,
)
from rtcstate.transfer.codec import (
    U32_MAX,
    Accept,
    Ack,
    Cancel,
    CancelCode,
    Chunk,
    Complete,
    Done,
    Frame,
    FrameError,
    Offer,
    Reject,
    RejectCode,
    Resume,
    decode_frame,
    encode_frame,
)
from rtcstate.transfer.common import (
    Digest,
    Endpoint,
    ReceivedData,
    TransferErrorCode,
    check_id,
    check_text,
)
from rtcstate.transfer.inputs import check_replies, deliver, flatten
from rtcstate.transfer.notices import (
    TransferCompleted,
    TransferFailed,
    TransferInterrupted,
    TransferOwner,
    TransferProgress,
    TransferResumed,
)
from rtcstate.transfer.settings import DEFAULT_MAX_CHUNK_SIZE, DEFAULT_MAX_SIZE, TransferSettings

__all__ = [
    "RECEIVER_INPUTS",
    "RECEIVER_REPLIES",
    "RECEIVER_TRANSITIONS",
    "RECEIVER_VERDICTS",
    "FileReceiver",
    "FileReceiverState",
    "ReceiverDrop",
    "ReceiverTimer",
]


class ReceiverDrop(DropReason):
    """Why a :class:`FileReceiver` ignored an input on purpose."""

    OTHER_TRANSFER = "other-transfer"
    """A frame for another transfer id was handed to this machine."""
    WRONG_DIRECTION = "wrong-direction"
    """A frame that goes to a sender (ACCEPT, REJECT, ACK, COMPLETE, RESUME, CANCEL to it)."""
    NO_OFFER = "no-offer"
    """A first frame that is not the OFFER (a receiver is built for one)."""
    INTERRUPTED = "interrupted"
    """A frame (other than CANCEL) while the channel is down: it belongs to the old channel."""
    DUPLICATE_OFFER = "duplicate-offer"
    """The same OFFER again while the application has not decided yet."""
    FINISHED = "finished"
    """A frame after the transfer ended that needs no answer (CANCEL, a DONE that does not
    match the verified file, anything but an OFFER once DECLINED)."""
    LAST_WORD = "last-word"
    """A late frame once finished (an OFFER, a CHUNK once COMPLETED, CANCELLED or FAILED):
    answered with the final COMPLETE, REJECT or CANCEL again, no transition."""
    DONE_AGAIN = "done-again"
    """DONE once COMPLETED: COMPLETE again if it names the verified file (else a ``finished``
    drop)."""
    FINISHED_REOPENED = "finished-reopened"
    """A new channel once finished: noted, and the last word said again."""
    FINISHED_CLOSED = "finished-closed"
    """The channel closed once finished: noted (the last word waits for a new one)."""
    UNDECODABLE = "undecodable"
    """Bytes that do not decode and are not (or no longer) this live receiver's concern."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A report its state does not take (buffer reports: a receiver does not pace its sends;
    a channel report, timer or frame with no row from this state)."""
    STALE_TIMER = "stale-timer"
    """A timer that is not (or no longer) armed by this machine."""


class FileReceiverState(enum.Enum):
    NEW = "NEW"  # built; the OFFER is the first frame it gets
    OFFERED = "OFFERED"  # waiting for the application (accept / decline)
    RECEIVING = "RECEIVING"  # accepted: storing chunks in order (timer idle)
    INTERRUPTED = "INTERRUPTED"  # accepted, the channel is down (timer resume)
    COMPLETED = "COMPLETED"  # final: size and sha256 verified
    DECLINED = "DECLINED"  # final: declined by the application, or too large
    CANCELLED = "CANCELLED"  # final: cancelled by either application
    FAILED = "FAILED"  # final: an error on either side, or a timeout


_R_LIVE = ["OFFERED", "RECEIVING", "INTERRUPTED"]
_R_FINAL = ("COMPLETED", "DECLINED", "CANCELLED", "FAILED")

RECEIVER_TRANSITIONS: list[dict[str, Any]] = [
    # frames from the sender: OFFER
    {"trigger": "offered", "source": "NEW", "dest": "DECLINED", "conditions": "_too_large",
     "after": ["_store_offer", "_refuse_too_large"]},
    {"trigger": "offered", "source": "NEW", "dest": "OFFERED", "after": "_store_offer"},
    {"trigger": "offered", "source": ["OFFERED", "RECEIVING"], "dest": "FAILED",
     "conditions": "_another_offer", "after": "_offer_violation"},
    {"trigger": "offered", "source": "OFFERED", "dest": "OFFERED", "after": "_undecided"},
    {"trigger": "offered", "source": "RECEIVING", "dest": "RECEIVING", "after": "_say_where"},
    # application commands
    {"trigger": "accept", "source": "OFFERED", "dest": "INTERRUPTED", "unless": "_is_up",
     "after": ["_accept", "_await_channel"]},
    {"trigger": "accept", "source": "OFFERED", "dest": "RECEIVING",
     "after": ["_accept", "_send_accept"]},
    {"trigger": "decline", "source": "OFFERED", "dest": "DECLINED", "after": "_decline"},
    {"trigger": "cancel", "source": ["RECEIVING", "INTERRUPTED"], "dest": "CANCELLED",
     "after": "_cancel_local"},
    # CHUNK: exactly at the offset held, at most a chunk, inside the file
    {"trigger": "chunk", "source": "RECEIVING", "dest": "RECEIVING", "conditions": "_chunk_fits",
     "after": "_store"},  # the hot path first: the one chunk it can take
    {"trigger": "chunk", "source": "RECEIVING", "dest": "FAILED", "conditions": "_chunk_repeats",
     "after": "_duplicate_chunk"},
    {"trigger": "chunk", "source": "RECEIVING", "dest": "FAILED", "conditions": "_chunk_skips",
     "after": "_chunk_gap"},
    {"trigger": "chunk", "source": "RECEIVING", "dest": "FAILED", "after": "_oversize_chunk"},
    # DONE: complete only with the size and sha256 verified
    {"trigger": "done", "source": "RECEIVING", "dest": "COMPLETED", "conditions": "_verified",
     "after": "_complete"},
    {"trigger": "done", "source": "RECEIVING", "dest": "FAILED", "conditions": "_size_differs",
     "after": "_size_mismatch"},
    {"trigger": "done", "source": "RECEIVING", "dest": "FAILED", "after": "_digest_mismatch"},
    {"trigger": "chunk", "source": "OFFERED", "dest": "FAILED", "after": "_before_acceptance"},
    {"trigger": "done", "source": "OFFERED", "dest": "FAILED", "after": "_before_acceptance"},
    # CANCEL, undecodable bytes
    {"trigger": "remote_cancel", "source": _R_LIVE, "dest": "CANCELLED",
     "after": "_cancelled_by_peer"},
    {"trigger": "remote_failure", "source": _R_LIVE, "dest": "FAILED",
     "after": "_failed_by_peer"},
    {"trigger": "garbled", "source": ["OFFERED", "RECEIVING"], "dest": "FAILED",
     "after": "_garbled"},
    # the channel
    {"trigger": "channel_closed", "source": "OFFERED", "dest": "OFFERED",
     "after": "_channel_down"},
    {"trigger": "channel_closed", "source": "RECEIVING", "dest": "INTERRUPTED",
     "after": "_interrupted"},
    {"trigger": "channel_opened", "source": "OFFERED", "dest": "OFFERED",
     "after": "_channel_back"},
    {"trigger": "channel_opened", "source": "INTERRUPTED", "dest": "RECEIVING",
     "after": ["_channel_back", "_send_resume"]},
    # timers
    {"trigger": "idle_timer", "source": "RECEIVING", "dest": "FAILED",
     "conditions": "_idle_overdue", "after": "_timed_out"},
    {"trigger": "idle_timer", "source": "RECEIVING", "dest": "RECEIVING", "after": "_rearm_idle"},
    {"trigger": "ack_timer", "source": "RECEIVING", "dest": "RECEIVING", "after": "_flush_ack"},
    {"trigger": "resume_timer", "source": "INTERRUPTED", "dest": "FAILED", "after": "_timed_out"},
]  # fmt: skip


class ReceiverTimer(enum.Enum):
    """The receiver's timers (ids ``<target>:<value>``)."""

    IDLE = "idle"
    RESUME = "resume"
    ACK = "ack"


_D = ReceiverDrop
_LAST_WORD = Ignore(_D.LAST_WORD)  # a finished receiver repeats its last word (reply: _linger)
_FINISHED = Ignore(_D.FINISHED)
_NO_OFFER = Ignore(_D.NO_OFFER)
_CHANNEL_DOWN = Ignore(_D.INTERRUPTED)
_NOT_PACED = Ignore(_D.UNEXPECTED_REPORT, "a receiver does not pace its sends")

RECEIVER_INPUTS = Inputs(
    unexpected=_D.UNEXPECTED_REPORT,
    wire={
        Offer: "offered",
        Chunk: "chunk",
        Done: "done",
        Cancel: Classify(
            "code", {CancelCode.CANCELLED: "remote_cancel", CancelCode.FAILED: "remote_failure"}
        ),
        FrameError: "garbled",  # bytes for this receiver that do not decode
    },
    media={
        DataChannelOpened: "channel_opened",
        DataChannelClosed: "channel_closed",
        # a receiver does not pace its sends: every buffer report is ignored, in every state
        BufferedAmountHigh: Classify("channel_id", {}, otherwise=_NOT_PACED),
        BufferedAmountLow: Classify("channel_id", {}, otherwise=_NOT_PACED),
    },
    timers={
        ReceiverTimer.IDLE: "idle_timer",
        ReceiverTimer.RESUME: "resume_timer",
        ReceiverTimer.ACK: "ack_timer",
    },
)
"""How each input of a :class:`FileReceiver` becomes a trigger (frames by type, CANCEL by
code)."""

RECEIVER_VERDICTS = flatten({
    # commands: illegal wherever the table has no row (accept/decline: ERROR_INVITATION_...)
    "accept": ILLEGAL, "decline": ILLEGAL, "cancel": ILLEGAL,
    "offered": {"INTERRUPTED": _CHANNEL_DOWN, _R_FINAL: _LAST_WORD},
    "chunk": {"NEW": _NO_OFFER, "INTERRUPTED": _CHANNEL_DOWN, "DECLINED": _FINISHED,
              ("COMPLETED", "CANCELLED", "FAILED"): _LAST_WORD},
    "done": {"NEW": _NO_OFFER, "INTERRUPTED": _CHANNEL_DOWN, "DECLINED": _FINISHED,
             "COMPLETED": Ignore(_D.DONE_AGAIN), ("CANCELLED", "FAILED"): _LAST_WORD},
    "remote_cancel": {"NEW": _NO_OFFER, _R_FINAL: _FINISHED},
    "remote_failure": {"NEW": _NO_OFFER, _R_FINAL: _FINISHED},
    "garbled": {("NEW", "INTERRUPTED", *_R_FINAL): Ignore(_D.UNDECODABLE)},
    "channel_opened": {("NEW", "RECEIVING"): ILLEGAL, _R_FINAL: Ignore(_D.FINISHED_REOPENED)},
    "channel_closed": {("NEW", "INTERRUPTED"): ILLEGAL, _R_FINAL: Ignore(_D.FINISHED_CLOSED)},
    "idle_timer": ILLEGAL, "ack_timer": ILLEGAL, "resume_timer": ILLEGAL,
})  # fmt: skip
"""The verdict of every (state, trigger) pair the table has no row for."""

RECEIVER_REPLIES: Final[dict[DropReason, str]] = {
    _D.LAST_WORD: "_linger",
    _D.DONE_AGAIN: "_linger_done",
    _D.FINISHED_REOPENED: "_reopened",
    _D.FINISHED_CLOSED: "_gone",
}
"""Ignored pairs a finished receiver still answers: the reason's method gives the effects."""

_R = FileReceiverState
_RECEIVER_FINAL: Final = frozenset({_R.COMPLETED, _R.DECLINED, _R.CANCELLED, _R.FAILED})


@machine(
    FileReceiverState,
    RECEIVER_TRANSITIONS,
    initial=FileReceiverState.NEW,
    final=_RECEIVER_FINAL,
    errors={
        "accept": ErrorNumber.ERROR_INVITATION_STATE_INVALID,
        "decline": ErrorNumber.ERROR_INVITATION_STATE_INVALID,
    },
    inputs=RECEIVER_INPUTS,
    verdicts=RECEIVER_VERDICTS,
)
@attrs.define(slots=True, eq=False)
class FileReceiver(Endpoint):
    """The receiving side of one file transfer (apiRTC's ReceivedFileTransferInvitation).

    Built in NEW; its first frame is the OFFER. Commands (raise, change nothing when refused):
    :meth:`accept`, :meth:`decline`, :meth:`cancel`. Reports (never raise): as
    :class:`FileSender`.
    """

    _BY_RECEIVER: ClassVar[bool] = True
    _ERROR_KIND: ClassVar[DataChannelErrorType] = DataChannelErrorType.RECEIVE_DATA_CHANNEL_ERROR

    transfer_id: str
    channel_id: str
    max_size: int = DEFAULT_MAX_SIZE
    max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE
    settings: TransferSettings = attrs.field(factory=TransferSettings)
    target: str = ""
    state: FileReceiverState = FileReceiverState.NEW
    _channel_up: bool = True
    owner: TransferOwner | None = attrs.field(default=None, kw_only=True, repr=False)
    offer: Offer | None = attrs.field(default=None, init=False)
    _armed: dict[str, float] = attrs.field(factory=dict, init=False)
    _chunk: int = attrs.field(default=0, init=False)
    _held: int = attrs.field(default=0, init=False)  # bytes stored and hashed
    _last_ack: int = attrs.field(default=0, init=False)
    _ack_every: int = attrs.field(default=1, init=False)
    _chunks: int = attrs.field(default=0, init=False)
    _hash: Digest = attrs.field(factory=Digest, init=False)
    _digest: bytes | None = attrs.field(default=None, init=False)  # verified
    _accepted_at: float = attrs.field(default=0.0, init=False)
    _last_rx: float = attrs.field(default=0.0, init=False)
    _reject: tuple[RejectCode, str] = attrs.field(default=(RejectCode.DECLINED, ""), init=False)
    _end_code: CancelCode = attrs.field(default=CancelCode.CANCELLED, init=False)
    _end_reason: str = attrs.field(default="", init=False)

    def __attrs_post_init__(self) -> None:
        check_id(self.transfer_id)
        if self.max_size < 0 or not 1 <= self.max_chunk_size <= U32_MAX:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "max_size / max_chunk_size range")
        if not self.target:
            self.target = target("incomingTransfer", self.transfer_id)

    # --- public: state ------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state in _RECEIVER_FINAL

    @property
    def received(self) -> int:
        """Bytes stored in order and hashed so far."""
        return self._held

    @property
    def digest(self) -> str | None:
        """The verified sha256 (hex), once COMPLETED."""
        return self._digest.hex() if self._digest is not None else None

    @property
    def file_info(self) -> dict[str, Any]:
        """apiRTC's FileInfo ``{name, type}`` plus the announced ``size``."""
        offer = self.offer
        if offer is None:
            return {"name": "", "type": "", "size": 0}
        return {"name": offer.name, "type": offer.mime, "size": offer.size}

    # --- public: commands ---------------------------------------------------------------------

    def accept(self, now: float) -> list[Effect]:
        """Accept the offer (raises ERROR_INVITATION_STATE_INVALID unless OFFERED)."""
        return self._command("accept", now)

    def decline(self, now: float, reason: str = "declined") -> list[Effect]:
        """Decline the offer: REJECT (raises ERROR_INVITATION_STATE_INVALID unless OFFERED)."""
        spec = spec_of(self)
        if not spec.allowed(self.state, "decline"):
            raise spec.invalid(self, "decline")
        check_text("reason", reason)
        return self._command("decline", now, reason=reason)

    def cancel(self, now: float, reason: str = "cancelled") -> list[Effect]:
        """Cancel an accepted transfer (discard what was received)."""
        spec = spec_of(self)
        if not spec.allowed(self.state, "cancel"):
            raise spec.invalid(self, "cancel")
        check_text("reason", reason)
        return self._command("cancel", now, reason=reason)

    # --- public: reports (never raise): one generic dispatch, RECEIVER_INPUTS -------------

    def on_frame(self, data: bytes | bytearray | memoryview | str, now: float) -> list[Effect]:
        try:
            frame = decode_frame(data)
        except FrameError as exc:
            if exc.transfer_id == self.transfer_id and exc.to_sender is False:
                return self._deliver(FrameError, exc, now, exc.reason, detail=exc.reason)
            return [Drop(ReceiverDrop.UNDECODABLE, exc.reason)]
        return self.receive_frame(frame, now)

    def receive_frame(self, frame: Frame, now: float) -> list[Effect]:
        if frame.transfer_id != self.transfer_id:
            detail = f"{frame.transfer_id!r} is not {self.transfer_id!r}"
            return [Drop(ReceiverDrop.OTHER_TRANSFER, detail)]
        if frame.to_sender:
            return [Drop(ReceiverDrop.WRONG_DIRECTION, f"{type(frame).__name__} is for a sender")]
        return self._deliver(type(frame), frame, now, None, frame=frame)

    def channel_opened(self, now: float, channel_id: str | None = None) -> list[Effect]:
        return self._deliver(DataChannelOpened, None, now, "", channel_id=channel_id)

    def channel_closed(self, now: float) -> list[Effect]:
        return self._deliver(DataChannelClosed, None, now, "")

    def buffered_high(self, now: float) -> list[Effect]:
        return self._deliver(BufferedAmountHigh, BufferedAmountHigh(self.channel_id), now, "")

    def buffered_low(self, now: float) -> list[Effect]:
        return self._deliver(BufferedAmountLow, BufferedAmountLow(self.channel_id), now, "")

    def timer_fired(self, timer_id: str, now: float) -> list[Effect]:
        name = self._timer_name(timer_id)
        if name is None:
            return [Drop(ReceiverDrop.STALE_TIMER, timer_id)]
        del self._armed[name]
        return self._deliver(ReceiverTimer(name), None, now, "", timer=name)

    # --- dispatch -----------------------------------------------------------------------------

    def _deliver(
        self, key: object, value: object, now: float, why: str | None, **kw: Any
    ) -> list[Effect]:
        spec = spec_of(self)
        return deliver(spec, self, key, value, now, why, RECEIVER_REPLIES, **kw)

    def _command(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        fx: list[Effect] = []
        spec_of(self).fire(self, trigger, fx, now, **kw)
        return fx

    # --- verdict replies: a finished receiver -------------------------------------------------

    def _linger(self, now: float, **kw: Any) -> list[Effect]:
        """A late frame: say the last word again (a sender may have missed it)."""
        return self._announce()

    def _linger_done(self, now: float, frame: Frame | None = None, **kw: Any) -> list[Effect]:
        """A DONE once COMPLETED: COMPLETE again if it is the file verified, else nothing."""
        if isinstance(frame, Done) and (frame.size != self._size() or frame.digest != self._digest):
            return [Drop(ReceiverDrop.FINISHED, "a DONE that does not match the verified file")]
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
        """A finished receiver's last word to a sender that may have missed it."""
        if not self._channel_up:
            return []
        state, tid = self.state, self.transfer_id
        frame: Frame
        if state is _R.COMPLETED:
            frame = Complete(tid, self._size())
        elif state is _R.DECLINED:
            frame = Reject(tid, *self._reject)
        else:
            frame = Cancel(tid, True, self._end_code, self._end_reason)
        return [SendData(self.channel_id, encode_frame(frame))]

    def _resume_frame(self) -> Resume:
        return Resume(self.transfer_id, self._chunk, self._held)

    # --- table callbacks: conditions ----------------------------------------------------------

    def _too_large(
        self, fx: list[Effect], now: float, frame: Offer | None = None, **kw: Any
    ) -> bool:
        return frame is not None and frame.size > self.max_size

    @staticmethod
    def _done_of(frame: Frame | None, size: int, digest: bytes) -> tuple[int, bytes]:
        return (frame.size, frame.digest) if isinstance(frame, Done) else (size, digest)

    def _verified(
        self,
        fx: list[Effect],
        now: float,
        size: int = -1,
        digest: bytes = b"",
        frame: Frame | None = None,
        **kw: Any,
    ) -> bool:
        size, digest = self._done_of(frame, size, digest)
        offer = self.offer
        return (
            offer is not None and size == offer.size == self._held and digest == self._hash.digest()
        )

    def _size_differs(
        self, fx: list[Effect], now: float, size: int = -1, frame: Frame | None = None, **kw: Any
    ) -> bool:
        size, _ = self._done_of(frame, size, b"")
        announced = self._size()
        return size != announced or self._held != announced

    @staticmethod
    def _chunk_of(frame: Frame | None, offset: int, data: bytes | memoryview) -> tuple[int, int]:
        if isinstance(frame, Chunk):
            return frame.offset, len(frame.payload)
        return offset, len(data)

    def _chunk_fits(
        self,
        fx: list[Effect],
        now: float,
        offset: int = 0,
        data: bytes | memoryview = b"",
        frame: Frame | None = None,
        **kw: Any,
    ) -> bool:
        """Exactly at the offset held, 1 to chunk-size bytes, inside the announced size."""
        at, n = self._chunk_of(frame, offset, data)
        held = self._held
        return at == held and n <= self._chunk and held + n <= self._size()

    def _chunk_repeats(
        self,
        fx: list[Effect],
        now: float,
        offset: int = 0,
        data: bytes | memoryview = b"",
        frame: Frame | None = None,
        **kw: Any,
    ) -> bool:
        return self._chunk_of(frame, offset, data)[0] < self._held

    def _chunk_skips(
        self,
        fx: list[Effect],
        now: float,
        offset: int = 0,
        data: bytes | memoryview = b"",
        frame: Frame | None = None,
        **kw: Any,
    ) -> bool:
        return self._chunk_of(frame, offset, data)[0] > self._held

    def _another_offer(
        self, fx: list[Effect], now: float, frame: Frame | None = None, **kw: Any
    ) -> bool:
        return frame != self.offer

    def _idle_overdue(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        return now >= self._last_rx + self.settings.idle_timeout

    # --- table callbacks: actions -------------------------------------------------------------

    def _size(self) -> int:
        return self.offer.size if self.offer is not None else 0

    def _counts(self, now: float) -> tuple[int, int, int, float]:
        """Size, bytes held, chunks stored, seconds since accept: a progress notice's."""
        return self._size(), self._held, self._chunks, now - self._accepted_at

    def _store_offer(
        self, fx: list[Effect], now: float, frame: Offer | None = None, **kw: Any
    ) -> None:
        if frame is not None:
            self.offer = frame
            self._ack_every = max(1, frame.window // 4)

    def _refuse_too_large(
        self, fx: list[Effect], now: float, frame: Offer | None = None, **kw: Any
    ) -> None:
        size = frame.size if frame is not None else 0
        self._reject = (RejectCode.TOO_LARGE, f"{size} > {self.max_size} bytes")
        self._send(fx, Reject(self.transfer_id, *self._reject))
        self._tell(fx, now, TransferFailed(TransferErrorCode.TRANSFER_TOO_LARGE, self._reject[1]))

    def _accept(self, fx: list[Effect], now: float, **kw: Any) -> None:
        proposed = self.offer.chunk_size if self.offer is not None else self.max_chunk_size
        self._chunk = max(1, min(proposed, self.max_chunk_size))
        self._accepted_at = self._last_rx = now

    def _send_accept(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._send(fx, Accept(self.transfer_id, self._chunk, 0))
        self._arm(fx, "idle", now + self._idle_step())

    def _decline(self, fx: list[Effect], now: float, reason: str = "declined", **kw: Any) -> None:
        self._reject = (RejectCode.DECLINED, reason)
        self._send(fx, Reject(self.transfer_id, RejectCode.DECLINED, reason))

    def _channel_down(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._channel_up = False

    def _channel_back(
        self, fx: list[Effect], now: float, channel_id: str | None = None, **kw: Any
    ) -> None:
        self._channel_up = True
        if channel_id:
            self.channel_id = channel_id

    def _interrupted(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._channel_up = False
        self._disarm(fx, "idle", "ack")
        self._arm(fx, "resume", now + self.settings.resume_timeout)
        self._tell(fx, now, TransferInterrupted(self._held))

    def _send_resume(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._disarm(fx, "resume")
        self._send(fx, self._resume_frame())
        self._last_rx = now
        self._last_ack = self._held
        self._arm(fx, "idle", now + self._idle_step())
        self._tell(fx, now, TransferResumed(self._held))

    def _store(
        self,
        fx: list[Effect],
        now: float,
        offset: int = 0,
        data: bytes | memoryview = b"",
        frame: Frame | None = None,
        **kw: Any,
    ) -> None:
        if isinstance(frame, Chunk):
            offset, data = frame.offset, frame.payload
        self._hash.h.update(data)
        self._held += len(data)
        self._chunks += 1
        self._last_rx = now
        fx.append(ReceivedData(self.transfer_id, offset, data))
        self._tell(fx, now, TransferProgress(*self._counts(now)))
        if self._held - self._last_ack >= self._ack_every:
            self._last_ack = self._held
            self._send(fx, Ack(self.transfer_id, self._held))
        elif "ack" not in self._armed:  # a slow sender still hears from us (delayed ACK)
            self._arm(fx, "ack", now + self.settings.ack_delay)

    def _flush_ack(self, fx: list[Effect], now: float, **kw: Any) -> None:
        if self._held > self._last_ack:
            self._last_ack = self._held
            self._send(fx, Ack(self.transfer_id, self._held))

    def _rearm_idle(self, fx: list[Effect], now: float, **kw: Any) -> None:
        step = self._idle_step()
        if now - self._last_rx >= step:
            # nothing came for a while: say again what we hold (a duplicate ACK is harmless),
            # so an ACK lost with a peer connection the adapter replaced cannot stall a sender
            # whose window is full until its ack timeout
            self._send(fx, Ack(self.transfer_id, self._held))
        deadline = min(self._last_rx + self.settings.idle_timeout, now + step)
        self._arm(fx, "idle", max(now, deadline))

    def _idle_step(self) -> float:
        return min(self.settings.idle_timeout, self.settings.reack_interval)

    def _complete(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._digest = self._hash.digest()
        self._end(fx)
        self._send(fx, Complete(self.transfer_id, self._size()))
        self._tell(fx, now, TransferCompleted(*self._counts(now)))

    def _size_mismatch(
        self, fx: list[Effect], now: float, size: int = -1, frame: Frame | None = None, **kw: Any
    ) -> None:
        size, _ = self._done_of(frame, size, b"")
        detail = f"DONE says {size} bytes, offer {self._size()}, received {self._held}"
        self._fail(fx, now, TransferErrorCode.TRANSFER_SIZE_MISMATCH, detail)

    def _digest_mismatch(
        self,
        fx: list[Effect],
        now: float,
        digest: bytes = b"",
        frame: Frame | None = None,
        **kw: Any,
    ) -> None:
        _, digest = self._done_of(frame, 0, digest)
        detail = f"sha256 {self._hash.digest().hex()} != announced {digest.hex()}"
        self._fail(fx, now, TransferErrorCode.TRANSFER_DIGEST_MISMATCH, detail)

    # --- table callbacks: what the sender got wrong, and harmless repeats -------------------

    def _duplicate_chunk(
        self,
        fx: list[Effect],
        now: float,
        offset: int = 0,
        data: bytes | memoryview = b"",
        frame: Frame | None = None,
        **kw: Any,
    ) -> None:
        self._misplaced(fx, now, TransferErrorCode.TRANSFER_CHUNK_DUPLICATE, offset, data, frame)

    def _chunk_gap(
        self,
        fx: list[Effect],
        now: float,
        offset: int = 0,
        data: bytes | memoryview = b"",
        frame: Frame | None = None,
        **kw: Any,
    ) -> None:
        self._misplaced(fx, now, TransferErrorCode.TRANSFER_CHUNK_GAP, offset, data, frame)

    def _misplaced(
        self,
        fx: list[Effect],
        now: float,
        code: TransferErrorCode,
        offset: int,
        data: bytes | memoryview,
        frame: Frame | None,
    ) -> None:
        at, _ = self._chunk_of(frame, offset, data)
        self._fail(fx, now, code, f"chunk at {at}, expected {self._held}")

    def _oversize_chunk(
        self,
        fx: list[Effect],
        now: float,
        offset: int = 0,
        data: bytes | memoryview = b"",
        frame: Frame | None = None,
        **kw: Any,
    ) -> None:
        at, n = self._chunk_of(frame, offset, data)
        detail = f"{n}-byte chunk at {at} (chunk size {self._chunk}, file {self._size()})"
        self._fail(fx, now, TransferErrorCode.TRANSFER_CHUNK_OVERSIZE, detail)

    def _before_acceptance(
        self, fx: list[Effect], now: float, frame: Frame | None = None, **kw: Any
    ) -> None:
        what = type(frame).__name__ if frame is not None else "a frame"
        self._fail(fx, now, TransferErrorCode.UNEXPECTED_MESSAGE, f"{what} before acceptance")

    def _offer_violation(self, fx: list[Effect], now: float, **kw: Any) -> None:
        detail = "a different OFFER for this transfer"
        self._fail(fx, now, TransferErrorCode.UNEXPECTED_MESSAGE, detail)

    def _undecided(self, fx: list[Effect], now: float, **kw: Any) -> None:
        fx.append(Drop(ReceiverDrop.DUPLICATE_OFFER, "the application has not decided yet"))

    def _say_where(self, fx: list[Effect], now: float, **kw: Any) -> None:
        """The sender's OFFER again (its hello on a new channel): where this receiver stands."""
        fx.append(SendData(self.channel_id, encode_frame(self._resume_frame())))

    def _garbled(self, fx: list[Effect], now: float, detail: str = "", **kw: Any) -> None:
        self._fail(fx, now, TransferErrorCode.MESSAGE_DECODE_ERROR, detail)

    def _end(
        self, fx: list[Effect], code: CancelCode = CancelCode.CANCELLED, reason: str = ""
    ) -> None:
        self._disarm_all(fx)
        self._end_code = code
        self._end_reason = reason


check_replies(spec_of(FileReceiver), RECEIVER_REPLIES)
