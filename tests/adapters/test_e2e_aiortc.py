"""End to end over loopback: the real relay, real runtimes, real aiortc media.

Every user is a :class:`~rtcstate_asyncio.UserAgent` with its own
:class:`~rtcstate_aiortc.AiortcMedia` (loopback only), registered on a relay started with
:func:`~rtcstate_asyncio.serve` on 127.0.0.1 (a free port). One scenario runs the callee in a
separate process (``e2e_agent.py``) so that it can be killed with SIGKILL mid-call.

Each test runs in its own ``asyncio.run``, bounds every wait and checks afterwards that no task
is left; every call checks that both local descriptions offer only ``127.0.0.1 ... typ host``
candidates.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import adaptertools
import pytest
from adaptertools import World
from rtcstate_aiortc import AiortcMedia
from rtcstate_asyncio import Call, ReceivedCallInvitation, Relay, Session, serve

from rtcstate.codes import CallStatus, ErrorCode, HangupReason
from rtcstate.settings import CallSettings

WAIT = 10.0  # the bound of every single wait, seconds
AGENT = Path(__file__).with_name("e2e_agent.py")
CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ (\S+)", re.M)


async def until(predicate: Callable[[], bool], limit: float = WAIT) -> None:
    """Wait (bounded, :data:`WAIT` by default: real media is slower) until ``predicate()``."""
    await adaptertools.until(predicate, limit)


def run(test: Callable[[], Awaitable[None]], limit: float = 40.0) -> None:
    adaptertools.run(test, limit)


@contextlib.asynccontextmanager
async def world() -> AsyncIterator[World]:
    """A relay on 127.0.0.1 and user agents with real aiortc media (loopback only)."""
    async with adaptertools.world(lambda user: AiortcMedia(loopback_only=True), wait=WAIT) as w:
        assert_relay_on_loopback(w.relay)
        yield w


def assert_relay_on_loopback(relay: Relay) -> None:
    assert relay.url.startswith("ws://127.0.0.1:"), relay.url
    server = relay._server
    assert server is not None
    assert {s.getsockname()[0] for s in server.sockets} == {"127.0.0.1"}


def assert_loopback_sdp(sdp: str | None) -> None:
    """Every candidate of ``sdp`` is a 127.0.0.1 host candidate (and there is one)."""
    assert sdp is not None
    found = CANDIDATE.findall(sdp)
    assert found, sdp
    assert set(found) == {("127.0.0.1", "host")}, found


def frames(media: AiortcMedia, call_id: str) -> tuple[int, int]:
    got = media.frames_received(call_id)
    return got.get("audio", 0), got.get("video", 0)


def flowing(media: AiortcMedia, call_id: str, audio: int = 5, video: int = 2) -> Callable[[], bool]:
    """True once ``call_id`` received ``audio`` audio and ``video`` video frames (more than
    what it had when this was called)."""
    a0, v0 = frames(media, call_id)

    def check() -> bool:
        a, v = frames(media, call_id)
        return a >= a0 + audio and v >= v0 + video

    return check


async def call_and_accept(caller: Session, callee: Session) -> tuple[Call, Call]:
    incoming = callee.wait_for("incomingCall", WAIT)
    call = caller.get_contact(callee.user_id).call()
    accepted = call.wait_for("accepted", WAIT)
    invitation = await incoming
    assert isinstance(invitation, ReceivedCallInvitation)
    their = invitation.accept()
    await accepted
    return call, their


async def hangup_agrees(by: Call, other: Call, reason: HangupReason) -> None:
    """``by`` hangs up: it hears ``from: local``, ``other`` ``from: remote``, same reason."""
    ended = by.wait_for("hangup", WAIT), other.wait_for("hangup", WAIT)
    by.hangup()
    mine, theirs = await asyncio.gather(*ended)
    assert mine == {"from": "local", "reason": reason.value}
    assert theirs == {"from": "remote", "reason": reason.value}
    assert by.status is other.status is CallStatus.CALL_STATUS_ENDED


# --- calls between two in-process agents --------------------------------------------------------


def test_call_accepted_media_flows_both_ways_then_hangup_agrees() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            call, their = await call_and_accept(alice, bob)
            assert call.id == their.id
            assert call.status is their.status is CallStatus.CALL_STATUS_ONGOING
            assert call.fired("response") == ["accepted"]
            for c in (call, their):
                if not c.fired("streamAdded"):
                    await c.wait_for("streamAdded", WAIT)
            (added,) = their.fired("streamAdded")
            assert added["isRemote"] and added["contact"] == "alice"
            await until(flowing(w.media["alice"], call.id))
            await until(flowing(w.media["bob"], call.id))
            for user in ("alice", "bob"):
                sent = w.media[user].frames_sent(call.id)
                assert sent["audio"] > 0 and sent["video"] > 0, (user, sent)
                assert_loopback_sdp(w.media[user].local_description(call.id))
            await hangup_agrees(their, call, HangupReason.HANGUP_FROM_CALLEE)
            assert alice.get_calls() == [] and bob.get_calls() == []
            await until(lambda: w.media["alice"].calls() == w.media["bob"].calls() == [])

    run(test)


def test_declined_call_ends_with_the_decline_reason_and_no_media() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            incoming = bob.wait_for("incomingCall", WAIT)
            call = alice.get_contact("bob").call()
            declined, hangup = call.wait_for("declined", WAIT), call.wait_for("hangup", WAIT)
            invitation = await incoming
            assert isinstance(invitation, ReceivedCallInvitation)
            invitation.decline()
            assert (await declined)["reason"] == HangupReason.USER_REFUSED_CALL.value
            assert await hangup == {
                "from": "remote",
                "reason": HangupReason.USER_REFUSED_CALL.value,
            }
            assert call.fired("response") == ["declined"]
            assert call.status is CallStatus.CALL_STATUS_ENDED
            await asyncio.sleep(0.3)  # had anything connected, frames would flow by now
            await until(lambda: w.media["alice"].calls() == w.media["bob"].calls() == [])
            for user in ("alice", "bob"):
                media = w.media[user]
                assert not any(media.frames_received(call.id).values()), user
                assert not any(media.frames_sent(call.id).values()), user

    run(test)


def test_busy_callee_refuses_a_second_call_and_keeps_the_first() -> None:
    async def test() -> None:
        async with world() as w:
            alice, carol = await w.join("alice"), await w.join("carol")
            bob = await w.join("bob", calls=CallSettings(allow_multiple_calls=False))
            call, their = await call_and_accept(alice, bob)
            second = carol.get_contact("bob").call()
            declined = await second.wait_for("declined", WAIT)
            assert declined["reason"] == HangupReason.USER_BUSY.value
            assert second.status is CallStatus.CALL_STATUS_ENDED
            assert [c.id for c in bob.fired("incomingCall")] == [call.id]  # never rang
            # the first call is untouched and still carries media
            assert call.status is their.status is CallStatus.CALL_STATUS_ONGOING
            await until(flowing(w.media["alice"], call.id))
            await until(flowing(w.media["bob"], call.id))
            assert not any(w.media["carol"].frames_received(second.id).values())
            await hangup_agrees(call, their, HangupReason.HANGUP_FROM_CALLER)

    run(test)


def test_calling_a_user_who_is_not_there_ends_user_not_found() -> None:
    async def test() -> None:
        async with world() as w:
            alice = await w.join("alice")
            call = alice.get_contact("nobody").call()
            declined = call.wait_for("declined", WAIT)
            hangup = await call.wait_for("hangup", WAIT)
            assert hangup == {"from": "remote", "reason": HangupReason.USER_NOT_FOUND.value}
            assert (await declined)["reason"] == HangupReason.USER_NOT_FOUND.value
            assert call.status is CallStatus.CALL_STATUS_ENDED
            await until(lambda: w.media["alice"].calls() == [])

    run(test)


# --- a peer process killed mid-call ---------------------------------------------------------------


class Agent:
    """``e2e_agent.py`` in a subprocess: a callee that accepts every call (see its docstring)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, url: str, user: str, contact: str | None = None) -> Agent:
        """The agent registered as ``user`` (with ``contact``: it also calls that contact)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(AGENT),
            url,
            user,
            *([contact] if contact else []),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode().strip())

    def frames(self, call_id: str) -> tuple[int, int]:
        """The last audio/video frame counts the agent printed for ``call_id``."""
        for text in reversed(self.lines):
            parts = text.split()
            if parts[:2] == ["frames", call_id]:
                return int(parts[2]), int(parts[3])
        return 0, 0

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def close(self) -> None:
        self.kill()
        async with asyncio.timeout(WAIT):
            await self.proc.wait()
            await self.reader


#: short timers: the caller restarts ICE after 1 s and gives its unanswered update up after
#: 0.5 s (before: CALL_ABORTED); the ICE timeout (4 s) ends the call; the window stays 30 s
KILLED = CallSettings(
    ice_disconnection_timeout=4.0,
    ice_warning_first=1.0,
    ice_warning_interval=1.0,
    ice_restart_delay=1.0,
    rtx_initial=0.1,
    rtx_max=0.2,
    rtx_attempts=3,
)


@pytest.mark.parametrize("survivor", ["caller", "callee"])
def test_peer_process_killed_mid_call_ends_the_call_within_rtcstate_timers(survivor: str) -> None:
    # aiortc notices a dead peer only when ICE consent expires (~30 s); rtcstate_aiortc reports
    # `disconnected` after media_timeout (3 s) without a remote frame, then the core's timers
    # decide: hang-up Ice_disconnected after ice_disconnection_timeout, whichever side survives.
    # The caller's ICE-restart update to the dead peer does not abort the call, and the bye the
    # relay cannot deliver does not hold the hangup back for server_loss_window.
    async def test() -> None:
        async with world() as w:
            alice = await w.join("alice", calls=KILLED)
            incoming: list[Call] = []
            alice.on("incomingCall", lambda inv: incoming.append(inv.accept()))
            contact = alice.get_contact("bob")
            agent = await Agent.start(w.relay.url, "bob", "alice" if survivor == "callee" else None)
            try:
                await until(lambda: "ready" in agent.lines, 20.0)
                await until(lambda: contact.is_online)
                assert w.relay.connections == 2
                if survivor == "caller":
                    call = contact.call()
                    await call.wait_for("accepted", WAIT)
                else:
                    await until(lambda: bool(incoming))
                    call = incoming[0]
                assert f"call {call.id}" in agent.lines
                media = w.media["alice"]
                await until(flowing(media, call.id))
                await until(lambda: min(agent.frames(call.id)) > 2)
                assert_loopback_sdp(media.local_description(call.id))

                left = contact.wait_for("leaveGroup", WAIT)
                hangup = call.wait_for("hangup", 30.0)
                killed = time.monotonic()
                agent.kill()
                await left  # the relay saw bob's connection drop: presence offline
                assert not contact.is_online and w.relay.connections == 1
                info = await hangup
                elapsed = time.monotonic() - killed
            finally:
                await agent.close()
            assert agent.proc.returncode == -signal.SIGKILL
            assert info == {"from": "local", "reason": HangupReason.ICE_DISCONNECTED.value}
            codes = [e["errorCode"] for e in call.fired("error")]
            assert codes[0] == ErrorCode.ICE_CONNECTION_STATE_DISCONNECTED.value, codes
            assert ErrorCode.CALL_ABORTED.value not in codes, codes
            assert call.fired("disconnectionWarning")
            assert call.status is CallStatus.CALL_STATUS_ENDED
            # media_timeout 3 + ice_disconnection_timeout 4 (+ slack), well under
            # server_loss_window (30 s) and aiortc's own consent expiry (about 30 s)
            assert 6.5 <= elapsed < 12.0, elapsed

    run(test)


# --- the relay restarted mid-call -----------------------------------------------------------------


def test_relay_restarted_mid_call_media_goes_on_then_hangup_agrees() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            call, their = await call_and_accept(alice, bob)
            await until(flowing(w.media["alice"], call.id))
            await until(flowing(w.media["bob"], call.id))
            port = w.relay.port
            lost = alice.wait_for("disconnect", WAIT), bob.wait_for("disconnect", WAIT)
            retrying = alice.wait_for("reconnecting", WAIT), bob.wait_for("reconnecting", WAIT)
            back = alice.wait_for("reconnection", WAIT), bob.wait_for("reconnection", WAIT)
            await w.relay.close()
            await asyncio.gather(*lost, *retrying)
            assert call.status is their.status is CallStatus.CALL_STATUS_ONGOING
            await until(flowing(w.media["alice"], call.id))  # peer to peer: no relay needed
            w.relay = await serve("127.0.0.1", port)
            assert_relay_on_loopback(w.relay)
            await asyncio.gather(*back)
            for session in (alice, bob):
                names = session.fired()
                assert names.index("reconnecting") < names.index("reconnection")
            # the caller renegotiated with an ICE restart: a new connection on each side
            await until(
                lambda: (
                    w.media["alice"].connections_created == 2
                    and w.media["bob"].connections_created == 2
                )
            )
            await until(lambda: call.core.state.value == "CONNECTED")
            # media still flows both ways after the reconnection, on the new connections
            await until(flowing(w.media["alice"], call.id, audio=10, video=3))
            await until(flowing(w.media["bob"], call.id, audio=10, video=3))
            for user in ("alice", "bob"):
                assert_loopback_sdp(w.media[user].local_description(call.id))
            assert call.status is their.status is CallStatus.CALL_STATUS_ONGOING
            assert not call.fired("error") and not their.fired("error")
            await hangup_agrees(call, their, HangupReason.HANGUP_FROM_CALLER)

    run(test)


# --- a file, byte for byte ------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_file_arrives_byte_identical_over_aiortc() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            data = random.Random(20261128).randbytes(1_000_000)
            invited = bob.wait_for("fileTransferInvitation", WAIT)
            sent = alice.get_contact("bob").send_file(data, name="blob.bin")
            invitation = await invited
            assert invitation.file_info["size"] == len(data)
            assert invitation.file_info["name"] == "blob.bin"
            assert invitation.id == sent.id  # the data call's id too
            assert_loopback_sdp(w.media["alice"].local_description(sent.id))  # the offer
            answers: list[str | None] = []  # bob's answer, while the data call is up
            invitation.on(
                "progress", lambda _: answers.append(w.media["bob"].local_description(sent.id))
            )
            received = invitation.accept()
            async with asyncio.timeout(20.0):
                got = await received
                done = await sent.done()
            assert got["size"] == len(data) and got["sha256"] == _sha256(data)
            assert _sha256(got["file"]) == _sha256(data) and got["file"] == data
            assert done["transferInformation"]["remainingSize"] == 0
            assert answers
            assert_loopback_sdp(answers[0])
            # the data call rode on a real aiortc connection, on loopback only
            assert w.media["alice"].connections_created == 1
            assert w.media["bob"].connections_created == 1

    run(test)
