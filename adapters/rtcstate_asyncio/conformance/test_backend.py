"""The media-backend conformance suite (see :mod:`rtcstate_asyncio.conformance`).

Each case drives two backends of the factory under test (fixture ``rtcstate_backend``, from
``--rtcstate-backend``) through :mod:`~rtcstate_asyncio.conformance.driver`, which also checks on
every case that ``apply`` never raises, that nothing is reported from inside ``apply`` or after
``close()``, that every report is a well-formed media event, and that no task outlives the
backends.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial

from rtcstate import effects as fx
from rtcstate import media as m
from rtcstate_asyncio.conformance import BackendFactory
from rtcstate_asyncio.conformance.driver import Pair, Side, run, settle

Factory = Callable[[], BackendFactory]


def _candidates(side: Side, call_id: str) -> list[str]:
    """Candidates the side offered for ``call_id``: trickled, or written into its SDPs."""
    found = [e.candidate for e in side.of(m.IceCandidateFound) if e.call_id == call_id]
    for desc in side.of(m.LocalDescriptionReady):
        if desc.call_id == call_id:
            found += [line[2:] for line in desc.sdp.splitlines() if line.startswith("a=candidate")]
    return [c for c in found if c]


# --- 1. capabilities, offers and answers -------------------------------------------------------


def test_01_capabilities_are_reported_once_after_bind(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        for side in pair.sides:
            await side.until(partial(side.has, m.Capabilities), "Capabilities")
        for side in pair.sides:
            assert len(side.of(m.Capabilities)) == 1, side.events

    run(rtcstate_backend, case)


def test_02_offer_and_answer_connect_a_data_call(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        await pair.connect("call-1")
        offers = [d for d in pair.a.of(m.LocalDescriptionReady) if d.call_id == "call-1"]
        answers = [d for d in pair.b.of(m.LocalDescriptionReady) if d.call_id == "call-1"]
        assert [d.sdp_type for d in offers] == ["offer"]
        assert [d.sdp_type for d in answers] == ["answer"]
        assert offers[0].sdp and answers[0].sdp and offers[0].sdp != answers[0].sdp
        for side in pair.sides:
            assert not side.of(m.DescriptionFailed), side.events

    run(rtcstate_backend, case)


def test_03_offer_and_answer_connect_a_media_call(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        await pair.acquire("call-2")
        await pair.connect("call-2")
        streams = {e.stream_id for s in pair.sides for e in s.of(m.MediaAcquired)}
        assert len(streams) == 2  # one fresh stream per side

    run(rtcstate_backend, case)


def test_04_descriptions_that_make_no_sense_are_reported_failed(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        a = pair.a
        a.peer = None  # no signaling: the far side is not involved
        a.apply(fx.CreateOffer("nowhere"))  # no peer connection
        a.apply(fx.SetRemoteDescription("nowhere-2", "offer", "v=0"))
        a.apply(fx.CreatePeerConnection("call-3"))
        a.apply(fx.CreateAnswer("call-3"))  # no remote offer to answer
        for call_id in ("nowhere", "nowhere-2", "call-3"):
            await a.until(
                partial(a.has, m.DescriptionFailed, call_id=call_id),
                f"DescriptionFailed({call_id})",
            )
        local = {e.call_id: e.local for e in a.of(m.DescriptionFailed)}
        assert local == {"nowhere": True, "nowhere-2": False, "call-3": True}
        answers = [d for d in a.of(m.LocalDescriptionReady) if d.sdp_type == "answer"]
        assert not answers

    run(rtcstate_backend, case)


# --- 2. candidates and ICE -----------------------------------------------------------------------


def test_05_candidates_are_offered_and_applied(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        await pair.connect("call-5")
        for side in pair.sides:
            offered = _candidates(side, "call-5")
            assert offered, f"{side.name} offered no candidate"
            assert all(c.startswith("candidate:") for c in offered), offered
            assert all(" 127.0.0.1 " in c or " ::1 " in c for c in offered), offered
        # late, repeated and end-of-candidates markers are accepted without a failure
        for side, far in ((pair.a, pair.b), (pair.b, pair.a)):
            side.apply(fx.AddIceCandidate("call-5", ""))
            for candidate in _candidates(far, "call-5"):
                side.apply(fx.AddIceCandidate("call-5", candidate, "0", 0))
        await settle()
        for side in pair.sides:
            assert side.connected("call-5") and "failed" not in side.ice("call-5")

    run(rtcstate_backend, case)


def test_06_ice_states_are_reported_in_order(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        await pair.connect("call-6")
        for side in pair.sides:
            states = side.ice("call-6")
            # no state twice in a row; nothing after connected but a later change
            assert all(x != y for x, y in itertools.pairwise(states)), states
            assert states.index("connected") == len(states) - 1, states
            assert not set(states) & {"failed", "closed", "disconnected"}, states

    run(rtcstate_backend, case)


# --- 3. data channels and flow control -----------------------------------------------------------


async def _channel(pair: Pair, call_id: str, channel_id: str) -> None:
    await pair.connect(call_id)
    pair.a.apply(fx.OpenDataChannel(call_id, channel_id, "chat"))
    for side in pair.sides:
        await side.until(
            partial(side.has, m.DataChannelOpened, channel_id=channel_id),
            f"DataChannelOpened({channel_id})",
        )


def _received(side: Side, channel_id: str) -> list[bytes | str]:
    return [e.data for e in side.of(m.DataChannelMessage) if e.channel_id == channel_id]


def test_07_data_channel_carries_text_and_bytes_both_ways_in_order(
    rtcstate_backend: Factory,
) -> None:
    async def case(pair: Pair) -> None:
        await _channel(pair, "call-7", "ch-7")
        sent: list[bytes | str] = ["hello", b"\x00\x01binary", "é ✓", b"", "last"]
        for data in sent:
            pair.a.apply(fx.SendData("ch-7", data))
        pair.b.apply(fx.SendData("ch-7", "back"))
        await pair.b.until(lambda: len(_received(pair.b, "ch-7")) >= len(sent), "all messages")
        await pair.a.until(lambda: _received(pair.a, "ch-7") == ["back"], "the reply")
        got = _received(pair.b, "ch-7")
        assert got == sent
        assert [type(x) for x in got] == [type(x) for x in sent]
        for side in pair.sides:
            assert len([e for e in side.of(m.DataChannelOpened) if e.channel_id == "ch-7"]) == 1

    run(rtcstate_backend, case)


def test_08_flow_control_marks_alternate_and_end_low(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        await _channel(pair, "call-8", "ch-8")
        high = pair.buffered_high
        chunk = b"x" * 16384
        count = 8 if high is None else 2 * high // len(chunk) + 2
        for i in range(count):
            pair.a.apply(fx.SendData("ch-8", bytes([i % 256]) + chunk))
        await pair.b.until(
            lambda: len(_received(pair.b, "ch-8")) == count, f"{count} chunks", limit=30.0
        )
        got = _received(pair.b, "ch-8")
        assert [x[0] for x in got if isinstance(x, bytes)] == [i % 256 for i in range(count)]
        marks = [
            type(e).__name__
            for e in pair.a.events
            if isinstance(e, m.BufferedAmountHigh | m.BufferedAmountLow) and e.channel_id == "ch-8"
        ]
        if high is not None:  # more than the high mark was queued at once
            assert marks[:1] == ["BufferedAmountHigh"], marks
        await pair.a.until(
            lambda: _marks(pair.a, "ch-8")[-1:] != ["BufferedAmountHigh"], "BufferedAmountLow"
        )
        marks = _marks(pair.a, "ch-8")
        expected = ["BufferedAmountHigh", "BufferedAmountLow"] * (len(marks) // 2)
        assert marks == expected, marks  # they alternate, high first, and end low

    run(rtcstate_backend, case)


def _marks(side: Side, channel_id: str) -> list[str]:
    return [
        type(e).__name__
        for e in side.events
        if isinstance(e, m.BufferedAmountHigh | m.BufferedAmountLow) and e.channel_id == channel_id
    ]


def test_09_closing_a_channel_is_reported_on_both_sides(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        await _channel(pair, "call-9", "ch-9")
        pair.a.apply(fx.CloseDataChannel("ch-9"))
        for side in pair.sides:
            await side.until(
                partial(side.has, m.DataChannelClosed, channel_id="ch-9"),
                "DataChannelClosed",
            )
        pair.a.apply(fx.SendData("ch-9", "after close"))  # dropped, not raised
        pair.a.apply(fx.CloseDataChannel("ch-9"))  # a second close is harmless
        await settle()
        assert _received(pair.b, "ch-9") == []
        assert pair.a.connected("call-9") and pair.b.connected("call-9")

    run(rtcstate_backend, case)


# --- 4. tracks -----------------------------------------------------------------------------------


def test_10_each_side_hears_the_far_sides_tracks(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        await pair.acquire("call-10")
        await pair.connect("call-10")
        for side in pair.sides:
            for kind in ("audio", "video"):
                await side.until(partial(side.has, m.TrackAdded, kind=kind), f"TrackAdded {kind}")
        for side in pair.sides:
            tracks = side.of(m.TrackAdded)
            assert all(t.call_id == "call-10" and t.track_id for t in tracks), tracks
            assert len({t.track_id for t in tracks}) == len(tracks), tracks  # each once

    run(rtcstate_backend, case)


# --- 5. restart ----------------------------------------------------------------------------------


def test_11_an_ice_restart_reconnects_and_keeps_the_channel(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        await _channel(pair, "call-11", "ch-11")
        first = pair.a.of(m.LocalDescriptionReady)[-1].sdp
        before = len(pair.a.ice("call-11"))
        pair.a.apply(fx.RestartIce("call-11"))
        pair.a.apply(fx.CreateOffer("call-11", ice_restart=True))
        await pair.a.until(
            lambda: len(pair.a.ice("call-11")) > before and pair.a.connected("call-11"),
            "connected again after the restart",
        )
        offers = [d for d in pair.a.of(m.LocalDescriptionReady) if d.sdp_type == "offer"]
        assert len(offers) == 2 and offers[-1].sdp != first
        await pair.b.until(lambda: pair.b.connected("call-11"), "the far side connected")
        pair.a.apply(fx.SendData("ch-11", "after restart"))
        await pair.b.until(lambda: "after restart" in _received(pair.b, "ch-11"), "the data")
        for side in pair.sides:
            assert not [e for e in side.of(m.DataChannelClosed) if e.channel_id == "ch-11"]

    run(rtcstate_backend, case)


# --- 6. teardown and hostile effects -------------------------------------------------------------


def test_12_a_closed_connection_reports_nothing_more(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        await _channel(pair, "call-12", "ch-12")
        pair.a.apply(fx.ClosePeerConnection("call-12"))
        await settle()
        mark = len(pair.a.events)
        pair.a.apply(fx.ClosePeerConnection("call-12"))  # twice: harmless
        pair.a.apply(fx.CreateOffer("call-12"))  # on a closed call: a failure, if anything
        pair.a.apply(fx.SendData("ch-12", "late"))
        await settle()
        late = [
            e
            for e in pair.a.events[mark:]
            if not isinstance(e, m.DescriptionFailed | m.DataChannelClosed)
        ]
        assert late == [], late
        assert "late" not in _received(pair.b, "ch-12")

    run(rtcstate_backend, case)


def test_13_apply_never_raises_and_close_is_final(rtcstate_backend: Factory) -> None:
    async def case(pair: Pair) -> None:
        a = pair.a
        a.peer = None
        hostile: list[fx.Effect] = [
            fx.AddIceCandidate("ghost", "candidate:garbage"),
            fx.AddIceCandidate("ghost", ""),
            fx.SetRemoteDescription("ghost", "answer", "not an sdp"),
            fx.RestartIce("ghost"),
            fx.SendData("ghost-channel", b"\xff" * 10),
            fx.CloseDataChannel("ghost-channel"),
            fx.OpenDataChannel("ghost", "ghost-channel", "label"),
            fx.ReleaseMedia("ghost-stream"),
            fx.SetTrackEnabled("ghost", "video", False),
            fx.ClosePeerConnection("ghost"),
            fx.Emit("Session", "not-a-media-effect", None),
        ]
        for effect in hostile:
            a.apply(effect)
        a.apply(fx.CreatePeerConnection("call-13"))
        a.apply(fx.SetRemoteDescription("call-13", "offer", "v=0 garbage"))
        a.apply(fx.SetRemoteDescription("call-13", "answer", "v=0 no offer was made"))
        await a.until(
            lambda: len([e for e in a.of(m.DescriptionFailed) if e.call_id == "call-13"]) >= 1,
            "DescriptionFailed for a bad remote description",
        )
        await a.backend.close()
        a.closed = True
        a.apply(fx.CreatePeerConnection("call-14"))  # ignored after close
        a.apply(fx.CreateOffer("call-14"))
        a.apply(fx.AcquireMedia("call-14", "media"))
        await settle()

    run(rtcstate_backend, case)
