"""Media-stack reports: what an adapter tells the core about its peer connections.

These are the third kind of input (DESIGN.md §2): ``session.media_event(event, now)``. Each
report is a frozen attrs value naming the object it concerns through its ``ROUTE`` field
(``call_id`` or ``channel_id``); the session hands it to the machine registered under that id.
A report for an id the session no longer holds (a late ICE change after hang-up, say) is
answered with a :class:`~rtcstate.effects.Drop`, never an exception.

String fields use the W3C vocabulary the stacks report (``RTCIceConnectionState``:
``new``, ``checking``, ``connected``, ``completed``, ``disconnected``, ``failed``, ``closed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

__all__ = [
    "BufferedAmountHigh",
    "BufferedAmountLow",
    "Capabilities",
    "DataChannelClosed",
    "DataChannelMessage",
    "DataChannelOpened",
    "DescriptionFailed",
    "IceCandidateFound",
    "IceStateChanged",
    "LocalDescriptionReady",
    "MediaAcquired",
    "MediaEvent",
    "MediaFailed",
    "RecordingReport",
    "StatsReport",
    "TrackAdded",
    "TrackEnded",
]


@attrs.frozen(slots=True)
class MediaEvent:
    """Base class of media-stack reports."""

    ROUTE: ClassVar[str] = "call_id"


@attrs.frozen(slots=True)
class IceStateChanged(MediaEvent):
    """The ICE connection state of ``call_id`` changed to ``state``."""

    call_id: str
    state: str


@attrs.frozen(slots=True)
class LocalDescriptionReady(MediaEvent):
    """A local offer/answer was created and applied; ``sdp`` is to be signaled."""

    call_id: str
    sdp_type: str
    sdp: str


@attrs.frozen(slots=True)
class DescriptionFailed(MediaEvent):
    """Creating/applying a description failed (``local`` tells which side's)."""

    call_id: str
    local: bool
    error: str


@attrs.frozen(slots=True)
class IceCandidateFound(MediaEvent):
    """A local ICE candidate was gathered (empty ``candidate``: gathering complete)."""

    call_id: str
    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


@attrs.frozen(slots=True)
class TrackAdded(MediaEvent):
    """A remote track arrived on ``call_id``."""

    call_id: str
    track_id: str
    kind: str
    stream_id: str


@attrs.frozen(slots=True)
class TrackEnded(MediaEvent):
    """A track ended (``remote`` false: a local track, e.g. the shared screen, stopped)."""

    call_id: str
    track_id: str
    kind: str
    remote: bool = True


@attrs.frozen(slots=True)
class StatsReport(MediaEvent):
    """Periodic statistics in apiRTC's CallStats shape."""

    call_id: str
    stats: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class RecordingReport(MediaEvent):
    """The recorder of ``call_id`` changed: ``status`` is ``started``, ``stopped``,
    ``available`` (``info`` holds apiRTC's RecordingInfo, with ``mediaURL``) or ``failed``."""

    call_id: str
    status: str
    info: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class MediaAcquired(MediaEvent):
    """Local media requested with ``AcquireMedia(request_id)`` is available."""

    ROUTE: ClassVar[str] = "request_id"
    request_id: str
    stream_id: str
    audio: bool = True
    video: bool = True


@attrs.frozen(slots=True)
class MediaFailed(MediaEvent):
    """Local media acquisition for ``request_id`` failed."""

    ROUTE: ClassVar[str] = "request_id"
    request_id: str
    error: str


@attrs.frozen(slots=True)
class Capabilities(MediaEvent):
    """What the adapter's stack supports (reported once, before calls)."""

    ROUTE: ClassVar[str] = ""
    data_channels: bool = True
    webrtc: bool = True
    restart_ice: bool = False


@attrs.frozen(slots=True)
class DataChannelOpened(MediaEvent):
    """Data channel ``channel_id`` is open."""

    ROUTE: ClassVar[str] = "channel_id"
    channel_id: str


@attrs.frozen(slots=True)
class DataChannelClosed(MediaEvent):
    """Data channel ``channel_id`` closed."""

    ROUTE: ClassVar[str] = "channel_id"
    channel_id: str


@attrs.frozen(slots=True)
class DataChannelMessage(MediaEvent):
    """Data arrived on data channel ``channel_id``."""

    ROUTE: ClassVar[str] = "channel_id"
    channel_id: str
    data: bytes | str


@attrs.frozen(slots=True)
class BufferedAmountHigh(MediaEvent):
    """The send buffer of ``channel_id`` went above the adapter's high-water mark."""

    ROUTE: ClassVar[str] = "channel_id"
    channel_id: str


@attrs.frozen(slots=True)
class BufferedAmountLow(MediaEvent):
    """The send buffer of ``channel_id`` drained below the low-water mark."""

    ROUTE: ClassVar[str] = "channel_id"
    channel_id: str
