"""Rooms that survive their authority node, sans-I/O (rtcstate.rooms_snapshot,
rtcstate.hub.cluster_rooms; the Redis side: tests/adapters/test_cluster_failover.py).

* Persisting what the journal names after every step, then restoring a fresh authority from
  the records, gives the same state (rooms, members, roles, waiting rooms, bans, data, seq,
  history, streams), for any sequence of requests, departures and time.
* Over three simulated nodes: the authority dies mid-conversation in a moderated room, the next
  node takes the rooms and the moderator keeps moderating, the seq continues, the ban holds; a
  member of a dead node keeps its place for the grace and stays when it registers again
  elsewhere (the others hear no leave, its repeated join is answered as a member's); a member
  that does not come back, or comes back as another identity, leaves.
"""

from __future__ import annotations

import json
from typing import Any

from clustersim import SimCluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from roomtools import TENANT, ident
from test_rooms_property import Run, draw_ops, populations

from rtcstate import wire
from rtcstate.hub import ClusterHub, RoomsChanged
from rtcstate.identity import Identity
from rtcstate.rooms import RoomAuthority, deliveries
from rtcstate.rooms_snapshot import restore, room_record
from rtcstate.wire_conversation import (
    ConvAck,
    ConvAllow,
    ConvContactJoined,
    ConvContactLeft,
    ConvEject,
    ConvError,
    ConvJoin,
    ConvJoined,
    ConvJoinRequest,
    ConvMessage,
    ConvSendMessage,
    ConvSetData,
    ConvWaiting,
    RoomRefusal,
)
from rtcstate.wire_streams import ConvPublish, ConvSubscribe


def persisted(auth: RoomAuthority, store: dict[str, Any], now: float) -> None:
    """Write the records of the rooms the journal names, as Redis would keep them."""
    for tenant, name in auth.changed():
        record = room_record(auth, tenant, name, now, wall=now)
        field = json.dumps([tenant, name])
        if record is None:
            store.pop(field, None)
        else:
            store[field] = json.loads(json.dumps(record))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(populations(), st.integers(1, 60), st.data())
def test_the_journaled_records_restore_the_same_rooms(
    ids: dict[str, Identity], count: int, data: st.DataObject
) -> None:
    run = Run(ids)
    run.auth.journal = {}
    store: dict[str, Any] = {}
    for _ in range(count):
        draw_ops(data, run, 1)
        persisted(run.auth, store, run.now)
    later = run.now + data.draw(st.sampled_from([0.0, 2.0, 7.0]))
    fresh = RoomAuthority(ban_time=run.auth.ban_time, history_size=3, max_members=4)
    assert restore(fresh, list(store.values()), later, wall=later) == []
    assert _by_name(fresh.state(later)) == _by_name(run.auth.state(later))
    for address in ids:  # the indexes are rebuilt: rooms per address
        assert set(fresh.rooms_of(address, TENANT)) == set(run.auth.rooms_of(address, TENANT))


def _by_name(state: tuple[Any, ...]) -> tuple[Any, ...]:
    """An authority's state, its rooms by name (Redis keeps no order between records)."""
    rooms, *rest = state
    return (sorted(rooms, key=lambda r: (r[0].tenant, r[0].name)), *rest)


def test_streams_seq_and_bans_survive_and_a_bad_record_is_skipped() -> None:
    auth = RoomAuthority(ban_time=60.0)
    auth.journal = {}
    mod, bob, eve = ident("mod", "moderator"), ident("bob"), ident("eve")
    auth.receive(mod, "mod/d", ConvJoin("r", "j1"), 0.0)
    auth.receive(bob, "bob/d", ConvJoin("r", "j2"), 0.0)
    auth.receive(eve, "eve/d", ConvJoin("r", "j3"), 0.0)
    auth.receive(mod, "mod/d", ConvPublish("r", "p1", "s1", True, False), 0.0)
    auth.receive(bob, "bob/d", ConvSubscribe("r", "p2", "s1", "call-1"), 0.0)
    auth.receive(bob, "bob/d", ConvSendMessage("r", "m1", "hello"), 0.0)
    auth.receive(mod, "mod/d", ConvEject("r", "e1", "eve"), 10.0)
    store: dict[str, Any] = {}
    persisted(auth, store, 10.0)
    store["junk"] = {"v": 1, "tenant": TENANT}  # another program's value
    fresh = RoomAuthority(ban_time=60.0)
    # read 30 s later (wall clock): the ban (60 s from 10) has 30 s left, whatever the new
    # node's own clock says
    skipped = restore(fresh, list(store.values()), 1000.0, wall=40.0)
    assert len(skipped) == 1 and "junk" not in skipped[0]
    assert fresh.streams(TENANT, "r") == auth.streams(TENANT, "r")
    assert fresh.banned_until(TENANT, "r", "eve", 1000.0) == 1030.0
    fx = fresh.receive(bob, "bob/d", ConvSendMessage("r", "m2", "again"), 1000.0)
    acks = [env.message for _, env in deliveries(fx) if isinstance(env.message, ConvAck)]
    assert acks[0].seq == 2  # the seq continues
    refused = deliveries(fresh.receive(eve, "eve/d", ConvJoin("r", "j4"), 1001.0))
    error = refused[0][1].message
    assert isinstance(error, ConvError) and error.reason is RoomRefusal.BANNED
    # one's own stream is still one's own (the owners' index is rebuilt)
    again = deliveries(fresh.receive(mod, "mod/d", ConvSubscribe("r", "p3", "s1", "c2"), 1001.0))
    error = again[0][1].message
    assert isinstance(error, ConvError) and error.reason is RoomRefusal.BAD_REQUEST


# --- three nodes ---------------------------------------------------------------------------


def _verify(register: wire.Register, now: float) -> Identity:
    roles = frozenset({"moderator"}) if register.token == "mod" else frozenset()
    return Identity(register.user, roles=roles, verified=register.token is not None)


def _cluster(grace: float = 5.0) -> SimCluster:
    sim = SimCluster(["a", "b", "c"], verifier=_verify, presence_group=None, room_grace=grace)
    sim.take_rooms("a")
    return sim


def _register(sim: SimCluster, node: str, conn: str, user: str, token: str | None = "t") -> None:
    sim.connect(node, conn)
    sim.send(conn, wire.Register(user, "d", token=token))


def _kinds(sim: SimCluster, conn: str) -> list[type[wire.Message]]:
    return [type(m) for m in sim.read(conn)]


def test_the_authority_dies_the_next_node_takes_the_rooms_and_the_conversation_goes_on() -> None:
    sim = _cluster()
    _register(sim, "b", "mod", "mod", token="mod")
    _register(sim, "c", "guest", "guest")
    _register(sim, "a", "local", "local")  # on the authority node, which dies
    _register(sim, "c", "waiter", "waiter")
    _register(sim, "b", "eve", "eve")
    sim.send("mod", ConvJoin("r", "j1", moderated=True))
    for who in ("guest", "local", "eve"):
        sim.send(who, ConvJoin("r", f"j-{who}"))
        sim.send("mod", ConvAllow("r", f"a-{who}", who))
    sim.send("waiter", ConvJoin("r", "j-w"))
    sim.send("mod", ConvEject("r", "e1", "eve"))
    sim.send("mod", ConvSetData("r", "d1", 0, {"topic": "x"}))
    for n, who in enumerate(("mod", "guest", "local")):
        sim.send(who, ConvSendMessage("r", f"m{n}", f"m{n}"))
    assert sim.rooms  # persisted as it went
    for conn in sim.inbox:
        sim.take(conn)

    sim.kill("a")
    assert sim.take_rooms("b") == []
    view = sim.hubs["b"].rooms.room("default", "r")
    assert view is not None
    assert [a for a, _ in view.members] == ["mod/d", "guest/d", "local/d"]
    assert view.waiting == ("waiter/d",) and view.seq == 3 and view.version == 1
    assert sim.hubs["b"].held_places == {("default", "local/d"): 5.0}
    # a request repeated across the failover (its answer lost) is answered, not done again
    sim.send("guest", ConvSendMessage("r", "m1", "m1"))
    acks = [m for m in sim.read("guest") if isinstance(m, ConvAck)]
    assert [a.seq for a in acks] == [2] and not sim.read("mod")
    # the moderator keeps moderating, the seq continues, the ban holds
    sim.send("guest", ConvSendMessage("r", "m3", "after"))
    assert [(m.seq, m.content) for m in sim.read("mod") if isinstance(m, ConvMessage)] == [
        (4, "after")
    ]
    sim.send("mod", ConvAllow("r", "a-w", "waiter"))
    assert ConvJoined in _kinds(sim, "waiter")
    sim.send("eve", ConvJoin("r", "j-eve-2"))
    assert ConvError in _kinds(sim, "eve")
    # local comes back on node c within the grace: its repeated join finds it a member
    sim.take("mod")
    _register(sim, "c", "local2", "local")
    sim.send("local2", ConvJoin("r", "j-again"))
    joined = [m for m in sim.read("local2") if isinstance(m, ConvJoined)]
    assert joined and joined[0].seq == 4 and "local/d" in joined[0].members
    assert ConvContactLeft not in _kinds(sim, "mod")
    assert ConvContactJoined not in _kinds(sim, "mod")
    sim.tick(10.0)
    assert sim.hubs["b"].held_places == {}
    sim.send("local2", ConvSendMessage("r", "m4", "back"))
    assert ("back",) in [(m.content,) for m in sim.read("mod") if isinstance(m, ConvMessage)]


def test_a_member_whose_node_died_keeps_its_place_for_the_grace_only() -> None:
    sim = _cluster(grace=5.0)
    _register(sim, "a", "mod", "mod", token="mod")
    _register(sim, "c", "ann", "ann")
    _register(sim, "c", "ben", "ben")
    _register(sim, "c", "cid", "cid")
    sim.send("mod", ConvJoin("r", "j1", moderated=True))
    for who in ("ann", "ben", "cid"):
        sim.send(who, ConvJoin("r", f"j-{who}"))
        sim.send("mod", ConvAllow("r", f"a-{who}", who))
    sim.take("mod")
    sim.kill("c")
    held = sim.hubs["a"].held_places
    assert set(held) == {("default", f"{u}/d") for u in ("ann", "ben", "cid")}
    assert ConvContactLeft not in _kinds(sim, "mod")
    _register(sim, "b", "ann2", "ann")  # the same identity, on another node
    _register(sim, "b", "ben2", "ben", token=None)  # not verified: another identity
    left = [m.contact for m in sim.read("mod") if isinstance(m, ConvContactLeft)]
    assert left == ["ben/d"]
    sim.tick(4.0)
    assert ("default", "cid/d") in sim.hubs["a"].held_places
    sim.tick(2.0)
    left = [m.contact for m in sim.read("mod") if isinstance(m, ConvContactLeft)]
    assert left == ["ben/d", "cid/d"]
    view = sim.hubs["a"].rooms.room("default", "r")
    assert view is not None and [a for a, _ in view.members] == ["mod/d", "ann/d"]
    # ben, a stranger now, waits like anyone
    sim.send("ben2", ConvJoin("r", "j-ben-2"))
    assert _kinds(sim, "ben2")[-1] is ConvWaiting
    assert ConvJoinRequest in _kinds(sim, "mod")


def test_the_rooms_changed_come_before_the_steps_other_effects() -> None:
    hub = ClusterHub(node="a")
    hub.take_rooms([], 0.0, 0.0)
    hub.connect("ws1", 0.0)
    hub.receive("ws1", wire.encode(wire.Register("alice", "d")), 0.0)
    fx = hub.receive("ws1", wire.encode(ConvJoin("r", "j1")), 0.0)
    assert fx[0] == RoomsChanged((("default", "r"),))
    assert hub.room_records((("default", "r"),), 0.0, 0.0)[0][1] is not None
    # a refused request changes nothing: nothing to write
    fx = hub.receive("ws1", wire.encode(ConvJoin("", "j2")), 0.0)
    assert not [e for e in fx if type(e) is RoomsChanged]
    hub.give_up_rooms("b", 0.0, 0.0)
    assert hub.rooms.rooms() == () and hub.room_authority == "b"
    fx = hub.receive("ws1", wire.encode(ConvJoin("r", "j3")), 0.0)
    assert not [e for e in fx if type(e) is RoomsChanged]


def test_the_clients_of_a_draining_node_move_and_keep_their_places() -> None:
    sim = _cluster(grace=5.0)
    _register(sim, "a", "mod", "mod", token="mod")
    _register(sim, "c", "ann", "ann")
    _register(sim, "c", "ben", "ben")
    sim.send("mod", ConvJoin("r", "j1", moderated=True))
    for who in ("ann", "ben"):
        sim.send(who, ConvJoin("r", f"j-{who}"))
        sim.send("mod", ConvAllow("r", f"a-{who}", who))
    sim.take("mod")
    sim.hubs["c"].moving = True  # SIGTERM: every client told to move
    sim.disconnect("ann")
    sim.disconnect("ben")
    # still in the directory (until they register elsewhere or c leaves), still members
    assert ("default", "ann/d") in sim.directory and ("default", "ben/d") in sim.directory
    assert ConvContactLeft not in _kinds(sim, "mod")
    _register(sim, "b", "ann2", "ann")  # ann moves to b: hers again
    assert sim.directory[("default", "ann/d")][0] == "b"
    sim.send("ann2", ConvJoin("r", "j-again"))
    assert ConvJoined in _kinds(sim, "ann2")
    sim.kill("c")  # c leaves; ben never came back: its place is kept for the grace, then freed
    assert sim.hubs["a"].held_places == {("default", "ben/d"): 5.0}
    sim.tick(6.0)
    assert [m.contact for m in sim.read("mod") if isinstance(m, ConvContactLeft)] == ["ben/d"]
