"""rtcstate.testing.fakemedia: the one fake media stack the kit, the call tests and the asyncio
adapter share, driven here directly through a tiny host with a fake clock."""

from __future__ import annotations

import heapq
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import effects as fx
from rtcstate.media import (
    DataChannelClosed,
    DataChannelMessage,
    DataChannelOpened,
    DescriptionFailed,
    IceCandidateFound,
    IceStateChanged,
    LocalDescriptionReady,
    MediaAcquired,
    MediaEvent,
    MediaFailed,
    TrackAdded,
)
from rtcstate.testing.fakemedia import FakeMediaNetwork, FakeMediaStack, MediaModel

CALL = "call-1"


class Host:
    """A fake clock and a heap of actions; every report is logged with its time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.queue: list[tuple[float, int, Callable[[], None]]] = []
        self.seq = 0
        self.log: list[tuple[float, str, MediaEvent]] = []

    def later(self, delay: float, action: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (self.now + delay, self.seq, action))

    def report(self, stack: FakeMediaStack, event: MediaEvent) -> None:
        self.log.append((self.now, stack.name, event))

    def run(self, until: float = 1e9) -> None:
        for _ in range(10_000):  # bounded
            if not self.queue or self.queue[0][0] > until:
                break
            when, _, action = heapq.heappop(self.queue)
            self.now = max(self.now, when)
            action()
        self.now = max(self.now, until) if until < 1e9 else self.now

    def events(self, name: str, kind: type[MediaEvent] | None = None) -> list[MediaEvent]:
        return [e for _, who, e in self.log if who == name and (kind is None or type(e) is kind)]


def world(model: MediaModel | None = None) -> tuple[Host, FakeMediaStack, FakeMediaStack]:
    host = Host()
    net = FakeMediaNetwork(host, model)
    return host, net.stack("a"), net.stack("b")


def negotiate(host: Host, a: FakeMediaStack, b: FakeMediaStack) -> None:
    """a offers, b answers, each applies the other's description (as two sessions would)."""
    for s in (a, b):
        s.apply(fx.CreatePeerConnection(CALL))
    a.apply(fx.CreateOffer(CALL))
    host.run()
    (offer,) = host.events("a", LocalDescriptionReady)
    assert isinstance(offer, LocalDescriptionReady)
    b.apply(fx.SetRemoteDescription(CALL, "offer", offer.sdp))
    b.apply(fx.CreateAnswer(CALL))
    host.run()
    (answer,) = host.events("b", LocalDescriptionReady)
    assert isinstance(answer, LocalDescriptionReady)
    a.apply(fx.SetRemoteDescription(CALL, "answer", answer.sdp))


def test_paired_connections_connect_show_tracks_and_carry_a_channel() -> None:
    host, a, b = world()
    a.apply(fx.AcquireMedia(CALL, "audio", audio=True, video=False))
    b.apply(fx.AcquireMedia(CALL, "web", audio=True, video=True))
    negotiate(host, a, b)
    a.apply(fx.OpenDataChannel(CALL, "ch1", "chat"))
    assert host.events("a", IceStateChanged) == []  # not before ice_connect_delay
    host.run()
    for side in ("a", "b"):
        assert host.events(side, IceStateChanged) == [IceStateChanged(CALL, "connected")]
        assert host.events(side, DataChannelOpened) == [DataChannelOpened("ch1")]
        cands = host.events(side, IceCandidateFound)
        assert [c.candidate for c in cands if isinstance(c, IceCandidateFound)][-1] == ""
    assert [e.kind for e in host.events("a", TrackAdded) if isinstance(e, TrackAdded)] == [
        "audio",
        "video",
    ]
    assert [e.kind for e in host.events("b", TrackAdded) if isinstance(e, TrackAdded)] == ["audio"]
    a.apply(fx.SendData("ch1", b"hi"))
    assert host.events("b", DataChannelMessage) == [DataChannelMessage("ch1", b"hi")]
    assert host.events("a", DataChannelMessage) == []
    b.apply(fx.ClosePeerConnection(CALL))
    for side in ("a", "b"):
        assert host.events(side, DataChannelClosed) == [DataChannelClosed("ch1")]
    host.run()
    # a notices its peer is gone after peer_gone_delay
    assert host.events("a", IceStateChanged)[-1] == IceStateChanged(CALL, "disconnected")
    assert a.open_connections() == {CALL: "disconnected"} and b.open_connections() == {}


def test_descriptions_that_make_no_sense_fail() -> None:
    host, a, _ = world()
    a.apply(fx.CreateOffer(CALL))  # no peer connection
    a.apply(fx.CreatePeerConnection(CALL))
    a.apply(fx.CreateAnswer(CALL))  # no remote offer
    a.apply(fx.SetRemoteDescription(CALL, "answer", "x"))  # nothing offered
    host.run()
    assert host.events("a", DescriptionFailed) == [
        DescriptionFailed(CALL, True, "no peer connection"),
        DescriptionFailed(CALL, False, "answer in stable state"),
        DescriptionFailed(CALL, True, "no remote offer to answer"),
    ]
    assert a.description_failures == 3


def test_ice_trouble_breaks_the_path_until_it_heals() -> None:
    host, a, b = world()
    negotiate(host, a, b)
    host.run()
    a.network.ice_trouble(CALL, "disconnected", [a], heal_after=1.0)
    assert host.events("a", IceStateChanged)[-1] == IceStateChanged(CALL, "disconnected")
    assert host.events("b", IceStateChanged)[-1] == IceStateChanged(CALL, "connected")
    a.apply(fx.RestartIce(CALL))
    a.apply(fx.CreateOffer(CALL, ice_restart=True))
    host.run(0.5)
    offer = host.events("a", LocalDescriptionReady)[-1]
    assert isinstance(offer, LocalDescriptionReady)
    b.apply(fx.SetRemoteDescription(CALL, "offer", offer.sdp))
    b.apply(fx.CreateAnswer(CALL))
    host.run(0.6)
    answer = host.events("b", LocalDescriptionReady)[-1]
    assert isinstance(answer, LocalDescriptionReady)
    a.apply(fx.SetRemoteDescription(CALL, "answer", answer.sdp))
    host.run()  # heals at 1.0: the renegotiated pair connects again
    assert host.events("a", IceStateChanged)[-1] == IceStateChanged(CALL, "connected")
    with pytest.raises(ValueError):
        a.network.ice_trouble(CALL, "closed")


def test_renegotiated_while_broken_for_good_fails() -> None:
    host, a, b = world()
    negotiate(host, a, b)
    host.run()
    a.network.ice_trouble(CALL, "failed")
    a.apply(fx.RestartIce(CALL))
    a.apply(fx.CreateOffer(CALL, ice_restart=True))
    host.run()
    offer = host.events("a", LocalDescriptionReady)[-1]
    assert isinstance(offer, LocalDescriptionReady)
    b.apply(fx.SetRemoteDescription(CALL, "offer", offer.sdp))
    b.apply(fx.CreateAnswer(CALL))
    host.run()
    answer = host.events("b", LocalDescriptionReady)[-1]
    assert isinstance(answer, LocalDescriptionReady)
    a.apply(fx.SetRemoteDescription(CALL, "answer", answer.sdp))
    host.run()
    assert host.events("b", IceStateChanged)[-1] == IceStateChanged(CALL, "failed")


def test_media_failures_and_orphans() -> None:
    host = Host()
    net = FakeMediaNetwork(host)
    wanted = {"r2"}
    s = net.stack("a", wanted=wanted.__contains__)
    s.failures = 1
    for rid in ("r1", "r2", "r3"):
        s.apply(fx.AcquireMedia(rid, "web"))
    host.run()
    assert host.events("a", MediaFailed) == [MediaFailed("r1", "NotAllowedError")]
    (got,) = host.events("a", MediaAcquired)
    assert isinstance(got, MediaAcquired) and got.request_id == "r2"
    assert s.orphans == 1 and len(s.released) == 1 and len(s.streams) == 2
    s.apply(fx.ReleaseMedia(got.stream_id))
    assert set(s.streams) == s.released


def test_without_pairing_each_side_connects_alone_unless_stopped() -> None:
    host, a, b = world(MediaModel.instant(trickle=False, pairing=False))
    b.auto_ice = False
    negotiate(host, a, b)
    host.run()
    assert host.events("a", IceStateChanged) == [IceStateChanged(CALL, "connected")]
    assert host.events("b", IceStateChanged) == []
    assert host.events("a", IceCandidateFound) == host.events("a", TrackAdded) == []
    b.auto_ice = True
    b.note_local(CALL, "answer", "by hand")  # a test's own description
    assert host.events("b", IceStateChanged) == [IceStateChanged(CALL, "connected")]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["offer", "answer", "remote-offer", "remote-answer", "close",
                                 "create", "restart", "open", "send"]), max_size=25))  # fmt: skip
def test_any_effect_sequence_never_raises_and_reports_only_known_events(ops: list[str]) -> None:
    host, a, b = world()
    b.apply(fx.CreatePeerConnection(CALL))
    effects: dict[str, fx.Effect] = {
        "offer": fx.CreateOffer(CALL),
        "answer": fx.CreateAnswer(CALL),
        "remote-offer": fx.SetRemoteDescription(CALL, "offer", "o"),
        "remote-answer": fx.SetRemoteDescription(CALL, "answer", "a"),
        "close": fx.ClosePeerConnection(CALL),
        "create": fx.CreatePeerConnection(CALL),
        "restart": fx.RestartIce(CALL),
        "open": fx.OpenDataChannel(CALL, "ch", "chat"),
        "send": fx.SendData("ch", b"x"),
    }
    for op in ops:
        assert a.apply(effects[op]) is True
        host.run(host.now + 0.01)
    host.run()
    assert all(who in ("a", "b") for _, who, _ in host.log)
    assert not a.apply(fx.Emit("x", "y", None))  # not a media effect: recorded only
    assert a.applied[-1] == fx.Emit("x", "y", None)
