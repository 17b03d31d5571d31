"""End to end over loopback: a file transfer that survives what happens under it, on real aiortc.

Three scenarios, each with the real relay, real runtimes and real :class:`AiortcMedia`
(loopback only), as in ``test_e2e_aiortc.py`` (whose helpers are reused):

- the transfer's RTCDataChannel is closed out from under the core mid-transfer while its data
  call lives: both sides fire ``interrupted``, the sending side opens the channel again under the
  same channel id, the far side's backend reports the new channel (same ``protocol``) opened,
  both fire ``resumed`` and the file arrives byte-identical;
- the relay is restarted mid-transfer: the sessions reconnect, the peer-to-peer channel is never
  interrupted and the file arrives byte-identical;
- the receiver (the data call's callee) alone loses the relay mid-transfer: once back it
  restarts ICE itself (new connections on both sides), the channel is never interrupted and
  the file arrives byte-identical.

Each test runs in its own ``asyncio.run``, bounds every wait and checks that no task is left.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable
from typing import Any

from adaptertools import FAST, World
from rtcstate_aiortc import AiortcMedia
from rtcstate_asyncio import Session, UserAgent, serve
from test_e2e_aiortc import (
    WAIT,
    assert_loopback_sdp,
    assert_relay_on_loopback,
    run,
    until,
    world,
)

from rtcstate import effects as fx
from rtcstate import media as m
from rtcstate.codes import InvitationStatus
from rtcstate.settings import CallSettings

Tap = list[tuple[str, str, Any]]  # (target, event, payload) from Session.on_any


class RecordingMedia(AiortcMedia):
    """:class:`AiortcMedia` that keeps every report it makes (data channel ones, for checks)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.reports: list[m.MediaEvent] = []
        self.restarts: list[str] = []  # calls this side restarted ICE on (a new connection)
        self.on_restart: Callable[[], None] = lambda: None

    def apply(self, effect: fx.Effect) -> None:
        if isinstance(effect, fx.RestartIce):
            self.restarts.append(effect.call_id)
            self.on_restart()
        super().apply(effect)

    def bind(self, report: Any) -> None:
        def recording(event: m.MediaEvent) -> None:
            self.reports.append(event)
            report(event)

        super().bind(recording)

    def channel_reports(self, channel_id: str) -> list[str]:
        """Names of the data channel reports made for ``channel_id``, in order."""
        kinds = (m.DataChannelOpened, m.DataChannelClosed)
        return [
            type(e).__name__
            for e in self.reports
            if isinstance(e, kinds) and e.channel_id == channel_id
        ]


async def join(w: World, user: str, **calls: Any) -> tuple[Session, RecordingMedia, Tap]:
    """``calls``: :class:`~rtcstate.settings.CallSettings` options for this user."""
    media = RecordingMedia(loopback_only=True)
    options: dict[str, Any] = dict(FAST)
    if calls:
        options["calls"] = CallSettings(**calls)
    ua = UserAgent(user, media=media, options=options)
    w.uas[user], w.media[user] = ua, media
    session = await ua.register(w.relay.url, timeout=WAIT)
    seen: Tap = []
    session.on_any(lambda target, event, payload: seen.append((target, event, payload)))
    return session, media, seen


def sending_channel(media: AiortcMedia, call_id: str) -> Any:
    """The backend's record of the one data channel of the live call ``call_id`` (its
    ``channel_id`` and current aiortc ``dc``): the transfer's channel, under the core."""
    (channel,) = media._calls[call_id].channels.values()
    return channel


def transfer_events(seen: Tap, transfer_id: str) -> list[tuple[str, dict[str, Any]]]:
    """``interrupted`` / ``resumed`` fired for ``transfer_id`` (on whichever target)."""
    return [
        (event, payload)
        for target, event, payload in seen
        if event in ("interrupted", "resumed")
        and isinstance(payload, dict)
        and payload.get("uuid") == transfer_id
    ]


def _sha256(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def test_channel_closed_mid_transfer_resumes_and_the_file_arrives_intact() -> None:
    async def test() -> None:
        async with world() as w:
            alice, alice_media, alice_seen = await join(w, "alice")
            bob, bob_media, bob_seen = await join(w, "bob")
            data = random.Random(20261201).randbytes(3_000_000)
            contact = alice.get_contact("bob")
            invited = bob.wait_for("fileTransferInvitation", WAIT)
            sent = contact.send_file(data, name="resume.bin")
            invitation = await invited
            assert invitation.id == sent.id
            tid = sent.id
            assert_loopback_sdp(alice_media.local_description(tid))  # the data call's offer

            # (when, channel id, its RTCDataChannel's state, bytes bob held)
            killed: list[tuple[float, str, str | None, int]] = []

            def on_progress(info: dict[str, Any]) -> None:
                if killed or not 20.0 <= info["percentage"] <= 50.0:
                    return
                # the sending side's RTCDataChannel, closed under the core's feet
                channel = sending_channel(alice_media, tid)
                dc = channel.dc
                state = None if dc is None else dc.readyState
                killed.append((time.monotonic(), channel.channel_id, state, invitation.received))
                if dc is not None:
                    dc.close()

            invitation.on("progress", on_progress)
            started = time.monotonic()
            received = invitation.accept()
            async with asyncio.timeout(20.0):
                got = await received
                done = await sent.done()
            finished = time.monotonic()

            assert killed, "the transfer finished before it reached 20 %"
            at, channel_id, state, held = killed[0]
            assert state == "open" and 0 < held < len(data)
            assert got["size"] == len(data) and got["sha256"] == _sha256(data)
            assert got["file"] == data
            assert done["transferInformation"]["remainingSize"] == 0
            assert not contact.fired("fileTransferError")
            assert not invitation.fired("error")
            assert invitation.status is InvitationStatus.INVITATION_STATUS_ENDED

            # both sides were interrupted, then resumed from where the receiver was
            for seen in (alice_seen, bob_seen):
                names = [e for e, _ in transfer_events(seen, tid)]
                assert names == ["interrupted", "resumed"], names
            (_, bob_resumed) = transfer_events(bob_seen, tid)[1]
            (_, alice_resumed) = transfer_events(alice_seen, tid)[1]
            assert alice_resumed["offset"] == bob_resumed["offset"] >= held

            # the backends: alice's channel closed then opened again under the same id; bob's
            # backend saw it close and reported the far side's new channel (same protocol)
            expected = ["DataChannelOpened", "DataChannelClosed", "DataChannelOpened"]
            assert alice_media.channel_reports(channel_id) == expected
            assert bob_media.channel_reports(channel_id) == expected
            # one connection each: the data call itself was never renegotiated
            assert alice_media.connections_created == bob_media.connections_created == 1
            print(
                f"\nresume: closed at {held / len(data):.0%}, "
                f"resumed from {bob_resumed['offset']}, "
                f"{finished - at:.2f} s from the close to the end, "
                f"{finished - started:.2f} s in all"
            )

    run(test, limit=30.0)


def test_relay_restarted_mid_transfer_the_file_goes_on_and_arrives_intact() -> None:
    # Once registered again the caller (alice, the sender) renegotiates its calls with an ICE
    # restart: aiortc builds a new connection on each side, mid-transfer, at full speed. Nothing
    # the old association carried may be lost on the way (the core is not told: the swap is
    # the backend's business), so the transfer is never interrupted.
    async def test() -> None:
        async with world() as w:
            alice, alice_media, alice_seen = await join(w, "alice")
            bob, bob_media, bob_seen = await join(w, "bob")
            data = random.Random(20261202).randbytes(4_000_000)
            contact = alice.get_contact("bob")
            invited = bob.wait_for("fileTransferInvitation", WAIT)
            sent = contact.send_file(data, name="relay.bin")
            invitation = await invited
            tid = sent.id

            loop = asyncio.get_running_loop()
            started = loop.time()
            marks: dict[str, tuple[float, int]] = {}  # what -> (when, bytes bob held)

            def mark(what: str) -> None:
                marks.setdefault(what, (loop.time() - started, invitation.received))

            alice_media.on_restart = lambda: mark("ICE restart")
            mid_way = loop.create_future()

            def on_progress(info: dict[str, Any]) -> None:
                if info["percentage"] >= 15.0 and not mid_way.done():
                    mid_way.set_result(None)

            invitation.on("progress", on_progress)
            port = w.relay.port
            lost = alice.wait_for("disconnect", WAIT), bob.wait_for("disconnect", WAIT)
            retrying = alice.wait_for("reconnecting", WAIT), bob.wait_for("reconnecting", WAIT)
            back = alice.wait_for("reconnection", WAIT), bob.wait_for("reconnection", WAIT)
            received = invitation.accept()
            await asyncio.wait_for(mid_way, WAIT)
            channel_id = sending_channel(alice_media, tid).channel_id
            mark("relay closed")
            await w.relay.close()
            w.relay = await serve("127.0.0.1", port)
            assert_relay_on_loopback(w.relay)
            await asyncio.gather(*lost, *retrying, *back)
            mark("reconnected")
            async with asyncio.timeout(20.0):
                got = await received
                done = await sent.done()
            mark("done")

            assert got["file"] == data and got["sha256"] == _sha256(data)
            assert done["transferInformation"]["remainingSize"] == 0
            assert not contact.fired("fileTransferError")
            assert not invitation.fired("error")
            for session in (alice, bob):
                names = session.fired()
                assert names.index("disconnect") < names.index("reconnecting")
                assert names.index("reconnecting") < names.index("reconnection")
            # the data call was renegotiated on new connections while bytes were flowing
            assert alice_media.restarts == [tid]
            assert 0 < marks["relay closed"][1] <= marks["ICE restart"][1] < len(data), marks
            await until(
                lambda: alice_media.connections_created == bob_media.connections_created == 2
            )
            # peer to peer: the transfer was never interrupted
            assert transfer_events(alice_seen, tid) == transfer_events(bob_seen, tid) == []
            for media in (alice_media, bob_media):
                assert media.channel_reports(channel_id) == ["DataChannelOpened"]
            await until(lambda: invitation.status is InvitationStatus.INVITATION_STATUS_ENDED)
            print(
                "\nrelay restart: "
                + ", ".join(
                    f"{what} at {t:.2f} s ({n / len(data):.0%})" for what, (t, n) in marks.items()
                )
            )

    run(test, limit=30.0)


def test_callee_alone_loses_the_relay_mid_transfer_restarts_ice_and_the_file_arrives_intact() -> (
    None
):
    # Only the receiving side (bob, the data call's callee) loses the relay: once registered
    # again he waits ice_restart_delay for the caller's update (none comes: alice kept the relay)
    # and renegotiates himself with an ICE restart, as apiRTC does whichever side lost the
    # server. aiortc builds a new connection on each side, mid-transfer; nothing is lost.
    async def test() -> None:
        async with world() as w:
            alice, alice_media, alice_seen = await join(w, "alice")
            bob, bob_media, bob_seen = await join(w, "bob", ice_restart_delay=0.5)
            data = random.Random(20261203).randbytes(3_000_000)
            contact = alice.get_contact("bob")
            invited = bob.wait_for("fileTransferInvitation", WAIT)
            sent = contact.send_file(data, name="callee.bin")
            invitation = await invited
            tid = sent.id

            loop = asyncio.get_running_loop()
            started = loop.time()
            marks: dict[str, tuple[float, int]] = {}  # what -> (when, bytes bob held)

            def mark(what: str) -> None:
                marks.setdefault(what, (loop.time() - started, invitation.received))

            bob_media.on_restart = lambda: mark("ICE restart")
            mid_way = loop.create_future()

            def on_progress(info: dict[str, Any]) -> None:
                if info["percentage"] >= 10.0 and not mid_way.done():
                    mid_way.set_result(None)

            invitation.on("progress", on_progress)
            lost, back = bob.wait_for("disconnect", WAIT), bob.wait_for("reconnection", WAIT)
            received = invitation.accept()
            await asyncio.wait_for(mid_way, WAIT)
            channel_id = sending_channel(alice_media, tid).channel_id
            mark("link dropped")
            link = bob.runtime._link  # bob's websocket to the relay, under the runtime
            assert link is not None and link.ws is not None
            link.ws.transport.abort()
            await asyncio.gather(lost, back)
            mark("reconnected")
            async with asyncio.timeout(20.0):
                got = await received
                done = await sent.done()
            mark("done")

            assert got["file"] == data and got["sha256"] == _sha256(data)
            assert done["transferInformation"]["remainingSize"] == 0
            assert not contact.fired("fileTransferError")
            assert not invitation.fired("error")
            assert "disconnect" not in alice.fired()  # alice kept the relay
            # the callee restarted, the caller did not: one new connection on each side
            assert bob_media.restarts == [tid] and alice_media.restarts == []
            assert marks["reconnected"][0] <= marks["ICE restart"][0], marks
            await until(
                lambda: alice_media.connections_created == bob_media.connections_created == 2
            )
            assert transfer_events(alice_seen, tid) == transfer_events(bob_seen, tid) == []
            for media in (alice_media, bob_media):
                assert media.channel_reports(channel_id) == ["DataChannelOpened"]
            print(
                "\ncallee relay loss: "
                + ", ".join(
                    f"{what} at {t:.2f} s ({n / len(data):.0%})" for what, (t, n) in marks.items()
                )
            )

    run(test, limit=30.0)
