"""Headless Chromium against a relay serving the page, with Python agents on the same relay.

One relay (with ``rtcstate_browser.web.WebApp``) and its agents run on an asyncio loop in a
background thread (:class:`ServerThread`); one Chromium (Debian's ``/usr/bin/chromium``, driven
by playwright's sync API, no browser download) serves a whole test module. Everything listens
on 127.0.0.1. Without Chromium, playwright or the Pyodide files these tests are skipped with
the command that installs them; under CI (``CI=true``) that is a failure instead.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from rtcstate_browser.chromium import CHROMIUM, FLAGS, launch_persistent
from rtcstate_browser.web import WebApp, find_pyodide

T = TypeVar("T")

ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts"
__all__ = ["CHROMIUM", "FLAGS", "ServerThread", "open_pages", "register", "until"]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Chromium is missing: apt-get update && apt-get install -y chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is missing: .venv/bin/pip install -e '.[browser]' (make install)"
    if find_pyodide() is None:
        return "the Pyodide runtime is missing: make web-assets"
    return None


def require_browser() -> None:
    """Skip (fail under CI) when something the browser tests need is not installed."""
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


class ServerThread:
    """An asyncio loop in a thread running the relay (serving the page) and Python agents."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.relay: Any = None
        self.web = WebApp()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the server loop, bounded; its result or exception."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn()`` on the server loop (the agents' API is not thread-safe)."""

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper(), timeout)

    def start_relay(self) -> str:
        from rtcstate_asyncio import serve

        async def start() -> Any:
            return await serve("127.0.0.1", 0, process_request=self.web)

        self.relay = self.run(start())
        return f"http://127.0.0.1:{self.relay.port}/"

    def stop(self) -> None:
        if self.relay is not None:
            self.run(self.relay.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def until(predicate: Callable[[], Any], limit: float = 20.0, step: float = 0.05) -> Any:
    """Poll ``predicate`` (bounded) until it is truthy; return its value."""
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true after {limit} s: {predicate}")
        time.sleep(step)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    require_browser()
    thread = ServerThread()
    try:
        thread.start_relay()
        yield thread
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium (a persistent context: a fresh profile) for the module."""
    require_browser()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = launch_persistent(pw, profile)
        try:
            yield context
        finally:
            context.close()


def open_pages(context: Any, base: str, count: int, limit: float = 120.0) -> list[Any]:
    """``count`` new tabs on the page, Pyodide and the core booted (one after the other: on a
    loaded 2-core machine booting them together takes longer than in turn)."""
    pages = [context.new_page() for _ in range(count)]
    for page in pages:
        page.goto(base)
        page.wait_for_function(
            "() => window.rtcstatePage && (window.rtcstatePage.ready || window.rtcstatePage.error)",
            timeout=limit * 1000,
        )
        error = page.evaluate("() => window.rtcstatePage.error || null")
        assert error is None, error
    return pages


def register(page: Any, name: str, **call_options: Any) -> Any:
    """Register the page's client as ``name`` (a booted page is reused: earlier events and
    files are forgotten, an earlier registration is left); ``call_options`` as the core's
    ``set_option`` takes them (``allow_multiple_calls=False``)."""
    page.evaluate(
        """([name, options]) => { const p = window.rtcstatePage;
            if (p.ua) p.ua.unregister();
            p.events.length = 0; p.received.length = 0;
            p.call = null; p.chat = null; p.autoAnswer = null;
            return p.register(name, options).then(() => true); }""",
        [name, call_options],
    )
    return page


def screenshot(page: Any, name: str) -> Path:
    """Keep a screenshot of ``page`` as a test artefact (build/test-artefacts, git-ignored)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
