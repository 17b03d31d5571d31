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
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar, Final

import attrs

from rtcstate.codes import DataChannelErrorType, ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect, Emit, SendData, target
from rtcstate.errors import RtcError
from rtcstate.machine import machine, spec_of
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
    error_payload,
    transfer_info,
)
from rtcstate.transfer.settings import DEFAULT_MAX_CHUNK_SIZE, DEFAULT_MAX_SIZE, TransferSettings

__all__ = ["RECEIVER_TRANSITIONS", "FileReceiver", "FileReceiverState", "ReceiverDrop"]


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
    UNDECODABLE = "undecodable"
    """Bytes that do not decode and are not (or no longer) this live receiver's concern."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A report its state does not take (buffer reports: a receiver does not pace its sends;
    a channel report, timer or frame with no row from this state)."""
    STALE_TIMER = "stale-timer"
    """A timer that is not (or no longer) armed by this machine."""
    UNEXPECTED_FRAME = "unexpected-frame"
    """A frame type the receiver has no input for (never produced: every type is mapped)."""


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

RECEIVER_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "offered", "source": "NEW", "dest": "DECLINED", "conditions": "_too_large",
     "after": ["_store_offer", "_refuse_too_large"]},
    {"trigger": "offered", "source": "NEW", "dest": "OFFERED", "after": "_store_offer"},
    # application commands
    {"trigger": "accept", "source": "OFFERED", "dest": "INTERRUPTED", "unless": "_is_up",
     "after": ["_accept", "_await_channel"]},
    {"trigger": "accept", "source": "OFFERED", "dest": "RECEIVING",
     "after": ["_accept", "_send_accept"]},
    {"trigger": "decline", "source": "OFFERED", "dest": "DECLINED", "after": "_decline"},
    {"trigger": "cancel", "source": ["RECEIVING", "INTERRUPTED"], "dest": "CANCELLED",
     "after": "_cancel_local"},
    # frames from the sender
    {"trigger": "chunk", "source": "RECEIVING", "dest": "RECEIVING", "after": "_store"},
    {"trigger": "done", "source": "RECEIVING", "dest": "COMPLETED", "conditions": "_verified",
     "after": "_complete"},
    {"trigger": "done", "source": "RECEIVING", "dest": "FAILED", "after": "_unverified"},
    {"trigger": "remote_cancel", "source": _R_LIVE, "dest": "CANCELLED",
     "after": "_cancelled_by_peer"},
    {"trigger": "remote_failure", "source": _R_LIVE, "dest": "FAILED",
     "after": "_failed_by_peer"},
    {"trigger": "protocol_error", "source": _R_LIVE, "dest": "FAILED", "after": "_fail"},
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

_RECEIVER_TIMERS: Final = {"idle": "idle_timer", "resume": "resume_timer", "ack": "ack_timer"}
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

    # --- public: reports (never raise) --------------------------------------------------------

    def on_frame(self, data: bytes | bytearray | memoryview | str, now: float) -> list[Effect]:
        try:
            frame = decode_frame(data)
        except FrameError as exc:
            if (
                exc.transfer_id == self.transfer_id
                and exc.to_sender is False
                and self.state in (_R.OFFERED, _R.RECEIVING)
            ):
                return self._violation(now, exc.reason, TransferErrorCode.MESSAGE_DECODE_ERROR)
            return [Drop(ReceiverDrop.UNDECODABLE, exc.reason)]
        return self.receive_frame(frame, now)

    def receive_frame(self, frame: Frame, now: float) -> list[Effect]:
        if frame.transfer_id != self.transfer_id:
            return [
                Drop(
                    ReceiverDrop.OTHER_TRANSFER,
                    f"{frame.transfer_id!r} is not {self.transfer_id!r}",
                )
            ]
        if frame.to_sender:
            return [Drop(ReceiverDrop.WRONG_DIRECTION, f"{type(frame).__name__} is for a sender")]
        state = self.state
        if state is _R.RECEIVING and type(frame) is Chunk:  # the hot path
            return self._on_chunk(frame, now)
        if state in _RECEIVER_FINAL:
            return self._linger(frame)
        if state is _R.NEW:
            if isinstance(frame, Offer):
                return self._report("offered", now, frame=frame)
            return [Drop(ReceiverDrop.NO_OFFER, type(frame).__name__)]
        if isinstance(frame, Cancel):
            trigger = "remote_cancel" if frame.code is CancelCode.CANCELLED else "remote_failure"
            return self._report(trigger, now, reason=frame.reason)
        if state is _R.INTERRUPTED:
            return [
                Drop(ReceiverDrop.INTERRUPTED, f"{type(frame).__name__} while the channel is down")
            ]
        if isinstance(frame, Offer):
            if frame != self.offer:
                return self._violation(now, "a different OFFER for this transfer")
            if state is _R.OFFERED:
                return [Drop(ReceiverDrop.DUPLICATE_OFFER, "the application has not decided yet")]
            return [SendData(self.channel_id, encode_frame(self._resume_frame()))]
        if state is _R.OFFERED:
            return self._violation(now, f"{type(frame).__name__} before acceptance")
        if isinstance(frame, Done):
            return self._report("done", now, size=frame.size, digest=frame.digest)
        return [Drop(ReceiverDrop.UNEXPECTED_FRAME, type(frame).__name__)]  # pragma: no cover

    def channel_opened(self, now: float, channel_id: str | None = None) -> list[Effect]:
        if self.state in _RECEIVER_FINAL:
            self._channel_up = True
            if channel_id:
                self.channel_id = channel_id
            return self._announce()
        return self._report("channel_opened", now, channel_id=channel_id)

    def channel_closed(self, now: float) -> list[Effect]:
        if self.state in _RECEIVER_FINAL:
            self._channel_up = False
            return []
        return self._report("channel_closed", now)

    def buffered_high(self, now: float) -> list[Effect]:
        return [Drop(ReceiverDrop.UNEXPECTED_REPORT, "a receiver does not pace its sends")]

    def buffered_low(self, now: float) -> list[Effect]:
        return [Drop(ReceiverDrop.UNEXPECTED_REPORT, "a receiver does not pace its sends")]

    def timer_fired(self, timer_id: str, now: float) -> list[Effect]:
        name = self._timer_name(timer_id)
        if name is None:
            return [Drop(ReceiverDrop.STALE_TIMER, timer_id)]
        del self._armed[name]
        return self._report(_RECEIVER_TIMERS[name], now, timer=name)

    # --- dispatch -----------------------------------------------------------------------------

    def _command(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        fx: list[Effect] = []
        spec_of(self).fire(self, trigger, fx, now, **kw)
        return fx

    def _report(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        spec = spec_of(self)
        if not spec.allowed(self.state, trigger):
            return [Drop(ReceiverDrop.UNEXPECTED_REPORT, f"{trigger} in state {self.state.name}")]
        fx: list[Effect] = []
        spec.fire(self, trigger, fx, now, **kw)
        return fx

    def _on_chunk(self, frame: Chunk, now: float) -> list[Effect]:
        offset, held, n = frame.offset, self._held, len(frame.payload)
        if offset != held:
            if offset < held:
                code = TransferErrorCode.TRANSFER_CHUNK_DUPLICATE
            else:
                code = TransferErrorCode.TRANSFER_CHUNK_GAP
            return self._violation(now, f"chunk at {offset}, expected {held}", code)
        size = self.offer.size if self.offer is not None else 0
        if n > self._chunk or held + n > size:
            detail = f"{n}-byte chunk at {offset} (chunk size {self._chunk}, file {size})"
            return self._violation(now, detail, TransferErrorCode.TRANSFER_CHUNK_OVERSIZE)
        fx: list[Effect] = []
        spec_of(self).fire(self, "chunk", fx, now, offset=offset, data=frame.payload)
        return fx

    def _linger(self, frame: Frame) -> list[Effect]:
        state = self.state
        if isinstance(frame, Cancel):
            return [Drop(ReceiverDrop.FINISHED, f"CANCEL in {state.name}")]
        if state is _R.COMPLETED and isinstance(frame, Done):
            size = self.offer.size if self.offer is not None else 0
            if frame.size != size or frame.digest != self._digest:
                return [Drop(ReceiverDrop.FINISHED, "a DONE that does not match the verified file")]
        if state is _R.DECLINED and not isinstance(frame, Offer):
            return [Drop(ReceiverDrop.FINISHED, f"{type(frame).__name__} in DECLINED")]
        return self._announce()

    def _announce(self) -> list[Effect]:
        """A finished receiver's last word to a sender that may have missed it."""
        if not self._channel_up:
            return []
        state, tid = self.state, self.transfer_id
        frame: Frame
        if state is _R.COMPLETED:
            frame = Complete(tid, self.offer.size if self.offer is not None else 0)
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

    def _verified(
        self, fx: list[Effect], now: float, size: int = -1, digest: bytes = b"", **kw: Any
    ) -> bool:
        offer = self.offer
        return (
            offer is not None and size == offer.size == self._held and digest == self._hash.digest()
        )

    def _idle_overdue(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        return now >= self._last_rx + self.settings.idle_timeout

    # --- table callbacks: actions -------------------------------------------------------------

    def _size(self) -> int:
        return self.offer.size if self.offer is not None else 0

    def _info(self, now: float) -> dict[str, Any]:
        duration = now - self._accepted_at
        return transfer_info(self.transfer_id, self._size(), self._held, self._chunks, duration)

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
        code = TransferErrorCode.TRANSFER_TOO_LARGE
        kind = DataChannelErrorType.RECEIVE_DATA_CHANNEL_ERROR
        self._emit(fx, "error", error_payload(self.transfer_id, code, self._reject[1], kind))

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
        self._emit(fx, "interrupted", {"uuid": self.transfer_id, "offset": self._held})

    def _send_resume(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._disarm(fx, "resume")
        self._send(fx, self._resume_frame())
        self._last_rx = now
        self._last_ack = self._held
        self._arm(fx, "idle", now + self._idle_step())
        self._emit(fx, "resumed", {"uuid": self.transfer_id, "offset": self._held})

    def _store(
        self,
        fx: list[Effect],
        now: float,
        offset: int = 0,
        data: bytes | memoryview = b"",
        **kw: Any,
    ) -> None:
        self._hash.h.update(data)
        self._held += len(data)
        self._chunks += 1
        self._last_rx = now
        fx.append(ReceivedData(self.transfer_id, offset, data))
        fx.append(Emit(self.target, "progress", self._info(now)))
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
        self._emit(fx, "transferComplete", self._info(now))

    def _unverified(
        self, fx: list[Effect], now: float, size: int = -1, digest: bytes = b"", **kw: Any
    ) -> None:
        announced = self._size()
        if size != announced or self._held != announced:
            code = TransferErrorCode.TRANSFER_SIZE_MISMATCH
            detail = f"DONE says {size} bytes, offer {announced}, received {self._held}"
        else:
            code = TransferErrorCode.TRANSFER_DIGEST_MISMATCH
            detail = f"sha256 {self._hash.digest().hex()} != announced {digest.hex()}"
        self._fail(fx, now, code, detail)

    def _end(
        self, fx: list[Effect], code: CancelCode = CancelCode.CANCELLED, reason: str = ""
    ) -> None:
        self._disarm_all(fx)
        self._end_code = code
        self._end_reason = reason
