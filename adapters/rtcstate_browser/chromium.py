"""Starting headless Chromium for the browser tests, the media-backend suite and the testee.

Theory of operation
-------------------
One place knows which browser runs and how: :data:`CHROMIUM` (``$RTCSTATE_CHROMIUM``, else the
``chromium`` on the path, else Debian's ``/usr/bin/chromium``) and :data:`FLAGS`, measured on
these machines (shared/notes/browser-interop.md): loopback ICE, fake camera and microphone
granted without a prompt, raw host candidates instead of mDNS names, nothing from outside.

:class:`Chromium` runs the browser as a process of its own: headless, a fresh profile, the
DevTools protocol on 127.0.0.1 (its URL read from the browser's standard error, bounded in
time), in a new session so that :meth:`Chromium.stop` kills the whole process group
(``/usr/bin/chromium`` is a shell wrapper that ``exec``\\ s the browser) and removes the
profile. Playwright reaches it with ``connect_over_cdp(chromium.devtools)``.
:func:`launch_persistent` is the other way, for playwright's own launcher (sync or async API):
the same browser and flags in a persistent context.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM", "FLAGS", "Chromium", "launch_persistent"]

CHROMIUM = os.environ.get("RTCSTATE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: Measured flags (see the browser notes): loopback ICE, fake camera and microphone granted
#: without a prompt, raw host candidates instead of mDNS names, nothing from outside.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-loopback-in-peer-connection",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

_LISTENING = "DevTools listening on "


class Chromium:
    """One headless Chromium process (see the module docstring)."""

    def __init__(self, proc: subprocess.Popen[bytes], devtools: str, profile: str) -> None:
        self.proc = proc
        #: the DevTools websocket URL (``ws://127.0.0.1:PORT/devtools/browser/...``)
        self.devtools = devtools
        self.profile = profile
        #: the browser's standard error (in the profile: removed by stop())
        self.log = Path(profile) / "chromium-stderr.log"

    @classmethod
    def start(
        cls,
        url: str = "about:blank",
        *,
        executable: str | None = None,
        extra: Sequence[str] = (),
        limit: float = 60.0,
    ) -> Chromium:
        """Start the browser on ``url``; RuntimeError when it gives no DevTools URL within
        ``limit`` seconds (it is then killed)."""
        profile = tempfile.mkdtemp(prefix="rtcstate-chromium-")
        log = Path(profile) / "chromium-stderr.log"
        with log.open("wb") as err:  # a file, not a pipe: nobody has to keep reading it
            proc = subprocess.Popen(
                [executable or CHROMIUM, "--headless=new", "--remote-debugging-address=127.0.0.1",
                 "--remote-debugging-port=0", f"--user-data-dir={profile}", *FLAGS, *extra, url],
                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
            )  # fmt: skip
        browser = cls(proc, "", profile)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and proc.poll() is None:
            text = log.read_text(errors="replace")
            if _LISTENING in text:
                browser.devtools = text.split(_LISTENING, 1)[1].split("\n", 1)[0].strip()
                break
            time.sleep(0.05)
        if not browser.devtools:
            browser.stop()
            raise RuntimeError(f"{executable or CHROMIUM} did not start")
        return browser

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """Kill the browser's process group and remove its profile (idempotent)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def launch_persistent(playwright: Any, profile: Path | str) -> Any:
    """Playwright's ``launch_persistent_context`` of :data:`CHROMIUM` with :data:`FLAGS`
    (headless, profile ``profile``): the context, or with the async API a coroutine of it."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS
    )
