"""The transfer frame codec: the ``0xF7`` binary frames both transfer machines exchange.

Pure functions and frozen values, no state: :func:`encode_frame` builds the bytes of a
:class:`Frame`, :func:`decode_frame` parses them (raising only :class:`FrameError`), and
:func:`is_transfer_frame` tells a transfer frame from anything else on a data channel. The
machines (:mod:`rtcstate.transfer.sender`, :mod:`~rtcstate.transfer.receiver`) and the mux
(:mod:`rtcstate.transfer.mux`) turn a :class:`FrameError` into effects; nothing here knows them.

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
import struct
from collections.abc import Callable
from typing import ClassVar, Final

import attrs

__all__ = [
    "DIGEST_SIZE",
    "MAGIC",
    "MAX_ID_BYTES",
    "MAX_TEXT_BYTES",
    "VERSION",
    "Accept",
    "Ack",
    "Cancel",
    "CancelCode",
    "Chunk",
    "Complete",
    "Done",
    "Frame",
    "FrameError",
    "FrameType",
    "Offer",
    "Reject",
    "RejectCode",
    "Resume",
    "decode_frame",
    "encode_frame",
    "is_transfer_frame",
]

MAGIC: Final = 0xF7
VERSION: Final = 1
MAX_ID_BYTES: Final = 255
MAX_TEXT_BYTES: Final = 4096
DIGEST_SIZE: Final = 32
U32_MAX: Final = 2**32 - 1
SIZE_MAX: Final = 2**63 - 1
_TO_SENDER: Final = 0x10


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


def id_bytes(transfer_id: str) -> bytes:
    raw = transfer_id.encode("utf-8")
    if not 0 < len(raw) <= MAX_ID_BYTES:
        raise ValueError(f"transfer id must be 1..{MAX_ID_BYTES} UTF-8 bytes")
    return raw


def header(kind: int, transfer_id: str) -> bytes:
    raw = id_bytes(transfer_id)
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
        return header(frame.kind, frame.transfer_id) + frame.body()
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
    if size > SIZE_MAX or chunk < 1 or window < 1:
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
