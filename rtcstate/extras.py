"""Optional parts and the extra that installs each: one clear line instead of a traceback.

The core needs only attrs and transitions. The adapters need more, each installed by an extra
of the distribution: ``rtcstate[asyncio]`` (websockets: the asyncio API and ``rtcstate
serve``), ``rtcstate[aiortc]`` (that plus aiortc and aioice: media), ``rtcstate[testing]``
(Hypothesis: the conformance kit ``rtcstate.testing``). An adapter calls :func:`require` before
importing what an extra brings; when it is missing, :class:`MissingExtraError` says in one line
which extra to install, and the CLI prints that line alone. :func:`require` only *looks* for
the modules (``importlib.util.find_spec``): the core imports none of them.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["EXTRAS", "MissingExtraError", "installed", "require"]

#: extra name -> the top-level modules it brings
EXTRAS: dict[str, tuple[str, ...]] = {
    "asyncio": ("websockets",),
    "aiortc": ("websockets", "aiortc", "aioice", "av"),
    "testing": ("hypothesis",),
    "cluster": ("redis",),
}


class MissingExtraError(ModuleNotFoundError):
    """A module an extra brings is not installed; ``str()`` is the one line to show."""

    def __init__(self, module: str, extra: str, part: str) -> None:
        super().__init__(
            f"{part} needs {module}, which is not installed: pip install 'rtcstate[{extra}]'",
            name=module,
        )
        self.extra = extra
        self.part = part


def installed(module: str) -> bool:
    """Whether the top-level ``module`` can be imported (without importing it)."""
    if module in sys.modules:
        return sys.modules[module] is not None  # None: import blocked
    return importlib.util.find_spec(module) is not None


def require(extra: str, part: str) -> None:
    """Raise :class:`MissingExtraError` for the first module of ``extra`` not installed.

    ``part`` names what needs them (``"rtcstate_asyncio"``, ``"rtcstate serve"``...).
    """
    for module in EXTRAS[extra]:
        if not installed(module):
            raise MissingExtraError(module, extra, part)
