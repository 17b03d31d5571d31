"""Random operation sequences by 2-20 identities (some with several devices, some moderators by
role) on the room authority, with its invariants checked after every step:

* every request gets exactly one answer, to its requester;
* a refused request changes nothing and tells nobody but the requester;
* member traffic reaches members only, nothing but answers and its ejection reaches a waiting
  or banned user;
* every member's view of the member list (built from what it was sent, as a client would)
  equals the authority's;
* a message is delivered exactly once to every member joined when it was sent (the sender
  excepted), to nobody else, and each address receives messages in sending order;
* persistent data moves by compare-and-set only: each accepted update bumps the version by one
  and the data is what the accepted updates made it.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from roomtools import TENANT, ident

from rtcstate import wire
from rtcstate.identity import Identity
from rtcstate.rooms import Broadcast, Notify, Refused, RoomAuthority, deliveries
from rtcstate.testing.strategies import strategy_for
from rtcstate.wire_conversation import (
    REQUESTS,
    ConvAck,
    ConvAllow,
    ConvCancelJoin,
    ConvClose,
    ConvClosed,
    ConvCommand,
    ConvContactJoined,
    ConvContactLeft,
    ConvCustomEvent,
    ConvData,
    ConvDataState,
    ConvDataUpdated,
    ConvDeny,
    ConvEject,
    ConvEjected,
    ConvEntry,
    ConvError,
    ConvGetData,
    ConvJoin,
    ConvJoined,
    ConvLeave,
    ConvMessage,
    ConvRequest,
    ConvSendData,
    ConvSendEvent,
    ConvSendMessage,
    ConvSetData,
    ConvUpdateData,
    ConvWaiting,
)

ROOMS = ("r0", "r1")
ANSWERS = (ConvAck, ConvError, ConvJoined, ConvWaiting, ConvDataState)
MEMBER_TRAFFIC = (
    ConvMessage,
    ConvData,
    ConvCustomEvent,
    ConvContactJoined,
    ConvContactLeft,
    ConvDataUpdated,
)
LIVE_ONLY = (ConvData, ConvCustomEvent, ConvDataUpdated)

OPS = st.one_of(
    st.tuples(
        st.just("join"),
        st.integers(0, 99),
        st.integers(0, 1),
        st.sampled_from([None, "pw", "bad"]),
        st.booleans(),
    ),
    st.tuples(
        st.sampled_from(["cancel", "leave", "close", "msg", "data", "event", "get", "repeat"]),
        st.integers(0, 99),
        st.integers(0, 1),
    ),
    st.tuples(
        st.sampled_from(["allow", "deny", "eject"]),
        st.integers(0, 99),
        st.integers(0, 1),
        st.integers(0, 99),
    ),
    st.tuples(
        st.sampled_from(["set", "update"]),
        st.integers(0, 99),
        st.integers(0, 1),
        st.sampled_from([0, 0, 0, -1, 1]),
        st.sampled_from(["a", "b"]),
    ),
    st.tuples(st.just("disconnect"), st.integers(0, 99)),
    st.tuples(st.just("tick"), st.sampled_from([1.0, 3.0, 6.0])),
)


@st.composite
def populations(draw: st.DrawFn) -> dict[str, Identity]:
    """2-20 users, each with 1-2 devices; some are moderators by role."""
    count = draw(st.integers(2, 20))
    out: dict[str, Identity] = {}
    for n in range(count):
        roles = ("moderator",) if draw(st.integers(0, 5)) == 0 else ()
        identity = ident(f"u{n}", *roles)
        for d in range(draw(st.integers(1, 2))):
            out[f"u{n}/d{d}"] = identity
    return out


class Run:
    """One random run: the authority, the clients' views, and the invariants' bookkeeping."""

    def __init__(self, ids: dict[str, Identity]) -> None:
        self.auth = RoomAuthority(
            max_members=4,
            max_waiting=4,
            ban_time=5.0,
            history_size=3,
            answers_kept=8,
            max_rooms_per_address=2,
        )
        self.ids = ids
        self.addresses = list(ids)
        self.users = sorted({i.user for i in ids.values()})
        self.now = 0.0
        self.serial = itertools.count(1)
        self.last: dict[str, ConvRequest] = {}
        #: address -> room -> the request id of the join it is making (a client's own state)
        self.joining: dict[str, dict[str, str]] = defaultdict(dict)
        #: address -> room -> the member list as that client sees it
        self.views: dict[str, dict[str, set[str]]] = defaultdict(dict)
        #: content token -> (room, set of expected recipients, seq)
        self.sent: dict[str, tuple[str, frozenset[str], int]] = {}
        #: address -> tokens received live, in order
        self.received: dict[str, list[str]] = defaultdict(list)
        #: room -> (version, data) as the accepted updates made it
        self.data: dict[str, tuple[int, dict[str, Any]]] = {}
        self.applied: set[str] = set()

    def members(self, room: str) -> set[str]:
        view = self.auth.room(TENANT, room)
        return set() if view is None else {a for a, _ in view.members}

    def request(self, op: tuple[Any, ...]) -> tuple[str, ConvRequest] | None:
        kind = op[0]
        address = self.addresses[op[1] % len(self.addresses)]
        if kind == "repeat":
            last = self.last.get(address)
            if last is None:
                return None
            if type(last) is ConvJoin:  # a client repeats a join it still waits for
                self.joining[address][last.room] = last.request_id
            return address, last
        room = ROOMS[op[2]]
        rid = f"q{next(self.serial)}"
        request: ConvRequest
        if kind == "join":
            request = ConvJoin(room, rid, op[3], op[4])
            self.joining[address][room] = rid
        elif kind == "cancel":
            request = ConvCancelJoin(room, rid)
        elif kind == "leave":
            request = ConvLeave(room, rid)
        elif kind == "close":
            request = ConvClose(room, rid)
        elif kind == "msg":
            request = ConvSendMessage(room, rid, rid)  # the content is a unique token
        elif kind == "data":
            request = ConvSendData(room, rid, {"n": rid})
        elif kind == "event":
            request = ConvSendEvent(room, rid, "e", {})
        elif kind == "get":
            request = ConvGetData(room, rid)
        elif kind in ("allow", "deny", "eject"):
            # mostly a user the room knows (waiting first), sometimes anyone
            view = self.auth.room(TENANT, room)
            known = [] if view is None else [a for a in view.waiting]
            known += [] if view is None else [a for a, _ in view.members]
            candidates = [self.ids[a].user for a in known] + self.users[:1]
            user = candidates[op[3] % len(candidates)]
            cls = {"allow": ConvAllow, "deny": ConvDeny, "eject": ConvEject}[kind]
            request = cls(room, rid, user)
        else:
            view = self.auth.room(TENANT, room)
            version = (0 if view is None else view.version) + op[3]
            if kind == "set":
                request = ConvSetData(room, rid, version, {op[4]: rid})
            else:
                request = ConvUpdateData(room, rid, version, {op[4]: rid, "a": None})
        self.last[address] = request
        return address, request

    def step(self, op: tuple[Any, ...]) -> None:
        if op[0] == "tick":
            self.now += op[1]
            return
        before = {room: self.members(room) for room in ROOMS}
        state = self.auth.state(self.now)
        if op[0] == "disconnect":
            address = self.addresses[op[1] % len(self.addresses)]
            fx = self.auth.disconnect(address, self.now)
            sent = deliveries(fx)
            assert all(a != address for a, _ in sent)
            self.views.pop(address, None)
            self.joining.pop(address, None)
            self.last.pop(address, None)
            self.check_step(None, None, sent, before)
            return
        made = self.request(op)
        if made is None:
            return
        address, request = made
        fx = self.auth.receive(self.ids[address], address, request, self.now)
        sent = deliveries(fx)
        if any(type(e) is Refused for e in fx):
            assert self.auth.state(self.now) == state
            assert [type(env.message) for _, env in sent] == [ConvError]
            assert sent[0][0] == address
        self.check_step(address, request, sent, before)

    def check_step(
        self,
        address: str | None,
        request: ConvRequest | None,
        sent: list[tuple[str, wire.Envelope]],
        before: dict[str, set[str]],
    ) -> None:
        after = {room: self.members(room) for room in ROOMS}
        answers = 0
        for to, env in sent:
            msg = env.message
            is_answer = (
                to == address
                and request is not None
                and isinstance(msg, ANSWERS)
                and msg.request_id == request.request_id
            )
            answers += is_answer
            room = getattr(msg, "room", None)
            assert room in ROOMS
            if isinstance(msg, MEMBER_TRAFFIC):
                assert to in after[room], (to, msg)
                if isinstance(msg, LIVE_ONLY) or (type(msg) is ConvMessage and not msg.history):
                    assert to in before[room], (to, msg)
            user = self.ids[to].user
            if not is_answer and self.auth.banned_until(TENANT, room, user, self.now):
                assert type(msg) is ConvEjected and msg.contact == user, (to, msg)
            self.client_sees(to, env)
        if request is not None:
            assert answers == 1, (request, sent)
        self.check_data(address, request, sent)
        for room in ROOMS:
            members = after[room]
            view = self.auth.room(TENANT, room)
            assert view is None or len(view.waiting) <= self.auth.max_waiting
            assert len(members) <= self.auth.max_members
            holders = {a for a, views in self.views.items() if room in views}
            assert holders == members, (room, holders, members)
            for member in members:
                assert self.views[member][room] == members

    def client_sees(self, to: str, env: wire.Envelope) -> None:
        """What a client does with a notice: its member list and its received messages."""
        msg = env.message
        room: str = getattr(msg, "room")  # noqa: B009
        views = self.views[to]
        joining = self.joining[to]
        kind = type(msg)
        if kind is ConvJoined:
            if joining.get(room) == msg.request_id:  # (a late answer to an old join: ignored)
                views[room] = set(msg.members)
        elif kind is ConvContactJoined and room in views:
            views[room].add(msg.contact)
        elif kind is ConvContactLeft and room in views:
            views[room].discard(msg.contact)
        elif (
            kind is ConvClosed
            or (kind is ConvEjected and msg.contact == self.ids[to].user)
            or (kind is ConvAck and msg.command in (ConvCommand.LEAVE, ConvCommand.CANCEL_JOIN))
            or (kind is ConvEntry and not msg.allowed)
        ):
            views.pop(room, None)
            joining.pop(room, None)
        elif kind is ConvError and joining.get(room) == msg.request_id:
            joining.pop(room, None)
        elif kind is ConvMessage and not msg.history:
            assert env.sender is not None and env.sender != to
            self.received[to].append(msg.content)

    def check_data(
        self,
        address: str | None,
        request: ConvRequest | None,
        sent: list[tuple[str, wire.Envelope]],
    ) -> None:
        for room in ROOMS:
            view = self.auth.room(TENANT, room)
            if view is None:
                self.data.pop(room, None)
        if address is None or request is None:
            return
        room = request.room
        for to, env in sent:
            msg = env.message
            if to != address or type(msg) is not ConvAck or msg.request_id != request.request_id:
                continue
            if msg.command is ConvCommand.MESSAGE and request.request_id not in self.sent:
                assert isinstance(request, ConvSendMessage) and msg.seq is not None
                expected = frozenset(self.members(room) - {address})
                self.sent[request.content] = (room, expected, msg.seq)
            if msg.command in (ConvCommand.SET_DATA, ConvCommand.UPDATE_DATA):
                assert isinstance(request, ConvSetData | ConvUpdateData)
                if request.request_id in self.applied:  # a repeat: answered, not applied again
                    continue
                self.applied.add(request.request_id)
                version, data = self.data.get(room, (0, {}))
                assert msg.version == version + 1 == request.version + 1
                if isinstance(request, ConvSetData):
                    data = dict(request.data)
                else:
                    data = {k: v for k, v in {**data, **request.changes}.items() if v is not None}
                self.data[room] = (version + 1, data)
        view = self.auth.room(TENANT, room)
        if view is not None:
            version, data = self.data.get(room, (0, {}))
            assert (view.version, dict(view.data)) == (version, data)

    def finish(self) -> None:
        order = {token: n for n, token in enumerate(self.sent)}
        got: dict[str, set[str]] = defaultdict(set)
        for address, tokens in self.received.items():
            assert len(tokens) == len(set(tokens)), (address, tokens)  # exactly once
            positions = [order[t] for t in tokens]
            assert positions == sorted(positions), (address, tokens)  # in sending order
            for token in tokens:
                got[token].add(address)
        for token, (_room, expected, _seq) in self.sent.items():
            assert got.get(token, set()) == expected, (token, expected, got.get(token))


def draw_ops(data: st.DataObject, run: Run, count: int) -> None:
    """Draw and run ``count`` operations, the acting address drawn among the run's own."""
    for _ in range(count):
        op = data.draw(OPS)
        if op[0] != "tick":
            # half the time someone the room knows (a member or a waiter), else anyone
            view = run.auth.room(TENANT, ROOMS[op[2]]) if len(op) > 2 else None
            known = [] if view is None else [*(a for a, _ in view.members), *view.waiting]
            pool = known if known and data.draw(st.booleans()) else run.addresses
            who = data.draw(st.sampled_from(pool))
            op = (op[0], run.addresses.index(who), *op[2:])
        run.step(op)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(populations(), st.integers(1, 160), st.data())
def test_random_operations_keep_the_invariants(
    ids: dict[str, Identity], count: int, data: st.DataObject
) -> None:
    run = Run(ids)
    draw_ops(data, run, count)
    run.finish()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(populations(), st.integers(1, 60), st.data())
def test_everyone_gone_leaves_nothing_behind(
    ids: dict[str, Identity], count: int, data: st.DataObject
) -> None:
    """After every address disconnects, no room and no index entry is left (bans expire)."""
    run = Run(ids)
    draw_ops(data, run, count)
    for address in ids:
        run.step(("disconnect", run.addresses.index(address)))
    assert run.auth.rooms() == ()
    assert all(run.auth.rooms_of(a) == () for a in ids)
    run.now += run.auth.ban_time
    run.auth.disconnect("nobody", run.now)  # any input expires the bans
    assert run.auth.state(run.now) == ((), (), ())


REQUEST_CLASSES = sorted(REQUESTS, key=lambda cls: cls.TYPE)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["u0/d0", "u1/d0", "u2/d0", "x/y", ""]),
            st.sampled_from(REQUEST_CLASSES).flatmap(strategy_for),
            st.booleans(),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_any_request_from_the_wire_never_raises(
    steps: list[tuple[str, wire.Message, bool, bool]],
) -> None:
    """Arbitrary field values (odd names, huge versions, any payload) from any address: typed
    effects, never an exception, and a refusal never changes anything."""
    auth = RoomAuthority(max_members=3, max_waiting=2, history_size=2, max_data_size=200)
    now = 0.0
    for address, drawn, moderator, same_room in steps:
        now += 1.0
        request = attrs.evolve(drawn, room="r") if same_room else drawn  # mostly one room
        roles = ("moderator",) if moderator else ()
        identity = ident(address.partition("/")[0] or "anon", *roles)
        before = auth.state(now)
        fx = auth.receive(identity, address, request, now)
        assert all(isinstance(e, Notify | Broadcast | Refused) for e in fx), fx
        if any(type(e) is Refused for e in fx):
            assert auth.state(now) == before
        for _, env in deliveries(fx):
            assert wire.decode(wire.encode_envelope(env)) == env
