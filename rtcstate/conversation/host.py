"""ConversationHost: what a conversation needs of the session holding it.

Theory of operation
-------------------
A :class:`~rtcstate.conversation.machine.Conversation` talks to the relay only (every request
goes to the server, ``Send(None, request)``), so it needs less of its session than a call: its
own address (to tell its own user from others in ``participantEjected``), ids for its requests,
and the session's bookkeeping of the effects of a command (timers). It is handed a
:class:`ConversationHost`, the narrow :class:`~rtcstate.host.Host` protocol plus nothing a
conversation may not ask, and never imports the session module.

What the session must do for its conversations (the wiring that comes later):

* hold them by room name under the ``room`` route (the ``ROUTE`` of every conversation
  message, :mod:`rtcstate.wire_conversation`), creating one on ``get_conversation(name)`` /
  ``get_conference(name)``; a message for a room it holds no conversation of is dropped;
* route timer expiries ``conversation:<name>:<timer>`` to ``timer_fired(<timer>, now)``;
* call ``on_disconnected(now)`` when the relay connection is lost and ``on_reconnected(now)``
  once registered again (the conversation then rejoins: the relay forgot it at disconnect);
* carry out the effects, including the conversation's own :class:`Resolve` / :class:`Reject`
  (the outcome of a request, for the promise an asyncio adapter returns).
"""

from __future__ import annotations

from typing import Protocol

from rtcstate.host import Host

__all__ = ["ConversationHost"]


class ConversationHost(Host, Protocol):
    """What a conversation may ask of the session holding it (the :class:`Host` protocol:
    ``address``, ``ids``, ``connected``, ``child_output``; nothing more)."""
