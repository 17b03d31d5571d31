"""The hub's side of conversations: a real Hub plus a RoomRouter, wired the way the hub will
(conversation requests to the router, relay-only notices refused, freed addresses leaving their
rooms), with clients seeing only bytes."""

from __future__ import annotations

import pytest

from rtcstate import drops, wire
from rtcstate.effects import Drop
from rtcstate.hub import Deliver, Hub, HubEffect
from rtcstate.identity import Identity
from rtcstate.rooms import RoomAuthority
from rtcstate.rooms_routing import RoomRouter, RoutingDrop
from rtcstate.wire_conversation import (
    ConvAck,
    ConvAllow,
    ConvCommand,
    ConvError,
    ConvJoin,
    ConvJoined,
    ConvJoinRequest,
    ConvMessage,
    ConvModeratorLeft,
    ConvSendMessage,
    ConvWaiting,
    RoomRefusal,
)


class Relay:
    """A Hub and a RoomRouter, joined by the few lines the hub needs."""

    def __init__(self) -> None:
        self.hub = Hub(rate_limit=None)
        self.router: RoomRouter[Deliver] = RoomRouter(RoomAuthority(), Deliver)
        self.by_address: dict[str, str] = {}
        self.identities: dict[str, Identity] = {}
        self.now = 0.0

    def connect(self, conn: str, user: str, device: str, *roles: str) -> None:
        self.hub.connect(conn, self.now)
        self.hub.receive(conn, wire.encode(wire.Register(user, device)), self.now)
        self.by_address[f"{user}/{device}"] = conn
        self.identities[conn] = Identity(user, roles=frozenset(roles), verified=True)

    def frame(self, conn: str, data: bytes) -> list[HubEffect]:
        env = wire.decode(data)
        msg = env.message
        address = self.hub.address(conn)
        if address is not None and self.router.is_request(msg):
            identity = self.identities[conn]
            return self.router.request(identity, address, msg, self.by_address, self.now)
        if address is not None and self.router.is_relay_only(msg):
            info = f"{msg.TYPE} is sent by the relay only"
            return [Deliver(conn, wire.Envelope(wire.ServerError("forbidden", info)))]
        return self.hub.receive(conn, data, self.now)

    def disconnect(self, conn: str) -> list[HubEffect]:
        address = self.hub.address(conn)
        fx = self.hub.disconnect(conn, self.now)
        if address is not None:
            del self.by_address[address]
            fx.extend(self.router.disconnect(address, self.by_address, self.now))
        return fx


def received(fx: list[HubEffect], conn: str) -> list[wire.Envelope]:
    """What ``conn`` would read: the bytes of its deliveries, decoded again."""
    return [
        wire.decode(wire.encode_envelope(e.envelope))
        for e in fx
        if type(e) is Deliver and e.conn == conn
    ]


@pytest.fixture
def relay() -> Relay:
    relay = Relay()
    relay.connect("c1", "mod", "pc")
    relay.connect("c2", "ann", "phone")
    relay.connect("c3", "bob", "tab")
    return relay


def test_join_and_message_as_bytes(relay: Relay) -> None:
    relay.frame("c1", wire.encode(ConvJoin("room", "j1")))
    fx = relay.frame("c2", wire.encode(ConvJoin("room", "j2")))
    [joined] = received(fx, "c2")
    assert type(joined.message) is ConvJoined and joined.message.members == ["mod/pc", "ann/phone"]
    # a client's own "from" is ignored: the relay stamps the member's address
    fx = relay.frame("c2", wire.encode(ConvSendMessage("room", "m1", "hi"), sender="mod/pc"))
    [copy] = received(fx, "c1")
    assert copy == wire.Envelope(ConvMessage("room", 1, "hi"), None, "ann/phone")
    [ack] = received(fx, "c2")
    assert ack.message == ConvAck("room", "m1", ConvCommand.MESSAGE, seq=1)
    assert received(fx, "c3") == []


def test_a_refusal_is_answered_and_logged(relay: Relay) -> None:
    fx = relay.frame("c3", wire.encode(ConvSendMessage("room", "m1", "hi")))
    [error] = received(fx, "c3")
    assert type(error.message) is ConvError and error.message.reason is RoomRefusal.NOT_JOINED
    drops_ = [e for e in fx if type(e) is Drop]
    assert len(drops_) == 1 and drops_[0].reason == RoutingDrop.REFUSED
    assert "not_joined" in drops_[0].detail and len(fx) == 2


def test_a_client_cannot_send_a_relay_notice(relay: Relay) -> None:
    forged = wire.encode(ConvJoined("room", "x", "moderator", [], [], 0, 0, False), to="ann/phone")  # type: ignore[arg-type]
    fx = relay.frame("c3", forged)
    assert [type(e.envelope.message) for e in fx if type(e) is Deliver] == [wire.ServerError]
    assert received(fx, "c2") == []


def test_a_disconnected_moderator_is_reported_to_the_waiting_room(relay: Relay) -> None:
    relay.frame("c1", wire.encode(ConvJoin("room", "j1", moderated=True)))
    fx = relay.frame("c2", wire.encode(ConvJoin("room", "j2")))
    assert [e.message for e in received(fx, "c2")] == [ConvWaiting("room", "j2", "mod/pc")]
    assert [e.message for e in received(fx, "c1")] == [ConvJoinRequest("room", "ann/phone")]
    fx = relay.disconnect("c1")
    assert ConvModeratorLeft("room", "mod/pc", 0) in [e.message for e in received(fx, "c2")]
    # nobody was admitted; the moderator's return lets it allow the waiter
    relay.connect("c4", "mod", "pc")
    relay.frame("c4", wire.encode(ConvJoin("room", "j3")))
    fx = relay.frame("c4", wire.encode(ConvAllow("room", "a1", "ann")))
    assert [type(e.message) for e in received(fx, "c2")][-1] is ConvJoined


def test_an_address_without_connection_gets_nothing() -> None:
    router: RoomRouter[tuple[str, wire.Envelope]] = RoomRouter(RoomAuthority(), lambda c, e: (c, e))
    mod, ann = Identity("mod"), Identity("ann")
    router.request(mod, "mod/pc", ConvJoin("room", "j1"), {"mod/pc": "c1"}, 0.0)
    fx = router.request(ann, "ann/phone", ConvJoin("room", "j2"), {"ann/phone": "c2"}, 0.0)
    assert fx[0][0] == "c2"  # type: ignore[index]
    assert fx[-1] == Drop(RoutingDrop.GONE, "mod/pc has no connection")
    assert router.request(mod, "mod/pc", wire.Ping(1), {}, 0.0) == [
        Drop(RoutingDrop.NOT_A_REQUEST, "ping is not a room request")
    ]
    assert RoutingDrop in drops.catalogue()
