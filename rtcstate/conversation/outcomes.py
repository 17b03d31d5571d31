"""Resolve / Reject: the outcome of a conversation request, for the promise an adapter returns.

Theory of operation
-------------------
Every conversation command (join, a message, publish, subscribe...) is a request to the relay;
its answer is one of these two effects, named by the request's id and command. They live apart
from the conversation machine so that its media book
(:mod:`rtcstate.conversation.media`), which the machine owns, can use them without an import
circle.
"""

from __future__ import annotations

from typing import Any

import attrs

from rtcstate.effects import Effect

__all__ = ["Reject", "Resolve"]


@attrs.frozen(slots=True)
class Resolve(Effect):
    """Request ``request_id`` (a ``command``) succeeded: resolve its promise with ``value``."""

    target: str
    request_id: str
    command: str
    value: Any = None


@attrs.frozen(slots=True)
class Reject(Effect):
    """Request ``request_id`` failed: reject its promise with apiRTC number ``code``
    (``version``: the current data version, for a lost compare-and-set)."""

    target: str
    request_id: str
    command: str
    code: int
    info: str = ""
    version: int | None = None
