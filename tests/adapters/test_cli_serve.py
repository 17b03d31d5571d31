"""``rtcstate serve``: the relay as its own process, on loopback; SIGTERM stops it gracefully
(clients hear the disconnection, the process exits 0)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from adaptertools import run, serve_process
from rtcstate_asyncio import FakeMediaNetwork, UserAgent


def test_serve_runs_a_relay_and_stops_on_sigterm() -> None:
    with serve_process() as served:

        async def scenario() -> None:
            net = FakeMediaNetwork()
            alice = UserAgent("alice", media=net.backend("alice"))
            bob = UserAgent("bob", media=net.backend("bob"))
            await served.ready()
            a = await alice.register(served.url, timeout=5)
            b = await bob.register(served.url, timeout=5)
            b.on("incomingCall", lambda invitation: invitation.accept())
            call = a.get_contact("bob").call()
            await call.wait_for("accepted", timeout=5)
            lost = a.wait_for("disconnect", timeout=10)
            served.proc.send_signal(signal.SIGTERM)
            await lost  # the relay went away gracefully; the session noticed
            assert await asyncio.to_thread(served.proc.wait, 10) == 0
            await alice.unregister()
            await bob.unregister()

        run(scenario, limit=30)
    # the safe default says so on start
    assert "no authentication: any name is accepted" in served.output


def test_serve_refuses_a_public_address_without_authentication(capsys: Any) -> None:
    import rtcstate_cli

    # a user's mistake: one line and exit code 2 (rtcstate_cli.errors), nothing listens
    assert rtcstate_cli.main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("rtcstate: error: refusing to listen on 0.0.0.0 without authentication")


def test_serve_options_configure_every_limit(tmp_path: object) -> None:
    import argparse
    from pathlib import Path

    from rtcstate_asyncio.auth import TokenVerifier
    from rtcstate_cli import serve

    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    secret = Path(str(tmp_path)) / "secret"
    secret.write_text("  " + "k" * 40 + "\n")
    args = parser.parse_args(
        ["--auth-secret-file", str(secret), "--rate-limit", "5", "--idle-timeout", "none",
         "--max-queue-bytes", "4096", "--presence-group", "", "--max-devices", "2"]
    )  # fmt: skip
    hub = serve.build_hub(args)
    assert isinstance(hub.verifier, TokenVerifier) and hub.verifier.algorithm == "HS256"
    assert hub.verifier.key == b"k" * 40
    assert (hub.rate_limit, hub.idle_timeout, hub.max_queue_bytes) == (5.0, None, 4096)
    assert hub.presence_group is None and hub.max_devices == 2
    defaults = serve.build_hub(parser.parse_args([]))
    assert defaults.register_timeout == 10.0 and defaults.presence_group == "default"
    assert defaults.rooms.max_members == 1000 and defaults.rooms.ban_time == 600.0
    rooms = serve.build_hub(
        parser.parse_args(["--room-max-members", "3", "--room-ban-time", "0", "--max-rooms", "7",
                           "--room-max-data-size", "100"])
    ).rooms  # fmt: skip
    assert (rooms.max_members, rooms.ban_time, rooms.max_rooms, rooms.max_data_size) == (
        3, 0.0, 7, 100,
    )  # fmt: skip
    import pytest
    from rtcstate_cli.errors import UsageError

    with pytest.raises(UsageError, match="room limits must be >= 1"):
        serve.build_hub(parser.parse_args(["--room-max-members", "0"]))


def test_serve_with_tokens_over_tls(tmp_path: object) -> None:
    from pathlib import Path

    import pytest
    from rtcstate_asyncio.agent import RegistrationError
    from rtcstate_asyncio.auth import issue_token
    from securitytools import SECRET, self_signed

    directory = Path(str(tmp_path))
    certfile, keyfile = self_signed(directory)
    (directory / "secret").write_text(SECRET + "\n")
    args = ["--auth-secret-file", str(directory / "secret"), "--certfile", str(certfile),
            "--keyfile", str(keyfile)]  # fmt: skip
    with serve_process(*args, scheme="wss") as served:

        async def scenario() -> None:
            import ssl

            ctx = ssl.create_default_context(cafile=str(certfile))
            alice = UserAgent("alice", options={"keepalive_interval": None})
            await served.ready()
            await alice.register(served.url, token=issue_token(SECRET, "alice"), ssl=ctx,
                                 timeout=5)  # fmt: skip
            bob = UserAgent("bob")
            with pytest.raises(RegistrationError, match="expired token"):
                await bob.register(served.url, token=issue_token(SECRET, "bob", ttl=-5), ssl=ctx,
                                   timeout=5)  # fmt: skip
            await alice.unregister()
            served.proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(served.proc.wait, 10) == 0

        run(scenario, limit=30)
    out = served.output
    assert "event=registered" in out and "address=alice/default" in out
    assert "code=token_expired" in out
