"""``rtcstate demo --scenario conference``: a moderator and three agents in a conference.

Theory of operation
-------------------
One process, one asyncio loop: the relay (or ``--relay URL``) and four agents (``mod``,
``ann``, ``ben``, ``cid``), each with a real aiortc backend (loopback only, small synthetic
video), driven through the apiRTC-shaped API only, every
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
7. ``mod`` closes the conference: ``closed`` then ``left`` on ``ann``;
8. media: the four join the conversation ``studio``, each publishes a stream of synthetic
   audio and video (``create_stream``) and subscribes to the three others (twelve mesh calls);
   the summary counts the frames each received from each;
9. ``ben`` unpublishes: his stream leaves everyone's list (``streamRemoved`` on the others);
10. ``cid`` is killed (his websocket aborted, his media gone, no goodbye): the relay drops his
    stream; ``mod`` and ``ann`` carry on receiving each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any, TextIO

from rtcstate.codes import ErrorNumber

ROOM = "standup"
STUDIO = "studio"
USERS = ("mod", "ann", "ben", "cid")
STEP = 10.0  # seconds a step may take
MESH_STEP = 30.0  # seconds the twelve mesh calls may take to carry media (a loaded machine)


def _media() -> Any:
    from rtcstate_aiortc import AiortcMedia

    return AiortcMedia(loopback_only=True, video_size=(64, 48), video_fps=10.0)


async def run(out: TextIO = sys.stdout, relay_url: str | None = None) -> int:
    """Run the scenario; return the exit code (0: every step happened)."""
    from rtcstate_asyncio import UserAgent, serve

    from rtcstate_cli.demo import DemoFailed, Printer

    printer = Printer(out, time.monotonic())
    relay = await serve("127.0.0.1", 0) if relay_url is None else None
    url = relay.url if relay is not None else str(relay_url)
    printer.line(f"relay {'listening on' if relay is not None else 'at'} {url}")
    agents = {user: UserAgent(user, media=_media) for user in USERS}
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

    await _mesh(sessions, summary)


def _counts(session: Any, conv: Any) -> dict[str, tuple[int, int]]:
    """Frames (audio, video) ``session`` received on ``conv``, by publisher (user)."""
    media = session.runtime.media
    out: dict[str, tuple[int, int]] = {}
    for sid, call_id in conv.core.media.subscribed.items():
        got = media.frames_received(call_id)
        info = conv.core.media.available.get(sid, {})
        publisher = str(info.get("contact", sid)).partition("/")[0]
        out[publisher] = (got.get("audio", 0), got.get("video", 0))
    return out


async def _until(predicate: Any, what: str, limit: float = STEP) -> None:
    from rtcstate_cli.demo import DemoFailed

    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise DemoFailed(f"{what}: not after {limit:.0f} s")
        await asyncio.sleep(0.05)


def _kill(session: Any) -> asyncio.Task[None]:
    """The agent dies: its websocket aborted (no close, no unregister), its runtime and media
    closed (the task doing it; nothing of the agent runs once it is started)."""
    runtime = session.runtime
    link = runtime._link
    if link is not None and link.ws is not None:
        link.ws.transport.abort()
    session.ua._session = None  # nothing left to unregister
    return asyncio.ensure_future(runtime.aclose())


async def _mesh(sessions: dict[str, Any], summary: list[str]) -> None:
    convs = {u: s.get_conversation(STUDIO) for u, s in sessions.items()}
    listed: dict[str, list[str]] = {u: [] for u in USERS}
    for user, conv in convs.items():
        # streamListChanged is buffered until the first listener (as apiRTC does)
        conv.on("streamListChanged", lambda info, u=user: listed[u].append(info["listEventType"]))
        await _step(conv.join(), f"{user} joins {STUDIO}")
    streams: dict[str, Any] = {}
    for user, conv in convs.items():
        streams[user] = await _step(sessions[user].ua.create_stream(), f"{user}'s stream")
        await _step(conv.publish(streams[user]), f"{user} publishes")
    await _until(
        lambda: all(len(c.get_available_stream_list()) == 4 for c in convs.values()),
        "every stream listed everywhere",
    )
    for user, conv in convs.items():
        for other in USERS:
            if other != user:
                await _step(conv.subscribe_to_stream(streams[other].stream_id), "a subscription")

    def flowing(users: tuple[str, ...], base: dict[str, dict[str, tuple[int, int]]]) -> bool:
        for user in users:
            got = _counts(sessions[user], convs[user])
            if set(got) != set(users) - {user}:
                return False
            for other, (a, v) in got.items():
                a0, v0 = base.get(user, {}).get(other, (0, 0))
                if a < a0 + 5 or v < v0 + 2:
                    return False
        return True

    await _until(lambda: flowing(USERS, {}), "media flowing on the twelve calls", MESH_STEP)
    calls = sum(len(c.core.media.subscribed) for c in convs.values())
    summary.append(f"{STUDIO}: 4 agents, each publishing, {calls} subscriptions (mesh)")
    added = {u: listed[u].count("added") for u in USERS}
    summary.append(f"streamListChanged 'added' heard: {added}")
    for user in USERS:
        got = _counts(sessions[user], convs[user])
        frames = ", ".join(f"{o} {a}a/{v}v" for o, (a, v) in sorted(got.items()))
        summary.append(f"{user} received frames from {frames}")

    # ben unpublishes
    ben_stream = streams["ben"].stream_id
    convs["ben"].unpublish(streams["ben"])
    await _until(
        lambda: all(ben_stream not in c.core.media.available for c in convs.values()),
        "ben's stream withdrawn",
    )
    _expect(
        all(ben_stream not in convs[u].core.media.subscribed for u in USERS),
        "a subscription to ben's withdrawn stream survived",
    )
    summary.append("ben unpublished: his stream left every list, its calls ended")

    # cid is killed
    cid_stream = streams["cid"].stream_id
    killed = time.monotonic()
    closing = _kill(sessions["cid"])
    rest = ("mod", "ann", "ben")
    await _until(
        lambda: all(cid_stream not in convs[u].core.media.available for u in rest),
        "cid's stream gone after his death",
    )
    gone = time.monotonic() - killed
    await _step(closing, "cid's remains closed")
    base = {u: _counts(sessions[u], convs[u]) for u in ("mod", "ann")}
    await _until(lambda: flowing(("mod", "ann"), base), "mod and ann still receiving each other")
    summary.append(f"cid killed: his stream left the others' lists after {gone:.2f} s")
    summary.append("mod and ann carry on (frames still arriving from each other)")
