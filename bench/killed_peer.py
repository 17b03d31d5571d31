"""How long a call survives a peer whose process is killed mid-call (real aiortc, loopback).

    .venv/bin/python bench/killed_peer.py --survivor caller   # alice calls, bob is killed
    .venv/bin/python bench/killed_peer.py --survivor callee   # bob calls, bob is killed

A relay on 127.0.0.1, alice in this process (``AiortcMedia(loopback_only=True)``, default
:class:`~rtcstate.settings.CallSettings` unless ``--short``), bob in a subprocess
(``tests/adapters/e2e_agent.py``). Once media flows both ways bob gets SIGKILL; the script
prints how long alice's call took to fire ``hangup`` after the kill, its payload and the
``error`` codes it fired. With the defaults it takes about a minute; it is a measurement for
the docs (``docs/aiortc.md``), not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

from rtcstate_aiortc import AiortcMedia
from rtcstate_asyncio import ReceivedCallInvitation, UserAgent, serve

from rtcstate.settings import CallSettings

AGENT = Path(__file__).resolve().parents[1] / "tests" / "adapters" / "e2e_agent.py"
SHORT = CallSettings(ice_disconnection_timeout=3.0, ice_warning_first=1.0, ice_warning_interval=1.0)


async def until(predicate: Any, limit: float) -> None:
    async with asyncio.timeout(limit):
        while not predicate():
            await asyncio.sleep(0.02)


async def measure(survivor: str, calls: CallSettings, limit: float) -> dict[str, Any]:
    relay = await serve("127.0.0.1", 0)
    media = AiortcMedia(loopback_only=True)
    ua = UserAgent("alice", media=media, options={"calls": calls,
                                                  "contact_disconnection_delay": 0.1})  # fmt: skip
    session = await ua.register(relay.url, timeout=10)
    accepted: list[Any] = []

    def incoming(invitation: ReceivedCallInvitation) -> None:
        accepted.append(invitation.accept())

    session.on("incomingCall", incoming)
    args = [relay.url, "bob"] + (["alice"] if survivor == "callee" else [])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(AGENT), *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        contact = session.get_contact("bob")
        await until(lambda: contact.is_online, 30.0)
        if survivor == "caller":
            call = contact.call()
        else:
            await until(lambda: bool(accepted), 30.0)
            call = accepted[0]
        await until(lambda: min(media.frames_received(call.id).values() or [0]) > 10, 30.0)
        hangup = call.wait_for("hangup", limit)
        killed = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        info = await hangup
        elapsed = time.monotonic() - killed
        errors = [e["errorCode"] for e in call.fired("error")]
        return {"survivor": survivor, "elapsed": round(elapsed, 1), "hangup": info,
                "errors": errors}  # fmt: skip
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await ua.unregister()
        await relay.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivor", choices=["caller", "callee"], default="caller")
    parser.add_argument("--short", action="store_true", help="ice_disconnection_timeout 3 s")
    parser.add_argument("--limit", type=float, default=150.0, help="give up after (s)")
    args = parser.parse_args()
    calls = SHORT if args.short else CallSettings()
    print(asyncio.run(measure(args.survivor, calls, args.limit)))


if __name__ == "__main__":
    main()
