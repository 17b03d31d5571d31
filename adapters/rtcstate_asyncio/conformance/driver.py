"""The two-sided driver of the media-backend conformance suite: it plays the runtime and signaling.

Theory of operation
-------------------
A :class:`Side` binds one backend: every effect goes through :meth:`Side.apply`, every report
is kept in :attr:`Side.events`. What the contract promises about *how* things happen is checked
as it happens and collected in :attr:`Side.problems` (the suite requires it empty): ``apply``
never raises, a report is never delivered from inside ``apply`` (the runtime is still carrying
out the input that produced the effect), and every report is a :class:`~rtcstate.media.MediaEvent`
whose routing field is a string. A :class:`Pair` links two sides as signaling would: a local
offer becomes the far side's ``SetRemoteDescription`` followed by ``CreateAnswer``, a local
answer the far side's ``SetRemoteDescription``, a trickled candidate its ``AddIceCandidate``.
:func:`run` runs one case in a fresh loop, bounded in time, closes both backends and requires
that no task outlives them.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from rtcstate import effects as fx
from rtcstate import media as m
from rtcstate_asyncio.backend import MediaBackend
from rtcstate_asyncio.conformance import BackendFactory

__all__ = ["WAIT", "Pair", "Side", "run", "settle"]

WAIT = 10.0
"""Seconds: the bound of every wait of the suite."""

CONNECTED = ("connected", "completed")
ICE_STATES = ("new", "checking", "connected", "completed", "disconnected", "failed", "closed")

_E = TypeVar("_E", bound=m.MediaEvent)


async def settle(seconds: float = 0.2) -> None:
    """Let the loop run for ``seconds`` (for what must *not* happen: a late report)."""
    await asyncio.sleep(seconds)


def _short(event: m.MediaEvent) -> str:
    text = repr(event)
    return text if len(text) <= 160 else text[:157] + "..."


class Side:
    """One backend, driven as the runtime drives it (see the module docstring)."""

    def __init__(self, backend: MediaBackend, name: str) -> None:
        self.backend = backend
        self.name = name
        self.events: list[m.MediaEvent] = []
        self.problems: list[str] = []
        self.peer: Side | None = None
        self.closed = False
        self._inside = False
        backend.bind(self._report)

    def apply(self, effect: fx.Effect) -> None:
        """Hand ``effect`` to the backend, recording a raise as a problem."""
        self._inside = True
        try:
            self.backend.apply(effect)
        except Exception as exc:
            self.problems.append(f"{self.name}: apply({effect!r}) raised {exc!r}")
        finally:
            self._inside = False

    def of(self, kind: type[_E]) -> list[_E]:
        """The reports of class ``kind``, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    def has(self, event_class: type[m.MediaEvent], /, **fields: object) -> bool:
        """Whether a report of class ``event_class`` with these field values arrived."""
        return any(
            all(getattr(e, k, None) == v for k, v in fields.items()) for e in self.of(event_class)
        )

    def ice(self, call_id: str) -> list[str]:
        """The ICE states reported for ``call_id``, in order."""
        return [e.state for e in self.of(m.IceStateChanged) if e.call_id == call_id]

    def connected(self, call_id: str) -> bool:
        """Whether the last ICE state reported for ``call_id`` is connected (or completed)."""
        states = self.ice(call_id)
        return bool(states) and states[-1] in CONNECTED

    async def until(
        self, predicate: Callable[[], bool], what: str, limit: float | None = None
    ) -> None:
        """Wait (bounded: ``limit``, default :data:`WAIT`) until ``predicate()`` holds; the
        failure names ``what`` and the last reports."""
        limit = WAIT if limit is None else limit
        try:
            async with asyncio.timeout(limit):
                while not predicate():
                    await asyncio.sleep(0.005)
        except TimeoutError:
            last = [_short(e) for e in self.events[-8:]]
            raise AssertionError(f"{self.name}: no {what} within {limit} s; last: {last}") from None

    def _report(self, event: m.MediaEvent) -> None:
        if self._inside:
            self.problems.append(f"{self.name}: {event!r} reported from inside apply")
        if not isinstance(event, m.MediaEvent):
            self.problems.append(f"{self.name}: reported {event!r}, not a MediaEvent")
            return
        route = type(event).ROUTE
        if route and not isinstance(getattr(event, route, None), str):
            self.problems.append(f"{self.name}: {event!r} has no string {route}")
        if isinstance(event, m.IceStateChanged) and event.state not in ICE_STATES:
            self.problems.append(f"{self.name}: {event!r} is not a W3C ICE state")
        self.events.append(event)
        if self.closed:
            self.problems.append(f"{self.name}: {event!r} reported after close()")
        peer = self.peer
        if peer is None:
            return
        if isinstance(event, m.LocalDescriptionReady):
            peer.apply(fx.SetRemoteDescription(event.call_id, event.sdp_type, event.sdp))
            if event.sdp_type == "offer":
                peer.apply(fx.CreateAnswer(event.call_id))
        elif isinstance(event, m.IceCandidateFound):
            candidate = fx.AddIceCandidate(
                event.call_id, event.candidate, event.sdp_mid, event.sdp_mline_index
            )
            peer.apply(candidate)


class Pair:
    """Two sides of one factory, linked by signaling: ``a`` offers, ``b`` answers."""

    def __init__(self, factory: BackendFactory) -> None:
        self.factory = factory
        self.a = Side(factory.backend("alice"), "alice")
        self.b = Side(factory.backend("bob"), "bob")
        self.a.peer, self.b.peer = self.b, self.a

    @property
    def sides(self) -> tuple[Side, Side]:
        return (self.a, self.b)

    @property
    def buffered_high(self) -> int | None:
        """The factory's send-buffer high mark (None: its backends have no send buffer)."""
        value = getattr(self.factory, "buffered_high", None)
        return value if isinstance(value, int) else None

    async def acquire(self, call_id: str, *, audio: bool = True, video: bool = True) -> None:
        """Both sides acquire local media for ``call_id`` (as a call asks for its own)."""
        call_type = "media" if video else "audio"
        for side in self.sides:
            side.apply(fx.AcquireMedia(call_id, call_type, audio=audio, video=video))
        for side in self.sides:
            await side.until(
                functools.partial(side.has, m.MediaAcquired, request_id=call_id),
                f"MediaAcquired({call_id})",
            )

    async def connect(self, call_id: str) -> None:
        """Create both connections, offer from ``a`` and wait until both are connected."""
        self.a.apply(fx.CreatePeerConnection(call_id, polite=False))
        self.b.apply(fx.CreatePeerConnection(call_id, polite=True))
        self.a.apply(fx.CreateOffer(call_id))
        for side in self.sides:
            connected = functools.partial(side.connected, call_id)
            await side.until(connected, f"connected ICE on {call_id}")

    async def close(self) -> None:
        """Close both backends (twice: the second must be harmless), then the factory."""
        for side in self.sides:
            await side.backend.close()
            side.closed = True
            await side.backend.close()
        aclose = getattr(self.factory, "aclose", None)
        if aclose is not None:
            await aclose()


def run(
    make: Callable[[], BackendFactory],
    case: Callable[[Pair], Awaitable[None]],
    limit: float = 40.0,
) -> None:
    """Run ``case`` on a new pair in a fresh loop (bounded); close it; check what it left."""

    async def main() -> None:
        before = asyncio.all_tasks()
        pair = Pair(make())
        try:
            async with asyncio.timeout(limit):
                await case(pair)
        finally:
            await pair.close()
        this = asyncio.current_task()
        try:  # a stack may need a few iterations to let its last tasks finish
            async with asyncio.timeout(2.0):
                while asyncio.all_tasks() - before - {this}:
                    await asyncio.sleep(0.01)
        except TimeoutError:
            left = asyncio.all_tasks() - before - {this}
            raise AssertionError(f"tasks left after close(): {left}") from None
        problems = pair.a.problems + pair.b.problems
        assert not problems, "\n".join(problems)

    asyncio.run(main())
