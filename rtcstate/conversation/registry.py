"""The session's conversations: one per room name, under the ``room`` route.

Theory of operation
-------------------
A :class:`~rtcstate.session.Session` holds its conversations by room name under the ``room``
route (the ``ROUTE`` of every message of :mod:`rtcstate.wire_conversation`), through the narrow
:class:`~rtcstate.host.Host` protocol only, so the session module needs three lines for them:
the route entry (``"room": "conversation"``, which also brings the conversation's timer
``conversation:<name>:repeat`` back to it), ``install(self)`` and the two getters delegating
here. This module owns no state: the session's route table is the registry.

* :func:`get_conversation` / :func:`get_conference` are apiRTC's ``getConversation`` /
  ``getOrCreateConversation`` (and the conference pair): the conversation held under that name,
  else a new one (NOT_JOINED, no effect: nothing is sent before ``join``). Asking a conference
  of a name held as a plain conversation (or the reverse) replaces it while it is NOT_JOINED,
  and raises 16 ERROR_WRONG_STATE (nothing changed) while it is in the room or has a request
  outstanding.
* :func:`install` sets a factory for every conversation message type: it runs only when no
  conversation of the message's room is held, and answers with a catalogued
  :class:`RegistryDrop` (``unknown-room``): a late notice for a room this device never asked
  for, or forgot, is ignored on purpose, never an ``error``.
* Disconnection, reconnection and timers reach each conversation through the session's usual
  child handling (``on_disconnected`` / ``on_reconnected`` / ``timer_fired``); a conversation
  never ends, so it stays registered until the session closes.
"""

from __future__ import annotations

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.conversation.host import ConversationHost
from rtcstate.conversation.machine import (
    Conference,
    Conversation,
    ConversationSettings,
    ConversationState,
)
from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect
from rtcstate.errors import RtcError
from rtcstate.wire_streams import ROOM_RELAY_ONLY as RELAY_ONLY
from rtcstate.wire_streams import ROOM_REQUESTS as REQUESTS

__all__ = [
    "ROUTE",
    "RegistryDrop",
    "conversations",
    "get_conference",
    "get_conversation",
    "install",
]

ROUTE = "room"
"""The session route conversations are registered under (their messages' ``ROUTE``)."""


class RegistryDrop(DropReason):
    """Why the session ignored a conversation message on purpose."""

    UNKNOWN_ROOM = "unknown-room"
    """A conversation message for a room this session holds no conversation of (never asked
    for with ``get_conversation``, or the session was closed)."""


def get_conversation(
    host: ConversationHost,
    name: str,
    *,
    moderated: bool = False,
    password: str | None = None,
    settings: ConversationSettings | None = None,
) -> Conversation:
    """The conversation named ``name`` (made and registered if new): ``getConversation``."""
    return _get(host, Conversation, name, moderated, password, settings)


def get_conference(
    host: ConversationHost,
    name: str,
    *,
    moderated: bool = False,
    password: str | None = None,
    settings: ConversationSettings | None = None,
) -> Conference:
    """The conference named ``name`` (made and registered if new): ``getConference``."""
    found = _get(host, Conference, name, moderated, password, settings)
    assert isinstance(found, Conference)
    return found


def conversations(host: ConversationHost) -> dict[str, Conversation]:
    """Every conversation ``host`` holds, by room name (``getConversations``)."""
    return {k: c for k, c in host.children(ROUTE).items() if isinstance(c, Conversation)}


def install(host: ConversationHost) -> None:
    """Answer conversation messages for rooms ``host`` does not hold with a catalogued drop."""
    for message_type in sorted(REQUESTS | RELAY_ONLY, key=lambda t: t.TYPE):
        host.set_factory(message_type, _unknown_room)


def _unknown_room(host: object, env: wire.Envelope, now: float) -> list[Effect]:
    msg = env.message
    room = getattr(msg, ROUTE, None)
    return [Drop(RegistryDrop.UNKNOWN_ROOM, f"{msg.TYPE} for room {room!r}")]


def _get(
    host: ConversationHost,
    kind: type[Conversation],
    name: str,
    moderated: bool,
    password: str | None,
    settings: ConversationSettings | None,
) -> Conversation:
    if not isinstance(name, str) or not name or len(name) > 256:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "a room name is a string of 1-256 chars")
    found = host.child(ROUTE, name)
    if isinstance(found, Conversation):
        if type(found) is kind:
            return found
        if found.state is not ConversationState.NOT_JOINED or found.outstanding():
            raise RtcError(
                ErrorNumber.ERROR_WRONG_STATE,
                f"{name!r} is held as a {found.KIND} in state {found.state.name}",
            )
    conv = kind(
        name,
        host.address,
        settings=settings or ConversationSettings(),
        ids=host.ids,
        host=host,
        moderated=moderated,
        password=password,
    )
    host.attach(ROUTE, name, conv)
    return conv
