"""The effect vocabulary: what a machine asks its adapter to do.

Every input to an rtcstate machine returns ``list[Effect]``, in the order the adapter must carry
them out. Effects are frozen attrs values that compare by value, so a test reads as "these
inputs give exactly these effects".

Kinds (DESIGN.md §2):

* signaling: :class:`Send` (a wire message to an address), :class:`OpenTransport` /
  :class:`CloseTransport` (the connection to the signaling server);
* application: :class:`Emit` (an apiRTC event, with its exact name, on a target object);
* time: :class:`StartTimer` / :class:`CancelTimer` (deadlines are absolute, on the caller's
  monotonic clock: the ``now`` the machine was given plus a delay);
* media: peer connection, SDP, ICE, data channel and local media commands;
* diagnostics: :class:`Drop` (an input was discarded on purpose, and why).

Targets of :class:`Emit` are strings naming the object the event fires on, built with
:func:`target`: ``"userAgent"``, ``"session"``, ``"call:<id>"``, ``"invitation:<id>"``,
``"contact:<id>"``, ``"conversation:<name>"``, ``"dataChannel:<id>"``.
"""

from __future__ import annotations

from typing import Any

import attrs

from rtcstate.wire import Message

__all__ = [
    "SESSION",
    "USER_AGENT",
    "AcquireMedia",
    "AddIceCandidate",
    "CancelTimer",
    "CloseDataChannel",
    "ClosePeerConnection",
    "CloseTransport",
    "CreateAnswer",
    "CreateOffer",
    "CreatePeerConnection",
    "Drop",
    "Effect",
    "Emit",
    "OpenDataChannel",
    "OpenTransport",
    "PublishStream",
    "ReleaseMedia",
    "RestartIce",
    "Send",
    "SendData",
    "SetRemoteDescription",
    "SetTrackEnabled",
    "StartRecording",
    "StartTimer",
    "StopRecording",
    "target",
]

USER_AGENT = "userAgent"
SESSION = "session"


def target(kind: str, ident: str) -> str:
    """The :class:`Emit` target naming object ``ident`` of ``kind`` (``"call"``, …)."""
    return f"{kind}:{ident}"


@attrs.frozen(slots=True)
class Effect:
    """Base class of every effect."""


# --- signaling --------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Send(Effect):
    """Send ``message`` to address ``to`` (``None``: to the server itself)."""

    to: str | None
    message: Message


@attrs.frozen(slots=True)
class OpenTransport(Effect):
    """Open the connection to the signaling server at ``url``.

    The adapter reports the outcome with ``Session.connection_made`` or
    ``Session.connection_failed``.
    """

    url: str


@attrs.frozen(slots=True)
class CloseTransport(Effect):
    """Close the connection to the signaling server (no report expected)."""


# --- application events -----------------------------------------------------------------------


@attrs.frozen(slots=True)
class Emit(Effect):
    """Fire apiRTC event ``event`` on object ``target`` with ``payload``.

    ``payload`` is what apiRTC documents for the event: usually a mapping of its fields,
    ``None`` for ``Void`` events, a plain value where apiRTC passes one (Contact ``joinGroup``
    carries the group name, Call ``response`` ``"accepted"``/``"declined"``). Adapters
    deliver it to the application's listeners.
    """

    target: str
    event: str
    payload: Any = None


# --- time -------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class StartTimer(Effect):
    """Arm timer ``timer_id`` to fire at ``deadline`` (same clock as ``now``).

    Starting a timer that is already armed re-arms it. When it fires, the adapter calls
    ``timer_fired(timer_id, now)``.
    """

    timer_id: str
    deadline: float


@attrs.frozen(slots=True)
class CancelTimer(Effect):
    """Disarm timer ``timer_id``; a no-op if it is not armed."""

    timer_id: str


# --- media ------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class CreatePeerConnection(Effect):
    """Create the peer connection of call ``call_id`` (ICE servers from the adapter config)."""

    call_id: str
    polite: bool = False


@attrs.frozen(slots=True)
class ClosePeerConnection(Effect):
    """Close and forget the peer connection of ``call_id``."""

    call_id: str


@attrs.frozen(slots=True)
class CreateOffer(Effect):
    """Create and apply a local offer; reported as a local description ready/failed.

    The offer of a *data* call (no media) must already carry a data section (``m=application``,
    SCTP): the core opens the call's RTCDataChannel only once ICE is connected, and an offer
    with nothing in it gives ICE nothing to connect (a stack that adds the section only with
    its first channel can pre-negotiate one unused channel, as ``rtcstate_aiortc`` does)."""

    call_id: str
    ice_restart: bool = False


@attrs.frozen(slots=True)
class CreateAnswer(Effect):
    """Create and apply a local answer to the applied remote offer."""

    call_id: str


@attrs.frozen(slots=True)
class SetRemoteDescription(Effect):
    """Apply a remote description (``sdp_type`` is ``"offer"`` or ``"answer"``)."""

    call_id: str
    sdp_type: str
    sdp: str


@attrs.frozen(slots=True)
class AddIceCandidate(Effect):
    """Add a remote ICE candidate (an empty ``candidate`` marks end of candidates)."""

    call_id: str
    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


@attrs.frozen(slots=True)
class RestartIce(Effect):
    """Restart ICE on ``call_id``; stacks without ``restartIce`` build a new connection."""

    call_id: str


@attrs.frozen(slots=True)
class OpenDataChannel(Effect):
    """Open data channel ``channel_id`` with ``label`` on the connection of ``call_id``."""

    call_id: str
    channel_id: str
    label: str


@attrs.frozen(slots=True)
class CloseDataChannel(Effect):
    """Close data channel ``channel_id``."""

    channel_id: str


@attrs.frozen(slots=True)
class SendData(Effect):
    """Send ``data`` on data channel ``channel_id``."""

    channel_id: str
    data: bytes | str


@attrs.frozen(slots=True)
class AcquireMedia(Effect):
    """Acquire local media for ``request_id`` (``call_type`` as in apiRTC's CallType).

    A call asks with ``request_id`` = its ``call_id``: the stream reported back
    (``MediaAcquired(request_id, stream_id)``) is the one that call's peer connection sends. A
    stream the application gives (``Session.call(stream_id=...)``) comes with
    :class:`PublishStream` instead."""

    request_id: str
    call_type: str
    audio: bool = True
    video: bool = True


@attrs.frozen(slots=True)
class ReleaseMedia(Effect):
    """Release the local media stream ``stream_id``."""

    stream_id: str


@attrs.frozen(slots=True)
class SetTrackEnabled(Effect):
    """Mute (``enabled`` False) or unmute the local ``kind`` (``audio``/``video``) of a call."""

    call_id: str
    kind: str
    enabled: bool


@attrs.frozen(slots=True)
class PublishStream(Effect):
    """Replace the tracks sent on ``call_id`` by those of local stream ``stream_id``."""

    call_id: str
    stream_id: str


@attrs.frozen(slots=True)
class StartRecording(Effect):
    """Start recording call ``call_id``; reported back as ``RecordingReport`` events."""

    call_id: str


@attrs.frozen(slots=True)
class StopRecording(Effect):
    """Stop recording call ``call_id``; the adapter reports ``stopped`` then ``available``."""

    call_id: str


# --- diagnostics ------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Drop(Effect):
    """An input was discarded on purpose (a late or duplicated report, a stale timer).

    Adapters may log it; applications never see it. ``reason`` is a short machine-readable
    word (``"stale-timer"``, ``"unknown-call"``, …) and ``detail`` says more.
    """

    reason: str
    detail: str = ""
