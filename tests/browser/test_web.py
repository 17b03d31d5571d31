"""Serving the browser client from the relay's port: what is served, and what an attacker gets.

The hook answers plain HTTP from fixed tables (never joining a request path to a directory) and
lets websocket upgrades through to the relay on the same port. These tests need no browser.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import pytest
from rtcstate_asyncio import UserAgent, serve
from rtcstate_browser.web import PYODIDE_FILES, WebApp, find_pyodide, packages_zip


@pytest.fixture
def fake_pyodide(tmp_path: Path) -> Path:
    for name in PYODIDE_FILES:
        (tmp_path / name).write_bytes(f"contents of {name}".encode())
    (tmp_path / "secret.txt").write_text("not for the web")
    return tmp_path


def test_served_files_have_their_exact_types(fake_pyodide: Path) -> None:
    app = WebApp(fake_pyodide)
    assert app.ready
    page = app.respond("/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b"rtcstate" in page.body
    for name, kind in [
        ("pyodide.mjs", "text/javascript"),
        ("pyodide.asm.mjs", "text/javascript"),
        ("pyodide.asm.wasm", "application/wasm"),
        ("python_stdlib.zip", "application/zip"),
        ("pyodide-lock.json", "application/json"),
    ]:
        r = app.respond(f"/pyodide/{name}")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(kind), name
        assert r.body == f"contents of {name}".encode()
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("runtime.js", "media.js", "rtcstate.js", "app.js"):
        r = app.respond(f"/static/{name}")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")


@pytest.mark.parametrize(
    "path",
    [
        "/pyodide/secret.txt",  # in the Pyodide directory, but not a runtime file
        "/static/../web.py",
        "/static/../../rtcstate/wire.py",
        "/pyodide/../../../etc/passwd",
        "/static/%2e%2e/web.py",
        "/static/..%2fweb.py",
        "//etc/passwd",
        "/static/",
        "/static",
        "/pyodide/",
        "/packages.zip/../web.py",
        "/index.html/../../web.py",
        "/" + "a" * 5000,
        "/static/runtime.js\x00.png",
        "",
    ],
)
def test_anything_else_is_404(fake_pyodide: Path, path: str) -> None:
    r = WebApp(fake_pyodide).respond(path)
    assert r.status_code == 404
    assert r.body == b"not found\n"


def test_without_pyodide_the_page_is_served_but_not_ready(tmp_path: Path) -> None:
    assert find_pyodide([tmp_path]) is None
    app = WebApp(None)
    if app.pyodide_dir is None:  # a machine without `make web-assets`
        assert not app.ready
        assert app.respond("/pyodide/pyodide.mjs").status_code == 404
    assert app.respond("/").status_code == 200


def test_packages_zip_holds_only_the_pure_python_sources() -> None:
    import six  # noqa: F401  (imported, six has __path__ = []: it is still one file)

    names = zipfile.ZipFile(io.BytesIO(packages_zip.__wrapped__())).namelist()
    assert "rtcstate/wire.py" in names and "rtcstate_browser/bridge.py" in names
    assert "six.py" in names and "attrs/__init__.py" in names and "transitions/core.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".so", ".js"))]
    assert {n.split("/")[0] for n in names} <= {
        "rtcstate", "rtcstate_browser", "attr", "attrs", "transitions", "six.py",
    }  # fmt: skip


def test_http_and_the_websocket_share_the_relay_port(fake_pyodide: Path) -> None:
    async def scenario() -> None:
        relay = await serve("127.0.0.1", 0, process_request=WebApp(fake_pyodide))
        try:
            for path, status in [("/", 200), ("/pyodide/pyodide.asm.wasm", 200), ("/../x", 404)]:
                reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                head = await asyncio.wait_for(reader.readline(), 5)
                assert head.split()[1] == str(status).encode(), (path, head)
                writer.close()
            # a websocket on the same port still reaches the relay
            ua = UserAgent("alice")
            await ua.register(relay.url, timeout=5)
            await ua.unregister()
        finally:
            await relay.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
