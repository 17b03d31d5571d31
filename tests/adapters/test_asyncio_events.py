"""Events never lost: event streams, once, on as a decorator, ``async with UserAgent``, and
running an agent until a signal. Real websockets on 127.0.0.1, fake media, bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import adaptertools
import pytest
from adaptertools import World, run, until
from rtcstate_asyncio import (
    DataChannel,
    Event,
    FakeMediaNetwork,
    ReceivedDataChannelInvitation,
    Session,
    StreamEnded,
    UserAgent,
    catch_signals,
    run_until_signal,
    serve,
)

from rtcstate.settings import ParameterError

WAIT = 5.0
ROOT = Path(__file__).resolve().parents[2]


def world() -> contextlib.AbstractAsyncContextManager[World]:
    return adaptertools.world(FakeMediaNetwork().backend)


async def open_channel(alice: Session, bob: Session) -> tuple[DataChannel, DataChannel]:
    invited = bob.wait_for("dataChannelInvitation", WAIT)
    mine = alice.get_contact("bob").start_data_channel("chat")
    opened = mine.wait_for("opened", WAIT)
    invitation = await invited
    assert isinstance(invitation, ReceivedDataChannelInvitation)
    theirs = invitation.accept()
    await opened
    await until(lambda: bool(theirs.fired("opened")))
    return mine, theirs


def test_a_wait_for_loop_loses_events_a_stream_does_not() -> None:
    """The issue's case: three dataReceived, an application busy between two waits."""

    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            mine, theirs = await open_channel(alice, bob)
            stream = theirs.events("dataReceived")  # subscribe, then act
            sent = [mine.send_data(f"message {i}") for i in range(3)]

            got_by_wait = [await theirs.wait_for("dataReceived", WAIT)]
            # the application works while the other two arrive...
            await until(lambda: len(theirs.fired("dataReceived")) == 3)
            # ...so the next wait_for sees nothing: two events are lost for that loop
            with pytest.raises(TimeoutError):
                got_by_wait.append(await theirs.wait_for("dataReceived", 0.3))
            assert len(got_by_wait) == 1

            got = [await stream.next(WAIT) for _ in sent]  # the stream kept all three
            assert [e.name for e in got] == ["dataReceived"] * 3
            assert [e.payload for e in got] == [
                {"uuid": uuid, "data": f"message {i}"} for i, uuid in enumerate(sent)
            ]
            assert stream.pending == 0
            stream.close()

    run(test)


def test_a_call_stream_yields_every_event_in_order_and_ends_with_the_call() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            bob.on("incomingCall", lambda invitation: invitation.accept())
            call = alice.get_contact("bob").call()
            stream = call.events()  # created right after the command, before any event
            names: list[str] = []

            async def read() -> None:
                async for event in stream:
                    assert isinstance(event, Event)
                    names.append(event.name)
                    if event.name == "accepted":
                        call.hangup()

            async with asyncio.timeout(WAIT):
                await read()  # ends by itself once the call ended and the queue is drained
            assert stream.ended and stream.pending == 0
            assert names.index("accepted") < names.index("hangup")
            assert names == call.fired()[-len(names) :]  # the same events, none missing
            with pytest.raises(StreamEnded):
                await stream.next(WAIT)

    run(test)


def test_stream_filters_times_out_closes_and_is_held_weakly() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            mine, theirs = await open_channel(alice, bob)
            only_ended = theirs.events("ended")
            with pytest.raises(ParameterError):
                theirs.events("dataReceived", "nope")
            async with theirs.events("dataReceived") as data:
                mine.send_data("one")
                assert (await data.next(WAIT)).payload["data"] == "one"
                with pytest.raises(TimeoutError):  # nothing more: bounded, the stream goes on
                    await data.next(0.1)
                mine.send_data("two")
                await until(lambda: data.pending == 1)
            assert data.ended  # closed by the block; what was queued is still readable
            assert (await data.next(WAIT)).payload["data"] == "two"
            with pytest.raises(StreamEnded):
                await data.next(WAIT)

            count = len(theirs._streams)
            theirs.events()  # nobody holds it: dropped at once, queues nothing
            gc.collect()
            assert len(theirs._streams) == count

            mine.close()
            event = await only_ended.next(WAIT)
            assert event == Event("ended", {"from": "remote"})
            with pytest.raises(StreamEnded):  # the channel ended: so did its stream
                await only_ended.next(WAIT)

    run(test)


def test_once_and_on_as_a_decorator() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            mine, theirs = await open_channel(alice, bob)
            every: list[Any] = []
            first: list[Any] = []

            @theirs.on("dataReceived")
            def keep(info: Any) -> None:
                every.append(info["data"])

            @theirs.once("dataReceived")
            def keep_first(info: Any) -> None:
                first.append(info["data"])

            assert keep.__name__ == "keep" and keep_first.__name__ == "keep_first"
            removed: list[Any] = []
            theirs.once("dataReceived", removed.append).off("dataReceived", removed.append)
            with pytest.raises(ParameterError):
                theirs.on("nope")  # refused when the decorator is made, not later
            for text in ("a", "b", "c"):
                mine.send_data(text)
            await until(lambda: len(every) == 3)
            assert every == ["a", "b", "c"] and first == ["a"] and removed == []

    run(test)


def test_async_with_user_agent_unregisters_on_exit_even_on_error() -> None:
    async def test() -> None:
        relay = await serve("127.0.0.1", 0)
        net = FakeMediaNetwork()
        try:
            async with UserAgent("alice", media=net.backend("alice")) as ua:
                session = await ua.register(relay.url, timeout=WAIT)
                lasting = session.events()
                ua_stream = ua.events("ccsConnectionStatus")
            assert ua.session is None  # unregistered on the way out
            assert lasting.ended and ua_stream.ended  # so their streams ended

            bob = UserAgent("bob", media=net.backend("bob"))
            with pytest.raises(RuntimeError, match="boom"):
                async with bob:
                    await bob.register(relay.url, timeout=WAIT)
                    raise RuntimeError("boom")
            assert bob.session is None
            async with UserAgent("carol") as never_registered:
                assert never_registered.session is None  # nothing to undo
        finally:
            await relay.close()

    run(test)


def test_run_until_signal_returns_when_main_ends_or_raises() -> None:
    async def test() -> None:
        relay = await serve("127.0.0.1", 0)
        net = FakeMediaNetwork()
        try:
            ua = UserAgent("alice", media=lambda: net.backend("alice"))
            seen: list[str | None] = []

            async def main(session: Session) -> None:
                seen.append(session.id)

            assert await run_until_signal(ua, relay.url, main, timeout=WAIT) is None
            assert seen and seen[0] and ua.session is None

            async def failing(session: Session) -> None:
                raise ValueError("the application failed")

            with pytest.raises(ValueError, match="application failed"):
                await run_until_signal(ua, relay.url, failing, timeout=WAIT)
            assert ua.session is None
        finally:
            await relay.close()

    run(test)


def test_catch_signals_turns_a_signal_into_a_result() -> None:
    async def test() -> None:
        with catch_signals([signal.SIGUSR1]) as caught:
            os.kill(os.getpid(), signal.SIGUSR1)
            assert await asyncio.wait_for(caught, WAIT) is signal.SIGUSR1
        assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # handler given back

    run(test)


BOT = textwrap.dedent(
    """
    import asyncio, sys
    from rtcstate_asyncio import FakeMediaNetwork, UserAgent, run_until_signal, serve

    async def main() -> None:
        relay = await serve("127.0.0.1", 0)
        ua = UserAgent("bot", media=FakeMediaNetwork().backend("bot"))

        async def ready(session) -> None:
            print("registered", session.id is not None, flush=True)
            await asyncio.Event().wait()  # a bot works until told to stop

        got = await run_until_signal(ua, relay.url, ready, timeout=10)
        print("stopped by", got.name, "registered:", ua.session is not None, flush=True)
        await relay.close()

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_bot_runs_until_a_signal_then_unregisters(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", BOT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)  # bounded
        assert ready, "the bot did not register in time"
        assert proc.stdout.readline().strip() == "registered True"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert out.strip() == f"stopped by {sig.name} registered: False"
    assert "Traceback" not in err
