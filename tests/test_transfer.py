"""rtcstate.transfer: frames, the sender and receiver machines, the mux.

* the frame codec: every frame round-trips, anything else raises only ``FrameError``;
* scenarios through the public API on a sender and a receiver joined by a channel the test
  drives (:class:`Pair`) or two muxes (:class:`Muxes`): the happy path with its exact effects
  and events, flow control, cancel from either side, too large, declined, a wrong digest or
  size, out-of-order / duplicated / missing / oversize chunks, unknown ids, concurrent
  transfers, resume after the channel closes (mid-file, after DONE, after COMPLETE), timeouts,
  misuse raising with the state unchanged;
* table level: :func:`check_pair` over every (state, trigger) pair of both machines and
  :func:`check_differential` against ``transitions``;
* input level: every public input kind in every state reached through the public API
  (Hypothesis draws the input): no exception but a command's ``RtcError`` (state unchanged),
  and the new state is one the table allows.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcstate.codes import ErrorCode, ErrorNumber
from rtcstate.drops import catalogue
from rtcstate.effects import CancelTimer, Drop, Effect, Emit, SendData, StartTimer
from rtcstate.errors import InvalidStateError, RtcError
from rtcstate.machine import ILLEGAL, Ignore, MachineDefinitionError, MachineSpec, spec_of
from rtcstate.media import (
    BufferedAmountHigh,
    BufferedAmountLow,
    DataChannelClosed,
    DataChannelMessage,
    DataChannelOpened,
    IceStateChanged,
    MediaEvent,
)
from rtcstate.testing.exhaustive import (
    check_differential,
    check_input_pair,
    check_pair,
    input_pairs,
    pairs,
    snapshot,
)
from rtcstate.transfer import (
    MAGIC,
    Accept,
    Ack,
    Cancel,
    CancelCode,
    Chunk,
    Complete,
    Done,
    FileReceiver,
    FileReceiverState,
    FileSender,
    FileSenderState,
    Frame,
    FrameError,
    FrameType,
    MuxDrop,
    NeedData,
    Offer,
    ReceivedData,
    ReceiverDrop,
    Reject,
    RejectCode,
    Resume,
    SenderDrop,
    TransferErrorCode,
    TransferMux,
    TransferSettings,
    _Digest,
    _Piece,
    decode_frame,
    encode_frame,
    is_transfer_frame,
)
from rtcstate.transfer.inputs import check_replies, flatten
from rtcstate.transfer.mux import (
    ForTransfer,
    MuxState,
    NewChannel,
    OtherChannel,
    TransferSettled,
    TransferTimer,
    UnknownId,
)
from rtcstate.transfer.receiver import RECEIVER_REPLIES, ReceiverTimer
from rtcstate.transfer.sender import SENDER_REPLIES, SenderTimer

SS = FileSenderState
RS = FileReceiverState
MAX_STEPS = 100_000


def decoded(fx: list[Effect]) -> list[Frame]:
    """The frames sent by ``fx``."""
    out = []
    for e in fx:
        if isinstance(e, SendData):
            assert isinstance(e.data, bytes)
            out.append(decode_frame(e.data))
    return out


def sent(frame: Frame, channel: str = "ch") -> SendData:
    return SendData(channel, encode_frame(frame))


class Pair:
    """One FileSender and one FileReceiver on a controllable in-order channel."""

    def __init__(
        self,
        data: bytes,
        *,
        chunk_size: int = 4,
        window: int = 8,
        max_chunk_size: int = 1 << 20,
        max_size: int = 1 << 40,
        settings: TransferSettings | None = None,
        auto_accept: bool = True,
        auto_feed: bool = True,
        tid: str = "t1",
    ) -> None:
        self.data = data
        self.view = memoryview(data)
        self.settings = settings or TransferSettings()
        self.sender = FileSender(
            tid, "ch", len(data), "f.bin", "application/octet-stream",
            chunk_size=chunk_size, window=window, settings=self.settings,
        )  # fmt: skip
        self.receiver = FileReceiver(
            tid, "ch", max_size=max_size, max_chunk_size=max_chunk_size, settings=self.settings
        )
        self.auto_accept = auto_accept
        self.auto_feed = auto_feed
        self.now = 0.0
        self.to_receiver: deque[bytes] = deque()
        self.to_sender: deque[bytes] = deque()
        self.needs: deque[NeedData] = deque()
        self.received = bytearray()
        self.events: list[tuple[str, str, Any]] = []  # (side "s"/"r", event, payload)
        self.drops: list[tuple[str, Drop]] = []
        self.timers: dict[str, tuple[float, str]] = {}  # id -> (deadline, side)
        self.log: list[tuple[str, Effect]] = []

    # --- effects ---------------------------------------------------------------------------

    def absorb(self, side: str, fx: list[Effect]) -> list[Effect]:
        for e in fx:
            self.log.append((side, e))
            if isinstance(e, SendData):
                assert isinstance(e.data, bytes)
                (self.to_receiver if side == "s" else self.to_sender).append(e.data)
            elif isinstance(e, Emit):
                self.events.append((side, e.event, e.payload))
            elif isinstance(e, NeedData):
                self.needs.append(e)
            elif isinstance(e, ReceivedData):
                assert e.offset == len(self.received), (e.offset, len(self.received))
                self.received += e.data
            elif isinstance(e, StartTimer):
                self.timers[e.timer_id] = (e.deadline, side)
            elif isinstance(e, CancelTimer):
                self.timers.pop(e.timer_id, None)
            elif isinstance(e, Drop):
                self.drops.append((side, e))
            else:  # pragma: no cover
                raise AssertionError(f"unexpected effect {e!r}")
        return fx

    # --- driving ---------------------------------------------------------------------------

    def start(self) -> list[Effect]:
        return self.absorb("s", self.sender.start(self.now))

    def deliver_to_receiver(self) -> list[Effect]:
        fx = self.receiver.on_frame(self.to_receiver.popleft(), self.now)
        self.absorb("r", fx)
        if self.auto_accept and self.receiver.state is FileReceiverState.OFFERED:
            self.absorb("r", self.receiver.accept(self.now))
        return fx

    def deliver_to_sender(self) -> list[Effect]:
        return self.absorb("s", self.sender.on_frame(self.to_sender.popleft(), self.now))

    def feed_next(self, size: int | None = None) -> list[Effect]:
        need = self.needs.popleft()
        n = need.size if size is None else min(size, need.size)
        piece = self.view[need.offset : need.offset + n]
        return self.absorb("s", self.sender.feed(self.now, need.offset, piece))

    def run(self, feed: bool | None = None) -> None:
        """Deliver every frame in order and feed every request until nothing moves."""
        feed = self.auto_feed if feed is None else feed
        for _ in range(MAX_STEPS):
            if self.to_receiver:
                self.deliver_to_receiver()
            elif self.to_sender:
                self.deliver_to_sender()
            elif feed and self.needs and not self.sender.finished:
                self.feed_next()
            else:
                return
        raise AssertionError("the pair did not settle")  # pragma: no cover

    def close(self) -> None:
        """The channel closes: frames in flight are lost, both sides are told."""
        self.to_receiver.clear()
        self.to_sender.clear()
        self.absorb("s", self.sender.channel_closed(self.now))
        self.absorb("r", self.receiver.channel_closed(self.now))

    def reopen(self, receiver_first: bool = True) -> None:
        order = ("r", "s") if receiver_first else ("s", "r")
        for side in order:
            machine = self.receiver if side == "r" else self.sender
            self.absorb(side, machine.channel_opened(self.now, "ch2"))

    def advance(self, until: float) -> None:
        """Fire every timer due up to ``until``, in deadline order, then move the clock."""
        for _ in range(MAX_STEPS):
            due = [(d, t, side) for t, (d, side) in self.timers.items() if d <= until]
            if not due:
                break
            deadline, timer_id, side = min(due)
            del self.timers[timer_id]
            self.now = max(self.now, deadline)
            machine: FileSender | FileReceiver = self.sender if side == "s" else self.receiver
            self.absorb(side, machine.timer_fired(timer_id, self.now))
        self.now = max(self.now, until)

    # --- reading ---------------------------------------------------------------------------

    def names(self, side: str) -> list[str]:
        return [name for s, name, _ in self.events if s == side]

    def payloads(self, side: str, event: str) -> list[Any]:
        return [p for s, name, p in self.events if s == side and name == event]

    @property
    def states(self) -> tuple[FileSenderState, FileReceiverState]:
        return self.sender.state, self.receiver.state


class Muxes:
    """Two TransferMux ("a" and "b") on one in-order channel, with applications."""

    def __init__(
        self,
        files: dict[str, bytes],
        settings: TransferSettings | None = None,
        *,
        decide: Callable[[FileReceiver], bool] | None = None,
        **mux_options: Any,
    ) -> None:
        self.settings = settings or TransferSettings()
        self.mux = {
            side: TransferMux("ch", self.settings, scope=f"{side}/", **mux_options)
            for side in ("a", "b")
        }
        self.files = files  # transfer id -> bytes (whoever sends it)
        self.decide = decide or (lambda r: True)
        self.queues: dict[str, deque[bytes]] = {"a": deque(), "b": deque()}  # to that side
        self.received: dict[tuple[str, str], bytearray] = {}
        self.events: list[tuple[str, str, str, Any]] = []  # (side, target, event, payload)
        self.needs: deque[tuple[str, NeedData]] = deque()
        self.now = 0.0

    def other(self, side: str) -> str:
        return "b" if side == "a" else "a"

    def absorb(self, side: str, fx: list[Effect]) -> None:
        for e in fx:
            if isinstance(e, SendData):
                assert isinstance(e.data, bytes)
                self.queues[self.other(side)].append(e.data)
            elif isinstance(e, Emit):
                self.events.append((side, e.target, e.event, e.payload))
                if e.event == "fileTransferInvitation":
                    receiver = e.payload
                    assert isinstance(receiver, FileReceiver)
                    if self.decide(receiver):
                        self.absorb(side, receiver.accept(self.now))
                    else:
                        self.absorb(side, receiver.decline(self.now, "no thanks"))
            elif isinstance(e, NeedData):
                self.needs.append((side, e))
            elif isinstance(e, ReceivedData):
                buf = self.received.setdefault((side, e.transfer_id), bytearray())
                assert e.offset == len(buf)
                buf += e.data

    def send(self, side: str, tid: str, chunk_size: int = 5, window: int = 16) -> FileSender:
        sender, fx = self.mux[side].send_file(
            self.now, tid, len(self.files[tid]), f"{tid}.bin", chunk_size=chunk_size,
            window=window,
        )  # fmt: skip
        self.absorb(side, fx)
        return sender

    def run(self) -> None:
        for _ in range(MAX_STEPS):
            for side in ("a", "b"):
                if self.queues[side]:
                    self.absorb(
                        side, self.mux[side].on_frame(self.queues[side].popleft(), self.now)
                    )
                    break
            else:
                if not self.needs:
                    return
                side, need = self.needs.popleft()
                sender = self.mux[side].sender(need.transfer_id)
                assert sender is not None
                if sender.finished:
                    continue
                data = memoryview(self.files[need.transfer_id])[need.offset :]
                self.absorb(side, sender.feed(self.now, need.offset, data[: need.size]))
        raise AssertionError("the muxes did not settle")  # pragma: no cover

    def names(self, side: str, target_prefix: str = "") -> list[str]:
        return [ev for s, t, ev, _ in self.events if s == side and t.startswith(target_prefix)]


# --- frames -----------------------------------------------------------------------------------

TID = st.text(min_size=1, max_size=12).filter(lambda s: len(s.encode()) <= 255)
TEXT = st.text(max_size=16)
U64 = st.integers(0, 2**64 - 1)
SIZE = st.integers(0, 2**63 - 1)
U32 = st.integers(1, 2**32 - 1)


def frames(tid: st.SearchStrategy[str] = TID) -> st.SearchStrategy[Frame]:
    return st.one_of(
        st.builds(Offer, tid, SIZE, U32, U32, TEXT, TEXT),
        st.builds(Chunk, tid, U64, st.binary(min_size=1, max_size=48)),
        st.builds(Done, tid, U64, st.binary(min_size=32, max_size=32)),
        st.builds(Cancel, tid, st.booleans(), st.sampled_from(CancelCode), TEXT),
        st.builds(Accept, tid, U32, U64),
        st.builds(Reject, tid, st.sampled_from(RejectCode), TEXT),
        st.builds(Ack, tid, U64),
        st.builds(Complete, tid, U64),
        st.builds(Resume, tid, U32, U64),
    )


@given(frames())
def test_every_frame_round_trips(frame: Frame) -> None:
    data = encode_frame(frame)
    assert data[0] == MAGIC and is_transfer_frame(data)
    back = decode_frame(data)
    assert back == frame and type(back) is type(frame)
    assert encode_frame(back) == data
    assert bool(data[2] & 0x10) == back.to_sender


def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.integers(0, len(data)).map(lambda i: data[:i]),
        st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)).map(
            lambda t: data[: t[0]] + bytes([t[1]]) + data[t[0] + 1 :]
        ),
        st.binary(min_size=1, max_size=8).map(lambda extra: data + extra),
    )


@given(st.binary(max_size=64) | frames().map(encode_frame).flatmap(_mutations))
def test_garbage_raises_only_frame_error(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except FrameError as exc:
        assert exc.reason
        return
    assert encode_frame(frame) == data  # what decodes is canonical


def test_decode_errors_say_what_they_know() -> None:
    with pytest.raises(FrameError, match="text message"):
        decode_frame("hello")
    with pytest.raises(FrameError, match="magic"):
        decode_frame(b"\xdc\x01\x02\x01x")
    with pytest.raises(FrameError, match="version"):
        decode_frame(bytes([MAGIC, 9, 1, 1]) + b"x")
    with pytest.raises(FrameError) as unknown:
        decode_frame(bytes([MAGIC, 1, 0x7F, 2]) + b"id")
    assert unknown.value.transfer_id == "id" and unknown.value.to_sender is None
    good = encode_frame(Ack("id", 5))
    with pytest.raises(FrameError) as short:
        decode_frame(good[:-1])
    assert short.value.transfer_id == "id" and short.value.to_sender is True
    with pytest.raises(FrameError, match="empty chunk"):
        decode_frame(encode_frame(Chunk("id", 0, b"x"))[:-1])
    assert not is_transfer_frame("text") and not is_transfer_frame(b"")
    with pytest.raises(ValueError):
        encode_frame(Ack("", 1))
    with pytest.raises(ValueError):
        encode_frame(Ack("x" * 256, 1))
    with pytest.raises(ValueError):
        encode_frame(Done("x", 1, b"short"))


def test_chunk_payload_is_a_view_into_the_frame() -> None:
    data = encode_frame(Chunk("t", 7, b"payload"))
    frame = decode_frame(data)
    assert isinstance(frame, Chunk) and isinstance(frame.payload, memoryview)
    assert frame.payload == b"payload" and frame.payload.obj is data


# --- scenarios ------------------------------------------------------------------------------

DATA = bytes(range(97, 107))  # b"abcdefghij"
SHA = hashlib.sha256(DATA).digest()


def info(size: int, offset: int, chunks: int, duration: float, uuid: str = "t1") -> dict[str, Any]:
    return {
        "uuid": uuid,
        "fileSize": size,
        "remainingSize": size - offset,
        "percentage": 100.0 if size == 0 else round(100.0 * offset / size, 2),
        "sendChunkNb": chunks,
        "transferDuration": duration,
        "lastPacket": offset >= size,
    }


def test_happy_path_exact_effects() -> None:
    s = FileSender("t1", "ch", 10, "a.txt", "text/plain", chunk_size=4, window=8)
    r = FileReceiver("t1", "ch", max_chunk_size=3)
    offer = Offer("t1", 10, 4, 8, "a.txt", "text/plain")
    assert s.start(0.0) == [sent(offer), StartTimer("outgoingTransfer:t1:offer", 5.0)]
    assert r.on_frame(encode_frame(offer), 1.0) == [] and r.state is RS.OFFERED
    assert r.file_info == {"name": "a.txt", "type": "text/plain", "size": 10}
    # (the idle timer fires every reack_interval, 10 s, to repeat the ACK if nothing came)
    assert r.accept(1.0) == [sent(Accept("t1", 3, 0)), StartTimer("incomingTransfer:t1:idle", 11.0)]
    assert s.on_frame(encode_frame(Accept("t1", 3, 0)), 2.0) == [
        CancelTimer("outgoingTransfer:t1:offer"),
        Emit("outgoingTransfer:t1", "accepted", {"uuid": "t1", "chunkSize": 3}),
        NeedData("t1", 0, 3),
    ]
    assert s.feed(3.0, 0, b"abc") == [
        sent(Chunk("t1", 0, b"abc")),
        StartTimer("outgoingTransfer:t1:ack", 33.0),
        NeedData("t1", 3, 3),
    ]
    assert s.feed(3.0, 3, b"def") == [sent(Chunk("t1", 3, b"def")), NeedData("t1", 6, 3)]
    # a partial feed: 2 of the 3 bytes; 8 bytes unacknowledged fill the window: no request
    assert s.feed(3.0, 6, b"gh") == [sent(Chunk("t1", 6, b"gh"))]
    assert s.requested is None and s.kept_bytes == 8
    assert r.on_frame(encode_frame(Chunk("t1", 0, b"abc")), 4.0) == [
        ReceivedData("t1", 0, b"abc"),
        Emit("incomingTransfer:t1", "progress", info(10, 3, 1, 3.0)),
        sent(Ack("t1", 3)),
    ]
    assert s.on_frame(encode_frame(Ack("t1", 3)), 5.0) == [
        Emit("outgoingTransfer:t1", "transferProgress", info(10, 3, 1, 5.0)),
        NeedData("t1", 8, 2),
    ]
    for chunk in (Chunk("t1", 3, b"def"), Chunk("t1", 6, b"gh")):
        r.on_frame(encode_frame(chunk), 6.0)
    assert s.feed(7.0, 8, b"ij") == [
        sent(Chunk("t1", 8, b"ij")),
        CancelTimer("outgoingTransfer:t1:ack"),
        sent(Done("t1", 10, SHA)),
        StartTimer("outgoingTransfer:t1:done", 12.0),
    ]
    assert s.state is SS.FINISHING
    assert r.on_frame(encode_frame(Chunk("t1", 8, b"ij")), 8.0)[1] == Emit(
        "incomingTransfer:t1", "progress", info(10, 10, 4, 7.0)
    )
    assert r.on_frame(encode_frame(Done("t1", 10, SHA)), 9.0) == [
        CancelTimer("incomingTransfer:t1:idle"),
        sent(Complete("t1", 10)),
        Emit("incomingTransfer:t1", "transferComplete", info(10, 10, 4, 8.0)),
    ]
    assert r.state is RS.COMPLETED and r.digest == SHA.hex()
    assert s.on_frame(encode_frame(Complete("t1", 10)), 10.0) == [
        CancelTimer("outgoingTransfer:t1:done"),
        Emit("outgoingTransfer:t1", "transferComplete", info(10, 10, 4, 10.0)),
    ]
    assert s.state is SS.COMPLETED and s.finished and s.kept_bytes == 0


@pytest.mark.parametrize("size", [0, 1, 4, 37, 200])
def test_pair_delivers_byte_identical_files(size: int) -> None:
    data = bytes((i * 7) % 251 for i in range(size))
    p = Pair(data, chunk_size=5, window=12)
    p.start()
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED)
    assert bytes(p.received) == data
    for side in "sr":
        assert p.names(side).count("transferComplete") == 1
        assert "error" not in p.names(side) and "cancelled" not in p.names(side)
    assert p.payloads("r", "transferComplete")[0]["fileSize"] == size
    assert not p.timers  # every timer was cancelled
    progress = [x["remainingSize"] for x in p.payloads("r", "progress")]
    assert progress == sorted(progress, reverse=True) and len(progress) == -(-size // 5)


def test_window_bounds_what_the_sender_keeps() -> None:
    p = Pair(bytes(100), chunk_size=4, window=10)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()  # ACCEPT
    for _ in range(10):
        if p.needs:
            p.feed_next()
    # 12 bytes kept (three chunks: the window, rounded up to a chunk), nothing more requested
    assert p.sender.kept_bytes == 12 and not p.needs and p.sender.requested is None
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED)


def test_flow_control_pauses_and_resumes() -> None:
    p = Pair(bytes(range(40)), chunk_size=4, window=64)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    assert p.sender.state is SS.SENDING and len(p.needs) == 1
    p.absorb("s", p.sender.buffered_high(p.now))
    assert p.sender.state is SS.PAUSED
    # the request already out is still honoured, but nothing more is asked for
    fx = p.feed_next()
    assert [type(e) for e in fx] == [SendData, StartTimer] and not p.needs
    p.run()
    assert p.sender.state is SS.PAUSED and not p.needs and len(p.received) == 4
    # a second high is harmless; low resumes the flow
    assert p.sender.buffered_high(p.now) == []
    fx = p.absorb("s", p.sender.buffered_low(p.now))
    assert p.sender.state is SS.SENDING and fx == [NeedData("t1", 4, 4)]
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED) and bytes(p.received) == bytes(range(40))


def test_congestion_reported_before_acceptance_starts_paused() -> None:
    p = Pair(bytes(8), chunk_size=4)
    p.start()
    p.absorb("s", p.sender.buffered_high(p.now))
    p.deliver_to_receiver()
    p.deliver_to_sender()
    assert p.sender.state is SS.PAUSED and not p.needs
    p.absorb("s", p.sender.buffered_low(p.now))
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED)


def _midway(data: bytes = bytes(range(60)), window: int = 16, **kw: Any) -> Pair:
    p = Pair(data, chunk_size=4, window=window, **kw)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    for _ in range(3):
        p.feed_next()
        p.deliver_to_receiver()
    assert p.states == (SS.SENDING, RS.RECEIVING)
    return p


def test_sender_cancel() -> None:
    p = _midway()
    fx = p.absorb("s", p.sender.cancel(p.now, "changed my mind"))
    assert decoded(fx) == [Cancel("t1", False, CancelCode.CANCELLED, "changed my mind")]
    p.run()
    assert p.states == (SS.CANCELLED, RS.CANCELLED)
    assert p.payloads("s", "cancelled") == [
        {"uuid": "t1", "from": "local", "reason": "changed my mind"}
    ]
    assert p.payloads("r", "cancelled") == [
        {"uuid": "t1", "from": "remote", "reason": "changed my mind"}
    ]
    assert not p.timers and "transferComplete" not in p.names("r")


def test_receiver_cancel() -> None:
    p = _midway()
    p.absorb("r", p.receiver.cancel(p.now))
    p.run()
    assert p.states == (SS.CANCELLED, RS.CANCELLED)
    assert p.payloads("r", "cancelled")[0]["from"] == "local"
    assert p.payloads("s", "cancelled")[0]["from"] == "remote"
    assert not p.timers


def test_receiver_cancel_crossing_done_ends_both_cancelled() -> None:
    p = Pair(bytes(8), chunk_size=4)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    p.feed_next()
    p.feed_next()
    assert p.sender.state is SS.FINISHING  # chunks and DONE in flight
    p.absorb("r", p.receiver.cancel(p.now))
    p.run()
    assert p.states == (SS.CANCELLED, RS.CANCELLED)


def test_sender_cannot_cancel_once_done_is_out() -> None:
    p = Pair(bytes(4), chunk_size=4)
    p.start()
    p.run(feed=False)
    p.feed_next()
    assert p.sender.state is SS.FINISHING
    before = snapshot(p.sender)
    with pytest.raises(InvalidStateError) as exc:
        p.sender.cancel(p.now)
    assert exc.value.code == ErrorNumber.ERROR_WRONG_STATE
    assert snapshot(p.sender) == before


def test_too_large_is_rejected() -> None:
    p = Pair(bytes(100), max_size=99)
    p.start()
    p.run()
    assert p.states == (SS.REJECTED, RS.DECLINED)
    assert p.payloads("s", "declined") == [
        {"uuid": "t1", "code": "too large", "reason": "100 > 99 bytes"}
    ]
    [error] = p.payloads("r", "error")
    assert error["errorCode"] == TransferErrorCode.TRANSFER_TOO_LARGE
    assert error["type"] == "receiveDataChannelError"
    assert not p.received and not p.timers


def test_decline() -> None:
    p = Pair(bytes(10), auto_accept=False)
    p.start()
    p.run()
    assert p.receiver.state is RS.OFFERED
    p.absorb("r", p.receiver.decline(p.now, "busy right now"))
    p.run()
    assert p.states == (SS.REJECTED, RS.DECLINED)
    assert p.payloads("s", "declined") == [
        {"uuid": "t1", "code": "declined", "reason": "busy right now"}
    ]
    # a repeated OFFER (the REJECT was lost) is answered again
    assert decoded(p.receiver.on_frame(encode_frame(p.receiver.offer), p.now)) == [  # type: ignore[arg-type]
        Reject("t1", RejectCode.DECLINED, "busy right now")
    ]


def _error_codes(p: Pair, side: str) -> list[str]:
    return [e["errorCode"] for e in p.payloads(side, "error")]


def _ends_in_error(p: Pair, code: TransferErrorCode) -> None:
    p.run()
    assert p.states == (SS.FAILED, RS.FAILED)
    assert _error_codes(p, "r") == [code]
    assert _error_codes(p, "s") == [TransferErrorCode.TRANSFER_REMOTE_ERROR]
    assert "transferComplete" not in p.names("r") + p.names("s")
    assert not p.timers


def test_wrong_digest_is_an_error_not_a_completion() -> None:
    p = Pair(DATA, chunk_size=4, window=64)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    while p.needs:
        p.feed_next()
    done = p.to_receiver.pop()
    assert isinstance(decode_frame(done), Done)
    p.to_receiver.append(encode_frame(Done("t1", 10, bytes(32))))
    _ends_in_error(p, TransferErrorCode.TRANSFER_DIGEST_MISMATCH)
    assert bytes(p.received) == DATA  # handed over, but never reported complete


def test_done_before_the_last_byte_is_a_truncation_error() -> None:
    p = Pair(DATA, chunk_size=4, window=64)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    while p.needs:
        p.feed_next()
    frames_in_flight = list(p.to_receiver)
    p.to_receiver = deque(f for f in frames_in_flight if decode_frame(f) != Chunk("t1", 8, b"ij"))
    _ends_in_error(p, TransferErrorCode.TRANSFER_SIZE_MISMATCH)


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("reorder", TransferErrorCode.TRANSFER_CHUNK_GAP),
        ("missing", TransferErrorCode.TRANSFER_CHUNK_GAP),
        ("duplicate", TransferErrorCode.TRANSFER_CHUNK_DUPLICATE),
        ("oversize", TransferErrorCode.TRANSFER_CHUNK_OVERSIZE),
        ("past-end", TransferErrorCode.TRANSFER_CHUNK_OVERSIZE),
        ("garbled", TransferErrorCode.MESSAGE_DECODE_ERROR),
    ],
)
def test_bad_chunks_end_both_sides_in_error(tamper: str, code: TransferErrorCode) -> None:
    p = Pair(DATA, chunk_size=4, window=64)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    p.feed_next()
    p.feed_next()
    first, second = p.to_receiver.popleft(), p.to_receiver.popleft()
    bad = {
        "reorder": [second, first],
        "missing": [second],
        "duplicate": [first, first],
        "oversize": [encode_frame(Chunk("t1", 0, b"abcde"))],
        "past-end": [first, second, encode_frame(Chunk("t1", 8, b"ijk"))],
        "garbled": [first[:-9]],
    }[tamper]
    p.to_receiver.extend(bad)
    _ends_in_error(p, code)
    assert not bytes(p.received) or DATA.startswith(bytes(p.received))


def test_ack_beyond_what_was_sent_fails_the_sender() -> None:
    p = _midway()
    p.to_sender.clear()
    p.to_sender.append(encode_frame(Ack("t1", 59)))
    p.run()
    assert p.states == (SS.FAILED, RS.FAILED)
    assert _error_codes(p, "s") == [TransferErrorCode.UNEXPECTED_MESSAGE]
    assert _error_codes(p, "r") == [TransferErrorCode.TRANSFER_REMOTE_ERROR]


def test_harmless_repeats_are_dropped() -> None:
    p = _midway()
    accept = encode_frame(Accept("t1", 4, 0))
    assert p.sender.on_frame(accept, p.now)[0].reason == "stale-frame"  # type: ignore[attr-defined]
    assert p.sender.on_frame(encode_frame(Ack("t1", 0)), p.now)[0].reason == "stale-frame"  # type: ignore[attr-defined]
    # a repeated OFFER while receiving is answered with where the receiver stands
    offer = p.receiver.offer
    assert offer is not None
    assert decoded(p.receiver.on_frame(encode_frame(offer), p.now)) == [Resume("t1", 4, 12)]
    assert decoded(p.sender.on_frame(encode_frame(Resume("t1", 4, 12)), p.now)) == []
    # a different offer under the same id is a protocol error
    other = attrs.evolve(offer, size=61)
    p.absorb("r", p.receiver.on_frame(encode_frame(other), p.now))
    p.run()
    assert p.states == (SS.FAILED, RS.FAILED)


def test_finished_sides_repeat_their_last_word() -> None:
    p = Pair(DATA, chunk_size=4)
    p.start()
    p.run()
    done = encode_frame(Done("t1", 10, SHA))
    assert decoded(p.receiver.on_frame(done, p.now)) == [Complete("t1", 10)]
    assert decoded(p.receiver.on_frame(encode_frame(Chunk("t1", 0, b"a")), p.now)) == [
        Complete("t1", 10)
    ]
    wrong = encode_frame(Done("t1", 10, bytes(32)))
    assert [type(e) for e in p.receiver.on_frame(wrong, p.now)] == [Drop]
    assert p.sender.on_frame(encode_frame(Ack("t1", 10)), p.now)[0] == Drop(
        "finished", "Ack in COMPLETED"
    )
    q = _midway()
    q.absorb("s", q.sender.cancel(q.now, "bye"))
    q.to_receiver.clear()  # the CANCEL is lost
    assert decoded(q.sender.on_frame(encode_frame(Ack("t1", 4)), q.now)) == [
        Cancel("t1", False, CancelCode.CANCELLED, "bye")
    ]
    assert (
        decoded(q.sender.on_frame(encode_frame(Cancel("t1", True, CancelCode.CANCELLED)), 0)) == []
    )


def test_frames_for_another_transfer_or_direction_are_dropped() -> None:
    p = _midway()
    assert p.sender.on_frame(encode_frame(Ack("zz", 4)), 0)[0].reason == "other-transfer"  # type: ignore[attr-defined]
    assert p.sender.on_frame(encode_frame(Chunk("t1", 4, b"x")), 0)[0].reason == "wrong-direction"  # type: ignore[attr-defined]
    assert p.receiver.on_frame(encode_frame(Ack("t1", 4)), 0)[0].reason == "wrong-direction"  # type: ignore[attr-defined]
    assert p.receiver.on_frame(b"\x00garbage", 0)[0].reason == "undecodable"  # type: ignore[attr-defined]
    assert p.states == (SS.SENDING, RS.RECEIVING)


# --- resume -----------------------------------------------------------------------------------


@pytest.mark.parametrize("receiver_first", [True, False])
def test_resume_after_the_channel_closes_mid_file(receiver_first: bool) -> None:
    data = bytes(range(60))
    p = _midway(data, window=32)
    p.feed_next()  # a fourth chunk in flight...
    p.close()  # ...lost with the channel
    assert p.states == (SS.INTERRUPTED, RS.INTERRUPTED)
    # the receiver holds 12 bytes; the sender has no ACK yet and keeps all 16 it was given
    assert p.payloads("s", "interrupted") == [{"uuid": "t1", "offset": 0}]
    assert p.payloads("r", "interrupted") == [{"uuid": "t1", "offset": 12}]
    assert p.sender.kept_bytes == 16
    p.feed_next()  # the application may still answer a request made before the close
    p.now = 10.0
    p.reopen(receiver_first)
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED) and bytes(p.received) == data
    assert p.payloads("r", "resumed") == [{"uuid": "t1", "offset": 12}]
    assert p.payloads("s", "resumed") == [{"uuid": "t1", "offset": 12}]
    assert p.sender.channel_id == "ch2" and p.receiver.channel_id == "ch2"
    assert not p.timers


def test_resume_when_done_was_lost() -> None:
    p = Pair(DATA, chunk_size=4, window=64)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    while p.needs:
        p.feed_next()
    for _ in range(3):
        p.deliver_to_receiver()  # every chunk arrives, DONE does not
    assert p.receiver.received == 10 and len(p.to_receiver) == 1
    p.close()
    p.reopen()
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED) and bytes(p.received) == DATA


def test_resume_when_complete_was_lost() -> None:
    p = Pair(DATA, chunk_size=4, window=64)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    while p.needs:
        p.feed_next()
    while p.to_receiver:
        p.deliver_to_receiver()
    assert p.receiver.state is RS.COMPLETED and p.sender.state is SS.FINISHING
    p.close()  # COMPLETE lost
    with pytest.raises(InvalidStateError):
        p.sender.cancel(p.now)  # the receiver may well hold the file: too late
    p.reopen(receiver_first=False)
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED)
    assert p.names("s").count("transferComplete") == 1


def test_congestion_while_reconnecting_resumes_paused() -> None:
    """Found by the property test: high reported during the hello, then RESUME, then low."""
    p = _midway(window=32)
    p.close()
    p.reopen(receiver_first=False)
    p.absorb("s", p.sender.buffered_high(p.now))  # another transfer filled the new channel
    assert p.sender.state is SS.OFFERING
    p.run(feed=False)
    assert p.sender.state is SS.PAUSED and p.receiver.received == 12
    p.absorb("s", p.sender.buffered_low(p.now))
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED) and bytes(p.received) == bytes(range(60))


def test_offer_lost_with_the_channel_is_offered_again() -> None:
    p = Pair(DATA, chunk_size=4)
    p.start()
    p.close()
    assert p.sender.state is SS.INTERRUPTED
    p.reopen()
    assert p.sender.state is SS.OFFERING
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED)


def test_accept_while_the_channel_is_down() -> None:
    p = Pair(DATA, chunk_size=4, auto_accept=False)
    p.start()
    p.deliver_to_receiver()
    p.close()
    p.absorb("r", p.receiver.accept(p.now))
    assert p.receiver.state is RS.INTERRUPTED and not p.to_sender
    p.reopen()
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED)


def test_start_while_the_channel_is_down() -> None:
    s = FileSender("t1", "ch", 3, channel_up=False)
    fx = s.start(0.0)
    assert s.state is SS.INTERRUPTED and fx == [StartTimer("outgoingTransfer:t1:resume", 60.0)]
    fx = s.channel_opened(1.0)
    assert s.state is SS.OFFERING and isinstance(decoded(fx)[0], Offer)
    assert CancelTimer("outgoingTransfer:t1:resume") in fx


def test_resume_timeout_fails_both_sides() -> None:
    p = _midway()
    p.close()
    p.advance(61.0)
    assert p.states == (SS.FAILED, RS.FAILED)
    assert _error_codes(p, "s") == _error_codes(p, "r") == [TransferErrorCode.TRANSFER_TIMED_OUT]
    assert not p.timers


def test_bad_resume_offset_is_a_protocol_error() -> None:
    p = _midway()
    p.close()
    p.absorb("s", p.sender.channel_opened(1.0))
    fx = p.sender.on_frame(encode_frame(Resume("t1", 4, 40)), 1.0)
    assert p.sender.state is SS.FAILED and decoded(fx) == [
        Cancel("t1", False, CancelCode.FAILED, "UNEXPECTED_MESSAGE")
    ]


# --- timers -----------------------------------------------------------------------------------


def test_ack_timeout_fails_the_sender() -> None:
    settings = TransferSettings(ack_timeout=10.0)
    p = Pair(bytes(100), chunk_size=4, window=8, settings=settings)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    p.feed_next()
    p.feed_next()
    p.to_receiver.clear()  # never delivered: no ACK will come
    p.advance(5.0)
    assert p.sender.state is SS.SENDING
    p.advance(10.0)
    assert p.sender.state is SS.FAILED
    assert _error_codes(p, "s") == [TransferErrorCode.TRANSFER_TIMED_OUT]


def test_ack_timer_is_lazy_and_follows_progress() -> None:
    settings = TransferSettings(ack_timeout=10.0, idle_timeout=1000.0)
    p = Pair(bytes(40), chunk_size=4, window=16, settings=settings)  # an ACK per chunk
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    for step in range(1, 10):
        p.now = float(step * 4)
        p.feed_next()
        p.deliver_to_receiver()
        p.deliver_to_sender()
        p.advance(p.now)
    # progress every 4 s: the 10 s timer fired (at 10, 20, 30) and re-armed; never failed
    assert p.sender.state is SS.SENDING
    started = [e for side, e in p.log if isinstance(e, StartTimer) and e.timer_id.endswith(":ack")]
    assert 2 <= len(started) <= 5
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED)


def test_idle_timeout_fails_the_receiver() -> None:
    p = _midway(settings=TransferSettings(idle_timeout=20.0, ack_timeout=100.0))
    p.advance(19.0)
    assert p.receiver.state is RS.RECEIVING
    p.advance(25.0)
    assert p.receiver.state is RS.FAILED and _error_codes(p, "r") == ["TRANSFER_TIMED_OUT"]
    p.run()
    assert p.sender.state is SS.FAILED and _error_codes(p, "s") == ["TRANSFER_REMOTE_ERROR"]


def test_done_is_repeated_then_the_sender_gives_up() -> None:
    settings = TransferSettings(done_interval=2.0, done_attempts=3)
    p = Pair(DATA, chunk_size=4, window=64, settings=settings)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    while p.needs:
        p.feed_next()
    p.to_receiver.clear()
    p.advance(3.0)
    assert isinstance(decode_frame(p.to_receiver[-1]), Done)  # repeated
    p.to_receiver.clear()
    p.advance(10.0)
    assert p.sender.state is SS.FAILED
    dones = [e for side, e in p.log if isinstance(e, SendData) and e.data[2] == 0x03]
    assert len(dones) == 3


def test_offer_is_repeated_and_answer_timeout_gives_up() -> None:
    settings = TransferSettings(offer_interval=2.0, answer_timeout=5.0)
    p = Pair(DATA, settings=settings)
    p.start()
    p.to_receiver.clear()
    p.advance(4.5)
    assert len(p.to_receiver) == 2 and p.sender.state is SS.OFFERING
    p.advance(6.5)
    assert p.sender.state is SS.FAILED and _error_codes(p, "s") == ["TRANSFER_TIMED_OUT"]


def test_stale_and_foreign_timers_are_dropped() -> None:
    p = _midway()
    assert p.sender.timer_fired("outgoingTransfer:t1:done", 0)[0].reason == "stale-timer"  # type: ignore[attr-defined]
    assert p.sender.timer_fired("call:x:rtx", 0)[0].reason == "stale-timer"  # type: ignore[attr-defined]
    assert p.receiver.timer_fired("incomingTransfer:t1:resume", 0)[0].reason == "stale-timer"  # type: ignore[attr-defined]


# --- misuse -----------------------------------------------------------------------------------


def _refused(machine: Any, call: Callable[[], Any], code: ErrorNumber) -> None:
    before = snapshot(machine)
    with pytest.raises(RtcError) as exc:
        call()
    assert exc.value.code == code
    assert snapshot(machine) == before


def test_misuse_raises_and_changes_nothing() -> None:
    p = _midway()
    s, r = p.sender, p.receiver
    need = p.needs[0]
    _refused(s, lambda: s.start(0), ErrorNumber.ERROR_WRONG_STATE)
    _refused(s, lambda: s.feed(0, need.offset + 1, b"x"), ErrorNumber.ERROR_BAD_PARAMETER)
    _refused(s, lambda: s.feed(0, need.offset, b""), ErrorNumber.ERROR_BAD_PARAMETER)
    _refused(s, lambda: s.feed(0, need.offset, bytes(5)), ErrorNumber.ERROR_BAD_PARAMETER)
    _refused(r, lambda: r.accept(0), ErrorNumber.ERROR_INVITATION_STATE_INVALID)
    _refused(r, lambda: r.decline(0), ErrorNumber.ERROR_INVITATION_STATE_INVALID)
    _refused(r, lambda: r.cancel(0, "x" * 5000), ErrorNumber.ERROR_BAD_PARAMETER)
    p.feed_next()
    _refused(s, lambda: s.feed(0, 16, b"x"), ErrorNumber.ERROR_WRONG_STATE)  # nothing asked
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED)
    _refused(s, lambda: s.cancel(0), ErrorNumber.ERROR_WRONG_STATE)
    _refused(s, lambda: s.feed(0, 0, b"x"), ErrorNumber.ERROR_WRONG_STATE)
    _refused(r, lambda: r.cancel(0), ErrorNumber.ERROR_WRONG_STATE)
    fresh = FileReceiver("t1", "ch")
    _refused(fresh, lambda: fresh.accept(0), ErrorNumber.ERROR_INVITATION_STATE_INVALID)


def test_bad_construction_parameters() -> None:
    for kwargs in (
        {"transfer_id": ""},
        {"transfer_id": "é" * 200},
        {"size": -1},
        {"chunk_size": 0},
        {"window": 2**32},
        {"name": "n" * 5000},
    ):
        args: dict[str, Any] = {"transfer_id": "t", "channel_id": "c", "size": 1, **kwargs}
        with pytest.raises(RtcError) as exc:
            FileSender(**args)
        assert exc.value.code == ErrorNumber.ERROR_BAD_PARAMETER
    with pytest.raises(RtcError):
        FileReceiver("t", "c", max_chunk_size=0)


def test_feed_accepts_any_byte_buffer() -> None:
    p = Pair(bytes(range(12)), chunk_size=4, window=64)
    p.start()
    p.deliver_to_receiver()
    p.deliver_to_sender()
    p.absorb("s", p.sender.feed(p.now, 0, bytearray(b"\x00\x01\x02\x03")))
    import array

    p.absorb("s", p.sender.feed(p.now, 4, memoryview(array.array("B", [4, 5, 6, 7]))))
    p.absorb("s", p.sender.feed(p.now, 8, memoryview(bytes(range(8, 12)))))
    p.needs.clear()
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED) and bytes(p.received) == bytes(range(12))


# --- the mux ----------------------------------------------------------------------------------


def test_concurrent_transfers_in_both_directions() -> None:
    files = {f"f{i}": bytes((i * 31 + j) % 256 for j in range(17 * i + 3)) for i in range(5)}
    m = Muxes(files)
    senders = [m.send("a", "f0"), m.send("a", "f1"), m.send("b", "f2"), m.send("a", "f3")]
    senders.append(m.send("b", "f4", chunk_size=2, window=3))
    m.run()
    for s in senders:
        assert s.state is SS.COMPLETED, s
    for tid, data in files.items():
        side = "b" if tid in ("f0", "f1", "f3") else "a"
        assert bytes(m.received[(side, tid)]) == data
        receiver = m.mux[side].receiver(tid)
        assert receiver is not None and receiver.state is RS.COMPLETED
    invitations = [e for e in m.events if e[2] == "fileTransferInvitation"]
    assert len(invitations) == 5
    assert m.names("a", "outgoingTransfer:a/f0").count("transferComplete") == 1
    assert m.names("b", "incomingTransfer:b/f0").count("transferComplete") == 1


def test_the_same_id_in_both_directions_does_not_collide() -> None:
    m = Muxes({"x": b"hello world"})
    a = m.send("a", "x")
    b = m.send("b", "x")
    m.run()
    assert a.state is b.state is SS.COMPLETED
    assert m.received[("a", "x")] == m.received[("b", "x")] == b"hello world"


def test_mux_answers_unknown_ids_and_garbage() -> None:
    mux = TransferMux("ch")
    fx = mux.on_frame(encode_frame(Chunk("nope", 0, b"x")), 0)
    assert fx[0] == Emit(
        "dataChannel:ch",
        "error",
        {
            "uuid": "nope",
            "errorCode": "MESSAGE_FOR_UNKNOWN_ID",
            "errorInfo": TransferErrorCode.MESSAGE_FOR_UNKNOWN_ID.info,
            "detail": "Chunk for unknown transfer 'nope'",
        },
    )
    assert decoded(fx) == [Cancel("nope", True, CancelCode.FAILED, "MESSAGE_FOR_UNKNOWN_ID")]
    fx = mux.on_frame(encode_frame(Ack("nope", 3)), 0)
    assert decoded(fx) == [Cancel("nope", False, CancelCode.FAILED, "MESSAGE_FOR_UNKNOWN_ID")]
    for quiet in (Cancel("nope", True, CancelCode.FAILED), Complete("nope", 1), Reject("n", 1)):  # type: ignore[arg-type]
        assert [type(e) for e in mux.on_frame(encode_frame(quiet), 0)] == [Drop]
    [error] = mux.on_frame(b"\xf7\x01", 0)
    assert isinstance(error, Emit) and error.payload["errorCode"] == "MESSAGE_DECODE_ERROR"
    assert ErrorCode.MESSAGE_DECODE_ERROR == TransferErrorCode.MESSAGE_DECODE_ERROR
    assert mux.timer_fired("incomingTransfer:zz:idle", 0)[0].reason == "stale-timer"  # type: ignore[attr-defined]


def test_mux_refuses_offers_beyond_max_incoming() -> None:
    mux = TransferMux("ch", max_incoming=2)
    for i in range(2):
        fx = mux.on_frame(encode_frame(Offer(f"t{i}", 10, 4, 8)), 0)
        assert fx[-1].event == "fileTransferInvitation"  # type: ignore[attr-defined]
    fx = mux.on_frame(encode_frame(Offer("t2", 10, 4, 8)), 0)
    assert decoded(fx) == [Reject("t2", RejectCode.BUSY, "2 transfers in progress")]
    assert mux.receiver("t2") is None


def test_mux_forgets_the_oldest_finished_transfers() -> None:
    m = Muxes({f"f{i}": bytes([i]) * 3 for i in range(5)}, linger=2)
    for i in range(5):
        m.send("a", f"f{i}")
    m.run()
    assert sorted(t.transfer_id for t in m.mux["a"]) == ["f3", "f4"]
    assert sorted(t.transfer_id for t in m.mux["b"].transfers()) == ["f3", "f4"]


def test_mux_resumes_every_transfer_after_a_reconnection() -> None:
    files = {"f0": bytes(range(50)), "f1": bytes(range(50, 90))}
    m = Muxes(files)
    m.send("a", "f0")
    m.send("a", "f1")
    for _ in range(12):  # part of the way
        for side in ("b", "a"):
            if m.queues[side]:
                m.absorb(side, m.mux[side].on_frame(m.queues[side].popleft(), m.now))
        if m.needs:
            side, need = m.needs.popleft()
            sender = m.mux[side].sender(need.transfer_id)
            assert sender is not None
            view = memoryview(files[need.transfer_id])
            m.absorb(side, sender.feed(m.now, need.offset, view[need.offset :][: need.size]))
    m.queues["a"].clear()
    m.queues["b"].clear()
    for side in ("a", "b"):
        m.absorb(side, m.mux[side].media_event(DataChannelClosed("ch"), m.now))
    assert all(t.state.name == "INTERRUPTED" for t in m.mux["a"])
    for side in ("b", "a"):
        m.absorb(side, m.mux[side].media_event(DataChannelOpened("ch-new"), m.now))
    m.run()
    assert all(t.state.name == "COMPLETED" for t in [*m.mux["a"], *m.mux["b"]])
    assert m.received[("b", "f0")] == files["f0"] and m.received[("b", "f1")] == files["f1"]
    assert m.mux["a"].channel_id == "ch-new"


def test_mux_media_events() -> None:
    m = Muxes({"f": bytes(20)})
    sender = m.send("a", "f")
    mux = m.mux["a"]
    assert mux.media_event(BufferedAmountHigh("ch"), 0) == []
    assert sender.state is SS.OFFERING
    assert mux.media_event(BufferedAmountLow("ch"), 0) == []
    assert mux.media_event(BufferedAmountHigh("other"), 0)[0].reason == "other-channel"  # type: ignore[attr-defined]
    assert mux.media_event(IceStateChanged("c", "connected"), 0)[0].reason == "other-channel"  # type: ignore[attr-defined]
    assert mux.media_event(DataChannelOpened("ch"), 0)[0].reason == "unexpected-report"  # type: ignore[attr-defined]
    fx = m.mux["b"].media_event(DataChannelMessage("ch", m.queues["b"].popleft()), 0)
    assert isinstance(fx[-1], Emit) and fx[-1].event == "fileTransferInvitation"


def test_mux_rejects_a_duplicate_outgoing_id() -> None:
    mux = TransferMux("ch")
    mux.send_file(0, "x", 3)
    with pytest.raises(RtcError) as exc:
        mux.send_file(0, "x", 3)
    assert exc.value.code == ErrorNumber.ERROR_BAD_PARAMETER


# --- table level ------------------------------------------------------------------------------

NOW = st.floats(0, 1e4, allow_nan=False, allow_infinity=False)
SETTINGS = TransferSettings(answer_timeout=50.0)
ERROR_CODES = st.sampled_from(list(TransferErrorCode))


def _args(**keywords: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(lambda now, kw: ((now,), kw), NOW, st.fixed_dictionaries(keywords))


TIMER = st.sampled_from(["offer", "ack", "done", "resume", "idle"])
SENDER_ARGS = {
    "feed": _args(data=st.binary(min_size=1, max_size=20)),
    "cancel": _args(reason=TEXT),
    "accepted": _args(chunk=st.integers(1, 8)),
    "rejected": _args(code=st.sampled_from(RejectCode), reason=TEXT),
    "resumed": _args(offset=st.integers(0, 80)),
    "acked": _args(offset=st.integers(0, 80)),
    "remote_cancel": _args(reason=TEXT),
    "remote_failure": _args(reason=TEXT),
    "protocol_error": _args(code=ERROR_CODES, detail=TEXT),
    "channel_opened": _args(channel_id=st.none() | st.just("ch9")),
    **{t: _args(timer=TIMER) for t in ("offer_timer", "ack_timer", "done_timer", "resume_timer")},
    # frame inputs: the decoded frame, as the generic dispatch passes it
    "answer": _args(
        frame=st.builds(Accept, st.just("t1"), st.integers(1, 10), st.integers(0, 2))
        | st.builds(Resume, st.just("t1"), st.integers(1, 10), st.integers(0, 80))
    ),
    "ack": _args(frame=st.builds(Ack, st.just("t1"), st.integers(0, 80))),
    "complete": _args(frame=st.builds(Complete, st.just("t1"), st.sampled_from([64, 63, 0]))),
    "reject": _args(frame=st.builds(Reject, st.just("t1"), st.sampled_from(RejectCode), TEXT)),
    "garbled": _args(detail=TEXT),
}


@attrs.frozen
class SenderShape:
    """Sender fields the conditions and callbacks read (consistent with each other)."""

    accepted: bool
    pieces: int
    acked: int
    sent: int
    up: bool
    congested: bool
    done_sent: bool
    done_tries: int
    request: bool
    offered_at: float | None
    ack_since: float
    armed: frozenset[str]


SENDER_SHAPES = st.builds(
    SenderShape,
    st.booleans(),
    st.integers(0, 8),
    st.integers(0, 8),
    st.integers(0, 8),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(0, 7),
    st.booleans(),
    st.none() | NOW,
    NOW,
    st.frozensets(TIMER.filter(lambda t: t != "idle")),
)


def _shape_sender(s: FileSender, shape: SenderShape) -> None:
    pieces = shape.pieces if shape.accepted else 0
    acked = min(shape.acked, pieces) * 8
    sent = max(min(shape.sent, pieces) * 8, acked)
    s._chunk = 8 if shape.accepted else 0
    s._pieces = deque(_Piece(o, bytes([o]) * 8) for o in range(acked, pieces * 8, 8))
    s._fed, s._acked, s._next, s._high = pieces * 8, acked, sent, sent
    s._hash = _Digest()
    s._hash.h.update(bytes(pieces * 8))
    s._channel_up = shape.up
    s._congested = shape.congested
    s._done_sent = shape.done_sent
    s._done_tries = shape.done_tries
    s._request = (s._fed, 8) if shape.request and s._fed < s.size and shape.accepted else None
    s._offered_at = shape.offered_at
    s._ack_since = shape.ack_since
    s._armed = {name: 1.0 for name in sorted(shape.armed)}


def _sender(cls: type[FileSender] = FileSender) -> FileSender:
    return cls("t1", "ch", 64, "f", "m", chunk_size=8, window=24, settings=SETTINGS)


@pytest.mark.parametrize(("state", "trigger"), pairs(FileSender))
def test_sender_every_state_trigger_pair(state: FileSenderState, trigger: str) -> None:
    check_pair(
        FileSender, state, trigger, _sender, SENDER_ARGS, prepare=_shape_sender,
        prepare_values=SENDER_SHAPES, max_examples=12,
    )  # fmt: skip


RECEIVER_ARGS = {
    "offered": _args(
        frame=st.builds(Offer, st.just("t1"), st.integers(0, 200), st.integers(1, 16), U32)
    ),
    "chunk": _args(offset=st.integers(0, 64), data=st.binary(min_size=1, max_size=8)),
    "done": _args(
        size=st.integers(0, 80),
        digest=st.binary(min_size=32, max_size=32) | st.just(hashlib.sha256(bytes(16)).digest()),
    ),
    "decline": _args(reason=TEXT),
    "cancel": _args(reason=TEXT),
    "remote_cancel": _args(reason=TEXT),
    "remote_failure": _args(reason=TEXT),
    "protocol_error": _args(code=ERROR_CODES, detail=TEXT),
    "channel_opened": _args(channel_id=st.none() | st.just("ch9")),
    **{t: _args(timer=TIMER) for t in ("idle_timer", "resume_timer", "ack_timer")},
    "garbled": _args(detail=TEXT),
}


@attrs.frozen
class ReceiverShape:
    offered: bool
    size: int
    held: int
    up: bool
    last_rx: float
    armed: frozenset[str]


RECEIVER_SHAPES = st.builds(
    ReceiverShape,
    st.booleans(),
    st.integers(0, 64),
    st.integers(0, 64),
    st.booleans(),
    NOW,
    st.frozensets(st.sampled_from(["idle", "resume", "ack"])),
)


def _shape_receiver(r: FileReceiver, shape: ReceiverShape) -> None:
    if shape.offered:
        r.offer = Offer("t1", shape.size, 8, 32)
        r._chunk = 8
        r._ack_every = 8
        held = min(shape.held, shape.size)
    else:
        r.offer, r._chunk, held = None, 0, 0
    r._held = r._last_ack = held
    r._hash = _Digest()
    r._hash.h.update(bytes(held))
    r._channel_up = shape.up
    r._last_rx = shape.last_rx
    r._armed = {name: 1.0 for name in sorted(shape.armed)}


def _receiver(cls: type[FileReceiver] = FileReceiver) -> FileReceiver:
    return cls("t1", "ch", max_size=100, max_chunk_size=6, settings=SETTINGS)


@pytest.mark.parametrize(("state", "trigger"), pairs(FileReceiver))
def test_receiver_every_state_trigger_pair(state: FileReceiverState, trigger: str) -> None:
    check_pair(
        FileReceiver, state, trigger, _receiver, RECEIVER_ARGS, prepare=_shape_receiver,
        prepare_values=RECEIVER_SHAPES, max_examples=12,
    )  # fmt: skip


def test_compiled_sender_table_agrees_with_transitions() -> None:
    check_differential(
        FileSender, _sender, SENDER_ARGS, prepare=_shape_sender, prepare_values=SENDER_SHAPES,
        max_steps=25, max_examples=200,
    )  # fmt: skip


def test_compiled_receiver_table_agrees_with_transitions() -> None:
    check_differential(
        FileReceiver, _receiver, RECEIVER_ARGS, prepare=_shape_receiver,
        prepare_values=RECEIVER_SHAPES, max_steps=25, max_examples=200,
    )  # fmt: skip


def _values(key: Any, to_sender: bool) -> st.SearchStrategy[Any]:
    """Inputs of ``key``: a frame of that type, undecodable bytes' error, a report, a timer."""
    tid = st.just("t1")
    frames: dict[Any, st.SearchStrategy[Any]] = {
        Accept: st.builds(Accept, tid, st.integers(1, 10), st.integers(0, 2)),
        Resume: st.builds(Resume, tid, st.integers(1, 10), st.integers(0, 80)),
        Ack: st.builds(Ack, tid, st.integers(0, 80)),
        Complete: st.builds(Complete, tid, st.sampled_from([64, 63, 0])),
        Reject: st.builds(Reject, tid, st.sampled_from(RejectCode), TEXT),
        Cancel: st.builds(Cancel, tid, st.just(to_sender), st.sampled_from(CancelCode), TEXT),
        FrameError: st.builds(FrameError, TEXT, tid, st.just(to_sender)),
        Offer: st.builds(Offer, tid, st.integers(0, 200), st.integers(1, 16), U32)
        | st.just(Offer("t1", 40, 8, 32)),
        Chunk: st.builds(Chunk, tid, st.integers(0, 64), st.binary(min_size=1, max_size=9)),
        Done: st.builds(
            Done,
            tid,
            st.integers(0, 80),
            st.binary(min_size=32, max_size=32) | st.just(hashlib.sha256(bytes(16)).digest()),
        ),
    }
    if key in frames:
        return frames[key]
    if isinstance(key, type):  # a channel report
        return st.builds(key, st.sampled_from(["ch", "ch9"]))
    return st.none()  # a timer


def _keywords(key: Any, value: Any) -> dict[str, Any]:
    if key is FrameError:
        return {"detail": value.reason}
    if isinstance(value, Frame):
        return {"frame": value}
    if key is DataChannelOpened:
        return {"channel_id": value.channel_id}
    if isinstance(key, SenderTimer | ReceiverTimer):
        return {"timer": key.value}
    return {}


def check_transfer_input(
    machine: Any, replies: Any, state: Any, key: Any, shape: Any, value: Any, now: float
) -> None:
    """One (state, input) pair through the machine's generic dispatch: never raises; a trigger
    is a legal transition, a declared Drop leaves the state (and, unless its reason has a
    reply, the whole object) as it was; the Drop is exactly the declared one."""
    spec = spec_of(machine)
    machine.state = state
    shape(machine)
    outcome = spec.outcome(state, key, value)
    before = snapshot(machine)
    fx = machine._deliver(key, value, now, "why", **_keywords(key, value))
    assert all(isinstance(e, Effect) for e in fx), fx
    if isinstance(outcome, str):
        reached = spec.destinations(state, outcome) | {state}
        reached |= {d for r in reached for d in spec.destinations(r, "all_sent")}
        assert machine.state in reached, (state, key, machine.state)
        return
    assert machine.state is state
    if outcome.reason in replies:
        assert not any(isinstance(e, Emit | StartTimer) for e in fx), fx
        own = set(type(outcome.reason))
        assert all(e.reason in own for e in fx if isinstance(e, Drop)), fx
    else:
        assert fx == [Drop(outcome.reason, "why")], (fx, outcome)
        assert snapshot(machine) == before


@pytest.mark.parametrize(("state", "key"), input_pairs(FileSender))
def test_sender_every_state_input_pair(state: FileSenderState, key: Any) -> None:
    @settings(max_examples=12, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(shape=SENDER_SHAPES, value=_values(key, True), now=NOW)
    def run(shape: SenderShape, value: Any, now: float) -> None:
        check_transfer_input(
            _sender(), SENDER_REPLIES, state, key, lambda m: _shape_sender(m, shape), value, now
        )

    run()


@pytest.mark.parametrize(("state", "key"), input_pairs(FileReceiver))
def test_receiver_every_state_input_pair(state: FileReceiverState, key: Any) -> None:
    @settings(max_examples=12, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(shape=RECEIVER_SHAPES, value=_values(key, False), now=NOW)
    def run(shape: ReceiverShape, value: Any, now: float) -> None:
        check_transfer_input(
            _receiver(), RECEIVER_REPLIES, state, key, lambda m: _shape_receiver(m, shape),
            value, now,
        )  # fmt: skip

    run()


def _mux_with_a_transfer() -> TransferMux:
    mux = TransferMux("ch", max_incoming=1)
    mux.send_file(0.0, "t1", 10, chunk_size=4, window=8)
    mux.on_frame(encode_frame(Offer("r1", 10, 4, 8)), 0.0)  # one live incoming: the next is busy
    return mux


def _mux_values(key: Any) -> st.SearchStrategy[Any]:
    if key is ForTransfer:
        return st.builds(Ack, st.just("t1"), st.integers(0, 12)) | st.builds(
            Chunk, st.just("r1"), st.integers(0, 12), st.binary(min_size=1, max_size=4)
        )
    if key is Offer:
        return st.builds(Offer, st.just("n1"), st.integers(0, 30), st.integers(1, 8), U32)
    if key is UnknownId:
        return frames(st.just("zz")).filter(lambda f: not isinstance(f, Offer))
    if key is FrameError:
        return st.builds(FrameError, TEXT)
    if key is DataChannelMessage:  # a frame, or bytes that do not decode, on its channel
        data = st.binary(max_size=12) | _mux_values(ForTransfer).map(encode_frame)
        return st.builds(DataChannelMessage, st.just("ch"), data)
    if key is NewChannel:  # another channel opened
        return st.builds(DataChannelOpened, st.just("ch2"))
    if key is OtherChannel:  # any report about another channel (or about none)
        return (
            st.builds(DataChannelClosed, st.just("ch2"))
            | st.builds(BufferedAmountHigh, st.just("ch2"))
            | st.builds(IceStateChanged, st.just("c1"), TEXT)
        )
    if key is TransferSettled:  # a transfer that took an input: running or finished
        return st.builds(_settled, st.booleans())
    if key is TransferTimer:  # a timer id of a transfer it holds, or of none
        held = st.sampled_from(sorted(_mux_with_a_transfer()._by_timer))
        return st.builds(_TimerId, held | st.just("outgoingTransfer:zz:ack"))
    return st.builds(key, st.just("ch"))


@attrs.frozen
class _TimerId:
    timer_id: str


@attrs.frozen
class _Settled:
    transfer: FileSender


def _settled(finished: bool) -> _Settled:
    sender = _mux_with_a_transfer().sender("t1")
    assert sender is not None
    if finished:
        sender.cancel(0.0)
    return _Settled(sender)


def _mux_deliver(mux: TransferMux, value: Any, now: float) -> list[Effect]:
    if isinstance(value, _TimerId):
        return mux.timer_fired(value.timer_id, now)
    if isinstance(value, _Settled):
        return mux._after(value.transfer, [], now)
    if isinstance(value, MediaEvent):  # its generic entry: own channel, another, a message
        return mux.media_event(value, now)
    if isinstance(value, FrameError):
        return mux._deliver(FrameError, value, now, error=value)
    if isinstance(value, Frame):
        owner = (mux._senders if value.to_sender else mux._receivers).get(value.transfer_id)
        if owner is not None:
            return mux._deliver(ForTransfer, None, now, owner=owner, frame=value)
        key = Offer if isinstance(value, Offer) else UnknownId
        return mux._deliver(key, value, now, frame=value)
    return mux._deliver(type(value), value, now)


@pytest.mark.parametrize(("state", "key"), input_pairs(TransferMux))
def test_mux_every_state_input_pair(state: MuxState, key: Any) -> None:
    check_input_pair(
        TransferMux, state, key, _mux_with_a_transfer, _mux_values(key), _mux_deliver,
        max_examples=10,
    )  # fmt: skip


def test_mux_final_words_for_unknown_ids_are_dropped_by_declaration() -> None:
    spec = spec_of(TransferMux)
    for frame in (
        Cancel("zz", True, CancelCode.FAILED),
        Complete("zz", 1),
        Reject("zz", RejectCode.BUSY),
    ):
        outcome = spec.outcome(MuxState.UP, UnknownId, frame)
        assert isinstance(outcome, Drop) and outcome.reason == MuxDrop.UNKNOWN_TRANSFER
    assert spec.outcome(MuxState.UP, UnknownId, Ack("zz", 1)) == "unknown_id"
    assert spec.outcome(MuxState.DOWN, DataChannelOpened) == "channel_opened"
    illegal = spec.outcome(MuxState.UP, DataChannelOpened)
    assert isinstance(illegal, Drop) and illegal.reason == MuxDrop.UNEXPECTED_REPORT


def test_every_frame_type_is_an_input_of_one_side() -> None:
    sender, receiver = spec_of(FileSender).inputs, spec_of(FileReceiver).inputs
    assert sender is not None and receiver is not None
    assert set(sender.wire) == {Accept, Resume, Ack, Complete, Reject, Cancel, FrameError}
    assert set(receiver.wire) == {Offer, Chunk, Done, Cancel, FrameError}
    kinds = {FrameType.CANCEL, FrameType.CANCEL_TO_SENDER}
    named = {t for t in FrameType if t.name.title().replace("_", "") in
             {k.__name__ for k in (*sender.wire, *receiver.wire)}}  # fmt: skip
    assert named | kinds == set(FrameType)
    assert set(sender.timers) == set(SenderTimer) and set(receiver.timers) == set(ReceiverTimer)


def test_verdict_declarations_are_checked() -> None:
    with pytest.raises(MachineDefinitionError, match="two verdicts"):
        flatten({"ack": {"IDLE": ILLEGAL, ("IDLE", "SENDING"): ILLEGAL}})
    assert flatten({"ack": ILLEGAL, "feed": {("IDLE", "PAUSED"): ILLEGAL}}) == {
        "ack": ILLEGAL,
        ("feed", "IDLE"): ILLEGAL,
        ("feed", "PAUSED"): ILLEGAL,
    }
    with pytest.raises(MachineDefinitionError, match="no method"):
        check_replies(spec_of(FileSender), {SenderDrop.LAST_WORD: "_nope"})


def test_every_drop_reason_of_the_transfer_machines_is_catalogued() -> None:
    reasons = catalogue()
    for enum_cls in (SenderDrop, ReceiverDrop, MuxDrop):
        assert reasons.get(enum_cls)
    for cls, own in ((FileSender, SenderDrop), (FileReceiver, ReceiverDrop)):
        spec = spec_of(cls)
        used = {v.reason for by in spec.verdicts.values() for v in by.values()
                if isinstance(v, Ignore)}  # fmt: skip
        assert used <= set(own) and spec.unexpected in set(own)


# --- input level ------------------------------------------------------------------------------


def _fed_pair(data: bytes = bytes(range(24)), **kw: Any) -> Pair:
    p = Pair(data, chunk_size=4, window=8, auto_feed=False, **kw)
    p.start()
    p.run()
    return p


def _finishing() -> Pair:
    p = _fed_pair(bytes(8))
    p.feed_next()
    p.feed_next()
    return p


def _completed() -> Pair:
    p = Pair(bytes(8), chunk_size=4)
    p.start()
    p.run()
    return p


def _declined() -> Pair:
    p = Pair(bytes(8), auto_accept=False)
    p.start()
    p.run()
    p.absorb("r", p.receiver.decline(p.now))
    p.run()
    return p


def _with(p: Pair, step: Callable[[Pair], Any]) -> Pair:
    step(p)
    return p


def _failed() -> Pair:
    p = _fed_pair()
    p.absorb("r", p.receiver.on_frame(encode_frame(Chunk("t1", 8, b"zz")), p.now))
    p.run()
    return p


def _reconnecting() -> Pair:
    p = _fed_pair()
    p.feed_next()
    p.run()
    p.close()
    p.absorb("s", p.sender.channel_opened(p.now))
    return p


SCENARIOS: dict[str, Callable[[], Pair]] = {
    "idle": lambda: Pair(bytes(8)),
    "offering": lambda: _with(Pair(bytes(8)), Pair.start),
    "offered": lambda: _with(Pair(bytes(8), auto_accept=False), lambda p: (p.start(), p.run())),
    "sending": _fed_pair,
    "sending-fed": lambda: _with(_fed_pair(), lambda p: (p.feed_next(), p.run())),
    "paused": lambda: _with(_fed_pair(), lambda p: p.absorb("s", p.sender.buffered_high(p.now))),
    "interrupted": lambda: _with(_fed_pair(), Pair.close),
    "reconnecting": _reconnecting,
    "finishing": _finishing,
    "completed": _completed,
    "declined": _declined,
    "cancelled": lambda: _with(
        _fed_pair(), lambda p: (p.absorb("s", p.sender.cancel(p.now)), p.run())
    ),
    "failed": _failed,
    "new-receiver": lambda: Pair(bytes(8)),
}


def test_scenarios_reach_every_state() -> None:
    built = [SCENARIOS[name]() for name in SCENARIOS]
    assert {p.sender.state for p in built} == set(FileSenderState)
    assert {p.receiver.state for p in built} == set(FileReceiverState)


INPUT_KINDS = (
    "frame",
    "garbage",
    "mutated",
    "opened",
    "closed",
    "high",
    "low",
    "timer",
    "feed",
    "start",
    "cancel",
    "accept",
    "decline",
)
OFFSETS = st.integers(0, 30) | st.sampled_from([2**63, 2**64 - 1])


def _input(kind: str) -> st.SearchStrategy[Any]:
    tid = st.sampled_from(["t1", "t1", "t2"])
    if kind == "frame":
        plausible = st.one_of(
            st.builds(Chunk, tid, OFFSETS, st.binary(min_size=1, max_size=6)),
            st.builds(Ack, tid, OFFSETS),
            st.builds(Resume, tid, st.integers(1, 6), OFFSETS),
            st.builds(Accept, tid, st.integers(1, 6), st.integers(0, 2)),
            st.builds(Done, tid, OFFSETS, st.binary(min_size=32, max_size=32)),
            st.builds(Complete, tid, st.integers(0, 30)),
            st.builds(Offer, tid, st.integers(0, 30), st.integers(1, 6), st.integers(1, 9)),
        )
        return plausible | frames(tid)
    if kind == "garbage":
        return st.binary(max_size=24)
    if kind == "mutated":
        return frames(st.just("t1")).map(encode_frame).flatmap(_mutations)
    if kind == "opened":
        return st.none() | st.just("ch7")
    if kind == "timer":
        names = st.sampled_from(["offer", "ack", "done", "resume", "idle", "bogus"])
        return st.tuples(st.sampled_from(["outgoingTransfer:t1", "incomingTransfer:t1"]), names)
    if kind == "feed":
        return st.tuples(st.none() | st.integers(0, 30), st.binary(max_size=6))
    return TEXT


def _apply(p: Pair, side: str, kind: str, value: Any) -> list[Effect]:
    m: Any = p.sender if side == "s" else p.receiver
    now = p.now + 1.0
    if kind in ("frame", "garbage", "mutated"):
        data = encode_frame(value) if kind == "frame" else value
        return list(m.on_frame(data, now))
    if kind == "opened":
        return list(m.channel_opened(now, value))
    if kind == "closed":
        return list(m.channel_closed(now))
    if kind == "high":
        return list(m.buffered_high(now))
    if kind == "low":
        return list(m.buffered_low(now))
    if kind == "timer":
        prefix, name = value
        return list(m.timer_fired(f"{prefix}:{name}", now + 1000.0))
    if kind == "feed":
        offset, data = value
        request = p.sender.requested
        if offset is None and request is not None:  # a valid feed
            offset, data = request[0], bytes(request[1])
        return list(p.sender.feed(now, offset or 0, data))
    if kind == "start":
        return list(p.sender.start(now))
    if kind == "cancel":
        return list(m.cancel(now, value))
    if kind == "accept":
        return list(p.receiver.accept(now))
    return list(p.receiver.decline(now, value))


_SIDE_OF = {"feed": "s", "start": "s", "accept": "r", "decline": "r"}


def _allowed_after(spec: MachineSpec, state: Any) -> set[Any]:
    one = {state} | {d for t in spec.triggers for d in spec.destinations(state, t)}
    return one | {d for s in one for d in spec.destinations(s, "all_sent")}


@pytest.mark.parametrize("kind", INPUT_KINDS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_public_input_in_every_state(scenario: str, kind: str) -> None:
    @settings(
        max_examples=10, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(value=_input(kind), side=st.sampled_from(["s", "r"]))
    def run(value: Any, side: str) -> None:
        side = _SIDE_OF.get(kind, side)
        p = SCENARIOS[scenario]()
        machine: Any = p.sender if side == "s" else p.receiver
        spec = spec_of(machine)
        before_state, before = machine.state, snapshot(machine)
        try:
            fx = _apply(p, side, kind, value)
        except RtcError:
            assert kind in ("feed", "start", "cancel", "accept", "decline"), kind
            assert snapshot(machine) == before
            return
        assert all(isinstance(e, Effect) for e in fx), fx
        assert machine.state in _allowed_after(spec, before_state), (before_state, machine.state)
        if before_state in spec.final:
            assert machine.state is before_state
        if machine.state in spec.final and before_state not in spec.final:
            assert not machine._armed  # no timer outlives a transfer

    run()


def test_a_lost_ack_is_repeated_before_the_sender_gives_up() -> None:
    """An ACK lost when an adapter replaced the peer connection under the channel (the core
    never sees it): the receiver, hearing nothing for ``reack_interval``, says again what it
    holds, and the sender whose window was full goes on instead of failing at ``ack_timeout``."""
    settings = TransferSettings(ack_timeout=30.0, reack_interval=10.0, idle_timeout=60.0)
    p = _midway(settings=settings)  # window 16, chunks of 4: the ACKs of 12 bytes are queued
    p.to_sender.clear()  # ... and lost
    while p.needs:
        p.feed_next()
    p.deliver_to_receiver()
    p.to_sender.clear()  # the ACK of the full window is lost too: the sender waits
    assert p.sender.acknowledged < 16 and p.sender.requested is None
    p.advance(p.now + 10.5)  # the receiver repeats its ACK
    assert [type(decode_frame(f)).__name__ for f in p.to_sender] == ["Ack"]
    p.deliver_to_sender()
    assert p.sender.state is SS.SENDING and p.sender.acknowledged == 16
    p.run()
    assert p.states == (SS.COMPLETED, RS.COMPLETED)
