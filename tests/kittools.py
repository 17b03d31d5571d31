"""Deliberately broken media backends: the conformance suite must fail on each (tests/test_kit.py).

Each is a :class:`~rtcstate_asyncio.conformance.BackendFactory` built on the fake backend with
one contract rule broken, loaded by the suite with ``--rtcstate-backend kittools:NAME``.
"""

from __future__ import annotations

from rtcstate_asyncio.fakemedia import FakeMedia, FakeMediaNetwork

from rtcstate import effects as fx
from rtcstate.media import MediaEvent


class ReportsInsideApply(FakeMediaNetwork):
    """Reports synchronously, from inside ``apply`` (the runtime is still carrying out)."""

    def backend(self, name: str) -> FakeMedia:
        backend = super().backend(name)

        def report(event: MediaEvent) -> None:
            deliver = backend._report
            if deliver is not None and not backend._closed:
                deliver(event)

        backend.report = report  # type: ignore[method-assign]
        return backend


class LosesData(FakeMediaNetwork):
    """Sends only every other ``SendData``."""

    def backend(self, name: str) -> FakeMedia:
        backend = super().backend(name)
        apply = backend.apply
        sent = [0]

        def lossy(effect: fx.Effect) -> None:
            if isinstance(effect, fx.SendData):
                sent[0] += 1
                if sent[0] % 2 == 0:
                    return
            apply(effect)

        backend.apply = lossy  # type: ignore[method-assign]
        return backend


class RaisesOnUnknownCalls(FakeMediaNetwork):
    """Raises for an effect about a call it does not know (instead of reporting a failure)."""

    def backend(self, name: str) -> FakeMedia:
        backend = super().backend(name)
        apply = backend.apply

        def strict(effect: fx.Effect) -> None:
            call_id = getattr(effect, "call_id", None)
            if isinstance(call_id, str) and call_id.startswith(("ghost", "nowhere")):
                raise KeyError(call_id)
            apply(effect)

        backend.apply = strict  # type: ignore[method-assign]
        return backend
