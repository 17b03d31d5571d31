"""A fake media backend: the conformance kit's fake media stack, run on the asyncio loop.

Theory of operation
-------------------
The stack itself is :mod:`rtcstate.testing.fakemedia` (sans-I/O, shared with the simulated
network and the call tests): peer connections paired by call id, ICE, tracks, data channels.
This module only runs it on asyncio. :class:`FakeMediaNetwork` holds one
:class:`~rtcstate.testing.fakemedia.FakeMediaNetwork` with every delay zero
(:meth:`~rtcstate.testing.fakemedia.MediaModel.instant`), so the stack answers inside ``apply``;
each :class:`FakeMedia` is a :class:`~rtcstate_asyncio.backend.MediaBackend` that delivers the
stack's reports through ``loop.call_soon`` (never from inside ``apply``, in the order they came),
the way a real stack reports asynchronously:

* ``AcquireMedia`` → ``MediaAcquired`` with a fresh stream id (``ReleaseMedia`` is recorded);
* ``CreateOffer`` / ``CreateAnswer`` → ``LocalDescriptionReady`` with a unique fake SDP, then one
  loopback host ``IceCandidateFound`` and the end of candidates; a description that makes no
  sense (no peer connection, an answer with no remote offer) → ``DescriptionFailed``;
* two connections of one call are *paired* when each has applied the other's latest local
  description: both then report ``IceStateChanged("connected")`` and, the first time, one
  ``TrackAdded`` per kind of the far side's acquired stream;
* ``OpenDataChannel`` opens the channel on both ends once the connections are paired,
  ``SendData`` delivers ``DataChannelMessage`` to the far side, ``CloseDataChannel`` (or closing
  a connection) reports ``DataChannelClosed`` on both sides.

Everything it did is kept in :attr:`FakeMedia.applied` for assertions. ``close()`` closes every
connection and cancels the reports not yet delivered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from rtcstate import effects as fx
from rtcstate.media import Capabilities, MediaEvent
from rtcstate.testing import fakemedia as core
from rtcstate_asyncio.backend import Reporter

__all__ = ["FakeMedia", "FakeMediaNetwork"]

log = logging.getLogger(__name__)


class FakeMediaNetwork:
    """Pairs the fake peer connections and data channels of the backends of one process."""

    def __init__(self) -> None:
        self.core = core.FakeMediaNetwork(self, core.MediaModel.instant())
        self._backends: dict[str, FakeMedia] = {}

    def backend(self, name: str) -> FakeMedia:
        """A new backend on this network (``name`` shows in its stream ids and SDPs)."""
        key, n = name, 1
        while key in self._backends:
            n += 1
            key = f"{name}#{n}"
        backend = FakeMedia(self, key)
        self._backends[key] = backend
        return backend

    # --- core.MediaHost -----------------------------------------------------------------------

    @property
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def later(self, delay: float, action: Callable[[], None]) -> None:
        if delay <= 0:
            action()
        else:  # pragma: no cover - the instant model never waits
            asyncio.get_running_loop().call_later(delay, action)

    def report(self, stack: core.FakeMediaStack, event: MediaEvent) -> None:
        self._backends[stack.name].report(event)


class FakeMedia:
    """A :class:`~rtcstate_asyncio.backend.MediaBackend` on a :class:`FakeMediaNetwork`."""

    def __init__(self, network: FakeMediaNetwork, name: str) -> None:
        self.network = network
        self.name = name
        self.stack = core.FakeMediaStack(
            network.core, name, sdp="v=0 fake {name} {call_id} {type} {n}"
        )
        self._report: Reporter | None = None
        self._handles: set[asyncio.Handle] = set()
        self._closed = False

    @property
    def applied(self) -> list[fx.Effect]:
        """Every effect this backend was given, in order."""
        return self.stack.applied

    @property
    def released(self) -> set[str]:
        """Stream ids the core released."""
        return self.stack.released

    # --- MediaBackend -------------------------------------------------------------------------

    def bind(self, report: Reporter) -> None:
        self._report = report
        self.report(Capabilities(data_channels=True, webrtc=True, restart_ice=False))

    def apply(self, effect: fx.Effect) -> None:
        if self._closed:
            return
        if not self.stack.apply(effect):
            log.debug("%s: %r recorded only", self.name, effect)

    async def close(self) -> None:
        self._closed = True
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        self.stack.close_all()

    # --- reporting ----------------------------------------------------------------------------

    def report(self, event: MediaEvent) -> None:
        """Report ``event`` soon (from the event loop, never from inside ``apply``)."""
        if self._closed or self._report is None:
            return
        report = self._report
        handle: asyncio.Handle | None = None

        def deliver() -> None:
            assert handle is not None
            self._handles.discard(handle)
            if not self._closed:
                report(event)

        handle = asyncio.get_running_loop().call_soon(deliver)
        self._handles.add(handle)
