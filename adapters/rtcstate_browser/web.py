"""Serving the browser client from the relay's port: page, adapter, Pyodide, packages.

Theory of operation
-------------------
:class:`WebApp` is a ``process_request`` hook for the relay's websockets server
(``Relay(process_request=...)``, ``rtcstate serve --web``): a request that asks for a websocket
upgrade goes on to the relay; any other request is answered here, from memory, and the
connection closes. Nothing is fetched from elsewhere at run time.

What it serves is fixed when it starts: ``/`` (the page), ``/static/<name>`` for every file of
``static/`` beside this module, ``/pyodide/<name>`` for the Pyodide runtime files found in the
Pyodide directory (``make web`` fetches the npm package there, see :func:`find_pyodide`) and
``/packages.zip``: the pure-Python packages the core needs in the page (``rtcstate``,
``rtcstate_browser``, ``attrs``, ``transitions``, ``six``), zipped from where this interpreter
imports them, so the page always runs the code the relay runs. A path is looked up by exact
name in those tables (never joined to a directory): ``..``, encoded separators or anything
else unknown is a 404. Every answer is ``GET``-only (websockets refuses other methods),
``nosniff``, with its exact content type (``.mjs``/``.js`` as JavaScript, ``.wasm`` as
``application/wasm``, as browsers require).
"""

from __future__ import annotations

import functools
import importlib.util
import io
import logging
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

__all__ = ["PAGE_PACKAGES", "PYODIDE_FILES", "WebApp", "find_pyodide"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
#: The Pyodide files the page loads (the npm package ``pyodide``, no package wheels).
PYODIDE_FILES = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)
#: Import names zipped into ``/packages.zip`` (pure Python; what ``import rtcstate`` needs).
PAGE_PACKAGES = ("rtcstate", "rtcstate_browser", "attr", "attrs", "transitions", "six")
_SKIPPED_PARTS = frozenset({"__pycache__", "static", "testing"})

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".zip": "application/zip",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


def find_pyodide(candidates: Iterable[Path] | None = None) -> Path | None:
    """The directory holding the Pyodide runtime, or None when it was never fetched.

    Looked for in ``$RTCSTATE_PYODIDE_DIR``, then ``build/pyodide`` of the source tree this
    package runs from (an editable install, ``make web``), then ``build/pyodide`` of the current
    directory."""
    if candidates is None:
        env = os.environ.get("RTCSTATE_PYODIDE_DIR")
        tree = Path(__file__).resolve().parents[2]
        candidates = [
            *([Path(env)] if env else []),
            tree / "build" / "pyodide",
            Path.cwd() / "build" / "pyodide",
        ]
    for path in candidates:
        if all((path / name).is_file() for name in PYODIDE_FILES):
            return path
    return None


@functools.cache
def packages_zip(names: tuple[str, ...] = PAGE_PACKAGES) -> bytes:
    """The ``.py`` sources of packages ``names`` as one zip, paths relative to site-packages."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                raise LookupError(f"package {name!r} is not importable")
            origin = Path(spec.origin)
            # a single module (six: it sets __path__ = [] once imported, so look at the file)
            if origin.name != "__init__.py":
                archive.write(origin, origin.name)
                continue
            root = origin.parent
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if _SKIPPED_PARTS.intersection(relative.parts) or not path.is_file():
                    continue
                if path.suffix in {".py", ".typed", ".pyi"}:
                    archive.write(path, f"{name}/{relative.as_posix()}")
    return buffer.getvalue()


class WebApp:
    """The ``process_request`` hook serving the browser client (see the module docstring)."""

    def __init__(self, pyodide_dir: Path | None = None, static_dir: Path = STATIC) -> None:
        self.pyodide_dir = pyodide_dir if pyodide_dir is not None else find_pyodide()
        self.routes: dict[str, Path | bytes] = {}
        for path in sorted(static_dir.iterdir()):
            if path.is_file():
                self.routes[f"/static/{path.name}"] = path
        self.routes["/"] = static_dir / "index.html"
        if self.pyodide_dir is None:
            log.warning("Pyodide not found: the page cannot start (run: make web)")
        else:
            for name in PYODIDE_FILES:
                self.routes[f"/pyodide/{name}"] = self.pyodide_dir / name
        self.routes["/packages.zip"] = packages_zip()
        self._cache: dict[str, bytes] = {}

    @property
    def ready(self) -> bool:
        """Whether everything the page needs is served (Pyodide was found)."""
        return self.pyodide_dir is not None

    def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None  # the relay's websocket
        path = request.path.split("?", 1)[0]
        return self.respond(path)

    def respond(self, path: str) -> Response:
        """The answer to ``GET path`` (200 with the file, or 404)."""
        route = self.routes.get(path)
        if route is None:
            return _response(404, "Not Found", b"not found\n", "text/plain; charset=utf-8")
        body = self._cache.get(path)
        if body is None:
            body = route if isinstance(route, bytes) else route.read_bytes()
            if not path.startswith("/static/") and path != "/":  # the page may be edited
                self._cache[path] = body
        name = "index.html" if path == "/" else path.rsplit("/", 1)[-1]
        kind = _TYPES.get(Path(name).suffix, "application/octet-stream")
        # Pyodide's files never change for a version: cached, the browser also keeps the
        # compiled wasm, which halves a warm start; the rest may change with the code.
        cache = "max-age=86400" if path.startswith("/pyodide/") else "no-cache"
        return _response(200, "OK", body, kind, cache)


def _response(
    status: int, phrase: str, body: bytes, kind: str, cache: str = "no-cache"
) -> Response:
    headers = Headers(
        [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Cache-Control", cache),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
        ]
    )
    return Response(status, phrase, headers, body)
