"""Generated docs are fresh, the CLI prints them, and the adapter sketch in docs/ really runs."""

from __future__ import annotations

import asyncio
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import rtcstate_cli

from rtcstate import codes, diagrams, wire
from rtcstate.session import Session, SessionConfig, SessionState

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.mark.parametrize("name", sorted(rtcstate_cli.GENERATED))
def test_generated_page_is_fresh(name: str) -> None:
    expected = rtcstate_cli.GENERATED[name]()
    current = (DOCS / name).read_text(encoding="utf-8")
    assert current == expected, f"docs/{name} is stale: run `make docs`"


def test_docs_check_command_detects_staleness(tmp_path: Path) -> None:
    assert rtcstate_cli.main(["docs", "--dir", str(tmp_path)]) == 0
    assert rtcstate_cli.main(["docs", "--dir", str(tmp_path), "--check"]) == 0
    (tmp_path / "diagrams.md").write_text("old", encoding="utf-8")
    assert rtcstate_cli.main(["docs", "--dir", str(tmp_path), "--check"]) == 1


def test_cli_prints_codes_and_diagrams(capsys: pytest.CaptureFixture[str]) -> None:
    assert rtcstate_cli.main(["codes"]) == 0
    out = capsys.readouterr().out
    for text in (
        "call take on other device",
        "ERROR_INVITATION_STATE_INVALID",
        "ICE_CONNECTION_STATE_DISCONNECTED",
        "INVITATION_STATUS_CANCELLED",
    ):
        assert text in out
    assert rtcstate_cli.main(["diagram", "SessionConnection"]) == 0
    out = capsys.readouterr().out
    assert "stateDiagram-v2" in out and "CONNECTED --> DISCONNECTED" in out
    assert rtcstate_cli.main(["diagram", "Nope"]) == 2
    assert rtcstate_cli.main(["machines"]) == 0
    assert "SessionConnection: states IDLE" in capsys.readouterr().out


def test_diagrams_cover_every_machine() -> None:
    text = diagrams.render_markdown()
    for name, spec in diagrams.load_all().items():
        assert f"## {name}" in text
        for t in spec.transitions:
            assert f"| `{t.trigger}` | {t.source} | {t.dest} |" in text


def test_docs_link_the_generated_references() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for page in (
        "codes.md",
        "diagrams.md",
        "contract.md",
        "adapters.md",
        "wire.md",
        "performance.md",
    ):
        assert f"({page})" in index
        assert (DOCS / page).exists()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_codes_reference_is_rendered_from_the_catalogue() -> None:
    md = (DOCS / "codes.md").read_text(encoding="utf-8")
    for reason in codes.SEED_HANGUP_REASONS:
        assert str(reason.value) in md


# --- the adapter sketch of docs/adapters.md, run against an in-memory websocket --------------


class _Closed(Exception):
    pass


class _FakeSocket:
    """Answers Register with Registered, like the relay would."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent: list[wire.Envelope] = []

    async def send(self, data: bytes) -> None:
        env = wire.decode(data)
        self.sent.append(env)
        if isinstance(env.message, wire.Register):
            reply = wire.Registered(
                user=env.message.user, device=env.message.device, session_id="S1"
            )
            await self.inbox.put(wire.encode(reply))

    async def close(self) -> None:
        await self.inbox.put(None)

    def __aiter__(self) -> _FakeSocket:
        return self

    async def __anext__(self) -> bytes:
        item = await self.inbox.get()
        if item is None:
            raise _Closed
        return item


def test_the_adapter_sketch_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (DOCS / "adapters.md").read_text(encoding="utf-8")
    source = re.search(r"```python\n(.*?)```", text, re.S)
    assert source is not None
    code = source.group(1)
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 32
    sockets: list[_FakeSocket] = []

    async def connect(url: str) -> _FakeSocket:
        assert url == "ws://127.0.0.1:1"
        sockets.append(_FakeSocket())
        return sockets[-1]

    fake = types.ModuleType("websockets")
    fake.connect = connect  # type: ignore[attr-defined]
    fake.ConnectionClosed = _Closed  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "websockets", fake)
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/adapters.md", "exec"), namespace)

    async def scenario() -> list[tuple[str, str, Any]]:
        events: list[tuple[str, str, Any]] = []
        loop = asyncio.get_running_loop()
        session = Session(
            SessionConfig(
                "alice",
                server_url="ws://127.0.0.1:1",
                keepalive_interval=0.05,
                keepalive_timeout=0.05,
            )
        )
        runner = namespace["SessionRunner"](session, lambda *e: events.append(e))
        runner.apply(session.register(loop.time()))
        while session.state is not SessionState.CONNECTED:
            await asyncio.sleep(0.005)
        # no Pong ever comes from the fake: keep-alive declares the server dead and retries
        while session.state is SessionState.CONNECTED:
            await asyncio.sleep(0.005)
        while session.state is not SessionState.CONNECTED:
            await asyncio.sleep(0.005)
        runner.apply(session.unregister(loop.time()))
        await asyncio.sleep(0.02)
        assert runner.timers == {}
        return events

    events = asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    names = [(t, e) for t, e, _ in events]
    assert names[0] == ("userAgent", "ccsConnectionStatus")
    assert ("session", "disconnect") in names and ("session", "reconnection") in names
    assert [p["status"] for t, e, p in events if e == "ccsConnectionStatus"] == [
        "connected",
        "disconnected",
        "retry",
        "connected",
    ]
    assert len(sockets) == 2
    assert isinstance(sockets[1].sent[0].message, wire.Register)
    assert sockets[1].sent[0].message.resume is True


def test_the_calls_guide_example_runs() -> None:
    text = (DOCS / "calls.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2  # a call input by input; the harness
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, "calls.md", "exec"), namespace)
    call = namespace["call"]
    assert call.state.name == "INVITING"
    assert namespace["invite"].message.call_id == call.id
