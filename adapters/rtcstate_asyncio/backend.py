"""The contract between the asyncio runtime and a media backend (aiortc, a fake, another stack).

The runtime hands every media effect of the core (:data:`MEDIA_EFFECTS`) to its backend with
:meth:`MediaBackend.apply`, in the order the core produced them, and feeds what the backend
reports (``report(event)``, a :class:`rtcstate.media.MediaEvent`) back into the session with the
loop's time. ``apply`` never blocks and never raises for a protocol reason: work that needs
awaiting is queued per peer connection (so effects on one call are carried out in order) and its
failure is *reported* (``DescriptionFailed``, ``MediaFailed``, ``IceStateChanged("failed")``),
never raised. ``close()`` releases everything; after it, ``apply`` ignores new effects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from rtcstate import effects as fx
from rtcstate.media import MediaEvent
from rtcstate.stream import ApplyConstraints, ReleaseTrack, SetStreamTrackEnabled

Reporter = Callable[[MediaEvent], None]

#: The effect classes a media backend carries out (everything else is the runtime's).
MEDIA_EFFECTS: tuple[type[fx.Effect], ...] = (
    fx.CreatePeerConnection,
    fx.ClosePeerConnection,
    fx.CreateOffer,
    fx.CreateAnswer,
    fx.SetRemoteDescription,
    fx.AddIceCandidate,
    fx.RestartIce,
    fx.OpenDataChannel,
    fx.CloseDataChannel,
    fx.SendData,
    fx.AcquireMedia,
    fx.ReleaseMedia,
    fx.SetTrackEnabled,
    fx.PublishStream,
    fx.StartRecording,
    fx.StopRecording,
    SetStreamTrackEnabled,
    ReleaseTrack,
    ApplyConstraints,
)


class MediaBackend(Protocol):
    """What the runtime needs from a media stack."""

    def bind(self, report: Reporter) -> None:
        """Set the callback through which the backend reports media events (once, at start)."""

    def apply(self, effect: fx.Effect) -> None:
        """Carry out one media effect (non-blocking; failures are reported, not raised)."""

    async def close(self) -> None:
        """Close every peer connection and source; wait until their tasks are finished."""
