"""The ringing-callee presence rule when presence is scoped: a ringing device hears its caller.

Theory of operation
-------------------
A ringing callee call ends when its caller's device leaves the relay for good (``peer_gone``,
:meth:`rtcstate.call.Call.peer_presence`), which the callee learns from the caller user's
presence. With scoped presence (``presence_group`` None, ``rtcstate serve --presence-group
''``) the callee may not hear that user at all, and would ring for ever. So the relay tells it
itself, whatever the callee subscribed to: :class:`RingWatch` notes each device an ``invite``
rings (as routed by the relay: nobody else can make it watch a user) and, when that device
acknowledges it (``ack`` ``what="invite"``, sent on first receipt and again after the callee's
own reconnection) and does not hear the caller's user, sends it a
``ringing_peer`` (:class:`~rtcstate.wire_contact.RingingPeer`: the caller user's devices, as
a ``presence`` would) at once and again each time a device of the caller's user registers or
leaves, until the call is answered or ended (an ``answer`` or a ``bye`` of that call passes
through the relay) or ``ttl`` seconds pass without a new acknowledgement. The callee's session
hands it to that contact's ringing callee calls only (no contact list changes, no event).

Costs: O(the devices an invite rings) per invite, O(1) per acknowledgement; O(the calls ringing
from that user) per registration or departure of one of its devices; entries are bounded by the
calls ringing in the tenant and expire by ``ttl`` (swept by the hub's tick).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from rtcstate import wire
from rtcstate.hub.effects import Deliver, HubEffect
from rtcstate.wire_contact import RingingPeer

__all__ = ["RingWatch"]

#: (tenant, caller user) -> callee address -> call id -> deadline
_Watches = dict[tuple[str, str], dict[str, dict[str, float]]]


@attrs.define(slots=True, eq=False)
class RingWatch:
    """Who rings for whom, for the devices that do not hear their caller's presence."""

    ttl: float = 120.0
    _watch: _Watches = attrs.field(factory=dict, init=False)
    #: (tenant, call id) -> (caller user, callee addresses): what an answer or bye settles
    _calls: dict[tuple[str, str], tuple[str, dict[str, None]]] = attrs.field(
        factory=dict, init=False
    )

    def invited(
        self, tenant: str, caller_user: str, callees: list[str], call_id: str, now: float
    ) -> None:
        """The relay made ``call_id`` of ``caller_user`` ring on ``callees``."""
        if not callees:
            return
        watched = self._watch.setdefault((tenant, caller_user), {})
        for callee in callees:
            watched.setdefault(callee, {})[call_id] = now + self.ttl
        entry = self._calls.setdefault((tenant, call_id), (caller_user, {}))
        entry[1].update(dict.fromkeys(callees))

    def acked(
        self,
        tenant: str,
        callee: str,
        caller_user: str,
        call_id: str,
        now: float,
        tell: Callable[[str, str], HubEffect | None],
    ) -> list[HubEffect]:
        """``callee`` acknowledged the invite ``call_id`` of ``caller_user``: if that invite
        rang there, the watch is renewed and the callee told the caller's devices now
        (``tell(callee, caller_user)``: the delivery, None when the callee hears that user
        anyway or is gone). An acknowledgement of anything else tells nothing."""
        entry = self._calls.get((tenant, call_id))
        if entry is None or entry[0] != caller_user or callee not in entry[1]:
            return []
        calls = self._watch.get((tenant, caller_user), {}).get(callee)
        if calls is None or call_id not in calls:
            return []
        calls[call_id] = now + self.ttl
        told = tell(callee, caller_user)
        return [] if told is None else [told]

    def settled(self, tenant: str, call_id: str) -> None:
        """An answer or a bye of ``call_id`` passed: its callee no longer rings."""
        found = self._calls.pop((tenant, call_id), None)
        if found is None:
            return
        caller_user, callees = found
        for callee in callees:
            self._drop(tenant, caller_user, callee, call_id)

    def changed(
        self,
        tenant: str,
        caller_user: str,
        now: float,
        tell: Callable[[str, str], HubEffect | None],
    ) -> list[HubEffect]:
        """A device of ``caller_user`` registered or left: every device still ringing for one
        of its calls is told (once per device)."""
        watched = self._watch.get((tenant, caller_user))
        if not watched:
            return []
        out: list[HubEffect] = []
        for callee, calls in list(watched.items()):
            for call_id, deadline in list(calls.items()):
                if deadline <= now:
                    self._expire(tenant, call_id, callee)
                    del calls[call_id]
            if not calls:
                del watched[callee]
                continue
            told = tell(callee, caller_user)
            if told is not None:
                out.append(told)
        if not watched:
            del self._watch[(tenant, caller_user)]
        return out

    def sweep(self, now: float) -> None:
        """Forget what expired (the hub's tick)."""
        for (tenant, caller_user), watched in list(self._watch.items()):
            for callee, calls in list(watched.items()):
                for call_id in [c for c, deadline in calls.items() if deadline <= now]:
                    self._expire(tenant, call_id, callee)
                    del calls[call_id]
                if not calls:
                    del watched[callee]
            if not watched:
                del self._watch[(tenant, caller_user)]

    def size(self) -> int:
        """How many ringing calls are watched (tests)."""
        return len(self._calls)

    def _expire(self, tenant: str, call_id: str, callee: str) -> None:
        entry = self._calls.get((tenant, call_id))
        if entry is not None:
            entry[1].pop(callee, None)
            if not entry[1]:
                del self._calls[(tenant, call_id)]

    def _drop(self, tenant: str, caller_user: str, callee: str, call_id: str) -> None:
        watched = self._watch.get((tenant, caller_user))
        if watched is None:
            return
        calls = watched.get(callee)
        if calls is not None:
            calls.pop(call_id, None)
            if not calls:
                del watched[callee]
        if not watched:
            del self._watch[(tenant, caller_user)]


def ringing_peer(conn: str, user: str, devices: list[str]) -> Deliver:
    """The delivery telling ``conn`` the devices of ``user`` it rings for."""
    return Deliver(conn, wire.Envelope(RingingPeer(user, devices)))
