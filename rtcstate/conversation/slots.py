"""CallSlot: a conversation call as the session sees it (media reports and timers by call id).

Theory of operation
-------------------
A :class:`~rtcstate.conversation.call.ConversationCall` signals through its room (every
``conv_*`` message routes by ``room`` to its :class:`~rtcstate.conversation.machine.Conversation`),
but its media reports name it by ``call_id`` and its timers are spelled
``conversationCall:<call_id>:<name>``. So that the session routes those without parsing strings,
the conversation registers one :class:`CallSlot` per live call under the session route
:data:`ROUTE` (``ccall_id``, kind ``conversationCall`` in
:data:`~rtcstate.session_router.ROUTE_KINDS`): a media report whose ``call_id`` no 1-1 call
holds is looked up there, and a timer booked under the kind comes back to the slot.

A slot owns nothing: it hands the input to the conversation's media book
(:class:`~rtcstate.conversation.media.ConversationMedia`) and is *ended* once its call is. The
session detaches a slot that ends on its own input (cancelling any timer left); the
conversation detaches the slots of calls that ended on any other input (leave, ejection, room
closed, a stream removed, a bye, the relay connection lost): no timer outlives its call. Wire
messages never reach a slot (none routes by ``ccall_id``); one that did would be dropped.

A recording in progress (``startRecording`` of a published stream) has a slot too, a
:class:`RecordingSlot` keyed by the recorded stream's id: the adapter's ``RecordingReport``
names that id as its ``call_id`` and the recording's timers are spelled
``conversationCall:<stream id>:start|stop``, so its reports and its 10 s / 5 s timers reach it
the same way. It ends once the recording is idle again.
"""

from __future__ import annotations

import attrs

from rtcstate import wire
from rtcstate.conversation.call import ConversationCall, ConversationCallState
from rtcstate.conversation.media import ConversationMedia, MediaDrop
from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect
from rtcstate.recording import Recording

__all__ = ["KIND", "ROUTE", "CallSlot", "RecordingSlot", "SlotDrop"]

ROUTE = "ccall_id"
"""The session route a conversation's calls are registered under (by call id)."""
KIND = "conversationCall"
"""The kind spelling their timers (``conversationCall:<call_id>:<name>``)."""


class SlotDrop(DropReason):
    """Why a conversation call's slot ignored an input on purpose."""

    NOT_ROUTED = "not-routed-here"
    """A wire message or connection report: a conversation call hears those through its
    conversation, never by its call id."""


@attrs.define(slots=True, eq=False)
class CallSlot:
    """The session's handle on one conversation call (see the module's theory of operation)."""

    media: ConversationMedia
    call: ConversationCall

    @property
    def ended(self) -> bool:
        return self.call.state is ConversationCallState.ENDED

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        return [Drop(SlotDrop.NOT_ROUTED, env.message.TYPE)]

    def media_event(self, event: object, now: float) -> list[Effect]:
        if self.ended:
            return [Drop(MediaDrop.UNKNOWN_CALL, self.call.call_id)]
        return self.media.media_event(event, now)

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        return self.media.timer_fired(f"{KIND}:{self.call.call_id}:{name}", now)

    def close(self, now: float) -> list[Effect]:
        """The session closes (``unregister``): the call's connection closes, without a bye."""
        return [] if self.ended else self.call.abort(now)

    def on_disconnected(self, now: float) -> list[Effect]:
        return []  # the conversation tears its calls down

    def on_reconnected(self, now: float) -> list[Effect]:
        return []


@attrs.define(slots=True, eq=False)
class RecordingSlot:
    """The session's handle on one recording of a published stream (keyed by its id)."""

    media: ConversationMedia
    recording: Recording

    @property
    def ended(self) -> bool:
        return not self.recording.recording

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        return [Drop(SlotDrop.NOT_ROUTED, env.message.TYPE)]

    def media_event(self, event: object, now: float) -> list[Effect]:
        return self.media.media_event(event, now)

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        return self.media.timer_fired(f"{KIND}:{self.recording.media_id}:{name}", now)

    def close(self, now: float) -> list[Effect]:
        return []

    def on_disconnected(self, now: float) -> list[Effect]:
        return []

    def on_reconnected(self, now: float) -> list[Effect]:
        return []
