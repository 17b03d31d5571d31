"""apiRTC's Call and ReceivedCallInvitation (payload of ``incomingCall``).

Theory of operation
-------------------
Thin wrappers over a core :class:`rtcstate.call.Call` and
:class:`rtcstate.invitation.ReceivedCallInvitation`, made by the :class:`Session` (one per core
object) when an event or a command first names them. ``hangup()``, ``mute()``, ``accept()``,
``decline()`` call the core at once through the session's runtime (a misuse raises the core's
:class:`~rtcstate.errors.RtcError` and nothing changes); the events come back through the
session's routing. ``_ended`` tells the session when it may forget the wrapper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rtcstate import call as core_call
from rtcstate import invitation as core_inv
from rtcstate.codes import CallStatus, HangupReason, InvitationStatus
from rtcstate_asyncio.wrapper import ReceivedInvitation, Wrapper

if TYPE_CHECKING:
    from rtcstate_asyncio.agent import Contact

__all__ = ["Call", "ReceivedCallInvitation"]


class Call(Wrapper[core_call.Call]):
    """apiRTC's Call."""

    API_CLASS = "Call"

    @property
    def status(self) -> CallStatus:
        """``getStatus()``."""
        return self.core.status

    @property
    def contact(self) -> Contact:
        """``getContact()``: the far side."""
        return self.session.get_contact(self.core.contact)

    @property
    def is_outgoing(self) -> bool:
        return self.core.outgoing

    def hangup(self, reason: str | HangupReason | None = None) -> None:
        """``hangUp()``; ``hangup {from: "local"}`` fires when the far side acknowledges."""
        self.session.runtime.run(lambda now: self.core.hangup(now, reason))

    def mute(self, kind: str = "audio") -> None:
        self.session.runtime.run(lambda now: self.core.mute(now, kind))

    def unmute(self, kind: str = "audio") -> None:
        self.session.runtime.run(lambda now: self.core.unmute(now, kind))


class ReceivedCallInvitation(ReceivedInvitation[core_inv.ReceivedCallInvitation]):
    """apiRTC's ReceivedCallInvitation (payload of ``incomingCall``)."""

    API_CLASS = "ReceivedCallInvitation"

    @property
    def status(self) -> InvitationStatus:
        return self.core.status

    @property
    def call_type(self) -> str:
        return self.core.call_type

    def accept(self, *, audio_only: bool = False) -> Call:
        """Accept: the :class:`Call` (ONGOING); raises ``ERROR_INVITATION_STATE_INVALID``
        (10) when the invitation is not pending."""
        self.session.runtime.run(lambda now: self.core.accept(now, audio_only=audio_only))
        call = self.core.call
        assert isinstance(call, core_call.Call)  # the core's view of it is narrower
        return self.session._wrap_call(call)
