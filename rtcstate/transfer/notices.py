"""Transfer notices: what a FileSender or FileReceiver tells its owner, as typed values.

Theory of operation
-------------------
A transfer machine serving another machine (a :class:`~rtcstate.filetransfer.FileTransfer`
owns its FileSender, a :class:`~rtcstate.filetransfer.ReceivedFileTransferInvitation` its
FileReceiver) does not fire its events at that owner to be matched back by name: it tells it
one of the frozen values below, with the real ``now`` of the input that caused it
(``owner.transfer_notice(fx, notice, now)``). The owner declares each notice class as an input
of its table (``Inputs.notices``), so the notice picks the trigger, and the owner builds the
``Emit`` the application sees. A machine without an owner (the plain transfer API: a
:class:`~rtcstate.transfer.TransferMux` passes effects through) fires its own events: the
``Emit`` is built there, at the boundary, by :meth:`TransferNotice.event`, the one place that
names the events and lays out their payloads (``transfer`` docs: "Events").

A machine's end is told exactly once, by one *final* notice (``FINAL`` is True):
:class:`TransferCompleted`, :class:`TransferDeclined` (the sender only),
:class:`TransferCancelled` or :class:`TransferFailed`; none for a receiver its application
declined.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar, Protocol

import attrs

from rtcstate.codes import DataChannelErrorType, ErrorCode, HangupFrom
from rtcstate.effects import Effect

__all__ = [
    "TransferAccepted",
    "TransferCancelled",
    "TransferCompleted",
    "TransferDeclined",
    "TransferErrorCode",
    "TransferFailed",
    "TransferInterrupted",
    "TransferNotice",
    "TransferOwner",
    "TransferProgress",
    "TransferResumed",
    "error_payload",
    "transfer_info",
]


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


def transfer_info(
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


def error_payload(
    uuid: str, code: TransferErrorCode, detail: str, kind: DataChannelErrorType
) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "errorCode": code.value,
        "errorInfo": code.info,
        "detail": detail,
        "type": kind.value,
    }


_KIND = {
    False: DataChannelErrorType.SEND_DATA_CHANNEL_ERROR,
    True: DataChannelErrorType.RECEIVE_DATA_CHANNEL_ERROR,
}


@attrs.frozen(slots=True)
class TransferAccepted:
    """The receiver accepted the offer with ``chunk_size`` (sender: ``accepted``)."""

    FINAL: ClassVar[bool] = False
    chunk_size: int

    def event(self, uuid: str, receiving: bool) -> tuple[str, dict[str, Any]]:
        return "accepted", {"uuid": uuid, "chunkSize": self.chunk_size}


@attrs.frozen(slots=True)
class _TransferFigures:
    """How far a transfer went: ``offset`` of ``size`` bytes, in ``chunks``, ``duration``
    seconds after start / accept."""

    size: int
    offset: int
    chunks: int
    duration: float

    def info(self, uuid: str) -> dict[str, Any]:
        """apiRTC's TransferInformation."""
        return transfer_info(uuid, self.size, self.offset, self.chunks, self.duration)


@attrs.frozen(slots=True)
class TransferProgress(_TransferFigures):
    """``offset`` of ``size`` bytes acknowledged (sender) or stored (receiver), in ``chunks``,
    ``duration`` seconds after start / accept (``transferProgress`` / ``progress``)."""

    FINAL: ClassVar[bool] = False

    def event(self, uuid: str, receiving: bool) -> tuple[str, dict[str, Any]]:
        return ("progress" if receiving else "transferProgress"), self.info(uuid)


@attrs.frozen(slots=True)
class TransferCompleted(_TransferFigures):
    """The file is verified (receiver) or confirmed (sender): ``transferComplete``."""

    FINAL: ClassVar[bool] = True

    def event(self, uuid: str, receiving: bool) -> tuple[str, dict[str, Any]]:
        return "transferComplete", self.info(uuid)


@attrs.frozen(slots=True)
class TransferInterrupted:
    """The channel closed; the machine holds ``offset`` (``interrupted``)."""

    FINAL: ClassVar[bool] = False
    offset: int

    def event(self, uuid: str, receiving: bool) -> tuple[str, dict[str, Any]]:
        return "interrupted", {"uuid": uuid, "offset": self.offset}


@attrs.frozen(slots=True)
class TransferResumed:
    """The transfer goes on from ``offset`` on a new channel (``resumed``)."""

    FINAL: ClassVar[bool] = False
    offset: int

    def event(self, uuid: str, receiving: bool) -> tuple[str, dict[str, Any]]:
        return "resumed", {"uuid": uuid, "offset": self.offset}


@attrs.frozen(slots=True)
class TransferDeclined:
    """The receiver refused the offer (sender: ``declined {code, reason}``; ``code`` is the
    REJECT code's label: ``declined``, ``too large``, ``busy``)."""

    FINAL: ClassVar[bool] = True
    code: str
    reason: str

    def event(self, uuid: str, receiving: bool) -> tuple[str, dict[str, Any]]:
        return "declined", {"uuid": uuid, "code": self.code, "reason": self.reason}


@attrs.frozen(slots=True)
class TransferCancelled:
    """Cancelled ``by`` this side (``LOCAL``) or its peer (``REMOTE``): ``cancelled``."""

    FINAL: ClassVar[bool] = True
    by: HangupFrom
    reason: str

    def event(self, uuid: str, receiving: bool) -> tuple[str, dict[str, Any]]:
        return "cancelled", {"uuid": uuid, "from": self.by.value, "reason": self.reason}


@attrs.frozen(slots=True)
class TransferFailed:
    """The transfer failed with ``code`` (``detail``): ``error``. Not final for a receiver
    that refused an offer as too large (it is ended by its REJECT already)."""

    FINAL: ClassVar[bool] = True
    code: TransferErrorCode
    detail: str

    def payload(self, uuid: str, receiving: bool) -> dict[str, Any]:
        """The ``error`` event's payload."""
        return error_payload(uuid, self.code, self.detail, _KIND[receiving])

    def event(self, uuid: str, receiving: bool) -> tuple[str, dict[str, Any]]:
        return "error", self.payload(uuid, receiving)


TransferNotice = (
    TransferAccepted
    | TransferProgress
    | TransferCompleted
    | TransferInterrupted
    | TransferResumed
    | TransferDeclined
    | TransferCancelled
    | TransferFailed
)


class TransferOwner(Protocol):
    """What owns a transfer machine (``FileSender.owner`` / ``FileReceiver.owner``): it is
    told the machine's notices in place of the application's events."""

    def transfer_notice(self, fx: list[Effect], notice: TransferNotice, now: float) -> None:
        """The owned machine said ``notice`` at ``now``: append the owner's own effects to
        ``fx`` (called from inside the machine's transition, where its event would be)."""
