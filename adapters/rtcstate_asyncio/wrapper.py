"""The common shape of the API's objects: a thin wrapper over one core object.

Theory of operation
-------------------
Each application-facing object (a call, an invitation, a data channel, a sent file) wraps one
core machine, made by the :class:`~rtcstate_asyncio.agent.Session` the first time an event or a
command names it (one wrapper per core object). Commands call the core at once through the
session's runtime; events come back through the session's routing to :meth:`Emitter._fire`.
``_ended`` tells the session when it may forget the wrapper. :class:`Wrapper` holds what every
wrapper shares (the core object, its id, its repr, when it ended); :class:`ReceivedInvitation`
adds what every received invitation shares (who sent it, ``decline``, it ends with its call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from rtcstate.codes import HangupReason
from rtcstate.effects import Effect
from rtcstate_asyncio.emitter import Emitter

if TYPE_CHECKING:
    from rtcstate_asyncio.agent import Contact, Session

__all__ = ["ReceivedInvitation", "Wrapper"]


class _Core(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def status(self) -> Any: ...


class _Ended(Protocol):
    @property
    def ended(self) -> bool: ...


class _Received(_Core, Protocol):
    @property
    def sender(self) -> str: ...

    @property
    def call(self) -> _Ended: ...

    def decline(self, now: float, reason: str | HangupReason = ...) -> list[Effect]: ...


C = TypeVar("C", bound=_Core)
R = TypeVar("R", bound=_Received)


class Wrapper(Emitter, Generic[C]):
    """One core object seen by the application."""

    def __init__(self, session: Session, core: C) -> None:
        super().__init__()
        self.session = session
        self.core = core

    @property
    def id(self) -> str:
        """``getId()``."""
        return self.core.id

    def _ended(self) -> bool:
        ended: bool = getattr(self.core, "ended", False)
        return ended

    def __repr__(self) -> str:
        return f"<{self.API_CLASS} {self.id} {self.core.status.value}>"


class ReceivedInvitation(Wrapper[R]):
    """A received invitation carried by a call: it ends with its call."""

    @property
    def sender(self) -> Contact:
        """``getSender()``: who invites."""
        return self.session.get_contact(self.core.sender)

    def decline(self, reason: str | HangupReason = HangupReason.USER_REFUSED_CALL) -> None:
        """``decline(reason)``: refuse (ignored when no longer pending, as apiRTC)."""
        self.session.runtime.run(lambda now: self.core.decline(now, reason))

    def _ended(self) -> bool:
        return self.core.call.ended
