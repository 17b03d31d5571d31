"""The media-backend conformance suite: one suite for every implementation of the backend contract.

Theory of operation
-------------------
:class:`~rtcstate_asyncio.backend.MediaBackend` is the contract between the asyncio runtime and
a media stack (aiortc, the fake, a browser, yours). This package checks an implementation
against it *without* the core: the suite (``test_backend.py`` here) plays the runtime for two
backends on one loop, hands them the effects the core would produce, and carries what one
reports to the other as signaling would (a local description becomes the far side's
``SetRemoteDescription``, a trickled candidate its ``AddIceCandidate``). Run it on yours with::

    pytest --pyargs rtcstate_asyncio.conformance --rtcstate-backend package.module:Factory

``Factory`` is any callable (a class, a function) returning a :class:`BackendFactory`: an object
whose ``backend(name)`` gives a new backend that can reach the other backends of the same
factory (two fake backends on one fake network; two aiortc backends on loopback). Two optional
attributes tune the suite: ``buffered_high`` (the bytes queued above which the backend reports
``BufferedAmountHigh``; None or absent: the backend has no send buffer, and only the ordering of
the marks is checked) and an ``async aclose()`` called after each case. The pytest option comes
from rtcstate's pytest plugin (:mod:`rtcstate_pytest`, installed with the
``testing`` extra); without ``--rtcstate-backend`` the suite runs on the fake backend.

:mod:`~rtcstate_asyncio.conformance.driver` holds the two-sided driver the cases use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

from rtcstate_asyncio.backend import MediaBackend

__all__ = ["DEFAULT_FACTORY", "BackendFactory", "load_factory"]

#: what the suite runs on without ``--rtcstate-backend``
DEFAULT_FACTORY = "rtcstate_asyncio.fakemedia:FakeMediaNetwork"


class BackendFactory(Protocol):
    """Makes backends that can reach each other (see the module docstring)."""

    def backend(self, name: str) -> MediaBackend:
        """A new, unbound backend called ``name``."""


def load_factory(spec: str) -> Callable[[], BackendFactory]:
    """The callable named by ``package.module:attribute`` (a ``ValueError`` says what is wrong)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"--rtcstate-backend wants package.module:Factory, not {spec!r}")
    module = importlib.import_module(module_name)
    target: object = module
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ValueError(f"{module_name} has no {attribute!r}")
    if not callable(target):
        raise ValueError(f"{spec} is not callable")
    return target
