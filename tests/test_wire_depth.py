"""The nesting limit is checked on the text before any parser runs (DESIGN.md §5).

Pyodide's stdlib scanner overflows the browser's stack (a JavaScript RangeError out of
``Session.receive``) on arrays nested a few thousand deep, long before a RecursionError.  These
tests drive the stdlib path with a 60,000-deep frame and check that the scanner is never
entered, so that the guarantee holds where the parser's own limit does not protect it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.effects import Drop, Emit
from rtcstate.session import Session, SessionConfig
from rtcstate.wire import DecodeError, DecodeReason

DEEP = 60_000
#: Unterminated: the scanner would recurse 60,000 levels before finding the error; the frame
#: is under the default 64 KiB limit, like the one a hostile peer would send.
OPEN_ONLY = '{"v":1,"type":"ping","seq":' + "[" * DEEP
#: Balanced, so valid JSON apart from its depth (needs a larger size limit).
BALANCED = '{"v":1,"type":"ping","seq":' + "[" * DEEP + "]" * DEEP + "}"


@pytest.fixture
def stdlib_scanner_watched(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Select the stdlib backend and record the length of every text its scanners are given
    (the exact one, the fast one and the one for short texts: see ``wire._parse_stdlib``)."""
    previous = wire.use_json_backend("stdlib")
    seen: list[int] = []

    def watched(parse: Callable[..., Any]) -> Callable[..., Any]:
        def watched_parse(text: str, *index: int) -> Any:
            seen.append(len(text))
            return parse(text, *index)

        return watched_parse

    for name in ("_std_scan", "_std_full_decode", "_fast_scan", "_fast_full_decode", "_short_scan"):
        monkeypatch.setattr(wire, name, watched(getattr(wire, name)))
    try:
        yield seen
    finally:
        wire.use_json_backend(previous)


@pytest.mark.parametrize("as_bytes", [False, True])
@pytest.mark.parametrize(("text", "max_size"), [(OPEN_ONLY, None), (BALANCED, 4 * DEEP)])
def test_deep_frame_is_refused_before_the_parser_runs(
    stdlib_scanner_watched: list[int], text: str, max_size: int | None, as_bytes: bool
) -> None:
    assert len(text) > DEEP
    data: bytes | str = text.encode() if as_bytes else text
    with pytest.raises(DecodeError) as info:
        if max_size is None:
            wire.decode(data)
        else:
            wire.decode(data, max_size=max_size)
    assert info.value.reason is DecodeReason.MALFORMED_JSON
    assert str(wire.MAX_DEPTH) in info.value.detail
    assert stdlib_scanner_watched == []  # the scanner never saw the deep text


def test_shallow_frames_still_reach_the_parser(stdlib_scanner_watched: list[int]) -> None:
    frame = '{"v":1,"type":"ping","seq":7}'
    assert wire.decode(frame).message == wire.Ping(7)
    assert stdlib_scanner_watched == [len(frame)]


def test_bom_keeps_its_reason_even_when_deep(stdlib_scanner_watched: list[int]) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode("\ufeff" + OPEN_ONLY)
    assert info.value.reason is DecodeReason.INVALID_ENCODING


def test_session_receive_turns_the_deep_frame_into_effects(
    stdlib_scanner_watched: list[int],
) -> None:
    s = Session(SessionConfig("alice", server_url="ws://127.0.0.1:9", device="d1"))
    s.register(0.0)
    s.connection_made(0.0)
    effects = s.receive(OPEN_ONLY, 1.0)
    assert effects, "a bad frame must be reported, not ignored"
    assert all(isinstance(e, Drop | Emit) for e in effects), effects
    assert stdlib_scanner_watched == []


@settings(max_examples=200, deadline=None)
@given(
    depth=st.integers(1, 80),
    close=st.integers(0, 80),
    junk=st.sampled_from(["", "0", '"[{"', ",1", "}"]),
)
def test_pre_check_agrees_with_the_parse(depth: int, close: int, junk: str) -> None:
    """Whatever the brackets, the stdlib path gives the reason the orjson path gives."""
    text = '{"v":1,"type":"ping","seq":' + "[" * depth + junk + "]" * close + "}"
    results = []
    for name in wire.available_json_backends():
        previous = wire.use_json_backend(name)
        try:
            try:
                results.append(("ok", wire.decode(text).message))
            except DecodeError as exc:
                results.append(("error", exc.reason))
        finally:
            wire.use_json_backend(previous)
    assert len(set(map(repr, results))) == 1, results
    if depth + 1 > wire.MAX_DEPTH:
        assert results[0] == ("error", DecodeReason.MALFORMED_JSON)
