"""File transfer over a data channel: the sans-I/O protocol core (sender, receiver, mux).

Theory of operation
-------------------
One file goes from a :class:`FileSender` to a :class:`FileReceiver` as binary *frames* carried in
:class:`~rtcstate.effects.SendData` / :class:`~rtcstate.media.DataChannelMessage` on one ordered,
reliable data channel; a :class:`TransferMux` per channel routes frames by transfer id and
direction, so several transfers, both ways, share it. The core never holds a whole file: the
application hands the sender its bytes on request and takes the receiver's as they arrive.

*Offer.* ``FileSender.start`` sends ``OFFER`` (size, name, mime, proposed chunk size, window) and
waits (OFFERING), repeating it every ``offer_interval`` (it is idempotent); with
``answer_timeout`` set it gives up after that. A mux builds a :class:`FileReceiver` (NEW) for an
OFFER with an unknown id and fires ``fileTransferInvitation`` once it is OFFERED. An offer over
the receiver's ``max_size`` is refused at once (``REJECT`` "too large", ``error
TRANSFER_TOO_LARGE`` on the receiver), as is one beyond the mux's ``max_incoming`` live transfers
(``REJECT`` "busy"). ``accept`` answers ``ACCEPT`` with the agreed chunk size, ``min(proposed,
max_chunk_size)``; ``decline`` answers ``REJECT``; the sender fires ``accepted`` or ``declined``.

*Data.* The sender asks the application for bytes with :class:`NeedData` (offset, at most one
chunk); ``feed(now, offset, data)`` gives 1 to that many bytes at exactly that offset (fewer: the
rest is asked next). Each fed piece is hashed once, incrementally (sha256), kept until
acknowledged and sent as one ``CHUNK``. More is asked only while less than ``window`` bytes are
fed and unacknowledged, so the sender holds at most ``window`` + one chunk of the application's
bytes, by reference (do not mutate what you fed). The receiver takes a chunk only at exactly the
offset it holds, of 1 to chunk-size bytes, inside the announced size; it hashes it, hands it
over with :class:`ReceivedData` (a read-only view into the frame: copy it to keep it), fires
``progress`` and acknowledges cumulatively (``ACK``) each time a quarter of the window arrived
since its last ACK, or ``ack_delay`` after an unacknowledged chunk (so a slow application does
not look like a dead peer). Each ACK that advances fires ``transferProgress`` on the sender.

*Integrity.* When every byte is fed and sent the sender sends ``DONE`` (size, sha256) and waits
(FINISHING), repeating DONE every ``done_interval`` (``done_attempts`` sends). Only if the size it
holds and its own digest match does the receiver fire ``transferComplete`` and answer
``COMPLETE`` (and the sender fire ``transferComplete``); otherwise it fires ``error``
(``TRANSFER_SIZE_MISMATCH``: truncated or too long; ``TRANSFER_DIGEST_MISMATCH``) and FAILS.
**The receiving application must discard** whatever :class:`ReceivedData` gave it unless
``transferComplete`` follows: after ``error`` or ``cancelled`` those bytes are worthless.

*Flow control.* The adapter reports the channel's buffered amount crossing its high and low
marks (``buffered_high`` / ``buffered_low``; the mux tells every sender): the sender PAUSES (it
asks for nothing more; a request already out is still forwarded when fed) and resumes on low.

*Resume* (apiRTC cannot). When the channel closes, live transfers become INTERRUPTED (timer
``resume``, ``resume_timeout``); bytes fed meanwhile are kept. When a new channel opens (its id
may differ) the receiver sends ``RESUME`` (chunk size and the offset it holds, all of it hashed)
and the sender sends its ``OFFER`` again as a hello (OFFERING, repeated; the resume timer still
runs): an accepted receiver answers the hello with ``RESUME``, a finished one with its final
word. The sender goes on from the receiver's offset with the bytes it kept: it never asks the
application to seek back and never rehashes (its digest covers the bytes as fed; the receiver's
covers exactly what it holds). Both fire ``resumed``. If the timer runs out first the side fails
with ``error TRANSFER_TIMED_OUT``.

*Bad input.* Nothing from the channel raises. A frame that does not decode, a chunk out of order
(a gap: missing or reordered), duplicated, oversize or past the size, a wrong digest or size, a
frame its state cannot take (an ACK beyond what was sent, data before acceptance, a different
OFFER under the same id): the side that sees it fires ``error`` (a :class:`TransferErrorCode`),
sends ``CANCEL`` (FAILED) and ends FAILED; its peer fires ``error TRANSFER_REMOTE_ERROR``. A
receiver never completes with bytes it did not verify: no corrupt or truncated file is reported
complete. Harmless repeats (ACK, OFFER, ACCEPT, RESUME, DONE) are dropped
(:class:`~rtcstate.effects.Drop`) or answered again. For a frame with an unknown id the mux fires
``error MESSAGE_FOR_UNKNOWN_ID`` and answers ``CANCEL`` (not to CANCEL, COMPLETE, REJECT).
Timers bound every wait: sender ``offer``, ``ack`` (no ACK progress for ``ack_timeout`` while
bytes are in flight), ``done``, ``resume``; receiver ``idle`` (no chunk for ``idle_timeout``;
it also fires every ``reack_interval`` without a chunk and repeats the receiver's ACK, so an
ACK lost when an adapter replaced the peer connection under the channel cannot stall a sender
whose window is full), ``ack`` (delayed ACK), ``resume``. Timers are lazy: re-armed when they
fire, not per chunk.

*Ending.* ``cancel`` on either side sends ``CANCEL``; both fire ``cancelled {uuid, from,
reason}``. The sender refuses ``cancel`` once DONE is out (the receiver may already hold a
verified file). A finished machine answers late frames with its final word (``COMPLETE``,
``REJECT`` or ``CANCEL``) and repeats it when a new channel opens; the mux keeps the last
``linger`` finished transfers for that. Each machine fires exactly one final event (none for a
receiver its application declined). Under loss, duplication, reordering and disconnects the two
sides agree (both complete, or both end in error, cancel or decline) except in the two generals'
case: the channel stays down longer than the sender's ``resume_timeout`` (or every DONE /
COMPLETE is lost) after the receiver verified the file; the receiver then holds a complete,
verified file and the sender reports ``error TRANSFER_TIMED_OUT``, never a false
``transferComplete``. (Corrupted frames are outside that promise: SCTP checksums its packets.)

Events (``Emit`` on the machine's ``target``; apiRTC names where apiRTC has them)
---------------------------------------------------------------------------------
Sender (default target ``outgoingTransfer:<id>``): ``accepted {uuid, chunkSize}``, ``declined
{uuid, code, reason}`` (code ``declined`` / ``too large`` / ``busy``), ``transferProgress`` and
``transferComplete`` (TransferInformation), ``interrupted {uuid, offset}``, ``resumed {uuid,
offset}``, ``cancelled {uuid, from, reason}``, ``error {uuid, errorCode, errorInfo, detail, type:
"sendDataChannelError"}``. Receiver (``incomingTransfer:<id>``): ``progress`` and
``transferComplete`` (TransferInformation), ``interrupted``, ``resumed``, ``cancelled``,
``error`` (``type: "receiveDataChannelError"``). TransferInformation is apiRTC's ``{uuid,
fileSize, remainingSize, percentage, sendChunkNb, transferDuration, lastPacket}``; the sender
counts acknowledged bytes and chunks, the receiver stored ones; ``transferDuration`` is in seconds
of the caller's clock since ``start`` / ``accept``. Mux (``dataChannel:<channel id>``):
``fileTransferInvitation`` (payload: the :class:`FileReceiver`) and ``error`` for frames it cannot
route.

Frame format (version 1; integers big-endian)
---------------------------------------------
``0xF7 magic | version | type | id length (1..255) | transfer id (UTF-8) | fields``; the magic
tells these frames from the DataChannel's (``0xDC``) and from text. Types with bit ``0x10`` go
from the receiver to the sender. A text is a 16-bit length and UTF-8 (at most 4096 bytes).

========  ====  ============================================================
OFFER     0x01  size u64, chunk size u32, window u32, name text, mime text
CHUNK     0x02  offset u64, payload (1.. bytes: the rest of the frame)
DONE      0x03  size u64, sha256 digest (32 bytes)
CANCEL    0x04  code u8 (1 cancelled, 2 failed), reason text (sender to receiver)
ACCEPT    0x11  chunk size u32, offset u64 (0)
REJECT    0x12  code u8 (1 declined, 2 too large, 3 busy), reason text
ACK       0x13  offset u64 (cumulative: bytes stored and hashed)
CANCEL    0x14  as 0x04, receiver to sender
COMPLETE  0x15  size u64
RESUME    0x16  chunk size u32, offset u64 (bytes the receiver holds)
========  ====  ============================================================

:func:`decode_frame` raises only :class:`FrameError` (the machines and the mux turn it into
effects); ``decode_frame(encode_frame(f)) == f`` for every valid frame, and what decodes is
canonical. A CHUNK frame is at most 267 bytes of header plus the payload; the default chunk size
(63 KiB) keeps frames under 64 KiB, a receiver on a stack with a smaller message limit lowers
``max_chunk_size``.
"""

from __future__ import annotations

import abc
import enum
import hashlib
import struct
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs

from rtcstate.codes import DataChannelErrorType, ErrorCode, ErrorNumber, HangupFrom
from rtcstate.effects import CancelTimer, Drop, Effect, Emit, SendData, StartTimer, target
from rtcstate.errors import InvalidStateError, RtcError
from rtcstate.machine import machine, spec_of
from rtcstate.media import (
    BufferedAmountHigh,
    BufferedAmountLow,
    DataChannelClosed,
    DataChannelMessage,
    DataChannelOpened,
    MediaEvent,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_CHUNK_SIZE",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_WINDOW",
    "MAGIC",
    "MAX_ID_BYTES",
    "MAX_TEXT_BYTES",
    "RECEIVER_TRANSITIONS",
    "SENDER_TRANSITIONS",
    "VERSION",
    "Accept",
    "Ack",
    "Cancel",
    "CancelCode",
    "Chunk",
    "Complete",
    "Done",
    "FileReceiver",
    "FileReceiverState",
    "FileSender",
    "FileSenderState",
    "Frame",
    "FrameError",
    "FrameType",
    "NeedData",
    "Offer",
    "ReceivedData",
    "Reject",
    "RejectCode",
    "Resume",
    "TransferErrorCode",
    "TransferMux",
    "TransferSettings",
    "decode_frame",
    "encode_frame",
    "is_transfer_frame",
]

MAGIC: Final = 0xF7
VERSION: Final = 1
MAX_ID_BYTES: Final = 255
MAX_TEXT_BYTES: Final = 4096
DIGEST_SIZE: Final = 32
DEFAULT_CHUNK_SIZE: Final = 63 * 1024  # a CHUNK frame stays under 64 KiB (header <= 267 bytes)
DEFAULT_WINDOW: Final = 256 * 1024
"""Bytes in flight unacknowledged, by default. Measured over aiortc on loopback (2026-11-26):
a 1 MiB window bursts enough into SCTP to lose a tail packet now and then (a 1 s
retransmission stall on a 500 kB file); 256 KiB never stalled and moved 4 MiB at about
10 MB/s against 8.4 (see docs/performance.md)."""
DEFAULT_MAX_CHUNK_SIZE: Final = 256 * 1024
DEFAULT_MAX_SIZE: Final = 4 * 1024**3
_U32_MAX: Final = 2**32 - 1
_SIZE_MAX: Final = 2**63 - 1
_TO_SENDER: Final = 0x10


# --- effects ----------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class NeedData(Effect):
    """Give the sender ``size`` bytes of the file from ``offset``: call ``feed(now, offset,
    data)`` with 1 to ``size`` bytes (fewer: the rest is asked for next)."""

    transfer_id: str
    offset: int
    size: int


@attrs.frozen(slots=True)
class ReceivedData(Effect):
    """Bytes ``[offset, offset + len(data))`` of the file arrived in order and were hashed.

    ``data`` may be a read-only view into the received frame: copy it to keep it. Discard
    everything received unless the receiver fires ``transferComplete``.
    """

    transfer_id: str
    offset: int
    data: bytes | memoryview


# --- codes ------------------------------------------------------------------------------------


class TransferErrorCode(enum.StrEnum):
    """``errorCode`` of a transfer ``error`` event (``info`` is its ``errorInfo``).

    Every value is a :class:`rtcstate.codes.ErrorCode` member, where each is documented."""

    MESSAGE_DECODE_ERROR = "MESSAGE_DECODE_ERROR"
    MESSAGE_FOR_UNKNOWN_ID = "MESSAGE_FOR_UNKNOWN_ID"
    UNEXPECTED_MESSAGE = "UNEXPECTED_MESSAGE"
    TRANSFER_CHUNK_GAP = "TRANSFER_CHUNK_GAP"
    TRANSFER_CHUNK_DUPLICATE = "TRANSFER_CHUNK_DUPLICATE"
    TRANSFER_CHUNK_OVERSIZE = "TRANSFER_CHUNK_OVERSIZE"
    TRANSFER_SIZE_MISMATCH = "TRANSFER_SIZE_MISMATCH"
    TRANSFER_DIGEST_MISMATCH = "TRANSFER_DIGEST_MISMATCH"
    TRANSFER_TOO_LARGE = "TRANSFER_TOO_LARGE"
    TRANSFER_TIMED_OUT = "TRANSFER_TIMED_OUT"
    TRANSFER_REMOTE_ERROR = "TRANSFER_REMOTE_ERROR"
    TRANSFER_CANCELLED = "TRANSFER_CANCELLED"
    TRANSFER_DECLINED = "TRANSFER_DECLINED"
    TRANSFER_ABORTED = "TRANSFER_ABORTED"

    @property
    def info(self) -> str:
        return ErrorCode(self.value).info


class CancelCode(enum.IntEnum):
    """Code of a CANCEL frame: the application cancelled, or that side failed."""

    CANCELLED = 1
    FAILED = 2


class RejectCode(enum.IntEnum):
    """Code of a REJECT frame; ``label`` is the ``code`` of the sender's ``declined`` event."""

    DECLINED = 1
    TOO_LARGE = 2
    BUSY = 3

    @property
    def label(self) -> str:
        return {1: "declined", 2: "too large", 3: "busy"}[self.value]


@attrs.frozen(slots=True)
class TransferSettings:
    """Timers of both machines (seconds on the caller's clock)."""

    offer_interval: float = 5.0  # OFFER repeated while unanswered
    answer_timeout: float | None = None  # sender gives up waiting for accept/decline
    ack_timeout: float = 30.0  # sender: no ACK progress while bytes are in flight
    done_interval: float = 5.0  # DONE repeated while COMPLETE has not come
    done_attempts: int = 6
    idle_timeout: float = 60.0  # receiver: no chunk while receiving
    reack_interval: float = 10.0  # receiver: with no chunk for this long, repeat its ACK
    ack_delay: float = 1.0  # receiver: longest an ACK waits for a quarter window to fill
    resume_timeout: float = 60.0  # both: channel down (or, sender, no answer after it)


# --- frames -----------------------------------------------------------------------------------


class FrameType(enum.IntEnum):
    OFFER = 0x01
    CHUNK = 0x02
    DONE = 0x03
    CANCEL = 0x04
    ACCEPT = 0x11
    REJECT = 0x12
    ACK = 0x13
    CANCEL_TO_SENDER = 0x14
    COMPLETE = 0x15
    RESUME = 0x16


class FrameError(ValueError):
    """Data that is not a valid transfer frame; ``transfer_id`` / ``to_sender`` when known."""

    def __init__(
        self, reason: str, transfer_id: str | None = None, to_sender: bool | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transfer_id = transfer_id
        self.to_sender = to_sender


class _Malformed(ValueError):
    pass


_U64 = struct.Struct(">Q")
_OFFER = struct.Struct(">QII")
_CHUNK_SIZE_OFFSET = struct.Struct(">IQ")
_DONE = struct.Struct(">Q32s")
_TEXT = struct.Struct(">H")


def _text(value: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > MAX_TEXT_BYTES:
        raise ValueError(f"text longer than {MAX_TEXT_BYTES} bytes")
    return _TEXT.pack(len(raw)) + raw


def _read_text(view: memoryview, pos: int) -> tuple[str, int]:
    (length,) = _TEXT.unpack_from(view, pos)
    pos += 2
    if length > MAX_TEXT_BYTES or pos + length > len(view):
        raise _Malformed("text field truncated or too long")
    return str(view[pos : pos + length], "utf-8"), pos + length


def _id_bytes(transfer_id: str) -> bytes:
    raw = transfer_id.encode("utf-8")
    if not 0 < len(raw) <= MAX_ID_BYTES:
        raise ValueError(f"transfer id must be 1..{MAX_ID_BYTES} UTF-8 bytes")
    return raw


def _header(kind: int, transfer_id: str) -> bytes:
    raw = _id_bytes(transfer_id)
    return bytes((MAGIC, VERSION, kind, len(raw))) + raw


@attrs.frozen(slots=True)
class Frame(abc.ABC):
    """Base of every frame; ``to_sender``: it goes from the receiver to the sender."""

    transfer_id: str
    TO_SENDER: ClassVar[bool] = False

    @property
    def to_sender(self) -> bool:
        return self.TO_SENDER

    @property
    @abc.abstractmethod
    def kind(self) -> FrameType:
        """The frame's type byte."""

    @abc.abstractmethod
    def body(self) -> bytes:
        """The fields after the header."""


@attrs.frozen(slots=True)
class Offer(Frame):
    size: int
    chunk_size: int
    window: int
    name: str = ""
    mime: str = ""

    @property
    def kind(self) -> FrameType:
        return FrameType.OFFER

    def body(self) -> bytes:
        return _OFFER.pack(self.size, self.chunk_size, self.window) + (
            _text(self.name) + _text(self.mime)
        )


@attrs.frozen(slots=True)
class Chunk(Frame):
    offset: int
    payload: bytes | memoryview

    @property
    def kind(self) -> FrameType:
        return FrameType.CHUNK

    def body(self) -> bytes:
        return _U64.pack(self.offset) + bytes(self.payload)


@attrs.frozen(slots=True)
class Done(Frame):
    size: int
    digest: bytes

    @property
    def kind(self) -> FrameType:
        return FrameType.DONE

    def body(self) -> bytes:
        if len(self.digest) != DIGEST_SIZE:
            raise ValueError("digest must be 32 bytes")
        return _DONE.pack(self.size, self.digest)


@attrs.frozen(slots=True)
class Cancel(Frame):
    """CANCEL in either direction (``to_sender``: sent by the receiver)."""

    to_sender: bool
    code: CancelCode
    reason: str = ""

    @property
    def kind(self) -> FrameType:
        return FrameType.CANCEL_TO_SENDER if self.to_sender else FrameType.CANCEL

    def body(self) -> bytes:
        return bytes((int(self.code),)) + _text(self.reason)


@attrs.frozen(slots=True)
class Accept(Frame):
    chunk_size: int
    offset: int = 0
    TO_SENDER: ClassVar[bool] = True

    @property
    def kind(self) -> FrameType:
        return FrameType.ACCEPT

    def body(self) -> bytes:
        return _CHUNK_SIZE_OFFSET.pack(self.chunk_size, self.offset)


@attrs.frozen(slots=True)
class Reject(Frame):
    code: RejectCode
    reason: str = ""
    TO_SENDER: ClassVar[bool] = True

    @property
    def kind(self) -> FrameType:
        return FrameType.REJECT

    def body(self) -> bytes:
        return bytes((int(self.code),)) + _text(self.reason)


@attrs.frozen(slots=True)
class Ack(Frame):
    offset: int
    TO_SENDER: ClassVar[bool] = True

    @property
    def kind(self) -> FrameType:
        return FrameType.ACK

    def body(self) -> bytes:
        return _U64.pack(self.offset)


@attrs.frozen(slots=True)
class Complete(Frame):
    size: int
    TO_SENDER: ClassVar[bool] = True

    @property
    def kind(self) -> FrameType:
        return FrameType.COMPLETE

    def body(self) -> bytes:
        return _U64.pack(self.size)


@attrs.frozen(slots=True)
class Resume(Frame):
    chunk_size: int
    offset: int
    TO_SENDER: ClassVar[bool] = True

    @property
    def kind(self) -> FrameType:
        return FrameType.RESUME

    def body(self) -> bytes:
        return _CHUNK_SIZE_OFFSET.pack(self.chunk_size, self.offset)


def encode_frame(frame: Frame) -> bytes:
    """The bytes of ``frame`` (``ValueError`` for a field the format cannot carry)."""
    try:
        return _header(frame.kind, frame.transfer_id) + frame.body()
    except struct.error as exc:
        raise ValueError(f"{type(frame).__name__}: {exc}") from None


def is_transfer_frame(data: object) -> bool:
    """Whether ``data`` starts like a transfer frame (binary, magic byte): route it here."""
    return isinstance(data, bytes | bytearray | memoryview) and data[:1] == bytes((MAGIC,))


def _end(view: memoryview, pos: int) -> None:
    if pos != len(view):
        raise _Malformed(f"{len(view) - pos} trailing bytes")


def _parse_offer(tid: str, view: memoryview, pos: int) -> Frame:
    size, chunk, window = _OFFER.unpack_from(view, pos)
    name, pos = _read_text(view, pos + _OFFER.size)
    mime, pos = _read_text(view, pos)
    _end(view, pos)
    if size > _SIZE_MAX or chunk < 1 or window < 1:
        raise _Malformed("size, chunk size or window out of range")
    return Offer(tid, size, chunk, window, name, mime)


def _parse_chunk(tid: str, view: memoryview, pos: int) -> Frame:
    (offset,) = _U64.unpack_from(view, pos)
    payload = view[pos + 8 :]
    if not payload:
        raise _Malformed("empty chunk")
    return Chunk(tid, offset, payload)


def _parse_done(tid: str, view: memoryview, pos: int) -> Frame:
    size, digest = _DONE.unpack_from(view, pos)
    _end(view, pos + _DONE.size)
    return Done(tid, size, digest)


def _parse_cancel(to_sender: bool) -> Callable[[str, memoryview, int], Frame]:
    def parse(tid: str, view: memoryview, pos: int) -> Frame:
        if pos >= len(view) or view[pos] not in (1, 2):
            raise _Malformed("bad cancel code")
        code = CancelCode(view[pos])
        reason, pos = _read_text(view, pos + 1)
        _end(view, pos)
        return Cancel(tid, to_sender, code, reason)

    return parse


def _parse_accept(tid: str, view: memoryview, pos: int) -> Frame:
    chunk, offset = _CHUNK_SIZE_OFFSET.unpack_from(view, pos)
    _end(view, pos + _CHUNK_SIZE_OFFSET.size)
    if chunk < 1:
        raise _Malformed("chunk size 0")
    return Accept(tid, chunk, offset)


def _parse_reject(tid: str, view: memoryview, pos: int) -> Frame:
    if pos >= len(view) or view[pos] not in (1, 2, 3):
        raise _Malformed("bad reject code")
    code = RejectCode(view[pos])
    reason, pos = _read_text(view, pos + 1)
    _end(view, pos)
    return Reject(tid, code, reason)


def _parse_ack(tid: str, view: memoryview, pos: int) -> Frame:
    (offset,) = _U64.unpack_from(view, pos)
    _end(view, pos + 8)
    return Ack(tid, offset)


def _parse_complete(tid: str, view: memoryview, pos: int) -> Frame:
    (size,) = _U64.unpack_from(view, pos)
    _end(view, pos + 8)
    return Complete(tid, size)


def _parse_resume(tid: str, view: memoryview, pos: int) -> Frame:
    chunk, offset = _CHUNK_SIZE_OFFSET.unpack_from(view, pos)
    _end(view, pos + _CHUNK_SIZE_OFFSET.size)
    if chunk < 1:
        raise _Malformed("chunk size 0")
    return Resume(tid, chunk, offset)


_PARSERS: Final[dict[int, Callable[[str, memoryview, int], Frame]]] = {
    FrameType.OFFER: _parse_offer,
    FrameType.CHUNK: _parse_chunk,
    FrameType.DONE: _parse_done,
    FrameType.CANCEL: _parse_cancel(False),
    FrameType.ACCEPT: _parse_accept,
    FrameType.REJECT: _parse_reject,
    FrameType.ACK: _parse_ack,
    FrameType.CANCEL_TO_SENDER: _parse_cancel(True),
    FrameType.COMPLETE: _parse_complete,
    FrameType.RESUME: _parse_resume,
}


def decode_frame(data: bytes | bytearray | memoryview | str) -> Frame:
    """Decode one frame; raises :class:`FrameError` (only) for anything else.

    A CHUNK's payload is a view into ``data`` (no copy).
    """
    if isinstance(data, str):
        raise FrameError("a text message is not a transfer frame")
    try:
        view = memoryview(data).cast("B")
    except (TypeError, ValueError) as exc:
        raise FrameError(f"not a byte buffer: {exc}") from None
    size = len(view)
    if size < 5 or view[0] != MAGIC:
        raise FrameError("not a transfer frame (no magic byte)")
    if view[1] != VERSION:
        raise FrameError(f"unsupported transfer frame version {view[1]}")
    kind, id_len = view[2], view[3]
    pos = 4 + id_len
    if id_len == 0 or pos > size:
        raise FrameError("transfer id missing or truncated")
    try:
        tid = str(view[4:pos], "utf-8")
    except UnicodeDecodeError:
        raise FrameError("transfer id is not UTF-8") from None
    parser = _PARSERS.get(kind)
    if parser is None:
        raise FrameError(f"unknown frame type {kind:#04x}", tid)
    to_sender = bool(kind & _TO_SENDER)
    try:
        return parser(tid, view, pos)
    except (_Malformed, struct.error, UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"malformed {FrameType(kind).name}: {exc}", tid, to_sender) from None


# --- helpers shared by both machines ----------------------------------------------------------


class _Digest:
    """A running sha256 that compares by value and deep copies (for state snapshots)."""

    __slots__ = ("h",)

    def __init__(self, h: Any = None) -> None:
        self.h: Any = h if h is not None else hashlib.sha256()

    def digest(self) -> bytes:
        result: bytes = self.h.digest()
        return result

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Digest) and self.digest() == other.digest()

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> _Digest:
        return _Digest(self.h.copy())

    def __repr__(self) -> str:
        return f"<sha256 {self.h.hexdigest()[:12]}>"


class _Piece:
    """Fed bytes ``[offset, end)`` kept until acknowledged (immutable; compares by value)."""

    __slots__ = ("data", "offset")

    def __init__(self, offset: int, data: bytes | memoryview) -> None:
        self.offset = offset
        self.data = data

    @property
    def end(self) -> int:
        return self.offset + len(self.data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Piece) and self.offset == other.offset and self.data == other.data

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> _Piece:
        return self

    def __repr__(self) -> str:
        return f"<piece {self.offset}+{len(self.data)}>"


def _transfer_info(
    uuid: str, size: int, offset: int, chunks: int, duration: float
) -> dict[str, Any]:
    """apiRTC's TransferInformation."""
    return {
        "uuid": uuid,
        "fileSize": size,
        "remainingSize": size - offset,
        "percentage": 100.0 if size <= 0 else round(100.0 * offset / size, 2),
        "sendChunkNb": chunks,
        "transferDuration": duration,
        "lastPacket": offset >= size,
    }


def _check_id(transfer_id: str) -> None:
    try:
        _id_bytes(transfer_id)
    except ValueError as exc:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, str(exc)) from None


def _check_text(what: str, value: str) -> None:
    if len(value.encode("utf-8")) > MAX_TEXT_BYTES:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"{what} longer than {MAX_TEXT_BYTES} B")


class _Timers:
    """Mixin: named timers ``<target>:<name>``, armed / disarmed through effects."""

    __slots__ = ()
    target: str
    _armed: dict[str, float]

    def _tid(self, name: str) -> str:
        return f"{self.target}:{name}"

    def _arm(self, fx: list[Effect], name: str, deadline: float) -> None:
        self._armed[name] = deadline
        fx.append(StartTimer(self._tid(name), deadline))

    def _disarm(self, fx: list[Effect], *names: str) -> None:
        for name in names:
            if self._armed.pop(name, None) is not None:
                fx.append(CancelTimer(self._tid(name)))

    def _disarm_all(self, fx: list[Effect]) -> None:
        self._disarm(fx, *list(self._armed))

    def _timer_name(self, timer_id: str) -> str | None:
        prefix = f"{self.target}:"
        if not timer_id.startswith(prefix):
            return None
        name = timer_id[len(prefix) :]
        return name if name in self._armed else None


def _error_payload(
    uuid: str, code: TransferErrorCode, detail: str, kind: DataChannelErrorType
) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "errorCode": code.value,
        "errorInfo": code.info,
        "detail": detail,
        "type": kind.value,
    }


# --- sender -----------------------------------------------------------------------------------


class _Endpoint(_Timers):
    """Mixin: what the sender and the receiver of a transfer do alike (frames out, events,
    cancelling and failing); ``_BY_RECEIVER`` and ``_ERROR_KIND`` tell the two apart."""

    __slots__ = ()
    _BY_RECEIVER: ClassVar[bool]
    _ERROR_KIND: ClassVar[DataChannelErrorType]
    transfer_id: str
    channel_id: str
    settings: TransferSettings
    _channel_up: bool

    state: Any

    if TYPE_CHECKING:  # each machine has its own

        def _report(self, trigger: str, now: float, **kw: Any) -> list[Effect]: ...

        def _end(
            self, fx: list[Effect], code: CancelCode = CancelCode.CANCELLED, reason: str = ""
        ) -> None: ...

    def _violation(
        self,
        now: float,
        detail: str,
        code: TransferErrorCode = TransferErrorCode.UNEXPECTED_MESSAGE,
    ) -> list[Effect]:
        return self._report("protocol_error", now, code=code, detail=detail)

    def _is_up(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        return self._channel_up

    def _send(self, fx: list[Effect], frame: Frame) -> None:
        if self._channel_up:
            fx.append(SendData(self.channel_id, encode_frame(frame)))

    def _emit(self, fx: list[Effect], event: str, payload: Any) -> None:
        fx.append(Emit(self.target, event, payload))

    def _await_channel(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._arm(fx, "resume", now + self.settings.resume_timeout)

    def _cancel_local(
        self, fx: list[Effect], now: float, reason: str = "cancelled", **kw: Any
    ) -> None:
        self._end(fx, CancelCode.CANCELLED, reason)
        self._send(fx, Cancel(self.transfer_id, self._BY_RECEIVER, CancelCode.CANCELLED, reason))
        payload = {"uuid": self.transfer_id, "from": HangupFrom.LOCAL.value, "reason": reason}
        self._emit(fx, "cancelled", payload)

    def _cancelled_by_peer(self, fx: list[Effect], now: float, reason: str = "", **kw: Any) -> None:
        self._end(fx, CancelCode.CANCELLED, reason)
        payload = {"uuid": self.transfer_id, "from": HangupFrom.REMOTE.value, "reason": reason}
        self._emit(fx, "cancelled", payload)

    def _error(self, fx: list[Effect], code: TransferErrorCode, detail: str) -> None:
        self._emit(fx, "error", _error_payload(self.transfer_id, code, detail, self._ERROR_KIND))

    def _failed_by_peer(self, fx: list[Effect], now: float, reason: str = "", **kw: Any) -> None:
        self._end(fx, CancelCode.FAILED, reason)
        self._error(fx, TransferErrorCode.TRANSFER_REMOTE_ERROR, reason)

    def _fail(
        self,
        fx: list[Effect],
        now: float,
        code: TransferErrorCode = TransferErrorCode.UNEXPECTED_MESSAGE,
        detail: str = "",
        **kw: Any,
    ) -> None:
        self._end(fx, CancelCode.FAILED, code.value)
        self._send(fx, Cancel(self.transfer_id, self._BY_RECEIVER, CancelCode.FAILED, code.value))
        self._error(fx, code, detail)

    def _timed_out(self, fx: list[Effect], now: float, timer: str = "", **kw: Any) -> None:
        detail = f"timer {timer} ran out in {self.state.name}" if timer else "timed out"
        self._fail(fx, now, TransferErrorCode.TRANSFER_TIMED_OUT, detail)


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
    # frames from the receiver
    {"trigger": "accepted", "source": "OFFERING", "dest": "PAUSED", "conditions": "_is_congested",
     "after": "_accepted"},
    {"trigger": "accepted", "source": "OFFERING", "dest": "SENDING",
     "after": ["_accepted", "_pump"]},
    {"trigger": "rejected", "source": "OFFERING", "dest": "REJECTED", "after": "_rejected"},
    {"trigger": "resumed", "source": "OFFERING", "dest": "PAUSED", "conditions": "_is_congested",
     "after": "_rewind"},
    {"trigger": "resumed", "source": "OFFERING", "dest": "SENDING", "after": ["_rewind", "_pump"]},
    {"trigger": "acked", "source": "SENDING", "dest": "SENDING", "after": ["_ack", "_pump"]},
    {"trigger": "acked", "source": "PAUSED", "dest": "PAUSED", "after": "_ack"},
    {"trigger": "acked", "source": "FINISHING", "dest": "FINISHING", "after": "_ack"},
    {"trigger": "all_sent", "source": ["SENDING", "PAUSED"], "dest": "FINISHING",
     "after": "_send_done"},
    {"trigger": "completed", "source": ["FINISHING", "OFFERING"], "dest": "COMPLETED",
     "after": "_completed"},
    {"trigger": "remote_cancel", "source": _S_LIVE, "dest": "CANCELLED",
     "after": "_cancelled_by_peer"},
    {"trigger": "remote_failure", "source": _S_LIVE, "dest": "FAILED",
     "after": "_failed_by_peer"},
    {"trigger": "protocol_error", "source": _S_LIVE, "dest": "FAILED", "after": "_fail"},
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

_SENDER_TIMERS: Final = {
    "offer": "offer_timer",
    "ack": "ack_timer",
    "done": "done_timer",
    "resume": "resume_timer",
}
_S = FileSenderState
_SENDER_FINAL: Final = frozenset({_S.COMPLETED, _S.REJECTED, _S.CANCELLED, _S.FAILED})
_DONE_STATES: Final = frozenset({_S.FINISHING, _S.OFFERING})  # where COMPLETE may arrive


@machine(
    FileSenderState,
    SENDER_TRANSITIONS,
    initial=FileSenderState.IDLE,
    final=_SENDER_FINAL,
)
@attrs.define(slots=True, eq=False)
class FileSender(_Endpoint):
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
    _armed: dict[str, float] = attrs.field(factory=dict, init=False)
    _chunk: int = attrs.field(default=0, init=False)  # agreed chunk size (0: not accepted)
    _acked: int = attrs.field(default=0, init=False)  # receiver holds [0, acked)
    _next: int = attrs.field(default=0, init=False)  # next offset to send
    _fed: int = attrs.field(default=0, init=False)  # bytes the application gave
    _high: int = attrs.field(default=0, init=False)  # highest offset ever sent
    _pieces: deque[_Piece] = attrs.field(factory=deque, init=False)  # [acked, fed), kept
    _request: tuple[int, int] | None = attrs.field(default=None, init=False)
    _hash: _Digest = attrs.field(factory=_Digest, init=False)
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
        _check_id(self.transfer_id)
        _check_text("name", self.name)
        _check_text("mime", self.mime)
        if not 0 <= self.size <= _SIZE_MAX:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "size out of range")
        if not 1 <= self.chunk_size <= _U32_MAX or not 1 <= self.window <= _U32_MAX:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "chunk size and window: 1..2**32-1")
        if not self.target:
            self.target = target("outgoingTransfer", self.transfer_id)
        self._chunk_head = _header(FrameType.CHUNK, self.transfer_id)

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
        _check_text("reason", reason)
        return self._command("cancel", now, reason=reason)

    # --- public: reports (never raise) --------------------------------------------------------

    def on_frame(self, data: bytes | bytearray | memoryview | str, now: float) -> list[Effect]:
        """A data-channel message for this transfer."""
        try:
            frame = decode_frame(data)
        except FrameError as exc:
            return self._undecodable(exc, now, to_me=exc.to_sender)
        return self.receive_frame(frame, now)

    def receive_frame(self, frame: Frame, now: float) -> list[Effect]:
        """A decoded frame (the mux decodes once and routes)."""
        if frame.transfer_id != self.transfer_id:
            return [Drop("other-transfer", f"{frame.transfer_id!r} is not {self.transfer_id!r}")]
        if not frame.to_sender:
            return [Drop("wrong-direction", f"{type(frame).__name__} is for a receiver")]
        state = self.state
        if state in _SENDER_FINAL:
            return self._linger(frame)
        if state is _S.IDLE:
            return [Drop("not-started", type(frame).__name__)]
        if isinstance(frame, Cancel):
            trigger = "remote_cancel" if frame.code is CancelCode.CANCELLED else "remote_failure"
            return self._report(trigger, now, reason=frame.reason)
        if state is _S.INTERRUPTED:
            return [Drop("interrupted", f"{type(frame).__name__} while the channel is down")]
        if isinstance(frame, Accept | Resume):
            return self._on_answer(frame.chunk_size, frame.offset, now)
        if isinstance(frame, Ack):
            return self._on_ack(frame.offset, now)
        if isinstance(frame, Complete):
            if frame.size == self.size and self._done_sent and state in _DONE_STATES:
                return self._report("completed", now)
            return self._violation(now, "COMPLETE before DONE or for another size")
        if isinstance(frame, Reject):
            if state is _S.OFFERING and not self._chunk:
                return self._report("rejected", now, code=frame.code, reason=frame.reason)
            return self._violation(now, "REJECT after acceptance")
        return [Drop("unexpected-frame", type(frame).__name__)]  # pragma: no cover

    def channel_opened(self, now: float, channel_id: str | None = None) -> list[Effect]:
        """A (new) channel is open; ``channel_id`` if its id changed."""
        if self.state in _SENDER_FINAL:
            self._channel_up = True
            if channel_id:
                self.channel_id = channel_id
            return self._announce()
        return self._report("channel_opened", now, channel_id=channel_id)

    def channel_closed(self, now: float) -> list[Effect]:
        if self.state in _SENDER_FINAL:
            self._channel_up = False
            return []
        return self._report("channel_closed", now)

    def buffered_high(self, now: float) -> list[Effect]:
        return self._report("buffered_high", now)

    def buffered_low(self, now: float) -> list[Effect]:
        return self._report("buffered_low", now)

    def timer_fired(self, timer_id: str, now: float) -> list[Effect]:
        name = self._timer_name(timer_id)
        if name is None:
            return [Drop("stale-timer", timer_id)]
        del self._armed[name]
        return self._report(_SENDER_TIMERS[name], now, timer=name)

    # --- dispatch -----------------------------------------------------------------------------

    def _command(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        fx: list[Effect] = []
        spec_of(self).fire(self, trigger, fx, now, **kw)  # raises before any mutation
        self._settle(fx, now)
        return fx

    def _report(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        spec = spec_of(self)
        if not spec.allowed(self.state, trigger):
            return [Drop("unexpected-report", f"{trigger} in state {self.state.name}")]
        fx: list[Effect] = []
        spec.fire(self, trigger, fx, now, **kw)
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

    def _undecodable(self, exc: FrameError, now: float, to_me: bool | None) -> list[Effect]:
        if exc.transfer_id == self.transfer_id and to_me and not self.finished:
            if self.state is _S.IDLE or self.state is _S.INTERRUPTED:
                return [Drop("undecodable", exc.reason)]
            return self._violation(now, exc.reason, TransferErrorCode.MESSAGE_DECODE_ERROR)
        return [Drop("undecodable", exc.reason)]

    def _on_answer(self, chunk: int, offset: int, now: float) -> list[Effect]:
        if self.state is not _S.OFFERING:
            return [Drop("stale-frame", "acceptance or resume while already sending")]
        if not self._chunk:
            if offset != 0 or not 1 <= chunk <= self.chunk_size:
                return self._violation(now, f"bad acceptance: chunk {chunk}, offset {offset}")
            return self._report("accepted", now, chunk=chunk)
        if chunk != self._chunk or not self._acked <= offset <= self._high:
            return self._violation(
                now, f"bad resume: chunk {chunk}, offset {offset} (acked {self._acked}, "
                f"sent {self._high})",
            )  # fmt: skip
        return self._report("resumed", now, offset=offset)

    def _on_ack(self, offset: int, now: float) -> list[Effect]:
        if not self._chunk:
            return self._violation(now, "ACK before acceptance")
        if self.state is _S.OFFERING or offset <= self._acked:
            return [Drop("stale-frame", f"ACK {offset} (acked {self._acked})")]
        if offset > self._high:
            return self._violation(now, f"ACK {offset} beyond the {self._high} bytes sent")
        return self._report("acked", now, offset=offset)

    def _linger(self, frame: Frame) -> list[Effect]:
        if self.state in (_S.CANCELLED, _S.FAILED) and not isinstance(
            frame, Cancel | Complete | Reject
        ):
            return self._announce()
        return [Drop("finished", f"{type(frame).__name__} in {self.state.name}")]

    def _announce(self) -> list[Effect]:
        """A finished sender's last word to a receiver that may have missed it."""
        if self.state in (_S.CANCELLED, _S.FAILED) and self._channel_up:
            frame = Cancel(self.transfer_id, False, self._end_code, self._end_reason)
            return [SendData(self.channel_id, encode_frame(frame))]
        return []

    # --- table callbacks: conditions ----------------------------------------------------------

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

    def _info(self, now: float, offset: int, chunks: int) -> dict[str, Any]:
        return _transfer_info(self.transfer_id, self.size, offset, chunks, now - self._started)

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
        self._emit(fx, "interrupted", {"uuid": self.transfer_id, "offset": self._acked})

    def _congestion(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._congested = True

    def _relief(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._congested = False

    def _accepted(self, fx: list[Effect], now: float, chunk: int = 0, **kw: Any) -> None:
        self._chunk = max(1, min(chunk or self.chunk_size, self.chunk_size))
        self._disarm(fx, "offer", "resume")
        self._emit(fx, "accepted", {"uuid": self.transfer_id, "chunkSize": self._chunk})

    def _rejected(
        self,
        fx: list[Effect],
        now: float,
        code: RejectCode = RejectCode.DECLINED,
        reason: str = "",
        **kw: Any,
    ) -> None:
        self._end(fx)
        payload = {"uuid": self.transfer_id, "code": code.label, "reason": reason}
        self._emit(fx, "declined", payload)

    def _take(
        self, fx: list[Effect], now: float, data: bytes | memoryview = b"", **kw: Any
    ) -> None:
        self._request = None
        if not data:
            return
        self._pieces.append(_Piece(self._fed, data))
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
            pieces[0] = _Piece(offset, first.data[offset - first.offset :])

    def _ack(self, fx: list[Effect], now: float, offset: int = 0, **kw: Any) -> None:
        offset = min(offset, self._fed)
        if offset <= self._acked:
            return
        self._drop_acked(offset)
        self._acked = offset
        self._ack_since = now
        self._emit(fx, "transferProgress", self._info(now, offset, self._acked_chunks))

    def _rewind(self, fx: list[Effect], now: float, offset: int = 0, **kw: Any) -> None:
        offset = min(max(offset, self._acked), self._fed)
        advanced = offset > self._acked
        self._drop_acked(offset)
        self._acked = self._next = offset
        self._done_sent = False
        self._done_tries = 0
        self._disarm(fx, "offer", "resume")
        self._emit(fx, "resumed", {"uuid": self.transfer_id, "offset": offset})
        if advanced:
            self._emit(fx, "transferProgress", self._info(now, offset, self._acked_chunks))

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
        self._emit(fx, "transferComplete", self._info(now, self.size, chunks))

    def _end(
        self, fx: list[Effect], code: CancelCode = CancelCode.CANCELLED, reason: str = ""
    ) -> None:
        self._disarm_all(fx)
        self._pieces.clear()
        self._request = None
        self._end_code = code
        self._end_reason = reason


# --- receiver ---------------------------------------------------------------------------------


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
class FileReceiver(_Endpoint):
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
    _hash: _Digest = attrs.field(factory=_Digest, init=False)
    _digest: bytes | None = attrs.field(default=None, init=False)  # verified
    _accepted_at: float = attrs.field(default=0.0, init=False)
    _last_rx: float = attrs.field(default=0.0, init=False)
    _reject: tuple[RejectCode, str] = attrs.field(default=(RejectCode.DECLINED, ""), init=False)
    _end_code: CancelCode = attrs.field(default=CancelCode.CANCELLED, init=False)
    _end_reason: str = attrs.field(default="", init=False)

    def __attrs_post_init__(self) -> None:
        _check_id(self.transfer_id)
        if self.max_size < 0 or not 1 <= self.max_chunk_size <= _U32_MAX:
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
        _check_text("reason", reason)
        return self._command("decline", now, reason=reason)

    def cancel(self, now: float, reason: str = "cancelled") -> list[Effect]:
        """Cancel an accepted transfer (discard what was received)."""
        spec = spec_of(self)
        if not spec.allowed(self.state, "cancel"):
            raise spec.invalid(self, "cancel")
        _check_text("reason", reason)
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
            return [Drop("undecodable", exc.reason)]
        return self.receive_frame(frame, now)

    def receive_frame(self, frame: Frame, now: float) -> list[Effect]:
        if frame.transfer_id != self.transfer_id:
            return [Drop("other-transfer", f"{frame.transfer_id!r} is not {self.transfer_id!r}")]
        if frame.to_sender:
            return [Drop("wrong-direction", f"{type(frame).__name__} is for a sender")]
        state = self.state
        if state is _R.RECEIVING and type(frame) is Chunk:  # the hot path
            return self._on_chunk(frame, now)
        if state in _RECEIVER_FINAL:
            return self._linger(frame)
        if state is _R.NEW:
            if isinstance(frame, Offer):
                return self._report("offered", now, frame=frame)
            return [Drop("no-offer", type(frame).__name__)]
        if isinstance(frame, Cancel):
            trigger = "remote_cancel" if frame.code is CancelCode.CANCELLED else "remote_failure"
            return self._report(trigger, now, reason=frame.reason)
        if state is _R.INTERRUPTED:
            return [Drop("interrupted", f"{type(frame).__name__} while the channel is down")]
        if isinstance(frame, Offer):
            if frame != self.offer:
                return self._violation(now, "a different OFFER for this transfer")
            if state is _R.OFFERED:
                return [Drop("duplicate-offer", "the application has not decided yet")]
            return [SendData(self.channel_id, encode_frame(self._resume_frame()))]
        if state is _R.OFFERED:
            return self._violation(now, f"{type(frame).__name__} before acceptance")
        if isinstance(frame, Done):
            return self._report("done", now, size=frame.size, digest=frame.digest)
        return [Drop("unexpected-frame", type(frame).__name__)]  # pragma: no cover

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
        return [Drop("unexpected-report", "a receiver does not pace its sends")]

    def buffered_low(self, now: float) -> list[Effect]:
        return [Drop("unexpected-report", "a receiver does not pace its sends")]

    def timer_fired(self, timer_id: str, now: float) -> list[Effect]:
        name = self._timer_name(timer_id)
        if name is None:
            return [Drop("stale-timer", timer_id)]
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
            return [Drop("unexpected-report", f"{trigger} in state {self.state.name}")]
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
            return [Drop("finished", f"CANCEL in {state.name}")]
        if state is _R.COMPLETED and isinstance(frame, Done):
            size = self.offer.size if self.offer is not None else 0
            if frame.size != size or frame.digest != self._digest:
                return [Drop("finished", "a DONE that does not match the verified file")]
        if state is _R.DECLINED and not isinstance(frame, Offer):
            return [Drop("finished", f"{type(frame).__name__} in DECLINED")]
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
        return _transfer_info(self.transfer_id, self._size(), self._held, self._chunks, duration)

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
        self._emit(fx, "error", _error_payload(self.transfer_id, code, self._reject[1], kind))

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


# --- several transfers on one channel ---------------------------------------------------------

Transfer = FileSender | FileReceiver


@attrs.define(slots=True, eq=False)
class TransferMux:
    """Every transfer on one data channel, both directions; routes frames by transfer id.

    ``send_file`` starts an outgoing transfer; an OFFER for an unknown id makes an incoming one
    (``fileTransferInvitation`` on :attr:`target`, payload the :class:`FileReceiver`, unless it
    was refused as too large or busy). Frames for unknown ids: ``error MESSAGE_FOR_UNKNOWN_ID``
    and a CANCEL answer (none for CANCEL, COMPLETE, REJECT). Channel reports go to every
    transfer, buffered-amount reports to the senders. Finished transfers are kept (the last
    ``linger``) so that they can repeat their final word to a peer that missed it.
    """

    channel_id: str
    settings: TransferSettings = attrs.field(factory=TransferSettings)
    target: str = ""
    scope: str = ""  # prefix of the transfers' targets (e.g. the peer's id and a slash)
    max_size: int = DEFAULT_MAX_SIZE
    max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE
    max_incoming: int = 16
    linger: int = 64
    channel_up: bool = True
    _senders: dict[str, FileSender] = attrs.field(factory=dict, init=False)
    _receivers: dict[str, FileReceiver] = attrs.field(factory=dict, init=False)
    _by_target: dict[str, Transfer] = attrs.field(factory=dict, init=False)
    _ended: deque[Transfer] = attrs.field(factory=deque, init=False)
    _ended_ids: set[int] = attrs.field(factory=set, init=False)

    def __attrs_post_init__(self) -> None:
        if not self.target:
            self.target = target("dataChannel", self.channel_id)

    # --- public -------------------------------------------------------------------------------

    def sender(self, transfer_id: str) -> FileSender | None:
        return self._senders.get(transfer_id)

    def receiver(self, transfer_id: str) -> FileReceiver | None:
        return self._receivers.get(transfer_id)

    def transfers(self) -> list[Transfer]:
        return [*self._senders.values(), *self._receivers.values()]

    def send_file(
        self,
        now: float,
        transfer_id: str,
        size: int,
        name: str = "",
        mime: str = "",
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        window: int = DEFAULT_WINDOW,
    ) -> tuple[FileSender, list[Effect]]:
        """Start sending a file; raises ERROR_BAD_PARAMETER for an id already in use."""
        if transfer_id in self._senders:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"transfer {transfer_id!r} exists")
        sender = FileSender(
            transfer_id, self.channel_id, size, name, mime, chunk_size, window, self.settings,
            target("outgoingTransfer", self.scope + transfer_id), channel_up=self.channel_up,
        )  # fmt: skip
        fx = sender.start(now)
        self._senders[transfer_id] = sender
        self._by_target[sender.target] = sender
        return sender, fx

    def on_frame(self, data: bytes | bytearray | memoryview | str, now: float) -> list[Effect]:
        """A message from the channel (never raises)."""
        try:
            frame = decode_frame(data)
        except FrameError as exc:
            owner = self._owner(exc.transfer_id, exc.to_sender)
            if owner is not None:
                return self._after(owner, owner.on_frame(data, now))
            return [self._mux_error(TransferErrorCode.MESSAGE_DECODE_ERROR, exc.reason, None)]
        tid = frame.transfer_id
        if frame.to_sender:
            owner = self._senders.get(tid)
        else:
            owner = self._receivers.get(tid)
            if owner is None and isinstance(frame, Offer):
                return self._incoming(frame, now)
        if owner is None:
            return self._unknown(frame)
        return self._after(owner, owner.receive_frame(frame, now))

    def channel_opened(self, now: float, channel_id: str | None = None) -> list[Effect]:
        self.channel_up = True
        if channel_id:
            self.channel_id = channel_id
        fx: list[Effect] = []
        for t in self.transfers():
            fx += self._after(t, t.channel_opened(now, self.channel_id))
        return fx

    def channel_closed(self, now: float) -> list[Effect]:
        self.channel_up = False
        fx: list[Effect] = []
        for t in self.transfers():
            fx += self._after(t, t.channel_closed(now))
        return fx

    def buffered_high(self, now: float) -> list[Effect]:
        fx: list[Effect] = []
        for s in list(self._senders.values()):
            if not s.finished:
                fx += self._after(s, s.buffered_high(now))
        return fx

    def buffered_low(self, now: float) -> list[Effect]:
        fx: list[Effect] = []
        for s in list(self._senders.values()):
            if not s.finished:
                fx += self._after(s, s.buffered_low(now))
        return fx

    def timer_fired(self, timer_id: str, now: float) -> list[Effect]:
        owner = self._by_target.get(timer_id.rpartition(":")[0])
        if owner is None:
            return [Drop("stale-timer", timer_id)]
        return self._after(owner, owner.timer_fired(timer_id, now))

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        """A media-stack report about this channel (or, while it is down, a new one opening)."""
        if isinstance(event, DataChannelOpened) and not self.channel_up:
            return self.channel_opened(now, event.channel_id)
        if getattr(event, "channel_id", None) != self.channel_id:
            return [Drop("other-channel", repr(event))]
        if isinstance(event, DataChannelMessage):
            return self.on_frame(event.data, now)
        if isinstance(event, DataChannelClosed):
            return self.channel_closed(now) if self.channel_up else []
        if isinstance(event, BufferedAmountHigh):
            return self.buffered_high(now)
        if isinstance(event, BufferedAmountLow):
            return self.buffered_low(now)
        return [Drop("unexpected-report", repr(event))]

    # --- internals ----------------------------------------------------------------------------

    def _owner(self, transfer_id: str | None, to_sender: bool | None) -> Transfer | None:
        if transfer_id is None or to_sender is None:
            return None
        table: dict[str, Any] = self._senders if to_sender else self._receivers
        owner: Transfer | None = table.get(transfer_id)
        return owner

    def _mux_error(self, code: TransferErrorCode, detail: str, uuid: str | None) -> Emit:
        payload = {"uuid": uuid, "errorCode": code.value, "errorInfo": code.info, "detail": detail}
        return Emit(self.target, "error", payload)

    def _unknown(self, frame: Frame) -> list[Effect]:
        if isinstance(frame, Cancel | Complete | Reject):
            return [Drop("unknown-transfer", f"{type(frame).__name__} {frame.transfer_id!r}")]
        code = TransferErrorCode.MESSAGE_FOR_UNKNOWN_ID
        reply = Cancel(frame.transfer_id, not frame.to_sender, CancelCode.FAILED, code.value)
        detail = f"{type(frame).__name__} for unknown transfer {frame.transfer_id!r}"
        return [
            self._mux_error(code, detail, frame.transfer_id),
            SendData(self.channel_id, encode_frame(reply)),
        ]

    def _incoming(self, offer: Offer, now: float) -> list[Effect]:
        live = sum(1 for r in self._receivers.values() if not r.finished)
        if live >= self.max_incoming:
            reply = Reject(offer.transfer_id, RejectCode.BUSY, f"{live} transfers in progress")
            return [
                SendData(self.channel_id, encode_frame(reply)),
                Drop("busy", f"offer {offer.transfer_id!r} refused"),
            ]
        receiver = FileReceiver(
            offer.transfer_id, self.channel_id, self.max_size, self.max_chunk_size, self.settings,
            target("incomingTransfer", self.scope + offer.transfer_id),
            channel_up=self.channel_up,
        )  # fmt: skip
        self._receivers[offer.transfer_id] = receiver
        self._by_target[receiver.target] = receiver
        fx = receiver.receive_frame(offer, now)
        if receiver.state is _R.OFFERED:
            fx.append(Emit(self.target, "fileTransferInvitation", receiver))
        return self._after(receiver, fx)

    def _after(self, transfer: Transfer, fx: list[Effect]) -> list[Effect]:
        """Note a transfer that just finished; forget the oldest finished beyond ``linger``."""
        if transfer.finished and id(transfer) not in self._ended_ids:
            self._ended_ids.add(id(transfer))
            self._ended.append(transfer)
            while len(self._ended) > self.linger:
                self._forget(self._ended.popleft())
        return fx

    def _forget(self, transfer: Transfer) -> None:
        self._ended_ids.discard(id(transfer))
        self._by_target.pop(transfer.target, None)
        table: dict[str, Any] = (
            self._senders if isinstance(transfer, FileSender) else self._receivers
        )
        if table.get(transfer.transfer_id) is transfer:
            del table[transfer.transfer_id]

    def __iter__(self) -> Iterator[Transfer]:
        return iter(self.transfers())
