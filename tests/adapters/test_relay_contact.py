"""Contact messages through a real relay: ``get_contact(user)`` hears its user's messages from
any device (the device stays in the payload), and a spoofed sender is re-stamped; the
acknowledged messaging of the asyncio API, user data, and what a hostile contact gets (another
tenant, oversized user data)."""

from __future__ import annotations

import asyncio
from typing import Any

from adaptertools import FAST, WAIT, run, until
from rtcstate_asyncio import ContactMessageError, UserAgent, serve
from rtcstate_asyncio.auth import TokenVerifier, issue_token
from securitytools import register
from websockets.asyncio.client import connect

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.hub import Hub


def test_get_contact_user_hears_every_device_of_that_user() -> None:
    async def main() -> None:
        async with await serve("127.0.0.1", 0) as relay:
            ua = UserAgent("alice", options=FAST)
            alice = await ua.register(relay.url, timeout=WAIT)
            heard: list[Any] = []
            data: list[Any] = []
            alice.get_contact("bob").on("message", heard.append)
            alice.get_contact("bob").on("data", data.append)
            async with connect(relay.url, proxy=None) as bob:
                assert isinstance(await register(bob, "bob", "phone"), wire.Registered)
                # a spoofed "from" is re-stamped by the relay: it is still bob/phone
                await bob.send(wire.encode(wire.ContactMessage(7, "hi"), to="alice",
                                           sender="mallory/x"))  # fmt: skip
                await bob.send(wire.encode(wire.ContactData({"k": 1}), to="alice"))
                await until(lambda: len(heard) == 1 and len(data) == 1, WAIT)
            assert heard[0]["content"] == "hi" and heard[0]["uuid"] == 7
            assert heard[0]["device"] == "bob/phone"
            assert data == [{"k": 1}]
            await ua.unregister()

    run(main, limit=20.0)


def test_contact_messaging_and_user_data_between_two_agents() -> None:
    """``send_message`` / ``send_data`` / ``send_custom_event`` resolve on the receiver's
    acknowledgement; an offline user raises ContactMessageError (8) and fires
    ``messageNotDelivered``; user data set on one session is seen by the other's contact."""

    async def main() -> None:
        async with await serve("127.0.0.1", 0) as relay:
            ua_a, ua_b = UserAgent("alice", options=FAST), UserAgent("bob", options=FAST)
            alice = await ua_a.register(relay.url, timeout=WAIT)
            bob = await ua_b.register(relay.url, timeout=WAIT)
            await until(lambda: alice.get_contact("bob").is_online, WAIT)
            messages: list[Any] = []
            on_session: list[Any] = []
            events: list[Any] = []
            data: list[Any] = []
            changed: list[Any] = []
            bob.get_or_create_contact("alice").on("message", messages.append)
            bob.on("contactMessage", on_session.append)
            bob.get_contact("alice").on("customEvent", events.append)
            bob.get_contact("alice").on("data", data.append)
            bob.on("contactListUpdate", lambda u: changed.extend(u["userDataChanged"]))
            assert bob.get_or_create_contact("alice") is bob.get_contact("alice")
            to_bob = alice.get_contact("bob")
            assert await to_bob.send_message("hello") == 1
            assert await to_bob.send_message("again") == 2
            await to_bob.send_data({"k": [1]})
            await to_bob.send_custom_event("poke", {"n": 2})
            # resolved means acknowledged: bob's session has fired its events already
            assert [(m["content"], m["uuid"], m["device"]) for m in messages] == [
                ("hello", 1, "alice/default"),
                ("again", 2, "alice/default"),
            ]
            assert [m["sender"] for m in on_session] == ["alice/default"] * 2
            assert data == [{"k": [1]}] and events == [{"event": "poke", "content": {"n": 2}}]
            # an offline user: rejected with 8, messageNotDelivered on the contact
            missed: list[Any] = []
            carol = alice.get_contact("carol")
            carol.on("messageNotDelivered", missed.append)
            try:
                await carol.send_message("anyone?")
            except ContactMessageError as exc:
                assert exc.code is ErrorNumber.ERROR_NOT_FOUND and exc.command == "message"
            else:
                raise AssertionError("a message to an offline user was delivered")
            await until(lambda: len(missed) == 1, WAIT)
            assert missed[0]["contact"] == "carol"
            # user data, and the contacts arrays
            alice.set_user_data({"nick": "Al"})
            assert alice.get_user_data() == {"nick": "Al"}
            await until(lambda: bob.get_contact("alice").get_user_data() == {"nick": "Al"}, WAIT)
            assert changed == ["alice"]
            assert [c.id for c in bob.get_contacts_array("default")] == ["alice"]
            assert [c.id for c in bob.get_contacts_array()] == ["alice"]
            assert bob.get_contacts_array("team") == []
            await ua_a.unregister()
            await ua_b.unregister()

    run(main, limit=30.0)


def test_a_message_refused_for_the_rate_limit_fails_at_once() -> None:
    """A burst of messages over the relay's rate limit: each refused one raises
    ContactMessageError 0 (ERROR_OTHER) and fires ``messageNotDelivered`` at once, not at the
    10 s timeout; the others reach bob."""

    async def main() -> None:
        hub = Hub(rate_limit=1.0, rate_burst=12.0, identity_rate_limit=None,
                  source_rate_limit=None)  # fmt: skip
        async with await serve("127.0.0.1", 0, hub=hub) as relay:
            ua_a, ua_b = UserAgent("alice", options=FAST), UserAgent("bob", options=FAST)
            alice = await ua_a.register(relay.url, timeout=WAIT)
            bob = await ua_b.register(relay.url, timeout=WAIT)
            heard: list[Any] = []
            bob.get_or_create_contact("alice").on("message", heard.append)
            to_bob = alice.get_or_create_contact("bob")
            missed: list[Any] = []
            to_bob.on("messageNotDelivered", missed.append)
            loop = asyncio.get_running_loop()
            start = loop.time()
            outcomes = await asyncio.gather(
                *(to_bob.send_message(f"m{i}") for i in range(16)), return_exceptions=True
            )
            spent = loop.time() - start
            failed = [o for o in outcomes if isinstance(o, BaseException)]
            assert failed and all(isinstance(o, ContactMessageError) for o in failed)
            assert all(o.code is ErrorNumber.ERROR_OTHER for o in failed)  # type: ignore[union-attr]
            assert spent < 3.0  # answered by the relay, not by the 10 s timeout
            await until(lambda: len(missed) == len(failed), WAIT)
            assert all(m["error"]["code"] == 0 for m in missed)
            delivered = [o for o in outcomes if not isinstance(o, BaseException)]
            assert sorted(m["uuid"] for m in heard) == sorted(delivered)
            await ua_a.unregister()
            await ua_b.unregister()

    run(main, limit=30.0)


SECRET = "contact messaging tests: a secret long enough"


def test_hostile_contacts_over_real_websockets() -> None:
    """Another tenant's user cannot reach anyone here (the post fails 8, nothing arrives);
    oversized user data is refused with a typed answer (an ``error`` event: ``oversize``),
    nobody hears it, and the session forgets it (not sent again)."""

    async def main() -> None:
        hub = Hub(verifier=TokenVerifier.from_secret(SECRET), max_user_data=256)
        async with await serve("127.0.0.1", 0, hub=hub) as relay:
            users = {}
            for name, tenant in (("alice", "acme"), ("bob", "acme"), ("mallory", "evil")):
                ua = UserAgent(name, options=FAST)
                token = issue_token(SECRET, name, tenant=tenant)
                users[name] = (ua, await ua.register(relay.url, token=token, timeout=WAIT))
            alice, bob, mallory = (users[n][1] for n in ("alice", "bob", "mallory"))
            heard: list[Any] = []
            alice.on("contactMessage", heard.append)
            try:
                await mallory.get_contact("alice").send_message("psst")
            except ContactMessageError as exc:
                assert exc.code is ErrorNumber.ERROR_NOT_FOUND
            else:
                raise AssertionError("a post crossed tenants")
            assert await bob.get_contact("alice").send_message("hi") == 1
            assert [m["content"] for m in heard] == ["hi"]
            errors: list[Any] = []
            alice.on("error", errors.append)
            alice.set_user_data({"blob": "x" * 400})
            await until(lambda: len(errors) == 1, WAIT)
            descriptor = errors[0]["descriptor"]
            assert descriptor["code"] == "oversize"
            assert descriptor["refused"] == {"type": "user_data_set"}
            assert alice.get_user_data() is None
            alice.set_user_data({"nick": "Al"})
            await until(lambda: bob.get_contact("alice").get_user_data() == {"nick": "Al"}, WAIT)
            assert mallory.get_contact("alice").get_user_data() is None
            for ua, _ in users.values():
                await ua.unregister()

    run(main, limit=30.0)
