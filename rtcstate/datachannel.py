"""DataChannel and ReceivedDataChannelInvitation: apiRTC's 1-1 data channels.

Theory of operation
-------------------
*Initiator.* ``Session.start_data_channel(contact, now, label=...)`` (apiRTC's
``contact.startDataChannel()``) builds a :class:`DataChannel` of type SEND in
``DATACHANNEL_STATUS_WAITING`` and a data :class:`~rtcstate.call.Call` (``CallType.DATA``) whose
*owner* it is (:class:`~rtcstate.call.CallOwner`): the call tells the DataChannel its life as
typed notices (:mod:`rtcstate.notices`: established, ended, declined, with the real ``now``),
and the application never hears the call. Starting sends a ``data_channel_invite`` (channel id,
call id, label; apiRTC's ``contact_datachannel_invitation``) and starts the call, as the SDK
does. The invite is sent reliably by a :class:`~rtcstate.reliable.ReliableSender` (the
sub-machine a call's own messages use): retransmitted on timer ``dataChannel:<id>:rtx`` with
the calls' schedule (``rtx_initial`` doubling to ``rtx_max``, ``rtx_attempts`` sends; the
table's ``rtx_timer`` rows resend it or give up), paused while the server is away and sent
again at once when it is back, until a ``data_channel_ack`` settles it or the call is
established. When the call is established (ICE connected) the DataChannel
fires ``accepted`` and ``response`` and asks the adapter to open the RTCDataChannel
(:class:`~rtcstate.effects.OpenDataChannel`); when the adapter reports it open
(:class:`~rtcstate.media.DataChannelOpened`) the status is ONGOING and ``opened {type:
"sendDataChannelOpen"}`` fires.

*Receiver.* The session surfaces ``dataChannelInvitation`` (a
:class:`ReceivedDataChannelInvitation`, on the session and on the contact) only when both the
``data_channel_invite`` and the data call's ``invite`` have arrived, in either order: the first
is held by :mod:`rtcstate.call_factory` (bounded in number and time), and the data call is never
surfaced as ``incomingCall``. Every copy of the ``data_channel_invite`` is acknowledged.
``accept(now)`` accepts the data call and returns a DataChannel of type SEND (as the SDK resolves
it) in WAITING; the adapter reports the far side's channel open under the same channel id, and
``opened {type: "receiveDataChannelOpen"}`` fires. ``decline(now, reason)`` refuses the call
(``User_Refused_Call``); the initiator then fires ``ended {from: "remote"}``, ``declined`` and
``response``. The initiator hanging up first makes the invitation EXPIRED.

*Data.* ``send_data(now, data)`` (ONGOING only, else ``RtcError(ERROR_OTHER)`` as the SDK
rejects) frames ``data`` (str or bytes) in chunks of :data:`CHUNK_SIZE` (the frame format is
below) and hands them to the adapter (:class:`~rtcstate.effects.SendData`), firing
``transferProgress`` per chunk and ``transferComplete`` after the last, with apiRTC's
TransferInformation ``{uuid, fileSize, remainingSize, percentage, sendChunkNb,
transferDuration, lastPacket}``. While the adapter reports its send buffer full
(:class:`~rtcstate.media.BufferedAmountHigh`) chunks wait and go out at
:class:`~rtcstate.media.BufferedAmountLow`. The far side reassembles them and fires
``dataReceived {uuid, data}`` (str for str, bytes for bytes). A frame it cannot decode fires
``error`` with the SDK's string for the channel's role (``sendDataChannelError`` on the
initiator, whose RTCDataChannel was created locally, ``receiveDataChannelError`` on the receiver)
and is dropped, as is the transfer it belonged to.

*Ending.* ``close(now)`` closes the RTCDataChannel (:class:`~rtcstate.effects.CloseDataChannel`)
and hangs the data call up; the status is ENDED at once, and ``ended {from: "local"}`` fires when
the call announces its end (when the far side acknowledges the ``bye``, so that both ends agree
on who ended it, as for calls). Whatever ends the data call (a remote ``bye``, ICE failure, the
server lost for good) ends the DataChannel with ``ended {from}``. ``closed`` fires once for a
channel that was open: when the adapter reports it closed, or with ``ended`` (the call's peer
connection is closed with it), whichever comes first. A channel the adapter reports closed while
the call lives (the far side closed it, or the SCTP association died) fires ``closed`` and waits
:attr:`DataChannel.grace` seconds (:data:`CLOSED_GRACE` by default; timer
``dataChannel:<id>:grace``) for the far side's ``bye`` before hanging up itself: a peer that
called ``close()`` is then the one that ended it. If the adapter reports the channel open again
meanwhile (same id), it is OPEN again and ``opened`` fires again. The channel of a file transfer
(one with an owner) is asked open again at once by its initiator, so an interrupted transfer can
resume (see :mod:`rtcstate.filetransfer`).

Frame format (bytes, one per :class:`~rtcstate.effects.SendData`)::

    0xDC | kind (0x01 text, 0x02 binary) | flags (0x01 last chunk) | uuid length (u16 BE)
    | uuid (UTF-8) | total size (u64 BE) | chunk index (u32 BE) | payload

The first byte, :data:`FRAME_MAGIC` ``0xDC``, tells these frames apart from those of the file
transfers; a frame that does not start with it is undecodable here.

The adapter contract for the channel: ``OpenDataChannel(call_id, channel_id, label)`` opens an
ordered, reliable RTCDataChannel labelled ``label`` on the data call's peer connection, whose
``protocol`` is ``channel_id``; the far side's adapter reports the channel it receives under that
same ``channel_id`` (``DataChannelOpened``, ``DataChannelMessage``, ``DataChannelClosed``).

*The table is the only decision point.* Next to the table, :data:`INPUTS` maps every input to a
trigger: the messages (``data_channel_ack``, a copy of ``data_channel_invite``,
``user_not_found``), the adapter's reports (open, closed, a message, the send buffer high or
low), the timers (:class:`ChannelTimer`) and the data call's notices; :data:`VERDICTS` says what
each (state, trigger) pair without a row means (a :class:`ChannelDrop`, or illegal for the
commands). ``receive``, ``media_event``, ``timer_fired`` and ``call_notice`` are one generic
dispatch each (the relay-stamped sender is checked first). With an owner (a file transfer) the
channel tells it :class:`~rtcstate.notices.ChannelAccepted`, ``ChannelOpened``,
``ChannelClosed``, then ``ChannelEnded`` or ``ChannelDeclined`` in place of its own events.
:class:`ReceivedDataChannelInvitation` declares its one input the same way
(:data:`RECEIVED_INPUTS`: the data call's end expires it while STANDBY).

Timers owned (:class:`ChannelTimer`): ``dataChannel:<id>:rtx`` and ``dataChannel:<id>:grace``;
the session cancels what is left when the DataChannel ends.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import attrs

from rtcstate import wire
from rtcstate.call import Call, CallOwner, CallState
from rtcstate.call_factory import FactoryHost, Pairing, held, hold_message, new_outgoing_call
from rtcstate.codes import (
    CallStatus,
    CallType,
    DataChannelErrorType,
    DataChannelOpenedType,
    DataChannelStatus,
    DataChannelType,
    ErrorNumber,
    HangupFrom,
    HangupReason,
    default_hangup_reason,
)
from rtcstate.drops import DropReason
from rtcstate.effects import (
    SESSION,
    CancelTimer,
    CloseDataChannel,
    Drop,
    Effect,
    Emit,
    OpenDataChannel,
    Send,
    SendData,
    StartTimer,
    target,
)
from rtcstate.errors import InvalidStateError, RtcError
from rtcstate.invitation import RECEIVED_TRANSITIONS as CALL_INVITATION_TRANSITIONS
from rtcstate.invitation import OnCall
from rtcstate.machine import ILLEGAL, Ignore, Inputs, Verdict, machine, spec_of, stay
from rtcstate.media import (
    BufferedAmountHigh,
    BufferedAmountLow,
    DataChannelClosed,
    DataChannelMessage,
    DataChannelOpened,
    MediaEvent,
)
from rtcstate.notices import (
    CallDeclined,
    CallEnded,
    CallEstablished,
    CallNotice,
    ChannelAccepted,
    ChannelClosed,
    ChannelDeclined,
    ChannelEnded,
    ChannelNotice,
    ChannelOpened,
)
from rtcstate.reliable import ReliableSender, RtxOutcome
from rtcstate.settings import CallSettings

__all__ = [
    "CHUNK_SIZE",
    "CLOSED_GRACE",
    "FRAME_MAGIC",
    "INPUTS",
    "MAX_DATA",
    "RECEIVED_INPUTS",
    "RECEIVED_TRANSITIONS",
    "TRANSITIONS",
    "VERDICTS",
    "ChannelDrop",
    "ChannelOwner",
    "ChannelTimer",
    "DataChannel",
    "DataChannelState",
    "Frame",
    "ReceivedDataChannelInvitation",
    "ReceivedDataChannelInvitationState",
    "decode_frame",
    "encode_frame",
    "incoming_data_channel_invite",
    "incoming_described",
    "install",
    "pair_described",
    "start_data_channel",
]

FRAME_MAGIC = 0xDC
"""First byte of every data-channel frame (file-transfer frames start otherwise)."""
CHUNK_SIZE = 16 * 1024
"""Payload bytes per frame (16 KiB: what every WebRTC stack carries in one message)."""
MAX_DATA = 16 * 1024 * 1024
"""Largest ``send_data`` payload, and largest transfer a receiver reassembles (bytes)."""
MAX_PARTIAL = 4
"""Transfers a receiver reassembles at once (the sender sends one after the other)."""
CLOSED_GRACE = 5.0
"""Seconds a channel closed under a live call waits for the far side's ``bye``."""

_TEXT, _BINARY = 0x01, 0x02
_LAST = 0x01
_FIXED = 1 + 1 + 1 + 2  # magic, kind, flags, uuid length
_TAIL = 8 + 4  # total size, chunk index


class ChannelOwner(Protocol):
    """Who a DataChannel serves when it is not the application's (a file transfer).

    With an owner the channel fires no application event: its life is told as typed notices
    (:mod:`rtcstate.notices`: accepted, opened, closed, then ended or declined) through
    :meth:`channel_notice`, every message received on it goes to :meth:`channel_data` (the 0xDC
    framing is not used) and the adapter's flow control to :meth:`channel_buffered`; the
    initiator's invitation message is its :attr:`DataChannel.invite`. Like
    :class:`~rtcstate.call.CallOwner`, the owner may change its own state in these hooks, each
    given the real ``now`` of the input that caused it."""

    def channel_notice(self, fx: list[Effect], notice: ChannelNotice, now: float) -> None: ...

    def channel_data(self, fx: list[Effect], data: bytes | str, now: float) -> None: ...

    def channel_buffered(self, fx: list[Effect], high: bool, now: float) -> None: ...


# --- frames ----------------------------------------------------------------------------------


def encode_frame(kind: int, last: bool, uuid: str, total: int, index: int, payload: bytes) -> bytes:
    """One frame of transfer ``uuid`` (``kind`` 1 = text, 2 = binary)."""
    ident = uuid.encode("utf-8")
    return b"".join((
        bytes((FRAME_MAGIC, kind, _LAST if last else 0)),
        len(ident).to_bytes(2, "big"), ident,
        total.to_bytes(8, "big"), index.to_bytes(4, "big"), payload,
    ))  # fmt: skip


@attrs.frozen(slots=True)
class Frame:
    """A decoded frame."""

    kind: int
    last: bool
    uuid: str
    total: int
    index: int
    payload: bytes


def decode_frame(data: bytes | str) -> Frame | str:
    """The frame in ``data``, or why it is not one (never raises)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        return "text message (frames are binary)"
    raw = bytes(data)
    if len(raw) < _FIXED + _TAIL:
        return f"{len(raw)} bytes: too short for a frame"
    if raw[0] != FRAME_MAGIC:
        return f"first byte {raw[0]:#04x} is not {FRAME_MAGIC:#04x}"
    kind, flags = raw[1], raw[2]
    if kind not in (_TEXT, _BINARY) or flags & ~_LAST:
        return f"kind {kind:#04x} flags {flags:#04x}"
    length = int.from_bytes(raw[3:5], "big")
    start = _FIXED + length
    if len(raw) < start + _TAIL:
        return "truncated header"
    try:
        uuid = raw[_FIXED:start].decode("utf-8")
    except UnicodeDecodeError:
        return "uuid is not UTF-8"
    total = int.from_bytes(raw[start : start + 8], "big")
    index = int.from_bytes(raw[start + 8 : start + 12], "big")
    return Frame(kind, bool(flags & _LAST), uuid, total, index, raw[start + _TAIL :])


@attrs.define(slots=True)
class _Outgoing:
    """A transfer being handed to the adapter."""

    uuid: str
    kind: int
    data: bytes
    started: float
    sent: int = 0  # bytes handed over
    chunks: int = 0  # frames handed over


@attrs.define(slots=True)
class _Incoming:
    """A transfer being reassembled."""

    kind: int
    total: int
    parts: list[bytes] = attrs.field(factory=list)
    size: int = 0


# --- DataChannel -------------------------------------------------------------------------------


class DataChannelState(enum.Enum):
    IDLE = "IDLE"  # built, start() not called yet (initiator)
    INVITING = "INVITING"  # initiator: invite sent, data call being set up
    ACCEPTED = "ACCEPTED"  # data call established / invitation accepted; channel not open yet
    OPEN = "OPEN"  # the adapter reports the channel open (ONGOING)
    CLOSED = "CLOSED"  # the channel closed under a live call; waiting for the far side's bye
    ENDING = "ENDING"  # closed locally; waiting for the data call to announce its end
    ENDED = "ENDED"  # final


class ChannelDrop(DropReason):
    """Why a data channel (or its received invitation) ignored an input on purpose."""

    UNEXPECTED_INPUT = "unexpected-input"
    """An input the channel's table does not declare."""
    UNEXPECTED_MESSAGE = "unexpected-message"
    """A message the channel does not take here (an ack on the receiving side, an invite for
    another call or on the initiator's side, anything once ended)."""
    UNEXPECTED_REPORT = "unexpected-report"
    """A report of the adapter that makes no sense in the state (open before the call was
    established, data while not open, closed twice)."""
    FORGED = "forged"
    """A ``user_not_found`` that did not come from the relay."""
    STRANGER = "stranger"
    """A message whose relay-stamped sender is not a device of the far side's user."""
    DUPLICATE_ACK = "duplicate-ack"
    """A ``data_channel_ack`` for an invite no longer retransmitted."""
    USER_NOT_FOUND = "user-not-found"
    """The relay found no device of the far side (the data call hears it too and ends)."""
    STALE_TIMER = "stale-timer"
    """A timer the channel no longer needs."""
    RTX_EXHAUSTED = "rtx-exhausted"
    """The invite was sent ``rtx_attempts`` times unacknowledged (the data call ends then)."""
    UNDECODABLE_DATA = "undecodable-data"
    """A frame that is not a data-channel frame, or breaks its transfer."""
    LATE_NOTICE = "late-notice"
    """The data call's notice once the channel no longer cares (ended, or before start)."""
    IGNORED = "ignored"
    """``decline()`` of an invitation no longer STANDBY (ignored, as apiRTC)."""
    UNPAIRABLE = "unpairable"
    """The session's side: a describing message whose data call can no longer be paired."""
    DUPLICATE = "duplicate"
    """The session's side: a copy of a describing message already paired or held (acked)."""
    CONFLICT = "conflict"
    """The session's side: a second, different describing message for one data call."""
    LATE_INVITE = "late-invite"
    """The session's side: a describing message for a data call that already ended (acked)."""
    TOO_MANY_HELD = "too-many-held"
    """The session's side: ``MAX_HELD`` halves held already (not acknowledged: resent later)."""


class ChannelTimer(enum.Enum):
    """The timers a data channel owns; the adapter sees ``dataChannel:<id>:<value>``."""

    RTX = "rtx"  # the initiator's invite, until acknowledged or the call is established
    GRACE = "grace"  # a channel closed under a live call waits for the far side's bye


_TIMER_BY_NAME = {t.value: t for t in ChannelTimer}
_LIVE = ["INVITING", "ACCEPTED", "OPEN", "CLOSED"]
_NOT_FINAL = ["IDLE", *_LIVE, "ENDING"]

TRANSITIONS: list[dict[str, Any]] = [
    # application commands
    {"trigger": "start", "source": "IDLE", "dest": "INVITING", "after": "_send_invite"},
    {"trigger": "close", "source": "IDLE", "dest": "ENDED", "after": "_ended"},
    {"trigger": "close", "source": _LIVE, "dest": "ENDING", "after": "_close_channel"},
    # the data call's notices
    {"trigger": "established", "source": "INVITING", "dest": "ACCEPTED", "after": "_accepted"},
    {"trigger": "call_ended", "source": [*_LIVE, "ENDING"], "dest": "ENDED", "after": "_ended"},
    {"trigger": "call_declined", "source": [*_LIVE, "ENDING"], "dest": "ENDED",
     "after": "_declined"},
    # the adapter's reports about the RTCDataChannel
    {"trigger": "opened", "source": "ACCEPTED", "dest": "OPEN", "after": "_opened"},
    {"trigger": "opened", "source": "CLOSED", "dest": "OPEN", "after": "_reopened"},
    {"trigger": "channel_closed", "source": ["ACCEPTED", "OPEN"], "dest": "CLOSED",
     "after": "_channel_closed"},
    *stay("channel_closed", ["IDLE", "INVITING", "CLOSED", "ENDING"], after="_closed_again"),
    *stay("data", "OPEN", after="_data"),
    *stay("buffer_high", _NOT_FINAL, after="_buffer_high"),
    *stay("buffer_low", _NOT_FINAL, after="_buffer_low"),
    # messages
    *stay("invite_acked", _NOT_FINAL, conditions="_is_initiator", after="_take_ack"),
    *stay("invite_acked", _NOT_FINAL, after="_unexpected_message"),
    *stay("invite_again", _NOT_FINAL, conditions="_copy_of_our_invite", after="_ack_invite"),
    *stay("invite_again", _NOT_FINAL, after="_unexpected_message"),
    *stay("not_found", _NOT_FINAL, after="_not_found"),
    # timers: the invite's sender resends it, or gives up once it was sent rtx_attempts times
    *stay("rtx_timer", "INVITING", conditions="_invite_spent", after="_give_up_invite"),
    *stay("rtx_timer", "INVITING", after="_retransmit"),
    {"trigger": "grace_timer", "source": "CLOSED", "dest": "ENDING",
     "after": ["_close_channel", "_hang_up"]},
]  # fmt: skip

INPUTS = Inputs(
    unexpected=ChannelDrop.UNEXPECTED_INPUT,
    wire={
        wire.DataChannelAck: "invite_acked",
        wire.DataChannelInvite: "invite_again",
        wire.UserNotFound: "not_found",
    },
    media={
        DataChannelOpened: "opened",
        DataChannelClosed: "channel_closed",
        DataChannelMessage: "data",
        BufferedAmountHigh: "buffer_high",
        BufferedAmountLow: "buffer_low",
    },
    timers={ChannelTimer.RTX: "rtx_timer", ChannelTimer.GRACE: "grace_timer"},
    notices={
        CallEstablished: "established",
        CallEnded: "call_ended",
        CallDeclined: "call_declined",
    },
)
"""Every input of a data channel: wire message, adapter report, timer and data-call notice."""

_LATE = Ignore(ChannelDrop.UNEXPECTED_REPORT)
VERDICTS: dict[str | tuple[str, str], Verdict] = {
    "start": ILLEGAL,
    "close": ILLEGAL,
    "established": Ignore(ChannelDrop.LATE_NOTICE),
    "call_ended": Ignore(ChannelDrop.LATE_NOTICE),
    "call_declined": Ignore(ChannelDrop.LATE_NOTICE),
    "opened": _LATE,
    "channel_closed": _LATE,
    "data": _LATE,
    "buffer_high": _LATE,
    "buffer_low": _LATE,
    "invite_acked": Ignore(ChannelDrop.UNEXPECTED_MESSAGE),
    "invite_again": Ignore(ChannelDrop.UNEXPECTED_MESSAGE),
    "not_found": Ignore(ChannelDrop.USER_NOT_FOUND),
    "rtx_timer": Ignore(ChannelDrop.STALE_TIMER),
    "grace_timer": Ignore(ChannelDrop.STALE_TIMER),
}
"""What the (state, trigger) pairs without a row mean: ignored on purpose or illegal."""

_STATUS = {
    DataChannelState.IDLE: DataChannelStatus.DATACHANNEL_STATUS_WAITING,
    DataChannelState.INVITING: DataChannelStatus.DATACHANNEL_STATUS_WAITING,
    DataChannelState.ACCEPTED: DataChannelStatus.DATACHANNEL_STATUS_WAITING,
    DataChannelState.OPEN: DataChannelStatus.DATACHANNEL_STATUS_ONGOING,
    DataChannelState.CLOSED: DataChannelStatus.DATACHANNEL_STATUS_ONGOING,
    DataChannelState.ENDING: DataChannelStatus.DATACHANNEL_STATUS_ENDED,
    DataChannelState.ENDED: DataChannelStatus.DATACHANNEL_STATUS_ENDED,
}


@machine(
    DataChannelState,
    TRANSITIONS,
    initial=DataChannelState.IDLE,
    final=[DataChannelState.ENDED],
    inputs=INPUTS,
    verdicts=VERDICTS,
)
@attrs.define(slots=True, eq=False)
class DataChannel:
    """apiRTC's DataChannel: one data channel inside its own data call, either side."""

    session: FactoryHost = attrs.field(repr=False)
    channel_id: str
    call: Call = attrs.field(repr=lambda c: f"<Call {c.call_id} {c.state.name}>")
    contact: str  # the far side's user
    remote: str  # where our messages go: the contact as given (initiator), its device
    label: str = "data"
    outgoing: bool = True  # the initiator (startDataChannel) side
    kind: DataChannelType = DataChannelType.DATACHANNEL_TYPE_SEND
    state: DataChannelState = DataChannelState.IDLE
    _rtx: ReliableSender | None = None  # the invite until acknowledged (made at start)
    _offline: bool = False
    _requested: bool = False  # OpenDataChannel asked for (or the far side's channel expected)
    _open: bool = False  # the channel was open: ``closed`` is owed
    _closed_told: bool = False
    _paused: bool = False  # the adapter's send buffer is full
    _queue: deque[_Outgoing] = attrs.field(factory=deque, repr=False)
    _incoming: dict[str, _Incoming] = attrs.field(factory=dict, repr=False)
    owner: ChannelOwner | None = attrs.field(default=None, repr=False)
    grace: float = CLOSED_GRACE  # seconds a channel closed under a live call waits
    invite: wire.Message | None = None  # sent instead of a data_channel_invite (a file offer)

    # --- public ------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """``getId()``."""
        return self.channel_id

    @property
    def status(self) -> DataChannelStatus:
        """``getStatus()``: WAITING, ONGOING or ENDED over the finer states."""
        return _STATUS[self.state]

    @property
    def type(self) -> DataChannelType:
        """``getType()``: SEND on both sides (the SDK resolves SEND channels)."""
        return self.kind

    @property
    def ended(self) -> bool:
        return self.state is DataChannelState.ENDED

    @property
    def target(self) -> str:
        return target("dataChannel", self.channel_id)

    def close(self, now: float) -> list[Effect]:
        """``close()``: close the channel and hang the data call up (ERROR_WRONG_STATE once
        ENDED); ``ended {from: "local"}`` follows when the far side acknowledges."""
        spec = spec_of(self)
        if not spec.allowed(self.state, "close"):
            raise spec.invalid(self, "close")
        fx: list[Effect] = []
        spec.fire(self, "close", fx, now)
        call = self.call
        if call.state is CallState.IDLE:  # never started: nothing to hang up, just forget it
            fx.extend(self.session.detach("call_id", call.call_id))
            fx.extend(self.session.detach("request_id", call.call_id))
        fx.extend(self._hang_up_call(now))
        return self.session.child_output(self, fx)

    def send_data(self, now: float, data: str | bytes) -> tuple[str, list[Effect]]:
        """``sendData(data)``: send ``data`` (str or bytes) to the far side.

        Returns the transfer's uuid and the effects (SendData per chunk, ``transferProgress``
        per chunk, ``transferComplete``). Raises ERROR_OTHER unless ONGOING with the channel
        open (as the SDK rejects), ERROR_BAD_PARAMETER for another type or more than
        :data:`MAX_DATA` bytes; nothing changes then.
        """
        if (
            self.state is not DataChannelState.OPEN
            or self.call.status is CallStatus.CALL_STATUS_ENDED
        ):
            raise RtcError(
                ErrorNumber.ERROR_OTHER,
                f"DataChannel.send_data needs an open channel ({self.state.name})",
            )
        if isinstance(data, str):
            kind, raw = _TEXT, data.encode("utf-8", "surrogatepass")
        elif isinstance(data, bytes | bytearray | memoryview):
            kind, raw = _BINARY, bytes(data)
        else:
            raise RtcError(
                ErrorNumber.ERROR_BAD_PARAMETER, f"data must be str or bytes: {type(data)}"
            )
        if len(raw) > MAX_DATA:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"{len(raw)} bytes > {MAX_DATA}")
        uuid = self.session.ids("data")
        self._queue.append(_Outgoing(uuid, kind, raw, now))
        fx: list[Effect] = []
        self._pump(fx, now)
        return uuid, self.session.child_output(self, fx)

    # --- Child protocol ----------------------------------------------------------------------

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        """A message naming this channel (``INPUTS.wire``); never raises.

        The relay-stamped sender is checked first: ``user_not_found`` must come from the relay,
        anything else from a device of the far side's user."""
        msg = env.message
        sender = env.sender
        if type(msg) is wire.UserNotFound:
            if sender is not None:
                return [Drop(ChannelDrop.FORGED, "user_not_found must come from the relay")]
        elif sender is None or sender.partition("/")[0] != self.contact:
            what = f"{msg.TYPE} from {sender} for data channel {self.id}"
            return [Drop(ChannelDrop.STRANGER, what)]
        fx: list[Effect] = []
        _SPEC.deliver(self, type(msg), msg, fx, now, msg=msg, sender=sender)
        return fx

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        """An adapter report about this channel (``INPUTS.media``); never raises."""
        fx: list[Effect] = []
        _SPEC.deliver(self, type(event), event, fx, now, msg=event)
        return fx

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        """One of this channel's timers expired (``INPUTS.timers``); never raises."""
        timer = _TIMER_BY_NAME.get(name)
        if timer is None:
            return [Drop(ChannelDrop.STALE_TIMER, f"dataChannel:{self.id}:{name}")]
        fx: list[Effect] = []
        _SPEC.deliver(self, timer, timer, fx, now)
        return fx

    def on_disconnected(self, now: float) -> list[Effect]:
        self._offline = True
        fx: list[Effect] = []
        if self._rtx is not None:
            self._rtx.pause(fx, now, _InviteOwner(self))
        return fx

    def on_reconnected(self, now: float) -> list[Effect]:
        self._offline = False
        fx: list[Effect] = []
        if self._rtx is not None:
            self._rtx.resume(fx, now, _InviteOwner(self))  # an invite waiting goes out again
        return fx

    # --- CallOwner: the data call's notices ---------------------------------------------------

    def call_notice(self, fx: list[Effect], notice: CallNotice, now: float) -> None:
        """The data call was established, ended or declined (``INPUTS.notices``): the
        channel's own ``accepted``, ``ended {from}``, ``declined`` (never the call's events)."""
        _SPEC.deliver(self, type(notice), notice, fx, now, notice=notice)

    # --- internals ---------------------------------------------------------------------------

    def _fire(self, fx: list[Effect], trigger: str, now: float, **kw: Any) -> None:
        _SPEC.fire(self, trigger, fx, now, **kw)

    def _emit(self, fx: list[Effect], event: str, payload: Any = None) -> None:
        """An application event (an owned channel fires none: its owner is told by ``_tell``)."""
        if self.owner is None:
            fx.append(Emit(self.target, event, payload))

    def _tell(
        self, fx: list[Effect], now: float, notice: ChannelNotice, *events: tuple[str, Any]
    ) -> None:
        """Tell the owner ``notice``; without one, fire ``events`` for the application."""
        owner = self.owner
        if owner is not None:
            owner.channel_notice(fx, notice, now)
        else:
            fx.extend(Emit(self.target, event, payload) for event, payload in events)

    def _tid(self, timer: ChannelTimer) -> str:
        return f"dataChannel:{self.channel_id}:{timer.value}"

    def _cancel(self, fx: list[Effect], timer: ChannelTimer) -> None:
        tid = self._tid(timer)
        if self.session.timer_armed(tid) or any(
            type(e) is StartTimer and e.timer_id == tid for e in fx
        ):
            fx.append(CancelTimer(tid))

    def _invite(self) -> wire.Message:
        invite = self.invite
        if invite is None:
            invite = wire.DataChannelInvite(self.channel_id, self.call.call_id, self.label)
        return invite

    def _invite_to(self) -> str:
        # once the data call is answered, its device: a forking relay must not ring the others
        return self.call.remote if "/" in self.call.remote else self.remote

    def _stop_rtx(self, fx: list[Effect], now: float) -> bool:
        """Stop sending the invite (the call was established, or ends); False if it was not
        waiting for its acknowledgement."""
        rtx = self._rtx
        if rtx is None or not rtx.pending:
            return False
        rtx.clear(fx, now, _InviteOwner(self))
        return True

    def _hang_up_call(self, now: float) -> list[Effect]:
        """Hang the data call up, if it still can be (it may be ending on its own)."""
        call = self.call
        if spec_of(call).allowed(call.state, "hangup"):
            return call.hangup(now)
        return []

    def _tell_closed(self, fx: list[Effect], now: float) -> None:
        if self._open and not self._closed_told:
            self._closed_told = True
            self._tell(fx, now, ChannelClosed(), ("closed", None))

    def _wind_down(self, fx: list[Effect], now: float) -> None:
        self._stop_rtx(fx, now)
        self._cancel(fx, ChannelTimer.GRACE)

    def _detach(self, fx: list[Effect]) -> None:
        self._requested = False
        self._drop_transfers()
        if self.session.child("channel_id", self.channel_id) is self:
            fx.extend(self.session.detach("channel_id", self.channel_id))

    # --- transition callbacks (signature: fx, now, **kw) -------------------------------------

    def _send_invite(self, fx: list[Effect], now: float, **_: Any) -> None:
        rtx = self._rtx = ReliableSender()
        owner = _InviteOwner(self)
        if self._offline:  # kept, sent now, retransmitted once the server is back
            rtx.pause(fx, now, owner)
        rtx.send(fx, now, owner, self._invite())

    def _accepted(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._stop_rtx(fx, now)  # the receiver accepted: it had the invite
        self._tell(fx, now, ChannelAccepted(), ("accepted", None), ("response", None))
        self._requested = True
        fx.append(OpenDataChannel(self.call.call_id, self.channel_id, self.label))

    def _opened(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._requested = True
        self._open = True
        kind = (
            DataChannelOpenedType.SEND_DATA_CHANNEL_OPEN
            if self.outgoing
            else DataChannelOpenedType.RECEIVE_DATA_CHANNEL_OPEN
        )
        self._tell(fx, now, ChannelOpened(), ("opened", {"type": kind.value}))

    def _channel_closed(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._open = True  # ``closed`` fires now, whether or not it ever opened
        self._tell_closed(fx, now)
        self._requested = False
        self._drop_transfers()
        fx.append(StartTimer(self._tid(ChannelTimer.GRACE), now + self.grace))
        if self.owner is not None and self.outgoing:
            # a transfer's channel died under a live call: open it again (the far side's
            # adapter reports it under the same id), so the transfer can resume
            self._requested = True
            fx.append(OpenDataChannel(self.call.call_id, self.channel_id, self.label))

    def _closed_again(self, fx: list[Effect], now: float, **_: Any) -> None:
        """The adapter reports the channel closed where that changes no state: the
        confirmation of our own close (``closed`` is owed), else a late report."""
        if self._open and not self._closed_told:
            self._tell_closed(fx, now)
        else:
            fx.append(Drop(ChannelDrop.UNEXPECTED_REPORT, f"channel closed in {self.state.name}"))

    def _reopened(self, fx: list[Effect], now: float, **_: Any) -> None:
        """The channel is open again under the same call: ``opened`` fires again."""
        self._cancel(fx, ChannelTimer.GRACE)
        self._closed_told = False
        self._opened(fx, now)

    def _close_channel(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._wind_down(fx, now)
        if self._requested or (self._open and not self._closed_told):
            self._requested = False
            fx.append(CloseDataChannel(self.channel_id))
        self._drop_transfers()

    def _hang_up(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.extend(self._hang_up_call(now))

    def _ended(
        self, fx: list[Effect], now: float, notice: CallEnded | None = None, **_: Any
    ) -> None:
        """The data call ended (or a channel never started was closed): ``ended {from}``."""
        self._wind_down(fx, now)
        frm, reason = (
            (notice.frm, notice.reason)
            if notice is not None
            else (HangupFrom.LOCAL, default_hangup_reason(self.outgoing).value)
        )
        told = ChannelEnded(frm, reason, None if notice is None else notice.code)
        self._tell(fx, now, told, ("ended", {"from": frm.value}))
        self._tell_closed(fx, now)  # the peer connection closed with the call
        self._detach(fx)

    def _declined(
        self, fx: list[Effect], now: float, notice: CallDeclined | None = None, **_: Any
    ) -> None:
        """The far side refused the data call: ``ended {from: remote}``, ``declined``,
        ``response`` (the SDK's order)."""
        self._wind_down(fx, now)
        ended = ("ended", {"from": HangupFrom.REMOTE.value})
        reason = notice.reason if notice is not None else HangupReason.USER_REFUSED_CALL.value
        self._tell(fx, now, ChannelDeclined(reason), ended, ("declined", None),
                   ("response", None))  # fmt: skip
        self._tell_closed(fx, now)
        self._detach(fx)

    def _data(
        self, fx: list[Effect], now: float, msg: DataChannelMessage | None = None, **_: Any
    ) -> None:
        data = msg.data if msg is not None else b""
        if self.owner is not None:
            self.owner.channel_data(fx, data, now)
        else:
            self._received(fx, data)

    def _buffer_high(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._paused = True
        if self.owner is not None:
            self.owner.channel_buffered(fx, True, now)

    def _buffer_low(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._paused = False
        if self.owner is not None:
            self.owner.channel_buffered(fx, False, now)
        self._pump(fx, now)

    def _is_initiator(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return self.outgoing

    def _copy_of_our_invite(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return not self.outgoing and getattr(msg, "call_id", None) == self.call.call_id

    def _take_ack(self, fx: list[Effect], now: float, **_: Any) -> None:
        rtx = self._rtx
        if rtx is None or not rtx.settle(fx, now, _InviteOwner(self), type(self._invite())):
            fx.append(Drop(ChannelDrop.DUPLICATE_ACK, self.id))

    def _ack_invite(self, fx: list[Effect], now: float, sender: str = "", **_: Any) -> None:
        fx.append(Send(sender, wire.DataChannelAck(self.channel_id)))  # a copy: ack again

    def _unexpected_message(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        side = "initiator" if self.outgoing else "receiver"
        what = f"{getattr(msg, 'TYPE', 'message')} for data channel {self.id} ({side})"
        fx.append(Drop(ChannelDrop.UNEXPECTED_MESSAGE, what))

    def _not_found(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._stop_rtx(fx, now)  # the data call hears it too and ends
        fx.append(Drop(ChannelDrop.USER_NOT_FOUND, f"{self.contact} for data channel {self.id}"))

    def _invite_spent(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return self._rtx is not None and self._rtx.spent(_InviteOwner(self))

    def _give_up_invite(self, fx: list[Effect], now: float, **_: Any) -> None:
        assert self._rtx is not None  # _invite_spent
        self._rtx.expire(fx, now, _InviteOwner(self))  # GAVE_UP: the invite is forgotten
        # (the receiver's hold gives up too: the data call ends then)
        what = f"data_channel_invite {self.id} never acknowledged"
        fx.append(Drop(ChannelDrop.RTX_EXHAUSTED, what))

    def _retransmit(self, fx: list[Effect], now: float, **_: Any) -> None:
        rtx = self._rtx
        outcome = RtxOutcome.STALE if rtx is None else rtx.expire(fx, now, _InviteOwner(self))
        if outcome is RtxOutcome.STALE:  # acknowledged, or the server is away
            fx.append(Drop(ChannelDrop.STALE_TIMER, self._tid(ChannelTimer.RTX)))

    def _drop_transfers(self) -> None:
        self._queue.clear()
        self._incoming.clear()
        self._paused = False

    # --- internals: data ---------------------------------------------------------------------

    def _pump(self, fx: list[Effect], now: float) -> None:
        """Hand queued chunks to the adapter until its buffer is full."""
        queue = self._queue
        while queue and not self._paused:
            out = queue[0]
            total = len(out.data)
            chunk = out.data[out.sent : out.sent + CHUNK_SIZE]
            last = out.sent + len(chunk) >= total
            frame = encode_frame(out.kind, last, out.uuid, total, out.chunks, chunk)
            out.sent += len(chunk)
            out.chunks += 1
            fx.append(SendData(self.channel_id, frame))
            info = {
                "uuid": out.uuid,
                "fileSize": total,
                "remainingSize": total - out.sent,
                "percentage": round(100.0 * out.sent / total, 2) if total else 100.0,
                "sendChunkNb": out.chunks,
                "transferDuration": now - out.started,
                "lastPacket": last,
            }
            self._emit(fx, "transferProgress", info)
            if last:
                self._emit(fx, "transferComplete", dict(info))
                queue.popleft()

    def _error(self, fx: list[Effect], detail: str) -> None:
        role = (
            DataChannelErrorType.SEND_DATA_CHANNEL_ERROR
            if self.outgoing
            else DataChannelErrorType.RECEIVE_DATA_CHANNEL_ERROR
        )
        self._emit(fx, "error", role.value)
        fx.append(Drop(ChannelDrop.UNDECODABLE_DATA, f"data channel {self.id}: {detail}"))

    def _received(self, fx: list[Effect], data: bytes | str) -> None:
        frame = decode_frame(data)
        if isinstance(frame, str):
            self._error(fx, frame)
            return
        partial = self._incoming.get(frame.uuid)
        if frame.index == 0:
            if partial is not None:
                del self._incoming[frame.uuid]
                self._error(fx, f"transfer {frame.uuid!r} restarted")
                return
            if frame.total > MAX_DATA:
                self._error(fx, f"transfer of {frame.total} bytes > {MAX_DATA}")
                return
            if len(self._incoming) >= MAX_PARTIAL:
                self._error(fx, f"more than {MAX_PARTIAL} transfers at once")
                return
            partial = _Incoming(frame.kind, frame.total)
            self._incoming[frame.uuid] = partial
        elif partial is None or frame.index != len(partial.parts):
            self._incoming.pop(frame.uuid, None)
            self._error(fx, f"chunk {frame.index} of transfer {frame.uuid!r} out of sequence")
            return
        if frame.kind != partial.kind or frame.total != partial.total:
            del self._incoming[frame.uuid]
            self._error(fx, f"transfer {frame.uuid!r} changed kind or size")
            return
        partial.parts.append(frame.payload)
        partial.size += len(frame.payload)
        if partial.size > partial.total or (frame.last and partial.size != partial.total):
            del self._incoming[frame.uuid]
            self._error(fx, f"transfer {frame.uuid!r}: {partial.size} of {partial.total} bytes")
            return
        if not frame.last:
            return
        del self._incoming[frame.uuid]
        raw = b"".join(partial.parts)
        payload: str | bytes = raw
        if partial.kind == _TEXT:
            try:
                payload = raw.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                self._error(fx, f"transfer {frame.uuid!r} is not UTF-8 text")
                return
        self._emit(fx, "dataReceived", {"uuid": frame.uuid, "data": payload})


_SPEC = spec_of(DataChannel)


# --- ReceivedDataChannelInvitation ---------------------------------------------------------------


class ReceivedDataChannelInvitationState(enum.Enum):
    STANDBY = "INVITATION_STATUS_STANDBY"
    ACCEPTED = "INVITATION_STATUS_ACCEPTED"
    DECLINED = "INVITATION_STATUS_DECLINED"
    EXPIRED = "INVITATION_STATUS_EXPIRED"


RECEIVED_TRANSITIONS: list[dict[str, Any]] = CALL_INVITATION_TRANSITIONS
"""The table of a call invitation (accept, decline, expire), with ACCEPTED final here."""

RECEIVED_INPUTS = Inputs(
    unexpected=ChannelDrop.UNEXPECTED_INPUT,
    notices={CallEnded: "expire", CallDeclined: "expire"},
)
"""Its one input: the data call's end while STANDBY (the caller hung up first). A callee's call
never tells ``CallEstablished`` (that is the caller's), so it is not declared: were it told, it
would be dropped as undeclared. Once decided, the invitation no longer owns the call (a
DataChannel does, or the call ends and its notice is dropped)."""


@machine(
    ReceivedDataChannelInvitationState,
    RECEIVED_TRANSITIONS,
    initial=ReceivedDataChannelInvitationState.STANDBY,
    final=[
        ReceivedDataChannelInvitationState.ACCEPTED,
        ReceivedDataChannelInvitationState.DECLINED,
        ReceivedDataChannelInvitationState.EXPIRED,
    ],
    errors={"accept": ErrorNumber.ERROR_INVITATION_STATE_INVALID},
    inputs=RECEIVED_INPUTS,
    verdicts={
        "accept": ILLEGAL,
        "decline": Ignore(ChannelDrop.IGNORED),
        "expire": Ignore(ChannelDrop.LATE_NOTICE),
    },
)
@attrs.define(slots=True, eq=False)
class ReceivedDataChannelInvitation(OnCall):
    """apiRTC's ReceivedDataChannelInvitation: the receiver's decision about a data channel.

    Its id is the data call's id (as for call invitations). It owns no timer and no wire
    message: it is the data call's owner until accepted (the DataChannel then is)."""

    session: FactoryHost = attrs.field(repr=False)
    call: Call = attrs.field(repr=lambda c: f"<Call {c.call_id} {c.state.name}>")
    channel_id: str
    label: str
    remote: str  # the initiator's device
    state: ReceivedDataChannelInvitationState = ReceivedDataChannelInvitationState.STANDBY
    data_channel: DataChannel | None = None
    reason: str | None = None  # the reason given to decline()

    def accept(self, now: float) -> tuple[DataChannel, list[Effect]]:
        """Accept: ACCEPTED, the data call answers; returns the DataChannel (SEND, WAITING).

        Raises ERROR_INVITATION_STATE_INVALID (10) when not STANDBY, changing nothing."""
        spec = spec_of(self)
        if not spec.allowed(self.state, "accept"):
            raise spec.invalid(self, "accept")
        self.call.check_command("accept")
        if self.session.child("channel_id", self.channel_id) is not None:
            raise InvalidStateError(
                ErrorNumber.ERROR_INVITATION_STATE_INVALID, "ReceivedDataChannelInvitation",
                "accept", self.state.name, f"channel id {self.channel_id!r} is in use",
            )  # fmt: skip
        fx: list[Effect] = []
        spec.fire(self, "accept", fx, now)
        channel = DataChannel(
            self.session, self.channel_id, self.call, self.call.contact, self.remote,
            self.label, outgoing=False, state=DataChannelState.ACCEPTED,
        )  # fmt: skip
        channel._requested = True  # the far side opens it; the adapter reports it here
        self.data_channel = channel
        self.session.attach("channel_id", self.channel_id, channel)
        self.call.owner = channel
        return channel, self.call.accepted_by_invitation(fx, now)

    def decline(
        self, now: float, reason: str | HangupReason = HangupReason.USER_REFUSED_CALL
    ) -> list[Effect]:
        """Refuse: DECLINED, the data call ends with ``User_Refused_Call`` (the SDK's reason
        whatever is given: ``reason`` is kept in :attr:`reason`). Ignored when not STANDBY."""
        if self.state is not ReceivedDataChannelInvitationState.STANDBY:
            return [Drop(ChannelDrop.IGNORED, f"decline of a {self.state.name} invitation")]
        if not spec_of(self.call).allowed(self.call.state, "decline"):
            # the data call is ending on its own: the invitation expires when it has ended
            return [
                Drop(ChannelDrop.IGNORED, f"decline while the data call is {self.call.state.name}")
            ]
        fx: list[Effect] = []
        spec_of(self).fire(self, "decline", fx, now)
        self.reason = str(reason)
        refused = HangupReason.USER_REFUSED_CALL.value
        return self.call.declined_by_invitation(fx, now, refused)

    # --- CallOwner -----------------------------------------------------------------------------

    def call_notice(self, fx: list[Effect], notice: CallNotice, now: float) -> None:
        """The data call ended while we wait for the user: EXPIRED (``RECEIVED_INPUTS``)."""
        spec_of(self).deliver(self, type(notice), notice, fx, now)


# --- the session's side --------------------------------------------------------------------------


def install(session: FactoryHost) -> None:
    """Make ``session`` answer ``data_channel_invite`` messages."""
    session.set_factory(wire.DataChannelInvite, incoming_data_channel_invite)


def start_data_channel(
    session: FactoryHost, contact: str, now: float, *, label: str = "data"
) -> tuple[DataChannel, list[Effect]]:
    """See :meth:`Session.start_data_channel`."""
    if not session.connected:
        raise InvalidStateError(
            ErrorNumber.ERROR_WRONG_STATE, "Session", "start_data_channel", session.state.name,
            "Session.start_data_channel needs a CONNECTED session",
        )  # fmt: skip
    if not isinstance(label, str):
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"label must be a str: {label!r}")
    caps = session.capabilities
    if not caps.webrtc or not caps.data_channels:
        raise RtcError(ErrorNumber.ERROR_OTHER, "the media stack has no data channels")
    call = new_outgoing_call(session, contact, now, call_type=CallType.DATA)
    channel = DataChannel(
        session, session.ids("dataChannel"), call, call.contact, contact, label, outgoing=True
    )
    call.owner = channel
    session.attach("channel_id", channel.channel_id, channel)
    fx: list[Effect] = []
    spec_of(channel).fire(channel, "start", fx, now)
    session.child_output(channel, fx)
    fx.extend(session.child_output(call, call.start(now)))
    return channel, fx


def _pairable(call: Call, user: str) -> bool:
    return (
        not call.outgoing
        and call.call_type is CallType.DATA
        and call.state is CallState.RINGING
        and call.owner is None
        and call.contact == user
    )


def pair_described(
    session: FactoryHost, call: Call, env: wire.Envelope, event: str, build: Callable[[], CallOwner]
) -> list[Effect]:
    """Both halves of a described data call are here: ``build()`` makes the application's
    invitation, which owns the call from now on; ``event`` fires on the session and the
    contact. A call that can no longer be paired (not a ringing, unowned data call of the
    message's sender) is dropped."""
    if not _pairable(call, (env.sender or "").partition("/")[0]):
        return [
            Drop(ChannelDrop.UNPAIRABLE, f"data call {call.call_id} in state {call.state.name}")
        ]
    inv = build()
    call.owner = inv
    call.invitation = None  # the owner's invitation replaces the call's
    return [Emit(SESSION, event, inv), Emit(target("contact", call.contact), event, inv)]


def _pair(session: FactoryHost, call: Call, env: wire.Envelope, now: float) -> list[Effect]:
    msg = env.message
    assert isinstance(msg, wire.DataChannelInvite)
    return pair_described(
        session, call, env, "dataChannelInvitation",
        lambda: ReceivedDataChannelInvitation(
            session, call, msg.channel_id, msg.label, env.sender or call.remote
        ),
    )  # fmt: skip


def incoming_data_channel_invite(
    session: FactoryHost, env: wire.Envelope, now: float
) -> list[Effect]:
    """The session's factory for ``data_channel_invite`` (for a channel it does not hold)."""
    msg = env.message
    assert isinstance(msg, wire.DataChannelInvite)
    return incoming_described(
        session, env, now, msg.channel_id, msg.call_id, _pair, ReceivedDataChannelInvitation
    )


def incoming_described(
    session: FactoryHost,
    env: wire.Envelope,
    now: float,
    channel_id: str,
    call_id: str,
    pair: Pairing,
    owner_type: type,
) -> list[Effect]:
    """A message describing data call ``call_id`` (a data channel invite, a file offer) for an
    object the session does not hold yet: acknowledge it (``data_channel_ack`` of
    ``channel_id``), then pair it with its data call, or hold it until the call comes.

    ``pair`` builds the application's object (see :func:`pair_described`); a call already
    owned by an ``owner_type`` for ``channel_id`` was paired with a copy of this message."""
    msg = env.message
    sender = env.sender
    if sender is None:
        return [Drop(ChannelDrop.FORGED, f"a {msg.TYPE} must come from a peer")]
    user = sender.partition("/")[0]
    ack = Send(sender, wire.DataChannelAck(channel_id))
    hold = held(session, call_id)
    if hold is not None:
        if hold.user != user:
            return [Drop(ChannelDrop.STRANGER, f"{sender} named the data call {call_id}")]
        waiting = hold.env.message if hold.env is not None else None
        if waiting is not None:
            if waiting == msg:
                return [ack, Drop(ChannelDrop.DUPLICATE, f"{msg.TYPE} for data call {call_id}")]
            return [Drop(ChannelDrop.CONFLICT, f"data call {call_id} already has a message")]
        call = hold.call
        fx: list[Effect] = [ack, *hold.release()]
        if call is None:  # pragma: no cover - a hold holds a call or a message
            return fx
        fx.extend(pair(session, call, env, now))
        return fx
    call = session.get_call(call_id)
    if call is not None:
        owner = call.owner
        if (
            call.contact == user
            and isinstance(owner, owner_type)
            and (getattr(owner, "channel_id", None) == channel_id)
        ):
            return [ack, Drop(ChannelDrop.DUPLICATE, f"{msg.TYPE} for data call {call_id}")]
        return [Drop(ChannelDrop.UNEXPECTED_MESSAGE, f"{msg.TYPE} for call {call_id}")]
    if session.recently_ended(call_id):
        return [ack, Drop(ChannelDrop.LATE_INVITE, f"data call {call_id} already ended")]
    holding = hold_message(session, call_id, env, pair, now)
    if holding is None:
        return [Drop(ChannelDrop.TOO_MANY_HELD, f"{msg.TYPE} for data call {call_id} not held")]
    return [ack, *holding]


@attrs.frozen(slots=True)
class _InviteOwner:
    """A data channel as its invite's :class:`~rtcstate.reliable.ReliableOwner`: where the
    invite goes (read at each send: the data call's device once it answered), the calls'
    schedule, the channel's ``rtx`` timer."""

    channel: DataChannel

    @property
    def remote(self) -> str:
        return self.channel._invite_to()

    @property
    def settings(self) -> CallSettings:
        return self.channel.session.settings

    @property
    def rtx_timer_id(self) -> str:
        return self.channel._tid(ChannelTimer.RTX)
