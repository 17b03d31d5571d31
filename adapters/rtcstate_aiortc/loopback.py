"""Loopback-only ICE: host candidates on 127.0.0.1, nothing else.

Theory of operation
-------------------
aiortc gathers candidates through aioice: ``aioice.ice.Connection.gather_candidates`` asks the
module-level function ``aioice.ice.get_host_addresses(use_ipv4, use_ipv6)`` for the local
addresses, binds one UDP socket per address and offers each as a host candidate. In aioice
0.13.0 that function lists every interface address *except* ``127.0.0.1`` and ``::1``, so two
peers on one machine would talk over the LAN address, and a test would put packets on a real
interface.

:func:`install` wraps that function once per process. The wrapper consults a
:class:`contextvars.ContextVar` (:data:`LOOPBACK_ONLY`): where it is true it returns
``["127.0.0.1"]`` (nothing for an IPv6-only request), elsewhere it calls the original
unchanged. The backend sets the variable inside each call's worker task, which is where aiortc
gathers (``setLocalDescription`` awaits the gatherers directly or through ``asyncio.gather``,
whose child tasks copy the worker's context). So the restriction is scoped to the backends that
asked for it; any other aioice user in the process is untouched.

Why this is safe and complete:

* sockets are *bound* to 127.0.0.1, so nothing they send can leave the loopback interface;
* with ``RTCConfiguration(iceServers=[])`` aioice has no STUN or TURN server: no
  server-reflexive or relayed candidate, no packet to a server;
* remote candidates that are not 127.0.0.1 (including mDNS ``.local`` names, which aioice
  would resolve with multicast queries) are removed from remote descriptions and refused from
  ``AddIceCandidate`` by the backend (:func:`filter_remote_sdp`, :func:`is_loopback_candidate`);
* fail closed: the backend checks every local description it produces
  (:func:`non_loopback_candidates`) and reports a ``DescriptionFailed`` rather than signal a
  candidate that is not 127.0.0.1 (should a future aioice stop calling the function).

``rtcstate[aiortc]`` requires aioice in :data:`AIOICE_RANGE`, the versions the tests ran on;
:func:`install` checks the installed version (:func:`check_aioice`) and raises
:class:`UnsupportedAioiceError` outside that range or if the function it wraps is missing, and
the tests assert the SDPs only ever carry 127.0.0.1.
"""

from __future__ import annotations

import contextvars
import importlib.metadata
import re
from collections.abc import Callable

import aioice.ice

__all__ = [
    "AIOICE_RANGE",
    "LOOPBACK_ADDRESS",
    "LOOPBACK_ONLY",
    "UnsupportedAioiceError",
    "check_aioice",
    "filter_remote_sdp",
    "install",
    "is_loopback_candidate",
    "non_loopback_candidates",
]

LOOPBACK_ADDRESS = "127.0.0.1"

#: True inside a task whose ICE gathering must only offer 127.0.0.1.
LOOPBACK_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "rtcstate_aiortc_loopback_only", default=False
)

#: the aioice versions whose ``get_host_addresses`` this patch was tested on: [low, high)
AIOICE_RANGE: tuple[tuple[int, ...], tuple[int, ...]] = ((0, 10, 1), (0, 14))

_installed: list[Callable[[bool, bool], list[str]]] = []


class UnsupportedAioiceError(RuntimeError):
    """The installed aioice is outside :data:`AIOICE_RANGE`: the loopback patch may not hold."""


def _version_tuple(version: str) -> tuple[int, ...]:
    """``"0.13.0"`` -> ``(0, 13, 0)``; a pre-release or local suffix is ignored."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    if match is None:
        raise UnsupportedAioiceError(f"cannot read the aioice version {version!r}")
    return tuple(int(part) for part in match.group(0).split("."))


def check_aioice(version: str | None = None) -> tuple[int, ...]:
    """The aioice version (installed, or ``version``), if in :data:`AIOICE_RANGE`; else raise
    :class:`UnsupportedAioiceError` naming the range."""
    text = importlib.metadata.version("aioice") if version is None else version
    found = _version_tuple(text)
    low, high = AIOICE_RANGE
    if not low <= found < high:
        span = f">={'.'.join(map(str, low))},<{'.'.join(map(str, high))}"
        raise UnsupportedAioiceError(
            f"aioice {text} is not supported by the loopback-only mode (tested: aioice{span}; "
            f"pip install 'rtcstate[aiortc]')"
        )
    return found


def install() -> None:
    """Wrap ``aioice.ice.get_host_addresses`` (once per process; idempotent).

    Raises :class:`UnsupportedAioiceError` when aioice is outside :data:`AIOICE_RANGE` or no
    longer has the function.
    """
    if _installed:
        return
    check_aioice()
    original = getattr(aioice.ice, "get_host_addresses", None)
    if original is None:
        raise UnsupportedAioiceError(
            "aioice.ice.get_host_addresses is missing: loopback mode impossible"
        )

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        if LOOPBACK_ONLY.get():
            return [LOOPBACK_ADDRESS] if use_ipv4 else []
        result: list[str] = original(use_ipv4, use_ipv6)
        return result

    _installed.append(original)
    aioice.ice.get_host_addresses = host_addresses


def _candidate_address(line: str) -> str | None:
    """The connection address of an ``a=candidate:`` (or bare ``candidate:``) SDP line."""
    body = line.strip()
    if body.startswith("a="):
        body = body[2:]
    if not body.startswith("candidate:"):
        return None
    parts = body.split()
    return parts[4] if len(parts) > 4 else ""


def is_loopback_candidate(candidate: str) -> bool:
    """Whether an SDP candidate attribute offers 127.0.0.1."""
    return _candidate_address(candidate) == LOOPBACK_ADDRESS


def non_loopback_candidates(sdp: str) -> list[str]:
    """The ``a=candidate`` lines of ``sdp`` whose address is not 127.0.0.1."""
    out = []
    for line in sdp.splitlines():
        address = _candidate_address(line)
        if address is not None and address != LOOPBACK_ADDRESS:
            out.append(line)
    return out


def filter_remote_sdp(sdp: str) -> str:
    """``sdp`` without the candidates that are not 127.0.0.1 (line endings kept)."""
    lines = sdp.splitlines(keepends=True)
    kept = [
        line
        for line in lines
        if _candidate_address(line) is None or _candidate_address(line) == LOOPBACK_ADDRESS
    ]
    return "".join(kept)
