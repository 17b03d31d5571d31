"""N-party conversations over the simulated network: real sessions, the real hub, and the
invariants of a room.

Part of the conformance kit. A :class:`RoomScenario` is plain data: ``members`` devices
(``m0/default`` ... ``m<N-1>/default``) and timed :data:`RoomAction` values. ``m0`` creates the
room at time 0.5 (moderated or not; either way the creator is its moderator) and stays; the
others join, leave, send messages, lose their relay connection for a while (the session
reconnects by itself and the conversation rejoins), and ``m0`` admits or denies the first
waiter and ejects members. :func:`run_room` plays it on a
:class:`~rtcstate.testing.network.SimNetwork` (with the real :class:`~rtcstate.hub.Hub`, so the
relay's :class:`~rtcstate.rooms.RoomAuthority` decides everything) and lets it settle;
actions that no longer apply when their time comes are skipped (listed in
:attr:`RoomOutcome.skipped`). Each message's content names its sender and its rank
(``m3#7``), so order and identity can be checked.

What the network may do: peer signaling suffers every fault of the drawn
:class:`~rtcstate.testing.network.Faults`; the relay's room traffic rides each device's
websocket, in order, delayed, and lost with the link when a device disconnects (everything in
flight both ways).

Invariants (:func:`check_room`, each an :class:`~rtcstate.testing.harness.InvariantViolation`):

* convergence: once settled, a device whose conversation is JOINED is a member at the relay
  and lists exactly the relay's other members; a NOT_JOINED one is neither a member nor
  waiting; a WAITING one is waiting; nobody is left JOINING;
* the relay delivers a message only to members (never to a waiter, a banned or a departed
  user) and never to its sender;
* a device shows a live message (``message`` without ``history``) only if the relay delivered
  it to it, at most once, and in its sender's order; every message the relay delivered to a
  device is shown by it exactly once unless the device left, was ejected or lost its
  connection after the relay sent it (the message was in flight), or left the room before the
  relay heard of it (its leave was in flight: a device that called ``leave`` is NOT_JOINED at
  once and shows nothing more, as in apiRTC; the relay's order puts the message before the
  leave, and the members that stay show it);
* no exception escaped a session, the hub or the script.

Media (:mod:`rtcstate.conversation.media`): members publish their stream (``s<index>``),
withdraw it, subscribe to another member's listed stream and unsubscribe; the fake media stack
carries the mesh calls. Invariants (:func:`check_media`):

* the relay sends a stream notice (list change, subscription, forwarded call signal) only to
  a member of the room: nothing reaches a waiter, an ejected or a departed user;
* once settled, a device out of the room holds no call, no subscription and no stream list;
* a JOINED device lists exactly the relay's streams, and is subscribed to exactly the streams
  it *asked for* that are still published: a subscription asked for is kept unless the device
  unsubscribed, the relay refused it, the device left the room (leave, ejection, lost
  connection) or the device was told the stream went away, after asking; every such
  subscription is carried by a CONNECTED call on both ends, and the publisher holds no call
  the relay does not know.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from rtcstate.conversation import Conversation, ConversationState, Reject
from rtcstate.conversation.call import CallRole, ConversationCallState
from rtcstate.effects import Effect, Send
from rtcstate.hub import Deliver, HubEffect
from rtcstate.retry import FixedDelay
from rtcstate.session import SessionConfig
from rtcstate.stream import Stream
from rtcstate.testing.harness import InvariantViolation
from rtcstate.testing.network import Client, Faults, SimNetwork
from rtcstate.wire import Message
from rtcstate.wire_conversation import ConvMessage
from rtcstate.wire_streams import STREAM_RELAY_ONLY, ConvSubscribe

__all__ = [
    "ROOM",
    "Admit",
    "Deny",
    "Disconnect",
    "Eject",
    "Join",
    "Leave",
    "RoomAction",
    "RoomOutcome",
    "RoomScenario",
    "Say",
    "check_room",
    "room_scenarios",
    "run_room",
]

ROOM = "room"
MODERATOR = 0
SETTLE = 60.0  # seconds of quiet after the last action: repeats (5 s) and reconnections end


@attrs.frozen(slots=True)
class Join:
    member: int
    at: float


@attrs.frozen(slots=True)
class Leave:
    member: int
    at: float


@attrs.frozen(slots=True)
class Say:
    member: int
    at: float


@attrs.frozen(slots=True)
class Disconnect:
    """The member's relay connection is cut for ``duration`` seconds."""

    member: int
    at: float
    duration: float


@attrs.frozen(slots=True)
class Admit:
    """The moderator admits the first waiter it sees."""

    at: float


@attrs.frozen(slots=True)
class Deny:
    """The moderator denies the first waiter it sees."""

    at: float


@attrs.frozen(slots=True)
class Eject:
    member: int
    at: float


@attrs.frozen(slots=True)
class Publish:
    """The member publishes its stream ``s<member>`` (skipped if it is published)."""

    member: int
    at: float


@attrs.frozen(slots=True)
class Unpublish:
    member: int
    at: float


@attrs.frozen(slots=True)
class Subscribe:
    """The member subscribes to ``s<publisher>`` (skipped unless it lists it)."""

    member: int
    at: float
    publisher: int


@attrs.frozen(slots=True)
class Unsubscribe:
    member: int
    at: float
    publisher: int


RoomAction = (
    Join | Leave | Say | Disconnect | Admit | Deny | Eject | Publish | Unpublish | Subscribe
    | Unsubscribe
)  # fmt: skip


def stream_of(member: int) -> str:
    """The id of the stream member ``member`` publishes."""
    return f"s{member}"


@attrs.frozen(slots=True)
class RoomScenario:
    members: int
    actions: tuple[RoomAction, ...] = ()
    moderated: bool = False
    faults: Faults = attrs.field(factory=Faults)
    seed: int = 0


@attrs.frozen(slots=True)
class Relayed:
    """One copy of a live message the relay sent to ``to`` at ``time`` (``member``: whether
    ``to`` was a member of the room then; ``since``: when the relay last made it a member, the
    start of the membership the copy was sent under)."""

    time: float
    content: str
    sender: str
    to: str
    member: bool
    since: float = 0.0


class _RoomNetwork(SimNetwork):
    """The simulated network, recording every live conversation message the hub delivers and
    when each device last became a member at the relay."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.relayed: list[Relayed] = []
        #: (time, type, to) of every stream notice the hub sent to a non-member
        self.stray_media: list[tuple[float, str, str]] = []
        #: address -> time the relay last made it a member (kept after it leaves)
        self.member_since: dict[str, float] = {}
        self._members: set[str] = set()

    def _hub_effects(self, effects: list[HubEffect], received: Message | None) -> None:
        # every change of the relay's state comes through here, once per hub step
        members = {a for a, _ in _view(self)[0]}
        for address in members - self._members:
            self.member_since[address] = self.now
        self._members = members
        for e in effects:
            if isinstance(e, Deliver) and type(e.envelope.message) in STREAM_RELAY_ONLY:
                client = self._conn_owner.get(e.conn)
                if client is not None and client.address not in members:
                    self.stray_media.append((self.now, e.envelope.message.TYPE, client.address))
            if isinstance(e, Deliver) and type(e.envelope.message) is ConvMessage:
                msg = e.envelope.message
                client = self._conn_owner.get(e.conn)
                if client is not None and not msg.history:
                    to = client.address
                    sender = e.envelope.sender or ""
                    since = self.member_since.get(to, self.now)
                    self.relayed.append(
                        Relayed(self.now, msg.content, sender, to, to in members, since)
                    )
        super()._hub_effects(effects, received)


def _view(net: SimNetwork) -> tuple[tuple[tuple[str, Any], ...], tuple[str, ...]]:
    """The relay's members and waiters of the room (empty once it is gone)."""
    for tenant, name in net.hub.rooms.rooms():
        if name == ROOM:
            view = net.hub.rooms.room(tenant, name)
            if view is not None:
                return view.members, view.waiting
    return (), ()


@attrs.define(slots=True, eq=False)
class RoomOutcome:
    scenario: RoomScenario
    net: SimNetwork
    clients: list[Client]
    relayed: list[Relayed]
    #: address -> times it stopped being a member by itself or by the moderator (leave,
    #: ejection, lost connection)
    gone: dict[str, list[float]] = attrs.field(factory=dict)
    #: address -> times it left by itself (also in ``gone``)
    left: dict[str, list[float]] = attrs.field(factory=dict)
    skipped: list[str] = attrs.field(factory=list)
    said: int = 0
    #: (address, stream id) -> (time, request id) of its last subscription asked for
    asked: dict[tuple[str, str], tuple[float, str]] = attrs.field(factory=dict)
    #: (address, stream id) -> times it unsubscribed
    dropped: dict[tuple[str, str], list[float]] = attrs.field(factory=dict)

    def conversation(self, index: int) -> Conversation | None:
        found = self.clients[index].session.child("room", ROOM)
        return found if isinstance(found, Conversation) else None


def _config(index: int) -> SessionConfig:
    return SessionConfig(f"m{index}", retry_policy=FixedDelay(0.5))


def run_room(scenario: RoomScenario) -> RoomOutcome:
    """Play ``scenario`` and let it settle (``SETTLE`` s after the last action)."""
    net = _RoomNetwork(scenario.faults, seed=scenario.seed)
    clients = [net.add_client(_config(i)) for i in range(scenario.members)]
    out = RoomOutcome(scenario, net, clients, net.relayed)
    counters = [0] * scenario.members

    def conv(index: int) -> Conversation:
        session = clients[index].session
        if index == MODERATOR:
            return session.get_conversation(ROOM, moderated=scenario.moderated)
        return session.get_conversation(ROOM)

    def command(index: int, label: str, action: Any) -> None:
        net.run_command(clients[index], action, label)

    def gone(index: int) -> None:
        out.gone.setdefault(clients[index].address, []).append(net.now)

    def skip(action: RoomAction, why: str) -> None:
        out.skipped.append(f"{action!r}: {why}")

    def play(action: RoomAction) -> None:
        if isinstance(action, Disconnect):
            gone(action.member)
            net.lose_server(clients[action.member], action.duration)
            return
        if isinstance(action, Admit | Deny):
            moderator = conv(MODERATOR)
            if not moderator.joined or not moderator.waiting_room:
                skip(action, "nobody waiting")
                return
            waiter = next(iter(moderator.waiting_room))
            if isinstance(action, Admit):
                command(MODERATOR, "admit", lambda now: moderator.allow_entry(now, waiter))
            else:
                command(MODERATOR, "deny", lambda now: moderator.deny_entry(now, waiter))
            return
        if isinstance(action, Eject):
            moderator = conv(MODERATOR)
            address = clients[action.member].address
            if not moderator.joined or address not in moderator.contacts:
                skip(action, "not a member the moderator sees")
                return
            gone(action.member)
            command(MODERATOR, "eject", lambda now: moderator.eject(now, address))
            return
        c = conv(action.member)
        if not clients[action.member].session.connected:
            skip(action, "not connected")
        elif isinstance(action, Publish | Unpublish | Subscribe | Unsubscribe):
            media(action, c)
        elif isinstance(action, Join):
            if c.state is ConversationState.NOT_JOINED:
                command(action.member, "join", c.join)
            else:
                skip(action, c.state.name)
        elif not c.joined:
            skip(action, c.state.name)
        elif isinstance(action, Leave):
            gone(action.member)
            out.left.setdefault(clients[action.member].address, []).append(net.now)
            command(action.member, "leave", c.leave)
        else:
            counters[action.member] += 1
            content = f"m{action.member}#{counters[action.member]}"
            out.said += 1
            command(action.member, "say", lambda now: c.send_message(now, content))

    def media(action: Publish | Unpublish | Subscribe | Unsubscribe, c: Conversation) -> None:
        index = action.member
        if not c.joined:
            skip(action, c.state.name)
            return
        if isinstance(action, Publish | Unpublish):
            sid = stream_of(index)
            if isinstance(action, Publish) == c.media.is_published_stream(sid):
                skip(action, "published already" if isinstance(action, Publish) else "not")
            elif isinstance(action, Publish):
                command(index, "publish", lambda now: c.publish(now, Stream(sid)))
            else:
                command(index, "unpublish", lambda now: c.unpublish(now, sid))
            return
        sid = stream_of(action.publisher)
        key = (clients[index].address, sid)
        if isinstance(action, Unsubscribe):
            if sid not in c.media.subscribed:
                skip(action, "not subscribed")
                return
            out.dropped.setdefault(key, []).append(net.now)
            command(index, "unsubscribe", lambda now: c.unsubscribe_to_stream(now, sid))
            return
        listed = {s["streamId"] for s in c.get_available_stream_list() if s["isRemote"]}
        if sid not in listed or sid in c.media.subscribed:
            skip(action, "not listed or subscribed already")
            return

        def subscribe(now: float) -> list[Effect]:
            fx = c.subscribe_to_stream(now, sid)
            for e in fx:
                if isinstance(e, Send) and isinstance(e.message, ConvSubscribe):
                    out.asked[key] = (now, e.message.request_id)
            return fx

        command(index, "subscribe", subscribe)

    def creator(now: float) -> Iterable[Effect]:
        return conv(MODERATOR).join(now)

    net.command(clients[MODERATOR], 0.5, creator, "create")
    for action in scenario.actions:
        net.at(action.at, functools.partial(_later, play, action), repr(action))
    last = max((a.at + getattr(a, "duration", 0.0) for a in scenario.actions), default=1.0)
    net.run(until=last + SETTLE)
    return out


def _later(play: Callable[[RoomAction], None], action: RoomAction, now: float) -> None:
    play(action)


def _fail(what: str, *context: object) -> InvariantViolation:
    return InvariantViolation("\n".join([what, *map(str, context)]))


def check_room(out: RoomOutcome) -> None:
    """Every invariant of the module docstring."""
    net = out.net
    for client in out.clients:
        if client.errors:
            raise _fail("an exception escaped a session", client.errors[0].trace)
    if net.hub_errors:
        raise _fail("an exception escaped the hub or the script", net.hub_errors[0].trace)
    _check_convergence(out)
    _check_messages(out)
    check_media(out)


def _check_convergence(out: RoomOutcome) -> None:
    members_view, waiting = _view(out.net)
    members = {address for address, _ in members_view}
    for index, client in enumerate(out.clients):
        conv = out.conversation(index)
        state = ConversationState.NOT_JOINED if conv is None else conv.state
        address = client.address
        if state is ConversationState.JOINED:
            assert conv is not None
            if address not in members or set(conv.contacts) != members - {address}:
                raise _fail(
                    f"{address}: its participant list differs from the relay's",
                    f"device: {sorted(conv.contacts)}", f"relay: {sorted(members)}",
                )  # fmt: skip
        elif state is ConversationState.WAITING:
            if address not in waiting or address in members:
                raise _fail(f"{address} waits but the relay does not say so", members, waiting)
        elif state is ConversationState.NOT_JOINED:
            if address in members or address in waiting:
                raise _fail(f"{address} is not joined but the relay holds it", members, waiting)
        else:
            raise _fail(f"{address} is still {state.name} after settling")


def _check_messages(out: RoomOutcome) -> None:
    relayed: dict[tuple[str, str], Relayed] = {}
    for r in out.relayed:
        if not r.member:
            raise _fail(f"the relay sent {r.content} to {r.to}, not a member then")
        if r.to == r.sender:
            raise _fail(f"the relay sent {r.content} back to its sender")
        relayed.setdefault((r.content, r.to), r)
    for client in out.clients:
        shown: list[str] = [
            e.payload["content"]
            for e in client.emits
            if e.target == f"conversation:{ROOM}"
            and e.event == "message"
            and not e.payload.get("history")
        ]
        if len(shown) != len(set(shown)):
            raise _fail(f"{client.address} showed a message twice", shown)
        last: dict[str, int] = {}
        for content in shown:
            if (content, client.address) not in relayed:
                raise _fail(f"{client.address} showed {content}, never relayed to it")
            sender, _, rank = content.partition("#")
            if int(rank) <= last.get(sender, 0):
                raise _fail(f"{client.address} showed {sender}'s messages out of order", shown)
            last[sender] = int(rank)
        seen = set(shown)
        for (content, to), r in relayed.items():
            if to != client.address or content in seen:
                continue
            # excused if the device left, was ejected or cut off after the send (the copy was
            # in flight), or if it left the membership the copy was sent under before the send
            # (its leave was in flight: the relay had not heard of it yet; a left device shows
            # nothing more, as apiRTC's leave() is JOINED -> NOT_JOINED at once)
            after = any(t >= r.time for t in out.gone.get(to, ()))
            if not after and not any(t >= r.since for t in out.left.get(to, ())):
                raise _fail(f"{to} never showed {content}, relayed to it at {r.time:.3f}")


def _relay_streams(net: SimNetwork) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """The relay's stream list (stream id -> publisher) and subscriptions (subscriber,
    stream id) of the room."""
    for tenant, name in net.hub.rooms.rooms():
        if name == ROOM:
            view = net.hub.rooms.streams(tenant, name)
            return dict(view.streams), {(who, sid) for sid, who, _ in view.subscriptions}
    return {}, set()


def check_media(out: RoomOutcome) -> None:
    """The media invariants of the module docstring (part of :func:`check_room`)."""
    net = out.net
    assert isinstance(net, _RoomNetwork)
    if net.stray_media:
        raise _fail("the relay sent a stream notice to a non-member", net.stray_media[0])
    listed, relay_subs = _relay_streams(net)
    for index, client in enumerate(out.clients):
        conv = out.conversation(index)
        address = client.address
        if conv is None or not conv.joined:
            if conv is not None and (conv.media.calls or conv.media.available):
                raise _fail(f"{address} is out of the room but holds media", conv.media.calls)
            continue
        book = conv.media
        if set(book.available) != set(listed):
            raise _fail(f"{address} lists other streams than the relay", book.available, listed)
        subscribed = set(book.subscribed)
        at_relay = {sid for who, sid in relay_subs if who == address}
        if subscribed != at_relay:
            raise _fail(f"{address}'s subscriptions differ from the relay's", subscribed, at_relay)
        wanted = {
            sid for (who, sid) in out.asked if who == address and _still_wanted(out, client, sid)
        }
        if subscribed != wanted & set(listed):
            raise _fail(
                f"{address} is not subscribed to exactly what it asked for",
                f"subscribed: {sorted(subscribed)}", f"asked, still published: "
                f"{sorted(wanted & set(listed))}",
            )  # fmt: skip
        for sid, call_id in book.subscribed.items():
            call = book.calls.get(call_id)
            publisher = _client(out, listed.get(sid))
            far = None
            if publisher is not None:
                pconv = out.conversation(out.clients.index(publisher))
                far = None if pconv is None else pconv.media.calls.get(call_id)
            if (
                call is None
                or far is None
                or not (call.state is far.state is ConversationCallState.CONNECTED)
            ):
                raise _fail(f"{address}'s subscription to {sid} is not carried", call, far)
        for call in book.calls.values():
            if call.role is CallRole.PUBLISH and (call.peer, call.stream_id) not in relay_subs:
                raise _fail(f"{address} publishes {call.stream_id} to {call.peer} unasked")


def _client(out: RoomOutcome, address: str | None) -> Client | None:
    return next((c for c in out.clients if c.address == address), None)


def _still_wanted(out: RoomOutcome, client: Client, sid: str) -> bool:
    when, request_id = out.asked[(client.address, sid)]
    if any(t >= when for t in out.dropped.get((client.address, sid), ())):
        return False
    if any(t >= when for t in out.gone.get(client.address, ())):
        return False
    for _, e in client.effects:
        if isinstance(e, Reject) and e.request_id == request_id:
            return False
    room = f"conversation:{ROOM}"
    return not any(
        r.time >= when
        and r.target == room
        and (
            (r.event == "streamListChanged" and r.payload.get("listEventType") == "removed")
            or r.event == "streamRemoved"
        )
        and r.payload.get("streamId") == sid
        for r in client.emits
    )


# --- Hypothesis strategies -----------------------------------------------------------------


@st.composite
def _action(draw: st.DrawFn, members: int, horizon: float) -> RoomAction:
    at = draw(st.floats(1.0, horizon, allow_nan=False).map(lambda t: round(t, 2)))
    member = draw(st.integers(1, members - 1))
    kind = draw(
        st.sampled_from(["join", "join", "leave", "say", "say", "say", "drop", "admit", "deny",
                         "eject", "publish", "publish", "unpublish", "subscribe", "subscribe",
                         "subscribe", "unsubscribe"])
    )  # fmt: skip
    other = draw(st.integers(0, members - 1))
    if kind == "publish":
        return Publish(member if other % 2 else 0, at)
    if kind == "unpublish":
        return Unpublish(member, at)
    if kind == "subscribe":
        return Subscribe(member, at, other) if other != member else Subscribe(0, at, member)
    if kind == "unsubscribe":
        return Unsubscribe(member, at, other)
    if kind == "join":
        return Join(member, at)
    if kind == "leave":
        return Leave(member, at)
    if kind == "say":
        return Say(member, at)
    if kind == "drop":
        return Disconnect(member, at, draw(st.floats(0.2, 8.0).map(lambda d: round(d, 2))))
    if kind == "admit":
        return Admit(at)
    if kind == "deny":
        return Deny(at)
    return Eject(member, at)


def room_scenarios(
    members: tuple[int, int] = (2, 20), max_actions: int = 40, horizon: float = 30.0
) -> st.SearchStrategy[RoomScenario]:
    """Scenarios of ``members`` devices (m0 the creator) with up to ``max_actions`` actions
    in ``[1, horizon]`` seconds, moderated or not, over a network that delays, drops,
    duplicates and reorders peer signaling."""

    @st.composite
    def build(draw: st.DrawFn) -> RoomScenario:
        n = draw(st.integers(*members))
        # everyone tries to join early, then the random actions
        joins: Sequence[RoomAction] = [Join(i, 1.0 + 0.05 * i) for i in range(1, n)]
        actions = draw(st.lists(_action(n, horizon), max_size=max_actions))
        faults = Faults(
            drop=draw(st.sampled_from([0.0, 0.1])),
            duplicate=draw(st.sampled_from([0.0, 0.1])),
            reorder=draw(st.sampled_from([0.0, 0.2])),
            max_delay=draw(st.sampled_from([0.03, 0.1])),
        )
        return RoomScenario(
            members=n,
            actions=tuple(sorted([*joins, *actions], key=lambda a: a.at)),
            moderated=draw(st.booleans()),
            faults=faults,
            seed=draw(st.integers(0, 2**16)),
        )

    return build()
