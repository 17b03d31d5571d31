"""What the sender and the receiver share: their effects, error codes and endpoint mixins.

:class:`NeedData` and :class:`ReceivedData` are the two effects only file transfers produce;
:class:`TransferErrorCode` is the ``errorCode`` of a transfer's ``error`` event. The private
mixins (:class:`Timers`, :class:`Endpoint`) hold what both machines do alike: named timers under
the machine's target, frames out, events, cancelling and failing; each machine module declares
its own table and inputs (see :mod:`rtcstate.transfer.sender` and
:mod:`rtcstate.transfer.receiver`).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from rtcstate.codes import DataChannelErrorType, ErrorNumber, HangupFrom
from rtcstate.effects import CancelTimer, Effect, Emit, SendData, StartTimer
from rtcstate.errors import RtcError
from rtcstate.transfer.codec import (
    MAX_TEXT_BYTES,
    Cancel,
    CancelCode,
    Frame,
    encode_frame,
    id_bytes,
)
from rtcstate.transfer.notices import (
    TransferCancelled,
    TransferErrorCode,
    TransferFailed,
    TransferNotice,
    TransferOwner,
    error_payload,
    transfer_info,
)
from rtcstate.transfer.settings import TransferSettings

__all__ = [
    "Digest",
    "Endpoint",
    "NeedData",
    "Piece",
    "ReceivedData",
    "Timers",
    "TransferErrorCode",
    "check_id",
    "check_text",
    "error_payload",
    "transfer_info",
]


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


class Digest:
    """A running sha256 that compares by value and deep copies (for state snapshots)."""

    __slots__ = ("h",)

    def __init__(self, h: Any = None) -> None:
        self.h: Any = h if h is not None else hashlib.sha256()

    def digest(self) -> bytes:
        result: bytes = self.h.digest()
        return result

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Digest) and self.digest() == other.digest()

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> Digest:
        return Digest(self.h.copy())

    def __repr__(self) -> str:
        return f"<sha256 {self.h.hexdigest()[:12]}>"


class Piece:
    """Fed bytes ``[offset, end)`` kept until acknowledged (immutable; compares by value)."""

    __slots__ = ("data", "offset")

    def __init__(self, offset: int, data: bytes | memoryview) -> None:
        self.offset = offset
        self.data = data

    @property
    def end(self) -> int:
        return self.offset + len(self.data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Piece) and self.offset == other.offset and self.data == other.data

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> Piece:
        return self

    def __repr__(self) -> str:
        return f"<piece {self.offset}+{len(self.data)}>"


def check_id(transfer_id: str) -> None:
    try:
        id_bytes(transfer_id)
    except ValueError as exc:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, str(exc)) from None


def check_text(what: str, value: str) -> None:
    if len(value.encode("utf-8")) > MAX_TEXT_BYTES:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"{what} longer than {MAX_TEXT_BYTES} B")


class Timers:
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


class Endpoint(Timers):
    """Mixin: what the sender and the receiver of a transfer do alike (frames out, events,
    cancelling and failing); ``_BY_RECEIVER`` and ``_ERROR_KIND`` tell the two apart."""

    __slots__ = ()
    _BY_RECEIVER: ClassVar[bool]
    _ERROR_KIND: ClassVar[DataChannelErrorType]
    transfer_id: str
    channel_id: str
    settings: TransferSettings
    _channel_up: bool
    owner: TransferOwner | None

    state: Any

    if TYPE_CHECKING:  # each machine has its own

        def _end(
            self, fx: list[Effect], code: CancelCode = CancelCode.CANCELLED, reason: str = ""
        ) -> None: ...

    def _is_up(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        return self._channel_up

    def _send(self, fx: list[Effect], frame: Frame) -> None:
        if self._channel_up:
            fx.append(SendData(self.channel_id, encode_frame(frame)))

    def _tell(self, fx: list[Effect], now: float, notice: TransferNotice) -> None:
        """Tell the owner ``notice``; without one, fire its event for the application (the
        ``Emit`` is built only here, at the boundary)."""
        owner = self.owner
        if owner is not None:
            owner.transfer_notice(fx, notice, now)
        else:
            fx.append(Emit(self.target, *notice.event(self.transfer_id, self._BY_RECEIVER)))

    def _await_channel(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._arm(fx, "resume", now + self.settings.resume_timeout)

    def _cancel_local(
        self, fx: list[Effect], now: float, reason: str = "cancelled", **kw: Any
    ) -> None:
        self._end(fx, CancelCode.CANCELLED, reason)
        self._send(fx, Cancel(self.transfer_id, self._BY_RECEIVER, CancelCode.CANCELLED, reason))
        self._tell(fx, now, TransferCancelled(HangupFrom.LOCAL, reason))

    def _cancelled_by_peer(
        self, fx: list[Effect], now: float, reason: str = "", frame: Frame | None = None, **kw: Any
    ) -> None:
        if isinstance(frame, Cancel):
            reason = frame.reason
        self._end(fx, CancelCode.CANCELLED, reason)
        self._tell(fx, now, TransferCancelled(HangupFrom.REMOTE, reason))

    def _error(self, fx: list[Effect], now: float, code: TransferErrorCode, detail: str) -> None:
        self._tell(fx, now, TransferFailed(code, detail))

    def _failed_by_peer(
        self, fx: list[Effect], now: float, reason: str = "", frame: Frame | None = None, **kw: Any
    ) -> None:
        if isinstance(frame, Cancel):
            reason = frame.reason
        self._end(fx, CancelCode.FAILED, reason)
        self._error(fx, now, TransferErrorCode.TRANSFER_REMOTE_ERROR, reason)

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
        self._error(fx, now, code, detail)

    def _timed_out(self, fx: list[Effect], now: float, timer: str = "", **kw: Any) -> None:
        detail = f"timer {timer} ran out in {self.state.name}" if timer else "timed out"
        self._fail(fx, now, TransferErrorCode.TRANSFER_TIMED_OUT, detail)
