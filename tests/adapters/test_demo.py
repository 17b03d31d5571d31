"""``rtcstate demo``: every scenario runs over real aiortc on loopback and exits 0, printing
apiRTC event names as they happen and a summary; a failed step exits non-zero."""

from __future__ import annotations

import asyncio
import io
import re

import pytest
from rtcstate_cli import demo, main


def run_demo(scenario: str, size: int = 256 << 10) -> tuple[int, str]:
    out = io.StringIO()

    async def main_task() -> int:
        code = await asyncio.wait_for(demo.run(scenario, size, out), 90)
        await asyncio.sleep(0)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert left == [], left  # the relay, both agents and their media left nothing behind
        return code

    return asyncio.run(main_task()), out.getvalue()


def test_the_main_scenario() -> None:
    code, text = run_demo("call")
    assert code == 0, text
    for event in ("incomingCall", "accepted", "streamAdded", "opened", "dataReceived",
                  "fileTransferInvitation", "fileSentSuccessfully", "hangup"):  # fmt: skip
        assert f" {event}" in text, event
    assert "identical on both ends" in text and text.rstrip().endswith("demo OK")
    assert "'from': 'local', 'reason': 'Hangup_From_Caller'" in text


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [("decline", "User_Refused_Call"), ("busy", "User_Busy"), ("notfound", "User_Not_Found")],
)
def test_refusals(scenario: str, reason: str) -> None:
    code, text = run_demo(scenario)
    assert code == 0, text
    assert f"'reason': '{reason}'" in text and text.rstrip().endswith("demo OK")


def test_a_failed_step_exits_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(*args: object, **kwargs: object) -> None:
        raise demo.DemoFailed("forced failure")

    monkeypatch.setattr(demo, "_scenario", never)
    code, text = run_demo("call")
    assert code == 1 and "DEMO FAILED: forced failure" in text


def test_the_cli_knows_the_demo() -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--scenario", "nope"])


def test_the_readme_example_over_real_webrtc_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """README's asyncio example (a backend class as the factory, a call, a file)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "AiortcMedia" in b]
    assert len(blocks) == 1
    code = blocks[0].replace("asyncio.run(main())", "")
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    main_coro = namespace["main"]
    assert callable(main_coro)

    async def bounded() -> None:
        await asyncio.wait_for(main_coro(), 60)
        await asyncio.sleep(0)
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(bounded())
    assert "'percentage': 100.0" in capsys.readouterr().out


def test_the_demo_can_use_a_relay_that_runs_elsewhere() -> None:
    from rtcstate_asyncio import serve

    out = io.StringIO()

    async def main_task() -> int:
        relay = await serve("127.0.0.1", 0)
        try:
            return await asyncio.wait_for(demo.run("notfound", 0, out, relay_url=relay.url), 60)
        finally:
            await relay.close()

    assert asyncio.run(main_task()) == 0, out.getvalue()
    text = out.getvalue()
    assert "relay at ws://127.0.0.1:" in text and text.rstrip().endswith("demo OK")


def test_the_conference_scenario_checks_every_step() -> None:
    code, text = run_demo("conference")
    assert code == 0, text
    steps = ("waiting room", "ann admitted", "ben denied", "14 ERROR_NOT_ALLOWED", "cid invited",
             "messages numbered 1 and 2", "cid ejected", "closed then left",
             "studio: 4 agents, each publishing, 12 subscriptions (mesh)",
             "ben unpublished: his stream left every list", "cid killed: his stream left",
             "mod and ann carry on")  # fmt: skip
    for step in steps:
        assert step in text, step
    # the frames each received from each of the three others, audio and video
    for user in ("mod", "ann", "ben", "cid"):
        line = next(x for x in text.splitlines() if f"- {user} received frames from" in x)
        counts = re.findall(r"(\w+) (\d+)a/(\d+)v", line.split("from", 1)[1])
        assert {o for o, _, _ in counts} == {"mod", "ann", "ben", "cid"} - {user}, line
        assert all(int(a) >= 5 and int(v) >= 2 for _, a, v in counts), line
    for event in ("streamListChanged", "streamAdded", "streamRemoved", "roomModeChanged"):
        assert f" {event}" in text, event
    for event in ("waitingForModeratorAcceptance", "conversationJoinRequest", "entryDenied",
                  "conversationInvitation", "participantEjected", "closed"):  # fmt: skip
        assert f" {event}" in text, event
    assert text.rstrip().endswith("demo OK")


def test_a_failed_conference_step_exits_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    from rtcstate_cli import conference

    async def slow() -> None:
        await asyncio.sleep(1)

    async def failing(*args: object) -> None:
        # registered: now every step gets 50 ms, too short for this one
        monkeypatch.setattr(conference, "STEP", 0.05)
        await conference._step(slow(), "slow")

    monkeypatch.setattr(conference, "_scenario", failing)
    code, text = run_demo("conference")
    assert code == 1 and "DEMO FAILED: slow: nothing after 0 s" in text
