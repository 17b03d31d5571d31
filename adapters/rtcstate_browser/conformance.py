"""The browser media backend (static/media.js) as the media-backend conformance suite takes it.

``pytest --pyargs rtcstate_asyncio.conformance --rtcstate-backend
rtcstate_browser.conformance:BrowserBackends`` runs the suite's cases on :class:`BrowserMedia`
(the page's ``BrowserMedia``, on Chromium's RTCPeerConnection) driven from Python through
playwright.

Theory of operation
-------------------
A :class:`BrowserBackends` factory starts, on its first ``backend()``, one headless Chromium (the
distribution's, with the flags measured in the browser notes: loopback ICE, fake camera and
microphone) and one page (``static/suite.html``), served from the package by request interception on
``http://127.0.0.1/`` (a secure context), that imports ``media.js``. Each :class:`PageMedia` is
one ``BrowserMedia`` of that page, named. ``apply`` never blocks: it queues the effect as JSON
(``{"k": class name, ...fields}``, bytes as base64) and one pump task per backend hands what is
queued to the page in one ``evaluate`` (so effects keep their order, and a burst of
``SendData`` reaches the channel in one turn of the page, as the runtime would give it).
The page reports through exposed functions: a report becomes the :mod:`rtcstate.media` event
of that class name (as the Pyodide bridge does), a data-channel message a ``DataChannelMessage``
(text as ``str``, bytes as ``bytes``). After ``close()`` nothing is applied or reported.
*Loopback.* As the aiortc backend's ``loopback_only`` (the default), a candidate on another
address than 127.0.0.1 or ::1 is taken out of the page's local descriptions and trickled
candidates, and a remote one is not applied: the tests stay on loopback, whatever interfaces the
machine has (Chromium gathers on all of them; ``media.js`` itself filters nothing).
``aclose()`` (called by the suite after each case) closes the page. The process has one
Chromium, started on first use and reached over the DevTools protocol (``connect_over_cdp``)
from each case's loop, killed when the process exits.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import enum
import json
from importlib import resources
from typing import Any

import attrs

from rtcstate import effects as fx
from rtcstate import media
from rtcstate.media import MediaEvent
from rtcstate_browser.chromium import CHROMIUM, FLAGS, Chromium

__all__ = ["CHROMIUM", "FLAGS", "BrowserBackends", "PageMedia", "loopback_sdp", "on_loopback"]

ORIGIN = "http://127.0.0.1"


_SHARED: list[Chromium] = []


def _shared_browser() -> str:
    """The DevTools URL of this process's one headless Chromium, started on first use (each
    case of the suite runs in its own event loop: starting a browser for each would cost seconds
    per case on a loaded machine); it is killed when the process exits."""
    if _SHARED and _SHARED[0].running:
        return _SHARED[0].devtools
    browser = Chromium.start()
    _SHARED[:] = [browser]
    atexit.register(browser.stop)
    return browser.devtools


#: the media reports the page may send, by class name
_REPORTS: dict[str, type[MediaEvent]] = {
    name: cls
    for name in media.__all__
    if isinstance(cls := getattr(media, name), type)
    and issubclass(cls, MediaEvent)
    and cls is not MediaEvent
}


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def effect_json(effect: fx.Effect) -> dict[str, Any]:
    """``{"k": class name, ...fields}``: what ``BrowserMedia.apply`` takes."""
    fields = {f.name: _plain(getattr(effect, f.name)) for f in attrs.fields(type(effect))}
    return {"k": type(effect).__name__, **fields}


def on_loopback(candidate: str) -> bool:
    """Whether an ICE candidate line is on 127.0.0.1 or ::1 (an empty one, the end of
    candidates, counts as such)."""
    parts = candidate.split()
    return not candidate or (len(parts) > 4 and parts[4] in ("127.0.0.1", "::1"))


def loopback_sdp(sdp: str) -> str:
    """``sdp`` without its candidate lines off loopback."""
    lines = sdp.split("\r\n")
    kept = [x for x in lines if not x.startswith("a=candidate:") or on_loopback(x[2:])]
    return "\r\n".join(kept)


class PageMedia:
    """One ``BrowserMedia`` of the factory's page (see the module docstring)."""

    def __init__(self, factory: BrowserBackends, name: str, *, loopback_only: bool = True) -> None:
        self.factory = factory
        self.name = name
        self.loopback_only = loopback_only
        self.report: Any = None
        self.closed = False
        self.problems: list[str] = []
        self._queue: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._pump = asyncio.get_running_loop().create_task(self._run())

    def bind(self, report: Any) -> None:
        self.report = report
        self._queue.append({"k": "$bind"})
        self._wake.set()

    def apply(self, effect: fx.Effect) -> None:
        if self.closed:
            return
        if (
            self.loopback_only
            and type(effect) is fx.AddIceCandidate
            and not on_loopback(effect.candidate)
        ):
            return
        try:
            self._queue.append(effect_json(effect))
        except (TypeError, ValueError) as exc:  # never raise: a problem, reported as such
            self.problems.append(f"{effect!r}: {exc}")
            return
        self._wake.set()

    def deliver(self, event: MediaEvent) -> None:
        if self.closed or self.report is None:
            return
        if self.loopback_only:
            if type(event) is media.LocalDescriptionReady:
                event = attrs.evolve(event, sdp=loopback_sdp(event.sdp))
            elif type(event) is media.IceCandidateFound and not on_loopback(event.candidate):
                return
        self.report(event)

    async def _run(self) -> None:
        page = await self.factory.page()
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            if batch and batch[0]["k"] == "$bind":
                await page.evaluate("(n) => window.rtcBind(n)", self.name)
                batch = batch[1:]
            if batch:
                await page.evaluate("([n, es]) => window.rtcApply(n, es)", [self.name, batch])
            if self.closed and not self._queue:
                return

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._pump, 10.0)
        if not self._pump.done():
            self._pump.cancel()
        page = self.factory.live_page
        if page is not None:
            with contextlib.suppress(Exception):
                await page.evaluate("(n) => window.rtcClose(n)", self.name)


class BrowserBackends:
    """A :class:`~rtcstate_asyncio.conformance.BackendFactory` of :class:`PageMedia` (one
    headless Chromium and one page for all of them)."""

    #: media.js's high mark (1 MiB queued)
    buffered_high = 1 << 20

    def __init__(self) -> None:
        self.backends: dict[str, PageMedia] = {}
        self.live_page: Any = None
        self._start: asyncio.Task[Any] | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._own_page: Any = None
        # the process's Chromium starts here, once, before any case waits for a report
        self._cdp_url = _shared_browser()

    def backend(self, name: str) -> PageMedia:
        """A new backend ``name`` in the page (the browser starts on the first)."""
        if self._start is None:
            self._start = asyncio.get_running_loop().create_task(self._launch())
        backend = PageMedia(self, name)
        self.backends[name] = backend
        return backend

    async def page(self) -> Any:
        assert self._start is not None
        return await asyncio.shield(self._start)

    async def _launch(self) -> Any:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.connect_over_cdp(self._cdp_url)
        context = self._browser.contexts[0] if self._browser.contexts else None
        if context is None:
            context = await self._browser.new_context()
        page = await context.new_page()
        self._own_page = page
        static = resources.files("rtcstate_browser").joinpath("static")
        script = static.joinpath("media.js").read_text(encoding="utf-8")
        html = static.joinpath("suite.html").read_text(encoding="utf-8")

        async def serve(route: Any) -> None:
            url = route.request.url
            if url.endswith("/media.js"):
                await route.fulfill(body=script, content_type="text/javascript")
            else:
                await route.fulfill(body=html, content_type="text/html")

        await page.route(f"{ORIGIN}/**", serve)
        await page.expose_function("rtcReport", self._report)
        await page.expose_function("rtcData", self._data)
        await page.expose_function("rtcProblem", self._problem)
        await page.goto(f"{ORIGIN}/index.html")
        await page.wait_for_function("window.rtcReady === true", timeout=20_000)
        self.live_page = page
        return page

    def _report(self, name: str, kind: str, fields_json: str) -> None:
        backend = self.backends.get(name)
        cls = _REPORTS.get(kind)
        if backend is None:
            return
        try:
            event = cls(**json.loads(fields_json)) if cls is not None else None
        except (TypeError, ValueError) as exc:
            backend.problems.append(f"bad report {kind} {fields_json}: {exc}")
            return
        if event is None:
            backend.problems.append(f"unknown report {kind}")
            return
        backend.deliver(event)

    def _data(self, name: str, channel_id: str, is_text: bool, payload: str) -> None:
        backend = self.backends.get(name)
        if backend is not None:
            data: bytes | str = payload if is_text else base64.b64decode(payload)
            backend.deliver(media.DataChannelMessage(channel_id, data))

    def _problem(self, name: str, text: str) -> None:
        backend = self.backends.get(name)
        if backend is not None:
            backend.problems.append(text)

    async def aclose(self) -> None:
        """Close the page and the browser (after each case)."""
        for backend in self.backends.values():
            await backend.close()
        if self._start is not None and not self._start.done():
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._start, 30.0)
        with contextlib.suppress(Exception):
            if self._own_page is not None:
                await self._own_page.close()
        with contextlib.suppress(Exception):
            if self._browser is not None:
                await self._browser.close()  # the connection only: the browser stays
        with contextlib.suppress(Exception):
            if self._playwright is not None:
                await self._playwright.stop()
        self.live_page = self._browser = self._playwright = None
