"""A callee in its own process, for tests/adapters/test_e2e_aiortc.py.

    python e2e_agent.py RELAY_URL USER [CONTACT]

Registers ``USER`` on the relay with a real aiortc backend (loopback only), accepts every
incoming call (with ``CONTACT``: also calls that contact once it is online), and reports on
stdout, one line each, flushed:

* ``ready`` once registered;
* ``call <call id>`` when it accepts a call;
* ``frames <call id> <audio received> <video received>`` every 0.1 s while a call is held.

It runs until killed (the test kills it with SIGKILL) or until stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

from rtcstate_aiortc import AiortcMedia
from rtcstate_asyncio import ReceivedCallInvitation, UserAgent


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def main(url: str, user: str, contact: str | None = None) -> None:
    media = AiortcMedia(loopback_only=True)
    ua = UserAgent(user, media=media, options={"contact_disconnection_delay": 0.1})
    session = await ua.register(url, timeout=10)
    calls: list[str] = []

    def incoming(invitation: ReceivedCallInvitation) -> None:
        call = invitation.accept()
        calls.append(call.id)
        say(f"call {call.id}")

    session.on("incomingCall", incoming)
    say("ready")
    if contact is not None:
        peer = session.get_contact(contact)
        async with asyncio.timeout(20.0):
            while not peer.is_online:
                await asyncio.sleep(0.05)
        call = peer.call()
        calls.append(call.id)
        say(f"call {call.id}")
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    while not stdin_closed.done():
        for call_id in calls:
            got = media.frames_received(call_id)
            say(f"frames {call_id} {got.get('audio', 0)} {got.get('video', 0)}")
        await asyncio.wait([stdin_closed], timeout=0.1)
    await ua.unregister()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], *sys.argv[3:4]))
