"""A user's mistake on the command line: one line on stderr and an exit code, never a
traceback; ``rtcstate codes NAME``; help texts without reStructuredText markup, defaults shown."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rtcstate_cli import main

ROOT = Path(__file__).resolve().parents[2]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err
    return lines[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--port", "70000"], "port 70000 out of range (0 to 65535)"),
        (["serve", "--port", "-1"], "port -1 out of range"),
        (["serve", "--port", "http"], "not a port number: 'http'"),
        (["demo", "--size-mb", "-3"], "-3 is not a size"),
        (["demo", "--size-mb", "0"], "0 is not a size"),
        (["demo", "--size-mb", "nan"], "nan is not a size"),
        (["demo", "--relay", "127.0.0.1:8765"], "bad relay URL '127.0.0.1:8765'"),
        (["demo", "--relay", "ws://127.0.0.1:99999"], "bad relay URL"),
    ],
)
def test_bad_values_are_refused_before_anything_starts(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    line = one_error_line(capsys)
    assert line.startswith(f"rtcstate {argv[0]}: error: ") and message in line


def test_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--host", "127.0.0.1", "--port", str(port)]) == 1
    line = one_error_line(capsys)
    assert line.startswith("rtcstate: error: address already in use")


def test_an_unknown_host_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "no-such-host.invalid", "--port", "0"]) == 1
    assert one_error_line(capsys).startswith("rtcstate: error: unknown host or address")


def test_an_unreachable_relay_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rtcstate_cli", "demo", "--relay", "ws://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    # one line, naming the real cause of the failed connection (not a generic "abandoned")
    assert line.startswith(
        "rtcstate: error: ERROR_APIRTC_INITIALISATION_FAILED (5): could not register on "
        "ws://127.0.0.1:1: "
    )
    assert "ConnectionRefusedError" in line


def test_docs_outside_the_repository_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["docs"]) == 2
    line = one_error_line(capsys)
    assert line == (
        "rtcstate: error: no docs folder here: run rtcstate docs from the repository's root, "
        "or give --dir DIR"
    )
    assert not (tmp_path / "docs").exists()  # nothing written


def test_a_diagram_without_a_name_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram"]) == 2
    assert one_error_line(capsys).startswith("rtcstate: error: no machine named; known: ")


def test_codes_looks_one_code_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codes", "user_busy"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("HangupReason.USER_BUSY = 'User_Busy'  [seed]\n")
    assert "multiple calls are disallowed" in out  # the whole meaning, not a shortened one
    assert main(["codes", "ICE_CONNECTION_STATE_FAILED"]) == 0
    assert "errorInfo: " in capsys.readouterr().out
    assert main(["codes", "16"]) == 0
    assert capsys.readouterr().out.startswith("ErrorNumber.ERROR_WRONG_STATE = 16")
    assert main(["codes", "User_Bsy"]) == 2
    assert one_error_line(capsys) == (
        "rtcstate: error: no apiRTC code named 'User_Bsy'; did you mean User_Busy? "
        "(list them: rtcstate codes)"
    )


COMMANDS = ["codes", "diagram", "machines", "docs", "serve", "demo"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_is_plain_text_with_defaults(
    command: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"] if command is None else [command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert not re.search(r"``|:(class|func|mod|meth|data):`|`[a-z]", text), text
    if command == "serve":
        assert "(default: 127.0.0.1)" in text and "(default: 8765)" in text
    if command == "demo":
        assert "(default: call)" in text and "(default: 4.0)" in text
    if command == "docs":
        assert "(default: docs)" in text
    assert "(default: None)" not in text and "(default: False)" not in text
