"""The numbered cases of the wire suite (families 1.x to 8.x; docs/conformance.md lists them).

Theory of operation
-------------------
Each case is an ``async def`` over a :class:`~rtcstate_conformance.server.Case`: it has the
testee act (``case.command``), plays the far side and the relay (``case.send`` with a ``from``
address, as the relay stamps it), and checks what the client sends (``case.expect``) and what
its application hears (``case.event``). A ``check`` that fails fails the case; an ``advise``
makes it non-strict (the behaviour is allowed but not the recommended one). The far side's
SDPs are opaque strings: the suite checks signaling, not media. Every case ends by checking
that the client still answers a ping on its connection (it survived what the case did).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from rtcstate import wire
from rtcstate import wire_conversation as conv
from rtcstate.codes import CallType, ConversationRole
from rtcstate_conformance.server import Case, CaseSpec, RelayLink

__all__ = ["CASES"]

CASES: list[CaseSpec] = []

SDP_OFFER = "v=0 conformance-offer"
SDP_ANSWER = "v=0 conformance-answer"
#: seconds within which a retransmission of an unacknowledged message is expected
RETRANSMIT = 3.0

Run = Callable[[Case], Awaitable[None]]


def case(
    case_id: str,
    title: str,
    expectation: str,
    *,
    requires: tuple[str, ...] = (),
    timeout: float = 20.0,
) -> Callable[[Run], Run]:
    """Declare a numbered case (in the order of the suite)."""

    def add(run: Run) -> Run:
        CASES.append(CaseSpec(case_id, title, expectation, run, requires, timeout))
        return run

    return add


# --- helpers ------------------------------------------------------------------------------------


async def alive(c: Case, link: RelayLink, seq: int = 9001) -> None:
    """The client still answers a ping on ``link``."""
    c.check(await c.ping_alive(link, seq), "the client answers a ping after the case")


def far(c: Case, device: str = "p1") -> str:
    """An address of the far side."""
    return f"{c.peer}/{device}"


async def outgoing_call(
    c: Case, link: RelayLink, *, call_type: str = "media", device: str = "p1"
) -> str:
    """The testee calls the far side, which acknowledges and answers from ``device``."""
    result = await c.command("call", contact=c.peer, call_type=call_type)
    env = await c.expect(wire.Invite)
    invite = env.message
    assert isinstance(invite, wire.Invite)
    c.check(env.to == c.peer, f"the invite goes to the bare user {c.peer}, not {env.to}")
    c.check(invite.call_id == result.get("call_id"), "the invite carries the call's id")
    await c.send(link, wire.Ack(invite.call_id, "invite"), sender=far(c, device))
    await c.send(link, wire.Answer(invite.call_id, SDP_ANSWER), sender=far(c, device))
    ack = await c.expect(
        wire.Ack,
        where=lambda e: e.message == wire.Ack(invite.call_id, "answer"),
        what="the client acknowledges the answer",
    )
    c.check(ack.to == far(c, device), f"the answer's ack goes to {far(c, device)}, not {ack.to}")
    return invite.call_id


async def incoming_call(
    c: Case, link: RelayLink, call_id: str, *, call_type: CallType = CallType.MEDIA
) -> None:
    """The far side invites the client, which acknowledges it and rings its application."""
    await c.send(link, wire.Invite(call_id, call_type, SDP_OFFER), sender=far(c))
    ack = await c.expect(
        wire.Ack,
        where=lambda e: e.message == wire.Ack(call_id, "invite"),
        what="the client acknowledges the invite",
    )
    c.check(ack.to == far(c), f"the invite's ack goes to the inviting device, not {ack.to}")


async def accepted_call(c: Case, link: RelayLink, call_id: str) -> None:
    """An incoming call the testee accepts; its answer is acknowledged."""
    await incoming_call(c, link, call_id)
    await c.event("incomingCall")
    await c.command("accept", call_id=call_id)
    answer = await c.expect(wire.Answer, where=lambda e: e.message.route_id == call_id)
    c.check(answer.to == far(c), f"the answer goes to the inviting device, not {answer.to}")
    await c.send(link, wire.Ack(call_id, "answer"), sender=far(c))


def by_call(call_id: str) -> Callable[[wire.Envelope], bool]:
    return lambda e: e.message.route_id == call_id


# --- 1.x registration and keep-alive --------------------------------------------------------


@case(
    "1.1",
    "register",
    "The client's first frame is register with its user and device and resume false; after "
    "registered the testee's register command succeeds.",
)
async def register_first(c: Case) -> None:
    link = await c.register()
    first = link.registers[0]
    c.check(
        first.user == c.user and first.device == c.device, f"register names {c.user}/{c.device}"
    )
    c.check(first.resume is False, "a first registration does not ask to resume")
    c.check(len(link.registers) == 1, "one register per registration")
    await alive(c, link)


@case(
    "1.2",
    "answers the relay's ping",
    "Each ping from the relay is answered by a pong with the same seq, in order.",
)
async def pongs(c: Case) -> None:
    c.auto_pong = True
    link = await c.register()
    for seq in (1, 2, 77):
        await c.send(link, wire.Ping(seq))
    for seq in (1, 2, 77):
        pong = await c.expect(wire.Pong)
        c.check(pong.message == wire.Pong(seq), f"pong {seq} comes next, not {pong.message}")


@case(
    "1.3",
    "keep-alive pings",
    "Registered with a keep-alive interval of 0.5 s, the client pings the relay on its own, "
    "with increasing seq.",
)
async def keepalive(c: Case) -> None:
    link = await c.register(keepalive_interval=0.5)
    first = await c.expect(wire.Ping, timeout=RETRANSMIT)
    second = await c.expect(wire.Ping, timeout=RETRANSMIT)
    assert isinstance(first.message, wire.Ping) and isinstance(second.message, wire.Ping)
    c.check(second.message.seq > first.message.seq, "each keep-alive ping has a greater seq")
    await alive(c, link)


@case(
    "1.4",
    "keep-alive timeout",
    "When the relay stops answering pings (interval and timeout 0.5 s), the client gives the "
    "connection up and registers again on a new one, asking to resume.",
)
async def keepalive_timeout(c: Case) -> None:
    c.auto_pong = False
    await c.register(keepalive_interval=0.5, keepalive_timeout=0.5)
    await c.expect(wire.Ping, timeout=RETRANSMIT)
    c.auto_pong = True
    second = await c.link(timeout=10.0)
    c.check(second.registers and second.registers[0].resume, "the new register asks to resume")
    await c.event("reconnection", timeout=RETRANSMIT)
    await alive(c, second)


@case(
    "1.5",
    "unregister",
    "The testee's unregister sends unregister on the connection, then the client closes it.",
)
async def unregister(c: Case) -> None:
    link = await c.register()
    await c.command("unregister")
    await c.expect(wire.Unregister)
    await c.settle(0.3)
    c.advise(link.closed.is_set(), "the client closes the connection after unregister")


@case(
    "1.6",
    "a final refusal",
    "A server_error with a final code (token_expired) in answer to register fails the "
    "registration, and the client does not try again.",
)
async def final_refusal(c: Case) -> None:
    c.auto_register = False
    task_ok: list[bool] = []

    async def register() -> None:
        ok, _ = await c.try_command(
            "register", url=c.server.relay_url, user=c.user, device=c.device
        )
        task_ok.append(ok)

    job = asyncio.ensure_future(register())
    link = await c.link()
    await c.expect(wire.Register)
    await c.send(link, wire.ServerError("token_expired", "the token expired"))
    await link.close(1008, "token_expired")
    await asyncio.wait_for(job, 12.0)
    c.check(task_ok == [False], "the register command fails")
    await c.settle(1.5)
    c.check(len(c.links) == 1, "no new connection after a final refusal")


# --- 2.x calls --------------------------------------------------------------------------------


@case(
    "2.1",
    "outgoing call",
    "call sends invite (to the bare user, with call_id, call_type and an SDP offer), "
    "retransmits it until acknowledged, acknowledges the answer to the answering device; "
    "hangup sends bye to that device, retransmitted until acknowledged.",
    requires=("calls",),
)
async def outgoing(c: Case) -> None:
    link = await c.register()
    result = await c.command("call", contact=c.peer, call_type="media")
    env = await c.expect(wire.Invite)
    invite = env.message
    assert isinstance(invite, wire.Invite)
    c.check(invite.call_type == CallType.MEDIA, "call_type media")
    c.check(bool(invite.sdp), "the invite carries an SDP offer")
    again = await c.maybe(wire.Invite, RETRANSMIT, by_call(invite.call_id))
    c.advise(again is not None, "an unacknowledged invite is retransmitted")
    await c.send(link, wire.Ack(invite.call_id, "invite"), sender=far(c))
    await c.send(link, wire.Answer(invite.call_id, SDP_ANSWER), sender=far(c))
    await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack(invite.call_id, "answer"))
    await c.command("hangup", call_id=result["call_id"])
    bye = await c.expect(wire.Bye, where=by_call(invite.call_id))
    c.check(bye.to == far(c), f"the bye goes to the answering device, not {bye.to}")
    again = await c.maybe(wire.Bye, RETRANSMIT, by_call(invite.call_id))
    c.advise(again is not None, "an unacknowledged bye is retransmitted")
    await c.send(link, wire.Ack(invite.call_id, "bye"), sender=far(c))
    await c.event("hangup", {"from": "local"})
    await alive(c, link)


@case(
    "2.2",
    "incoming call accepted",
    "An invite is acknowledged to the inviting device and rings the application "
    "(incomingCall); accept sends answer to that device, retransmitted until acknowledged, "
    "then no more.",
    requires=("calls",),
)
async def incoming_accepted(c: Case) -> None:
    link = await c.register()
    await incoming_call(c, link, "call-in-2-2")
    await c.event("incomingCall")
    await c.command("accept", call_id="call-in-2-2")
    await c.expect(wire.Answer, where=by_call("call-in-2-2"))
    again = await c.maybe(wire.Answer, RETRANSMIT, by_call("call-in-2-2"))
    c.advise(again is not None, "an unacknowledged answer is retransmitted")
    await c.send(link, wire.Ack("call-in-2-2", "answer"), sender=far(c))
    await c.settle(0.2)
    c.frames.taken.update(range(len(c.frames.items)))  # what was sent until the ack
    late = await c.maybe(wire.Answer, 1.5, by_call("call-in-2-2"))
    c.check(late is None, "no answer is sent once acknowledged")
    await alive(c, link)


@case(
    "2.3",
    "incoming call declined",
    "decline sends bye with a refusal reason to the inviting device; the far side's ack "
    "ends the retransmission.",
    requires=("calls",),
)
async def incoming_declined(c: Case) -> None:
    link = await c.register()
    await incoming_call(c, link, "call-in-2-3")
    await c.event("incomingCall")
    await c.command("decline", call_id="call-in-2-3")
    bye = await c.expect(wire.Bye, where=by_call("call-in-2-3"))
    assert isinstance(bye.message, wire.Bye)
    c.check(bye.to == far(c), f"the bye goes to the inviting device, not {bye.to}")
    c.check(bye.message.reason, "the bye gives a reason")
    await c.send(link, wire.Ack("call-in-2-3", "bye"), sender=far(c))
    c.check(not c.seen(wire.Answer), "a declined call is never answered")
    await alive(c, link)


@case(
    "2.4",
    "the far side hangs up",
    "A bye from the far side of an established call is acknowledged (to that device) and the "
    "application hears hangup from remote.",
    requires=("calls",),
)
async def remote_hangup(c: Case) -> None:
    link = await c.register()
    call_id = await outgoing_call(c, link)
    await c.send(link, wire.Bye(call_id, "Hangup_From_Callee"), sender=far(c))
    ack = await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack(call_id, "bye"))
    c.check(ack.to == far(c), "the bye's ack goes to the far device")
    await c.event("hangup", {"from": "remote"})
    await alive(c, link)


@case(
    "2.5",
    "the caller cancels",
    "A hangup before any answer sends bye (to the bare user: nobody answered yet); a late "
    "answer after that does not revive the call.",
    requires=("calls",),
)
async def caller_cancels(c: Case) -> None:
    link = await c.register()
    result = await c.command("call", contact=c.peer)
    call_id = result["call_id"]
    await c.expect(wire.Invite, where=by_call(call_id))
    await c.send(link, wire.Ack(call_id, "invite"), sender=far(c))
    await c.command("hangup", call_id=call_id)
    bye = await c.expect(wire.Bye, where=by_call(call_id))
    c.advise(bye.to == c.peer, f"a cancel goes to the bare user, not {bye.to}")
    await c.send(link, wire.Ack(call_id, "bye"), sender=far(c))
    await c.send(link, wire.Answer(call_id, SDP_ANSWER), sender=far(c))
    await c.settle(0.5)
    c.check(
        not any(e.message == wire.Ack(call_id, "answer") for e in c.seen(wire.Ack)),
        "an answer to a cancelled call is not acknowledged as a live call's",
    )
    await alive(c, link)


@case(
    "2.6",
    "user not found",
    "user_not_found for an invite's call ends the call (the application hears hangup or an "
    "error) and the invite is no longer retransmitted.",
    requires=("calls",),
)
async def user_not_found(c: Case) -> None:
    link = await c.register()
    result = await c.command("call", contact=c.peer)
    call_id = result["call_id"]
    await c.expect(wire.Invite, where=by_call(call_id))
    await c.send(link, wire.UserNotFound(call_id, c.peer))
    await c.event("hangup")
    await c.settle(0.2)
    c.frames.taken.update(range(len(c.frames.items)))
    late = await c.maybe(wire.Invite, RETRANSMIT, by_call(call_id))
    c.check(late is None, "no invite after user_not_found")
    await alive(c, link)


@case(
    "2.7",
    "the far side declines",
    "A bye answering an invite is acknowledged and ends the call (hangup from remote).",
    requires=("calls",),
)
async def far_declines(c: Case) -> None:
    link = await c.register()
    result = await c.command("call", contact=c.peer)
    call_id = result["call_id"]
    await c.expect(wire.Invite, where=by_call(call_id))
    await c.send(link, wire.Ack(call_id, "invite"), sender=far(c))
    await c.send(link, wire.Bye(call_id, "User_Refused_Call"), sender=far(c))
    await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack(call_id, "bye"))
    await c.event("hangup", {"from": "remote"})
    await alive(c, link)


# --- 3.x glare and forking --------------------------------------------------------------------


@case(
    "3.1",
    "glare: crossing invites",
    "While the client's invite to the far side is unanswered, the far side's own invite "
    "arrives: the client acknowledges it and rings its application, and its own call goes on "
    "(the far side's answer to it is acknowledged).",
    requires=("calls",),
)
async def glare(c: Case) -> None:
    link = await c.register()
    result = await c.command("call", contact=c.peer)
    call_id = result["call_id"]
    await c.expect(wire.Invite, where=by_call(call_id))
    await incoming_call(c, link, "call-glare-3-1")
    await c.event("incomingCall")
    await c.send(link, wire.Ack(call_id, "invite"), sender=far(c))
    await c.send(link, wire.Answer(call_id, SDP_ANSWER), sender=far(c))
    await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack(call_id, "answer"))
    await alive(c, link)


@case(
    "3.2",
    "fork: the answering device wins",
    "Invites go to the bare user; when device p2 answers (p1 only acknowledged), every later "
    "message of the call goes to p2.",
    requires=("calls",),
)
async def fork_winner(c: Case) -> None:
    link = await c.register()
    result = await c.command("call", contact=c.peer)
    call_id = result["call_id"]
    await c.expect(wire.Invite, where=by_call(call_id))
    await c.send(link, wire.Ack(call_id, "invite"), sender=far(c, "p1"))
    await c.send(link, wire.Answer(call_id, SDP_ANSWER), sender=far(c, "p2"))
    ack = await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack(call_id, "answer"))
    c.check(ack.to == far(c, "p2"), f"the answer's ack goes to p2, not {ack.to}")
    await c.command("hangup", call_id=call_id)
    bye = await c.expect(wire.Bye, where=by_call(call_id))
    c.check(bye.to == far(c, "p2"), f"the bye goes to the winner p2, not {bye.to}")
    await c.send(link, wire.Ack(call_id, "bye"), sender=far(c, "p2"))
    await alive(c, link)


@case(
    "3.3",
    "fork: taken on another device",
    "The client rings as one device of its user; the relay's bye 'call take on other device' "
    "(from the caller) is acknowledged, the ringing stops, and no answer is ever sent.",
    requires=("calls",),
)
async def fork_loser(c: Case) -> None:
    link = await c.register()
    call_id = "call-fork-3-3"
    await c.send(link, wire.Invite(call_id, CallType.MEDIA, SDP_OFFER), sender=far(c), to=c.user)
    await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack(call_id, "invite"))
    await c.event("incomingCall")
    await c.send(link, wire.Bye(call_id, "call take on other device"), sender=far(c))
    await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack(call_id, "bye"))
    ok, _ = await c.try_command("accept", call_id=call_id)
    await c.settle(0.5)
    c.check(not c.seen(wire.Answer), "no answer to a call taken on another device")
    c.advise(not ok, "accepting a call taken elsewhere is refused")
    await alive(c, link)


@case(
    "3.4",
    "fork: the answer lost the race",
    "The client accepted, but the relay's bye 'call take on other device' follows: it is "
    "acknowledged and the call ends (hangup from remote).",
    requires=("calls",),
)
async def fork_late(c: Case) -> None:
    link = await c.register()
    await accepted_call(c, link, "call-fork-3-4")
    await c.send(link, wire.Bye("call-fork-3-4", "call take on other device"), sender=far(c))
    await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack("call-fork-3-4", "bye"))
    await c.event("hangup", {"from": "remote"})
    await alive(c, link)


# --- 4.x reconnection ---------------------------------------------------------------------------


@case(
    "4.1",
    "the relay connection drops",
    "When the relay closes the connection, the client connects again and registers with "
    "resume true (same user and device); its application hears the reconnection.",
    requires=("reconnection",),
)
async def reconnects(c: Case) -> None:
    link = await c.register()
    await link.close(1001, "going away")
    second = await c.link(timeout=10.0)
    register = second.registers[0]
    c.check(register.resume, "the new register asks to resume")
    c.check((register.user, register.device) == (c.user, c.device), "same user and device")
    await c.event("reconnection", timeout=RETRANSMIT)
    await alive(c, second)


@case(
    "4.2",
    "a call survives a reconnection",
    "A call established before the drop is still known after the client resumed: the far "
    "side's bye on the new connection is acknowledged and ends it.",
    requires=("calls", "reconnection"),
)
async def call_survives(c: Case) -> None:
    link = await c.register()
    call_id = await outgoing_call(c, link)
    await link.close(1001, "going away")
    second = await c.link(timeout=10.0)
    await c.send(second, wire.Bye(call_id, "Hangup_From_Callee"), sender=far(c))
    await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack(call_id, "bye"))
    await c.event("hangup", {"from": "remote"})
    await alive(c, second)


@case(
    "4.3",
    "an unacknowledged bye crosses a reconnection",
    "A bye sent just before the drop and never acknowledged is sent again on the new connection.",
    requires=("calls", "reconnection"),
)
async def bye_resent(c: Case) -> None:
    link = await c.register()
    call_id = await outgoing_call(c, link)
    await c.command("hangup", call_id=call_id)
    await c.expect(wire.Bye, where=by_call(call_id))
    await link.close(1001, "going away")
    second = await c.link(timeout=10.0)
    await c.expect(
        wire.Bye,
        timeout=RETRANSMIT * 2,
        where=lambda e: (
            e.message.route_id == call_id
            and any(lk is second and en is e for lk, en in c.frames.items)
        ),
        what="the bye is sent again on the new connection",
    )
    await c.send(second, wire.Ack(call_id, "bye"), sender=far(c))
    await alive(c, second)


# --- 5.x data channels --------------------------------------------------------------------------


@case(
    "5.1",
    "open a data channel",
    "open_channel sends a data call invite (call_type data) and a data_channel_invite naming "
    "it, retransmitted until the far side's data_channel_ack.",
    requires=("data_channels",),
)
async def open_channel(c: Case) -> None:
    link = await c.register()
    result = await c.command("open_channel", contact=c.peer, label="chat")
    dc = await c.expect(wire.DataChannelInvite)
    invite = await c.expect(wire.Invite)
    assert isinstance(dc.message, wire.DataChannelInvite) and isinstance(
        invite.message, wire.Invite
    )
    c.check(dc.message.channel_id == result["channel_id"], "the channel's id")
    c.check(dc.message.call_id == invite.message.call_id, "the invite carries the channel")
    c.check(invite.message.call_type == CallType.DATA, "a data call")
    c.check(dc.message.label == "chat", "the label")
    await c.send(link, wire.Ack(invite.message.call_id, "invite"), sender=far(c))
    await c.send(link, wire.Answer(invite.message.call_id, SDP_ANSWER), sender=far(c))
    channel_id = dc.message.channel_id
    again = await c.maybe(
        wire.DataChannelInvite, RETRANSMIT, lambda e: e.message.route_id == channel_id
    )
    c.advise(again is not None, "an unacknowledged data_channel_invite is retransmitted")
    if again is not None:
        c.advise(
            again.to == far(c),
            f"once the data call is answered, its data_channel_invite goes to the answering "
            f"device, not to {again.to} (a bare user reaches every device of a fork)",
        )
    await c.send(link, wire.DataChannelAck(channel_id), sender=far(c))
    await c.settle(0.2)
    c.frames.taken.update(range(len(c.frames.items)))
    late = await c.maybe(wire.DataChannelInvite, 1.5, lambda e: e.message.route_id == channel_id)
    c.check(late is None, "no data_channel_invite once acknowledged")
    await alive(c, link)


@case(
    "5.2",
    "an incoming data channel",
    "A data call invite and its data_channel_invite ring the application "
    "(dataChannelInvitation); every copy of the data_channel_invite is acknowledged.",
    requires=("data_channels",),
)
async def incoming_channel(c: Case) -> None:
    link = await c.register()
    await incoming_call(c, link, "call-dc-5-2", call_type=CallType.DATA)
    message = wire.DataChannelInvite("chan-5-2", "call-dc-5-2", "chat")
    await c.send(link, message, sender=far(c))
    await c.send(link, message, sender=far(c))
    for _ in range(2):
        await c.expect(wire.DataChannelAck, where=lambda e: e.message.route_id == "chan-5-2")
    await c.event("dataChannelInvitation")
    await alive(c, link)


@case(
    "5.3",
    "accept a data channel",
    "Accepting an incoming data channel answers its data call (to the inviting device).",
    requires=("data_channels",),
)
async def accept_channel(c: Case) -> None:
    link = await c.register()
    await incoming_call(c, link, "call-dc-5-3", call_type=CallType.DATA)
    await c.send(link, wire.DataChannelInvite("chan-5-3", "call-dc-5-3", "chat"), sender=far(c))
    await c.event("dataChannelInvitation")
    await c.command("accept_channel", channel_id="chan-5-3")
    answer = await c.expect(wire.Answer, where=by_call("call-dc-5-3"))
    c.check(answer.to == far(c), "the answer goes to the inviting device")
    await c.send(link, wire.Ack("call-dc-5-3", "answer"), sender=far(c))
    await alive(c, link)


# --- 6.x file transfer ---------------------------------------------------------------------------


@case(
    "6.1",
    "send a file",
    "send_file sends a file_offer (name, mime, size; carried by a data call whose id is the "
    "transfer's) and the data call's invite, the offer retransmitted until acknowledged.",
    requires=("files",),
)
async def send_file(c: Case) -> None:
    link = await c.register()
    result = await c.command("send_file", contact=c.peer, name="notes.txt", size=1234)
    offer = await c.expect(wire.FileOffer)
    invite = await c.expect(wire.Invite)
    assert isinstance(offer.message, wire.FileOffer) and isinstance(invite.message, wire.Invite)
    c.check(offer.message.transfer_id == result["transfer_id"], "the transfer's id")
    c.check((offer.message.name, offer.message.size) == ("notes.txt", 1234), "name and size")
    c.check(offer.message.call_id == invite.message.call_id, "the data call carries the file")
    c.check(invite.message.call_type == CallType.DATA, "a data call")
    again = await c.maybe(wire.FileOffer, RETRANSMIT, lambda e: e.message == offer.message)
    c.advise(again is not None, "an unacknowledged file_offer is retransmitted")
    await c.send(link, wire.Ack(invite.message.call_id, "invite"), sender=far(c))
    await c.send(link, wire.DataChannelAck(offer.message.channel_id), sender=far(c))
    await alive(c, link)


@case(
    "6.2",
    "an incoming file",
    "A file_offer and its data call ring the application (fileTransferInvitation) with the "
    "file's name and size; the offer is acknowledged (data_channel_ack of its channel).",
    requires=("files",),
)
async def incoming_file(c: Case) -> None:
    link = await c.register()
    offer = wire.FileOffer("call-f-6-2", "call-f-6-2", "chan-f-6-2", "a.txt", "text/plain", 10)
    await c.send(link, offer, sender=far(c))
    await incoming_call(c, link, "call-f-6-2", call_type=CallType.DATA)
    await c.expect(wire.DataChannelAck, where=lambda e: e.message.route_id == "chan-f-6-2")
    await c.event("fileTransferInvitation")
    await alive(c, link)


@case(
    "6.3",
    "the sender cancels",
    "A file_cancel for an offered file ends its invitation for the application; the client "
    "sends nothing for it but the data call's bye or ack.",
    requires=("files",),
)
async def file_cancelled(c: Case) -> None:
    link = await c.register()
    offer = wire.FileOffer("call-f-6-3", "call-f-6-3", "chan-f-6-3", "b.txt", "text/plain", 10)
    await c.send(link, offer, sender=far(c))
    await incoming_call(c, link, "call-f-6-3", call_type=CallType.DATA)
    await c.event("fileTransferInvitation")
    await c.send(link, wire.FileCancel("call-f-6-3", "cancelled"), sender=far(c))
    await c.send(link, wire.Bye("call-f-6-3", "Hangup_From_Caller"), sender=far(c))
    await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack("call-f-6-3", "bye"))
    await alive(c, link)


@case(
    "6.4",
    "a malformed file offer",
    "A file_offer whose transfer id is not its data call's, or of a negative size, rings "
    "nothing and breaks nothing.",
    requires=("files",),
)
async def bad_offer(c: Case) -> None:
    link = await c.register()
    await c.send(link, wire.FileOffer("t-6-4", "call-6-4", "ch", "x", "y", 1), sender=far(c))
    await c.send(link, wire.FileOffer("c-6-4", "c-6-4", "ch", "x", "y", -5), sender=far(c))
    await alive(c, link)
    ring = await c.maybe_event("fileTransferInvitation", 0.3)
    c.check(ring is None, "no fileTransferInvitation for a malformed offer")


# --- 7.x conversations -------------------------------------------------------------------------


@case(
    "7.1",
    "join a room",
    "join_room sends conv_join with a request_id and no to; conv_joined answers it.",
    requires=("conversations",),
)
async def join_room(c: Case) -> None:
    link = await c.register()
    await c.command("join_room", room="room-7-1")
    env = await c.expect(conv.ConvJoin)
    assert isinstance(env.message, conv.ConvJoin)
    c.check(env.to is None, "a room request has no to")
    await alive(c, link)


@case(
    "7.2",
    "unsolicited room notices",
    "Relay notices about a room the client never joined (conv_message, conv_contact_joined, "
    "conv_closed) are dropped: the client sends nothing about them and stays usable.",
)
async def stray_notices(c: Case) -> None:
    link = await c.register()
    await c.send(link, conv.ConvMessage("nowhere", 1, "hello"))
    await c.send(link, conv.ConvContactJoined("nowhere", "x/y", ConversationRole.CONTRIBUTOR))
    await c.send(link, conv.ConvClosed("nowhere"))
    await alive(c, link)
    c.check(
        not [
            e for e in c.seen(wire.Message) if not isinstance(e.message, wire.Pong | wire.Register)
        ],
        "nothing sent about a room the client is not in",
    )


@case(
    "7.3",
    "a client-only request from the relay",
    "A conv_join arriving from the relay (a request, which only clients send) is dropped.",
)
async def request_from_relay(c: Case) -> None:
    link = await c.register()
    await c.send(link, conv.ConvJoin("room-7-3", "r1"))
    await alive(c, link)


async def joined(c: Case, link: RelayLink, room: str) -> None:
    """The testee joins ``room``; the relay admits it alone, as a moderator."""
    await c.command("join_room", room=room)
    env = await c.expect(conv.ConvJoin, where=lambda e: e.message.route_id == room)
    assert isinstance(env.message, conv.ConvJoin)
    c.check(env.to is None, "a room request has no to")
    me = f"{c.user}/{c.device}"
    answer = conv.ConvJoined(
        room, env.message.request_id, ConversationRole.MODERATOR, [me], [me], 0, 0, False
    )
    await c.send(link, answer)
    await c.event("joined", timeout=5.0)


@case(
    "7.4",
    "room messages",
    "send_room_message sends conv_send_message (a request_id, no to), answered by conv_ack; "
    "a member's conv_message reaches the application (message).",
    requires=("conversations",),
)
async def room_messages(c: Case) -> None:
    link = await c.register()
    await joined(c, link, "room-7-4")
    await c.command("send_room_message", room="room-7-4", text="hello")
    env = await c.expect(conv.ConvSendMessage)
    assert isinstance(env.message, conv.ConvSendMessage)
    c.check(env.message.content == "hello", "the message's text")
    await c.send(
        link, conv.ConvAck("room-7-4", env.message.request_id, conv.ConvCommand.MESSAGE, seq=1)
    )
    await c.send(link, conv.ConvMessage("room-7-4", 2, "hi there"), sender=far(c))
    await c.event("message")
    await alive(c, link)


@case(
    "7.5",
    "leave a room",
    "leave_room sends conv_leave for the room, answered by conv_ack; later notices about the "
    "room are dropped.",
    requires=("conversations",),
)
async def leave_room(c: Case) -> None:
    link = await c.register()
    await joined(c, link, "room-7-5")
    await c.command("leave_room", room="room-7-5")
    env = await c.expect(conv.ConvLeave)
    assert isinstance(env.message, conv.ConvLeave)
    await c.send(link, conv.ConvAck("room-7-5", env.message.request_id, conv.ConvCommand.LEAVE))
    await c.send(link, conv.ConvMessage("room-7-5", 3, "after"), sender=far(c))
    await alive(c, link)


# --- 8.x hostile input -------------------------------------------------------------------------


async def survives(c: Case, frames: list[str | bytes]) -> None:
    link = await c.register()
    for frame in frames:
        await link.send_text(frame)
    await alive(c, link)
    c.check(not link.closed.is_set(), "the client keeps the connection")


@case("8.1", "malformed JSON", "Frames that are not JSON are dropped; the client stays.")
async def malformed(c: Case) -> None:
    await survives(c, ["{", "not json", '{"v":1,"type":"ping","seq":1', "\x00\x01", ""])


@case(
    "8.2",
    "unknown type and version",
    "A message of an unknown type, or of protocol version 2, is dropped; the client stays.",
)
async def unknown(c: Case) -> None:
    await survives(
        c,
        [
            '{"v":1,"type":"teleport","to":"x"}',
            '{"v":2,"type":"ping","seq":1}',
            '{"v":true,"type":"ping","seq":1}',
            '{"type":"ping","seq":1}',
            "[1,2,3]",
        ],
    )


@case(
    "8.3",
    "oversize frame",
    "A 200 KB frame (beyond the 64 KiB message limit) is dropped; the client stays.",
)
async def oversize(c: Case) -> None:
    big = json.dumps({"v": 1, "type": "contact_message", "uuid": 1, "content": "x" * 200_000})
    await survives(c, [big])


@case(
    "8.4",
    "deep nesting",
    "A frame nested 20 000 levels deep (and one of 33) is dropped without a crash; the "
    "client stays.",
)
async def deep(c: Case) -> None:
    deep_array = '{"v":1,"type":"contact_data","content":{"a":' + "[" * 20_000 + "]" * 20_000 + "}}"
    nested = '{"v":1,"type":"contact_data","content":' + '{"a":' * 32 + "1" + "}" * 33
    await survives(c, [deep_array, nested])


@case(
    "8.5",
    "wrong field types",
    "An invite with a number for call_id, an unknown call_type, an extra field, or a bool "
    "for an int is dropped and rings nothing.",
)
async def wrong_fields(c: Case) -> None:
    frames: list[str | bytes] = [
        '{"v":1,"type":"invite","call_id":5,"call_type":"media"}',
        '{"v":1,"type":"invite","call_id":"c-8-5","call_type":"hologram"}',
        '{"v":1,"type":"invite","call_id":"c-8-5","call_type":"media","evil":1}',
        '{"v":1,"type":"ping","seq":true}',
        '{"v":1,"type":"ping","seq":9007199254740993}',
    ]
    await survives(c, frames)
    ring = await c.maybe_event("incomingCall", 0.3)
    c.check(ring is None, "no incomingCall for an invalid invite")


@case(
    "8.6",
    "spoofed sender",
    "A bye for the client's call from another address than the far device is not obeyed: "
    "the call goes on (the real far side's bye ends it later).",
    requires=("calls",),
)
async def spoofed(c: Case) -> None:
    link = await c.register()
    await accepted_call(c, link, "call-8-6")
    await c.send(link, wire.Bye("call-8-6", "Hangup_From_Caller"), sender="mallory/evil")
    await c.settle(0.5)
    c.check(
        not any(
            e.message.route_id == "call-8-6" for e in c.seen(wire.Ack) if e.to == "mallory/evil"
        ),
        "no ack to the spoofer",
    )
    ended = await c.maybe_event("hangup", 0.1)
    c.check(ended is None, "the call does not end on a spoofed bye")
    await c.send(link, wire.Bye("call-8-6", "Hangup_From_Caller"), sender=far(c))
    await c.expect(wire.Ack, where=lambda e: e.message == wire.Ack("call-8-6", "bye"))
    await alive(c, link)


@case(
    "8.7",
    "unknown ids",
    "Answers, candidates, byes and acks for calls, channels and transfers the client never "
    "had are dropped (no event, nothing ends); the client stays.",
)
async def unknown_ids(c: Case) -> None:
    link = await c.register()
    for message in (
        wire.Answer("nope-1", SDP_ANSWER),
        wire.Candidate("nope-2", "candidate:0 1 udp 1 127.0.0.1 9 typ host"),
        wire.Ack("nope-3", "answer"),
        wire.UpdateOk("nope-4", SDP_ANSWER),
        wire.DataChannelAck("nope-5"),
        wire.FileCancel("nope-6", "cancelled"),
        wire.UserNotFound("nope-7", "ghost"),
    ):
        await c.send(link, message, sender=far(c))
    await alive(c, link)
    c.check(not c.seen(wire.Invite), "nothing is invited")


@case(
    "8.8",
    "binary and a flood",
    "A binary frame and a burst of 300 unknown-type frames are dropped; the client stays and "
    "answers a ping at once after them.",
)
async def flood(c: Case) -> None:
    await survives(
        c, [b"\xff\xfe\x00binary", *[f'{{"v":1,"type":"noise","n":{i}}}' for i in range(300)]]
    )
