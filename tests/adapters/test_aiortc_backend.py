"""The aiortc media backend over real WebRTC on loopback: two core sessions, one hub, one loop.

A tiny in-process pump plays the runtime: ``Send`` effects are encoded and go through
``Hub.receive``, its ``Deliver`` effects reach the other session on the next loop iteration,
``StartTimer`` is ``loop.call_at``, ``Emit`` is recorded, media effects go to each side's
:class:`~rtcstate_aiortc.AiortcMedia`, whose reports go back into that side's session. Every wait
is bounded; every test checks that no task outlives it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from adaptertools import until
from rtcstate_aiortc import AiortcMedia
from rtcstate_aiortc.loopback import LOOPBACK_ONLY, install, non_loopback_candidates
from rtcstate_asyncio.backend import MEDIA_EFFECTS

from rtcstate import wire
from rtcstate.call import Call, CallState
from rtcstate.effects import (
    CancelTimer,
    CloseTransport,
    Drop,
    Effect,
    Emit,
    OpenTransport,
    Send,
    StartTimer,
)
from rtcstate.hub import CloseConnection, Deliver, Hub, HubEffect
from rtcstate.media import MediaEvent, TrackAdded
from rtcstate.session import Session, SessionConfig, SessionState

WAIT = 5.0  # seconds: the bound of every wait
CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ (\S+)", re.M)


class Peer:
    def __init__(self, net: Net, user: str, media: AiortcMedia) -> None:
        self.net = net
        self.user = user
        self.conn = f"conn-{user}"
        self.session = Session(SessionConfig(user, keepalive_interval=None))
        self.media = media
        self.emits: list[Emit] = []
        self.drops: list[Drop] = []
        self.sent: list[wire.Message] = []
        self.reports: list[MediaEvent] = []
        self.timers: dict[str, asyncio.TimerHandle] = {}
        media.bind(self.report)

    def report(self, event: MediaEvent) -> None:
        self.reports.append(event)
        self.net.carry(self, self.session.media_event(event, self.net.now()))

    def events(self, target: str | None = None, name: str | None = None) -> list[Emit]:
        return [
            e
            for e in self.emits
            if (target is None or e.target == target) and (name is None or e.event == name)
        ]


class Net:
    """The runtime's job for two sessions and a hub, in one loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.hub = Hub()
        self.peers: dict[str, Peer] = {}
        self.handles: set[asyncio.Handle] = set()

    def now(self) -> float:
        return self.loop.time()

    async def add(self, user: str, **options: Any) -> Peer:
        peer = Peer(self, user, AiortcMedia(**options))
        self.peers[peer.conn] = peer
        self.carry(peer, peer.session.register(self.now()))
        await until(lambda: peer.session.state is SessionState.CONNECTED)
        return peer

    def soon(self, action: Callable[[], None]) -> None:
        handle: asyncio.Handle

        def run() -> None:
            self.handles.discard(handle)
            action()

        handle = self.loop.call_soon(run)
        self.handles.add(handle)

    def carry(self, peer: Peer, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, Send):
                peer.sent.append(e.message)
                data = wire.encode(e.message, to=e.to)
                self.route(self.hub.receive(peer.conn, data, self.now()))
            elif isinstance(e, Emit):
                peer.emits.append(e)
            elif isinstance(e, StartTimer):
                old = peer.timers.pop(e.timer_id, None)
                if old is not None:
                    old.cancel()
                peer.timers[e.timer_id] = self.loop.call_at(e.deadline, self.fire, peer, e.timer_id)
            elif isinstance(e, CancelTimer):
                handle = peer.timers.pop(e.timer_id, None)
                if handle is not None:
                    handle.cancel()
            elif isinstance(e, OpenTransport):
                self.soon(lambda: self.open(peer))
            elif isinstance(e, CloseTransport):
                self.route(self.hub.disconnect(peer.conn, self.now()))
            elif isinstance(e, Drop):
                peer.drops.append(e)
            elif isinstance(e, MEDIA_EFFECTS):
                peer.media.apply(e)
            else:  # pragma: no cover
                raise AssertionError(f"unexpected effect {e!r}")

    def open(self, peer: Peer) -> None:
        self.route(self.hub.connect(peer.conn, self.now()))
        self.carry(peer, peer.session.connection_made(self.now()))

    def route(self, effects: list[HubEffect]) -> None:
        for e in effects:
            if isinstance(e, Deliver):
                dest = self.peers[e.conn]
                data = wire.encode_envelope(e.envelope)
                self.soon(lambda dest=dest, data=data: self.receive(dest, data))  # type: ignore[misc]
            elif isinstance(e, CloseConnection):  # pragma: no cover
                raise AssertionError(f"hub closed {e.conn}")

    def receive(self, peer: Peer, data: bytes) -> None:
        self.carry(peer, peer.session.receive(data, self.now()))

    def fire(self, peer: Peer, timer_id: str) -> None:
        peer.timers.pop(timer_id, None)
        self.carry(peer, peer.session.timer_fired(timer_id, self.now()))

    async def close(self) -> None:
        for peer in self.peers.values():
            await peer.media.close()
            for handle in peer.timers.values():
                handle.cancel()
            peer.timers.clear()
        for h in self.handles:
            h.cancel()
        self.handles.clear()


def run(test: Callable[[Net], Coroutine[Any, Any, None]]) -> None:
    """Run ``test`` in a fresh loop; afterwards no task may be left but the main one."""

    async def main() -> None:
        before = asyncio.all_tasks()
        net = Net()
        try:
            await test(net)
        finally:
            await net.close()
        await asyncio.sleep(0)
        left = asyncio.all_tasks() - before - {asyncio.current_task()}
        assert not left, f"tasks left pending: {left}"

    asyncio.run(main())


def candidates(sdp: str) -> list[tuple[str, str]]:
    return CANDIDATE.findall(sdp)


def the_call(peer: Peer) -> Call:
    calls = list(peer.session.calls().values())
    assert len(calls) == 1, calls
    return calls[0]


def sdps(peer: Peer) -> list[str]:
    return [
        m.sdp
        for m in peer.sent
        if isinstance(m, wire.Invite | wire.Answer | wire.Update | wire.UpdateOk)
    ]


async def connect_call(net: Net, **options: Any) -> tuple[Peer, Peer, Call, Call]:
    alice = await net.add("alice", **options)
    bob = await net.add("bob", **options)
    call, fx = alice.session.call("bob", net.now())
    net.carry(alice, fx)
    await until(lambda: bool(bob.events(name="incomingCall")))
    invitation = bob.events(name="incomingCall")[0].payload
    net.carry(bob, invitation.accept(net.now()))
    callee = the_call(bob)
    await until(lambda: call.state is CallState.CONNECTED and callee.state is CallState.CONNECTED)
    return alice, bob, call, callee


def flowing(peer: Peer, call_id: str, audio: int = 5, video: int = 2) -> Callable[[], bool]:
    def check() -> bool:
        got = peer.media.frames_received(call_id)
        return got.get("audio", 0) >= audio and got.get("video", 0) >= video

    return check


# --- tests ------------------------------------------------------------------------------------


def test_audio_video_call_flows_both_ways_then_hangs_up() -> None:
    async def scenario(net: Net) -> None:
        alice, bob, call, callee = await connect_call(net)
        cid = call.call_id
        assert callee.call_id == cid
        assert alice.events(call.target, "accepted") and alice.events(call.target, "response")
        assert str(call.status.value).endswith("ONGOING") and str(callee.status.value).endswith(
            "ONGOING"
        )

        await until(flowing(alice, cid))
        await until(flowing(bob, cid))
        assert (
            alice.media.frames_sent(cid)["audio"] > 0 and alice.media.frames_sent(cid)["video"] > 0
        )
        assert bob.media.frames_sent(cid)["audio"] > 0 and bob.media.frames_sent(cid)["video"] > 0

        # each side hears the other's stream, named by the id the other side acquired
        (added,) = bob.events(callee.target, "streamAdded")
        assert added.payload["streamId"] == call.stream_id
        for peer in (alice, bob):  # streamAdded fires on the first track; both arrived
            tracks = [r for r in peer.reports if isinstance(r, TrackAdded)]
            assert sorted(r.kind for r in tracks) == ["audio", "video"]
        (added,) = alice.events(call.target, "streamAdded")
        assert added.payload["streamId"] == callee.stream_id

        # only 127.0.0.1 host candidates, in both SDPs
        offer, answer = sdps(alice)[0], sdps(bob)[0]
        for sdp in (offer, answer):
            found = candidates(sdp)
            assert found, sdp
            assert all(address == "127.0.0.1" and kind == "host" for address, kind in found)
            assert non_loopback_candidates(sdp) == []
            assert "m=audio" in sdp and "m=video" in sdp

        net.carry(alice, call.hangup(net.now()))
        await until(lambda: call.ended and callee.ended)
        await until(lambda: alice.media.calls() == [] and bob.media.calls() == [])
        assert alice.events(call.target, "hangup")[0].payload["from"] == "local"
        assert bob.events(callee.target, "hangup")[0].payload["from"] == "remote"
        assert alice.media.peer_connection(cid) is None
        # the counters outlive the call
        assert alice.media.frames_received(cid)["video"] >= 2

    run(scenario)


def test_data_channel_opens_and_carries_messages_both_ways() -> None:
    async def scenario(net: Net) -> None:
        alice = await net.add("alice")
        bob = await net.add("bob")
        channel, fx = alice.session.start_data_channel("bob", net.now(), label="chat")
        net.carry(alice, fx)
        await until(lambda: bool(bob.events("session", "dataChannelInvitation")))
        invitation = bob.events("session", "dataChannelInvitation")[0].payload
        theirs, fx = invitation.accept(net.now())
        net.carry(bob, fx)
        await until(
            lambda: (
                bool(alice.events(channel.target, "opened"))
                and bool(bob.events(theirs.target, "opened"))
            )
        )
        assert theirs.channel_id == channel.channel_id

        # a data call has no media: its offer still carries an SCTP section, on loopback only
        offer = sdps(alice)[0]
        assert "m=application" in offer and "m=audio" not in offer
        assert {address for address, _ in candidates(offer)} == {"127.0.0.1"}

        _, fx = channel.send_data(net.now(), "hello bob")
        net.carry(alice, fx)
        await until(lambda: bool(bob.events(theirs.target, "dataReceived")))
        assert bob.events(theirs.target, "dataReceived")[0].payload["data"] == "hello bob"

        _, fx = theirs.send_data(net.now(), b"\x00\x01hello alice")
        net.carry(bob, fx)
        await until(lambda: bool(alice.events(channel.target, "dataReceived")))
        assert alice.events(channel.target, "dataReceived")[0].payload["data"] == (
            b"\x00\x01hello alice"
        )

        net.carry(alice, channel.close(net.now()))
        await until(
            lambda: (
                bool(alice.events(channel.target, "ended"))
                and bool(bob.events(theirs.target, "ended"))
            )
        )
        await until(lambda: alice.media.calls() == [] and bob.media.calls() == [])

    run(scenario)


def test_ice_failure_is_repaired_with_new_peer_connections() -> None:
    async def scenario(net: Net) -> None:
        alice, bob, call, callee = await connect_call(net, peer_gone_delay=0.1)
        cid = call.call_id
        await until(flowing(bob, cid))
        assert alice.media.connections_created == bob.media.connections_created == 1

        # the connection dies under the call: aiortc closes both ends, the backends report
        # "failed", the caller restarts ICE with an update carrying a new connection's offer
        pc = alice.media.peer_connection(cid)
        assert pc is not None
        await pc.close()
        await until(lambda: alice.media.connections_created == 2)
        await until(lambda: bob.media.connections_created == 2)
        await until(
            lambda: call.state is CallState.CONNECTED and callee.state is CallState.CONNECTED
        )
        assert any(isinstance(m, wire.Update) for m in alice.sent)
        assert any(isinstance(m, wire.UpdateOk) for m in bob.sent)

        # media flows again on the new connections, the streams were never removed
        before = dict(bob.media.frames_received(cid))
        await until(flowing(bob, cid, before["audio"] + 5, before["video"] + 2))
        before = dict(alice.media.frames_received(cid))
        await until(flowing(alice, cid, before["audio"] + 5, before["video"] + 2))
        for peer, c in ((alice, call), (bob, callee)):
            assert not peer.events(c.target, "streamRemoved")
            assert len(peer.events(c.target, "streamAdded")) == 1
        for sdp in sdps(alice) + sdps(bob):
            assert {address for address, _ in candidates(sdp)} == {"127.0.0.1"}

        net.carry(bob, callee.hangup(net.now()))
        await until(lambda: call.ended and callee.ended)

    run(scenario)


def test_loopback_restriction_is_scoped_to_its_context() -> None:
    import aioice.ice

    install()
    token = LOOPBACK_ONLY.set(True)
    try:
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=False, use_ipv6=True) == []
    finally:
        LOOPBACK_ONLY.reset(token)
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)


def test_failures_are_reported_never_raised() -> None:
    from rtcstate import effects as fx
    from rtcstate import media as m

    async def scenario(net: Net) -> None:
        reports: list[MediaEvent] = []
        backend = AiortcMedia()
        backend.bind(reports.append)
        backend.apply(fx.CreateOffer("nope"))
        backend.apply(fx.CreatePeerConnection("c1"))
        backend.apply(fx.SetRemoteDescription("c1", "answer", "v=0\r\n"))  # no offer made
        backend.apply(fx.AcquireMedia("r1", "audio", audio=True, video=False))
        backend.apply(fx.AcquireMedia("r2", "media", audio=False, video=False))
        backend.apply(fx.StartRecording("c1"))
        await until(lambda: len(reports) >= 6)
        kinds = {type(r) for r in reports}
        assert m.Capabilities in kinds and m.MediaAcquired in kinds and m.MediaFailed in kinds
        failed = [r for r in reports if isinstance(r, m.DescriptionFailed)]
        assert {(r.call_id, r.local) for r in failed} == {("nope", True), ("c1", False)}
        (recording,) = [r for r in reports if isinstance(r, m.RecordingReport)]
        assert recording.status == "failed"
        acquired = next(r for r in reports if isinstance(r, m.MediaAcquired))
        assert (acquired.request_id, acquired.audio, acquired.video) == ("r1", True, False)
        await backend.close()
        backend.apply(fx.CreatePeerConnection("c2"))  # ignored after close
        assert backend.calls() == []

    run(scenario)


@pytest.mark.parametrize("bad", [{"buffered_low": 10, "buffered_high": 5}, {"video_size": (3, 2)}])
def test_options_are_checked(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        AiortcMedia(**bad)


async def open_channel(net: Net, **options: Any) -> tuple[Peer, Peer, Any, Any]:
    alice = await net.add("alice", **options)
    bob = await net.add("bob", **options)
    channel, fx = alice.session.start_data_channel("bob", net.now(), label="bulk")
    net.carry(alice, fx)
    await until(lambda: bool(bob.events("session", "dataChannelInvitation")))
    theirs, fx = bob.events("session", "dataChannelInvitation")[0].payload.accept(net.now())
    net.carry(bob, fx)
    await until(
        lambda: (
            bool(alice.events(channel.target, "opened"))
            and bool(bob.events(theirs.target, "opened"))
        )
    )
    return alice, bob, channel, theirs


def test_buffered_amount_marks_pace_a_bulk_send() -> None:
    from rtcstate.media import BufferedAmountHigh, BufferedAmountLow

    async def scenario(net: Net) -> None:
        marks = {"buffered_high": 64 << 10, "buffered_low": 16 << 10}
        alice, bob, channel, theirs = await open_channel(net, **marks)
        payload = bytes(range(256)) * 2048  # 512 KiB: 32 chunks, well over the high mark
        _, fx = channel.send_data(net.now(), payload)
        net.carry(alice, fx)
        await until(lambda: bool(bob.events(theirs.target, "dataReceived")))
        assert bob.events(theirs.target, "dataReceived")[0].payload["data"] == payload
        highs = [r for r in alice.reports if isinstance(r, BufferedAmountHigh)]
        lows = [r for r in alice.reports if isinstance(r, BufferedAmountLow)]
        assert highs and len(lows) == len(highs)
        await until(lambda: bool(alice.events(channel.target, "transferComplete")))

    run(scenario)


def test_data_channel_survives_an_ice_restart() -> None:
    async def scenario(net: Net) -> None:
        alice, bob, channel, theirs = await open_channel(net, peer_gone_delay=0.1)
        call = the_call(alice)
        pc = alice.media.peer_connection(call.call_id)
        assert pc is not None
        await pc.close()
        await until(lambda: alice.media.connections_created == bob.media.connections_created == 2)
        await until(lambda: call.state is CallState.CONNECTED)

        _, fx = channel.send_data(net.now(), "after the restart")
        net.carry(alice, fx)
        await until(lambda: bool(bob.events(theirs.target, "dataReceived")))
        assert bob.events(theirs.target, "dataReceived")[-1].payload["data"] == "after the restart"
        _, fx = theirs.send_data(net.now(), "and back")
        net.carry(bob, fx)
        await until(lambda: bool(alice.events(channel.target, "dataReceived")))
        # the swap was invisible: the channel never closed, never opened twice
        for peer, ch in ((alice, channel), (bob, theirs)):
            assert not peer.events(ch.target, "closed")
            assert len(peer.events(ch.target, "opened")) == 1

    run(scenario)


def test_mute_is_signalled_and_media_keeps_flowing() -> None:
    async def scenario(net: Net) -> None:
        alice, bob, call, callee = await connect_call(net)
        net.carry(alice, call.mute(net.now(), "video"))
        await until(lambda: bool(bob.events(callee.target, "remoteStreamUpdated")))
        assert bob.events(callee.target, "remoteStreamUpdated")[-1].payload["videoMuted"]
        # muted video is black frames, still sent and still received
        before = bob.media.frames_received(call.call_id)["video"]
        await until(flowing(bob, call.call_id, 0, before + 2))
        net.carry(alice, call.hangup(net.now()))
        await until(lambda: callee.ended)

    run(scenario)


def stats_updates(peer: Peer, call: Call) -> list[dict[str, Any]]:
    return [e.payload["stats"] for e in peer.events(call.target, "statsUpdate")]


def test_stats_are_reported_as_call_stats_updates() -> None:
    async def scenario(net: Net) -> None:
        alice, bob, call, callee = await connect_call(net, stats_interval=0.2)
        for peer, c in ((alice, call), (bob, callee)):
            await until(lambda peer=peer, c=c: len(stats_updates(peer, c)) >= 3, limit=3.0)  # type: ignore[misc]
            reports = stats_updates(peer, c)
            first, last = reports[0], reports[-1]
            assert set(last) <= {"audioSent", "videoSent", "audioReceived", "videoReceived"}
            assert last["audioSent"]["bytesSent"] > 0 and last["videoSent"]["bytesSent"] > 0
            assert last["videoReceived"]["bytesReceived"] > 0
            assert last["audioReceived"]["bytesReceived"] > 0
            for section, key in (("audioSent", "bytesSent"), ("videoReceived", "bytesReceived")):
                assert first.get(section, {}).get(key, 0) < last[section][key]
            assert last["videoSent"]["framesEncoded"] > 0
            assert last["videoReceived"]["framesDecoded"] > 0
            assert (last["videoReceived"]["width"], last["videoReceived"]["height"]) == (160, 120)
            assert last["audioSent"]["bitsSentPerSecond"] > 0
            assert last["videoReceived"]["bitsReceivedPerSecond"] > 0
            assert 0 <= last["videoReceived"]["packetLossRatio"] <= 1
        net.carry(alice, call.hangup(net.now()))
        await until(lambda: call.ended and callee.ended)
        await until(lambda: alice.media.calls() == [] and bob.media.calls() == [])

    run(scenario)


def test_stats_are_off_by_default() -> None:
    async def scenario(net: Net) -> None:
        alice, bob, call, callee = await connect_call(net)
        await until(flowing(bob, call.call_id))
        await asyncio.sleep(0.3)
        assert not stats_updates(alice, call) and not stats_updates(bob, callee)

    run(scenario)


def test_stats_interval_is_checked() -> None:
    for bad in (0, -1.0):
        with pytest.raises(ValueError):
            AiortcMedia(stats_interval=bad)


def test_a_failing_get_stats_is_skipped_not_raised() -> None:
    async def scenario(net: Net) -> None:
        alice, _bob, call, _callee = await connect_call(net, stats_interval=0.1)
        pc = alice.media.peer_connection(call.call_id)
        assert pc is not None
        real, failures = pc.getStats, []

        async def failing() -> Any:
            failures.append(1)
            if len(failures) <= 2:
                raise RuntimeError("getStats broke")
            return await real()

        pc.getStats = failing  # type: ignore[method-assign]
        await until(lambda: len(failures) > 2, limit=2.0)
        count = len(stats_updates(alice, call))
        await until(lambda: len(stats_updates(alice, call)) > count, limit=2.0)
        assert call.state is CallState.CONNECTED

    run(scenario)
