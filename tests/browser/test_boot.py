"""The core boots in headless Chromium under Pyodide, served offline by the relay."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import ServerThread, open_page, screenshot


def test_page_boots_the_core_and_registers(server: ServerThread, chromium: Any) -> None:
    base = f"http://127.0.0.1:{server.relay.port}/"
    requests: list[str] = []
    chromium.on("request", lambda r: requests.append(r.url))
    page = open_page(chromium, base, "alice")
    boot_ms = page.evaluate("() => window.rtcstatePage.bootMs")
    assert 0 < boot_ms < 60_000
    # registered: the relay's hub holds alice's session
    assert page.evaluate("() => window.rtcstatePage.session !== null")
    events = page.evaluate("() => window.rtcstatePage.events.map(e => e.event)")
    assert "ccsConnectionStatus" in events
    # nothing was fetched from anywhere but the relay
    assert requests and all(u.startswith(base) or u.startswith("ws://127.0.0.1") for u in requests)
    screenshot(page, "boot")
    page.close()
