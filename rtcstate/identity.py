"""Identity: who a relay connection is, as established by a verified token.

The relay's adapter verifies the token a client presents at registration (signature, expiry,
audience) and hands the sans-I/O hub an :class:`Identity`; the hub never parses tokens and never
believes what a client says about itself. Every rule of the hub that depends on *who* (owning an
address, allowed device names, tenant isolation, a conversation moderator's role) reads this
value. Without authentication the hub builds an unverified identity from the ``Register``
message (``verified=False``, :func:`claimed`), so the embedded default keeps working on
loopback.

A :data:`Verifier` is the callable the hub is given: ``verifier(register, now)`` returns the
:class:`Identity` of the connection, or a :class:`Refusal` (a
:class:`~rtcstate.wire.ServerErrorCode` and the reason in words) that the hub sends back
before closing the connection.

Revocation. A token may be revoked before its ``exp``: :class:`Revocations` holds the revoked
token ids (the ``jti`` claim, :attr:`Identity.token_id`) and users (``sub``); the hub checks
it at every registration and, when it is given new revocations
(:meth:`~rtcstate.hub.Hub.revoke`), closes every live connection they cover.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from rtcstate import wire

__all__ = ["DEFAULT_TENANT", "Identity", "Refusal", "Revocations", "Verifier", "claimed"]

DEFAULT_TENANT = "default"


@attrs.frozen(slots=True)
class Identity:
    """A verified (or, without auth, claimed) identity of one relay connection.

    ``user`` is the token's ``sub``; ``devices`` the device names the token allows (``None``:
    any); ``tenant`` isolates groups of users from each other; ``roles`` are application roles
    such as ``"moderator"``; ``expires`` is the token's ``exp`` on the hub's clock (``None``:
    never); ``verified`` is False only for the unauthenticated default; ``token_id`` is the
    token's ``jti`` (what a revocation names), if it has one.
    """

    user: str
    tenant: str = DEFAULT_TENANT
    devices: tuple[str, ...] | None = None
    roles: frozenset[str] = frozenset()
    expires: float | None = None
    verified: bool = False
    token_id: str | None = None

    def allows_device(self, device: str) -> bool:
        """Whether this identity may register ``device``."""
        return self.devices is None or device in self.devices

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def key(self) -> tuple[str, str]:
        """``(tenant, user)``: what limits per identity count by."""
        return (self.tenant, self.user)

    def same_owner(self, other: Identity) -> bool:
        """Whether ``other`` is the same identity (it may take this one's address over)."""
        return (self.tenant, self.user, self.verified) == (other.tenant, other.user, other.verified)


@attrs.frozen(slots=True)
class Refusal:
    """A verifier's refusal: the ``ServerError`` code and the reason in words."""

    code: wire.ServerErrorCode
    reason: str


Verifier = Callable[[wire.Register, float], Identity | Refusal]
"""``verifier(register, now)``: the identity of a registering connection, or a refusal."""


def claimed(register: wire.Register, now: float) -> Identity:
    """The verifier without authentication: whoever the ``Register`` says (unverified)."""
    return Identity(user=register.user)


@attrs.frozen(slots=True)
class Revocations:
    """Revoked tokens (by ``jti``) and users (by ``sub``, every token of theirs, in every
    tenant): what the hub refuses at registration and cuts on live connections."""

    token_ids: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    def revokes(self, identity: Identity) -> str | None:
        """Why ``identity`` is revoked (words), or None. Only verified identities are: an
        unverified name is not a token (a revoked ``sub`` cannot be held by a claimed name
        on an authenticated relay anyway, since every registration there is verified)."""
        if not identity.verified:
            return None
        if identity.token_id is not None and identity.token_id in self.token_ids:
            return "token revoked"
        if identity.user in self.users:
            return f"tokens of {identity.user} revoked"
        return None

    def __bool__(self) -> bool:
        return bool(self.token_ids or self.users)
