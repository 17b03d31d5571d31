"""Host: the narrow interface a child machine is given by the session that holds it.

Theory of operation
-------------------
Calls, invitations, data channels and file transfers live inside a
:class:`~rtcstate.session.Session`, which routes their inputs, books their timers and detaches
them when they end. They need a few things of it (its address and settings, to book the effects
of a command, to register a child) and nothing else, so they are handed a :class:`Host`, a
``Protocol`` the session satisfies structurally, instead of importing the session module: the
core's imports then draw as a tree, the session at the top (``tests/test_import_graph.py``).

Children never read or write the session's private fields; a child that needs more of its
host (a call that indexes itself for presence, a factory that looks calls up) extends this
protocol next to itself (:class:`~rtcstate.call.CallHost`,
:class:`~rtcstate.call_factory.FactoryHost`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from rtcstate import wire
from rtcstate.effects import Effect
from rtcstate.ids import IdSource
from rtcstate.media import Capabilities
from rtcstate.settings import CallSettings

__all__ = ["Host", "HostFactory"]

HostFactory = Callable[[Any, wire.Envelope, float], list[Effect]]
"""Creates a child for a message that opens a new object; called with the host."""


class Host(Protocol):
    """What a child machine may ask of the session holding it."""

    @property
    def address(self) -> str:
        """This device's address on the relay (``user/device``)."""

    @property
    def settings(self) -> CallSettings:
        """The call settings now in force (``set_option`` may replace them)."""

    @property
    def capabilities(self) -> Capabilities:
        """What the media stack reported it can do."""

    @property
    def ids(self) -> IdSource:
        """The injected id source."""

    @property
    def state(self) -> enum.Enum:
        """The session's state (named in the errors of commands that need a connection)."""

    @property
    def connected(self) -> bool:
        """Whether the session is registered with the server (commands need it)."""

    def child_output(self, child: Any, fx: list[Effect], key: str | None = None) -> list[Effect]:
        """Book the effects of a command ``child`` ran (timers; detach once ended)."""

    def timer_armed(self, timer_id: str) -> bool:
        """Whether ``timer_id`` is armed, as far as the session's effects say."""

    def attach(self, route: str, key: str, child: Any) -> None:
        """Register ``child`` under ``route``/``key``."""

    def detach(self, route: str, key: str) -> list[Effect]:
        """Forget a child and cancel every timer it left armed."""

    def child(self, route: str, key: str) -> object:
        """The child registered under ``route``/``key`` (None if none)."""

    def child_count(self, route: str) -> int:
        """How many children are registered under ``route``."""

    def set_factory(self, message_type: type[wire.Message], factory: HostFactory) -> None:
        """Install the creator of children for messages that open a new object."""

    def recently_ended(self, call_id: str) -> bool:
        """Whether ``call_id`` ended (or was refused) lately."""

    def track_invitation(self, invitation: Any, now: float) -> list[Effect]:
        """Hold a sent invitation its owner has just built."""

    def children(self, route: str) -> Mapping[str, Any]:
        """A read-only view of the children registered under ``route``."""
