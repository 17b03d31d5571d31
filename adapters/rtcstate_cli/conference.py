"""``rtcstate demo --scenario conference``: a moderator and three agents in a conference.

Theory of operation
-------------------
One process, one asyncio loop: the relay (or ``--relay URL``) and four agents (``mod``,
``ann``, ``ben``, ``cid``) without media, driven through the apiRTC-shaped API only, every
event printed as it happens (``Session.on_any``). The steps, each checked and each bounded in
time (a step that does not happen ends the demo with ``DEMO FAILED`` and exit code 1):

1. ``mod`` creates the moderated conference ``standup`` (and is its moderator);
2. ``ann`` and ``ben`` join: both wait (``waitingForModeratorAcceptance``), ``mod`` gets a
   ``conversationJoinRequest`` for each;
3. ``mod`` accepts ``ann`` (her join resolves) and declines ``ben`` (his join raises 14
   ERROR_NOT_ALLOWED, ``entryDenied``);
4. ``mod`` invites ``cid`` (``sendInvitation``): ``receive``, ``cid`` accepts, waits, is
   admitted;
5. messages: ``ann`` and ``cid`` each send one, every other member gets it once (and the
   relay numbers them), ``ben`` nothing;
6. ``mod`` ejects ``cid`` (``participantEjected {self: true}`` there, ``{self: false}`` on
   ``ann``), and ``cid``'s rejoin is refused while banned;
7. ``mod`` closes the conference: ``closed`` then ``left`` on ``ann``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any, TextIO

from rtcstate.codes import ErrorNumber

ROOM = "standup"
USERS = ("mod", "ann", "ben", "cid")
STEP = 10.0  # seconds a step may take


async def run(out: TextIO = sys.stdout, relay_url: str | None = None) -> int:
    """Run the scenario; return the exit code (0: every step happened)."""
    from rtcstate_asyncio import UserAgent, serve

    from rtcstate_cli.demo import DemoFailed, Printer

    printer = Printer(out, time.monotonic())
    relay = await serve("127.0.0.1", 0) if relay_url is None else None
    url = relay.url if relay is not None else str(relay_url)
    printer.line(f"relay {'listening on' if relay is not None else 'at'} {url}")
    agents = {user: UserAgent(user) for user in USERS}
    summary: list[str] = []
    try:
        sessions: dict[str, Any] = {}
        for user, ua in agents.items():
            sessions[user] = await _step(ua.register(url, timeout=STEP), f"{user} registers")
            sessions[user].on_any(printer.tap(user))
        await _scenario(sessions, summary)
    except DemoFailed as exc:
        printer.line(f"DEMO FAILED: {exc}")
        return 1
    finally:
        for ua in agents.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ua.unregister(), STEP)
        if relay is not None:
            await relay.close()
    printer.line("summary:")
    for item in summary:
        print(f"  - {item}", file=out)
    print(f"  - events seen: {sum(printer.counts.values())}", file=out)
    print("demo OK", file=out, flush=True)
    return 0


async def _step(awaitable: Any, what: str) -> Any:
    from rtcstate_cli.demo import DemoFailed

    try:
        async with asyncio.timeout(STEP):
            return await awaitable
    except TimeoutError:
        raise DemoFailed(f"{what}: nothing after {STEP:.0f} s") from None


def _expect(ok: bool, what: str) -> None:
    from rtcstate_cli.demo import DemoFailed

    if not ok:
        raise DemoFailed(what)


async def _refused(awaitable: Any, code: ErrorNumber, what: str) -> None:
    from rtcstate_asyncio import ConversationError

    try:
        await _step(awaitable, what)
    except ConversationError as exc:
        _expect(exc.code is code, f"{what}: refused with {exc.code.name}, not {code.name}")
        return
    _expect(False, f"{what}: not refused")


async def _scenario(sessions: dict[str, Any], summary: list[str]) -> None:
    mod, ann, ben, cid = (sessions[u] for u in USERS)
    requests: asyncio.Queue[Any] = asyncio.Queue()
    mod.on("conversationJoinRequest", requests.put_nowait)

    async def request_of(address: str) -> Any:
        while True:
            request = await _step(requests.get(), f"a join request from {address}")
            if request.sender == address:
                return request

    # 1. the moderator creates the conference
    room = mod.get_conference(ROOM, moderated=True)
    joined = await _step(room.join(), "mod joins")
    _expect(joined == {"role": "moderator"}, f"mod is {joined}, not the moderator")
    summary.append("mod created the moderated conference 'standup' (moderator)")

    # 2. two agents wait
    a, b, c = (s.get_conference(ROOM) for s in (ann, ben, cid))
    join_a, join_b = asyncio.ensure_future(a.join()), asyncio.ensure_future(b.join())
    req_a = await request_of("ann/default")
    req_b = await request_of("ben/default")
    waiting = sorted(room.get_waiting_room_contacts())
    _expect(waiting == ["ann/default", "ben/default"], f"waiting room: {waiting}")
    _expect(a.status.name.endswith("WAITING"), f"ann is {a.status.value}")
    summary.append("ann and ben wait in the waiting room; mod got a join request for each")

    # 3. one admitted, one denied
    await _step(req_a.accept(), "mod admits ann")
    _expect(await _step(join_a, "ann's join") == {"role": "contributor"}, "ann not joined")
    await _step(req_b.decline("not today"), "mod denies ben")
    await _refused(join_b, ErrorNumber.ERROR_NOT_ALLOWED, "ben's join")
    _expect(b.fired("entryDenied") == [None], "ben heard no entryDenied")
    summary.append("ann admitted (joined); ben denied (join refused with 14 ERROR_NOT_ALLOWED)")

    # 4. an invitation: cid accepts, waits, is admitted
    invitation = cid.events("conversationInvitation")
    sent = room.send_invitation("cid", expiration=30.0)
    received = await _step(invitation.next(), "cid's conversationInvitation")
    accepted = asyncio.ensure_future(received.payload.accept())
    await _step(request_of("cid/default"), "cid's join request")
    await _step(room.allow_entry("cid"), "mod admits cid")
    await _step(accepted, "cid joins through the invitation")
    _expect(sent.fired("receive") != [], "the invitation was never received")
    _expect(sent.status.name.endswith("ACCEPTED"), f"invitation {sent.status.value}")
    summary.append("cid invited (receive, ACCEPTED), waited and was admitted")

    # 5. messages
    streams = {name: conv.events("message") for name, conv in (("mod", room), ("ann", a),
                                                               ("cid", c))}  # fmt: skip
    seq_a = await _step(a.send_message("hello from ann"), "ann's message")
    seq_c = await _step(c.send_message("hello from cid"), "cid's message")
    for name, stream in streams.items():
        expected = [t for s, t in (("ann", "hello from ann"), ("cid", "hello from cid"))
                    if s != name]  # fmt: skip
        got = [(await _step(stream.next(), f"{name}'s message")).payload["content"]
               for _ in expected]  # fmt: skip
        _expect(got == expected, f"{name} got {got}")
    _expect(b.fired("message") == [], "ben, denied, got a message")
    summary.append(f"messages numbered {seq_a} and {seq_c}, each delivered once to the others")

    # 6. eject
    ejected = c.events("participantEjected")
    seen = a.events("participantEjected")
    await _step(room.eject("cid", "demo"), "mod ejects cid")
    mine = (await _step(ejected.next(), "cid's participantEjected")).payload
    theirs = (await _step(seen.next(), "ann's participantEjected")).payload
    _expect(mine == {"self": True, "contact": "cid"}, f"cid heard {mine}")
    _expect(theirs == {"self": False, "contact": "cid"}, f"ann heard {theirs}")
    await _refused(c.join(), ErrorNumber.ERROR_NOT_ALLOWED, "cid's rejoin while banned")
    summary.append("cid ejected (participantEjected on both sides), rejoin refused while banned")

    # 7. close
    ending = a.events("closed", "left")
    await _step(room.close(), "mod closes the conference")
    names = [(await _step(ending.next(), "ann's closed / left")).name for _ in range(2)]
    _expect(names == ["closed", "left"], f"ann heard {names}")
    _expect(not a.is_joined() and not room.is_joined(), "someone is still in the closed room")
    summary.append("mod closed the conference: closed then left on every member")
