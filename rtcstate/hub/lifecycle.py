"""The life of one hub connection, as a declared table: unregistered -> registered -> closing.

Theory of operation
-------------------
A transport connection starts UNREGISTERED (``connect``); it must ``Register`` within
``register_timeout`` or it is closed. A successful ``Register`` makes it REGISTERED (again, to
move to another address); ``Unregister`` makes it UNREGISTERED again (and re-arms the
registration timeout). Anything that makes the hub close it (abuse, a refused token, a
timeout, a takeover by the same identity, a slow consumer) makes it CLOSING, which is final:
its frames are dropped until the adapter reports ``disconnect``, when it is forgotten. The
counters of its source address and identity stay exact because the record lives until then.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from rtcstate.hub.limits import TokenBucket
from rtcstate.hub.presence import ConnPresence
from rtcstate.hub.routing import Space
from rtcstate.identity import Identity
from rtcstate.machine import machine

__all__ = ["LIFECYCLE", "ConnState", "Connection"]


class ConnState(enum.Enum):
    UNREGISTERED = "UNREGISTERED"
    REGISTERED = "REGISTERED"
    CLOSING = "CLOSING"


LIFECYCLE: list[dict[str, Any]] = [
    {"trigger": "register", "source": ["UNREGISTERED", "REGISTERED"], "dest": "REGISTERED"},
    {"trigger": "unregister", "source": "REGISTERED", "dest": "UNREGISTERED"},
    {"trigger": "close", "source": ["UNREGISTERED", "REGISTERED"], "dest": "CLOSING"},
]


@machine(ConnState, LIFECYCLE, initial=ConnState.UNREGISTERED, final=[ConnState.CLOSING])
@attrs.define(slots=True, eq=False)
class Connection:
    """One transport connection as the hub knows it."""

    id: str
    source: str | None
    bucket: TokenBucket
    #: when it last became unregistered (for the registration timeout)
    since: float
    #: when it last sent a frame (for the idle timeout)
    last_seen: float
    state: ConnState = ConnState.UNREGISTERED
    identity: Identity | None = None
    address: str | None = None
    #: the tenant's address space it is registered in
    space: Space | None = None
    strikes: int = 0
    #: counted in its source address's open connections
    counted: bool = False
    presence: ConnPresence = attrs.field(factory=ConnPresence)
