"""Contact messages through a real relay: ``get_contact(user)`` hears its user's messages from
any device (the device stays in the payload), and a spoofed sender is re-stamped."""

from __future__ import annotations

from typing import Any

from adaptertools import FAST, WAIT, run, until
from rtcstate_asyncio import UserAgent, serve
from securitytools import register
from websockets.asyncio.client import connect

from rtcstate import wire


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
