"""apiRTC's Call and ReceivedCallInvitation (payload of ``incomingCall``).

Theory of operation
-------------------
Thin wrappers over a core :class:`rtcstate.call.Call` and
:class:`rtcstate.invitation.ReceivedCallInvitation`, made by the :class:`Session` (one per core
object) when an event or a command first names them. ``hangup()``, ``mute()``, ``accept()``,
``decline()`` call the core at once through the session's runtime (a misuse raises the core's
:class:`~rtcstate.errors.RtcError` and nothing changes); the events come back through the
session's routing. ``_ended`` tells the session when it may forget the wrapper.
``start_recording()`` / ``stop_recording()`` settle on the call's recording events, with
apiRTC's 10 s (start: rejects) and 5 s (stop: resolves with the last info) bounds, kept here
because the core's 1-1 call has no recording timers yet (a conversation's recording has them,
in :class:`rtcstate.recording.Recording`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rtcstate import call as core_call
from rtcstate import invitation as core_inv
from rtcstate.codes import CallStatus, ErrorCode, ErrorNumber, HangupReason, InvitationStatus
from rtcstate.errors import RtcError
from rtcstate.recording import START_TIMEOUT, STOP_TIMEOUT
from rtcstate_asyncio.emitter import EventStream
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
        apiRTC's 10 s."""
        events = self._events("recordingStarted", "error")
        try:
            self.session.runtime.run(lambda now: self.core.start_recording(now))
            return await _recording_outcome(events, "recordingStarted", START_TIMEOUT)
        finally:
            events.close()

    async def stop_recording(self) -> dict[str, Any]:
        """``stopRecording()``: the RecordingInfo of ``recordingAvailable`` (the file written:
        ``mediaURL``); after apiRTC's 5 s without it, resolves with the last info known (as
        apiRTC does). Raises ``ERROR_STREAM_RECORD`` (12) when not recording."""
        events = self._events("recordingStopped", "recordingAvailable", "error")
        last: dict[str, Any] = {"callId": self.id}
        try:
            self.session.runtime.run(lambda now: self.core.stop_recording(now))
            async with asyncio.timeout(STOP_TIMEOUT):
                while True:
                    event = await events.next()
                    if event.name == "recordingStopped":
                        last = dict(event.payload)
                    elif event.name == "recordingAvailable":
                        return dict(event.payload)
                    elif _recording_failed(event.payload):
                        raise RtcError(ErrorNumber.ERROR_STREAM_RECORD, "RECORDING_FAILED")
        except TimeoutError:
            return last
        finally:
            events.close()

    def unmute(self, kind: str = "audio") -> None:
        self.session.runtime.run(lambda now: self.core.unmute(now, kind))


def _recording_failed(payload: Any) -> bool:
    return (
        isinstance(payload, dict) and payload.get("errorCode") == ErrorCode.RECORDING_FAILED.value
    )


async def _recording_outcome(events: EventStream[Any], name: str, timeout: float) -> dict[str, Any]:
    try:
        async with asyncio.timeout(timeout):
            while True:
                event = await events.next()
                if event.name == name:
                    return dict(event.payload)
                if _recording_failed(event.payload):
                    raise RtcError(ErrorNumber.ERROR_STREAM_RECORD, "RECORDING_FAILED")
    except TimeoutError:
        raise RtcError(ErrorNumber.ERROR_TIMED_OUT, f"no {name} within {timeout} s") from None


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
