"""Owner notices: what a machine tells the machine that owns it, as typed values.

Theory of operation
-------------------
Some machines serve another machine instead of the application: a data call serves its data
channel (or, until the user decides, the received invitation that carries it); a data channel
serves a file transfer. Such a child does not fire apiRTC events at its owner, to be matched back
by name: it tells it one of the frozen values below, with the real ``now`` of the input that
caused it (``owner.call_notice(fx, notice, now)``, ``owner.channel_notice(fx, notice, now)``).
The owner declares each notice class as an input of its table (``Inputs.notices``), exactly as
it declares wire message classes, so the notice picks the trigger and a pair without a row is a
declared verdict. Without an owner the child fires its apiRTC events for the application: the
``Emit`` is built only there, at the boundary.

A child's end is told exactly once, by one *final* notice (``FINAL`` is True): the call by
:class:`CallEnded` or, when the far side refused it before it was established,
:class:`CallDeclined`; the channel by :class:`ChannelEnded` or :class:`ChannelDeclined`.

Who sends which
---------------
* :class:`~rtcstate.call.Call` → its owner (a DataChannel, a ReceivedDataChannelInvitation, a
  ReceivedFileTransferInvitation): :class:`CallEstablished` (the caller's call connected, where
  the application would hear ``accepted``), :class:`CallEnded` (``hangup {from, reason}``) or
  :class:`CallDeclined` (``hangup`` then ``declined {reason}``).
* :class:`~rtcstate.datachannel.DataChannel` → its owner (a FileTransfer, a
  ReceivedFileTransferInvitation): :class:`ChannelAccepted` (``accepted``),
  :class:`ChannelOpened` (``opened``), :class:`ChannelClosed` (``closed``),
  :class:`ChannelEnded` (``ended {from}``) or :class:`ChannelDeclined` (``ended``, ``declined``).
* :class:`~rtcstate.transfer.FileSender` → its FileTransfer and
  :class:`~rtcstate.transfer.FileReceiver` → its ReceivedFileTransferInvitation: the notices of
  :mod:`rtcstate.transfer.notices` (progress, completed, cancelled, failed, ...), told through
  ``owner.transfer_notice(fx, notice, now)``.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rtcstate.codes import (
    LOCAL_ERROR_TO_WIRE_REASON,
    WIRE_REASON_TO_DISTANT_ERROR,
    ErrorCode,
    HangupFrom,
    HangupReason,
)

__all__ = [
    "CallDeclined",
    "CallEnded",
    "CallEstablished",
    "CallNotice",
    "ChannelAccepted",
    "ChannelClosed",
    "ChannelDeclined",
    "ChannelEnded",
    "ChannelNotice",
    "ChannelOpened",
    "end_code",
]

_LOCAL_CODES: dict[str, ErrorCode] = {r.value: c for c, r in LOCAL_ERROR_TO_WIRE_REASON.items()}
_REASONS = frozenset(r.value for r in HangupReason)


def end_code(frm: HangupFrom, reason: str) -> ErrorCode | None:
    """The error the application heard with an end of ``reason``: the local error whose wire
    reason it is (a local end), or the ``DISTANT_*`` error it maps to (a remote one)."""
    if frm is HangupFrom.LOCAL:
        return _LOCAL_CODES.get(reason)
    if reason not in _REASONS:
        return None
    return WIRE_REASON_TO_DISTANT_ERROR.get(HangupReason(reason))


# --- Call -> owner ---------------------------------------------------------------------------


@attrs.frozen(slots=True)
class CallEstablished:
    """The caller's call connected for the first time (the application's ``accepted``)."""

    FINAL: ClassVar[bool] = False


@attrs.frozen(slots=True)
class CallEnded:
    """The call is over (the application's ``hangup {from, reason}``); ``code``: the error that
    came with it, if any (:func:`end_code`)."""

    FINAL: ClassVar[bool] = True
    frm: HangupFrom
    reason: str
    code: ErrorCode | None = None

    @classmethod
    def of(cls, frm: HangupFrom, reason: str) -> CallEnded:
        return cls(frm, reason, end_code(frm, reason))


@attrs.frozen(slots=True)
class CallDeclined:
    """The far side ended the caller's call before it was established (refused, busy, not
    found): the application's ``hangup {from: "remote", reason}`` then ``declined {reason}``."""

    FINAL: ClassVar[bool] = True
    reason: str

    @property
    def frm(self) -> HangupFrom:
        return HangupFrom.REMOTE

    @property
    def code(self) -> ErrorCode | None:
        return end_code(HangupFrom.REMOTE, self.reason)


CallNotice = CallEstablished | CallEnded | CallDeclined


# --- DataChannel -> owner --------------------------------------------------------------------


@attrs.frozen(slots=True)
class ChannelAccepted:
    """The initiator's data call was established (the application's ``accepted``)."""

    FINAL: ClassVar[bool] = False


@attrs.frozen(slots=True)
class ChannelOpened:
    """The RTCDataChannel is open (again, after a :class:`ChannelClosed` under a live call)."""

    FINAL: ClassVar[bool] = False


@attrs.frozen(slots=True)
class ChannelClosed:
    """The RTCDataChannel closed (the data call may live on: see the grace period)."""

    FINAL: ClassVar[bool] = False


@attrs.frozen(slots=True)
class ChannelEnded:
    """The channel's data call is over (the application's ``ended {from}``)."""

    FINAL: ClassVar[bool] = True
    frm: HangupFrom
    reason: str
    code: ErrorCode | None = None


@attrs.frozen(slots=True)
class ChannelDeclined:
    """The far side refused the initiator's data call (``ended``, then ``declined``)."""

    FINAL: ClassVar[bool] = True
    reason: str

    @property
    def frm(self) -> HangupFrom:
        return HangupFrom.REMOTE

    @property
    def code(self) -> ErrorCode | None:
        return end_code(HangupFrom.REMOTE, self.reason)


ChannelNotice = ChannelAccepted | ChannelOpened | ChannelClosed | ChannelEnded | ChannelDeclined
