"""Stream: one local or remote media stream (apiRTC's ``Stream``), its tracks' state and events.

Theory of operation
-------------------
A stream is created by the application (``ua.create_stream``: a local stream whose tracks the
adapter holds) or by a call or conversation call when remote tracks arrive (a remote stream).
It is LIVE until it is released (``release()``, or its last track released or ended): then it
is RELEASED, a final state, and every command raises 16 ERROR_WRONG_STATE.

Per kind (``audio``/``video``) it keeps: *available* (the stream has that track), *enabled*
(the application's switch: ``enableAudio``/``disableAudio``, and the deprecated
``muteAudio``/``unmuteAudio``), *muted* (the track carries no media: reported by the media
stack) and *active* (the far side's switch, for a remote stream: reported from signaling). A
command on a kind the stream lacks raises 9 ERROR_BAD_PARAMETER and changes nothing.

Events, on ``stream:<id>`` (payloads as apiRTC §1.13): an enable/disable or a mute report gives
``flowStatusChanged {type, enabled, muted}`` and ``audioFlowStatusChanged`` /
``videoFlowStatusChanged {enabled, muted}``; the far side's switch gives
``remoteAudioFlowStatusChanged`` / ``remoteVideoFlowStatusChanged {enabled, muted}``, then
``activeStateChange {streamId, callId, type, active}`` and the deprecated ``muteStateChange
{streamId, callId, type, muted}``; a track ending or released gives ``trackStopped {type,
id}``; ``release()`` gives ``release`` then ``stopped {streamId, callId}`` (``stopped`` also
when the last track ends); an applied constraint set gives ``constraintsChanged``; an audio
level report gives ``audioAmplitude`` (the amplitude, 0-100) and ``audioAmplitudeInfo
{amplitude, isSpeaking}`` (speaking: amplitude at or above :attr:`Stream.speaking_threshold`).
A local stream published in conversations also fires ``localStreamUpdated`` on each of them
when the application switches a kind (``cause: "userAction"``); a remote stream fires
``remoteStreamUpdated`` on its conversation when the far side does.

Media commands (effects for the adapter): :class:`SetStreamTrackEnabled`,
:class:`ReleaseTrack`, :class:`~rtcstate.effects.ReleaseMedia` (local streams only: a remote
stream's tracks belong to its peer connection) and :class:`ApplyConstraints`. Reports (inputs,
routed by ``stream_id``): :class:`StreamTrackMuted`, :class:`StreamTrackEnded`,
:class:`AudioLevel`, :class:`ConstraintsApplied`, :class:`RemoteFlowChanged`.

The session routes the reports to a stream the application created (``ua.create_stream``)
when it is attached under the ``stream_id`` route (:data:`~rtcstate.session_router.ROUTE_KINDS`;
the stream then implements the session's child protocol: no wire message, no timer); a
released stream is detached at its next report.

Inputs are data: :data:`STREAM_INPUTS` and :data:`STREAM_VERDICTS` (every report to a
released stream is dropped with :attr:`StreamDrop.RELEASED`; a report about a kind the stream
does not have with :attr:`StreamDrop.NO_SUCH_TRACK`). A report never raises. The stream owns no
timer and no wire message. The table decides what a local and a remote stream do differently
(only a local one tells the adapter to switch or release its tracks and fires
``localStreamUpdated``; only a remote one fires ``remoteStreamUpdated``) and that a switch or a
report that changes nothing fires nothing: guarded rows, tried in order, not branches in the
callbacks.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from rtcstate.codes import ErrorNumber
from rtcstate.drops import DropReason
from rtcstate.effects import Drop, Effect, Emit, ReleaseMedia, target
from rtcstate.errors import RtcError
from rtcstate.machine import ILLEGAL, Ignore, Inputs, machine, spec_of, stay
from rtcstate.media import MediaEvent

__all__ = [
    "KINDS",
    "STREAM_INPUTS",
    "STREAM_TRANSITIONS",
    "STREAM_VERDICTS",
    "ApplyConstraints",
    "AudioLevel",
    "ConstraintsApplied",
    "ReleaseTrack",
    "RemoteFlowChanged",
    "SetStreamTrackEnabled",
    "Stream",
    "StreamDrop",
    "StreamState",
    "StreamTrackEnded",
    "StreamTrackMuted",
]

KINDS = ("audio", "video")


class StreamDrop(DropReason):
    """Why a stream ignored a report on purpose."""

    UNEXPECTED = "unexpected-input"
    """A report this stream declares nothing for."""
    RELEASED = "stream-released"
    """A report about a stream already released (late: its tracks are gone)."""
    NO_SUCH_TRACK = "no-such-track"
    """A report about a kind (audio/video) the stream has no track of, or a kind that is
    neither."""


class StreamState(enum.Enum):
    LIVE = "live"
    RELEASED = "released"


# --- media commands and reports ----------------------------------------------------------------


@attrs.frozen(slots=True)
class SetStreamTrackEnabled(Effect):
    """Enable or disable the ``kind`` track of stream ``stream_id`` (its media stops flowing to
    every peer connection sending it, without renegotiation)."""

    stream_id: str
    kind: str
    enabled: bool


@attrs.frozen(slots=True)
class ReleaseTrack(Effect):
    """Stop the ``kind`` track of local stream ``stream_id`` (``releaseAudio``/``releaseVideo``)."""

    stream_id: str
    kind: str


@attrs.frozen(slots=True)
class ApplyConstraints(Effect):
    """Apply media ``constraints`` to stream ``stream_id``; reported by
    :class:`ConstraintsApplied`."""

    stream_id: str
    constraints: Mapping[str, Any]


@attrs.frozen(slots=True)
class StreamTrackMuted(MediaEvent):
    """The ``kind`` track of ``stream_id`` stopped (``muted``) or resumed carrying media."""

    ROUTE: ClassVar[str] = "stream_id"
    stream_id: str
    kind: str
    muted: bool


@attrs.frozen(slots=True)
class StreamTrackEnded(MediaEvent):
    """The ``kind`` track ``track_id`` of ``stream_id`` ended (device gone, file over)."""

    ROUTE: ClassVar[str] = "stream_id"
    stream_id: str
    kind: str
    track_id: str = ""


@attrs.frozen(slots=True)
class AudioLevel(MediaEvent):
    """The audio level of ``stream_id``, ``level`` in [0, 1] (the adapter's measure)."""

    ROUTE: ClassVar[str] = "stream_id"
    stream_id: str
    level: float


@attrs.frozen(slots=True)
class ConstraintsApplied(MediaEvent):
    """``constraints`` now apply to ``stream_id``."""

    ROUTE: ClassVar[str] = "stream_id"
    stream_id: str
    constraints: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class RemoteFlowChanged(MediaEvent):
    """The far side switched its ``kind`` of ``stream_id`` on (``enabled``) or off."""

    ROUTE: ClassVar[str] = "stream_id"
    stream_id: str
    kind: str
    enabled: bool
    muted: bool = False


# --- the table ---------------------------------------------------------------------------------

_ON = ("enable_audio", "enable_video", "unmute_audio", "unmute_video")
_OFF = ("disable_audio", "disable_video", "mute_audio", "mute_video")


def _switch_rows(trigger: str, changes: str, to: str) -> list[dict[str, Any]]:
    """A kind switched on or off: a local stream also tells the adapter (first) and its
    conversations (last); a switch to the state the kind is in already does nothing."""
    local = [to, "_tell_track_switch", "_flow_event", "_local_updated"]
    return [
        *stay(trigger, "LIVE", conditions=["_has_kind", changes, "_is_local"], after=local),
        *stay(trigger, "LIVE", conditions=["_has_kind", changes], after=[to, "_flow_event"]),
        *stay(trigger, "LIVE", conditions="_has_kind"),  # no change
    ]


_RELEASE_LOCAL = ["_drop_tracks", "_release_media", "_release_events"]
_RELEASE_REMOTE = ["_drop_tracks", "_release_events"]  # its tracks are its peer connection's

STREAM_TRANSITIONS: list[dict[str, Any]] = [
    *[row for t in _ON for row in _switch_rows(t, "_kind_disabled", "_enable")],
    *[row for t in _OFF for row in _switch_rows(t, "_kind_enabled", "_disable")],
    {"trigger": "release", "source": "LIVE", "dest": "RELEASED", "conditions": "_is_local",
     "after": _RELEASE_LOCAL},
    {"trigger": "release", "source": "LIVE", "dest": "RELEASED", "after": _RELEASE_REMOTE},
    {"trigger": "release_track", "source": "LIVE", "dest": "RELEASED",
     "conditions": ["_has_kind", "_last_track", "_is_local"], "after": _RELEASE_LOCAL},
    {"trigger": "release_track", "source": "LIVE", "dest": "RELEASED",
     "conditions": ["_has_kind", "_last_track"], "after": _RELEASE_REMOTE},
    *stay("release_track", "LIVE", conditions=["_has_kind", "_is_local"],
          after=["_forget_track", "_release_track_media", "_track_stopped"]),
    *stay("release_track", "LIVE", conditions="_has_kind",
          after=["_forget_track", "_track_stopped"]),
    *stay("apply_constraints", "LIVE", after="_apply_constraints"),
    # media reports
    *stay("track_muted", "LIVE", conditions=["_has_kind", "_mute_changes"],
          after="_track_muted"),
    *stay("track_muted", "LIVE", conditions="_has_kind"),  # as it was: no event
    {"trigger": "track_ended", "source": "LIVE", "dest": "RELEASED",
     "conditions": ["_has_kind", "_last_track"], "after": "_ended"},
    *stay("track_ended", "LIVE", conditions="_has_kind", after="_track_ended"),
    *stay("audio_level", "LIVE", after="_audio_level"),
    *stay("constraints_applied", "LIVE", after="_constraints_applied"),
    *stay("remote_flow", "LIVE", conditions=["_has_kind", "_flow_changes"], unless="_is_local",
          after=["_remote_flow", "_remote_updated"]),
    *stay("remote_flow", "LIVE", conditions=["_has_kind", "_flow_changes"],
          after="_remote_flow"),
    *stay("remote_flow", "LIVE", conditions="_has_kind"),  # as it was: no event
]  # fmt: skip
"""The stream's table: LIVE until released (or its last track gone). Whether the stream is
local (its tracks are the adapter's to switch and release) and whether a switch or a report
changes anything are guards of its rows, tried in order."""

STREAM_INPUTS = Inputs(
    unexpected=StreamDrop.UNEXPECTED,
    media={
        StreamTrackMuted: "track_muted",
        StreamTrackEnded: "track_ended",
        AudioLevel: "audio_level",
        ConstraintsApplied: "constraints_applied",
        RemoteFlowChanged: "remote_flow",
    },
)
"""How each media report becomes a trigger."""

_COMMANDS = (*_ON, *_OFF, "release", "release_track", "apply_constraints")
_LATE = Ignore(StreamDrop.RELEASED)

STREAM_VERDICTS: dict[str | tuple[str, str], Any] = {
    **dict.fromkeys(_COMMANDS, ILLEGAL),
    **{
        (t, "RELEASED"): _LATE
        for t in ("track_muted", "track_ended", "audio_level", "constraints_applied",
                  "remote_flow")
    },
}  # fmt: skip
"""Commands on a released stream raise 16 ERROR_WRONG_STATE; late reports are dropped."""


@attrs.define(slots=True, eq=False)
class _Track:
    available: bool = False
    enabled: bool = True
    muted: bool = False
    #: the far side's switch (remote streams): ``activeStateChange``
    active: bool = True


@machine(
    StreamState,
    STREAM_TRANSITIONS,
    initial=StreamState.LIVE,
    final=[StreamState.RELEASED],
    inputs=STREAM_INPUTS,
    verdicts=STREAM_VERDICTS,
)
@attrs.define(slots=True, eq=False)
class Stream:
    """A local or remote media stream (see the module's theory of operation)."""

    stream_id: str
    is_remote: bool = False
    audio: bool = True
    video: bool = True
    #: the call carrying it (remote: the call it arrived on; local: the last one publishing it)
    call_id: str | None = None
    #: the contact (address) a remote stream comes from
    contact: str | None = None
    #: amplitude (0-100) from which the user counts as speaking
    speaking_threshold: float = 10.0
    #: conversation name -> call id, for a local stream published there (apiRTC's
    #: ``publishedInConversations``); the conversation of a remote stream
    conversations: dict[str, str | None] = attrs.field(factory=dict)
    constraints: dict[str, Any] = attrs.field(factory=dict)
    state: StreamState = StreamState.LIVE
    tracks: dict[str, _Track] = attrs.field(init=False)
    speaking: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        self.tracks = {"audio": _Track(self.audio), "video": _Track(self.video)}

    # --- queries (apiRTC's predicates) ---------------------------------------------------------

    @property
    def target(self) -> str:
        return target("stream", self.stream_id)

    @property
    def released(self) -> bool:
        return self.state is StreamState.RELEASED

    @property
    def ended(self) -> bool:
        """A session child (route ``stream_id``) is detached once released."""
        return self.state is StreamState.RELEASED

    def has_audio(self) -> bool:
        return self.tracks["audio"].available

    def has_video(self) -> bool:
        return self.tracks["video"].available

    def is_audio_enabled(self) -> bool:
        return self.tracks["audio"].enabled

    def is_video_enabled(self) -> bool:
        return self.tracks["video"].enabled

    def is_audio_muted(self) -> bool:
        return self.tracks["audio"].muted

    def is_video_muted(self) -> bool:
        return self.tracks["video"].muted

    def get_audio_flow_status(self) -> dict[str, bool]:
        t = self.tracks["audio"]
        return {"enabled": t.enabled, "muted": t.muted}

    def get_video_flow_status(self) -> dict[str, bool]:
        t = self.tracks["video"]
        return {"enabled": t.enabled, "muted": t.muted}

    def info(self) -> dict[str, Any]:
        """apiRTC's StreamInfo fields this stream knows."""
        a, v = self.tracks["audio"], self.tracks["video"]
        return {
            "streamId": self.stream_id,
            "callId": self.call_id,
            "type": "regular",
            "isRemote": self.is_remote,
            "contact": self.contact,
            "hasAudio": a.available,
            "hasVideo": v.available,
            "isAudioMuted": not a.enabled or a.muted,
            "isVideoMuted": not v.enabled or v.muted,
            "isScreensharing": False,
        }

    # --- application commands -------------------------------------------------------------------

    def enable_audio(self, now: float) -> list[Effect]:
        return self._command("enable_audio", now, kind="audio")

    def disable_audio(self, now: float) -> list[Effect]:
        return self._command("disable_audio", now, kind="audio")

    def enable_video(self, now: float) -> list[Effect]:
        return self._command("enable_video", now, kind="video")

    def disable_video(self, now: float) -> list[Effect]:
        return self._command("disable_video", now, kind="video")

    def mute_audio(self, now: float) -> list[Effect]:
        """Deprecated apiRTC alias of :meth:`disable_audio`."""
        return self._command("mute_audio", now, kind="audio")

    def unmute_audio(self, now: float) -> list[Effect]:
        return self._command("unmute_audio", now, kind="audio")

    def mute_video(self, now: float) -> list[Effect]:
        return self._command("mute_video", now, kind="video")

    def unmute_video(self, now: float) -> list[Effect]:
        return self._command("unmute_video", now, kind="video")

    def release(self, now: float) -> list[Effect]:
        """``release()``: ``release`` then ``stopped``; the local tracks are stopped."""
        return self._command("release", now)

    def release_audio(self, now: float) -> list[Effect]:
        return self._command("release_track", now, kind="audio")

    def release_video(self, now: float) -> list[Effect]:
        return self._command("release_track", now, kind="video")

    def apply_constraints(self, now: float, constraints: Mapping[str, Any]) -> list[Effect]:
        if not isinstance(constraints, Mapping):
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "constraints must be a mapping")
        return self._command("apply_constraints", now, constraints=dict(constraints))

    # --- media reports --------------------------------------------------------------------------

    def media_event(self, event: object, now: float) -> list[Effect]:
        """A report about this stream (``STREAM_INPUTS.media``); never raises."""
        fx: list[Effect] = []
        kind = getattr(event, "kind", None)
        if kind is not None and kind not in self.tracks:
            fx.append(Drop(StreamDrop.NO_SUCH_TRACK, f"kind {kind!r}"))
            return fx
        handled = spec_of(self).deliver(self, type(event), event, fx, now, msg=event, kind=kind)
        if not handled and not fx:
            fx.append(Drop(StreamDrop.NO_SUCH_TRACK, f"{type(event).__name__}: no {kind} track"))
        return fx

    # --- the rest of a session child (route ``stream_id``): a stream owns no wire message,
    # no timer, and does not care about the relay connection

    def receive(self, env: object, now: float) -> list[Effect]:
        return [Drop(StreamDrop.UNEXPECTED, f"wire message {type(env).__name__}")]

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        return [Drop(StreamDrop.UNEXPECTED, f"timer {name}")]

    def on_disconnected(self, now: float) -> list[Effect]:
        return []

    def on_reconnected(self, now: float) -> list[Effect]:
        return []

    # --- internals ------------------------------------------------------------------------------

    def _command(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        spec = spec_of(self)
        if not spec.allowed(self.state, trigger):
            raise spec.invalid(self, trigger)
        kind = kw.get("kind")
        if kind is not None and not self.tracks[kind].available:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"stream has no {kind} track")
        fx: list[Effect] = []
        spec.fire(self, trigger, fx, now, **kw)
        return fx

    def _emit(self, fx: list[Effect], event: str, payload: Any = None) -> None:
        fx.append(Emit(self.target, event, payload))

    def _has_kind(self, fx: list[Effect], now: float, kind: Any = None, **_: Any) -> bool:
        track = self.tracks.get(kind) if isinstance(kind, str) else None
        return track is not None and track.available

    def _last_track(self, fx: list[Effect], now: float, kind: Any = None, **_: Any) -> bool:
        return not any(t.available for k, t in self.tracks.items() if k != kind)

    def _flow(self, fx: list[Effect], kind: str) -> None:
        t = self.tracks[kind]
        self._emit(fx, "flowStatusChanged", {"type": kind, "enabled": t.enabled, "muted": t.muted})
        self._emit(fx, f"{kind}FlowStatusChanged", {"enabled": t.enabled, "muted": t.muted})

    def _updated(self, fx: list[Effect], event: str, cause: str) -> None:
        a, v = self.tracks["audio"], self.tracks["video"]
        for name, call_id in self.conversations.items():
            payload = {
                "callId": call_id,
                "streamId": self.stream_id,
                "audio": a.available,
                "audioMuted": not (a.enabled and a.active),
                "video": v.available,
                "videoMuted": not (v.enabled and v.active),
                "cause": cause,
                "audioSilent": a.muted,
                "videoSilent": v.muted,
            }
            fx.append(Emit(target("conversation", name), event, payload))

    # conditions

    def _is_local(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return not self.is_remote

    def _kind_enabled(self, fx: list[Effect], now: float, kind: Any = None, **_: Any) -> bool:
        return self.tracks[kind].enabled

    def _kind_disabled(self, fx: list[Effect], now: float, kind: Any = None, **_: Any) -> bool:
        return not self.tracks[kind].enabled

    def _mute_changes(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return self.tracks[msg.kind].muted is not bool(msg.muted)

    def _flow_changes(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        track = self.tracks[msg.kind]
        return (track.active, track.muted) != (bool(msg.enabled), bool(msg.muted))

    # the application's switches and releases

    def _enable(self, fx: list[Effect], now: float, kind: Any = None, **_: Any) -> None:
        self.tracks[kind].enabled = True

    def _disable(self, fx: list[Effect], now: float, kind: Any = None, **_: Any) -> None:
        self.tracks[kind].enabled = False

    def _tell_track_switch(self, fx: list[Effect], now: float, kind: Any = None, **_: Any) -> None:
        fx.append(SetStreamTrackEnabled(self.stream_id, kind, self.tracks[kind].enabled))

    def _flow_event(self, fx: list[Effect], now: float, kind: Any = None, **_: Any) -> None:
        self._flow(fx, kind)

    def _local_updated(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._updated(fx, "localStreamUpdated", "userAction")

    def _drop_tracks(self, fx: list[Effect], now: float, **_: Any) -> None:
        for t in self.tracks.values():
            t.available = False

    def _release_media(self, fx: list[Effect], now: float, **_: Any) -> None:
        fx.append(ReleaseMedia(self.stream_id))

    def _release_events(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._emit(fx, "release")
        self._stopped(fx)

    def _stopped(self, fx: list[Effect]) -> None:
        self._emit(fx, "stopped", {"streamId": self.stream_id, "callId": self.call_id})

    def _forget_track(self, fx: list[Effect], now: float, kind: Any = None, **_: Any) -> None:
        self.tracks[kind].available = False

    def _release_track_media(
        self, fx: list[Effect], now: float, kind: Any = None, **_: Any
    ) -> None:
        fx.append(ReleaseTrack(self.stream_id, kind))

    def _track_stopped(self, fx: list[Effect], now: float, kind: Any = None, **_: Any) -> None:
        self._emit(fx, "trackStopped", {"type": kind, "id": f"{self.stream_id}:{kind}"})

    def _apply_constraints(
        self, fx: list[Effect], now: float, constraints: Any = None, **_: Any
    ) -> None:
        fx.append(ApplyConstraints(self.stream_id, dict(constraints or {})))

    def _track_muted(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self.tracks[msg.kind].muted = bool(msg.muted)
        self._flow(fx, msg.kind)

    def _track_ended(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self.tracks[msg.kind].available = False
        track_id = msg.track_id or f"{self.stream_id}:{msg.kind}"
        self._emit(fx, "trackStopped", {"type": msg.kind, "id": track_id})

    def _ended(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._track_ended(fx, now, msg=msg)
        self._stopped(fx)

    def _audio_level(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        level = msg.level if isinstance(msg.level, int | float) else 0.0
        if level != level:  # NaN from a broken meter
            level = 0.0
        amplitude = round(min(max(float(level), 0.0), 1.0) * 100.0, 1)
        speaking = amplitude >= self.speaking_threshold
        self.speaking = speaking
        self._emit(fx, "audioAmplitude", amplitude)
        self._emit(fx, "audioAmplitudeInfo", {"amplitude": amplitude, "isSpeaking": speaking})
        for name, call_id in self.conversations.items():
            payload = {
                "streamId": self.stream_id,
                "callId": call_id,
                "amplitude": amplitude,
                "isSpeaking": speaking,
                "descriptor": {"amplitude": amplitude, "isSpeaking": speaking},
            }
            fx.append(Emit(target("conversation", name), "audioAmplitude", payload))

    def _constraints_applied(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self.constraints = dict(msg.constraints)
        self._emit(fx, "constraintsChanged", dict(self.constraints))

    def _remote_flow(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        kind = msg.kind
        track = self.tracks[kind]
        active, muted = bool(msg.enabled), bool(msg.muted)
        track.active, track.muted = active, muted
        remote = f"remote{kind.capitalize()}FlowStatusChanged"
        self._emit(fx, remote, {"enabled": active, "muted": muted})
        base = {"streamId": self.stream_id, "callId": self.call_id, "type": kind}
        self._emit(fx, "activeStateChange", {**base, "active": active})
        self._emit(fx, "muteStateChange", {**base, "muted": not active})

    def _remote_updated(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._updated(fx, "remoteStreamUpdated", "userAction")
