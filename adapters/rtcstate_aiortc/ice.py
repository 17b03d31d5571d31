"""STUN/TURN servers for deployments: ``--ice-server`` specs into aiortc ``RTCIceServer``s.

Theory of operation
-------------------
Tests and the demo stay on loopback with no ICE server (DESIGN.md §8). A deployment names its
servers, each as ``URL`` or ``URL,USERNAME,CREDENTIAL`` (a TURN server's long-term
credentials), with the ``stun:``, ``turn:`` or ``turns:`` scheme (RFC 7064 / 7065).
:func:`ice_servers_from` checks the specs and builds the ``RTCIceServer`` values that
:class:`~rtcstate_aiortc.backend.AiortcMedia` (``ice_servers=``, with ``loopback_only=False``)
puts in every connection's ``RTCConfiguration``. A bad spec is a ``ValueError`` naming it.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiortc import RTCIceServer

__all__ = ["ice_servers_from"]

_SCHEMES = ("stun:", "turn:", "turns:")


def ice_servers_from(specs: Iterable[str]) -> list[RTCIceServer]:
    """``RTCIceServer`` values from ``URL`` / ``URL,USERNAME,CREDENTIAL`` specs."""
    servers: list[RTCIceServer] = []
    for spec in specs:
        parts = [p.strip() for p in spec.split(",")]
        url = parts[0]
        if not url.startswith(_SCHEMES) or len(url) <= url.index(":") + 1:
            raise ValueError(f"ICE server {spec!r}: the URL must be stun:, turn: or turns:")
        if len(parts) == 1:
            if url.startswith("turn"):
                raise ValueError(f"ICE server {spec!r}: a TURN server needs USERNAME,CREDENTIAL")
            servers.append(RTCIceServer(urls=url))
        elif len(parts) == 3 and all(parts[1:]):
            servers.append(RTCIceServer(urls=url, username=parts[1], credential=parts[2]))
        else:
            raise ValueError(f"ICE server {spec!r}: expected URL or URL,USERNAME,CREDENTIAL")
    return servers
