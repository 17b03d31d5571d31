"""File transfer over a data channel: the sans-I/O protocol core (sender, receiver, mux).

One concern per module: :mod:`~rtcstate.transfer.codec` (the ``0xF7`` frames),
:mod:`~rtcstate.transfer.settings`, :mod:`~rtcstate.transfer.common` (effects, error codes,
what both sides share), :mod:`~rtcstate.transfer.sender`, :mod:`~rtcstate.transfer.receiver`
and :mod:`~rtcstate.transfer.mux`; this package re-exports their public names.

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

A machine with an ``owner`` (a :class:`~rtcstate.transfer.notices.TransferOwner`: the session's
file transfers) fires none of these: it tells its owner the typed notice each is built from
(:mod:`rtcstate.transfer.notices`), where the event would have been, and the owner builds what
its application sees.

The frame format is documented in :mod:`rtcstate.transfer.codec`.
"""

from __future__ import annotations

from rtcstate.transfer.codec import (
    DIGEST_SIZE,
    MAGIC,
    MAX_ID_BYTES,
    MAX_TEXT_BYTES,
    VERSION,
    Accept,
    Ack,
    Cancel,
    CancelCode,
    Chunk,
    Complete,
    Done,
    Frame,
    FrameError,
    FrameType,
    Offer,
    Reject,
    RejectCode,
    Resume,
    decode_frame,
    encode_frame,
    is_transfer_frame,
)
from rtcstate.transfer.common import Digest as _Digest
from rtcstate.transfer.common import NeedData, ReceivedData, TransferErrorCode
from rtcstate.transfer.common import Piece as _Piece
from rtcstate.transfer.mux import MuxDrop, Transfer, TransferMux
from rtcstate.transfer.receiver import (
    RECEIVER_TRANSITIONS,
    FileReceiver,
    FileReceiverState,
    ReceiverDrop,
)
from rtcstate.transfer.sender import SENDER_TRANSITIONS, FileSender, FileSenderState, SenderDrop
from rtcstate.transfer.settings import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_CHUNK_SIZE,
    DEFAULT_MAX_SIZE,
    DEFAULT_WINDOW,
    TransferSettings,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_CHUNK_SIZE",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_WINDOW",
    "DIGEST_SIZE",
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
    "MuxDrop",
    "NeedData",
    "Offer",
    "ReceivedData",
    "ReceiverDrop",
    "Reject",
    "RejectCode",
    "Resume",
    "SenderDrop",
    "Transfer",
    "TransferErrorCode",
    "TransferMux",
    "TransferSettings",
    "_Digest",
    "_Piece",
    "decode_frame",
    "encode_frame",
    "is_transfer_frame",
]
