"""``rtcstate serve``: the websocket relay as a process, with its authentication, TLS and limits.

Operations (docs/operations.md): ``--metrics-port`` serves ``/healthz`` and ``/metrics``
(Prometheus) on 127.0.0.1 (``--metrics-host``); ``SIGTERM`` drains the relay (every client is
told to move to another relay, close 1012) for at most ``--drain-timeout`` seconds, then exits 0.

Safe by default: without ``--auth-secret-file`` / ``--auth-public-key`` any name is accepted,
so the relay then binds loopback only (binding another address needs ``--insecure``) and says
so on start. ``--certfile`` / ``--keyfile`` serve ``wss://``. Every limit of the hub is an
option (defaults: :class:`rtcstate.hub.Hub`, documented in docs/security.md), and so is every
limit of the conversation rooms (defaults: :class:`rtcstate.rooms.RoomAuthority`).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import socket
import ssl
from typing import Any

import attrs

from rtcstate.extras import require
from rtcstate.hub import Hub
from rtcstate.rooms import RoomAuthority
from rtcstate_cli import errors

__all__ = ["add_arguments", "build_hub", "main"]

log = logging.getLogger("rtcstate.serve")

#: (option, Hub field, type, help): every limit the command exposes
LIMITS: tuple[tuple[str, str, type, str], ...] = (
    ("--max-message-size", "max_message_size", int, "largest frame accepted, bytes"),
    ("--rate-limit", "rate_limit", float, "messages/s per connection"),
    ("--rate-burst", "rate_burst", float, "burst per connection"),
    ("--identity-rate-limit", "identity_rate_limit", float, "messages/s per identity"),
    ("--identity-rate-burst", "identity_rate_burst", float, "burst per identity"),
    ("--source-rate-limit", "source_rate_limit", float, "messages/s per source address"),
    ("--source-rate-burst", "source_rate_burst", float, "burst per source address"),
    ("--register-rate", "register_rate", float, "registrations/s per identity"),
    ("--register-burst", "register_burst", float, "registration burst per identity"),
    ("--connect-rate", "connect_rate", float, "new connections/s per source address"),
    ("--connect-burst", "connect_burst", float, "connection burst per source address"),
    ("--max-connections-per-source", "max_connections_per_source", int,
     "open connections per source address"),
    ("--max-devices", "max_devices", int, "devices online per user"),
    ("--max-name-length", "max_name_length", int, "bytes in a user, device, tenant or group"),
    ("--max-subscriptions", "max_subscriptions", int, "presence subscriptions per connection"),
    ("--max-groups", "max_groups", int, "presence groups joined per connection"),
    ("--register-timeout", "register_timeout", float, "seconds to register after connecting"),
    ("--idle-timeout", "idle_timeout", float, "seconds without a frame before closing"),
    ("--max-queue-bytes", "max_queue_bytes", int, "unsent bytes before a slow consumer is closed"),
    ("--max-ringing", "max_ringing", int, "calls ringing per device (more are busy)"),
    ("--ring-timeout", "ring_timeout", float, "seconds a call counts as ringing at most"),
    ("--max-user-data", "max_user_data", int, "bytes of one user's published data at most"),
    ("--client-frame-limit", "client_frame_limit", int, "largest frame clients accept, bytes"),
    ("--max-strikes", "max_strikes", int, "refused frames in a row before closing"),
)  # fmt: skip

#: (option, RoomAuthority field, type, help): the conversation rooms' limits
ROOM_LIMITS: tuple[tuple[str, str, type, str], ...] = (
    ("--room-max-members", "max_members", int, "members per conversation room"),
    ("--room-max-waiting", "max_waiting", int, "waiters per room's waiting room"),
    ("--max-rooms", "max_rooms", int, "conversation rooms per tenant"),
    ("--max-rooms-per-address", "max_rooms_per_address", int, "rooms one device may be in"),
    ("--room-ban-time", "ban_time", float, "seconds an ejected user may not rejoin (0: no ban)"),
    ("--room-history-size", "history_size", int, "messages kept per room for late joiners"),
    ("--room-history-chars", "history_chars", int, "characters kept per room's history"),
    ("--room-max-data-size", "max_data_size", int, "bytes of a room's persistent data"),
)  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=errors.port, default=8765, help="TCP port (0: any free port)")
    p.add_argument("--web", action="store_true", help="also serve the browser client (make web)")
    ops = p.add_argument_group("operations (docs/operations.md)")
    ops.add_argument("--metrics-port", type=errors.port, metavar="P",
                     help="serve /healthz and /metrics (Prometheus) on port P")  # fmt: skip
    ops.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                     help="address of the metrics port")  # fmt: skip
    ops.add_argument("--drain-timeout", type=errors.non_negative, default=30.0, metavar="SECONDS",
                     help="on SIGTERM: tell every client to move to another relay, wait at "
                     "most SECONDS for them to leave, then exit 0")  # fmt: skip
    auth = p.add_argument_group("authentication (signed tokens, docs/security.md)")
    auth.add_argument("--auth-secret-file", metavar="PATH", help="HS256 secret, as text")
    auth.add_argument("--auth-public-key", metavar="PATH", help="RS256/ES256 public key (PEM)")
    auth.add_argument("--auth-audience", help="required 'aud' claim")
    auth.add_argument("--auth-issuer", help="required 'iss' claim")
    auth.add_argument("--revoked-tokens", metavar="PATH",
                      help="file of revoked 'jti:<id>' / 'sub:<user>' lines, re-read when it "
                      "changes or on SIGHUP")  # fmt: skip
    auth.add_argument("--insecure", action="store_true",
                      help="allow a non-loopback address without authentication")  # fmt: skip
    tls = p.add_argument_group("TLS")
    tls.add_argument("--certfile", metavar="PATH", help="certificate chain (PEM): serve wss://")
    tls.add_argument("--keyfile", metavar="PATH", help="private key of --certfile (PEM)")
    limits = p.add_argument_group("limits (0 or 'none' disables a rate or a timeout)")
    defaults = {f.name: f.default for f in attrs.fields(Hub)}
    for option, field, kind, text in LIMITS:
        limits.add_argument(option, dest=field, type=_optional(kind), default=defaults[field],
                            metavar="N", help=text)  # fmt: skip
    rooms = p.add_argument_group("conversation rooms (docs/conversations.md)")
    room_defaults = {f.name: f.default for f in attrs.fields(RoomAuthority)}
    for option, field, kind, text in ROOM_LIMITS:
        rooms.add_argument(option, dest=f"room_{field}", type=kind, default=room_defaults[field],
                           metavar="N", help=text)  # fmt: skip
    limits.add_argument(
        "--presence-group", default=defaults["presence_group"], metavar="NAME",
        help="group every registration joins and subscribes to ('' for none)",
    )  # fmt: skip
    cluster = p.add_argument_group("cluster: several nodes through Redis (docs/cluster.md)")
    cluster.add_argument("--redis", metavar="URL",
                         help="join the cluster at this Redis (redis://HOST:6379/0)")  # fmt: skip
    cluster.add_argument("--node-id", metavar="N", help="this node's name in the cluster")
    cluster.add_argument("--heartbeat", type=float, default=1.0, metavar="SECONDS",
                         help="seconds between heartbeats")  # fmt: skip
    cluster.add_argument("--node-ttl", type=float, default=3.0, metavar="SECONDS",
                         help="a node silent this long is taken for dead")  # fmt: skip
    cluster.add_argument("--room-grace", type=float, default=10.0, metavar="SECONDS",
                         help="a room member whose node died keeps its place this long, "
                              "waiting for it to register again elsewhere")  # fmt: skip
    limits.add_argument(
        "--presence-interval", type=_optional(float), default=0.1, metavar="SECONDS",
        help="presence changes told every SECONDS in one batch per group (0: each at once)",
    )  # fmt: skip


def _optional(kind: type) -> Any:
    def parse(text: str) -> Any:
        if text.lower() in ("none", "0", "0.0"):
            return None
        return kind(text)

    parse.__name__ = kind.__name__
    return parse


def build_hub(args: argparse.Namespace) -> Hub:
    """The hub the options describe (its verifier included)."""
    kw: dict[str, Any] = {}
    for _, field, _, _ in LIMITS:
        value = getattr(args, field)
        if value is None and field not in _NULLABLE:
            raise errors.UsageError(f"--{field.replace('_', '-')} needs a value")
        kw[field] = value
    kw["presence_group"] = args.presence_group or None
    kw["presence_interval"] = args.presence_interval
    try:
        kw["rooms"] = RoomAuthority(**{f: getattr(args, f"room_{f}") for _, f, _, _ in ROOM_LIMITS})
    except ValueError as exc:
        raise errors.UsageError(str(exc)) from None
    if args.auth_secret_file and args.auth_public_key:
        raise errors.UsageError("give --auth-secret-file or --auth-public-key, not both")
    if args.auth_secret_file or args.auth_public_key:
        from rtcstate_asyncio.auth import TokenVerifier

        claims = {"audience": args.auth_audience, "issuer": args.auth_issuer}
        if args.auth_secret_file:
            kw["verifier"] = TokenVerifier.from_secret_file(args.auth_secret_file, **claims)
        else:
            kw["verifier"] = TokenVerifier.from_public_key_file(args.auth_public_key, **claims)
    redis_url, node = getattr(args, "redis", None), getattr(args, "node_id", None)
    if (redis_url is None) != (node is None):
        raise errors.UsageError("--redis and --node-id go together")
    if node is not None:
        from rtcstate.hub import ClusterHub

        try:
            return ClusterHub(node=node, room_grace=getattr(args, "room_grace", 10.0), **kw)
        except ValueError as exc:
            raise errors.UsageError(f"--node-id or --room-grace: {exc}") from None
    return Hub(**kw)


#: the limits that may be disabled (0 or "none")
_NULLABLE = frozenset(
    {"rate_limit", "identity_rate_limit", "source_rate_limit", "register_rate", "connect_rate",
     "max_connections_per_source", "register_timeout", "idle_timeout"}
)  # fmt: skip


def _loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback one (an unknown host raises
    ``socket.gaierror``, which the CLI reports as one line)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, None)
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def tls_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    if certfile is None:
        if keyfile is not None:
            raise errors.UsageError("--keyfile needs --certfile")
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


def main(args: argparse.Namespace) -> int:
    """Run the relay the options describe until Ctrl-C or SIGTERM."""
    import asyncio
    import contextlib

    require("asyncio", "rtcstate serve")
    from rtcstate_asyncio.relay import run_relay  # only this command needs websockets

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    authenticated = bool(args.auth_secret_file or args.auth_public_key)
    if not authenticated and not _loopback(args.host) and not args.insecure:
        raise errors.UsageError(
            f"refusing to listen on {args.host} without authentication "
            "(give --auth-secret-file or --auth-public-key, or --insecure)"
        )
    hub = build_hub(args)
    if not authenticated:
        log.warning("no authentication: any name is accepted (loopback only unless --insecure)")
    if args.metrics_port is not None and not _loopback(args.metrics_host):
        log.warning("the metrics port %s is not loopback: anyone reaching it reads the counters",
                    args.metrics_host)  # fmt: skip
    ctx = tls_context(args.certfile, args.keyfile)
    revocations = _revocations(args.revoked_tokens)
    options: dict[str, Any] = {
        "hub": hub, "ssl": ctx, "process_request": _web_app(args.web),
        "revocations": revocations, "drain_timeout": args.drain_timeout,
        "metrics_port": args.metrics_port, "metrics_host": args.metrics_host,
        "node_id": getattr(args, "node_id", None),
    }  # fmt: skip
    if args.redis is not None:
        require("cluster", "rtcstate serve --redis")
        from rtcstate_cluster import ClusterLink

        redis_url, heartbeat, ttl = args.redis, args.heartbeat, args.node_ttl

        def link(relay: Any) -> Any:
            return ClusterLink(relay, redis_url, heartbeat=heartbeat, ttl=ttl)

        options["link"] = link
    with contextlib.suppress(KeyboardInterrupt):
        # one runner with or without a cluster: SIGTERM drains, --metrics-port serves
        asyncio.run(run_relay(args.host, args.port, **options))
    return 0


def _revocations(path: str | None) -> Any:
    """The watched revoked tokens file (``--revoked-tokens``), or None."""
    if path is None:
        return None
    from rtcstate_asyncio.revocation import RevocationFile

    try:
        with open(path, encoding="utf-8"):
            pass
    except OSError as exc:
        raise errors.UsageError(f"--revoked-tokens {path}: {exc.strerror}") from None
    return RevocationFile(path)


def _web_app(web: bool) -> Any:
    """The browser client's pages, served from the relay's port (``--web``), or None."""
    if not web:
        return None
    from rtcstate_browser.web import WebApp

    return WebApp()
