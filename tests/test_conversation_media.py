"""Conversation media end to end in the core: N devices' media books against a real
RoomAuthority, with an instant fake media stack. Every member ends subscribed to exactly the
streams that are published and that it asked for; nothing reaches a waiting or ejected member;
the stream list is buffered until the first listener."""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.conversation.call import CallRole, ConversationCallState
from rtcstate.conversation.machine import Reject, Resolve
from rtcstate.conversation.media import ConversationMedia
from rtcstate.effects import (
    ClosePeerConnection,
    CreateAnswer,
    CreateOffer,
    Effect,
    Emit,
    Send,
    SetRemoteDescription,
)
from rtcstate.errors import RtcError
from rtcstate.identity import Identity
from rtcstate.media import IceStateChanged, LocalDescriptionReady, TrackAdded
from rtcstate.rooms import RoomAuthority, deliveries
from rtcstate.stream import Stream
from rtcstate.wire_conversation import ConvAllow, ConvEject, ConvJoin, ConvLeave
from rtcstate.wire_streams import STREAM_RELAY_ONLY

ROOM = "room"


class Mesh:
    """Devices, the relay's authority and an instant media stack, run to quiescence."""

    def __init__(self, n: int, moderated: bool = False) -> None:
        self.auth = RoomAuthority()
        self.addresses = [f"u{i}/d" for i in range(n)]
        self.books = {a: ConversationMedia(ROOM, a) for a in self.addresses}
        self.events: defaultdict[str, list[Emit]] = defaultdict(list)
        self.other: defaultdict[str, list[Effect]] = defaultdict(list)
        self.queue: deque[tuple[str, str, Any]] = deque()
        self.now = 0.0
        self.moderated = moderated
        self.serial = 0
        self.violations: list[str] = []

    def members(self) -> set[str]:
        view = self.auth.room("acme", ROOM)
        return {a for a, _ in view.members} if view else set()

    def _rid(self) -> str:
        self.serial += 1
        return f"t{self.serial}"

    def relay(self, address: str, message: wire.Message) -> None:
        who = Identity(address.partition("/")[0], "acme", verified=True)
        for to, env in deliveries(self.auth.receive(who, address, message, self.now)):
            self.queue.append(("wire", to, env))
        self.run()

    def join(self, address: str) -> None:
        was = address in self.members()
        self.relay(address, ConvJoin(ROOM, self._rid(), moderated=self.moderated))
        if not was and address in self.members():
            self.apply(address, self.books[address].joined(self.now))
            self.run()

    def allow(self, moderator: str, address: str) -> None:
        waiting = address not in self.members()
        self.relay(moderator, ConvAllow(ROOM, self._rid(), address.partition("/")[0]))
        if waiting and address in self.members():
            self.apply(address, self.books[address].joined(self.now))
            self.run()

    def leave(self, address: str, eject_by: str | None = None) -> None:
        if eject_by is not None:
            self.relay(eject_by, ConvEject(ROOM, self._rid(), address.partition("/")[0]))
        else:
            self.relay(address, ConvLeave(ROOM, self._rid()))
        if address not in self.members():
            self.apply(address, self.books[address].left(self.now))
            self.run()

    def apply(self, address: str, fx: list[Effect]) -> None:
        for e in fx:
            self.queue.append(("effect", address, e))

    def do(self, address: str, fx: list[Effect]) -> None:
        self.apply(address, fx)
        self.run()

    def run(self) -> None:
        for _ in range(100_000):  # bounded: quiescence comes long before
            if not self.queue:
                return
            kind, address, item = self.queue.popleft()
            if kind == "wire":
                env: wire.Envelope = item
                if type(env.message) in STREAM_RELAY_ONLY and address not in self.members():
                    self.violations.append(f"{env.message.TYPE} to non-member {address}")
                self.apply(address, self.books[address].receive(env, self.now))
            elif kind == "media":
                self.apply(address, self.books[address].media_event(item, self.now))
            else:
                self._effect(address, item)
        raise AssertionError("no quiescence")

    def _report(self, address: str, event: object) -> None:
        self.queue.append(("media", address, event))

    def _effect(self, address: str, e: Effect) -> None:
        if isinstance(e, Send):
            self.relay(address, e.message)
        elif isinstance(e, Emit):
            self.events[address].append(e)
        elif isinstance(e, CreateOffer):
            self._report(address, LocalDescriptionReady(e.call_id, "offer", f"o-{e.call_id}"))
        elif isinstance(e, CreateAnswer):
            self._report(address, LocalDescriptionReady(e.call_id, "answer", f"a-{e.call_id}"))
        elif isinstance(e, SetRemoteDescription) and e.sdp_type == "answer":
            self._report(address, IceStateChanged(e.call_id, "connected"))
            for other, book in self.books.items():
                call = book.calls.get(e.call_id)
                if call is not None and call.role is CallRole.SUBSCRIBE:
                    self._report(other, IceStateChanged(e.call_id, "connected"))
                    self._report(other, TrackAdded(e.call_id, "t-v", "video", call.stream_id))
        else:
            self.other[address].append(e)

    # --- the checks ---------------------------------------------------------------------------

    def check(self, asked: dict[str, set[str]]) -> None:
        assert not self.violations, self.violations
        view = self.auth.streams("acme", ROOM)
        published = dict(view.streams)
        members = self.members()
        for address, book in self.books.items():
            receiving = {
                s for s, c in book.receiving().items() if c.state is ConversationCallState.CONNECTED
            }
            want = {s for s in asked.get(address, set()) if s in published}
            if address not in members:
                assert not receiving and not book.calls and not book.available, address
                continue
            assert receiving == want, (address, receiving, want)
            relay_subs = {s for s, who, _ in view.subscriptions if who == address}
            assert relay_subs == want, (address, relay_subs, want)
            assert set(book.available) == set(published), address
            sending = {
                (c.local_stream_id, c.peer)
                for c in book.calls.values()
                if c.role is CallRole.PUBLISH and c.state is ConversationCallState.CONNECTED
            }
            expected = {(s, who) for s, who, _ in view.subscriptions if published[s] == address}
            assert sending == expected, (address, sending, expected)


def _stream(mesh: Mesh, address: str, k: int) -> Stream:
    return Stream(f"{address}-s{k}")


def test_four_agents_twelve_subscriptions_then_one_unpublishes_and_one_leaves() -> None:
    mesh = Mesh(4)
    for a in mesh.addresses:
        mesh.join(a)
    for a in mesh.addresses:
        mesh.do(a, mesh.books[a].publish(mesh.now, _stream(mesh, a, 0), joined=True))
    asked: dict[str, set[str]] = defaultdict(set)
    for a in mesh.addresses:
        for s, info in list(mesh.books[a].available.items()):
            if info["isRemote"]:
                mesh.do(a, mesh.books[a].subscribe_to_stream(mesh.now, s))
                asked[a].add(s)
    assert sum(len(b.receiving()) for b in mesh.books.values()) == 12
    mesh.check(asked)
    added = [e for e in mesh.events["u0/d"] if e.event == "streamAdded"]
    assert sorted(e.payload["streamId"] for e in added) == ["u1/d-s0", "u2/d-s0", "u3/d-s0"]
    mesh.do("u1/d", mesh.books["u1/d"].unpublish(mesh.now, "u1/d-s0"))
    mesh.leave("u2/d")
    mesh.check(asked)
    removed = [e.payload["streamId"] for e in mesh.events["u0/d"] if e.event == "streamRemoved"]
    assert sorted(removed) == ["u1/d-s0", "u2/d-s0"]
    # left: u0 and u3 receive each other, u1 (still a member) receives both
    assert sum(len(b.receiving()) for b in mesh.books.values()) == 4
    closes = [e for e in mesh.other["u3/d"] if isinstance(e, ClosePeerConnection)]
    assert len(closes) == 3  # u3 received u1's and u2's streams; u2 received u3's


def test_stream_list_changed_is_buffered_until_the_first_listener() -> None:
    mesh = Mesh(2)
    mesh.join("u0/d")
    mesh.join("u1/d")
    mesh.do("u0/d", mesh.books["u0/d"].publish(mesh.now, Stream("s"), joined=True))
    book = mesh.books["u1/d"]
    assert not [e for e in mesh.events["u1/d"] if e.event == "streamListChanged"]
    assert [e.event for e in mesh.events["u1/d"]].count("availableStreamsUpdated") == 1
    flushed = book.listen("streamListChanged", mesh.now)
    assert [(e.event, e.payload["listEventType"]) for e in flushed] == [  # type: ignore[attr-defined]
        ("streamListChanged", "added")
    ]
    assert book.listen("streamListChanged", mesh.now) == []
    mesh.do("u0/d", mesh.books["u0/d"].unpublish(mesh.now, "s"))
    live = [e for e in mesh.events["u1/d"] if e.event == "streamListChanged"]
    assert [e.payload["listEventType"] for e in live] == ["removed"]


def test_misuse_raises_and_a_refused_subscribe_is_rejected() -> None:
    mesh = Mesh(2)
    book = mesh.books["u0/d"]
    with pytest.raises(RtcError) as info:
        book.publish(0.0, Stream("x"), joined=False)
    assert info.value.code == ErrorNumber.ERROR_WRONG_STATE
    with pytest.raises(RtcError) as info:
        book.subscribe_to_stream(0.0, "nope")
    assert info.value.code == ErrorNumber.ERROR_NOT_FOUND
    with pytest.raises(RtcError) as info:
        book.replace_published_stream(0.0, "nope", Stream("y"))
    assert info.value.code == ErrorNumber.ERROR_NOT_FOUND
    mesh.join("u0/d")
    mesh.join("u1/d")
    mesh.do("u1/d", mesh.books["u1/d"].publish(0.0, Stream("s"), joined=True))
    fx = book.subscribe_to_stream(0.0, "s")
    # the stream goes away before the relay sees the subscription: the request is refused
    mesh.do("u1/d", mesh.books["u1/d"].unpublish(0.0, "s"))
    mesh.do("u0/d", fx)
    results = [e for e in mesh.other["u0/d"] if isinstance(e, Resolve | Reject)]
    assert any(isinstance(r, Reject) and r.command == "subscribe" for r in results), results
    assert book.calls == {} and book.receiving() == {}


def test_replace_published_stream_keeps_the_calls() -> None:
    mesh = Mesh(2)
    mesh.join("u0/d")
    mesh.join("u1/d")
    mesh.do("u0/d", mesh.books["u0/d"].publish(0.0, Stream("a"), joined=True))
    mesh.do("u1/d", mesh.books["u1/d"].subscribe_to_stream(0.0, "a"))
    mesh.do("u0/d", mesh.books["u0/d"].replace_published_stream(0.0, "a", Stream("b")))
    assert set(mesh.books["u1/d"].receiving()) == {"b"}
    renamed = [e for e in mesh.events["u1/d"] if e.event == "remoteStreamIdUpdated"]
    assert renamed[0].payload["oldStreamId"] == "a" and renamed[0].payload["newStreamId"] == "b"
    mesh.check({"u1/d": {"b"}})


OPS = st.lists(
    st.tuples(
        st.sampled_from(["join", "leave", "allow", "eject", "pub", "unpub", "sub", "unsub"]),
        st.integers(0, 3),
        st.integers(0, 3),
        st.integers(0, 1),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, moderated=st.booleans())
def test_every_member_receives_exactly_what_is_published_and_asked_for(
    ops: list[tuple[str, int, int, int]], moderated: bool
) -> None:
    mesh = Mesh(4, moderated=moderated)
    mesh.join("u0/d")  # the creator: the moderator of a moderated room
    asked: dict[str, set[str]] = defaultdict(set)
    for op, i, j, k in ops:
        a, b = mesh.addresses[i], mesh.addresses[j]
        book = mesh.books[a]
        members = mesh.members()
        if op == "join":
            mesh.join(a)
        elif op == "leave" and a in members and a != "u0/d":
            mesh.leave(a)
            asked.pop(a, None)
        elif op == "allow" and "u0/d" in members:
            mesh.allow("u0/d", b)
        elif op == "eject" and "u0/d" in members and b in members and b != "u0/d":
            mesh.leave(b, eject_by="u0/d")
            asked.pop(b, None)
        elif op == "pub" and a in members:
            sid = f"{a}-s{k}"
            if sid not in book.published:
                mesh.do(a, book.publish(mesh.now, Stream(sid), joined=True))
        elif op == "unpub" and f"{a}-s{k}" in book.published:
            mesh.do(a, book.unpublish(mesh.now, f"{a}-s{k}"))
        elif op == "sub" and a in members:
            sid = f"{b}-s{k}"
            info = book.available.get(sid)
            if info is not None and info["isRemote"] and sid not in book.subscribed:
                mesh.do(a, book.subscribe_to_stream(mesh.now, sid))
                asked[a].add(sid)
        elif op == "unsub" and f"{b}-s{k}" in book.subscribed:
            mesh.do(a, book.unsubscribe_to_stream(mesh.now, f"{b}-s{k}"))
            asked[a].discard(f"{b}-s{k}")
        # a stream that left the list ends its subscriptions: asking again is a new ask
        published = dict(mesh.auth.streams("acme", ROOM).streams)
        for who in asked:
            asked[who] &= set(published)
        mesh.check(asked)
