"""The asyncio runtime and the apiRTC-shaped API over real websockets on 127.0.0.1.

Each test runs its own event loop (``asyncio.run``), a relay on a free loopback port and one
fake media backend per user on a shared :class:`FakeMediaNetwork`; every wait is bounded and
no task may be left pending at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import adaptertools
import pytest
from adaptertools import FAST, World, run, until
from rtcstate_asyncio import (
    Call,
    FakeMedia,
    FakeMediaNetwork,
    ReceivedCallInvitation,
    ReceivedDataChannelInvitation,
    RegistrationError,
    Session,
    UserAgent,
    serve,
)

from rtcstate import effects as fx
from rtcstate.codes import CallStatus, DataChannelStatus, ErrorCode, ErrorNumber, HangupReason
from rtcstate.errors import RtcError
from rtcstate.session import SessionState
from rtcstate.settings import CallSettings, ParameterError

WAIT = 5.0  # every single wait, seconds


def world() -> contextlib.AbstractAsyncContextManager[World]:
    """A relay and user agents on one fake media network."""
    return adaptertools.world(FakeMediaNetwork().backend)


async def call_and_accept(caller: Session, callee: Session) -> tuple[Call, Call]:
    incoming = callee.wait_for("incomingCall", WAIT)
    call = caller.get_contact(callee.user_id).call()
    accepted = call.wait_for("accepted", WAIT)
    invitation = await incoming
    assert isinstance(invitation, ReceivedCallInvitation)
    their = invitation.accept()
    await accepted
    return call, their


# --- registration and presence ------------------------------------------------------------------


def test_register_and_presence() -> None:
    async def test() -> None:
        async with world() as w:
            statuses: list[str] = []
            ua = UserAgent("alice", media=w.media_for("alice"), options=FAST)
            ua.on("ccsConnectionStatus", lambda p: statuses.append(p["status"]))
            w.uas["alice"] = ua
            alice = await ua.register(w.relay.url, timeout=WAIT)
            assert statuses == ["connected"]
            assert alice.id is not None and ua.session is alice
            joined = alice.wait_for("contactListUpdate", WAIT)
            bob_joins = alice.get_contact("bob").wait_for("joinGroup", WAIT)
            bob = await w.join("bob")
            assert (await joined)["joinedGroup"] == {"default": ["bob"]}
            assert await bob_joins == "default"
            assert alice.get_contact("bob").is_online
            assert [c.id for c in bob.get_online_contacts()] == ["alice"]
            left = alice.get_contact("bob").wait_for("leaveGroup", WAIT)
            await w.uas["bob"].unregister()
            assert await left == "default"
            assert not alice.get_contact("bob").is_online
            assert w.uas["bob"].session is None

    run(test)


def test_registration_failure_raises_the_typed_error() -> None:
    async def test() -> None:
        relay = await serve("127.0.0.1", 0)
        url = relay.url
        await relay.close()  # nothing listens there any more
        ua = UserAgent("alice", options=FAST)
        with pytest.raises(RegistrationError) as info:
            await ua.register(url, timeout=WAIT)
        assert info.value.code is ErrorNumber.ERROR_APIRTC_INITIALISATION_FAILED
        assert ua.session is None
        with pytest.raises(RtcError) as no_session:
            await ua.unregister()
        assert no_session.value.code is ErrorNumber.ERROR_OTHER

    run(test)


def test_a_backend_given_as_an_instance_survives_a_failed_registration() -> None:
    """The application's backend serves the retry (a failed attempt does not close it);
    unregister() closes it, and registering again with it then says so."""

    async def test() -> None:
        relay = await serve("127.0.0.1", 0)
        port = relay.port
        await relay.close()
        net = FakeMediaNetwork()
        alice = UserAgent("alice", media=net.backend("alice"), options=FAST)
        with pytest.raises(RegistrationError):
            await alice.register(f"ws://127.0.0.1:{port}", timeout=WAIT)
        relay = await serve("127.0.0.1", port)
        bob = UserAgent("bob", media=net.backend("bob"), options=FAST)
        a = await alice.register(relay.url, timeout=WAIT)
        b = await bob.register(relay.url, timeout=WAIT)
        b.on("incomingCall", lambda invitation: invitation.accept())
        call = a.get_contact("bob").call()
        await call.wait_for("accepted", timeout=WAIT)
        await alice.unregister()
        with pytest.raises(RtcError) as info:
            await alice.register(relay.url, timeout=WAIT)
        assert info.value.code is ErrorNumber.ERROR_WRONG_STATE
        await bob.unregister()
        await relay.close()

    run(test)


def test_second_register_raises_session_already_on() -> None:
    async def test() -> None:
        async with world() as w:
            await w.join("alice")
            with pytest.raises(RtcError) as info:
                await w.uas["alice"].register(w.relay.url)
            assert info.value.code is ErrorNumber.ERROR_APIRTC_SESSION_ALREADY_ON

    run(test)


# --- calls ---------------------------------------------------------------------------------------


def test_call_accepted_then_hangup_both_sides_agree() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            call, their = await call_and_accept(alice, bob)
            assert call.id == their.id
            assert call.status is CallStatus.CALL_STATUS_ONGOING
            assert their.status is CallStatus.CALL_STATUS_ONGOING
            assert call.fired("response") == ["accepted"]
            assert their.contact.id == "alice" and call.contact.id == "bob"
            # fake media: each side saw the far side's stream
            if not their.fired("streamAdded"):
                await their.wait_for("streamAdded", WAIT)
            ended = call.wait_for("hangup", WAIT), their.wait_for("hangup", WAIT)
            their.hangup()
            mine, theirs = await asyncio.gather(*ended)
            reason = HangupReason.HANGUP_FROM_CALLEE.value
            assert theirs == {"from": "local", "reason": reason}
            assert mine == {"from": "remote", "reason": reason}
            assert call.status is CallStatus.CALL_STATUS_ENDED
            with pytest.raises(RtcError) as info:
                call.hangup()
            assert info.value.code is ErrorNumber.ERROR_WRONG_STATE
            assert alice.get_calls() == [] and bob.get_calls() == []

    run(test)


def test_both_hang_up_at_once_and_still_agree() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            call, their = await call_and_accept(alice, bob)
            ended = call.wait_for("hangup", WAIT), their.wait_for("hangup", WAIT)
            call.hangup()
            their.hangup()  # the byes cross
            mine, theirs = await asyncio.gather(*ended)
            assert mine["from"] == "local" and theirs["from"] == "remote"
            assert mine["reason"] == theirs["reason"] == HangupReason.HANGUP_FROM_CALLER.value
            await asyncio.sleep(0.05)
            assert call.fired("hangup") == [mine] and their.fired("hangup") == [theirs]

    run(test)


def test_call_declined() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            incoming = bob.get_contact("alice").wait_for("incomingCall", WAIT)
            call = alice.get_contact("bob").call()
            declined = call.wait_for("declined", WAIT)
            invitation = await incoming
            statuses: list[Any] = []
            invitation.on("statusChange", lambda p: statuses.append(p["status"]))
            invitation.decline()
            assert (await declined)["reason"] == HangupReason.USER_REFUSED_CALL.value
            assert statuses == ["INVITATION_STATUS_DECLINED"]
            assert call.fired("response") == ["declined"]
            with pytest.raises(RtcError) as info:
                invitation.accept()
            assert info.value.code is ErrorNumber.ERROR_INVITATION_STATE_INVALID

    run(test)


def test_busy_callee_refuses_a_second_call() -> None:
    async def test() -> None:
        async with world() as w:
            alice, carol = await w.join("alice"), await w.join("carol")
            bob = await w.join("bob", calls=CallSettings(allow_multiple_calls=False))
            await call_and_accept(alice, bob)
            second = carol.get_contact("bob").call()
            declined = await second.wait_for("declined", WAIT)
            assert declined["reason"] == HangupReason.USER_BUSY.value
            assert second.status is CallStatus.CALL_STATUS_ENDED
            assert not bob.fired("incomingCall")[1:]

    run(test)


def test_calling_a_user_who_is_not_there() -> None:
    async def test() -> None:
        async with world() as w:
            alice = await w.join("alice")
            call = alice.get_contact("nobody").call()
            hangup = await call.wait_for("hangup", WAIT)
            assert hangup == {"from": "remote", "reason": HangupReason.USER_NOT_FOUND.value}
            assert call.status is CallStatus.CALL_STATUS_ENDED

    run(test)


# --- data channels -------------------------------------------------------------------------------


def test_data_channel_messages_both_ways_then_close() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            invited = bob.wait_for("dataChannelInvitation", WAIT)
            mine = alice.get_contact("bob").start_data_channel("chat")
            opened = mine.wait_for("opened", WAIT)
            invitation = await invited
            assert isinstance(invitation, ReceivedDataChannelInvitation)
            assert invitation.label == "chat" and invitation.sender.id == "alice"
            theirs = invitation.accept()
            their_open = theirs.wait_for("opened", WAIT)
            assert (await opened)["type"] == "sendDataChannelOpen"
            assert (await their_open)["type"] == "receiveDataChannelOpen"
            assert mine.status is DataChannelStatus.DATACHANNEL_STATUS_ONGOING
            got = theirs.wait_for("dataReceived", WAIT)
            uuid = mine.send_data("hello bob")
            assert await got == {"uuid": uuid, "data": "hello bob"}
            back = mine.wait_for("dataReceived", WAIT)
            theirs.send_data(b"\x00hello alice")
            assert (await back)["data"] == b"\x00hello alice"
            assert mine.fired("transferComplete")
            ended = mine.wait_for("ended", WAIT), theirs.wait_for("ended", WAIT)
            mine.close()
            a, b = await asyncio.gather(*ended)
            assert a == {"from": "local"} and b == {"from": "remote"}
            with pytest.raises(RtcError) as info:
                mine.send_data("too late")
            assert info.value.code is ErrorNumber.ERROR_OTHER

    run(test)


# --- the server connection -----------------------------------------------------------------------


def test_relay_restarted_mid_call_the_call_survives() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            call, their = await call_and_accept(alice, bob)
            port = w.relay.port
            lost = alice.wait_for("disconnect", WAIT), bob.wait_for("disconnect", WAIT)
            retrying = alice.wait_for("reconnecting", WAIT), bob.wait_for("reconnecting", WAIT)
            back = alice.wait_for("reconnection", WAIT), bob.wait_for("reconnection", WAIT)
            await w.relay.close()
            await asyncio.gather(*lost, *retrying)
            assert alice.core.state is not SessionState.CONNECTED
            assert call.status is CallStatus.CALL_STATUS_ONGOING  # media is peer to peer
            w.relay = await serve("127.0.0.1", port)
            await asyncio.gather(*back)
            assert alice.core.state is SessionState.CONNECTED
            assert call.status is CallStatus.CALL_STATUS_ONGOING
            assert their.status is CallStatus.CALL_STATUS_ONGOING
            for session in (alice, bob):
                names = session.fired()
                assert names.index("disconnect") < names.index("reconnecting")
                assert names.index("reconnecting") < names.index("reconnection")
            statuses = w.uas["alice"].fired("ccsConnectionStatus")
            assert [s["status"] for s in statuses][-1] == "connected"
            # the caller renegotiated with an ICE restart over the new relay
            media = w.uas["alice"]._media
            assert isinstance(media, FakeMedia)
            restart = fx.CreateOffer(call.id, ice_restart=True)

            def answers() -> int:
                return sum(
                    1
                    for e in media.applied
                    if isinstance(e, fx.SetRemoteDescription) and e.sdp_type == "answer"
                )

            await until(lambda: restart in media.applied and answers() == 2)
            assert not call.fired("error") and not their.fired("error")
            # the call goes on over the new relay: hang up, both agree
            ended = call.wait_for("hangup", WAIT), their.wait_for("hangup", WAIT)
            call.hangup()
            mine, theirs = await asyncio.gather(*ended)
            assert (mine["from"], theirs["from"]) == ("local", "remote")
            assert mine["reason"] == theirs["reason"]

    run(test)


def test_graceful_shutdown_closes_every_connection_with_going_away() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            assert w.relay.connections == 2
            lost = alice.wait_for("disconnect", WAIT), bob.wait_for("disconnect", WAIT)
            await w.relay.close()
            await asyncio.gather(*lost)
            assert w.relay.connections == 0
            await w.relay.close()  # idempotent
            # the clients keep retrying (FixedDelay) until they unregister: no task is left
            await asyncio.sleep(0.25)

    run(test)


# --- events: names, routing, handler errors ------------------------------------------------------


def test_unknown_event_names_raise_the_typed_error() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            call, _ = await call_and_accept(alice, bob)
            channel = alice.get_contact("bob").start_data_channel()
            objects = [w.uas["alice"], alice, alice.get_contact("bob"), call, channel]
            for obj in objects:
                with pytest.raises(ParameterError) as info:
                    obj.on("noSuchEvent", print)
                assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
                assert info.value.error_code is ErrorCode.UNKNOWN_EVENT_ON_ADDLISTENER
                with pytest.raises(ParameterError):
                    obj.wait_for("noSuchEvent")
            # a name valid on one class is unknown on another
            with pytest.raises(ParameterError):
                call.on("opened", print)
            assert channel.on("opened", print) is channel
            channel.off("opened", print)

    run(test)


def test_a_raising_handler_is_logged_and_the_runtime_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")

            def boom(_: Any) -> None:
                raise ValueError("application bug")

            accepted: list[Call] = []

            async def accept_later(invitation: ReceivedCallInvitation) -> None:
                await asyncio.sleep(0.01)
                accepted.append(invitation.accept())

            bob.on("incomingCall", boom).on("incomingCall", accept_later)
            call = alice.get_contact("bob").call()
            await call.wait_for("accepted", WAIT)
            assert accepted and accepted[0].id == call.id

    with caplog.at_level(logging.ERROR):
        run(test)
    assert any("application bug" in (r.exc_text or "") for r in caplog.records)


def test_commands_from_inside_a_handler_keep_the_effects_in_order() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            accepted: list[Call] = []
            bob.on("incomingCall", lambda invitation: accepted.append(invitation.accept()))
            call = alice.get_contact("bob").call()
            # hang up from inside the handler of the event that establishes the call: the
            # command runs at once, its effects after those of the input being carried out
            call.on("accepted", lambda _: call.hangup())
            mine = await call.wait_for("hangup", WAIT)
            await until(lambda: bool(accepted[0].fired("hangup")))
            theirs = accepted[0].fired("hangup")[0]
            assert (mine["from"], theirs["from"]) == ("local", "remote")
            assert call.fired().index("accepted") < call.fired().index("hangup")

    run(test)


def test_unknown_targets_are_delivered_raw() -> None:
    async def test() -> None:
        async with world() as w:
            alice = await w.join("alice")
            seen: list[tuple[str, str, Any]] = []
            alice.on_any(lambda t, e, p: seen.append((t, e, p)))
            marker = object()
            alice.runtime._execute([fx.Emit("transfer:t1", "progress", marker)])
            alice.runtime._execute([fx.Emit("session", "contactData", {"x": 1})])
            assert seen == [
                ("transfer:t1", "progress", marker),
                ("session", "contactData", {"x": 1}),
            ]
            assert alice.fired("contactData") == [{"x": 1}]

    run(test)


def test_timers_rearm_and_cancel() -> None:
    async def test() -> None:
        async with world() as w:
            alice = await w.join("alice", keepalive_interval=None)
            runtime = alice.runtime
            now = runtime.now()
            runtime._execute([fx.StartTimer("test:x", now + 10), fx.StartTimer("test:x", now + 20)])
            assert runtime._timers["test:x"].when() == pytest.approx(now + 20)
            runtime._execute([fx.CancelTimer("test:x"), fx.CancelTimer("test:never")])
            assert "test:x" not in runtime._timers

    run(test)


def test_the_example_in_docs_asyncio_md_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "asyncio.md").read_text("utf-8")
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(example, "docs/asyncio.md", "exec"), {"__name__": "docs_example"})
    assert "hangup local Hangup_From_Caller" in capsys.readouterr().out
