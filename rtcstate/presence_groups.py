"""Client side of coalesced presence: ``presence_batch`` changes per group, apiRTC's
``contactListUpdate`` per group, and the groups each contact is heard in.

Theory of operation
-------------------
A relay with coalesced presence (:mod:`rtcstate.hub.presence_feed`) sends ``PresenceBatch``
messages that say where they come from: ``group`` (a presence group; None: this session's
contact subscriptions), every device of each user listed, and ``left``, the users who left
that group (or, for contacts, went offline). The session keeps, in its
:class:`~rtcstate.presence.PresenceScope` (``heard``), the *sources* each contact is heard
from (its groups, and ``""`` for a contact subscription): a contact is online while it has at
least one. :func:`group_batch` applies one batch: it updates the sources and the online
contacts (``Session.contacts``), tells the ringing calls of each contact its devices (the
ringing-callee presence rule), and emits apiRTC's events per group:

* ``contactListUpdate`` ``{joinedGroup: {group: [users]}, leftGroup: {group: [users]},
  userDataChanged: []}`` once per batch with a change (contacts subscribed one by one are
  reported under the key :data:`CONTACTS`, rtcstate's: apiRTC has groups only);
* ``joinGroup`` / ``leaveGroup`` (the group's name) on each ``contact:<user>``.

A device's own address is not news to itself: a user whose only device listed is this session
is treated as not in the group. The relay coalesces changes over its flush interval, so a
contact that leaves and comes back within it is not seen to flap; a contact that leaves is
told at the next flush (``contactDisconnectionDelay`` applies to the older, immediate form).
"""

from __future__ import annotations

from typing import Any, Protocol

from rtcstate import wire
from rtcstate.effects import CancelTimer, Effect, Emit, target
from rtcstate.presence import PresenceScope
from rtcstate.session_timers import TimerBook


class Session(Protocol):
    """What :func:`group_batch` uses of a :class:`rtcstate.session.Session` (a protocol, so
    that this module does not import the session that imports it)."""

    presence_scope: PresenceScope

    @property
    def contacts(self) -> dict[str, tuple[str, ...]]: ...

    @property
    def address(self) -> str: ...

    @property
    def timers(self) -> TimerBook: ...

    def timer_armed(self, timer_id: str) -> bool: ...

    def ringing_from(self, contact: str) -> list[Any]: ...

    def _from_child(self, route: str, key: str, child: Any, fx: list[Effect]) -> list[Effect]: ...


__all__ = ["CONTACTS", "group_batch"]

#: the ``contactListUpdate`` key of changes heard through contact subscriptions
CONTACTS = "@contacts"
_SESSION = "session"


def group_batch(session: Session, msg: wire.PresenceBatch, now: float) -> list[Effect]:
    """Apply one coalesced ``PresenceBatch`` (``msg.left`` is not None) to ``session``."""
    heard = session.presence_scope.heard
    source = msg.group if msg.group is not None else ""
    own = session.address
    listed: dict[str, list[str]] = {}
    for address in msg.devices:
        devices = listed.setdefault(address.partition("/")[0], [])
        if address != own:
            devices.append(address)
    joined: list[str] = []
    left: list[str] = []
    touched: dict[str, tuple[str, ...] | None] = {}
    for user, devices in listed.items():
        if not devices:  # only this very device: not news to itself
            continue
        sources = heard.setdefault(user, {})
        if source not in sources:
            sources[source] = None
            joined.append(user)
        touched[user] = tuple(devices)
    gone = [u for u, d in listed.items() if not d] + list(msg.left or ())
    for user in gone:
        was = heard.get(user)
        if was is not None and source in was:
            del was[source]
            if not was:
                del heard[user]
            left.append(user)
            touched.setdefault(user, None)
    fx: list[Effect] = []
    for user, devs in touched.items():
        if heard.get(user):
            fx.extend(_online(session, user, devs or session.contacts.get(user, ()), now))
        else:
            fx.extend(_online(session, user, (), now))
    if joined or left:
        key = msg.group if msg.group is not None else CONTACTS
        fx.append(
            Emit(_SESSION, "contactListUpdate",
                 {"joinedGroup": {key: joined} if joined else {},
                  "leftGroup": {key: left} if left else {}, "userDataChanged": []})
        )  # fmt: skip
        if msg.group is not None:
            fx.extend(Emit(target("contact", u), "joinGroup", msg.group) for u in joined)
            fx.extend(Emit(target("contact", u), "leaveGroup", msg.group) for u in left)
    return fx


def _online(session: Session, user: str, devices: tuple[str, ...], now: float) -> list[Effect]:
    """``user`` is now online on ``devices`` (none: offline); its ringing calls are told."""
    fx: list[Effect] = []
    timer = f"presence:{user}:offline"
    if session.timer_armed(timer):  # a delay armed by the older, immediate form
        cancel: list[Effect] = [CancelTimer(timer)]
        session.timers.book(cancel)
        fx.extend(cancel)
    if devices:
        session.contacts[user] = devices
    else:
        session.contacts.pop(user, None)
    for call in session.ringing_from(user):
        fx.extend(session._from_child("call_id", call.call_id, call,
                                      call.peer_presence(devices, now)))  # fmt: skip
    return fx
