"""An in-process relay for client Conversation machines: each device's Conversation talks to a
real :class:`~rtcstate.rooms.RoomAuthority` through a tiny sans-I/O loop.

Each device has an uplink (requests to the relay) and a downlink (envelopes from it), both in
order while the device is connected, as a websocket is; a disconnection loses whatever is in
flight both ways, and the relay forgets the device (``RoomAuthority.disconnect``). Requests may
be duplicated (a copy of an earlier request, sent again later: what a repeat is). Timers are
kept per device and fired when the clock is advanced. Every ``Emit`` is recorded with the
state its conversation was in before the input, and every member message the relay broadcast
is recorded with its recipients.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

from rtcstate import wire
from rtcstate.conversation import Conference, Conversation, ConversationState, Reject, Resolve
from rtcstate.effects import SESSION, CancelTimer, Effect, Emit, Send, StartTimer
from rtcstate.identity import Identity
from rtcstate.rooms import Broadcast, Notify, RoomAuthority
from rtcstate.wire_conversation import ConvMessage, ConvRequest

TENANT = "acme"


class Device:
    """One client device: its conversations, links, timers and what it emitted."""

    def __init__(self, address: str, roles: frozenset[str] = frozenset()) -> None:
        self.address = address
        self.identity = Identity(address.partition("/")[0], TENANT, roles=roles, verified=True)
        self.convs: dict[str, Conversation] = {}
        self.connected = True
        self.up: deque[ConvRequest] = deque()
        self.down: deque[wire.Envelope] = deque()
        self.sent: list[ConvRequest] = []
        #: the requests the relay has handled
        self.handled: set[str] = set()
        self.timers: dict[str, float] = {}
        #: the Resolve / Reject effects (the outcome of each request)
        self.outcomes: list[Resolve | Reject] = []
        #: (room, event, payload, state before the input)
        self.events: list[tuple[str, str, Any, ConversationState]] = []

    def conv(self, room: str, conference: bool = False) -> Conversation:
        found = self.convs.get(room)
        if found is None:
            kind = Conference if conference else Conversation
            found = self.convs[room] = kind(room, self.address)
        return found


class Relay:
    """The authority, the devices and the clock."""

    def __init__(self, **config: Any) -> None:
        self.auth = RoomAuthority(**config)
        self.devices: dict[str, Device] = {}
        self.now = 0.0
        #: counts the relay's steps (requests handled, disconnections)
        self.step = 0
        #: (room, content) -> (sender, content, recipients as broadcast, relay step, the recipients
        #: whose conversation was JOINED then: those must emit it, unless gone since)
        self.broadcasts: dict[
            tuple[str, str], tuple[str, str, tuple[str, ...], int, tuple[str, ...]]
        ] = {}
        #: address -> relay steps at which it was disconnected or left a room by itself
        self.gone_at: defaultdict[str, list[int]] = defaultdict(list)

    def device(self, address: str, roles: frozenset[str] = frozenset()) -> Device:
        found = self.devices.get(address)
        if found is None:
            found = self.devices[address] = Device(address, roles)
        return found

    # --- client side ---------------------------------------------------------------------------

    def run(self, device: Device, room: str, fx: list[Effect], before: ConversationState) -> None:
        """Carry out the effects ``device``'s conversation of ``room`` returned."""
        for effect in fx:
            if type(effect) is Send:
                assert effect.to is None and isinstance(effect.message, ConvRequest), effect
                device.sent.append(effect.message)
                if device.connected:
                    device.up.append(effect.message)
            elif type(effect) is StartTimer:
                device.timers[effect.timer_id] = effect.deadline
            elif type(effect) is CancelTimer:
                device.timers.pop(effect.timer_id, None)
            elif type(effect) in (Resolve, Reject):
                device.outcomes.append(effect)
            elif type(effect) is Emit:
                # the session's events are told apart: "session.<event>"
                name = effect.event if effect.target != SESSION else f"session.{effect.event}"
                device.events.append((room, name, effect.payload, before))
                if effect.event == "left":
                    self.gone_at[device.address].append(self.step)

    def command(self, device: Device, room: str, name: str, *args: Any, **kw: Any) -> None:
        conv = device.conv(room)
        before = conv.state
        fx = getattr(conv, name)(self.now, *args, **kw)
        self.run(device, room, fx, before)

    def deliver_down(self, device: Device) -> bool:
        if not device.down:
            return False
        env = device.down.popleft()
        room = env.message.room  # type: ignore[attr-defined]
        conv = device.convs.get(room)
        if conv is None:
            return True
        before = conv.state
        self.run(device, room, conv.receive(env, self.now), before)
        return True

    def fire_due(self, device: Device) -> None:
        for timer_id, deadline in sorted(device.timers.items(), key=lambda t: t[1]):
            if deadline <= self.now and device.timers.get(timer_id) == deadline:
                del device.timers[timer_id]
                _, room, name = timer_id.split(":")
                conv = device.convs[room]
                before = conv.state
                self.run(device, room, conv.timer_fired(name, self.now), before)

    # --- relay side ----------------------------------------------------------------------------

    def deliver_up(self, device: Device) -> bool:
        if not device.up:
            return False
        request = device.up.popleft()
        device.handled.add(request.request_id)
        self.step += 1
        fx = self.auth.receive(device.identity, device.address, request, self.now)
        self._route(fx)
        return True

    def duplicate(self, device: Device, index: int) -> None:
        """Send again a request the relay has already handled, or one ``device`` still waits
        an answer for (an early repeat). A request lost with a connection, or one its
        conversation gave up, is not resent: nothing but the conversation resends."""
        outstanding = {r for c in device.convs.values() for r in c.outstanding()}
        choices = [
            r for r in device.sent if r.request_id in device.handled or r.request_id in outstanding
        ]
        if choices and device.connected:
            device.up.append(choices[index % len(choices)])

    def _route(self, fx: list[Any]) -> None:
        for effect in fx:
            if type(effect) is Notify:
                self._to(effect.address, effect.envelope)
            elif type(effect) is Broadcast:
                env = effect.envelope
                recipients = tuple(effect.recipients())
                msg = env.message
                if type(msg) is ConvMessage and not msg.history:
                    assert env.sender is not None
                    key = (msg.room, msg.content)  # seq restarts with a new room
                    joined = tuple(a for a in recipients if self._joined(a, msg.room))
                    entry = (env.sender, msg.content, recipients, self.step, joined)
                    self.broadcasts[key] = entry
                for address in recipients:
                    self._to(address, env)

    def _joined(self, address: str, room: str) -> bool:
        device = self.devices.get(address)
        conv = None if device is None else device.convs.get(room)
        return conv is not None and conv.state is ConversationState.JOINED

    def _to(self, address: str, env: wire.Envelope) -> None:
        device = self.devices.get(address)
        if device is not None and device.connected:
            device.down.append(env)

    def disconnect(self, device: Device) -> None:
        if not device.connected:
            return
        device.connected = False
        device.up.clear()
        device.down.clear()
        self.step += 1
        self.gone_at[device.address].append(self.step)
        self._route(self.auth.disconnect(device.address, self.now))
        for room, conv in device.convs.items():
            before = conv.state
            self.run(device, room, conv.on_disconnected(self.now), before)

    def reconnect(self, device: Device) -> None:
        if device.connected:
            return
        device.connected = True
        for room, conv in device.convs.items():
            before = conv.state
            self.run(device, room, conv.on_reconnected(self.now), before)

    # --- the loop ------------------------------------------------------------------------------

    def settle(self, max_rounds: int = 10_000) -> None:
        """Deliver everything in flight, advancing the clock to fire repeats, until quiet."""
        for _ in range(max_rounds):
            moved = False
            for device in self.devices.values():
                while self.deliver_up(device):
                    moved = True
                while self.deliver_down(device):
                    moved = True
            if moved:
                continue
            pending = any(
                c.outstanding() and c.state is not ConversationState.WAITING
                for d in self.devices.values()
                if d.connected
                for c in d.convs.values()
            )
            if not pending:
                return
            deadlines = [t for d in self.devices.values() for t in d.timers.values()]
            if not deadlines:
                return
            self.now = max(self.now, min(deadlines))
            for device in list(self.devices.values()):
                self.fire_due(device)
        raise AssertionError("the relay loop did not settle")
