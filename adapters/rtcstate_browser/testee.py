"""The browser client as a testee of the wire suite (``rtcstate conformance --browser``).

Theory of operation
-------------------
The testee driver itself is JavaScript (``static/testee.js``, run by ``static/testee.html``):
in the page, the browser client (the core under Pyodide, the JavaScript runtime on the page's
own ``WebSocket`` and ``setTimeout``) connects to the conformance server's ``/relay`` as it would
to a relay and the driver speaks the control protocol on ``/control``, as any third-party
client's would. This module only hosts it: :func:`run_browser_testee` serves the page, the
adapter, Pyodide and the core's packages (:class:`~rtcstate_browser.web.WebApp`) from a
loopback HTTP port of its own, starts a headless Chromium
(:class:`~rtcstate_browser.chromium.Chromium`), opens ``testee.html?control=URL`` over the
DevTools protocol (playwright) and waits until the page says the run is over (the server's
``done``, or the control connection closed). The page's console and errors are kept in
:attr:`BrowserTestee.console`. The browser is killed and the port closed on the way out, also
when the run is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.server import ServerConnection, serve

from rtcstate_browser.chromium import Chromium
from rtcstate_browser.web import WebApp

__all__ = ["BrowserTestee", "run_browser_testee"]

NAME = "rtcstate-browser"


class BrowserTestee:
    """One run of the page's testee driver against a conformance server."""

    def __init__(self, *, name: str = NAME, boot_timeout: float = 240.0) -> None:
        self.name = name
        self.boot_timeout = boot_timeout
        self.console: list[str] = []
        #: what the page said at the end: ``{"ok", "error", "commands"}``
        self.outcome: dict[str, Any] = {}

    async def __call__(self, control_url: str) -> int:
        """Serve the server at ``control_url`` until the run is over; 0 when it said done."""
        app = WebApp()
        if not app.ready:
            raise RuntimeError("the Pyodide runtime is missing: make web-assets")
        async with serve(_refuse, "127.0.0.1", 0, process_request=app) as http:
            port = next(iter(http.sockets)).getsockname()[1]
            query = urlencode({"control": control_url, "name": self.name})
            url = f"http://127.0.0.1:{port}/static/testee.html?{query}"
            browser = await asyncio.to_thread(Chromium.start)
            try:
                await self._drive(browser, url)
            finally:
                await asyncio.to_thread(browser.stop)
        return 0 if self.outcome.get("ok") else 1

    async def _drive(self, browser: Chromium, url: str) -> None:
        from playwright.async_api import async_playwright

        async with async_playwright() as pw:
            cdp = await pw.chromium.connect_over_cdp(browser.devtools)
            context = cdp.contexts[0] if cdp.contexts else await cdp.new_context()
            page = await context.new_page()
            page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
            await page.goto(url)
            await page.wait_for_function(
                "() => window.rtcstateTestee && window.rtcstateTestee.finished",
                timeout=0,
                polling=250,
            )
            self.outcome = await page.evaluate("() => ({...window.rtcstateTestee})")
            with contextlib.suppress(Exception):
                await cdp.close()


async def _refuse(ws: ServerConnection) -> None:
    await ws.close(1008, "no websocket here")


async def run_browser_testee(control_url: str, name: str = NAME) -> int:
    """The browser client serving the conformance server at ``control_url`` until it says
    ``done`` (as :func:`rtcstate_conformance.testee.run_testee`); 0 when it did."""
    return await BrowserTestee(name=name)(control_url)
