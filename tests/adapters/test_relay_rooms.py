"""Conversation rooms under attack, against a real relay on 127.0.0.1 with raw websocket clients
speaking the wire format (as an attacker would): every hostile case of issue 12 point 6 fails
with its typed answer, and the honest members keep working during it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

from adaptertools import run
from rtcstate_asyncio import serve
from rtcstate_asyncio.auth import TokenVerifier, issue_token
from rtcstate_asyncio.relay import Relay
from securitytools import SECRET, WAIT
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rtcstate import wire
from rtcstate.codes import ConversationRole
from rtcstate.hub import Hub
from rtcstate.rooms import RoomAuthority
from rtcstate.wire_conversation import (
    ConvAck,
    ConvAllow,
    ConvClose,
    ConvContactJoined,
    ConvDeny,
    ConvEject,
    ConvEjected,
    ConvError,
    ConvJoin,
    ConvJoined,
    ConvMessage,
    ConvRequest,
    ConvSendData,
    ConvSendMessage,
    ConvWaiting,
    RoomRefusal,
)

ROOM = "standup"
QUIET = 0.3
_ANSWERS = (ConvAck, ConvError, ConvJoined, ConvWaiting)


class Client:
    """A raw websocket client: frames out, every conversation message it reads kept in order."""

    def __init__(self, ws: ClientConnection, address: str) -> None:
        self.ws, self.address = ws, address
        self.inbox: list[wire.Envelope] = []
        self.closed = False
        self._ids = itertools.count(1)

    def rid(self) -> str:
        return f"{self.address}#{next(self._ids)}"

    async def read(self, limit: float) -> wire.Envelope | None:
        """The next envelope (presence left out), or None after ``limit`` seconds or once the
        relay closed the connection."""
        if self.closed:
            return None
        try:
            async with asyncio.timeout(limit):
                while True:
                    env = wire.decode(await self.ws.recv())
                    if type(env.message) not in (wire.Presence, wire.PresenceBatch):
                        self.inbox.append(env)
                        return env
        except TimeoutError:
            return None
        except ConnectionClosed:
            self.closed = True
            return None

    async def send(self, msg: wire.Message, to: str | None = None, **kw: Any) -> None:
        await self.ws.send(wire.encode(msg, to=to, **kw))

    async def ask(self, request: ConvRequest, **kw: Any) -> wire.Message:
        """Send ``request``; its answer (ack, error, joined or waiting)."""
        await self.send(request, **kw)
        rid = request.request_id
        return await self.expect(lambda m: type(m) in _ANSWERS and m.request_id == rid)

    async def expect(self, match: Any, limit: float = WAIT) -> wire.Message:
        """Read until a message that ``match`` accepts (bounded)."""
        deadline = time.monotonic() + limit
        while (left := deadline - time.monotonic()) > 0:
            env = await self.read(left)
            if env is not None and match(env.message):
                return env.message
        raise AssertionError(f"{self.address}: nothing matched in {limit} s: {self.inbox}")

    async def quiet(self, limit: float = QUIET) -> list[wire.Message]:
        """What it reads in the next ``limit`` seconds."""
        got: list[wire.Message] = []
        deadline = time.monotonic() + limit
        while (left := deadline - time.monotonic()) > 0 and not self.closed:
            env = await self.read(left)
            if env is not None:
                got.append(env.message)
        return got


def token(user: str, tenant: str = "acme", **kw: Any) -> str:
    return issue_token(SECRET, user, tenant=tenant, **kw)


@contextlib.asynccontextmanager
async def relay(**rooms: Any) -> AsyncIterator[Relay]:
    hub = Hub(verifier=TokenVerifier.from_secret(SECRET), rooms=RoomAuthority(**rooms))
    async with await serve("127.0.0.1", 0, hub=hub) as running:
        yield running


@contextlib.asynccontextmanager
async def client(url: str, user: str, tok: str, device: str = "d") -> AsyncIterator[Client]:
    async with connect(url, proxy=None) as ws:
        await ws.send(wire.encode(wire.Register(user, device, tok)))
        me = Client(ws, f"{user}/{device}")
        registered = await me.expect(lambda m: True)
        assert type(registered) is wire.Registered, registered
        yield me


async def refused(who: Client, request: ConvRequest, reason: RoomRefusal, **kw: Any) -> None:
    answer = await who.ask(request, **kw)
    assert type(answer) is ConvError and answer.reason is reason, answer


async def still_talking(a: Client, b: Client, text: str) -> None:
    """An honest member's message reaches another (both still in the room)."""
    ack = await a.ask(ConvSendMessage(ROOM, a.rid(), text))
    assert type(ack) is ConvAck, ack
    got = await b.expect(lambda m: type(m) is ConvMessage and m.content == text)
    assert got == ConvMessage(ROOM, ack.seq or 0, text)


def nothing_for(messages: list[wire.Message], *kinds: type[wire.Message]) -> None:
    assert not [m for m in messages if isinstance(m, kinds)], messages


async def moderated_room(mod: Client, ann: Client, *waiters: Client) -> None:
    """``mod`` opens a moderated room, lets ``ann`` in; ``waiters`` wait."""
    assert type(await mod.ask(ConvJoin(ROOM, mod.rid(), moderated=True))) is ConvJoined
    assert type(await ann.ask(ConvJoin(ROOM, ann.rid()))) is ConvWaiting
    assert type(await mod.ask(ConvAllow(ROOM, mod.rid(), ann.address.split("/")[0]))) is ConvAck
    await ann.expect(lambda m: type(m) is ConvJoined)
    for w in waiters:
        assert type(await w.ask(ConvJoin(ROOM, w.rid()))) is ConvWaiting


def test_a_non_moderator_cannot_eject_close_allow_or_deny() -> None:
    async def test() -> None:
        async with (
            relay() as r,
            client(r.url, "mod", token("mod")) as mod,
            client(r.url, "ann", token("ann")) as ann,
            client(r.url, "mal", token("mal", roles=["contributor"])) as mal,
            client(r.url, "wai", token("wai")) as wai,
        ):
            await moderated_room(mod, ann, mal)
            assert type(await mod.ask(ConvAllow(ROOM, mod.rid(), "mal"))) is ConvAck
            await mal.expect(lambda m: type(m) is ConvJoined)
            assert type(await wai.ask(ConvJoin(ROOM, wai.rid()))) is ConvWaiting
            for attack in (
                ConvEject(ROOM, mal.rid(), "ann"),
                ConvEject(ROOM, mal.rid(), "mod"),
                ConvClose(ROOM, mal.rid()),
                ConvAllow(ROOM, mal.rid(), "wai"),
                ConvDeny(ROOM, mal.rid(), "wai"),
            ):
                # its own "from" claims the moderator's address; "to" names the relay's room
                await refused(mal, attack, RoomRefusal.NOT_MODERATOR, sender="mod/d")
                await refused(wai, attack, RoomRefusal.WAITING)
                await still_talking(ann, mod, f"after {attack.TYPE}")
            nothing_for(await wai.quiet(), ConvJoined, ConvEjected, wire.ServerError, ConvMessage)
            await still_talking(mod, ann, "still here")

    run(test)


def test_an_ejected_user_cannot_rejoin_at_once() -> None:
    async def test() -> None:
        async with (
            relay(ban_time=60.0) as r,
            client(r.url, "mod", token("mod")) as mod,
            client(r.url, "ann", token("ann")) as ann,
            client(r.url, "mal", token("mal")) as mal,
        ):
            for who in (mod, ann, mal):
                assert type(await who.ask(ConvJoin(ROOM, who.rid()))) is ConvJoined
            assert type(await mod.ask(ConvEject(ROOM, mod.rid(), "mal", "spam"))) is ConvAck
            await mal.expect(lambda m: m == ConvEjected(ROOM, "mal", "spam"))
            for _ in range(20):
                await refused(mal, ConvJoin(ROOM, mal.rid()), RoomRefusal.BANNED)
            # another device, a new connection: the same user, still banned
            async with client(r.url, "mal", token("mal"), "phone") as mal2:
                await refused(mal2, ConvJoin(ROOM, mal2.rid()), RoomRefusal.BANNED)
                await refused(mal2, ConvSendMessage(ROOM, mal2.rid(), "x"), RoomRefusal.NOT_JOINED)
            await still_talking(ann, mod, "without mal")
            nothing_for(await mal.quiet(), ConvMessage, ConvJoined)

    run(test)


def test_a_waiting_member_flooding_messages_reaches_nobody() -> None:
    async def test() -> None:
        async with (
            relay() as r,
            client(r.url, "mod", token("mod")) as mod,
            client(r.url, "ann", token("ann")) as ann,
            client(r.url, "wai", token("wai")) as wai,
        ):
            await moderated_room(mod, ann, wai)

            async def flood() -> int:
                sent = 0
                with contextlib.suppress(ConnectionClosed):
                    for n in range(300):
                        await wai.send(ConvSendMessage(ROOM, f"f{n}", "buy now"))
                        await wai.send(ConvSendData(ROOM, f"d{n}", {"spam": n}))
                        sent += 2
                return sent

            flooding = asyncio.create_task(flood())
            for n in range(5):  # the honest members talk during the flood
                await still_talking(mod, ann, f"during {n}")
            assert await flooding > 200
            # the flooder hears only refusals (it waits), then the rate limit, then is closed
            answers = await wai.quiet(2.0)
            assert wai.closed and wai.ws.close_code == 1008
            kinds = {
                "waiting"
                if type(m) is ConvError and m.reason is RoomRefusal.WAITING
                else m.code
                if type(m) is wire.ServerError
                else m.TYPE
                for m in answers
            }
            assert kinds == {"waiting", "rate_limited"}, kinds
            for member in (mod, ann):
                assert not [e for e in member.inbox if e.sender == "wai/d"]
                nothing_for(await member.quiet(0.1), ConvMessage, wire.ServerError)
            await still_talking(ann, mod, "after the flood")

    run(test)


def test_a_forged_relay_notice_is_refused_and_reaches_nobody() -> None:
    async def test() -> None:
        async with (
            relay() as r,
            client(r.url, "mod", token("mod")) as mod,
            client(r.url, "ann", token("ann")) as ann,
            client(r.url, "mal", token("mal")) as mal,
        ):
            await moderated_room(mod, ann)
            forgeries: list[wire.Message] = [
                ConvEjected(ROOM, "ann", "forged"),
                ConvJoined(ROOM, "x", ConversationRole.MODERATOR, ["mal/d"], ["mal/d"], 0, 0, True),
                ConvMessage(ROOM, 1, "from the moderator, honest"),
                ConvContactJoined(ROOM, "mal/d", ConversationRole.MODERATOR),
            ]
            for forged in forgeries:
                for to in ("ann/d", "ann", None):
                    await mal.send(forged, to=to, sender="mod/d")
                    answer = await mal.expect(lambda m: True)
                    assert answer == wire.ServerError(
                        "forbidden", f"{forged.TYPE} is sent by the relay only"
                    )
            nothing_for(await ann.quiet(), ConvEjected, ConvJoined, ConvMessage, ConvContactJoined)
            await still_talking(mod, ann, "not ejected")

    run(test)


def test_a_wrong_password_never_joins_a_private_room() -> None:
    async def test() -> None:
        async with (
            relay() as r,
            client(r.url, "mod", token("mod")) as mod,
            client(r.url, "ann", token("ann")) as ann,
            client(r.url, "mal", token("mal")) as mal,
        ):
            assert type(await mod.ask(ConvJoin(ROOM, mod.rid(), password="hunter2"))) is ConvJoined
            for guess in (None, "", "hunter", "hunter2 ", "HUNTER2", "x" * 200):
                await refused(
                    mal, ConvJoin(ROOM, mal.rid(), password=guess), RoomRefusal.WRONG_PASSWORD
                )
            await refused(mal, ConvSendMessage(ROOM, mal.rid(), "x"), RoomRefusal.NOT_JOINED)
            assert type(await ann.ask(ConvJoin(ROOM, ann.rid(), password="hunter2"))) is ConvJoined
            await still_talking(mod, ann, "private")
            nothing_for(await mal.quiet(), ConvMessage, ConvContactJoined, ConvJoined)

    run(test)


def test_another_tenants_user_never_reaches_the_room() -> None:
    async def test() -> None:
        async with (
            relay() as r,
            client(r.url, "mod", token("mod")) as mod,
            client(r.url, "ann", token("ann")) as ann,
            client(r.url, "wai", token("wai")) as wai,
            client(r.url, "eve", token("eve", tenant="globex", roles=["moderator"])) as eve,
            client(r.url, "ann", token("ann", tenant="globex")) as ann2,  # same address
        ):
            await moderated_room(mod, ann, wai)
            for acme in (mod, ann, wai):
                await acme.quiet(0.1)  # what the join said
            # the same room name in globex is another room: eve creates it, alone
            joined = await eve.ask(ConvJoin(ROOM, eve.rid()))
            assert type(joined) is ConvJoined and joined.members == ["eve/d"]
            # a moderator of globex can neither admit acme's waiter nor eject acme's member
            await refused(eve, ConvAllow(ROOM, eve.rid(), "wai"), RoomRefusal.UNKNOWN_CONTACT)
            await refused(eve, ConvEject(ROOM, eve.rid(), "ann"), RoomRefusal.UNKNOWN_CONTACT)
            ack = await eve.ask(ConvSendMessage(ROOM, eve.rid(), "hello acme?"))
            assert type(ack) is ConvAck
            # globex's ann/d joins, talks and leaves: acme's ann/d is untouched
            assert type(await ann2.ask(ConvJoin(ROOM, ann2.rid()))) is ConvJoined
            await still_talking(ann2, eve, "globex only")
            await ann2.ws.close()
            for acme in (mod, ann, wai):
                assert not [m for m in await acme.quiet(0.1) if m.TYPE.startswith("conv_")]
            await still_talking(mod, ann, "acme only")
            assert type(await mod.ask(ConvAllow(ROOM, mod.rid(), "wai"))) is ConvAck
            await wai.expect(lambda m: type(m) is ConvJoined and "eve/d" not in m.members)

    run(test)
