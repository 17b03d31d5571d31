"""apiRTC's Call and ReceivedCallInvitation (payload of ``incomingCall``).

Theory of operation
-------------------
Thin wrappers over a core :class:`rtcstate.call.Call` and
:class:`rtcstate.invitation.ReceivedCallInvitation`, made by the :class:`Session` (one per core
object) when an event or a command first names them. ``hangup()``, ``mute()``, ``accept()``,
``decline()`` call the core at once through the session's runtime (a misuse raises the core's
:class:`~rtcstate.errors.RtcError` and nothing changes); the events come back through the
session's routing. ``_ended`` tells the session when it may forget the wrapper.
``start_recording()`` / ``stop_recording()`` await the core's
:class:`~rtcstate.recording.RecordingOutcome` (the runtime hands it to the session's
outcomes): the core's call keeps apiRTC's 10 s (start: rejects) and 5 s (stop: resolves with
the last info) bounds as its own timers; no timer decision lives here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rtcstate import call as core_call
from rtcstate import invitation as core_inv
from rtcstate.codes import CallStatus, HangupReason, InvitationStatus
from rtcstate_asyncio.typed import CallEvents, ReceivedCallInvitationEvents
from rtcstate_asyncio.wrapper import ReceivedInvitation, Wrapper

if TYPE_CHECKING:
    from rtcstate_asyncio.agent import Contact

__all__ = ["Call", "ReceivedCallInvitation"]


class Call(Wrapper[core_call.Call], CallEvents):
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

    def hang_up(self, reason: str | HangupReason | None = None) -> None:
        """``hangUp()``; ``hangup {from: "local"}`` fires when the far side acknowledges.
        ``reason``: rtcstate's extension (apiRTC sends its default). Raises
        ``ERROR_WRONG_STATE`` (16) once ended (apiRTC logs and does nothing)."""
        self.session.runtime.run(lambda now: self.core.hangup(now, reason))

    #: the name rtcstate used first (the event's spelling); same method
    hangup = hang_up

    def mute(self, kind: str = "audio") -> None:
        self.session.runtime.run(lambda now: self.core.mute(now, kind))

    async def start_recording(self) -> dict[str, Any]:
        """``startRecording()``: the RecordingInfo of ``recordingStarted``. Raises at once what
        the core raises (not ONGOING: 16; already on: 12); ``ERROR_STREAM_RECORD`` (12) when
        the media stack fails it (``error RECORDING_FAILED``), ``ERROR_TIMED_OUT`` (11) after
        apiRTC's 10 s (the core's timer)."""
        return await self._recording("start")

    async def stop_recording(self) -> dict[str, Any]:
        """``stopRecording()``: the RecordingInfo of ``recordingAvailable`` (the file written:
        ``mediaURL``); after apiRTC's 5 s without it (the core's timer), resolves with the last
        info known (as apiRTC does). Raises ``ERROR_STREAM_RECORD`` (12) when not recording."""
        return await self._recording("stop")

    async def _recording(self, command: str) -> dict[str, Any]:
        outcomes = self.session._outcomes
        target = self.core.target
        future = outcomes.expect_recording(target, command)
        try:
            if command == "start":
                self.session.runtime.run(lambda now: self.core.start_recording(now))
            else:
                self.session.runtime.run(lambda now: self.core.stop_recording(now))
        except BaseException:
            outcomes.forget_recording(target, command)
            future.cancel()
            raise
        info: dict[str, Any] = await future
        return info

    def unmute(self, kind: str = "audio") -> None:
        self.session.runtime.run(lambda now: self.core.unmute(now, kind))


class ReceivedCallInvitation(
    ReceivedInvitation[core_inv.ReceivedCallInvitation], ReceivedCallInvitationEvents
):
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
