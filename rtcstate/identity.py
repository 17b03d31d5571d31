"""Identity: who a relay connection is, as established by a verified token.

The relay's adapter verifies the token a client presents at registration (signature, expiry,
audience) and hands the sans-I/O hub an :class:`Identity`; the hub never parses tokens and never
believes what a client says about itself. Every rule of the hub that depends on *who* (owning an
address, allowed device names, tenant isolation, a conversation moderator's role) reads this
value. Without authentication the hub builds an unverified identity from the ``Register``
message (``verified=False``), so the embedded default keeps working on loopback.
"""

from __future__ import annotations

import attrs

__all__ = ["DEFAULT_TENANT", "Identity"]

DEFAULT_TENANT = "default"


@attrs.frozen(slots=True)
class Identity:
    """A verified (or, without auth, claimed) identity of one relay connection.

    ``user`` is the token's ``sub``; ``devices`` the device names the token allows (``None``:
    any); ``tenant`` isolates groups of users from each other; ``roles`` are application roles
    such as ``"moderator"``; ``expires`` is the token's ``exp`` on the hub's clock (``None``:
    never); ``verified`` is False only for the unauthenticated default.
    """

    user: str
    tenant: str = DEFAULT_TENANT
    devices: tuple[str, ...] | None = None
    roles: frozenset[str] = frozenset()
    expires: float | None = None
    verified: bool = False

    def allows_device(self, device: str) -> bool:
        """Whether this identity may register ``device``."""
        return self.devices is None or device in self.devices

    def has_role(self, role: str) -> bool:
        return role in self.roles
