"""TimerBook alone: how an id is read, and every operation against a plain model of the book
(random sequences of arm, disarm, take, book, release, release_kind and clear)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate.effects import CancelTimer, Effect, Emit, StartTimer
from rtcstate.session_timers import Booking, Owner, TimerBook

KINDS = {"call": "call_id", "dataChannel": "channel_id"}
IDS = [
    "session:retry",
    "session:keepalive",
    "presence:bob:offline",
    "presence:amy:offline",
    "call:c1:ice",
    "call:c1:rtx",
    "call:c2:rtx",
    "dataChannel:d:1:rtx",  # a key with a colon: the name is after the last one
    "other:k:t",
]


def test_an_id_is_read_once_into_its_owner_and_name() -> None:
    book = TimerBook(KINDS)
    assert book.arm("call:c1:ice") == Booking(Owner("call_id", "c1"), "ice")
    assert book.arm("session:retry") == Booking(Owner("session", ""), "retry")
    assert book.arm("presence:bob:offline") == Booking(Owner("presence", "bob"), "offline")
    assert book.arm("dataChannel:d:1:rtx") == Booking(Owner("channel_id", "d:1"), "rtx")
    assert book.arm("other:k:t") == Booking(Owner("other", "k"), "t")  # an unknown kind: as is
    assert book.arm("bare") == Booking(Owner("", ""), "bare")
    # the session's own timers: the key defaults to ""
    assert book.of("session") == ("session:retry",)
    assert book.release("session") == [CancelTimer("session:retry")]
    assert book.of("session") == () and not book.armed("session:retry")
    # an expiry takes the booking once: then the id is stale
    assert book.take("call:c1:ice") == Booking(Owner("call_id", "c1"), "ice")
    assert book.take("call:c1:ice") is None and not book.armed("call:c1:ice")


class Model:
    """The book as the docstrings describe it: id -> (route, key, name)."""

    def __init__(self) -> None:
        self.armed: dict[str, tuple[str, str, str]] = {}

    def booking(self, timer_id: str) -> Booking:
        route, key, name = self.armed[timer_id]
        return Booking(Owner(route, key), name)

    def of(self, route: str, key: str) -> list[str]:
        return sorted(t for t, (r, k, _) in self.armed.items() if (r, k) == (route, key))


def _expected(timer_id: str) -> tuple[str, str, str]:
    head, name = timer_id.rsplit(":", 1)
    kind, _, key = head.partition(":")
    return KINDS.get(kind, kind), key, name


OWNERS = [
    ("session", ""),
    ("presence", "bob"),
    ("call_id", "c1"),
    ("call_id", "c2"),
    ("channel_id", "d:1"),
    ("call_id", "zz"),
]
OPS = st.one_of(
    st.tuples(st.sampled_from(["arm", "disarm", "take", "armed"]), st.sampled_from(IDS)),
    st.tuples(
        st.just("book"),
        st.lists(st.tuples(st.booleans(), st.sampled_from(IDS)), max_size=4),
    ),
    st.tuples(st.just("release"), st.sampled_from(OWNERS)),
    st.tuples(st.just("release_kind"), st.sampled_from(["presence", "call_id", "session", "x"])),
    st.tuples(st.just("clear"), st.none()),
)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(OPS, max_size=25))
def test_the_book_behaves_as_its_model(ops: list[tuple[str, Any]]) -> None:
    book, model = TimerBook(KINDS), Model()
    for op, arg in ops:
        if op == "arm":
            model.armed.setdefault(arg, _expected(arg))
            assert book.arm(arg) == model.booking(arg)
        elif op in ("disarm", "take"):
            want = model.booking(arg) if arg in model.armed else None
            model.armed.pop(arg, None)
            assert getattr(book, op)(arg) == want
        elif op == "armed":
            assert book.armed(arg) is (arg in model.armed)
        elif op == "book":
            fx: list[Effect] = [Emit("session", "noise")]
            for start, timer_id in arg:
                if start:
                    fx.append(StartTimer(timer_id, 1.0))
                    model.armed.setdefault(timer_id, _expected(timer_id))
                else:
                    fx.append(CancelTimer(timer_id))
                    model.armed.pop(timer_id, None)
            book.book(fx)
        elif op == "release":
            route, key = arg
            mine = model.of(route, key)
            for t in mine:
                del model.armed[t]
            assert book.release(route, key) == [CancelTimer(t) for t in mine]
        elif op == "release_kind":
            keys = sorted({k for r, k, _ in model.armed.values() if r == arg})
            want: list[Effect] = []
            for key in keys:
                mine = model.of(arg, key)
                want.extend(CancelTimer(t) for t in mine)
                for t in mine:
                    del model.armed[t]
            assert book.release_kind(arg) == want
        else:
            assert book.clear() == [CancelTimer(t) for t in sorted(model.armed)]
            model.armed.clear()
        assert book.ids() == frozenset(model.armed)
        for route, key in {(r, k) for r, k, _ in map(_expected, IDS)}:
            assert book.of(route, key) == tuple(model.of(route, key))


def test_release_of_an_owner_with_nothing_armed_is_nothing() -> None:
    book = TimerBook(KINDS)
    book.arm("call:c1:ice")
    book.disarm("call:c1:ice")
    assert book.release("call_id", "c1") == [] and book.of("call_id", "c1") == ()
    assert book.release_kind("call_id") == [] and book.clear() == []
