"""Contact presence as a session hears it: who is online, without flapping on brief drops.

Theory of operation
-------------------
The server's ``Presence`` says a contact is online (with its devices) or gone. A contact that
goes offline stays online for ``contact_disconnection_delay`` seconds (apiRTC's
``contactDisconnectionDelay``; timer ``presence:<contact>:offline``); coming back within it
changes nothing visible. Joining and leaving show as apiRTC's ``contactListUpdate`` plus the
contact's ``joinGroup`` / ``leaveGroup`` (the ``default`` group). When the session loses the
server, every contact goes offline at once and their pending timers are cancelled.

The ringing callee calls are indexed per contact (an intrusive doubly linked list through two
slots of each call), so that the contact's presence reaches them in O(their number) (a caller
gone from the relay: :meth:`~rtcstate.call.Call.peer_presence`). What the contact *subscribes*
to is :mod:`rtcstate.presence`.
"""

from __future__ import annotations

import attrs

from rtcstate import wire
from rtcstate.call import Call
from rtcstate.effects import SESSION, CancelTimer, Drop, Effect, Emit, StartTimer, target
from rtcstate.session_connection import SessionDrop
from rtcstate.session_timers import PRESENCE_KIND, TimerBook

__all__ = ["ContactPresence", "presence_change"]


def presence_change(contacts: list[str], online: bool) -> list[Effect]:
    """apiRTC's events for contacts joining or leaving the default presence group."""
    joined: dict[str, list[str]] = {"default": contacts} if online else {}
    left: dict[str, list[str]] = {} if online else {"default": contacts}
    event = "joinGroup" if online else "leaveGroup"
    return [
        Emit(SESSION, "contactListUpdate",
             {"joinedGroup": joined, "leftGroup": left, "userDataChanged": []}),
        *(Emit(target("contact", c), event, "default") for c in contacts),
    ]  # fmt: skip


def offline_timer(contact: str) -> str:
    """The id of ``contact``'s offline timer."""
    return f"{PRESENCE_KIND}:{contact}:offline"


@attrs.define(slots=True, eq=False)
class ContactPresence:
    """The contacts online (user -> its devices) and the ringing calls per contact."""

    timers: TimerBook
    delay: float
    contacts: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    #: contact -> its newest ringing callee call; the others follow through ``peer_next``
    ringing: dict[str, Call] = attrs.field(factory=dict)

    def update(self, msg: wire.Presence, now: float) -> list[Effect]:
        """The server's presence of one contact."""
        contact = msg.contact
        timer = offline_timer(contact)
        pending = self.timers.armed(timer)
        if msg.online and msg.devices:
            was_online = contact in self.contacts
            self.contacts[contact] = tuple(msg.devices)
            if pending:
                return [CancelTimer(timer)]
            return [] if was_online else presence_change([contact], online=True)
        if contact not in self.contacts or pending:
            return []
        if self.delay > 0:
            return [StartTimer(timer, now + self.delay)]
        del self.contacts[contact]
        return presence_change([contact], online=False)

    def expired(self, contact: str) -> list[Effect]:
        """``contact``'s offline timer fired: it is gone."""
        if self.contacts.pop(contact, None) is None:
            return [Drop(SessionDrop.STALE_TIMER, offline_timer(contact))]
        return presence_change([contact], online=False)

    def all_offline(self) -> list[Effect]:
        """The server is lost: every contact goes offline, their pending timers cancelled."""
        fx = self.timers.release_kind(PRESENCE_KIND)
        if self.contacts:
            fx.extend(presence_change(sorted(self.contacts), online=False))
            self.contacts.clear()
        return fx

    # --- the ringing calls of each contact ---------------------------------------------------

    def watch(self, call: Call) -> None:
        head = self.ringing.get(call.contact)
        if head is call or call.peer_prev is not None:
            return  # already indexed
        call.peer_next = head
        if head is not None:
            head.peer_prev = call
        self.ringing[call.contact] = call

    def unwatch(self, call: Call) -> None:
        prev, nxt = call.peer_prev, call.peer_next
        if prev is not None:
            prev.peer_next = nxt
        elif self.ringing.get(call.contact) is call:
            if nxt is None:
                del self.ringing[call.contact]
            else:
                self.ringing[call.contact] = nxt
        else:
            return
        if nxt is not None:
            nxt.peer_prev = prev
        call.peer_prev = call.peer_next = None

    def ringing_from(self, contact: str) -> list[Call]:
        calls: list[Call] = []
        call = self.ringing.get(contact)
        while call is not None:
            calls.append(call)
            call = call.peer_next
        return calls
