"""What the relay security tests share: keys, tokens, a self-signed certificate, raw clients
and a relay listening on both loopback addresses (127.0.0.1 for attackers, ::1 for honest
clients, so per-source limits can be shown to spare other sources)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import ClientConnection

from rtcstate import wire

WAIT = 5.0
SECRET = "correct horse battery staple, long enough"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, object], claims: dict[str, object], key: bytes = b"") -> str:
    """A JWT built by hand: ``alg: none`` (no key) or HS256 with any bytes as the key (the
    algorithm-confusion attack uses the server's public key)."""
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    if header.get("alg") == "HS256":
        return head + "." + b64(hmac.new(key, head.encode(), hashlib.sha256).digest())
    return head + "."


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, written in ``directory``."""
    key = ec_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rtcstate test relay")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


def dual_stack_port() -> int:
    """A port free on both 127.0.0.1 and ::1."""
    for _ in range(50):
        with socket.socket() as s4:
            s4.bind(("127.0.0.1", 0))
            port: int = s4.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET6) as s6:
                    s6.bind(("::1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free on both loopback addresses")


async def recv(ws: ClientConnection, limit: float = WAIT) -> wire.Message:
    async with asyncio.timeout(limit):
        return wire.decode(await ws.recv()).message


async def register(
    ws: ClientConnection, user: str, device: str = "d", token: str | None = None
) -> wire.Message:
    """Send a Register; the first answer (Registered or ServerError)."""
    await ws.send(wire.encode(wire.Register(user, device, token)))
    return await recv(ws)
