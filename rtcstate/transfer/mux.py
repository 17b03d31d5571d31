"""TransferMux: every file transfer on one data channel, both directions.

Theory of operation
-------------------
A mux decodes each channel message once and routes the frame by transfer id and direction to
its :class:`~rtcstate.transfer.sender.FileSender` or
:class:`~rtcstate.transfer.receiver.FileReceiver`; an OFFER for an unknown id builds a receiver
(``fileTransferInvitation``) unless ``max_incoming`` live ones exist (REJECT "busy"). Frames for
unknown ids get ``error MESSAGE_FOR_UNKNOWN_ID`` and a CANCEL answer. Channel reports go to every
transfer, buffered-amount reports to the live senders, timer expiries to the transfer that owns
the timer: when a transfer joins the mux, each of its typed timers (``SenderTimer``,
``ReceiverTimer``) is filed under the id it arms (``<target>:<name>``), so an expiry is one dict
lookup and no id is taken apart. Finished transfers are kept (the last ``linger``) so that they
can repeat their final word. It never raises on a report: what it cannot route is a
:class:`MuxDrop` or an ``error`` on its target.

Inputs are data (:data:`MUX_INPUTS`): frames by where they go (a held transfer, an OFFER, an
unknown id, classified by frame kind), undecodable bytes, the channel's messages and reports
(a report about another channel is its own input: :class:`NewChannel` while the mux is down,
else :class:`OtherChannel`, dropped by declaration) and its transfers' timer ids
(:class:`TransferTimer`), and each transfer it handed an input to (:class:`TransferSettled`).
Whether undecodable bytes name a held transfer, whether a timer id is still held, whether an
OFFER finds the mux busy and whether a transfer just finished are guards of its rows.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterator
from typing import Any

import attrs

from rtcstate.codes import ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect, Emit, SendData, target
from rtcstate.errors import RtcError
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, machine, spec_of, stay
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
    Frame,
    FrameError,
    FrameType,
    Offer,
    Reject,
    RejectCode,
    decode_frame,
    encode_frame,
)
from rtcstate.transfer.common import TransferErrorCode
from rtcstate.transfer.inputs import flatten
from rtcstate.transfer.receiver import FileReceiver, FileReceiverState, ReceiverTimer
from rtcstate.transfer.sender import FileSender, SenderTimer
from rtcstate.transfer.settings import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_CHUNK_SIZE,
    DEFAULT_MAX_SIZE,
    DEFAULT_WINDOW,
    TransferSettings,
)

__all__ = [
    "MUX_INPUTS",
    "MUX_TRANSITIONS",
    "MUX_VERDICTS",
    "ForTransfer",
    "MuxDrop",
    "MuxState",
    "Transfer",
    "TransferMux",
    "UnknownId",
]

_R = FileReceiverState
_FINAL_WORDS = frozenset(
    {FrameType.CANCEL, FrameType.CANCEL_TO_SENDER, FrameType.COMPLETE, FrameType.REJECT}
)


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
    CHANNEL_DOWN = "channel-down"
    """The channel closed again while it was already down."""


Transfer = FileSender | FileReceiver


class MuxState(enum.Enum):
    UP = "UP"  # the channel is open
    DOWN = "DOWN"  # the channel closed; the transfers wait for a new one (their resume timers)


class ForTransfer:
    """Input key: a frame (or bytes that do not decode) for a transfer this mux holds."""


class UnknownId:
    """Input key: a decoded frame for a transfer id this mux does not hold (an OFFER aside)."""


class NewChannel:
    """Input key: a report that another data channel opened (the mux's next one, while down)."""


class OtherChannel:
    """Input key: any other media report about another data channel (or about none)."""


class TransferTimer:
    """Input key: the expiry of a timer id (``<transfer target>:<name>``)."""


class TransferSettled:
    """Input key: a transfer the mux just handed an input to (it may have finished)."""


_ELSEWHERE: dict[type, type] = {DataChannelOpened: NewChannel}
"""The input key of a report about another channel, by the report's class (else
:class:`OtherChannel`)."""

_UNHELD: dict[type, type] = {Offer: Offer}
"""The input key of a frame for a transfer id the mux does not hold, by the frame's class
(else :class:`UnknownId`): an OFFER makes a new transfer."""


_BOTH = ["UP", "DOWN"]

MUX_TRANSITIONS: list[dict[str, Any]] = [
    # frames: routed by transfer id and direction
    *stay("to_transfer", _BOTH, after="_to_owner"),
    *stay("new_offer", _BOTH, conditions="_busy", after="_refuse_busy"),
    *stay("new_offer", _BOTH, after="_admit"),
    *stay("unknown_id", _BOTH, after="_answer_unknown"),
    # bytes that do not decode: for the transfer they name, if it is held
    *stay("garbled", _BOTH, conditions="_names_a_held_transfer", after="_garbled_to_owner"),
    *stay("garbled", _BOTH, after="_undecodable"),
    *stay("channel_message", _BOTH, after="_decode"),
    # the channel's life
    {"trigger": "channel_closed", "source": "UP", "dest": "DOWN", "after": "_all_closed"},
    {"trigger": "channel_opened", "source": "DOWN", "dest": "UP", "conditions": "_names_channel",
     "after": ["_adopt_channel", "_all_opened"]},
    {"trigger": "channel_opened", "source": "DOWN", "dest": "UP", "after": "_all_opened"},
    {"trigger": "new_channel", "source": "DOWN", "dest": "UP",
     "after": ["_adopt_channel", "_all_opened"]},
    *stay("buffered_high", _BOTH, after="_pace_high"),
    *stay("buffered_low", _BOTH, after="_pace_low"),
    # a transfer that took an input: kept ``linger`` more once it finished
    *stay("transfer_settled", _BOTH, conditions="_newly_finished", after="_retire"),
    *stay("transfer_settled", _BOTH),  # still running, or retired already
    # timers: one lookup finds the transfer that owns the timer id
    *stay("transfer_timer", _BOTH, conditions="_timer_held", after="_to_timer_owner"),
    *stay("transfer_timer", _BOTH, after="_stale_timer"),
]  # fmt: skip
"""The mux's table: routing is data-driven (transfer ids), what each kind of input does is here."""

MUX_INPUTS = Inputs(
    unexpected=MuxDrop.UNEXPECTED_REPORT,
    wire={
        ForTransfer: "to_transfer",
        Offer: "new_offer",  # an OFFER for an unknown id
        # a frame for an unknown id: answered with CANCEL, unless it is a final word itself
        UnknownId: Classify(
            "kind",
            {k: "unknown_id" for k in FrameType if k not in _FINAL_WORDS},
            otherwise=Ignore(MuxDrop.UNKNOWN_TRANSFER),
        ),
        FrameError: "garbled",  # bytes that do not decode
    },
    media={
        DataChannelMessage: "channel_message",
        DataChannelOpened: "channel_opened",
        DataChannelClosed: "channel_closed",
        BufferedAmountHigh: "buffered_high",
        BufferedAmountLow: "buffered_low",
        NewChannel: "new_channel",
        # a report about another channel: never this mux's
        OtherChannel: Classify("__class__", {}, otherwise=Ignore(MuxDrop.OTHER_CHANNEL)),
    },
    timers={},
    notices={  # what its transfers tell it: their timers' expiries, that they took an input
        TransferTimer: "transfer_timer",
        TransferSettled: "transfer_settled",
    },
)
"""How each input of a :class:`TransferMux` becomes a trigger."""

MUX_VERDICTS = flatten({
    ("channel_opened"): {"UP": ILLEGAL},  # the channel it has is open already
    ("new_channel"): {"UP": Ignore(MuxDrop.OTHER_CHANNEL)},  # it has one, open
    ("channel_closed"): {"DOWN": Ignore(MuxDrop.CHANNEL_DOWN)},
})  # fmt: skip
"""The verdict of every (state, trigger) pair the mux's table has no row for."""


@machine(
    MuxState,
    MUX_TRANSITIONS,
    initial=MuxState.UP,
    inputs=MUX_INPUTS,
    verdicts=MUX_VERDICTS,
)
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
    #: timer id -> the transfer that arms it (every typed timer of every transfer held)
    _by_timer: dict[str, Transfer] = attrs.field(factory=dict, init=False)
    _ended: deque[Transfer] = attrs.field(factory=deque, init=False)
    _ended_ids: set[int] = attrs.field(factory=set, init=False)
    #: a frame's direction (``to_sender``) -> the transfers that take frames in it
    _directions: dict[bool | None, dict[str, Any]] = attrs.field(factory=dict, init=False)
    state: MuxState = attrs.field(default=MuxState.UP, init=False)

    def __attrs_post_init__(self) -> None:
        if not self.target:
            self.target = target("dataChannel", self.channel_id)
        self.state = MuxState.UP if self.channel_up else MuxState.DOWN
        self._directions = {True: self._senders, False: self._receivers}

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
        self._hold(sender)
        return sender, fx

    def on_frame(self, data: bytes | bytearray | memoryview | str, now: float) -> list[Effect]:
        """A message from the channel (never raises): routed by transfer id and direction."""
        try:
            frame = decode_frame(data)
        except FrameError as exc:
            return self._deliver(FrameError, exc, now, error=exc, data=data)
        owner = self._owner(frame.transfer_id, frame.to_sender)
        if owner is not None:
            return self._deliver(ForTransfer, None, now, owner=owner, frame=frame)
        return self._deliver(_UNHELD.get(type(frame), UnknownId), frame, now, frame=frame)

    def channel_opened(self, now: float, channel_id: str | None = None) -> list[Effect]:
        return self._deliver(DataChannelOpened, None, now, channel_id=channel_id)

    def channel_closed(self, now: float) -> list[Effect]:
        return self._deliver(DataChannelClosed, None, now)

    def buffered_high(self, now: float) -> list[Effect]:
        return self._deliver(BufferedAmountHigh, None, now)

    def buffered_low(self, now: float) -> list[Effect]:
        return self._deliver(BufferedAmountLow, None, now)

    def timer_fired(self, timer_id: str, now: float) -> list[Effect]:
        """A timer of one of its transfers: one lookup finds the transfer that owns it."""
        return self._deliver(TransferTimer, timer_id, now, timer_id=timer_id)

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        """A media-stack report about this channel (or, while it is down, a new one opening)."""
        key: type = type(event)
        if getattr(event, "channel_id", None) != self.channel_id:
            key = _ELSEWHERE.get(key, OtherChannel)
        return self._deliver(key, event, now, event=event)

    # --- dispatch -----------------------------------------------------------------------------

    def _deliver(self, key: object, value: object, now: float, **kw: Any) -> list[Effect]:
        fx: list[Effect] = []
        spec_of(self).deliver(self, key, value, fx, now, **kw)
        return fx

    # --- table callbacks ----------------------------------------------------------------------

    def _to_owner(
        self, fx: list[Effect], now: float, owner: Transfer | None = None,
        frame: Frame | None = None, **kw: Any,
    ) -> None:  # fmt: skip
        assert owner is not None and frame is not None  # on_frame routed it here
        fx += self._after(owner, owner.receive_frame(frame, now), now)

    def _names_a_held_transfer(
        self, fx: list[Effect], now: float, error: FrameError | None = None, **kw: Any
    ) -> bool:
        return error is not None and self._owner(error.transfer_id, error.to_sender) is not None

    def _garbled_to_owner(
        self, fx: list[Effect], now: float, error: FrameError | None = None,
        data: bytes | bytearray | memoryview | str = b"", **kw: Any,
    ) -> None:  # fmt: skip
        """The bytes name a transfer it holds: that transfer answers them (its own error)."""
        assert error is not None
        owner = self._owner(error.transfer_id, error.to_sender)
        assert owner is not None  # _names_a_held_transfer
        fx += self._after(owner, owner.on_frame(data, now), now)

    def _decode(self, fx: list[Effect], now: float, event: Any = None, **kw: Any) -> None:
        fx += self.on_frame(event.data, now)

    def _busy(self, fx: list[Effect], now: float, **kw: Any) -> bool:
        return sum(1 for r in self._receivers.values() if not r.finished) >= self.max_incoming

    def _refuse_busy(
        self, fx: list[Effect], now: float, frame: Offer | None = None, **kw: Any
    ) -> None:
        assert frame is not None  # on_frame routed it here
        live = sum(1 for r in self._receivers.values() if not r.finished)
        reply = Reject(frame.transfer_id, RejectCode.BUSY, f"{live} transfers in progress")
        fx.append(SendData(self.channel_id, encode_frame(reply)))
        fx.append(Drop(MuxDrop.BUSY, f"offer {frame.transfer_id!r} refused"))

    def _admit(self, fx: list[Effect], now: float, frame: Offer | None = None, **kw: Any) -> None:
        assert frame is not None  # on_frame routed it here
        fx += self._incoming(frame, now)

    def _answer_unknown(
        self, fx: list[Effect], now: float, frame: Frame | None = None, **kw: Any
    ) -> None:
        assert frame is not None  # on_frame routed it here
        code = TransferErrorCode.MESSAGE_FOR_UNKNOWN_ID
        reply = Cancel(frame.transfer_id, not frame.to_sender, CancelCode.FAILED, code.value)
        detail = f"{type(frame).__name__} for unknown transfer {frame.transfer_id!r}"
        fx.append(self._mux_error(code, detail, frame.transfer_id))
        fx.append(SendData(self.channel_id, encode_frame(reply)))

    def _undecodable(
        self, fx: list[Effect], now: float, error: FrameError | None = None, **kw: Any
    ) -> None:
        assert error is not None  # on_frame routed it here
        fx.append(self._mux_error(TransferErrorCode.MESSAGE_DECODE_ERROR, error.reason, None))

    def _all_closed(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self.channel_up = False
        for t in self.transfers():
            fx += self._after(t, t.channel_closed(now), now)

    def _names_channel(
        self, fx: list[Effect], now: float, channel_id: str | None = None, **kw: Any
    ) -> bool:
        return bool(channel_id)

    def _adopt_channel(
        self, fx: list[Effect], now: float, channel_id: str | None = None, event: Any = None,
        **kw: Any,
    ) -> None:  # fmt: skip
        """The channel that opened is the mux's from now on (its id, or the report's)."""
        self.channel_id = channel_id or event.channel_id

    def _all_opened(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self.channel_up = True
        for t in self.transfers():
            fx += self._after(t, t.channel_opened(now, self.channel_id), now)

    def _pace_high(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._pace(fx, now, "buffered_high")

    def _pace_low(self, fx: list[Effect], now: float, **kw: Any) -> None:
        self._pace(fx, now, "buffered_low")

    def _newly_finished(
        self, fx: list[Effect], now: float, transfer: Transfer | None = None, **kw: Any
    ) -> bool:
        return transfer is not None and transfer.finished and id(transfer) not in self._ended_ids

    def _retire(
        self, fx: list[Effect], now: float, transfer: Transfer | None = None, **kw: Any
    ) -> None:
        """Keep a finished transfer (it may repeat its last word); forget the oldest finished
        beyond ``linger``."""
        assert transfer is not None  # _newly_finished
        self._ended_ids.add(id(transfer))
        self._ended.append(transfer)
        while len(self._ended) > self.linger:
            self._forget(self._ended.popleft())

    def _pace(self, fx: list[Effect], now: float, report: str) -> None:
        """Tell every live sender the channel's buffered-amount ``report``."""
        for s in list(self._senders.values()):
            if not s.finished:
                fx += self._after(s, getattr(s, report)(now), now)

    def _timer_held(self, fx: list[Effect], now: float, timer_id: str = "", **kw: Any) -> bool:
        return timer_id in self._by_timer

    def _to_timer_owner(self, fx: list[Effect], now: float, timer_id: str = "", **kw: Any) -> None:
        owner = self._by_timer[timer_id]
        fx += self._after(owner, owner.timer_fired(timer_id, now), now)

    def _stale_timer(self, fx: list[Effect], now: float, timer_id: str = "", **kw: Any) -> None:
        fx.append(Drop(MuxDrop.STALE_TIMER, timer_id))

    # --- internals ----------------------------------------------------------------------------

    def _owner(self, transfer_id: str | None, to_sender: bool | None) -> Transfer | None:
        """The transfer a frame (or undecodable bytes) names: by id, in its direction."""
        owner: Transfer | None = self._directions.get(to_sender, {}).get(transfer_id or "")
        return owner

    def _mux_error(self, code: TransferErrorCode, detail: str, uuid: str | None) -> Emit:
        payload = {"uuid": uuid, "errorCode": code.value, "errorInfo": code.info, "detail": detail}
        return Emit(self.target, "error", payload)

    def _incoming(self, offer: Offer, now: float) -> list[Effect]:
        receiver = FileReceiver(
            offer.transfer_id, self.channel_id, self.max_size, self.max_chunk_size, self.settings,
            target("incomingTransfer", self.scope + offer.transfer_id),
            channel_up=self.channel_up,
        )  # fmt: skip
        self._receivers[offer.transfer_id] = receiver
        self._hold(receiver)
        fx = receiver.receive_frame(offer, now)
        if receiver.state is _R.OFFERED:
            fx.append(Emit(self.target, "fileTransferInvitation", receiver))
        return self._after(receiver, fx, now)

    def _after(self, transfer: Transfer, fx: list[Effect], now: float) -> list[Effect]:
        """``transfer`` took an input (``MUX_INPUTS.notices[TransferSettled]``): the table
        retires it if it just finished."""
        spec_of(self).deliver(self, TransferSettled, transfer, fx, now, transfer=transfer)
        return fx

    def _hold(self, transfer: Transfer) -> None:
        for timer_id in _timer_ids(transfer):
            self._by_timer[timer_id] = transfer

    def _forget(self, transfer: Transfer) -> None:
        self._ended_ids.discard(id(transfer))
        for timer_id in _timer_ids(transfer):
            if self._by_timer.get(timer_id) is transfer:
                del self._by_timer[timer_id]
        table = self._directions[isinstance(transfer, FileSender)]
        if table.get(transfer.transfer_id) is transfer:
            del table[transfer.transfer_id]

    def __iter__(self) -> Iterator[Transfer]:
        return iter(self.transfers())


def _timer_ids(transfer: Transfer) -> list[str]:
    """The ids of every typed timer ``transfer`` may arm (``<target>:<name>``)."""
    names: type[enum.Enum] = SenderTimer if isinstance(transfer, FileSender) else ReceiverTimer
    return [f"{transfer.target}:{t.value}" for t in names]
