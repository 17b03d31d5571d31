"""N-party runs: 2-20 client Conversation machines against a real RoomAuthority.

Devices join, leave, cancel, send messages, get disconnected and reconnect at random; requests
are duplicated (repeats); a moderator may allow, deny and eject; the loop (tests/convtools.py)
delivers requests and notices in a random interleaving. After the run settles:

* every connected device's view of the room converges to the authority's: JOINED exactly when
  the authority lists it as a member (WAITING exactly when it is a waiter), and its participant
  list is the authority's members but itself;
* every live message reached, exactly once, every member the relay broadcast it to (that was
  JOINED then, and stayed connected and in the room until it arrived), nobody but the relay's
  recipients, and in the sender's order;
* no message, data or custom event reached a device that was not JOINED (waiting, ejected, or
  left) when it arrived.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from convtools import Relay
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from rtcstate.conversation import ConversationState
from rtcstate.errors import RtcError

ROOM = "hall"

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "join",
                "join",
                "leave",
                "cancel",
                "send",
                "send",
                "send",
                "disconnect",
                "reconnect",
                "dup",
                "allow",
                "deny",
                "eject",
                "up",
                "down",
                "down",
                "tick",
                "settle",
                "settle",
            ]
        ),
        st.integers(0, 19),
        st.integers(0, 1000),
    ),
    min_size=10,
    max_size=80,
)


def _run(n: int, moderated: bool, ops: list[tuple[str, int, int]], initial: int = 0) -> Relay:
    relay = Relay(ban_time=30.0, history_size=5)
    devices = [relay.device(f"u{i}/d") for i in range(n)]
    # the first device creates the room (and is its moderator); the others follow the ops
    devices[0].conv(ROOM).moderated = moderated
    relay.command(devices[0], ROOM, "join")
    relay.settle()
    for device in devices[1 : 1 + initial]:  # a few more join first (and wait, if moderated)
        relay.command(device, ROOM, "join")
    relay.settle()
    serial = 0
    for op, who, extra in ops:
        device = devices[who % n]
        if op == "send":  # messages from members (a non-member's send raises, tested apart)
            joined = [d for d in devices if d.conv(ROOM).state is ConversationState.JOINED]
            device = joined[who % len(joined)] if joined else device
        try:
            if op == "join":
                relay.command(device, ROOM, "join")
                if extra % 2:
                    relay.settle()
            elif op == "leave":
                relay.command(device, ROOM, "leave")
            elif op == "cancel":
                relay.command(device, ROOM, "cancel_join")
            elif op == "send":
                serial += 1
                relay.command(device, ROOM, "send_message", f"{device.address}#{serial}")
            elif op in ("allow", "deny", "eject"):
                others = [d for d in devices if d is not device]
                other = others[extra % len(others)].address
                name = {"allow": "allow_entry", "deny": "deny_entry", "eject": "eject"}[op]
                relay.command(device, ROOM, name, other)
        except RtcError:
            pass  # a command refused in this state (tests/test_conversation.py checks those)
        if op == "disconnect":
            relay.disconnect(device)
        elif op == "reconnect":
            relay.reconnect(device)
        elif op == "dup":
            relay.duplicate(device, extra)
        elif op == "up":
            relay.deliver_up(device)
        elif op == "down":
            relay.deliver_down(device)
        elif op == "settle":
            relay.settle()
        elif op == "tick":
            relay.now += 5.0
            for d in devices:
                relay.fire_due(d)
    relay.settle()
    return relay


def _check(relay: Relay) -> None:
    view = relay.auth.room("acme", ROOM)
    members = {a for a, _ in view.members} if view is not None else set()
    waiting = set(view.waiting) if view is not None else set()
    for device in relay.devices.values():
        conv = device.convs.get(ROOM)
        if conv is None or not device.connected:
            continue
        address = device.address
        assert (conv.state is ConversationState.JOINED) == (address in members), (
            address,
            conv.state,
            members,
        )
        assert (conv.state is ConversationState.WAITING) == (address in waiting), (
            address,
            conv.state,
            waiting,
        )
        if conv.state is ConversationState.JOINED:
            assert set(conv.get_contacts()) == members - {address}
            role = dict(view.members)[address] if view is not None else None
            assert conv.role is role
    # messages: exactly once to each recipient that stayed connected, nobody else, in order
    got: dict[str, Counter[tuple[str, int]]] = defaultdict(Counter)
    order: dict[tuple[str, str], list[int]] = defaultdict(list)
    for device in relay.devices.values():
        for room, event, payload, before in device.events:
            if event in ("message", "data", "customEvent"):
                assert before is ConversationState.JOINED, (device.address, event, before)
            if event != "message" or payload.get("history"):
                continue
            content = payload["content"]
            sender, _, serial = content.partition("#")
            assert payload["sender"] == sender
            got[device.address][(room, int(serial))] += 1
            order[(device.address, sender)].append(int(serial))
    sent = relay.broadcasts.items()
    by_content = {
        (room, int(content.partition("#")[2])): (sender, recipients, step, joined)
        for (room, _content), (sender, content, recipients, step, joined) in sent
    }
    for address, counts in got.items():
        for key, count in counts.items():
            assert count == 1, (address, key, count)
            assert key in by_content and address in by_content[key][1], (address, key)
    for key, (_sender, recipients, step, joined) in by_content.items():
        assert set(joined) <= set(recipients)
        for address in joined:
            if any(gone >= step for gone in relay.gone_at.get(address, ())):
                continue  # it lost its connection, or left, while the message was in flight
            assert got[address][key] == 1, (address, key)
    for (address, sender), serials in order.items():
        assert serials == sorted(serials), (address, sender, serials)


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(n=st.integers(2, 20), moderated=st.booleans(), ops=OPS, initial=st.integers(0, 19))
def test_views_converge_and_messages_are_delivered_once_in_order(
    n: int, moderated: bool, ops: list[tuple[str, int, int]], initial: int
) -> None:
    relay = _run(n, moderated, ops, initial)
    _check(relay)
    note_event(f"messages broadcast: {min(len(relay.broadcasts), 3)}+")


def test_a_scripted_run_with_every_hazard() -> None:
    ops = [
        ("join", 1, 0),
        ("join", 2, 0),
        ("up", 1, 0),
        ("down", 1, 0),
        ("dup", 1, 0),
        ("send", 1, 0),
        ("down", 2, 0),
        ("disconnect", 2, 0),
        ("send", 0, 0),
        ("reconnect", 2, 0),
        ("settle", 0, 0),
        ("allow", 0, 1),
        ("allow", 0, 0),
        ("eject", 0, 1),
        ("join", 1, 0),
        ("tick", 0, 0),
        ("settle", 0, 0),
        ("send", 2, 0),
        ("leave", 2, 0),
    ]
    for moderated in (False, True):
        relay = _run(4, moderated, ops)
        _check(relay)
        if not moderated:
            assert len(relay.broadcasts) >= 2
