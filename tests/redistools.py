"""A real Redis for the tests: the distribution's ``redis-server``, started on 127.0.0.1.

:class:`RedisServer` starts ``redis-server`` on a free loopback port in a temporary directory,
with nothing written to disk (``--save ''``, ``--appendonly no``), waits (bounded) until it
answers ``PING``, and stops it (``SIGTERM``, a bounded wait, then ``SIGKILL``). A port taken
between choosing it and the server binding it is retried on another one, a few times.

Without ``redis-server`` (or the client, ``redis-py``, which the ``[cluster]`` extra brings)
:func:`require_redis` skips the test with the command that installs it; under CI (``CI=true``)
that is a failure instead (DESIGN.md §10), as for the browser tests. ``.ci/run`` installs the
distribution's package when it is missing. ``RTCSTATE_REDIS_SERVER`` names another binary.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

REDIS_SERVER = (
    os.environ.get("RTCSTATE_REDIS_SERVER")
    or shutil.which("redis-server")
    or "/usr/bin/redis-server"
)
INSTALL = "apt-get update && apt-get install -y redis-server"
#: bounds (seconds): the server answering PING once started, and stopping after SIGTERM
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
PORT_ATTEMPTS = 3


def _missing() -> str | None:
    if not Path(REDIS_SERVER).exists():
        return f"redis-server is missing: {INSTALL}"
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        return "redis-py is missing: .venv/bin/pip install -e '.[cluster]' (make install)"
    return None


def require_redis() -> None:
    """Skip (fail under CI) when ``redis-server`` or the client is not installed."""
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"Redis tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server may still lose it to a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis on 127.0.0.1:``port`` answers ``PING`` with ``+PONG``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1, its files under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        """Start on a free port and wait (bounded) until it answers; retry a taken port."""
        for _ in range(PORT_ATTEMPTS):
            if self._start_once(free_port()):
                return
        raise RuntimeError(f"redis-server did not start after {PORT_ATTEMPTS} ports:\n{self.log}")

    def _start_once(self, port: int) -> bool:
        self.port = port
        # nothing on disk: no snapshots, no append-only file; loopback only
        options = {
            "bind": "127.0.0.1",
            "port": str(port),
            "save": "",
            "appendonly": "no",
            "dir": str(self.directory),
            "logfile": str(self.directory / "redis.log"),
            "daemonize": "no",
        }
        argv = [REDIS_SERVER]
        for name, value in options.items():
            argv += [f"--{name}", value]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:  # exited: the port was taken, say
                return False
            if ping(port):
                return True
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"redis-server did not answer within {START_TIMEOUT} s:\n{self.log}")

    def restart(self) -> None:
        """Stop, then start again on the same port (empty: nothing is written to disk)."""
        self.stop()
        if not self._start_once(self.port):
            raise RuntimeError(f"redis-server did not start again on {self.port}:\n{self.log}")

    def stop(self) -> None:
        """SIGTERM, a bounded wait, then SIGKILL; idempotent."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
