"""TransferMux: every file transfer on one data channel, both directions.

Theory of operation
-------------------
A mux decodes each channel message once and routes the frame by transfer id and direction to
its :class:`~rtcstate.transfer.sender.FileSender` or
:class:`~rtcstate.transfer.receiver.FileReceiver`; an OFFER for an unknown id builds a receiver
(``fileTransferInvitation``) unless ``max_incoming`` live ones exist (REJECT "busy"). Frames for
unknown ids get ``error MESSAGE_FOR_UNKNOWN_ID`` and a CANCEL answer. Channel reports go to every
transfer, buffered-amount reports to the live senders, timer expiries to the transfer whose
target prefixes the timer id. Finished transfers are kept (the last ``linger``) so that they
can repeat their final word. It never raises on a report: what it cannot route is a
:class:`MuxDrop` or an ``error`` on its target.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import attrs

from rtcstate.codes import ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect, Emit, SendData, target
from rtcstate.errors import RtcError
from rtcstate.media import (
    BufferedAmountHigh,
    BufferedAmountLow,
    DataChannelClosed,
    DataChannelMessage,
    DataChannelOpened,
    MediaEvent,
)
from rtcstate.transfer.codec import (
    Cancel,
    CancelCode,
    Complete,
    Frame,
    FrameError,
    Offer,
    Reject,
    RejectCode,
    decode_frame,
    encode_frame,
)
from rtcstate.transfer.common import TransferErrorCode
from rtcstate.transfer.receiver import FileReceiver, FileReceiverState
from rtcstate.transfer.sender import FileSender
from rtcstate.transfer.settings import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_CHUNK_SIZE,
    DEFAULT_MAX_SIZE,
    DEFAULT_WINDOW,
    TransferSettings,
)

__all__ = ["MuxDrop", "Transfer", "TransferMux"]

_R = FileReceiverState


class MuxDrop(DropReason):
    """Why a :class:`TransferMux` ignored an input on purpose."""

    STALE_TIMER = "stale-timer"
    """A timer of no transfer it still holds (finished and forgotten, or never its own)."""
    OTHER_CHANNEL = "other-channel"
    """A media report about another data channel."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A media report a mux has no input for."""
    UNKNOWN_TRANSFER = "unknown-transfer"
    """A CANCEL, COMPLETE or REJECT for an unknown id: a final word, never answered."""
    BUSY = "busy"
    """An OFFER beyond ``max_incoming`` live incoming transfers (answered with REJECT busy)."""


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
            return [Drop(MuxDrop.STALE_TIMER, timer_id)]
        return self._after(owner, owner.timer_fired(timer_id, now))

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        """A media-stack report about this channel (or, while it is down, a new one opening)."""
        if isinstance(event, DataChannelOpened) and not self.channel_up:
            return self.channel_opened(now, event.channel_id)
        if getattr(event, "channel_id", None) != self.channel_id:
            return [Drop(MuxDrop.OTHER_CHANNEL, repr(event))]
        if isinstance(event, DataChannelMessage):
            return self.on_frame(event.data, now)
        if isinstance(event, DataChannelClosed):
            return self.channel_closed(now) if self.channel_up else []
        if isinstance(event, BufferedAmountHigh):
            return self.buffered_high(now)
        if isinstance(event, BufferedAmountLow):
            return self.buffered_low(now)
        return [Drop(MuxDrop.UNEXPECTED_REPORT, repr(event))]

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
            return [Drop(MuxDrop.UNKNOWN_TRANSFER, f"{type(frame).__name__} {frame.transfer_id!r}")]
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
                Drop(MuxDrop.BUSY, f"offer {offer.transfer_id!r} refused"),
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
