"""Typed events: every name a Literal, every payload a type mypy sees (mypy --strict is run)."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import rtcstate_asyncio
from rtcstate_asyncio import events, typed

from rtcstate.codes import AVAILABLE_EVENTS

ROOT = Path(__file__).resolve().parents[2]
TYPING = ROOT / "tests" / "typing"

CLASSES = {
    "UserAgent": rtcstate_asyncio.UserAgent,
    "Session": rtcstate_asyncio.Session,
    "Contact": rtcstate_asyncio.Contact,
    "Call": rtcstate_asyncio.Call,
    "DataChannel": rtcstate_asyncio.DataChannel,
    "SentInvitation": rtcstate_asyncio.SentInvitation,
    "ReceivedCallInvitation": rtcstate_asyncio.ReceivedCallInvitation,
    "ReceivedDataChannelInvitation": rtcstate_asyncio.ReceivedDataChannelInvitation,
    "ReceivedFileTransferInvitation": rtcstate_asyncio.ReceivedFileTransferInvitation,
}


def test_typed_module_is_fresh() -> None:
    current = events.TYPED_PATH.read_text(encoding="utf-8")
    assert current == events.render_typed_module(), "run: python -m rtcstate_asyncio.events"


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_each_class_has_its_literal_names_and_typed_methods(name: str) -> None:
    cls = CLASSES[name]
    assert name == cls.API_CLASS
    mixin = getattr(typed, f"{name}Events")
    assert issubclass(cls, mixin)
    literal = getattr(typed, f"{name}EventName")
    assert set(typing.get_args(literal)) == set(events.event_names(name))
    assert set(AVAILABLE_EVENTS[name]) <= set(typing.get_args(literal))
    # every payload named is a whitelisted event of the class and a type that exists
    for event, payload in events.PAYLOADS[name].items():
        assert event in events.event_names(name), (name, event)
        if payload[0].isupper() and payload not in {"Any", "None"}:
            assert hasattr(events, payload) or hasattr(rtcstate_asyncio, payload), payload


def test_every_payload_typeddict_is_documented() -> None:
    for type_name in events.__all__:
        obj = getattr(events, type_name)
        if isinstance(obj, type) and issubclass(obj, dict):
            assert obj.__doc__ and "``" in obj.__doc__, type_name  # says which event


def _mypy(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_mypy_strict_accepts_typed_handlers() -> None:
    done = _mypy(TYPING / "typed_ok.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_refuses_wrong_names_and_payloads() -> None:
    path = TYPING / "typed_bad.py"
    expected = {
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"#\s*error:", line)
    }
    done = _mypy(path)
    reported = {int(m) for m in re.findall(rf"{re.escape(path.name)}:(\d+): error", done.stdout)}
    assert len(expected) == 6
    assert reported == expected, done.stdout
