"""``rtcstate serve``: the relay as its own process, on loopback; SIGTERM stops it gracefully
(clients hear the disconnection, the process exits 0)."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys

from rtcstate_asyncio import FakeMediaNetwork, UserAgent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_runs_a_relay_and_stops_on_sigterm() -> None:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "rtcstate_cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:

        async def scenario() -> None:
            net = FakeMediaNetwork()
            alice = UserAgent("alice", media=net.backend("alice"))
            bob = UserAgent("bob", media=net.backend("bob"))
            url = f"ws://127.0.0.1:{port}"
            async with asyncio.timeout(15):
                while True:  # the process is starting
                    try:
                        a = await alice.register(url, timeout=2)
                        break
                    except Exception:
                        await asyncio.sleep(0.2)
                b = await bob.register(url, timeout=5)
                b.on("incomingCall", lambda invitation: invitation.accept())
                call = a.get_contact("bob").call()
                await call.wait_for("accepted", timeout=5)
                lost = a.wait_for("disconnect", timeout=10)
                proc.send_signal(signal.SIGTERM)
                await lost  # the relay went away gracefully; the session noticed
                assert await asyncio.to_thread(proc.wait, 10) == 0
                await alice.unregister()
                await bob.unregister()

        asyncio.run(scenario())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
