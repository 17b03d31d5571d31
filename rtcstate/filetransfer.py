"""File transfer between contacts: apiRTC's ``Contact.sendFile`` and ReceivedFileTransferInvitation.

Theory of operation
-------------------
One file travels on its own data channel inside its own data call, as in apiRTC: the transfer
id, the data call id and the invitation id are one id. The pieces are machines that exist
already, composed:

* the data call (:class:`~rtcstate.call.Call`, type DATA) and the channel it carries
  (:class:`~rtcstate.datachannel.DataChannel`), whose *owner* here is the transfer
  (:class:`~rtcstate.datachannel.ChannelOwner`): the channel tells the transfer its life as
  typed notices (:mod:`rtcstate.notices`: accepted, opened, closed, ended or declined, with the
  real ``now``) and hands it every message received on it; the application hears neither;
* the transfer protocol (:class:`~rtcstate.transfer.FileSender` /
  :class:`~rtcstate.transfer.FileReceiver`, frames ``0xF7``): negotiated chunk size, flow
  control, sha256 verified before completion, resume when the channel comes back;
* the application's objects: the sender's :class:`~rtcstate.invitation.SentInvitation` (type
  ``sendFile``) and the receiver's :class:`ReceivedFileTransferInvitation`.

*Sender.* ``Session.send_file(contact, now, {name, type, size})`` (apiRTC's
``contact.sendFile(fileInfo, data)``) builds a :class:`FileTransfer`: it sends a ``file_offer``
(apiRTC's ``contact_file_info``; retransmitted until a ``data_channel_ack``) and starts the
data call. The data call established makes the SentInvitation ACCEPTED (``statusChange``,
``response``); the data call declined makes it DECLINED. When the channel opens the
FileSender starts: it offers the file in-band and asks the application for bytes with
:class:`~rtcstate.transfer.NeedData` (``transfer_id`` = this id); the application answers with
:meth:`FileTransfer.feed`. The contact fires ``fileTransferProgress {fileInfo,
transferInformation}`` at each acknowledged step and ``fileSentSuccessfully`` once the receiver
has verified the file; the sender then hangs the data call up and the SentInvitation becomes
ENDED (as in the SDK). Any failure (the receiver's transfer machine refusing the offer, an
integrity error on either side, a timeout, the receiver cancelling, the data call ending before
the file was confirmed) fires the contact's ``fileTransferError {error, invitationId}`` once,
``error`` carrying ``errorCode`` / ``errorInfo`` (``TRANSFER_*`` codes in
:class:`~rtcstate.codes.ErrorCode`), and hangs up. ``cancel`` (``SentInvitation.cancel()``, the
one invitation type the SDK lets cancel) sends CANCEL in-band if the transfer started, hangs
up, and makes the invitation CANCELLED; it is refused once the digest is out (the receiver may
hold a verified file).

*Receiver.* The ``file_offer`` and the data call's ``invite`` may arrive in either order; the
first waits in a :class:`~rtcstate.call_factory.DataCallHold`. With both, the session and the
contact fire ``fileTransferInvitation`` (a :class:`ReceivedFileTransferInvitation`, id = the
data call id, ``file_info`` = apiRTC's FileInfo ``{name, type}`` plus ``size``). ``accept(now)``
(ACCEPTED) answers the data call; when the sender's in-band offer arrives on the channel it is
checked against the ``file_offer`` (same size, name and type, else the transfer is declined
in-band with an ``error``) and accepted. Bytes reach the application as
:class:`~rtcstate.transfer.ReceivedData` effects (``transfer_id`` = the invitation id);
``progress`` (TransferInformation) fires as they are stored; once the size and sha256 are
verified the invitation fires ``transferComplete {fileInfo, sha256, transferInformation}``,
then becomes ENDED (``transferComplete`` is the sans-I/O form of apiRTC's ``accept()`` promise
resolving with ``{file, name, type}``: the adapter assembles ``file`` from the ReceivedData it
was given).
A transfer error fires ``error`` (the transfer's payload, ``type: "receiveDataChannelError"``).
``decline(now)`` refuses the data call (DECLINED). The data call ending before the file was
verified (the sender cancelled, hung up, or the call failed) makes it CANCELLED, as in the SDK.
``cancel(now)`` (an rtcstate extension: the SDK's receiver cannot cancel) cancels in-band and
makes it CANCELLED.

*Resume.* A channel that closes under a live data call interrupts the transfer (both machines
keep their place, ``interrupted`` on ``transfer:<id>``); the sender asks the adapter to open it
again at once (same channel id) and both sides wait up to ``resume_timeout`` for it. When it is
open again the transfer resumes from the receiver's offset (``resumed``; see
:mod:`rtcstate.transfer`). A server loss does not touch the channel (it is peer-to-peer).

*The table is the only decision point.* :class:`FileTransfer` is a machine of its own (SETUP
until the channel opens, SENDING while the FileSender runs, ENDED once the data call is over):
:data:`INPUTS` maps the channel's notices, data and buffered-amount reports, the FileSender's
timers and the FileSender's notices (typed values, :mod:`rtcstate.transfer.notices`, keyed by
class: progress, completed, failed, declined, cancelled; accepted, interrupted, resumed) to its
triggers, :data:`VERDICTS` declares the rest
ignored (a :class:`TransferDrop`). How the transfer ends when its data call does (the receiver
cancelled, the call cut it short, the far side refused it, or it simply ended) is four guarded
rows of ``channel_ended``, tried in order; which Contact event each FileSender event becomes,
and whether it hangs the data call up, is one row each; the FileSender fires no event (its owner,
this object, builds every ``Emit`` the application sees). The receiver's
:class:`ReceivedFileTransferInvitation` declares the copies of the ``file_offer``, the data call's
and the channel's notices, the channel's data, the FileReceiver's timers and its notices (by
class: progress, completed, which makes it ENDED, failed, cancelled by the sender;
:data:`RECEIVED_INPUTS`);
whether the transfer machine exists yet (built when the channel first opens) is a guard of
its rows, not a branch in a callback. Its status
(apiRTC's) may be decided before its data call ends, and until then it still serves its channel
(a finished FileReceiver says its last word again), so only DECLINED is final in its table and
the data call's final notice releases it whatever its status. ``receive``, ``timer_fired`` and
the notice hooks are one generic dispatch each.

Timers owned: the transfer machine's, named ``transfer:<id>:<name>`` (the session routes them
back here; each is a member of :class:`~rtcstate.transfer.sender.SenderTimer` or
:class:`~rtcstate.transfer.receiver.ReceiverTimer`); the data call and the channel own theirs.
Every one is cancelled when the transfer ends (the session detaches it).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from rtcstate import wire
from rtcstate.call import Call
from rtcstate.call_factory import FactoryHost, new_outgoing_call
from rtcstate.codes import (
    CallType,
    ErrorCode,
    ErrorNumber,
    HangupFrom,
    HangupReason,
    InvitationType,
    default_hangup_reason,
)
from rtcstate.datachannel import (
    DataChannel,
    DataChannelState,
    incoming_described,
    pair_described,
)
from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect, Emit, Send, target
from rtcstate.errors import InvalidStateError, RtcError
from rtcstate.invitation import InvitationState, OnCall, SentInvitation
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, Verdict, machine, spec_of, stay
from rtcstate.media import MediaEvent
from rtcstate.notices import (
    CallDeclined,
    CallEnded,
    CallNotice,
    ChannelAccepted,
    ChannelClosed,
    ChannelDeclined,
    ChannelEnded,
    ChannelNotice,
    ChannelOpened,
)
from rtcstate.transfer import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_CHUNK_SIZE,
    DEFAULT_MAX_SIZE,
    DEFAULT_WINDOW,
    FileReceiver,
    FileReceiverState,
    FileSender,
    TransferSettings,
)
from rtcstate.transfer.notices import (
    TransferAccepted,
    TransferCancelled,
    TransferCompleted,
    TransferDeclined,
    TransferFailed,
    TransferInterrupted,
    TransferNotice,
    TransferProgress,
    TransferResumed,
)
from rtcstate.transfer.receiver import ReceiverTimer
from rtcstate.transfer.sender import SenderTimer

__all__ = [
    "FAILURE_NUMBERS",
    "INPUTS",
    "RECEIVED_INPUTS",
    "RECEIVED_TRANSITIONS",
    "RECEIVED_VERDICTS",
    "TRANSITIONS",
    "VERDICTS",
    "FileTransfer",
    "FileTransferState",
    "ReceivedFileTransferInvitation",
    "ReceivedFileTransferInvitationState",
    "TransferDrop",
    "failure_number",
    "incoming_file_offer",
    "install",
    "send_file",
]

LABEL = "sendFile"
"""Label of a file transfer's RTCDataChannel."""


FAILURE_NUMBERS: Mapping[str, ErrorNumber] = {
    HangupReason.USER_NOT_FOUND.value: ErrorNumber.ERROR_NOT_FOUND,
}
"""The apiRTC error number a sender's failed transfer carries, by the reason its invitation
ended with (that of its data call: a file to a user nobody is registered as fails as a call
to that user does, ``User_Not_Found``); any other reason is ``ERROR_OTHER``."""


def failure_number(reason: str | None) -> ErrorNumber:
    """:data:`FAILURE_NUMBERS` for ``reason`` (``ERROR_OTHER`` when not listed)."""
    return FAILURE_NUMBERS.get(reason or "", ErrorNumber.ERROR_OTHER)


def _code_payload(error_code: ErrorCode, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "errorCode": error_code.value, "errorInfo": error_code.info, "detail": detail, **extra
    }  # fmt: skip


# --- sender ----------------------------------------------------------------------------------


class TransferDrop(DropReason):
    """Why a file transfer (either side) ignored an input on purpose."""

    UNEXPECTED_INPUT = "unexpected-input"
    """An input its table does not declare."""
    UNEXPECTED_MESSAGE = "unexpected-message"
    """A message for the transfer that it does not take (its data call and channel take theirs)."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A media report: the data channel takes those."""
    STALE_TIMER = "stale-timer"
    """A timer of the transfer machine once it is gone, or before it exists."""
    LATE_NOTICE = "late-notice"
    """A notice of the channel (or the data call) that changes nothing in the state."""
    NOT_STARTED = "not-started"
    """Data on the sender's channel before its transfer machine started, or once it ended."""
    NOT_OPEN = "not-open"
    """Data on the receiver's channel before its transfer machine exists, or once it ended."""
    IGNORED = "ignored"
    """``decline()`` of an invitation no longer STANDBY (ignored, as apiRTC)."""
    MALFORMED = "malformed"
    """The session's side: a ``file_offer`` that contradicts itself."""


class FileTransferState(enum.Enum):
    SETUP = "SETUP"  # the offer is out, the data call and its channel are being set up
    SENDING = "SENDING"  # the channel opened: the transfer machine (FileSender) runs
    ENDED = "ENDED"  # the data call is over (final)


class ChannelData:
    """Input key: a message received on the transfer's channel (``ChannelOwner.channel_data``)."""


class ChannelBufferedHigh:
    """Input key: the channel's send buffer went above its high mark (``channel_buffered``)."""


class ChannelBufferedLow:
    """Input key: the channel's send buffer drained below its low mark (``channel_buffered``)."""


_BUFFERED: dict[bool, type] = {True: ChannelBufferedHigh, False: ChannelBufferedLow}

_LIVE = ["SETUP", "SENDING"]

TRANSITIONS: list[dict[str, Any]] = [
    # the channel's notices
    *stay("channel_accepted", "SETUP", conditions="_invitation_waits", after="_accepted"),
    *stay("channel_accepted", "SETUP"),  # the invitation was decided already (cancelled)
    {"trigger": "channel_opened", "source": "SETUP", "dest": "SENDING", "after": "_start"},
    *stay("channel_opened", "SENDING", after="_resume"),
    *stay("channel_closed", "SENDING", conditions="_sender_live", after="_interrupted"),
    *stay("channel_closed", "SENDING"),  # the transfer is over: nothing to interrupt
    # the data call is over: how the transfer ends is decided here, in this order
    {"trigger": "channel_ended", "source": _LIVE, "dest": "ENDED",
     "conditions": ["_cut_short", "_receiver_hung_up"],
     "after": ["_receiver_cancelled", "_end_invitation", "_release"]},
    {"trigger": "channel_ended", "source": _LIVE, "dest": "ENDED", "conditions": "_cut_short",
     "after": ["_aborted", "_end_invitation", "_release"]},
    {"trigger": "channel_ended", "source": _LIVE, "dest": "ENDED", "conditions": "_refused",
     "after": ["_decline_invitation", "_release"]},
    {"trigger": "channel_ended", "source": _LIVE, "dest": "ENDED",
     "after": ["_end_invitation", "_release"]},
    # the channel's data and flow control, for the transfer machine
    *stay("channel_data", "SENDING", after="_to_sender"),
    *stay("buffered_high", "SENDING", conditions="_sender_live", after="_pace_high"),
    *stay("buffered_high", "SENDING"),
    *stay("buffered_low", "SENDING", conditions="_sender_live", after="_pace_low"),
    *stay("buffered_low", "SENDING"),
    # the transfer machine's timers
    *stay("sender_timer", "SENDING", after="_sender_timer"),
    # the transfer machine's events (on the transfer's target), as apiRTC's Contact events
    *stay("sent_progress", "SENDING", after="_progress_step"),
    *stay("sent_complete", "SENDING", conditions="_last_step_untold",
          after=["_progress_step", "_delivered"]),
    *stay("sent_complete", "SENDING", after="_delivered"),
    *stay("sent_error", "SENDING", after="_failed"),
    *stay("sent_declined", "SENDING", after="_refused_in_band"),
    *stay("sent_cancelled", "SENDING", conditions="_cancelled_here", after="_hang_up_later"),
    *stay("sent_cancelled", "SENDING", after="_cancelled_there"),
    *stay("sent_other", "SENDING", after="_pass_on"),
]  # fmt: skip

INPUTS = Inputs(
    unexpected=TransferDrop.UNEXPECTED_INPUT,
    timers={t: "sender_timer" for t in SenderTimer},
    notices={
        ChannelAccepted: "channel_accepted",
        ChannelOpened: "channel_opened",
        ChannelClosed: "channel_closed",
        ChannelEnded: "channel_ended",
        ChannelDeclined: "channel_ended",
        ChannelData: "channel_data",
        ChannelBufferedHigh: "buffered_high",
        ChannelBufferedLow: "buffered_low",
        # what the FileSender tells it (rtcstate.transfer.notices), as apiRTC's Contact events
        TransferProgress: "sent_progress",
        TransferCompleted: "sent_complete",
        TransferFailed: "sent_error",
        TransferDeclined: "sent_declined",
        TransferCancelled: "sent_cancelled",
        # rtcstate's own: fired on the transfer's target
        TransferAccepted: "sent_other",
        TransferInterrupted: "sent_other",
        TransferResumed: "sent_other",
    },
)
"""Every input of a sending transfer: its channel's notices, data and buffered-amount reports,
its transfer machine's timers and events (wire messages and media reports go to the data call
and the channel, never here)."""

VERDICTS: dict[str | tuple[str, str], Verdict] = {
    "channel_accepted": Ignore(TransferDrop.LATE_NOTICE),
    "channel_opened": Ignore(TransferDrop.LATE_NOTICE),
    "channel_closed": Ignore(TransferDrop.LATE_NOTICE),
    "channel_ended": Ignore(TransferDrop.LATE_NOTICE),
    "channel_data": Ignore(TransferDrop.NOT_STARTED),
    "buffered_high": Ignore(TransferDrop.NOT_STARTED),
    "buffered_low": Ignore(TransferDrop.NOT_STARTED),
    "sender_timer": Ignore(TransferDrop.STALE_TIMER),
    **dict.fromkeys(
        ["sent_progress", "sent_complete", "sent_error", "sent_declined", "sent_cancelled",
         "sent_other"],
        Ignore(TransferDrop.LATE_NOTICE),
    ),
}  # fmt: skip
"""What the pairs without a row mean: every one ignored on purpose (a notice before the
transfer machine exists or once the data call is over, a timer once it is gone)."""

_SENDER_TIMERS = {t.value: t for t in SenderTimer}


@machine(
    FileTransferState,
    TRANSITIONS,
    initial=FileTransferState.SETUP,
    final=[FileTransferState.ENDED],
    inputs=INPUTS,
    verdicts=VERDICTS,
)
@attrs.define(slots=True, eq=False)
class FileTransfer:
    """The sending side of one file (``contact.sendFile``): its SentInvitation, data channel and
    transfer machine. A child of the session under ``transfer_id`` (its id, the data call's)."""

    session: FactoryHost = attrs.field(repr=False)
    transfer_id: str
    contact: str  # the receiver's user
    name: str
    mime: str
    size: int
    channel: DataChannel = attrs.field(repr=False)
    invitation: SentInvitation = attrs.field(repr=False)
    chunk_size: int = DEFAULT_CHUNK_SIZE
    window: int = DEFAULT_WINDOW
    settings: TransferSettings = attrs.field(factory=TransferSettings, repr=False)
    sender: FileSender | None = attrs.field(default=None, repr=False)
    state: FileTransferState = FileTransferState.SETUP
    _reported: bool = False  # fileSentSuccessfully or fileTransferError fired
    _progress: float | None = None  # percentage of the last fileTransferProgress
    _hang_up_due: bool = False  # an event of the transfer machine ended it: hang up after it

    @property
    def id(self) -> str:
        return self.transfer_id

    @property
    def ended(self) -> bool:
        return self.state is FileTransferState.ENDED

    @property
    def finished(self) -> bool:
        """Whether the transfer takes no more bytes (completed, failed, cancelled or cut short;
        :attr:`ended` waits for the data call to be over as well)."""
        sender = self.sender
        return self.ended or self.invitation.ended or (sender is not None and sender.finished)

    @property
    def target(self) -> str:
        """Where the transfer machine's own events go (``accepted``, ``interrupted``, …)."""
        return target("transfer", self.transfer_id)

    @property
    def file_info(self) -> dict[str, Any]:
        """apiRTC's FileInfo ``{name, type}`` plus ``size``."""
        return {"name": self.name, "type": self.mime, "size": self.size}

    # --- application commands ------------------------------------------------------------------

    def feed(self, now: float, offset: int, data: bytes | bytearray | memoryview) -> list[Effect]:
        """Give the bytes a :class:`~rtcstate.transfer.NeedData` asked for (see
        :meth:`FileSender.feed`; ERROR_WRONG_STATE before the channel opened)."""
        sender = self.sender
        if sender is None:
            raise InvalidStateError(
                ErrorNumber.ERROR_WRONG_STATE, "FileTransfer", "feed", "WAITING",
                "no data was requested: the channel is not open yet",
            )  # fmt: skip
        fx = self._then_hang_up(sender.feed(now, offset, data), now)
        return self.session.child_output(self, fx)

    def cancel(self, now: float, reason: str = "cancelled") -> list[Effect]:
        """Withdraw the file: CANCEL in-band if started, hang up; the invitation is CANCELLED.

        Raises ERROR_INVITATION_STATE_INVALID once the invitation is decided otherwise, and
        ERROR_WRONG_STATE once every byte and the digest were sent (or the transfer is over
        while its data call is still being hung up); nothing changes then."""
        inv = self.invitation
        spec = spec_of(inv)
        if not spec.allowed(inv.state, "cancel"):
            raise spec.invalid(inv, "cancel")
        sender = self.sender
        if sender is not None and sender.finished:  # delivered, or failed and reported
            raise InvalidStateError(
                ErrorNumber.ERROR_WRONG_STATE, "FileTransfer", "cancel", sender.state.name,
                "the transfer is over (its data call is being hung up)",
            )  # fmt: skip
        fx: list[Effect] = []
        if sender is not None:
            fx.extend(sender.cancel(now, reason))  # raises (unchanged) once DONE is out
        self._reported = True  # the application asked: no error event for it
        spec.fire(inv, "cancel", fx, now)
        fx = self._then_hang_up(fx, now)
        fx.extend(self.session.child_output(inv, []))
        fx.extend(self._hang_up(now))
        return self.session.child_output(self, fx)

    # --- Child protocol ------------------------------------------------------------------------

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        """None is declared: the data call and the channel take the transfer's messages."""
        what = f"{env.message.TYPE} for transfer {self.id}"
        return [Drop(TransferDrop.UNEXPECTED_MESSAGE, what)]

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        """None is declared: the data channel takes the adapter's reports."""
        return [Drop(TransferDrop.UNEXPECTED_REPORT, type(event).__name__)]

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        """A timer of the transfer machine (``INPUTS.timers``); never raises."""
        timer = _SENDER_TIMERS.get(name)
        if timer is None:
            return [Drop(TransferDrop.STALE_TIMER, f"{self.target}:{name}")]
        fx: list[Effect] = []
        _SPEC.deliver(self, timer, timer, fx, now, msg=timer)
        return fx

    def on_disconnected(self, now: float) -> list[Effect]:
        return []

    def on_reconnected(self, now: float) -> list[Effect]:
        return []

    # --- ChannelOwner --------------------------------------------------------------------------

    def channel_notice(self, fx: list[Effect], notice: ChannelNotice, now: float) -> None:
        """The channel's life (``INPUTS.notices``): accepted, opened, closed, ended."""
        _SPEC.deliver(self, type(notice), notice, fx, now, notice=notice)

    def channel_data(self, fx: list[Effect], data: bytes | str, now: float) -> None:
        """A message on the channel (``INPUTS.notices[ChannelData]``): for the FileSender."""
        _SPEC.deliver(self, ChannelData, data, fx, now, data=data)

    def channel_buffered(self, fx: list[Effect], high: bool, now: float) -> None:
        """The channel's buffered amount crossed a mark: the FileSender pauses or resumes."""
        _SPEC.deliver(self, _BUFFERED[high], high, fx, now)

    # --- transition callbacks (signature: fx, now, **kw) ---------------------------------------

    def _invitation_waits(self, fx: list[Effect], now: float, **_: Any) -> bool:
        inv = self.invitation
        return spec_of(inv).allowed(inv.state, "answer_accept")

    def _accepted(self, fx: list[Effect], now: float, **_: Any) -> None:
        spec_of(self.invitation).fire(self.invitation, "answer_accept", fx, now)

    def _start(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.sender = FileSender(
            self.transfer_id, self.channel.channel_id, self.size, self.name, self.mime,
            self.chunk_size, self.window, self.settings, self.target, owner=self,
        )  # fmt: skip
        fx.extend(self._then_hang_up(self.sender.start(now), now))

    def _live_sender(self) -> FileSender:
        sender = self.sender
        assert sender is not None  # SENDING: the channel opened, the sender exists
        return sender

    def _sender_live(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return not self._live_sender().finished

    def _resume(self, fx: list[Effect], now: float, **_: Any) -> None:
        """The channel came back: resume."""
        fx.extend(self._then_hang_up(self._live_sender().channel_opened(now), now))

    def _interrupted(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.extend(self._then_hang_up(self._live_sender().channel_closed(now), now))

    def _to_sender(self, fx: list[Effect], now: float, data: bytes | str = b"", **_: Any) -> None:
        fx.extend(self._then_hang_up(self._live_sender().on_frame(data, now), now))

    def _pace_high(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.extend(self._then_hang_up(self._live_sender().buffered_high(now), now))

    def _pace_low(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.extend(self._then_hang_up(self._live_sender().buffered_low(now), now))

    def _sender_timer(
        self, fx: list[Effect], now: float, msg: SenderTimer = SenderTimer.ACK, **_: Any
    ) -> None:
        timer_id = f"{self.target}:{msg.value}"
        fx.extend(self._then_hang_up(self._live_sender().timer_fired(timer_id, now), now))

    # what the FileSender told it (``told``: its notice)

    def transfer_notice(self, fx: list[Effect], notice: TransferNotice, now: float) -> None:
        """The FileSender's notice (``INPUTS.notices``): one generic dispatch; a row that ends
        the transfer only notes that the data call is to be hung up (by :meth:`_then_hang_up`)."""
        _SPEC.deliver(self, type(notice), notice, fx, now, told=notice)

    def _progress_step(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> None:
        payload = _info(told, self.transfer_id)
        self._progress = payload.get("percentage")
        info = {"fileInfo": self.file_info, "transferInformation": payload}
        fx.append(self._contact_event("fileTransferProgress", info))

    def _last_step_untold(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> bool:
        """The last step was not reported as progress (apiRTC reports it before success)."""
        return self._progress != _info(told, self.transfer_id).get("percentage")

    def _delivered(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> None:
        self._reported = True
        info = {"fileInfo": self.file_info, "transferInformation": _info(told, self.transfer_id)}
        fx.append(self._contact_event("fileSentSuccessfully", info))
        self._hang_up_due = True

    def _failed(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> None:
        self._hang_up_due = True
        error = told.payload(self.transfer_id, False) if isinstance(told, TransferFailed) else {}
        fx.extend(self._error(error))

    def _refused_in_band(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> None:
        self._hang_up_due = True
        reason, code = ("", None)
        if isinstance(told, TransferDeclined):
            reason, code = told.reason, told.code
        error = _code_payload(ErrorCode.TRANSFER_DECLINED, reason, code=code)
        fx.extend(self._error(error))

    def _cancelled_here(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> bool:
        """The application cancelled: no error event for it."""
        return isinstance(told, TransferCancelled) and told.by is HangupFrom.LOCAL

    def _hang_up_later(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._hang_up_due = True

    def _cancelled_there(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> None:
        self._hang_up_due = True
        reason = told.reason if isinstance(told, TransferCancelled) else ""
        fx.extend(self._error(_code_payload(ErrorCode.TRANSFER_CANCELLED, reason)))

    def _pass_on(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> None:
        """rtcstate's own (accepted, interrupted, resumed), on the transfer's target."""
        if told is not None:
            fx.append(Emit(self.target, *told.event(self.transfer_id, False)))

    # the data call is over (``notice`` says how)

    def _cut_short(self, fx: list[Effect], now: float, **_: Any) -> bool:
        """The file was not confirmed while the invitation stood accepted."""
        sender = self.sender
        return (sender is None or not sender.finished) and (
            self.invitation.state is InvitationState.ACCEPTED
        )

    def _receiver_hung_up(
        self, fx: list[Effect], now: float, notice: ChannelNotice | None = None, **_: Any
    ) -> bool:
        """The receiver hung up (its cancel, racing its CANCEL frame)."""
        return isinstance(notice, ChannelEnded | ChannelDeclined) and (
            (notice.frm, notice.reason) == (HangupFrom.REMOTE, default_hangup_reason(False).value)
        )

    def _refused(
        self, fx: list[Effect], now: float, notice: ChannelNotice | None = None, **_: Any
    ) -> bool:
        """The far side refused the data call before it was established."""
        return (
            self.invitation.state is InvitationState.STANDBY
            and not self.channel.call.established
            and isinstance(notice, ChannelEnded | ChannelDeclined)
            and notice.frm is HangupFrom.REMOTE
        )

    def _receiver_cancelled(self, fx: list[Effect], now: float, **_: Any) -> None:
        detail = "the receiver ended the transfer"
        fx.extend(self._error(_code_payload(ErrorCode.TRANSFER_CANCELLED, detail)))

    def _aborted(self, fx: list[Effect], now: float, **_: Any) -> None:
        detail = "the data call ended before the receiver confirmed the file"
        fx.extend(self._error(_code_payload(ErrorCode.TRANSFER_ABORTED, detail)))

    def _end_invitation(
        self, fx: list[Effect], now: float, notice: ChannelNotice | None = None, **_: Any
    ) -> None:
        self._invitation_told(fx, now, "end", notice)

    def _decline_invitation(
        self, fx: list[Effect], now: float, notice: ChannelNotice | None = None, **_: Any
    ) -> None:
        self._invitation_told(fx, now, "answer_decline", notice)  # the channel's declined follows

    def _release(self, fx: list[Effect], now: float, **_: Any) -> None:
        if self.session.child("transfer_id", self.transfer_id) is self:
            fx.extend(self.session.detach("transfer_id", self.transfer_id))

    # --- internals -----------------------------------------------------------------------------

    def _invitation_told(
        self, fx: list[Effect], now: float, trigger: str, notice: ChannelNotice | None
    ) -> None:
        inv = self.invitation
        spec = spec_of(inv)
        if spec.allowed(inv.state, trigger):
            spec.fire(inv, trigger, fx, now, reason=getattr(notice, "reason", None) or None)
            fx.extend(self.session.child_output(inv, []))

    def _contact_event(self, event: str, payload: dict[str, Any]) -> Emit:
        return Emit(target("contact", self.contact), event, payload)

    def _then_hang_up(self, fx: list[Effect], now: float) -> list[Effect]:
        """The FileSender's effects, its notices already told (:meth:`transfer_notice`): the
        data call is hung up after them if one ended the transfer."""
        if self._hang_up_due:
            self._hang_up_due = False
            fx.extend(self._hang_up(now))
        return fx

    def _error(self, error: dict[str, Any]) -> list[Effect]:
        if self._reported:
            return []
        self._reported = True
        payload = {"error": error, "invitationId": self.transfer_id}
        return [self._contact_event("fileTransferError", payload)]

    def _hang_up(self, now: float) -> list[Effect]:
        channel = self.channel
        if spec_of(channel).allowed(channel.state, "close"):
            return channel.close(now)
        return []


def _info(told: TransferNotice | None, uuid: str) -> Mapping[str, Any]:
    """The TransferInformation of a progress or completion notice (else empty)."""
    return told.info(uuid) if isinstance(told, TransferProgress | TransferCompleted) else {}


def _info_or_none(told: TransferNotice | None, uuid: str) -> dict[str, Any] | None:
    return told.info(uuid) if isinstance(told, TransferProgress | TransferCompleted) else None


_SPEC = spec_of(FileTransfer)


def send_file(
    session: FactoryHost,
    contact: str,
    now: float,
    file_info: Mapping[str, Any],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    window: int = DEFAULT_WINDOW,
    settings: TransferSettings | None = None,
) -> tuple[FileTransfer, list[Effect]]:
    """See :meth:`Session.send_file`."""
    if not session.connected:
        raise InvalidStateError(
            ErrorNumber.ERROR_WRONG_STATE, "Session", "send_file", session.state.name,
            "Session.send_file needs a CONNECTED session",
        )  # fmt: skip
    if not isinstance(file_info, Mapping):
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "file_info must be a mapping")
    name, mime, size = file_info.get("name", ""), file_info.get("type", ""), file_info.get("size")
    if not isinstance(name, str) or not isinstance(mime, str):
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "file_info name and type must be str")
    if type(size) is not int or size < 0:
        raise RtcError(
            ErrorNumber.ERROR_BAD_PARAMETER, f"file_info size must be an int >= 0: {size!r}"
        )
    caps = session.capabilities
    if not caps.webrtc or not caps.data_channels:
        raise RtcError(ErrorNumber.ERROR_OTHER, "the media stack has no data channels")
    # the transfer machine checks name, type, sizes and chunking: build one before any change
    FileSender("probe", "probe", size, name, mime, chunk_size, window)
    call = new_outgoing_call(session, contact, now, call_type=CallType.DATA)
    tid = call.call_id
    channel = DataChannel(
        session, session.ids("dataChannel"), call, call.contact, contact, LABEL, outgoing=True
    )
    transfer_settings = settings if settings is not None else TransferSettings()
    channel.grace = transfer_settings.resume_timeout  # a dead channel is opened again
    inv = SentInvitation(tid, call.contact, InvitationType.SEND_FILE)
    transfer = FileTransfer(
        session, tid, call.contact, name, mime, size, channel, inv, chunk_size, window,
        transfer_settings,
    )  # fmt: skip
    inv.owner = transfer
    channel.owner = transfer
    channel.invite = wire.FileOffer(tid, tid, channel.channel_id, name, mime, size)
    call.owner = channel
    session.attach("channel_id", channel.channel_id, channel)
    session.attach("transfer_id", tid, transfer)
    fx = session.track_invitation(inv, now)
    start: list[Effect] = []
    spec_of(channel).fire(channel, "start", start, now)
    fx.extend(session.child_output(channel, start))
    fx.extend(session.child_output(call, call.start(now)))
    return transfer, fx


# --- receiver --------------------------------------------------------------------------------


class ReceivedFileTransferInvitationState(enum.Enum):
    STANDBY = "INVITATION_STATUS_STANDBY"
    ACCEPTED = "INVITATION_STATUS_ACCEPTED"
    DECLINED = "INVITATION_STATUS_DECLINED"
    CANCELLED = "INVITATION_STATUS_CANCELLED"
    ENDED = "INVITATION_STATUS_ENDED"


_AFTER_ACCEPT = ["ACCEPTED", "CANCELLED", "ENDED"]

RECEIVED_TRANSITIONS: list[dict[str, Any]] = [
    # application commands
    {"trigger": "accept", "source": "STANDBY", "dest": "ACCEPTED", "after": "_changed"},
    {"trigger": "decline", "source": "STANDBY", "dest": "DECLINED", "after": "_changed"},
    {"trigger": "cancel", "source": "ACCEPTED", "dest": "CANCELLED", "after": "_changed"},
    # the transfer machine's events (on its target), as the invitation's
    {"trigger": "verified", "source": "ACCEPTED", "dest": "ENDED",
     "after": ["_file_complete", "_changed"]},
    *stay("verified", ["CANCELLED", "ENDED"], after="_file_complete"),
    *stay("progress", _AFTER_ACCEPT, after="_progress_event"),
    *stay("failed", _AFTER_ACCEPT, after="_error_event"),
    *stay("passed_on", _AFTER_ACCEPT, after="_pass_on"),
    *stay("cancelled_here", _AFTER_ACCEPT),  # told inside ``cancel``: nothing more to say
    # the data call's end (its notice, or the channel's), or the sender's CANCEL
    {"trigger": "call_ended", "source": ["STANDBY", "ACCEPTED"], "dest": "CANCELLED",
     "after": "_changed"},
    *stay("call_ended", ["CANCELLED", "ENDED"]),
    # until its data call ends, a decided transfer still serves its channel: a finished
    # transfer machine says its last word again to a sender that may have missed it
    *stay("offer_again", ["STANDBY", *_AFTER_ACCEPT], conditions="_copy_of_offer",
          after="_ack_offer"),
    *stay("offer_again", ["STANDBY", *_AFTER_ACCEPT], after="_unexpected_message"),
    # the channel's life, data and timers, for the transfer machine (once there is one)
    *stay("channel_opened", _AFTER_ACCEPT, conditions="_no_receiver", after="_new_receiver"),
    *stay("channel_opened", _AFTER_ACCEPT, after="_channel_reopened"),
    *stay("channel_closed", _AFTER_ACCEPT, conditions="_receiver_live", after="_channel_closed"),
    *stay("channel_closed", _AFTER_ACCEPT),  # nothing to interrupt
    *stay("channel_data", _AFTER_ACCEPT, conditions="_serving", after="_to_receiver"),
    *stay("channel_data", _AFTER_ACCEPT, after="_not_open"),
    *stay("receiver_timer", _AFTER_ACCEPT, conditions="_serving", after="_receiver_timer"),
    *stay("receiver_timer", _AFTER_ACCEPT, after="_stale_receiver_timer"),
]  # fmt: skip

RECEIVED_INPUTS = Inputs(
    unexpected=TransferDrop.UNEXPECTED_INPUT,
    wire={wire.FileOffer: "offer_again"},
    timers={t: "receiver_timer" for t in ReceiverTimer},
    notices={
        CallEnded: "call_ended",  # before acceptance it owns the data call
        CallDeclined: "call_ended",
        ChannelOpened: "channel_opened",  # after acceptance it owns the channel
        ChannelClosed: "channel_closed",
        ChannelEnded: "call_ended",
        ChannelDeclined: "call_ended",
        ChannelData: "channel_data",
        # what the FileReceiver tells it (rtcstate.transfer.notices), as the invitation's
        TransferProgress: "progress",
        TransferCompleted: "verified",  # then statusChange ENDED
        TransferFailed: "failed",
        # the sender cancelled in-band; its own cancel is this object's (``cancel``)
        TransferCancelled: Classify(
            "by", {HangupFrom.REMOTE: "call_ended"}, otherwise="cancelled_here"
        ),
        TransferInterrupted: "passed_on",  # rtcstate's own: on the transfer's target
        TransferResumed: "passed_on",
    },
)
"""Every input of a received transfer: copies of the ``file_offer``, the data call's and the
channel's notices and data, and its transfer machine's timers and events (``CallEstablished``
and ``ChannelAccepted`` are the initiator's: a receiver is never told them)."""

RECEIVED_VERDICTS: dict[str | tuple[str, str], Verdict] = {
    "accept": ILLEGAL,
    "cancel": ILLEGAL,
    "decline": Ignore(TransferDrop.IGNORED),
    "verified": Ignore(TransferDrop.LATE_NOTICE),
    "call_ended": Ignore(TransferDrop.LATE_NOTICE),
    "offer_again": Ignore(TransferDrop.UNEXPECTED_MESSAGE),
    "channel_opened": Ignore(TransferDrop.LATE_NOTICE),
    "channel_closed": Ignore(TransferDrop.LATE_NOTICE),
    "channel_data": Ignore(TransferDrop.NOT_OPEN),
    "receiver_timer": Ignore(TransferDrop.STALE_TIMER),
    "progress": Ignore(TransferDrop.LATE_NOTICE),
    "failed": Ignore(TransferDrop.LATE_NOTICE),
    "passed_on": Ignore(TransferDrop.LATE_NOTICE),
    "cancelled_here": Ignore(TransferDrop.LATE_NOTICE),
}
"""What the pairs without a row mean (the notices of a channel before acceptance, a timer
before the transfer machine exists, a command in the wrong status)."""

_RECEIVER_TIMERS = {t.value: t for t in ReceiverTimer}
_Inv = ReceivedFileTransferInvitationState


@machine(
    ReceivedFileTransferInvitationState,
    RECEIVED_TRANSITIONS,
    initial=ReceivedFileTransferInvitationState.STANDBY,
    final=[_Inv.DECLINED],
    errors={
        "accept": ErrorNumber.ERROR_INVITATION_STATE_INVALID,
        "cancel": ErrorNumber.ERROR_INVITATION_STATE_INVALID,
    },
    inputs=RECEIVED_INPUTS,
    verdicts=RECEIVED_VERDICTS,
)
@attrs.define(slots=True, eq=False)
class ReceivedFileTransferInvitation(OnCall):
    """apiRTC's ReceivedFileTransferInvitation: a file offered by a contact.

    A child of the session under ``transfer_id`` (its id, the data call's) and the owner of the
    data call, then of the data channel once accepted."""

    session: FactoryHost = attrs.field(repr=False)
    call: Call = attrs.field(repr=lambda c: f"<Call {c.call_id} {c.state.name}>")
    channel_id: str
    name: str
    mime: str
    size: int
    remote: str  # the sender's device
    state: ReceivedFileTransferInvitationState = ReceivedFileTransferInvitationState.STANDBY
    data_channel: DataChannel | None = attrs.field(default=None, repr=False)
    receiver: FileReceiver | None = attrs.field(default=None, repr=False)
    max_size: int = DEFAULT_MAX_SIZE
    max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE
    settings: TransferSettings = attrs.field(factory=TransferSettings, repr=False)
    reason: str | None = None  # the reason given to decline()
    _done: bool = False

    @property
    def transfer_id(self) -> str:
        return self.id

    @property
    def ended(self) -> bool:
        return self._done

    @property
    def file_info(self) -> dict[str, Any]:
        """``getFileInfo()``: apiRTC's FileInfo ``{name, type}`` plus the announced ``size``."""
        return {"name": self.name, "type": self.mime, "size": self.size}

    # --- application commands ------------------------------------------------------------------

    def accept(
        self,
        now: float,
        *,
        max_size: int | None = None,
        max_chunk_size: int | None = None,
        settings: TransferSettings | None = None,
    ) -> list[Effect]:
        """Accept the file: ACCEPTED, the data call answers (raises 10 when not STANDBY).

        ``max_size`` (default :data:`~rtcstate.transfer.DEFAULT_MAX_SIZE`) is the largest file
        taken: a larger in-band offer is refused (``error TRANSFER_TOO_LARGE``)."""
        spec = spec_of(self)
        if not spec.allowed(self.state, "accept"):
            raise spec.invalid(self, "accept")
        self.call.check_command("accept")
        if self.session.child("channel_id", self.channel_id) is not None:
            raise InvalidStateError(
                ErrorNumber.ERROR_INVITATION_STATE_INVALID, "ReceivedFileTransferInvitation",
                "accept", self.state.name, f"channel id {self.channel_id!r} is in use",
            )  # fmt: skip
        for label, value in (("max_size", max_size), ("max_chunk_size", max_chunk_size)):
            if value is not None and (type(value) is not int or value < 1):
                raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"{label} must be an int >= 1")
        if max_size is not None:
            self.max_size = max_size
        if max_chunk_size is not None:
            self.max_chunk_size = max_chunk_size
        if settings is not None:
            self.settings = settings
        fx: list[Effect] = []
        spec.fire(self, "accept", fx, now)
        channel = DataChannel(
            self.session, self.channel_id, self.call, self.call.contact, self.remote, LABEL,
            outgoing=False, state=DataChannelState.ACCEPTED, owner=self,
            grace=self.settings.resume_timeout,
        )  # fmt: skip
        channel._requested = True  # the far side opens it; the adapter reports it here
        self.data_channel = channel
        self.session.attach("channel_id", self.channel_id, channel)
        self.call.owner = channel
        return self.session.child_output(self, self.call.accepted_by_invitation(fx, now))

    def decline(
        self, now: float, reason: str | HangupReason = HangupReason.USER_REFUSED_CALL
    ) -> list[Effect]:
        """Refuse the file: DECLINED, the data call ends (``User_Refused_Call``). Ignored when
        not STANDBY, as apiRTC."""
        if self.state is not _Inv.STANDBY:
            return [Drop(TransferDrop.IGNORED, f"decline of a {self.state.name} invitation")]
        if not spec_of(self.call).allowed(self.call.state, "decline"):
            return [
                Drop(TransferDrop.IGNORED, f"decline while the data call is {self.call.state.name}")
            ]
        fx: list[Effect] = []
        spec_of(self).fire(self, "decline", fx, now)
        self.reason = str(reason)
        self._done = True
        refused = HangupReason.USER_REFUSED_CALL.value
        return self.session.child_output(self, self.call.declined_by_invitation(fx, now, refused))

    def cancel(self, now: float, reason: str = "cancelled") -> list[Effect]:
        """rtcstate extension: abandon an accepted transfer (CANCEL in-band, CANCELLED). Raises
        ERROR_INVITATION_STATE_INVALID unless ACCEPTED."""
        spec = spec_of(self)
        if not spec.allowed(self.state, "cancel"):
            raise spec.invalid(self, "cancel")
        fx: list[Effect] = []
        receiver = self.receiver
        if receiver is not None and spec_of(receiver).allowed(receiver.state, "cancel"):
            fx.extend(receiver.cancel(now, reason))
        spec.fire(self, "cancel", fx, now)
        channel = self.data_channel
        if channel is not None and spec_of(channel).allowed(channel.state, "close"):
            fx.extend(channel.close(now))
        return self.session.child_output(self, fx)

    # --- Child protocol ------------------------------------------------------------------------

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        """A copy of the ``file_offer`` (``RECEIVED_INPUTS.wire``): acknowledged again."""
        msg = env.message
        fx: list[Effect] = []
        _RECEIVED_SPEC.deliver(self, type(msg), msg, fx, now, msg=msg, sender=env.sender)
        return fx

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        """None is declared: the data channel takes the adapter's reports."""
        return [Drop(TransferDrop.UNEXPECTED_REPORT, type(event).__name__)]

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        """A timer of the transfer machine (``RECEIVED_INPUTS.timers``); never raises."""
        timer = _RECEIVER_TIMERS.get(name)
        if timer is None or self._done:
            return [Drop(TransferDrop.STALE_TIMER, f"{self._timer_target}:{name}")]
        fx: list[Effect] = []
        _RECEIVED_SPEC.deliver(self, timer, timer, fx, now, msg=timer)
        return fx

    def on_disconnected(self, now: float) -> list[Effect]:
        return []

    def on_reconnected(self, now: float) -> list[Effect]:
        return []

    # --- CallOwner (before acceptance) and ChannelOwner (after) -------------------------------

    def call_notice(self, fx: list[Effect], notice: CallNotice, now: float) -> None:
        """The data call ended while the user decides: CANCELLED (as the SDK)."""
        self._told(fx, notice, now)

    def channel_notice(self, fx: list[Effect], notice: ChannelNotice, now: float) -> None:
        """The channel opened, closed or ended (``RECEIVED_INPUTS.notices``)."""
        self._told(fx, notice, now)

    def _told(self, fx: list[Effect], notice: CallNotice | ChannelNotice, now: float) -> None:
        """One generic dispatch of a notice; a final one (the data call is over) also ends
        this object's life: the transfer machine is dropped with its timers."""
        if self._done:
            return  # released: the data call is over (or the invitation was declined)
        _RECEIVED_SPEC.deliver(self, type(notice), notice, fx, now, notice=notice)
        if notice.FINAL:
            self._done = True
            if self.session.child("transfer_id", self.id) is self:
                fx.extend(self.session.detach("transfer_id", self.id))

    def channel_data(self, fx: list[Effect], data: bytes | str, now: float) -> None:
        """A message on the channel (``RECEIVED_INPUTS.notices[ChannelData]``)."""
        _RECEIVED_SPEC.deliver(self, ChannelData, data, fx, now, data=data)

    def channel_buffered(self, fx: list[Effect], high: bool, now: float) -> None:
        return None  # the receiver sends little: no flow control on its side

    # --- transition callbacks (signature: fx, now, **kw) ---------------------------------------

    def _copy_of_offer(
        self, fx: list[Effect], now: float, msg: Any = None, sender: str | None = None, **_: Any
    ) -> bool:
        return (
            sender is not None
            and sender.partition("/")[0] == self.call.contact
            and getattr(msg, "channel_id", None) == self.channel_id
        )

    def _ack_offer(self, fx: list[Effect], now: float, sender: str = "", **_: Any) -> None:
        fx.append(Send(sender, wire.DataChannelAck(self.channel_id)))

    def _unexpected_message(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        what = f"{getattr(msg, 'TYPE', 'message')} for file transfer {self.id}"
        fx.append(Drop(TransferDrop.UNEXPECTED_MESSAGE, what))

    def _no_receiver(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return self.receiver is None

    def _new_receiver(self, fx: list[Effect], now: float, **_: Any) -> None:
        """The channel opened for the first time: the transfer machine waits for the offer."""
        self.receiver = FileReceiver(
            self.id, self.channel_id, self.max_size, self.max_chunk_size, self.settings,
            self._timer_target, owner=self,
        )  # fmt: skip

    def _live_receiver(self) -> FileReceiver:
        receiver = self.receiver
        assert receiver is not None  # the guard of the row (or the row before it) says so
        return receiver

    def _channel_reopened(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.extend(self._live_receiver().channel_opened(now))

    def _receiver_live(self, fx: list[Effect], now: float, **_: Any) -> bool:
        receiver = self.receiver
        return receiver is not None and not receiver.finished

    def _channel_closed(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.extend(self._live_receiver().channel_closed(now))

    def _serving(self, fx: list[Effect], now: float, **_: Any) -> bool:
        """The transfer machine exists and the data call is not over."""
        return self.receiver is not None and not self._done

    def _to_receiver(self, fx: list[Effect], now: float, data: bytes | str = b"", **_: Any) -> None:
        receiver = self._live_receiver()
        out = receiver.on_frame(data, now)
        if receiver.state is FileReceiverState.OFFERED:
            out.extend(self._take_offer(receiver, now))
        fx.extend(out)

    def _not_open(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(Drop(TransferDrop.NOT_OPEN, f"data outside the transfer {self.id}"))

    def _receiver_timer(
        self, fx: list[Effect], now: float, msg: ReceiverTimer = ReceiverTimer.ACK, **_: Any
    ) -> None:
        timer_id = f"{self._timer_target}:{msg.value}"
        fx.extend(self._live_receiver().timer_fired(timer_id, now))

    def _stale_receiver_timer(
        self, fx: list[Effect], now: float, msg: ReceiverTimer = ReceiverTimer.ACK, **_: Any
    ) -> None:
        fx.append(Drop(TransferDrop.STALE_TIMER, f"{self._timer_target}:{msg.value}"))

    # what the FileReceiver told it (``told``: its notice)

    def transfer_notice(self, fx: list[Effect], notice: TransferNotice, now: float) -> None:
        """The FileReceiver's notice (``RECEIVED_INPUTS.notices``): one generic dispatch."""
        _RECEIVED_SPEC.deliver(self, type(notice), notice, fx, now, told=notice)

    def _progress_event(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> None:
        fx.append(Emit(self.target, "progress", _info_or_none(told, self.id)))

    def _file_complete(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> None:
        info = {
            "fileInfo": self.file_info,
            "sha256": getattr(self.receiver, "digest", None),
            "transferInformation": _info_or_none(told, self.id),
        }
        fx.append(Emit(self.target, "transferComplete", info))

    def _error_event(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> None:
        payload = told.payload(self.id, True) if isinstance(told, TransferFailed) else None
        fx.append(Emit(self.target, "error", payload))

    def _pass_on(
        self, fx: list[Effect], now: float, told: TransferNotice | None = None, **_: Any
    ) -> None:
        """rtcstate's own (interrupted, resumed), on the transfer's target."""
        if told is not None:
            fx.append(Emit(self._timer_target, *told.event(self.id, True)))

    # --- internals -----------------------------------------------------------------------------

    @property
    def _timer_target(self) -> str:
        return target("transfer", self.id)

    def _take_offer(self, receiver: FileReceiver, now: float) -> list[Effect]:
        """The in-band offer: accept it if it is the file the user accepted."""
        offer = receiver.offer
        assert offer is not None
        if (offer.size, offer.name, offer.mime) == (self.size, self.name, self.mime):
            return receiver.accept(now)
        fx = receiver.decline(now, "not the file announced")
        detail = f"in-band offer {offer.name!r} ({offer.size} bytes) is not the file announced"
        payload = _code_payload(ErrorCode.UNEXPECTED_MESSAGE, detail, uuid=self.id)
        fx.append(Emit(self.target, "error", payload))
        return fx


_RECEIVED_SPEC = spec_of(ReceivedFileTransferInvitation)


# --- the session's side --------------------------------------------------------------------------


def install(session: FactoryHost) -> None:
    """Make ``session`` answer ``file_offer`` messages."""
    session.set_factory(wire.FileOffer, incoming_file_offer)


def _pair(session: FactoryHost, call: Call, env: wire.Envelope, now: float) -> list[Effect]:
    msg = env.message
    assert isinstance(msg, wire.FileOffer)

    def build() -> ReceivedFileTransferInvitation:
        inv = ReceivedFileTransferInvitation(
            session, call, msg.channel_id, msg.name, msg.mime, msg.size,
            env.sender or call.remote,
        )  # fmt: skip
        session.attach("transfer_id", inv.id, inv)
        return inv

    return pair_described(session, call, env, "fileTransferInvitation", build)


def incoming_file_offer(session: FactoryHost, env: wire.Envelope, now: float) -> list[Effect]:
    """The session's factory for ``file_offer`` (for a transfer it does not hold)."""
    msg = env.message
    assert isinstance(msg, wire.FileOffer)
    if msg.transfer_id != msg.call_id:
        return [
            Drop(
                TransferDrop.MALFORMED,
                f"file_offer {msg.transfer_id} names data call {msg.call_id}",
            )
        ]
    if msg.size < 0:
        return [Drop(TransferDrop.MALFORMED, f"file_offer {msg.transfer_id} of {msg.size} bytes")]
    return incoming_described(
        session, env, now, msg.channel_id, msg.call_id, _pair, ReceivedFileTransferInvitation
    )
