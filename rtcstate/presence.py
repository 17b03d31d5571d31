"""Client-side presence scope: the contacts and groups a session hears, the groups it is seen in.

Theory of operation
-------------------
The relay scopes presence (:mod:`rtcstate.hub.presence`): a device hears the users it
subscribed to and the members of the groups it subscribed to; it is seen in the groups it
joined (apiRTC's ``joinGroup`` / ``leaveGroup`` / ``subscribeToGroup`` /
``unsubscribeToGroup``). :class:`PresenceScope` is what the session asked for: each command
validates its names first (a bad one raises ``ERROR_BAD_PARAMETER`` and changes nothing), then
updates the scope and returns the one wire message that tells the relay. The relay forgets a
connection's scope when it closes, so :meth:`PresenceScope.resend` gives the messages that
restore the whole scope after each (re)registration. A relay refusal (``ServerError``
``too_many_subscriptions``) arrives later as a session ``error`` event, never an exception;
the relay says what it refused (``ServerError.refused``) and :meth:`PresenceScope.refuse`
takes those names out of the scope into :attr:`PresenceScope.refused`, so a refused request
is not asked again after every reconnection, until the application asks for it again (a new
``subscribe`` / ``join`` of the same names puts them back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.errors import RtcError

__all__ = ["PresenceScope", "check_names"]


def check_names(kind: str, names: Iterable[object]) -> list[str]:
    """The names in order without duplicates; raises ERROR_BAD_PARAMETER for a non-string,
    empty or ``/``-holding name, or for no name at all."""
    out: list[str] = []
    for name in names:
        if not isinstance(name, str) or not name or "/" in name:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"bad {kind} name: {name!r}")
        if name not in out:
            out.append(name)
    return out


@attrs.define(slots=True, eq=False)
class PresenceScope:
    """What this session hears (contacts, groups subscribed) and where it is seen (joined)."""

    contacts: dict[str, None] = attrs.field(factory=dict)
    groups: dict[str, None] = attrs.field(factory=dict)
    joined: dict[str, None] = attrs.field(factory=dict)
    #: coalesced presence: contact -> the sources it is heard from (groups; ``""``: as a
    #: contact), see :mod:`rtcstate.presence_groups`; forgotten when the relay is lost
    heard: dict[str, dict[str, None]] = attrs.field(factory=dict)
    #: what the relay refused, by kind (``"contacts"``, ``"groups"``, ``"joined"``): not resent
    refused: dict[str, dict[str, None]] = attrs.field(
        factory=lambda: {"contacts": {}, "groups": {}, "joined": {}}
    )

    def members(self, group: str) -> list[str]:
        """The contacts heard in ``group`` (coalesced presence), in the order heard."""
        return [user for user, sources in self.heard.items() if group in sources]

    def refuse(self, what: Mapping[str, Any]) -> bool:
        """The relay refused the request ``what`` (``ServerError.refused``): forget its names
        (they are not resent) and remember them as refused. False if ``what`` is not a
        presence request this scope sends (ignored)."""
        kind = what.get("type")
        pairs: tuple[tuple[str, Any], ...]
        if kind == wire.PresenceSubscribe.TYPE:
            pairs = (("contacts", what.get("contacts")), ("groups", what.get("groups")))
        elif kind == wire.PresenceGroups.TYPE:
            pairs = (("joined", what.get("join")),)
        else:
            return False
        for key, names in pairs:
            if not isinstance(names, list):
                continue
            held: dict[str, None] = getattr(self, key)
            for name in names:
                if isinstance(name, str) and name in held:
                    del held[name]
                    self.refused[key][name] = None
        return True

    def subscribe(self, contacts: Iterable[object], groups: Iterable[object]) -> wire.Message:
        users, names = _both(contacts, groups)
        self.contacts.update(dict.fromkeys(users))
        self.groups.update(dict.fromkeys(names))
        _forgive(self.refused["contacts"], users)
        _forgive(self.refused["groups"], names)
        return wire.PresenceSubscribe(contacts=users, groups=names)

    def unsubscribe(self, contacts: Iterable[object], groups: Iterable[object]) -> wire.Message:
        users, names = _both(contacts, groups)
        for user in users:
            self.contacts.pop(user, None)
        for name in names:
            self.groups.pop(name, None)
        _forgive(self.refused["contacts"], users)
        _forgive(self.refused["groups"], names)
        return wire.PresenceUnsubscribe(contacts=users, groups=names)

    def join(self, group: object) -> wire.Message:
        (name,) = check_names("group", [group])
        self.joined[name] = None
        self.refused["joined"].pop(name, None)
        return wire.PresenceGroups(join=[name], leave=[])

    def leave(self, group: object) -> wire.Message:
        (name,) = check_names("group", [group])
        self.joined.pop(name, None)
        self.refused["joined"].pop(name, None)
        return wire.PresenceGroups(join=[], leave=[name])

    def resend(self) -> list[wire.Message]:
        """The messages that give a fresh relay connection this whole scope."""
        out: list[wire.Message] = []
        if self.joined:
            out.append(wire.PresenceGroups(join=list(self.joined), leave=[]))
        if self.contacts or self.groups:
            out.append(
                wire.PresenceSubscribe(contacts=list(self.contacts), groups=list(self.groups))
            )
        return out


def _forgive(refused: dict[str, None], names: list[str]) -> None:
    """The application asked again about ``names``: they are no longer remembered refused."""
    for name in names:
        refused.pop(name, None)


def _both(contacts: Iterable[object], groups: Iterable[object]) -> tuple[list[str], list[str]]:
    if isinstance(contacts, str) or isinstance(groups, str):
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "contacts and groups are lists of names")
    users = check_names("contact", contacts)
    names = check_names("group", groups)
    if not users and not names:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "no contact and no group given")
    return users, names
