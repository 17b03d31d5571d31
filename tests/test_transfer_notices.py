"""An owned FileSender / FileReceiver tells its owner typed notices and fires no ``Emit``.

Two pairs run the same Hypothesis-drawn script side by side (frames lost, the channel closed and
opened again, feeds, accepts, declines, cancels, timers): one without owners (the plain transfer
API: the machines fire their events themselves) and one whose machines are owned by a recorder.
After every step the owned machines' effects hold no ``Emit``; everything else is identical; and
the recorder's notices, turned into events by :meth:`TransferNotice.event` at the place they were
told, give back the unowned effects exactly (names, payloads, order), each told with the step's
real ``now``. Each machine tells at most one final notice, and nothing after it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate.effects import CancelTimer, Effect, Emit, SendData, StartTimer
from rtcstate.errors import RtcError
from rtcstate.transfer import FileReceiver, FileReceiverState, FileSender, NeedData
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
from rtcstate.transfer.settings import TransferSettings

SETTINGS = TransferSettings(resume_timeout=5.0, idle_timeout=4.0, ack_timeout=3.0)
KINDS = (
    TransferAccepted, TransferCancelled, TransferCompleted, TransferDeclined, TransferFailed,
    TransferInterrupted, TransferProgress, TransferResumed,
)  # fmt: skip
OPS = st.sampled_from(
    ["pump", "pump", "pump", "feed", "feed", "lose", "close", "open", "time", "accept",
     "decline", "cancel_s", "cancel_r"]
)  # fmt: skip


class Recorder:
    """An owner that only notes what it is told, where in the child's effects and when."""

    def __init__(self) -> None:
        self.told: list[tuple[int, TransferNotice, float]] = []
        self.finals = 0
        self.after_final: list[TransferNotice] = []

    def transfer_notice(self, fx: list[Effect], notice: TransferNotice, now: float) -> None:
        if self.finals:
            self.after_final.append(notice)
        self.finals += notice.FINAL
        self.told.append((len(fx), notice, now))


class Side:
    """One pair: a sender, a receiver, the frames between them, their timers."""

    def __init__(self, size: int, chunk: int, window: int, owned: bool) -> None:
        self.rec = {"s": Recorder(), "r": Recorder()}
        own: dict[str, Any] = {k: (r if owned else None) for k, r in self.rec.items()}
        self.m: dict[str, Any] = {
            "s": FileSender("t1", "ch", size, "f", "x/y", chunk, window, SETTINGS, owner=own["s"]),
            "r": FileReceiver("t1", "ch", settings=SETTINGS, owner=own["r"]),
        }
        self.queue: dict[str, deque[bytes]] = {"s": deque(), "r": deque()}  # frames *to* a side
        self.needs: deque[NeedData] = deque()
        self.timers: dict[str, tuple[float, str]] = {}

    def absorb(self, side: str, fx: list[Effect]) -> None:
        for e in fx:
            if isinstance(e, SendData):
                assert isinstance(e.data, bytes)
                self.queue["r" if side == "s" else "s"].append(e.data)
            elif isinstance(e, NeedData):
                self.needs.append(e)
            elif isinstance(e, StartTimer):
                self.timers[e.timer_id] = (e.deadline, side)
            elif isinstance(e, CancelTimer):
                self.timers.pop(e.timer_id, None)


def _rebuilt(side: str, fx: list[Effect], rec: Recorder, now: float) -> list[Effect]:
    """The owned machine's effects with each notice's event put back where it was told."""
    out = list(fx)
    machine_target = "outgoingTransfer:t1" if side == "s" else "incomingTransfer:t1"
    for k, (pos, notice, told_at) in enumerate(rec.told):
        assert told_at == now, (notice, told_at, now)  # the real now of the input
        assert isinstance(notice, KINDS)
        out.insert(pos + k, Emit(machine_target, *notice.event("t1", side == "r")))
    return out


class Twins:
    def __init__(self, size: int, chunk: int, window: int) -> None:
        self.plain = Side(size, chunk, window, owned=False)
        self.owned = Side(size, chunk, window, owned=True)
        self.now = 0.0
        self.data = bytes(i % 251 for i in range(size))
        self.notices = 0

    def both(self, side: str, act: Callable[[Any], list[Effect]]) -> None:
        """Run ``act`` on ``side``'s machine of both pairs and compare what came out."""
        rec = self.owned.rec[side]
        rec.told.clear()
        out: list[Any] = []
        for pair in (self.plain, self.owned):
            try:
                out.append(act(pair.m[side]))
            except RtcError as exc:
                out.append(exc.args)
        plain, owned = out
        if not isinstance(plain, list):
            assert plain == owned  # the same refusal, nothing told
            assert not rec.told
            return
        assert isinstance(owned, list)
        assert not [e for e in owned if isinstance(e, Emit)], owned  # typed notices only
        assert _rebuilt(side, owned, rec, self.now) == plain
        self.notices += len(rec.told)
        self.plain.absorb(side, plain)
        self.owned.absorb(side, owned)

    def step(self, op: str) -> None:
        p = self.plain
        if op == "pump":
            for side in ("r", "s"):
                if p.queue[side]:
                    frame = p.queue[side].popleft()
                    self.owned.queue[side].popleft()
                    self.both(side, lambda m, f=frame: m.on_frame(f, self.now))
                    return
        elif op == "lose":
            for side in ("r", "s"):
                if p.queue[side]:
                    p.queue[side].pop()
                    self.owned.queue[side].pop()
                    return
        elif op == "feed" and p.needs:
            need = p.needs.popleft()
            self.owned.needs.popleft()
            piece = self.data[need.offset : need.offset + need.size]
            self.both("s", lambda m: m.feed(self.now, need.offset, piece))
        elif op in ("close", "open"):
            for pair in (p, self.owned):
                pair.queue["r"].clear()
                pair.queue["s"].clear()
            for side in ("s", "r"):
                if op == "close":
                    self.both(side, lambda m: m.channel_closed(self.now))
                else:
                    self.both(side, lambda m: m.channel_opened(self.now, "ch2"))
        elif op == "time":
            if p.timers:
                deadline, timer_id, side = min((d, t, s) for t, (d, s) in p.timers.items())
                for pair in (p, self.owned):
                    pair.timers.pop(timer_id, None)
                self.now = max(self.now, deadline)
                self.both(side, lambda m: m.timer_fired(timer_id, self.now))
        elif op == "accept" and p.m["r"].state is FileReceiverState.OFFERED:
            self.both("r", lambda m: m.accept(self.now))
        elif op == "decline" and p.m["r"].state is FileReceiverState.OFFERED:
            self.both("r", lambda m: m.decline(self.now))
        elif op in ("cancel_s", "cancel_r"):
            self.both(op[-1], lambda m: m.cancel(self.now, "enough"))
        self.now += 0.25


@settings(max_examples=60, deadline=None, database=None)
@given(
    size=st.integers(0, 40),
    chunk=st.integers(1, 9),
    window=st.integers(1, 20),
    ops=st.lists(OPS, max_size=80),
)
def test_owned_machines_tell_typed_notices_and_fire_no_emit(
    size: int, chunk: int, window: int, ops: list[str]
) -> None:
    twins = Twins(size, chunk, window)
    twins.both("s", lambda m: m.start(twins.now))
    for op in ops:
        twins.step(op)
    # then let it settle: frames, feeds, accept, timers (bounded)
    for _ in range(2000):
        p = twins.plain
        if p.queue["r"] or p.queue["s"]:
            twins.step("pump")
        elif p.needs and not p.m["s"].finished:
            twins.step("feed")
        elif p.m["r"].state is FileReceiverState.OFFERED:
            twins.step("accept")
        elif p.timers:
            twins.step("time")
        else:
            break
    for side, rec in twins.owned.rec.items():
        assert rec.finals <= 1, side
        assert not rec.after_final, (side, rec.after_final)
        if side == "s":
            assert rec.finals == int(twins.owned.m["s"].finished)
    assert twins.notices >= 1  # the sender's start is told nothing; the run tells something


def test_a_plain_transfer_tells_its_owner_each_kind_in_order() -> None:
    """A lossless run: accepted, progress, complete (sender); progress, complete (receiver)."""
    twins = Twins(10, 4, 8)
    told: dict[str, list[str]] = {"s": [], "r": []}
    for side in ("s", "r"):
        rec = twins.owned.rec[side]
        original = rec.transfer_notice

        def note(
            fx: list[Effect], n: TransferNotice, now: float, s: str = side, o: Any = original
        ) -> None:
            told[s].append(type(n).__name__)
            o(fx, n, now)

        rec.transfer_notice = note  # type: ignore[method-assign]
    twins.both("s", lambda m: m.start(twins.now))
    for _ in range(200):
        p = twins.plain
        if p.queue["r"] or p.queue["s"]:
            twins.step("pump")
        elif p.needs and not p.m["s"].finished:
            twins.step("feed")
        elif p.m["r"].state is FileReceiverState.OFFERED:
            twins.step("accept")
        else:
            break
    assert told["s"][0] == "TransferAccepted"
    assert told["s"][-1] == "TransferCompleted" and told["r"][-1] == "TransferCompleted"
    assert set(told["s"][1:-1]) == {"TransferProgress"}
    assert set(told["r"][:-1]) == {"TransferProgress"}
