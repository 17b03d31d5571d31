"""Limits shared by the nodes of a cluster, without Redis: the hub parks a registration and asks
(``Admit``), refuses it exactly as one hub does when the cluster says so, and keeps every
identity's messages, over any number of nodes, within its budget plus one burst per other
node (a Python model of the Redis bucket stands in for ``RATES``)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.effects import Drop
from rtcstate.hub import (
    Admit,
    CloseCode,
    CloseConnection,
    ClusterHub,
    Deliver,
    Directory,
    Hub,
    HubEffect,
    SourceCount,
)
from rtcstate.hub.shared import Admission

SRC = "192.0.2.7"


def shared(node: str = "a", **kw: Any) -> ClusterHub:
    hub = ClusterHub(node=node, **kw)
    hub.shared_limits = True
    return hub


def errors(fx: list[HubEffect], conn: str) -> list[wire.ServerError]:
    return [
        e.envelope.message
        for e in fx
        if isinstance(e, Deliver) and e.conn == conn and isinstance(e.envelope.message,
                                                                    wire.ServerError)
    ]  # fmt: skip


def closes(fx: list[HubEffect]) -> list[int]:
    return [e.code for e in fx if isinstance(e, CloseConnection)]


def register(hub: Hub, conn: str, user: str, device: str, now: float = 0.0) -> list[HubEffect]:
    hub.connect(conn, now, source=SRC)
    return hub.receive(conn, wire.encode(wire.Register(user, device)), now)


def test_a_registration_is_parked_and_asks_the_cluster_then_goes_on_when_admitted() -> None:
    hub = shared(max_devices=3, register_rate=2.0, register_burst=4.0)
    assert hub.connect("c1", 0.0, source=SRC) == [SourceCount(SRC, 1)]
    fx = hub.receive("c1", wire.encode(wire.Register("bob", "d")), 0.0)
    assert fx == [Admit("c1", "default", "bob", "d", 3, 2.0, 4.0, SRC, 200)]
    assert hub.admitting == 1 and hub.devices("bob") == ()
    fx = hub.admitted("c1", Admission(), 0.1)
    assert any(isinstance(e, Deliver) and isinstance(e.envelope.message, wire.Registered)
               for e in fx)  # fmt: skip
    assert Directory("default", "bob/d", True, ("default",)) in fx
    assert hub.devices("bob") == ("bob/d",) and hub.admitting == 0
    # the same address again takes nothing new: decided here, without asking
    fx = hub.receive("c1", wire.encode(wire.Register("bob", "d")), 0.2)
    assert not any(isinstance(e, Admit) for e in fx)
    assert hub.disconnect("c1", 0.3)[-1] == SourceCount(SRC, 0)


def test_the_clusters_refusals_are_the_refusals_of_one_hub() -> None:
    # one hub at its limits, for the words
    alone = Hub(max_devices=1, register_rate=0.001, register_burst=1.0)
    register(alone, "x1", "bob", "d1")
    one = errors(register(alone, "x2", "bob", "d2"), "x2")
    assert [e.code for e in one] == [wire.ServerErrorCode.TOO_MANY_DEVICES]
    hub = shared(max_devices=1, register_rate=0.001, register_burst=1.0)
    register(hub, "c1", "bob", "d2")
    fx = hub.admitted("c1", Admission("devices", 1), 0.0)
    assert errors(fx, "c1") == one and closes(fx) == []  # refused, the connection stays open
    register(hub, "c2", "bob", "d3")
    fx = hub.admitted("c2", Admission("register", 0), 0.0)
    assert [e.code for e in errors(fx, "c2")] == [wire.ServerErrorCode.RECONNECTING_TOO_FAST]
    assert closes(fx) == [CloseCode.TRY_AGAIN_LATER]
    register(hub, "c3", "bob", "d4")
    fx = hub.admitted("c3", Admission("source", 201), 0.0)
    assert [e.code for e in errors(fx, "c3")] == [wire.ServerErrorCode.TOO_MANY_CONNECTIONS]
    assert closes(fx) == [CloseCode.TRY_AGAIN_LATER]
    assert hub.devices("bob") == () and hub.admitting == 0
    assert not any(isinstance(e, Directory) for e in fx)


def test_a_reservation_is_given_back_when_the_registration_does_not_happen() -> None:
    hub = shared()
    register(hub, "c1", "bob", "d")
    hub.disconnect("c1", 0.0)  # gone before the answer
    assert hub.admitted("c1", Admission(), 0.0) == [Directory("default", "bob/d", False)]
    assert isinstance(hub.admitted("c1", Admission(), 0.0)[0], Drop)  # answered once
    # refused here after all (the local view counts a device the cluster had freed)
    hub = shared(max_devices=1)
    hub.remote_bind("b", "default", "bob/x", (), False, 0.0)
    register(hub, "c2", "bob", "d")
    fx = hub.admitted("c2", Admission(), 0.0)
    assert [e.code for e in errors(fx, "c2")] == [wire.ServerErrorCode.TOO_MANY_DEVICES]
    assert fx[-1] == Directory("default", "bob/d", False)
    # a second register while one waits is refused; a lost cluster decides alone
    register(hub, "c3", "carol", "d")
    fx = hub.receive("c3", wire.encode(wire.Register("carol", "e")), 0.0)
    assert [e.code for e in errors(fx, "c3")] == [wire.ServerErrorCode.INVALID_REGISTER]
    fx = hub.decide_alone(0.0)
    assert hub.devices("carol") == ("carol/d",) and not hub.shared_limits
    assert not any(isinstance(e, Admit) for e in register(hub, "c4", "dave", "d"))


def _flood(hub: ClusterHub, conn: str, now: float) -> bool:
    """One message to nobody: whether it got through the limits (then answered
    ``user_not_found``, as routed)."""
    fx = hub.receive(conn, wire.encode(wire.ContactMessage(1, "x"), to="nobody/d"), now)
    return [e.code for e in errors(fx, conn)] == [wire.ServerErrorCode.USER_NOT_FOUND]


def test_a_node_refuses_an_identity_over_its_allowance_with_the_words_of_one_hub() -> None:
    hub = shared(identity_rate_limit=10.0, identity_rate_burst=10.0, source_rate_limit=None)
    register(hub, "c1", "bob", "d")
    hub.admitted("c1", Admission(), 0.0)
    assert all(_flood(hub, "c1", 0.0) for _ in range(3))
    assert hub.take_usage() == {("default", "bob"): 3}
    assert _flood(hub, "c1", 0.0)  # accepted after the counts were taken...
    hub.shared_rates({("default", "bob"): 2.5})  # ...so 1.5 of these 2.5 are left
    assert _flood(hub, "c1", 0.0)
    fx = hub.receive("c1", wire.encode(wire.ContactMessage(1, "x"), to="nobody/d"), 0.0)
    assert [e.info for e in errors(fx, "c1")] == ["over 10 messages/s for bob (burst 10)"]
    assert hub.take_usage() == {("default", "bob"): 2}
    hub.shared_rates({("default", "bob"): 10.0})  # full again: the local limits only
    assert hub.take_usage() == {}


def test_a_node_refuses_a_source_over_its_allowance_with_the_words_of_one_hub() -> None:
    hub = shared(source_rate_limit=50.0, source_rate_burst=20.0, identity_rate_limit=None)
    register(hub, "c1", "bob", "d")
    hub.admitted("c1", Admission(), 0.0)
    register(hub, "c2", "carol", "d")
    hub.admitted("c2", Admission(), 0.0)
    assert _flood(hub, "c1", 0.0) and _flood(hub, "c2", 0.0)
    assert hub.take_usage() == {("", SRC): 2}  # one source, two identities
    hub.shared_rates({("", SRC): 0.5})  # the other nodes spent the rest
    fx = hub.receive("c2", wire.encode(wire.ContactMessage(1, "x"), to="nobody/d"), 0.0)
    assert [e.info for e in errors(fx, "c2")] == [f"over 50 messages/s from {SRC} (burst 20)"]


def _bucket(tokens: float, last: float, now: float, rate: float, burst: float) -> float:
    return min(burst, tokens + (now - last) * rate)


@settings(max_examples=40, deadline=None)
@given(
    nodes=st.integers(2, 3),
    steps=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 12)), min_size=5, max_size=60),
)
def test_an_identity_over_several_nodes_gets_its_budget_plus_one_burst_per_other_node(
    nodes: int, steps: list[tuple[int, int]]
) -> None:
    rate, burst, tick = 20.0, 10.0, 0.1
    limits = {"identity_rate_limit": rate, "identity_rate_burst": burst, "rate_limit": None,
              "source_rate_limit": None}  # fmt: skip
    hubs = [shared(str(i), max_strikes=10**6, **limits) for i in range(nodes)]
    for i, hub in enumerate(hubs):
        register(hub, f"c{i}", "bob", f"d{i}")
        hub.admitted(f"c{i}", Admission(), 0.0)
    tokens, last, now, accepted = burst, 0.0, 0.0, 0
    for node, sent in steps:  # ``sent`` frames on one node, then every node reports (a tick)
        hub = hubs[node % nodes]
        accepted += sum(_flood(hub, f"c{node % nodes}", now) for _ in range(sent))
        for h in hubs:
            usage = h.take_usage()
            tokens = _bucket(tokens, last, now, rate, burst)
            last = now
            left = {}
            for key, n in usage.items():
                tokens -= n
                left[key] = tokens
            h.shared_rates(left)
        now += tick
    assert accepted <= burst + rate * now + (nodes - 1) * burst


@settings(max_examples=20, deadline=None)
@given(spread=st.lists(st.integers(0, 1), min_size=10, max_size=40))
def test_an_identity_within_its_budget_is_never_refused_on_any_node(spread: list[int]) -> None:
    rate, burst, tick = 20.0, 10.0, 0.1
    limits = {"identity_rate_limit": rate, "identity_rate_burst": burst, "source_rate_limit": None}
    hubs = [shared(str(i), **limits) for i in (0, 1)]
    for i, hub in enumerate(hubs):
        register(hub, f"c{i}", "bob", f"d{i}")
        hub.admitted(f"c{i}", Admission(), 0.0)
    tokens, last, now = burst, 0.0, 0.0
    for node in spread:  # one message per tick (10/s, half the rate), on either node
        assert _flood(hubs[node], f"c{node}", now)
        for h in hubs:
            usage = h.take_usage()
            tokens = _bucket(tokens, last, now, rate, burst)
            last = now
            left = {}
            for key, n in usage.items():
                tokens -= n
                left[key] = tokens
            h.shared_rates(left)
        now += tick
