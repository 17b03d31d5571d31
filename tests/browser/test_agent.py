"""``rtcstate agent``: the Python agent the page calls, driven here by Python callers (aiortc on
loopback, no browser): it answers, echoes chat, reports the sha256 of a file, declines, is busy;
and the CLI runs it (and ``serve --web``) as processes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import urllib.request

from rtcstate_aiortc import AiortcMedia
from rtcstate_asyncio import UserAgent, serve
from rtcstate_cli.agent import Bot


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_bot_answers_echoes_and_hashes_files() -> None:
    async def scenario() -> None:
        relay = await serve("127.0.0.1", 0)
        bot, refuser = Bot("bot", out=None), Bot("refuser", decline=True, out=None)
        alice = UserAgent("alice", media=AiortcMedia(loopback_only=True))
        carol = UserAgent("carol", media=AiortcMedia(loopback_only=True))
        try:
            await bot.register(relay.url)
            await refuser.register(relay.url)
            a = await alice.register(relay.url, timeout=5)
            c = await carol.register(relay.url, timeout=5)
            call = a.get_contact("bot").call()
            await call.wait_for("accepted", timeout=15)
            # a second caller hears that the bot is busy
            busy = c.get_contact("bot").call()
            assert (await busy.wait_for("hangup", timeout=15))["reason"] == "User_Busy"
            # chat: echoed
            channel = a.get_contact("bot").start_data_channel("chat")
            got: list[str] = []
            channel.on("dataReceived", lambda info: got.append(info["data"]))
            await channel.wait_for("opened", timeout=15)
            channel.send_data("ping")
            async with asyncio.timeout(10):
                while "echo: ping" not in got:
                    await asyncio.sleep(0.01)
            # a file: its sha256 kept and announced on the chat
            data = os.urandom(300_000)
            digest = hashlib.sha256(data).hexdigest()
            await a.get_contact("bot").send_file(data, name="f.bin").done(timeout=30)
            async with asyncio.timeout(10):
                while f"sha256 f.bin {digest}" not in got:
                    await asyncio.sleep(0.01)
            assert bot.files[-1]["digest"] == digest and bot.files[-1]["size"] == len(data)
            # hang up: the bot saw the same reason
            ended = call.wait_for("hangup", timeout=10)
            call.hangup()
            mine = await ended
            async with asyncio.timeout(10):
                while not bot.hangups:
                    await asyncio.sleep(0.01)
            assert bot.hangups[-1]["reason"] == mine["reason"]
            # the refuser declines
            declined = a.get_contact("refuser").call()
            assert (await declined.wait_for("hangup", timeout=15))["reason"] == "User_Refused_Call"
        finally:
            for ua in (alice, carol):
                if ua.session is not None:
                    await ua.unregister()
            await bot.close()
            await refuser.close()
            await relay.close()

    asyncio.run(asyncio.wait_for(scenario(), 90))


def test_cli_serve_web_and_agent_run_as_processes() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    serve_cmd = [sys.executable, "-m", "rtcstate_cli", "serve", "--web", "--port", str(port)]
    relay = subprocess.Popen(serve_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    agent = None
    try:

        async def scenario() -> None:
            nonlocal agent
            url = f"ws://127.0.0.1:{port}"
            async with asyncio.timeout(30):
                while True:  # the relay is starting
                    try:
                        page = await asyncio.to_thread(
                            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                        )
                        break
                    except OSError:
                        await asyncio.sleep(0.2)
                assert page.status == 200 and b"rtcstate" in page.read()
                agent_cmd = [sys.executable, "-m", "rtcstate_cli", "agent", "--relay", url]
                agent = subprocess.Popen(agent_cmd, stdout=subprocess.PIPE, env=env)
                alice = UserAgent("alice", media=AiortcMedia(loopback_only=True))
                a = await alice.register(url, timeout=5)
                while not a.get_contact("bot").is_online:
                    await asyncio.sleep(0.05)
                call = a.get_contact("bot").call()
                await call.wait_for("accepted", timeout=15)
                ended = call.wait_for("hangup", timeout=10)
                call.hangup()
                await ended
                await alice.unregister()

        asyncio.run(scenario())
    finally:
        for proc in (agent, relay):
            if proc is not None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
                if proc.stdout is not None:
                    proc.stdout.close()
