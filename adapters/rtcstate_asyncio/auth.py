"""Token verification for the relay: signed JWTs checked before the hub trusts anyone.

Theory of operation
-------------------
A :class:`TokenVerifier` is the hub's ``verifier`` (see :mod:`rtcstate.identity`): called with
the client's ``Register`` and the hub's ``now``, it returns the connection's
:class:`~rtcstate.identity.Identity` or a :class:`~rtcstate.identity.Refusal` with the reason in
words. Tokens are JWTs verified with PyJWT: HS256 with a shared secret
(:meth:`TokenVerifier.from_secret_file`), or RS256 / ES256 with a public key
(:meth:`TokenVerifier.from_public_key_file`; the algorithm follows the key's type). Exactly one
algorithm is accepted per verifier, so ``alg: none`` and algorithm confusion (an HS256 token
"signed" with the public key as its secret) are refused before any signature is computed.

Claims: ``sub`` (the user, required and equal to the ``Register``'s user), ``exp`` (required),
optional ``devices`` (the device names allowed), ``tenant``, ``roles`` and ``jti`` (the
token's id, what a revocation names: :mod:`rtcstate_asyncio.revocation`), and ``aud`` / ``iss``
when the verifier is given an audience / issuer. ``exp`` is read on the wall clock and handed
to the hub on its own (monotonic) clock, so the hub closes the connection when it passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from rtcstate import wire
from rtcstate.identity import DEFAULT_TENANT, Identity, Refusal

__all__ = ["MIN_SECRET_BYTES", "TokenVerifier", "issue_token"]

Code = wire.ServerErrorCode
#: an HMAC secret shorter than this is refused (RFC 7518 §3.2: at least the hash size)
MIN_SECRET_BYTES = 32


class TokenVerifier:
    """Verify ``Register.token`` (a JWT) and build the connection's identity."""

    def __init__(
        self,
        key: Any,
        algorithm: str,
        *,
        audience: str | None = None,
        issuer: str | None = None,
        leeway: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.algorithm = algorithm
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway
        self.clock = clock

    @classmethod
    def from_secret(cls, secret: str | bytes, **kw: Any) -> TokenVerifier:
        """HS256 with ``secret`` (at least :data:`MIN_SECRET_BYTES` bytes)."""
        raw = secret.encode() if isinstance(secret, str) else secret
        if len(raw) < MIN_SECRET_BYTES:
            raise ValueError(f"the HMAC secret must be at least {MIN_SECRET_BYTES} bytes")
        return cls(raw, "HS256", **kw)

    @classmethod
    def from_secret_file(cls, path: str | Path, **kw: Any) -> TokenVerifier:
        """HS256 with the secret held as text in ``path`` (surrounding whitespace ignored)."""
        return cls.from_secret(Path(path).read_text(encoding="utf-8").strip(), **kw)

    @classmethod
    def from_public_key_file(cls, path: str | Path, **kw: Any) -> TokenVerifier:
        """RS256 (an RSA key) or ES256 (a P-256 key) with a PEM SubjectPublicKeyInfo."""
        key = load_pem_public_key(Path(path).read_bytes())
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 2048:
                raise ValueError("RSA keys must have at least 2048 bits")
            return cls(key, "RS256", **kw)
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            return cls(key, "ES256", **kw)
        raise ValueError("the public key must be RSA (RS256) or EC P-256 (ES256)")

    def __call__(self, register: wire.Register, now: float) -> Identity | Refusal:
        token = register.token
        if not token:
            return Refusal(Code.AUTH_REQUIRED, "a token is required")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return Refusal(Code.TOKEN_INVALID, "malformed token")
        alg = header.get("alg")
        if alg != self.algorithm:
            return Refusal(Code.TOKEN_INVALID, f"algorithm {alg!r} refused (not {self.algorithm})")
        wall = self.clock()
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["sub", "exp"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            return Refusal(Code.TOKEN_EXPIRED, "expired token")
        except jwt.InvalidSignatureError:
            return Refusal(Code.TOKEN_INVALID, "bad signature")
        except jwt.MissingRequiredClaimError as exc:
            return Refusal(Code.TOKEN_INVALID, f"token without the {exc.claim!r} claim")
        except jwt.InvalidAudienceError:
            return Refusal(Code.TOKEN_INVALID, "token for another audience")
        except jwt.InvalidIssuerError:
            return Refusal(Code.TOKEN_INVALID, "token from another issuer")
        except jwt.ImmatureSignatureError:
            return Refusal(Code.TOKEN_INVALID, "token not valid yet")
        except jwt.PyJWTError as exc:
            return Refusal(Code.TOKEN_INVALID, f"invalid token ({type(exc).__name__})")
        return self._identity(claims, register, now, wall)

    def _identity(
        self, claims: dict[str, Any], register: wire.Register, now: float, wall: float
    ) -> Identity | Refusal:
        sub, exp = claims["sub"], claims["exp"]
        if not isinstance(sub, str) or not isinstance(exp, int | float):
            return Refusal(Code.TOKEN_INVALID, "claims 'sub' must be a string, 'exp' a number")
        if sub != register.user:
            return Refusal(Code.TOKEN_WRONG_USER, "token for another user")
        devices = claims.get("devices")
        tenant = claims.get("tenant", DEFAULT_TENANT)
        roles = claims.get("roles", [])
        if devices is not None and not _strings(devices):
            return Refusal(Code.TOKEN_INVALID, "claim 'devices' must be a list of strings")
        if not isinstance(tenant, str) or not tenant or not _strings(roles):
            return Refusal(Code.TOKEN_INVALID, "claims 'tenant' and 'roles' are malformed")
        jti = claims.get("jti")
        if jti is not None and not isinstance(jti, str):
            return Refusal(Code.TOKEN_INVALID, "claim 'jti' must be a string")
        return Identity(
            user=sub,
            tenant=tenant,
            devices=None if devices is None else tuple(devices),
            roles=frozenset(roles),
            expires=now + (float(exp) + self.leeway - wall),
            verified=True,
            token_id=jti,
        )


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def issue_token(
    key: Any,
    user: str,
    *,
    ttl: float = 3600.0,
    algorithm: str = "HS256",
    devices: list[str] | None = None,
    tenant: str | None = None,
    roles: list[str] | None = None,
    clock: Callable[[], float] = time.time,
    **claims: Any,
) -> str:
    """A signed token for ``user`` valid ``ttl`` seconds (what an application server issues:
    ``key`` is the HMAC secret for HS256, the private key for RS256 / ES256)."""
    body: dict[str, Any] = {"sub": user, "exp": int(clock() + ttl), **claims}
    if devices is not None:
        body["devices"] = devices
    if tenant is not None:
        body["tenant"] = tenant
    if roles is not None:
        body["roles"] = roles
    return jwt.encode(body, key, algorithm=algorithm)
